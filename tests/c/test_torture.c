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
 * CI while their fixes land; every group is on by default.
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
                            "`done`s remove listeners (skipped: listeners shut down with a "
                            "bounded timeout)",
    [G_BAD_ARGS] = "bad arguments: NULL, consumed/freed builders, invalid UTF-8, values out of "
                   "range, unknown enums",
    [G_CALLBACK_CALLS] = "callbacks (authCallback, listeners, log sink, send/cancel, done, "
                         "free_user_data) call random allowed functions",
    [G_LATE_ANSWERS] = "exchanges and completions answered late, twice, from two threads at "
                       "once, or never (until the end of the run)",
    [G_WRONG_ANSWERS] = "the fake server and the authCallback answer wrongly: error statuses, "
                        "40140-class token errors, 40104, garbage, too large, invalid answers",
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
} wd_slot;
enum { WD_SLOTS = 2048 };
static wd_slot wd_slots[WD_SLOTS];
static pthread_key_t wd_key;
static _Thread_local wd_slot *tl_slot;
static atomic_long g_progress;

static void wd_release(void *p) {
    wd_slot *s = p;
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
    while (!atomic_load(&g_stop) || atomic_load(&g_teardown)) {
        sleep_ms(250);
        int64_t now = now_ms();
        for (int i = 0; i < WD_SLOTS; i++) {
            wd_slot *s = &wd_slots[i];
            if (!atomic_load(&s->used) || atomic_load(&s->depth) <= 0) {
                continue;
            }
            int64_t age = now - atomic_load(&s->outer_start);
            if (age > (int64_t)g_hang_s * 1000) {
                printf("FAIL watchdog: a call has been in progress for %.1f s (hang guard %d s): "
                       "deadlock or unbounded wait. Calls in progress:\n",
                       (double)age / 1000.0, g_hang_s);
                for (int j = 0; j < WD_SLOTS; j++) {
                    wd_slot *t = &wd_slots[j];
                    if (atomic_load(&t->used) && atomic_load(&t->depth) > 0) {
                        printf("  thread slot %d: %s (outermost, %.1f s) ... %s (innermost), "
                               "depth %d\n",
                               j, atomic_load(&t->outer_fn),
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
        if (atomic_load(&g_teardown) == false && atomic_load(&g_stop)) {
            break;
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

static atomic_long g_frees_toplevel, g_frees_nested, g_frees_from_done;

/* Free a claimed world. `strict`: called outside its callbacks, so nothing of it may run
 * after this returns. */
static void world_free(world *w, bool strict) {
    atomic_store(&w->free_started, true);
    ably_auth *auth = atomic_load(&w->auth);
    APIV(ably_auth_free, auth);
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
