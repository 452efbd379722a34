/*
 * test_values.c: the one-call issuing functions, ably_auth_create_token_request_into and
 * ably_auth_create_jwt_into (params as values, results written into the caller's buffer).
 *
 * - the full HMAC test vector of checklist §2.4, field by field;
 * - the same TokenRequest and JWT as the handle-based calls for the same inputs;
 * - a buffer too small (nothing written, the size needed reported), a size query;
 * - use_defaults against the options' default token params;
 * - every bad value gives the setter's error, and bad buffers and out-parameters 40003;
 *   a failed call writes nothing; a 10 MB clientId goes through.
 */
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "test_util.h"
#include "token_vectors.h"

static ably_str str(const char *s) {
    ably_str out = {s, s ? strlen(s) : 0};
    return out;
}

/* The full vector's params, as values. */
static ably_token_params_values full_values(void) {
    ably_token_params_values v;
    memset(&v, 0, sizeof v);
    v.ttl_ms = TTL;
    v.capability = str(CAPABILITY);
    v.client_id = str(CLIENT_ID);
    v.timestamp_ms = TIMESTAMP;
    v.nonce = str(NONCE);
    return v;
}

/* The same params through the builder. */
static ably_token_params *full_params(void) {
    ably_token_params *p = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(p, TTL));
    expect_ok(ably_token_params_set_capability(p, CAPABILITY));
    expect_ok(ably_token_params_set_client_id(p, CLIENT_ID));
    expect_ok(ably_token_params_set_timestamp(p, TIMESTAMP));
    expect_ok(ably_token_params_set_nonce(p, NONCE));
    return p;
}

static ably_auth *new_auth(ably_token_params *defaults) {
    ably_auth_options *options = ably_auth_options_new();
    ably_auth *auth = NULL;
    bool ok = expect_ok(ably_auth_options_set_key(options, KEY));
    if (ok && defaults != NULL) {
        ok = expect_ok(ably_auth_options_set_default_token_params(options, defaults));
        defaults = NULL; /* consumed */
    }
    if (ok) {
        expect_ok(ably_auth_new(options, &auth));
    } else {
        ably_auth_options_free(options);
    }
    ably_token_params_free(defaults);
    return auth;
}

/* True when the `len` bytes at `at` are the NUL-terminated `expected` (NULL: length 0). */
static bool part_eq(const char *at, size_t len, const char *expected) {
    size_t n = expected ? strlen(expected) : 0;
    return len == n && (n == 0 || memcmp(at, expected, n) == 0);
}

/* Compare written values with a TokenRequest handle, field by field. */
static void check_same_request(const char *what, const ably_token_request_values *v,
                               const char *buf, const ably_token_request *r) {
    const char *at = buf;
    CHECK(part_eq(at, v->key_name_len, ably_token_request_key_name(r)), "%s: keyName", what);
    at += v->key_name_len;
    CHECK(part_eq(at, v->capability_len, ably_token_request_capability(r)), "%s: capability",
          what);
    at += v->capability_len;
    CHECK(part_eq(at, v->client_id_len, ably_token_request_client_id(r)), "%s: clientId", what);
    at += v->client_id_len;
    CHECK(part_eq(at, v->nonce_len, ably_token_request_nonce(r)), "%s: nonce", what);
    at += v->nonce_len;
    CHECK(part_eq(at, v->mac_len, ably_token_request_mac(r)), "%s: mac", what);
    at += v->mac_len;
    CHECK((size_t)(at - buf) == v->len, "%s: len is the sum of the lengths", what);
    CHECK(v->ttl_ms == ably_token_request_ttl(r), "%s: ttl", what);
    CHECK(v->timestamp_ms == ably_token_request_timestamp(r), "%s: timestamp", what);
}

static void test_full_vector(const ably_auth *auth) {
    char buf[512];
    ably_token_request_values v;
    if (!expect_ok(ably_auth_create_token_request_into(auth, full_values(), buf, sizeof buf, &v))) {
        return;
    }
    ably_token_request *r = NULL;
    if (expect_ok(ably_auth_create_token_request(auth, full_params(), &r))) {
        CHECK(str_eq(ably_token_request_mac(r), MAC_FULL), "handle: the vector's mac");
        CHECK(str_eq(ably_token_request_capability(r), CAPABILITY_CANONICAL),
              "handle: canonical capability");
        check_same_request("full vector", &v, buf, r);
    }
    ably_token_request_free(r);
}

static void test_buffer_too_small(const ably_auth *auth) {
    char buf[16];
    memset(buf, '#', sizeof buf);
    ably_token_request_values v;
    if (expect_ok(ably_auth_create_token_request_into(auth, full_values(), buf, sizeof buf, &v))) {
        CHECK(v.len > sizeof buf, "too small: the size needed (%zu) is reported", v.len);
        bool untouched = true;
        for (size_t i = 0; i < sizeof buf; i++) {
            untouched = untouched && buf[i] == '#';
        }
        CHECK(untouched, "too small: nothing is written to the buffer");
    }
    ably_token_request_values query;
    if (expect_ok(ably_auth_create_token_request_into(auth, full_values(), NULL, 0, &query))) {
        CHECK(query.len == v.len && query.mac_len == strlen(MAC_FULL),
              "size query (NULL, 0): the same lengths");
    }
    size_t jwt_len = 0;
    if (expect_ok(ably_auth_create_jwt_into(auth, full_values(), buf, sizeof buf, &jwt_len))) {
        CHECK(jwt_len > sizeof buf && buf[0] == '#', "JWT too small: %zu needed, nothing written",
              jwt_len);
    }
}

static void test_jwt_same_as_handle_call(const ably_auth *auth) {
    char buf[1024];
    size_t len = 0;
    char *jwt = NULL;
    if (expect_ok(ably_auth_create_jwt_into(auth, full_values(), buf, sizeof buf, &len)) &&
        expect_ok(ably_auth_create_jwt(auth, full_params(), &jwt))) {
        CHECK(part_eq(buf, len, jwt), "the JWT equals ably_auth_create_jwt's (%zu bytes)", len);
    }
    ably_string_free(jwt);
}

/* A 10 MB clientId: the size is reported, then a buffer that large receives it. */
static void test_big_strings(const ably_auth *auth) {
    size_t big = 10u * 1024u * 1024u;
    char *client_id = malloc(big + 1);
    if (!CHECK(client_id != NULL, "malloc 10 MB")) {
        return;
    }
    memset(client_id, 'c', big);
    client_id[big] = '\0';
    ably_token_params_values p = full_values();
    p.client_id.ptr = client_id;
    p.client_id.len = big;
    ably_token_request_values v;
    if (expect_ok(ably_auth_create_token_request_into(auth, p, NULL, 0, &v))) {
        CHECK(v.client_id_len == big && v.len > big, "10 MB clientId: size reported");
        char *buf = malloc(v.len);
        ably_token_request_values w;
        if (buf != NULL &&
            expect_ok(ably_auth_create_token_request_into(auth, p, buf, v.len, &w))) {
            CHECK(w.len == v.len &&
                      memcmp(buf + w.key_name_len + w.capability_len, client_id, big) == 0,
                  "10 MB clientId: written in full");
        }
        free(buf);
    }
    free(client_id);
}

static void test_use_defaults(void) {
    ably_token_params *defaults = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(defaults, 60000));
    expect_ok(ably_token_params_set_client_id(defaults, "default-client"));
    ably_auth *auth = new_auth(defaults);
    if (auth == NULL) {
        return;
    }
    char buf[512];
    ably_token_request_values v;
    ably_token_params_values values;
    memset(&values, 0, sizeof values);
    values.use_defaults = true;
    values.ttl_ms = 5; /* ignored */
    if (expect_ok(ably_auth_create_token_request_into(auth, values, buf, sizeof buf, &v))) {
        CHECK(v.ttl_ms == 60000, "use_defaults: the default ttl (got %lld)", (long long)v.ttl_ms);
        CHECK(part_eq(buf + v.key_name_len + v.capability_len, v.client_id_len, "default-client"),
              "use_defaults: the default clientId");
    }
    memset(&values, 0, sizeof values); /* explicit empty params replace the defaults */
    if (expect_ok(ably_auth_create_token_request_into(auth, values, buf, sizeof buf, &v))) {
        CHECK(v.ttl_ms == 0 && v.client_id_len == 0 && v.capability_len == 0,
              "zeroed values: explicit params with nothing set (RSA9h)");
        CHECK(part_eq(buf, v.key_name_len, KEY_NAME), "zeroed values: keyName");
    }
    ably_auth_free(auth);
}

static void test_bad_values(const ably_auth *auth) {
    char buf[512];
    ably_token_request_values v;
    size_t len;
    ably_token_params_values p = full_values();
    p.ttl_ms = -1;
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003,
                "ttl_ms");
    p = full_values();
    p.timestamp_ms = -1;
    expect_code(ably_auth_create_jwt_into(auth, p, buf, sizeof buf, &len), 40003, "timestamp_ms");
    p = full_values();
    /* Operations are checked by shape (issue 11): upper case is not an operation name. */
    p.capability = str("{\"a\":[\"Fly\"]}");
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003, NULL);
    expect_code(ably_auth_create_jwt_into(auth, p, buf, sizeof buf, &len), 40003, NULL);
    /* A revocation key is a JWT claim: refused for a TokenRequest, in the JWT otherwise. */
    p = full_values();
    p.revocation_key = str("group-7");
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003,
                "revocation key");
    if (expect_ok(ably_auth_create_jwt_into(auth, p, buf, sizeof buf, &len))) {
        CHECK(len < sizeof buf, "the JWT with a revocation key fits");
    }
    p.revocation_key = str("");
    expect_code(ably_auth_create_jwt_into(auth, p, buf, sizeof buf, &len), 40003, NULL);
    p = full_values();
    p.client_id = str("");
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40012, NULL);
    p = full_values();
    p.client_id.ptr = "a\0b";
    p.client_id.len = 3;
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003,
                "`client_id` contains a NUL byte");
    p = full_values();
    p.nonce.ptr = "\xff\xfe";
    p.nonce.len = 2;
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003,
                "`nonce` is not valid UTF-8");
    p = full_values();
    p.capability.ptr = NULL; /* with a length */
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003,
                "`capability` is NULL with a non-zero length");
    p = full_values();
    p.nonce = str("");
    expect_code(ably_auth_create_jwt_into(auth, p, buf, sizeof buf, &len), 40003, NULL);

    /* A failed call leaves the outputs untouched. */
    memset(&v, 0x5a, sizeof v);
    memset(buf, '#', sizeof buf);
    len = 12345;
    p = full_values();
    p.ttl_ms = -1;
    expect_code(ably_auth_create_token_request_into(auth, p, buf, sizeof buf, &v), 40003, NULL);
    expect_code(ably_auth_create_jwt_into(auth, p, buf, sizeof buf, &len), 40003, NULL);
    ably_token_request_values sentinel;
    memset(&sentinel, 0x5a, sizeof sentinel);
    CHECK(memcmp(&v, &sentinel, sizeof v) == 0 && buf[0] == '#' && len == 12345,
          "a failed call writes neither the buffer nor the out-parameters");

    expect_code(ably_auth_create_token_request_into(NULL, full_values(), buf, sizeof buf, &v),
                40003, "`auth`");
    expect_code(ably_auth_create_token_request_into(auth, full_values(), buf, sizeof buf, NULL),
                40003, "`out_values`");
    expect_code(ably_auth_create_token_request_into(auth, full_values(), NULL, 8, &v), 40003,
                "`buf`");
    expect_code(ably_auth_create_jwt_into(auth, full_values(), buf, sizeof buf, NULL), 40003,
                "`out_len`");
    expect_code(ably_auth_create_jwt_into(auth, full_values(), NULL, 8, &len), 40003, "`buf`");
}

int main(void) {
    ably_auth *auth = new_auth(NULL);
    if (auth != NULL) {
        test_full_vector(auth);
        test_buffer_too_small(auth);
        test_jwt_same_as_handle_call(auth);
        test_bad_values(auth);
        test_big_strings(auth);
        ably_auth_free(auth);
    }
    test_use_defaults();
    return test_summary();
}
