import CAblyAuth
import Foundation

/// An Ably ErrorInfo (TI1): what every throwing call of this package throws.
///
/// `code` is the Ably error code (e.g. 40140 for a token error, 40003 for an invalid
/// argument), `statusCode` the HTTP status (0 when none applies). Messages never contain a
/// key secret, token or mac.
public struct AblyErrorInfo: Error, Sendable, CustomStringConvertible {
    public let code: Int
    public let statusCode: Int
    public let message: String
    public let href: String?
    /// The underlying error, e.g. the authUrl's HTTP error under a 40170.
    public var cause: AblyErrorInfo? { causeBox?.value }

    private let causeBox: CauseBox?

    public init(code: Int, statusCode: Int, message: String, href: String? = nil,
                cause: AblyErrorInfo? = nil) {
        self.code = code
        self.statusCode = statusCode
        self.message = message
        self.href = href
        self.causeBox = cause.map(CauseBox.init)
    }

    /// A copy of a C error (and its cause chain); the C error stays the caller's.
    init(_ error: UnsafePointer<ably_error_info>) {
        let e = error.pointee
        self.init(code: Int(e.code),
                  statusCode: Int(e.status_code),
                  message: e.message.map { String(cString: $0) } ?? "",
                  href: e.href.map { String(cString: $0) },
                  cause: e.cause.map { AblyErrorInfo($0) })
    }

    /// 40140...40149: the server rejected the token; renew it (`tokenRejected`) and retry.
    public var isTokenError: Bool {
        (Int(ABLY_ERR_TOKEN_ERROR_FIRST)...Int(ABLY_ERR_TOKEN_ERROR_LAST)).contains(code)
    }

    public var description: String {
        var text = "AblyErrorInfo(code: \(code), statusCode: \(statusCode), message: \(message)"
        if let href { text += ", href: \(href)" }
        if let cause { text += ", cause: \(cause)" }
        return text + ")"
    }

    // The codes of include/ably_auth.h (ABLY_ERR_*).
    public static let badRequest = Int(ABLY_ERR_BAD_REQUEST)
    public static let invalidArgument = Int(ABLY_ERR_INVALID_ARGUMENT)
    public static let invalidClientId = Int(ABLY_ERR_INVALID_CLIENT_ID)
    public static let invalidCredentials = Int(ABLY_ERR_INVALID_CREDENTIALS)
    public static let incompatibleCredentials = Int(ABLY_ERR_INCOMPATIBLE_CREDENTIALS)
    public static let noAuthMethod = Int(ABLY_ERR_NO_AUTH_METHOD)
    public static let insecureBasicAuth = Int(ABLY_ERR_INSECURE_BASIC_AUTH)
    public static let timestampNotCurrent = Int(ABLY_ERR_TIMESTAMP_NOT_CURRENT)
    public static let requiresBasicAuth = Int(ABLY_ERR_REQUIRES_BASIC_AUTH)
    public static let authCallbackFailed = Int(ABLY_ERR_AUTH_CALLBACK_FAILED)
    public static let tokenRenewalNotConfigured = Int(ABLY_ERR_TOKEN_RENEWAL_NOT_CONFIGURED)
    public static let internalError = Int(ABLY_ERR_INTERNAL)
    public static let timeout = Int(ABLY_ERR_TIMEOUT)
    public static let connectionFailed = Int(ABLY_ERR_CONNECTION_FAILED)
    /// The library's own codes (status 0).
    public static let reentrantCall = Int(ABLY_ERR_REENTRANT_CALL)
    public static let cancelled = Int(ABLY_ERR_CANCELLED)
    public static let shutDown = Int(ABLY_ERR_SHUT_DOWN)
    public static let noValidToken = Int(ABLY_ERR_NO_VALID_TOKEN)

    static func internalFailure(_ message: String) -> AblyErrorInfo {
        AblyErrorInfo(code: internalError, statusCode: 500, message: message)
    }
}

extension AblyErrorInfo: LocalizedError {
    public var errorDescription: String? { description }
}

private final class CauseBox: Sendable {
    let value: AblyErrorInfo
    init(_ value: AblyErrorInfo) { self.value = value }
}

// MARK: - C glue shared by the package

/// Throws (a copy of) the error a C call returned, after freeing it; returns on NULL.
func check(_ error: UnsafeMutablePointer<ably_error_info>?) throws {
    guard let error else { return }
    defer { ably_error_info_free(error) }
    throw AblyErrorInfo(UnsafePointer(error))
}

/// An owned `char *` result as a String, freed (and wiped) with `ably_string_free`.
func takeString(_ text: UnsafeMutablePointer<CChar>?) -> String? {
    guard let text else { return nil }
    defer { ably_string_free(text) }
    return String(cString: text)
}

/// A borrowed `const char *` as a String.
func borrowedString(_ text: UnsafePointer<CChar>?) -> String? {
    text.map { String(cString: $0) }
}

/// Calls `body` with a C array of `strings` (`const char *const *` and its count), valid for
/// the call only.
func withCStringArray<R>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>?, Int) throws -> R
) rethrows -> R {
    let owned: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { owned.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = owned.map { $0.map { UnsafePointer($0) } }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress, $0.count) }
}
