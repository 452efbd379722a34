import AblyAuth
import Foundation
import XCTest

/// The HTTPTransport protocol over the C host-transport ABI, and URLSessionTransport:
/// deadlines and cancellation reach the URLSessionTask.
final class TransportTests: XCTestCase, @unchecked Sendable {
    /// Answers every request itself, from memory, and keeps what it was asked.
    final class CannedTransport: HTTPTransport, @unchecked Sendable {  // state under `lock`
        let lock = NSLock()
        var requests: [HTTPTransportRequest] = []
        var cancelled: [UInt64] = []
        let answer: @Sendable (HTTPTransportRequest, HTTPTransportAnswer) -> Void

        init(_ answer: @escaping @Sendable (HTTPTransportRequest, HTTPTransportAnswer) -> Void) {
            self.answer = answer
        }

        func send(_ request: HTTPTransportRequest, answer: HTTPTransportAnswer) {
            lock.lock()
            requests.append(request)
            lock.unlock()
            self.answer(request, answer)
        }

        func cancel(id: UInt64) {
            lock.lock()
            cancelled.append(id)
            lock.unlock()
        }
    }

    func transportAuth(_ transport: any HTTPTransport, requestTimeoutMs: Int64 = 3000) throws -> AblyAuth {
        var options = AuthOptions(key: "appId.keyId:secret")
        options.endpoint = "rest.example.test"
        options.fallbackHosts = []
        options.requestTimeoutMs = requestTimeoutMs
        options.httpTransport = transport
        return try AblyAuth(options: options)
    }

    func testRequestsGoThroughTheTransport() throws {
        let transport = CannedTransport { request, answer in
            answer.respond(status: 200, headers: [(name: "Content-Type", value: "application/json")],
                           body: Data("[1234567]".utf8))
        }
        let auth = try transportAuth(transport)
        XCTAssertEqual(try auth.time(), 1_234_567)
        let response = try auth.request("POST", path: "/channels/a/messages", query: "x=1",
                                        headers: ["X-Mine": "yes"], body: Data("{}".utf8))
        XCTAssertEqual(response.status, 200)
        let sent = transport.lock.withLock { transport.requests }
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(sent[0].method, "GET")
        XCTAssertEqual(sent[0].url.absoluteString, "https://rest.example.test/time")
        XCTAssertFalse(sent[0].isAuthUrl)
        XCTAssertGreaterThan(sent[0].timeoutMs, 0)
        XCTAssertGreaterThan(sent[0].maxResponseBytes, 0)
        XCTAssertNotEqual(sent[0].id, sent[1].id)
        XCTAssertEqual(sent[1].url.query, "x=1")
        XCTAssertEqual(sent[1].body, Data("{}".utf8))
        let names = sent[1].headers.map { $0.name.lowercased() }
        XCTAssertTrue(names.contains("x-ably-version"), "\(names)")
        XCTAssertTrue(names.contains("x-mine"), "\(names)")
        XCTAssertTrue(sent[1].headers.contains { $0.name.lowercased() == "authorization" && $0.value.hasPrefix("Basic ") })
    }

    func testFailuresAndDroppedAnswers() throws {
        let failing = try transportAuth(CannedTransport { _, answer in
            answer.fail(.connectionFailed, message: "no route")
        })
        let error = assertAblyError(AblyErrorInfo.connectionFailed) { try failing.time() }
        XCTAssertTrue(error?.message.contains("no route") ?? false, "\(String(describing: error))")

        // An answer released unanswered fails the call at once (not at the 60 s deadline).
        let dropping = try transportAuth(CannedTransport { _, _ in }, requestTimeoutMs: 60_000)
        do {
            _ = try dropping.time()
            XCTFail("expected an error")
        } catch let error as AblyErrorInfo {
            XCTAssertNotEqual(error.code, AblyErrorInfo.timeout, "\(error)")
        }

        // Answering twice: the second is refused.
        let twice = Locked<[Bool]>([])
        let auth = try transportAuth(CannedTransport { _, answer in
            let first = answer.respond(status: 200, headers: [], body: Data("[1]".utf8))
            let second = answer.fail(.other, message: "again")
            twice.update { $0 += [first, second] }
        })
        XCTAssertEqual(try auth.time(), 1)
        XCTAssertEqual(twice.get(), [true, false])
    }

    /// An answer from another thread after the deadline is refused; the library told the
    /// transport to cancel that request.
    func testLateAnswerAndCancelAtTheDeadline() throws {
        let late = Locked<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        let transport = CannedTransport { _, answer in
            DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) {
                late.update { $0 = answer.respond(status: 200, headers: [], body: Data("[1]".utf8)) }
                done.signal()
            }
        }
        let auth = try transportAuth(transport, requestTimeoutMs: 500)
        assertAblyError(AblyErrorInfo.timeout) { try auth.time() }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(late.get(), false, "a late answer is refused")
        let (sent, cancelled) = transport.lock.withLock { (transport.requests, transport.cancelled) }
        XCTAssertEqual(cancelled, sent.map(\.id))
    }
}

/// URLSessionTransport against the loopback server.
final class URLSessionTransportTests: LoopbackTestCase, @unchecked Sendable {
    /// URLSessionTransport, with the cancels the library sends it recorded.
    final class Recording: HTTPTransport, @unchecked Sendable {
        let inner = URLSessionTransport()
        let cancelled = Locked<[UInt64]>([])
        func send(_ request: HTTPTransportRequest, answer: HTTPTransportAnswer) {
            inner.send(request, answer: answer)
        }
        func cancel(id: UInt64) {
            cancelled.update { $0.append(id) }
            inner.cancel(id: id)
        }
    }

    func auth(_ transport: Recording, requestTimeoutMs: Int64) throws -> AblyAuth {
        var options = server.options(requestTimeoutMs: requestTimeoutMs)
        options.httpTransport = transport
        options.openTimeoutMs = nil
        options.caPEMs = []
        options.key = try server.key()
        options.useTokenAuth = true
        return try AblyAuth(options: options)
    }

    /// Waits (hang guard 10 s) until no URLSessionTask is in flight.
    func waitForNoTasks(_ transport: URLSessionTransport) {
        for _ in 0..<1000 where transport.tasksInFlight > 0 { usleep(10_000) }
        XCTAssertEqual(transport.tasksInFlight, 0, "the URLSessionTask was not cancelled")
    }

    func testFlowsOverURLSession() throws {
        let transport = Recording()
        let auth = try auth(transport, requestTimeoutMs: 5000)
        let details = try auth.authorize(TokenParams(clientId: "lee"))
        XCTAssertEqual(details.clientId, "lee")
        XCTAssertEqual(try auth.request("GET", path: "/channels/u").status, 200)
        XCTAssertGreaterThan(try auth.time(), 0)
        XCTAssertEqual(transport.inner.tasksInFlight, 0)
    }

    /// Task cancellation reaches the URLSessionTask: the server holds /time for 20 s and the
    /// request timeout is 60 s, so only the cancel can end the task.
    func testTaskCancellationCancelsTheURLSessionTask() throws {
        let transport = Recording()
        let auth = try auth(transport, requestTimeoutMs: 60_000)
        try server.rule(#"{"pathPrefix":"/time","times":1,"action":{"type":"slowHeaders","delayMs":20000}}"#)
        try runAsync {
            let task = Task { try await auth.time() }
            for _ in 0..<1000 where transport.inner.tasksInFlight == 0 {  // hang guard 10 s
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            XCTAssertEqual(transport.inner.tasksInFlight, 1)
            task.cancel()
            do {
                _ = try await task.value
                XCTFail("expected CancellationError")
            } catch is CancellationError {
            }
        }
        waitForNoTasks(transport.inner)
        XCTAssertEqual(transport.cancelled.get().count, 1)
    }

    /// The deadline reaches the URLSessionTask (its timeout, and the library's cancel).
    func testDeadlineCancelsTheURLSessionTask() throws {
        let transport = Recording()
        let auth = try auth(transport, requestTimeoutMs: 700)
        try server.rule(#"{"pathPrefix":"/time","times":-1,"action":{"type":"slowHeaders","delayMs":20000}}"#)
        assertAblyError(AblyErrorInfo.timeout) { try auth.time() }
        waitForNoTasks(transport.inner)
    }

    /// Shutdown cancels the URLSessionTasks of the calls in flight.
    func testShutdownCancelsTheURLSessionTasks() throws {
        let transport = Recording()
        let auth = try auth(transport, requestTimeoutMs: 60_000)
        try server.rule(#"{"pathPrefix":"/time","times":-1,"action":{"type":"slowHeaders","delayMs":20000}}"#)
        try runAsync {
            let tasks = (0..<2).map { _ in Task { try await auth.time() } }
            for _ in 0..<1000 where transport.inner.tasksInFlight < 2 {  // hang guard 10 s
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            XCTAssertEqual(transport.inner.tasksInFlight, 2)
            try? auth.shutdown(timeoutMs: 0)
            for task in tasks {
                await assertAblyErrorAsync(AblyErrorInfo.cancelled) { try await task.value }
            }
        }
        waitForNoTasks(transport.inner)
        XCTAssertEqual(transport.cancelled.get().count, 2)
    }
}
