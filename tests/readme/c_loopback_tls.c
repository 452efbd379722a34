/*
 * Harness for README.md, "Loopback Ably-compatible server", TLS (tests/readme-snippets.sh
 * inserts the snippet's statements at @SNIPPET_BODY@ and runs the program against a loopback
 * server it started with --tls --ca-out FILE, passing the port in ABLY_README_LOOPBACK_PORT
 * and FILE in ABLY_README_LOOPBACK_CA). The script checks what the snippet prints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ably_auth.h"

/* The whole file, NUL-terminated (malloc'd), or NULL. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *grown = realloc(text, cap);
            if (grown == NULL) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = grown;
        }
        for (size_t i = 0; i < n; i++) text[len + i] = chunk[i];
        len += n;
    }
    fclose(f);
    if (text != NULL) text[len] = '\0';
    return text;
}

/* @SNIPPET_TOP@ */

int main(void) {
    const char *port_text = getenv("ABLY_README_LOOPBACK_PORT");
    const char *ca_path = getenv("ABLY_README_LOOPBACK_CA");
    if (port_text == NULL || ca_path == NULL) {
        fputs("c_loopback_tls: ABLY_README_LOOPBACK_PORT or _CA is not set\n", stderr);
        return 2;
    }
    int32_t port = (int32_t)strtol(port_text, NULL, 10);
    char *ca_pem = read_file(ca_path);
    if (ca_pem == NULL) {
        fprintf(stderr, "c_loopback_tls: cannot read %s\n", ca_path);
        return 2;
    }
    {
        /* @SNIPPET_BODY@ */
    }
    free(ca_pem);
    return 0;
}
