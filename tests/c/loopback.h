/*
 * loopback.h: the loopback Ably-compatible server for the networked C tests (header-only,
 * POSIX).
 *
 *   loopback_start(&lb, tls)        spawn ABLY_LOOPBACK_SERVER (--exit-on-stdin-eof, and
 *                                   --tls --ca-out FILE), read "LISTENING <url>"
 *   loopback_stop(&lb)              close its stdin (it exits) and reap it
 *   loopback_http(&lb, method, path, body, out_body)
 *                                   one HTTP/1.1 request over a raw socket (plain HTTP only:
 *                                   control calls go to a non-TLS server); returns the status
 *                                   or -1, and the body in *out_body (malloc'd; may be NULL)
 *   loopback_rule(&lb, json)        POST /_control/rule
 *   loopback_reset(&lb)             POST /_control/reset
 */
#ifndef ABLY_AUTH_LOOPBACK_H
#define ABLY_AUTH_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ABLY_LOOPBACK_SERVER
#error "ABLY_LOOPBACK_SERVER (path of ably-loopback-server) must be defined"
#endif

extern char **environ;

typedef struct loopback {
    pid_t pid;
    int stdin_fd;   /* our end of the server's stdin: closing it stops the server */
    FILE *stdout_f; /* the server's stdout */
    bool tls;
    int port;
    char base_url[256];
    char ca_path[64]; /* with TLS: the CA PEM file (removed by loopback_stop) */
    char *ca_pem;     /* with TLS: its contents (malloc'd) */
} loopback;

static char *lb_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
    }
    return buf;
}

static bool loopback_start(loopback *lb, bool tls) {
    memset(lb, 0, sizeof *lb);
    lb->pid = -1;
    lb->stdin_fd = -1;
    lb->tls = tls;
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) != 0) {
        return false;
    }
    if (pipe(out_pipe) != 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addclose(&actions, in_pipe[1]);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    char *argv[6];
    int argc = 0;
    argv[argc++] = (char *)ABLY_LOOPBACK_SERVER;
    argv[argc++] = (char *)"--exit-on-stdin-eof";
    if (tls) {
        snprintf(lb->ca_path, sizeof lb->ca_path, "/tmp/ably-lb-ca-%ld.pem", (long)getpid());
        argv[argc++] = (char *)"--tls";
        argv[argc++] = (char *)"--ca-out";
        argv[argc++] = lb->ca_path;
    }
    argv[argc] = NULL;
    int rc = posix_spawn(&lb->pid, ABLY_LOOPBACK_SERVER, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn %s: %s\n", ABLY_LOOPBACK_SERVER, strerror(rc));
        close(in_pipe[1]);
        close(out_pipe[0]);
        lb->pid = -1;
        return false;
    }
    lb->stdin_fd = in_pipe[1];
    lb->stdout_f = fdopen(out_pipe[0], "r");
    char line[200];
    if (lb->stdout_f == NULL || fgets(line, sizeof line, lb->stdout_f) == NULL ||
        strncmp(line, "LISTENING ", 10) != 0) {
        fprintf(stderr, "the loopback server did not print LISTENING\n");
        return false;
    }
    line[strcspn(line, "\r\n")] = '\0';
    snprintf(lb->base_url, sizeof lb->base_url, "%s", line + 10);
    const char *colon = strrchr(lb->base_url, ':');
    lb->port = colon ? atoi(colon + 1) : 0;
    if (tls) {
        lb->ca_pem = lb_read_file(lb->ca_path);
        if (lb->ca_pem == NULL) {
            return false;
        }
    }
    return lb->port > 0;
}

static void loopback_stop(loopback *lb) {
    if (lb->stdin_fd >= 0) {
        close(lb->stdin_fd);
        lb->stdin_fd = -1;
    }
    if (lb->pid > 0) {
        int status;
        waitpid(lb->pid, &status, 0);
        lb->pid = -1;
    }
    if (lb->stdout_f != NULL) {
        fclose(lb->stdout_f);
        lb->stdout_f = NULL;
    }
    if (lb->ca_pem != NULL) {
        free(lb->ca_pem);
        lb->ca_pem = NULL;
        unlink(lb->ca_path);
    }
}

static bool lb_send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static int loopback_http(const loopback *lb, const char *method, const char *path,
                         const char *body, char **out_body) {
    if (out_body != NULL) {
        *out_body = NULL;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)lb->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    size_t body_len = body ? strlen(body) : 0;
    char head[512];
    int head_len = snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                            method, path, lb->port, body_len);
    if (!lb_send_all(fd, head, (size_t)head_len) || (body && !lb_send_all(fd, body, body_len))) {
        close(fd);
        return -1;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    int status = -1;
    size_t need = 0; /* total bytes expected once the head is parsed */
    while (buf != NULL) {
        if (cap - len < 1025) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL) {
                break;
            }
            buf = bigger;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL && need == 0) {
            const char *cl = strstr(buf, "Content-Length:");
            if (cl == NULL) {
                cl = strstr(buf, "content-length:");
            }
            need = (size_t)(end + 4 - buf) + (cl && cl < end ? (size_t)atol(cl + 15) : 0);
        }
        if (need != 0 && len >= need) {
            break;
        }
    }
    close(fd);
    if (buf == NULL) {
        return -1;
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
    }
    char *end = strstr(buf, "\r\n\r\n");
    if (out_body != NULL && end != NULL) {
        *out_body = strdup(end + 4);
    }
    free(buf);
    return status;
}

static bool loopback_rule(const loopback *lb, const char *rule_json) {
    return loopback_http(lb, "POST", "/_control/rule", rule_json, NULL) == 200;
}

static bool loopback_reset(const loopback *lb) {
    return loopback_http(lb, "POST", "/_control/reset", "{}", NULL) == 200;
}

#endif /* ABLY_AUTH_LOOPBACK_H */
