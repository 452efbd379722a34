/*
 * Harness for README.md, "Loopback Ably-compatible server", plain HTTP (tests/readme-snippets.sh
 * inserts the snippet's statements at @SNIPPET_BODY@ and runs the program against a loopback
 * server it started without TLS, whose port it passes in ABLY_README_LOOPBACK_PORT). The
 * script checks what the snippet prints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ably_auth.h"

/* @SNIPPET_TOP@ */

int main(void) {
    const char *port_text = getenv("ABLY_README_LOOPBACK_PORT");
    if (port_text == NULL) {
        fputs("c_loopback_http: ABLY_README_LOOPBACK_PORT is not set\n", stderr);
        return 2;
    }
    int32_t port = (int32_t)strtol(port_text, NULL, 10);
    {
        /* @SNIPPET_BODY@ */
    }
    return 0;
}
