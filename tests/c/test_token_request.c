/*
 * test_token_request.c: signed TokenRequests through the C ABI.
 *
 * - the two HMAC test vectors of checklist §2.4 (minimal and full);
 * - the getters and the JSON form (absent fields left out, numbers as numbers);
 * - generated nonces and timestamps, checked against an independent HMAC oracle (libgcrypt,
 *   hmac_oracle.h, itself checked first against FIPS 180-4 and RFC 4231 vectors);
 * - default token params, the options' clientId, and TokenRequest JSON parsing.
 */
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "base64.h"
#include "test_util.h"
#include "token_vectors.h"

#include "hmac_oracle.h"
#include "json_oracle.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* An Auth object for KEY with an optional options clientId and default token params
 * (consumed). NULL after a failed check. */
static ably_auth *new_auth(const char *client_id, ably_token_params *defaults) {
    ably_auth_options *options = ably_auth_options_new();
    ably_auth *auth = NULL;
    bool ok = expect_ok(ably_auth_options_set_key(options, KEY));
    if (ok && client_id != NULL) {
        ok = expect_ok(ably_auth_options_set_client_id(options, client_id));
    }
    if (ok && defaults != NULL) {
        ok = expect_ok(ably_auth_options_set_default_token_params(options, defaults));
        defaults = NULL; /* consumed */
    }
    if (ok) {
        expect_ok(ably_auth_new(options, &auth)); /* consumes the options */
    } else {
        ably_auth_options_free(options);
    }
    ably_token_params_free(defaults); /* only when set_default_token_params was not reached */
    return auth;
}

/* TokenParams with the vectors' fixed timestamp and nonce. */
static ably_token_params *fixed_params(void) {
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_timestamp(params, TIMESTAMP));
    expect_ok(ably_token_params_set_nonce(params, NONCE));
    return params;
}

/* Create a TokenRequest (consuming `params`, which may be NULL); NULL after a failure. */
static ably_token_request *issue(const ably_auth *auth, ably_token_params *params) {
    ably_token_request *request = NULL;
    if (!expect_ok(ably_auth_create_token_request(auth, params, &request))) {
        return NULL;
    }
    return request;
}

/* The request's JSON, to free with ably_string_free; NULL after a failure. */
static char *request_json(const ably_token_request *request) {
    char *json = NULL;
    if (!expect_ok(ably_token_request_to_json(request, &json))) {
        return NULL;
    }
    return json;
}

/* The mac the oracle computes for `text`: standard Base64 of HMAC-SHA256 keyed with the
 * secret; "" when libgcrypt fails. */
static void oracle_mac(const char *text, char out[64]) {
    uint8_t digest[ORACLE_SHA256_SIZE];
    out[0] = '\0';
    if (oracle_hmac_sha256(KEY_SECRET, strlen(KEY_SECRET), text, strlen(text), digest)) {
        base64_encode(digest, sizeof digest, false, out, 64);
    }
}

/* Rebuild the string to sign from the request's getters (checklist §2.4) and check that
 * the request's mac is the oracle's mac of it. */
static void check_mac_by_oracle(const ably_token_request *request, const char *label) {
    char ttl[32] = "";
    if (ably_token_request_ttl(request) != 0) {
        snprintf(ttl, sizeof ttl, "%lld", (long long)ably_token_request_ttl(request));
    }
    const char *capability = ably_token_request_capability(request);
    const char *client_id = ably_token_request_client_id(request);
    char text[1024];
    snprintf(text, sizeof text, "%s\n%s\n%s\n%s\n%lld\n%s\n",
             str_or_null(ably_token_request_key_name(request)), ttl,
             capability ? capability : "", client_id ? client_id : "",
             (long long)ably_token_request_timestamp(request),
             str_or_null(ably_token_request_nonce(request)));
    char expected[64];
    oracle_mac(text, expected);
    CHECK(str_eq(ably_token_request_mac(request), expected),
          "%s: mac matches the oracle's HMAC of the string to sign", label);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* The oracle reproduces the published vectors before it is trusted with anything else. */
static void test_oracle_reproduces_vectors(void) {
    oracle_self_check(); /* FIPS 180-4 and RFC 4231 */
    char mac[64];
    oracle_mac(KEY_NAME "\n\n\n\n1234567890000\n" NONCE "\n", mac);
    CHECK(str_eq(mac, MAC_MINIMAL), "oracle: minimal vector mac is %s", mac);
    oracle_mac(KEY_NAME "\n3600000\n" CAPABILITY_CANONICAL "\n" CLIENT_ID
                        "\n1234567890000\n" NONCE "\n",
               mac);
    CHECK(str_eq(mac, MAC_FULL), "oracle: full vector mac is %s", mac);
}

static void test_minimal_vector(const ably_auth *auth) {
    ably_token_request *request = issue(auth, fixed_params());
    if (request == NULL) {
        return;
    }
    CHECK(str_eq(ably_token_request_mac(request), MAC_MINIMAL), "minimal: mac is %s (got %s)",
          MAC_MINIMAL, str_or_null(ably_token_request_mac(request)));
    CHECK(str_eq(ably_token_request_key_name(request), KEY_NAME), "minimal: keyName");
    CHECK(ably_token_request_ttl(request) == 0, "minimal: ttl is absent (0)");
    CHECK(ably_token_request_capability(request) == NULL, "minimal: capability is absent");
    CHECK(ably_token_request_client_id(request) == NULL, "minimal: clientId is absent");
    CHECK(ably_token_request_timestamp(request) == TIMESTAMP, "minimal: timestamp");
    CHECK(str_eq(ably_token_request_nonce(request), NONCE), "minimal: nonce");
    CHECK(ably_token_request_key_name(request) == ably_token_request_key_name(request),
          "minimal: a borrowed getter returns the same pointer each time");

    char *json = request_json(request);
    if (json != NULL) {
        int64_t n = 0;
        char text[256];
        CHECK(!json_has(json, "ttl"), "minimal JSON has no \"ttl\" key: %s", json);
        CHECK(!json_has(json, "capability"), "minimal JSON has no \"capability\" key");
        CHECK(!json_has(json, "clientId"), "minimal JSON has no \"clientId\" key");
        CHECK(strstr(json, "null") == NULL, "minimal JSON has no null values");
        CHECK(json_string(json, "keyName", text, sizeof text) && str_eq(text, KEY_NAME),
              "minimal JSON: keyName");
        CHECK(json_int(json, "timestamp", &n) && n == TIMESTAMP,
              "minimal JSON: timestamp is the number 1234567890000");
        CHECK(json_string(json, "nonce", text, sizeof text) && str_eq(text, NONCE),
              "minimal JSON: nonce");
        CHECK(json_string(json, "mac", text, sizeof text) && str_eq(text, MAC_MINIMAL),
              "minimal JSON: mac");
        ably_string_free(json);
    }
    ably_token_request_free(request);
}

static void test_full_vector(const ably_auth *auth) {
    ably_token_params *params = fixed_params();
    expect_ok(ably_token_params_set_ttl(params, TTL));
    expect_ok(ably_token_params_set_capability(params, CAPABILITY));
    expect_ok(ably_token_params_set_client_id(params, CLIENT_ID));
    ably_token_request *request = issue(auth, params);
    if (request == NULL) {
        return;
    }
    CHECK(str_eq(ably_token_request_mac(request), MAC_FULL), "full: mac is %s (got %s)",
          MAC_FULL, str_or_null(ably_token_request_mac(request)));
    CHECK(str_eq(ably_token_request_capability(request), CAPABILITY_CANONICAL),
          "full: capability is canonical (got %s)",
          str_or_null(ably_token_request_capability(request)));
    CHECK(str_eq(ably_token_request_key_name(request), KEY_NAME), "full: keyName");
    CHECK(ably_token_request_ttl(request) == TTL, "full: ttl");
    CHECK(str_eq(ably_token_request_client_id(request), CLIENT_ID), "full: clientId");
    CHECK(ably_token_request_timestamp(request) == TIMESTAMP, "full: timestamp");
    CHECK(str_eq(ably_token_request_nonce(request), NONCE), "full: nonce");

    char *json = request_json(request);
    if (json != NULL) {
        int64_t n = 0;
        char text[256];
        CHECK(json_int(json, "ttl", &n) && n == TTL, "full JSON: ttl is the number 3600000: %s",
              json);
        CHECK(json_int(json, "timestamp", &n) && n == TIMESTAMP,
              "full JSON: timestamp is a number");
        CHECK(json_string(json, "capability", text, sizeof text) &&
                  str_eq(text, CAPABILITY_CANONICAL),
              "full JSON: capability is a string holding the canonical JSON");
        CHECK(json_string(json, "clientId", text, sizeof text) && str_eq(text, CLIENT_ID),
              "full JSON: clientId");
        CHECK(json_string(json, "mac", text, sizeof text) && str_eq(text, MAC_FULL),
              "full JSON: mac");
        ably_string_free(json);
    }
    ably_token_request_free(request);
}

static void test_generated_nonce_and_timestamp(const ably_auth *auth) {
    int64_t before = tu_unix_time_ms();
    ably_token_request *first = issue(auth, NULL);
    ably_token_request *second = issue(auth, NULL);
    int64_t after = tu_unix_time_ms();
    if (first != NULL && second != NULL) {
        const char *nonce1 = ably_token_request_nonce(first);
        const char *nonce2 = ably_token_request_nonce(second);
        CHECK(nonce1 != NULL && strlen(nonce1) >= 16, "generated nonce has >= 16 characters (%s)",
              str_or_null(nonce1));
        CHECK(nonce1 != NULL && strpbrk(nonce1, "\n\r \"") == NULL,
              "generated nonce has no line feed, space or quote");
        CHECK(!str_eq(nonce1, nonce2), "two requests get different nonces");
        CHECK(!str_eq(ably_token_request_mac(first), ably_token_request_mac(second)),
              "two requests get different macs");
        int64_t ts = ably_token_request_timestamp(first);
        /* tu_unix_time_ms and the library may round differently: allow a second either side. */
        CHECK(ts >= before - 1000 && ts <= after + 1000,
              "default timestamp is the current time (%lld within [%lld, %lld])", (long long)ts,
              (long long)before, (long long)after);
        check_mac_by_oracle(first, "generated nonce");
        check_mac_by_oracle(second, "second generated nonce");
    }
    ably_token_request_free(first);
    ably_token_request_free(second);
}

static void test_default_token_params(void) {
    ably_token_params *defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(defaults, 60000));
    expect_ok(ably_token_params_set_capability(defaults,
                                               "{\"b\":[\"subscribe\"],\"a\":[\"publish\"]}"));
    expect_ok(ably_token_params_set_client_id(defaults, "default-client"));
    ably_auth *auth = new_auth(NULL, defaults);
    if (auth == NULL) {
        return;
    }

    /* No params: the defaults apply. */
    ably_token_request *request = issue(auth, NULL);
    if (request != NULL) {
        CHECK(ably_token_request_ttl(request) == 60000, "defaults apply: ttl");
        CHECK(str_eq(ably_token_request_capability(request),
                     "{\"a\":[\"publish\"],\"b\":[\"subscribe\"]}"),
              "defaults apply: capability, canonical (got %s)",
              str_or_null(ably_token_request_capability(request)));
        CHECK(str_eq(ably_token_request_client_id(request), "default-client"),
              "defaults apply: clientId");
        check_mac_by_oracle(request, "defaults");
        ably_token_request_free(request);
    }

    /* Params given: they replace the defaults as a whole (RSA9h), nothing is merged. */
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, 120000));
    request = issue(auth, params);
    if (request != NULL) {
        CHECK(ably_token_request_ttl(request) == 120000, "explicit params: their ttl is used");
        CHECK(ably_token_request_capability(request) == NULL,
              "explicit params: the default capability is not merged in");
        CHECK(ably_token_request_client_id(request) == NULL,
              "explicit params: the default clientId is not merged in");
        check_mac_by_oracle(request, "explicit params");
        ably_token_request_free(request);
    }

    /* Empty params also replace the defaults: nothing is set at all. */
    request = issue(auth, ably_token_params_new());
    if (request != NULL) {
        CHECK(ably_token_request_ttl(request) == 0 &&
                  ably_token_request_capability(request) == NULL &&
                  ably_token_request_client_id(request) == NULL,
              "empty params: no ttl, capability or clientId");
        ably_token_request_free(request);
    }
    ably_auth_free(auth);

    /* The options' clientId wins over the default params' clientId (RSA7a4). */
    defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_client_id(defaults, "default-client"));
    auth = new_auth("options-client", defaults);
    if (auth != NULL) {
        request = issue(auth, NULL);
        if (request != NULL) {
            CHECK(str_eq(ably_token_request_client_id(request), "options-client"),
                  "options clientId overrides the default params' clientId (got %s)",
                  str_or_null(ably_token_request_client_id(request)));
            ably_token_request_free(request);
        }
        ably_auth_free(auth);
    }
}

static void test_options_client_id(void) {
    ably_auth *auth = new_auth("options-client", NULL);
    if (auth == NULL) {
        return;
    }
    ably_token_request *request = issue(auth, NULL);
    if (request != NULL) {
        CHECK(str_eq(ably_token_request_client_id(request), "options-client"),
              "options clientId applies without params");
        check_mac_by_oracle(request, "options clientId");
        ably_token_request_free(request);
    }

    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, 60000));
    request = issue(auth, params);
    if (request != NULL) {
        CHECK(str_eq(ably_token_request_client_id(request), "options-client"),
              "options clientId applies when the params name none");
        CHECK(ably_token_request_ttl(request) == 60000, "... and the params' ttl is kept");
        ably_token_request_free(request);
    }

    /* The header only promises the options' clientId when the params set none; a clientId
     * in the params is used as given (as explicit params win in RSA10b). */
    params = ably_token_params_new();
    expect_ok(ably_token_params_set_client_id(params, "explicit-client"));
    request = issue(auth, params);
    if (request != NULL) {
        CHECK(str_eq(ably_token_request_client_id(request), "explicit-client"),
              "a clientId in the params is used as given (got %s)",
              str_or_null(ably_token_request_client_id(request)));
        ably_token_request_free(request);
    }
    ably_auth_free(auth);
}

/* Compare every field of two requests. */
static void check_same_request(const ably_token_request *a, const ably_token_request *b,
                               const char *label) {
    CHECK(str_eq(ably_token_request_key_name(a), ably_token_request_key_name(b)) &&
              ably_token_request_ttl(a) == ably_token_request_ttl(b) &&
              str_eq(ably_token_request_capability(a), ably_token_request_capability(b)) &&
              str_eq(ably_token_request_client_id(a), ably_token_request_client_id(b)) &&
              ably_token_request_timestamp(a) == ably_token_request_timestamp(b) &&
              str_eq(ably_token_request_nonce(a), ably_token_request_nonce(b)) &&
              str_eq(ably_token_request_mac(a), ably_token_request_mac(b)),
          "%s: every field survives the JSON round trip", label);
}

static void test_round_trip(const ably_auth *auth) {
    ably_token_params *params = fixed_params();
    expect_ok(ably_token_params_set_ttl(params, TTL));
    expect_ok(ably_token_params_set_capability(params, CAPABILITY));
    expect_ok(ably_token_params_set_client_id(params, CLIENT_ID));
    ably_token_request *original = issue(auth, params);
    char *json = original ? request_json(original) : NULL;
    ably_token_request *parsed = NULL;
    if (json != NULL && expect_ok(ably_token_request_from_json(json, &parsed))) {
        check_same_request(original, parsed, "full request");
        char *again = request_json(parsed);
        CHECK(str_eq(json, again), "to_json of the parsed request equals the original JSON");
        ably_string_free(again);
    }
    ably_token_request_free(parsed);
    ably_string_free(json);
    ably_token_request_free(original);

    /* A minimal request, with a generated nonce. */
    original = issue(auth, NULL);
    json = original ? request_json(original) : NULL;
    parsed = NULL;
    if (json != NULL && expect_ok(ably_token_request_from_json(json, &parsed))) {
        check_same_request(original, parsed, "minimal request");
    }
    ably_token_request_free(parsed);
    ably_string_free(json);
    ably_token_request_free(original);
}

static void test_from_json_lenient_numbers(void) {
    /* ttl and timestamp as strings of digits, members in another order, white space and an
     * unknown member, as a token endpoint might send them. */
    static const char json_in[] =
        "{ \"nonce\": \"" NONCE "\", \"timestamp\": \"1234567890000\", \"ttl\": \"3600000\",\n"
        "  \"keyName\": \"" KEY_NAME "\", \"clientId\": \"" CLIENT_ID "\",\n"
        "  \"capability\": \"{\\\"channel1\\\":[\\\"publish\\\",\\\"subscribe\\\"],"
        "\\\"channel2\\\":[\\\"subscribe\\\"]}\",\n"
        "  \"mac\": \"" MAC_FULL "\", \"somethingNew\": [1, {\"x\": \"}\"}] }";
    ably_token_request *request = NULL;
    if (!expect_ok(ably_token_request_from_json(json_in, &request))) {
        return;
    }
    CHECK(ably_token_request_ttl(request) == TTL, "string ttl \"3600000\" is read as 3600000");
    CHECK(ably_token_request_timestamp(request) == TIMESTAMP,
          "string timestamp \"1234567890000\" is read as a number");
    CHECK(str_eq(ably_token_request_capability(request), CAPABILITY_CANONICAL),
          "parsed capability");
    CHECK(str_eq(ably_token_request_mac(request), MAC_FULL), "parsed mac");
    char *json = request_json(request);
    if (json != NULL) {
        int64_t n = 0;
        CHECK(json_int(json, "ttl", &n) && n == TTL, "re-serialised ttl is a number: %s", json);
        CHECK(json_int(json, "timestamp", &n) && n == TIMESTAMP,
              "re-serialised timestamp is a number");
        CHECK(!json_has(json, "somethingNew"), "unknown members are dropped");
        ably_string_free(json);
    }
    ably_token_request_free(request);

    /* Without a mac: an unsigned request. */
    request = NULL;
    if (expect_ok(ably_token_request_from_json(
            "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\"}", &request))) {
        CHECK(ably_token_request_mac(request) == NULL, "unsigned request: mac getter is NULL");
        CHECK(ably_token_request_ttl(request) == 0, "unsigned request: ttl absent (0)");
        json = request_json(request);
        CHECK(json_is_object(json) && !json_has(json, "mac") && !json_has(json, "ttl"),
              "unsigned request JSON has no mac and no ttl: %s", str_or_null(json));
        ably_string_free(json);
        ably_token_request_free(request);
    }
}

static bool str_is(ably_str s, const char *expected) {
    return s.ptr != NULL && s.len == strlen(expected) && memcmp(s.ptr, expected, s.len) == 0;
}

/* Params read back (issue 15): from the JSON an authCallback receives, through getters, to
 * JSON again, and cloned for reuse. */
static void test_params_read_back(void) {
    ably_token_params *params = NULL;
    if (!expect_ok(ably_token_params_from_json(
            "{\"ttl\":\"60000\",\"capability\":\"{\\\"b\\\":[\\\"subscribe\\\",\\\"publish\\\"]}\","
            "\"clientId\":\"player-7\",\"timestamp\":1700000000000,\"nonce\":\"n-1\","
            "\"future\":true}",
            &params))) {
        return;
    }
    ably_token_params_values values;
    memset(&values, 0xAB, sizeof values);
    if (expect_ok(ably_token_params_get(params, &values))) {
        CHECK(!values.use_defaults && values.ttl_ms == 60000 &&
                  values.timestamp_ms == INT64_C(1700000000000),
              "get: ttl and timestamp as parsed (numeric string accepted)");
        CHECK(str_is(values.client_id, "player-7") && str_is(values.nonce, "n-1"),
              "get: clientId and nonce, borrowed with their lengths");
        CHECK(str_is(values.capability, "{\"b\":[\"publish\",\"subscribe\"]}"),
              "get: the capability in canonical form");
    }

    CHECK(values.revocation_key.ptr == NULL, "get: no revocation key from JSON");

    ably_token_params *copy = NULL;
    expect_ok(ably_token_params_clone(params, &copy));
    expect_ok(ably_token_params_set_revocation_key(copy, "group-7"));
    expect_ok(ably_token_params_set_client_id(copy, "player-8"));
    char *json = NULL;
    if (expect_ok(ably_token_params_to_json(params, &json))) {
        CHECK(strstr(json, "\"clientId\":\"player-7\"") != NULL && strstr(json, "future") == NULL,
              "to_json: the original is untouched by the copy's setter: %s", json);
    }
    ably_string_free(json);
    ably_token_params_values copy_values;
    if (expect_ok(ably_token_params_get(copy, &copy_values))) {
        CHECK(str_is(copy_values.client_id, "player-8") && copy_values.ttl_ms == 60000 &&
                  str_is(copy_values.revocation_key, "group-7"),
              "clone: an independent copy with every field; get: the revocation key");
    }
    ably_token_params_free(copy);

    /* Unset fields read as unset. */
    ably_token_params *empty = NULL;
    if (expect_ok(ably_token_params_from_json(" {}", &empty)) &&
        expect_ok(ably_token_params_get(empty, &values))) {
        CHECK(values.ttl_ms == 0 && values.timestamp_ms == 0 && values.client_id.ptr == NULL &&
                  values.capability.ptr == NULL && values.nonce.ptr == NULL,
              "get: unset fields are 0 and NULL");
    }
    ably_token_params_free(empty);

    /* Bad input: a clear error and nothing written. */
    ably_token_params *none = NULL;
    expect_code(ably_token_params_from_json("[1]", &none), ABLY_ERR_INVALID_ARGUMENT,
                "not a JSON object");
    expect_code(ably_token_params_from_json("{\"ttl\":0}", &none), ABLY_ERR_INVALID_ARGUMENT,
                "ttl");
    expect_code(ably_token_params_from_json("{\"capability\":\"{\\\"a\\\":[]}\"}", &none),
                ABLY_ERR_INVALID_ARGUMENT, "capability");
    expect_code(ably_token_params_from_json("{\"clientId\":\"\"}", &none),
                ABLY_ERR_INVALID_CLIENT_ID, "clientId");
    expect_code(ably_token_params_from_json(NULL, &none), ABLY_ERR_INVALID_ARGUMENT, "json");
    CHECK(none == NULL, "from_json wrote nothing on error");
    expect_code(ably_token_params_get(params, NULL), ABLY_ERR_INVALID_ARGUMENT, "out_values");
    ably_token_params_free(params);
    expect_code(ably_token_params_get(params, &values), ABLY_ERR_INVALID_ARGUMENT,
                "not a live handle");
    expect_code(ably_token_params_clone(params, &copy), ABLY_ERR_INVALID_ARGUMENT,
                "not a live handle");
}

/* An Auth from options with one string option set by `set`; NULL after a failed check. */
static ably_auth *auth_with(ably_error_info *(*set)(ably_auth_options *, const char *),
                           const char *value) {
    ably_auth_options *options = ably_auth_options_new();
    ably_auth *auth = NULL;
    if (expect_ok(set(options, value))) {
        expect_ok(ably_auth_new(options, &auth)); /* consumes the options */
    } else {
        ably_auth_options_free(options);
    }
    return auth;
}

/* Per-call auth options (RSA9g): their key signs, whatever the Auth holds; anything but auth
 * options is refused; both builders are consumed in every case. */
static void test_per_call_key_signs(void) {
    /* An Auth with no key at all (a token only), and one with another key. */
    ably_auth *keyless = auth_with(ably_auth_options_set_token, "some-token");
    ably_auth *other = auth_with(ably_auth_options_set_key, "otherApp.otherKey:otherSecret");
    if (keyless == NULL || other == NULL) {
        ably_auth_free(keyless);
        ably_auth_free(other);
        return;
    }
    ably_token_request *request = NULL;
    expect_code(ably_auth_create_token_request(keyless, fixed_params(), &request),
                ABLY_ERR_INVALID_CREDENTIALS, "no key");
    const ably_auth *auths[] = {keyless, other};
    const char *labels[] = {"per-call key, Auth without a key", "per-call key over the Auth's"};
    for (int i = 0; i < 2; i++) {
        ably_auth_options *per_call = ably_auth_options_new();
        request = NULL;
        if (expect_ok(ably_auth_options_set_key(per_call, KEY)) &&
            expect_ok(ably_auth_create_token_request_with_options(auths[i], fixed_params(),
                                                                  per_call, &request))) {
            CHECK(str_eq(ably_token_request_key_name(request), KEY_NAME) &&
                      str_eq(ably_token_request_mac(request), MAC_MINIMAL),
                  "%s: keyName %s and the minimal vector's mac", labels[i], KEY_NAME);
            ably_token_request_free(request);
        }
        /* The options were consumed. */
        expect_code(ably_auth_options_set_key(per_call, KEY), ABLY_ERR_INVALID_ARGUMENT,
                    "not a live handle");
    }
    /* NULL options: the Auth's key, as ably_auth_create_token_request. */
    request = NULL;
    if (expect_ok(ably_auth_create_token_request_with_options(other, NULL, NULL, &request))) {
        CHECK(str_eq(ably_token_request_key_name(request), "otherApp.otherKey"),
              "NULL options: the Auth's own key signs");
        ably_token_request_free(request);
    }
    /* A non-auth option is refused, naming it; params and options are consumed anyway. */
    ably_auth_options *with_port = ably_auth_options_new();
    ably_token_params *params = fixed_params();
    expect_ok(ably_auth_options_set_key(with_port, KEY));
    expect_ok(ably_auth_options_set_port(with_port, 8080));
    request = NULL;
    expect_code(ably_auth_create_token_request_with_options(other, params, with_port, &request),
                ABLY_ERR_INVALID_ARGUMENT, "endpoint/hosts/port/tls");
    CHECK(request == NULL, "refused: no request written");
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT,
                "not a live handle");
    expect_code(ably_auth_options_set_key(with_port, KEY), ABLY_ERR_INVALID_ARGUMENT,
                "not a live handle");
    /* A NULL out-parameter: refused, both builders still consumed. */
    ably_auth_options *per_call = ably_auth_options_new();
    params = fixed_params();
    expect_code(ably_auth_create_token_request_with_options(other, params, per_call, NULL),
                ABLY_ERR_INVALID_ARGUMENT, "out_request");
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT,
                "not a live handle");
    expect_code(ably_auth_options_set_key(per_call, KEY), ABLY_ERR_INVALID_ARGUMENT,
                "not a live handle");
    ably_auth_free(keyless);
    ably_auth_free(other);
}

int main(void) {
    test_oracle_reproduces_vectors();

    ably_auth *auth = new_auth(NULL, NULL);
    if (auth != NULL) {
        test_minimal_vector(auth);
        test_full_vector(auth);
        test_generated_nonce_and_timestamp(auth);
        test_round_trip(auth);
        ably_auth_free(auth);
    }
    test_default_token_params();
    test_options_client_id();
    test_from_json_lenient_numbers();
    test_params_read_back();
    test_per_call_key_signs();
    return test_summary();
}
