/*
 * player_client: the player side of the end-to-end demo.
 *
 * Configured with only an authUrl (the game server) and its clientId, it never sees the API
 * key. ably-auth asks the authUrl for credentials, receives a signed TokenRequest, exchanges
 * it at Ably (here the loopback Ably-compatible server) for a token, and uses the token on
 * Ably REST requests, renewing it when told it was rejected.
 *
 * Usage: player_client ABLY_PORT AUTH_URL CLIENT_ID
 * (the Ably endpoint is 127.0.0.1:ABLY_PORT over plain HTTP, as the loopback server serves;
 * a real app leaves the endpoint at its default and keeps TLS on.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"

static int failures = 0;

static void step(const char *text) { printf("\nplayer: %s\n", text); }

static int check(const char *what, ably_error_info *err) {
    if (!err) return 1;
    printf("player: %s -> error %d (status %d): %s\n", what, (int)err->code,
           (int)err->status_code, err->message);
    ably_error_info_free(err);
    return 0;
}

/* ably-auth's log lines (they never contain keys, tokens or macs). */
static void on_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    static const char *names[] = {"?", "error", "warn", "info", "debug", "verbose"};
    printf("  [ably-auth %s] %s\n", names[level >= 1 && level <= 5 ? level : 0], message);
}

/* Token changes, e.g. to re-authenticate a realtime connection of your own. */
static void on_token(void *user_data, const ably_token_details *details,
                     const ably_error_info *error) {
    (void)user_data;
    if (details) {
        const char *client_id = ably_token_details_client_id(details);
        printf("  [listener] new token for clientId=%s, expires at %lld\n",
               client_id ? client_id : "(none)", (long long)ably_token_details_expires(details));
    } else if (error) {
        printf("  [listener] getting a token failed: %d %s\n", (int)error->code, error->message);
    }
}

static void request(const ably_auth *auth, const char *method, const char *path,
                    const char *body, int expect_ok) {
    ably_http_response *response = NULL;
    ably_error_info *err =
        ably_auth_request(auth, method, path, NULL, NULL, NULL, 0, (const uint8_t *)body,
                          body ? strlen(body) : 0, &response);
    if (err) { /* no answer (network, bad arguments, no token) */
        printf("player: %s %s -> error %d (status %d): %s\n", method, path, (int)err->code,
               (int)err->status_code, err->message);
        ably_error_info_free(err);
        failures++;
        return;
    }
    /* Every answer is a response; one with status >= 400 also carries Ably's ErrorInfo. */
    size_t len = 0;
    const uint8_t *data = ably_http_response_body(response, &len);
    printf("player: %s %s -> HTTP %d %.*s\n", method, path, (int)ably_http_response_status(response),
           (int)len, (const char *)data);
    ably_error_info *refused = ably_http_response_error(response);
    if (refused) {
        printf("player: refused with error %d: %s\n", (int)refused->code, refused->message);
    }
    if ((refused == NULL) != (expect_ok != 0)) failures++;
    ably_error_info_free(refused);
    ably_http_response_free(response);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: player_client ABLY_PORT AUTH_URL CLIENT_ID\n");
        return 2;
    }
    ably_auth_options *options = ably_auth_options_new();
    ably_error_info *err = ably_auth_options_set_auth_url(options, argv[2]);
    if (!err) err = ably_auth_options_set_client_id(options, argv[3]);
    if (!err) err = ably_auth_options_set_endpoint(options, "127.0.0.1");
    if (!err) err = ably_auth_options_set_tls(options, false);
    if (!err) err = ably_auth_options_set_port(options, atoi(argv[1]));
    if (!err) err = ably_auth_options_set_log(options, on_log, 4 /* debug */, NULL, NULL);
    if (err) {
        check("configuring", err);
        ably_auth_options_free(options);
        return 1;
    }
    ably_auth *auth = NULL;
    if (!check("ably_auth_new", ably_auth_new(options, &auth))) return 1; /* consumes options */
    uint64_t listener_id = 0;
    check("add_listener", ably_auth_add_listener(auth, on_token, NULL, NULL, &listener_id));

    step("1. authorize: ask the game server's authUrl, exchange the TokenRequest at Ably");
    ably_token_details *details = NULL;
    if (!check("authorize", ably_auth_authorize(auth, NULL, NULL, &details))) return 1;
    printf("player: token obtained for clientId=%s, capability %s\n",
           ably_token_details_client_id(details), ably_token_details_capability(details));
    ably_token_details_free(details);

    step("2. use the token on Ably REST: read the lobby channel, publish to it");
    request(auth, "GET", "/channels/lobby", NULL, 1);
    request(auth, "POST", "/channels/lobby/messages", "{\"name\":\"hello\",\"data\":\"gg\"}", 1);

    step("3. a channel the capability does not grant is refused by Ably (40160)");
    request(auth, "POST", "/channels/admin/messages", "{\"name\":\"x\"}", 0);

    step("4. the server rejects the token: ably-auth gets a new one through the authUrl");
    check("token_rejected", ably_auth_token_rejected(auth, NULL));
    request(auth, "GET", "/channels/lobby", NULL, 1);

    if (!check("remove_listener", ably_auth_remove_listener(auth, listener_id))) failures++;
    ably_auth_free(auth);
    printf("\nplayer: %s\n", failures ? "something went wrong" : "done: every step behaved as expected");
    return failures ? 1 : 0;
}
