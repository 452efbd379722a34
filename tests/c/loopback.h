/*
 * loopback.h: the loopback Ably-compatible server for the networked C tests (header-only;
 * POSIX and Windows; also compiles as C++, for tests/cpp/loopback.hpp).
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
 *   loopback_ignore_sigpipe()       POSIX: ignore SIGPIPE, so that a write to a connection
 *                                   the server closed fails instead of killing the test
 *                                   (Windows has no SIGPIPE: nothing to do)
 *
 * The server runs where the test runs: a program of the build machine even when the test is
 * cross built and run under qemu-user (see cmake/AblyAuthTestRuntime.cmake).
 */
#ifndef ABLY_AUTH_LOOPBACK_H
#define ABLY_AUTH_LOOPBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>
#include <fcntl.h>
#include <io.h>
typedef SOCKET lb_socket;
#define LB_BAD_SOCKET INVALID_SOCKET
#define lb_close_socket closesocket
#define LB_SEND_FLAGS 0
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
typedef int lb_socket;
#define LB_BAD_SOCKET (-1)
#define lb_close_socket close
#ifdef MSG_NOSIGNAL
#define LB_SEND_FLAGS MSG_NOSIGNAL
#else
#define LB_SEND_FLAGS 0
#endif
extern char **environ;
#endif

#ifndef ABLY_LOOPBACK_SERVER
#error "ABLY_LOOPBACK_SERVER (path of ably-loopback-server) must be defined"
#endif

/* `loopback` in C; C++ (tests/cpp/loopback.hpp) keeps that name for its namespace. */
typedef struct loopback_server {
#ifdef _WIN32
    HANDLE process;
    HANDLE stdin_pipe; /* our end of the server's stdin: closing it stops the server */
#else
    pid_t pid;
    int stdin_fd; /* our end of the server's stdin: closing it stops the server */
#endif
    FILE *stdout_f; /* the server's stdout */
    bool tls;
    int port;
    char base_url[256];
    char ca_path[300]; /* with TLS: the CA PEM file (removed by loopback_stop) */
    char *ca_pem;      /* with TLS: its contents (malloc'd) */
} loopback_server;
#ifndef __cplusplus
typedef loopback_server loopback;
#endif

static inline void loopback_ignore_sigpipe(void) {
#ifndef _WIN32
    signal(SIGPIPE, SIG_IGN);
#endif
}

static inline char *lb_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = (char *)malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = (char *)realloc(buf, cap *= 2);
            if (bigger == NULL) {
                free(buf);
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

/* A CA file name unique to this process and call: tests may run several TLS servers. */
static inline void lb_ca_path(char *out, size_t size) {
    static int counter = 0;
#ifdef _WIN32
    char dir[MAX_PATH + 1];
    DWORD n = GetTempPathA(sizeof dir, dir);
    snprintf(out, size, "%sably-lb-ca-%lu-%d.pem", n > 0 && n < sizeof dir ? dir : ".\\",
             (unsigned long)GetCurrentProcessId(), ++counter);
#else
    snprintf(out, size, "/tmp/ably-lb-ca-%ld-%d.pem", (long)getpid(), ++counter);
#endif
}

/*
 * Start the server with stdin and stdout on pipes: *stdin_end is ours to write (close it
 * and the server exits), *stdout_f reads what it prints.
 */
#ifdef _WIN32
static inline bool lb_spawn(loopback_server *lb, const char *const *argv) {
    char cmdline[1024] = "";
    for (size_t i = 0; argv[i] != NULL; i++) {
        size_t len = strlen(cmdline);
        snprintf(cmdline + len, sizeof cmdline - len, "%s\"%s\"", i ? " " : "", argv[i]);
    }
    SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
    HANDLE in_r, in_w, out_r, out_w;
    if (!CreatePipe(&in_r, &in_w, &inherit, 0)) {
        return false;
    }
    if (!CreatePipe(&out_r, &out_w, &inherit, 0)) {
        CloseHandle(in_r);
        CloseHandle(in_w);
        return false;
    }
    /* Only the child's ends are inherited. */
    SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi;
    BOOL ok = CreateProcessA(ABLY_LOOPBACK_SERVER, cmdline, NULL, NULL, TRUE, 0, NULL, NULL,
                             &si, &pi);
    CloseHandle(in_r);
    CloseHandle(out_w);
    if (!ok) {
        fprintf(stderr, "CreateProcess %s: error %lu\n", ABLY_LOOPBACK_SERVER,
                (unsigned long)GetLastError());
        CloseHandle(in_w);
        CloseHandle(out_r);
        return false;
    }
    CloseHandle(pi.hThread);
    lb->process = pi.hProcess;
    lb->stdin_pipe = in_w;
    int fd = _open_osfhandle((intptr_t)out_r, _O_RDONLY);
    lb->stdout_f = fd >= 0 ? _fdopen(fd, "r") : NULL;
    return true;
}
#else
static inline bool lb_spawn(loopback_server *lb, const char *const *argv) {
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
    int rc = posix_spawn(&lb->pid, ABLY_LOOPBACK_SERVER, &actions, NULL, (char *const *)argv,
                         environ);
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
    return true;
}
#endif

static inline bool loopback_start(loopback_server *lb, bool tls) {
    memset(lb, 0, sizeof *lb);
#ifdef _WIN32
    lb->process = NULL;
    lb->stdin_pipe = NULL;
#else
    lb->pid = -1;
    lb->stdin_fd = -1;
#endif
    lb->tls = tls;
    const char *argv[6];
    int argc = 0;
    argv[argc++] = ABLY_LOOPBACK_SERVER;
    argv[argc++] = "--exit-on-stdin-eof";
    if (tls) {
        lb_ca_path(lb->ca_path, sizeof lb->ca_path);
        argv[argc++] = "--tls";
        argv[argc++] = "--ca-out";
        argv[argc++] = lb->ca_path;
    }
    argv[argc] = NULL;
    if (!lb_spawn(lb, argv)) {
        return false;
    }
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

static inline void loopback_stop(loopback_server *lb) {
#ifdef _WIN32
    if (lb->stdin_pipe != NULL) {
        CloseHandle(lb->stdin_pipe);
        lb->stdin_pipe = NULL;
    }
    if (lb->process != NULL) {
        WaitForSingleObject(lb->process, INFINITE);
        CloseHandle(lb->process);
        lb->process = NULL;
    }
#else
    if (lb->stdin_fd >= 0) {
        close(lb->stdin_fd);
        lb->stdin_fd = -1;
    }
    if (lb->pid > 0) {
        int status;
        waitpid(lb->pid, &status, 0);
        lb->pid = -1;
    }
#endif
    if (lb->stdout_f != NULL) {
        fclose(lb->stdout_f);
        lb->stdout_f = NULL;
    }
    if (lb->ca_pem != NULL) {
        free(lb->ca_pem);
        lb->ca_pem = NULL;
        remove(lb->ca_path);
    }
}

static inline lb_socket lb_connect(int port) {
#ifdef _WIN32
    static bool started = false;
    if (!started) {
        WSADATA wsa;
        if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
            return LB_BAD_SOCKET;
        }
        started = true;
    }
#endif
    lb_socket fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == LB_BAD_SOCKET) {
        return LB_BAD_SOCKET;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        lb_close_socket(fd);
        return LB_BAD_SOCKET;
    }
    return fd;
}

static inline bool lb_send_all(lb_socket fd, const char *data, size_t len) {
    while (len > 0) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int n = (int)send(fd, data, chunk, LB_SEND_FLAGS);
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static inline int loopback_http(const loopback_server *lb, const char *method, const char *path,
                                const char *body, char **out_body) {
    if (out_body != NULL) {
        *out_body = NULL;
    }
    lb_socket fd = lb_connect(lb->port);
    if (fd == LB_BAD_SOCKET) {
        return -1;
    }
    size_t body_len = body ? strlen(body) : 0;
    char head[512];
    int head_len = snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                            "Content-Type: application/json\r\nContent-Length: %lu\r\n\r\n",
                            method, path, lb->port, (unsigned long)body_len);
    if (head_len < 0 || (size_t)head_len >= sizeof head ||
        !lb_send_all(fd, head, (size_t)head_len) || (body && !lb_send_all(fd, body, body_len))) {
        lb_close_socket(fd);
        return -1;
    }
    size_t cap = 8192, len = 0;
    char *buf = (char *)malloc(cap);
    int status = -1;
    size_t need = 0; /* total bytes expected once the head is parsed */
    while (buf != NULL) {
        if (cap - len < 1025) {
            char *bigger = (char *)realloc(buf, cap *= 2);
            if (bigger == NULL) {
                break;
            }
            buf = bigger;
        }
        int n = (int)recv(fd, buf + len, (int)(cap - len - 1), 0);
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
    lb_close_socket(fd);
    if (buf == NULL) {
        return -1;
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
    }
    char *end = strstr(buf, "\r\n\r\n");
    if (out_body != NULL && end != NULL) {
        size_t body_size = strlen(end + 4) + 1;
        *out_body = (char *)malloc(body_size);
        if (*out_body != NULL) {
            memcpy(*out_body, end + 4, body_size);
        }
    }
    free(buf);
    return status;
}

static inline bool loopback_rule(const loopback_server *lb, const char *rule_json) {
    return loopback_http(lb, "POST", "/_control/rule", rule_json, NULL) == 200;
}

static inline bool loopback_reset(const loopback_server *lb) {
    return loopback_http(lb, "POST", "/_control/reset", "{}", NULL) == 200;
}

#endif /* ABLY_AUTH_LOOPBACK_H */
