/*
 * test_boundary.c: the C ABI's promises at its edges (include/ably_auth.h, "Conventions").
 *
 * - every exported function called with NULL for each pointer argument in turn: fallible
 *   functions give 40003 naming the argument, getters give their documented NULL/0/true,
 *   _free functions do nothing;
 * - invalid UTF-8 for every string argument, negative numbers, malformed keys, bad
 *   clientIds, invalid capabilities and malformed JSON;
 * - builders used after they were consumed, and freed twice;
 * - option combinations ably_auth_new rejects (40106, 40102, bad default params);
 * - outputs are left untouched whenever a call fails;
 * - the networked API (options setters, requestToken/authorize, request, revokeTokens,
 *   listeners, completions) under the same treatment, with free_user_data run exactly once
 *   when a registration fails, and a completion answered twice refused.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "test_util.h"

#define KEY "appId.keyId:keySecret"
#define TIMESTAMP INT64_C(1234567890000)
#define NONCE "abcdefghijklmnop"
#define MAC_MINIMAL "foz/hUYxHedNgRFel0jQFxXq5fHsrIU9ZUZiqONgXow="

/* Out-parameters are pre-set to this address; a failed call must leave them alone. */
static char sentinel_byte;
#define SENTINEL(type) ((type)(void *)&sentinel_byte)

/* Check that `out` still holds the sentinel after a failed call. */
#define CHECK_UNTOUCHED(out) \
    CHECK((void *)(out) == (void *)&sentinel_byte, "  ... and `" #out "` is untouched")

/* expect_code, then CHECK_UNTOUCHED(out). */
#define expect_code_untouched(call, code, substr, out)                       \
    do {                                                                     \
        tu_expect_code(__FILE__, __LINE__, #call, (call), (code), (substr)); \
        CHECK_UNTOUCHED(out);                                                \
    } while (0)

/* The message of an error for a builder that was consumed or freed. */
#define NOT_LIVE "not a live handle"

/* `text` contains `word` with no letter, digit or '_' on either side, so that "auth" is not
 * found in "out_auth". */
static bool mentions_word(const char *text, const char *word) {
    size_t len = strlen(word);
    for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
        bool starts = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool ends = !(isalnum((unsigned char)p[len]) || p[len] == '_');
        if (starts && ends) {
            return true;
        }
    }
    return false;
}

/*
 * A failure check with a computed label: `err` has `code`, its message names `arg` as a
 * word and contains `substr` (either may be NULL). Frees the error.
 */
static bool expect_error(const char *label, ably_error_info *err, int32_t code, const char *arg,
                         const char *substr) {
    if (err == NULL) {
        return CHECK(false, "%s fails with %d (it succeeded)", label, (int)code);
    }
    bool ok = err->code == code && err->message != NULL &&
              (arg == NULL || mentions_word(err->message, arg)) &&
              (substr == NULL || strstr(err->message, substr) != NULL);
    CHECK(ok, "%s fails with %d%s%s%s%s%s", label, (int)code, arg ? ", message names `" : "",
          arg ? arg : "", arg ? "`" : "", substr ? ", message mentions " : "",
          substr ? substr : "");
    if (!ok) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
    return ok;
}

/* A NULL or otherwise invalid argument: 40003, with the argument named in the message. */
#define expect_names_arg(call, arg) \
    expect_error(#call, (call), ABLY_ERR_INVALID_ARGUMENT, (arg), NULL)

/* expect_names_arg, then CHECK_UNTOUCHED(out). */
#define expect_names_arg_untouched(call, arg, out) \
    do {                                           \
        expect_names_arg(call, arg);               \
        CHECK_UNTOUCHED(out);                      \
    } while (0)

/* Write `bytes` with C escapes for non-printable bytes, for labels. */
static const char *escaped(const char *bytes, char *buf, size_t size) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)bytes; *p && n + 5 < size; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
            buf[n++] = (char)*p;
        } else {
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
        }
    }
    buf[n] = '\0';
    return buf;
}

/* ---- fixtures --------------------------------------------------------------------------- */

static ably_auth *auth_from(ably_auth_options *options) {
    ably_auth *auth = NULL;
    expect_ok(ably_auth_new(options, &auth));
    return auth;
}

static ably_auth *new_key_auth(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, KEY));
    return auth_from(options);
}

/* An Auth object with a token but no key: it cannot sign. */
static ably_auth *new_token_auth(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(options, "tok"));
    return auth_from(options);
}

static ably_token_details *new_details(const char *json) {
    ably_token_details *details = NULL;
    expect_ok(ably_token_details_from_json(json, &details));
    return details;
}

static ably_token_request *new_request(void) {
    ably_token_request *request = NULL;
    expect_ok(ably_token_request_from_json(
        "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\",\"mac\":\"m\"}", &request));
    return request;
}

/* ---- NULL for each pointer argument ----------------------------------------------------- */

static void test_null_auth_functions(const ably_auth *auth) {
    ably_auth *auth_out = SENTINEL(ably_auth *);
    expect_names_arg_untouched(ably_auth_new(NULL, &auth_out), "options", auth_out);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, KEY));
    expect_names_arg(ably_auth_new(options, NULL), "out_auth");
    expect_code(ably_auth_options_set_key(options, KEY), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);

    ably_auth_free(NULL);
    CHECK(true, "ably_auth_free(NULL) is a no-op");

    ably_token_request *request_out = SENTINEL(ably_token_request *);
    expect_names_arg_untouched(ably_auth_create_token_request(NULL, NULL, &request_out), "auth",
                               request_out);
    expect_names_arg(ably_auth_create_token_request(auth, NULL, NULL), "out_request");
    request_out = NULL;
    expect_ok(ably_auth_create_token_request(auth, NULL, &request_out));
    CHECK(request_out != NULL, "ably_auth_create_token_request: NULL params are allowed");
    ably_token_request_free(request_out);

    char *text_out = SENTINEL(char *);
    expect_names_arg_untouched(ably_auth_create_jwt(NULL, NULL, &text_out), "auth", text_out);
    expect_names_arg(ably_auth_create_jwt(auth, NULL, NULL), "out_jwt");
    text_out = NULL;
    expect_ok(ably_auth_create_jwt(auth, NULL, &text_out));
    CHECK(text_out != NULL, "ably_auth_create_jwt: NULL params are allowed");
    ably_string_free(text_out);

    text_out = SENTINEL(char *);
    expect_names_arg_untouched(ably_auth_client_id(NULL, &text_out), "auth", text_out);
    expect_names_arg(ably_auth_client_id(auth, NULL), "out_client_id");

    ably_token_details *details_out = SENTINEL(ably_token_details *);
    expect_names_arg_untouched(ably_auth_token_details(NULL, &details_out), "auth", details_out);
    expect_names_arg(ably_auth_token_details(auth, NULL), "out_token_details");

    ably_error_info_free(NULL);
    CHECK(true, "ably_error_info_free(NULL) is a no-op");
}

static void test_null_options_functions(void) {
    ably_auth_options *options = ably_auth_options_new();
    CHECK(options != NULL, "ably_auth_options_new() is not NULL");

    expect_names_arg(ably_auth_options_set_key(NULL, KEY), "options");
    expect_names_arg(ably_auth_options_set_key(options, NULL), "key");
    expect_names_arg(ably_auth_options_set_client_id(NULL, "c"), "options");
    expect_names_arg(ably_auth_options_set_client_id(options, NULL), "client_id");
    expect_names_arg(ably_auth_options_set_token(NULL, "tok"), "options");
    expect_names_arg(ably_auth_options_set_token(options, NULL), "token");

    ably_token_details *details = new_details("{\"token\":\"tok\"}");
    expect_names_arg(ably_auth_options_set_token_details(NULL, details), "options");
    expect_names_arg(ably_auth_options_set_token_details(options, NULL), "token_details");
    ably_token_details_free(details);

    expect_names_arg(ably_auth_options_set_use_token_auth(NULL, true), "options");
    expect_ok(ably_auth_options_set_use_token_auth(options, true));

    /* Params are consumed even though `options` is NULL. */
    ably_token_params *params = ably_token_params_new();
    expect_names_arg(ably_auth_options_set_default_token_params(NULL, params), "options");
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_names_arg(ably_auth_options_set_default_token_params(options, NULL), "params");

    ably_auth_options_free(NULL);
    CHECK(true, "ably_auth_options_free(NULL) is a no-op");
    ably_auth_options_free(options);
}

static void test_null_params_functions(void) {
    ably_token_params *params = ably_token_params_new();
    CHECK(params != NULL, "ably_token_params_new() is not NULL");

    expect_names_arg(ably_token_params_set_ttl(NULL, 1000), "params");
    expect_names_arg(ably_token_params_set_capability(NULL, "{\"*\":[\"*\"]}"), "params");
    expect_names_arg(ably_token_params_set_capability(params, NULL), "capability_json");
    expect_names_arg(ably_token_params_set_client_id(NULL, "c"), "params");
    expect_names_arg(ably_token_params_set_client_id(params, NULL), "client_id");
    expect_names_arg(ably_token_params_set_timestamp(NULL, TIMESTAMP), "params");
    expect_names_arg(ably_token_params_set_nonce(NULL, NONCE), "params");
    expect_names_arg(ably_token_params_set_nonce(params, NULL), "nonce");

    ably_token_params_free(NULL);
    CHECK(true, "ably_token_params_free(NULL) is a no-op");
    ably_token_params_free(params);

    ably_string_free(NULL);
    CHECK(true, "ably_string_free(NULL) is a no-op");
}

static void test_null_token_details_functions(void) {
    ably_token_details *details_out = SENTINEL(ably_token_details *);
    expect_names_arg_untouched(ably_token_details_from_json(NULL, &details_out), "json",
                               details_out);
    expect_names_arg(ably_token_details_from_json("{\"token\":\"tok\"}", NULL),
                     "out_token_details");

    ably_token_details *details = new_details("{\"token\":\"tok\"}");
    char *json_out = SENTINEL(char *);
    expect_names_arg_untouched(ably_token_details_to_json(NULL, &json_out), "token_details",
                               json_out);
    expect_names_arg(ably_token_details_to_json(details, NULL), "out_json");
    ably_token_details_free(details);

    ably_token_details_free(NULL);
    CHECK(true, "ably_token_details_free(NULL) is a no-op");
    CHECK(ably_token_details_token(NULL) == NULL, "ably_token_details_token(NULL) is NULL");
    CHECK(ably_token_details_expires(NULL) == 0, "ably_token_details_expires(NULL) is 0");
    CHECK(ably_token_details_issued(NULL) == 0, "ably_token_details_issued(NULL) is 0");
    CHECK(ably_token_details_capability(NULL) == NULL,
          "ably_token_details_capability(NULL) is NULL");
    CHECK(ably_token_details_client_id(NULL) == NULL,
          "ably_token_details_client_id(NULL) is NULL");
    CHECK(ably_token_details_is_expired(NULL, 0, 0) == true,
          "ably_token_details_is_expired(NULL, 0, 0) is true");
}

static void test_null_token_request_functions(void) {
    ably_token_request *request_out = SENTINEL(ably_token_request *);
    expect_names_arg_untouched(ably_token_request_from_json(NULL, &request_out), "json",
                               request_out);
    expect_names_arg(ably_token_request_from_json(
                         "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\"}", NULL),
                     "out_request");

    ably_token_request *request = new_request();
    char *json_out = SENTINEL(char *);
    expect_names_arg_untouched(ably_token_request_to_json(NULL, &json_out), "request", json_out);
    expect_names_arg(ably_token_request_to_json(request, NULL), "out_json");
    ably_token_request_free(request);

    ably_token_request_free(NULL);
    CHECK(true, "ably_token_request_free(NULL) is a no-op");
    CHECK(ably_token_request_key_name(NULL) == NULL, "ably_token_request_key_name(NULL) is NULL");
    CHECK(ably_token_request_ttl(NULL) == 0, "ably_token_request_ttl(NULL) is 0");
    CHECK(ably_token_request_capability(NULL) == NULL,
          "ably_token_request_capability(NULL) is NULL");
    CHECK(ably_token_request_client_id(NULL) == NULL,
          "ably_token_request_client_id(NULL) is NULL");
    CHECK(ably_token_request_timestamp(NULL) == 0, "ably_token_request_timestamp(NULL) is 0");
    CHECK(ably_token_request_nonce(NULL) == NULL, "ably_token_request_nonce(NULL) is NULL");
    CHECK(ably_token_request_mac(NULL) == NULL, "ably_token_request_mac(NULL) is NULL");
}

static void test_version(void) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", ABLY_AUTH_VERSION_MAJOR,
             ABLY_AUTH_VERSION_MINOR, ABLY_AUTH_VERSION_PATCH);
    const char *version = ably_auth_version();
    CHECK(version != NULL && strncmp(version, expected, strlen(expected)) == 0,
          "ably_auth_version() is \"%s\", as the header's macros say (%s)", str_or_null(version),
          expected);
    CHECK(ably_auth_version() == version, "ably_auth_version() is a static string");
    CHECK(ably_auth_version_number() == ABLY_AUTH_VERSION_NUMBER &&
              ABLY_AUTH_VERSION_NUMBER == ((ABLY_AUTH_VERSION_MAJOR << 16) |
                                           (ABLY_AUTH_VERSION_MINOR << 8) |
                                           ABLY_AUTH_VERSION_PATCH),
          "ably_auth_version_number() is ABLY_AUTH_VERSION_NUMBER (0x%06x)",
          (unsigned)ably_auth_version_number());
}

/* ---- invalid UTF-8 ---------------------------------------------------------------------- */

static void test_invalid_utf8(void) {
    /* Each is rejected by a strict UTF-8 decoder: a lone 0xff 0xfe, a stray continuation
     * byte, an overlong '/', a UTF-16 surrogate and a code point above U+10FFFF. */
    static const char *const bad[] = {"\xff\xfe", "abc\x80", "\xc0\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80"};
    ably_auth_options *options = ably_auth_options_new();
    ably_token_params *params = ably_token_params_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[64], esc[64], label[160];
        const char *e = escaped(bad[i], esc, sizeof esc);

        snprintf(text, sizeof text, "appId.keyId:sec%sret", bad[i]);
        snprintf(label, sizeof label, "ably_auth_options_set_key(\"appId.keyId:sec%sret\")", e);
        expect_error(label, ably_auth_options_set_key(options, text), ABLY_ERR_INVALID_ARGUMENT,
                     "key", "UTF-8");

        snprintf(label, sizeof label, "ably_auth_options_set_client_id(\"%s\")", e);
        expect_error(label, ably_auth_options_set_client_id(options, bad[i]),
                     ABLY_ERR_INVALID_ARGUMENT, "client_id", "UTF-8");

        snprintf(label, sizeof label, "ably_auth_options_set_token(\"%s\")", e);
        expect_error(label, ably_auth_options_set_token(options, bad[i]),
                     ABLY_ERR_INVALID_ARGUMENT, "token", "UTF-8");

        snprintf(text, sizeof text, "{\"ch%s\":[\"*\"]}", bad[i]);
        snprintf(label, sizeof label, "ably_token_params_set_capability(\"{\\\"ch%s\\\":...}\")",
                 e);
        expect_error(label, ably_token_params_set_capability(params, text),
                     ABLY_ERR_INVALID_ARGUMENT, "capability_json", "UTF-8");

        snprintf(label, sizeof label, "ably_token_params_set_client_id(\"%s\")", e);
        expect_error(label, ably_token_params_set_client_id(params, bad[i]),
                     ABLY_ERR_INVALID_ARGUMENT, "client_id", "UTF-8");

        snprintf(label, sizeof label, "ably_token_params_set_nonce(\"%s\")", e);
        expect_error(label, ably_token_params_set_nonce(params, bad[i]),
                     ABLY_ERR_INVALID_ARGUMENT, "nonce", "UTF-8");

        snprintf(text, sizeof text, "{\"token\":\"%s\"}", bad[i]);
        snprintf(label, sizeof label, "ably_token_details_from_json({\"token\":\"%s\"})", e);
        ably_token_details *details = SENTINEL(ably_token_details *);
        expect_error(label, ably_token_details_from_json(text, &details),
                     ABLY_ERR_INVALID_ARGUMENT, "json", "UTF-8");
        CHECK_UNTOUCHED(details);

        snprintf(text, sizeof text, "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"%s\"}",
                 bad[i]);
        snprintf(label, sizeof label, "ably_token_request_from_json({...\"nonce\":\"%s\"})", e);
        ably_token_request *request = SENTINEL(ably_token_request *);
        expect_error(label, ably_token_request_from_json(text, &request),
                     ABLY_ERR_INVALID_ARGUMENT, "json", "UTF-8");
        CHECK_UNTOUCHED(request);
    }
    ably_token_params_free(params);
    ably_auth_options_free(options);
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void test_numbers(const ably_auth *auth) {
    ably_token_params *params = ably_token_params_new();
    expect_names_arg(ably_token_params_set_ttl(params, -1), "ttl_ms");
    expect_names_arg(ably_token_params_set_ttl(params, 0), "ttl_ms");
    expect_names_arg(ably_token_params_set_ttl(params, INT64_MIN), "ttl_ms");
    expect_names_arg(ably_token_params_set_timestamp(params, -1), "timestamp_ms");
    expect_names_arg(ably_token_params_set_timestamp(params, INT64_MIN), "timestamp_ms");

    /* A failed setter leaves the params unchanged; 0 is a valid timestamp. */
    expect_ok(ably_token_params_set_ttl(params, 60000));
    expect_names_arg(ably_token_params_set_ttl(params, -5), "ttl_ms");
    expect_ok(ably_token_params_set_timestamp(params, 0));
    ably_token_request *request = NULL;
    if (expect_ok(ably_auth_create_token_request(auth, params, &request))) {
        CHECK(ably_token_request_ttl(request) == 60000,
              "the ttl set before the failed setter is kept");
        CHECK(ably_token_request_timestamp(request) == 0, "timestamp 0 is accepted");
        ably_token_request_free(request);
    }

    /* The largest values are accepted and read back. */
    params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, INT64_MAX));
    expect_ok(ably_token_params_set_timestamp(params, INT64_MAX));
    request = NULL;
    if (expect_ok(ably_auth_create_token_request(auth, params, &request))) {
        CHECK(ably_token_request_ttl(request) == INT64_MAX &&
                  ably_token_request_timestamp(request) == INT64_MAX,
              "ttl and timestamp INT64_MAX are read back unchanged");
        ably_token_request_free(request);
    }

    ably_token_details *details = new_details("{\"token\":\"tok\",\"expires\":1000}");
    CHECK(ably_token_details_is_expired(details, -1, 0),
          "ably_token_details_is_expired with a negative now is true");
    CHECK(ably_token_details_is_expired(details, 0, -1),
          "ably_token_details_is_expired with a negative margin is true");
    CHECK(!ably_token_details_is_expired(details, 0, 0), "... and false for 0, 0");
    ably_token_details_free(details);
}

/* ---- keys, clientIds, capabilities, nonces, tokens -------------------------------------- */

static void test_malformed_keys(void) {
    /* The secret "hunter2" must never be quoted in a message. */
    static const char *const bad[] = {
        "",              "no-colon",      "noDot:hunter2",        ".myKey:hunter2",
        "myApp.:hunter2", "myApp.myKey:", "my App.myKey:hunter2", "myApp.myKey:hunter2 ",
    };
    ably_auth_options *options = ably_auth_options_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ably_error_info *err = ably_auth_options_set_key(options, bad[i]);
        bool ok = err != NULL && err->code == ABLY_ERR_INVALID_CREDENTIALS &&
                  err->status_code == 401 && err->message != NULL &&
                  strstr(err->message, "hunter2") == NULL &&
                  (bad[i][0] == '\0' || strstr(err->message, bad[i]) == NULL);
        CHECK(ok, "ably_auth_options_set_key(\"%s\") fails with 40101/401 without quoting the key",
              bad[i]);
        if (err != NULL && !ok) {
            tu_print_error(err);
        }
        ably_error_info_free(err);
    }

    /* A failed setter leaves the options unchanged: the first key still signs. */
    expect_ok(ably_auth_options_set_key(options, KEY));
    expect_code(ably_auth_options_set_key(options, "bad"), ABLY_ERR_INVALID_CREDENTIALS, NULL);
    expect_code(ably_auth_options_set_client_id(options, "*"), ABLY_ERR_INVALID_CLIENT_ID, NULL);
    ably_auth *auth = auth_from(options);
    if (auth != NULL) {
        ably_token_params *params = ably_token_params_new();
        expect_ok(ably_token_params_set_timestamp(params, TIMESTAMP));
        expect_ok(ably_token_params_set_nonce(params, NONCE));
        ably_token_request *request = NULL;
        if (expect_ok(ably_auth_create_token_request(auth, params, &request))) {
            CHECK(str_eq(ably_token_request_mac(request), MAC_MINIMAL) &&
                      ably_token_request_client_id(request) == NULL,
                  "failed setters left the key and clientId unchanged (minimal vector mac)");
            ably_token_request_free(request);
        }
        ably_auth_free(auth);
    }
}

static void test_client_ids(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_code(ably_auth_options_set_client_id(options, "*"), ABLY_ERR_INVALID_CLIENT_ID, "*");
    expect_code(ably_auth_options_set_client_id(options, ""), ABLY_ERR_INVALID_CLIENT_ID, "empty");
    expect_code(ably_auth_options_set_client_id(options, "a\nb"), ABLY_ERR_INVALID_CLIENT_ID,
                "line feed");
    expect_ok(ably_auth_options_set_client_id(options, "bob"));
    ably_auth_options_free(options);

    ably_token_params *params = ably_token_params_new();
    expect_code(ably_token_params_set_client_id(params, ""), ABLY_ERR_INVALID_CLIENT_ID, "empty");
    expect_code(ably_token_params_set_client_id(params, "a\nb"), ABLY_ERR_INVALID_CLIENT_ID,
                "line feed");
    expect_ok(ably_token_params_set_client_id(params, "*"));
    ably_token_params_free(params);
}

static void test_capabilities(void) {
    static const char *const bad[] = {
        "{\"a\":[\"Jump\"]}",                  /* not an operation name (upper case) */
        "{\"a\":[\"pub lish\"]}",              /* not an operation name (space) */
        "{\"a\":[]}",                          /* empty operation list */
        "{\"a\":[\"*\",\"publish\"]}",         /* "*" mixed with other operations */
        "not json",                            /* not JSON */
        "",                                    /* empty text */
        "{}",                                  /* no resource */
        "[]",                                  /* not an object */
        "null",                                /* not an object */
        "{\"a\":\"publish\"}",                 /* operations not a list */
        "{\"a\":[1]}",                         /* operation not a string */
        "{\"\":[\"*\"]}",                      /* empty resource name */
        "{\"a\":[\"*\"],\"a\":[\"publish\"]}", /* duplicate resource */
        "{\"a\":[\"*\"]} trailing",            /* trailing text */
    };
    ably_token_params *params = ably_token_params_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char label[128];
        snprintf(label, sizeof label, "ably_token_params_set_capability(%s)", bad[i]);
        expect_error(label, ably_token_params_set_capability(params, bad[i]),
                     ABLY_ERR_INVALID_ARGUMENT, "capability", NULL);
    }
    expect_ok(ably_token_params_set_capability(params, "{\"a\":[\"*\"]}"));
    /* Operations are checked by shape, not against a list (issue 11): the ones Ably added
     * after the first list, and a made-up future one, are accepted and signed. */
    static const char *const granted[] = {
        "message-subscribe", "presence-subscribe", "channel-metadata:publishers",
        "list-channels",     "connection-metadata", "future-operation",
    };
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "app.key:secret"));
    ably_auth *auth = NULL;
    expect_ok(ably_auth_new(options, &auth));
    for (size_t i = 0; auth != NULL && i < sizeof granted / sizeof granted[0]; i++) {
        char capability[128];
        snprintf(capability, sizeof capability, "{\"chat\":[\"%s\"]}", granted[i]);
        ably_token_params *each = ably_token_params_new();
        ably_token_request *request = NULL;
        char label[192];
        snprintf(label, sizeof label, "a TokenRequest granting %s", granted[i]);
        if (tu_expect_ok(__FILE__, __LINE__, label,
                         ably_token_params_set_capability(each, capability)) &&
            tu_expect_ok(__FILE__, __LINE__, label,
                         ably_auth_create_token_request(auth, each, &request))) {
            CHECK(str_eq(ably_token_request_capability(request), capability),
                  "  ... signs the capability as given (%s)", capability);
            ably_token_request_free(request);
        } else {
            ably_token_params_free(each);
        }
    }
    ably_auth_free(auth);
    ably_token_params_free(params);
}

static void test_nonces_and_tokens(void) {
    ably_token_params *params = ably_token_params_new();
    expect_names_arg(ably_token_params_set_nonce(params, ""), "nonce");
    expect_names_arg(ably_token_params_set_nonce(params, "a\nb"), "nonce");
    ably_token_params_free(params);

    ably_auth_options *options = ably_auth_options_new();
    expect_names_arg(ably_auth_options_set_token(options, ""), "token");
    ably_auth_options_free(options);
}

static void test_malformed_json(void) {
    static const char *const bad_details[] = {
        "not json", "", "[]", "{}", "{\"token\":\"\"}", "{\"token\":1}",
        "{\"token\":\"t\",\"expires\":-1}", "{\"token\":\"t\",\"expires\":\"soon\"}",
        "{\"token\":\"t\"",
    };
    for (size_t i = 0; i < sizeof bad_details / sizeof bad_details[0]; i++) {
        char label[128];
        ably_token_details *out = SENTINEL(ably_token_details *);
        snprintf(label, sizeof label, "ably_token_details_from_json(%s)", bad_details[i]);
        expect_error(label, ably_token_details_from_json(bad_details[i], &out),
                     ABLY_ERR_INVALID_ARGUMENT, NULL, NULL);
        CHECK_UNTOUCHED(out);
    }

    static const char *const bad_requests[] = {
        "not json",
        "{\"timestamp\":1,\"nonce\":\"n\"}",                         /* no keyName */
        "{\"keyName\":\"a.b\",\"nonce\":\"n\"}",                     /* no timestamp */
        "{\"keyName\":\"a.b\",\"timestamp\":1}",                     /* no nonce */
        "{\"keyName\":\"a.b\",\"timestamp\":-1,\"nonce\":\"n\"}",    /* negative */
        "{\"keyName\":\"a.b\",\"timestamp\":\"12x\",\"nonce\":\"n\"}", /* not digits */
        "{\"keyName\":\"a.b\",\"timestamp\":1.5,\"nonce\":\"n\"}",   /* fractional */
        "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\",\"ttl\":-5}",
    };
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        char label[160];
        ably_token_request *out = SENTINEL(ably_token_request *);
        snprintf(label, sizeof label, "ably_token_request_from_json(%s)", bad_requests[i]);
        expect_error(label, ably_token_request_from_json(bad_requests[i], &out),
                     ABLY_ERR_INVALID_ARGUMENT, NULL, NULL);
        CHECK_UNTOUCHED(out);
    }
}

/* ---- consumed builders and double frees ------------------------------------------------- */

static void test_consumed_builders(const ably_auth *auth) {
    /* Options consumed by a successful ably_auth_new. */
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, KEY));
    ably_auth *second = auth_from(options);
    ably_auth *auth_out = SENTINEL(ably_auth *);
    expect_code(ably_auth_options_set_key(options, KEY), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_options_set_use_token_auth(options, false), ABLY_ERR_INVALID_ARGUMENT,
                NOT_LIVE);
    expect_code_untouched(ably_auth_new(options, &auth_out), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE,
                          auth_out);
    ably_auth_options_free(options);
    CHECK(true, "ably_auth_options_free on consumed options is a no-op");
    ably_auth_free(second);

    /* Params consumed by a successful ably_auth_create_token_request. */
    ably_token_params *params = ably_token_params_new();
    ably_token_request *request = NULL;
    expect_ok(ably_auth_create_token_request(auth, params, &request));
    ably_token_request_free(request);
    ably_token_request *request_out = SENTINEL(ably_token_request *);
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code_untouched(ably_auth_create_token_request(auth, params, &request_out),
                          ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE, request_out);
    ably_token_params_free(params);
    CHECK(true, "ably_token_params_free on consumed params is a no-op");

    /* Params consumed by a successful ably_auth_create_jwt. */
    params = ably_token_params_new();
    char *jwt = NULL;
    expect_ok(ably_auth_create_jwt(auth, params, &jwt));
    ably_string_free(jwt);
    char *jwt_out = SENTINEL(char *);
    expect_code(ably_token_params_set_nonce(params, NONCE), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code_untouched(ably_auth_create_jwt(auth, params, &jwt_out), ABLY_ERR_INVALID_ARGUMENT,
                          NOT_LIVE, jwt_out);

    /* Params consumed by ably_auth_options_set_default_token_params. */
    options = ably_auth_options_new();
    params = ably_token_params_new();
    expect_ok(ably_auth_options_set_default_token_params(options, params));
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_options_set_default_token_params(options, params),
                ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    ably_auth_options_free(options);
}

static void test_double_free(void) {
    ably_auth_options *options = ably_auth_options_new();
    ably_auth_options_free(options);
    ably_auth_options_free(options);
    CHECK(true, "ably_auth_options_free twice does not crash");
    expect_code(ably_auth_options_set_key(options, KEY), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);

    ably_token_params *params = ably_token_params_new();
    ably_token_params_free(params);
    ably_token_params_free(params);
    CHECK(true, "ably_token_params_free twice does not crash");
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
}

/* ---- what ably_auth_new rejects --------------------------------------------------------- */

static void test_auth_new_rejections(void) {
    ably_auth *out = SENTINEL(ably_auth *);
    expect_code_untouched(ably_auth_new(ably_auth_options_new(), &out), ABLY_ERR_NO_AUTH_METHOD,
                          NULL, out);

    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_client_id(options, "bob"));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    expect_code_untouched(ably_auth_new(options, &out), ABLY_ERR_NO_AUTH_METHOD, NULL, out);

    /* RSA15a: the token's clientId conflicts with the options' clientId. */
    ably_token_details *details =
        new_details("{\"token\":\"tok\",\"expires\":1234567890000,\"clientId\":\"c\"}");
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token_details(options, details));
    expect_ok(ably_auth_options_set_client_id(options, "other"));
    expect_code_untouched(ably_auth_new(options, &out), ABLY_ERR_INCOMPATIBLE_CREDENTIALS, NULL,
                          out);

    /* The same clientId, or a wildcard token, is compatible. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token_details(options, details));
    expect_ok(ably_auth_options_set_client_id(options, "c"));
    ably_auth *auth = auth_from(options);
    CHECK(auth != NULL, "a token for the options' own clientId is accepted");
    ably_auth_free(auth);
    ably_token_details_free(details);
    details = new_details("{\"token\":\"tok\",\"clientId\":\"*\"}");
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token_details(options, details));
    expect_ok(ably_auth_options_set_client_id(options, "other"));
    auth = auth_from(options);
    CHECK(auth != NULL, "a wildcard token is compatible with any options clientId");
    ably_auth_free(auth);
    ably_token_details_free(details);

    /* Default token params must not set a timestamp or nonce. */
    ably_token_params *defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_timestamp(defaults, TIMESTAMP));
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, KEY));
    expect_ok(ably_auth_options_set_default_token_params(options, defaults));
    expect_code_untouched(ably_auth_new(options, &out), ABLY_ERR_INVALID_ARGUMENT, "timestamp",
                          out);

    defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_nonce(defaults, NONCE));
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, KEY));
    expect_ok(ably_auth_options_set_default_token_params(options, defaults));
    expect_code_untouched(ably_auth_new(options, &out), ABLY_ERR_INVALID_ARGUMENT, "nonce", out);
}

static void test_signing_without_key(void) {
    ably_auth *auth = new_token_auth();
    if (auth == NULL) {
        return;
    }
    ably_token_request *request = SENTINEL(ably_token_request *);
    ably_error_info *err = ably_auth_create_token_request(auth, NULL, &request);
    CHECK(err != NULL && err->code == ABLY_ERR_INVALID_CREDENTIALS && err->status_code == 403,
          "create_token_request without a key fails with 40101/403");
    CHECK_UNTOUCHED(request);
    ably_error_info_free(err);

    char *jwt = SENTINEL(char *);
    err = ably_auth_create_jwt(auth, ably_token_params_new(), &jwt);
    CHECK(err != NULL && err->code == ABLY_ERR_INVALID_CREDENTIALS && err->status_code == 403,
          "create_jwt without a key fails with 40101/403");
    CHECK_UNTOUCHED(jwt);
    ably_error_info_free(err);
    ably_auth_free(auth);
}

/* ---- large inputs ----------------------------------------------------------------------- */

static void test_long_client_id(const ably_auth *auth) {
    size_t len = 64 * 1024;
    char *long_id = malloc(len + 1);
    if (!CHECK(long_id != NULL, "allocate a 64 KiB clientId")) {
        return;
    }
    memset(long_id, 'x', len);
    long_id[len] = '\0';
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_client_id(params, long_id));
    ably_token_request *request = NULL;
    if (expect_ok(ably_auth_create_token_request(auth, params, &request))) {
        CHECK(str_eq(ably_token_request_client_id(request), long_id),
              "a 64 KiB clientId is kept whole");
        ably_token_request_free(request);
    }
    free(long_id);
}

/* ---- the networked API: NULL, invalid UTF-8, bad values and consumed handles --------------
 * None of these reaches the network: every argument is checked first. */

#define BAD_UTF8 "abc\xff"

static int user_data_frees;
static void count_user_data_free(void *user_data) {
    (void)user_data;
    user_data_frees++;
}

static void unused_auth_callback(void *user_data, const char *params_json,
                                 ably_auth_completion *completion) {
    (void)user_data;
    (void)params_json;
    ably_error_info_free(ably_auth_completion_answer_error(completion, 0, 401, "unused"));
}

static void unused_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
}

static void unused_listener(void *user_data, const ably_token_details *details,
                            const ably_error_info *error) {
    (void)user_data;
    (void)details;
    (void)error;
}

/* The registration `call` fails naming `arg`, and free_user_data ran exactly once. */
#define expect_names_arg_frees(call, arg)                                                \
    do {                                                                                 \
        user_data_frees = 0;                                                             \
        expect_names_arg(call, arg);                                                     \
        CHECK(user_data_frees == 1, "  ... and free_user_data ran once (%d)",            \
              user_data_frees);                                                          \
    } while (0)

static void test_null_networked_options(void) {
    ably_auth_options *o = ably_auth_options_new();
    expect_names_arg(ably_auth_options_set_auth_url(NULL, "https://a.example/t"), "options");
    expect_names_arg(ably_auth_options_set_auth_url(o, NULL), "url");
    expect_names_arg(ably_auth_options_set_auth_url(o, BAD_UTF8), "url");
    expect_names_arg(ably_auth_options_set_auth_url(o, ""), "url");
    expect_names_arg(ably_auth_options_set_auth_method(NULL, "GET"), "options");
    expect_names_arg(ably_auth_options_set_auth_method(o, NULL), "method");
    expect_names_arg(ably_auth_options_set_auth_method(o, BAD_UTF8), "method");
    expect_names_arg(ably_auth_options_set_auth_method(o, "PUT"), "method");
    expect_ok(ably_auth_options_set_auth_method(o, "post"));
    expect_names_arg(ably_auth_options_add_auth_header(NULL, "n", "v"), "options");
    expect_names_arg(ably_auth_options_add_auth_header(o, NULL, "v"), "name");
    expect_names_arg(ably_auth_options_add_auth_header(o, "n", NULL), "value");
    expect_names_arg(ably_auth_options_add_auth_header(o, BAD_UTF8, "v"), "name");
    expect_names_arg(ably_auth_options_add_auth_header(o, "n", BAD_UTF8), "value");
    expect_names_arg(ably_auth_options_add_auth_header(o, "n", "v\r\nX: y"), "value");
    expect_names_arg(ably_auth_options_add_auth_param(NULL, "n", "v"), "options");
    expect_names_arg(ably_auth_options_add_auth_param(o, NULL, "v"), "name");
    expect_names_arg(ably_auth_options_add_auth_param(o, "n", NULL), "value");
    expect_names_arg(ably_auth_options_add_auth_param(o, BAD_UTF8, "v"), "name");
    expect_names_arg(ably_auth_options_add_auth_param(o, "n", BAD_UTF8), "value");
    expect_names_arg_frees(ably_auth_options_set_auth_callback(NULL, unused_auth_callback, NULL,
                                                               count_user_data_free),
                           "options");
    expect_names_arg_frees(ably_auth_options_set_auth_callback(o, NULL, NULL,
                                                               count_user_data_free),
                           "callback");
    expect_names_arg(ably_auth_options_set_query_time(NULL, true), "options");
    expect_names_arg(ably_auth_options_set_endpoint(NULL, "e"), "options");
    expect_names_arg(ably_auth_options_set_endpoint(o, NULL), "endpoint");
    expect_names_arg(ably_auth_options_set_endpoint(o, BAD_UTF8), "endpoint");
    expect_names_arg(ably_auth_options_set_environment(NULL, "e"), "options");
    expect_names_arg(ably_auth_options_set_environment(o, NULL), "environment");
    expect_names_arg(ably_auth_options_set_environment(o, BAD_UTF8), "environment");
    expect_names_arg(ably_auth_options_set_rest_host(NULL, "h"), "options");
    expect_names_arg(ably_auth_options_set_rest_host(o, NULL), "rest_host");
    expect_names_arg(ably_auth_options_set_rest_host(o, BAD_UTF8), "rest_host");
    const char *hosts[] = {"a.example", NULL};
    const char *bad_hosts[] = {BAD_UTF8};
    expect_names_arg(ably_auth_options_set_fallback_hosts(NULL, hosts, 1), "options");
    expect_names_arg(ably_auth_options_set_fallback_hosts(o, NULL, 1), "hosts");
    expect_names_arg(ably_auth_options_set_fallback_hosts(o, hosts, 2), "hosts[1]");
    expect_names_arg(ably_auth_options_set_fallback_hosts(o, bad_hosts, 1), "hosts[0]");
    expect_ok(ably_auth_options_set_fallback_hosts(o, NULL, 0));
    expect_names_arg(ably_auth_options_set_tls(NULL, true), "options");
    expect_names_arg(ably_auth_options_set_port(NULL, 80), "options");
    expect_names_arg(ably_auth_options_set_port(o, 0), "port");
    expect_names_arg(ably_auth_options_set_port(o, 65536), "port");
    expect_names_arg(ably_auth_options_set_tls_port(NULL, 443), "options");
    expect_names_arg(ably_auth_options_set_tls_port(o, -1), "tls_port");
    expect_names_arg(ably_auth_options_set_timeouts(NULL, 1, 1), "options");
    expect_names_arg(ably_auth_options_set_timeouts(o, 0, 1), "open_ms");
    expect_names_arg(ably_auth_options_set_timeouts(o, 1, -1), "request_ms");
    expect_names_arg(ably_auth_options_add_ca_pem(NULL, "pem"), "options");
    expect_names_arg(ably_auth_options_add_ca_pem(o, NULL), "pem");
    expect_names_arg(ably_auth_options_add_ca_pem(o, BAD_UTF8), "pem");
    expect_names_arg(ably_auth_options_add_resolve(NULL, "h", "127.0.0.1:1"), "options");
    expect_names_arg(ably_auth_options_add_resolve(o, NULL, "127.0.0.1:1"), "host");
    expect_names_arg(ably_auth_options_add_resolve(o, "h", NULL), "addr");
    expect_names_arg(ably_auth_options_add_resolve(o, BAD_UTF8, "127.0.0.1:1"), "host");
    expect_names_arg(ably_auth_options_add_resolve(o, "h", BAD_UTF8), "addr");
    expect_names_arg(ably_auth_options_add_resolve(o, "h", "localhost"), "addr");
    expect_names_arg(ably_auth_options_set_token_expiry_margin(NULL, 0), "options");
    expect_names_arg(ably_auth_options_set_token_expiry_margin(o, -1), "margin_ms");
    expect_names_arg(ably_auth_options_set_fallback_retry_timeout(NULL, 0), "options");
    expect_names_arg(ably_auth_options_set_fallback_retry_timeout(o, -1), "timeout_ms");
    expect_names_arg(ably_auth_options_set_max_retry_count(NULL, 0), "options");
    expect_names_arg(ably_auth_options_set_max_retry_count(o, -1), "count");
    expect_names_arg(ably_auth_options_set_max_retry_duration(NULL, 0), "options");
    expect_names_arg(ably_auth_options_set_max_retry_duration(o, -1), "duration_ms");
    expect_names_arg(ably_auth_options_add_agent(NULL, "app/1"), "options");
    expect_names_arg(ably_auth_options_add_agent(o, NULL), "agent");
    expect_names_arg(ably_auth_options_add_agent(o, BAD_UTF8), "agent");
    expect_names_arg(ably_auth_options_add_agent(o, "my app/1"), "agent");
    expect_names_arg(ably_auth_options_set_add_request_ids(NULL, true), "options");
    expect_names_arg_frees(ably_auth_options_set_log(NULL, unused_log, 3, NULL,
                                                     count_user_data_free),
                           "options");
    expect_names_arg_frees(ably_auth_options_set_log(o, NULL, 3, NULL, count_user_data_free),
                           "callback");
    expect_names_arg_frees(ably_auth_options_set_log(o, unused_log, 0, NULL,
                                                     count_user_data_free),
                           "level");
    expect_names_arg_frees(ably_auth_options_set_log(o, unused_log, 6, NULL,
                                                     count_user_data_free),
                           "level");
    /* Callbacks set on options freed unused are freed with them. */
    user_data_frees = 0;
    expect_ok(ably_auth_options_set_log(o, unused_log, 3, NULL, count_user_data_free));
    expect_ok(ably_auth_options_set_auth_callback(o, unused_auth_callback, NULL,
                                                  count_user_data_free));
    ably_auth_options_free(o);
    CHECK(user_data_frees == 2, "options freed unused: each free_user_data ran once (%d)",
          user_data_frees);

    /* Every setter refuses consumed options. */
    o = ably_auth_options_new();
    ably_auth_options_free(o);
    expect_code(ably_auth_options_set_auth_url(o, "https://a.example/t"),
                ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_options_set_tls(o, true), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_options_set_timeouts(o, 1, 1), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    user_data_frees = 0;
    expect_code(ably_auth_options_set_auth_callback(o, unused_auth_callback, NULL,
                                                    count_user_data_free),
                ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    CHECK(user_data_frees == 1, "  ... and free_user_data ran once");
}

static void test_null_networked_auth(const ably_auth *auth) {
    /* requestToken and authorize consume params and options, also on error. */
    ably_token_details *details = SENTINEL(ably_token_details *);
    ably_token_params *params = ably_token_params_new();
    ably_auth_options *options = ably_auth_options_new();
    expect_names_arg_untouched(ably_auth_request_token(NULL, params, options, &details), "auth",
                               details);
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_options_set_tls(options, true), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code_untouched(ably_auth_request_token(auth, params, NULL, &details),
                          ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE, details);
    expect_code_untouched(ably_auth_request_token(auth, NULL, options, &details),
                          ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE, details);
    expect_names_arg(ably_auth_request_token(auth, NULL, NULL, NULL), "out_token_details");
    params = ably_token_params_new();
    options = ably_auth_options_new();
    expect_names_arg_untouched(ably_auth_authorize(NULL, params, options, &details), "auth",
                               details);
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_options_set_tls(options, true), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code_untouched(ably_auth_authorize(auth, params, NULL, &details),
                          ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE, details);
    expect_code_untouched(ably_auth_authorize(auth, NULL, options, &details),
                          ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE, details);
    expect_names_arg(ably_auth_authorize(auth, NULL, NULL, NULL), "out_token_details");

    char *text = SENTINEL(char *);
    expect_names_arg_untouched(ably_auth_authorization_header(NULL, &text), "auth", text);
    expect_names_arg(ably_auth_authorization_header(auth, NULL), "out_header");

    expect_names_arg(ably_auth_token_rejected(NULL, "tok"), "auth");
    expect_names_arg(ably_auth_token_rejected(auth, BAD_UTF8), "token");
    expect_ok(ably_auth_token_rejected(auth, NULL));

    int64_t ms = 42;
    expect_names_arg(ably_auth_time(NULL, &ms), "auth");
    CHECK(ms == 42, "  ... and `ms` is untouched");
    expect_names_arg(ably_auth_time(auth, NULL), "out_ms");

    ably_http_response *response = SENTINEL(ably_http_response *);
    const char *names[] = {"X-A", NULL};
    const char *values[] = {"1", "v\r\nX-B: 2"};
    const char *bad_names[] = {BAD_UTF8};
    expect_names_arg_untouched(
        ably_auth_request(NULL, "GET", "/x", NULL, NULL, NULL, 0, NULL, 0, &response), "auth",
        response);
    expect_names_arg_untouched(
        ably_auth_request(auth, NULL, "/x", NULL, NULL, NULL, 0, NULL, 0, &response), "method",
        response);
    expect_names_arg(ably_auth_request(auth, BAD_UTF8, "/x", NULL, NULL, NULL, 0, NULL, 0,
                                       &response),
                     "method");
    expect_names_arg(
        ably_auth_request(auth, "FETCH", "/x", NULL, NULL, NULL, 0, NULL, 0, &response),
        "method");
    expect_names_arg(
        ably_auth_request(auth, "GET", NULL, NULL, NULL, NULL, 0, NULL, 0, &response), "path");
    expect_names_arg(
        ably_auth_request(auth, "GET", BAD_UTF8, NULL, NULL, NULL, 0, NULL, 0, &response),
        "path");
    expect_code(ably_auth_request(auth, "GET", "x", NULL, NULL, NULL, 0, NULL, 0, &response),
                ABLY_ERR_INVALID_ARGUMENT, "path");
    expect_names_arg(
        ably_auth_request(auth, "GET", "/x", BAD_UTF8, NULL, NULL, 0, NULL, 0, &response),
        "query");
    expect_names_arg(
        ably_auth_request(auth, "GET", "/x", NULL, NULL, values, 1, NULL, 0, &response),
        "header_names");
    expect_names_arg(
        ably_auth_request(auth, "GET", "/x", NULL, names, NULL, 1, NULL, 0, &response),
        "header_values");
    expect_names_arg(
        ably_auth_request(auth, "GET", "/x", NULL, names, values, 2, NULL, 0, &response),
        "header_names[1]");
    expect_names_arg(
        ably_auth_request(auth, "GET", "/x", NULL, bad_names, values, 1, NULL, 0, &response),
        "header_names[0]");
    const char *ok_names[] = {"X-A", "X-B"};
    expect_names_arg(
        ably_auth_request(auth, "GET", "/x", NULL, ok_names, values, 2, NULL, 0, &response),
        "header_values");
    expect_names_arg(
        ably_auth_request(auth, "POST", "/x", NULL, NULL, NULL, 0, NULL, 5, &response), "body");
    expect_names_arg(ably_auth_request(auth, "GET", "/x", NULL, NULL, NULL, 0, NULL, 0, NULL),
                     "out_response");
    CHECK_UNTOUCHED(response);

    size_t len = 7;
    CHECK(ably_http_response_status(NULL) == 0, "ably_http_response_status(NULL) is 0");
    CHECK(ably_http_response_body(NULL, &len) == NULL && len == 0,
          "ably_http_response_body(NULL, &len) is NULL with len 0");
    CHECK(ably_http_response_body(NULL, NULL) == NULL, "ably_http_response_body(NULL, NULL)");
    CHECK(ably_http_response_header(NULL, "x") == NULL,
          "ably_http_response_header(NULL, ...) is NULL");
    ably_http_response_free(NULL);
    CHECK(true, "ably_http_response_free(NULL) is a no-op");

    ably_revocation_result *result = SENTINEL(ably_revocation_result *);
    const char *targets[] = {"clientId:a", NULL};
    const char *bad_targets[] = {BAD_UTF8};
    expect_names_arg_untouched(ably_auth_revoke_tokens(NULL, targets, 1, -1, -1, &result),
                               "auth", result);
    expect_names_arg(ably_auth_revoke_tokens(auth, NULL, 1, -1, -1, &result), "targets");
    expect_names_arg(ably_auth_revoke_tokens(auth, targets, 2, -1, -1, &result), "targets[1]");
    expect_names_arg(ably_auth_revoke_tokens(auth, bad_targets, 1, -1, -1, &result),
                     "targets[0]");
    expect_names_arg(ably_auth_revoke_tokens(auth, targets, 1, -1, 2, &result),
                     "allow_reauth_margin");
    expect_names_arg(ably_auth_revoke_tokens(auth, targets, 1, -1, -1, NULL), "out_result");
    expect_code(ably_auth_revoke_tokens(auth, NULL, 0, -1, -1, &result),
                ABLY_ERR_INVALID_ARGUMENT, "target");
    CHECK_UNTOUCHED(result);
    CHECK(ably_revocation_result_success_count(NULL) == 0 &&
              ably_revocation_result_failure_count(NULL) == 0 &&
              ably_revocation_result_len(NULL) == 0,
          "ably_revocation_result counts of NULL are 0");
    CHECK(ably_revocation_result_target(NULL, 0) == NULL &&
              !ably_revocation_result_is_success(NULL, 0) &&
              ably_revocation_result_issued_before(NULL, 0) == 0 &&
              ably_revocation_result_applies_at(NULL, 0) == 0 &&
              ably_revocation_result_error(NULL, 0) == NULL,
          "ably_revocation_result entry getters of NULL give NULL/false/0");
    text = SENTINEL(char *);
    expect_names_arg_untouched(ably_revocation_result_to_json(NULL, &text), "result", text);
    ably_revocation_result_free(NULL);
    CHECK(true, "ably_revocation_result_free(NULL) is a no-op");

    uint64_t id = 99;
    expect_names_arg_frees(
        ably_auth_add_listener(NULL, unused_listener, NULL, count_user_data_free, &id), "auth");
    expect_names_arg_frees(ably_auth_add_listener(auth, NULL, NULL, count_user_data_free, &id),
                           "listener");
    expect_names_arg_frees(
        ably_auth_add_listener(auth, unused_listener, NULL, count_user_data_free, NULL),
        "out_id");
    CHECK(id == 99, "  ... and `id` is untouched");
    expect_names_arg(ably_auth_remove_listener(NULL, 1), "auth");
    expect_names_arg(ably_auth_remove_listener(auth, 123456), "id");
}

/* ---- completions: NULL, invalid UTF-8, bad values, answered twice ----------------------- */

static int completion_mode;
static ably_error_info *deprecated_completion_error(ably_auth_completion *c);

static void boundary_callback(void *user_data, const char *params_json,
                              ably_auth_completion *c) {
    (void)user_data;
    (void)params_json;
    switch (completion_mode) {
    case 0:
        expect_names_arg(ably_auth_completion_answer_token(c, NULL), "token");
        break;
    case 1:
        expect_names_arg(ably_auth_completion_answer_token(c, BAD_UTF8), "token");
        break;
    case 2:
        expect_names_arg(ably_auth_completion_answer_json(c, NULL), "json");
        break;
    case 3:
        expect_names_arg(ably_auth_completion_answer_json(c, BAD_UTF8), "json");
        break;
    case 4:
        expect_names_arg(ably_auth_completion_answer_error(c, 0, 401, BAD_UTF8), "message");
        break;
    case 5:
        expect_names_arg(ably_auth_completion_answer_error(c, -1, 401, "m"), "code");
        break;
    case 6:
        expect_names_arg(ably_auth_completion_answer_error(c, 0, 600, "m"), "status_code");
        break;
    case 7:
        expect_ok(ably_auth_completion_answer_error(c, 0, 401, NULL));
        break;
    default:
        /* The deprecated names answer as the new ones do. */
        expect_ok(deprecated_completion_error(c));
        break;
    }
    /* Whatever happened, the completion is consumed: a second answer is refused. */
    expect_code(ably_auth_completion_answer_token(c, "tok"), ABLY_ERR_INVALID_ARGUMENT, NOT_LIVE);
    expect_code(ably_auth_completion_answer_json(c, "{\"token\":\"t\"}"), ABLY_ERR_INVALID_ARGUMENT,
                NOT_LIVE);
    expect_code(ably_auth_completion_answer_error(c, 0, 401, "m"), ABLY_ERR_INVALID_ARGUMENT,
                NOT_LIVE);
}

/* The names before 0.2, kept as deprecated aliases: each reaches the function it names. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
static void test_deprecated_completion_names(void) {
    expect_names_arg(ably_auth_completion_token(NULL, "tok"), "completion");
    expect_names_arg(ably_auth_completion_json(NULL, "{}"), "completion");
    expect_names_arg(ably_auth_completion_error(NULL, 0, 401, "m"), "completion");
}
static ably_error_info *deprecated_completion_error(ably_auth_completion *c) {
    return ably_auth_completion_error(c, 0, 401, NULL);
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

static void test_completions(void) {
    test_deprecated_completion_names();
    expect_names_arg(ably_auth_completion_answer_token(NULL, "tok"), "completion");
    expect_names_arg(ably_auth_completion_answer_json(NULL, "{}"), "completion");
    expect_names_arg(ably_auth_completion_answer_error(NULL, 0, 401, "m"), "completion");

    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, boundary_callback, NULL, NULL));
    ably_auth *auth = auth_from(options);
    if (auth == NULL) {
        return;
    }
    for (completion_mode = 0; completion_mode <= 8; completion_mode++) {
        /* A bad answer fails the waiting call at once with 40170. */
        ably_token_details *details = SENTINEL(ably_token_details *);
        char label[96];
        snprintf(label, sizeof label, "request_token after completion case %d", completion_mode);
        expect_error(label, ably_auth_request_token(auth, NULL, NULL, &details),
                     ABLY_ERR_AUTH_CALLBACK_FAILED, NULL, NULL);
        CHECK_UNTOUCHED(details);
    }
    ably_auth_free(auth);
}

int main(void) {
    ably_auth *auth = new_key_auth();
    if (auth == NULL) {
        return test_summary();
    }
    test_null_auth_functions(auth);
    test_null_options_functions();
    test_null_params_functions();
    test_null_token_details_functions();
    test_null_token_request_functions();
    test_version();
    test_invalid_utf8();
    test_numbers(auth);
    test_malformed_keys();
    test_client_ids();
    test_capabilities();
    test_nonces_and_tokens();
    test_malformed_json();
    test_consumed_builders(auth);
    test_double_free();
    test_auth_new_rejections();
    test_signing_without_key();
    test_long_client_id(auth);
    test_null_networked_options();
    test_null_networked_auth(auth);
    test_completions();
    ably_auth_free(auth);
    return test_summary();
}
