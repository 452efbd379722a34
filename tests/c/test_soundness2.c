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
 * and the further findings of tests/c/test_torture.c (its move group 11):
 *
 * 11 every_refused_registration_frees_user_data_and_clears_out_call
 *    async_request_and_revoke_refuse_what_the_blocking_forms_refuse
 *    networked_calls_from_the_log_sink_are_refused_on_every_log_path
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

/* ---- 11: the torture test's further findings ------------------------------------------- */

/* Done callbacks of refused starts: they must never run. */
static atomic_int refused_dones;

static void refused_token_done(void *user_data, ably_token_details *details,
                               ably_error_info *error) {
    (void)user_data;
    ably_token_details_free(details);
    ably_error_info_free(error);
    atomic_fetch_add(&refused_dones, 1);
}
static void refused_string_done(void *user_data, char *text, ably_error_info *error) {
    (void)user_data;
    ably_string_free(text);
    ably_error_info_free(error);
    atomic_fetch_add(&refused_dones, 1);
}
static void refused_time_done(void *user_data, int64_t ms, ably_error_info *error) {
    (void)user_data;
    (void)ms;
    ably_error_info_free(error);
    atomic_fetch_add(&refused_dones, 1);
}
static void refused_revocation_done(void *user_data, ably_revocation_result *result,
                                    ably_error_info *error) {
    (void)user_data;
    ably_revocation_result_free(result);
    ably_error_info_free(error);
    atomic_fetch_add(&refused_dones, 1);
}
static void refused_response_done(void *user_data, ably_http_response *response,
                                  ably_error_info *error) {
    (void)user_data;
    ably_http_response_free(response);
    ably_error_info_free(error);
    atomic_fetch_add(&refused_dones, 1);
}
static void refused_auth_callback(void *user_data, const char *params,
                                  ably_auth_completion *completion) {
    (void)user_data;
    (void)params;
    answer_token(completion, "never");
}
static void refused_log(void *user_data, int32_t level, const char *message) {
    quiet_log(user_data, level, message);
}

/* A transport that counts the exchanges it is handed and fails them. */
static atomic_int sent_exchanges;

static void counting_send(void *user_data, ably_http_exchange *exchange) {
    (void)user_data;
    atomic_fetch_add(&sent_exchanges, 1);
    ably_error_info_free(ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, "offline"));
}

/* What `*out_call` holds before a call that must reset it: not NULL, never a call handle. */
static char not_a_call;
#define NOT_NULL_CALL ((ably_call *)(void *)&not_a_call)

/* The handles the refusal cases use. */
static struct {
    ably_auth *live;          /* Basic auth (key), counting transport */
    ably_auth *shut;          /* the same, shut down */
    ably_auth_options *freed; /* options, freed */
    ably_token_params *freed_params;
} rc;

static const char *const one_target[] = {"clientId:alice"};
static const char *const no_colon_target[] = {"alice"};
static const char *const null_target[] = {NULL};
static const char *const bad_header_names[] = {"bad name"};
static const char *const broken_header_names[] = {"X-Test"};
static const char *const broken_header_values[] = {"a\r\nInjected: 1"};
static const uint8_t some_body[] = {'{', '}'};

/* One refused call of a function taking (callback, user_data, free_user_data). `out_call`
 * is NULL for the functions that have none. */
typedef ably_error_info *(*refusal_fn)(void *ud, ably_free_fn free_ud, ably_call **out_call);

typedef struct {
    const char *what;
    refusal_fn call;
    int32_t code;
    bool is_async;
} refusal_case;

/* The non-blocking starts, by the Auth they get and whether `done` is NULL. */
#define ASYNC_CASES(tag, AUTH, NULL_DONE)                                                      \
    static ably_error_info *tag##_request_token(void *ud, ably_free_fn f, ably_call **out) {   \
        return ably_auth_request_token_async(AUTH, NULL, NULL,                                 \
                                             NULL_DONE ? NULL : refused_token_done, ud, f,     \
                                             out);                                             \
    }                                                                                          \
    static ably_error_info *tag##_authorize(void *ud, ably_free_fn f, ably_call **out) {       \
        return ably_auth_authorize_async(AUTH, NULL, NULL, NULL_DONE ? NULL : refused_token_done, \
                                         ud, f, out);                                          \
    }                                                                                          \
    static ably_error_info *tag##_header(void *ud, ably_free_fn f, ably_call **out) {          \
        return ably_auth_authorization_header_async(                                           \
            AUTH, NULL_DONE ? NULL : refused_string_done, ud, f, out);                         \
    }                                                                                          \
    static ably_error_info *tag##_time(void *ud, ably_free_fn f, ably_call **out) {            \
        return ably_auth_time_async(AUTH, NULL_DONE ? NULL : refused_time_done, ud, f, out);   \
    }                                                                                          \
    static ably_error_info *tag##_revoke(void *ud, ably_free_fn f, ably_call **out) {          \
        return ably_auth_revoke_tokens_async(AUTH, one_target, 1, -1, ABLY_REAUTH_MARGIN_UNSET, \
                                             NULL_DONE ? NULL : refused_revocation_done, ud, f, \
                                             out);                                             \
    }                                                                                          \
    static ably_error_info *tag##_request(void *ud, ably_free_fn f, ably_call **out) {         \
        return ably_auth_request_async(AUTH, "GET", "/channels/x", NULL, NULL, NULL, 0, NULL, 0, \
                                       NULL_DONE ? NULL : refused_response_done, ud, f, out);  \
    }

ASYNC_CASES(null_auth, NULL, false)
ASYNC_CASES(null_done, rc.live, true)
ASYNC_CASES(shut_down, rc.shut, false)

#define ASYNC_ROWS(tag, why, code)                                                             \
    {"ably_auth_request_token_async, " why, tag##_request_token, code, true},                  \
        {"ably_auth_authorize_async, " why, tag##_authorize, code, true},                      \
        {"ably_auth_authorization_header_async, " why, tag##_header, code, true},              \
        {"ably_auth_time_async, " why, tag##_time, code, true},                                \
        {"ably_auth_revoke_tokens_async, " why, tag##_revoke, code, true},                     \
        {"ably_auth_request_async, " why, tag##_request, code, true}

/* Non-blocking starts with bad arguments. */
static ably_error_info *freed_params_token(void *ud, ably_free_fn f, ably_call **out) {
    return ably_auth_request_token_async(rc.live, rc.freed_params, NULL, refused_token_done, ud,
                                         f, out);
}
static ably_error_info *freed_options_authorize(void *ud, ably_free_fn f, ably_call **out) {
    return ably_auth_authorize_async(rc.live, NULL, rc.freed, refused_token_done, ud, f, out);
}
static ably_error_info *no_targets_revoke(void *ud, ably_free_fn f, ably_call **out) {
    return ably_auth_revoke_tokens_async(rc.live, NULL, 0, -1, ABLY_REAUTH_MARGIN_UNSET,
                                         refused_revocation_done, ud, f, out);
}
static ably_error_info *bad_margin_revoke(void *ud, ably_free_fn f, ably_call **out) {
    return ably_auth_revoke_tokens_async(rc.live, one_target, 1, -1, 7, refused_revocation_done,
                                         ud, f, out);
}
static ably_error_info *relative_path_request(void *ud, ably_free_fn f, ably_call **out) {
    return ably_auth_request_async(rc.live, "GET", "x", NULL, NULL, NULL, 0, NULL, 0,
                                   refused_response_done, ud, f, out);
}
static ably_error_info *bad_method_request(void *ud, ably_free_fn f, ably_call **out) {
    return ably_auth_request_async(rc.live, "FETCH", "/x", NULL, NULL, NULL, 0, NULL, 0,
                                   refused_response_done, ud, f, out);
}

/* The registrations of options and listeners. */
static ably_error_info *callback_on_freed(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_options_set_auth_callback(rc.freed, refused_auth_callback, ud, f);
}
static ably_error_info *callback_on_null(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_options_set_auth_callback(NULL, refused_auth_callback, ud, f);
}
static ably_error_info *log_on_freed(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_options_set_log(rc.freed, refused_log, 3, ud, f);
}
static ably_error_info *log_on_null(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_options_set_log(NULL, refused_log, 3, ud, f);
}
static ably_error_info *transport_on_freed(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_options_set_http_transport(rc.freed, counting_send, NULL, ud, f);
}
static ably_error_info *transport_on_null(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_options_set_http_transport(NULL, counting_send, NULL, ud, f);
}
static ably_error_info *listener_on_null(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    uint64_t id = 0;
    return ably_auth_add_listener(NULL, quiet_listener, ud, f, &id);
}
/* The same functions refusing other arguments on live options (made and freed per call). */
static ably_error_info *with_fresh_options(ably_error_info *(*set)(ably_auth_options *, void *,
                                                                   ably_free_fn),
                                           void *ud, ably_free_fn f) {
    ably_auth_options *options = ably_auth_options_new();
    ably_error_info *err = set(options, ud, f);
    ably_auth_options_free(options);
    return err;
}
static ably_error_info *set_null_callback(ably_auth_options *o, void *ud, ably_free_fn f) {
    return ably_auth_options_set_auth_callback(o, NULL, ud, f);
}
static ably_error_info *set_null_log(ably_auth_options *o, void *ud, ably_free_fn f) {
    return ably_auth_options_set_log(o, NULL, 3, ud, f);
}
static ably_error_info *set_log_level_0(ably_auth_options *o, void *ud, ably_free_fn f) {
    return ably_auth_options_set_log(o, refused_log, 0, ud, f);
}
static ably_error_info *set_log_level_6(ably_auth_options *o, void *ud, ably_free_fn f) {
    return ably_auth_options_set_log(o, refused_log, 6, ud, f);
}
static ably_error_info *set_null_send(ably_auth_options *o, void *ud, ably_free_fn f) {
    return ably_auth_options_set_http_transport(o, NULL, NULL, ud, f);
}
static ably_error_info *null_callback(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return with_fresh_options(set_null_callback, ud, f);
}
static ably_error_info *null_log(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return with_fresh_options(set_null_log, ud, f);
}
static ably_error_info *log_level_0(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return with_fresh_options(set_log_level_0, ud, f);
}
static ably_error_info *log_level_6(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return with_fresh_options(set_log_level_6, ud, f);
}
static ably_error_info *null_send(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return with_fresh_options(set_null_send, ud, f);
}
static ably_error_info *null_listener(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    uint64_t id = 0;
    return ably_auth_add_listener(rc.live, NULL, ud, f, &id);
}
static ably_error_info *listener_null_out_id(void *ud, ably_free_fn f, ably_call **out) {
    (void)out;
    return ably_auth_add_listener(rc.live, quiet_listener, ud, f, NULL);
}

static const refusal_case refusal_cases[] = {
    ASYNC_ROWS(null_auth, "NULL auth", ABLY_ERR_INVALID_ARGUMENT),
    ASYNC_ROWS(null_done, "NULL done", ABLY_ERR_INVALID_ARGUMENT),
    ASYNC_ROWS(shut_down, "shut down", ABLY_ERR_SHUT_DOWN),
    {"ably_auth_request_token_async, freed params", freed_params_token,
     ABLY_ERR_INVALID_ARGUMENT, true},
    {"ably_auth_authorize_async, freed options", freed_options_authorize,
     ABLY_ERR_INVALID_ARGUMENT, true},
    {"ably_auth_revoke_tokens_async, no targets", no_targets_revoke, ABLY_ERR_INVALID_ARGUMENT,
     true},
    {"ably_auth_revoke_tokens_async, margin 7", bad_margin_revoke, ABLY_ERR_INVALID_ARGUMENT,
     true},
    {"ably_auth_request_async, path \"x\"", relative_path_request, ABLY_ERR_INVALID_ARGUMENT,
     true},
    {"ably_auth_request_async, method FETCH", bad_method_request, ABLY_ERR_INVALID_ARGUMENT,
     true},
    {"ably_auth_options_set_auth_callback, freed options", callback_on_freed,
     ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_auth_callback, NULL options", callback_on_null,
     ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_auth_callback, NULL callback", null_callback,
     ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_log, freed options", log_on_freed, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_log, NULL options", log_on_null, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_log, NULL callback", null_log, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_log, level 0", log_level_0, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_log, level 6", log_level_6, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_http_transport, freed options", transport_on_freed,
     ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_http_transport, NULL options", transport_on_null,
     ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_options_set_http_transport, NULL send", null_send, ABLY_ERR_INVALID_ARGUMENT,
     false},
    {"ably_auth_add_listener, NULL auth", listener_on_null, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_add_listener, NULL listener", null_listener, ABLY_ERR_INVALID_ARGUMENT, false},
    {"ably_auth_add_listener, NULL out_id", listener_null_out_id, ABLY_ERR_INVALID_ARGUMENT,
     false},
};

static void setup_refusal_handles(void) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_http_transport(options, counting_send, NULL, NULL, NULL));
    rc.live = new_auth(options);
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_http_transport(options, counting_send, NULL, NULL, NULL));
    rc.shut = new_auth(options);
    expect_ok(ably_auth_shutdown(rc.shut, 0));
    rc.freed = ably_auth_options_new();
    ably_auth_options_free(rc.freed);
    rc.freed_params = ably_token_params_new();
    ably_token_params_free(rc.freed_params);
}

static void teardown_refusal_handles(void) {
    ably_auth_free(rc.live);
    ably_auth_free(rc.shut);
    memset(&rc, 0, sizeof rc);
}

/* Every function taking (callback, user_data, free_user_data), refused in every way it can
 * be: free_user_data has run exactly once when it returns, no `done` ever runs, and an
 * _async function has set `*out_call` to NULL, also when refused by its earliest argument
 * checks (the torture test found NULL auth leaving it as it was). */
static void every_refused_registration_frees_user_data_and_clears_out_call(void) {
    setup_refusal_handles();
    atomic_store(&refused_dones, 0);
    atomic_store(&sent_exchanges, 0);
    for (size_t i = 0; i < sizeof refusal_cases / sizeof refusal_cases[0]; i++) {
        const refusal_case *c = &refusal_cases[i];
        atomic_store(&refused_frees, 0);
        ably_call *call = NOT_NULL_CALL; /* must be reset to NULL */
        ably_error_info *err = c->call(NULL, count_refused_free, c->is_async ? &call : NULL);
        int32_t code = err != NULL ? err->code : 0;
        CHECK(code == c->code, "11: %s is refused with %d (got %d: %s)", c->what, (int)c->code,
              (int)code, err != NULL ? err->message : "accepted");
        ably_error_info_free(err);
        CHECK(atomic_load(&refused_frees) == 1,
              "11: %s ran free_user_data once before returning (%d)", c->what,
              atomic_load(&refused_frees));
        if (c->is_async) {
            CHECK(call == NULL, "11: %s set *out_call to NULL", c->what);
            if (call != NULL && call != NOT_NULL_CALL) {
                ably_call_free(call);
            }
        }
    }
    teardown_refusal_handles();
    CHECK(atomic_load(&refused_dones) == 0, "11: no done of a refused start ran (%d)",
          atomic_load(&refused_dones));
    CHECK(atomic_load(&sent_exchanges) == 0, "11: no refused call sent a request (%d)",
          atomic_load(&sent_exchanges));
}

/* ---- 11: the non-blocking request and revokeTokens check as the blocking forms do ------- */

typedef struct {
    const char *what;
    const char *method;
    const char *path;
    const char *query;
    const char *const *names;
    const char *const *values;
    size_t count;
    const uint8_t *body;
    size_t body_len;
} request_args;

static const request_args bad_requests[] = {
    {"path \"x\"", "GET", "x", NULL, NULL, NULL, 0, NULL, 0},
    {"empty path", "GET", "", NULL, NULL, NULL, 0, NULL, 0},
    {"path \"channels/x\"", "POST", "channels/x", NULL, NULL, NULL, 0, some_body, 2},
    {"NULL path", "GET", NULL, NULL, NULL, NULL, 0, NULL, 0},
    {"path not UTF-8", "GET", "/\xff", NULL, NULL, NULL, 0, NULL, 0},
    {"method FETCH", "FETCH", "/x", NULL, NULL, NULL, 0, NULL, 0},
    {"NULL method", NULL, "/x", NULL, NULL, NULL, 0, NULL, 0},
    {"header name with a space", "GET", "/x", NULL, bad_header_names, broken_header_names, 1,
     NULL, 0},
    {"header value with CRLF", "GET", "/x", NULL, broken_header_names, broken_header_values, 1,
     NULL, 0},
    {"NULL header arrays, count 1", "GET", "/x", NULL, NULL, NULL, 1, NULL, 0},
    {"NULL body, body_len 2", "POST", "/x", NULL, NULL, NULL, 0, NULL, 2},
    {"query not UTF-8", "GET", "/x", "a=\xff", NULL, NULL, 0, NULL, 0},
};

typedef struct {
    const char *what;
    const char *const *targets;
    size_t count;
    int32_t margin;
} revoke_args;

static const revoke_args bad_revocations[] = {
    {"no targets", NULL, 0, ABLY_REAUTH_MARGIN_UNSET},
    {"target without type", no_colon_target, 1, ABLY_REAUTH_MARGIN_UNSET},
    {"NULL target", null_target, 1, ABLY_REAUTH_MARGIN_UNSET},
    {"NULL targets, count 1", NULL, 1, ABLY_REAUTH_MARGIN_UNSET},
    {"margin 7", one_target, 1, 7},
};

/* Same code and message, or both succeeded (0). */
static bool same_refusal(ably_error_info *blocking, ably_error_info *async) {
    if (blocking == NULL || async == NULL) {
        return blocking == async;
    }
    return blocking->code == async->code && blocking->message != NULL &&
           async->message != NULL && strcmp(blocking->message, async->message) == 0;
}

static void check_same_refusal(const char *function, const char *what, ably_error_info *blocking,
                               ably_error_info *async, ably_call *call) {
    CHECK(blocking != NULL, "11: %s refuses %s", function, what);
    CHECK(same_refusal(blocking, async),
          "11: %s_async refuses %s at once, as the blocking form does (%d \"%s\" / %d \"%s\")",
          function, what, blocking != NULL ? (int)blocking->code : 0,
          blocking != NULL ? blocking->message : "accepted", async != NULL ? (int)async->code : 0,
          async != NULL ? async->message : "accepted");
    CHECK(call == NULL, "11: %s_async refusing %s set *out_call to NULL", function, what);
    CHECK(atomic_load(&refused_frees) == 1, "11: %s_async refusing %s ran free_user_data (%d)",
          function, what, atomic_load(&refused_frees));
    ably_error_info_free(blocking);
    ably_error_info_free(async);
    if (call != NULL && call != NOT_NULL_CALL) {
        ably_call_free(call);
    }
}

static void async_request_and_revoke_refuse_what_the_blocking_forms_refuse(void) {
    setup_refusal_handles();
    atomic_store(&refused_dones, 0);
    atomic_store(&sent_exchanges, 0);
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const request_args *a = &bad_requests[i];
        ably_http_response *response = NULL;
        ably_error_info *blocking =
            ably_auth_request(rc.live, a->method, a->path, a->query, a->names, a->values,
                              a->count, a->body, a->body_len, &response);
        ably_http_response_free(response);
        atomic_store(&refused_frees, 0);
        ably_call *call = NOT_NULL_CALL;
        ably_error_info *async = ably_auth_request_async(
            rc.live, a->method, a->path, a->query, a->names, a->values, a->count, a->body,
            a->body_len, refused_response_done, NULL, count_refused_free, &call);
        check_same_refusal("ably_auth_request", a->what, blocking, async, call);
    }
    for (size_t i = 0; i < sizeof bad_revocations / sizeof bad_revocations[0]; i++) {
        const revoke_args *a = &bad_revocations[i];
        ably_revocation_result *result = NULL;
        ably_error_info *blocking =
            ably_auth_revoke_tokens(rc.live, a->targets, a->count, -1, a->margin, &result);
        ably_revocation_result_free(result);
        atomic_store(&refused_frees, 0);
        ably_call *call = NOT_NULL_CALL;
        ably_error_info *async =
            ably_auth_revoke_tokens_async(rc.live, a->targets, a->count, -1, a->margin,
                                          refused_revocation_done, NULL, count_refused_free, &call);
        check_same_refusal("ably_auth_revoke_tokens", a->what, blocking, async, call);
    }
    /* (On a token-auth Auth both forms fail with ABLY_ERR_REQUIRES_BASIC_AUTH, whatever the
     * targets: the non-blocking form gives it to `done`, as the Auth may change before the
     * call runs; tests/cpp/test_async.cpp checks that path.) */
    teardown_refusal_handles();
    CHECK(atomic_load(&refused_dones) == 0, "11: no done of a refused start ran (%d)",
          atomic_load(&refused_dones));
    CHECK(atomic_load(&sent_exchanges) == 0, "11: no refused call sent a request (%d)",
          atomic_load(&sent_exchanges));
}

/* ---- 11: every networked call from inside the log sink is refused ---------------------- */

/* A fake Ably behind the host transport, answering inline. Each flag, set to 1, makes the
 * next matching exchange go wrong once. */
typedef struct {
    atomic_int reject_timestamp; /* requestToken: 40104 */
    atomic_int refuse_token;     /* requestToken: 403 */
    atomic_int fail_time;        /* /time: no answer */
    atomic_int reject_token;     /* any other request: 401 with 40140 */
    atomic_int short_tokens;     /* tokens that expire 1 s after they are issued */
    atomic_int tokens;
} fake_ably;

static bool take_flag(atomic_int *flag) {
    int one = 1;
    return atomic_compare_exchange_strong(flag, &one, 0);
}

static void respond_typed(ably_http_exchange *exchange, int32_t status, const char *type,
                          const char *body) {
    const char *const names[] = {"Content-Type"};
    const char *const values[] = {type};
    ably_error_info_free(ably_http_exchange_respond(exchange, status, names, values, 1,
                                                    (const uint8_t *)body, strlen(body)));
}

static void respond_json(ably_http_exchange *exchange, int32_t status, const char *body) {
    respond_typed(exchange, status, "application/json", body);
}

static void fake_ably_send(void *user_data, ably_http_exchange *exchange) {
    fake_ably *f = user_data;
    const char *url = ably_http_exchange_url(exchange);
    long long now = (long long)tu_unix_time_ms();
    char body[512];
    if (url == NULL) {
        ably_error_info_free(ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, "no url"));
    } else if (ably_http_exchange_purpose(exchange) == ABLY_HTTP_PURPOSE_AUTH_URL) {
        respond_typed(exchange, 200, "text/plain", "tok-from-auth-url");
    } else if (strstr(url, "/requestToken") != NULL) {
        if (take_flag(&f->reject_timestamp)) {
            respond_json(exchange, 401,
                         "{\"error\":{\"code\":40104,\"statusCode\":401,"
                         "\"message\":\"timestamp not current\"}}");
        } else if (take_flag(&f->refuse_token)) {
            respond_json(exchange, 403,
                         "{\"error\":{\"code\":40300,\"statusCode\":403,\"message\":\"no\"}}");
        } else {
            int n = atomic_fetch_add(&f->tokens, 1) + 1;
            long long life = atomic_load(&f->short_tokens) ? 1000 : 3600000;
            snprintf(body, sizeof body,
                     "{\"token\":\"tok-%d\",\"issued\":%lld,\"expires\":%lld,"
                     "\"keyName\":\"appId.keyId\",\"capability\":\"{\\\"*\\\":[\\\"*\\\"]}\"}",
                     n, now, now + life);
            respond_json(exchange, 200, body);
        }
    } else if (strstr(url, "/time") != NULL) {
        if (take_flag(&f->fail_time)) {
            ably_error_info_free(ably_http_exchange_fail(exchange, ABLY_HTTP_FAIL_OTHER, "down"));
        } else {
            snprintf(body, sizeof body, "[%lld]", now);
            respond_json(exchange, 200, body);
        }
    } else if (strstr(url, "/revokeTokens") != NULL) {
        respond_json(exchange, 200, "{\"successCount\":0,\"failureCount\":0,\"results\":[]}");
    } else if (take_flag(&f->reject_token)) {
        respond_json(exchange, 401,
                     "{\"error\":{\"code\":40140,\"statusCode\":401,\"message\":\"expired\"}}");
    } else {
        respond_json(exchange, 200, "{}");
    }
}

/* The log lines of each path that logs, by a part of their text. */
static const char *const log_paths[] = {
    "exchanging a TokenRequest",       "new token in use",
    "GET /channels/x -> HTTP 200",     "token rejected with 40140",
    "GET /time -> HTTP 200",           "GET /time failed",
    "TokenRequest timestamp rejected", "getting a token failed",
    "capability names operations",     "requesting a token from the authCallback",
    "requesting a token from the authUrl", "is usable for only",
    "no means to renew",
};
enum { LOG_PATHS = sizeof log_paths / sizeof log_paths[0] };
static atomic_int log_path_seen[LOG_PATHS];

/* The sink calls every networked function on its own Auth (once known) and on another one,
 * a Basic-auth Auth that never learns the server time (so createTokenRequest with queryTime
 * must ask for it). */
typedef struct {
    _Atomic(ably_auth *) self;
} sink_owner;
static ably_auth *sink_other;
static _Thread_local bool in_sink;
static atomic_int sink_probes;
static atomic_int sink_not_refused;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static char sink_first_failure[600];

static void sink_expect_refused(ably_error_info *err, const char *call, const char *line) {
    atomic_fetch_add(&sink_probes, 1);
    if (err == NULL || (err->code != ABLY_ERR_REENTRANT_CALL && err->code != ABLY_ERR_SHUT_DOWN)) {
        if (atomic_fetch_add(&sink_not_refused, 1) == 0) {
            pthread_mutex_lock(&sink_lock);
            snprintf(sink_first_failure, sizeof sink_first_failure, "%s %s %d (%.120s) for: %.200s",
                     call, err != NULL ? "failed with" : "succeeded", err != NULL ? (int)err->code : 0,
                     err != NULL && err->message != NULL ? err->message : "", line);
            pthread_mutex_unlock(&sink_lock);
        }
    }
    ably_error_info_free(err);
}

static void probe_networked_calls(ably_auth *auth, const char *line) {
    int64_t ms = 0;
    sink_expect_refused(ably_auth_time(auth, &ms), "ably_auth_time", line);
    ably_http_response *response = NULL;
    sink_expect_refused(ably_auth_request(auth, "GET", "/channels/sink", NULL, NULL, NULL, 0, NULL,
                                          0, &response),
                        "ably_auth_request", line);
    ably_http_response_free(response);
    ably_token_details *details = NULL;
    sink_expect_refused(ably_auth_authorize(auth, NULL, NULL, &details), "ably_auth_authorize",
                        line);
    ably_token_details_free(details);
    details = NULL;
    sink_expect_refused(ably_auth_request_token(auth, NULL, NULL, &details),
                        "ably_auth_request_token", line);
    ably_token_details_free(details);
}

static void probing_sink(void *user_data, int32_t level, const char *message) {
    (void)level;
    sink_owner *owner = user_data;
    for (int i = 0; i < LOG_PATHS; i++) {
        if (strstr(message, log_paths[i]) != NULL) {
            atomic_fetch_add(&log_path_seen[i], 1);
        }
    }
    if (in_sink) {
        return; /* a line logged by a call this sink made (only when such a call is let in) */
    }
    in_sink = true;
    ably_auth *self = atomic_load(&owner->self);
    if (self != NULL) {
        probe_networked_calls(self, message);
    }
    probe_networked_calls(sink_other, message);
    ably_revocation_result *result = NULL;
    sink_expect_refused(ably_auth_revoke_tokens(sink_other, one_target, 1, -1,
                                                ABLY_REAUTH_MARGIN_UNSET, &result),
                        "ably_auth_revoke_tokens", message);
    ably_revocation_result_free(result);
    ably_auth_options *options = ably_auth_options_new();
    ably_error_info_free(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    ably_error_info_free(ably_auth_options_set_query_time(options, true));
    ably_token_request *request = NULL;
    sink_expect_refused(
        ably_auth_create_token_request_with_options(sink_other, NULL, options, &request),
        "ably_auth_create_token_request_with_options (queryTime)", message);
    ably_token_request_free(request);
    in_sink = false;
}

static void inline_token_callback(void *user_data, const char *params,
                                  ably_auth_completion *completion) {
    (void)user_data;
    (void)params;
    answer_token(completion, "tok-from-callback");
}

/* An Auth logging every line to the probing sink, with the fake Ably as its transport. */
static ably_auth *probed_auth(ably_auth_options *options, sink_owner *owner, fake_ably *fake,
                              int32_t level) {
    atomic_store(&owner->self, NULL);
    expect_ok(ably_auth_options_set_http_transport(options, fake_ably_send, NULL, fake, NULL));
    expect_ok(ably_auth_options_set_log(options, probing_sink, level, owner, NULL));
    ably_auth *auth = new_auth(options);
    atomic_store(&owner->self, auth);
    return auth;
}

static void authorize_expecting(ably_auth *auth, ably_token_params *params, bool ok,
                                const char *what) {
    ably_token_details *details = NULL;
    ably_error_info *err = ably_auth_authorize(auth, params, NULL, &details);
    CHECK((err == NULL) == ok, "11: %s %s", what, ok ? "succeeds" : "fails");
    if (err != NULL && ok) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
    ably_token_details_free(details);
}

static void request_expecting_200(ably_auth *auth, const char *what) {
    ably_http_response *response = NULL;
    ably_error_info *err =
        ably_auth_request(auth, "GET", "/channels/x", NULL, NULL, NULL, 0, NULL, 0, &response);
    CHECK(err == NULL && ably_http_response_status(response) == 200, "11: %s answered 200",
          what);
    ably_error_info_free(err);
    ably_http_response_free(response);
}

static void networked_calls_from_the_log_sink_are_refused_on_every_log_path(void) {
    static fake_ably other_fake, fake;
    static sink_owner owner;
    atomic_store(&sink_probes, 0);
    atomic_store(&sink_not_refused, 0);
    for (int i = 0; i < LOG_PATHS; i++) {
        atomic_store(&log_path_seen[i], 0);
    }
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_http_transport(options, fake_ably_send, NULL, &other_fake,
                                                   NULL));
    sink_other = new_auth(options);

    /* A key, token auth: the token exchange, requests, time, and what goes wrong there. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    expect_ok(ably_auth_options_set_renew_ahead(options, false));
    ably_auth *auth = probed_auth(options, &owner, &fake, ABLY_LOG_LEVEL_VERBOSE);
    authorize_expecting(auth, NULL, true, "authorize");
    request_expecting_200(auth, "a request with the token");
    atomic_store(&fake.reject_token, 1);
    request_expecting_200(auth, "a request whose token is rejected once");
    int64_t ms = 0;
    expect_ok(ably_auth_time(auth, &ms));
    atomic_store(&fake.fail_time, 1);
    ably_error_info *err = ably_auth_time(auth, &ms);
    CHECK(err != NULL, "11: time without an answer fails");
    ably_error_info_free(err);
    atomic_store(&fake.reject_timestamp, 1);
    authorize_expecting(auth, NULL, true, "authorize after a 40104");
    atomic_store(&fake.refuse_token, 1);
    authorize_expecting(auth, NULL, false, "authorize refused by the server");
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_capability(params, "{\"x\":[\"frobnicate\"]}"));
    authorize_expecting(auth, params, true, "authorize with an unknown capability operation");
    ably_auth_free(auth);

    /* The authCallback and the authUrl. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options, inline_token_callback, NULL, NULL));
    expect_ok(ably_auth_options_set_renew_ahead(options, false));
    auth = probed_auth(options, &owner, &fake, ABLY_LOG_LEVEL_VERBOSE);
    authorize_expecting(auth, NULL, true, "authorize through the authCallback");
    ably_auth_free(auth);
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_url(options, "https://auth.example.test/token"));
    expect_ok(ably_auth_options_set_renew_ahead(options, false));
    auth = probed_auth(options, &owner, &fake, ABLY_LOG_LEVEL_VERBOSE);
    authorize_expecting(auth, NULL, true, "authorize through the authUrl");
    ably_auth_free(auth);

    /* A token too short for renewal ahead. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "appId.keyId:secretsecret"));
    expect_ok(ably_auth_options_set_use_token_auth(options, true));
    atomic_store(&fake.short_tokens, 1);
    auth = probed_auth(options, &owner, &fake, ABLY_LOG_LEVEL_VERBOSE);
    authorize_expecting(auth, NULL, true, "authorize with a short token");
    ably_auth_free(auth);
    atomic_store(&fake.short_tokens, 0);

    /* A given token and no means to renew it: logged while the Auth is being made. */
    options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(options, "given-token"));
    auth = probed_auth(options, &owner, &fake, ABLY_LOG_LEVEL_INFO);
    ably_auth_free(auth);

    ably_auth_free(sink_other);
    sink_other = NULL;
    for (int i = 0; i < LOG_PATHS; i++) {
        CHECK(atomic_load(&log_path_seen[i]) > 0, "11: the log path \"%s\" was taken",
              log_paths[i]);
    }
    CHECK(atomic_load(&sink_probes) > 0, "11: the sink made networked calls (%d)",
          atomic_load(&sink_probes));
    CHECK(atomic_load(&sink_not_refused) == 0,
          "11: every networked call from the log sink was refused with "
          "ABLY_ERR_REENTRANT_CALL (%d were not; first: %s)",
          atomic_load(&sink_not_refused), sink_first_failure);
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
    TEST(every_refused_registration_frees_user_data_and_clears_out_call),
    TEST(async_request_and_revoke_refuse_what_the_blocking_forms_refuse),
    TEST(networked_calls_from_the_log_sink_are_refused_on_every_log_path),
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
