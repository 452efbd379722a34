// loopback.hpp: the loopback Ably-compatible server for the C++ tests (header-only, no
// exceptions, so the -fno-exceptions test can use it too). A C++ face on tests/c/loopback.h,
// which does the process spawning and sockets (POSIX and Windows).
//
//   Loopback lb;  lb.start(tls)   spawn ABLY_LOOPBACK_SERVER (--exit-on-stdin-eof, and
//                                 --tls --ca-out FILE), read "LISTENING <url>"
//   lb.stop() / ~Loopback         close its stdin (it exits) and reap it
//   lb.http(method, path, body, &out_body)   one HTTP/1.1 request over a raw socket (plain
//                                 HTTP only); the status, or -1
//   lb.rule(json), lb.reset()     POST /_control/rule, /_control/reset
//
// The server's JSON answers are read with tests/cpp/json_oracle.hpp (cJSON).
#ifndef ABLY_AUTH_TEST_LOOPBACK_HPP
#define ABLY_AUTH_TEST_LOOPBACK_HPP

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "json_oracle.hpp"
#include "loopback.h"  // tests/c: process spawning and sockets, POSIX and Windows

namespace loopback {

/// Ignore SIGPIPE (POSIX; nothing to do on Windows): see loopback_ignore_sigpipe().
inline void ignore_sigpipe() { loopback_ignore_sigpipe(); }

class Loopback {
public:
    Loopback() = default;
    Loopback(const Loopback &) = delete;
    Loopback &operator=(const Loopback &) = delete;
    ~Loopback() { stop(); }

    bool start(bool tls) {
        started_ = true;
        return loopback_start(&lb_, tls);
    }

    void stop() {
        if (started_) {
            loopback_stop(&lb_);
            started_ = false;
        }
    }

    bool tls() const { return lb_.tls; }
    int port() const { return lb_.port; }
    std::string base_url() const { return lb_.base_url; }
    std::string ca_pem() const { return lb_.ca_pem != nullptr ? lb_.ca_pem : ""; }

    /// One request to the (plain HTTP) server; the status or -1.
    int http(const std::string &method, const std::string &path, const std::string &body = "",
             std::string *out_body = nullptr) const {
        char *response = nullptr;
        int status = loopback_http(&lb_, method.c_str(), path.c_str(), body.c_str(),
                                   out_body != nullptr ? &response : nullptr);
        if (out_body != nullptr) {
            *out_body = response != nullptr ? response : "";
        }
        std::free(response);
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
        return json_oracle::string_member(body, "key").value_or("");
    }
    /// A token minted by the server, or "".
    std::string mint_token(int64_t ttl_ms = 600000) const {
        std::string body;
        if (http("POST", "/_control/mint", "{\"ttl\":" + std::to_string(ttl_ms) + "}", &body) != 200) {
            return "";
        }
        return json_oracle::string_member(body, "token").value_or("");
    }
    int64_t tokens_issued() const {
        std::string body;
        if (http("GET", "/_control/stats", "", &body) != 200) {
            return -1;
        }
        return json_oracle::int_member(body, "tokensIssued").value_or(-1);
    }

private:
    loopback_server lb_{};
    bool started_ = false;
};

}  // namespace loopback

#endif  // ABLY_AUTH_TEST_LOOPBACK_HPP
