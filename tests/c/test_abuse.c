/*
 * test_abuse.c: the C ABI under abuse (issue 6, item 3), beyond test_boundary.c's NULL and
 * invalid UTF-8 checks:
 *
 * - an empty string for every string argument of every function;
 * - 10 MB strings: key, token, clientId, capability, nonce, TokenDetails/TokenRequest JSON,
 *   authUrl, authUrl header and param values, request header values, request bodies,
 *   completion answers;
 * - builders used after a networked call consumed them;
 * - listeners removed while firing: from inside the listener (itself and another one) and
 *   from another thread while the listener runs;
 * - completions answered twice (in the callback, and from two racing threads) and never
 *   (the waiting call returns 40170 within the request timeout; the late answer is refused).
 *
 * Every call must give an ErrorInfo (or succeed where the input is valid): never a crash, a
 * hang, a leak (the _asan copy and valgrind check) or a malformed error.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ably_auth.h"
#include "json_oracle.h"
#include "loopback.h"
#include "test_util.h"

#define OK 0 /* expected "code" of a call that must succeed */
#define BIG (10u * 1024u * 1024u)
#define NOT_LIVE "not a live handle"

static loopback server; /* plain HTTP, with the control API */
static char key[256];   /* the server's key, name:secret */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Waits are bounded by the options' timeouts; a check that a call returned at all uses this
 * hang guard, far above any timeout here, so that a loaded machine never fails a check. */
#define HANG_GUARD_MS 120000

/* An error is well formed: a code, a status within HTTP's range, a message; its causes
 * have a message and a status in range (a cause may be the host's own error, code 0). */
static bool well_formed(const ably_error_info *err) {
    if (err == NULL || err->code <= 0) {
        return false;
    }
    for (; err != NULL; err = err->cause) {
        if (err->code < 0 || err->status_code < 0 || err->status_code > 599 ||
            err->message == NULL) {
            return false;
        }
    }
    return true;
}

/* `err` is NULL when `code` is OK, else a well-formed error with `code`. Frees it. */
static bool expect(ably_error_info *err, const char *label, int32_t code) {
    bool ok;
    if (code == OK) {
        ok = CHECK(err == NULL, "%s succeeds", label);
    } else {
        ok = CHECK(err != NULL && err->code == code && well_formed(err), "%s fails with %d",
                   label, (int)code);
    }
    if (!ok && err != NULL) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
    return ok;
}

/* A string of `len` copies of `fill` between `prefix` and `suffix` (malloc'd). */
static char *big_string(const char *prefix, char fill, size_t len, const char *suffix) {
    size_t p = strlen(prefix), s = strlen(suffix);
    char *out = malloc(p + len + s + 1);
    if (out == NULL) {
        abort();
    }
    memcpy(out, prefix, p);
    memset(out + p, fill, len);
    memcpy(out + p + len, suffix, s + 1);
    return out;
}

/* Options pointing at the loopback server, with short timeouts. */
static ably_auth_options *server_options(int64_t request_timeout_ms) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_endpoint(options, "127.0.0.1"));
    expect_ok(ably_auth_options_set_tls(options, false));
    expect_ok(ably_auth_options_set_port(options, server.port));
    expect_ok(ably_auth_options_set_timeouts(options, 2000, request_timeout_ms));
    return options;
}

static ably_auth *new_auth(ably_auth_options *options) {
    ably_auth *auth = NULL;
    expect_ok(ably_auth_new(options, &auth));
    return auth;
}

/* Token auth with the server's key. */
static ably_auth *key_auth(void) {
    ably_auth_options *options = server_options(3000);
    expect_ok(ably_auth_options_set_key(options, key));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    return new_auth(options);
}

/* ably_auth_request with one header and a body. */
static ably_error_info *request(const ably_auth *auth, const char *method, const char *path,
                               const char *query, const char *header_name,
                               const char *header_value, const uint8_t *body, size_t body_len,
                               ably_http_response **out) {
    const char *names[1] = {header_name};
    const char *values[1] = {header_value};
    size_t count = header_name != NULL ? 1 : 0;
    return ably_auth_request(auth, method, path, query, count ? names : NULL,
                             count ? values : NULL, count, body, body_len, out);
}

/* ---- empty strings ---------------------------------------------------------------------- */

static void test_empty_option_strings(void) {
    ably_auth_options *o = ably_auth_options_new();
    expect(ably_auth_options_set_key(o, ""), "set_key(\"\")", ABLY_ERR_INVALID_CREDENTIALS);
    expect(ably_auth_options_set_client_id(o, ""), "options set_client_id(\"\")",
           ABLY_ERR_INVALID_CLIENT_ID);
    expect(ably_auth_options_set_token(o, ""), "set_token(\"\")", ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_set_auth_method(o, ""), "set_auth_method(\"\")",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_auth_header(o, "", "v"), "add_auth_header(\"\", v)",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_auth_header(o, "X-Empty", ""), "add_auth_header(n, \"\")", OK);
    expect(ably_auth_options_add_auth_param(o, "", "v"), "add_auth_param(\"\", v)",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_auth_param(o, "empty", ""), "add_auth_param(n, \"\")", OK);
    const char *empty_host[1] = {""};
    expect(ably_auth_options_set_fallback_hosts(o, empty_host, 1), "set_fallback_hosts({\"\"})",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_ca_pem(o, ""), "add_ca_pem(\"\")", ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_resolve(o, "", "127.0.0.1:1"), "add_resolve(\"\", addr)",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_resolve(o, "h", ""), "add_resolve(h, \"\")",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_add_agent(o, ""), "add_agent(\"\")", ABLY_ERR_INVALID_ARGUMENT);
    ably_auth_options_free(o);

    /* Setters that take any text now and leave the judgement to ably_auth_new (the authUrl
     * is refused at once, so those options are still valid). */
    struct {
        const char *label;
        ably_error_info *(*set)(ably_auth_options *, const char *);
        int32_t at_set, at_new;
    } deferred[] = {
        {"set_auth_url(\"\")", ably_auth_options_set_auth_url, ABLY_ERR_INVALID_ARGUMENT, OK},
        {"set_endpoint(\"\")", ably_auth_options_set_endpoint, OK, ABLY_ERR_INVALID_ARGUMENT},
        {"set_environment(\"\")", ably_auth_options_set_environment, OK,
         ABLY_ERR_INVALID_ARGUMENT},
        {"set_rest_host(\"\")", ably_auth_options_set_rest_host, OK, ABLY_ERR_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof deferred / sizeof deferred[0]; i++) {
        o = ably_auth_options_new();
        expect_ok(ably_auth_options_set_token(o, "tok"));
        expect(deferred[i].set(o, ""), deferred[i].label, deferred[i].at_set);
        ably_auth *auth = NULL;
        char label[96];
        snprintf(label, sizeof label, "ably_auth_new after %s", deferred[i].label);
        ably_error_info *err = ably_auth_new(o, &auth);
        expect(err, label, deferred[i].at_new);
        ably_auth_free(auth);
    }
}

static void test_empty_params_and_json(void) {
    ably_token_params *p = ably_token_params_new();
    expect(ably_token_params_set_capability(p, ""), "set_capability(\"\")",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_token_params_set_client_id(p, ""), "params set_client_id(\"\")",
           ABLY_ERR_INVALID_CLIENT_ID);
    expect(ably_token_params_set_nonce(p, ""), "set_nonce(\"\")", ABLY_ERR_INVALID_ARGUMENT);
    ably_token_params_free(p);

    ably_token_details *details = (ably_token_details *)&server;
    expect(ably_token_details_from_json("", &details), "token_details_from_json(\"\")",
           ABLY_ERR_INVALID_ARGUMENT);
    CHECK(details == (ably_token_details *)&server, "  ... and the output is untouched");
    expect(ably_token_details_from_json("{\"token\":\"\"}", &details),
           "token_details_from_json({token:\"\"})", ABLY_ERR_INVALID_ARGUMENT);
    ably_token_request *req = NULL;
    expect(ably_token_request_from_json("", &req), "token_request_from_json(\"\")",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_token_request_from_json(
               "{\"keyName\":\"\",\"timestamp\":1,\"nonce\":\"\",\"mac\":\"\"}", &req),
           "token_request_from_json(empty fields)", OK);
    ably_token_request_free(req);
}

static void test_empty_auth_strings(void) {
    ably_auth *auth = key_auth();
    if (auth == NULL) {
        return;
    }
    expect(ably_auth_token_rejected(auth, ""), "token_rejected(\"\")", OK);
    ably_http_response *resp = NULL;
    expect(request(auth, "", "/channels/x", NULL, NULL, NULL, NULL, 0, &resp),
           "request(method \"\")", ABLY_ERR_INVALID_ARGUMENT);
    expect(request(auth, "GET", "", NULL, NULL, NULL, NULL, 0, &resp), "request(path \"\")",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(request(auth, "GET", "/channels/x", "", NULL, NULL, NULL, 0, &resp),
           "request(query \"\")", OK);
    CHECK(ably_http_response_header(resp, "") == NULL, "http_response_header(\"\") is NULL");
    ably_http_response_free(resp);
    resp = NULL;
    /* An empty or malformed header name, or a value with CR/LF, is a caller error: 40003,
     * and the request is never sent. */
    expect(request(auth, "GET", "/channels/x", NULL, "", "v", NULL, 0, &resp),
           "request(header name \"\")", ABLY_ERR_INVALID_ARGUMENT);
    expect(request(auth, "GET", "/channels/x", NULL, "Bad Name", "v", NULL, 0, &resp),
           "request(header name with a space)", ABLY_ERR_INVALID_ARGUMENT);
    expect(request(auth, "GET", "/channels/x", NULL, "X-Split", "a\r\nInjected: 1", NULL, 0,
                   &resp),
           "request(header value with CRLF)", ABLY_ERR_INVALID_ARGUMENT);
    expect(request(auth, "GET", "/channels/x", NULL, "X-Empty", "", NULL, 0, &resp),
           "request(header value \"\")", OK);
    ably_http_response_free(resp);
    resp = NULL;
    /* An empty body is a valid argument: it is sent, and the answer is the server's. Was OK
     * against the earlier loopback; Ably (ably-server's HandlePublish) refuses a publish
     * without messages with 40001/400, and the loopback now does too; that answer is a
     * response with its ErrorInfo. */
    const uint8_t nothing = 0;
    if (expect(request(auth, "POST", "/channels/x/messages", NULL, NULL, NULL, &nothing, 0, &resp),
               "request(empty body)", OK)) {
        ably_error_info *refused = ably_http_response_error(resp);
        CHECK(ably_http_response_status(resp) == 400 && refused != NULL && refused->code == 40001,
              "request(empty body): a 400 answer with 40001");
        ably_error_info_free(refused);
    }
    ably_http_response_free(resp);
    const char *empty_target[1] = {""};
    ably_revocation_result *result = NULL;
    expect(ably_auth_revoke_tokens(auth, empty_target, 1, -1, -1, &result),
           "revoke_tokens({\"\"})", ABLY_ERR_REQUIRES_BASIC_AUTH);
    ably_auth_free(auth);
}

/* ---- completions: empty, 10 MB, twice (racing), never ----------------------------------- */

typedef enum answer_mode {
    EMPTY_TOKEN,
    EMPTY_JSON,
    EMPTY_ERROR_MESSAGE,
    BIG_TOKEN,
    BIG_JSON,
    RACE,
    NEVER,
} answer_mode;

typedef struct callback_state {
    answer_mode mode;
    int calls;
    ably_error_info *answers[2]; /* what answering gave */
    ably_auth_completion *kept;  /* NEVER: the completion, answered after the call */
} callback_state;

typedef struct racer {
    ably_auth_completion *completion;
    pthread_barrier_t *start;
    ably_error_info *result;
    char token[256];
} racer;

static void *race_answer(void *arg) {
    racer *r = arg;
    pthread_barrier_wait(r->start);
    r->result = ably_auth_completion_answer_token(r->completion, r->token);
    return NULL;
}

static char minted_token[256];

static void answering_callback(void *user_data, const char *params_json,
                               ably_auth_completion *c) {
    callback_state *st = user_data;
    (void)params_json;
    st->calls++;
    char *big = NULL;
    switch (st->mode) {
    case EMPTY_TOKEN:
        st->answers[0] = ably_auth_completion_answer_token(c, "");
        break;
    case EMPTY_JSON:
        st->answers[0] = ably_auth_completion_answer_json(c, "");
        break;
    case EMPTY_ERROR_MESSAGE:
        st->answers[0] = ably_auth_completion_answer_error(c, 0, 0, "");
        break;
    case BIG_TOKEN:
        big = big_string("", 't', BIG, "");
        st->answers[0] = ably_auth_completion_answer_token(c, big);
        break;
    case BIG_JSON:
        big = big_string("{\"token\":\"", 't', BIG, "\"}");
        st->answers[0] = ably_auth_completion_answer_json(c, big);
        break;
    case RACE: {
        /* Two threads answer the same completion at the same moment. */
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        racer racers[2];
        pthread_t threads[2];
        for (int i = 0; i < 2; i++) {
            racers[i].completion = c;
            racers[i].start = &start;
            racers[i].result = NULL;
            snprintf(racers[i].token, sizeof racers[i].token, "%s", minted_token);
            pthread_create(&threads[i], NULL, race_answer, &racers[i]);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(threads[i], NULL);
            st->answers[i] = racers[i].result;
        }
        pthread_barrier_destroy(&start);
        break;
    }
    case NEVER:
        st->kept = c;
        break;
    }
    free(big);
}

static ably_auth *callback_auth(callback_state *st, int64_t request_timeout_ms) {
    ably_auth_options *options = server_options(request_timeout_ms);
    expect_ok(ably_auth_options_set_auth_callback(options, answering_callback, st, NULL));
    return new_auth(options);
}

/* authorize through a callback answering in `mode`; returns the authorize error code. */
static int32_t authorize_with(callback_state *st, int64_t timeout_ms, int64_t *elapsed) {
    ably_auth *auth = callback_auth(st, timeout_ms);
    if (auth == NULL) {
        return -1;
    }
    int64_t start = now_ms();
    ably_token_details *details = NULL;
    ably_error_info *err = ably_auth_authorize(auth, NULL, NULL, &details);
    if (elapsed != NULL) {
        *elapsed = now_ms() - start;
    }
    int32_t code = err != NULL ? err->code : OK;
    if (!CHECK(err == NULL || well_formed(err), "  authorize's error is well formed")) {
        for (const ably_error_info *e = err; e != NULL; e = e->cause) {
            tu_print_error(e);
        }
    }
    CHECK((err == NULL) == (details != NULL), "  authorize: an error or a TokenDetails");
    ably_error_info_free(err);
    ably_token_details_free(details);
    ably_auth_free(auth);
    return code;
}

static void test_completion_abuse(void) {
    callback_state st = {.mode = EMPTY_TOKEN};
    CHECK(authorize_with(&st, 3000, NULL) == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "completion_token(\"\"): authorize fails with 40170");
    expect(st.answers[0], "completion_token(\"\")", OK);

    st = (callback_state){.mode = EMPTY_JSON};
    CHECK(authorize_with(&st, 3000, NULL) == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "completion_json(\"\"): authorize fails with 40170");
    expect(st.answers[0], "completion_json(\"\")", OK);

    st = (callback_state){.mode = EMPTY_ERROR_MESSAGE};
    CHECK(authorize_with(&st, 3000, NULL) == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "completion_error(0, 0, \"\"): authorize fails with 40170");
    expect(st.answers[0], "completion_error(0, 0, \"\")", OK);

    st = (callback_state){.mode = BIG_TOKEN};
    int32_t code = authorize_with(&st, 3000, NULL);
    CHECK(code == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "completion_token(10 MB): authorize fails with 40170 (%d)", (int)code);
    expect(st.answers[0], "completion_token(10 MB)", OK);

    st = (callback_state){.mode = BIG_JSON};
    code = authorize_with(&st, 3000, NULL);
    CHECK(code == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "completion_json(10 MB TokenDetails): authorize fails with 40170 (%d)", (int)code);
    expect(st.answers[0], "completion_json(10 MB TokenDetails)", OK);

    for (int round = 0; round < 20; round++) {
        st = (callback_state){.mode = RACE};
        code = authorize_with(&st, 3000, NULL);
        bool first_won = st.answers[0] == NULL;
        ably_error_info *loser = first_won ? st.answers[1] : st.answers[0];
        bool one_each = (st.answers[0] == NULL) != (st.answers[1] == NULL);
        bool refused = loser != NULL && loser->code == ABLY_ERR_INVALID_ARGUMENT &&
                       strstr(loser->message, NOT_LIVE) != NULL;
        if (round == 0 || code != OK || !one_each || !refused) {
            CHECK(code == OK && one_each && refused,
                  "completion answered by two racing threads (round %d): one answer counts, "
                  "the other gets 40003",
                  round);
        }
        ably_error_info_free(st.answers[0]);
        ably_error_info_free(st.answers[1]);
    }

    /* Never answered: 40170 once the request timeout (500 ms) passes, no hang; the late
     * answer is refused with 40170 (and frees the completion). */
    st = (callback_state){.mode = NEVER};
    int64_t elapsed = 0;
    code = authorize_with(&st, 500, &elapsed);
    CHECK(code == ABLY_ERR_AUTH_CALLBACK_FAILED && elapsed >= 400 && elapsed < HANG_GUARD_MS,
          "never-answered completion: 40170 after the 500 ms timeout, no hang (%d, %lld ms)", (int)code,
          (long long)elapsed);
    if (CHECK(st.kept != NULL, "never-answered completion: kept by the host")) {
        expect(ably_auth_completion_answer_token(st.kept, minted_token),
               "answering after the timeout (and after ably_auth_free)",
               ABLY_ERR_AUTH_CALLBACK_FAILED);
    }
}

/* ---- 10 MB strings ---------------------------------------------------------------------- */

static void test_big_offline(void) {
    /* A 10 MB secret is a valid key: signing still works. */
    char *big_key = big_string("appId.keyId:", 's', BIG, "");
    ably_auth_options *o = ably_auth_options_new();
    expect(ably_auth_options_set_key(o, big_key), "set_key(10 MB secret)", OK);
    ably_auth *auth = new_auth(o);
    ably_token_request *req = NULL;
    if (auth != NULL) {
        expect(ably_auth_create_token_request(auth, NULL, &req),
               "create_token_request with a 10 MB secret", OK);
        CHECK(req != NULL && strlen(str_or_null(ably_token_request_mac(req))) == 44,
              "  ... a normal 44-character mac");
        ably_token_request_free(req);
        req = NULL;
    }
    free(big_key);
    char *bad_key = big_string("", 's', BIG, "");
    o = ably_auth_options_new();
    expect(ably_auth_options_set_key(o, bad_key), "set_key(10 MB, no ':')",
           ABLY_ERR_INVALID_CREDENTIALS);
    ably_auth_options_free(o);
    free(bad_key);

    /* 10 MB token params on the big-key Auth. */
    char *big_id = big_string("", 'c', BIG, "");
    char *big_cap = big_string("{\"", 'r', BIG, "\":[\"subscribe\"]}");
    char *bad_cap = big_string("{\"", 'r', BIG, "");
    char *big_nonce = big_string("", 'n', BIG, "");
    ably_token_params *p = ably_token_params_new();
    expect(ably_token_params_set_client_id(p, big_id), "params set_client_id(10 MB)", OK);
    expect(ably_token_params_set_capability(p, big_cap), "set_capability(10 MB valid)", OK);
    expect(ably_token_params_set_capability(p, bad_cap), "set_capability(10 MB truncated)",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_token_params_set_nonce(p, big_nonce), "set_nonce(10 MB)", OK);
    if (auth != NULL) {
        expect(ably_auth_create_token_request(auth, p, &req),
               "create_token_request with 10 MB clientId, capability and nonce", OK);
        char *json = NULL;
        if (req != NULL) {
            expect(ably_token_request_to_json(req, &json), "token_request_to_json (30 MB)", OK);
            CHECK(json != NULL && strlen(json) > 3 * BIG, "  ... holds all three");
            ably_token_request *back = NULL;
            expect(ably_token_request_from_json(json, &back), "token_request_from_json (30 MB)",
                   OK);
            CHECK(back != NULL &&
                      strlen(str_or_null(ably_token_request_client_id(back))) == BIG,
                  "  ... the clientId round-trips");
            ably_token_request_free(back);
        }
        ably_string_free(json);
        ably_token_request_free(req);
        char *jwt = NULL;
        p = ably_token_params_new();
        expect_ok(ably_token_params_set_client_id(p, big_id));
        expect(ably_auth_create_jwt(auth, p, &jwt), "create_jwt with a 10 MB clientId", OK);
        ably_string_free(jwt);
    } else {
        ably_token_params_free(p);
    }
    o = ably_auth_options_new();
    expect(ably_auth_options_set_client_id(o, big_id), "options set_client_id(10 MB)", OK);
    ably_auth_options_free(o);
    free(big_id);
    free(big_cap);
    free(bad_cap);
    free(big_nonce);

    /* 10 MB JSON documents. */
    char *details_json = big_string("{\"token\":\"", 't', BIG, "\",\"expires\":1}");
    ably_token_details *details = NULL;
    expect(ably_token_details_from_json(details_json, &details),
           "token_details_from_json(10 MB token)", OK);
    CHECK(details != NULL && strlen(str_or_null(ably_token_details_token(details))) == BIG,
          "  ... the 10 MB token reads back");
    char *bad_json = big_string("[", '[', BIG, "");
    expect(ably_token_details_from_json(bad_json, &details),
           "token_details_from_json(10 MB of '[')", ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_token_request_from_json(bad_json, &req), "token_request_from_json(10 MB of '[')",
           ABLY_ERR_INVALID_ARGUMENT);
    free(bad_json);
    free(details_json);

    /* A 10 MB token: options, TokenDetails in options, the Bearer header. */
    char *big_token = big_string("", 't', BIG, "");
    o = ably_auth_options_new();
    expect(ably_auth_options_set_token(o, big_token), "set_token(10 MB)", OK);
    ably_auth *token_auth = new_auth(o);
    if (token_auth != NULL) {
        char *header = NULL;
        expect(ably_auth_authorization_header(token_auth, &header),
               "authorization_header with a 10 MB token", OK);
        CHECK(header != NULL && strlen(header) > BIG, "  ... Bearer + base64 of it");
        ably_string_free(header);
        expect(ably_auth_token_rejected(token_auth, big_token), "token_rejected(10 MB)",
               ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED);
        ably_auth_free(token_auth);
    }
    if (details != NULL) {
        o = ably_auth_options_new();
        expect(ably_auth_options_set_token_details(o, details),
               "set_token_details(10 MB token)", OK);
        ably_auth_options_free(o);
        ably_token_details_free(details);
    }
    free(big_token);
    ably_auth_free(auth);
}

static void test_big_networked(void) {
    char *big = big_string("", 'v', BIG, "");
    char *big_url = big_string("http://127.0.0.1:1/", 'p', BIG, "");
    ably_auth_options *o = ably_auth_options_new();
    expect(ably_auth_options_set_auth_url(o, big_url), "set_auth_url(10 MB)", OK);
    ably_auth_options_free(o);
    free(big_url);

    /* A 10 MB authUrl path at the loopback server: the URL parser refuses URLs over 16 KiB
     * when the Auth is made (it used to be accepted, and the request failed with 40170). */
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/auth/token-request/", server.port);
    big_url = big_string(url, 'p', BIG, "");
    o = server_options(3000);
    expect_ok(ably_auth_options_set_auth_url(o, big_url));
    ably_auth *auth = NULL;
    expect(ably_auth_new(o, &auth), "ably_auth_new with a 10 MB authUrl",
           ABLY_ERR_INVALID_ARGUMENT);
    CHECK(auth == NULL, "  ... and no Auth");
    free(big_url);
    int64_t start;

    /* A 10 MB authUrl header value and param value. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/auth/token-request", server.port);
    for (int which = 0; which < 2; which++) {
        o = server_options(3000);
        expect_ok(ably_auth_options_set_auth_url(o, url));
        if (which == 0) {
            expect(ably_auth_options_add_auth_header(o, "X-Big", big),
                   "add_auth_header(10 MB value)", OK);
        } else {
            expect_ok(ably_auth_options_set_auth_method(o, "POST"));
            expect(ably_auth_options_add_auth_param(o, "big", big),
                   "add_auth_param(10 MB value)", OK);
        }
        auth = new_auth(o);
        if (auth != NULL) {
            ably_token_details *details = NULL;
            start = now_ms();
            ably_error_info *err = ably_auth_request_token(auth, NULL, NULL, &details);
            CHECK((err == NULL || (well_formed(err) &&
                                   err->code == ABLY_ERR_AUTH_CALLBACK_FAILED)) &&
                      now_ms() - start < HANG_GUARD_MS,
                  "request_token with a 10 MB authUrl %s: a token or 40170, no hang "
                  "(%d)",
                  which == 0 ? "header" : "POST param", err ? (int)err->code : 0);
            ably_error_info_free(err);
            ably_token_details_free(details);
            ably_auth_free(auth);
        }
    }

    /* ably_auth_request: a 10 MB header value, query and body. */
    auth = key_auth();
    if (auth != NULL) {
        ably_http_response *resp = NULL;
        start = now_ms();
        ably_error_info *err =
            request(auth, "GET", "/channels/x", NULL, "X-Big", big, NULL, 0, &resp);
        CHECK(err != NULL && well_formed(err) && now_ms() - start < HANG_GUARD_MS,
              "request with a 10 MB header value: an error, no hang (%d)",
              err ? (int)err->code : 0);
        ably_error_info_free(err);
        ably_http_response_free(resp);
        resp = NULL;
        char *query = big_string("q=", 'q', BIG, "");
        err = request(auth, "GET", "/channels/x", query, NULL, NULL, NULL, 0, &resp);
        CHECK(err != NULL && well_formed(err) && now_ms() - start < HANG_GUARD_MS,
              "request with a 10 MB query: an error, no hang (%d)",
              err ? (int)err->code : 0);
        ably_error_info_free(err);
        ably_http_response_free(resp);
        free(query);
        resp = NULL;
        char *body = big_string("{\"name\":\"", 'b', BIG, "\"}");
        err = request(auth, "POST", "/channels/x/messages", NULL, "Content-Type",
                      "application/json", (const uint8_t *)body, strlen(body), &resp);
        CHECK((err == NULL || well_formed(err)) && now_ms() - start < HANG_GUARD_MS,
              "request with a 10 MB body: a response or an error (%d)",
              err ? (int)err->code : 0);
        ably_error_info_free(err);
        ably_http_response_free(resp);
        free(body);
        const char *targets[1] = {big};
        ably_revocation_result *result = NULL;
        expect(ably_auth_revoke_tokens(auth, targets, 1, -1, -1, &result),
               "revoke_tokens(10 MB target without ':')", ABLY_ERR_REQUIRES_BASIC_AUTH);
        ably_auth_free(auth);
    }
    free(big);
}

/* ---- handles used after a networked call consumed them ---------------------------------- */

static void test_consumed_by_networked_calls(void) {
    ably_auth *auth = key_auth();
    if (auth == NULL) {
        return;
    }
    ably_token_params *p = ably_token_params_new();
    ably_auth_options *o = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(o, key));
    ably_token_details *details = NULL;
    expect(ably_auth_request_token(auth, p, o, &details), "request_token(params, options)", OK);
    ably_token_details_free(details);
    expect(ably_token_params_set_ttl(p, 1000), "params after request_token consumed them",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_set_token(o, "t"), "options after request_token consumed them",
           ABLY_ERR_INVALID_ARGUMENT);
    details = NULL;
    expect(ably_auth_authorize(auth, p, NULL, &details), "authorize(consumed params)",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_authorize(auth, NULL, o, &details), "authorize(consumed options)",
           ABLY_ERR_INVALID_ARGUMENT);
    CHECK(details == NULL, "  ... no output");
    ably_token_params_free(p);
    ably_auth_options_free(o);
    CHECK(true, "freeing consumed builders is a no-op");

    /* Consumed on error too. */
    p = ably_token_params_new();
    o = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_url(o, "http://127.0.0.1:1/"));
    expect(ably_auth_authorize(auth, p, o, &details), "authorize with a dead authUrl",
           ABLY_ERR_AUTH_CALLBACK_FAILED);
    expect(ably_token_params_set_ttl(p, 1000), "params after a failed authorize",
           ABLY_ERR_INVALID_ARGUMENT);
    expect(ably_auth_options_set_token(o, "t"), "options after a failed authorize",
           ABLY_ERR_INVALID_ARGUMENT);
    ably_auth_free(auth);
}

/* ---- listeners removed while firing ----------------------------------------------------- */

typedef struct listen_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const ably_auth *auth;
    uint64_t id;       /* this listener's id */
    uint64_t other_id; /* another listener to remove, or 0 */
    bool remove_self;
    bool block;        /* wait (at most 3 s) until `released` */
    bool running, released;
    int calls, frees;
    ably_error_info *removal; /* what removing from inside gave */
} listen_state;

static void listen_state_init(listen_state *st, const ably_auth *auth) {
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    st->auth = auth;
}

static void listen_state_destroy(listen_state *st) {
    ably_error_info_free(st->removal);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
}

static int locked_int(listen_state *st, const int *field) {
    pthread_mutex_lock(&st->lock);
    int v = *field;
    pthread_mutex_unlock(&st->lock);
    return v;
}

static void abusive_listener(void *user_data, const ably_token_details *details,
                             const ably_error_info *error) {
    listen_state *st = user_data;
    (void)details;
    (void)error;
    pthread_mutex_lock(&st->lock);
    st->calls++;
    st->running = true;
    pthread_cond_broadcast(&st->cond);
    if (st->block) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 3;
        while (!st->released) {
            if (pthread_cond_timedwait(&st->cond, &st->lock, &deadline) != 0) {
                break;
            }
        }
    }
    pthread_mutex_unlock(&st->lock);
    if (st->remove_self) {
        st->removal = ably_auth_remove_listener(st->auth, st->id);
    } else if (st->other_id != 0) {
        st->removal = ably_auth_remove_listener(st->auth, st->other_id);
    }
    pthread_mutex_lock(&st->lock);
    st->running = false;
    pthread_mutex_unlock(&st->lock);
}

static void count_listener_free(void *user_data) {
    listen_state *st = user_data;
    pthread_mutex_lock(&st->lock);
    st->frees++;
    bool during_call = st->running;
    pthread_mutex_unlock(&st->lock);
    CHECK(!during_call, "free_user_data does not run while the listener runs");
}

/* Make listeners fire with no network: authorize with a token in the options (RSA10e). */
static void fire(const ably_auth *auth) {
    ably_auth_options *o = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(o, "fired-token"));
    ably_token_details *details = NULL;
    expect_ok(ably_auth_authorize(auth, NULL, o, &details));
    ably_token_details_free(details);
}

typedef struct fire_thread {
    const ably_auth *auth;
} fire_thread;

/* Lets a blocked abusive_listener return after 200 ms. */
static void *release_later(void *arg) {
    listen_state *st = arg;
    sleep_ms(200);
    pthread_mutex_lock(&st->lock);
    st->released = true;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static void *fire_in_thread(void *arg) {
    fire(((fire_thread *)arg)->auth);
    return NULL;
}

static void test_listeners_removed_while_firing(void) {
    ably_auth *auth = key_auth();
    if (auth == NULL) {
        return;
    }
    /* 1. A listener that removes itself. */
    listen_state self;
    listen_state_init(&self, auth);
    self.remove_self = true;
    expect_ok(ably_auth_add_listener(auth, abusive_listener, &self, count_listener_free,
                                     &self.id));
    fire(auth);
    expect(self.removal, "remove_listener(own id) from inside the listener", OK);
    self.removal = NULL;
    CHECK(self.calls == 1 && locked_int(&self, &self.frees) == 1,
          "  ... it ran once and free_user_data ran once after it returned");
    fire(auth);
    CHECK(self.calls == 1, "  ... and it hears nothing more");
    expect(ably_auth_remove_listener(auth, self.id), "removing it again",
           ABLY_ERR_INVALID_ARGUMENT);

    /* 2. A listener that removes another listener (which may or may not have run). */
    listen_state remover, victim;
    listen_state_init(&remover, auth);
    listen_state_init(&victim, auth);
    expect_ok(ably_auth_add_listener(auth, abusive_listener, &victim, count_listener_free,
                                     &victim.id));
    expect_ok(ably_auth_add_listener(auth, abusive_listener, &remover, count_listener_free,
                                     &remover.id));
    remover.other_id = victim.id;
    fire(auth);
    expect(remover.removal, "remove_listener(other id) from inside a listener", OK);
    remover.removal = NULL;
    int victim_calls = victim.calls;
    CHECK(victim_calls <= 1 && locked_int(&victim, &victim.frees) == 1,
          "  ... the other ran at most once (%d) and was freed once", victim_calls);
    remover.other_id = 0;
    fire(auth);
    CHECK(victim.calls == victim_calls && remover.calls == 2,
          "  ... the removed one hears nothing more, the remover still does");
    expect_ok(ably_auth_remove_listener(auth, remover.id));

    /* 3. Removed from another thread while it runs: removal waits for that call (the
     *    contract since the soundness rework: callers free their state once removal
     *    returns), and the listener never runs again. */
    listen_state slow;
    listen_state_init(&slow, auth);
    slow.block = true;
    expect_ok(ably_auth_add_listener(auth, abusive_listener, &slow, count_listener_free,
                                     &slow.id));
    fire_thread ft = {auth};
    pthread_t thread, releaser;
    bool started = pthread_create(&thread, NULL, fire_in_thread, &ft) == 0;
    if (CHECK(started, "firing thread started")) {
        pthread_mutex_lock(&slow.lock);
        while (!slow.running) {
            pthread_cond_wait(&slow.cond, &slow.lock);
        }
        pthread_mutex_unlock(&slow.lock);
        bool releasing = pthread_create(&releaser, NULL, release_later, &slow) == 0;
        CHECK(releasing, "releasing thread started");
        expect(ably_auth_remove_listener(auth, slow.id),
               "remove_listener from another thread while the listener runs", OK);
        pthread_mutex_lock(&slow.lock);
        bool waited = slow.released && !slow.running;
        pthread_mutex_unlock(&slow.lock);
        CHECK(waited, "  ... returns only after the listener's call returned");
        if (releasing) {
            pthread_join(releaser, NULL);
        }
        pthread_join(thread, NULL);
        /* free_user_data runs after the call under way (on the firing thread). */
        for (int i = 0; i < 100 && locked_int(&slow, &slow.frees) == 0; i++) {
            sleep_ms(10);
        }
        CHECK(locked_int(&slow, &slow.frees) == 1, "  ... then free_user_data runs exactly once");
        fire(auth);
        CHECK(slow.calls == 1, "  ... and the listener hears nothing more");
    }

    /* 4. Many threads firing while another adds and removes listeners. */
    listen_state churn;
    listen_state_init(&churn, auth);
    pthread_t firers[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&firers[i], NULL, fire_in_thread, &ft);
    }
    int removed = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t id = 0;
        ably_error_info *err = ably_auth_add_listener(auth, abusive_listener, &churn, NULL, &id);
        if (err == NULL) {
            err = ably_auth_remove_listener(auth, id);
            removed += err == NULL;
        }
        ably_error_info_free(err);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(firers[i], NULL);
    }
    CHECK(removed == 200, "200 listeners added and removed while 4 threads fire (%d)", removed);

    ably_auth_free(auth);
    CHECK(locked_int(&self, &self.frees) == 1 && locked_int(&victim, &victim.frees) == 1 &&
              locked_int(&remover, &remover.frees) == 1 && locked_int(&slow, &slow.frees) == 1,
          "every free_user_data ran exactly once");
    listen_state_destroy(&self);
    listen_state_destroy(&remover);
    listen_state_destroy(&victim);
    listen_state_destroy(&slow);
    listen_state_destroy(&churn);
}

int main(void) {
    loopback_ignore_sigpipe();
    test_empty_params_and_json();
    test_empty_option_strings();
    test_big_offline();
    if (!CHECK(loopback_start(&server, false), "loopback server started (%s)",
               ABLY_LOOPBACK_SERVER)) {
        loopback_stop(&server);
        return test_summary();
    }
    char *body = NULL;
    if (loopback_http(&server, "GET", "/_control/key", NULL, &body) == 200) {
        json_string(body, "key", key, sizeof key);
    }
    free(body);
    body = NULL;
    if (loopback_http(&server, "POST", "/_control/mint", "{\"ttl\":600000}", &body) == 200) {
        json_string(body, "token", minted_token, sizeof minted_token);
    }
    free(body);
    if (CHECK(strchr(key, ':') != NULL && minted_token[0] != '\0',
              "got the server's key and a minted token")) {
        test_empty_auth_strings();
        test_completion_abuse();
        test_consumed_by_networked_calls();
        test_listeners_removed_while_firing();
        test_big_networked();
        /* The server records every request: drop the 10 MB ones. */
        CHECK(loopback_reset(&server), "loopback server reset");
    }
    (void)loopback_rule; /* loopback.h helper this test does not need */
    loopback_stop(&server);
    return test_summary();
}
