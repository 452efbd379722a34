import CAblyAuth
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// The host HTTP transport (`ably_auth_options_set_http_transport`): the library keeps what
// makes a request an Ably request (headers, fallback hosts, retries, token renewal, size
// limits, deadlines); the transport only moves bytes.

/// One HTTP request the library asks a transport to send (a copy of an `ably_http_exchange`).
public struct HTTPTransportRequest: Sendable {
    /// Never 0, never reused in the process: the id `HTTPTransport.cancel(id:)` names.
    public let id: UInt64
    public let method: String
    /// Absolute, query included. Do not follow redirects: the library does (authUrl).
    public let url: URL
    /// Send them as given, adding none. The `Authorization` value is a credential: never log it.
    public let headers: [(name: String, value: String)]
    public let body: Data?
    /// How long the library waits for the answer (ms): use it as the request's timeout.
    public let timeoutMs: Int64
    /// The longest body the library accepts; a longer answer fails the request (50000).
    public let maxResponseBytes: Int
    /// true: a request to the application's authUrl; false: to an Ably host.
    public let isAuthUrl: Bool
}

/// Why a transport got no (complete) HTTP response (`ABLY_HTTP_FAIL_*`). Host not found,
/// connection failures and timeouts let the library try a fallback host; TLS and other
/// failures do not.
public enum HTTPTransportFailure: Int32, Sendable {
    case hostNotFound = 1
    case connectionFailed = 2
    case timeout = 3
    case tls = 4
    case other = 5
}

/// The answer channel of one request: answer it exactly once, during `send` or later from
/// any thread. An answer the library no longer waits for (its deadline passed, or it was
/// cancelled) is refused and dropped; that is not an error for the transport. Released
/// unanswered, it answers `.other` itself, so the waiting call fails at once.
public final class HTTPTransportAnswer: @unchecked Sendable {  // `exchange` is guarded by `lock`
    private let lock = NSLock()
    private var exchange: OpaquePointer?

    init(_ exchange: OpaquePointer) { self.exchange = exchange }

    deinit {
        if let exchange {
            ably_error_info_free(ably_http_exchange_fail(
                exchange, HTTPTransportFailure.other.rawValue,
                "the Swift HTTP transport released the request without answering"))
        }
    }

    /// Answer with the response received (any status; the library decides about retries).
    /// Returns false when the answer was refused (already answered, or no longer awaited).
    @discardableResult
    public func respond(status: Int, headers: [(name: String, value: String)], body: Data) -> Bool {
        guard let exchange = take() else { return false }
        let error = withCStringArray(headers.map(\.name)) { names, count in
            withCStringArray(headers.map(\.value)) { values, _ in
                body.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                    ably_http_exchange_respond(
                        exchange, Int32(clamping: status), count == 0 ? nil : names,
                        count == 0 ? nil : values, count,
                        bytes.count == 0 ? nil : bytes.bindMemory(to: UInt8.self).baseAddress,
                        bytes.count)
                }
            }
        }
        defer { ably_error_info_free(error) }
        return error == nil
    }

    /// Answer with a connection-level failure; `message` must hold no credentials.
    @discardableResult
    public func fail(_ kind: HTTPTransportFailure, message: String) -> Bool {
        guard let exchange = take() else { return false }
        let error = ably_http_exchange_fail(exchange, kind.rawValue, message)
        defer { ably_error_info_free(error) }
        return error == nil
    }

    private func take() -> OpaquePointer? {
        lock.lock()
        defer { lock.unlock() }
        let taken = exchange
        exchange = nil
        return taken
    }
}

/// An HTTP client the library sends every request through (`AuthOptions.httpTransport`):
/// `URLSessionTransport`, or your own. Both methods run on library threads (the caller of a
/// blocking call, or a library worker), with no library lock held: return promptly.
public protocol HTTPTransport: Sendable {
    /// Start sending `request`; answer `answer` exactly once, now or later from any thread.
    /// Answering from the very thread that is blocked in a blocking call only works
    /// during `send`.
    func send(_ request: HTTPTransportRequest, answer: HTTPTransportAnswer)
    /// The library no longer waits for request `id` (its deadline passed, or the call was
    /// cancelled or shut down): abort it if you can. Only a hint, possibly concurrent with
    /// your answer; the request must still be answered.
    func cancel(id: UInt64)
}

extension HTTPTransport {
    public func cancel(id: UInt64) {}
}

// MARK: - URLSession

/// `HTTPTransport` over a `URLSession`: each request becomes a `URLSessionDataTask` with the
/// exchange's deadline as its timeout, and the library's cancel (deadline, `ably_call_cancel`
/// through task cancellation, shutdown) cancels that task. Redirects are handed back to the
/// library, which follows authUrl redirects itself.
///
/// TLS trust is the session's (the system's trust store, or your delegate on Apple
/// platforms); `AuthOptions.caPEMs` and `resolve` are options of the built-in client only.
public final class URLSessionTransport: HTTPTransport, @unchecked Sendable {  // state under `lock`
    private let session: URLSession
    private let lock = NSLock()
    private var tasks: [UInt64: URLSessionTask] = [:]
    /// Requests inside `send` before their task is registered, and those of them that the
    /// library cancelled meanwhile (the cancel may race `send` on another thread).
    private var starting: Set<UInt64> = []
    private var cancelledWhileStarting: Set<UInt64> = []

    /// A transport with its own ephemeral session (no cookies, no cache, no redirects).
    public convenience init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        self.init(configuration: configuration)
    }

    /// A transport with its own session made from `configuration`. (The session's delegate
    /// is the transport's, to hand redirects back to the library.)
    public init(configuration: URLSessionConfiguration) {
        session = URLSession(configuration: configuration, delegate: RedirectRefuser(),
                             delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    /// The URLSessionTasks started and not yet finished (for diagnostics and tests).
    public var tasksInFlight: Int {
        lock.lock()
        defer { lock.unlock() }
        return tasks.count
    }

    public func send(_ request: HTTPTransportRequest, answer: HTTPTransportAnswer) {
        lock.lock()
        starting.insert(request.id)
        lock.unlock()
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = max(Double(request.timeoutMs), 1) / 1000
        urlRequest.httpShouldHandleCookies = false
        for header in request.headers {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        urlRequest.httpBody = request.body
        let id = request.id
        let task = session.dataTask(with: urlRequest) { [weak self] data, response, error in
            self?.finished(id)
            if let response = response as? HTTPURLResponse, error == nil {
                var headers: [(name: String, value: String)] = []
                for (name, value) in response.allHeaderFields {
                    headers.append((name: "\(name)", value: "\(value)"))
                }
                answer.respond(status: response.statusCode, headers: headers, body: data ?? Data())
            } else {
                let (kind, message) = Self.failure(error)
                answer.fail(kind, message: message)
            }
        }
        lock.lock()
        starting.remove(id)
        let cancelled = cancelledWhileStarting.remove(id) != nil
        if !cancelled { tasks[id] = task }
        lock.unlock()
        task.resume()
        if cancelled { task.cancel() }  // it completes with URLError.cancelled
    }

    public func cancel(id: UInt64) {
        lock.lock()
        let task = tasks.removeValue(forKey: id)
        if task == nil && starting.contains(id) { cancelledWhileStarting.insert(id) }
        lock.unlock()
        task?.cancel()
    }

    private func finished(_ id: UInt64) {
        lock.lock()
        tasks.removeValue(forKey: id)
        lock.unlock()
    }

    /// The failure kind of a URLSession error; the message names the URLError code only
    /// (never the URL, whose query may carry credentials).
    static func failure(_ error: Error?) -> (HTTPTransportFailure, String) {
        guard let error = error as? URLError else {
            let what = error.map { String(describing: type(of: $0)) } ?? "no error"
            return (.other, "URLSession: \(what) and no HTTP response")
        }
        let kind: HTTPTransportFailure
        switch error.code {
        case .cannotFindHost, .dnsLookupFailed:
            kind = .hostNotFound
        case .cannotConnectToHost, .networkConnectionLost, .notConnectedToInternet,
             .badServerResponse, .resourceUnavailable:
            kind = .connectionFailed
        case .timedOut:
            kind = .timeout
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
             .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid,
             .clientCertificateRejected, .clientCertificateRequired:
            kind = .tls
        default:
            kind = .other
        }
        return (kind, "URLSession: URLError \(error.code.rawValue)")
    }
}

/// Hands a redirect back as the response (the library follows authUrl redirects itself).
private final class RedirectRefuser: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask,
                    willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest,
                    completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

// MARK: - C trampolines

let transportSendTrampoline: ably_http_send_fn = { userData, exchange in
    guard let exchange else { return }
    let answer = HTTPTransportAnswer(exchange)
    guard let userData, let request = readExchange(exchange) else {
        answer.fail(.other, message: "ably-auth Swift: could not read the request")
        return
    }
    Unmanaged<Box<any HTTPTransport>>.fromOpaque(userData).takeUnretainedValue().value
        .send(request, answer: answer)
}

let transportCancelTrampoline: ably_http_cancel_fn = { userData, id in
    guard let userData else { return }
    Unmanaged<Box<any HTTPTransport>>.fromOpaque(userData).takeUnretainedValue().value
        .cancel(id: id)
}

/// A copy of what the exchange holds (its strings are borrowed until it is answered).
private func readExchange(_ exchange: OpaquePointer) -> HTTPTransportRequest? {
    guard let method = borrowedString(ably_http_exchange_method(exchange)),
          let urlText = borrowedString(ably_http_exchange_url(exchange)),
          let url = URL(string: urlText) else { return nil }
    var headers: [(name: String, value: String)] = []
    for index in 0..<ably_http_exchange_header_count(exchange) {
        var name: UnsafePointer<CChar>?
        var value: UnsafePointer<CChar>?
        guard ably_http_exchange_header(exchange, index, &name, &value),
              let name, let value else { return nil }
        headers.append((name: String(cString: name), value: String(cString: value)))
    }
    var length = 0
    let bytes = ably_http_exchange_body(exchange, &length)
    let body = bytes.map { Data(bytes: $0, count: length) }
    return HTTPTransportRequest(
        id: ably_http_exchange_id(exchange), method: method, url: url, headers: headers,
        body: body, timeoutMs: ably_http_exchange_timeout_ms(exchange),
        maxResponseBytes: ably_http_exchange_max_response_bytes(exchange),
        isAuthUrl: ably_http_exchange_purpose(exchange) == ABLY_HTTP_PURPOSE_AUTH_URL)
}
