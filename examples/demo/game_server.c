/*
 * game_server: the token-issuing side of the end-to-end demo.
 *
 * It holds the Ably API key and serves an authUrl endpoint, GET /ably/token: for each
 * player it signs a TokenRequest locally (no network) with that player's clientId and a
 * capability, and answers it as application/json. The player's ably-auth exchanges the
 * TokenRequest with Ably for a token; the key never leaves this process.
 *
 * Usage: game_server API_KEY [MAX_REQUESTS]
 * Prints "GAME_SERVER http://127.0.0.1:PORT" once listening on a free loopback port, then
 * serves until MAX_REQUESTS requests (default 100) have been answered or it is killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ably_auth.h"

/* What every player may do: use the lobby, and subscribe to the chat: namespace. */
#define CAPABILITY "{\"lobby\":[\"publish\",\"subscribe\"],\"chat:*\":[\"subscribe\"]}"
#define TTL_MS (60 * 60 * 1000)

static void report(const char *what, ably_error_info *err) {
    fprintf(stderr, "game server: %s failed: error %d (status %d): %s\n", what,
            (int)err->code, (int)err->status_code, err->message);
    ably_error_info_free(err);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Copy the value of query parameter `name` from `query` into `out`, percent-decoded
 * (and '+' as space). Returns 1 when found. */
static int query_param(const char *query, const char *name, char *out, size_t out_len) {
    size_t name_len = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            size_t o = 0;
            for (size_t i = name_len + 1; i < len && o + 1 < out_len; i++) {
                int hi, lo;
                if (p[i] == '%' && i + 2 < len && (hi = hex_value(p[i + 1])) >= 0 &&
                    (lo = hex_value(p[i + 2])) >= 0) {
                    out[o++] = (char)(hi * 16 + lo);
                    i += 2;
                } else {
                    out[o++] = p[i] == '+' ? ' ' : p[i];
                }
            }
            out[o] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void respond(int fd, int status, const char *reason, const char *type, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, type, strlen(body));
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0) {
        perror("game server: write");
    }
}

/* Sign a TokenRequest for `client_id`; returns its JSON (free with ably_string_free). */
static char *sign_for(const ably_auth *auth, const char *client_id) {
    ably_token_params *params = ably_token_params_new();
    ably_error_info *err = ably_token_params_set_ttl(params, TTL_MS);
    if (!err) err = ably_token_params_set_capability(params, CAPABILITY);
    if (!err) err = ably_token_params_set_client_id(params, client_id);
    if (err) {
        report("building params", err);
        ably_token_params_free(params);
        return NULL;
    }
    ably_token_request *request = NULL;
    err = ably_auth_create_token_request(auth, params, &request); /* consumes params */
    if (err) {
        report("signing", err);
        return NULL;
    }
    char *json = NULL;
    err = ably_token_request_to_json(request, &json);
    ably_token_request_free(request);
    if (err) {
        report("to_json", err);
        return NULL;
    }
    return json;
}

static void serve_one(int fd, const ably_auth *auth) {
    char buf[8192];
    size_t used = 0;
    while (used < sizeof buf - 1) { /* read the request head */
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n")) break;
    }
    buf[used] = '\0';
    char method[8] = {0}, target[4096] = {0};
    if (sscanf(buf, "%7s %4095s", method, target) != 2 || strcmp(method, "GET") != 0) {
        respond(fd, 405, "Method Not Allowed", "text/plain", "GET only\n");
        return;
    }
    char *query = strchr(target, '?');
    if (query) *query++ = '\0';
    if (strcmp(target, "/ably/token") != 0) {
        respond(fd, 404, "Not Found", "text/plain", "not found\n");
        return;
    }
    char client_id[256];
    if (!query || !query_param(query, "clientId", client_id, sizeof client_id) ||
        client_id[0] == '\0') {
        respond(fd, 400, "Bad Request", "text/plain", "clientId required\n");
        return;
    }
    char *json = sign_for(auth, client_id);
    if (!json) {
        respond(fd, 500, "Internal Server Error", "text/plain", "signing failed\n");
        return;
    }
    printf("game server: signed a TokenRequest for clientId=%s (ttl 1 h, capability %s)\n",
           client_id, CAPABILITY);
    fflush(stdout);
    respond(fd, 200, "OK", "application/json", json);
    ably_string_free(json);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: game_server API_KEY [MAX_REQUESTS]\n");
        return 2;
    }
    int max_requests = argc > 2 ? atoi(argv[2]) : 100;

    ably_auth_options *options = ably_auth_options_new();
    ably_auth *auth = NULL;
    ably_error_info *err = ably_auth_options_set_key(options, argv[1]);
    if (err) {
        report("set_key", err);
        ably_auth_options_free(options);
        return 1;
    }
    if ((err = ably_auth_new(options, &auth))) { /* consumes options */
        report("ably_auth_new", err);
        return 1;
    }

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t addr_len = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("game server: listen");
        ably_auth_free(auth);
        return 1;
    }
    printf("GAME_SERVER http://127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    for (int served = 0; served < max_requests; served++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        serve_one(fd, auth);
        close(fd);
    }
    close(listener);
    ably_auth_free(auth);
    return 0;
}
