// The non-throwing API, compiled with -fno-exceptions: only the try_ calls and
// ably::Result exist; the throwing API is not declared. Offline issuing, error results,
// and an authorize through a sync std::function authCallback against the loopback server.
#include <ably/auth.hpp>

#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

#include "loopback.hpp"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "test_nothrow.cpp must be compiled with -fno-exceptions"
#endif
static_assert(ABLY_AUTH_CPP_EXCEPTIONS == 0, "the binding sees exceptions off");

namespace {

// The throwing API is not declared without exceptions.
template <class T, class = void>
struct has_throwing_create_token_request : std::false_type {};
template <class T>
struct has_throwing_create_token_request<T, std::void_t<decltype(std::declval<const T &>().create_token_request())>>
    : std::true_type {};
template <class T, class = void>
struct has_throwing_to_json : std::false_type {};
template <class T>
struct has_throwing_to_json<T, std::void_t<decltype(std::declval<const T &>().to_json())>> : std::true_type {};
static_assert(!has_throwing_create_token_request<ably::Auth>::value);
static_assert(!has_throwing_to_json<ably::TokenRequest>::value);
static_assert(!std::is_constructible_v<ably::Auth, ably::Options>, "no throwing constructor");

constexpr const char *kKey = "appId.keyId:keySecret";

TEST(Nothrow, OfflineIssuing) {
    auto auth = ably::Auth::try_create(ably::Options().set_key(kKey).set_client_id("nothrow"));
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auto request = auth->try_create_token_request(
        ably::TokenParams().set_timestamp(1234567890000).set_nonce("abcdefghijklmnop"));
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(request->key_name(), "appId.keyId");
    EXPECT_EQ(request->client_id(), std::optional<std::string>("nothrow"));
    auto json = request->try_to_json();
    ASSERT_TRUE(json.ok());
    auto parsed = ably::TokenRequest::try_from_json(*json);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->mac(), request->mac());
    auto jwt = auth->try_create_jwt();
    ASSERT_TRUE(jwt.ok());
    EXPECT_FALSE(jwt->empty());
}

TEST(Nothrow, ErrorsAreResults) {
    auto bad = ably::Auth::try_create(ably::Options().set_key("bad-key"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ABLY_ERR_INVALID_CREDENTIALS);
    EXPECT_FALSE(bad.error().message.empty());

    auto auth = std::move(ably::Auth::try_create(ably::Options().set_key(kKey))).value();
    auto invalid = auth.try_create_token_request(ably::TokenParams().set_capability("{}").set_ttl(1000));
    ASSERT_FALSE(invalid.ok());
    EXPECT_EQ(invalid.error().code, ABLY_ERR_INVALID_ARGUMENT);

    auto details = ably::TokenDetails::try_from_json("{}");
    ASSERT_FALSE(details.ok());
    EXPECT_EQ(details.error().code, ABLY_ERR_INVALID_ARGUMENT);
}

TEST(Nothrow, AuthorizeWithASyncCallback) {
    loopback::Loopback server;
    ASSERT_TRUE(server.start(false));
    std::string key = server.key();
    auto signer = ably::Auth::try_create(ably::Options().set_key(key));
    ASSERT_TRUE(signer.ok());
    auto options = [&] {
        return ably::Options().set_endpoint("127.0.0.1").set_tls(false).set_port(server.port()).set_timeouts(3000, 3000);
    };
    int calls = 0;
    auto auth = ably::Auth::try_create(options().set_auth_callback([&](std::string_view) {
        ++calls;
        auto request = signer->try_create_token_request();
        if (!request) {
            return ably::AuthAnswer::error(request.error());
        }
        auto json = request->try_to_json();
        return json ? ably::AuthAnswer::json(*json) : ably::AuthAnswer::error(json.error());
    }));
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auto details = auth->try_authorize();
    ASSERT_TRUE(details.ok()) << details.error().message;
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(details->token().rfind("lbtk-", 0), 0u);

    auto denied = ably::Auth::try_create(options().set_auth_callback(
        [](std::string_view) { return ably::AuthAnswer::error(0, 401, "no token for you"); }));
    ASSERT_TRUE(denied.ok());
    auto failure = denied->try_authorize();
    ASSERT_FALSE(failure.ok());
    EXPECT_EQ(failure.error().code, ABLY_ERR_AUTH_CALLBACK_FAILED);
    EXPECT_NE(failure.error().to_string().find("no token for you"), std::string::npos);
}

}  // namespace
