/*
 * test_auth_url_hostile.c: the authUrl and its redirects against a hostile authUrl server
 * (issue 20 item 8, deliverable 5), through the C ABI. Each of these failed before the one
 * URL parser (src/core/url.rs) and the chain deadline:
 *
 *   ports_out_of_range_are_refused_by_auth_new          :99999, :65536, :0 passed and went to 80
 *   locations_of_other_schemes_are_never_requested      data:, javascript:, mailto:, about:,
 *                                                       file: were requested as paths
 *   a_location_with_a_bad_port_is_quoted_without_query  went to port 80 / quoted its query
 *   relative_location_with_a_url_in_its_query_is_followed   was refused
 *   a_password_in_the_auth_url_is_never_logged          user:pw@ appeared in the log
 *   one_deadline_for_the_whole_chain                    each hop had a whole request timeout
 *
 * The Rust tests in tests/auth_url_redirects.rs cover the same rules in more cases.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ably_auth.h"
#include "net_fixture.h"

/* Options for the authUrl `url` (on the loopback server), with a request timeout of
 * `timeout_ms` and an authHeader. */
static ably_auth_options *auth_url_options(const char *url, int64_t timeout_ms) {
    ably_auth_options *options = ably_auth_options_new();
    expect_ok(ably_auth_options_set_endpoint(options, "127.0.0.1"));
    expect_ok(ably_auth_options_set_tls(options, false));
    expect_ok(ably_auth_options_set_port(options, server.port));
    expect_ok(ably_auth_options_set_timeouts(options, 2000, timeout_ms));
    expect_ok(ably_auth_options_set_max_retry_count(options, 0));
    expect_ok(ably_auth_options_set_auth_url(options, url));
    expect_ok(ably_auth_options_add_auth_header(options, "X-Game-Secret", "hdr-s3cret"));
    return options;
}

/* The number of requests the server recorded since the last reset. */
static int requests_recorded(void) {
    char *body = NULL;
    int count = -1;
    if (loopback_http(&server, "GET", "/_control/requests", NULL, &body) == 200 && body) {
        count = 0;
        for (const char *p = body; (p = strstr(p, "\"path\":")) != NULL; p++) {
            count++;
        }
    }
    free(body);
    return count;
}

/* A rule: every request under `prefix` is answered 302 with `location`. */
static void redirect_rule(const char *prefix, const char *location) {
    char rule[1024];
    snprintf(rule, sizeof rule,
             "{\"pathPrefix\":\"%s\",\"times\":-1,\"action\":{\"type\":\"respond\","
             "\"status\":302,\"headers\":[[\"Location\",\"%s\"]],\"body\":\"\"}}",
             prefix, location);
    CHECK(loopback_rule(&server, rule), "rule: %s redirects to %s", prefix, location);
}

/* The message of `err` and its causes, concatenated into `out`. */
static void messages(const ably_error_info *err, char *out, size_t size) {
    out[0] = '\0';
    for (const ably_error_info *e = err; e != NULL; e = e->cause) {
        strncat(out, e->message ? e->message : "", size - strlen(out) - 1);
        strncat(out, " | ", size - strlen(out) - 1);
    }
}

/* Make an Auth from `options` (consumed), authorize once, free it: the error or NULL. */
static ably_error_info *authorize_once(ably_auth_options *options) {
    ably_auth *auth = make_auth(options);
    if (auth == NULL) {
        return NULL;
    }
    ably_token_details *details = NULL;
    ably_error_info *err = ably_auth_authorize(auth, NULL, NULL, &details);
    ably_token_details_free(details);
    ably_auth_free(auth);
    return err;
}

/* authorize_once with the authUrl at `path` of the loopback server. */
static ably_error_info *authorize_at(const char *path, int64_t timeout_ms) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server.port, path);
    return authorize_once(auth_url_options(url, timeout_ms));
}

static void ports_out_of_range_are_refused_by_auth_new(void) {
    const char *ports[] = {"99999", "65536", "0"};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%s/auth/token-request", ports[i]);
        ably_auth *auth = NULL;
        char what[160];
        snprintf(what, sizeof what, "ably_auth_new with authUrl %s", url);
        tu_expect_code(__FILE__, __LINE__, what, ably_auth_new(auth_url_options(url, 3000), &auth),
                       ABLY_ERR_INVALID_ARGUMENT, "port");
        CHECK(auth == NULL, "no Auth for port %s", ports[i]);
    }
}

static void locations_of_other_schemes_are_never_requested(void) {
    const char *locations[][2] = {
        {"data:text/plain,lbtk-token", "data:"},
        {"javascript:alert(document.cookie)", "javascript:"},
        {"mailto:ops@example.com?body=q-s3cret", "mailto:"},
        {"about:blank", "about:"},
        {"file:///etc/passwd", "file:"},
    };
    for (size_t i = 0; i < sizeof locations / sizeof locations[0]; i++) {
        loopback_reset(&server);
        redirect_rule("/hostile", locations[i][0]);
        ably_error_info *err = authorize_at("/hostile", 3000);
        char text[2048] = "";
        if (err != NULL) {
            messages(err, text, sizeof text);
        }
        CHECK(err != NULL && err->code == 40170 && strstr(text, locations[i][1]) != NULL,
              "a %s Location fails with 40170 naming its scheme: %s", locations[i][1], text);
        CHECK(strstr(text, "cookie") == NULL && strstr(text, "s3cret") == NULL &&
                  strstr(text, "passwd") == NULL,
              "only the scheme of the %s Location is quoted", locations[i][1]);
        int recorded = requests_recorded();
        CHECK(recorded == 1, "the %s Location was not requested (%d requests)", locations[i][1],
              recorded);
        ably_error_info_free(err);
    }
}

static void a_location_with_a_bad_port_is_quoted_without_query(void) {
    loopback_reset(&server);
    redirect_rule("/hostile", "http://127.0.0.1:99999/auth/token-request?echo=param-s3cret");
    ably_error_info *err = authorize_at("/hostile", 3000);
    char text[2048] = "";
    if (err != NULL) {
        messages(err, text, sizeof text);
    }
    CHECK(err != NULL && err->code == 40170 && strstr(text, "out of range") != NULL &&
              strstr(text, "127.0.0.1:99999/auth/token-request") != NULL,
          "a Location with port 99999 fails with 40170 and is quoted: %s", text);
    CHECK(strstr(text, "param-s3cret") == NULL, "without its query");
    CHECK(requests_recorded() == 1, "nothing was sent anywhere else from here");
    ably_error_info_free(err);
}

static void relative_location_with_a_url_in_its_query_is_followed(void) {
    loopback_reset(&server);
    redirect_rule("/login", "/auth/token-request?next=https://evil.example/x");
    ably_error_info *err = authorize_at("/login", 3000);
    CHECK(err == NULL, "a relative Location with :// in its query is followed");
    if (err != NULL) {
        tu_print_error(err);
    }
    ably_error_info_free(err);
}

typedef struct log_record {
    atomic_int lines;
    atomic_int leaks;
} log_record;

static void log_sink(void *user_data, int32_t level, const char *message) {
    (void)level;
    log_record *record = user_data;
    atomic_fetch_add(&record->lines, 1);
    if (strstr(message, "hunter2-pw") || strstr(message, "q-s3cret")) {
        atomic_fetch_add(&record->leaks, 1);
        printf("     leaked: %s\n", message);
    }
}

static void a_password_in_the_auth_url_is_never_logged(void) {
    loopback_reset(&server);
    char url[160];
    snprintf(url, sizeof url,
             "http://game:hunter2-pw@127.0.0.1:%d/auth/token-request?apiSecret=q-s3cret",
             server.port);
    ably_auth_options *options = auth_url_options(url, 3000);
    log_record record;
    atomic_init(&record.lines, 0);
    atomic_init(&record.leaks, 0);
    expect_ok(ably_auth_options_set_log(options, log_sink, ABLY_LOG_LEVEL_VERBOSE, &record,
                                        NULL));
    ably_error_info *err = authorize_once(options);
    CHECK(err == NULL, "a token from an authUrl with user:password@");
    ably_error_info_free(err);
    int lines = atomic_load(&record.lines), leaks = atomic_load(&record.leaks);
    CHECK(lines > 0 && leaks == 0,
          "no log line holds the password or the query (%d lines, %d leaks)", lines, leaks);
}

static void one_deadline_for_the_whole_chain(void) {
    /* Four hops of 700 ms then the token: each hop is well within the 1.5 s request
     * timeout, the chain is not. Before, each hop had a whole timeout and this succeeded. */
    loopback_reset(&server);
    const char *hops[][2] = {{"/hop1", "/hop2"},
                             {"/hop2", "/hop3"},
                             {"/hop3", "/hop4"},
                             {"/hop4", "/auth/token-request"}};
    for (size_t i = 0; i < 4; i++) {
        char rule[512];
        snprintf(rule, sizeof rule,
                 "{\"pathPrefix\":\"%s\",\"times\":-1,\"action\":{\"type\":\"slowHeaders\","
                 "\"delayMs\":700,\"then\":{\"type\":\"respond\",\"status\":302,"
                 "\"headers\":[[\"Location\",\"%s\"]],\"body\":\"\"}}}",
                 hops[i][0], hops[i][1]);
        CHECK(loopback_rule(&server, rule), "rule: %s is slow", hops[i][0]);
    }
    ably_error_info *err = authorize_at("/hop1", 1500);
    char text[2048] = "";
    if (err != NULL) {
        messages(err, text, sizeof text);
    }
    CHECK(err != NULL && err->code == 40170 &&
              (strstr(text, "request timeout") != NULL || strstr(text, "timed out") != NULL),
          "the chain fails at the request timeout: %s", text);
    int recorded = requests_recorded();
    CHECK(recorded >= 1 && recorded <= 3, "at most 3 hops were asked (%d)", recorded);
    ably_error_info_free(err);
}

int main(void) {
    loopback_ignore_sigpipe();
    if (!fixture_start()) {
        loopback_stop(&server);
        return test_summary();
    }
    ports_out_of_range_are_refused_by_auth_new();
    locations_of_other_schemes_are_never_requested();
    a_location_with_a_bad_port_is_quoted_without_query();
    relative_location_with_a_url_in_its_query_is_followed();
    a_password_in_the_auth_url_is_never_logged();
    one_deadline_for_the_whole_chain();
    loopback_stop(&server);
    return test_summary();
}
