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
 * - outputs are left untouched whenever a call fails.
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
        "{\"a\":[\"jump\"]}",                  /* unknown operation */
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
    ably_auth_free(auth);
    return test_summary();
}
