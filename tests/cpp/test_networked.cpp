// The networked flows through the C++ binding, against the loopback Ably-compatible server
// (spawned once per process; see loopback.hpp): requestToken, authorize through std::function
// authCallbacks (sync; async completed from a std::thread; throwing; dropping the
// Completion), the Authorization header, ably::Auth::request with renewal after an injected
// 40142, revokeTokens over TLS, listeners and the log sink (user data freed exactly once),
// error mapping of server errors, and the try_ variants.
#include <ably/auth.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server_fixture.hpp"
#include "test_support.hpp"

namespace {

using fixture::key;
using fixture::key_token_auth;
using fixture::options_for;
using fixture::Probe;
using fixture::server;

TEST(RequestToken, WithTheKey) {
    auto auth = key_token_auth();
    auto details = auth.request_token();
    EXPECT_EQ(details.token().rfind("lbtk-", 0), 0u) << details.token();
    EXPECT_GT(details.expires(), details.issued());

    auto carol = auth.request_token(ably::TokenParams().set_client_id("carol").set_ttl(120000));
    EXPECT_EQ(carol.client_id(), std::optional<std::string>("carol"));
    EXPECT_EQ(carol.expires() - carol.issued(), 120000);
    EXPECT_FALSE(auth.token_details().has_value()) << "request_token stores nothing";

    // Per-call options: a broken key only for this call.
    auto bad = auth.try_request_token(std::nullopt, ably::Options().set_key("bad"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ABLY_ERR_INVALID_CREDENTIALS);
}

TEST(AuthCallback, SyncStdFunction) {
    ably::Auth signer = key_token_auth();
    std::atomic<int> calls{0}, destroyed{0};
    std::string seen_params;
    {
        auto probe = Probe::make(destroyed);
        ably::Auth auth(options_for(*server).set_auth_callback(
            [&signer, &calls, &seen_params, probe](std::string_view params_json) {
                ++calls;
                seen_params = std::string(params_json);
                return ably::AuthAnswer::json(signer.create_token_request().to_json());
            }));
        probe.reset();
        auto details = auth.authorize(ably::TokenParams().set_client_id("sync-client"));
        EXPECT_EQ(calls.load(), 1);
        EXPECT_NE(seen_params.find("sync-client"), std::string::npos) << seen_params;
        EXPECT_EQ(details.token().rfind("lbtk-", 0), 0u);
        auto current = auth.token_details();
        ASSERT_TRUE(current.has_value());
        EXPECT_EQ(current->token(), details.token());
        // The cached token serves the header without another call.
        (void)auth.authorization_header();
        EXPECT_EQ(calls.load(), 1);
        EXPECT_EQ(destroyed.load(), 0);
    }
    EXPECT_EQ(destroyed.load(), 1) << "the callback box is freed exactly once, with the Auth";
}

TEST(AuthCallback, AsyncCompletedFromAThread) {
    std::mutex lock;
    std::vector<std::thread> threads;
    std::string minted = server->mint_token();
    ASSERT_FALSE(minted.empty());
    std::atomic<bool> answered_ok{false};
    {
        ably::Auth auth(options_for(*server).set_async_auth_callback(
            [&](std::string_view, ably::Completion completion) {
                std::lock_guard<std::mutex> guard(lock);
                threads.emplace_back([&, c = std::move(completion)]() mutable {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    answered_ok = c.try_token(minted).ok();
                    EXPECT_FALSE(c.pending());
                });
            }));
        auto details = auth.authorize();
        EXPECT_EQ(details.token(), minted);
        EXPECT_EQ(auth.authorization_header().rfind("Bearer ", 0), 0u);
    }
    for (auto &t : threads) {
        t.join();
    }
    EXPECT_TRUE(answered_ok.load());
    EXPECT_EQ(threads.size(), 1u);
}

TEST(AuthCallback, ThrowingCallbackGives40170WithWhat) {
    ably::Auth auth(options_for(*server).set_auth_callback(
        [](std::string_view) -> ably::AuthAnswer { throw std::runtime_error("my server is down"); }));
    try {
        (void)auth.authorize();
        FAIL() << "expected ably::Error";
    } catch (const ably::Error &e) {
        EXPECT_EQ(e.code(), ABLY_ERR_AUTH_CALLBACK_FAILED);
        EXPECT_NE(std::string(e.what()).find("my server is down"), std::string::npos) << e.what();
    }

    // A 120 s request timeout: the error carries the exception's text, so the throw answered
    // it; ending in under half the timeout is a hang guard, not a speed target.
    ably::Auth async(options_for(*server, 120000).set_async_auth_callback([](std::string_view, ably::Completion) {
        throw std::logic_error("async host failed");
    }));
    auto start = std::chrono::steady_clock::now();
    auto result = async.try_authorize();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ABLY_ERR_AUTH_CALLBACK_FAILED);
    EXPECT_NE(result.error().to_string().find("async host failed"), std::string::npos) << result.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60))
        << "hang guard: answered by the throw, not at the 120 s request timeout";

    // A non-std exception is caught too.
    ably::Auth odd(options_for(*server).set_auth_callback([](std::string_view) -> ably::AuthAnswer { throw 42; }));
    EXPECT_EQ(odd.try_authorize().error().code, ABLY_ERR_AUTH_CALLBACK_FAILED);
}

TEST(AuthCallback, AnswerThenThrowKeepsTheAnswer) {
    std::string minted = server->mint_token();
    ably::Auth auth(options_for(*server).set_async_auth_callback([&](std::string_view, ably::Completion c) {
        c.token(minted);
        throw std::runtime_error("after answering");
    }));
    EXPECT_EQ(auth.authorize().token(), minted);
}

TEST(AuthCallback, DroppedCompletionAndErrorAnswers) {
    // A 120 s request timeout: the error says the Completion was destroyed, so the drop
    // answered it; ending in under half the timeout is a hang guard, not a speed target.
    ably::Auth dropped(options_for(*server, 120000).set_async_auth_callback([](std::string_view, ably::Completion) {}));
    auto start = std::chrono::steady_clock::now();
    auto result = dropped.try_authorize();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ABLY_ERR_AUTH_CALLBACK_FAILED);
    EXPECT_NE(result.error().to_string().find("destroyed without an answer"), std::string::npos)
        << result.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60))
        << "hang guard: answered by the drop, not at the 120 s request timeout";

    ably::Auth denied(options_for(*server).set_auth_callback(
        [](std::string_view) { return ably::AuthAnswer::error(40300, 403, "denied by the host"); }));
    auto denial = denied.try_authorize();
    ASSERT_FALSE(denial.ok());
    EXPECT_NE(denial.error().to_string().find("denied by the host"), std::string::npos);

    // Answering twice: the second answer is refused with 40003.
    ably::Result<void> second;
    std::string minted = server->mint_token();
    ably::Auth twice(options_for(*server).set_async_auth_callback([&](std::string_view, ably::Completion c) {
        ably::Completion moved = std::move(c);
        EXPECT_FALSE(c.pending());
        EXPECT_EQ(c.try_token("x").error().code, ABLY_ERR_INVALID_ARGUMENT) << "a moved-from Completion";
        EXPECT_TRUE(moved.try_token(minted).ok());
        second = moved.try_token(minted);
    }));
    EXPECT_EQ(twice.authorize().token(), minted);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ABLY_ERR_INVALID_ARGUMENT);
}

TEST(AuthorizationHeader, BearerOfTheTokenInUse) {
    auto auth = key_token_auth();
    std::string header = auth.authorization_header();
    ASSERT_EQ(header.rfind("Bearer ", 0), 0u) << header;
    auto current = auth.token_details();
    ASSERT_TRUE(current.has_value());
    EXPECT_EQ(test_support::base64url_decode(header.substr(7)), current->token());

    auto basic = ably::Auth::try_create(options_for(*server).set_key(key));
    ASSERT_FALSE(basic.ok());
    EXPECT_EQ(basic.error().code, ABLY_ERR_INSECURE_BASIC_AUTH) << "Basic auth over plain HTTP";
}

TEST(Request, RenewsOnceAfterAnInjected40142) {
    auto auth = key_token_auth();
    ASSERT_TRUE(server->reset());
    auto response = auth.request("GET", "/channels/x", "a=b&c=d%20e");
    EXPECT_EQ(response.status(), 200);
    EXPECT_NE(response.body().find("channelId"), std::string_view::npos);
    auto type = response.header("content-type");
    ASSERT_TRUE(type.has_value());
    EXPECT_NE(type->find("application/json"), std::string::npos);
    EXPECT_FALSE(response.header("X-None").has_value());

    auto before = auth.token_details();
    int64_t issued = server->tokens_issued();
    ASSERT_TRUE(server->rule(R"({"pathPrefix":"/channels/x","times":1,"action":)"
                             R"({"type":"ablyError","status":401,"code":40142,"message":"Token expired"}})"));
    EXPECT_EQ(auth.request("GET", "/channels/x").status(), 200);
    auto after = auth.token_details();
    ASSERT_TRUE(before && after);
    EXPECT_NE(before->token(), after->token());
    EXPECT_EQ(server->tokens_issued(), issued + 1);

    auto posted = auth.request("post", "/channels/x/messages", std::nullopt,
                               {{"Content-Type", "application/json"}, {"X-Extra", "1"}},
                               R"({"name":"n","data":"d"})");
    EXPECT_EQ(posted.status(), 201);

    // An error answer is a response: its status, headers and body reach the caller, and
    // error() parses Ably's ErrorInfo from it.
    ASSERT_TRUE(server->rule(R"({"pathPrefix":"/channels/busy","times":1,"action":{"type":"respond","status":429,)"
                             R"("headers":[["Content-Type","application/json"],["Retry-After","7"]],)"
                             R"("body":"{\"error\":{\"code\":42910,\"statusCode\":429,\"message\":\"Slow down\"}}"}})"));
    auto busy = auth.request("GET", "/channels/busy");
    EXPECT_EQ(busy.status(), 429);
    EXPECT_EQ(busy.header("Retry-After"), std::optional<std::string>("7"));
    EXPECT_NE(busy.body().find("Slow down"), std::string_view::npos);
    auto busy_error = busy.error();
    ASSERT_TRUE(busy_error.has_value());
    EXPECT_EQ(busy_error->code, 42910);
    EXPECT_EQ(busy_error->status_code, 429);
    EXPECT_FALSE(posted.error().has_value());

    // token_rejected drops the cached token: the next header fetches a new one.
    issued = server->tokens_issued();
    auth.token_rejected();
    (void)auth.authorization_header();
    EXPECT_EQ(server->tokens_issued(), issued + 1);

    EXPECT_GT(auth.time(), int64_t{1700000000000});
}

TEST(RevokeTokens, OverTls) {
    loopback::Loopback tls;
    ASSERT_TRUE(tls.start(true));
    ably::Auth auth(options_for(tls).set_key(key));
    ably::RevokeOptions revoke;
    revoke.allow_reauth_margin = true;
    auto result = auth.revoke_tokens({"clientId:alice", "bogus:x"}, revoke);
    EXPECT_EQ(result.size(), 2u);
    EXPECT_EQ(result.success_count(), 1u);
    EXPECT_EQ(result.failure_count(), 1u);
    auto entries = result.entries();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].target, "clientId:alice");
    EXPECT_TRUE(entries[0].success);
    EXPECT_GT(entries[0].applies_at, entries[0].issued_before);
    EXPECT_FALSE(entries[0].error.has_value());
    EXPECT_FALSE(entries[1].success);
    ASSERT_TRUE(entries[1].error.has_value());
    EXPECT_EQ(entries[1].error->code, 40000);
    EXPECT_EQ(test_support::json_int(result.to_json(), "successCount"), std::optional<int64_t>(1));

    // Without the CA: a connection error. With token auth: 40162.
    ably::Auth untrusted(ably::Options().set_endpoint("127.0.0.1").set_tls_port(tls.port()).set_timeouts(2000, 2000).set_key(key));
    EXPECT_EQ(untrusted.try_revoke_tokens({"clientId:alice"}).error().code, ABLY_ERR_CONNECTION_FAILED);
    auto token_auth = key_token_auth();
    EXPECT_EQ(token_auth.try_revoke_tokens({"clientId:alice"}).error().code, ABLY_ERR_REQUIRES_BASIC_AUTH);
}

TEST(Listeners, HearTokensAndFailuresAndAreFreedOnce) {
    std::atomic<int> destroyed{0}, kept_destroyed{0};
    std::atomic<int> changes{0}, kept_changes{0};
    std::string last_token;
    {
        auto auth = key_token_auth();
        auto probe = Probe::make(destroyed);
        auto id = auth.add_listener([&, probe](const ably::TokenDetailsView *details, const ably::ErrorInfo *error) {
            if (details != nullptr && error == nullptr) {
                ++changes;
                last_token = details->token();
            }
        });
        probe.reset();
        auto kept_probe = Probe::make(kept_destroyed);
        auth.add_listener([&, kept_probe](const ably::TokenDetailsView *details, const ably::ErrorInfo *) {
            if (details != nullptr) {
                ++kept_changes;
            }
        });
        kept_probe.reset();
        // A listener that throws is swallowed: the call still succeeds.
        auth.add_listener([](const ably::TokenDetailsView *, const ably::ErrorInfo *) {
            throw std::runtime_error("listener bug");
        });
        auto details = auth.authorize();
        EXPECT_EQ(changes.load(), 1);
        EXPECT_EQ(last_token, details.token());
        auth.remove_listener(id);
        EXPECT_EQ(destroyed.load(), 1) << "removal frees the listener";
        EXPECT_EQ(test_support::code_of([&] { auth.remove_listener(id); }), ABLY_ERR_INVALID_ARGUMENT);
        (void)auth.authorize();
        EXPECT_EQ(changes.load(), 1) << "a removed listener hears nothing more";
        EXPECT_EQ(kept_changes.load(), 2);
        EXPECT_EQ(kept_destroyed.load(), 0);
    }
    EXPECT_EQ(destroyed.load(), 1);
    EXPECT_EQ(kept_destroyed.load(), 1) << "freeing the Auth frees the remaining listener once";

    // A failure reaches listeners as an ErrorInfo.
    ably::Auth failing(options_for(*server).set_auth_callback(
        [](std::string_view) { return ably::AuthAnswer::error(0, 401, "denied by the host"); }));
    std::atomic<int> failures{0};
    int32_t last_code = 0;
    failing.add_listener([&](const ably::TokenDetailsView *details, const ably::ErrorInfo *error) {
        if (details == nullptr && error != nullptr) {
            ++failures;
            last_code = error->code;
        }
    });
    EXPECT_EQ(failing.try_authorize().error().code, ABLY_ERR_AUTH_CALLBACK_FAILED);
    EXPECT_EQ(failures.load(), 1);
    EXPECT_EQ(last_code, ABLY_ERR_AUTH_CALLBACK_FAILED);
}

TEST(Listeners, FailedRegistrationsStillFreeTheUserData) {
    std::atomic<int> destroyed{0};
    ably::Auth empty;
    {
        auto probe = Probe::make(destroyed);
        auto result = empty.try_add_listener([probe](const ably::TokenDetailsView *, const ably::ErrorInfo *) {});
        probe.reset();
        ASSERT_FALSE(result.ok());
        EXPECT_EQ(result.error().code, ABLY_ERR_INVALID_ARGUMENT);
    }
    EXPECT_EQ(destroyed.load(), 1) << "add_listener on an empty Auth";

    // A callback set on consumed options: the library frees it at once.
    std::atomic<int> cb_destroyed{0};
    ably::Options options = options_for(*server).set_key(key).set_use_token_auth(true);
    ably::Auth auth(std::move(options));
    {
        auto probe = Probe::make(cb_destroyed);
        options.set_auth_callback([probe](std::string_view) { return ably::AuthAnswer::token("t"); });
        probe.reset();
    }
    EXPECT_EQ(cb_destroyed.load(), 1);
    ASSERT_NE(options.error(), nullptr);
    EXPECT_EQ(options.error()->code, ABLY_ERR_INVALID_ARGUMENT);

    // Unused options free their callbacks when destroyed; a replaced callback is freed too.
    std::atomic<int> unused_destroyed{0};
    {
        ably::Options unused;
        auto probe = Probe::make(unused_destroyed);
        unused.set_auth_callback([probe](std::string_view) { return ably::AuthAnswer::token("t"); });
        unused.set_log(ably::LogLevel::Info, [probe](ably::LogLevel, std::string_view) {});
        probe.reset();
        unused.set_auth_callback([](std::string_view) { return ably::AuthAnswer::token("u"); });
        EXPECT_EQ(unused_destroyed.load(), 0) << "the log sink still holds the probe";
    }
    EXPECT_EQ(unused_destroyed.load(), 1);
}

TEST(Log, SinkGetsLinesWithoutSecrets) {
    std::mutex lock;
    std::vector<std::pair<ably::LogLevel, std::string>> lines;
    std::atomic<int> destroyed{0};
    std::string token;
    {
        auto probe = Probe::make(destroyed);
        ably::Auth auth(options_for(*server).set_key(key).set_use_token_auth(true).set_log(
            ably::LogLevel::Verbose, [&, probe](ably::LogLevel level, std::string_view message) {
                std::lock_guard<std::mutex> guard(lock);
                lines.emplace_back(level, std::string(message));
                if (message.find("authorize") != std::string_view::npos) {
                    throw std::runtime_error("a throwing sink is swallowed");
                }
            }));
        probe.reset();
        token = auth.authorize().token();
        (void)auth.request("GET", "/channels/log");
    }
    EXPECT_EQ(destroyed.load(), 1);
    std::string secret = key.substr(key.find(':') + 1);
    ASSERT_FALSE(lines.empty());
    for (const auto &[level, text] : lines) {
        EXPECT_GE(static_cast<int>(level), 1);
        EXPECT_LE(static_cast<int>(level), 5);
        EXPECT_EQ(text.find(secret), std::string::npos) << text;
        EXPECT_EQ(text.find(token), std::string::npos) << text;
    }
}

TEST(Nothrow, NetworkedTryCalls) {
    auto auth = ably::Auth::try_create(options_for(*server).set_key(key).set_use_token_auth(true));
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auto details = auth->try_authorize();
    ASSERT_TRUE(details.ok()) << details.error().message;
    auto header = auth->try_authorization_header();
    ASSERT_TRUE(header.ok());
    auto time = auth->try_time();
    ASSERT_TRUE(time.ok());
    auto missing = auth->try_request("GET", "/nowhere");
    ASSERT_TRUE(missing.ok()) << missing.error().message;
    EXPECT_EQ(missing->status(), 404);
    ASSERT_TRUE(missing->error().has_value());
    EXPECT_EQ(missing->error()->code, 40400);
    auto bad = auth->try_request("GET", "no-slash");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, 40003);
    EXPECT_THROW((void)std::move(bad).value(), ably::Error);
}

}  // namespace
