// The example libcurl transport (examples/cpp/curl_transport.hpp) against the loopback
// Ably-compatible server (issue 13): every request goes through the host transport, also in
// a build without the built-in client (ABLY_AUTH_HTTP_CLIENT=OFF). Token requests over TLS
// with the server's CA given to curl, time(), a refused connection, a deadline the library
// enforces while curl waits (the cancel hook aborts the transfer), and a 5xx answer.
#include <ably/auth.hpp>
#include <ably_auth_conf.h>

#include <gtest/gtest.h>

#include "curl_transport.hpp"
#include "loopback.hpp"

namespace {

loopback::Loopback *plain = nullptr;
loopback::Loopback *tls = nullptr;

class ServerEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        loopback::ignore_sigpipe();
        plain = new loopback::Loopback();
        tls = new loopback::Loopback();
        ASSERT_TRUE(plain->start(false)) << "loopback server " << ABLY_LOOPBACK_SERVER;
        ASSERT_TRUE(tls->start(true)) << "loopback TLS server " << ABLY_LOOPBACK_SERVER;
    }
    void TearDown() override {
        // Reverse order: the TLS server inherited the plain one's stdin pipe, which must
        // close before the plain server sees end-of-file.
        delete tls;
        delete plain;
    }
};

const auto *const environment = ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

/// Options for `lb` with the curl transport; the connect timeout stays the library's default
/// (only the built-in client would honour another one).
ably::Options curl_options(const loopback::Loopback &lb, int64_t request_timeout_ms = 3000) {
    ably::Options options;
    options.set_endpoint("127.0.0.1").set_tls(lb.tls()).set_port(lb.port()).set_tls_port(lb.port());
    options.set_timeouts(4000, request_timeout_ms);
    ably_examples::CurlConfig config;
    config.ca_pem = lb.ca_pem();
    ably_examples::CurlTransport::install(options, config);
    return options;
}

TEST(CurlTransport, RequestsATokenWithBasicAuthOverTls) {
    // Every loopback server has the default key; the TLS one serves no control API to ask.
    ably::Auth auth(curl_options(*tls).set_key(plain->key()));
    auto details = auth.request_token();
    EXPECT_FALSE(details.token().empty());
    auto header = auth.try_authorization_header();
    ASSERT_TRUE(header.ok());
}

TEST(CurlTransport, TimeOverPlainHttp) {
    ably::Auth auth(curl_options(*plain).set_key(plain->key()).set_use_token_auth(true));
    auto time = auth.try_time();
    ASSERT_TRUE(time.ok()) << time.error().message;
    EXPECT_GT(time.value(), 1700000000000);
}

TEST(CurlTransport, ARefusedConnectionIsAConnectionFailure) {
    loopback::Loopback gone;
    ASSERT_TRUE(gone.start(false));
    ably::Options options = curl_options(gone);
    gone.stop();
    ably::Auth auth(std::move(options).set_key("app.key:secret").set_use_token_auth(true));
    auto time = auth.try_time();
    ASSERT_FALSE(time.ok());
    EXPECT_EQ(time.error().code, ABLY_ERR_CONNECTION_FAILED) << time.error().message;
}

TEST(CurlTransport, TheLibraryEnforcesTheDeadline) {
    ASSERT_TRUE(plain->rule(R"({"pathPrefix":"/time","times":1,"action":)"
                            R"({"type":"slowHeaders","delayMs":5000,"then":{"type":"pass"}}})"));
    ably::Auth auth(curl_options(*plain, 300).set_key(plain->key()).set_use_token_auth(true));
    auto time = auth.try_time();
    ASSERT_FALSE(time.ok());
    EXPECT_EQ(time.error().code, ABLY_ERR_TIMEOUT) << time.error().message;
    plain->reset();
}

TEST(CurlTransport, AServerErrorComesBackAsTheServerSaidIt) {
    ASSERT_TRUE(plain->rule(R"({"pathPrefix":"/time","times":1,"action":)"
                            R"({"type":"ablyError","status":503,"code":50300,"message":"busy"}})"));
    ably::Auth auth(curl_options(*plain).set_key(plain->key()).set_use_token_auth(true));
    auto time = auth.try_time();
    ASSERT_FALSE(time.ok());
    EXPECT_EQ(time.error().code, 50300) << time.error().message;
    plain->reset();
}

TEST(CurlTransport, BuiltInOnlyOptionsAreRefused) {
    ably::Options options = curl_options(*plain).set_key(plain->key()).set_use_token_auth(true);
    options.add_resolve("example.com", "127.0.0.1:1");
    auto auth = ably::Auth::try_create(std::move(options));
    ASSERT_FALSE(auth.ok());
    EXPECT_EQ(auth.error().code, ABLY_ERR_BAD_REQUEST);
}

}  // namespace
