/*
 * test_networked.c: the networked C ABI against the loopback Ably-compatible server
 * (tests/support, spawned as a child process; see loopback.h).
 *
 * - requestToken with the key; authorize through an authCallback answered synchronously,
 *   answered later from another thread, never answered (40170 within the request timeout,
 *   and the late answer is refused with 40170), and answered twice (40003);
 * - authUrl (GET) at the server's /auth/token-request, with headers and params;
 * - the Authorization header decodes to the token in use;
 * - ably_auth_request to /channels/x, renewing once after an injected 40142; error answers
 *   (a 429 with Retry-After, a 404) as responses with ably_http_response_error;
 * - time; revokeTokens over TLS trusting the server's CA through add_ca_pem;
 * - listeners (token changed, failure, removal, free_user_data exactly once);
 * - the log callback gets lines, none with the key secret or a token.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ably_auth.h"
#include "base64.h"
#include "json_oracle.h"
#include "loopback.h"
#include "test_util.h"

static loopback server;  /* plain HTTP, with the control API */
static char key[256];    /* the server's key, name:secret */
static char secret[128]; /* the secret part */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Options pointing at `lb`: endpoint 127.0.0.1 (no fallback hosts), its port and scheme,
 * its CA trusted, short timeouts. */
static ably_auth_options *options_for(const loopback *lb, int64_t request_timeout_ms) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_endpoint(options, "127.0.0.1"));
    expect_ok(ably_auth_options_set_tls(options, lb->tls));
    expect_ok(ably_auth_options_set_port(options, lb->port));
    expect_ok(ably_auth_options_set_tls_port(options, lb->port));
    expect_ok(ably_auth_options_set_timeouts(options, 3000, request_timeout_ms));
    if (lb->ca_pem != NULL) {
        expect_ok(ably_auth_options_add_ca_pem(options, lb->ca_pem));
    }
    return options;
}

static ably_auth *new_auth(ably_auth_options *options) {
    ably_auth *auth = NULL;
    expect_ok(ably_auth_new(options, &auth));
    return auth;
}

/* An Auth with the server's key using token auth (plain HTTP allows no Basic auth). */
static ably_auth *key_token_auth(void) {
    ably_auth_options *options = options_for(&server, 3000);
    expect_ok(ably_auth_options_set_key(options, key));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    return new_auth(options);
}

/* A token minted by the server (POST /_control/mint); "" on failure. */
static void mint_token(char *out, size_t size) {
    char *body = NULL;
    out[0] = '\0';
    if (loopback_http(&server, "POST", "/_control/mint", "{\"ttl\":600000}", &body) == 200) {
        json_string(body, "token", out, size);
    }
    free(body);
}

static int64_t tokens_issued(void) {
    char *body = NULL;
    int64_t n = -1;
    if (loopback_http(&server, "GET", "/_control/stats", NULL, &body) == 200) {
        json_int(body, "tokensIssued", &n);
    }
    free(body);
    return n;
}

/* ---- free_user_data counting ------------------------------------------------------------ */

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct counter {
    int frees;
} counter;

static void count_free(void *user_data) {
    pthread_mutex_lock(&counter_lock);
    ((counter *)user_data)->frees++;
    pthread_mutex_unlock(&counter_lock);
}

static int frees_of(counter *c) {
    pthread_mutex_lock(&counter_lock);
    int n = c->frees;
    pthread_mutex_unlock(&counter_lock);
    return n;
}

/* ---- requestToken with the key ---------------------------------------------------------- */

static void test_request_token_with_key(void) {
    ably_auth *auth = key_token_auth();
    if (auth == NULL) {
        return;
    }
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_request_token(auth, NULL, NULL, &details))) {
        const char *token = ably_token_details_token(details);
        CHECK(token != NULL && strncmp(token, "lbtk-", 5) == 0,
              "request_token: the server's token (%s)", str_or_null(token));
        CHECK(ably_token_details_expires(details) > ably_token_details_issued(details),
              "request_token: expires after issued");
        ably_token_details_free(details);
    }
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_client_id(params, "carol"));
    expect_ok(ably_token_params_set_ttl(params, 120000));
    details = NULL;
    if (expect_ok(ably_auth_request_token(auth, params, NULL, &details))) {
        CHECK(str_eq(ably_token_details_client_id(details), "carol"),
              "request_token with params: clientId carol");
        int64_t ttl = ably_token_details_expires(details) - ably_token_details_issued(details);
        CHECK(ttl == 120000, "request_token with params: ttl 120000 (%lld)", (long long)ttl);
        ably_token_details_free(details);
    }
    /* request_token does not store the token. */
    ably_token_details *current = (ably_token_details *)&server;
    expect_ok(ably_auth_token_details(auth, &current));
    CHECK(current == NULL, "request_token leaves the Auth without a token");
    ably_auth_free(auth);
}

/* ---- authCallback ----------------------------------------------------------------------- */

/* Every state passed with count_free starts with its counter. */
typedef struct callback_state {
    counter frees;
    ably_auth *signer; /* an Auth with the key, to make TokenRequests */
    int calls;
    bool params_json_ok;
    char late_token[256];             /* answered from a thread, after a delay */
    pthread_t thread;
    bool thread_started;
    ably_auth_completion *kept;       /* never answered during the call */
    ably_error_info *second_answer;   /* the result of answering twice */
} callback_state;

/* Answers synchronously with a TokenRequest's JSON. */
static void sync_callback(void *user_data, const char *params_json,
                          ably_auth_completion *completion) {
    callback_state *st = user_data;
    st->calls++;
    st->params_json_ok = params_json != NULL && params_json[0] == '{';
    ably_token_request *request = NULL;
    char *json = NULL;
    ably_error_info *err = ably_auth_create_token_request(st->signer, NULL, &request);
    if (err == NULL) {
        err = ably_token_request_to_json(request, &json);
    }
    ably_token_request_free(request);
    if (err != NULL) {
        ably_error_info_free(err);
        ably_error_info_free(ably_auth_completion_answer_error(completion, 0, 500, "signing failed"));
        return;
    }
    ably_error_info *answer = ably_auth_completion_answer_json(completion, json);
    CHECK(answer == NULL, "sync authCallback: ably_auth_completion_answer_json succeeds");
    ably_error_info_free(answer);
    ably_string_free(json);
}

typedef struct late_answer {
    ably_auth_completion *completion;
    const char *token;
    ably_error_info *result;
} late_answer;

static late_answer pending;

static void *answer_later(void *arg) {
    late_answer *la = arg;
    struct timespec delay = {0, 200 * 1000 * 1000};
    nanosleep(&delay, NULL);
    la->result = ably_auth_completion_answer_token(la->completion, la->token);
    return NULL;
}

/* Answers from another thread, 200 ms after returning. */
static void async_callback(void *user_data, const char *params_json,
                           ably_auth_completion *completion) {
    callback_state *st = user_data;
    (void)params_json;
    st->calls++;
    pending.completion = completion;
    pending.token = st->late_token;
    pending.result = NULL;
    st->thread_started = pthread_create(&st->thread, NULL, answer_later, &pending) == 0;
}

/* Keeps the completion without answering. */
static void silent_callback(void *user_data, const char *params_json,
                            ably_auth_completion *completion) {
    callback_state *st = user_data;
    (void)params_json;
    st->calls++;
    st->kept = completion;
}

/* Answers with a token, then again. */
static void twice_callback(void *user_data, const char *params_json,
                           ably_auth_completion *completion) {
    callback_state *st = user_data;
    (void)params_json;
    st->calls++;
    ably_error_info *first = ably_auth_completion_answer_token(completion, st->late_token);
    CHECK(first == NULL, "twice authCallback: the first answer succeeds");
    ably_error_info_free(first);
    st->second_answer = ably_auth_completion_answer_token(completion, st->late_token);
}

static ably_auth *callback_auth(ably_auth_callback_fn cb, callback_state *st,
                                int64_t request_timeout_ms) {
    ably_auth_options *options = options_for(&server, request_timeout_ms);
    expect_ok(ably_auth_options_set_auth_callback(options, cb, st, count_free));
    return new_auth(options);
}

static void test_auth_callback_sync(ably_auth *signer) {
    callback_state st = {.signer = signer};
    ably_auth *auth = callback_auth(sync_callback, &st, 3000);
    if (auth == NULL) {
        return;
    }
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        const char *token = ably_token_details_token(details);
        CHECK(token != NULL && strncmp(token, "lbtk-", 5) == 0,
              "sync authCallback: the TokenRequest was exchanged for a token");
        ably_token_details_free(details);
    }
    CHECK(st.calls == 1, "sync authCallback: called once (%d)", st.calls);
    CHECK(st.params_json_ok, "sync authCallback: token params given as a JSON object");
    CHECK(frees_of(&st.frees) == 0, "sync authCallback: user_data not freed while in use");
    ably_auth_free(auth);
    CHECK(frees_of(&st.frees) == 1, "sync authCallback: free_user_data ran once at ably_auth_free");
}

static void test_auth_callback_async(void) {
    callback_state st = {0};
    mint_token(st.late_token, sizeof st.late_token);
    ably_auth *auth = callback_auth(async_callback, &st, 3000);
    if (auth == NULL) {
        return;
    }
    int64_t start = now_ms();
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        CHECK(str_eq(ably_token_details_token(details), st.late_token),
              "async authCallback: the token answered from another thread is in use");
        ably_token_details_free(details);
    }
    int64_t elapsed = now_ms() - start;
    CHECK(elapsed >= 150, "async authCallback: authorize waited for the answer (%lld ms)",
          (long long)elapsed);
    if (CHECK(st.thread_started, "async authCallback: answering thread started")) {
        pthread_join(st.thread, NULL);
        CHECK(pending.result == NULL, "async authCallback: the late answer was accepted");
        ably_error_info_free(pending.result);
    }
    /* The token is cached: the Authorization header needs no second call. */
    char *header = NULL;
    expect_ok(ably_auth_authorization_header(auth, &header));
    ably_string_free(header);
    CHECK(st.calls == 1, "async authCallback: called once (%d)", st.calls);
    ably_auth_free(auth);
    CHECK(frees_of(&st.frees) == 1, "async authCallback: free_user_data ran once");
}

static void test_auth_callback_timeout(void) {
    callback_state st = {0};
    ably_auth *auth = callback_auth(silent_callback, &st, 1000);
    if (auth == NULL) {
        return;
    }
    int64_t start = now_ms();
    ably_token_details *details = (ably_token_details *)&server;
    expect_code(ably_auth_authorize(auth, NULL, NULL, &details), ABLY_ERR_AUTH_CALLBACK_FAILED,
                "did not answer");
    int64_t elapsed = now_ms() - start;
    CHECK(elapsed >= 900 && elapsed < 120000,
          "unanswered authCallback: 40170 after the 1000 ms request timeout, no hang (%lld ms)",
          (long long)elapsed);
    CHECK(details == (ably_token_details *)&server, "unanswered authCallback: out untouched");
    if (CHECK(st.kept != NULL, "unanswered authCallback: completion kept")) {
        expect_code(ably_auth_completion_answer_token(st.kept, "late-token"),
                    ABLY_ERR_AUTH_CALLBACK_FAILED, NULL);
    }
    ably_auth_free(auth);
    CHECK(frees_of(&st.frees) == 1, "unanswered authCallback: free_user_data ran once");
}

static void test_auth_callback_twice(void) {
    callback_state st = {0};
    mint_token(st.late_token, sizeof st.late_token);
    ably_auth *auth = callback_auth(twice_callback, &st, 3000);
    if (auth == NULL) {
        return;
    }
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        CHECK(str_eq(ably_token_details_token(details), st.late_token),
              "twice authCallback: the first answer counts");
        ably_token_details_free(details);
    }
    expect_code(st.second_answer, ABLY_ERR_INVALID_ARGUMENT, "not a live handle");
    ably_auth_free(auth);
}

static void test_auth_callback_error_and_options_free(void) {
    /* Options freed unused run free_user_data once; replacing the callback frees the old. */
    counter first = {0}, second = {0};
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, silent_callback, &first, count_free));
    expect_ok(ably_auth_options_set_auth_callback(options, silent_callback, &second, count_free));
    CHECK(frees_of(&first) == 1, "a replaced authCallback's user_data is freed");
    ably_auth_options_free(options);
    CHECK(frees_of(&second) == 1, "options freed unused: free_user_data ran once");
    /* A failed registration frees user_data at once. */
    counter failed = {0};
    options = ably_auth_options_new();
    expect_code(ably_auth_options_set_auth_callback(options, NULL, &failed, count_free),
                ABLY_ERR_INVALID_ARGUMENT, "callback");
    CHECK(frees_of(&failed) == 1, "a failed registration runs free_user_data once");
    ably_auth_options_free(options);
    CHECK(frees_of(&failed) == 1, "... and not again");
}

/* ---- authUrl ---------------------------------------------------------------------------- */

static void test_auth_url(void) {
    char url[300];
    snprintf(url, sizeof url, "%s/auth/token-request", server.base_url);
    loopback_reset(&server);
    ably_auth_options *options = options_for(&server, 3000);
    expect_ok(ably_auth_options_set_auth_url(options, url));
    expect_ok(ably_auth_options_set_auth_method(options, "get"));
    expect_ok(ably_auth_options_add_auth_header(options, "X-Test-Header", "yes"));
    expect_ok(ably_auth_options_add_auth_param(options, "clientId", "alice"));
    ably_auth *auth = new_auth(options);
    if (auth == NULL) {
        return;
    }
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        CHECK(str_eq(ably_token_details_client_id(details), "alice"),
              "authUrl: the server's TokenRequest for alice was exchanged (clientId %s)",
              str_or_null(ably_token_details_client_id(details)));
        ably_token_details_free(details);
    }
    char *requests = NULL;
    loopback_http(&server, "GET", "/_control/requests", NULL, &requests);
    CHECK(requests != NULL && strstr(requests, "\"/auth/token-request\"") != NULL &&
              strstr(requests, "\"GET\"") != NULL,
          "authUrl: GET /auth/token-request was requested");
    CHECK(requests != NULL && strstr(requests, "yes") != NULL &&
              (strstr(requests, "X-Test-Header") || strstr(requests, "x-test-header")),
          "authUrl: the auth header was sent");
    free(requests);

    /* The Authorization header is Bearer base64(token). */
    char *header = NULL;
    ably_token_details *current = NULL;
    if (expect_ok(ably_auth_authorization_header(auth, &header)) &&
        expect_ok(ably_auth_token_details(auth, &current)) && current != NULL) {
        char b64[1024];
        uint8_t decoded[1024];
        int n = -1;
        if (strncmp(header, "Bearer ", 7) == 0 && strlen(header + 7) < sizeof b64) {
            size_t len = 0;
            for (const char *p = header + 7; *p && *p != '='; p++) {
                b64[len++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
            }
            b64[len] = '\0';
            n = base64url_decode(b64, len, decoded, sizeof decoded);
        }
        CHECK(n > 0 && str_eq((const char *)decoded, ably_token_details_token(current)),
              "authorization_header: Bearer value decodes to the token in use");
    }
    ably_string_free(header);
    ably_token_details_free(current);
    ably_auth_free(auth);
}

/* ---- ably_auth_request, renewal, time --------------------------------------------------- */

static void test_request_and_renewal(void) {
    ably_auth *auth = key_token_auth();
    if (auth == NULL) {
        return;
    }
    loopback_reset(&server);
    ably_http_response *response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/channels/x", "a=b&c=d%20e", NULL, NULL, 0,
                                    NULL, 0, &response))) {
        size_t len = 0;
        const uint8_t *body = ably_http_response_body(response, &len);
        CHECK(ably_http_response_status(response) == 200, "GET /channels/x: status 200");
        CHECK(body != NULL && len > 0 && strstr((const char *)body, "channelId") != NULL,
              "GET /channels/x: body has channelId");
        const char *type = ably_http_response_header(response, "content-type");
        CHECK(type != NULL && strstr(type, "application/json") != NULL,
              "GET /channels/x: Content-Type header (%s)", str_or_null(type));
        CHECK(ably_http_response_header(response, "X-None") == NULL,
              "an absent header is NULL");
        ably_http_response_free(response);
    }
    char *requests = NULL;
    loopback_http(&server, "GET", "/_control/requests", NULL, &requests);
    CHECK(requests != NULL && strstr(requests, "\"d e\"") != NULL,
          "the query reached the server decoded (c = \"d e\")");
    free(requests);

    ably_token_details *before = NULL;
    expect_ok(ably_auth_token_details(auth, &before));
    int64_t issued_before = tokens_issued();
    CHECK(loopback_rule(&server, "{\"pathPrefix\":\"/channels/x\",\"times\":1,\"action\":"
                                 "{\"type\":\"ablyError\",\"status\":401,\"code\":40142,"
                                 "\"message\":\"Token expired\"}}"),
          "inject a 40142 on /channels/x");
    response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/channels/x", NULL, NULL, NULL, 0, NULL, 0,
                                    &response))) {
        CHECK(ably_http_response_status(response) == 200, "after 40142: renewed and retried");
        ably_http_response_free(response);
    }
    ably_token_details *after = NULL;
    expect_ok(ably_auth_token_details(auth, &after));
    CHECK(before && after && !str_eq(ably_token_details_token(before),
                                     ably_token_details_token(after)),
          "after 40142: a new token is in use");
    CHECK(tokens_issued() == issued_before + 1, "after 40142: exactly one new token");
    ably_token_details_free(before);
    ably_token_details_free(after);

    /* POST with headers and a body. */
    const char *names[] = {"Content-Type", "X-Extra"};
    const char *values[] = {"application/json", "1"};
    const char *msg = "{\"name\":\"n\",\"data\":\"d\"}";
    response = NULL;
    if (expect_ok(ably_auth_request(auth, "post", "/channels/x/messages", NULL, names, values, 2,
                                    (const uint8_t *)msg, strlen(msg), &response))) {
        CHECK(ably_http_response_status(response) == 201, "POST /channels/x/messages: 201");
        ably_http_response_free(response);
    }
    /* An answer with status >= 400 is a response too: its status, headers (Retry-After on a
     * 429) and body reach the caller, and ably_http_response_error parses Ably's ErrorInfo. */
    CHECK(loopback_rule(&server, "{\"pathPrefix\":\"/channels/busy\",\"times\":1,\"action\":"
                                 "{\"type\":\"respond\",\"status\":429,\"headers\":"
                                 "[[\"Content-Type\",\"application/json\"],[\"Retry-After\",\"7\"]],"
                                 "\"body\":\"{\\\"error\\\":{\\\"code\\\":42910,\\\"statusCode\\\":"
                                 "429,\\\"message\\\":\\\"Slow down\\\"}}\"}}"),
          "inject a 429 with Retry-After on /channels/busy");
    response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/channels/busy", NULL, NULL, NULL, 0, NULL, 0,
                                    &response))) {
        CHECK(ably_http_response_status(response) == 429, "GET /channels/busy: status 429");
        const char *retry = ably_http_response_header(response, "Retry-After");
        CHECK(str_eq(retry, "7"), "GET /channels/busy: Retry-After 7 (%s)", str_or_null(retry));
        size_t len = 0;
        const uint8_t *body = ably_http_response_body(response, &len);
        CHECK(body != NULL && strstr((const char *)body, "Slow down") != NULL,
              "GET /channels/busy: Ably's error body");
        ably_error_info *err = ably_http_response_error(response);
        CHECK(err != NULL && err->code == 42910 && err->status_code == 429,
              "GET /channels/busy: ErrorInfo 42910/429");
        ably_http_response_free(response);
        /* The ErrorInfo is owned by the caller and outlives the response. */
        CHECK(err != NULL && str_eq(err->message, "Slow down"), "the ErrorInfo outlives the response");
        ably_error_info_free(err);
    }
    response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/nowhere", NULL, NULL, NULL, 0, NULL, 0,
                                    &response))) {
        ably_error_info *err = ably_http_response_error(response);
        CHECK(ably_http_response_status(response) == 404 && err != NULL && err->code == 40400,
              "GET /nowhere: a 404 response with 40400");
        ably_error_info_free(err);
        ably_http_response_free(response);
    }
    /* A success answer has no ErrorInfo; neither has a NULL response. */
    response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/channels/x", NULL, NULL, NULL, 0, NULL, 0,
                                    &response))) {
        CHECK(ably_http_response_error(response) == NULL, "a 200 response has no ErrorInfo");
        ably_http_response_free(response);
    }
    CHECK(ably_http_response_error(NULL) == NULL, "ably_http_response_error(NULL) is NULL");

    /* A token error that persists after the one renewal: the retry's 401 is the answer. */
    CHECK(loopback_rule(&server, "{\"pathPrefix\":\"/channels/expired\",\"times\":2,\"action\":"
                                 "{\"type\":\"ablyError\",\"status\":401,\"code\":40142,"
                                 "\"message\":\"Token expired\"}}"),
          "inject two 40142 on /channels/expired");
    int64_t issued_now = tokens_issued();
    response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/channels/expired", NULL, NULL, NULL, 0, NULL,
                                    0, &response))) {
        ably_error_info *err = ably_http_response_error(response);
        CHECK(ably_http_response_status(response) == 401 && err != NULL && err->code == 40142,
              "40142 twice: the retry's 401 answer");
        ably_error_info_free(err);
        ably_http_response_free(response);
    }
    CHECK(tokens_issued() == issued_now + 1, "40142 twice: exactly one renewal");

    /* token_rejected drops the cached token: the next header needs a new one. */
    int64_t issued = tokens_issued();
    expect_ok(ably_auth_token_rejected(auth, NULL));
    char *header = NULL;
    expect_ok(ably_auth_authorization_header(auth, &header));
    ably_string_free(header);
    CHECK(tokens_issued() == issued + 1, "token_rejected: the next header fetched a new token");

    int64_t server_time = 0;
    expect_ok(ably_auth_time(auth, &server_time));
    CHECK(server_time > INT64_C(1700000000000), "time: %lld is a plausible server time",
          (long long)server_time);
    ably_auth_free(auth);
}

/* ---- revokeTokens over TLS -------------------------------------------------------------- */

static void test_revoke_tokens_tls(void) {
    loopback tls;
    if (!CHECK(loopback_start(&tls, true), "TLS loopback server started")) {
        loopback_stop(&tls);
        return;
    }
    ably_auth_options *options = options_for(&tls, 3000);
    expect_ok(ably_auth_options_set_key(options, key));
    ably_auth *auth = new_auth(options);
    if (auth != NULL) {
        const char *targets[] = {"clientId:alice", "bogus:x"};
        ably_revocation_result *result = NULL;
        if (expect_ok(ably_auth_revoke_tokens(auth, targets, 2, -1, 1, &result))) {
            CHECK(ably_revocation_result_len(result) == 2, "revoke: two entries");
            CHECK(ably_revocation_result_success_count(result) == 1 &&
                      ably_revocation_result_failure_count(result) == 1,
                  "revoke: one success, one failure");
            CHECK(str_eq(ably_revocation_result_target(result, 0), "clientId:alice") &&
                      ably_revocation_result_is_success(result, 0),
                  "revoke: clientId:alice succeeded");
            CHECK(ably_revocation_result_applies_at(result, 0) >
                      ably_revocation_result_issued_before(result, 0),
                  "revoke: allowReauthMargin puts appliesAt after issuedBefore");
            CHECK(ably_revocation_result_error(result, 0) == NULL, "revoke: no error on success");
            const ably_error_info *e = ably_revocation_result_error(result, 1);
            CHECK(!ably_revocation_result_is_success(result, 1) && e != NULL &&
                      e->code == 40000,
                  "revoke: bogus:x failed with 40000");
            CHECK(ably_revocation_result_target(result, 2) == NULL &&
                      ably_revocation_result_error(result, 2) == NULL,
                  "revoke: out-of-range index gives NULL");
            expect_code(ably_revocation_result_to_json(result, NULL), ABLY_ERR_INVALID_ARGUMENT,
                        "out_json");
            char *json = NULL;
            if (expect_ok(ably_revocation_result_to_json(result, &json))) {
                int64_t n = 0;
                CHECK(json_int(json, "successCount", &n) && n == 1,
                      "revoke: to_json has successCount 1");
                ably_string_free(json);
            }
            ably_revocation_result_free(result);
        }
        ably_auth_free(auth);
    }
    /* Without the TLS server's CA the connection fails. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_endpoint(options, "127.0.0.1"));
    expect_ok(ably_auth_options_set_tls_port(options, tls.port));
    expect_ok(ably_auth_options_set_timeouts(options, 2000, 2000));
    expect_ok(ably_auth_options_set_key(options, key));
    auth = new_auth(options);
    if (auth != NULL) {
        const char *targets[] = {"clientId:alice"};
        ably_revocation_result *result = NULL;
        expect_code(ably_auth_revoke_tokens(auth, targets, 1, -1, -1, &result),
                    ABLY_ERR_CONNECTION_FAILED, NULL);
        ably_auth_free(auth);
    }
    /* Token auth cannot revoke (40162). */
    auth = key_token_auth();
    if (auth != NULL) {
        const char *targets[] = {"clientId:alice"};
        ably_revocation_result *result = NULL;
        expect_code(ably_auth_revoke_tokens(auth, targets, 1, -1, -1, &result),
                    ABLY_ERR_REQUIRES_BASIC_AUTH, NULL);
        ably_auth_free(auth);
    }
    loopback_stop(&tls);
}

/* ---- listeners -------------------------------------------------------------------------- */

typedef struct listen_state {
    counter frees;
    int changes;
    int failures;
    int32_t last_error;
    char last_token[256];
} listen_state;

static void listener(void *user_data, const ably_token_details *details,
                     const ably_error_info *error) {
    listen_state *st = user_data;
    if (details != NULL && error == NULL) {
        st->changes++;
        snprintf(st->last_token, sizeof st->last_token, "%s",
                 str_or_null(ably_token_details_token(details)));
    } else if (details == NULL && error != NULL) {
        st->failures++;
        st->last_error = error->code;
    }
}

static void error_callback(void *user_data, const char *params_json,
                           ably_auth_completion *completion) {
    (void)user_data;
    (void)params_json;
    ably_error_info_free(ably_auth_completion_answer_error(completion, 0, 401, "denied by the host"));
}

static void test_listeners(void) {
    ably_auth *auth = key_token_auth();
    if (auth == NULL) {
        return;
    }
    listen_state st = {0}, kept = {0};
    uint64_t id = 0, kept_id = 0;
    expect_ok(ably_auth_add_listener(auth, listener, &st, count_free, &id));
    expect_ok(ably_auth_add_listener(auth, listener, &kept, count_free, &kept_id));
    CHECK(id != 0 && kept_id != 0 && id != kept_id, "add_listener: distinct ids");
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        CHECK(st.changes == 1 && str_eq(st.last_token, ably_token_details_token(details)),
              "listener: heard the new token");
        ably_token_details_free(details);
    }
    expect_ok(ably_auth_remove_listener(auth, id));
    CHECK(frees_of(&st.frees) == 1, "remove_listener: free_user_data ran once");
    expect_code(ably_auth_remove_listener(auth, id), ABLY_ERR_INVALID_ARGUMENT, "listener");
    details = NULL;
    expect_ok(ably_auth_authorize(auth, NULL, NULL, &details));
    ably_token_details_free(details);
    CHECK(st.changes == 1, "a removed listener hears nothing more");
    CHECK(kept.changes == 2, "the other listener heard both tokens (%d)", kept.changes);
    ably_auth_free(auth);
    CHECK(frees_of(&st.frees) == 1 && frees_of(&kept.frees) == 1,
          "ably_auth_free: every listener's free_user_data ran exactly once");

    /* A failure reaches listeners as an error. */
    ably_auth_options *options = options_for(&server, 3000);
    expect_ok(ably_auth_options_set_auth_callback(options, error_callback, NULL, NULL));
    auth = new_auth(options);
    if (auth != NULL) {
        listen_state failing = {0};
        expect_ok(ably_auth_add_listener(auth, listener, &failing, NULL, &id));
        details = NULL;
        expect_code(ably_auth_authorize(auth, NULL, NULL, &details),
                    ABLY_ERR_AUTH_CALLBACK_FAILED, "denied by the host");
        CHECK(failing.failures == 1 && failing.last_error == ABLY_ERR_AUTH_CALLBACK_FAILED,
              "listener: heard the failure (40170)");
        ably_auth_free(auth);
    }
}

/* ---- log -------------------------------------------------------------------------------- */

typedef struct log_state {
    counter frees;
    pthread_mutex_t lock;
    int lines;
    char *all; /* every line, newline-separated */
    size_t len;
    int bad_level;
} log_state;

static void log_line(void *user_data, int32_t level, const char *message) {
    log_state *st = user_data;
    pthread_mutex_lock(&st->lock);
    st->lines++;
    if (level < 1 || level > 5 || message == NULL) {
        st->bad_level++;
    } else {
        size_t n = strlen(message);
        char *bigger = realloc(st->all, st->len + n + 2);
        if (bigger != NULL) {
            st->all = bigger;
            memcpy(st->all + st->len, message, n);
            st->len += n;
            st->all[st->len++] = '\n';
            st->all[st->len] = '\0';
        }
    }
    pthread_mutex_unlock(&st->lock);
}

static void test_log(void) {
    log_state st = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ably_auth_options *options = options_for(&server, 3000);
    expect_ok(ably_auth_options_set_key(options, key));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    expect_ok(ably_auth_options_set_log(options, log_line, 5, &st, count_free));
    ably_auth *auth = new_auth(options);
    if (auth == NULL) {
        return;
    }
    char tokens[3][256] = {{0}};
    ably_token_details *details = NULL;
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        snprintf(tokens[0], sizeof tokens[0], "%s", ably_token_details_token(details));
        ably_token_details_free(details);
    }
    loopback_rule(&server, "{\"pathPrefix\":\"/channels/log\",\"times\":1,\"action\":"
                           "{\"type\":\"ablyError\",\"status\":401,\"code\":40142,"
                           "\"message\":\"Token expired\"}}");
    ably_http_response *response = NULL;
    expect_ok(ably_auth_request(auth, "GET", "/channels/log", NULL, NULL, NULL, 0, NULL, 0,
                                &response));
    ably_http_response_free(response);
    details = NULL;
    if (expect_ok(ably_auth_token_details(auth, &details)) && details != NULL) {
        snprintf(tokens[1], sizeof tokens[1], "%s", ably_token_details_token(details));
        ably_token_details_free(details);
    }
    char *header = NULL;
    if (expect_ok(ably_auth_authorization_header(auth, &header))) {
        snprintf(tokens[2], sizeof tokens[2], "%s", header + 7); /* the base64 form */
        ably_string_free(header);
    }
    ably_auth_free(auth);
    CHECK(frees_of(&st.frees) == 1, "log: free_user_data ran once at ably_auth_free");
    CHECK(st.lines > 0 && st.bad_level == 0, "log: %d lines, all with a level 1..5", st.lines);
    bool clean = st.all != NULL && strstr(st.all, secret) == NULL;
    for (int i = 0; i < 3; i++) {
        clean = clean && tokens[i][0] != '\0' && strstr(st.all, tokens[i]) == NULL;
    }
    CHECK(clean, "log: no line contains the key secret or a token");
    if (!clean && st.all != NULL) {
        printf("%s", st.all);
    }
    free(st.all);
}

int main(void) {
    loopback_ignore_sigpipe();
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
    const char *colon = strchr(key, ':');
    snprintf(secret, sizeof secret, "%s", colon ? colon + 1 : "");
    if (CHECK(colon != NULL && secret[0] != '\0', "got the server's key")) {
        ably_auth_options *options = options_for(&server, 3000);
        expect_ok(ably_auth_options_set_key(options, key));
        expect_ok(ably_auth_options_set_use_token_auth(options, true));
        ably_auth *signer = new_auth(options);
        test_request_token_with_key();
        test_auth_callback_sync(signer);
        test_auth_callback_async();
        test_auth_callback_timeout();
        test_auth_callback_twice();
        test_auth_callback_error_and_options_free();
        test_auth_url();
        test_request_and_renewal();
        test_revoke_tokens_tls();
        test_listeners();
        test_log();
        ably_auth_free(signer);
    }
    loopback_stop(&server);
    return test_summary();
}
