import AblyAuth
import Foundation
import XCTest

/// `deinit` releases the handle and every callback box: weak references to the `AblyAuth`
/// and to what its closures capture are nil once the last strong reference goes.
final class MemoryTests: LoopbackTestCase, @unchecked Sendable {
    /// An AblyAuth with an authCallback, a log handler, a transport and listeners, all
    /// capturing `tracker`, and the listeners capturing the Auth weakly (no cycle), used
    /// for blocking and async calls: afterwards nothing of it is left.
    func testDeinitReleasesTheHandleAndEveryBox() throws {
        weak var weakAuth: AblyAuth?
        weak var weakTracker: Tracker?
        weak var weakTransport: URLSessionTransport?
        let key = try server.key()
        let heard = Locked(0)
        do {
            let tracker = Tracker()
            let transport = URLSessionTransport()
            weakTracker = tracker
            weakTransport = transport
            let gameServer = try AblyAuth(key: key)
            var options = server.options()
            options.httpTransport = transport
            options.openTimeoutMs = nil
            options.caPEMs = []
            options.authCallback = .async { params in
                tracker.touch()
                return .tokenRequest(try gameServer.createTokenRequest(params))
            }
            options.logHandler = { _, _ in tracker.touch() }
            options.logLevel = .debug
            let auth = try AblyAuth(options: options)
            weakAuth = auth
            try auth.addListener { [weak auth] result in
                tracker.touch()
                if case .success = result, auth?.tokenDetails != nil { heard.update { $0 += 1 } }
            }
            let removed = try auth.addListener { _ in tracker.touch() }
            try auth.removeListener(removed)
            _ = try auth.authorize()
            try runAsync {
                _ = try await auth.authorize()
                _ = try await auth.authorizationHeader()
                _ = try await auth.time()
                _ = try await auth.request("GET", path: "/channels/m")
                let cancelled = Task { try await auth.requestToken() }
                cancelled.cancel()
                _ = try? await cancelled.value
            }
        }
        XCTAssertEqual(heard.get(), 2, "the listener heard both tokens")
        XCTAssertNil(weakAuth, "the AblyAuth was not deallocated")
        // The boxes are released when the last library thread using them lets go: the worker
        // of the cancelled call may still be ending its token fetch (hang guard 10 s).
        for _ in 0..<1000 where weakTracker != nil || weakTransport != nil { usleep(10_000) }
        XCTAssertNil(weakTracker, "a closure box was not released")
        XCTAssertNil(weakTransport, "the transport box was not released")
    }

    /// A completion the host keeps outlives the Auth safely; releasing it answers it.
    func testKeptCompletionOutlivesTheAuth() throws {
        weak var weakAuth: AblyAuth?
        let kept = Locked<[AuthCompletion]>([])
        do {
            var options = server.options(requestTimeoutMs: 60_000)
            options.authCallback = AuthCallback { _, completion in kept.update { $0.append(completion) } }
            let auth = try AblyAuth(options: options)
            weakAuth = auth
            try runAsync {
                let task = Task { try await auth.authorize() }
                for _ in 0..<3000 where kept.get().isEmpty { try await Task.sleep(nanoseconds: 10_000_000) }
                task.cancel()
                _ = try? await task.value
            }
        }
        XCTAssertNil(weakAuth)
        let completion = try XCTUnwrap(kept.get().first)
        // The Auth is gone (its worker may still wait, until its request timeout, and drop
        // the answer): answering is safe (the sanitizer runs check it), and once only.
        _ = try? completion.answer(.token("late"))
        assertAblyError(AblyErrorInfo.invalidArgument) { try completion.answer(.token("again")) }
        kept.update { $0.removeAll() }
    }

    /// An HTTPResponse keeps its own C handle, valid after the Auth is gone.
    func testResponseOutlivesTheAuth() throws {
        var response: HTTPResponse?
        do {
            var options = server.options()
            options.key = try server.key()
            options.useTokenAuth = true
            response = try AblyAuth(options: options).request("GET", path: "/channels/r")
        }
        XCTAssertEqual(response?.status, 200)
        XCTAssertNotNil(response?.header("content-type"))
    }
}
