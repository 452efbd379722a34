/*
 * test_fallback_limits.c: the two limits on fallback hosts a C program sets, observed on the
 * loopback server: ably_auth_options_set_max_retry_count (how many fallback hosts) and
 * ably_auth_options_set_max_retry_duration (how long after the first attempt another host
 * may still be tried).
 *
 * One loopback server stands for every host: "primary.test" and the fallbacks
 * "fb-a.test", "fb-b.test" are resolved to it (ably_auth_options_add_resolve), and a rule
 * answers every GET /time with 500, which sends the library to the next host. The server
 * records each request with its Host header, so the test counts the hosts tried.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "json_oracle.h"
#include "loopback.h"
#include "test_util.h"

static loopback server;

/* Options whose three hosts all reach `server` over plain HTTP; a token for credentials
 * (time() sends none). */
static ably_auth_options *three_host_options(void) {
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", server.port);
    const char *fallbacks[] = {"fb-a.test", "fb-b.test"};
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_token(options, "a-token"));
    expect_ok(ably_auth_options_set_endpoint(options, "primary.test"));
    expect_ok(ably_auth_options_set_fallback_hosts(options, fallbacks, 2));
    expect_ok(ably_auth_options_set_tls(options, false));
    expect_ok(ably_auth_options_set_port(options, server.port));
    expect_ok(ably_auth_options_add_resolve(options, "primary.test", addr));
    expect_ok(ably_auth_options_add_resolve(options, "fb-a.test", addr));
    expect_ok(ably_auth_options_add_resolve(options, "fb-b.test", addr));
    expect_ok(ably_auth_options_set_timeouts(options, 3000, 3000));
    return options;
}

/* Count the recorded requests for /time, and in *for_host those whose Host header is `host`
 * with the server's port. */
static int count_time_requests(const char *host, int *for_host) {
    char *body = NULL;
    int n = -1;
    *for_host = 0;
    char expected_host[128];
    snprintf(expected_host, sizeof expected_host, "%s:%d", host, server.port);
    cJSON *list = NULL;
    if (loopback_http(&server, "GET", "/_control/requests", NULL, &body) == 200 && body) {
        list = cJSON_ParseWithOpts(body, NULL, 1 /* nothing may follow */);
    }
    if (cJSON_IsArray(list)) {
        n = 0;
        const cJSON *request = NULL;
        cJSON_ArrayForEach(request, list) {
            const cJSON *path = json_oracle_member(request, "path");
            if (!cJSON_IsString(path) || strcmp(path->valuestring, "/time") != 0) continue;
            n++;
            const cJSON *pair = NULL;
            cJSON_ArrayForEach(pair, json_oracle_member(request, "headers")) {
                const cJSON *name = cJSON_GetArrayItem(pair, 0);
                const cJSON *value = cJSON_GetArrayItem(pair, 1);
                if (cJSON_IsString(name) && cJSON_IsString(value) &&
                    strcmp(name->valuestring, "host") == 0 &&
                    strcmp(value->valuestring, expected_host) == 0) {
                    (*for_host)++;
                }
            }
        }
    }
    cJSON_Delete(list);
    free(body);
    return n;
}

/* Run time() with these options against a server answering 500 to every /time; return the
 * number of /time requests it received and check the first went to the primary. */
static int hosts_tried(ably_auth_options *options, const char *label) {
    CHECK(loopback_reset(&server), "%s: server reset", label);
    CHECK(loopback_rule(&server, "{\"method\":\"GET\",\"pathPrefix\":\"/time\",\"times\":\"forever\","
                                 "\"action\":{\"type\":\"ablyError\",\"status\":500,\"code\":50000,"
                                 "\"message\":\"down\"}}"),
          "%s: rule installed", label);
    ably_auth *auth = NULL;
    if (!expect_ok(ably_auth_new(options, &auth))) return -1;
    int64_t ms = -1;
    ably_error_info *err = ably_auth_time(auth, &ms);
    CHECK(err != NULL && err->status_code == 500, "%s: time() fails with the hosts' 500 (%d)",
          label, err ? (int)err->status_code : 0);
    CHECK(ms == -1, "%s: out_ms untouched on error", label);
    ably_error_info_free(err);
    ably_auth_free(auth);
    int primary = 0;
    int n = count_time_requests("primary.test", &primary);
    CHECK(primary == 1, "%s: the primary host was tried once (%d)", label, primary);
    return n;
}

int main(void) {
    loopback_ignore_sigpipe();
    if (!CHECK(loopback_start(&server, false), "loopback server started (%s)",
               ABLY_LOOPBACK_SERVER)) {
        loopback_stop(&server);
        return test_summary();
    }

    /* Defaults: 3 fallback hosts at most, 15 s: both fallbacks are tried after the primary. */
    int n = hosts_tried(three_host_options(), "defaults");
    CHECK(n == 3, "defaults: primary + 2 fallbacks tried (%d requests)", n);

    /* A retry duration of 0: no fallback host after the first attempt. */
    ably_auth_options *options = three_host_options();
    expect_ok(ably_auth_options_set_max_retry_duration(options, 0));
    n = hosts_tried(options, "max_retry_duration 0");
    CHECK(n == 1, "max_retry_duration 0: the primary only (%d requests)", n);

    /* A long retry duration does not lift the count limit: 1 fallback at most. */
    options = three_host_options();
    expect_ok(ably_auth_options_set_max_retry_duration(options, 600000));
    expect_ok(ably_auth_options_set_max_retry_count(options, 1));
    n = hosts_tried(options, "max_retry_duration 600 s, max_retry_count 1");
    CHECK(n == 2, "max_retry_count 1: primary + 1 fallback (%d requests)", n);

    /* The largest duration is accepted (no overflow in the deadline arithmetic). */
    options = three_host_options();
    expect_ok(ably_auth_options_set_max_retry_duration(options, INT64_MAX));
    n = hosts_tried(options, "max_retry_duration INT64_MAX");
    CHECK(n == 3, "max_retry_duration INT64_MAX: primary + 2 fallbacks (%d requests)", n);

    /* Refused values leave the options as they were and name the argument. */
    options = ably_auth_options_new();
    ably_error_info *err = ably_auth_options_set_max_retry_duration(options, -1);
    CHECK(err != NULL && err->code == ABLY_ERR_INVALID_ARGUMENT && err->message != NULL &&
              strstr(err->message, "duration_ms") != NULL,
          "max_retry_duration -1 refused with 40003 naming duration_ms");
    ably_error_info_free(err);
    ably_auth_options_free(options);

    loopback_stop(&server);
    return test_summary();
}
