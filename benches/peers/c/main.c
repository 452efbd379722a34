/* Footprint probe: built twice by benches/peers/run.sh, with -DUSE_ABLY (links
 * libably_auth.a statically and issues one TokenRequest) and without (prints a constant),
 * both stripped; the difference is what the library adds to a program. */
#include <stdio.h>
#ifdef USE_ABLY
#include "ably_auth.h"
#endif

int main(void) {
#ifdef USE_ABLY
    ably_auth_options *options = ably_auth_options_new();
    ably_auth *auth = NULL;
    ably_error_info *err = ably_auth_options_set_key(options, "appId.keyId:keySecret");
    if (!err) err = ably_auth_new(options, &auth);
    ably_token_request *request = NULL;
    if (!err) err = ably_auth_create_token_request(auth, NULL, &request);
    char *json = NULL;
    if (!err) err = ably_token_request_to_json(request, &json);
    if (err) {
        fprintf(stderr, "error %d: %s\n", err->code, err->message);
        ably_error_info_free(err);
        ably_auth_free(auth);
        return 1;
    }
    puts(json);
    ably_string_free(json);
    ably_token_request_free(request);
    ably_auth_free(auth);
#else
    puts("{\"keyName\":\"appId.keyId\"}");
#endif
    return 0;
}
