/*
 * builder_ledger.h: force-included (-include) into every C snippet tests/readme-snippets.sh
 * builds. Builders (ably_auth_options, ably_token_params) are handles kept in the library's
 * registry, so one the program forgets is still reachable and valgrind does not call it a
 * leak. This header counts them instead: each function below that makes a builder adds one,
 * each that frees or consumes one (also when it fails) takes one away, and at exit a
 * program that still owns a builder prints what it leaked and exits with status 98.
 *
 * The wrappers keep the library's ABLY_AUTH_MUST_CHECK, so a dropped result still fails the
 * build. A snippet calling another function that consumes a builder needs a wrapper here,
 * or the ledger reports a leak that is not one.
 */
#ifndef ABLY_README_BUILDER_LEDGER_H
#define ABLY_README_BUILDER_LEDGER_H

/* Included before the snippet's own headers: POSIX declarations (pthread) stay visible
 * under -std=c11 for the harnesses that need them. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "ably_auth.h"

static atomic_int ledger_options;
static atomic_int ledger_params;

static void ledger_check(void) {
    int options = atomic_load(&ledger_options), params = atomic_load(&ledger_params);
    if (options != 0 || params != 0) {
        fprintf(stderr, "builder ledger: the program still owns %d ably_auth_options and %d "
                        "ably_token_params at exit (leaked)\n", options, params);
        fflush(stderr);
        _Exit(98);
    }
}

__attribute__((constructor)) static void ledger_start(void) {
    atexit(ledger_check);
}

static inline void ledger_took_options(const ably_auth_options *options) {
    if (options != NULL) atomic_fetch_sub(&ledger_options, 1);
}

static inline void ledger_took_params(const ably_token_params *params) {
    if (params != NULL) atomic_fetch_sub(&ledger_params, 1);
}

static inline ably_auth_options *ledger_options_new(void) {
    ably_auth_options *options = (ably_auth_options_new)();
    if (options != NULL) atomic_fetch_add(&ledger_options, 1);
    return options;
}

static inline void ledger_options_free(ably_auth_options *options) {
    ledger_took_options(options);
    (ably_auth_options_free)(options);
}

static inline ably_token_params *ledger_params_new(void) {
    ably_token_params *params = (ably_token_params_new)();
    if (params != NULL) atomic_fetch_add(&ledger_params, 1);
    return params;
}

static inline void ledger_params_free(ably_token_params *params) {
    ledger_took_params(params);
    (ably_token_params_free)(params);
}

ABLY_AUTH_MUST_CHECK
static inline ably_error_info *ledger_auth_new(ably_auth_options *options, ably_auth **out) {
    ledger_took_options(options);
    return (ably_auth_new)(options, out);
}

ABLY_AUTH_MUST_CHECK
static inline ably_error_info *ledger_create_token_request(const ably_auth *auth,
                                                           ably_token_params *params,
                                                           ably_token_request **out) {
    ledger_took_params(params);
    return (ably_auth_create_token_request)(auth, params, out);
}

ABLY_AUTH_MUST_CHECK
static inline ably_error_info *ledger_create_jwt(const ably_auth *auth, ably_token_params *params,
                                                 char **out) {
    ledger_took_params(params);
    return (ably_auth_create_jwt)(auth, params, out);
}

ABLY_AUTH_MUST_CHECK
static inline ably_error_info *ledger_request_token(const ably_auth *auth,
                                                   ably_token_params *params,
                                                   ably_auth_options *options,
                                                   ably_token_details **out) {
    ledger_took_params(params);
    ledger_took_options(options);
    return (ably_auth_request_token)(auth, params, options, out);
}

ABLY_AUTH_MUST_CHECK
static inline ably_error_info *ledger_authorize(const ably_auth *auth, ably_token_params *params,
                                                ably_auth_options *options,
                                                ably_token_details **out) {
    ledger_took_params(params);
    ledger_took_options(options);
    return (ably_auth_authorize)(auth, params, options, out);
}

ABLY_AUTH_MUST_CHECK
static inline ably_error_info *ledger_authorize_async(const ably_auth *auth,
                                                      ably_token_params *params,
                                                      ably_auth_options *options,
                                                      ably_token_details_done_fn done,
                                                      void *user_data, ably_free_fn free_user_data,
                                                      ably_call **out_call) {
    ledger_took_params(params);
    ledger_took_options(options);
    return (ably_auth_authorize_async)(auth, params, options, done, user_data, free_user_data,
                                       out_call);
}

#define ably_auth_options_new() ledger_options_new()
#define ably_auth_options_free(options) ledger_options_free(options)
#define ably_token_params_new() ledger_params_new()
#define ably_token_params_free(params) ledger_params_free(params)
#define ably_auth_new(options, out) ledger_auth_new(options, out)
#define ably_auth_create_token_request(auth, params, out) \
    ledger_create_token_request(auth, params, out)
#define ably_auth_create_jwt(auth, params, out) ledger_create_jwt(auth, params, out)
#define ably_auth_request_token(auth, params, options, out) \
    ledger_request_token(auth, params, options, out)
#define ably_auth_authorize(auth, params, options, out) ledger_authorize(auth, params, options, out)
#define ably_auth_authorize_async(auth, params, options, done, user_data, free_user_data, out) \
    ledger_authorize_async(auth, params, options, done, user_data, free_user_data, out)

#endif /* ABLY_README_BUILDER_LEDGER_H */
