// The non-blocking calls of the C++ binding (issue 12), against the loopback server:
// completions with std::function run exactly once and never on the calling thread, for each
// operation; ably::Call cancels (explicitly and when destroyed); shutdown and destroying
// the Auth complete calls in flight with ABLY_ERR_CANCELLED even when the authCallback never
// answers; the std::future forms; exceptions thrown by a completion are caught; the cached
// header read; the worker-thread and renew-ahead options. Each std::function handed over is
// destroyed exactly once (Probe).
#include <ably/auth.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server_fixture.hpp"

namespace {

using fixture::key_token_auth;
using fixture::options_for;
using fixture::Probe;
using fixture::server;

/// Hang guard for waits on library threads (never a timing assertion: a healthy run takes
/// milliseconds; the guard only stops a broken one).
constexpr auto kHangGuard = std::chrono::seconds(30);

/// Records the completions of non-blocking calls: how many ran, their error codes (0 for a
/// success) and whether any ran on the thread that started its call.
class Completions {
public:
    /// A Done<T> that records its outcome; it owns a Probe, so `destroyed` counts how many
    /// times the library destroyed the std::function.
    template <class T>
    ably::Done<T> done(std::function<void(const T &)> check = nullptr) {
        auto probe = Probe::make(destroyed);
        auto caller = std::this_thread::get_id();
        return [this, probe, caller, check](ably::Result<T> outcome) {
            if (outcome.ok() && check) {
                check(*outcome);
            }
            record(outcome.ok() ? 0 : outcome.error().code, caller);
        };
    }

    /// Waits (with the hang guard) until `n` completions ran.
    bool wait_for(size_t n) {
        std::unique_lock<std::mutex> guard(lock_);
        return changed_.wait_for(guard, kHangGuard, [&] { return codes_.size() >= n; });
    }
    std::vector<int32_t> codes() {
        std::lock_guard<std::mutex> guard(lock_);
        return codes_;
    }
    bool ran_inline() const { return inline_.load(); }

    std::atomic<int> destroyed{0};

private:
    void record(int32_t code, std::thread::id caller) {
        if (std::this_thread::get_id() == caller) {
            inline_ = true;
        }
        std::lock_guard<std::mutex> guard(lock_);
        codes_.push_back(code);
        changed_.notify_all();
    }

    std::mutex lock_;
    std::condition_variable changed_;
    std::vector<int32_t> codes_;
    std::atomic<bool> inline_{false};
};

/// An authCallback that never answers: it keeps each Completion (answering them only when
/// destroyed, after the test) and counts its calls.
struct SilentHost {
    std::mutex lock;
    std::condition_variable called;
    std::vector<ably::Completion> kept;

    ably::AsyncAuthCallback callback() {
        return [this](std::string_view, ably::Completion c) {
            std::lock_guard<std::mutex> guard(lock);
            kept.push_back(std::move(c));
            called.notify_all();
        };
    }
    bool wait_called() {
        std::unique_lock<std::mutex> guard(lock);
        return called.wait_for(guard, kHangGuard, [&] { return !kept.empty(); });
    }
};

/// An Auth whose token fetches hang in `host` (request timeout 60 s: far beyond the guard).
ably::Auth silent_auth(SilentHost &host) {
    return ably::Auth(options_for(*server, 60000).set_async_auth_callback(host.callback()).set_renew_ahead(false));
}

TEST(NonBlocking, EveryOperationCompletesExactlyOnceOnALibraryThread) {
    Completions seen;
    std::vector<ably::Call> calls;
    {
        ably::Auth auth = key_token_auth();
        calls.push_back(auth.request_token_async(ably::TokenParams().set_client_id("nb"), std::nullopt,
                                                 seen.done<ably::TokenDetails>([](const ably::TokenDetails &d) {
                                                     EXPECT_EQ(d.client_id(), std::optional<std::string>("nb"));
                                                 })));
        calls.push_back(auth.authorize_async({}, {}, seen.done<ably::TokenDetails>([](const ably::TokenDetails &d) {
            EXPECT_EQ(d.token().rfind("lbtk-", 0), 0u) << d.token();
        })));
        calls.push_back(auth.authorization_header_async(seen.done<std::string>([](const std::string &h) {
            EXPECT_EQ(h.rfind("Bearer ", 0), 0u);
        })));
        calls.push_back(auth.time_async(seen.done<int64_t>([](const int64_t &ms) { EXPECT_GT(ms, 0); })));
        calls.push_back(auth.request_async("GET", "/channels/nb", std::nullopt, {{"X-Extra", "1"}}, "",
                                           seen.done<ably::HttpResponse>([](const ably::HttpResponse &r) {
                                               EXPECT_EQ(r.status(), 200);
                                           })));
        // revokeTokens needs Basic auth: token auth gives its error, through the same path.
        calls.push_back(auth.revoke_tokens_async({"clientId:nb"}, {}, seen.done<ably::RevocationResult>()));
        ASSERT_TRUE(seen.wait_for(6));
        for (const auto &call : calls) {
            EXPECT_TRUE(call);
        }
        auth.shutdown();  // waits for every completion to have run
    }
    auto codes = seen.codes();
    std::sort(codes.begin(), codes.end());
    EXPECT_EQ(codes, (std::vector<int32_t>{0, 0, 0, 0, 0, ABLY_ERR_REQUIRES_BASIC_AUTH})) << "exactly once each";
    EXPECT_FALSE(seen.ran_inline()) << "a completion ran on the thread that started its call";
    EXPECT_EQ(seen.destroyed.load(), 6) << "each std::function is destroyed exactly once";
    for (const auto &call : calls) {
        EXPECT_FALSE(call.cancel()) << "a finished call cannot be cancelled";
    }
}

TEST(NonBlocking, CancelGivesCancelledOnce) {
    SilentHost host;
    Completions seen;
    ably::Auth auth = silent_auth(host);
    ably::Call call = auth.authorize_async({}, {}, seen.done<ably::TokenDetails>());
    ASSERT_TRUE(host.wait_called());
    EXPECT_TRUE(call.cancel());
    EXPECT_FALSE(call.cancel()) << "the second cancel lost the race to the first";
    ASSERT_TRUE(seen.wait_for(1));
    EXPECT_EQ(seen.codes(), std::vector<int32_t>{ABLY_ERR_CANCELLED});
    EXPECT_FALSE(seen.ran_inline());
    auth.reset();
    EXPECT_EQ(seen.codes().size(), 1u) << "exactly once";
    EXPECT_EQ(seen.destroyed.load(), 1);
}

TEST(NonBlocking, DestroyingTheCallCancelsIt) {
    SilentHost host;
    Completions seen;
    ably::Auth auth = silent_auth(host);
    {
        ably::Call call = auth.authorization_header_async(seen.done<std::string>());
        ASSERT_TRUE(host.wait_called());
        ably::Call moved = std::move(call);
        EXPECT_FALSE(call) << "moved from";
        EXPECT_FALSE(call.cancel()) << "an empty Call cancels nothing";
    }
    ASSERT_TRUE(seen.wait_for(1));
    EXPECT_EQ(seen.codes(), std::vector<int32_t>{ABLY_ERR_CANCELLED});
}

TEST(NonBlocking, CancelFromInsideTheCompletionAndChainedCalls) {
    ably::Auth auth = key_token_auth();
    ably::Call call, chained;
    std::promise<void> call_stored;
    std::shared_future<void> stored = call_stored.get_future().share();
    std::promise<int32_t> inner;
    call = auth.time_async([&](ably::Result<int64_t>) {
        stored.wait();  // until `call` is assigned (the completion may run before that)
        EXPECT_FALSE(call.cancel()) << "inside its own completion";
        // A blocking call that needs a token would wait on the network here: refused.
        auto blocked = auth.try_authorization_header();  // no token yet
        EXPECT_EQ(blocked.ok() ? 0 : blocked.error().code, ABLY_ERR_REENTRANT_CALL);
        // The non-blocking forms are the way. (Destroying `chained` would cancel it.)
        (void)auth.try_authorize_future();
        chained = auth.time_async([&](ably::Result<int64_t> r) { inner.set_value(r.ok() ? 0 : r.error().code); });
    });
    call_stored.set_value();
    auto future = inner.get_future();
    ASSERT_EQ(future.wait_for(kHangGuard), std::future_status::ready);
    EXPECT_EQ(future.get(), 0);
    auth.shutdown();
}

TEST(NonBlocking, ShutdownCancelsCallsWhoseAuthCallbackNeverAnswers) {
    SilentHost host;
    Completions seen;
    ably::Auth auth = silent_auth(host);
    ably::Call authorize = auth.authorize_async({}, {}, seen.done<ably::TokenDetails>());
    ably::Call header = auth.authorization_header_async(seen.done<std::string>());
    ably::Call request = auth.request_async("GET", "/channels/x", std::nullopt, {}, "", seen.done<ably::HttpResponse>());
    ASSERT_TRUE(host.wait_called());

    // The worker stays in the authCallback's wait until its request timeout (60 s), so
    // shutdown's own wait may time out (50003); the completions must not wait for it.
    auto shut = auth.try_shutdown(std::chrono::milliseconds(0));
    EXPECT_TRUE(shut.ok() || shut.error().code == ABLY_ERR_TIMEOUT) << shut.error().to_string();
    ASSERT_TRUE(seen.wait_for(3)) << "calls in flight complete without waiting out the request timeout";
    EXPECT_EQ(seen.codes(), std::vector<int32_t>(3, ABLY_ERR_CANCELLED));

    // Shut down: no new work, reported at once (done never runs and is destroyed).
    auto refused = auth.try_time_async(seen.done<int64_t>());
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ABLY_ERR_SHUT_DOWN);
    auto late = auth.try_authorization_header_future();
    ASSERT_EQ(late.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "refused at once";
    EXPECT_EQ(late.get().error().code, ABLY_ERR_SHUT_DOWN);
    auto again = auth.try_shutdown(std::chrono::milliseconds(0));
    EXPECT_TRUE(again.ok() || again.error().code == ABLY_ERR_TIMEOUT) << "idempotent";
    EXPECT_EQ(seen.codes().size(), 3u);
}

TEST(NonBlocking, DestroyingTheAuthCompletesCallsInFlight) {
    SilentHost host;
    Completions seen;
    std::vector<ably::Call> calls;
    std::future<ably::TokenDetails> future;
    {
        ably::Auth auth = silent_auth(host);
        calls.push_back(auth.authorize_async({}, {}, seen.done<ably::TokenDetails>()));
        calls.push_back(auth.request_token_async({}, {}, seen.done<ably::TokenDetails>()));
        future = auth.authorize_future();
        ASSERT_TRUE(host.wait_called());
    }  // ably_auth_free: every completion has run when it returns
    EXPECT_EQ(seen.codes(), std::vector<int32_t>(2, ABLY_ERR_CANCELLED));
    EXPECT_EQ(seen.destroyed.load(), 2);
    ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    try {
        (void)future.get();
        ADD_FAILURE() << "expected ably::Error";
    } catch (const ably::Error &e) {
        EXPECT_EQ(e.code(), ABLY_ERR_CANCELLED);
    }
    // The Calls outlive their Auth: cancelling and freeing them is harmless.
    for (const auto &call : calls) {
        EXPECT_FALSE(call.cancel());
    }
    calls.clear();
}

TEST(NonBlocking, FutureForms) {
    ably::Auth auth = key_token_auth();
    EXPECT_GT(auth.time_future().get(), 0);
    auto token = auth.authorize_future(ably::TokenParams().set_client_id("future")).get();
    EXPECT_EQ(token.client_id(), std::optional<std::string>("future"));
    EXPECT_EQ(auth.authorization_header_future().get().rfind("Bearer ", 0), 0u);
    EXPECT_EQ(auth.request_future("GET", "/channels/f").get().status(), 200);
    EXPECT_EQ(auth.request_token_future().get().token().rfind("lbtk-", 0), 0u);

    // Errors: as an ably::Error from get(), or as the Result of the try_ form.
    auto bad = auth.try_request_token_future(std::nullopt, ably::Options().set_key("bad"));
    auto bad_result = bad.get();
    ASSERT_FALSE(bad_result.ok());
    EXPECT_EQ(bad_result.error().code, ABLY_ERR_INVALID_CREDENTIALS);
    auto throwing = auth.revoke_tokens_future({"clientId:x"});
    try {
        (void)throwing.get();
        ADD_FAILURE() << "expected ably::Error";
    } catch (const ably::Error &e) {
        EXPECT_EQ(e.code(), ABLY_ERR_REQUIRES_BASIC_AUTH);
    }
    // A bad argument is the future's outcome, ready at once.
    auto nul = auth.try_request_future("GET", std::string("/a\0b", 4));
    ASSERT_EQ(nul.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_EQ(nul.get().error().code, ABLY_ERR_INVALID_ARGUMENT);
    auto ms = auth.try_time_future().get();
    ASSERT_TRUE(ms.ok());
    EXPECT_GT(*ms, 0);
}

TEST(NonBlocking, ExceptionsThrownByACompletionAreCaught) {
    Completions seen;
    ably::Auth auth = key_token_auth();
    std::atomic<int> ran{0};
    auto probe = Probe::make(seen.destroyed);
    ably::Call a = auth.time_async([&ran, probe](ably::Result<int64_t>) {
        ++ran;
        throw std::runtime_error("thrown by a completion");
    });
    ably::Call b = auth.authorization_header_async([&ran, probe](ably::Result<std::string>) {
        ++ran;
        throw 42;  // not a std::exception
    });
    probe.reset();
    auth.shutdown();  // the completions have run when it returns
    EXPECT_EQ(ran.load(), 2);
    EXPECT_EQ(seen.destroyed.load(), 1) << "both std::functions destroyed (one shared Probe)";
    // The library and its threads carry on: a fresh Auth works.
    ably::Auth again = key_token_auth();
    EXPECT_GT(again.time_future().get(), 0);
}

TEST(NonBlocking, ArgumentErrorsAreReportedAtOnceAndConsumeTheBuilders) {
    ably::Auth auth = key_token_auth();
    auto empty = auth.try_authorize_async(ably::TokenParams().set_ttl(60000), ably::Options(), nullptr);
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, ABLY_ERR_INVALID_ARGUMENT);
    Completions seen;
    auto bad_params = auth.try_request_token_async(ably::TokenParams().set_ttl(-1), {}, seen.done<ably::TokenDetails>());
    ASSERT_FALSE(bad_params.ok());
    EXPECT_EQ(bad_params.error().code, ABLY_ERR_INVALID_ARGUMENT);
    auto nul = auth.try_revoke_tokens_async({std::string("a\0b", 3)}, {}, seen.done<ably::RevocationResult>());
    ASSERT_FALSE(nul.ok());
    EXPECT_EQ(seen.destroyed.load(), 2) << "a done that never runs is destroyed before the call returns";
    EXPECT_TRUE(seen.codes().empty());
    ably::Auth empty_auth;
    auto no_auth = empty_auth.try_time_async(seen.done<int64_t>());
    ASSERT_FALSE(no_auth.ok());
    EXPECT_EQ(no_auth.error().code, ABLY_ERR_INVALID_ARGUMENT);
}

TEST(CachedAuthorizationHeader, NoTokenThenTheTokenInUseWithoutIo) {
    ably::Auth auth = key_token_auth();
    auto none = auth.try_cached_authorization_header();
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, ABLY_ERR_NO_VALID_TOKEN);
    EXPECT_EQ(auth.cached_authorization_header(), std::nullopt);

    std::string header = auth.authorization_header_future().get();
    int64_t issued = server->tokens_issued();
    EXPECT_EQ(auth.cached_authorization_header(), std::optional<std::string>(header));
    EXPECT_EQ(server->tokens_issued(), issued) << "no token fetched";

    ably::Auth empty;
    EXPECT_EQ(empty.try_cached_authorization_header().error().code, ABLY_ERR_INVALID_ARGUMENT);
}

TEST(Options, WorkerThreadsAndRenewAhead) {
    auto zero = ably::Auth::try_create(ably::Options().set_key("a.b:c").set_worker_threads(0));
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.error().code, ABLY_ERR_INVALID_ARGUMENT);
    auto many = ably::Options().set_key("a.b:c").set_worker_threads(17);
    ASSERT_NE(many.error(), nullptr);
    EXPECT_EQ(many.error()->code, ABLY_ERR_INVALID_ARGUMENT);

    // One worker, no renewal ahead: calls queue on it and all complete.
    ably::Auth auth(options_for(*server).set_key(fixture::key).set_use_token_auth(true).set_worker_threads(1).set_renew_ahead(
        false));
    std::vector<std::future<int64_t>> times;
    for (int i = 0; i < 8; i++) {
        times.push_back(auth.time_future());
    }
    for (auto &t : times) {
        EXPECT_GT(t.get(), 0);
    }
}

}  // namespace
