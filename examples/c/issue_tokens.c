/*
 * issue_tokens: what a token-issuing server does with ably-auth.
 *
 * Your server holds the Ably API key; your clients never see it. When a client asks for
 * credentials, the server signs a short-lived TokenRequest (the client exchanges it with
 * Ably for a token) or an Ably JWT (the client uses it directly). Both are created
 * locally, with no network call.
 *
 * Usage: issue_tokens [API_KEY [CLIENT_ID]]
 *
 * Without API_KEY a clearly fake demo key is used: the output has the right shape, but Ably
 * will not accept it.
 */
#include <stdio.h>

#include "ably_auth.h"

#define DEMO_KEY "demoApp.demoKey:demo-secret-not-a-real-key"

/* What the issued credentials allow: subscribe on every channel, and publish, subscribe
 * and presence on the "chat:" namespace. Ably grants at most what the key itself allows. */
#define CAPABILITY "{\"*\":[\"subscribe\"],\"chat:*\":[\"publish\",\"subscribe\",\"presence\"]}"

/* Token lifetime: one hour, in milliseconds. */
#define TTL_MS (60 * 60 * 1000)

/* Print an error to stderr and free it. Every fallible ably-auth call returns NULL on
 * success or an error the caller owns. */
static void report(const char *what, ably_error_info *err) {
    fprintf(stderr, "%s failed: error %d (HTTP status %d): %s\n", what, (int)err->code,
            (int)err->status_code, err->message);
    ably_error_info_free(err);
}

/* Create the params for one TokenRequest or JWT. Params are single-use: the call they are
 * passed to consumes them, so each credential gets fresh ones. */
static ably_error_info *make_params(const char *client_id, ably_token_params **out) {
    ably_token_params *params = ably_token_params_new();
    ably_error_info *err = ably_token_params_set_ttl(params, TTL_MS);
    if (err == NULL) {
        err = ably_token_params_set_capability(params, CAPABILITY);
    }
    if (err == NULL && client_id != NULL) {
        err = ably_token_params_set_client_id(params, client_id);
    }
    if (err != NULL) {
        ably_token_params_free(params);
        return err;
    }
    *out = params;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 3) {
        fprintf(stderr, "usage: %s [API_KEY [CLIENT_ID]]\n", argv[0]);
        return 2;
    }
    const char *key = argc > 1 ? argv[1] : DEMO_KEY;
    const char *client_id = argc > 2 ? argv[2] : NULL;
    if (argc < 2) {
        fprintf(stderr, "issue_tokens: no API_KEY given; using the fake demo key %s, "
                        "so Ably will reject these credentials\n",
                DEMO_KEY);
    }

    int status = 1;
    ably_auth *auth = NULL;
    ably_token_params *params = NULL;
    ably_token_request *request = NULL;
    char *request_json = NULL;
    char *jwt = NULL;
    ably_error_info *err = NULL;

    /* 1. One Auth object per key. It is thread-safe: share it between request handlers. */
    ably_auth_options *options = ably_auth_options_new();
    err = ably_auth_options_set_key(options, key);
    if (err != NULL) {
        ably_auth_options_free(options); /* not yet handed to ably_auth_new */
        report("setting the API key", err);
        goto done;
    }
    err = ably_auth_new(options, &auth); /* consumes `options`, also when it fails */
    if (err != NULL) {
        report("creating the Auth object", err);
        goto done;
    }

    /* 2. A signed TokenRequest. Send its JSON to the client, which POSTs it to Ably. */
    err = make_params(client_id, &params);
    if (err != NULL) {
        report("setting the token params", err);
        goto done;
    }
    err = ably_auth_create_token_request(auth, params, &request); /* consumes `params` */
    if (err != NULL) {
        report("creating a TokenRequest", err);
        goto done;
    }
    err = ably_token_request_to_json(request, &request_json);
    if (err != NULL) {
        report("writing the TokenRequest JSON", err);
        goto done;
    }
    printf("TokenRequest: %s\n", request_json);

    /* 3. Or an Ably JWT for the same params. It is a bearer credential: send it only to the
     *    client it was issued for. */
    err = make_params(client_id, &params);
    if (err != NULL) {
        report("setting the token params", err);
        goto done;
    }
    err = ably_auth_create_jwt(auth, params, &jwt); /* consumes `params` */
    if (err != NULL) {
        report("creating a JWT", err);
        goto done;
    }
    printf("JWT: %s\n", jwt);
    status = 0;

done:
    /* Every _free function accepts NULL, so one cleanup path fits every exit. */
    ably_string_free(jwt);
    ably_string_free(request_json);
    ably_token_request_free(request);
    ably_auth_free(auth);
    return status;
}
