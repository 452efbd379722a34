// Offline issuing through the C++ binding: TokenRequest fields and macs (the published
// vectors of tests/c/test_token_request.c), JWTs, TokenDetails, builders (consumed, first
// error kept, chaining on temporaries), error mapping to ably::Error / ably::Result, and the
// move-only RAII handles.
#include <ably/auth.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <type_traits>

#include "test_support.hpp"

namespace {

constexpr const char *kKey = "appId.keyId:keySecret";
constexpr const char *kKeyName = "appId.keyId";
constexpr int64_t kTimestamp = 1234567890000;
constexpr const char *kNonce = "abcdefghijklmnop";
constexpr const char *kCapability = R"({"channel2":["subscribe"],"channel1":["subscribe","publish"]})";
constexpr const char *kCapabilityCanonical = R"({"channel1":["publish","subscribe"],"channel2":["subscribe"]})";
constexpr const char *kMacMinimal = "foz/hUYxHedNgRFel0jQFxXq5fHsrIU9ZUZiqONgXow=";
constexpr const char *kMacFull = "YyyQoBgJPiNWX5hgG6lCGuEfKybZMePUYxdV5mnCawY=";

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

ably::Auth key_auth() { return ably::Auth(ably::Options().set_key(kKey)); }

// The handles are move-only.
static_assert(!std::is_copy_constructible_v<ably::Auth> && std::is_nothrow_move_constructible_v<ably::Auth>);
static_assert(!std::is_copy_constructible_v<ably::Options> && std::is_move_constructible_v<ably::Options>);
static_assert(!std::is_copy_constructible_v<ably::TokenParams>);
static_assert(!std::is_copy_constructible_v<ably::TokenRequest>);
static_assert(!std::is_copy_constructible_v<ably::TokenDetails>);
static_assert(!std::is_copy_constructible_v<ably::HttpResponse>);
static_assert(!std::is_copy_constructible_v<ably::RevocationResult>);
static_assert(!std::is_copy_constructible_v<ably::Completion> && std::is_nothrow_move_constructible_v<ably::Completion>);
static_assert(std::is_base_of_v<std::runtime_error, ably::Error>);
static_assert(std::is_copy_constructible_v<ably::ErrorInfo>);

TEST(Version, MatchesTheHeaderMacros) {
    std::string expected = std::to_string(ABLY_AUTH_VERSION_MAJOR) + "." + std::to_string(ABLY_AUTH_VERSION_MINOR) +
                           "." + std::to_string(ABLY_AUTH_VERSION_PATCH);
    EXPECT_EQ(ably::version(), expected);
}

TEST(TokenRequest, MinimalVectorMac) {
    auto auth = key_auth();
    auto request = auth.create_token_request(ably::TokenParams().set_timestamp(kTimestamp).set_nonce(kNonce));
    EXPECT_EQ(request.key_name(), kKeyName);
    EXPECT_EQ(request.timestamp(), kTimestamp);
    EXPECT_EQ(request.nonce(), kNonce);
    EXPECT_EQ(request.ttl(), 0);
    EXPECT_FALSE(request.capability().has_value());
    EXPECT_FALSE(request.client_id().has_value());
    EXPECT_EQ(request.mac(), std::optional<std::string>(kMacMinimal));
}

TEST(TokenRequest, FullVectorMacAndCanonicalCapability) {
    auto auth = key_auth();
    ably::TokenParams params;  // an lvalue builder, chained, then moved in
    params.set_timestamp(kTimestamp).set_nonce(kNonce).set_ttl(3600000).set_capability(kCapability);
    params.set_client_id("client-1");
    auto request = auth.create_token_request(std::move(params));
    EXPECT_EQ(params.get(), nullptr) << "the builder was consumed";
    EXPECT_EQ(request.ttl(), 3600000);
    EXPECT_EQ(request.capability(), std::optional<std::string>(kCapabilityCanonical));
    EXPECT_EQ(request.client_id(), std::optional<std::string>("client-1"));
    EXPECT_EQ(request.mac(), std::optional<std::string>(kMacFull));
}

TEST(TokenRequest, DefaultsAndJsonRoundTrip) {
    auto auth = ably::Auth(ably::Options().set_key(kKey).set_client_id("options-client").set_default_token_params(
        ably::TokenParams().set_ttl(60000)));
    int64_t before = now_ms();
    auto request = auth.create_token_request();
    EXPECT_EQ(request.nonce().size(), 22u);
    EXPECT_GE(request.timestamp(), before - 1000);
    EXPECT_LE(request.timestamp(), now_ms() + 1000);
    EXPECT_EQ(request.ttl(), 60000) << "the default token params apply";
    EXPECT_EQ(request.client_id(), std::optional<std::string>("options-client"));
    ASSERT_TRUE(request.mac().has_value());

    std::string json = request.to_json();
    auto parsed = ably::TokenRequest::from_json(json);
    EXPECT_EQ(parsed.key_name(), request.key_name());
    EXPECT_EQ(parsed.nonce(), request.nonce());
    EXPECT_EQ(parsed.mac(), request.mac());
    EXPECT_EQ(parsed.to_json(), json);

    auto again = auth.create_token_request();
    EXPECT_NE(again.nonce(), request.nonce()) << "a fresh nonce per request";
}

TEST(Jwt, HeaderAndClaims) {
    auto auth = key_auth();
    std::string jwt = auth.create_jwt(ably::TokenParams().set_client_id("jwt-client").set_ttl(120000));
    size_t dot1 = jwt.find('.');
    size_t dot2 = jwt.find('.', dot1 + 1);
    ASSERT_NE(dot1, std::string::npos);
    ASSERT_NE(dot2, std::string::npos);
    EXPECT_EQ(jwt.find('.', dot2 + 1), std::string::npos) << "three parts";
    std::string header = test_support::base64url_decode(jwt.substr(0, dot1));
    std::string claims = test_support::base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
    EXPECT_NE(header.find(R"("kid":"appId.keyId")"), std::string::npos) << header;
    EXPECT_NE(header.find(R"("alg":"HS256")"), std::string::npos) << header;
    EXPECT_NE(claims.find(R"("x-ably-clientId":"jwt-client")"), std::string::npos) << claims;
    auto iat = test_support::json_int(claims, "iat");
    auto exp = test_support::json_int(claims, "exp");
    ASSERT_TRUE(iat && exp) << claims;
    EXPECT_EQ(*exp - *iat, 120);
}

/// The JWT's decoded header and claims.
static std::pair<std::string, std::string> jwt_json(const std::string &jwt) {
    size_t dot1 = jwt.find('.');
    size_t dot2 = jwt.find('.', dot1 + 1);
    EXPECT_NE(dot2, std::string::npos) << jwt;
    return {test_support::base64url_decode(jwt.substr(0, dot1)),
            test_support::base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1))};
}

TEST(Jwt, RevocationKeyClaim) {
    auto auth = key_auth();
    auto [header, claims] = jwt_json(auth.create_jwt(ably::TokenParams().set_revocation_key("group-7")));
    EXPECT_NE(claims.find(R"("x-ably-revocation-key":"group-7")"), std::string::npos) << claims;
    // A TokenRequest cannot carry it: refused, not dropped.
    EXPECT_EQ(test_support::code_of(
                  [&] { (void)auth.create_token_request(ably::TokenParams().set_revocation_key("group-7")); }),
              ABLY_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(test_support::code_of([&] { (void)auth.create_jwt(ably::TokenParams().set_revocation_key("")); }),
              ABLY_ERR_INVALID_ARGUMENT);
}

TEST(Jwt, TokenEmbeddedInAnAppJwt) {
    std::string jwt = ably::embed_token_in_jwt("appId.tok-en_1", 1700000003999, "app-secret");
    auto [header, claims] = jwt_json(jwt);
    EXPECT_NE(header.find(R"("x-ably-token":"appId.tok-en_1")"), std::string::npos) << header;
    EXPECT_EQ(header.find("kid"), std::string::npos) << header;
    EXPECT_EQ(test_support::json_int(claims, "exp"), std::optional<int64_t>(1700000003)) << claims;
    auto empty_secret = ably::try_embed_token_in_jwt("tok", 5000, "");
    ASSERT_FALSE(empty_secret.ok());
    EXPECT_EQ(empty_secret.error().code, ABLY_ERR_INVALID_ARGUMENT);
    auto nul = ably::try_embed_token_in_jwt(std::string("a\0b", 3), 5000, "s");
    ASSERT_FALSE(nul.ok());
    EXPECT_EQ(nul.error().code, ABLY_ERR_INVALID_ARGUMENT);
}

TEST(TokenDetails, FromJsonGettersAndOptions) {
    auto details = ably::TokenDetails::from_json(
        R"({"token":"tok-1","expires":"2000","issued":1000,"capability":"{\"*\":[\"*\"]}","clientId":"dora","keyName":"x"})");
    EXPECT_EQ(details.token(), "tok-1");
    EXPECT_EQ(details.expires(), 2000);
    EXPECT_EQ(details.issued(), 1000);
    EXPECT_EQ(details.client_id(), std::optional<std::string>("dora"));
    EXPECT_TRUE(details.is_expired(2500));
    EXPECT_FALSE(details.is_expired(1500));
    EXPECT_TRUE(details.is_expired(1500, 600)) << "the margin counts";

    auto copy = ably::TokenDetails::copy_of(details);
    EXPECT_NE(copy.get(), details.get());
    EXPECT_EQ(copy.to_json(), details.to_json());

    // set_token_details copies: `details` stays ours.
    ably::Auth auth(ably::Options().set_token_details(details));
    auto current = auth.token_details();
    ASSERT_TRUE(current.has_value());
    EXPECT_EQ(current->token(), "tok-1");
    EXPECT_EQ(auth.client_id(), std::optional<std::string>("dora"));
    EXPECT_EQ(details.token(), "tok-1");

    ably::Auth no_client(ably::Options().set_key(kKey));
    EXPECT_FALSE(no_client.client_id().has_value());
    EXPECT_FALSE(no_client.token_details().has_value());
}

TEST(Errors, MalformedKeyThrowsErrorWithFields) {
    try {
        ably::Auth auth(ably::Options().set_key("not-a-key"));
        FAIL() << "expected ably::Error";
    } catch (const ably::Error &e) {
        EXPECT_EQ(e.code(), ABLY_ERR_INVALID_CREDENTIALS);
        EXPECT_EQ(e.info().code, ABLY_ERR_INVALID_CREDENTIALS);
        EXPECT_EQ(e.status_code(), e.info().status_code);
        EXPECT_FALSE(e.info().message.empty());
        EXPECT_NE(std::string(e.what()).find("40101"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("not-a-key"), std::string::npos) << "the key is never quoted";
    }
    // Caught as a std::runtime_error too.
    EXPECT_THROW(ably::Auth(ably::Options().set_key("")), std::runtime_error);
}

TEST(Errors, NoCredentialsAndInvalidArguments) {
    EXPECT_EQ(test_support::code_of([] { ably::Auth auth{ably::Options()}; }), ABLY_ERR_NO_AUTH_METHOD);
    auto auth = key_auth();
    EXPECT_EQ(test_support::code_of([&] { (void)auth.create_token_request(ably::TokenParams().set_ttl(-5)); }),
              ABLY_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(test_support::code_of([&] {
                  (void)auth.create_token_request(ably::TokenParams().set_capability(R"({"x":["Fly"]})"));
              }),
              ABLY_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(test_support::code_of([&] { (void)auth.create_token_request(ably::TokenParams().set_client_id("")); }),
              ABLY_ERR_INVALID_CLIENT_ID);
    EXPECT_EQ(test_support::code_of([] { (void)ably::TokenDetails::from_json("{not json"); }),
              ABLY_ERR_INVALID_ARGUMENT);
    // A NUL byte inside a string_view is refused, not truncated.
    EXPECT_EQ(test_support::code_of(
                  [&] { (void)auth.create_token_request(ably::TokenParams().set_client_id(std::string("a\0b", 3))); }),
              ABLY_ERR_INVALID_ARGUMENT);
    // Offline calls that need a key.
    ably::Auth token_only(ably::Options().set_token("some-token"));
    EXPECT_EQ(test_support::code_of([&] { (void)token_only.create_token_request(); }), ABLY_ERR_INVALID_CREDENTIALS);
}

// RSA9g: a key in per-call auth options signs, also for an Auth that has none; anything
// but auth options is refused with 40003.
TEST(TokenRequest, PerCallAuthOptionsSignWithTheirKey) {
    ably::Auth token_only(ably::Options().set_token("some-token"));
    auto request = token_only.create_token_request(ably::TokenParams().set_timestamp(kTimestamp).set_nonce(kNonce),
                                                   ably::Options().set_key(kKey));
    EXPECT_EQ(request.key_name(), kKeyName);
    EXPECT_EQ(request.mac(), std::optional<std::string>(kMacMinimal));
    auto defaults = key_auth().create_token_request(std::nullopt, ably::Options().set_key("other.key:otherSecret"));
    EXPECT_EQ(defaults.key_name(), "other.key");
    auto refused = key_auth().try_create_token_request(std::nullopt, ably::Options().set_key(kKey).set_port(8080));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ABLY_ERR_INVALID_ARGUMENT);
    EXPECT_NE(refused.error().message.find("endpoint/hosts/port/tls"), std::string::npos) << refused.error().message;
}

TEST(Builders, FirstErrorIsKeptAndReportedByTheConsumingCall) {
    ably::TokenParams params;
    params.set_capability("{bad json").set_ttl(-1).set_client_id("ok");
    ASSERT_NE(params.error(), nullptr);
    EXPECT_EQ(params.error()->code, ABLY_ERR_INVALID_ARGUMENT);
    std::string first = params.error()->message;
    EXPECT_NE(first.find("capability"), std::string::npos) << first;
    auto auth = key_auth();
    auto result = auth.try_create_token_request(std::move(params));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().message, first);
    EXPECT_EQ(params.get(), nullptr) << "consumed, also on error";

    // The params' error becomes the options' error.
    ably::Options options;
    options.set_key(kKey).set_default_token_params(ably::TokenParams().set_ttl(0));
    ASSERT_NE(options.error(), nullptr);
    EXPECT_EQ(ably::Auth::try_create(std::move(options)).error().code, ABLY_ERR_INVALID_ARGUMENT);
}

TEST(Builders, EmptyAndConsumedHandlesGive40003) {
    ably::Options options;
    options.set_key(kKey);
    ably::Auth first(std::move(options));
    EXPECT_EQ(options.get(), nullptr);
    auto again = ably::Auth::try_create(std::move(options));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ABLY_ERR_INVALID_ARGUMENT);

    ably::Auth moved = std::move(first);
    EXPECT_FALSE(first);
    EXPECT_TRUE(moved);
    EXPECT_EQ(test_support::code_of([&] { (void)first.create_token_request(); }), ABLY_ERR_INVALID_ARGUMENT);
    EXPECT_NO_THROW((void)moved.create_token_request());

    ably::TokenRequest empty;
    EXPECT_EQ(empty.ttl(), 0);
    EXPECT_EQ(empty.key_name(), "");
    EXPECT_EQ(test_support::code_of([&] { (void)empty.to_json(); }), ABLY_ERR_INVALID_ARGUMENT);
}

TEST(Result, ValueThrowsAndValueOr) {
    auto bad = ably::TokenRequest::try_from_json("[]");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ABLY_ERR_INVALID_ARGUMENT);
    EXPECT_THROW((void)bad.value(), ably::Error);
    ably::Result<int64_t> number(ably::ErrorInfo(40000, 400, "nope"));
    EXPECT_EQ(std::move(number).value_or(7), 7);
    ably::Result<void> fine;
    EXPECT_TRUE(fine.ok());
    EXPECT_NO_THROW(fine.value());
    ably::Result<void> failed(ably::ErrorInfo(40000, 400, "nope"));
    EXPECT_THROW(failed.value(), ably::Error);
}

TEST(ErrorInfo, CopiesTheCauseChain) {
    ably_error_info inner{40104, 401, "timestamp not current", nullptr, nullptr};
    ably_error_info outer{40170, 401, "authCallback failed", "https://help.ably.io/error/40170", &inner};
    auto info = ably::ErrorInfo::copy_of(&outer);
    EXPECT_EQ(info.code, 40170);
    EXPECT_EQ(info.href, std::optional<std::string>("https://help.ably.io/error/40170"));
    ASSERT_TRUE(info.cause);
    EXPECT_EQ(info.cause->code, 40104);
    EXPECT_EQ(info.cause->message, "timestamp not current");
    EXPECT_FALSE(info.cause->href.has_value());
    EXPECT_FALSE(info.cause->cause);
    EXPECT_NE(info.to_string().find("caused by timestamp not current"), std::string::npos) << info.to_string();
    ably::Error error(info);
    ably::Error copy = error;  // exceptions copy without losing the chain
    EXPECT_EQ(copy.info().cause->code, 40104);
}

TEST(Nothrow, TryApiMirrorsTheThrowingOne) {
    auto auth = ably::Auth::try_create(ably::Options().set_key(kKey));
    ASSERT_TRUE(auth.ok());
    auto request = auth->try_create_token_request(ably::TokenParams().set_timestamp(kTimestamp).set_nonce(kNonce));
    ASSERT_TRUE(request.ok()) << request.error().message;
    EXPECT_EQ(request->mac(), std::optional<std::string>(kMacMinimal));
    auto jwt = auth->try_create_jwt();
    ASSERT_TRUE(jwt.ok());
    EXPECT_EQ(std::count(jwt->begin(), jwt->end(), '.'), 2);
    auto bad = ably::Auth::try_create(ably::Options().set_key("bad"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ABLY_ERR_INVALID_CREDENTIALS);
}

}  // namespace
