/*
 * test_jwt.c: Ably JWTs (HS256) through the C ABI, checked by taking them apart.
 *
 * The JWT is split on '.', its header and claims are base64url-decoded and inspected, and
 * the signature is recomputed with the test oracle (hmac_oracle.h: libgcrypt), which is
 * itself first checked against FIPS 180-4 and RFC 4231 test vectors. The decoded header and
 * claims are read with json_oracle.h (cJSON), so they must be valid JSON objects.
 */
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "base64.h"
#include "test_util.h"

#include "hmac_oracle.h"
#include "json_oracle.h"

#define KEY "appId.keyId:keySecret"
#define KEY_NAME "appId.keyId"
#define KEY_SECRET "keySecret"
#define TIMESTAMP INT64_C(1234567890000)
#define TTL INT64_C(3600000)
#define CLIENT_ID "client-1"
#define CAPABILITY "{\"channel2\":[\"subscribe\"],\"channel1\":[\"subscribe\",\"publish\"]}"
#define CAPABILITY_CANONICAL \
    "{\"channel1\":[\"publish\",\"subscribe\"],\"channel2\":[\"subscribe\"]}"

/* ---- the oracles' own checks ----------------------------------------------------------- */

static void test_oracle(void) {
    /* libgcrypt against FIPS 180-4 and RFC 4231 (hmac_oracle.h). */
    oracle_self_check();

    /* cJSON reads what it should and refuses what is not one JSON object (json_oracle.h). */
    static const char doc[] = " {\"s\":\"a\\\"b\\u00e9\\n\",\"n\":-12,\"big\":1234567890000,"
                              "\"f\":1.5,\"q\":\"7\",\"o\":{\"k\":[1,true,null]}} ";
    char text[64];
    int64_t n = 0;
    CHECK(json_is_object(doc) && json_string(doc, "s", text, sizeof text) &&
              str_eq(text, "a\"b\xc3\xa9\n"),
          "json oracle: a string member, unescaped to UTF-8");
    CHECK(json_raw(doc, "s", text, sizeof text) && str_eq(text, "\"a\\\"b\xc3\xa9\\n\""),
          "json oracle: json_raw gives a string as JSON text (%s)", text);
    CHECK(json_raw(doc, "o", text, sizeof text) && str_eq(text, "{\"k\":[1,true,null]}"),
          "json oracle: json_raw gives an object compactly (%s)", text);
    CHECK(json_int(doc, "n", &n) && n == -12 && json_int(doc, "big", &n) &&
              n == INT64_C(1234567890000),
          "json oracle: integer members");
    CHECK(!json_int(doc, "f", &n) && !json_int(doc, "q", &n) && !json_int(doc, "s", &n) &&
              !json_string(doc, "n", text, sizeof text) && !json_has(doc, "k") &&
              !json_string(doc, "s", text, 4),
          "json oracle: no fraction or string as an integer, no number as a string, no "
          "nested key at the top level, no string cut to fit");
    static const char *const not_objects[] = {
        "",        "{",          "{\"a\":1,}",  "{\"a\":1} x", "[{\"a\":1}]",
        "{a:1}",   "{\"a\":01x}", "{\"a\":1,\"a\":2}", "{\"a\":'1'}", "{\"a\":\"\\x\"}",
    };
    bool refused = !json_has(NULL, "a") && !json_is_object(NULL);
    for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
        refused = refused && !json_is_object(not_objects[i]) && !json_has(not_objects[i], "a");
    }
    CHECK(refused, "json oracle: every lookup fails in text that is not one JSON object "
                   "(cut short, trailing text, an array, bad syntax, a key twice)");

    /* RFC 4648 §10 vectors for the Base64 helpers. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const encoded[] = {"",     "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    bool encode_ok = true, decode_ok = true;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char text[16];
        uint8_t bytes[16];
        base64_encode((const uint8_t *)plain[i], strlen(plain[i]), false, text, sizeof text);
        encode_ok = encode_ok && str_eq(text, encoded[i]);
        size_t unpadded = strcspn(encoded[i], "=");
        long n = base64url_decode(encoded[i], unpadded, bytes, sizeof bytes);
        decode_ok = decode_ok && n == (long)strlen(plain[i]) && str_eq((char *)bytes, plain[i]);
    }
    CHECK(encode_ok, "base64 helper: RFC 4648 encoding vectors");
    CHECK(decode_ok, "base64url helper: RFC 4648 vectors decode without padding");
    uint8_t scratch[8];
    CHECK(base64url_decode("Zm9v+A", 6, scratch, sizeof scratch) < 0 &&
              base64url_decode("Zg==", 4, scratch, sizeof scratch) < 0,
          "base64url helper: rejects '+' and '=' padding");
}

/* ---- taking a JWT apart ----------------------------------------------------------------- */

typedef struct jwt_parts {
    char header[512];  /* decoded JSON */
    char claims[1024]; /* decoded JSON */
    uint8_t signature[64];
    long signature_len;
    size_t signed_len; /* length of "header.claims", the signed text */
} jwt_parts;

/* Split `jwt` into exactly three base64url parts and decode them. */
static bool split_jwt(const char *jwt, jwt_parts *out) {
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        return false;
    }
    long header_len = base64url_decode(jwt, (size_t)(dot1 - jwt), (uint8_t *)out->header,
                                       sizeof out->header);
    long claims_len = base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1),
                                       (uint8_t *)out->claims, sizeof out->claims);
    out->signature_len =
        base64url_decode(dot2 + 1, strlen(dot2 + 1), out->signature, sizeof out->signature);
    out->signed_len = (size_t)(dot2 - jwt);
    /* The decoded JSON must not contain a NUL byte (it is used as a C string). */
    return header_len > 0 && claims_len > 0 && out->signature_len > 0 &&
           strlen(out->header) == (size_t)header_len && strlen(out->claims) == (size_t)claims_len;
}

/* Recompute the HS256 signature over "header.claims" with `secret` and compare it, as text
 * and as bytes, with the JWT's third part. */
static void check_signature_with(const char *jwt, const jwt_parts *parts, const char *secret,
                                 const char *label) {
    uint8_t digest[ORACLE_SHA256_SIZE];
    bool computed = oracle_hmac_sha256(secret, strlen(secret), jwt, parts->signed_len, digest);
    char encoded[64];
    base64_encode(digest, sizeof digest, true, encoded, sizeof encoded);
    CHECK(computed && parts->signature_len == ORACLE_SHA256_SIZE &&
              memcmp(parts->signature, digest, sizeof digest) == 0 &&
              str_eq(jwt + parts->signed_len + 1, encoded),
          "%s: signature is HMAC-SHA256(\"header.claims\", secret), base64url unpadded", label);
}

/* As check_signature_with, with the Ably key's secret. */
static void check_signature(const char *jwt, const jwt_parts *parts, const char *label) {
    check_signature_with(jwt, parts, KEY_SECRET, label);
}

static ably_auth *new_auth(const char *client_id) {
    ably_auth_options *options = ably_auth_options_new();
    ably_auth *auth = NULL;
    expect_ok(ably_auth_options_set_key(options, KEY));
    if (client_id != NULL) {
        expect_ok(ably_auth_options_set_client_id(options, client_id));
    }
    expect_ok(ably_auth_new(options, &auth));
    return auth;
}

/* Create a JWT (consuming `params`); NULL after a failure. */
static char *create_jwt(const ably_auth *auth, ably_token_params *params) {
    char *jwt = NULL;
    if (!expect_ok(ably_auth_create_jwt(auth, params, &jwt))) {
        return NULL;
    }
    return jwt;
}

/* Check that `jwt` (freed here; NULL after a failed call is skipped) has the string claim
 * `claim` equal to `expected` and a valid signature with the Ably key's secret. */
static void check_jwt_claim(char *jwt, const char *claim, const char *expected,
                            const char *label) {
    jwt_parts parts;
    if (jwt != NULL && CHECK(split_jwt(jwt, &parts), "%s: JWT splits and decodes", label)) {
        char text[256];
        CHECK(json_string(parts.claims, claim, text, sizeof text) && str_eq(text, expected),
              "%s: claim %s is %s in %s", label, claim, expected, parts.claims);
        check_signature(jwt, &parts, label);
    }
    ably_string_free(jwt);
}

static int64_t now_seconds(void) {
    return tu_unix_time_ms() / 1000;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_fixed_jwt(const ably_auth *auth) {
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_timestamp(params, TIMESTAMP));
    expect_ok(ably_token_params_set_ttl(params, TTL));
    expect_ok(ably_token_params_set_client_id(params, CLIENT_ID));
    expect_ok(ably_token_params_set_capability(params, CAPABILITY));
    char *jwt = create_jwt(auth, params);
    if (jwt == NULL) {
        return;
    }
    jwt_parts parts;
    bool split = split_jwt(jwt, &parts);
    CHECK(split, "JWT has three base64url parts without padding: %s", jwt);
    if (split) {
        char text[256];
        int64_t n = 0;
        CHECK(json_string(parts.header, "typ", text, sizeof text) && str_eq(text, "JWT"),
              "header: typ is JWT in %s", parts.header);
        CHECK(json_string(parts.header, "alg", text, sizeof text) && str_eq(text, "HS256"),
              "header: alg is HS256");
        CHECK(json_string(parts.header, "kid", text, sizeof text) && str_eq(text, KEY_NAME),
              "header: kid is the key name " KEY_NAME);
        CHECK(json_int(parts.claims, "iat", &n) && n == 1234567890,
              "claims: iat is 1234567890 (seconds) in %s", parts.claims);
        CHECK(json_int(parts.claims, "exp", &n) && n == 1234571490,
              "claims: exp is 1234571490 (iat + 3600)");
        CHECK(json_string(parts.claims, "x-ably-capability", text, sizeof text) &&
                  str_eq(text, CAPABILITY_CANONICAL),
              "claims: x-ably-capability is the canonical capability");
        /* The capability is a JSON string inside the claims, so its quotes are escaped. */
        CHECK(json_raw(parts.claims, "x-ably-capability", text, sizeof text) &&
                  str_eq(text, "\"{\\\"channel1\\\":[\\\"publish\\\",\\\"subscribe\\\"],"
                               "\\\"channel2\\\":[\\\"subscribe\\\"]}\""),
              "claims: x-ably-capability is a JSON-escaped string, not an object");
        CHECK(json_string(parts.claims, "x-ably-clientId", text, sizeof text) &&
                  str_eq(text, CLIENT_ID),
              "claims: x-ably-clientId is " CLIENT_ID);
        CHECK(!json_has(parts.claims, "nonce") && !json_has(parts.claims, "ttl"),
              "claims: no nonce or ttl member");
        check_signature(jwt, &parts, "fixed JWT");
    }
    ably_string_free(jwt);
}

static void test_defaults(const ably_auth *auth) {
    int64_t before = now_seconds();
    char *jwt = create_jwt(auth, NULL);
    int64_t after = now_seconds();
    if (jwt == NULL) {
        return;
    }
    jwt_parts parts;
    if (CHECK(split_jwt(jwt, &parts), "default JWT splits and decodes")) {
        int64_t iat = -1, exp = -1;
        char text[256];
        bool have_times =
            json_int(parts.claims, "iat", &iat) && json_int(parts.claims, "exp", &exp);
        CHECK(have_times && iat >= before - 1 && iat <= after + 1,
              "defaults: iat is now (%lld within [%lld, %lld])", (long long)iat,
              (long long)before, (long long)after);
        CHECK(have_times && exp - iat == 3600, "defaults: exp - iat == 3600 (60 minutes)");
        CHECK(json_string(parts.claims, "x-ably-capability", text, sizeof text) &&
                  str_eq(text, "{\"*\":[\"*\"]}"),
              "defaults: x-ably-capability is {\"*\":[\"*\"]}");
        CHECK(!json_has(parts.claims, "x-ably-clientId"),
              "defaults: no x-ably-clientId claim without a clientId");
        check_signature(jwt, &parts, "default JWT");
    }
    ably_string_free(jwt);
}

static void test_ttl_limits(const ably_auth *auth) {
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, 999));
    char *jwt = NULL;
    expect_code(ably_auth_create_jwt(auth, params, &jwt), ABLY_ERR_INVALID_ARGUMENT, "ttl");
    CHECK(jwt == NULL, "ttl 999: no JWT is written");

    /* 1000 ms is the smallest ttl: one second. A timestamp is truncated to whole seconds. */
    params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, 1000));
    expect_ok(ably_token_params_set_timestamp(params, TIMESTAMP + 999));
    jwt = create_jwt(auth, params);
    jwt_parts parts;
    if (jwt != NULL && CHECK(split_jwt(jwt, &parts), "ttl 1000 JWT splits and decodes")) {
        int64_t iat = 0, exp = 0;
        CHECK(json_int(parts.claims, "iat", &iat) && iat == 1234567890,
              "timestamp 1234567890999 ms gives iat 1234567890");
        CHECK(json_int(parts.claims, "exp", &exp) && exp - iat == 1, "ttl 1000: exp - iat == 1");
    }
    ably_string_free(jwt);
}

static void test_options_client_id(void) {
    ably_auth *auth = new_auth("options-client");
    if (auth == NULL) {
        return;
    }
    check_jwt_claim(create_jwt(auth, NULL), "x-ably-clientId", "options-client",
                    "the options' clientId becomes x-ably-clientId");
    ably_auth_free(auth);
}

/* Every well-formed operation name is accepted (issue 11): the five Ably accepts that an
 * earlier release refused, and a made-up future one, go into TokenRequests and JWTs. */
static void test_well_formed_operations(const ably_auth *auth) {
    static const char *const ops[] = {
        "message-subscribe",   "presence-subscribe", "channel-metadata:publishers",
        "list-channels",       "connection-metadata", "teleport-v2",
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char capability[128];
        snprintf(capability, sizeof capability, "{\"chat:*\":[\"%s\"]}", ops[i]);

        ably_token_params *params = ably_token_params_new();
        expect_ok(ably_token_params_set_capability(params, capability));
        ably_token_request *request = NULL;
        if (expect_ok(ably_auth_create_token_request(auth, params, &request))) {
            const char *got = ably_token_request_capability(request);
            CHECK(got != NULL && str_eq(got, capability), "TokenRequest capability %s",
                  capability);
        }
        ably_token_request_free(request);

        params = ably_token_params_new();
        expect_ok(ably_token_params_set_capability(params, capability));
        check_jwt_claim(create_jwt(auth, params), "x-ably-capability", capability, ops[i]);
    }
    /* The shape is still checked: upper case is not an operation name. */
    ably_token_params *params = ably_token_params_new();
    expect_code(ably_token_params_set_capability(params, "{\"a\":[\"Publish\"]}"),
                ABLY_ERR_INVALID_ARGUMENT, "capability");
    ably_token_params_free(params);
}

/* x-ably-revocation-key (a JWT-only claim): in the JWT when set, refused by the calls
 * that make TokenRequests or fetch tokens, and by the default params. */
static void test_revocation_key(const ably_auth *auth) {
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_revocation_key(params, "group-7"));
    check_jwt_claim(create_jwt(auth, params), "x-ably-revocation-key", "group-7",
                    "revocation-key JWT");

    params = ably_token_params_new();
    expect_code(ably_token_params_set_revocation_key(params, ""), ABLY_ERR_INVALID_ARGUMENT,
                "revocation");
    expect_code(ably_token_params_set_revocation_key(params, NULL), ABLY_ERR_INVALID_ARGUMENT,
                "revocation_key");
    expect_ok(ably_token_params_set_revocation_key(params, "group-7"));
    ably_token_request *request = NULL;
    expect_code(ably_auth_create_token_request(auth, params, &request),
                ABLY_ERR_INVALID_ARGUMENT, "revocation key");
    CHECK(request == NULL, "no TokenRequest with a revocation key");
    /* Consumed on error: a second use is refused as not live. */
    expect_code(ably_token_params_set_ttl(params, 1000), ABLY_ERR_INVALID_ARGUMENT, "params");

    params = ably_token_params_new();
    expect_ok(ably_token_params_set_revocation_key(params, "group-7"));
    ably_auth_options *options = ably_auth_options_new();
    expect_code(ably_auth_options_set_default_token_params(options, params),
                ABLY_ERR_INVALID_ARGUMENT, "revocation key");
    ably_auth_options_free(options);
}

/* An Ably token embedded in the app's own JWT (x-ably-token in the JOSE header), signed with
 * the app's secret. */
static void test_embedded_token(void) {
    static const char app_secret[] = "app-secret";
    char *jwt = NULL;
    if (expect_ok(ably_jwt_embed_token("appId.tok-en_1", INT64_C(1700000003999),
                                       (const uint8_t *)app_secret, strlen(app_secret), &jwt))) {
        jwt_parts parts;
        if (CHECK(split_jwt(jwt, &parts), "embedding JWT splits: %s", jwt)) {
            char text[64];
            int64_t exp = 0;
            CHECK(json_string(parts.header, "x-ably-token", text, sizeof text) &&
                      str_eq(text, "appId.tok-en_1"),
                  "header: x-ably-token is the token in %s", parts.header);
            CHECK(json_string(parts.header, "alg", text, sizeof text) && str_eq(text, "HS256"),
                  "header: alg is HS256");
            CHECK(!json_has(parts.header, "kid"), "header: no kid (not signed by an Ably key)");
            CHECK(json_int(parts.claims, "exp", &exp) && exp == INT64_C(1700000003),
                  "claims: exp is the token's expiry in seconds, rounded down");
            check_signature_with(jwt, &parts, app_secret, "embedding JWT");
        }
    }
    ably_string_free(jwt);

    char *out = NULL;
    expect_code(ably_jwt_embed_token(NULL, 5000, (const uint8_t *)"s", 1, &out),
                ABLY_ERR_INVALID_ARGUMENT, "token");
    expect_code(ably_jwt_embed_token("tok", 5000, NULL, 0, &out), ABLY_ERR_INVALID_ARGUMENT,
                "secret");
    expect_code(ably_jwt_embed_token("tok", 5000, NULL, 3, &out), ABLY_ERR_INVALID_ARGUMENT,
                "secret");
    expect_code(ably_jwt_embed_token("tok", 999, (const uint8_t *)"s", 1, &out),
                ABLY_ERR_INVALID_ARGUMENT, "expiry");
    expect_code(ably_jwt_embed_token("tok", 5000, (const uint8_t *)"s", 1, NULL),
                ABLY_ERR_INVALID_ARGUMENT, "out_jwt");
    CHECK(out == NULL, "no JWT written on error");
}

int main(void) {
    test_oracle();
    ably_auth *auth = new_auth(NULL);
    if (auth != NULL) {
        test_fixed_jwt(auth);
        test_defaults(auth);
        test_ttl_limits(auth);
        test_well_formed_operations(auth);
        test_revocation_key(auth);
        ably_auth_free(auth);
    }
    test_embedded_token();
    test_options_client_id();
    return test_summary();
}
