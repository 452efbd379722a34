/*
 * Harness for README.md, "Networked calls from C" (tests/readme-snippets.sh inserts the
 * snippet's functions at @SNIPPET_TOP@ and its statements at @SNIPPET_BODY@).
 *
 * What the snippet calls yours: fetch_token_from_my_server stands for the application's
 * own token server and answers at once with a token, so the snippet runs offline and its
 * authorization header comes from that token. main fails unless the callback ran once.
 */
#include <stdio.h>

#include "ably_auth.h"

static int fetches;

static const char *fetch_token_from_my_server(void *user_data, const char *token_params_json) {
    fetches++;
    return user_data != NULL && token_params_json != NULL ? "token-from-my-server" : NULL;
}

static int my_state_value;
static void *const my_state = &my_state_value;

/* @SNIPPET_TOP@ */

int main(void) {
    {
        /* @SNIPPET_BODY@ */
    }
    if (fetches != 1) {
        fprintf(stderr, "c_networked: the authCallback ran %d times, expected 1\n", fetches);
        return 1;
    }
    puts("c_networked: the authCallback answered and the header was made");
    return 0;
}
