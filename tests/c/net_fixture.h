/*
 * net_fixture.h: what the networked C tests share (header-only, include once per test):
 * the loopback server and its key, options pointing at it, and small helpers.
 *
 *   fixture_start()             start the server, read its key, reset it; false on failure
 *   key_options(timeout_ms)     options: the server, its key, token auth, the request
 *                               timeout, no fallback retries (a fetch deadline of 4 x T)
 *   make_auth(options)          ably_auth_new, checked (NULL on failure)
 *   tokens_issued()             the server's count of tokens issued
 *   sleep_ms(ms)
 */
#ifndef ABLY_AUTH_NET_FIXTURE_H
#define ABLY_AUTH_NET_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ably_auth.h"
#include "json_oracle.h"
#include "loopback.h"
#include "test_util.h"

static loopback server;
static char key[256];

TU_UNUSED
static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

TU_UNUSED
static int64_t tokens_issued(void) {
    char *body = NULL;
    int64_t n = -1;
    if (loopback_http(&server, "GET", "/_control/stats", NULL, &body) == 200) {
        json_int(body, "tokensIssued", &n);
    }
    free(body);
    return n;
}

TU_UNUSED
static ably_auth_options *key_options(int64_t request_timeout_ms) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_endpoint(options, "127.0.0.1"));
    expect_ok(ably_auth_options_set_tls(options, false));
    expect_ok(ably_auth_options_set_port(options, server.port));
    expect_ok(ably_auth_options_set_timeouts(options, 2000, request_timeout_ms));
    expect_ok(ably_auth_options_set_max_retry_count(options, 0));
    expect_ok(ably_auth_options_set_key(options, key));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    return options;
}

TU_UNUSED
static ably_auth *make_auth(ably_auth_options *options) {
    ably_auth *auth = NULL;
    expect_ok(ably_auth_new(options, &auth));
    return auth;
}

TU_UNUSED
static bool fixture_start(void) {
    if (!CHECK(loopback_start(&server, false), "loopback server started")) {
        return false;
    }
    char *body = NULL;
    if (loopback_http(&server, "GET", "/_control/key", NULL, &body) == 200) {
        json_string(body, "key", key, sizeof key);
    }
    free(body);
    (void)loopback_rule; /* loopback.h helper these tests do not need */
    return CHECK(key[0] != '\0', "got the server's key") &&
           CHECK(loopback_reset(&server), "loopback server reset");
}

#endif
