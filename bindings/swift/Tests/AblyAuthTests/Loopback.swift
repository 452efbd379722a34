import AblyAuth
import Foundation
import XCTest

/// A test case with a fresh loopback server per test (`server`).
class LoopbackTestCase: XCTestCase {
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
final class Loopback {
    let port: Int
    let tls: Bool
    /// With TLS: the server's CA (PEM), to trust through `AuthOptions.caPEMs`.
    let caPEM: String?
    private let process: Process
    private let input: Pipe  // the server's stdin
    private var control: AblyAuth?
    private var stopped = false

    /// Throws XCTSkip when ABLY_LOOPBACK_SERVER is not set.
    init(tls: Bool = false) throws {
        guard let path = ProcessInfo.processInfo.environment["ABLY_LOOPBACK_SERVER"],
              !path.isEmpty else {
            throw XCTSkip("ABLY_LOOPBACK_SERVER is not set (bindings/swift/run-tests.sh sets it)")
        }
        var arguments = ["--exit-on-stdin-eof"]
        let caPath = NSTemporaryDirectory() + "ably-swift-ca-\(UUID().uuidString).pem"
        if tls { arguments += ["--tls", "--ca-out", caPath] }
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()

        // The first line is "LISTENING <base url>" (written after the CA file).
        var received = Data()
        while !received.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // EOF: the server exited
            received.append(chunk)
        }
        let line = String(decoding: received, as: UTF8.self)
            .split(separator: "\n").first.map(String.init) ?? ""
        guard line.hasPrefix("LISTENING "),
              let url = URL(string: String(line.dropFirst("LISTENING ".count))),
              let port = url.port else {
            try? input.fileHandleForWriting.close()
            process.terminate()
            throw AblyErrorInfo(code: 0, statusCode: 0, message: "loopback server said: \(line)")
        }
        var caPEM: String?
        if tls {
            caPEM = try? String(contentsOfFile: caPath, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: caPath)
        }
        self.port = port
        self.tls = tls
        self.caPEM = caPEM
        self.process = process
        self.input = input
    }

    deinit { stop() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        control = nil
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.waitUntilExit() }
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
