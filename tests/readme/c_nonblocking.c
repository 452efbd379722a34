/*
 * Harness for README.md, "Non-blocking calls from C" (tests/readme-snippets.sh inserts the
 * snippet's functions at @SNIPPET_TOP@ and its statements at @SNIPPET_BODY@).
 *
 * The snippet's `auth` gets its tokens from an authCallback that answers at once, so the
 * snippet runs offline; log_error and send_with stand for the application's own. A
 * cancelled or not-yet-answered call is a legitimate outcome of the snippet (it cancels its
 * call), so main checks what is certain: the Auth was made, nothing failed other than with
 * ABLY_ERR_CANCELLED or ABLY_ERR_NO_VALID_TOKEN, and valgrind (run by the script) finds no
 * leak and no error.
 */
#include <stdio.h>
#include <string.h>

#include "ably_auth.h"

static int unexpected_errors;

static void log_error(const char *message) {
    /* The snippet logs the completion's error: only cancellation (by ably_call_cancel or
     * the shutdown) is expected here. */
    if (message == NULL || (strstr(message, "cancel") == NULL && strstr(message, "shut down") == NULL)) {
        fprintf(stderr, "c_nonblocking: unexpected error: %s\n", message ? message : "(null)");
        unexpected_errors++;
    }
}

static void send_with(const char *header) {
    if (strncmp(header, "Bearer ", 7) != 0) {
        fprintf(stderr, "c_nonblocking: header is not a Bearer header\n");
        unexpected_errors++;
    }
}

static void answer_now(void *user_data, const char *token_params_json,
                       ably_auth_completion *completion) {
    (void)user_data;
    (void)token_params_json;
    ably_error_info_free(ably_auth_completion_answer_token(completion, "token-from-my-server"));
}

/* @SNIPPET_TOP@ */

int main(void) {
    ably_auth *auth = NULL;
    ably_auth_options *options = ably_auth_options_new();
    ably_error_info *setup = ably_auth_options_set_auth_callback(options, answer_now, NULL, NULL);
    if (setup == NULL) {
        setup = ably_auth_new(options, &auth);
    } else {
        ably_auth_options_free(options);
    }
    if (setup != NULL) {
        fprintf(stderr, "c_nonblocking: set-up failed: %s\n", setup->message);
        ably_error_info_free(setup);
        return 1;
    }
    {
        /* @SNIPPET_BODY@ */
    }
    ably_auth_free(auth);
    if (unexpected_errors != 0) {
        return 1;
    }
    puts("c_nonblocking: started, read the cached header, cancelled, shut down");
    return 0;
}
