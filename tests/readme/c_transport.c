/*
 * Harness for README.md, "Your own HTTP stack (host transport)" (tests/readme-snippets.sh
 * inserts the snippet's functions at @SNIPPET_TOP@ and its statements at @SNIPPET_BODY@).
 *
 * my_http_get, my_http_post, my_response and report stand for the application's own HTTP
 * stack: here an in-memory one that answers GET .../time with [1234567890123], so the
 * snippet runs offline. main makes an Auth with the snippet's options and checks that
 * ably_auth_time() gets that answer through the snippet's transport.
 */
#ifndef _POSIX_C_SOURCE /* builder_ledger.h, included first, defines it too */
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"

typedef struct my_response {
    int32_t status;
    const char *header_names[1];
    const char *header_values[1];
    size_t header_count;
    uint8_t *body; /* malloc'd */
    size_t body_len;
    bool could_not_connect;
    const char *error;
} my_response;

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int requests_seen;
static bool saw_ably_version_header;

static int my_http_get(const char *url, const char **names, const char **values, size_t n,
                       int64_t timeout_ms, my_response *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&seen_lock);
    requests_seen++;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "X-Ably-Version") == 0 && values[i][0] != '\0') {
            saw_ably_version_header = true;
        }
    }
    pthread_mutex_unlock(&seen_lock);
    size_t len = strlen(url);
    if (timeout_ms <= 0 || len < 5 || strcmp(url + len - 5, "/time") != 0) {
        r->could_not_connect = true;
        r->error = "the test stack only knows /time";
        return 0;
    }
    static const char answer[] = "[1234567890123]";
    r->body = malloc(sizeof answer - 1);
    if (r->body == NULL) {
        r->error = "out of memory";
        return 0;
    }
    memcpy(r->body, answer, sizeof answer - 1);
    r->body_len = sizeof answer - 1;
    r->status = 200;
    r->header_names[0] = "Content-Type";
    r->header_values[0] = "application/json";
    r->header_count = 1;
    return 1;
}

static int my_http_post(const char *url, const char **names, const char **values, size_t n,
                        const uint8_t *body, size_t body_len, int64_t timeout_ms,
                        my_response *r) {
    (void)url;
    (void)names;
    (void)values;
    (void)n;
    (void)body;
    (void)body_len;
    (void)timeout_ms;
    memset(r, 0, sizeof *r);
    r->error = "the test stack answers no POST";
    return 0;
}

static void my_response_free(my_response *r) {
    free(r->body);
    r->body = NULL;
}

static void report(const ably_error_info *err) {
    fprintf(stderr, "c_transport: set_http_transport failed: %s\n", err->message);
}

/* @SNIPPET_TOP@ */

int main(void) {
    ably_auth_options *options = ably_auth_options_new();
    {
        /* @SNIPPET_BODY@ */
        if (err != NULL) {
            ably_auth_options_free(options);
            return 1;
        }
    }
    ably_auth *auth = NULL;
    ably_error_info *err = ably_auth_options_set_token(options, "a-token");
    if (err == NULL) {
        err = ably_auth_new(options, &auth);
    } else {
        ably_auth_options_free(options);
    }
    int64_t ms = 0;
    if (err == NULL) {
        err = ably_auth_time(auth, &ms);
    }
    ably_auth_free(auth);
    if (err != NULL) {
        fprintf(stderr, "c_transport: %d %s\n", (int)err->code, err->message);
        ably_error_info_free(err);
        return 1;
    }
    pthread_mutex_lock(&seen_lock);
    bool ok = ms == 1234567890123 && requests_seen == 1 && saw_ably_version_header;
    pthread_mutex_unlock(&seen_lock);
    if (!ok) {
        fprintf(stderr, "c_transport: time %lld after %d requests (X-Ably-Version seen: %d)\n",
                (long long)ms, requests_seen, (int)saw_ably_version_header);
        return 1;
    }
    puts("c_transport: ably_auth_time() answered through the snippet's transport");
    return 0;
}
