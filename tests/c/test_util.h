/*
 * test_util.h: tiny helpers shared by the C tests in this directory (header-only).
 *
 * Every check prints one line, "ok   ..." or "FAIL ...", and is counted; test_summary()
 * prints the final "N passed, M failed" line and returns the exit status for main().
 *
 *   CHECK(cond, fmt, ...)              a condition, described printf-style
 *   expect_ok(call)                    the call returned NULL (success); an unexpected
 *                                      error is printed and freed
 *   expect_code(call, code, substr)    the call failed with `code` and a message that
 *                                      contains `substr` (NULL: any message); the error
 *                                      is freed
 *
 *   tu_unix_time_ms()                  milliseconds since the Unix epoch, by the C
 *                                      library's (or Windows') clock
 *
 * expect_ok and expect_code use the text of the call as the description of the check.
 * Loops that need their own description call tu_expect_ok / tu_expect_code directly.
 *
 * Portability: MinGW builds define __USE_MINGW_ANSI_STDIO=1 (cmake/AblyAuthTestRuntime.cmake),
 * so printf takes C99 formats such as %zu and %lld there too.
 */
#ifndef ABLY_AUTH_TEST_UTIL_H
#define ABLY_AUTH_TEST_UTIL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#if defined(_WIN32) && !defined(TIME_UTC) /* MinGW's msvcrt headers lack timespec_get */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif

#include "ably_auth.h"

#if defined(__MINGW32__)
/* MinGW's `printf` archetype is msvcrt's (no %zu); its ANSI stdio is C99's. */
#define TU_PRINTF(fmt_index, first_arg) __attribute__((format(gnu_printf, fmt_index, first_arg)))
#define TU_UNUSED __attribute__((unused))
#elif defined(__GNUC__) || defined(__clang__)
#define TU_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define TU_UNUSED __attribute__((unused))
#else
#define TU_PRINTF(fmt_index, first_arg)
#define TU_UNUSED
#endif

/* Atomic: tests check from the threads they start (ThreadSanitizer runs, tests/sanitizers.sh). */
static atomic_int tu_passed;
static atomic_int tu_failed;

/* Record one check: print "ok   <description>" or "FAIL <description> (file:line)". */
TU_PRINTF(4, 5) TU_UNUSED
static bool tu_check(bool ok, const char *file, int line, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fputs(ok ? "ok   " : "FAIL ", stdout);
    vprintf(fmt, args);
    va_end(args);
    if (ok) {
        tu_passed++;
        putchar('\n');
    } else {
        tu_failed++;
        printf("  (%s:%d)\n", file, line);
    }
    fflush(stdout);
    return ok;
}

#define CHECK(cond, ...) tu_check((cond) ? true : false, __FILE__, __LINE__, __VA_ARGS__)

/* Print an error's fields (for a check that did not expect it). */
TU_UNUSED
static void tu_print_error(const ably_error_info *err) {
    printf("     got error %d (status %d): %s\n", (int)err->code, (int)err->status_code,
           err->message ? err->message : "(NULL message)");
}

/* Check that `err` is NULL; otherwise print it, free it and count a failure. */
TU_UNUSED
static bool tu_expect_ok(const char *file, int line, const char *what, ably_error_info *err) {
    if (err == NULL) {
        return tu_check(true, file, line, "%s succeeds", what);
    }
    tu_check(false, file, line, "%s succeeds", what);
    tu_print_error(err);
    ably_error_info_free(err);
    return false;
}

/*
 * Check that `err` is an error with `code` whose message contains `substr` (when it is
 * not NULL), then free it.
 */
TU_UNUSED
static bool tu_expect_code(const char *file, int line, const char *what, ably_error_info *err,
                           int32_t code, const char *substr) {
    if (err == NULL) {
        return tu_check(false, file, line, "%s fails with %d (it succeeded)", what, (int)code);
    }
    bool ok = err->code == code && err->message != NULL &&
              (substr == NULL || strstr(err->message, substr) != NULL);
    if (substr != NULL) {
        tu_check(ok, file, line, "%s fails with %d, message mentions \"%s\"", what, (int)code,
                 substr);
    } else {
        tu_check(ok, file, line, "%s fails with %d", what, (int)code);
    }
    if (!ok) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
    return ok;
}

#define expect_ok(call) tu_expect_ok(__FILE__, __LINE__, #call, (call))
#define expect_code(call, code, substr) \
    tu_expect_code(__FILE__, __LINE__, #call, (call), (code), (substr))

/* True when the NUL-terminated strings are equal (both NULL counts as equal). */
TU_UNUSED
static bool str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* A printable form of a possibly NULL string, for messages. */
TU_UNUSED
static const char *str_or_null(const char *s) {
    return s ? s : "(NULL)";
}

/* Milliseconds since the Unix epoch (the wall clock the library reads too). */
TU_UNUSED
static int64_t tu_unix_time_ms(void) {
#if defined(_WIN32) && !defined(TIME_UTC)
    FILETIME ft; /* 100 ns intervals since 1601-01-01 */
    GetSystemTimeAsFileTime(&ft);
    uint64_t ticks = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    return (int64_t)(ticks / 10000u) - INT64_C(11644473600000);
#else
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

/* Print the final line and return the exit status for main(). */
TU_UNUSED
static int test_summary(void) {
    printf("%d passed, %d failed\n", atomic_load(&tu_passed), atomic_load(&tu_failed));
    fflush(stdout);
    return atomic_load(&tu_failed) == 0 ? 0 : 1;
}

#endif /* ABLY_AUTH_TEST_UTIL_H */
