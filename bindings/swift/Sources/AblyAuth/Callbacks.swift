import CAblyAuth
import Foundation

public typealias LogHandler = @Sendable (LogLevel, String) -> Void
/// Hears every new token in use (`.success`) and every failure to get one (`.failure`).
public typealias TokenListener = @Sendable (Result<TokenDetails, AblyErrorInfo>) -> Void

/// What an authCallback answers with (RSA8d).
public enum AuthAnswer: Sendable {
    /// An Ably token or a JWT.
    case token(String)
    case tokenDetails(TokenDetails)
    /// A signed TokenRequest (e.g. from your server), which the library exchanges for a token.
    case tokenRequest(TokenRequest)
    /// TokenDetails or TokenRequest JSON text, as your server sent it.
    case json(String)
}

/// The authCallback (AO2b): called with the TokenParams of the request whenever a token is
/// needed, on the thread of the call that needs it (for the `async` methods: a worker
/// thread of the library), with no library lock held.
public struct AuthCallback: Sendable {
    let body: @Sendable (TokenParams, AuthCompletion) -> Void

    /// Answer `completion` exactly once, during the call or later from any thread. A
    /// completion released unanswered fails the waiting call with 40170.
    public init(_ body: @escaping @Sendable (TokenParams, AuthCompletion) -> Void) {
        self.body = body
    }

    /// Answered on the calling thread. A thrown error fails the waiting call: an
    /// `AblyErrorInfo` as it is, any other error as 40170 with its description.
    public static func sync(
        _ body: @escaping @Sendable (TokenParams) throws -> AuthAnswer
    ) -> AuthCallback {
        AuthCallback { params, completion in
            completion.complete(Result { try body(params) })
        }
    }

    /// Answered from a `Task`, e.g. after an `await`ed request to your server. Errors as
    /// for `sync`.
    public static func async(
        _ body: @escaping @Sendable (TokenParams) async throws -> AuthAnswer
    ) -> AuthCallback {
        AuthCallback { params, completion in
            Task {
                do {
                    completion.complete(.success(try await body(params)))
                } catch {
                    completion.complete(.failure(error))
                }
            }
        }
    }
}

/// The answer channel of one authCallback call (`ably_auth_completion`). Answer it once,
/// from any thread; if it is released unanswered it answers 40170 itself.
public final class AuthCompletion: @unchecked Sendable {  // `handle` is guarded by `lock`
    private let lock = NSLock()
    private var handle: OpaquePointer?

    init(_ handle: OpaquePointer) { self.handle = handle }

    deinit {
        if let handle {
            ably_error_info_free(ably_auth_completion_answer_error(
                handle, 0, 401, "the authCallback released its completion without answering"))
        }
    }

    /// Answer with a token, TokenDetails or TokenRequest. Throws 40003 when the completion
    /// was already answered, 40170 when the waiting call gave up (the request timeout passed).
    public func answer(_ answer: AuthAnswer) throws {
        let text: String
        var isToken = false
        switch answer {
        case .token(let token):
            text = token
            isToken = true
        case .json(let json):
            text = json
        case .tokenDetails(let details):
            do { text = try encodeJSON(details) } catch { return try fail(error) }
        case .tokenRequest(let request):
            do { text = try encodeJSON(request) } catch { return try fail(error) }
        }
        let completion = try take()
        if isToken {
            try check(ably_auth_completion_answer_token(completion, text))
        } else {
            try check(ably_auth_completion_answer_json(completion, text))
        }
    }

    /// Answer with an error: the waiting call fails with it (an `AblyErrorInfo` keeps its
    /// code; any other error becomes 40170 with its description). Throws as `answer`.
    public func fail(_ error: Error) throws {
        let code: Int32, status: Int32, message: String
        if let error = error as? AblyErrorInfo {
            code = Int32(clamping: max(error.code, 0))
            status = Int32(clamping: min(max(error.statusCode, 0), 599))
            message = error.message
        } else {
            code = 0  // the library makes it 40170, keeping the message (RSA4e)
            status = 401
            message = String(describing: error)
        }
        let completion = try take()
        try check(ably_auth_completion_answer_error(completion, code, status, message))
    }

    /// Answer, ignoring a refusal (answered twice, or too late: the waiting call has
    /// already failed with 40170, so there is no one to tell).
    func complete(_ result: Result<AuthAnswer, Error>) {
        switch result {
        case .success(let answer): try? self.answer(answer)
        case .failure(let error): try? fail(error)
        }
    }

    private func take() throws -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        guard let completion = handle else {
            throw AblyErrorInfo(code: AblyErrorInfo.invalidArgument, statusCode: 0,
                                message: "this authCallback completion was already answered")
        }
        handle = nil
        return completion
    }
}

// MARK: - C trampolines
//
// The C side holds each Swift closure as a retained `Box` (`user_data`) and runs `releaseBox`
// (`free_user_data`) exactly once: when the listener is removed, the Auth or unused options
// are freed, the callback is replaced, or at once when the registration fails. So a failed
// registration is never released here too. The trampolines are non-throwing Swift: no Swift
// error can cross into the library; callback errors become error answers.

final class Box<Value>: @unchecked Sendable {  // holds only @Sendable closures and structs
    let value: Value
    init(_ value: Value) { self.value = value }
}

let releaseBox: ably_free_fn = { userData in
    guard let userData else { return }
    Unmanaged<AnyObject>.fromOpaque(userData).release()
}

let authCallbackTrampoline: ably_auth_callback_fn = { userData, paramsJSON, completion in
    guard let completion else { return }
    let answer = AuthCompletion(completion)
    guard let userData, let paramsJSON,
          let params = try? JSONDecoder().decode(
              TokenParams.self, from: Data(String(cString: paramsJSON).utf8))
    else {
        answer.complete(.failure(AblyErrorInfo(
            code: AblyErrorInfo.authCallbackFailed, statusCode: 401,
            message: "ably-auth Swift: could not read the authCallback's TokenParams")))
        return
    }
    Unmanaged<Box<AuthCallback>>.fromOpaque(userData).takeUnretainedValue().value
        .body(params, answer)
}

let listenerTrampoline: ably_auth_listener_fn = { userData, details, error in
    guard let userData else { return }
    let listener = Unmanaged<Box<TokenListener>>.fromOpaque(userData).takeUnretainedValue().value
    if let details {
        listener(.success(TokenDetails(details)))
    } else if let error {
        listener(.failure(AblyErrorInfo(error)))
    }
}

let logTrampoline: ably_log_fn = { userData, level, message in
    guard let userData, let message else { return }
    let log = Unmanaged<Box<LogHandler>>.fromOpaque(userData).takeUnretainedValue().value
    log(LogLevel(rawValue: level) ?? .verbose, String(cString: message))
}
