/*
 * test_ownership.c: who owns what, and sharing across threads.
 *
 * - errors: fields, no cause for these errors, freed once with ably_error_info_free;
 * - builders are consumed by the call they are passed to, also when it fails;
 * - ably_auth_token_details / ably_auth_client_id hand out owned copies (or NULL);
 * - TokenDetails getters and ably_token_details_is_expired(now, margin);
 * - one ably_auth shared by 4 threads issuing 2000 TokenRequests each.
 *
 * Every handle and string is freed exactly once, so LeakSanitizer (and valgrind) report a
 * leak or double free as a failure of this program.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "test_util.h"

#define KEY "appId.keyId:keySecret"
#define DETAILS_JSON "{\"token\":\"tok\",\"expires\":1234567890000,\"clientId\":\"c\"}"
#define EXPIRES INT64_C(1234567890000)

static char sentinel_byte;
#define SENTINEL(type) ((type)(void *)&sentinel_byte)

static ably_auth_options *key_options(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, KEY));
    return options;
}

static ably_auth *new_auth(ably_auth_options *options) {
    ably_auth *auth = NULL;
    expect_ok(ably_auth_new(options, &auth));
    return auth;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Check an error's fields, including that it has no cause, then free it (once). */
static void check_error_shape(ably_error_info *err, int32_t code, int32_t status,
                              const char *label) {
    if (!CHECK(err != NULL, "%s: an error is returned", label)) {
        return;
    }
    CHECK(err->code == code && err->status_code == status,
          "%s: code %d, status %d (got %d, %d)", label, (int)code, (int)status, (int)err->code,
          (int)err->status_code);
    CHECK(err->message != NULL && err->message[0] != '\0', "%s: message is set (%s)", label,
          str_or_null(err->message));
    CHECK(err->cause == NULL, "%s: cause is NULL", label);
    CHECK(err->href == NULL || err->href[0] != '\0', "%s: href is NULL or a string", label);
    ably_error_info_free(err);
}

static void test_errors(void) {
    check_error_shape(ably_token_params_set_ttl(NULL, 1), ABLY_ERR_INVALID_ARGUMENT, 0,
                      "NULL params");

    ably_auth_options *options = ably_auth_options_new();
    check_error_shape(ably_auth_options_set_key(options, "no-colon"),
                      ABLY_ERR_INVALID_CREDENTIALS, 401, "malformed key");
    check_error_shape(ably_auth_options_set_client_id(options, "*"), ABLY_ERR_INVALID_CLIENT_ID,
                      400, "wildcard options clientId");
    ably_auth *auth = SENTINEL(ably_auth *);
    check_error_shape(ably_auth_new(options, &auth), ABLY_ERR_NO_AUTH_METHOD, 401,
                      "options without a key or token");

    ably_token_details *details = NULL;
    expect_ok(ably_token_details_from_json(DETAILS_JSON, &details));
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token_details(options, details));
    expect_ok(ably_auth_options_set_client_id(options, "someone-else"));
    check_error_shape(ably_auth_new(options, &auth), ABLY_ERR_INCOMPATIBLE_CREDENTIALS, 401,
                      "clientId mismatch");
    ably_token_details_free(details);
    CHECK(auth == SENTINEL(ably_auth *), "failed ably_auth_new calls leave `auth` untouched");
}

/* ---- builders are consumed, also on failure --------------------------------------------- */

/* After a consuming call, the builder is gone: using it gives 40003 and freeing it is a
 * no-op. Nothing else may allocate a builder between the consuming call and this check. */
static void check_options_consumed(ably_auth_options *options, const char *label) {
    ably_error_info *err = ably_auth_options_set_use_token_auth(options, true);
    CHECK(err != NULL && err->code == ABLY_ERR_INVALID_ARGUMENT &&
              strstr(err->message, "not a live handle") != NULL,
          "%s: the options were consumed (reuse gives 40003)", label);
    ably_error_info_free(err);
    ably_auth_options_free(options); /* ignored */
}

static void check_params_consumed(ably_token_params *params, const char *label) {
    ably_error_info *err = ably_token_params_set_ttl(params, 1000);
    CHECK(err != NULL && err->code == ABLY_ERR_INVALID_ARGUMENT &&
              strstr(err->message, "not a live handle") != NULL,
          "%s: the params were consumed (reuse gives 40003)", label);
    ably_error_info_free(err);
    ably_token_params_free(params); /* ignored */
}

static void test_consumed_on_failure(void) {
    ably_auth *auth = SENTINEL(ably_auth *);

    /* ably_auth_new fails for lack of a key. */
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_client_id(options, "bob"));
    expect_code(ably_auth_new(options, &auth), ABLY_ERR_NO_AUTH_METHOD, NULL);
    check_options_consumed(options, "ably_auth_new without a key");

    /* ably_auth_new fails for a NULL out_auth. */
    options = key_options();
    expect_code(ably_auth_new(options, NULL), ABLY_ERR_INVALID_ARGUMENT, "out_auth");
    check_options_consumed(options, "ably_auth_new with NULL out_auth");

    /* ably_auth_new fails on its default params, which go with the options. */
    options = key_options();
    ably_token_params *defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_capability(defaults, "{\"a\":[\"*\"]}"));
    expect_ok(ably_token_params_set_nonce(defaults, "fixed-nonce-not-allowed"));
    expect_ok(ably_auth_options_set_default_token_params(options, defaults));
    check_params_consumed(defaults, "set_default_token_params");
    expect_code(ably_auth_new(options, &auth), ABLY_ERR_INVALID_ARGUMENT, "nonce");
    check_options_consumed(options, "ably_auth_new with a nonce in the defaults");

    /* set_default_token_params fails on NULL options. */
    defaults = ably_token_params_new();
    expect_code(ably_auth_options_set_default_token_params(NULL, defaults),
                ABLY_ERR_INVALID_ARGUMENT, "options");
    check_params_consumed(defaults, "set_default_token_params(NULL, params)");

    /* Setting default params twice: the first ones are freed by the library. */
    options = key_options();
    defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(defaults, 1000));
    expect_ok(ably_auth_options_set_default_token_params(options, defaults));
    defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(defaults, 2000));
    expect_ok(ably_auth_options_set_default_token_params(options, defaults));
    /* Replacing the key and token is leak-free too (LeakSanitizer checks). */
    expect_ok(ably_auth_options_set_key(options, "other.key:secret2"));
    expect_ok(ably_auth_options_set_key(options, KEY));
    expect_ok(ably_auth_options_set_client_id(options, "first"));
    expect_ok(ably_auth_options_set_client_id(options, "second"));
    ably_auth_options_free(options);
    CHECK(true, "unused options holding default params, a key and a clientId are freed");

    /* Issuing calls consume their params whatever fails. */
    ably_auth *key_auth = new_auth(key_options());
    ably_auth_options *token_only = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(token_only, "tok"));
    ably_auth *token_auth = new_auth(token_only);
    ably_token_request *request = NULL;
    char *jwt = NULL;

    ably_token_params *params = ably_token_params_new();
    expect_code(ably_auth_create_token_request(NULL, params, &request), ABLY_ERR_INVALID_ARGUMENT,
                "auth");
    check_params_consumed(params, "create_token_request with NULL auth");

    params = ably_token_params_new();
    expect_code(ably_auth_create_token_request(key_auth, params, NULL),
                ABLY_ERR_INVALID_ARGUMENT, "out_request");
    check_params_consumed(params, "create_token_request with NULL out_request");

    params = ably_token_params_new();
    expect_code(ably_auth_create_token_request(token_auth, params, &request),
                ABLY_ERR_INVALID_CREDENTIALS, NULL);
    check_params_consumed(params, "create_token_request without a key");

    params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, 999));
    expect_code(ably_auth_create_jwt(key_auth, params, &jwt), ABLY_ERR_INVALID_ARGUMENT, "ttl");
    check_params_consumed(params, "create_jwt with ttl 999");

    params = ably_token_params_new();
    expect_code(ably_auth_create_jwt(NULL, params, &jwt), ABLY_ERR_INVALID_ARGUMENT, "auth");
    check_params_consumed(params, "create_jwt with NULL auth");

    CHECK(request == NULL && jwt == NULL, "no output was written by the failed calls");
    ably_auth_free(token_auth);
    ably_auth_free(key_auth);
}

/* ---- what an Auth object hands out ------------------------------------------------------ */

static void test_token_details_auth(void) {
    ably_token_details *details = NULL;
    if (!expect_ok(ably_token_details_from_json(DETAILS_JSON, &details))) {
        return;
    }
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token_details(options, details));
    /* The options keep their own copy: the caller's handle can go now. */
    ably_token_details_free(details);
    ably_auth *auth = new_auth(options);
    if (auth == NULL) {
        return;
    }

    ably_token_details *copy1 = NULL, *copy2 = NULL;
    expect_ok(ably_auth_token_details(auth, &copy1));
    expect_ok(ably_auth_token_details(auth, &copy2));
    CHECK(copy1 != NULL && copy2 != NULL && copy1 != copy2,
          "ably_auth_token_details returns a new handle each time");
    if (copy1 != NULL) {
        CHECK(str_eq(ably_token_details_token(copy1), "tok"), "token details copy: token");
        CHECK(ably_token_details_expires(copy1) == EXPIRES, "token details copy: expires");
        CHECK(ably_token_details_issued(copy1) == 0, "token details copy: issued absent (0)");
        CHECK(ably_token_details_capability(copy1) == NULL,
              "token details copy: capability absent (NULL)");
        CHECK(str_eq(ably_token_details_client_id(copy1), "c"), "token details copy: clientId");
    }
    /* Each copy is freed once, independently; the Auth object keeps its own token. */
    ably_token_details_free(copy1);
    CHECK(copy2 != NULL && str_eq(ably_token_details_token(copy2), "tok"),
          "the second copy is still valid after the first is freed");
    ably_token_details_free(copy2);

    char *id1 = NULL, *id2 = NULL;
    expect_ok(ably_auth_client_id(auth, &id1));
    expect_ok(ably_auth_client_id(auth, &id2));
    CHECK(str_eq(id1, "c"), "ably_auth_client_id is the token's clientId (%s)", str_or_null(id1));
    CHECK(id1 != NULL && id2 != NULL && id1 != id2,
          "ably_auth_client_id returns a new string each time");
    ably_string_free(id1);
    ably_string_free(id2);
    ably_auth_free(auth);
}

static void test_key_auth_outputs(void) {
    ably_auth *auth = new_auth(key_options());
    if (auth != NULL) {
        ably_token_details *details = SENTINEL(ably_token_details *);
        char *client_id = SENTINEL(char *);
        expect_ok(ably_auth_token_details(auth, &details));
        expect_ok(ably_auth_client_id(auth, &client_id));
        CHECK(details == NULL, "key-only auth: ably_auth_token_details writes NULL");
        CHECK(client_id == NULL, "key-only auth without clientId: ably_auth_client_id writes NULL");
        ably_auth_free(auth);
    }

    ably_auth_options *options = key_options();
    expect_ok(ably_auth_options_set_client_id(options, "opt"));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    auth = new_auth(options);
    if (auth != NULL) {
        ably_token_details *details = SENTINEL(ably_token_details *);
        char *client_id = NULL;
        expect_ok(ably_auth_token_details(auth, &details));
        expect_ok(ably_auth_client_id(auth, &client_id));
        CHECK(details == NULL, "key auth with useTokenAuth: no token obtained yet (NULL)");
        CHECK(str_eq(client_id, "opt"), "key auth with clientId: ably_auth_client_id is it");
        ably_string_free(client_id);
        ably_auth_free(auth);
    }

    /* A bare token string: TokenDetails holding only the token; the options' clientId. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(options, "token-string"));
    expect_ok(ably_auth_options_set_client_id(options, "opt"));
    auth = new_auth(options);
    if (auth != NULL) {
        ably_token_details *details = NULL;
        char *client_id = NULL;
        expect_ok(ably_auth_token_details(auth, &details));
        expect_ok(ably_auth_client_id(auth, &client_id));
        CHECK(details != NULL && str_eq(ably_token_details_token(details), "token-string") &&
                  ably_token_details_expires(details) == 0 &&
                  ably_token_details_client_id(details) == NULL,
              "token string auth: TokenDetails with just the token");
        CHECK(str_eq(client_id, "opt"), "token string auth: the options' clientId");
        ably_token_details_free(details);
        ably_string_free(client_id);
        ably_auth_free(auth);
    }

    /* A wildcard token: Auth#clientId is "*" (RSA7b4). */
    ably_token_details *wildcard = NULL;
    expect_ok(ably_token_details_from_json("{\"token\":\"tok\",\"clientId\":\"*\"}", &wildcard));
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token_details(options, wildcard));
    ably_token_details_free(wildcard);
    auth = new_auth(options);
    if (auth != NULL) {
        char *client_id = NULL;
        expect_ok(ably_auth_client_id(auth, &client_id));
        CHECK(str_eq(client_id, "*"), "wildcard token: ably_auth_client_id is \"*\"");
        ably_string_free(client_id);
        ably_auth_free(auth);
    }
}

/* ---- TokenDetails ----------------------------------------------------------------------- */

static void test_token_details_getters(void) {
    ably_token_details *details = NULL;
    if (!expect_ok(ably_token_details_from_json(
            "{\"token\":\"tok\",\"expires\":\"1234567890000\",\"issued\":1234567800000,"
            "\"capability\":\"{\\\"a\\\":[\\\"*\\\"]}\",\"clientId\":\"c\",\"keyName\":\"x.y\"}",
            &details))) {
        return;
    }
    CHECK(str_eq(ably_token_details_token(details), "tok"), "getter: token");
    CHECK(ably_token_details_expires(details) == EXPIRES, "getter: expires (from a string)");
    CHECK(ably_token_details_issued(details) == INT64_C(1234567800000), "getter: issued");
    CHECK(str_eq(ably_token_details_capability(details), "{\"a\":[\"*\"]}"),
          "getter: capability");
    CHECK(str_eq(ably_token_details_client_id(details), "c"), "getter: clientId");
    CHECK(ably_token_details_token(details) == ably_token_details_token(details),
          "getter: borrowed token pointer is stable");

    char *json = NULL;
    if (expect_ok(ably_token_details_to_json(details, &json))) {
        ably_token_details *again = NULL;
        CHECK(strstr(json, "keyName") == NULL, "to_json drops unknown fields: %s", json);
        if (expect_ok(ably_token_details_from_json(json, &again))) {
            CHECK(str_eq(ably_token_details_token(again), "tok") &&
                      ably_token_details_expires(again) == EXPIRES &&
                      ably_token_details_issued(again) == INT64_C(1234567800000) &&
                      str_eq(ably_token_details_capability(again), "{\"a\":[\"*\"]}") &&
                      str_eq(ably_token_details_client_id(again), "c"),
                  "TokenDetails JSON round trip keeps every field");
            ably_token_details_free(again);
        }
        ably_string_free(json);
    }

    /* is_expired(now, margin): expired once now + margin >= expires. */
    const int64_t e = EXPIRES;
    CHECK(!ably_token_details_is_expired(details, e - 1, 0), "is_expired(expires - 1, 0) false");
    CHECK(ably_token_details_is_expired(details, e, 0), "is_expired(expires, 0) true");
    CHECK(ably_token_details_is_expired(details, e + 1, 0), "is_expired(expires + 1, 0) true");
    CHECK(ably_token_details_is_expired(details, e - 1000, 1000),
          "is_expired(expires - 1000, 1000) true (margin)");
    CHECK(!ably_token_details_is_expired(details, e - 1001, 1000),
          "is_expired(expires - 1001, 1000) false");
    CHECK(!ably_token_details_is_expired(details, 0, 0), "is_expired(0, 0) false");
    CHECK(ably_token_details_is_expired(details, INT64_MAX, INT64_MAX),
          "is_expired(INT64_MAX, INT64_MAX) true (no overflow)");
    ably_token_details_free(details);

    /* Absent fields: 0 / NULL, never expires, and left out of the JSON. */
    details = NULL;
    if (expect_ok(ably_token_details_from_json("{\"token\":\"t\"}", &details))) {
        CHECK(ably_token_details_expires(details) == 0 && ably_token_details_issued(details) == 0 &&
                  ably_token_details_capability(details) == NULL &&
                  ably_token_details_client_id(details) == NULL,
              "absent fields read as 0 / NULL");
        CHECK(!ably_token_details_is_expired(details, INT64_MAX, INT64_MAX),
              "a token without expires never expires by this check");
        json = NULL;
        expect_ok(ably_token_details_to_json(details, &json));
        CHECK(str_eq(json, "{\"token\":\"t\"}"), "to_json leaves absent fields out: %s",
              str_or_null(json));
        ably_string_free(json);
        ably_token_details_free(details);
    }
}

/* ---- threads ---------------------------------------------------------------------------- */

#define THREADS 4
#define ITERATIONS 2000
#define NONCE_MAX 64
#define MAC_MAX 64

typedef struct thread_work {
    int index;
    const ably_auth *auth;                 /* shared by every thread */
    const ably_token_request *shared;      /* shared, read by every thread */
    const char *shared_nonce_seen;         /* the borrowed pointer this thread got */
    int errors;
    int json_mismatches;
    char nonces[ITERATIONS][NONCE_MAX];
    char macs[ITERATIONS][MAC_MAX];
} thread_work;

static void *issue_many(void *arg) {
    thread_work *work = arg;
    char client_id[32];
    snprintf(client_id, sizeof client_id, "thread-%d", work->index);

    /* Race on the shared request's lazily created borrowed strings. */
    work->shared_nonce_seen = ably_token_request_nonce(work->shared);

    for (int i = 0; i < ITERATIONS; i++) {
        ably_token_params *params = NULL;
        if (i % 2 == 1) { /* every other request with params, the rest with the defaults */
            params = ably_token_params_new();
            ably_error_info *err = ably_token_params_set_ttl(params, 60000);
            if (err == NULL) {
                err = ably_token_params_set_client_id(params, client_id);
            }
            if (err != NULL) {
                work->errors++;
                ably_error_info_free(err);
            }
        }
        ably_token_request *request = NULL;
        char *json = NULL;
        ably_error_info *err = ably_auth_create_token_request(work->auth, params, &request);
        if (err == NULL) {
            err = ably_token_request_to_json(request, &json);
        }
        if (err != NULL) {
            work->errors++;
            ably_error_info_free(err);
        } else {
            const char *nonce = ably_token_request_nonce(request);
            const char *mac = ably_token_request_mac(request);
            snprintf(work->nonces[i], NONCE_MAX, "%s", str_or_null(nonce));
            snprintf(work->macs[i], MAC_MAX, "%s", str_or_null(mac));
            if (nonce == NULL || mac == NULL || strstr(json, nonce) == NULL ||
                strstr(json, mac) == NULL) {
                work->json_mismatches++;
            }
        }
        if (i % 500 == 0) { /* the token state is behind a lock: read it concurrently too */
            char *id = NULL;
            ably_token_details *details = NULL;
            ably_error_info *e1 = ably_auth_client_id(work->auth, &id);
            ably_error_info *e2 = ably_auth_token_details(work->auth, &details);
            work->errors += (e1 != NULL) + (e2 != NULL);
            ably_error_info_free(e1);
            ably_error_info_free(e2);
            ably_string_free(id);
            ably_token_details_free(details);
        }
        ably_string_free(json);
        ably_token_request_free(request);
    }
    return NULL;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Count the duplicates among `n` strings (sorting an array of pointers to them). */
static int count_duplicates(const char **strings, size_t n) {
    qsort(strings, n, sizeof *strings, compare_strings);
    int duplicates = 0;
    for (size_t i = 1; i < n; i++) {
        duplicates += strcmp(strings[i - 1], strings[i]) == 0;
    }
    return duplicates;
}

static void test_threads(void) {
    ably_auth *auth = new_auth(key_options());
    ably_token_request *shared = NULL;
    expect_ok(ably_token_request_from_json(
        "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"shared-nonce\",\"mac\":\"m\"}",
        &shared));
    thread_work *work = calloc(THREADS, sizeof *work);
    const char **all_nonces = calloc((size_t)THREADS * ITERATIONS, sizeof *all_nonces);
    const char **all_macs = calloc((size_t)THREADS * ITERATIONS, sizeof *all_macs);
    if (!CHECK(auth != NULL && shared != NULL && work != NULL && all_nonces != NULL &&
                   all_macs != NULL,
               "thread test setup")) {
        goto done;
    }

    pthread_t threads[THREADS];
    int started = 0;
    for (int t = 0; t < THREADS; t++) {
        work[t].index = t;
        work[t].auth = auth;
        work[t].shared = shared;
        if (pthread_create(&threads[t], NULL, issue_many, &work[t]) != 0) {
            break;
        }
        started++;
    }
    for (int t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
    }
    CHECK(started == THREADS, "started %d threads", THREADS);

    int errors = 0, mismatches = 0;
    bool same_pointer = true, per_thread_unique = true;
    for (int t = 0; t < started; t++) {
        errors += work[t].errors;
        mismatches += work[t].json_mismatches;
        same_pointer = same_pointer && work[t].shared_nonce_seen == work[0].shared_nonce_seen;
        const char **mine = all_nonces + (size_t)t * ITERATIONS;
        for (int i = 0; i < ITERATIONS; i++) {
            mine[i] = work[t].nonces[i];
            all_macs[(size_t)t * ITERATIONS + i] = work[t].macs[i];
        }
        per_thread_unique = per_thread_unique && count_duplicates(mine, ITERATIONS) == 0;
    }
    size_t total = (size_t)started * ITERATIONS;
    CHECK(errors == 0, "%d threads x %d create_token_request + to_json: no errors (%d)", started,
          ITERATIONS, errors);
    CHECK(mismatches == 0, "every request's JSON carries its own nonce and mac");
    CHECK(per_thread_unique, "nonces are unique within each thread");
    CHECK(count_duplicates(all_nonces, total) == 0, "all %zu nonces are unique", total);
    CHECK(count_duplicates(all_macs, total) == 0, "all %zu macs are distinct", total);
    CHECK(same_pointer && str_eq(work[0].shared_nonce_seen, "shared-nonce"),
          "a shared TokenRequest read concurrently gives every thread the same borrowed nonce");

done:
    free(all_macs);
    free(all_nonces);
    free(work);
    ably_token_request_free(shared);
    ably_auth_free(auth);
}

int main(void) {
    test_errors();
    test_consumed_on_failure();
    test_token_details_auth();
    test_key_auth_outputs();
    test_token_details_getters();
    test_threads();
    return test_summary();
}
