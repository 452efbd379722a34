/*
 * test_soundness.c: usage the header allows, tried as an adversarial C caller would
 * (issue 10). Each test is named after the behaviour it proves; under the ASan/TSan builds
 * (the *_asan ctest entries and tests/sanitizers.sh) a use-after-free or data race in the
 * library fails the test even where the checks pass.
 *
 *  1 setter_replacing_a_callback_lets_its_destructor_use_the_options
 *  2 destructors_run_by_auth_free_may_call_back_and_are_refused
 *    auth_free_from_inside_a_listener_is_deferred
 *  3 remove_listener_waits_for_a_call_on_another_thread
 *    remove_listener_from_inside_the_listener_returns_at_once
 *  4 listener_renewing_on_short_lived_tokens_does_not_recurse
 *    listener_retrying_every_failure_is_bounded
 *    auth_callback_calling_authorize_on_its_own_auth_is_refused
 *  5 waiter_gives_up_at_the_fetch_deadline_when_the_callback_blocks
 *    synchronous_answer_after_the_timeout_is_refused
 *  6 stale_builder_handles_are_refused_after_reuse_from_any_thread
 *  7 request_copies_path_and_body_before_callbacks_run
 *  8 token_request_fields_with_nul_are_refused_at_parse
 * 10 listener_never_hears_a_token_overtaken_by_authorize
 * (9, exceptions crossing callbacks, is the C++ binding's noexcept trampolines, tested in
 *  tests/cpp/test_networked.cpp: AuthCallback.ThrowingCallbackGives40170WithWhat,
 *  AuthCallback.AnswerThenThrowKeepsTheAnswer, Listeners.HearTokensAndFailuresAndAreFreedOnce,
 *  Log.SinkGetsLinesWithoutSecrets; and tests/cpp/test_async.cpp:
 *  NonBlocking.ExceptionsThrownByACompletionAreCaught.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ably_auth.h"
#include "net_fixture.h"


/* A signed TokenRequest for `ttl_ms` from a separate signer, as JSON (malloc'd). */
static char *signed_request_json(int64_t ttl_ms) {
    ably_auth *signer = make_auth(key_options(3000));
    ably_token_params *params = ably_token_params_new();
    expect_ok(ably_token_params_set_ttl(params, ttl_ms));
    ably_token_request *request = NULL;
    char *json = NULL;
    if (expect_ok(ably_auth_create_token_request(signer, params, &request))) {
        expect_ok(ably_token_request_to_json(request, &json));
        ably_token_request_free(request);
    }
    ably_auth_free(signer);
    char *copy = json ? strdup(json) : NULL;
    ably_string_free(json);
    return copy;
}

static atomic_int frees;

static void count_free(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&frees, 1);
}

static void noop_auth_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)user_data;
    (void)params;
    ably_error_info_free(ably_auth_completion_answer_error(c, 0, 0, "unused"));
}

static void noop_log(void *user_data, int32_t level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
}

/* ---- 1 ---------------------------------------------------------------------------------- */

static ably_auth_options *options_under_test;
static atomic_int destructor_step;

/* The first callback's destructor: sets a log callback on the same options (it gets them
 * back, updated), then frees them, which runs the second callback's destructor. */
static void destructor_using_the_options(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&destructor_step, 1);
    expect_ok(ably_auth_options_set_log(options_under_test, noop_log, 3, NULL, count_free));
    ably_auth_options_free(options_under_test);
}

static void setter_replacing_a_callback_lets_its_destructor_use_the_options(void) {
    atomic_store(&frees, 0);
    options_under_test = ably_auth_options_new();
    expect_ok(ably_auth_options_set_auth_callback(options_under_test, noop_auth_callback, NULL,
                                                  destructor_using_the_options));
    expect_ok(ably_auth_options_set_auth_callback(options_under_test, noop_auth_callback, NULL,
                                                  count_free));
    CHECK(atomic_load(&destructor_step) == 1, "1: the replaced callback's destructor ran once");
    CHECK(atomic_load(&frees) == 2,
          "1: freeing the options from that destructor ran the new callback's and the log's "
          "free_user_data (%d of 2)",
          atomic_load(&frees));
    expect_code(ably_auth_options_set_client_id(options_under_test, "x"),
                ABLY_ERR_INVALID_ARGUMENT, "not a live handle");
}

/* ---- 2 ---------------------------------------------------------------------------------- */

static ably_auth *auth_being_freed;
static uint64_t other_listener;
static atomic_int refused_calls;

static void quiet_listener(void *user_data, const ably_token_details *details,
                           const ably_error_info *error) {
    (void)user_data;
    (void)details;
    (void)error;
}

static void destructor_calling_back(void *user_data) {
    (void)user_data;
    ably_error_info *err = ably_auth_remove_listener(auth_being_freed, other_listener);
    if (err != NULL && err->code == ABLY_ERR_SHUT_DOWN) {
        atomic_fetch_add(&refused_calls, 1);
    }
    ably_error_info_free(err);
    char *header = NULL;
    err = ably_auth_authorization_header(auth_being_freed, &header);
    if (err != NULL && err->code == ABLY_ERR_SHUT_DOWN && header == NULL) {
        atomic_fetch_add(&refused_calls, 1);
    }
    ably_error_info_free(err);
    ably_auth_free(auth_being_freed); /* a second free from a destructor is ignored */
}

static void destructors_run_by_auth_free_may_call_back_and_are_refused(void) {
    atomic_store(&frees, 0);
    atomic_store(&refused_calls, 0);
    ably_auth_options *options = key_options(3000);
    expect_ok(ably_auth_options_set_log(options, noop_log, 5, NULL, count_free));
    auth_being_freed = make_auth(options);
    if (auth_being_freed == NULL) {
        return;
    }
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth_being_freed, quiet_listener, NULL,
                                     destructor_calling_back, &id));
    expect_ok(ably_auth_add_listener(auth_being_freed, quiet_listener, NULL, count_free,
                                     &other_listener));
    ably_auth_free(auth_being_freed);
    CHECK(atomic_load(&refused_calls) == 2,
          "2: remove_listener and authorization_header from a destructor during free get "
          "ABLY_ERR_SHUT_DOWN (%d of 2)",
          atomic_load(&refused_calls));
    CHECK(atomic_load(&frees) == 2, "2: the log's and the other listener's free_user_data "
                                    "ran once each (%d)",
          atomic_load(&frees));
}

static atomic_int deferred_listener_calls;

static void listener_freeing_its_auth(void *user_data, const ably_token_details *details,
                                      const ably_error_info *error) {
    (void)details;
    (void)error;
    atomic_fetch_add(&deferred_listener_calls, 1);
    ably_auth_free((ably_auth *)user_data);
}

static void auth_free_from_inside_a_listener_is_deferred(void) {
    atomic_store(&frees, 0);
    atomic_store(&deferred_listener_calls, 0);
    ably_auth *auth = make_auth(key_options(3000));
    if (auth == NULL) {
        return;
    }
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, listener_freeing_its_auth, auth, count_free, &id));
    ably_token_details *details = NULL;
    /* The listener frees the Auth while authorize is still running on it: the memory is
     * released when authorize returns (ASan would report a use-after-free otherwise). */
    expect_ok(ably_auth_authorize(auth, NULL, NULL, &details));
    ably_token_details_free(details);
    CHECK(atomic_load(&deferred_listener_calls) == 1, "2: the listener ran once");
    CHECK(atomic_load(&frees) == 1, "2: its free_user_data ran once");
}

/* ---- 3 ---------------------------------------------------------------------------------- */

typedef struct slow_listener_state {
    atomic_int inside;
    atomic_int calls;
} slow_listener_state;

static void slow_listener(void *user_data, const ably_token_details *details,
                          const ably_error_info *error) {
    (void)details;
    (void)error;
    slow_listener_state *st = user_data;
    atomic_store(&st->inside, 1);
    atomic_fetch_add(&st->calls, 1);
    sleep_ms(300);
    atomic_store(&st->inside, 0);
}

static void *authorize_on_thread(void *arg) {
    ably_token_details *details = NULL;
    ably_error_info_free(ably_auth_authorize((ably_auth *)arg, NULL, NULL, &details));
    ably_token_details_free(details);
    return NULL;
}

static void remove_listener_waits_for_a_call_on_another_thread(void) {
    ably_auth *auth = make_auth(key_options(3000));
    if (auth == NULL) {
        return;
    }
    slow_listener_state *st = calloc(1, sizeof *st);
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, slow_listener, st, NULL, &id));
    pthread_t thread;
    if (!CHECK(pthread_create(&thread, NULL, authorize_on_thread, auth) == 0, "3: thread")) {
        free(st);
        ably_auth_free(auth);
        return;
    }
    for (int i = 0; i < 12000 && !atomic_load(&st->inside); i++) { /* hang guard 60 s */
        sleep_ms(5);
    }
    CHECK(atomic_load(&st->inside) == 1, "3: the listener is running on the other thread");
    expect_ok(ably_auth_remove_listener(auth, id));
    CHECK(atomic_load(&st->inside) == 0,
          "3: remove_listener returned only after the call on the other thread finished");
    pthread_join(thread, NULL);
    ably_token_details *details = NULL;
    expect_ok(ably_auth_authorize(auth, NULL, NULL, &details));
    ably_token_details_free(details);
    CHECK(atomic_load(&st->calls) == 1, "3: never called after removal (%d calls)",
          atomic_load(&st->calls));
    free(st); /* the caller's state, freed once removal returned: must be safe */
    ably_auth_free(auth);
}

typedef struct self_removing {
    ably_auth *auth;
    uint64_t id;
    atomic_int calls;
    atomic_int removed_ok;
} self_removing;

static void listener_removing_itself(void *user_data, const ably_token_details *details,
                                     const ably_error_info *error) {
    (void)details;
    (void)error;
    self_removing *st = user_data;
    atomic_fetch_add(&st->calls, 1);
    ably_error_info *err = ably_auth_remove_listener(st->auth, st->id);
    atomic_store(&st->removed_ok, err == NULL);
    ably_error_info_free(err);
}

static void remove_listener_from_inside_the_listener_returns_at_once(void) {
    self_removing st = {0};
    st.auth = make_auth(key_options(3000));
    if (st.auth == NULL) {
        return;
    }
    expect_ok(ably_auth_add_listener(st.auth, listener_removing_itself, &st, NULL, &st.id));
    for (int i = 0; i < 2; i++) {
        ably_token_details *details = NULL;
        expect_ok(ably_auth_authorize(st.auth, NULL, NULL, &details));
        ably_token_details_free(details);
    }
    CHECK(atomic_load(&st.removed_ok) == 1, "3: removal from inside the listener succeeded");
    CHECK(atomic_load(&st.calls) == 1, "3: and the listener was not called again (%d)",
          atomic_load(&st.calls));
    ably_auth_free(st.auth);
}

/* ---- 4 ---------------------------------------------------------------------------------- */

typedef struct renewing_listener {
    ably_auth *auth;
    atomic_int calls;
    atomic_int header_ok;
} renewing_listener;

static void listener_asking_for_the_header(void *user_data, const ably_token_details *details,
                                           const ably_error_info *error) {
    (void)error;
    renewing_listener *st = user_data;
    if (details == NULL || atomic_fetch_add(&st->calls, 1) > 50) {
        return; /* a guard so that a regression ends instead of recursing for ever */
    }
    char *header = NULL;
    ably_error_info *err = ably_auth_authorization_header(st->auth, &header);
    if (err == NULL) {
        atomic_fetch_add(&st->header_ok, 1);
    }
    ably_error_info_free(err);
    ably_string_free(header);
}

static void short_token_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)params;
    ably_error_info_free(ably_auth_completion_answer_json(c, (const char *)user_data));
}

static void listener_renewing_on_short_lived_tokens_does_not_recurse(void) {
    /* Tokens of 10 s against the default 15 s expiry margin: each used to count as expired
     * on arrival, so a listener asking for the header fetched again, recursively. */
    char *request = signed_request_json(10000);
    ably_auth_options *options = key_options(3000);
    expect_ok(ably_auth_options_set_auth_callback(options, short_token_callback, request,
                                                  NULL));
    renewing_listener st = {0};
    st.auth = make_auth(options);
    if (st.auth == NULL) {
        free(request);
        return;
    }
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(st.auth, listener_asking_for_the_header, &st, NULL, &id));
    int64_t before = tokens_issued();
    char *header = NULL;
    expect_ok(ably_auth_authorization_header(st.auth, &header));
    ably_string_free(header);
    CHECK(atomic_load(&st.calls) == 1 && atomic_load(&st.header_ok) == 1,
          "4: the listener heard one token and got the header (%d calls)",
          atomic_load(&st.calls));
    CHECK(tokens_issued() - before == 1, "4: one token fetched, not one per listener call");
    ably_auth_free(st.auth);
    free(request);
}

typedef struct retrying_listener {
    ably_auth *auth;
    atomic_int calls;
    atomic_int refused;
} retrying_listener;

static void listener_retrying_failures(void *user_data, const ably_token_details *details,
                                       const ably_error_info *error) {
    (void)details;
    retrying_listener *st = user_data;
    if (error == NULL || atomic_fetch_add(&st->calls, 1) > 100) {
        return; /* a guard so that a regression ends */
    }
    ably_token_details *out = NULL;
    ably_error_info *err = ably_auth_authorize(st->auth, NULL, NULL, &out);
    if (err != NULL && err->code == ABLY_ERR_REENTRANT_CALL) {
        atomic_fetch_add(&st->refused, 1);
    }
    ably_error_info_free(err);
    ably_token_details_free(out);
}

static void failing_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)user_data;
    (void)params;
    ably_error_info_free(ably_auth_completion_answer_error(c, 0, 0, "no token for you"));
}

static void listener_retrying_every_failure_is_bounded(void) {
    ably_auth_options *options = key_options(3000);
    expect_ok(ably_auth_options_set_auth_callback(options, failing_callback, NULL, NULL));
    retrying_listener st = {0};
    st.auth = make_auth(options);
    if (st.auth == NULL) {
        return;
    }
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(st.auth, listener_retrying_failures, &st, NULL, &id));
    ably_token_details *details = NULL;
    expect_code(ably_auth_authorize(st.auth, NULL, NULL, &details),
                ABLY_ERR_AUTH_CALLBACK_FAILED, "no token for you");
    int calls = atomic_load(&st.calls);
    CHECK(calls == 8 && atomic_load(&st.refused) == 1,
          "4: a listener retrying every failure stops after 8 rounds with "
          "ABLY_ERR_REENTRANT_CALL (%d calls, %d refusals)",
          calls, atomic_load(&st.refused));
    ably_auth_free(st.auth);
}

typedef struct nested_authorize {
    ably_auth *auth;
    atomic_int code;
} nested_authorize;

static void callback_authorizing_itself(void *user_data, const char *params,
                                        ably_auth_completion *c) {
    (void)params;
    nested_authorize *st = user_data;
    ably_token_details *details = NULL;
    ably_error_info *err = ably_auth_authorize(st->auth, NULL, NULL, &details);
    atomic_store(&st->code, err ? (int)err->code : 0);
    ably_error_info_free(err);
    ably_token_details_free(details);
    ably_error_info_free(ably_auth_completion_answer_error(c, 0, 0, "gave up"));
}

static void auth_callback_calling_authorize_on_its_own_auth_is_refused(void) {
    nested_authorize st = {0};
    ably_auth_options *options = key_options(3000);
    expect_ok(ably_auth_options_set_auth_callback(options, callback_authorizing_itself, &st,
                                                  NULL));
    st.auth = make_auth(options);
    if (st.auth == NULL) {
        return;
    }
    ably_token_details *details = NULL;
    expect_code(ably_auth_authorize(st.auth, NULL, NULL, &details),
                ABLY_ERR_AUTH_CALLBACK_FAILED, "gave up");
    CHECK(atomic_load(&st.code) == ABLY_ERR_REENTRANT_CALL,
          "4: authorize from inside its own authCallback gets ABLY_ERR_REENTRANT_CALL (%d)",
          atomic_load(&st.code));
    ably_auth_free(st.auth);
}

/* ---- 5 ---------------------------------------------------------------------------------- */

static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int callback_entered;
static atomic_int late_answer_code;

/* An authCallback that needs the application's lock. */
static void callback_taking_the_app_lock(void *user_data, const char *params,
                                         ably_auth_completion *c) {
    (void)params;
    atomic_store(&callback_entered, 1);
    pthread_mutex_lock(&app_lock);
    pthread_mutex_unlock(&app_lock);
    ably_error_info *err = ably_auth_completion_answer_json(c, (const char *)user_data);
    atomic_store(&late_answer_code, err ? (int)err->code : 0);
    ably_error_info_free(err);
}

static void *header_on_thread(void *arg) {
    char *header = NULL;
    ably_error_info *err = ably_auth_authorization_header((ably_auth *)arg, &header);
    ably_string_free(header);
    return err; /* handed to the joiner */
}

static void waiter_gives_up_at_the_fetch_deadline_when_the_callback_blocks(void) {
    char *request = signed_request_json(600000);
    ably_auth_options *options = key_options(250); /* fetch deadline: 4 x 250 ms */
    expect_ok(ably_auth_options_set_auth_callback(options, callback_taking_the_app_lock,
                                                  request, NULL));
    ably_auth *auth = make_auth(options);
    if (auth == NULL) {
        free(request);
        return;
    }
    atomic_store(&callback_entered, 0);
    atomic_store(&late_answer_code, -1);
    pthread_mutex_lock(&app_lock); /* the game thread holds its lock... */
    pthread_t leader;
    if (!CHECK(pthread_create(&leader, NULL, header_on_thread, auth) == 0, "5: thread")) {
        pthread_mutex_unlock(&app_lock);
        ably_auth_free(auth);
        free(request);
        return;
    }
    for (int i = 0; i < 12000 && !atomic_load(&callback_entered); i++) { /* hang guard 60 s */
        sleep_ms(5);
    }
    /* ...and asks for the header while the callback waits for that lock: it used to wait
     * for the fetch for ever. */
    char *header = NULL;
    expect_code(ably_auth_authorization_header(auth, &header), ABLY_ERR_TIMEOUT, "deadline");
    pthread_mutex_unlock(&app_lock);
    void *leader_error = NULL;
    pthread_join(leader, &leader_error);
    ably_error_info *err = leader_error;
    CHECK(err != NULL && err->code == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "5: the leader fails with 40170 (got %d)", err ? (int)err->code : 0);
    ably_error_info_free(err);
    CHECK(atomic_load(&late_answer_code) == ABLY_ERR_AUTH_CALLBACK_FAILED,
          "5: the callback's late answer is refused with 40170 (%d)",
          atomic_load(&late_answer_code));
    ably_auth_free(auth);
    free(request);
}

static void slow_sync_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)params;
    sleep_ms(600);
    ably_error_info *err = ably_auth_completion_answer_json(c, (const char *)user_data);
    atomic_store(&late_answer_code, err ? (int)err->code : 0);
    ably_error_info_free(err);
}

static void synchronous_answer_after_the_timeout_is_refused(void) {
    char *request = signed_request_json(600000);
    ably_auth_options *options = key_options(200);
    expect_ok(ably_auth_options_set_auth_callback(options, slow_sync_callback, request, NULL));
    ably_auth *auth = make_auth(options);
    if (auth != NULL) {
        atomic_store(&late_answer_code, -1);
        ably_token_details *details = NULL;
        expect_code(ably_auth_authorize(auth, NULL, NULL, &details),
                    ABLY_ERR_AUTH_CALLBACK_FAILED, "did not answer within");
        CHECK(atomic_load(&late_answer_code) == ABLY_ERR_AUTH_CALLBACK_FAILED,
              "5: a synchronous answer 600 ms into a 200 ms timeout is refused (%d)",
              atomic_load(&late_answer_code));
        ably_auth_free(auth);
    }
    free(request);
}

/* ---- 6 ---------------------------------------------------------------------------------- */

typedef struct builder_race {
    ably_token_params *stale;
    atomic_int stop;
    atomic_int wrong;
    atomic_int uses;
} builder_race;

static void *use_stale_params(void *arg) {
    builder_race *race = arg;
    while (!atomic_load(&race->stop)) {
        ably_error_info *err = ably_token_params_set_client_id(race->stale, "intruder");
        if (err == NULL || err->code != ABLY_ERR_INVALID_ARGUMENT) {
            atomic_fetch_add(&race->wrong, 1);
        }
        ably_error_info_free(err);
        atomic_fetch_add(&race->uses, 1);
    }
    return NULL;
}

static void stale_builder_handles_are_refused_after_reuse_from_any_thread(void) {
    /* Same thread first: a freed builder's memory is the allocator's first choice for the
     * next one of the same size, so an address-based handle would now name the new one. */
    ably_token_params *old_params = ably_token_params_new();
    ably_token_params_free(old_params);
    ably_token_params *new_params = ably_token_params_new();
    expect_code(ably_token_params_set_client_id(old_params, "intruder"),
                ABLY_ERR_INVALID_ARGUMENT, "not a live handle");
    ably_auth_options *signer_options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(signer_options, "app.key:secret"));
    ably_auth *signer_auth = make_auth(signer_options);
    ably_token_request *request = NULL;
    if (signer_auth != NULL &&
        expect_ok(ably_auth_create_token_request(signer_auth, new_params, &request))) {
        CHECK(ably_token_request_client_id(request) == NULL,
              "6: the new builder was not touched through the freed one's handle");
        ably_token_request_free(request);
    }
    ably_auth_free(signer_auth);

    builder_race race = {0};
    race.stale = ably_token_params_new();
    ably_token_params_free(race.stale);
    pthread_t thread;
    if (!CHECK(pthread_create(&thread, NULL, use_stale_params, &race) == 0, "6: thread")) {
        return;
    }
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_key(options, "app.key:secret"));
    ably_auth *signer = make_auth(options);
    int clobbered = 0;
    for (int i = 0; i < 20000 && signer != NULL; i++) {
        ably_token_params *fresh = ably_token_params_new();
        ably_error_info_free(ably_token_params_set_client_id(fresh, "owner"));
        ably_token_request *request = NULL;
        ably_error_info_free(ably_auth_create_token_request(signer, fresh, &request));
        if (request == NULL || !str_eq(ably_token_request_client_id(request), "owner")) {
            clobbered++;
        }
        ably_token_request_free(request);
    }
    ably_auth_free(signer);
    atomic_store(&race.stop, 1);
    pthread_join(thread, NULL);
    CHECK(atomic_load(&race.wrong) == 0 && clobbered == 0,
          "6: %d uses of a freed params handle on another thread, while 20000 new ones "
          "were created: every use got 40003 and no new builder was touched "
          "(%d wrong, %d clobbered)",
          atomic_load(&race.uses), atomic_load(&race.wrong), clobbered);
}

/* ---- 7 ---------------------------------------------------------------------------------- */

typedef struct request_buffers {
    char *path;
    char *body;
    const char *token_request;
} request_buffers;

static void callback_wiping_the_request(void *user_data, const char *params,
                                        ably_auth_completion *c) {
    (void)params;
    request_buffers *buffers = user_data;
    memset(buffers->path, 'X', strlen(buffers->path));
    free(buffers->path);
    memset(buffers->body, 'X', strlen(buffers->body));
    free(buffers->body);
    buffers->path = buffers->body = NULL;
    ably_error_info_free(ably_auth_completion_answer_json(c, buffers->token_request));
}

static void request_copies_path_and_body_before_callbacks_run(void) {
    char *token_request = signed_request_json(600000);
    request_buffers buffers = {strdup("/channels/copied/messages"),
                               strdup("{\"name\":\"n\",\"data\":\"d\"}"), token_request};
    size_t body_len = strlen(buffers.body);
    ably_auth_options *options = key_options(3000);
    expect_ok(ably_auth_options_set_auth_callback(options, callback_wiping_the_request,
                                                  &buffers, NULL));
    ably_auth *auth = make_auth(options);
    if (auth != NULL) {
        const char *names[] = {"Content-Type"};
        const char *values[] = {"application/json"};
        ably_http_response *response = NULL;
        /* The authCallback runs inside this call and frees path and body. */
        if (expect_ok(ably_auth_request(auth, "POST", buffers.path, NULL, names, values, 1,
                                        (const uint8_t *)buffers.body, body_len, &response))) {
            size_t len = 0;
            const uint8_t *answer = ably_http_response_body(response, &len);
            char channel[64] = "";
            char *text = calloc(1, len + 1);
            if (text != NULL && len > 0) {
                memcpy(text, answer, len);
            }
            json_string(text ? text : "", "channel", channel, sizeof channel);
            CHECK(ably_http_response_status(response) == 201 && strcmp(channel, "copied") == 0,
                  "7: the request went to the path given, though its buffer was freed by "
                  "the authCallback (channel %s)",
                  channel);
            free(text);
            ably_http_response_free(response);
        }
        ably_auth_free(auth);
    }
    free(buffers.path);
    free(buffers.body);
    free(token_request);
}

/* ---- 8 ---------------------------------------------------------------------------------- */

static void token_request_fields_with_nul_are_refused_at_parse(void) {
    static const char *const jsons[] = {
        "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\\u0000x\",\"mac\":\"m\"}",
        "{\"keyName\":\"a\\u0000.b\",\"timestamp\":1,\"nonce\":\"n\",\"mac\":\"m\"}",
        "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\",\"mac\":\"m\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof jsons / sizeof jsons[0]; i++) {
        ably_token_request *request = NULL;
        tu_expect_code(__FILE__, __LINE__, "8: a TokenRequest field holding U+0000",
                       ably_token_request_from_json(jsons[i], &request),
                       ABLY_ERR_INVALID_ARGUMENT, "U+0000");
        ably_token_request_free(request);
    }
    ably_token_request *request = NULL;
    if (expect_ok(ably_token_request_from_json(
            "{\"keyName\":\"a.b\",\"timestamp\":1,\"nonce\":\"n\",\"mac\":\"m\"}", &request))) {
        CHECK(ably_token_request_key_name(request) != NULL &&
                  ably_token_request_nonce(request) != NULL,
              "8: key_name and nonce of a parsed TokenRequest are never NULL");
        ably_token_request_free(request);
    }
}

/* ---- 10 --------------------------------------------------------------------------------- */

typedef struct heard_tokens {
    pthread_mutex_t lock;
    char tokens[4][128];
    int count;
} heard_tokens;

static void recording_listener(void *user_data, const ably_token_details *details,
                               const ably_error_info *error) {
    (void)error;
    heard_tokens *heard = user_data;
    if (details == NULL) {
        return;
    }
    pthread_mutex_lock(&heard->lock);
    if (heard->count < 4) {
        snprintf(heard->tokens[heard->count], sizeof heard->tokens[0], "%s",
                 ably_token_details_token(details));
    }
    heard->count++;
    pthread_mutex_unlock(&heard->lock);
}

static atomic_int slow_callback_started;

static void slow_token_callback(void *user_data, const char *params, ably_auth_completion *c) {
    (void)params;
    atomic_store(&slow_callback_started, 1);
    sleep_ms(400);
    ably_error_info_free(ably_auth_completion_answer_token(c, (const char *)user_data));
}

static void listener_never_hears_a_token_overtaken_by_authorize(void) {
    heard_tokens heard = {.lock = PTHREAD_MUTEX_INITIALIZER};
    ably_auth_options *options = key_options(3000);
    expect_ok(ably_auth_options_set_auth_callback(options, slow_token_callback,
                                                  "overtaken-token", NULL));
    ably_auth *auth = make_auth(options);
    if (auth == NULL) {
        return;
    }
    uint64_t id = 0;
    expect_ok(ably_auth_add_listener(auth, recording_listener, &heard, NULL, &id));
    atomic_store(&slow_callback_started, 0);
    pthread_t thread;
    if (!CHECK(pthread_create(&thread, NULL, header_on_thread, auth) == 0, "10: thread")) {
        ably_auth_free(auth);
        return;
    }
    for (int i = 0; i < 12000 && !atomic_load(&slow_callback_started); i++) { /* hang guard 60 s */
        sleep_ms(5);
    }
    /* While that fetch waits for its callback, authorize installs a token of its own. */
    ably_auth_options *given = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(given, "authorized-token"));
    ably_token_details *details = NULL;
    expect_ok(ably_auth_authorize(auth, NULL, given, &details));
    ably_token_details_free(details);
    void *thread_error = NULL;
    pthread_join(thread, &thread_error);
    ably_error_info_free(thread_error);
    ably_token_details *current = NULL;
    expect_ok(ably_auth_token_details(auth, &current));
    CHECK(current != NULL && str_eq(ably_token_details_token(current), "authorized-token"),
          "10: the token in use is authorize's");
    ably_token_details_free(current);
    pthread_mutex_lock(&heard.lock);
    CHECK(heard.count == 1 && strcmp(heard.tokens[0], "authorized-token") == 0,
          "10: listeners heard only the token in use (%d events, first %s)", heard.count,
          heard.tokens[0]);
    pthread_mutex_unlock(&heard.lock);
    ably_auth_free(auth);
}

typedef struct named_test {
    const char *name;
    void (*run)(void);
    bool networked;
} named_test;

#define TEST(fn, networked) {#fn, fn, networked}

static const named_test tests[] = {
    TEST(setter_replacing_a_callback_lets_its_destructor_use_the_options, false),
    TEST(stale_builder_handles_are_refused_after_reuse_from_any_thread, false),
    TEST(token_request_fields_with_nul_are_refused_at_parse, false),
    TEST(destructors_run_by_auth_free_may_call_back_and_are_refused, true),
    TEST(auth_free_from_inside_a_listener_is_deferred, true),
    TEST(remove_listener_waits_for_a_call_on_another_thread, true),
    TEST(remove_listener_from_inside_the_listener_returns_at_once, true),
    TEST(listener_renewing_on_short_lived_tokens_does_not_recurse, true),
    TEST(listener_retrying_every_failure_is_bounded, true),
    TEST(auth_callback_calling_authorize_on_its_own_auth_is_refused, true),
    TEST(waiter_gives_up_at_the_fetch_deadline_when_the_callback_blocks, true),
    TEST(synchronous_answer_after_the_timeout_is_refused, true),
    TEST(request_copies_path_and_body_before_callbacks_run, true),
    TEST(listener_never_hears_a_token_overtaken_by_authorize, true),
};

/* With an argument, only the test of that name runs (to try one behaviour alone). */
int main(int argc, char **argv) {
    loopback_ignore_sigpipe();
    const char *only = argc > 1 ? argv[1] : NULL;
    bool started = false;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (only != NULL && strcmp(only, tests[i].name) != 0) {
            continue;
        }
        if (tests[i].networked && !started) {
            started = true;
            if (!fixture_start()) {
                break;
            }
        }
        printf("# %s\n", tests[i].name);
        tests[i].run();
    }
    if (started) {
        loopback_stop(&server);
    }
    return test_summary();
}
