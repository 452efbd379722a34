/*
 * test_features.c: the build's optional parts agree at compile time and at run time
 * (issue 13, item 3): the ably_auth_conf.h CMake generated for ABLY_AUTH_HTTP_CLIENT and the
 * ably_auth_features() bits of the library cargo built with the matching features. Offline
 * signing works in every build; a networked call in a build without the built-in client
 * and no host transport fails with ABLY_ERR_NOT_BUILT_IN.
 */
#include "ably_auth.h"
#include "ably_auth_conf.h"
#include "test_util.h"

static void test_conf_header_matches_the_library(void) {
    int built_in = (ably_auth_features() & ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT) != 0;
    CHECK(built_in == ABLY_AUTH_FEATURE_HTTP_CLIENT,
          "ably_auth_features() says http-client %d, ably_auth_conf.h says %d", built_in,
          ABLY_AUTH_FEATURE_HTTP_CLIENT);
    CHECK((ably_auth_features() & ~(uint32_t)ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT) == 0,
          "no unknown feature bits");
}

static void test_networked_calls_need_a_client(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:keySecret"));
    expect_ok(ably_auth_options_set_endpoint(options, "127.0.0.1"));
    expect_ok(ably_auth_options_set_tls_port(options, 9)); /* discard: nothing answers */
    ably_auth *auth = NULL;
    if (!expect_ok(ably_auth_new(options, &auth))) {
        return;
    }
    ably_token_request *request = NULL;
    expect_ok(ably_auth_create_token_request(auth, NULL, &request));
    ably_token_request_free(request);
    int64_t ms = 0;
    ably_error_info *error = ably_auth_time(auth, &ms);
#if ABLY_AUTH_FEATURE_HTTP_CLIENT
    CHECK(error != NULL && error->code != ABLY_ERR_NOT_BUILT_IN,
          "with the built-in client, time() tries the network");
    ably_error_info_free(error);
#else
    expect_code(error, ABLY_ERR_NOT_BUILT_IN, "http-client");
#endif
    ably_auth_free(auth);
}

int main(void) {
    test_conf_header_matches_the_library();
    test_networked_calls_need_a_client();
    return test_summary();
}
