/*
 * test_soundness2.c: the lifecycle and C-ABI findings of issue 20's second audit, tried as
 * a hostile C host would, with nothing the header forbids. No network: every request goes
 * through a host transport of the test's own, every token comes from an authCallback.
 * Each test fails on the code before its fix (plain, under the *_asan copy or valgrind):
 *
 *  1 exchange_fail_may_quote_the_exchanges_own_url
 *    exchange_respond_may_echo_the_exchanges_own_header
 *  2 every_destructor_has_run_when_auth_free_returns_while_a_worker_waits
 *    the_destructor_of_a_listener_freeing_its_auth_runs_as_it_returns
 *  3 auth_free_from_done_while_the_async_start_is_still_on_the_callers_thread
 *  5 listener_shutting_down_while_a_done_removes_it_does_not_deadlock
 *  6 calls_past_the_bound_in_flight_are_refused_without_done
 *  7 shutdown_ends_the_wait_on_an_unanswered_auth_callback
 * Found by the torture test (test_torture.c) after those fixes:
 * T1 removal_waits_for_a_listener_inside_shutdown
 *    removal_of_a_listener_freeing_the_auth_fails_as_shut_down (the exact exception)
 * T2 listener_shutdown_and_free_from_done_do_not_wait_for_each_other
 * T3 listener_on_a_worker_shuts_down_without_waiting_for_itself
 *
 * Waits are bounded by generous hang guards (a deadlock fails the test instead of hanging
 * ctest); no check depends on how long something took.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include "ably_auth.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
/* Fill freed memory, so that a read of a freed Auth handle by the library (not
 * instrumented itself) sees garbage, not the old value, and the double free it then makes
 * is caught. ASAN_OPTIONS from the environment still apply on top. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void) {
    return "max_free_fill_size=4096:free_fill_byte=170";
}
#endif

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Poll `flag` until it is at least `value`; false after `seconds` (a hang guard). */
static bool wait_for(atomic_int *flag, int value, int seconds) {
    for (int i = 0; i < seconds * 1000; i++) {
        if (atomic_load(flag) >= value) {
            return true;
        }
        sleep_ms(1);
    }
    return atomic_load(flag) >= value;
}

/* A hang guard for a step that may deadlock: run `fn` on a thread and wait for it. On a
 * deadlock the test cannot go on (the threads hold the library's locks): fail and exit. */
typedef struct {
    void (*fn)(void *);
    void *arg;
    atomic_int finished;
} guarded;

static void *guarded_main(void *p) {
    guarded *g = p;
    g->fn(g->arg);
    atomic_store(&g->finished, 1);
    return NULL;
}

static void run_guarded(void (*fn)(void *), void *arg, int seconds, const char *what) {
    guarded g = {fn, arg, 0};
    pthread_t thread;
    if (pthread_create(&thread, NULL, guarded_main, &g) != 0) {
        CHECK(false, "%s: thread started", what);
        return;
    }
    if (!wait_for(&g.finished, 1, seconds)) {
        CHECK(false, "%s: finished within the %d s hang guard (deadlock)", what, seconds);
        printf("%d passed, %d failed\n", atomic_load(&tu_passed), atomic_load(&tu_failed));
        fflush(stdout);
        _Exit(1);
    }
    pthread_join(thread, NULL);
}

/* ASCII case-insensitive equality (header names). */
static bool same_name(const char *a, const char *b) {
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) {
            return false;
        }
    }
    return *a == *b;
}

/* True when `err` or one of its causes mentions `text`. */
static bool error_mentions(const ably_error_info *err, const char *text) {
    for (; err != NULL; err = err->cause) {
        if (err->message != NULL && strstr(err->message, text) != NULL) {
            return true;
        }
    }
    return false;
}

static ably_auth *new_auth(ably_auth_options *options) {
    ably_auth *auth = NULL;
    if (!expect_ok(ably_auth_new(options, &auth))) {
        exit(test_summary() | 1);
    }
    return auth;
}

static void answer_token(ably_auth_completion *c, const char *token) {
    ably_error_info_free(ably_auth_completion_answer_token(c, token));
}

/* ---- 1 ---------------------------------------------------------------------------------- */

static char seen_url[1024];

/* A transport failing with the exchange's own URL as its message ("could not reach <url>"
 * with nothing around it): the message is read after the exchange's strings were freed. */
static void send_failing_with_its_url(void *user_data, ably_http_exchange *exchange) {
    (void)user_data;
    const char *url = ably_http_exchange_url(exchange);
    snprintf(seen_url, sizeof seen_url, "%s", url != NULL ? url : "");
    ably_error_info_free(ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, url));
}

static void exchange_fail_may_quote_the_exchanges_own_url(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_http_transport(options, send_failing_with_its_url, NULL,
                                                   NULL, NULL));
    ably_auth *auth = new_auth(options);
    int64_t ms = 0;
    ably_error_info *err = ably_auth_time(auth, &ms);
    CHECK(err != NULL && seen_url[0] != '\0', "1: the failed /time reports an error (url %s)",
          seen_url);
    CHECK(err != NULL && error_mentions(err, seen_url),
          "1: the error quotes the transport's message, the exchange's URL, intact");
    if (err != NULL && !error_mentions(err, seen_url)) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
    ably_auth_free(auth);
}

#define ECHO_VALUE "echoed-value-0123456789-abcdefghijklmnopqrstuvwxyz"

/* A transport echoing the request's X-Echo header back, passing the exchange's own
 * borrowed name and value pointers to respond. */
static void send_echoing_a_header(void *user_data, ably_http_exchange *exchange) {
    (void)user_data;
    const char *names[1] = {NULL};
    const char *values[1] = {NULL};
    size_t count = 0;
    size_t headers = ably_http_exchange_header_count(exchange);
    for (size_t i = 0; i < headers; i++) {
        const char *name = NULL;
        const char *value = NULL;
        if (ably_http_exchange_header(exchange, i, &name, &value) &&
            same_name(name, "X-Echo")) {
            names[0] = name;
            values[0] = value;
            count = 1;
        }
    }
    static const uint8_t body[] = "{}";
    ably_error_info_free(
        ably_http_exchange_respond(exchange, 200, names, values, count, body, 2));
}

static void exchange_respond_may_echo_the_exchanges_own_header(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(
        ably_auth_options_set_http_transport(options, send_echoing_a_header, NULL, NULL, NULL));
    ably_auth *auth = new_auth(options);
    const char *names[] = {"X-Echo"};
    const char *values[] = {ECHO_VALUE};
    ably_http_response *response = NULL;
    if (expect_ok(ably_auth_request(auth, "GET", "/echo", NULL, names, values, 1, NULL, 0,
                                    &response))) {
        const char *echoed = ably_http_response_header(response, "X-Echo");
        CHECK(str_eq(echoed, ECHO_VALUE),
              "1: the response carries the echoed header intact (got %s)", str_or_null(echoed));
        ably_http_response_free(response);
    }
    ably_auth_free(auth);
}

/* ---- 2 ---------------------------------------------------------------------------------- */

/* One counter per kind of registration whose free_user_data must have run, exactly once,
 * when ably_auth_free returns. */
enum { D_TRANSPORT, D_AUTH_CALLBACK, D_LOG, D_LISTENER, D_PER_CALL, D_DONE, D_COUNT };
static const char *const destructor_names[D_COUNT] = {
    "transport", "authCallback", "log sink", "listener", "per-call options' authCallback",
    "completion (done)"};
static atomic_int destructor_runs[D_COUNT];

static void count_destructor(void *user_data) {
    atomic_fetch_add(&destructor_runs[*(const int *)user_data], 1);
}

static const int tags[D_COUNT] = {D_TRANSPORT, D_AUTH_CALLBACK, D_LOG,
                                  D_LISTENER,  D_PER_CALL,      D_DONE};

/* authCallbacks that never answer during the call: the completion is kept for later. */
static ably_auth_completion *kept_completions[8];
static atomic_int kept_count;

static void keeping_auth_callback(void *user_data, const char *params,
                                  ably_auth_completion *completion) {
    (void)user_data;
    (void)params;
    int at = atomic_fetch_add(&kept_count, 1);
    if (at < 8) {
        kept_completions[at] = completion;
    } else {
        answer_token(completion, "unexpected");
    }
}

/* Answer every kept completion (late): each answer must be refused. */
static void answer_kept_completions(const char *what) {
    int count = atomic_load(&kept_count);
    for (int i = 0; i < count && i < 8; i++) {
        ably_error_info *err = ably_auth_completion_answer_token(kept_completions[i], "late-token");
        CHECK(err != NULL, "%s: the late answer to authCallback call %d is refused", what, i);
        ably_error_info_free(err);
        kept_completions[i] = NULL;
    }
    atomic_store(&kept_count, 0);
}

static void unused_send(void *user_data, ably_http_exchange *exchange) {
    (void)user_data;
    ably_error_info_free(ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, "unused"));
}

static void quiet_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
}

static void quiet_listener(void *user_data, const ably_token_details *details,
                           const ably_error_info *error) {
    (void)user_data;
    (void)details;
    (void)error;
}

static atomic_int done_runs;
static atomic_int done_code;

static void token_done(void *user_data, ably_token_details *details, ably_error_info *error) {
    (void)user_data;
    atomic_store(&done_code, error != NULL ? error->code : 0);
    ably_token_details_free(details);
    ably_error_info_free(error);
    atomic_fetch_add(&done_runs, 1);
}

static void every_destructor_has_run_when_auth_free_returns_while_a_worker_waits(void) {
    for (int i = 0; i < D_COUNT; i++) {
        atomic_store(&destructor_runs[i], 0);
    }
    atomic_store(&done_runs, 0);
    atomic_store(&kept_count, 0);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_http_transport(options, unused_send, NULL,
                                                   (void *)&tags[D_TRANSPORT], count_destructor));
    expect_ok(ably_auth_options_set_auth_callback(options, keeping_auth_callback,
                                                  (void *)&tags[D_AUTH_CALLBACK],
                                                  count_destructor));
    expect_ok(ably_auth_options_set_log(options, quiet_log, ABLY_LOG_LEVEL_VERBOSE,
                                        (void *)&tags[D_LOG], count_destructor));
    /* The worker waits for the authCallback's answer for up to the request timeout. */
    expect_ok(ably_auth_options_set_timeouts(options, 4000, 3000));
    ably_auth *auth = new_auth(options);
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, quiet_listener, (void *)&tags[D_LISTENER],
                                     count_destructor, &id));
    ably_auth_options *per_call = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(per_call, keeping_auth_callback,
                                                  (void *)&tags[D_PER_CALL], count_destructor));
    expect_ok(ably_auth_authorize_async(auth, NULL, per_call, token_done,
                                        (void *)&tags[D_DONE], count_destructor, NULL));
    CHECK(wait_for(&kept_count, 1, 30), "2: the per-call authCallback was called on a worker");

    ably_auth_free(auth);
    int at_return[D_COUNT];
    for (int i = 0; i < D_COUNT; i++) {
        at_return[i] = atomic_load(&destructor_runs[i]);
    }
    int done_at_return = atomic_load(&done_runs);
    for (int i = 0; i < D_COUNT; i++) {
        CHECK(at_return[i] == 1,
              "2: the %s's free_user_data had run once when ably_auth_free returned (%d)",
              destructor_names[i], at_return[i]);
    }
    CHECK(done_at_return == 1 && atomic_load(&done_code) == ABLY_ERR_CANCELLED,
          "2: done ran once, with CANCELLED, before ably_auth_free returned");
    /* Past the worker's wait (the request timeout): nothing runs again. */
    sleep_ms(3500);
    for (int i = 0; i < D_COUNT; i++) {
        CHECK(atomic_load(&destructor_runs[i]) == 1,
              "2: the %s's free_user_data never runs again after ably_auth_free",
              destructor_names[i]);
    }
    CHECK(atomic_load(&done_runs) == 1, "2: done never runs again");
    answer_kept_completions("2");
}

/* The one exception: the registration whose own function frees the Auth. A listener frees
 * its Auth: when ably_auth_free returns inside it, every other destructor has run and its
 * own has not (it is still running); its own runs as it returns. */
static ably_auth *auth_to_free_from_listener;
static int seen_inside_listener[D_COUNT];

static void listener_freeing_its_auth(void *user_data, const ably_token_details *details,
                                      const ably_error_info *error) {
    (void)user_data;
    (void)details;
    (void)error;
    ably_auth *auth = auth_to_free_from_listener;
    if (auth == NULL) {
        return;
    }
    auth_to_free_from_listener = NULL;
    ably_auth_free(auth);
    for (int i = 0; i < D_COUNT; i++) {
        seen_inside_listener[i] = atomic_load(&destructor_runs[i]);
    }
}

static void answering_auth_callback(void *user_data, const char *params,
                                    ably_auth_completion *completion);

static void the_destructor_of_a_listener_freeing_its_auth_runs_as_it_returns(void) {
    for (int i = 0; i < D_COUNT; i++) {
        atomic_store(&destructor_runs[i], 0);
        seen_inside_listener[i] = -1;
    }
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_http_transport(options, unused_send, NULL,
                                                   (void *)&tags[D_TRANSPORT], count_destructor));
    expect_ok(ably_auth_options_set_auth_callback(options, answering_auth_callback,
                                                  (void *)&tags[D_AUTH_CALLBACK],
                                                  count_destructor));
    expect_ok(ably_auth_options_set_log(options, quiet_log, ABLY_LOG_LEVEL_VERBOSE,
                                        (void *)&tags[D_LOG], count_destructor));
    ably_auth *auth = new_auth(options);
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, listener_freeing_its_auth, (void *)&tags[D_LISTENER],
                                     count_destructor, &id));
    auth_to_free_from_listener = auth;
    ably_token_details *details = NULL;
    ably_error_info_free(ably_auth_authorize(auth, NULL, NULL, &details));
    ably_token_details_free(details);
    const int others[] = {D_TRANSPORT, D_AUTH_CALLBACK, D_LOG};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        CHECK(seen_inside_listener[others[i]] == 1,
              "2: inside the listener, after ably_auth_free returned, the %s's free_user_data "
              "had run (%d)",
              destructor_names[others[i]], seen_inside_listener[others[i]]);
    }
    CHECK(seen_inside_listener[D_LISTENER] == 0,
          "2: the listener's own free_user_data had not run while it was running (%d)",
          seen_inside_listener[D_LISTENER]);
    CHECK(atomic_load(&destructor_runs[D_LISTENER]) == 1,
          "2: the listener's own free_user_data ran once, as it returned");
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        CHECK(atomic_load(&destructor_runs[others[i]]) == 1, "2: the %s's ran exactly once",
              destructor_names[others[i]]);
    }
}

/* ---- 3 ---------------------------------------------------------------------------------- */

static atomic_int freeing_dones;

static void done_freeing_its_auth(void *user_data, char *text, ably_error_info *error) {
    ably_string_free(text);
    ably_error_info_free(error);
    ably_auth_free(user_data);
    atomic_fetch_add(&freeing_dones, 1);
}

/* The header allows `done` to call ably_auth_free, and `done` may run before the `_async`
 * call returns. One CPU for the test's threads (on Linux), so that the completion thread
 * runs as soon as the start queues `done`, while the start is still inside the library.
 * Before the fix valgrind reported the start reading the freed handle on most runs; the
 * plain and ASan builds rarely lose the race. */
static void auth_free_from_done_while_the_async_start_is_still_on_the_callers_thread(void) {
#if defined(__linux__)
    cpu_set_t old_set;
    bool pinned = sched_getaffinity(0, sizeof old_set, &old_set) == 0;
    if (pinned) {
        cpu_set_t one;
        CPU_ZERO(&one);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
            if (CPU_ISSET(cpu, &old_set)) {
                CPU_SET(cpu, &one);
                break;
            }
        }
        pinned = sched_setaffinity(0, sizeof one, &one) == 0;
    }
#endif
    atomic_store(&freeing_dones, 0);
    const int rounds = 200;
    int started = 0;
    for (int i = 0; i < rounds; i++) {
        ably_auth_options *options = ably_auth_options_new();
        expect_ok(ably_auth_options_set_token(options, "a-cached-token"));
        expect_ok(ably_auth_options_set_worker_threads(options, 1));
        ably_auth *auth = new_auth(options);
        ably_error_info *err =
            ably_auth_authorization_header_async(auth, done_freeing_its_auth, auth, NULL, NULL);
        if (err != NULL) {
            CHECK(false, "3: round %d started", i);
            tu_print_error(err);
            ably_error_info_free(err);
            ably_auth_free(auth);
            break;
        }
        started++;
        if (!wait_for(&freeing_dones, started, 30)) {
            break;
        }
    }
#if defined(__linux__)
    if (pinned) {
        sched_setaffinity(0, sizeof old_set, &old_set);
    }
#endif
    CHECK(started == rounds && atomic_load(&freeing_dones) == rounds,
          "3: %d calls whose done freed the Auth each completed once (%d)", rounds,
          atomic_load(&freeing_dones));
}

/* ---- 5 ---------------------------------------------------------------------------------- */

typedef struct {
    ably_auth *auth;
    uint64_t listener_id;
    atomic_int listener_calls;
    atomic_int done_started;
    atomic_int shutdown_code;
    atomic_int remove_code;
    atomic_int remove_returned;
} deadlock_case;

static void answering_auth_callback(void *user_data, const char *params,
                                    ably_auth_completion *completion) {
    (void)user_data;
    (void)params;
    answer_token(completion, "a-token-from-the-callback");
}

static void done_removing_the_listener(void *user_data, char *text, ably_error_info *error) {
    deadlock_case *c = user_data;
    ably_string_free(text);
    ably_error_info_free(error);
    atomic_store(&c->done_started, 1);
    ably_error_info *err = ably_auth_remove_listener(c->auth, c->listener_id);
    atomic_store(&c->remove_code, err != NULL ? err->code : 0);
    ably_error_info_free(err);
    atomic_store(&c->remove_returned, 1);
}

/* On the first token: start a call whose done removes this listener, wait until that done
 * runs, then shut the Auth down with no time limit. */
static void listener_shutting_down(void *user_data, const ably_token_details *details,
                                   const ably_error_info *error) {
    (void)details;
    (void)error;
    deadlock_case *c = user_data;
    if (atomic_fetch_add(&c->listener_calls, 1) != 0) {
        return;
    }
    ably_error_info *err = ably_auth_authorization_header_async(
        c->auth, done_removing_the_listener, c, NULL, NULL);
    if (err != NULL) {
        atomic_store(&c->shutdown_code, -1);
        ably_error_info_free(err);
        return;
    }
    wait_for(&c->done_started, 1, 10);
    sleep_ms(50); /* let the done reach its wait, if it is going to wait */
    err = ably_auth_shutdown(c->auth, -1);
    atomic_store(&c->shutdown_code, err != NULL ? err->code : 0);
    ably_error_info_free(err);
}

static void authorize_raising_the_event(void *arg) {
    deadlock_case *c = arg;
    ably_token_details *details = NULL;
    ably_error_info_free(ably_auth_authorize(c->auth, NULL, NULL, &details));
    ably_token_details_free(details);
}

static void listener_shutting_down_while_a_done_removes_it_does_not_deadlock(void) {
    static deadlock_case c;
    memset(&c, 0, sizeof c);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, answering_auth_callback, NULL, NULL));
    c.auth = new_auth(options);
    expect_ok(ably_auth_add_listener(c.auth, listener_shutting_down, &c, NULL, &c.listener_id));
    run_guarded(authorize_raising_the_event, &c, 60,
                "5: a listener calling ably_auth_shutdown(-1) while a done removes it");
    CHECK(atomic_load(&c.listener_calls) == 1, "5: the listener ran once");
    CHECK(atomic_load(&c.shutdown_code) == 0, "5: the shutdown succeeded (%d)",
          atomic_load(&c.shutdown_code));
    CHECK(atomic_load(&c.remove_returned) == 1 && atomic_load(&c.remove_code) == 0,
          "5: the removal in done returned and succeeded (%d)", atomic_load(&c.remove_code));
    ably_auth_free(c.auth);
}

/* ---- 6 ---------------------------------------------------------------------------------- */

/* A transport that holds every exchange until the test answers it. */
static ably_http_exchange *held[16];
static atomic_int held_count;

static void send_holding(void *user_data, ably_http_exchange *exchange) {
    (void)user_data;
    int at = atomic_fetch_add(&held_count, 1);
    if (at < 16) {
        held[at] = exchange;
    } else {
        ably_error_info_free(ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, "full"));
    }
}

static atomic_int time_dones;
static atomic_int time_cancelled;

static void time_done(void *user_data, int64_t ms, ably_error_info *error) {
    (void)user_data;
    (void)ms;
    if (error != NULL && error->code == ABLY_ERR_CANCELLED) {
        atomic_fetch_add(&time_cancelled, 1);
    }
    ably_error_info_free(error);
    atomic_fetch_add(&time_dones, 1);
}

static atomic_int refused_frees;

static void count_refused_free(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&refused_frees, 1);
}

static void never_called_done(void *user_data, int64_t ms, ably_error_info *error) {
    (void)user_data;
    (void)ms;
    ably_error_info_free(error);
    CHECK(false, "6: done of a refused start never runs");
}

static void calls_past_the_bound_in_flight_are_refused_without_done(void) {
    atomic_store(&held_count, 0);
    atomic_store(&time_dones, 0);
    atomic_store(&time_cancelled, 0);
    atomic_store(&refused_frees, 0);
    ably_auth_options *options = ably_auth_options_new();
    expect_code(ably_auth_options_set_max_calls_in_flight(options, 0),
                ABLY_ERR_INVALID_ARGUMENT, "max_calls");
    expect_ok(ably_auth_options_set_max_calls_in_flight(options, 4));
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_worker_threads(options, 1));
    expect_ok(ably_auth_options_set_http_transport(options, send_holding, NULL, NULL, NULL));
    ably_auth *auth = new_auth(options);
    for (int i = 0; i < 4; i++) {
        expect_ok(ably_auth_time_async(auth, time_done, NULL, NULL, NULL));
    }
    ably_call *call = (ably_call *)&call; /* must be reset to NULL */
    expect_code(ably_auth_time_async(auth, never_called_done, NULL, count_refused_free, &call),
                ABLY_ERR_TOO_MANY_CALLS, "in flight");
    CHECK(call == NULL, "6: the refused start sets *out_call to NULL");
    CHECK(atomic_load(&refused_frees) == 1,
          "6: the refused start ran its free_user_data before returning");
    CHECK(atomic_load(&time_dones) == 0, "6: the calls in flight are still in flight");
    ably_auth_free(auth);
    CHECK(atomic_load(&time_dones) == 4 && atomic_load(&time_cancelled) == 4,
          "6: the 4 calls in flight completed with CANCELLED when the Auth was freed (%d)",
          atomic_load(&time_dones));
    int count = atomic_load(&held_count);
    for (int i = 0; i < count && i < 16; i++) {
        ably_error_info_free(ably_http_exchange_fail(held[i], ABLY_HTTP_FAIL_OTHER, "late"));
    }
}

/* ---- 7 ---------------------------------------------------------------------------------- */

typedef struct {
    ably_auth *auth;
    atomic_int code;
} blocking_call;

static void blocking_authorize(void *arg) {
    blocking_call *b = arg;
    ably_token_details *details = NULL;
    ably_error_info *err = ably_auth_authorize(b->auth, NULL, NULL, &details);
    atomic_store(&b->code, err != NULL ? err->code : 0);
    ably_error_info_free(err);
    ably_token_details_free(details);
}

static void *blocking_authorize_thread(void *arg) {
    blocking_authorize(arg);
    return NULL;
}

static void shutdown_ends_the_wait_on_an_unanswered_auth_callback(void) {
    atomic_store(&kept_count, 0);
    atomic_store(&done_runs, 0);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, keeping_auth_callback, NULL, NULL));
    /* The authCallback's answer would be awaited for 120 s. */
    expect_ok(ably_auth_options_set_timeouts(options, 4000, 120000));
    static blocking_call b;
    b.auth = new_auth(options);
    atomic_store(&b.code, -1);
    /* A worker asks the authCallback and waits for its answer; a blocking authorize on
     * another thread waits for that fetch. */
    expect_ok(ably_auth_authorize_async(b.auth, NULL, NULL, token_done, NULL, NULL, NULL));
    CHECK(wait_for(&kept_count, 1, 30), "7: the authCallback was called");
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, blocking_authorize_thread, &b) == 0,
          "7: blocking authorize started");
    sleep_ms(200); /* let it join the fetch (if it does not, it fails as shut down too) */
    /* Within half the 120 s the callback's answer would otherwise be awaited: a hang guard,
     * not a speed target. */
    ably_error_info *err = ably_auth_shutdown(b.auth, 60000);
    CHECK(err == NULL, "7: the shutdown ended the wait on the unanswered authCallback");
    if (err != NULL) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
    pthread_join(thread, NULL);
    int code = atomic_load(&b.code);
    CHECK(code == ABLY_ERR_SHUT_DOWN || code == ABLY_ERR_CANCELLED,
          "7: the blocking authorize waiting for the callback failed as shut down (%d)", code);
    CHECK(wait_for(&done_runs, 1, 30) && atomic_load(&done_code) == ABLY_ERR_CANCELLED,
          "7: the non-blocking authorize completed with CANCELLED (%d)",
          atomic_load(&done_code));
    answer_kept_completions("7");
    ably_auth_free(b.auth);
}

/* ---- torture findings ------------------------------------------------------------------- */

/* T1: the removal guarantee holds for a listener inside ably_auth_shutdown(-1): a `done`
 * removing it returns only after the listener's call returned (it used to return at once,
 * with the listener still running in the shutdown). */
typedef struct {
    ably_auth *auth;
    uint64_t listener_id;
    atomic_int listener_calls;
    atomic_int listener_running;
    atomic_int done_started;
    atomic_int shutdown_code;
    atomic_int remove_code;
    atomic_int remove_returned;
    atomic_int running_at_removal; /* the listener was running when the removal returned */
} removal_case;

static void done_removing_a_running_listener(void *user_data, char *text, ably_error_info *error) {
    removal_case *c = user_data;
    ably_string_free(text);
    ably_error_info_free(error);
    atomic_store(&c->done_started, 1);
    ably_error_info *err = ably_auth_remove_listener(c->auth, c->listener_id);
    atomic_store(&c->running_at_removal, atomic_load(&c->listener_running));
    atomic_store(&c->remove_code, err != NULL ? err->code : 0);
    ably_error_info_free(err);
    atomic_store(&c->remove_returned, 1);
}

static void listener_shutting_down_while_removed(void *user_data, const ably_token_details *details,
                                                 const ably_error_info *error) {
    (void)details;
    (void)error;
    removal_case *c = user_data;
    atomic_store(&c->listener_running, 1);
    if (atomic_fetch_add(&c->listener_calls, 1) == 0) {
        ably_error_info *err = ably_auth_authorization_header_async(
            c->auth, done_removing_a_running_listener, c, NULL, NULL);
        if (err != NULL) {
            atomic_store(&c->shutdown_code, -1);
            ably_error_info_free(err);
        } else {
            wait_for(&c->done_started, 1, 10);
            sleep_ms(50); /* let the done reach its wait for this call */
            err = ably_auth_shutdown(c->auth, -1);
            atomic_store(&c->shutdown_code, err != NULL ? err->code : 0);
            ably_error_info_free(err);
            sleep_ms(50); /* a removal that did not wait has returned by now */
        }
    }
    atomic_store(&c->listener_running, 0);
}

static void authorize_for_removal_case(void *arg) {
    removal_case *c = arg;
    ably_token_details *details = NULL;
    ably_error_info_free(ably_auth_authorize(c->auth, NULL, NULL, &details));
    ably_token_details_free(details);
}

static void removal_waits_for_a_listener_inside_shutdown(void) {
    static removal_case c;
    memset(&c, 0, sizeof c);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, answering_auth_callback, NULL, NULL));
    c.auth = new_auth(options);
    expect_ok(ably_auth_add_listener(c.auth, listener_shutting_down_while_removed, &c, NULL,
                                     &c.listener_id));
    run_guarded(authorize_for_removal_case, &c, 60,
                "T1: a listener in ably_auth_shutdown(-1) while a done removes it");
    CHECK(wait_for(&c.remove_returned, 1, 60), "T1: the removal in done returned");
    CHECK(atomic_load(&c.shutdown_code) == 0, "T1: the shutdown succeeded (%d)",
          atomic_load(&c.shutdown_code));
    CHECK(atomic_load(&c.remove_code) == 0, "T1: the removal succeeded (%d)",
          atomic_load(&c.remove_code));
    CHECK(atomic_load(&c.running_at_removal) == 0,
          "T1: the listener was not running any more when its removal returned");
    CHECK(atomic_load(&c.listener_calls) == 1, "T1: the listener ran once");
    ably_auth_free(c.auth);
}

/* T2: a listener calls ably_auth_shutdown(auth, -1), then a `done` on the completion
 * thread calls ably_auth_free: the free waits for the listener, the shutdown waited for the
 * completion thread (a deadlock, before). */
typedef struct {
    ably_auth *auth;
    atomic_int listener_calls;
    atomic_int shutting;
    atomic_int shutdown_code;
    atomic_int shutdown_returned;
    atomic_int freed;
} free_case;

static void done_freeing_after_the_shutdown_started(void *user_data, char *text,
                                                     ably_error_info *error) {
    free_case *c = user_data;
    ably_string_free(text);
    ably_error_info_free(error);
    wait_for(&c->shutting, 1, 10);
    sleep_ms(50); /* let the listener's shutdown reach its wait for this thread */
    ably_auth_free(c->auth);
    atomic_store(&c->freed, 1);
}

static void listener_shutting_down_before_a_free(void *user_data, const ably_token_details *details,
                                                 const ably_error_info *error) {
    (void)details;
    (void)error;
    free_case *c = user_data;
    if (atomic_fetch_add(&c->listener_calls, 1) != 0) {
        return;
    }
    ably_error_info *err = ably_auth_authorization_header_async(
        c->auth, done_freeing_after_the_shutdown_started, c, NULL, NULL);
    if (err != NULL) {
        atomic_store(&c->shutdown_code, -1);
        ably_error_info_free(err);
        return;
    }
    atomic_store(&c->shutting, 1);
    err = ably_auth_shutdown(c->auth, -1);
    atomic_store(&c->shutdown_code, err != NULL ? err->code : 0);
    ably_error_info_free(err);
    atomic_store(&c->shutdown_returned, 1);
}

static void authorize_for_free_case(void *arg) {
    free_case *c = arg;
    ably_token_details *details = NULL;
    ably_error_info_free(ably_auth_authorize(c->auth, NULL, NULL, &details));
    ably_token_details_free(details);
}

static void listener_shutdown_and_free_from_done_do_not_wait_for_each_other(void) {
    static free_case c;
    memset(&c, 0, sizeof c);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, answering_auth_callback, NULL, NULL));
    c.auth = new_auth(options);
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(c.auth, listener_shutting_down_before_a_free, &c, NULL, &id));
    /* The handle is released by the last call out: the free in done, or this authorize. */
    run_guarded(authorize_for_free_case, &c, 60,
                "T2: a listener in ably_auth_shutdown(-1) while a done frees the Auth");
    CHECK(wait_for(&c.freed, 1, 60), "T2: the free in done returned");
    CHECK(atomic_load(&c.shutdown_returned) == 1 && atomic_load(&c.shutdown_code) == 0,
          "T2: the listener's shutdown returned and succeeded (%d)",
          atomic_load(&c.shutdown_code));
}

/* T1b: the one removal that cannot wait: the listener's call frees the Auth (ably_auth_free
 * waits for the callbacks on other threads, the removing done among them). The removal
 * fails with ABLY_ERR_SHUT_DOWN instead of returning NULL while the listener still runs. */
static void listener_freeing_while_removed(void *user_data, const ably_token_details *details,
                                           const ably_error_info *error) {
    (void)details;
    (void)error;
    removal_case *c = user_data;
    atomic_store(&c->listener_running, 1);
    if (atomic_fetch_add(&c->listener_calls, 1) == 0) {
        ably_error_info *err = ably_auth_authorization_header_async(
            c->auth, done_removing_a_running_listener, c, NULL, NULL);
        if (err != NULL) {
            atomic_store(&c->shutdown_code, -1);
            ably_error_info_free(err);
        } else {
            wait_for(&c->done_started, 1, 10);
            sleep_ms(50); /* let the done reach its wait for this call */
            ably_auth_free(c->auth);
            /* The free waited for the done, so its removal has returned. */
            atomic_store(&c->shutdown_code, atomic_load(&c->remove_returned) ? 0 : -2);
        }
    }
    atomic_store(&c->listener_running, 0);
}

static void removal_of_a_listener_freeing_the_auth_fails_as_shut_down(void) {
    static removal_case c;
    memset(&c, 0, sizeof c);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, answering_auth_callback, NULL, NULL));
    c.auth = new_auth(options);
    expect_ok(ably_auth_add_listener(c.auth, listener_freeing_while_removed, &c, NULL,
                                     &c.listener_id));
    /* The handle is released by the last call out (this authorize). */
    run_guarded(authorize_for_removal_case, &c, 60,
                "T1b: a listener in ably_auth_free while a done removes it");
    CHECK(atomic_load(&c.shutdown_code) == 0,
          "T1b: the free in the listener returned after the removal (%d)",
          atomic_load(&c.shutdown_code));
    CHECK(atomic_load(&c.remove_code) == ABLY_ERR_SHUT_DOWN,
          "T1b: the removal that could not wait failed with ABLY_ERR_SHUT_DOWN (%d)",
          atomic_load(&c.remove_code));
    CHECK(atomic_load(&c.listener_calls) == 1, "T1b: the listener ran once");
}

/* T3: a listener running on a library worker (an _async authorize) calls
 * ably_auth_shutdown(auth, -1): it does not wait for its own thread, nor for the completion
 * thread, which outlives every worker (a deadlock, before). */
static atomic_int worker_listener_calls, worker_shutdown_code, worker_shutdown_returned;
static atomic_int worker_done_runs;

static void listener_shutting_down_on_a_worker(void *user_data, const ably_token_details *details,
                                               const ably_error_info *error) {
    (void)user_data;
    (void)details;
    (void)error;
    if (atomic_fetch_add(&worker_listener_calls, 1) != 0) {
        return;
    }
    ably_error_info *err = ably_auth_shutdown((ably_auth *)user_data, -1);
    atomic_store(&worker_shutdown_code, err != NULL ? err->code : 0);
    ably_error_info_free(err);
    atomic_store(&worker_shutdown_returned, 1);
}

static void worker_token_done(void *user_data, ably_token_details *details, ably_error_info *error) {
    (void)user_data;
    ably_token_details_free(details);
    ably_error_info_free(error);
    atomic_fetch_add(&worker_done_runs, 1);
}

static void listener_on_a_worker_shuts_down_without_waiting_for_itself(void) {
    atomic_store(&worker_listener_calls, 0);
    atomic_store(&worker_shutdown_code, -1);
    atomic_store(&worker_shutdown_returned, 0);
    atomic_store(&worker_done_runs, 0);
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, answering_auth_callback, NULL, NULL));
    ably_auth *auth = new_auth(options);
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, listener_shutting_down_on_a_worker, auth, NULL, &id));
    expect_ok(ably_auth_authorize_async(auth, NULL, NULL, worker_token_done, NULL, NULL, NULL));
    if (!wait_for(&worker_shutdown_returned, 1, 60)) {
        CHECK(false, "T3: the shutdown from a listener on a library worker returned within the "
                     "60 s hang guard (deadlock)");
        printf("%d passed, %d failed\n", atomic_load(&tu_passed), atomic_load(&tu_failed));
        fflush(stdout);
        _Exit(1);
    }
    CHECK(atomic_load(&worker_shutdown_code) == 0, "T3: the shutdown succeeded (%d)",
          atomic_load(&worker_shutdown_code));
    CHECK(wait_for(&worker_done_runs, 1, 60), "T3: the authorize completed once");
    ably_auth_free(auth);
    CHECK(atomic_load(&worker_done_runs) == 1, "T3: the authorize completed exactly once");
}

/* ---- main ------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    void (*run)(void);
} named_test;

#define TEST(fn) {#fn, fn}

static const named_test tests[] = {
    TEST(exchange_fail_may_quote_the_exchanges_own_url),
    TEST(exchange_respond_may_echo_the_exchanges_own_header),
    TEST(every_destructor_has_run_when_auth_free_returns_while_a_worker_waits),
    TEST(the_destructor_of_a_listener_freeing_its_auth_runs_as_it_returns),
    TEST(auth_free_from_done_while_the_async_start_is_still_on_the_callers_thread),
    TEST(listener_shutting_down_while_a_done_removes_it_does_not_deadlock),
    TEST(calls_past_the_bound_in_flight_are_refused_without_done),
    TEST(shutdown_ends_the_wait_on_an_unanswered_auth_callback),
    TEST(removal_waits_for_a_listener_inside_shutdown),
    TEST(removal_of_a_listener_freeing_the_auth_fails_as_shut_down),
    TEST(listener_shutdown_and_free_from_done_do_not_wait_for_each_other),
    TEST(listener_on_a_worker_shuts_down_without_waiting_for_itself),
};

/* With an argument, only the test of that name runs. */
int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (only != NULL && strcmp(only, tests[i].name) != 0) {
            continue;
        }
        printf("# %s\n", tests[i].name);
        fflush(stdout);
        tests[i].run();
    }
    return test_summary();
}
