/*
 * test_async.c: the non-blocking C API (issue 12) against the loopback server.
 *
 * - every _async function completes exactly once, on a library thread, never inside the
 *   start call, with *out_call already visible to done, then free_user_data once;
 * - start errors: done never runs, free_user_data runs before the call returns;
 * - cancel: wins before the outcome (ABLY_ERR_CANCELLED), loses after it (false); races
 *   between cancel on one thread and completion on another, many rounds;
 * - the deadline: a synchronous authCallback that never returns still gets done at the
 *   call's deadline (50003);
 * - shutdown: calls in flight complete with ABLY_ERR_CANCELLED promptly, new ones are
 *   refused with ABLY_ERR_SHUT_DOWN; free with calls in flight; free from inside done;
 * - the cached header never does I/O (ABLY_ERR_NO_VALID_TOKEN before the first token);
 * - renewal ahead of expiry: a new token arrives in the background before the old one
 *   enters its margin; turned off, nothing happens in the background.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ably_auth.h"
#include "net_fixture.h"


/* ---- one completion's record ------------------------------------------------------------ */

static _Thread_local bool inside_start; /* set around each start call */

typedef struct outcome {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done_calls;
    int frees;
    bool inline_call;     /* done ran inside the start call */
    bool call_visible;    /* *out_call was set when done ran */
    ably_call *call;
    int code;             /* 0 on success */
    char text[256];       /* token or header */
    int64_t number;
} outcome;

static void outcome_init(outcome *o) {
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
}

static void outcome_destroy(outcome *o) {
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->cond);
}

/* Record a completion: the code of `error` (freed here) or 0. */
static void record(outcome *o, ably_error_info *error, const char *text, int64_t number) {
    pthread_mutex_lock(&o->lock);
    o->done_calls++;
    o->inline_call = o->inline_call || inside_start;
    o->call_visible = o->call != NULL;
    o->code = error ? (int)error->code : 0;
    snprintf(o->text, sizeof o->text, "%s", text ? text : "");
    o->number = number;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    ably_error_info_free(error);
}

static void outcome_free(void *user_data) {
    outcome *o = user_data;
    pthread_mutex_lock(&o->lock);
    o->frees++;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

/* Wait (hang guard 20 s) until done and free_user_data ran; false on the guard. */
static bool wait_outcome(outcome *o) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&o->lock);
    int rc = 0;
    while ((o->done_calls == 0 || o->frees == 0) && rc == 0) {
        rc = pthread_cond_timedwait(&o->cond, &o->lock, &until);
    }
    bool ok = o->done_calls > 0 && o->frees > 0;
    pthread_mutex_unlock(&o->lock);
    return ok;
}

static void details_done(void *user_data, ably_token_details *details, ably_error_info *error) {
    record(user_data, error, details ? ably_token_details_token(details) : NULL, 0);
    ably_token_details_free(details);
}

static void string_done(void *user_data, char *text, ably_error_info *error) {
    record(user_data, error, text, 0);
    ably_string_free(text);
}

static void time_done(void *user_data, int64_t time_ms, ably_error_info *error) {
    record(user_data, error, NULL, time_ms);
}

static void response_done(void *user_data, ably_http_response *response, ably_error_info *error) {
    record(user_data, error, NULL, response ? ably_http_response_status(response) : 0);
    ably_http_response_free(response);
}

/* Check the exactly-once rules on a finished outcome. */
static void check_once(outcome *o, const char *what, int expected_code) {
    if (!CHECK(wait_outcome(o), "%s: done and free_user_data ran", what)) {
        return;
    }
    sleep_ms(20); /* a second done would come about now */
    pthread_mutex_lock(&o->lock);
    CHECK(o->done_calls == 1 && o->frees == 1, "%s: done once, free_user_data once (%d, %d)",
          what, o->done_calls, o->frees);
    CHECK(!o->inline_call, "%s: done did not run inside the start call", what);
    CHECK(o->code == expected_code, "%s: code %d (expected %d)", what, o->code, expected_code);
    pthread_mutex_unlock(&o->lock);
}

/* ---- every _async function -------------------------------------------------------------- */

static void every_async_call_completes_exactly_once_off_the_caller(void) {
    ably_auth *auth = make_auth(key_options(3000));
    if (auth == NULL) {
        return;
    }
    outcome o;

    outcome_init(&o);
    inside_start = true;
    expect_ok(ably_auth_request_token_async(auth, NULL, NULL, details_done, &o, outcome_free,
                                            &o.call));
    inside_start = false;
    check_once(&o, "request_token_async", 0);
    CHECK(strncmp(o.text, "lbtk-", 5) == 0, "request_token_async: a server token (%s)", o.text);
    CHECK(o.call_visible, "request_token_async: *out_call was set before done ran");
    ably_call_free(o.call);
    outcome_destroy(&o);

    outcome_init(&o);
    inside_start = true;
    expect_ok(ably_auth_authorize_async(auth, NULL, NULL, details_done, &o, outcome_free,
                                        &o.call));
    inside_start = false;
    check_once(&o, "authorize_async", 0);
    CHECK(!ably_call_cancel(o.call), "cancel after done: false (lost the race)");
    ably_call_free(o.call);
    outcome_destroy(&o);

    outcome_init(&o);
    inside_start = true; /* a valid token is cached: the fast path must not run done inline */
    expect_ok(ably_auth_authorization_header_async(auth, string_done, &o, outcome_free, NULL));
    inside_start = false;
    check_once(&o, "authorization_header_async (cached token)", 0);
    CHECK(strncmp(o.text, "Bearer ", 7) == 0, "authorization_header_async: a Bearer value");
    outcome_destroy(&o);

    outcome_init(&o);
    inside_start = true;
    expect_ok(ably_auth_time_async(auth, time_done, &o, outcome_free, NULL));
    inside_start = false;
    check_once(&o, "time_async", 0);
    CHECK(o.number > 1600000000000LL, "time_async: a time in ms (%lld)", (long long)o.number);
    outcome_destroy(&o);

    outcome_init(&o);
    const char *names[] = {"Content-Type"};
    const char *values[] = {"application/json"};
    const char *body = "{\"name\":\"n\",\"data\":\"d\"}";
    inside_start = true;
    expect_ok(ably_auth_request_async(auth, "POST", "/channels/async/messages", NULL, names,
                                      values, 1, (const uint8_t *)body, strlen(body),
                                      response_done, &o, outcome_free, NULL));
    inside_start = false;
    check_once(&o, "request_async", 0);
    CHECK(o.number == 201, "request_async: 201 (%lld)", (long long)o.number);
    outcome_destroy(&o);

    /* Start errors: done never runs, free_user_data ran before the call returned. */
    outcome_init(&o);
    ably_call *call = (ably_call *)&o;
    expect_code(ably_auth_request_async(auth, "BREW", "/x", NULL, NULL, NULL, 0, NULL, 0,
                                        response_done, &o, outcome_free, &call),
                ABLY_ERR_INVALID_ARGUMENT, "method");
    CHECK(o.done_calls == 0 && o.frees == 1, "start error: no done, free_user_data once");
    outcome_destroy(&o);
    outcome_init(&o);
    expect_code(ably_auth_time_async(auth, NULL, &o, outcome_free, NULL),
                ABLY_ERR_INVALID_ARGUMENT, "done");
    CHECK(o.frees == 1, "NULL done: free_user_data ran before the call returned");
    outcome_destroy(&o);
    /* Options of one call hold auth options only: a clientId or hosts are refused. */
    ably_auth_options *per_call = ably_auth_options_new();
    expect_ok(ably_auth_options_set_client_id(per_call, "someone"));
    outcome_init(&o);
    expect_code(ably_auth_request_token_async(auth, NULL, per_call, details_done, &o,
                                              outcome_free, NULL),
                ABLY_ERR_INVALID_ARGUMENT, "clientId");
    CHECK(o.frees == 1 && o.done_calls == 0, "refused per-call options: no done, user data freed");
    outcome_destroy(&o);
    per_call = ably_auth_options_new();
    expect_ok(ably_auth_options_set_port(per_call, 1234));
    ably_token_details *details = NULL;
    expect_code(ably_auth_request_token(auth, NULL, per_call, &details),
                ABLY_ERR_INVALID_ARGUMENT, "endpoint/hosts/port/tls");
    ably_auth_free(auth);
}

/* ---- cancel ----------------------------------------------------------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static void close_gate(void) {
    pthread_mutex_lock(&gate_lock);
    gate_open = false;
    pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void) {
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* An authCallback that keeps its completion for later (an asynchronous host). */
static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static ably_auth_completion *parked[8];
static int parked_count;

static void parking_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)user_data;
    (void)params;
    pthread_mutex_lock(&parked_lock);
    if (parked_count < 8) {
        parked[parked_count++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&parked_lock);
    if (c != NULL) {
        ably_error_info_free(ably_auth_completion_answer_error(c, 0, 0, "too many"));
    }
}

/* Answer every parked completion (late: the library may have stopped waiting). */
static void answer_parked(void) {
    pthread_mutex_lock(&parked_lock);
    for (int i = 0; i < parked_count; i++) {
        ably_error_info_free(ably_auth_completion_answer_error(parked[i], 0, 0, "late"));
    }
    parked_count = 0;
    pthread_mutex_unlock(&parked_lock);
}

/* Wait (hang guard 20 s) until at least `n` completions are parked: the workers have reached
 * the callback. An event, not a sleep that assumes how fast the workers are. */
static bool wait_parked(int n) {
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&parked_lock);
        int count = parked_count;
        pthread_mutex_unlock(&parked_lock);
        if (count >= n) {
            return true;
        }
        sleep_ms(1);
    }
    return false;
}

static ably_auth *parking_auth(int64_t request_timeout_ms) {
    ably_auth_options *options = key_options(request_timeout_ms);
    expect_ok(ably_auth_options_set_auth_callback(options, parking_callback, NULL, NULL));
    return make_auth(options);
}

/* An authCallback that blocks until the gate opens (hang guard 20 s), then fails. */
static void gated_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)user_data;
    (void)params;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&gate_lock);
    int rc = 0;
    while (!gate_open && rc == 0) {
        rc = pthread_cond_timedwait(&gate_cond, &gate_lock, &until);
    }
    pthread_mutex_unlock(&gate_lock);
    ably_error_info_free(ably_auth_completion_answer_error(c, 0, 0, "gate"));
}

static ably_auth *gated_auth(int64_t request_timeout_ms) {
    ably_auth_options *options = key_options(request_timeout_ms);
    expect_ok(ably_auth_options_set_auth_callback(options, gated_callback, NULL, NULL));
    return make_auth(options);
}

static void cancel_before_the_outcome_wins_with_cancelled(void) {
    ably_auth *auth = parking_auth(10000);
    if (auth == NULL) {
        return;
    }
    outcome o;
    outcome_init(&o);
    expect_ok(ably_auth_authorize_async(auth, NULL, NULL, details_done, &o, outcome_free,
                                        &o.call));
    CHECK(wait_parked(1), "cancel: the worker reached the callback (hang guard 20 s)");
    CHECK(ably_call_cancel(o.call), "cancel while the callback runs: true (won)");
    CHECK(!ably_call_cancel(o.call), "cancel again: false");
    check_once(&o, "cancelled authorize_async", ABLY_ERR_CANCELLED);
    ably_call_free(o.call);
    outcome_destroy(&o);
    answer_parked();
    ably_auth_free(auth);
}

typedef struct race_round {
    ably_call *call;
} race_round;

/* Cancel from a new thread: it races the round trip on the worker (no spinning, so that
 * valgrind's one-thread-at-a-time scheduling does not starve the worker). */
static void *cancel_now(void *arg) {
    ably_call_cancel(((race_round *)arg)->call);
    return NULL;
}

static void cancel_racing_completion_completes_exactly_once(void) {
    ably_auth *auth = make_auth(key_options(3000));
    if (auth == NULL) {
        return;
    }
    int bad = 0, cancelled = 0;
    const int rounds = 300;
    for (int i = 0; i < rounds; i++) {
        outcome o;
        outcome_init(&o);
        race_round round = {0};
        ably_error_info *err = ably_auth_time_async(auth, time_done, &o, outcome_free,
                                                    &round.call);
        if (err != NULL) {
            ably_error_info_free(err);
            bad++;
            outcome_destroy(&o);
            continue;
        }
        pthread_t thread;
        if (pthread_create(&thread, NULL, cancel_now, &round) != 0) {
            bad++;
            break;
        }
        pthread_join(thread, NULL);
        if (!wait_outcome(&o) || o.done_calls != 1 || o.frees != 1 ||
            (o.code != 0 && o.code != ABLY_ERR_CANCELLED)) {
            printf("     round %d: done %d, frees %d, code %d\n", i, o.done_calls, o.frees,
                   o.code);
            bad++;
        }
        cancelled += o.code == ABLY_ERR_CANCELLED;
        ably_call_free(round.call);
        outcome_destroy(&o);
    }
    /* Which side wins varies; each round must end with exactly one outcome either way. */
    CHECK(bad == 0, "%d rounds of cancel racing a /time round trip: done and free_user_data "
                    "once each (%d cancelled, %d bad)",
          rounds, cancelled, bad);
    ably_auth_free(auth);
}

/* ---- deadline --------------------------------------------------------------------------- */

static void call_ends_at_its_deadline_when_the_callback_never_returns(void) {
    close_gate();
    ably_auth *auth = gated_auth(150); /* deadline of a token fetch: 4 x 150 ms */
    if (auth == NULL) {
        return;
    }
    outcome o;
    outcome_init(&o);
    expect_ok(ably_auth_authorize_async(auth, NULL, NULL, details_done, &o, outcome_free,
                                        NULL));
    check_once(&o, "authorize_async with a callback that does not return",
               ABLY_ERR_TIMEOUT);
    outcome_destroy(&o);
    open_gate();
    ably_auth_free(auth);
}

/* ---- shutdown and free ------------------------------------------------------------------ */

static void shutdown_cancels_calls_in_flight_and_refuses_new_ones(void) {
    ably_auth *auth = parking_auth(120000);
    if (auth == NULL) {
        return;
    }
    outcome o;
    outcome_init(&o);
    expect_ok(ably_auth_authorize_async(auth, NULL, NULL, details_done, &o, outcome_free,
                                        NULL));
    CHECK(wait_parked(1), "shutdown: the worker reached the callback (hang guard 20 s)");
    /* The worker waits for the parked completion: shutdown ends that wait at once
     * (docs/lifecycle.md), so it drains within the 60 s hang guard (without that, the
     * worker would wait out the 120 s timeout), and the call is completed with CANCELLED. */
    expect_ok(ably_auth_shutdown(auth, 60000));
    check_once(&o, "authorize_async in flight at shutdown", ABLY_ERR_CANCELLED);
    outcome_destroy(&o);
    outcome_init(&o);
    expect_code(ably_auth_time_async(auth, time_done, &o, outcome_free, NULL),
                ABLY_ERR_SHUT_DOWN, NULL);
    CHECK(o.frees == 1 && o.done_calls == 0, "after shutdown: refused, user data freed");
    outcome_destroy(&o);
    ably_token_details *details = NULL;
    expect_code(ably_auth_authorize(auth, NULL, NULL, &details), ABLY_ERR_SHUT_DOWN, NULL);
    answer_parked();
    expect_ok(ably_auth_shutdown(auth, 60000)); /* idempotent; the bound is a hang guard */
    ably_auth_free(auth);
}

static void free_with_calls_in_flight_runs_every_done_first(void) {
    ably_auth *auth = parking_auth(10000);
    if (auth == NULL) {
        return;
    }
    outcome first, second;
    outcome_init(&first);
    outcome_init(&second);
    expect_ok(ably_auth_authorize_async(auth, NULL, NULL, details_done, &first, outcome_free,
                                        NULL));
    expect_ok(ably_auth_request_token_async(auth, NULL, NULL, details_done, &second,
                                            outcome_free, NULL));
    CHECK(wait_parked(2), "free: both workers reached the callback (hang guard 20 s)");
    ably_auth_free(auth);
    CHECK(first.done_calls == 1 && first.frees == 1 && first.code == ABLY_ERR_CANCELLED &&
              second.done_calls == 1 && second.frees == 1 &&
              second.code == ABLY_ERR_CANCELLED,
          "ably_auth_free: every call in flight got CANCELLED and its free_user_data before "
          "free returned, without waiting for the host's parked completion");
    answer_parked(); /* late answers to a freed Auth: refused, harmless */
    outcome_destroy(&first);
    outcome_destroy(&second);
}

typedef struct freeing_done {
    ably_auth *auth;
    atomic_int calls;
    atomic_int started; /* the start call returned: no call on the handle is in progress */
    atomic_int freed;   /* ably_auth_free returned inside done */
} freeing_done;

static void done_freeing_the_auth(void *user_data, int64_t time_ms, ably_error_info *error) {
    (void)time_ms;
    freeing_done *st = user_data;
    atomic_fetch_add(&st->calls, 1);
    ably_error_info_free(error);
    /* ably_auth_free's contract: no call on the handle in progress on another thread, and
     * done may run before the start call has returned. */
    for (int i = 0; i < 2000 && !atomic_load(&st->started); i++) {
        sleep_ms(1);
    }
    ably_auth_free(st->auth);
    atomic_store(&st->freed, 1);
}

static void free_from_inside_done(void) {
    freeing_done st = {0};
    st.auth = make_auth(key_options(3000));
    if (st.auth == NULL) {
        return;
    }
    expect_ok(ably_auth_time_async(st.auth, done_freeing_the_auth, &st, NULL, NULL));
    atomic_store(&st.started, 1);
    for (int i = 0; i < 6000 && !atomic_load(&st.freed); i++) { /* hang guard 60 s */
        sleep_ms(10);
    }
    sleep_ms(50); /* done returns after ably_auth_free; st is on this stack */
    CHECK(atomic_load(&st.calls) == 1, "ably_auth_free from inside done: done ran once");
}

/* ---- cached header and renewal ahead ---------------------------------------------------- */

static void cached_header_never_does_io(void) {
    ably_auth *auth = make_auth(key_options(3000));
    if (auth == NULL) {
        return;
    }
    int64_t before = tokens_issued();
    char *header = NULL;
    expect_code(ably_auth_cached_authorization_header(auth, &header), ABLY_ERR_NO_VALID_TOKEN,
                NULL);
    int64_t remaining = 0;
    expect_code(ably_auth_token_remaining_ms(auth, &remaining), ABLY_ERR_NO_VALID_TOKEN, NULL);
    CHECK(header == NULL && tokens_issued() == before, "no token fetched by the cached read");
    ably_token_details *details = NULL;
    expect_ok(ably_auth_authorize(auth, NULL, NULL, &details));
    ably_token_details_free(details);
    if (expect_ok(ably_auth_cached_authorization_header(auth, &header))) {
        CHECK(strncmp(header, "Bearer ", 7) == 0, "a cached Bearer value");
        ably_string_free(header);
    }
    if (expect_ok(ably_auth_token_remaining_ms(auth, &remaining))) {
        CHECK(remaining > 3500000 && remaining <= 3600000,
              "token_remaining_ms: about an hour for a fresh default token (%lld)",
              (long long)remaining);
    }
    ably_auth_free(auth);
}

typedef struct token_counter {
    atomic_int tokens;
} token_counter;

static void count_tokens(void *user_data, const ably_token_details *details,
                         const ably_error_info *error) {
    (void)error;
    if (details != NULL) {
        atomic_fetch_add(&((token_counter *)user_data)->tokens, 1);
    }
}

/* An Auth whose tokens live 4 s: the margin is capped at half, 2 s, so the token counts as
 * expired 2 s after it was issued and renewal ahead starts after about 1 s. */
static ably_auth *short_token_auth(bool renew_ahead) {
    ably_auth_options *options = key_options(3000);
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, 4000));
    expect_ok(ably_auth_options_set_default_token_params(options, params));
    expect_ok(ably_auth_options_set_renew_ahead(options, renew_ahead));
    return make_auth(options);
}

static void renewal_ahead_replaces_the_token_in_the_background(void) {
    ably_auth *auth = short_token_auth(true);
    if (auth == NULL) {
        return;
    }
    token_counter counter = {0};
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, count_tokens, &counter, NULL, &id));
    ably_token_details *details = NULL;
    char first[128] = "";
    if (expect_ok(ably_auth_authorize(auth, NULL, NULL, &details))) {
        snprintf(first, sizeof first, "%s", ably_token_details_token(details));
        ably_token_details_free(details);
    }
    for (int i = 0; i < 6000 && atomic_load(&counter.tokens) < 2; i++) { /* hang guard 60 s */
        sleep_ms(10);
    }
    CHECK(atomic_load(&counter.tokens) >= 2, "renewal ahead: listeners heard a second token "
                                             "without any call (%d)",
          atomic_load(&counter.tokens));
    char *header = NULL;
    if (expect_ok(ably_auth_cached_authorization_header(auth, &header))) {
        ably_token_details *current = NULL;
        expect_ok(ably_auth_token_details(auth, &current));
        CHECK(current != NULL && strcmp(ably_token_details_token(current), first) != 0,
              "renewal ahead: the cached token is the new one");
        ably_token_details_free(current);
        ably_string_free(header);
    }
    ably_auth_free(auth);
}

static void renewal_ahead_off_renews_nothing_in_the_background(void) {
    ably_auth *auth = short_token_auth(false);
    if (auth == NULL) {
        return;
    }
    ably_token_details *details = NULL;
    expect_ok(ably_auth_authorize(auth, NULL, NULL, &details));
    ably_token_details_free(details);
    int64_t before = tokens_issued();
    sleep_ms(1600);
    CHECK(tokens_issued() == before, "renewal ahead off: no token fetched in the background");
    ably_auth_free(auth);
}

int main(void) {
    loopback_ignore_sigpipe();
    if (fixture_start()) {
        every_async_call_completes_exactly_once_off_the_caller();
        cancel_before_the_outcome_wins_with_cancelled();
        cancel_racing_completion_completes_exactly_once();
        call_ends_at_its_deadline_when_the_callback_never_returns();
        shutdown_cancels_calls_in_flight_and_refuses_new_ones();
        free_with_calls_in_flight_runs_every_done_first();
        free_from_inside_done();
        cached_header_never_does_io();
        renewal_ahead_replaces_the_token_in_the_background();
        renewal_ahead_off_renews_nothing_in_the_background();
    }
    loopback_stop(&server);
    return test_summary();
}
