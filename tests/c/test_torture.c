/*
 * test_torture.c: a torture test over the whole C ABI (issue 20, deliverable 7).
 *
 * Several threads run random but reproducible (seeded) sequences of calls over every
 * public function of ably_auth.h, for a fixed time:
 * - good and bad arguments: NULL, consumed or freed builders (options, params,
 *   completions, exchanges), invalid UTF-8, values out of range, unknown enums;
 * - callbacks that call random allowed functions themselves, at random moments: the
 *   authCallback, listeners, the log sink, the host HTTP transport's send and cancel, the
 *   `done` of every non-blocking call and every free_user_data (frees, shutdowns, cancels,
 *   listener removals, new calls);
 * - an in-process fake of the Ably server behind the host transport
 *   (ably_auth_options_set_http_transport), answering `/keys/.../requestToken`, `/time`,
 *   revokeTokens, REST requests and the authUrl inline, late, twice (also from two threads
 *   at once), never (until the end of the run), or wrongly (errors, 40140-class token
 *   errors, 40104, garbage, bodies over the limit, invalid answers), and an authCallback
 *   answering with token strings, TokenDetails or TokenRequest JSON, errors, invalid
 *   answers, late from another thread, twice or never.
 *
 * What it checks, besides "no crash, no sanitizer or valgrind report, no leak":
 * - every `done` runs exactly once when its `_async` call returned NULL, never when it
 *   returned an error, and its free_user_data runs exactly once, after `done`;
 * - every free_user_data (authCallback, listener, log sink, transport, per-call options,
 *   completions, failed setters and calls) runs exactly once, and none runs, nor any
 *   callback, after ably_auth_free returned (for a free made outside the Auth's callbacks);
 * - a listener is never called after ably_auth_remove_listener returned;
 * - argument errors carry their documented codes; no error message or log line carries a
 *   key secret or token; renewal ahead of expiry does not spin (authCallback calls per
 *   second of an idle Auth are bounded, generously);
 * - no call is stuck: a watchdog thread aborts, naming the stuck calls, when one call has
 *   been in progress longer than the hang guard (deadlocks);
 * - every function of include/ably_auth.h was called (the header is read at run time, so a
 *   new function that the torture does not know fails the run).
 *
 * Usage: test_torture [--seed N] [--seconds S] [--threads T] [--skip LIST] [--hang S]
 *                     [--list-moves]
 * Environment: TORTURE_SEED, TORTURE_SECONDS, TORTURE_THREADS, TORTURE_SKIP (the
 * arguments win). The seed is printed first; `--seed N` replays a run as far as thread
 * scheduling allows (each thread and each callback registration draws from its own
 * generator, derived from the seed). The time budget defaults to 20 s, 20 s with ASan and
 * 30 s under valgrind (detected from LD_PRELOAD).
 *
 * `--skip` takes a comma-separated list of move groups (see --list-moves). Groups 1-5 are
 * the moves that reach the known bugs of issue 20 items 1-5, so that the test can run in
 * CI while their fixes land; every group is on by default (ctest passes the CMake cache
 * variable ABLY_AUTH_TORTURE_SKIP, tests/c/CMakeLists.txt). A skipped group's findings are
 * counted and printed as notes, not failures. Two probes make items 3 and 4 quick to reach:
 * a Basic-auth Auth whose header `done` frees it at once (item 3), and an idle Auth whose
 * tokens arrive inside their renewal margin, counting token requests in one second (item 4).
 *
 * How each known bug shows (found on the code before the fixes):
 *   1  ASan: heap-use-after-free in strlen from ably_http_exchange_fail/_respond (valgrind:
 *      invalid read); within the first second.
 *   2  "free_user_data of a authCallback|transport|listener of Auth #N ran after
 *      ably_auth_free returned".
 *   3  a crash (SIGSEGV in AuthCall::drop) or, under valgrind, an invalid read, right after
 *      "first ably_auth_free from a done whose _async call had not returned yet".
 *   4  "renewal ahead spins: N token requests in 1 s on an idle Auth".
 *   5  the watchdog: a listener in ably_auth_shutdown and another thread in
 *      ably_auth_remove_listener or ably_auth_free, both stuck.
 * With all groups on, the first fix of item 5 (a removal not waiting for a listener inside a
 * shutdown or free) still showed as "listener N still running after
 * ably_auth_remove_listener returned", and frees and shutdowns from callbacks on several
 * threads still waited for each other (the watchdog: a done in ably_auth_free, listeners in
 * ably_auth_shutdown; also a listener on a library worker shutting down with no limit).
 * test_soundness2's T1-T3 hold those cases. It also found a `done` that never ran ("a
 * call's free_user_data ran before its done"): a completion taken by a worker or a cancel
 * just before ably_auth_free's cancel was queued after the free's drain (a Rust unit test in
 * src/auth/pool.rs holds it). The removal check is exact: a removal that
 * returns NULL leaves no call of the listener on another thread, and ABLY_ERR_SHUT_DOWN
 * comes only once an ably_auth_free of the Auth has started.
 * Group 11 holds the further breaches of the header this test found: a refused _async call
 * leaves *out_call set (NULL auth); ably_auth_request_async accepts a path without a
 * leading '/' that the blocking form refuses; ably_auth_options_set_http_transport on
 * options that are not live never runs free_user_data; a networked call from inside the log
 * sink is not always refused with ABLY_ERR_REENTRANT_CALL. All four are fixed; their
 * deterministic regression tests are the group 11 tests of test_soundness2.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ably_auth.h"

/* ---------------------------------------------------------------------------------------
 * Every public function, for the coverage table (checked against the header at run time).
 */
#define ABLY_FUNCTIONS(X) \
    X(ably_auth_new) \
    X(ably_auth_free) \
    X(ably_auth_create_token_request) \
    X(ably_auth_create_token_request_with_options) \
    X(ably_auth_create_token_request_into) \
    X(ably_auth_create_jwt_into) \
    X(ably_auth_create_jwt) \
    X(ably_auth_client_id) \
    X(ably_auth_token_details) \
    X(ably_auth_token_remaining_ms) \
    X(ably_auth_request_token) \
    X(ably_auth_authorize) \
    X(ably_auth_authorization_header) \
    X(ably_auth_token_rejected) \
    X(ably_auth_time) \
    X(ably_auth_request_token_async) \
    X(ably_auth_authorize_async) \
    X(ably_auth_authorization_header_async) \
    X(ably_auth_time_async) \
    X(ably_auth_revoke_tokens_async) \
    X(ably_auth_request_async) \
    X(ably_call_cancel) \
    X(ably_call_free) \
    X(ably_auth_shutdown) \
    X(ably_auth_cached_authorization_header) \
    X(ably_auth_completion_answer_token) \
    X(ably_auth_completion_answer_json) \
    X(ably_auth_completion_answer_error) \
    X(ably_auth_completion_token) \
    X(ably_auth_completion_json) \
    X(ably_auth_completion_error) \
    X(ably_error_info_free) \
    X(ably_jwt_embed_token) \
    X(ably_auth_add_listener) \
    X(ably_auth_remove_listener) \
    X(ably_auth_options_new) \
    X(ably_auth_options_free) \
    X(ably_auth_options_set_key) \
    X(ably_auth_options_set_client_id) \
    X(ably_auth_options_set_token) \
    X(ably_auth_options_set_token_details) \
    X(ably_auth_options_set_use_token_auth) \
    X(ably_auth_options_set_default_token_params) \
    X(ably_auth_options_set_auth_url) \
    X(ably_auth_options_set_auth_method) \
    X(ably_auth_options_add_auth_header) \
    X(ably_auth_options_add_auth_param) \
    X(ably_auth_options_set_auth_callback) \
    X(ably_auth_options_set_query_time) \
    X(ably_auth_options_set_endpoint) \
    X(ably_auth_options_set_environment) \
    X(ably_auth_options_set_rest_host) \
    X(ably_auth_options_set_fallback_hosts) \
    X(ably_auth_options_set_tls) \
    X(ably_auth_options_set_port) \
    X(ably_auth_options_set_tls_port) \
    X(ably_auth_options_set_timeouts) \
    X(ably_auth_options_add_ca_pem) \
    X(ably_auth_options_add_resolve) \
    X(ably_auth_options_set_proxy) \
    X(ably_auth_options_set_proxy_from_env) \
    X(ably_auth_options_set_platform_verifier) \
    X(ably_auth_options_set_token_expiry_margin) \
    X(ably_auth_options_set_fallback_retry_timeout) \
    X(ably_auth_options_set_max_retry_count) \
    X(ably_auth_options_set_max_retry_duration) \
    X(ably_auth_options_set_max_calls_in_flight) \
    X(ably_auth_options_add_agent) \
    X(ably_auth_options_set_add_request_ids) \
    X(ably_auth_options_set_worker_threads) \
    X(ably_auth_options_set_renew_ahead) \
    X(ably_auth_options_set_log) \
    X(ably_token_params_new) \
    X(ably_token_params_free) \
    X(ably_token_params_set_ttl) \
    X(ably_token_params_set_capability) \
    X(ably_token_params_set_client_id) \
    X(ably_token_params_set_timestamp) \
    X(ably_token_params_set_nonce) \
    X(ably_token_params_set_revocation_key) \
    X(ably_token_params_get) \
    X(ably_token_params_from_json) \
    X(ably_token_params_to_json) \
    X(ably_token_params_clone) \
    X(ably_auth_request) \
    X(ably_http_response_status) \
    X(ably_http_response_body) \
    X(ably_http_response_header) \
    X(ably_http_response_error) \
    X(ably_http_response_free) \
    X(ably_auth_revoke_tokens) \
    X(ably_revocation_result_success_count) \
    X(ably_revocation_result_failure_count) \
    X(ably_revocation_result_len) \
    X(ably_revocation_result_target) \
    X(ably_revocation_result_is_success) \
    X(ably_revocation_result_issued_before) \
    X(ably_revocation_result_applies_at) \
    X(ably_revocation_result_error) \
    X(ably_revocation_result_to_json) \
    X(ably_revocation_result_free) \
    X(ably_string_free) \
    X(ably_token_details_from_json) \
    X(ably_token_details_to_json) \
    X(ably_token_details_free) \
    X(ably_token_details_token) \
    X(ably_token_details_expires) \
    X(ably_token_details_issued) \
    X(ably_token_details_capability) \
    X(ably_token_details_client_id) \
    X(ably_token_details_is_expired) \
    X(ably_token_request_from_json) \
    X(ably_token_request_to_json) \
    X(ably_token_request_free) \
    X(ably_token_request_key_name) \
    X(ably_token_request_ttl) \
    X(ably_token_request_capability) \
    X(ably_token_request_client_id) \
    X(ably_token_request_timestamp) \
    X(ably_token_request_nonce) \
    X(ably_token_request_mac) \
    X(ably_auth_options_set_http_transport) \
    X(ably_http_exchange_id) \
    X(ably_http_exchange_method) \
    X(ably_http_exchange_url) \
    X(ably_http_exchange_header_count) \
    X(ably_http_exchange_header) \
    X(ably_http_exchange_body) \
    X(ably_http_exchange_timeout_ms) \
    X(ably_http_exchange_max_response_bytes) \
    X(ably_http_exchange_purpose) \
    X(ably_http_exchange_respond) \
    X(ably_http_exchange_fail) \
    X(ably_auth_version) \
    X(ably_auth_version_number) \
    X(ably_auth_features)

#define COV_ENUM(name) COV_##name,
enum { ABLY_FUNCTIONS(COV_ENUM) COV_COUNT };
#define COV_NAME(name) #name,
static const char *const cov_names[COV_COUNT] = {ABLY_FUNCTIONS(COV_NAME)};
static atomic_long cov_hits[COV_COUNT];

/* ---------------------------------------------------------------------------------------
 * Move groups. 1-5 reach the known bugs of issue 20 items 1-5.
 */
enum {
    G_URL_ECHO = 1,       /* transport answers quoting the exchange's URL or headers */
    G_LATE_DESTRUCTOR,    /* fail on free_user_data/callbacks after ably_auth_free returned */
    G_FREE_FROM_DONE,     /* ably_auth_free from `done` while the starting call may run */
    G_SHORT_TOKENS,       /* tokens inside their renewal margin; the spin probe */
    G_LISTENER_SHUTDOWN,  /* listeners call ably_auth_shutdown(auth, -1) */
    G_BAD_ARGS,           /* NULL, stale builders, invalid UTF-8, bad enums */
    G_CALLBACK_CALLS,     /* callbacks calling back into the library */
    G_LATE_ANSWERS,       /* answers late, twice, racing, never */
    G_WRONG_ANSWERS,      /* error statuses, token errors, garbage */
    G_FREES,              /* frees and shutdowns of live Auths by workers and callbacks */
    G_NEW_FINDINGS,       /* checks for the further contract breaches this test found */
    G_COUNT
};
static const char *const group_help[G_COUNT] = {
    [G_URL_ECHO] = "issue 20 item 1: the host transport fails with a message quoting "
                   "ably_http_exchange_url(), or responds echoing the request's header "
                   "values as response headers",
    [G_LATE_DESTRUCTOR] = "issue 20 item 2: a free_user_data or callback that runs after "
                          "ably_auth_free returned is a failure (skipped: counted only)",
    [G_FREE_FROM_DONE] = "issue 20 item 3: `done` calls ably_auth_free while the _async call "
                         "that started it may still be running on its thread (skipped: only "
                         "when no thread of the test is inside a call on that Auth)",
    [G_SHORT_TOKENS] = "issue 20 item 4: tokens already inside their renewal margin (shorter "
                       "than the margin without issued, a lagging token server, a repeated "
                       "token, expired tokens) and the idle spin probe",
    [G_LISTENER_SHUTDOWN] = "issue 20 item 5: listeners call ably_auth_shutdown(auth, -1) while "
                            "`done`s and workers remove listeners or free the Auth (skipped: "
                            "listeners shut down with a bounded timeout)",
    [G_BAD_ARGS] = "bad arguments: NULL, consumed/freed builders, invalid UTF-8, values out of "
                   "range, unknown enums",
    [G_CALLBACK_CALLS] = "callbacks (authCallback, listeners, log sink, send/cancel, done, "
                         "free_user_data) call random allowed functions",
    [G_LATE_ANSWERS] = "exchanges and completions answered late, twice, from two threads at "
                       "once, or never (until the end of the run)",
    [G_WRONG_ANSWERS] = "the fake server and the authCallback answer wrongly: error statuses, "
                        "40140-class token errors, 40104, garbage, too large, invalid answers",
    [G_NEW_FINDINGS] = "checks of the further breaches of the header this test found "
                        "(listed at the top of test_torture.c): a refused _async call leaves "
                        "*out_call set; ably_auth_request_async accepts a path without a "
                        "leading '/'; a refused set_http_transport never runs free_user_data; "
                        "a networked call from the log sink is not always refused "
                        "(skipped: counted only)",
    [G_FREES] = "ably_auth_free, ably_auth_shutdown, ably_call_free and ably_call_cancel at "
                "random moments, from workers and from callbacks",
};
static bool g_skip[G_COUNT];
#define ON(g) (!g_skip[(g)])

/* ---------------------------------------------------------------------------------------
 * Configuration, clocks, randomness, failures.
 */
static uint64_t g_seed;
static int g_seconds = 20;
static int g_threads = 4;
static int g_hang_s = 40;
static bool g_valgrind;
static atomic_bool g_stop;
static atomic_bool g_teardown;
static atomic_bool g_watchdog_stop;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t g_start_ms;

static void sleep_ms(int64_t ms) {
    if (ms <= 0) {
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

typedef struct {
    uint64_t s;
} rng_t;
static uint64_t rng_next(rng_t *r) {
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static uint32_t below(rng_t *r, uint32_t n) {
    return n ? (uint32_t)(rng_next(r) % n) : 0;
}
static bool chance(rng_t *r, uint32_t per_mille) {
    return below(r, 1000) < per_mille;
}
static rng_t rng_derive(uint64_t a, uint64_t b) {
    rng_t r = {a ^ (b * UINT64_C(0xD1B54A32D192ED03))};
    rng_next(&r);
    return r;
}

static atomic_int g_failures;
static atomic_long g_known[G_COUNT]; /* observations of skipped known bugs */
static pthread_mutex_t g_print_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 2, 3))) static void fail_at(int line, const char *fmt, ...) {
    int n = atomic_fetch_add(&g_failures, 1) + 1;
    if (n > 40) {
        return;
    }
    pthread_mutex_lock(&g_print_lock);
    printf("FAIL [%.1f s, line %d] ", (double)(now_ms() - g_start_ms) / 1000.0, line);
    va_list args;
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
    pthread_mutex_unlock(&g_print_lock);
}
#define FAIL(...) fail_at(__LINE__, __VA_ARGS__)

/* A finding of known bug `group`: a failure, or only counted when that group is skipped. */
__attribute__((format(printf, 3, 4))) static void known_at(int line, int group, const char *fmt,
                                                            ...) {
    char text[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    if (ON(group)) {
        fail_at(line, "(group %d) %s", group, text);
    } else if (atomic_fetch_add(&g_known[group], 1) == 0) {
        pthread_mutex_lock(&g_print_lock);
        printf("note [%.1f s] skipped group %d seen: %s\n",
               (double)(now_ms() - g_start_ms) / 1000.0, group, text);
        fflush(stdout);
        pthread_mutex_unlock(&g_print_lock);
    }
}
#define KNOWN(group, ...) known_at(__LINE__, (group), __VA_ARGS__)

/* ---------------------------------------------------------------------------------------
 * Watchdog: every API call made through API()/APIV() records, per thread, when the
 * outermost one started; a call older than the hang guard aborts the run with the list of
 * calls in progress.
 */
typedef struct {
    atomic_int used;
    atomic_int depth;
    atomic_llong outer_start;
    _Atomic(const char *) outer_fn;
    _Atomic(const char *) inner_fn;
    _Atomic(const char *) role; /* the test's worker, or the callback of ours running */
} wd_slot;
enum { WD_SLOTS = 2048 };
static wd_slot wd_slots[WD_SLOTS];
static pthread_key_t wd_key;
static _Thread_local wd_slot *tl_slot;
static atomic_long g_progress;

static wd_slot *wd_mine(void);
/* Name what this thread is doing (for the watchdog); returns the previous name. */
static const char *wd_role(const char *role) {
    wd_slot *s = wd_mine();
    return atomic_exchange(&s->role, role);
}

static void wd_release(void *p) {
    wd_slot *s = p;
    atomic_store(&s->role, NULL);
    atomic_store(&s->depth, 0);
    atomic_store(&s->used, 0);
}
static wd_slot *wd_mine(void) {
    if (tl_slot == NULL) {
        for (int i = 0; i < WD_SLOTS; i++) {
            int expected = 0;
            if (atomic_compare_exchange_strong(&wd_slots[i].used, &expected, 1)) {
                tl_slot = &wd_slots[i];
                pthread_setspecific(wd_key, tl_slot);
                break;
            }
        }
        if (tl_slot == NULL) {
            static wd_slot overflow; /* not watched */
            return &overflow;
        }
    }
    return tl_slot;
}
static void wd_enter(int fn) {
    atomic_fetch_add(&cov_hits[fn], 1);
    wd_slot *s = wd_mine();
    if (atomic_fetch_add(&s->depth, 1) == 0) {
        atomic_store(&s->outer_start, now_ms());
        atomic_store(&s->outer_fn, cov_names[fn]);
    }
    atomic_store(&s->inner_fn, cov_names[fn]);
}
static void wd_leave(void) {
    atomic_fetch_sub(&wd_mine()->depth, 1);
    atomic_fetch_add(&g_progress, 1);
}

#define API(fn, ...)                                       \
    __extension__({                                        \
        wd_enter(COV_##fn);                                \
        __typeof__(fn(__VA_ARGS__)) api_result_ = fn(__VA_ARGS__); \
        wd_leave();                                        \
        api_result_;                                       \
    })
#define APIV(fn, ...)          \
    do {                       \
        wd_enter(COV_##fn);    \
        fn(__VA_ARGS__);       \
        wd_leave();            \
    } while (0)

static void *watchdog_main(void *arg) {
    (void)arg;
    while (!atomic_load(&g_watchdog_stop)) {
        sleep_ms(250);
        int64_t now = now_ms();
        for (int i = 0; i < WD_SLOTS; i++) {
            wd_slot *s = &wd_slots[i];
            if (!atomic_load(&s->used) || atomic_load(&s->depth) <= 0) {
                continue;
            }
            int64_t age = now - atomic_load(&s->outer_start);
            if (age > (int64_t)g_hang_s * 1000) {
                printf("FAIL watchdog: a call has been in progress for %.1f s (hang guard %d s; "
                       "run time %.1f s): deadlock or unbounded wait. Calls in progress:\n",
                       (double)age / 1000.0, g_hang_s, (double)(now - g_start_ms) / 1000.0);
                for (int j = 0; j < WD_SLOTS; j++) {
                    wd_slot *t = &wd_slots[j];
                    if (atomic_load(&t->used) && atomic_load(&t->depth) > 0) {
                        const char *role = atomic_load(&t->role);
                        printf("  thread slot %d (%s): %s (outermost, %.1f s) ... %s (innermost), "
                               "depth %d\n",
                               j, role ? role : "?", atomic_load(&t->outer_fn),
                               (double)(now - atomic_load(&t->outer_start)) / 1000.0,
                               atomic_load(&t->inner_fn), atomic_load(&t->depth));
                    }
                }
                printf("seed %" PRIu64 " (replay: test_torture --seed %" PRIu64 ")\n", g_seed,
                       g_seed);
                fflush(stdout);
                abort();
            }
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Secrets: the key secret and every token carry this marker; no error message and no log
 * line may contain it.
 */
#define SECRET_MARK "SeCrEt"
#define FAKE_KEY "torture.key1:" SECRET_MARK "KeySecretPadding0123"
#define SIGNER_KEY "torture.key1:" SECRET_MARK "KeySecretPadding0123"
static atomic_long g_token_serial;

static void check_error(const ably_error_info *e, const char *where) {
    for (int depth = 0; e != NULL && depth < 16; depth++, e = e->cause) {
        if (e->message == NULL) {
            FAIL("%s: error %d with a NULL message", where, (int)e->code);
            return;
        }
        if (strstr(e->message, SECRET_MARK) != NULL) {
            FAIL("%s: error %d quotes a secret: %s", where, (int)e->code, e->message);
        }
        if (strstr(e->message, "panic") != NULL) {
            FAIL("%s: error %d reports a panic: %s", where, (int)e->code, e->message);
        }
    }
}
/* Check and free an error; returns its code (0 for NULL). */
static int32_t take_error(ably_error_info *e, const char *where) {
    if (e == NULL) {
        return 0;
    }
    check_error(e, where);
    int32_t code = e->code;
    APIV(ably_error_info_free, e);
    return code;
}
/* The call must fail with `code`. */
static void expect_code_at(int line, ably_error_info *e, int32_t code, const char *what) {
    if (e == NULL) {
        fail_at(line, "%s succeeded; expected error %d", what, (int)code);
        return;
    }
    if (e->code != code) {
        fail_at(line, "%s failed with %d (%s); expected %d", what, (int)e->code,
                e->message ? e->message : "", (int)code);
    }
    take_error(e, what);
}
#define EXPECT_CODE(call, code) expect_code_at(__LINE__, (call), (code), #call)
/* The call must fail (any code). */
static void expect_fail_at(int line, ably_error_info *e, const char *what) {
    if (e == NULL) {
        fail_at(line, "%s succeeded; expected an error", what);
        return;
    }
    take_error(e, what);
}
#define EXPECT_FAIL(call) expect_fail_at(__LINE__, (call), #call)
/* The call may fail with one of the listed codes (0 ends the list; success is allowed). */
static void expect_one_of_at(int line, ably_error_info *e, const char *what, const int32_t *codes) {
    if (e == NULL) {
        return;
    }
    bool ok = false;
    for (const int32_t *c = codes; *c != 0; c++) {
        ok = ok || *c == e->code;
    }
    if (!ok) {
        fail_at(line, "%s failed with an unexpected %d: %s", what, (int)e->code,
                e->message ? e->message : "");
    }
    take_error(e, what);
}
#define EXPECT_OK_OR(call, ...) \
    expect_one_of_at(__LINE__, (call), #call, (const int32_t[]){__VA_ARGS__, 0})

#define BAD_UTF8 "bad \xff\xfe utf8"

/* ---------------------------------------------------------------------------------------
 * Stale builders: consumed or freed options, params, completions and exchanges. Passing
 * them again is allowed (handles, not addresses) and gives 40003.
 */
enum { STALE_N = 64 };
typedef struct {
    pthread_mutex_t lock;
    void *items[STALE_N];
    unsigned next;
} stale_ring;
static stale_ring stale_options = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static stale_ring stale_params = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static stale_ring stale_completions = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static stale_ring stale_exchanges = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static void stale_push(stale_ring *ring, void *p) {
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&ring->lock);
    ring->items[ring->next++ % STALE_N] = p;
    pthread_mutex_unlock(&ring->lock);
}
static void *stale_pick(stale_ring *ring, rng_t *r) {
    pthread_mutex_lock(&ring->lock);
    unsigned n = ring->next < STALE_N ? ring->next : STALE_N;
    void *p = n ? ring->items[below(r, n)] : NULL;
    pthread_mutex_unlock(&ring->lock);
    return p;
}

/* ---------------------------------------------------------------------------------------
 * Worlds (one Auth each) and registrations (one user_data each).
 */
#define ST_BLOCKING UINT64_C(1)
#define ST_ASYNC (UINT64_C(1) << 16)
#define ST_GEN (UINT64_C(1) << 32)
#define ST_CLOSING (UINT64_C(1) << 63)
#define ST_COUNT_MASK UINT64_C(0xFFFF)

struct reg;
typedef struct world {
    int id;
    _Atomic(ably_auth *) auth;
    _Atomic uint64_t state; /* CLOSING | gen | async users | blocking users (test threads) */
    atomic_bool free_started;
    atomic_bool strict_freed; /* ably_auth_free returned, called outside its callbacks */
    atomic_bool shut;
    atomic_long authcb_calls, token_calls, transport_token_calls;
    int64_t born;
    int64_t request_timeout;
    int token_shape; /* 0 random; >0: spin probe shapes */
    int64_t fixed_expires;
    pthread_mutex_t lock;
    struct {
        uint64_t id;
        struct reg *reg;
    } listeners[16];
    int nlisteners;
    struct world *next;
} world;

typedef enum { R_AUTH_CALLBACK, R_LISTENER, R_LOG, R_TRANSPORT, R_CALL } reg_kind;
enum { CALL_TOKEN, CALL_AUTHORIZE, CALL_HEADER, CALL_TIME, CALL_REVOKE, CALL_REQUEST };

typedef struct reg {
    reg_kind kind;
    world *w;
    uint64_t seed;
    atomic_uint invocations;
    atomic_int calls;
    atomic_int frees;
    atomic_int in_call;
    bool has_free;
    int32_t log_level;
    /* listener */
    atomic_bool removed;
    /* call */
    int call_type;
    int depth;
    bool free_in_done; /* the item-3 probe: this call's done frees its Auth */
    atomic_bool starter_inside;
    atomic_int start_state; /* 0 starting, 1 returned NULL, 2 returned an error */
    atomic_int done_count;
    pthread_mutex_t call_lock;
    ably_call *call;
    struct reg *next;
} reg;

static pthread_mutex_t g_all_lock = PTHREAD_MUTEX_INITIALIZER;
static reg *g_regs;
static world *g_worlds;
static atomic_int g_world_ids;
static atomic_long g_regs_made;

static reg *reg_new(reg_kind kind, world *w, rng_t *r, bool has_free) {
    reg *g = calloc(1, sizeof *g);
    if (g == NULL) {
        abort();
    }
    g->kind = kind;
    g->w = w;
    g->seed = rng_next(r);
    g->has_free = has_free;
    pthread_mutex_init(&g->call_lock, NULL);
    pthread_mutex_lock(&g_all_lock);
    g->next = g_regs;
    g_regs = g;
    pthread_mutex_unlock(&g_all_lock);
    atomic_fetch_add(&g_regs_made, 1);
    return g;
}
static rng_t reg_rng(reg *g) {
    return rng_derive(g->seed, atomic_fetch_add(&g->invocations, 1) + 1);
}

enum { NSLOTS = 6 };
static _Atomic(world *) g_slots[NSLOTS];
static world g_creating; /* a slot's marker while its Auth is being made */

/* Per-thread: entries of this thread into worlds, and the callbacks of ours running on it. */
typedef struct {
    world *w;
    unsigned blocking, async;
} tl_entry;
static _Thread_local tl_entry tl_entries[8];
static _Thread_local int tl_callback_depth;
static _Thread_local reg *tl_listener;
/* The listeners running on this thread, innermost last (callbacks nest at most 8 deep). */
static _Thread_local reg *tl_listener_stack[16];
static _Thread_local int tl_listener_depth;

/* How many calls of listener `g` are running on this thread. */
static int tl_listener_calls_here(const reg *g) {
    int n = 0;
    for (int i = 0; i < tl_listener_depth && i < 16; i++) {
        n += tl_listener_stack[i] == g;
    }
    return n;
}
static _Thread_local const char *tl_log_message;

static tl_entry *tl_find(world *w, bool create) {
    for (int i = 0; i < 8; i++) {
        if (tl_entries[i].w == w) {
            return &tl_entries[i];
        }
    }
    if (!create) {
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        if (tl_entries[i].w == NULL) {
            tl_entries[i].w = w;
            return &tl_entries[i];
        }
    }
    abort();
}

static bool world_enter(world *w, bool async) {
    uint64_t s = atomic_load(&w->state);
    do {
        if (s & ST_CLOSING) {
            return false;
        }
    } while (!atomic_compare_exchange_weak(&w->state, &s, s + (async ? ST_ASYNC : ST_BLOCKING) + ST_GEN));
    tl_entry *e = tl_find(w, true);
    if (async) {
        e->async++;
    } else {
        e->blocking++;
    }
    return true;
}
static void world_leave(world *w, bool async) {
    tl_entry *e = tl_find(w, false);
    if (async) {
        e->async--;
    } else {
        e->blocking--;
    }
    if (e->async == 0 && e->blocking == 0) {
        e->w = NULL;
    }
    uint64_t s = atomic_load(&w->state);
    while (!atomic_compare_exchange_weak(&w->state, &s,
                                         s - (async ? ST_ASYNC : ST_BLOCKING) + ST_GEN)) {
    }
}

/*
 * Claim the right to free `w`. From a worker (no callback of ours on this thread): only
 * when no thread of the test is inside a call on it. From a callback: when no *other*
 * thread of the test is inside a blocking call on it, and (group 3) `starter` (the call
 * whose `done` this is) may still be inside its _async start.
 */
static bool world_claim_free(world *w, reg *starter) {
    uint64_t s = atomic_load(&w->state);
    for (;;) {
        if (s & ST_CLOSING) {
            return false;
        }
        tl_entry *e = tl_find(w, false);
        unsigned my_b = e ? e->blocking : 0, my_a = e ? e->async : 0;
        unsigned other_b = (unsigned)(s & ST_COUNT_MASK) - my_b;
        unsigned other_a = (unsigned)((s / ST_ASYNC) & ST_COUNT_MASK) - my_a;
        unsigned allowed_a = 0;
        if (starter != NULL && ON(G_FREE_FROM_DONE) && atomic_load(&starter->starter_inside)) {
            allowed_a = 1;
        }
        if (other_b != 0 || other_a > allowed_a) {
            return false;
        }
        if (atomic_compare_exchange_weak(&w->state, &s, s | ST_CLOSING)) {
            return true;
        }
    }
}

static void slot_clear(world *w) {
    for (int i = 0; i < NSLOTS; i++) {
        world *expected = w;
        atomic_compare_exchange_strong(&g_slots[i], &expected, NULL);
    }
}

static atomic_long g_frees_toplevel, g_frees_nested, g_frees_from_done, g_frees_racing_start;

/* Free a claimed world. `strict`: called outside its callbacks, so nothing of it may run
 * after this returns. */
static atomic_int g_frees_in_progress;
static void world_free(world *w, bool strict) {
    atomic_fetch_add(&g_frees_in_progress, 1);
    atomic_store(&w->free_started, true);
    ably_auth *auth = atomic_load(&w->auth);
    APIV(ably_auth_free, auth);
    atomic_fetch_sub(&g_frees_in_progress, 1);
    if (strict) {
        atomic_store(&w->strict_freed, true);
        atomic_fetch_add(&g_frees_toplevel, 1);
    } else {
        atomic_fetch_add(&g_frees_nested, 1);
    }
    slot_clear(w);
}

/* A callback of `w` starts: it must not run after a strict free returned. */
static bool callback_may_touch(world *w, const char *what) {
    if (w == NULL) {
        return false;
    }
    if (atomic_load(&w->strict_freed)) {
        KNOWN(G_LATE_DESTRUCTOR, "%s of Auth #%d ran after ably_auth_free returned", what, w->id);
        return false;
    }
    return atomic_load(&w->auth) != NULL;
}

/* ---------------------------------------------------------------------------------------
 * Token material of the fake server and authCallback.
 */
static void make_token(char *buf, size_t n) {
    snprintf(buf, n, "tok." SECRET_MARK ".%ld", atomic_fetch_add(&g_token_serial, 1));
}

/* TokenDetails JSON; `shape` 0 draws one. Shapes 1-4 are inside their margin (group 4). */
static void token_details_json(char *buf, size_t n, world *w, rng_t *r, int shape) {
    char token[64];
    make_token(token, sizeof token);
    int64_t now = wall_ms();
    if (shape == 0 && ON(G_SHORT_TOKENS) && chance(r, 150)) {
        shape = 1 + (int)below(r, 4);
    }
    switch (shape) {
    case 1: /* shorter than the margin, no issued */
        snprintf(buf, n, "{\"token\":\"%s\",\"expires\":%" PRId64 "}", token,
                 now + 1000 + (int64_t)below(r, 4000));
        break;
    case 2: /* a lagging token server: issued an hour ago */
        snprintf(buf, n, "{\"token\":\"%s\",\"issued\":%" PRId64 ",\"expires\":%" PRId64 "}",
                 token, now - 3600000, now + 2000 + (int64_t)below(r, 6000));
        break;
    case 3: /* a cached token, handed out again and again */
        snprintf(buf, n,
                 "{\"token\":\"tok." SECRET_MARK ".cached%d\",\"issued\":%" PRId64
                 ",\"expires\":%" PRId64 "}",
                 w ? w->id : 0, w ? w->fixed_expires - 600000 : now,
                 w ? w->fixed_expires : now + 5000);
        break;
    case 4: /* already expired */
        snprintf(buf, n, "{\"token\":\"%s\",\"issued\":%" PRId64 ",\"expires\":%" PRId64 "}",
                 token, now - 60000, now - 1000);
        break;
    default: {
        int64_t ttl = chance(r, 300) ? 4000 + (int64_t)below(r, 20000) : 3600000;
        snprintf(buf, n,
                 "{\"token\":\"%s\",\"keyName\":\"torture.key1\",\"issued\":%" PRId64
                 ",\"expires\":%" PRId64 ",\"capability\":\"{\\\"*\\\":[\\\"*\\\"]}\"}",
                 token, now, now + ttl);
        break;
    }
    }
}

/* ---------------------------------------------------------------------------------------
 * Deferred answers: exchanges and completions answered by the answerer threads, late,
 * twice (two jobs on one handle), or never (answered when the run ends).
 */
typedef struct job {
    bool exchange; /* else a completion */
    int64_t due;
    bool never;
    bool duplicate; /* the second answer to one handle */
    ably_http_exchange *ex;
    uint64_t ex_id;
    ably_auth_completion *comp;
    int action; /* exchange: 0 respond, 1 fail; completion: 0 token, 1 json, 2 error */
    int32_t status;
    int32_t fail_kind;
    int32_t code, status_code;
    char ctype[48];
    char *body;
    size_t body_len;
    struct job *next;
} job;

static pthread_mutex_t g_jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_jobs_cond = PTHREAD_COND_INITIALIZER;
static job *g_jobs;
static atomic_bool g_flush;
static atomic_bool g_answerers_stop;
static atomic_long g_jobs_pending;

static void job_push(job *j) {
    atomic_fetch_add(&g_jobs_pending, 1);
    pthread_mutex_lock(&g_jobs_lock);
    j->next = g_jobs;
    g_jobs = j;
    pthread_cond_signal(&g_jobs_cond);
    pthread_mutex_unlock(&g_jobs_lock);
}
static job *job_clone(const job *j) {
    job *c = malloc(sizeof *c);
    if (c == NULL) {
        abort();
    }
    *c = *j;
    c->body = NULL;
    if (j->body != NULL) {
        c->body = malloc(j->body_len + 1);
        if (c->body == NULL) {
            abort();
        }
        memcpy(c->body, j->body, j->body_len + 1);
    }
    return c;
}

/* Answer one job; late answers may be refused (50003, cancelled, 40170). */
static void job_run(job *j) {
    if (j->exchange) {
        ably_error_info *e;
        if (j->action == 1) {
            e = API(ably_http_exchange_fail, j->ex, j->fail_kind, "torture: late failure");
        } else {
            const char *names[1] = {"Content-Type"};
            const char *values[1] = {j->ctype};
            e = API(ably_http_exchange_respond, j->ex, j->status, names, values, 1,
                    (const uint8_t *)j->body, j->body_len);
        }
        if (j->duplicate) {
            EXPECT_OK_OR(e, ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED, ABLY_ERR_INVALID_ARGUMENT);
        } else {
            EXPECT_OK_OR(e, ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        }
        stale_push(&stale_exchanges, j->ex);
    } else {
        ably_error_info *e;
        /* Every eighth answer goes through the deprecated alias of the same function. */
        static atomic_uint answers;
        bool old_name = atomic_fetch_add(&answers, 1) % 8 == 7;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        if (j->action == 0) {
            e = old_name ? API(ably_auth_completion_token, j->comp, j->body)
                         : API(ably_auth_completion_answer_token, j->comp, j->body);
        } else if (j->action == 1) {
            e = old_name ? API(ably_auth_completion_json, j->comp, j->body)
                         : API(ably_auth_completion_answer_json, j->comp, j->body);
        } else if (old_name) {
            e = API(ably_auth_completion_error, j->comp, j->code, j->status_code, j->body);
        } else {
            e = API(ably_auth_completion_answer_error, j->comp, j->code, j->status_code,
                    j->body);
        }
#pragma GCC diagnostic pop
        if (j->duplicate || j->code < 0 || j->status_code > 599) {
            EXPECT_OK_OR(e, ABLY_ERR_AUTH_CALLBACK_FAILED, ABLY_ERR_INVALID_ARGUMENT,
                         ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
        } else {
            EXPECT_OK_OR(e, ABLY_ERR_AUTH_CALLBACK_FAILED, ABLY_ERR_CANCELLED,
                         ABLY_ERR_SHUT_DOWN);
        }
        stale_push(&stale_completions, j->comp);
    }
    free(j->body);
    free(j);
    atomic_fetch_sub(&g_jobs_pending, 1);
}

static void *answerer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_jobs_lock);
    for (;;) {
        bool flush = atomic_load(&g_flush);
        int64_t now = now_ms();
        job **pp = &g_jobs, *found = NULL;
        while (*pp != NULL) {
            job *j = *pp;
            if ((!j->never && j->due <= now) || flush) {
                *pp = j->next;
                found = j;
                break;
            }
            pp = &j->next;
        }
        if (found != NULL) {
            pthread_mutex_unlock(&g_jobs_lock);
            job_run(found);
            pthread_mutex_lock(&g_jobs_lock);
            continue;
        }
        if (atomic_load(&g_answerers_stop) && g_jobs == NULL) {
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 2 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_jobs_cond, &g_jobs_lock, &ts);
    }
    pthread_mutex_unlock(&g_jobs_lock);
    return NULL;
}

/* The transport's cancel hint: abort the exchange now (answer it at once). */
static void cancel_jobs_for(uint64_t id) {
    pthread_mutex_lock(&g_jobs_lock);
    for (job *j = g_jobs; j != NULL; j = j->next) {
        if (j->exchange && j->ex_id == id && !j->never) {
            j->due = 0;
        }
    }
    pthread_cond_signal(&g_jobs_cond);
    pthread_mutex_unlock(&g_jobs_lock);
}

/* ---------------------------------------------------------------------------------------
 * The fake Ably server (and authUrl) behind the host transport.
 */
typedef struct {
    int32_t status;
    char ctype[48];
    char body[1024];
    size_t body_len;
    const char *errorcode; /* X-Ably-Errorcode, or NULL */
} answer_t;

static void answer_json(answer_t *a, int32_t status, const char *body) {
    a->status = status;
    snprintf(a->ctype, sizeof a->ctype, "application/json");
    snprintf(a->body, sizeof a->body, "%s", body);
    a->body_len = strlen(a->body);
}
static void answer_error(answer_t *a, int32_t status, int32_t code, const char *message) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"error\":{\"message\":\"%s\",\"code\":%d,\"statusCode\":%d}}", message,
             (int)code, (int)status);
    answer_json(a, status, body);
}

static void fake_server(world *w, const char *url, int32_t purpose, rng_t *r, answer_t *a) {
    memset(a, 0, sizeof *a);
    bool wrong = ON(G_WRONG_ANSWERS) && (w == NULL || w->token_shape == 0) && chance(r, 120);
    if (purpose == ABLY_HTTP_PURPOSE_AUTH_URL) {
        if (wrong) {
            switch (below(r, 4)) {
            case 0: answer_error(a, 500, 50000, "token server down"); break;
            case 1: answer_json(a, 200, "{\"not\":\"a token\"}"); break;
            case 2: answer_json(a, 403, "forbidden"); break;
            default:
                a->status = 200;
                snprintf(a->ctype, sizeof a->ctype, "text/html");
                snprintf(a->body, sizeof a->body, "<html>%s</html>", "garbage");
                a->body_len = strlen(a->body);
                break;
            }
            return;
        }
        if (chance(r, 500)) {
            a->status = 200;
            snprintf(a->ctype, sizeof a->ctype, "text/plain");
            make_token(a->body, sizeof a->body);
            a->body_len = strlen(a->body);
        } else {
            char json[512];
            token_details_json(json, sizeof json, w, r, 0);
            answer_json(a, 200, json);
        }
        return;
    }
    if (strstr(url, "/requestToken") != NULL) {
        if (wrong) {
            switch (below(r, 5)) {
            case 0: answer_error(a, 401, 40140 + (int32_t)below(r, 10), "token error"); break;
            case 1: answer_error(a, 401, 40104, "timestamp not current"); break;
            case 2: answer_error(a, 500, 50000, "internal"); break;
            case 3: answer_json(a, 200, "{\"token\":"); break;
            default: answer_json(a, 201, "[]"); break;
            }
            return;
        }
        char json[512];
        token_details_json(json, sizeof json, w, r, w ? w->token_shape : 0);
        answer_json(a, 200, json);
        return;
    }
    if (strstr(url, "/time") != NULL) {
        if (wrong) {
            answer_json(a, 200, chance(r, 500) ? "[]" : "\"soon\"");
            return;
        }
        char body[64];
        snprintf(body, sizeof body, "[%" PRId64 "]", wall_ms() + (int64_t)below(r, 2000) - 1000);
        answer_json(a, 200, body);
        return;
    }
    if (strstr(url, "/revokeTokens") != NULL) {
        if (wrong) {
            answer_error(a, 400, 40000, "bad revocation");
            return;
        }
        answer_json(a, 200,
                    "[{\"target\":\"clientId:a\",\"issuedBefore\":10,\"appliesAt\":20},"
                    "{\"target\":\"clientId:b\",\"error\":{\"message\":\"no\",\"code\":40000,"
                    "\"statusCode\":400}}]");
        return;
    }
    if (wrong || chance(r, 80)) {
        switch (below(r, 5)) {
        case 0: answer_error(a, 401, 40140 + (int32_t)below(r, 10), "token expired"); break;
        case 1: answer_error(a, 404, 40400, "not found"); break;
        case 2:
            answer_json(a, 500, "oops");
            a->errorcode = "50001";
            break;
        case 3: answer_json(a, 429, "{}"); break;
        default: answer_json(a, 200, "{\"ok\":"); break;
        }
        return;
    }
    answer_json(a, 200, "{\"ok\":true,\"items\":[1,2,3]}");
}

static ably_error_info *respond_with(ably_http_exchange *ex, const answer_t *a) {
    const char *names[2] = {"Content-Type", "X-Ably-Errorcode"};
    const char *values[2] = {a->ctype, a->errorcode};
    return API(ably_http_exchange_respond, ex, a->status, names, values,
               a->errorcode ? 2u : 1u, (const uint8_t *)a->body, a->body_len);
}

static job *job_for_exchange(ably_http_exchange *ex, uint64_t id, const answer_t *a,
                             int64_t delay) {
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        abort();
    }
    j->exchange = true;
    j->ex = ex;
    j->ex_id = id;
    j->due = now_ms() + delay;
    j->status = a->status;
    snprintf(j->ctype, sizeof j->ctype, "%s", a->ctype);
    j->body = malloc(a->body_len + 1);
    if (j->body == NULL) {
        abort();
    }
    memcpy(j->body, a->body, a->body_len + 1);
    j->body_len = a->body_len;
    return j;
}

enum { CB_AUTH_CALLBACK, CB_LISTENER, CB_LOG, CB_SEND, CB_DONE };
static bool callback_actions(world *w, rng_t *r, int where, reg *self);
static atomic_long g_exchanges, g_url_echoes;

static void t_send(void *user_data, ably_http_exchange *ex) {
    reg *g = user_data;
    tl_callback_depth++;
    const char *role = wd_role("in send");
    atomic_fetch_add(&g->calls, 1);
    rng_t r = reg_rng(g);
    world *w = g->w;
    atomic_fetch_add(&g_exchanges, 1);
    bool touch = w != NULL && callback_may_touch(w, "send");
    uint64_t id = API(ably_http_exchange_id, ex);
    const char *method = API(ably_http_exchange_method, ex);
    const char *url = API(ably_http_exchange_url, ex);
    int32_t purpose = API(ably_http_exchange_purpose, ex);
    size_t header_count = API(ably_http_exchange_header_count, ex);
    size_t body_len = 0;
    (void)API(ably_http_exchange_body, ex, &body_len);
    int64_t timeout = API(ably_http_exchange_timeout_ms, ex);
    size_t max_bytes = API(ably_http_exchange_max_response_bytes, ex);
    if (id == 0 || method == NULL || url == NULL || purpose < 0) {
        FAIL("send got an exchange that is not live (id %" PRIu64 ")", id);
        wd_role(role);
        tl_callback_depth--;
        return;
    }
    const char *hnames[32], *hvalues[32];
    size_t nh = 0;
    for (size_t i = 0; i < header_count && nh < 32; i++) {
        if (API(ably_http_exchange_header, ex, i, &hnames[nh], &hvalues[nh])) {
            nh++;
        } else {
            FAIL("ably_http_exchange_header(%zu) of %zu failed", i, header_count);
        }
    }
    if (API(ably_http_exchange_header, ex, header_count, &hnames[0], &hvalues[0])) {
        FAIL("ably_http_exchange_header past the end succeeded");
    }
    if (w != NULL && strstr(url, "/requestToken") != NULL) {
        atomic_fetch_add(&w->transport_token_calls, 1);
    }
    answer_t a;
    fake_server(w, url, purpose, &r, &a);

    if (touch && ON(G_CALLBACK_CALLS) && chance(&r, 60)) {
        if (callback_actions(w, &r, CB_SEND, NULL)) {
            touch = false;
        }
    }
    bool plain = w == NULL || w->token_shape != 0;
    uint32_t pick = plain ? 0 : below(&r, 1000);
    if (pick < 550) { /* inline */
        EXPECT_OK_OR(respond_with(ex, &a), ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        stale_push(&stale_exchanges, ex);
    } else if (pick < 600 && ON(G_WRONG_ANSWERS)) { /* a transport failure */
        int32_t kind = 1 + (int32_t)below(&r, 5);
        EXPECT_OK_OR(API(ably_http_exchange_fail, ex, kind, chance(&r, 500) ? NULL : "no route"),
                     ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        stale_push(&stale_exchanges, ex);
    } else if (pick < 640 && ON(G_URL_ECHO)) { /* item 1: quote the URL, echo the headers */
        if (atomic_fetch_add(&g_url_echoes, 1) == 0) {
            printf("note [%.1f s] first answer quoting the exchange's URL or headers\n",
                   (double)(now_ms() - g_start_ms) / 1000.0);
        }
        if (chance(&r, 500)) {
            /* The message is the exchange's own URL string (borrowed until answered). */
            ably_error_info *e = API(ably_http_exchange_fail, ex, ABLY_HTTP_FAIL_CONNECTION_FAILED, url);
            EXPECT_OK_OR(e, ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        } else {
            const char *names[34], *values[34];
            size_t n = 0;
            names[n] = "Content-Type";
            values[n++] = a.ctype;
            for (size_t i = 0; i < nh && n < 34; i++) {
                names[n] = hnames[i]; /* borrowed from the exchange */
                values[n++] = hvalues[i];
            }
            EXPECT_OK_OR(API(ably_http_exchange_respond, ex, a.status, names, values, n,
                             (const uint8_t *)a.body, a.body_len),
                         ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        }
        stale_push(&stale_exchanges, ex);
    } else if (pick < 660 && ON(G_WRONG_ANSWERS)) { /* invalid answers: refused with 40003 */
        switch (below(&r, 4)) {
        case 0: EXPECT_CODE(respond_with(ex, &(answer_t){.status = 99}), 40003); break;
        case 1:
            EXPECT_CODE(API(ably_http_exchange_respond, ex, 200, NULL, NULL, 0, NULL, 5), 40003);
            break;
        case 2: EXPECT_CODE(API(ably_http_exchange_fail, ex, 0, "kind 0"), 40003); break;
        default:
            EXPECT_CODE(API(ably_http_exchange_respond, ex, 200, NULL, NULL, 2, NULL, 0), 40003);
            break;
        }
        stale_push(&stale_exchanges, ex);
    } else if (pick < 670 && ON(G_WRONG_ANSWERS) && max_bytes > 0 && max_bytes < 200000) {
        /* a body one byte over the limit: accepted here, fails the request */
        size_t n = max_bytes + 1;
        uint8_t *big = malloc(n);
        if (big == NULL) {
            abort();
        }
        memset(big, 'x', n);
        const char *names[1] = {"Content-Type"};
        const char *values[1] = {"application/json"};
        EXPECT_OK_OR(API(ably_http_exchange_respond, ex, 200, names, values, 1, big, n),
                     ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        free(big);
        stale_push(&stale_exchanges, ex);
    } else if (pick < 700 && ON(G_LATE_ANSWERS)) { /* twice, inline */
        EXPECT_OK_OR(respond_with(ex, &a), ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        EXPECT_CODE(respond_with(ex, &a), 40003);
        stale_push(&stale_exchanges, ex);
    } else if (pick < 720 && ON(G_LATE_ANSWERS)) { /* never (until the run ends) */
        job *j = job_for_exchange(ex, id, &a, 0);
        j->never = true;
        job_push(j);
    } else if (pick < 760 && ON(G_LATE_ANSWERS)) { /* two threads at once */
        int64_t delay = (int64_t)below(&r, 50);
        job *j = job_for_exchange(ex, id, &a, delay);
        job *k = job_clone(j);
        j->duplicate = true;
        k->duplicate = true;
        job_push(j);
        job_push(k);
    } else if (ON(G_LATE_ANSWERS)) { /* later, maybe after the deadline */
        int64_t delay = (int64_t)below(&r, (uint32_t)(timeout > 0 ? timeout * 3 / 2 + 1 : 200));
        job *j = job_for_exchange(ex, id, &a, delay);
        if (ON(G_WRONG_ANSWERS) && chance(&r, 100)) {
            j->action = 1;
            j->fail_kind = 1 + (int32_t)below(&r, 5);
        }
        job_push(j);
    } else {
        EXPECT_OK_OR(respond_with(ex, &a), ABLY_ERR_TIMEOUT, ABLY_ERR_CANCELLED);
        stale_push(&stale_exchanges, ex);
    }
    (void)touch;
    wd_role(role);
    tl_callback_depth--;
}

static atomic_long g_cancels;
static void t_cancel(void *user_data, uint64_t id) {
    reg *g = user_data;
    atomic_fetch_add(&g_cancels, 1);
    if (g->w != NULL && atomic_load(&g->w->strict_freed)) {
        KNOWN(G_LATE_DESTRUCTOR, "transport cancel of Auth #%d ran after ably_auth_free returned",
              g->w->id);
    }
    if (id == 0) {
        FAIL("cancel named exchange 0");
    }
    cancel_jobs_for(id);
}

/* ---------------------------------------------------------------------------------------
 * Shared helpers: the signer (an Auth with a key that lives for the whole run), builders.
 */
static ably_auth *g_signer;

static bool signer_token_request_json(char *buf, size_t n, rng_t *r) {
    ably_token_params *p = NULL;
    if (chance(r, 500)) {
        p = API(ably_token_params_new);
        take_error(API(ably_token_params_set_ttl, p, 60000 + (int64_t)below(r, 100000)), "ttl");
    }
    ably_token_request *tr = NULL;
    ably_error_info *e = API(ably_auth_create_token_request, g_signer, p, &tr);
    stale_push(&stale_params, p);
    if (e != NULL) {
        FAIL("the signer could not create a TokenRequest: %s", e->message);
        take_error(e, "signer");
        return false;
    }
    (void)API(ably_token_request_key_name, tr);
    (void)API(ably_token_request_ttl, tr);
    (void)API(ably_token_request_capability, tr);
    (void)API(ably_token_request_client_id, tr);
    (void)API(ably_token_request_timestamp, tr);
    (void)API(ably_token_request_nonce, tr);
    if (API(ably_token_request_mac, tr) == NULL) {
        FAIL("a signed TokenRequest has no mac");
    }
    char *json = NULL;
    bool ok = take_error(API(ably_token_request_to_json, tr, &json), "to_json") == 0;
    if (ok) {
        snprintf(buf, n, "%s", json);
        APIV(ably_string_free, json);
    }
    APIV(ably_token_request_free, tr);
    return ok;
}

/* Params for a call: NULL, stale (*stale), or new ones (*soft: the call may refuse them). */
static ably_token_params *maybe_params(rng_t *r, bool *stale, bool *soft) {
    uint32_t p = below(r, 100);
    if (p < 60) {
        return NULL;
    }
    if (p < 64 && ON(G_BAD_ARGS)) {
        ably_token_params *s = stale_pick(&stale_params, r);
        *stale = *stale || s != NULL;
        return s;
    }
    ably_token_params *params = API(ably_token_params_new);
    if (chance(r, 600)) {
        take_error(API(ably_token_params_set_ttl, params, 1000 + (int64_t)below(r, 7200000)), "ttl");
    }
    if (chance(r, 300)) {
        take_error(API(ably_token_params_set_capability, params, "{\"chan\":[\"publish\"]}"), "cap");
    }
    if (chance(r, 100)) {
        take_error(API(ably_token_params_set_nonce, params, "nonce-0123456789abcdef"), "nonce");
    }
    if (chance(r, 100)) {
        take_error(API(ably_token_params_set_timestamp, params, wall_ms()), "timestamp");
    }
    if (chance(r, 30)) {
        take_error(API(ably_token_params_set_revocation_key, params, "group-7"), "revocation key");
        *soft = true;
    }
    return params;
}

static void t_free(void *user_data);
static void t_auth_callback(void *user_data, const char *params_json,
                            ably_auth_completion *completion);
static void t_log(void *user_data, int32_t level, const char *message);
static void t_listener(void *user_data, const ably_token_details *details,
                       const ably_error_info *error);

/* Per-call options (auth options only, unless *soft). */
static ably_auth_options *maybe_call_options(world *w, rng_t *r, bool *stale, bool *soft) {
    uint32_t p = below(r, 100);
    if (p < 70) {
        return NULL;
    }
    if (p < 74 && ON(G_BAD_ARGS)) {
        ably_auth_options *s = stale_pick(&stale_options, r);
        *stale = *stale || s != NULL;
        return s;
    }
    ably_auth_options *o = API(ably_auth_options_new);
    switch (below(r, 4)) {
    case 0: take_error(API(ably_auth_options_set_key, o, FAKE_KEY), "key"); break;
    case 1: {
        reg *g = reg_new(R_AUTH_CALLBACK, w, r, chance(r, 900));
        take_error(API(ably_auth_options_set_auth_callback, o, t_auth_callback, g,
                       g->has_free ? t_free : NULL),
                   "set_auth_callback");
        break;
    }
    case 2:
        take_error(API(ably_auth_options_set_auth_url, o, "https://auth.torture.test/token?x=1"),
                   "auth url");
        take_error(API(ably_auth_options_set_auth_method, o, chance(r, 500) ? "GET" : "post"),
                   "auth method");
        break;
    default: take_error(API(ably_auth_options_set_token, o, "tok." SECRET_MARK ".static"), "token");
    }
    if (chance(r, 200)) {
        take_error(API(ably_auth_options_set_query_time, o, true), "query time");
    }
    if (chance(r, 60)) {
        take_error(API(ably_auth_options_set_timeouts, o, 4000, 500), "timeouts");
        *soft = true;
    }
    return o;
}

/* ---------------------------------------------------------------------------------------
 * Calls in flight (for random cancels and frees).
 */
enum { RING_N = 256 };
static pthread_mutex_t g_ring_lock = PTHREAD_MUTEX_INITIALIZER;
static reg *g_ring[RING_N];
static unsigned g_ring_next;

static void ring_push(reg *g) {
    pthread_mutex_lock(&g_ring_lock);
    g_ring[g_ring_next++ % RING_N] = g;
    pthread_mutex_unlock(&g_ring_lock);
}
static reg *ring_pick(rng_t *r) {
    pthread_mutex_lock(&g_ring_lock);
    unsigned n = g_ring_next < RING_N ? g_ring_next : RING_N;
    reg *g = n ? g_ring[below(r, n)] : NULL;
    pthread_mutex_unlock(&g_ring_lock);
    return g;
}
/* Cancel or free a call handle; from callbacks only with trylock (never wait in a callback). */
static void call_poke(reg *g, bool free_it, bool in_callback) {
    if (g == NULL) {
        return;
    }
    if (in_callback) {
        if (pthread_mutex_trylock(&g->call_lock) != 0) {
            return;
        }
    } else {
        pthread_mutex_lock(&g->call_lock);
    }
    ably_call *call = g->call;
    if (call != NULL) {
        if (free_it) {
            g->call = NULL;
            APIV(ably_call_free, call);
        } else {
            (void)API(ably_call_cancel, call);
        }
    }
    pthread_mutex_unlock(&g->call_lock);
}

/* ---------------------------------------------------------------------------------------
 * Listeners.
 */
static void listener_add(world *w, rng_t *r) {
    ably_auth *a = atomic_load(&w->auth);
    reg *g = reg_new(R_LISTENER, w, r, chance(r, 900));
    uint64_t id = 0;
    ably_error_info *e =
        API(ably_auth_add_listener, a, t_listener, g, g->has_free ? t_free : NULL, &id);
    if (e != NULL) {
        int32_t code = take_error(e, "add_listener");
        if (code != ABLY_ERR_SHUT_DOWN) {
            FAIL("ably_auth_add_listener failed with %d", (int)code);
        }
        if (g->has_free && atomic_load(&g->frees) != 1) {
            FAIL("a failed ably_auth_add_listener did not run free_user_data at once");
        }
        return;
    }
    pthread_mutex_lock(&w->lock);
    bool kept = w->nlisteners < 16;
    if (kept) {
        w->listeners[w->nlisteners].id = id;
        w->listeners[w->nlisteners].reg = g;
        w->nlisteners++;
    }
    pthread_mutex_unlock(&w->lock);
    if (!kept) {
        EXPECT_OK_OR(API(ably_auth_remove_listener, a, id), ABLY_ERR_SHUT_DOWN);
        atomic_store(&g->removed, true);
    }
}

static void listener_remove(world *w, rng_t *r, bool prefer_running) {
    ably_auth *a = atomic_load(&w->auth);
    pthread_mutex_lock(&w->lock);
    if (w->nlisteners == 0) {
        pthread_mutex_unlock(&w->lock);
        return;
    }
    int pick = (int)below(r, (uint32_t)w->nlisteners);
    if (prefer_running) {
        for (int i = 0; i < w->nlisteners; i++) {
            if (atomic_load(&w->listeners[i].reg->in_call) > 0) {
                pick = i;
                break;
            }
        }
    }
    uint64_t id = w->listeners[pick].id;
    reg *g = w->listeners[pick].reg;
    w->listeners[pick] = w->listeners[--w->nlisteners];
    pthread_mutex_unlock(&w->lock);
    ably_error_info *e = API(ably_auth_remove_listener, a, id);
    if (e == NULL) {
        atomic_store(&g->removed, true);
        /* Exact rule: after a removal returns NULL the listener runs on no other thread
         * (only a call of it on this thread, which is removing itself, may be under way). */
        if (atomic_load(&g->in_call) > tl_listener_calls_here(g)) {
            FAIL("listener %" PRIu64 " still running after ably_auth_remove_listener returned", id);
        }
        if (chance(r, 300)) { /* removed twice: unknown id (or the Auth is going) */
            ably_error_info *again = API(ably_auth_remove_listener, a, id);
            if (again == NULL || (again->code != 40003 && again->code != ABLY_ERR_SHUT_DOWN)) {
                FAIL("a listener removed twice: the second removal gave %d, not 40003",
                     again ? (int)again->code : 0);
            }
            take_error(again, "second removal");
        }
    } else {
        int32_t code = take_error(e, "remove_listener");
        if (code != ABLY_ERR_SHUT_DOWN) {
            FAIL("ably_auth_remove_listener of a listener added once failed with %d", (int)code);
        } else if (!atomic_load(&w->free_started)) {
            /* SHUT_DOWN only while the Auth is being freed (the handle refuses calls, or
             * the listener's call being waited for frees it): never for a shutdown. */
            FAIL("ably_auth_remove_listener failed with ABLY_ERR_SHUT_DOWN on Auth #%d, which "
                 "no ably_auth_free has started on", w->id);
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Non-blocking calls and their completions.
 */
static void d_token(void *user_data, ably_token_details *details, ably_error_info *error);
static void d_string(void *user_data, char *text, ably_error_info *error);
static void d_time(void *user_data, int64_t time_ms, ably_error_info *error);
static void d_revocation(void *user_data, ably_revocation_result *result, ably_error_info *error);
static void d_response(void *user_data, ably_http_response *response, ably_error_info *error);
static atomic_long g_async_started, g_async_refused;

static void random_request_args(rng_t *r, const char **method, const char **path,
                                const char **query, const uint8_t **body, size_t *body_len) {
    static const char *const methods[] = {"GET", "post", "PUT", "PATCH", "DELETE"};
    static const char *const paths[] = {"/channels/torture/messages", "/stats", "/time",
                                        "/keys/torture.key1/revokeTokens", "/push/x"};
    *method = methods[below(r, 5)];
    *path = paths[below(r, 5)];
    *query = chance(r, 500) ? NULL : "limit=10&direction=backwards";
    *body = chance(r, 500) ? NULL : (const uint8_t *)"{\"name\":\"x\",\"data\":1}";
    *body_len = *body ? strlen((const char *)*body) : 0;
}

static void start_async(world *w, rng_t *r, int depth, bool worker) {
    if (depth > 3) {
        return;
    }
    if (worker && !world_enter(w, true)) {
        return;
    }
    ably_auth *a = atomic_load(&w->auth);
    reg *g = reg_new(R_CALL, w, r, chance(r, 900));
    g->depth = depth;
    g->call_type = (int)below(r, 6);
    bool keep = chance(r, 750);
    ably_call *call = NULL;
    ably_call **out = keep ? &call : NULL;
    ably_free_fn fr = g->has_free ? t_free : NULL;
    bool stale = false, soft = false;
    ably_token_params *p = NULL;
    ably_auth_options *o = NULL;
    ably_error_info *e = NULL;
    atomic_store(&g->starter_inside, true);
    switch (g->call_type) {
    case CALL_TOKEN:
    case CALL_AUTHORIZE:
        p = maybe_params(r, &stale, &soft);
        o = maybe_call_options(w, r, &stale, &soft);
        atomic_fetch_add(&w->token_calls, 1);
        if (g->call_type == CALL_TOKEN) {
            e = API(ably_auth_request_token_async, a, p, o, d_token, g, fr, out);
        } else {
            e = API(ably_auth_authorize_async, a, p, o, d_token, g, fr, out);
        }
        break;
    case CALL_HEADER:
        atomic_fetch_add(&w->token_calls, 1);
        e = API(ably_auth_authorization_header_async, a, d_string, g, fr, out);
        break;
    case CALL_TIME: e = API(ably_auth_time_async, a, d_time, g, fr, out); break;
    case CALL_REVOKE: {
        const char *targets[2] = {"clientId:a", "revocationKey:group-7"};
        int32_t margin = (int32_t)below(r, 3) - 1;
        e = API(ably_auth_revoke_tokens_async, a, targets, 1 + below(r, 2),
                chance(r, 500) ? ABLY_ISSUED_BEFORE_UNSET : wall_ms() - 1000, margin,
                d_revocation, g, fr, out);
        break;
    }
    default: {
        const char *method, *path, *query;
        const uint8_t *body;
        size_t body_len;
        random_request_args(r, &method, &path, &query, &body, &body_len);
        const char *hn[1] = {"X-Torture"}, *hv[1] = {"1"};
        atomic_fetch_add(&w->token_calls, 1);
        e = API(ably_auth_request_async, a, method, path, query, hn, hv, chance(r, 500) ? 1 : 0,
                body, body_len, d_response, g, fr, out);
        break;
    }
    }
    atomic_store(&g->starter_inside, false);
    atomic_store(&g->start_state, e ? 2 : 1);
    if (worker) {
        world_leave(w, true);
    }
    stale_push(&stale_params, p);
    stale_push(&stale_options, o);
    if (e != NULL) {
        atomic_fetch_add(&g_async_refused, 1);
        int32_t code = take_error(e, "_async start");
        if (stale && code != 40003 && code != ABLY_ERR_SHUT_DOWN) {
            FAIL("_async call with a stale builder failed with %d, not 40003", (int)code);
        }
        if (!stale && !soft && code == 40003) {
            FAIL("_async call (type %d) with valid arguments refused with 40003", g->call_type);
        }
        if (g->has_free && atomic_load(&g->frees) != 1) {
            FAIL("a refused _async call returned before its free_user_data ran (%d runs)",
                 atomic_load(&g->frees));
        }
        if (atomic_load(&g->done_count) != 0) {
            FAIL("a refused _async call ran its done");
        }
        return;
    }
    atomic_fetch_add(&g_async_started, 1);
    if (stale) {
        FAIL("_async call with a stale builder was accepted");
    }
    if (call != NULL) {
        pthread_mutex_lock(&g->call_lock);
        g->call = call;
        pthread_mutex_unlock(&g->call_lock);
        ring_push(g);
    }
}

/* ---------------------------------------------------------------------------------------
 * What callbacks do: random allowed calls on their own Auth. Returns true when the Auth
 * was freed (the caller must not touch it again).
 */
static void expect_refused_at(int line, ably_error_info *e, const char *what) {
    if (e == NULL) {
        fail_at(line, "%s succeeded inside a callback where it must be refused%s%s", what,
                tl_log_message ? "; in the log sink, for the line: " : "",
                tl_log_message ? tl_log_message : "");
        return;
    }
    if (e->code != ABLY_ERR_REENTRANT_CALL && e->code != ABLY_ERR_SHUT_DOWN) {
        fail_at(line, "%s failed with %d (%s), not ABLY_ERR_REENTRANT_CALL", what, (int)e->code,
                e->message);
    }
    take_error(e, what);
}
#define EXPECT_REFUSED(call) expect_refused_at(__LINE__, (call), #call)

static void pure_functions(rng_t *r);
static _Thread_local int tl_action_depth;

static bool callback_actions(world *w, rng_t *r, int where, reg *self) {
    ably_auth *a = atomic_load(&w->auth);
    if (a == NULL || atomic_load(&w->free_started) || tl_action_depth > 6) {
        return false;
    }
    tl_action_depth++;
    bool freed = false;
    uint32_t p = below(r, 130);
    if (p < 10) {
        char *h = NULL;
        EXPECT_OK_OR(API(ably_auth_cached_authorization_header, a, &h), ABLY_ERR_SHUT_DOWN,
                     ABLY_ERR_NO_VALID_TOKEN, 40103);
        APIV(ably_string_free, h);
    } else if (p < 20) {
        int64_t ms;
        EXPECT_OK_OR(API(ably_auth_token_remaining_ms, a, &ms), ABLY_ERR_SHUT_DOWN,
                     ABLY_ERR_NO_VALID_TOKEN);
    } else if (p < 28) {
        char *id = NULL;
        EXPECT_OK_OR(API(ably_auth_client_id, a, &id), ABLY_ERR_SHUT_DOWN);
        APIV(ably_string_free, id);
    } else if (p < 36) {
        ably_token_details *d = NULL;
        EXPECT_OK_OR(API(ably_auth_token_details, a, &d), ABLY_ERR_SHUT_DOWN);
        APIV(ably_token_details_free, d);
    } else if (p < 50) {
        if (where != CB_LOG) {
            start_async(w, r, self ? self->depth + 1 : 1, false);
        }
    } else if (p < 60) {
        ably_token_details *d = NULL;
        if (where == CB_AUTH_CALLBACK || where == CB_DONE) {
            EXPECT_REFUSED(API(ably_auth_authorize, a, NULL, NULL, &d));
        } else if (where == CB_LISTENER) {
            atomic_fetch_add(&w->token_calls, 1);
            take_error(API(ably_auth_authorize, a, NULL, NULL, &d), "authorize in a listener");
        } else if (where == CB_LOG) {
            int64_t t;
            ably_error_info *e = API(ably_auth_time, a, &t);
            if (e == NULL || (e->code != ABLY_ERR_REENTRANT_CALL && e->code != ABLY_ERR_SHUT_DOWN)) {
                KNOWN(G_NEW_FINDINGS, "ably_auth_time inside the log sink was not refused with "
                      "ABLY_ERR_REENTRANT_CALL (%s %d: %.120s) for the log line: %.200s",
                      e ? "it failed with" : "it succeeded", e ? (int)e->code : 0,
                      e ? e->message : "", tl_log_message ? tl_log_message : "?");
            }
            take_error(e, "time in the log sink");
        }
        APIV(ably_token_details_free, d);
    } else if (p < 75) {
        if (ON(G_FREES)) {
            int64_t timeout = 0;
            if (where == CB_LISTENER) {
                timeout = ON(G_LISTENER_SHUTDOWN) && chance(r, 600) ? -1 : (int64_t)below(r, 100);
            } else if (where != CB_LOG && chance(r, 500)) {
                timeout = (int64_t)below(r, 50);
            }
            atomic_store(&w->shut, true);
            EXPECT_OK_OR(API(ably_auth_shutdown, a, timeout), ABLY_ERR_TIMEOUT, ABLY_ERR_SHUT_DOWN);
        }
    } else if (p < 90) {
        if (where != CB_LOG) {
            listener_remove(w, r, where == CB_DONE);
        }
    } else if (p < 100) {
        if (where != CB_LOG) {
            listener_add(w, r);
        }
    } else if (p < 108) {
        EXPECT_OK_OR(API(ably_auth_token_rejected, a, chance(r, 500) ? NULL : "tok.other"),
                     ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED, ABLY_ERR_SHUT_DOWN);
    } else if (p < 114) {
        if (ON(G_FREES) && world_claim_free(w, where == CB_DONE ? self : NULL)) {
            if (where == CB_DONE) {
                atomic_fetch_add(&g_frees_from_done, 1);
            }
            world_free(w, false);
            freed = true;
        }
    } else if (p < 122) {
        call_poke(ring_pick(r), chance(r, 500), true);
    } else {
        pure_functions(r);
    }
    tl_action_depth--;
    return freed;
}

/* ---------------------------------------------------------------------------------------
 * The callbacks.
 */
static void t_free(void *user_data) {
    reg *g = user_data;
    int n = atomic_fetch_add(&g->frees, 1) + 1;
    if (n != 1) {
        FAIL("free_user_data (kind %d) ran %d times", (int)g->kind, n);
    }
    if (g->kind == R_CALL) {
        if (atomic_load(&g->start_state) == 1 && atomic_load(&g->done_count) != 1) {
            FAIL("a call's free_user_data ran before its done (done ran %d times)",
                 atomic_load(&g->done_count));
        }
        if (atomic_load(&g->in_call) != 0) {
            FAIL("a call's free_user_data ran while its done was running");
        }
    }
    if (g->kind == R_LISTENER && atomic_load(&g->in_call) != 0) {
        FAIL("a listener's free_user_data ran while the listener was running");
    }
    if (g->w != NULL && atomic_load(&g->w->strict_freed)) {
        static const char *const kinds[] = {"authCallback", "listener", "log sink",
                                            "transport", "call"};
        KNOWN(G_LATE_DESTRUCTOR, "free_user_data of a %s of Auth #%d ran after ably_auth_free "
              "returned", kinds[g->kind], g->w->id);
    }
    if (chance(&(rng_t){g->seed}, 50)) { /* destructors may call the library */
        (void)API(ably_auth_version);
        ably_token_params *p = API(ably_token_params_new);
        APIV(ably_token_params_free, p);
    }
}

static void t_listener(void *user_data, const ably_token_details *details,
                       const ably_error_info *error) {
    reg *g = user_data;
    tl_callback_depth++;
    atomic_fetch_add(&g->in_call, 1);
    atomic_fetch_add(&g->calls, 1);
    reg *outer = tl_listener;
    tl_listener = g;
    if (tl_listener_depth < 16) {
        tl_listener_stack[tl_listener_depth] = g;
    }
    tl_listener_depth++;
    const char *role = wd_role("in a listener");
    rng_t r = reg_rng(g);
    if (atomic_load(&g->removed)) {
        FAIL("a listener was called after ably_auth_remove_listener returned");
    }
    if ((details == NULL) == (error == NULL)) {
        FAIL("a listener got details %p and error %p", (const void *)details, (const void *)error);
    }
    if (details != NULL) {
        const char *token = API(ably_token_details_token, details);
        if (token == NULL || token[0] == '\0') {
            FAIL("a listener's token details have no token");
        }
        (void)API(ably_token_details_expires, details);
        (void)API(ably_token_details_issued, details);
        (void)API(ably_token_details_capability, details);
        (void)API(ably_token_details_client_id, details);
        (void)API(ably_token_details_is_expired, details, wall_ms(), 0);
    }
    check_error(error, "listener's error");
    world *w = g->w;
    if (callback_may_touch(w, "listener") && ON(G_CALLBACK_CALLS) && chance(&r, 300)) {
        callback_actions(w, &r, CB_LISTENER, NULL);
    }
    tl_listener_depth--;
    tl_listener = outer;
    wd_role(role);
    atomic_fetch_sub(&g->in_call, 1);
    tl_callback_depth--;
}

static void t_log(void *user_data, int32_t level, const char *message) {
    reg *g = user_data;
    tl_callback_depth++;
    atomic_fetch_add(&g->calls, 1);
    if (level < 1 || level > g->log_level) {
        FAIL("log line of level %d for a sink registered at %d", (int)level, (int)g->log_level);
    }
    if (message == NULL) {
        FAIL("log line with a NULL message");
    } else if (strstr(message, SECRET_MARK) != NULL) {
        FAIL("a log line quotes a secret: %s", message);
    }
    rng_t r = reg_rng(g);
    world *w = g->w;
    if (chance(&r, 30) && ON(G_CALLBACK_CALLS) && callback_may_touch(w, "log sink")) {
        const char *outer = tl_log_message;
        tl_log_message = message;
        const char *role = wd_role("in the log sink");
        callback_actions(w, &r, CB_LOG, NULL);
        wd_role(role);
        tl_log_message = outer;
    }
    tl_callback_depth--;
}

static void t_auth_callback(void *user_data, const char *params_json,
                            ably_auth_completion *comp) {
    reg *g = user_data;
    tl_callback_depth++;
    atomic_fetch_add(&g->calls, 1);
    world *w = g->w;
    if (w != NULL) {
        atomic_fetch_add(&w->authcb_calls, 1);
    }
    const char *role = wd_role("in an authCallback");
    rng_t r = reg_rng(g);
    if (params_json == NULL) {
        FAIL("authCallback got NULL params");
    } else if (chance(&r, 300)) {
        ably_token_params *p = NULL;
        if (take_error(API(ably_token_params_from_json, params_json, &p), "params_from_json") == 0) {
            ably_token_params_values v;
            take_error(API(ably_token_params_get, p, &v), "params_get");
            char *json = NULL;
            take_error(API(ably_token_params_to_json, p, &json), "params_to_json");
            APIV(ably_string_free, json);
            ably_token_params *c = NULL;
            take_error(API(ably_token_params_clone, p, &c), "params_clone");
            APIV(ably_token_params_free, c);
            APIV(ably_token_params_free, p);
        } else {
            FAIL("the authCallback's params do not parse: %s", params_json);
        }
    }
    char text[1024];
    if (w != NULL && w->token_shape != 0) { /* the spin probe: a plain answer */
        token_details_json(text, sizeof text, w, &r, w->token_shape);
        EXPECT_OK_OR(API(ably_auth_completion_answer_json, comp, text), ABLY_ERR_AUTH_CALLBACK_FAILED,
                     ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
        wd_role(role);
        tl_callback_depth--;
        return;
    }
    if (callback_may_touch(w, "authCallback") && ON(G_CALLBACK_CALLS) && chance(&r, 150)) {
        callback_actions(w, &r, CB_AUTH_CALLBACK, NULL);
    }
    int64_t timeout = w ? w->request_timeout : 500;
    uint32_t p = below(&r, 1000);
    job j = {0};
    j.comp = comp;
    j.action = 0;
    if (p < 700 || (!ON(G_WRONG_ANSWERS) && !ON(G_LATE_ANSWERS))) {
        uint32_t q = below(&r, 100);
        if (q < 45) {
            make_token(text, sizeof text);
            j.action = 0;
        } else if (q < 90 || !signer_token_request_json(text, sizeof text, &r)) {
            token_details_json(text, sizeof text, w, &r, 0);
            j.action = 1;
        } else {
            j.action = 1; /* a TokenRequest, exchanged by the library */
        }
        ably_error_info *e = j.action == 0 ? API(ably_auth_completion_answer_token, comp, text)
                                           : API(ably_auth_completion_answer_json, comp, text);
        EXPECT_OK_OR(e, ABLY_ERR_AUTH_CALLBACK_FAILED, ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
        stale_push(&stale_completions, comp);
    } else if (p < 800 && ON(G_WRONG_ANSWERS)) {
        switch (below(&r, 7)) {
        case 0:
            EXPECT_OK_OR(API(ably_auth_completion_answer_error, comp, 0, 0, "no token for you"),
                         ABLY_ERR_AUTH_CALLBACK_FAILED, ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
            break;
        case 1:
            EXPECT_OK_OR(API(ably_auth_completion_answer_error, comp, 40300, 403, NULL),
                         ABLY_ERR_AUTH_CALLBACK_FAILED, ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
            break;
        case 2: EXPECT_CODE(API(ably_auth_completion_answer_token, comp, NULL), 40003); break;
        case 3: EXPECT_CODE(API(ably_auth_completion_answer_token, comp, BAD_UTF8), 40003); break;
        case 4: EXPECT_CODE(API(ably_auth_completion_answer_error, comp, -5, 401, "neg"), 40003); break;
        case 5: EXPECT_CODE(API(ably_auth_completion_answer_error, comp, 40170, 700, "700"), 40003); break;
        default:
            EXPECT_OK_OR(API(ably_auth_completion_answer_json, comp, "{\"neither\":true}"),
                         ABLY_ERR_AUTH_CALLBACK_FAILED, ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
            break;
        }
        stale_push(&stale_completions, comp);
    } else if (ON(G_LATE_ANSWERS)) {
        uint32_t q = below(&r, 100);
        make_token(text, sizeof text);
        j.body = malloc(strlen(text) + 1);
        if (j.body == NULL) {
            abort();
        }
        memcpy(j.body, text, strlen(text) + 1);
        j.body_len = strlen(text);
        j.due = now_ms() + (int64_t)below(&r, (uint32_t)(timeout * 3 / 2 + 1));
        if (q < 15) { /* twice, inline */
            EXPECT_OK_OR(API(ably_auth_completion_answer_token, comp, text), ABLY_ERR_AUTH_CALLBACK_FAILED,
                         ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
            EXPECT_CODE(API(ably_auth_completion_answer_token, comp, text), 40003);
            stale_push(&stale_completions, comp);
            free(j.body);
        } else if (q < 25) { /* never (until the run ends) */
            j.never = true;
            job_push(job_clone(&j));
            free(j.body);
        } else if (q < 45) { /* two threads at once */
            j.duplicate = true;
            job_push(job_clone(&j));
            job_push(job_clone(&j));
            free(j.body);
        } else { /* later, maybe too late */
            if (chance(&r, 200)) {
                j.action = 2;
                j.code = 40100;
                j.status_code = 401;
                snprintf(j.body, j.body_len + 1, "%s", "late refusal");
                j.body_len = strlen(j.body);
            }
            job_push(job_clone(&j));
            free(j.body);
        }
    } else {
        make_token(text, sizeof text);
        EXPECT_OK_OR(API(ably_auth_completion_answer_token, comp, text), ABLY_ERR_AUTH_CALLBACK_FAILED,
                     ABLY_ERR_CANCELLED, ABLY_ERR_SHUT_DOWN);
        stale_push(&stale_completions, comp);
    }
    wd_role(role);
    tl_callback_depth--;
}

/* done: exactly once, never after a refused start; then random calls. */
static rng_t done_enter(reg *g, bool one_of, const char *what) {
    tl_callback_depth++;
    wd_role("in a done");
    atomic_fetch_add(&g->in_call, 1);
    int n = atomic_fetch_add(&g->done_count, 1) + 1;
    if (n != 1) {
        FAIL("%s: done ran %d times", what, n);
    }
    if (atomic_load(&g->start_state) == 2) {
        FAIL("%s: done ran though its _async call returned an error", what);
    }
    if (atomic_load(&g->frees) != 0) {
        FAIL("%s: done ran after its free_user_data", what);
    }
    if (!one_of) {
        FAIL("%s: done did not get exactly one of its result and error", what);
    }
    return reg_rng(g);
}
static void done_leave(reg *g, rng_t *r) {
    world *w = g->w;
    if (g->free_in_done) {
        if (callback_may_touch(w, "done") && world_claim_free(w, g)) {
            if (atomic_load(&g->starter_inside) &&
                atomic_fetch_add(&g_frees_racing_start, 1) == 0) {
                printf("note [%.1f s] first ably_auth_free from a done whose _async call "
                       "had not returned yet\n", (double)(now_ms() - g_start_ms) / 1000.0);
            }
            atomic_fetch_add(&g_frees_from_done, 1);
            world_free(w, false);
        }
    } else if (callback_may_touch(w, "done") && ON(G_CALLBACK_CALLS)) {
        uint32_t p = below(r, 1000);
        if (p < 80) {
            call_poke(g, false, true);
        } else if (p < 160) {
            call_poke(g, true, true);
        } else if (p < 230) {
            start_async(w, r, g->depth + 1, false);
        } else if (p < 360) {
            listener_remove(w, r, true); /* with group 5: the listener may be shutting down */
        } else if (p < 420 && ON(G_FREES)) {
            if (world_claim_free(w, g)) {
                if (atomic_load(&g->starter_inside) &&
                    atomic_fetch_add(&g_frees_racing_start, 1) == 0) {
                    printf("note [%.1f s] first ably_auth_free from a done whose _async call "
                           "had not returned yet\n", (double)(now_ms() - g_start_ms) / 1000.0);
                }
                atomic_fetch_add(&g_frees_from_done, 1);
                world_free(w, false);
            }
        } else if (p < 520) {
            callback_actions(w, r, CB_DONE, g);
        }
    }
    atomic_fetch_sub(&g->in_call, 1);
    wd_role("library thread");
    tl_callback_depth--;
}

static void d_token(void *user_data, ably_token_details *details, ably_error_info *error) {
    reg *g = user_data;
    rng_t r = done_enter(g, (details == NULL) != (error == NULL), "token done");
    if (details != NULL) {
        char *json = NULL;
        take_error(API(ably_token_details_to_json, details, &json), "details to_json");
        if (json != NULL) {
            ably_token_details *back = NULL;
            take_error(API(ably_token_details_from_json, json, &back), "details from_json");
            APIV(ably_token_details_free, back);
            APIV(ably_string_free, json);
        }
        APIV(ably_token_details_free, details);
    }
    take_error(error, "token done");
    done_leave(g, &r);
}
static void d_string(void *user_data, char *text, ably_error_info *error) {
    reg *g = user_data;
    rng_t r = done_enter(g, (text == NULL) != (error == NULL), "header done");
    if (text != NULL && strncmp(text, "Bearer ", 7) != 0 && strncmp(text, "Basic ", 6) != 0) {
        FAIL("authorization_header_async gave \"%.12s...\"", text);
    }
    APIV(ably_string_free, text);
    take_error(error, "header done");
    done_leave(g, &r);
}
static void d_time(void *user_data, int64_t time_ms, ably_error_info *error) {
    reg *g = user_data;
    rng_t r = done_enter(g, true, "time done");
    if (error == NULL && time_ms <= 0) {
        FAIL("time done with %" PRId64 " and no error", time_ms);
    }
    take_error(error, "time done");
    done_leave(g, &r);
}
static void read_revocation(ably_revocation_result *res) {
    size_t n = API(ably_revocation_result_len, res);
    size_t ok = API(ably_revocation_result_success_count, res);
    size_t bad = API(ably_revocation_result_failure_count, res);
    if (ok + bad != n) {
        FAIL("revocation result: %zu + %zu != %zu", ok, bad, n);
    }
    for (size_t i = 0; i <= n; i++) {
        (void)API(ably_revocation_result_target, res, i);
        bool s = API(ably_revocation_result_is_success, res, i);
        (void)API(ably_revocation_result_issued_before, res, i);
        (void)API(ably_revocation_result_applies_at, res, i);
        const ably_error_info *e = API(ably_revocation_result_error, res, i);
        if (i < n && s == (e != NULL)) {
            FAIL("revocation entry %zu: success %d with error %p", i, s, (const void *)e);
        }
        check_error(e, "revocation entry");
    }
    char *json = NULL;
    take_error(API(ably_revocation_result_to_json, res, &json), "revocation to_json");
    APIV(ably_string_free, json);
}
static void d_revocation(void *user_data, ably_revocation_result *result, ably_error_info *error) {
    reg *g = user_data;
    rng_t r = done_enter(g, (result == NULL) != (error == NULL), "revocation done");
    if (result != NULL) {
        read_revocation(result);
        APIV(ably_revocation_result_free, result);
    }
    take_error(error, "revocation done");
    done_leave(g, &r);
}
static void read_response(ably_http_response *res) {
    int32_t status = API(ably_http_response_status, res);
    size_t len = 0;
    const uint8_t *body = API(ably_http_response_body, res, &len);
    if (body == NULL || body[len] != '\0') {
        FAIL("response body is not NUL-terminated");
    }
    (void)API(ably_http_response_header, res, "content-type");
    ably_error_info *e = API(ably_http_response_error, res);
    if ((status >= 400) != (e != NULL)) {
        FAIL("response of status %d has error %p", (int)status, (void *)e);
    }
    take_error(e, "response error");
}
static void d_response(void *user_data, ably_http_response *response, ably_error_info *error) {
    reg *g = user_data;
    rng_t r = done_enter(g, (response == NULL) != (error == NULL), "request done");
    if (response != NULL) {
        read_response(response);
        APIV(ably_http_response_free, response);
    }
    take_error(error, "request done");
    done_leave(g, &r);
}

/* ---------------------------------------------------------------------------------------
 * Making Auths.
 */
static world *world_alloc(void) {
    world *w = calloc(1, sizeof *w);
    if (w == NULL) {
        abort();
    }
    w->id = atomic_fetch_add(&g_world_ids, 1) + 1;
    w->born = now_ms();
    w->fixed_expires = wall_ms() + 8000;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_lock(&g_all_lock);
    w->next = g_worlds;
    g_worlds = w;
    pthread_mutex_unlock(&g_all_lock);
    return w;
}

static reg *options_transport(ably_auth_options *o, world *w, rng_t *r) {
    reg *t = reg_new(R_TRANSPORT, w, r, true);
    take_error(API(ably_auth_options_set_http_transport, o, t_send,
                   chance(r, 800) ? t_cancel : NULL, t, t_free),
               "set_http_transport");
    return t;
}

static atomic_long g_auths_made, g_auths_refused;

/* A new Auth with random options (`shape` > 0: the spin probe's). NULL when refused. */
static world *world_create(rng_t *r, int shape) {
    world *w = world_alloc();
    w->token_shape = shape;
    w->request_timeout = g_valgrind ? 600 + below(r, 1400) : 150 + below(r, 850);
    ably_auth_options *o = API(ably_auth_options_new);
    reg *regs[8];
    int nregs = 0;
    bool expect_refusal = false;
    int kind = shape == 0 ? (int)below(r, 5) : shape == 2 ? 1 : 2;
    if (kind <= 1 || (kind >= 2 && chance(r, 400))) {
        take_error(API(ably_auth_options_set_key, o, FAKE_KEY), "key");
    }
    if (kind == 1) {
        take_error(API(ably_auth_options_set_use_token_auth, o, true), "use token auth");
    }
    if (kind == 2) {
        if (shape == 0 && chance(r, 150)) { /* replaced: the first destructor runs at once */
            reg *first = reg_new(R_AUTH_CALLBACK, w, r, true);
            take_error(API(ably_auth_options_set_auth_callback, o, t_auth_callback, first, t_free),
                       "auth callback");
            regs[nregs++] = first;
        }
        reg *cb = reg_new(R_AUTH_CALLBACK, w, r, chance(r, 900));
        int before = nregs ? atomic_load(&regs[0]->frees) : 0;
        take_error(API(ably_auth_options_set_auth_callback, o, t_auth_callback, cb,
                       cb->has_free ? t_free : NULL),
                   "auth callback");
        if (nregs && (before != 0 || atomic_load(&regs[0]->frees) != 1)) {
            FAIL("a replaced authCallback's free_user_data did not run once, at once");
        }
        regs[nregs++] = cb;
    }
    if (kind == 3) {
        take_error(API(ably_auth_options_set_auth_url, o, "https://auth.torture.test/token"), "url");
        take_error(API(ably_auth_options_set_auth_method, o, chance(r, 500) ? "GET" : "POST"), "m");
        take_error(API(ably_auth_options_add_auth_header, o, "X-App", "torture"), "header");
        take_error(API(ably_auth_options_add_auth_param, o, "user", "u 1&2"), "param");
    }
    if (kind == 4) {
        if (chance(r, 500)) {
            take_error(API(ably_auth_options_set_token, o, "tok." SECRET_MARK ".fixed"), "token");
        } else {
            char json[512];
            token_details_json(json, sizeof json, w, r, 0);
            ably_token_details *d = NULL;
            if (take_error(API(ably_token_details_from_json, json, &d), "details") == 0) {
                take_error(API(ably_auth_options_set_token_details, o, d), "set_token_details");
                APIV(ably_token_details_free, d);
            }
        }
    }
    if (shape == 0 && chance(r, 100)) { /* replaced transport */
        reg *first = options_transport(o, w, r);
        regs[nregs++] = first;
        reg *second = options_transport(o, w, r);
        if (atomic_load(&first->frees) != 1) {
            FAIL("a replaced transport's free_user_data did not run at once");
        }
        regs[nregs++] = second;
    } else {
        regs[nregs++] = options_transport(o, w, r);
    }
    take_error(API(ably_auth_options_set_timeouts, o, 4000, w->request_timeout), "timeouts");
    take_error(API(ably_auth_options_set_max_retry_count, o, (int32_t)below(r, 3)), "retries");
    take_error(API(ably_auth_options_set_max_retry_duration, o, (int64_t)below(r, 20000)),
               "retry duration");
    /* A small bound on calls in flight now and then: starts past it are refused. */
    take_error(API(ably_auth_options_set_max_calls_in_flight, o,
                   chance(r, 300) ? 1 + (int64_t)below(r, 4) : 10000),
               "calls in flight");
    if (chance(r, 500)) {
        const char *hosts[2] = {"a.torture.test", "b.torture.test"};
        take_error(API(ably_auth_options_set_fallback_hosts, o, hosts, below(r, 3)), "fallbacks");
    }
    take_error(API(ably_auth_options_set_worker_threads, o, 1 + (int32_t)below(r, 3)), "workers");
    take_error(API(ably_auth_options_set_renew_ahead, o, shape != 0 || chance(r, 700)), "renew");
    if (shape == 0 && chance(r, 500)) {
        take_error(API(ably_auth_options_set_token_expiry_margin, o, (int64_t)below(r, 20000)), "m");
    }
    if (chance(r, 200)) {
        take_error(API(ably_auth_options_set_query_time, o, true), "query time");
    }
    if (chance(r, 300)) {
        take_error(API(ably_auth_options_add_agent, o, "torture/1.0"), "agent");
        take_error(API(ably_auth_options_set_add_request_ids, o, true), "request ids");
        take_error(API(ably_auth_options_set_fallback_retry_timeout, o, 1000), "retry timeout");
        take_error(API(ably_auth_options_set_tls, o, true), "tls");
        take_error(API(ably_auth_options_set_port, o, 8080), "port");
        take_error(API(ably_auth_options_set_tls_port, o, 8443), "tls port");
    }
    if (chance(r, 100)) {
        take_error(API(ably_auth_options_set_client_id, o, "torture-client"), "client id");
    }
    if (chance(r, 100)) {
        ably_token_params *p = API(ably_token_params_new);
        take_error(API(ably_token_params_set_ttl, p, 3600000), "ttl");
        take_error(API(ably_auth_options_set_default_token_params, o, p), "default params");
        stale_push(&stale_params, p);
    }
    if (shape == 0 && chance(r, 100)) {
        switch (below(r, 3)) {
        case 0: take_error(API(ably_auth_options_set_endpoint, o, "sandbox"), "endpoint"); break;
        case 1: take_error(API(ably_auth_options_set_environment, o, "sandbox"), "env"); break;
        default: take_error(API(ably_auth_options_set_rest_host, o, "rest.torture.test"), "host");
        }
    }
    if (shape == 0 && chance(r, 60)) { /* options the built-in client only: refused (40000) */
        expect_refusal = true;
        switch (below(r, 5)) {
        case 0: take_error(API(ably_auth_options_add_ca_pem, o, "not a pem"), "pem"); break;
        case 1: take_error(API(ably_auth_options_add_resolve, o, "h.test", "127.0.0.1:9"), "r"); break;
        case 2: take_error(API(ably_auth_options_set_proxy, o, "http://proxy.test:3128"), "px"); break;
        case 3: take_error(API(ably_auth_options_set_proxy_from_env, o, true), "env proxy"); break;
        default: take_error(API(ably_auth_options_set_platform_verifier, o, true), "pv"); break;
        }
    }
    if (shape == 0 && chance(r, 300) && nregs < 8) {
        reg *lg = reg_new(R_LOG, w, r, chance(r, 900));
        lg->log_level = 1 + (int32_t)below(r, 5);
        take_error(API(ably_auth_options_set_log, o, t_log, lg->log_level, lg,
                       lg->has_free ? t_free : NULL),
                   "set_log");
        regs[nregs++] = lg;
    }
    ably_auth *auth = NULL;
    ably_error_info *e = API(ably_auth_new, o, &auth);
    stale_push(&stale_options, o);
    if (e != NULL) {
        atomic_fetch_add(&g_auths_refused, 1);
        int32_t code = take_error(e, "ably_auth_new");
        if (!expect_refusal && code != 40000 && code != 40106 && code != 40103) {
            FAIL("ably_auth_new refused options (kind %d) with %d", kind, (int)code);
        }
        for (int i = 0; i < nregs; i++) {
            if (regs[i]->has_free && atomic_load(&regs[i]->frees) != 1) {
                FAIL("ably_auth_new failed and a free_user_data (kind %d) had not run when it "
                     "returned", (int)regs[i]->kind);
            }
        }
        return NULL;
    }
    if (expect_refusal) {
        FAIL("ably_auth_new accepted an option of the built-in client with a host transport");
    }
    atomic_fetch_add(&g_auths_made, 1);
    atomic_store(&w->auth, auth);
    if (shape == 0) {
        for (uint32_t i = below(r, 4); i > 0; i--) {
            listener_add(w, r);
        }
    }
    return w;
}

/* ---------------------------------------------------------------------------------------
 * Pure functions and bad arguments.
 */
static void pure_functions(rng_t *r) {
    switch (below(r, 6)) {
    case 0: {
        ably_token_params *p = API(ably_token_params_new);
        take_error(API(ably_token_params_set_client_id, p, "c*"), "client id");
        take_error(API(ably_token_params_set_capability, p, "{\"a\":[\"*\"]}"), "cap");
        ably_token_params_values v;
        take_error(API(ably_token_params_get, p, &v), "get");
        v.use_defaults = false;
        char buf[512];
        ably_token_request_values out;
        take_error(API(ably_auth_create_token_request_into, g_signer, v, buf, sizeof buf, &out),
                   "into");
        size_t jlen = 0;
        take_error(API(ably_auth_create_jwt_into, g_signer, v, buf, sizeof buf, &jlen), "jwt into");
        APIV(ably_token_params_free, p);
        break;
    }
    case 1: {
        char *jwt = NULL;
        take_error(API(ably_jwt_embed_token, "tok.inner", wall_ms() + 60000,
                       (const uint8_t *)"s3cret", 6, &jwt),
                   "embed");
        APIV(ably_string_free, jwt);
        break;
    }
    case 2: {
        ably_token_request *tr = NULL;
        if (take_error(API(ably_token_request_from_json,
                           "{\"keyName\":\"a.b\",\"timestamp\":\"1\",\"nonce\":\"n\",\"ttl\":5}",
                           &tr),
                       "tr from json") != 0) {
            FAIL("a valid TokenRequest JSON was refused");
        }
        APIV(ably_token_request_free, tr);
        break;
    }
    case 3:
        if (API(ably_auth_version) == NULL ||
            API(ably_auth_version_number) < ABLY_AUTH_VERSION_NUMBER) {
            FAIL("version mismatch");
        }
        (void)API(ably_auth_features);
        break;
    case 4: {
        char *jwt = NULL;
        ably_token_params *p = chance(r, 500) ? NULL : API(ably_token_params_new);
        if (p) {
            take_error(API(ably_token_params_set_revocation_key, p, "group-7"), "rk");
        }
        take_error(API(ably_auth_create_jwt, g_signer, p, &jwt), "jwt");
        stale_push(&stale_params, p);
        APIV(ably_string_free, jwt);
        break;
    }
    default: {
        ably_token_details *d = NULL;
        if (take_error(API(ably_token_details_from_json,
                           "{\"token\":\"x\",\"expires\":\"5\",\"issued\":1}", &d),
                       "details") == 0) {
            (void)API(ably_token_details_is_expired, d, 10, 0);
            APIV(ably_token_details_free, d);
        }
        break;
    }
    }
}

#define N_BAD 44
/* One bad-argument call: `which` picks the function. Builders are fresh, NULL or stale. */
static void bad_args(int which, rng_t *r) {
    ably_auth_options *so = stale_pick(&stale_options, r);
    ably_token_params *sp = stale_pick(&stale_params, r);
    ably_auth_completion *sc = stale_pick(&stale_completions, r);
    ably_http_exchange *se = stale_pick(&stale_exchanges, r);
    char *s = NULL;
    int64_t i64 = 0;
    ably_auth *auth = NULL;
    ably_token_details *d = NULL;
    ably_token_request *tr = NULL;
    ably_token_params *pp = NULL;
    uint64_t id = 0;
    switch (which) {
    case 0: EXPECT_CODE(API(ably_auth_new, NULL, &auth), 40003); break;
    case 1: {
        ably_auth_options *o = API(ably_auth_options_new);
        EXPECT_CODE(API(ably_auth_new, o, NULL), 40003);
        stale_push(&stale_options, o);
        if (so) EXPECT_CODE(API(ably_auth_new, so, &auth), 40003);
        break;
    }
    case 2: APIV(ably_auth_free, NULL); APIV(ably_auth_options_free, so); APIV(ably_token_params_free, sp); break;
    case 3: EXPECT_CODE(API(ably_auth_create_token_request, NULL, NULL, &tr), 40003); break;
    case 4: EXPECT_CODE(API(ably_auth_create_token_request, g_signer, NULL, NULL), 40003);
        if (sp) EXPECT_CODE(API(ably_auth_create_token_request, g_signer, sp, &tr), 40003);
        break;
    case 5: EXPECT_CODE(API(ably_auth_create_token_request_with_options, NULL, NULL, NULL, &tr), 40003);
        if (so) EXPECT_CODE(API(ably_auth_create_token_request_with_options, g_signer, NULL, so, &tr), 40003);
        break;
    case 6: {
        ably_token_params_values v = {0};
        v.ttl_ms = -1;
        EXPECT_CODE(API(ably_auth_create_token_request_into, g_signer, v, NULL, 0, &(ably_token_request_values){0}), 40003);
        v.ttl_ms = 0;
        v.client_id = (ably_str){BAD_UTF8, strlen(BAD_UTF8)};
        EXPECT_FAIL(API(ably_auth_create_token_request_into, g_signer, v, NULL, 0, &(ably_token_request_values){0}));
        EXPECT_CODE(API(ably_auth_create_token_request_into, g_signer, (ably_token_params_values){0}, NULL, 5, &(ably_token_request_values){0}), 40003);
        break;
    }
    case 7: {
        size_t len;
        ably_token_params_values v = {0};
        v.ttl_ms = 10; /* under 1000 ms */
        EXPECT_CODE(API(ably_auth_create_jwt_into, g_signer, v, NULL, 0, &len), 40003);
        EXPECT_CODE(API(ably_auth_create_jwt_into, g_signer, (ably_token_params_values){0}, NULL, 0, NULL), 40003);
        break;
    }
    case 8: EXPECT_CODE(API(ably_auth_create_jwt, NULL, NULL, &s), 40003);
        if (sp) EXPECT_CODE(API(ably_auth_create_jwt, g_signer, sp, &s), 40003);
        break;
    case 9: EXPECT_CODE(API(ably_auth_client_id, NULL, &s), 40003);
        EXPECT_CODE(API(ably_auth_client_id, g_signer, NULL), 40003);
        EXPECT_CODE(API(ably_auth_token_details, NULL, &d), 40003);
        EXPECT_CODE(API(ably_auth_token_remaining_ms, NULL, &i64), 40003);
        EXPECT_CODE(API(ably_auth_token_remaining_ms, g_signer, NULL), 40003);
        break;
    case 10: EXPECT_CODE(API(ably_auth_request_token, NULL, NULL, NULL, &d), 40003);
        if (sp || so) EXPECT_CODE(API(ably_auth_request_token, g_signer, sp, so, &d), 40003);
        break;
    case 11: EXPECT_CODE(API(ably_auth_authorize, NULL, NULL, NULL, &d), 40003);
        if (sp || so) EXPECT_CODE(API(ably_auth_authorize, g_signer, sp, so, &d), 40003);
        break;
    case 12: EXPECT_CODE(API(ably_auth_authorization_header, NULL, &s), 40003);
        EXPECT_CODE(API(ably_auth_cached_authorization_header, NULL, &s), 40003);
        EXPECT_CODE(API(ably_auth_cached_authorization_header, g_signer, NULL), 40003);
        break;
    case 13: EXPECT_CODE(API(ably_auth_token_rejected, NULL, NULL), 40003);
        EXPECT_CODE(API(ably_auth_token_rejected, g_signer, BAD_UTF8), 40003);
        break;
    case 14: EXPECT_CODE(API(ably_auth_time, NULL, &i64), 40003);
        EXPECT_CODE(API(ably_auth_time, g_signer, NULL), 40003);
        break;
    case 15: {
        reg *g = reg_new(R_CALL, NULL, r, true);
        atomic_store(&g->start_state, 2);
        EXPECT_CODE(API(ably_auth_request_token_async, NULL, NULL, NULL, d_token, g, t_free, NULL), 40003);
        if (atomic_load(&g->frees) != 1) FAIL("refused request_token_async: free_user_data did not run");
        reg *h = reg_new(R_CALL, NULL, r, true);
        atomic_store(&h->start_state, 2);
        EXPECT_CODE(API(ably_auth_authorize_async, g_signer, NULL, NULL, NULL, h, t_free, NULL), 40003);
        if (atomic_load(&h->frees) != 1) FAIL("refused authorize_async: free_user_data did not run");
        break;
    }
    case 16: {
        reg *g = reg_new(R_CALL, NULL, r, true);
        atomic_store(&g->start_state, 2);
        ably_call *call = (ably_call *)(uintptr_t)1;
        EXPECT_CODE(API(ably_auth_authorization_header_async, NULL, d_string, g, t_free, &call), 40003);
        if (call != NULL) {
            KNOWN(G_NEW_FINDINGS, "a refused _async call (NULL auth) left *out_call set, though "
                  "the header says it is set to NULL when the function fails");
        }
        reg *h = reg_new(R_CALL, NULL, r, true);
        atomic_store(&h->start_state, 2);
        EXPECT_CODE(API(ably_auth_time_async, NULL, d_time, h, t_free, NULL), 40003);
        break;
    }
    case 17: {
        const char *targets[1] = {"clientId:a"};
        EXPECT_CODE(API(ably_auth_revoke_tokens_async, NULL, targets, 1, -1, -1, d_revocation, NULL, NULL, NULL), 40003);
        EXPECT_CODE(API(ably_auth_revoke_tokens_async, g_signer, NULL, 3, -1, -1, d_revocation, NULL, NULL, NULL), 40003);
        EXPECT_CODE(API(ably_auth_revoke_tokens_async, g_signer, targets, 1, -1, 7, d_revocation, NULL, NULL, NULL), 40003);
        break;
    }
    case 18: {
        static const struct {
            const char *method, *path;
            size_t count, body_len;
        } bad[] = {{"GET", "/x", 0, 0}, {"FETCH", "/x", 0, 0}, {"GET", "x", 0, 0},
                   {"GET", "/x", 0, 4}, {BAD_UTF8, "/x", 0, 0}, {"GET", "/x", 2, 0}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            reg *g = reg_new(R_CALL, NULL, r, true);
            ably_call *call = NULL;
            ably_error_info *e = API(ably_auth_request_async, i == 0 ? NULL : g_signer,
                                     bad[i].method, bad[i].path, NULL, NULL, NULL, bad[i].count,
                                     NULL, bad[i].body_len, d_response, g, t_free, &call);
            atomic_store(&g->start_state, e ? 2 : 1);
            if (e == NULL) {
                KNOWN(G_NEW_FINDINGS, "ably_auth_request_async(%s, %s, count %zu, body_len %zu) "
                      "was accepted; the blocking form refuses it with 40003",
                      bad[i].method, bad[i].path, bad[i].count, bad[i].body_len);
                APIV(ably_call_free, call);
            } else {
                EXPECT_CODE(e, 40003);
                if (atomic_load(&g->frees) != 1) FAIL("refused request_async: free_user_data did not run");
            }
        }
        ably_http_response *res = NULL;
        EXPECT_CODE(API(ably_auth_request, g_signer, "GET", "x", NULL, NULL, NULL, 0, NULL, 0, &res), 40003);
        APIV(ably_http_response_free, res);
        break;
    }
    case 19:
        if (API(ably_call_cancel, NULL)) FAIL("ably_call_cancel(NULL) returned true");
        APIV(ably_call_free, NULL);
        EXPECT_CODE(API(ably_auth_shutdown, NULL, 0), 40003);
        EXPECT_CODE(API(ably_auth_shutdown, g_signer, -2), 40003);
        break;
    case 20:
        EXPECT_CODE(API(ably_auth_completion_answer_token, NULL, "t"), 40003);
        if (sc) EXPECT_CODE(API(ably_auth_completion_answer_token, sc, "t"), 40003);
        EXPECT_CODE(API(ably_auth_completion_answer_json, NULL, "{}"), 40003);
        if (sc) EXPECT_CODE(API(ably_auth_completion_answer_json, sc, "{}"), 40003);
        EXPECT_CODE(API(ably_auth_completion_answer_error, NULL, 0, 0, NULL), 40003);
        if (sc) EXPECT_CODE(API(ably_auth_completion_answer_error, sc, 40100, 401, "x"), 40003);
        /* The deprecated aliases refuse as the functions they name. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        EXPECT_CODE(API(ably_auth_completion_token, NULL, "t"), 40003);
        EXPECT_CODE(API(ably_auth_completion_json, NULL, "{}"), 40003);
        EXPECT_CODE(API(ably_auth_completion_error, NULL, 0, 0, NULL), 40003);
#pragma GCC diagnostic pop
        break;
    case 21:
        APIV(ably_error_info_free, NULL);
        EXPECT_CODE(API(ably_jwt_embed_token, NULL, 5000, (const uint8_t *)"k", 1, &s), 40003);
        EXPECT_CODE(API(ably_jwt_embed_token, "a b", 5000, (const uint8_t *)"k", 1, &s), 40003);
        EXPECT_CODE(API(ably_jwt_embed_token, "tok", 5000, NULL, 0, &s), 40003);
        EXPECT_CODE(API(ably_jwt_embed_token, BAD_UTF8, 5000, (const uint8_t *)"k", 1, &s), 40003);
        break;
    case 22: {
        reg *g = reg_new(R_LISTENER, NULL, r, true);
        EXPECT_CODE(API(ably_auth_add_listener, NULL, t_listener, g, t_free, &id), 40003);
        if (atomic_load(&g->frees) != 1) FAIL("refused add_listener: free_user_data did not run at once");
        reg *h = reg_new(R_LISTENER, NULL, r, true);
        EXPECT_CODE(API(ably_auth_add_listener, g_signer, NULL, h, t_free, &id), 40003);
        if (atomic_load(&h->frees) != 1) FAIL("refused add_listener: free_user_data did not run at once");
        EXPECT_CODE(API(ably_auth_remove_listener, NULL, 1), 40003);
        EXPECT_CODE(API(ably_auth_remove_listener, g_signer, 0), 40003);
        EXPECT_CODE(API(ably_auth_remove_listener, g_signer, UINT64_MAX), 40003);
        break;
    }
    case 23:
        EXPECT_CODE(API(ably_auth_options_set_key, NULL, FAKE_KEY), 40003);
        if (so) EXPECT_CODE(API(ably_auth_options_set_key, so, FAKE_KEY), 40003);
        {
            ably_auth_options *o = API(ably_auth_options_new);
            EXPECT_CODE(API(ably_auth_options_set_key, o, NULL), 40003);
            EXPECT_CODE(API(ably_auth_options_set_key, o, BAD_UTF8), 40003);
            EXPECT_CODE(API(ably_auth_options_set_key, o, "no-colon"), 40101);
            EXPECT_CODE(API(ably_auth_options_set_client_id, o, "*"), 40012);
            EXPECT_CODE(API(ably_auth_options_set_client_id, o, BAD_UTF8), 40003);
            EXPECT_CODE(API(ably_auth_options_set_token, o, ""), 40003);
            EXPECT_CODE(API(ably_auth_options_set_token_details, o, NULL), 40003);
            APIV(ably_auth_options_free, o);
            stale_push(&stale_options, o);
        }
        break;
    case 24: {
        ably_auth_options *o = so ? so : NULL;
        EXPECT_CODE(API(ably_auth_options_set_use_token_auth, o, true), 40003);
        EXPECT_CODE(API(ably_auth_options_set_default_token_params, o, NULL), 40003);
        EXPECT_CODE(API(ably_auth_options_set_auth_url, o, "https://x.test"), 40003);
        EXPECT_CODE(API(ably_auth_options_set_auth_method, o, "GET"), 40003);
        EXPECT_CODE(API(ably_auth_options_add_auth_header, o, "a", "b"), 40003);
        EXPECT_CODE(API(ably_auth_options_add_auth_param, o, "a", "b"), 40003);
        EXPECT_CODE(API(ably_auth_options_set_query_time, o, true), 40003);
        break;
    }
    case 25: {
        ably_auth_options *o = API(ably_auth_options_new);
        EXPECT_CODE(API(ably_auth_options_set_auth_method, o, "PUT"), 40003);
        EXPECT_CODE(API(ably_auth_options_add_auth_header, o, "", "b"), 40003);
        EXPECT_CODE(API(ably_auth_options_add_auth_header, o, "a", "b\r\nc: d"), 40003);
        EXPECT_CODE(API(ably_auth_options_add_auth_param, o, "", "b"), 40003);
        EXPECT_CODE(API(ably_auth_options_set_auth_url, o, BAD_UTF8), 40003);
        EXPECT_CODE(API(ably_auth_options_set_endpoint, o, NULL), 40003);
        EXPECT_CODE(API(ably_auth_options_set_environment, o, BAD_UTF8), 40003);
        EXPECT_CODE(API(ably_auth_options_set_rest_host, o, NULL), 40003);
        EXPECT_CODE(API(ably_auth_options_set_fallback_hosts, o, NULL, 2), 40003);
        const char *hosts[2] = {"a", ""};
        EXPECT_CODE(API(ably_auth_options_set_fallback_hosts, o, hosts, 2), 40003);
        pp = sp;
        if (pp) EXPECT_CODE(API(ably_auth_options_set_default_token_params, o, pp), 40003);
        APIV(ably_auth_options_free, o);
        stale_push(&stale_options, o);
        break;
    }
    case 26: {
        ably_auth_options *o = API(ably_auth_options_new);
        EXPECT_CODE(API(ably_auth_options_set_port, o, 0), 40003);
        EXPECT_CODE(API(ably_auth_options_set_tls_port, o, 70000), 40003);
        EXPECT_CODE(API(ably_auth_options_set_timeouts, o, 0, 100), 40003);
        EXPECT_CODE(API(ably_auth_options_set_timeouts, o, 100, -1), 40003);
        EXPECT_CODE(API(ably_auth_options_add_ca_pem, o, ""), 40003);
        EXPECT_CODE(API(ably_auth_options_add_resolve, o, "h", "not an address"), 40003);
        EXPECT_CODE(API(ably_auth_options_set_proxy, o, ""), 40003);
        EXPECT_CODE(API(ably_auth_options_set_token_expiry_margin, o, -1), 40003);
        EXPECT_CODE(API(ably_auth_options_set_fallback_retry_timeout, o, -5), 40003);
        EXPECT_CODE(API(ably_auth_options_set_max_retry_count, o, -1), 40003);
        EXPECT_CODE(API(ably_auth_options_set_max_retry_duration, o, -1), 40003);
        EXPECT_CODE(API(ably_auth_options_set_max_calls_in_flight, o, 0), 40003);
        EXPECT_CODE(API(ably_auth_options_add_agent, o, "has space"), 40003);
        EXPECT_CODE(API(ably_auth_options_set_worker_threads, o, 17), 40003);
        EXPECT_CODE(API(ably_auth_options_set_worker_threads, o, 0), 40003);
        APIV(ably_auth_options_free, o);
        stale_push(&stale_options, o);
        break;
    }
    case 27: {
        ably_auth_options *o = so;
        EXPECT_CODE(API(ably_auth_options_set_tls, o, false), 40003);
        EXPECT_CODE(API(ably_auth_options_set_proxy_from_env, o, true), 40003);
        EXPECT_CODE(API(ably_auth_options_set_platform_verifier, o, true), 40003);
        EXPECT_CODE(API(ably_auth_options_set_add_request_ids, o, true), 40003);
        EXPECT_CODE(API(ably_auth_options_set_renew_ahead, o, false), 40003);
        break;
    }
    case 28: { /* callbacks on options that are not live, or with bad levels: destructor at once */
        reg *g = reg_new(R_AUTH_CALLBACK, NULL, r, true);
        EXPECT_CODE(API(ably_auth_options_set_auth_callback, so, t_auth_callback, g, t_free), 40003);
        if (atomic_load(&g->frees) != 1) FAIL("refused set_auth_callback: free_user_data did not run at once");
        ably_auth_options *o = API(ably_auth_options_new);
        reg *h = reg_new(R_LOG, NULL, r, true);
        EXPECT_CODE(API(ably_auth_options_set_log, o, t_log, 6, h, t_free), 40003);
        if (atomic_load(&h->frees) != 1) FAIL("refused set_log: free_user_data did not run at once");
        reg *k = reg_new(R_TRANSPORT, NULL, r, true);
        EXPECT_CODE(API(ably_auth_options_set_http_transport, o, NULL, t_cancel, k, t_free), 40003);
        if (atomic_load(&k->frees) != 1) FAIL("refused set_http_transport: free_user_data did not run at once");
        reg *m = reg_new(R_AUTH_CALLBACK, NULL, r, true);
        take_error(API(ably_auth_options_set_auth_callback, o, t_auth_callback, m, t_free), "cb");
        APIV(ably_auth_options_free, o); /* runs m's destructor */
        if (atomic_load(&m->frees) != 1) FAIL("ably_auth_options_free did not run the authCallback's free_user_data");
        stale_push(&stale_options, o);
        break;
    }
    case 29: {
        ably_token_params *p = API(ably_token_params_new);
        EXPECT_CODE(API(ably_token_params_set_ttl, p, 0), 40003);
        EXPECT_CODE(API(ably_token_params_set_capability, p, "{\"a\":[]}"), 40003);
        EXPECT_CODE(API(ably_token_params_set_capability, p, BAD_UTF8), 40003);
        EXPECT_CODE(API(ably_token_params_set_client_id, p, ""), 40012);
        EXPECT_CODE(API(ably_token_params_set_timestamp, p, -1), 40003);
        EXPECT_CODE(API(ably_token_params_set_nonce, p, ""), 40003);
        EXPECT_CODE(API(ably_token_params_set_revocation_key, p, "a\x01"), 40003);
        EXPECT_CODE(API(ably_token_params_get, p, NULL), 40003);
        EXPECT_CODE(API(ably_token_params_to_json, p, NULL), 40003);
        EXPECT_CODE(API(ably_token_params_clone, p, NULL), 40003);
        APIV(ably_token_params_free, p);
        stale_push(&stale_params, p);
        break;
    }
    case 30:
        if (sp) {
            ably_token_params_values v;
            EXPECT_CODE(API(ably_token_params_set_ttl, sp, 1000), 40003);
            EXPECT_CODE(API(ably_token_params_get, sp, &v), 40003);
            EXPECT_CODE(API(ably_token_params_to_json, sp, &s), 40003);
            EXPECT_CODE(API(ably_token_params_clone, sp, &pp), 40003);
        }
        EXPECT_CODE(API(ably_token_params_from_json, "[1]", &pp), 40003);
        EXPECT_CODE(API(ably_token_params_from_json, NULL, &pp), 40003);
        EXPECT_CODE(API(ably_token_params_from_json, "{\"clientId\":\"\"}", &pp), 40012);
        break;
    case 31:
        EXPECT_CODE(API(ably_auth_request, NULL, "GET", "/", NULL, NULL, NULL, 0, NULL, 0, &(ably_http_response *){NULL}), 40003);
        EXPECT_CODE(API(ably_auth_request, g_signer, "GET", "/", NULL, NULL, NULL, 1, NULL, 0, &(ably_http_response *){NULL}), 40003);
        EXPECT_CODE(API(ably_auth_request, g_signer, "GET", "/", NULL, NULL, NULL, 0, NULL, 0, NULL), 40003);
        break;
    case 32:
        if (API(ably_http_response_status, NULL) != 0) FAIL("status of NULL response");
        {
            size_t len = 7;
            if (API(ably_http_response_body, NULL, &len) != NULL || len != 0) FAIL("body of NULL response");
        }
        if (API(ably_http_response_header, NULL, "a") != NULL) FAIL("header of NULL response");
        if (API(ably_http_response_error, NULL) != NULL) FAIL("ably_http_response_error(NULL) is not NULL");
        APIV(ably_http_response_free, NULL);
        break;
    case 33: {
        const char *targets[1] = {"clientId:a"};
        ably_revocation_result *res = NULL;
        EXPECT_CODE(API(ably_auth_revoke_tokens, NULL, targets, 1, -1, -1, &res), 40003);
        EXPECT_CODE(API(ably_auth_revoke_tokens, g_signer, targets, 1, -1, 2, &res), 40003);
        EXPECT_CODE(API(ably_auth_revoke_tokens, g_signer, targets, 1, -1, -1, NULL), 40003);
        break;
    }
    case 34:
        if (API(ably_revocation_result_success_count, NULL) != 0 ||
            API(ably_revocation_result_failure_count, NULL) != 0 ||
            API(ably_revocation_result_len, NULL) != 0 ||
            API(ably_revocation_result_target, NULL, 0) != NULL ||
            API(ably_revocation_result_is_success, NULL, 0) ||
            API(ably_revocation_result_issued_before, NULL, 0) != 0 ||
            API(ably_revocation_result_applies_at, NULL, 0) != 0 ||
            API(ably_revocation_result_error, NULL, 0) != NULL) {
            FAIL("a revocation getter on NULL returned something");
        }
        EXPECT_CODE(API(ably_revocation_result_to_json, NULL, &s), 40003);
        APIV(ably_revocation_result_free, NULL);
        APIV(ably_string_free, NULL);
        break;
    case 35:
        EXPECT_CODE(API(ably_token_details_from_json, "{\"token\":\"\"}", &d), 40003);
        EXPECT_CODE(API(ably_token_details_from_json, BAD_UTF8, &d), 40003);
        EXPECT_CODE(API(ably_token_details_to_json, NULL, &s), 40003);
        APIV(ably_token_details_free, NULL);
        if (API(ably_token_details_token, NULL) != NULL || API(ably_token_details_expires, NULL) != 0 ||
            API(ably_token_details_issued, NULL) != 0 || API(ably_token_details_capability, NULL) != NULL ||
            API(ably_token_details_client_id, NULL) != NULL || !API(ably_token_details_is_expired, NULL, 0, 0)) {
            FAIL("a TokenDetails getter on NULL returned something");
        }
        break;
    case 36:
        EXPECT_CODE(API(ably_token_request_from_json, "{\"keyName\":\"a.b\"}", &tr), 40003);
        EXPECT_CODE(API(ably_token_request_to_json, NULL, &s), 40003);
        APIV(ably_token_request_free, NULL);
        if (API(ably_token_request_key_name, NULL) != NULL || API(ably_token_request_ttl, NULL) != 0 ||
            API(ably_token_request_capability, NULL) != NULL || API(ably_token_request_client_id, NULL) != NULL ||
            API(ably_token_request_timestamp, NULL) != 0 || API(ably_token_request_nonce, NULL) != NULL ||
            API(ably_token_request_mac, NULL) != NULL) {
            FAIL("a TokenRequest getter on NULL returned something");
        }
        break;
    case 37: {
        const char *n = NULL, *v = NULL;
        size_t len = 3;
        ably_http_exchange *ex = chance(r, 500) ? NULL : se;
        if (API(ably_http_exchange_id, ex) != 0 || API(ably_http_exchange_method, ex) != NULL ||
            API(ably_http_exchange_url, ex) != NULL || API(ably_http_exchange_header_count, ex) != 0 ||
            API(ably_http_exchange_header, ex, 0, &n, &v) || API(ably_http_exchange_body, ex, &len) != NULL ||
            len != 0 || API(ably_http_exchange_timeout_ms, ex) != 0 ||
            API(ably_http_exchange_max_response_bytes, ex) != 0 || API(ably_http_exchange_purpose, ex) != -1) {
            FAIL("an exchange getter on a NULL or answered exchange returned something");
        }
        break;
    }
    case 38:
        EXPECT_CODE(API(ably_http_exchange_respond, NULL, 200, NULL, NULL, 0, NULL, 0), 40003);
        if (se) EXPECT_CODE(API(ably_http_exchange_respond, se, 200, NULL, NULL, 0, NULL, 0), 40003);
        EXPECT_CODE(API(ably_http_exchange_fail, NULL, 1, "x"), 40003);
        if (se) EXPECT_CODE(API(ably_http_exchange_fail, se, 2, NULL), 40003);
        break;
    case 39: {
        reg *g = reg_new(R_TRANSPORT, NULL, r, true);
        EXPECT_CODE(API(ably_auth_options_set_http_transport, so, t_send, NULL, g, t_free), 40003);
        if (atomic_load(&g->frees) != 1) {
            KNOWN(G_NEW_FINDINGS, "ably_auth_options_set_http_transport on options that are not "
                  "live did not run free_user_data (the header: it runs at once when the call "
                  "fails)");
            if (atomic_load(&g->frees) == 0) {
                g->has_free = false; /* never runs: do not count it twice */
            }
        }
        break;
    }
    case 40: /* a new Auth from options whose replaced callback's destructor frees them */
    case 41: {
        ably_auth_options *o = API(ably_auth_options_new);
        take_error(API(ably_auth_options_set_key, o, FAKE_KEY), "key");
        reg *g = reg_new(R_LOG, NULL, r, true);
        g->log_level = 1;
        take_error(API(ably_auth_options_set_log, o, t_log, 1, g, t_free), "log");
        reg *h = reg_new(R_LOG, NULL, r, true);
        h->log_level = 2;
        take_error(API(ably_auth_options_set_log, o, t_log, 2, h, t_free), "log again");
        if (atomic_load(&g->frees) != 1) FAIL("replaced log sink: free_user_data did not run at once");
        if (which == 40) {
            APIV(ably_auth_options_free, o);
            EXPECT_CODE(API(ably_auth_new, o, &auth), 40003);
        } else {
            reg *k = reg_new(R_TRANSPORT, NULL, r, true);
            take_error(API(ably_auth_options_set_http_transport, o, t_send, t_cancel, k, t_free), "t");
            take_error(API(ably_auth_options_set_proxy, o, "http://p.test:1"), "proxy");
            EXPECT_FAIL(API(ably_auth_new, o, &auth)); /* 40000, or NOT_BUILT_IN */
            if (atomic_load(&k->frees) != 1 || atomic_load(&h->frees) != 1)
                FAIL("ably_auth_new failed before every free_user_data ran");
        }
        stale_push(&stale_options, o);
        break;
    }
    case 42:
        if (se && chance(r, 500)) EXPECT_CODE(API(ably_http_exchange_fail, se, 99, "kind"), 40003);
        if (sc) EXPECT_CODE(API(ably_auth_completion_answer_token, sc, BAD_UTF8), 40003);
        break;
    default:
        (void)API(ably_auth_version);
        (void)API(ably_auth_version_number);
        (void)API(ably_auth_features);
        break;
    }
    APIV(ably_string_free, s);
    APIV(ably_token_details_free, d);
    APIV(ably_token_request_free, tr);
    APIV(ably_token_params_free, pp);
    if (auth != NULL) {
        FAIL("a bad-argument ably_auth_new made an Auth");
    }
}

/* ---------------------------------------------------------------------------------------
 * Worker moves on a world.
 */
static void world_op(world *w, rng_t *r) {
    uint32_t op = below(r, 16);
    if (op == 15) {
        start_async(w, r, 0, true);
        return;
    }
    if (op == 14) {
        call_poke(ring_pick(r), chance(r, 400), false);
        return;
    }
    if (!world_enter(w, false)) {
        return;
    }
    ably_auth *a = atomic_load(&w->auth);
    switch (op) {
    case 0:
    case 1: {
        bool stale = false, soft = false;
        ably_token_params *p = maybe_params(r, &stale, &soft);
        ably_auth_options *o = maybe_call_options(w, r, &stale, &soft);
        ably_token_details *d = NULL;
        atomic_fetch_add(&w->token_calls, 1);
        ably_error_info *e = op == 0 ? API(ably_auth_authorize, a, p, o, &d)
                                     : API(ably_auth_request_token, a, p, o, &d);
        stale_push(&stale_params, p);
        stale_push(&stale_options, o);
        int32_t code = take_error(e, op == 0 ? "authorize" : "request_token");
        if (stale && code != 40003 && code != ABLY_ERR_SHUT_DOWN) {
            FAIL("a call with a stale builder failed with %d, not 40003", (int)code);
        }
        if (code == 0 && d == NULL) {
            FAIL("authorize/request_token succeeded without TokenDetails");
        }
        APIV(ably_token_details_free, d);
        break;
    }
    case 2: {
        char *h = NULL;
        atomic_fetch_add(&w->token_calls, 1);
        take_error(API(ably_auth_authorization_header, a, &h), "authorization_header");
        APIV(ably_string_free, h);
        break;
    }
    case 3: {
        char *h = NULL;
        EXPECT_OK_OR(API(ably_auth_cached_authorization_header, a, &h), ABLY_ERR_NO_VALID_TOKEN,
                     ABLY_ERR_SHUT_DOWN, 40103);
        APIV(ably_string_free, h);
        break;
    }
    case 4: {
        int64_t t = 0;
        take_error(API(ably_auth_time, a, &t), "time");
        break;
    }
    case 5: {
        const char *method, *path, *query;
        const uint8_t *body;
        size_t body_len;
        random_request_args(r, &method, &path, &query, &body, &body_len);
        ably_http_response *res = NULL;
        atomic_fetch_add(&w->token_calls, 1);
        if (take_error(API(ably_auth_request, a, method, path, query, NULL, NULL, 0, body,
                           body_len, &res),
                       "request") == 0) {
            read_response(res);
        }
        APIV(ably_http_response_free, res);
        break;
    }
    case 6: {
        const char *targets[2] = {"clientId:a", "clientId:b"};
        ably_revocation_result *res = NULL;
        if (take_error(API(ably_auth_revoke_tokens, a, targets, 2, ABLY_ISSUED_BEFORE_UNSET,
                           ABLY_REAUTH_MARGIN_ON, &res),
                       "revoke") == 0) {
            read_revocation(res);
        }
        APIV(ably_revocation_result_free, res);
        break;
    }
    case 7: {
        bool stale = false, soft = false;
        ably_token_params *p = maybe_params(r, &stale, &soft);
        ably_token_request *tr = NULL;
        char *jwt = NULL;
        switch (below(r, 3)) {
        case 0: take_error(API(ably_auth_create_token_request, a, p, &tr), "create_tr"); break;
        case 1: {
            ably_auth_options *o = maybe_call_options(w, r, &stale, &soft);
            take_error(API(ably_auth_create_token_request_with_options, a, p, o, &tr), "tr+o");
            stale_push(&stale_options, o);
            break;
        }
        default: take_error(API(ably_auth_create_jwt, a, p, &jwt), "jwt"); break;
        }
        stale_push(&stale_params, p);
        APIV(ably_token_request_free, tr);
        APIV(ably_string_free, jwt);
        break;
    }
    case 8: {
        char *id = NULL;
        EXPECT_OK_OR(API(ably_auth_client_id, a, &id), ABLY_ERR_SHUT_DOWN);
        APIV(ably_string_free, id);
        ably_token_details *d = NULL;
        EXPECT_OK_OR(API(ably_auth_token_details, a, &d), ABLY_ERR_SHUT_DOWN);
        APIV(ably_token_details_free, d);
        int64_t ms;
        EXPECT_OK_OR(API(ably_auth_token_remaining_ms, a, &ms), ABLY_ERR_NO_VALID_TOKEN,
                     ABLY_ERR_SHUT_DOWN);
        break;
    }
    case 9:
        EXPECT_OK_OR(API(ably_auth_token_rejected, a, chance(r, 500) ? NULL : "tok.x"),
                     ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED, ABLY_ERR_SHUT_DOWN);
        break;
    case 10: listener_add(w, r); break;
    case 11: listener_remove(w, r, false); break;
    case 12:
        if (ON(G_FREES) && chance(r, 300)) {
            int64_t timeout = chance(r, 300) ? -1 : (int64_t)below(r, 200);
            atomic_store(&w->shut, true);
            EXPECT_OK_OR(API(ably_auth_shutdown, a, timeout), ABLY_ERR_TIMEOUT);
        }
        break;
    default: {
        char buf[64];
        ably_token_request_values out;
        ably_token_params_values v = {0};
        v.use_defaults = chance(r, 500);
        take_error(API(ably_auth_create_token_request_into, a, v, buf, below(r, 2) ? sizeof buf : 0,
                       &out),
                   "tr into");
        size_t len = 0;
        take_error(API(ably_auth_create_jwt_into, a, v, buf, sizeof buf, &len), "jwt into");
        break;
    }
    }
    world_leave(w, false);
}

/* ---------------------------------------------------------------------------------------
 * The renewal spin probe (group 4): an idle Auth whose tokens arrive inside their renewal
 * margin; authCallback (or requestToken) calls in one idle second are bounded generously.
 */
enum { SPIN_BOUND = 50 };
static atomic_llong g_last_probe;
static atomic_long g_probes;

static void spin_probe(rng_t *r) {
    int shape = 1 + (int)below(r, 3); /* 1 short, 2 lagging server, 3 repeated token */
    world *w = world_create(r, shape);
    if (w == NULL) {
        FAIL("the spin probe's Auth was refused");
        return;
    }
    atomic_fetch_add(&g_probes, 1);
    ably_token_details *d = NULL;
    take_error(API(ably_auth_authorize, atomic_load(&w->auth), NULL, NULL, &d), "probe authorize");
    APIV(ably_token_details_free, d);
    sleep_ms(200);
    long before = atomic_load(&w->authcb_calls) + atomic_load(&w->transport_token_calls);
    sleep_ms(1000);
    long calls = atomic_load(&w->authcb_calls) + atomic_load(&w->transport_token_calls) - before;
    if (calls > SPIN_BOUND) {
        static const char *const shapes[] = {"", "tokens shorter than the margin, no issued",
                                             "a lagging token server", "a repeated token"};
        KNOWN(G_SHORT_TOKENS, "renewal ahead spins: %ld token requests in 1 s on an idle Auth "
              "(%s; bound %d)", calls, shapes[shape], SPIN_BOUND);
    }
    uint64_t s = atomic_load(&w->state);
    while (!atomic_compare_exchange_weak(&w->state, &s, s | ST_CLOSING)) {
    }
    world_free(w, true);
}

/* ---------------------------------------------------------------------------------------
 * The free-from-done probe (item 3): a Basic-auth Auth answers
 * ably_auth_authorization_header_async at once, and its done frees the Auth, possibly
 * before the _async call returned on this thread (only after it returned when group 3 is
 * skipped; then this thread frees it if the done could not).
 */
static atomic_long g_free_probes;

static void free_from_done_probe(rng_t *r) {
    world *w = world_alloc();
    w->request_timeout = 500;
    ably_auth_options *o = API(ably_auth_options_new);
    take_error(API(ably_auth_options_set_key, o, FAKE_KEY), "key");
    options_transport(o, w, r);
    take_error(API(ably_auth_options_set_worker_threads, o, 1), "workers");
    ably_auth *auth = NULL;
    if (take_error(API(ably_auth_new, o, &auth), "probe new") != 0) {
        FAIL("the free-from-done probe's Auth was refused");
        return;
    }
    stale_push(&stale_options, o);
    atomic_store(&w->auth, auth);
    atomic_fetch_add(&g_free_probes, 1);
    if (!world_enter(w, true)) {
        abort();
    }
    reg *g = reg_new(R_CALL, w, r, true);
    g->call_type = CALL_HEADER;
    g->free_in_done = true;
    ably_call *call = NULL;
    atomic_store(&g->starter_inside, true);
    ably_error_info *e = API(ably_auth_authorization_header_async, auth, d_string, g, t_free,
                             chance(r, 500) ? &call : NULL);
    atomic_store(&g->starter_inside, false);
    atomic_store(&g->start_state, e ? 2 : 1);
    world_leave(w, true);
    if (e != NULL) {
        FAIL("the free-from-done probe's header call was refused");
        take_error(e, "probe header");
    }
    int64_t until = now_ms() + (int64_t)g_hang_s * 1000;
    while (e == NULL && atomic_load(&g->done_count) == 0 && now_ms() < until) {
        sleep_ms(1);
    }
    APIV(ably_call_free, call);
    if (world_claim_free(w, NULL)) {
        world_free(w, true);
    }
}

/* ---------------------------------------------------------------------------------------
 * Workers.
 */
static atomic_long g_moves;

static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;
    static const char *const names[] = {"worker 0", "worker 1", "worker 2", "worker 3",
                                        "worker 4", "worker 5", "worker 6", "worker 7"};
    wd_role(index < 8 ? names[index] : "worker");
    rng_t r = rng_derive(g_seed, (uint64_t)index + 1000);
    while (!atomic_load(&g_stop)) {
        atomic_fetch_add(&g_moves, 1);
        int64_t now = now_ms();
        long long last = atomic_load(&g_last_probe);
        if (ON(G_SHORT_TOKENS) && now - last > 3000 &&
            atomic_compare_exchange_strong(&g_last_probe, &last, now)) {
            spin_probe(&r);
            continue;
        }
        uint32_t p = below(&r, 1000);
        if (p < 15) {
            free_from_done_probe(&r);
            continue;
        }
        if (p < 40 && ON(G_BAD_ARGS)) {
            bad_args((int)below(&r, N_BAD), &r);
            continue;
        }
        if (p < 70) {
            pure_functions(&r);
            continue;
        }
        int slot = (int)below(&r, NSLOTS);
        world *w = atomic_load(&g_slots[slot]);
        if (w == NULL) {
            world *expected = NULL;
            if (atomic_compare_exchange_strong(&g_slots[slot], &expected, &g_creating)) {
                world *made = world_create(&r, 0);
                atomic_store(&g_slots[slot], made);
            }
            continue;
        }
        if (w == &g_creating) {
            continue;
        }
        uint32_t free_chance = atomic_load(&w->shut) ? 200 : 8;
        if (ON(G_FREES) && chance(&r, free_chance)) {
            if (world_claim_free(w, NULL)) {
                world_free(w, true);
            }
            continue;
        }
        world_op(w, &r);
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * The header: every function it declares must be in ABLY_FUNCTIONS.
 */
static void check_header_coverage(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (slash == NULL) {
        printf("note: header check skipped (no source path)\n");
        return;
    }
    snprintf(slash, sizeof path - (size_t)(slash - path), "/../../include/ably_auth.h");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("note: header check skipped (%s not readable)\n", path);
        return;
    }
    char line[1024];
    int declared = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strchr("#/ *}\n\t", line[0]) != NULL || strncmp(line, "typedef", 7) == 0 ||
            strncmp(line, "ABLY_AUTH_MUST_CHECK", 20) == 0 || strncmp(line, "extern", 6) == 0) {
            continue;
        }
        char *paren = strchr(line, '(');
        if (paren == NULL) {
            continue;
        }
        char *end = paren;
        char *start = end;
        while (start > line && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                (start[-1] >= '0' && start[-1] <= '9'))) {
            start--;
        }
        if (end - start < 5 || strncmp(start, "ably_", 5) != 0) {
            continue;
        }
        *end = '\0';
        declared++;
        bool known = false;
        for (int i = 0; i < COV_COUNT; i++) {
            known = known || strcmp(cov_names[i], start) == 0;
        }
        if (!known) {
            FAIL("%s is declared in ably_auth.h but the torture test does not know it", start);
        }
    }
    fclose(f);
    if (declared != COV_COUNT) {
        FAIL("ably_auth.h declares %d functions; the torture test knows %d", declared, COV_COUNT);
    } else {
        printf("header: %d functions declared, all known\n", declared);
    }
}

/* ---------------------------------------------------------------------------------------
 * main
 */
static void list_moves(void) {
    printf("Move groups (--skip takes a comma-separated list of numbers):\n");
    for (int g = 1; g < G_COUNT; g++) {
        printf("  %2d  %s\n", g, group_help[g]);
    }
}

static bool parse_skip(const char *list) {
    while (list != NULL && *list != '\0') {
        char *end;
        long g = strtol(list, &end, 10);
        if (end == list || g < 1 || g >= G_COUNT) {
            fprintf(stderr, "bad --skip list: %s\n", list);
            return false;
        }
        g_skip[g] = true;
        list = *end == ',' ? end + 1 : end;
    }
    return true;
}

static bool wait_until(bool (*cond)(void), int64_t limit_ms) {
    int64_t end = now_ms() + limit_ms;
    while (!cond()) {
        if (now_ms() > end) {
            return false;
        }
        sleep_ms(10);
    }
    return true;
}
static reg *g_signer_transport; /* released last, with the signer */
static bool all_settled(void) {
    pthread_mutex_lock(&g_all_lock);
    bool ok = true;
    for (reg *g = g_regs; g != NULL && ok; g = g->next) {
        if (g->has_free && atomic_load(&g->frees) == 0 && g != g_signer_transport) {
            ok = false;
        }
        if (g->kind == R_CALL && atomic_load(&g->start_state) == 1 &&
            atomic_load(&g->done_count) == 0) {
            ok = false;
        }
    }
    pthread_mutex_unlock(&g_all_lock);
    return ok && atomic_load(&g_jobs_pending) == 0 && atomic_load(&g_frees_in_progress) == 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *preload = getenv("LD_PRELOAD");
    g_valgrind = preload != NULL && strstr(preload, "vgpreload") != NULL;
    g_seconds = g_valgrind ? 30 : 20;
    if (g_valgrind) {
        g_hang_s = 120;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g_seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    const char *env;
    if ((env = getenv("TORTURE_SEED")) != NULL && *env) {
        g_seed = strtoull(env, NULL, 10);
    }
    if ((env = getenv("TORTURE_SECONDS")) != NULL && *env) {
        g_seconds = atoi(env);
    }
    if ((env = getenv("TORTURE_THREADS")) != NULL && *env) {
        g_threads = atoi(env);
    }
    if ((env = getenv("TORTURE_SKIP")) != NULL && !parse_skip(env)) {
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--list-moves") == 0) {
            list_moves();
            return 0;
        } else if (strcmp(argv[i], "--seed") == 0 && next) {
            g_seed = strtoull(next, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--seconds") == 0 && next) {
            g_seconds = atoi(next);
            i++;
        } else if (strcmp(argv[i], "--threads") == 0 && next) {
            g_threads = atoi(next);
            i++;
        } else if (strcmp(argv[i], "--hang") == 0 && next) {
            g_hang_s = atoi(next);
            i++;
        } else if (strcmp(argv[i], "--skip") == 0 && next) {
            if (!parse_skip(next)) {
                return 2;
            }
            i++;
        } else {
            fprintf(stderr,
                    "usage: %s [--seed N] [--seconds S] [--threads T] [--skip LIST] [--hang S] "
                    "[--list-moves]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_threads < 1 || g_threads > 32 || g_seconds < 0 || g_hang_s < 1) {
        fprintf(stderr, "bad --threads, --seconds or --hang\n");
        return 2;
    }
    printf("seed %" PRIu64 " (replay: test_torture --seed %" PRIu64 ")\n", g_seed, g_seed);
    printf("budget %d s, %d threads, hang guard %d s%s; skipped groups:", g_seconds, g_threads,
           g_hang_s, g_valgrind ? " (valgrind)" : "");
    bool any = false;
    for (int g = 1; g < G_COUNT; g++) {
        if (g_skip[g]) {
            printf(" %d", g);
            any = true;
        }
    }
    printf("%s\n", any ? "" : " none");
    g_start_ms = now_ms();
    pthread_key_create(&wd_key, wd_release);

    pthread_t watchdog, answerers[2], workers[32];
    pthread_create(&watchdog, NULL, watchdog_main, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_create(&answerers[i], NULL, answerer_main, NULL);
    }

    /* The signer: a key, for TokenRequests the authCallbacks hand back and pure calls. */
    rng_t main_rng = rng_derive(g_seed, 1);
    {
        ably_auth_options *o = API(ably_auth_options_new);
        take_error(API(ably_auth_options_set_key, o, SIGNER_KEY), "signer key");
        g_signer_transport = options_transport(o, NULL, &main_rng);
        take_error(API(ably_auth_options_set_renew_ahead, o, false), "signer renew");
        if (take_error(API(ably_auth_new, o, &g_signer), "signer") != 0) {
            printf("FAIL the signer Auth could not be made\n");
            return 1;
        }
    }

    /* Every function once with bad arguments first, then the random run. */
    for (int i = 0; i < N_BAD; i++) {
        bad_args(i, &main_rng);
    }
    for (int i = 0; i < 6; i++) {
        pure_functions(&(rng_t){(uint64_t)i * 7});
    }

    for (int i = 0; i < g_threads; i++) {
        pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i);
    }
    sleep_ms((int64_t)g_seconds * 1000);
    atomic_store(&g_stop, true);
    for (int i = 0; i < g_threads; i++) {
        pthread_join(workers[i], NULL);
    }
    int64_t run_ms = now_ms() - g_start_ms;

    /* Teardown: free every Auth, answer every held exchange and completion, free every
     * call handle, then wait for every done and free_user_data. */
    atomic_store(&g_teardown, true);
    for (int i = 0; i < NSLOTS; i++) {
        world *w = atomic_load(&g_slots[i]);
        if (w == NULL || w == &g_creating) {
            continue;
        }
        uint64_t s = atomic_load(&w->state);
        bool mine = false;
        while (!(s & ST_CLOSING)) {
            if (atomic_compare_exchange_weak(&w->state, &s, s | ST_CLOSING)) {
                mine = true;
            }
        }
        if (mine) {
            world_free(w, true);
        }
    }
    atomic_store(&g_flush, true);
    pthread_cond_broadcast(&g_jobs_cond);
    pthread_mutex_lock(&g_all_lock);
    reg *regs = g_regs;
    pthread_mutex_unlock(&g_all_lock);
    for (int round = 0; round < 2; round++) {
        for (reg *g = regs; g != NULL; g = g->next) {
            call_poke(g, true, false);
        }
        if (!wait_until(all_settled, (int64_t)g_hang_s * 1000)) {
            break;
        }
        pthread_mutex_lock(&g_all_lock);
        regs = g_regs;
        pthread_mutex_unlock(&g_all_lock);
    }
    APIV(ably_auth_free, g_signer);
    if (atomic_load(&g_signer_transport->frees) != 1) {
        FAIL("ably_auth_free of the signer returned before its transport's free_user_data ran");
    }
    bool settled = wait_until(all_settled, (int64_t)g_hang_s * 1000);

    /* Checks: exactly once. */
    long regs_total = 0, dones = 0;
    pthread_mutex_lock(&g_all_lock);
    for (reg *g = g_regs; g != NULL; g = g->next) {
        regs_total++;
        int frees = atomic_load(&g->frees);
        if (g->has_free ? frees != 1 : frees != 0) {
            FAIL("registration (kind %d, Auth #%d) ran free_user_data %d times (expected %d)",
                 (int)g->kind, g->w ? g->w->id : 0, frees, g->has_free ? 1 : 0);
        }
        if (g->kind == R_CALL) {
            int state = atomic_load(&g->start_state), done = atomic_load(&g->done_count);
            dones += done;
            if (state == 1 && done != 1) {
                FAIL("a call started successfully (type %d, Auth #%d) ran done %d times",
                     g->call_type, g->w ? g->w->id : 0, done);
            }
            if (state == 2 && done != 0) {
                FAIL("a refused call ran done %d times", done);
            }
            if (g->call != NULL) {
                FAIL("a call handle was not freed");
            }
        }
    }
    pthread_mutex_unlock(&g_all_lock);
    if (!settled) {
        FAIL("not every done and free_user_data ran within the hang guard after teardown");
    }
    atomic_store(&g_answerers_stop, true);
    pthread_cond_broadcast(&g_jobs_cond);
    for (int i = 0; i < 2; i++) {
        pthread_join(answerers[i], NULL);
    }
    atomic_store(&g_watchdog_stop, true);
    pthread_join(watchdog, NULL);

    /* Coverage. */
    check_header_coverage();
    int missing = 0;
    for (int i = 0; i < COV_COUNT; i++) {
        if (atomic_load(&cov_hits[i]) == 0) {
            FAIL("%s was never called", cov_names[i]);
            missing++;
        }
    }
    long calls = 0;
    for (int i = 0; i < COV_COUNT; i++) {
        calls += atomic_load(&cov_hits[i]);
    }
    printf("ran %.1f s: %ld moves, %ld API calls over %d functions (%d never called); "
           "%ld Auths made, %ld refused; %ld _async calls started (%ld dones), %ld refused; "
           "%ld registrations; %ld exchanges (%ld quoting their URL/headers), %ld transport "
           "cancels; frees: %ld outside callbacks, %ld inside (%ld from done, %ld of them before "
           "the _async call returned); %ld spin probes, %ld free-from-done probes\n",
           (double)run_ms / 1000.0, atomic_load(&g_moves), calls, COV_COUNT, missing,
           atomic_load(&g_auths_made), atomic_load(&g_auths_refused),
           atomic_load(&g_async_started), dones, atomic_load(&g_async_refused), regs_total,
           atomic_load(&g_exchanges), atomic_load(&g_url_echoes), atomic_load(&g_cancels),
           atomic_load(&g_frees_toplevel), atomic_load(&g_frees_nested),
           atomic_load(&g_frees_from_done), atomic_load(&g_frees_racing_start),
           atomic_load(&g_probes), atomic_load(&g_free_probes));
    for (int g = 1; g < G_COUNT; g++) {
        if (atomic_load(&g_known[g]) > 0) {
            printf("known bug of skipped group %d seen %ld times\n", g, atomic_load(&g_known[g]));
        }
    }

    /* Release the test's own memory. */
    while (g_regs != NULL) {
        reg *g = g_regs;
        g_regs = g->next;
        pthread_mutex_destroy(&g->call_lock);
        free(g);
    }
    while (g_worlds != NULL) {
        world *w = g_worlds;
        g_worlds = w->next;
        pthread_mutex_destroy(&w->lock);
        free(w);
    }
    int failures = atomic_load(&g_failures);
    printf("%s: %d failure(s); seed %" PRIu64 "\n", failures ? "FAILED" : "passed", failures,
           g_seed);
    return failures ? 1 : 0;
}
