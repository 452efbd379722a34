import AblyAuth
import Foundation
import XCTest

/// A test case with a fresh loopback server per test (`server`). (`@unchecked Sendable`: the
/// async tests hand `self` to a Task that `runAsync` waits for.)
class LoopbackTestCase: XCTestCase, @unchecked Sendable {
    var server: Loopback!

    override func setUpWithError() throws {
        server = try Loopback()
    }

    override func tearDown() {
        server?.stop()
        server = nil
    }
}

/// The loopback Ably-compatible server (tests/support, binary `ably-loopback-server`, path in
/// `ABLY_LOOPBACK_SERVER`; run-tests.sh builds it and sets it). Started with
/// `--exit-on-stdin-eof`, so closing its stdin (`stop()`, or this process dying) ends it.
/// (Spawned with posix_spawn rather than Foundation's `Process`, which leaks on Linux and
/// would make every LeakSanitizer run report it.)
final class Loopback {
    let port: Int
    let tls: Bool
    /// With TLS: the server's CA (PEM), to trust through `AuthOptions.caPEMs`.
    let caPEM: String?
    private let pid: pid_t
    private var stdinFD: Int32  // the write end of the server's stdin; -1 once stopped
    private var control: AblyAuth?

    /// Throws XCTSkip when ABLY_LOOPBACK_SERVER is not set.
    init(tls: Bool = false) throws {
        guard let path = ProcessInfo.processInfo.environment["ABLY_LOOPBACK_SERVER"],
              !path.isEmpty else {
            throw XCTSkip("ABLY_LOOPBACK_SERVER is not set (bindings/swift/run-tests.sh sets it)")
        }
        var arguments = [path, "--exit-on-stdin-eof"]
        let caPath = NSTemporaryDirectory() + "ably-swift-ca-\(UUID().uuidString).pem"
        if tls { arguments += ["--tls", "--ca-out", caPath] }

        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw Loopback.failure("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        for fd in input + output { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(input[0])
        close(output[1])
        guard spawned == 0 else {
            close(input[1])
            close(output[0])
            throw Loopback.failure("posix_spawn \(path): \(spawned)")
        }
        self.pid = pid
        self.stdinFD = input[1]

        // The first line is "LISTENING <base url>" (written after the CA file).
        var received: [UInt8] = []
        var byte: UInt8 = 0
        while byte != UInt8(ascii: "\n"), read(output[0], &byte, 1) == 1 {
            received.append(byte)
        }
        close(output[0])  // the server ignores a closed stdout
        let line = String(decoding: received, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        self.tls = tls
        guard line.hasPrefix("LISTENING "),
              let url = URL(string: String(line.dropFirst("LISTENING ".count))),
              let port = url.port else {
            self.port = 0
            self.caPEM = nil
            stop()
            throw Loopback.failure("loopback server said: \(line)")
        }
        self.port = port
        if tls {
            caPEM = try? String(contentsOfFile: caPath, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: caPath)
        } else {
            caPEM = nil
        }
    }

    private static func failure(_ message: String) -> AblyErrorInfo {
        AblyErrorInfo(code: 0, statusCode: 0, message: message)
    }

    deinit { stop() }

    func stop() {
        guard stdinFD >= 0 else { return }
        control = nil
        close(stdinFD)  // EOF: the server exits
        stdinFD = -1
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    /// Options pointing at this server: endpoint 127.0.0.1 (no fallback hosts), its port and
    /// scheme, its CA, short timeouts.
    func options(requestTimeoutMs: Int64 = 3000) -> AuthOptions {
        var options = AuthOptions()
        options.endpoint = "127.0.0.1"
        options.tls = tls
        options.port = port
        options.tlsPort = port
        options.requestTimeoutMs = requestTimeoutMs
        if let transport = Loopback.transport {
            options.httpTransport = transport
        } else {
            options.openTimeoutMs = 3000
            options.caPEMs = caPEM.map { [$0] } ?? []
        }
        return options
    }

    /// `ABLY_SWIFT_TRANSPORT=urlsession`: every networked test sends its requests through a
    /// `URLSessionTransport` (one per test process) instead of the built-in client;
    /// run-tests.sh runs the suites both ways.
    static let transport: URLSessionTransport? =
        ProcessInfo.processInfo.environment["ABLY_SWIFT_TRANSPORT"] == "urlsession"
        ? URLSessionTransport() : nil

    // MARK: Control API (/_control/, plain HTTP only)
    //
    // Sent with AblyAuth.request itself: /_control/ ignores credentials, and this keeps the
    // tests free of an HTTP client (FoundationNetworking) of their own.

    func controlRequest(_ method: String, _ path: String, json: String? = nil) throws -> Data {
        precondition(!tls, "the control API is used on the plain-HTTP server only")
        if control == nil {
            var options = self.options()
            options.token = "control-api-needs-no-credentials"
            control = try AblyAuth(options: options)
        }
        let response = try control!.request(
            method, path: path, headers: json == nil ? [:] : ["Content-Type": "application/json"],
            body: json.map { Data($0.utf8) })
        return response.body
    }

    /// The server's key, `name:secret`.
    func key() throws -> String {
        struct Key: Decodable { let key: String }
        return try JSONDecoder().decode(Key.self, from: controlRequest("GET", "/_control/key")).key
    }

    /// A token minted by the server (not counted as issued through requestToken).
    func mintToken(ttl: Int64 = 600_000, clientId: String? = nil) throws -> TokenDetails {
        struct MintSpec: Encodable { let ttl: Int64; let clientId: String? }
        let spec = try JSONEncoder().encode(MintSpec(ttl: ttl, clientId: clientId))
        let json = String(decoding: spec, as: UTF8.self)
        return try JSONDecoder().decode(TokenDetails.self,
                                        from: controlRequest("POST", "/_control/mint", json: json))
    }

    func tokensIssued() throws -> Int {
        struct Stats: Decodable { let tokensIssued: Int }
        return try JSONDecoder().decode(Stats.self,
                                        from: controlRequest("GET", "/_control/stats")).tokensIssued
    }

    /// A fault rule (see tests/support/src/bin/ably-loopback-server.rs).
    func rule(_ json: String) throws {
        _ = try controlRequest("POST", "/_control/rule", json: json)
    }

    /// The server's clock runs `ms` ahead of the real one.
    func skew(_ ms: Int64) throws {
        _ = try controlRequest("POST", "/_control/skew", json: #"{"ms":\#(ms)}"#)
    }

    struct Request: Decodable {
        let method: String
        let path: String
        let query: [[String]]
        let headers: [[String]]
        let body: String
        func header(_ name: String) -> String? {
            headers.first { $0.first?.lowercased() == name.lowercased() }?.last
        }
    }

    /// Every request received (control requests excepted), in order.
    func requests() throws -> [Request] {
        try JSONDecoder().decode([Request].self, from: controlRequest("GET", "/_control/requests"))
    }

    /// Clears the rules and the recorded requests.
    func reset() throws {
        _ = try controlRequest("POST", "/_control/reset")
    }
}

/// Runs `body` in a Task and waits for it. The async tests use this instead of XCTest's
/// `async` test methods, whose support code leaks on Linux (LeakSanitizer would report it
/// in every run). Hang guard: 300 s.
func runAsync(file: StaticString = #filePath, line: UInt = #line,
              _ body: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Locked<Result<Void, Error>?>(nil)
    // The task takes `body` out, so that what it captures is released before `done` is
    // signalled (the memory tests check that with weak references right after).
    let pending = Locked<(@Sendable () async throws -> Void)?>(body)
    let done = DispatchSemaphore(value: 0)
    @Sendable func run() async -> Result<Void, Error> {
        var taken: (@Sendable () async throws -> Void)?
        pending.update { swap(&taken, &$0) }
        defer { taken = nil }
        do {
            try await taken?()
            return .success(())
        } catch {
            return .failure(error)
        }
    }
    let task = Task {
        let result = await run()
        outcome.update { $0 = result }
        done.signal()
    }
    if done.wait(timeout: .now() + 300) == .timedOut {
        task.cancel()
        XCTFail("hang guard: the async test did not end within 300 s", file: file, line: line)
        return
    }
    try outcome.get()?.get()
}

/// Asserts that `body` throws an AblyErrorInfo with `code`; returns it.
@discardableResult
func assertAblyErrorAsync<T>(_ code: Int, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () async throws -> T) async -> AblyErrorInfo? {
    do {
        _ = try await body()
        XCTFail("expected error \(code), got success", file: file, line: line)
    } catch let error as AblyErrorInfo {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected AblyErrorInfo \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// A value shared with callbacks that run on other threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    func update(_ change: (inout Value) -> Void) { lock.lock(); defer { lock.unlock() }; change(&value) }
}

/// Asserts that `body` throws an AblyErrorInfo with `code`; returns it.
@discardableResult
func assertAblyError<T>(_ code: Int, file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> T) -> AblyErrorInfo? {
    do {
        _ = try body()
        XCTFail("expected error \(code), got success", file: file, line: line)
    } catch let error as AblyErrorInfo {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected AblyErrorInfo \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// The payload of a JWT as a JSON object.
func jwtPart(_ jwt: String, _ index: Int) -> [String: Any]? {
    let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return nil }
    var base64 = parts[index].replacingOccurrences(of: "-", with: "+")
        .replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    guard let data = Data(base64Encoded: base64) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

/// A JSON number from JSONSerialization (NSNumber on Darwin and Linux alike).
func int64(_ value: Any?) -> Int64? {
    if let number = value as? NSNumber { return number.int64Value }
    if let int = value as? Int { return Int64(int) }
    return nil
}
