/*
 * test_renewal_floor.c: renewal ahead of expiry is bounded whatever the token server answers
 * (issue 20 item 4, deliverable 3).
 *
 * A token that counts as expired on arrival (it expires within the expiry margin, 15 s by
 * default) used to be renewed at once, for ever: hundreds of thousands of authCallback calls
 * in a few idle seconds. Now no renewal ahead starts sooner than a floor (1 s after the token
 * in use arrived, doubled for each token in a row of no use: 2 s, 4 s ... up to 60 s), and
 * such a token is logged (warn) and announced to listeners as auth-failed 40142 saying why.
 *
 * Three token servers, each behind an authCallback answering TokenDetails JSON (no network):
 *   short    tokens of 5 s with no `issued`: the margin cannot be capped at half their life
 *   lagging  a token server whose clock is 59 min 55 s behind: 60-minute tokens that expire
 *            5 s from now by our clock, `issued` long past
 *   repeated the same cached token, 8 s from expiry, every time
 * Each Auth gets one token, then stays idle for 3 s; the test counts the authCallback calls
 * (a bound on the count, not on time: a slow machine, valgrind, only makes fewer calls).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ably_auth.h"
#include "test_util.h"

/* The idle time over which calls are counted, and the most calls it allows: the first token
 * and the renewals at 2 s and 6 s (the last not within 3 s; slack), and one more. */
#define WINDOW_MS 3000
#define MOST_CALLS 4

enum server_kind { SHORT_TOKENS, LAGGING_CLOCK, REPEATED_TOKEN };

typedef struct token_server {
    const char *name;
    enum server_kind kind;
    int64_t cached_expires; /* REPEATED_TOKEN: the expiry of the one token it hands out */
    atomic_int calls;
    atomic_int told_why;     /* auth-failed events with 40142 saying why */
    atomic_int warned;       /* warn lines saying why */
    atomic_int other_events; /* failures that are not the expected one */
} token_server;

static void sleep_ms(long ms) {
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

static void answer(void *user_data, const char *params, ably_auth_completion *completion) {
    (void)params;
    token_server *server = user_data;
    int n = atomic_fetch_add(&server->calls, 1);
    int64_t now = tu_unix_time_ms();
    char json[256];
    switch (server->kind) {
    case SHORT_TOKENS:
        snprintf(json, sizeof json, "{\"token\":\"short-%d\",\"expires\":%" PRId64 "}", n,
                 now + 5000);
        break;
    case LAGGING_CLOCK: {
        int64_t issued = now - 3595000;
        snprintf(json, sizeof json,
                 "{\"token\":\"lagging-%d\",\"issued\":%" PRId64 ",\"expires\":%" PRId64 "}",
                 n, issued, issued + 3600000);
        break;
    }
    case REPEATED_TOKEN:
        snprintf(json, sizeof json, "{\"token\":\"cached\",\"expires\":%" PRId64 "}",
                 server->cached_expires);
        break;
    }
    ably_error_info *err = ably_auth_completion_answer_json(completion, json);
    if (err != NULL) {
        printf("     %s: the answer was refused: %s\n", server->name, err->message);
        ably_error_info_free(err);
    }
}

static void listener(void *user_data, const ably_token_details *details,
                     const ably_error_info *error) {
    (void)details;
    token_server *server = user_data;
    if (error == NULL) {
        return;
    }
    if (error->code == 40142 && strstr(error->message, "counts as expired on arrival") &&
        strstr(error->message, "renewal ahead waits")) {
        atomic_fetch_add(&server->told_why, 1);
    } else {
        atomic_fetch_add(&server->other_events, 1);
    }
}

static void log_sink(void *user_data, int32_t level, const char *message) {
    token_server *server = user_data;
    if (level == ABLY_LOG_LEVEL_WARN && strstr(message, "counts as expired on arrival")) {
        atomic_fetch_add(&server->warned, 1);
    }
}

static ably_auth *auth_for(token_server *server) {
    ably_auth_options *options = ably_auth_options_new();
    if (!expect_ok(ably_auth_options_set_auth_callback(options, answer, server, NULL)) ||
        !expect_ok(ably_auth_options_set_log(options, log_sink, ABLY_LOG_LEVEL_WARN, server,
                                             NULL))) {
        ably_auth_options_free(options);
        return NULL;
    }
    ably_auth *auth = NULL;
    if (!expect_ok(ably_auth_new(options, &auth))) {
        return NULL;
    }
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, listener, server, NULL, &id));
    return auth;
}

int main(void) {
    token_server servers[3] = {
        {.name = "tokens shorter than the margin, no issued", .kind = SHORT_TOKENS},
        {.name = "a token server whose clock lags", .kind = LAGGING_CLOCK},
        {.name = "a server that repeats its cached token", .kind = REPEATED_TOKEN,
         .cached_expires = tu_unix_time_ms() + 8000},
    };
    ably_auth *auths[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        auths[i] = auth_for(&servers[i]);
        if (auths[i] == NULL) {
            continue;
        }
        ably_token_details *details = NULL;
        char what[128];
        snprintf(what, sizeof what, "%s: authorize (a token valid for a few seconds)",
                 servers[i].name);
        tu_expect_ok(__FILE__, __LINE__, what,
                     ably_auth_authorize(auths[i], NULL, NULL, &details));
        ably_token_details_free(details);
    }
    /* All three stay idle at once. */
    sleep_ms(WINDOW_MS);
    for (int i = 0; i < 3; i++) {
        /* Counted before the free: the free stops renewal. */
        int calls = atomic_load(&servers[i].calls);
        ably_auth_free(auths[i]);
        if (auths[i] == NULL) {
            continue;
        }
        CHECK(calls >= 1 && calls <= MOST_CALLS,
              "%s: %d authCallback calls in %d ms idle (at most %d)", servers[i].name, calls,
              WINDOW_MS, MOST_CALLS);
        CHECK(atomic_load(&servers[i].told_why) >= 1,
              "%s: listeners heard auth-failed 40142 saying why (%d times)", servers[i].name,
              atomic_load(&servers[i].told_why));
        CHECK(atomic_load(&servers[i].other_events) == 0, "%s: and no other failure (%d)",
              servers[i].name, atomic_load(&servers[i].other_events));
        CHECK(atomic_load(&servers[i].warned) >= 1, "%s: a warning says why (%d lines)",
              servers[i].name, atomic_load(&servers[i].warned));
    }
    return test_summary();
}
