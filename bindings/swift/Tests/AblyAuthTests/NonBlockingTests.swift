import AblyAuth
import Foundation
import XCTest

/// The `async` methods on the library's non-blocking calls: results, task cancellation
/// (before and during the call), a task group of 1,000 calls, shutdown with calls in flight,
/// and the cached header read every frame while tokens renew ahead of expiry.
final class NonBlockingTests: LoopbackTestCase, @unchecked Sendable {
    /// An authCallback that never answers: it keeps each completion (answered with 40170
    /// when `kept` goes away) and counts its calls.
    func silentAuth(_ kept: Locked<[AuthCompletion]>) throws -> AblyAuth {
        var options = server.options(requestTimeoutMs: 60_000)
        options.renewAhead = false
        options.authCallback = AuthCallback { _, completion in
            kept.update { $0.append(completion) }
        }
        return try AblyAuth(options: options)
    }

    func keyTokenAuth(_ change: (inout AuthOptions) -> Void = { _ in }) throws -> AblyAuth {
        var options = server.options()
        options.key = try server.key()
        options.useTokenAuth = true
        change(&options)
        return try AblyAuth(options: options)
    }

    func waitForCall(_ kept: Locked<[AuthCompletion]>, count: Int = 1) async throws {
        var waited = 0
        while kept.get().count < count && waited < 3000 {  // hang guard: 30 s
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        XCTAssertGreaterThanOrEqual(kept.get().count, count, "the authCallback was not called")
    }

    func testAsyncCallsComplete() throws {
        try runAsync { [self] in
            let auth = try keyTokenAuth { $0.workerThreads = 1 }
            XCTAssertNil(try auth.cachedAuthorizationHeader())
            let details = try await auth.authorize(TokenParams(clientId: "swift"))
            XCTAssertEqual(details.clientId, "swift")
            let header = try await auth.authorizationHeader()
            XCTAssertTrue(header.hasPrefix("Bearer "))
            XCTAssertEqual(try auth.cachedAuthorizationHeader(), header)
            let time = try await auth.time()
            XCTAssertGreaterThan(time, 0)
            let response = try await auth.request("GET", path: "/channels/swift")
            XCTAssertEqual(response.status, 200)
            let token = try await auth.requestToken()
            XCTAssertFalse(token.token.isEmpty)
            // token auth cannot revoke
            await assertAblyErrorAsync(AblyErrorInfo.requiresBasicAuth) {
                try await auth.revokeTokens(["clientId:x"])
            }
        }
    }

    func testTaskCancellationCancelsTheCall() throws {
        try runAsync { [self] in
            let kept = Locked<[AuthCompletion]>([])
            let auth = try silentAuth(kept)
            // The callback never answers and the request timeout is 60 s: only the
            // cancellation can end these calls before the hang guard.
            let task = Task { try await auth.authorize() }
            try await waitForCall(kept)
            task.cancel()
            do {
                _ = try await task.value
                XCTFail("expected CancellationError")
            } catch is CancellationError {
            }
            // Cancelled before it starts: the handler runs before the call handle exists.
            let early = Task { () -> String in
                withUnsafeCurrentTask { $0?.cancel() }
                return try await auth.authorizationHeader()
            }
            do {
                _ = try await early.value
                XCTFail("expected CancellationError")
            } catch is CancellationError {
            }
            // A request that needs a token (it waits for the unanswered fetch) ends when its
            // task is cancelled; so does a call that needs none.
            let request = Task { try await auth.request("GET", path: "/channels/x") }
            let time = Task { try await auth.time() }
            try await Task.sleep(nanoseconds: 50_000_000)
            request.cancel()
            time.cancel()
            do {
                _ = try await request.value
                XCTFail("expected CancellationError")
            } catch is CancellationError {
            }
            // time needs no token: it may have completed before its cancellation.
            do {
                let serverTime = try await time.value
                XCTAssertGreaterThan(serverTime, 0)
            } catch is CancellationError {
            }
        }
    }

    /// 1,000 calls at once from a task group, on 2 worker threads: every one completes, and
    /// the header calls share one token fetch.
    func testTaskGroupOfAThousandCalls() throws {
        try runAsync { [self] in
            let auth = try keyTokenAuth()
            let issued = try server.tokensIssued()
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<1000 {
                    group.addTask {
                        switch i % 4 {
                        case 0, 1: return try await auth.authorizationHeader()
                        case 2: return "time \(try await auth.time() > 0)"
                        default: return "status \(try await auth.request("GET", path: "/channels/g").status)"
                        }
                    }
                }
                var all: [String] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            XCTAssertEqual(outcomes.count, 1000)
            let headers = Set(outcomes.filter { $0.hasPrefix("Bearer ") })
            XCTAssertEqual(headers.count, 1, "one token for every caller")
            XCTAssertEqual(outcomes.filter { $0 == "time true" }.count, 250)
            XCTAssertEqual(outcomes.filter { $0 == "status 200" }.count, 250)
            XCTAssertEqual(try server.tokensIssued(), issued + 1)
        }
    }

    func testShutdownEndsCallsInFlight() throws {
        try runAsync { [self] in
            let kept = Locked<[AuthCompletion]>([])
            let auth = try silentAuth(kept)
            try server.rule(#"{"pathPrefix":"/time","times":-1,"action":{"type":"slowHeaders","delayMs":2000}}"#)
            let started = Locked(0)
            let calls = (0..<20).map { _ in
                Task { () -> String in
                    started.update { $0 += 1 }
                    return try await auth.authorizationHeader()
                }
            } + (0..<3).map { _ in
                Task { () -> String in
                    started.update { $0 += 1 }
                    return "\(try await auth.time())"
                }
            }
            try await waitForCall(kept)
            for _ in 0..<3000 where started.get() < calls.count {  // hang guard 30 s
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            try await Task.sleep(nanoseconds: 200_000_000)  // from `started` into the C call
            do {
                try auth.shutdown(timeoutMs: 0)  // workers wait in the callback / the network
            } catch let error as AblyErrorInfo {
                XCTAssertEqual(error.code, AblyErrorInfo.timeout)
            }
            // Every call ends: one in flight is cancelled; one whose task reached the C call
            // only after the shutdown (possible on a loaded machine) is refused.
            var cancelled = 0
            for task in calls {
                do {
                    _ = try await task.value
                    XCTFail("a call succeeded after the shutdown")
                } catch let error as AblyErrorInfo {
                    if error.code == AblyErrorInfo.cancelled { cancelled += 1 }
                    XCTAssertTrue([AblyErrorInfo.cancelled, AblyErrorInfo.shutDown].contains(error.code), "\(error)")
                }
            }
            XCTAssertGreaterThanOrEqual(cancelled, 1, "the call whose callback runs was in flight")
            await assertAblyErrorAsync(AblyErrorInfo.shutDown) { try await auth.time() }
            await assertAblyErrorAsync(AblyErrorInfo.shutDown) { try await auth.authorize() }
            // Answering the completions (released: they answer 40170 themselves) frees the
            // worker waiting for the callback; the one in the slow /time ends with it (2 s).
            // Shutdown is idempotent, and this one waits for both.
            kept.update { $0.removeAll() }
            XCTAssertNoThrow(try auth.shutdown(timeoutMs: 30_000))
        }
    }

    /// A game loop reads the cached header every frame (60 Hz) while tokens of 6 s renew
    /// ahead of expiry in the background: once the first token is in, every frame gets a
    /// header, and the header changes as tokens are renewed.
    func testCachedHeaderEveryFrameWhileTokensRenewAhead() throws {
        let auth = try keyTokenAuth { $0.defaultTokenParams = TokenParams(ttl: 6000) }
        let renewals = Locked(0)
        try auth.addListener { result in
            if case .success = result { renewals.update { $0 += 1 } }
        }
        try runAsync { _ = try await auth.authorizationHeader() }
        var seen: [String] = []
        var misses = 0
        let frames = 60 * 7  // 7 s: more than one token's life
        for _ in 0..<frames {
            if let header = try auth.cachedAuthorizationHeader() {
                if seen.last != header { seen.append(header) }
            } else {
                misses += 1
            }
            usleep(16_667)
        }
        XCTAssertEqual(misses, 0, "frames without a cached header")
        XCTAssertGreaterThanOrEqual(seen.count, 2, "the token was renewed ahead of expiry")
        XCTAssertGreaterThanOrEqual(renewals.get(), 2)
    }
}
