import AblyAuth
import Foundation
import XCTest

/// The `async` methods on the library's non-blocking calls: results, task cancellation
/// (before and during the call), shutdown with calls in flight, the cached header read.
/// (Written without a Swift toolchain; see bindings/swift/README.md.)
final class NonBlockingTests: LoopbackTestCase {
    /// An authCallback that never answers: it keeps each completion (answered when the
    /// test's `kept` goes away) and counts its calls.
    func silentAuth(_ kept: Locked<[AuthCompletion]>) throws -> AblyAuth {
        var options = server.options(requestTimeoutMs: 60_000)
        options.renewAhead = false
        options.authCallback = AuthCallback { _, completion in
            kept.update { $0.append(completion) }
        }
        return try AblyAuth(options: options)
    }

    func waitForCall(_ kept: Locked<[AuthCompletion]>) async throws {
        var waited = 0
        while kept.get().isEmpty && waited < 3000 {  // hang guard: 30 s
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        XCTAssertFalse(kept.get().isEmpty, "the authCallback was not called")
    }

    func testAsyncCallsComplete() async throws {
        var options = server.options()
        options.key = try server.key()
        options.useTokenAuth = true
        options.workerThreads = 1
        let auth = try AblyAuth(options: options)
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
        do {
            _ = try await auth.revokeTokens(["clientId:x"])  // token auth cannot revoke
            XCTFail("expected 40162")
        } catch let error as AblyErrorInfo {
            XCTAssertEqual(error.code, AblyErrorInfo.requiresBasicAuth)
        }
    }

    func testTaskCancellationCancelsTheCall() async throws {
        let kept = Locked<[AuthCompletion]>([])
        let auth = try silentAuth(kept)
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
            _ = withUnsafeCurrentTask { $0?.cancel() }
            return try await auth.authorizationHeader()
        }
        do {
            _ = try await early.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        }
    }

    func testShutdownEndsCallsInFlight() async throws {
        let kept = Locked<[AuthCompletion]>([])
        let auth = try silentAuth(kept)
        let task = Task { try await auth.authorizationHeader() }
        try await waitForCall(kept)
        do {
            try auth.shutdown(timeoutMs: 0)  // the worker waits in the callback: may time out
        } catch let error as AblyErrorInfo {
            XCTAssertEqual(error.code, AblyErrorInfo.timeout)
        }
        do {
            _ = try await task.value
            XCTFail("expected AblyErrorInfo.cancelled")
        } catch let error as AblyErrorInfo {
            XCTAssertEqual(error.code, AblyErrorInfo.cancelled)
        }
        do {
            _ = try await auth.time()
            XCTFail("expected AblyErrorInfo.shutDown")
        } catch let error as AblyErrorInfo {
            XCTAssertEqual(error.code, AblyErrorInfo.shutDown)
        }
    }
}
