// server_fixture.hpp: what the networked C++ tests share (one translation unit per test
// program includes it): the loopback server spawned once per process as a GoogleTest
// environment, Options pointing at it, and Probe, which counts destructions.
#ifndef ABLY_AUTH_TEST_SERVER_FIXTURE_HPP
#define ABLY_AUTH_TEST_SERVER_FIXTURE_HPP

#include <ably/auth.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "loopback.hpp"

namespace fixture {

inline loopback::Loopback *server = nullptr;  // plain HTTP, with the control API
inline std::string key;                       // the server's key, name:secret

class ServerEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        loopback::ignore_sigpipe();
        server = new loopback::Loopback();
        ASSERT_TRUE(server->start(false)) << "loopback server " << ABLY_LOOPBACK_SERVER;
        key = server->key();
        ASSERT_NE(key.find(':'), std::string::npos) << "the server's key";
    }
    void TearDown() override {
        delete server;
        server = nullptr;
    }
};

inline const auto *const environment = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

/// Options pointing at `lb`: endpoint 127.0.0.1, its port and scheme, its CA, short timeouts.
inline ably::Options options_for(const loopback::Loopback &lb, int64_t request_timeout_ms = 3000) {
    ably::Options options;
    options.set_endpoint("127.0.0.1").set_tls(lb.tls()).set_port(lb.port()).set_tls_port(lb.port());
    options.set_timeouts(3000, request_timeout_ms);
    if (!lb.ca_pem().empty()) {
        options.add_ca_pem(lb.ca_pem());
    }
    return options;
}

/// An Auth with the server's key using token auth (plain HTTP allows no Basic auth).
inline ably::Auth key_token_auth() {
    return ably::Auth(options_for(*server).set_key(key).set_use_token_auth(true));
}

/// Counts how many times the objects it is shared into are destroyed: a std::function that
/// captures `Probe::make(counter)` increments `counter` exactly when its last copy goes.
struct Probe {
    std::atomic<int> *destroyed;
    explicit Probe(std::atomic<int> *d) : destroyed(d) {}
    ~Probe() { ++*destroyed; }
    static std::shared_ptr<Probe> make(std::atomic<int> &counter) { return std::make_shared<Probe>(&counter); }
};

}  // namespace fixture

#endif  // ABLY_AUTH_TEST_SERVER_FIXTURE_HPP
