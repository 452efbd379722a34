// loopback.hpp: the loopback Ably-compatible server for the C++ tests (POSIX, header-only,
// no exceptions, so the -fno-exceptions test can use it too). The C++ twin of
// tests/c/loopback.h.
//
//   Loopback lb;  lb.start(tls)   spawn ABLY_LOOPBACK_SERVER (--exit-on-stdin-eof, and
//                                 --tls --ca-out FILE), read "LISTENING <url>"
//   lb.stop() / ~Loopback         close its stdin (it exits) and reap it
//   lb.http(method, path, body, &out_body)   one HTTP/1.1 request over a raw socket (plain
//                                 HTTP only); the status, or -1
//   lb.rule(json), lb.reset()     POST /_control/rule, /_control/reset
//   json_string(json, key)        a top-level string member (minimal unescaping)
//   json_int(json, key)           a top-level integer member
#ifndef ABLY_AUTH_TEST_LOOPBACK_HPP
#define ABLY_AUTH_TEST_LOOPBACK_HPP

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#ifndef ABLY_LOOPBACK_SERVER
#error "ABLY_LOOPBACK_SERVER (path of ably-loopback-server) must be defined"
#endif

extern char **environ;

namespace loopback {

inline std::optional<std::string> json_raw(const std::string &json, const std::string &key) {
    std::string needle = "\"" + key + "\":";
    size_t at = json.find(needle);
    if (at == std::string::npos) {
        return std::nullopt;
    }
    return json.substr(at + needle.size());
}

inline std::optional<std::string> json_string(const std::string &json, const std::string &key) {
    auto rest = json_raw(json, key);
    if (!rest || rest->empty() || (*rest)[0] != '"') {
        return std::nullopt;
    }
    std::string out;
    for (size_t i = 1; i < rest->size(); i++) {
        char c = (*rest)[i];
        if (c == '"') {
            return out;
        }
        if (c == '\\' && i + 1 < rest->size()) {
            c = (*rest)[++i];
            c = c == 'n' ? '\n' : c;
        }
        out += c;
    }
    return std::nullopt;
}

inline std::optional<int64_t> json_int(const std::string &json, const std::string &key) {
    auto rest = json_raw(json, key);
    if (!rest || rest->empty() || (((*rest)[0] < '0' || (*rest)[0] > '9') && (*rest)[0] != '-')) {
        return std::nullopt;
    }
    return std::strtoll(rest->c_str(), nullptr, 10);
}

class Loopback {
public:
    Loopback() = default;
    Loopback(const Loopback &) = delete;
    Loopback &operator=(const Loopback &) = delete;
    ~Loopback() { stop(); }

    bool start(bool tls) {
        tls_ = tls;
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
        std::vector<std::string> args = {ABLY_LOOPBACK_SERVER, "--exit-on-stdin-eof"};
        if (tls) {
            static int counter = 0;
            ca_path_ = "/tmp/ably-lb-cpp-ca-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + ".pem";
            args.insert(args.end(), {"--tls", "--ca-out", ca_path_});
        }
        std::vector<char *> argv;
        for (auto &a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        int rc = posix_spawn(&pid_, ABLY_LOOPBACK_SERVER, &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(in_pipe[0]);
        close(out_pipe[1]);
        if (rc != 0) {
            std::fprintf(stderr, "posix_spawn %s: %s\n", ABLY_LOOPBACK_SERVER, std::strerror(rc));
            close(in_pipe[1]);
            close(out_pipe[0]);
            pid_ = -1;
            return false;
        }
        stdin_fd_ = in_pipe[1];
        stdout_ = fdopen(out_pipe[0], "r");
        char line[256];
        if (stdout_ == nullptr || std::fgets(line, sizeof line, stdout_) == nullptr ||
            std::strncmp(line, "LISTENING ", 10) != 0) {
            std::fprintf(stderr, "the loopback server did not print LISTENING\n");
            return false;
        }
        line[std::strcspn(line, "\r\n")] = '\0';
        base_url_ = line + 10;
        size_t colon = base_url_.rfind(':');
        port_ = colon == std::string::npos ? 0 : std::atoi(base_url_.c_str() + colon + 1);
        if (tls) {
            std::ifstream in(ca_path_);
            std::stringstream pem;
            pem << in.rdbuf();
            ca_pem_ = pem.str();
            if (ca_pem_.empty()) {
                return false;
            }
        }
        return port_ > 0;
    }

    void stop() {
        if (stdin_fd_ >= 0) {
            close(stdin_fd_);
            stdin_fd_ = -1;
        }
        if (pid_ > 0) {
            int status = 0;
            waitpid(pid_, &status, 0);
            pid_ = -1;
        }
        if (stdout_ != nullptr) {
            std::fclose(stdout_);
            stdout_ = nullptr;
        }
        if (!ca_path_.empty()) {
            unlink(ca_path_.c_str());
            ca_path_.clear();
        }
    }

    bool tls() const { return tls_; }
    int port() const { return port_; }
    const std::string &base_url() const { return base_url_; }
    const std::string &ca_pem() const { return ca_pem_; }

    /// One request to the (plain HTTP) server; the status or -1.
    int http(const std::string &method, const std::string &path, const std::string &body = "",
             std::string *out_body = nullptr) const {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            return -1;
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
            close(fd);
            return -1;
        }
        std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                              "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
        for (size_t sent = 0; sent < request.size();) {
            ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) {
                close(fd);
                return -1;
            }
            sent += static_cast<size_t>(n);
        }
        std::string response;
        size_t need = 0;
        char buf[4096];
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                break;
            }
            response.append(buf, static_cast<size_t>(n));
            size_t end = response.find("\r\n\r\n");
            if (end != std::string::npos && need == 0) {
                size_t cl = response.find("Content-Length:");
                if (cl == std::string::npos) {
                    cl = response.find("content-length:");
                }
                need = end + 4 + (cl != std::string::npos && cl < end ? std::strtoul(response.c_str() + cl + 15, nullptr, 10) : 0);
            }
            if (need != 0 && response.size() >= need) {
                break;
            }
        }
        close(fd);
        int status = -1;
        if (std::sscanf(response.c_str(), "HTTP/1.%*d %d", &status) != 1) {
            return -1;
        }
        size_t end = response.find("\r\n\r\n");
        if (out_body != nullptr && end != std::string::npos) {
            *out_body = response.substr(end + 4);
        }
        return status;
    }

    bool rule(const std::string &json) const { return http("POST", "/_control/rule", json) == 200; }
    bool reset() const { return http("POST", "/_control/reset", "{}") == 200; }

    /// The server's key (name:secret), or "".
    std::string key() const {
        std::string body;
        if (http("GET", "/_control/key", "", &body) != 200) {
            return "";
        }
        return json_string(body, "key").value_or("");
    }
    /// A token minted by the server, or "".
    std::string mint_token(int64_t ttl_ms = 600000) const {
        std::string body;
        if (http("POST", "/_control/mint", "{\"ttl\":" + std::to_string(ttl_ms) + "}", &body) != 200) {
            return "";
        }
        return json_string(body, "token").value_or("");
    }
    int64_t tokens_issued() const {
        std::string body;
        if (http("GET", "/_control/stats", "", &body) != 200) {
            return -1;
        }
        return json_int(body, "tokensIssued").value_or(-1);
    }

private:
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    FILE *stdout_ = nullptr;
    bool tls_ = false;
    int port_ = 0;
    std::string base_url_;
    std::string ca_path_;
    std::string ca_pem_;
};

}  // namespace loopback

#endif  // ABLY_AUTH_TEST_LOOPBACK_HPP
