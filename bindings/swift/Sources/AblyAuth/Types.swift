import CAblyAuth
import Foundation

// Times are milliseconds since the epoch and durations milliseconds, as in Ably's wire
// format and the C API. The JSON forms (Codable) use Ably's field names.

/// TokenParams (TK2): every field optional; unset ones are left to Ably or the library.
public struct TokenParams: Codable, Hashable, Sendable {
    /// Lifetime in ms (TK2a); unset: Ably's 60 minutes.
    public var ttl: Int64?
    /// Capability JSON text, e.g. `{"chat:*":["publish","subscribe"]}` (TK2b).
    public var capability: String?
    /// The token's clientId (TK2c); `"*"` issues a wildcard token.
    public var clientId: String?
    /// ms since the epoch (TK2d); unset: now.
    public var timestamp: Int64?
    /// Replay-protection nonce (TK2e); unset: a random one.
    public var nonce: String?
    /// JWTs only (`createJWT`): the `x-ably-revocation-key` claim, so that every JWT with
    /// the same key can be revoked at once (`revocationKey:<key>`). Other calls refuse
    /// params that set it (40003).
    public var revocationKey: String?

    public init(ttl: Int64? = nil, capability: String? = nil, clientId: String? = nil,
                timestamp: Int64? = nil, nonce: String? = nil, revocationKey: String? = nil) {
        self.ttl = ttl
        self.capability = capability
        self.clientId = clientId
        self.timestamp = timestamp
        self.nonce = nonce
        self.revocationKey = revocationKey
    }

    /// A new `ably_token_params` builder; the caller passes it to a consuming call.
    func makeHandle() throws -> OpaquePointer {
        guard let params = ably_token_params_new() else {
            throw AblyErrorInfo.internalFailure("ably_token_params_new returned NULL")
        }
        do {
            if let ttl { try check(ably_token_params_set_ttl(params, ttl)) }
            if let capability { try check(ably_token_params_set_capability(params, capability)) }
            if let clientId { try check(ably_token_params_set_client_id(params, clientId)) }
            if let timestamp { try check(ably_token_params_set_timestamp(params, timestamp)) }
            if let nonce { try check(ably_token_params_set_nonce(params, nonce)) }
            if let revocationKey {
                try check(ably_token_params_set_revocation_key(params, revocationKey))
            }
        } catch {
            ably_token_params_free(params)
            throw error
        }
        return params
    }
}

/// TokenDetails (TD1): a token (an Ably token or a JWT) and its metadata.
public struct TokenDetails: Codable, Hashable, Sendable {
    public var token: String
    /// Expiry, ms since the epoch (TD3).
    public var expires: Int64?
    /// Issue time, ms since the epoch (TD4).
    public var issued: Int64?
    /// Capability JSON text (TD5).
    public var capability: String?
    public var clientId: String?

    public init(token: String, expires: Int64? = nil, issued: Int64? = nil,
                capability: String? = nil, clientId: String? = nil) {
        self.token = token
        self.expires = expires
        self.issued = issued
        self.capability = capability
        self.clientId = clientId
    }

    /// A copy of a borrowed `ably_token_details`.
    init(_ details: OpaquePointer) {
        let expires = ably_token_details_expires(details)
        let issued = ably_token_details_issued(details)
        self.init(token: borrowedString(ably_token_details_token(details)) ?? "",
                  expires: expires == 0 ? nil : expires,
                  issued: issued == 0 ? nil : issued,
                  capability: borrowedString(ably_token_details_capability(details)),
                  clientId: borrowedString(ably_token_details_client_id(details)))
    }

    /// Copies and frees an owned `ably_token_details` out-parameter.
    static func take(_ details: OpaquePointer?) throws -> TokenDetails {
        guard let details else { throw AblyErrorInfo.internalFailure("no TokenDetails returned") }
        defer { ably_token_details_free(details) }
        return TokenDetails(details)
    }

    /// A new `ably_token_details` for this value, to free with `ably_token_details_free`.
    func makeHandle() throws -> OpaquePointer {
        var out: OpaquePointer?
        try check(ably_token_details_from_json(try encodeJSON(self), &out))
        guard let out else { throw AblyErrorInfo.internalFailure("no TokenDetails returned") }
        return out
    }
}

/// A TokenRequest (TE1): what a server signs with its key and hands to a client, which
/// exchanges it with Ably for a token. Encode it with `JSONEncoder` to send it.
public struct TokenRequest: Codable, Hashable, Sendable {
    public var keyName: String
    public var ttl: Int64?
    /// Canonical capability JSON text (TE3).
    public var capability: String?
    public var clientId: String?
    public var timestamp: Int64
    public var nonce: String
    /// Base64 HMAC-SHA256 signature (TE2).
    public var mac: String?

    public init(keyName: String, ttl: Int64? = nil, capability: String? = nil,
                clientId: String? = nil, timestamp: Int64, nonce: String, mac: String? = nil) {
        self.keyName = keyName
        self.ttl = ttl
        self.capability = capability
        self.clientId = clientId
        self.timestamp = timestamp
        self.nonce = nonce
        self.mac = mac
    }

    /// The compact JSON the library POSTs to `/keys/{keyName}/requestToken` (ttl and
    /// timestamp numbers, absent fields left out): the same bytes the C API's
    /// `ably_token_request_to_json` gives. (`JSONEncoder` gives the same fields, but escapes
    /// `/` and may order keys differently.)
    public func jsonString() throws -> String {
        var handle: OpaquePointer?
        try check(ably_token_request_from_json(try encodeJSON(self), &handle))
        defer { ably_token_request_free(handle) }
        var out: UnsafeMutablePointer<CChar>?
        try check(ably_token_request_to_json(handle, &out))
        guard let json = takeString(out) else { throw AblyErrorInfo.internalFailure("no JSON returned") }
        return json
    }

    /// Copies and frees an owned `ably_token_request` out-parameter.
    static func take(_ request: OpaquePointer?) throws -> TokenRequest {
        guard let request else { throw AblyErrorInfo.internalFailure("no TokenRequest returned") }
        defer { ably_token_request_free(request) }
        let ttl = ably_token_request_ttl(request)
        return TokenRequest(keyName: borrowedString(ably_token_request_key_name(request)) ?? "",
                            ttl: ttl == 0 ? nil : ttl,
                            capability: borrowedString(ably_token_request_capability(request)),
                            clientId: borrowedString(ably_token_request_client_id(request)),
                            timestamp: ably_token_request_timestamp(request),
                            nonce: borrowedString(ably_token_request_nonce(request)) ?? "",
                            mac: borrowedString(ably_token_request_mac(request)))
    }
}

/// The outcome of `revokeTokens` (RSA17): one entry per target, in the server's order.
public struct RevocationResult: Sendable {
    public struct Entry: Sendable {
        /// `type:value`, e.g. `clientId:alice`.
        public let target: String
        /// ms since the epoch; nil for a failure.
        public let issuedBefore: Int64?
        /// When the revocation takes effect, ms since the epoch; nil for a failure.
        public let appliesAt: Int64?
        /// Why this target failed; nil for a success.
        public let error: AblyErrorInfo?
        public var isSuccess: Bool { error == nil }
    }

    public let successCount: Int
    public let failureCount: Int
    public let results: [Entry]

    /// Copies and frees an owned `ably_revocation_result`.
    static func take(_ result: OpaquePointer?) throws -> RevocationResult {
        guard let result else { throw AblyErrorInfo.internalFailure("no revocation result returned") }
        defer { ably_revocation_result_free(result) }
        let entries = (0..<ably_revocation_result_len(result)).map { i -> Entry in
            let error = ably_revocation_result_error(result, i).map { AblyErrorInfo($0) }
            let issuedBefore = ably_revocation_result_issued_before(result, i)
            let appliesAt = ably_revocation_result_applies_at(result, i)
            return Entry(target: borrowedString(ably_revocation_result_target(result, i)) ?? "",
                         issuedBefore: error == nil && issuedBefore != 0 ? issuedBefore : nil,
                         appliesAt: error == nil && appliesAt != 0 ? appliesAt : nil,
                         error: error)
        }
        return RevocationResult(successCount: ably_revocation_result_success_count(result),
                                failureCount: ably_revocation_result_failure_count(result),
                                results: entries)
    }
}

/// The server's answer to `AblyAuth.request`, whatever its status; `error` is Ably's
/// ErrorInfo for one with status 400 or more (its headers, e.g. `Retry-After`, and body stay
/// readable). The C API looks headers up by name and cannot list them, so the response
/// keeps its C handle for `header(_:)`.
public final class HTTPResponse: @unchecked Sendable {  // immutable; the C handle is read-only
    private let handle: OpaquePointer
    public let status: Int
    public let body: Data
    public let error: AblyErrorInfo?

    init(_ handle: OpaquePointer) {
        self.handle = handle
        status = Int(ably_http_response_status(handle))
        if let e = ably_http_response_error(handle) {
            error = AblyErrorInfo(UnsafePointer(e))
            ably_error_info_free(e)
        } else {
            error = nil
        }
        var length = 0
        if let bytes = ably_http_response_body(handle, &length), length > 0 {
            body = Data(bytes: bytes, count: length)
        } else {
            body = Data()
        }
    }

    deinit { ably_http_response_free(handle) }

    /// The value of the first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        borrowedString(ably_http_response_header(handle, name))
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

public enum LogLevel: Int32, Sendable {
    case error = 1, warn, info, debug, verbose
}

func encodeJSON<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
}
