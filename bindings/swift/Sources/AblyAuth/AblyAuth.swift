import CAblyAuth
import Foundation

/// Ably token authentication for one key or token (`ably_auth`).
///
/// Thread-safe: share one instance between threads and tasks. The network calls
/// (`requestToken`, `authorize`, `authorizationHeader`, `revokeTokens`, `time`, `request`)
/// block the calling thread; their `async` overloads use the library's non-blocking calls
/// instead (they run on its worker threads and never block a Swift concurrency thread), and
/// cancelling the task cancels them (`CancellationError`). `shutdown` ends every call in
/// flight; `cachedAuthorizationHeader` never waits.
///
/// Closures given to it (authCallback, listeners, log) are kept until it is deallocated or
/// the listener is removed; capture the `AblyAuth` weakly in them to avoid a cycle.
public final class AblyAuth: @unchecked Sendable {  // immutable; ably_auth is thread-safe
    private let handle: OpaquePointer

    public init(options: AuthOptions) throws {
        let cOptions = try options.makeHandle()
        var out: OpaquePointer?
        try check(ably_auth_new(cOptions, &out))  // consumes cOptions, also on error
        guard let out else { throw AblyErrorInfo.internalFailure("ably_auth_new returned no handle") }
        handle = out
    }

    /// An Auth that signs with `key` (`appId.keyId:keySecret`).
    public convenience init(key: String, clientId: String? = nil) throws {
        try self.init(options: AuthOptions(key: key, clientId: clientId))
    }

    deinit {
        // Every call holds `self`, so none is under way here (an `async` call holds it
        // while it waits).
        ably_auth_free(handle)
    }

    /// The library's version, e.g. "0.1.0".
    public static var version: String { String(cString: ably_auth_version()) }

    // MARK: Offline issuing

    /// A signed TokenRequest (RSA9), no network I/O. nil params: the default token params.
    public func createTokenRequest(_ params: TokenParams? = nil) throws -> TokenRequest {
        let cParams = try params?.makeHandle()
        var out: OpaquePointer?
        try check(ably_auth_create_token_request(handle, cParams, &out))  // consumes cParams
        return try TokenRequest.take(out)
    }

    /// An Ably JWT (HS256) signed with the key, no network I/O.
    public func createJWT(_ params: TokenParams? = nil) throws -> String {
        let cParams = try params?.makeHandle()
        var out: UnsafeMutablePointer<CChar>?
        try check(ably_auth_create_jwt(handle, cParams, &out))  // consumes cParams
        guard let jwt = takeString(out) else { throw AblyErrorInfo.internalFailure("no JWT returned") }
        return jwt
    }

    // MARK: State

    /// `Auth#clientId` (RSA7b, RSA12): the options' clientId, else the token's.
    public var clientId: String? {
        var out: UnsafeMutablePointer<CChar>?
        try? check(ably_auth_client_id(handle, &out))  // fails only for NULL arguments
        return takeString(out)
    }

    /// `Auth#tokenDetails` (RSA16): the token in use; nil with Basic auth or before the first.
    public var tokenDetails: TokenDetails? {
        var out: OpaquePointer?
        try? check(ably_auth_token_details(handle, &out))  // fails only for NULL arguments
        return out.flatMap { try? TokenDetails.take($0) }
    }

    // MARK: Blocking network calls

    /// `requestToken` (RSA8): a new token from the authCallback, authUrl or key, not stored.
    /// `params` and `options` (its auth part) apply to this call only.
    public func requestToken(_ params: TokenParams? = nil,
                             options: AuthOptions? = nil) throws -> TokenDetails {
        try tokenCall(params, options) { ably_auth_request_token($0, $1, $2, $3) }
    }

    /// `authorize` (RSA10): a new token now, and token auth from then on; non-nil `params`
    /// and `options` become the defaults. Listeners hear the new token.
    public func authorize(_ params: TokenParams? = nil,
                          options: AuthOptions? = nil) throws -> TokenDetails {
        try tokenCall(params, options) { ably_auth_authorize($0, $1, $2, $3) }
    }

    /// The `Authorization` header value for a request now (`Basic …` or `Bearer …`),
    /// getting or renewing a token first when needed. A secret: do not log it.
    public func authorizationHeader() throws -> String {
        var out: UnsafeMutablePointer<CChar>?
        try check(ably_auth_authorization_header(handle, &out))
        guard let header = takeString(out) else { throw AblyErrorInfo.internalFailure("no header returned") }
        return header
    }

    /// A server rejected `token` (nil: the cached one) with 40140...40149 on a request you
    /// made yourself: it is dropped, so the next call gets a new one. Throws 40171 (after
    /// dropping it) when nothing can renew it. No network I/O.
    public func tokenRejected(_ token: String? = nil) throws {
        try check(ably_auth_token_rejected(handle, token))
    }

    /// `revokeTokens` (RSA17) for targets `type:value` (`clientId:alice`, `revocationKey:k`,
    /// `channel:c`); needs Basic auth with the key (else 40162).
    public func revokeTokens(_ targets: [String], issuedBefore: Int64? = nil,
                             allowReauthMargin: Bool? = nil) throws -> RevocationResult {
        var out: OpaquePointer?
        try withRevokeArgs(targets, issuedBefore, allowReauthMargin) { cTargets, count, before, margin in
            try check(ably_auth_revoke_tokens(handle, cTargets, count, before, margin, &out))
        }
        return try RevocationResult.take(out)
    }

    /// `time()` (RSC16): the server time in ms since the epoch (no credentials sent).
    public func time() throws -> Int64 {
        var ms: Int64 = 0
        try check(ably_auth_time(handle, &ms))
        return ms
    }

    /// An authenticated Ably REST request (RSC19) that renews the token once on a token
    /// error. `path` starts with `/` and is percent-encoded, as is `query` (`a=b&c=d`).
    /// Every answer is returned, whatever its status: one of 400 or more carries the server's
    /// error in `HTTPResponse.error`. Throws only when no usable answer arrives (bad
    /// arguments, a network failure, a token that could not be renewed).
    public func request(_ method: String, path: String, query: String? = nil,
                        headers: [String: String] = [:], body: Data? = nil) throws -> HTTPResponse {
        var out: OpaquePointer?
        try withRequestArgs(headers, body) { names, values, count, bytes, length in
            try check(ably_auth_request(handle, method, path, query, names, values, count,
                                        bytes, length, &out))
        }
        guard let out else { throw AblyErrorInfo.internalFailure("no response returned") }
        return HTTPResponse(out)
    }

    // MARK: Listeners

    /// Calls `listener` on every new token in use and every failure to get one, on the
    /// thread that caused it, with no library lock held. Returns an id for `removeListener`.
    @discardableResult
    public func addListener(_ listener: @escaping TokenListener) throws -> UInt64 {
        var id: UInt64 = 0
        // The box belongs to the C side from here, also if this fails (it releases it then).
        let box = Unmanaged.passRetained(Box<TokenListener>(listener)).toOpaque()
        try check(ably_auth_add_listener(handle, listenerTrampoline, box, releaseBox, &id))
        return id
    }

    /// Removes listener `id` (40003 when unknown); a call of it under way finishes first.
    public func removeListener(_ id: UInt64) throws {
        try check(ably_auth_remove_listener(handle, id))
    }

    // MARK: async variants (non-blocking; task cancellation cancels them)

    /// `requestToken` without blocking a thread: it runs on the library's worker threads
    /// (the authCallback too). Cancelling the task cancels it (`CancellationError`); it is
    /// also bounded by the blocking form's deadline (50003) and ended by `shutdown`
    /// (`AblyErrorInfo.cancelled`). The same holds for every `async` method here.
    public func requestToken(_ params: TokenParams? = nil,
                             options: AuthOptions? = nil) async throws -> TokenDetails {
        let (cParams, cOptions) = try makeTokenHandles(params, options)
        return try await runNonBlocking { box, call in  // consumes cParams and cOptions
            ably_auth_request_token_async(handle, cParams, cOptions, tokenDetailsDone, box, releaseBox, call)
        }
    }

    public func authorize(_ params: TokenParams? = nil,
                          options: AuthOptions? = nil) async throws -> TokenDetails {
        let (cParams, cOptions) = try makeTokenHandles(params, options)
        return try await runNonBlocking { box, call in  // consumes cParams and cOptions
            ably_auth_authorize_async(handle, cParams, cOptions, tokenDetailsDone, box, releaseBox, call)
        }
    }

    /// With a valid token cached it returns without waiting on the network.
    public func authorizationHeader() async throws -> String {
        try await runNonBlocking { box, call in
            ably_auth_authorization_header_async(handle, stringDone, box, releaseBox, call)
        }
    }

    public func revokeTokens(_ targets: [String], issuedBefore: Int64? = nil,
                             allowReauthMargin: Bool? = nil) async throws -> RevocationResult {
        try await runNonBlocking { box, call in
            withRevokeArgs(targets, issuedBefore, allowReauthMargin) { cTargets, count, before, margin in
                ably_auth_revoke_tokens_async(handle, cTargets, count, before, margin,
                                              revocationDone, box, releaseBox, call)
            }
        }
    }

    public func time() async throws -> Int64 {
        try await runNonBlocking { box, call in
            ably_auth_time_async(handle, timeDone, box, releaseBox, call)
        }
    }

    public func request(_ method: String, path: String, query: String? = nil,
                        headers: [String: String] = [:], body: Data? = nil) async throws -> HTTPResponse {
        try await runNonBlocking { box, call in
            withRequestArgs(headers, body) { names, values, count, bytes, length in
                ably_auth_request_async(handle, method, path, query, names, values, count, bytes,
                                        length, responseDone, box, releaseBox, call)
            }
        }
    }

    // MARK: Shutdown and the cache

    /// Ends every call in flight now: `async` calls throw `AblyErrorInfo.cancelled`, and
    /// from now on every network call throws `AblyErrorInfo.shutDown`; renewal ahead stops.
    /// Then waits up to `timeoutMs` (nil: no limit) for the library's threads; throws 50003
    /// when they outlast it (a thread in a network step ends with that step). Signing and
    /// the cached token keep working. Idempotent; the deinit does the same.
    public func shutdown(timeoutMs: Int64? = nil) throws {
        try check(ably_auth_shutdown(handle, timeoutMs ?? -1))
    }

    /// The `Authorization` header from the cache only: no network I/O and no wait, so a
    /// game loop may call it every frame. nil when no valid token is cached
    /// (`ABLY_ERR_NO_VALID_TOKEN`): then ask with `await authorizationHeader()`.
    public func cachedAuthorizationHeader() throws -> String? {
        var out: UnsafeMutablePointer<CChar>?
        do {
            try check(ably_auth_cached_authorization_header(handle, &out))
        } catch let error as AblyErrorInfo where error.code == AblyErrorInfo.noValidToken {
            return nil
        }
        return takeString(out)
    }

    // MARK: Private

    private typealias TokenFunction = (
        OpaquePointer?, OpaquePointer?, OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>
    ) -> UnsafeMutablePointer<ably_error_info>?

    /// requestToken/authorize: both builders are consumed by `call`, also on error.
    private func tokenCall(_ params: TokenParams?, _ options: AuthOptions?,
                           _ call: TokenFunction) throws -> TokenDetails {
        let (cParams, cOptions) = try makeTokenHandles(params, options)
        var out: OpaquePointer?
        try check(call(handle, cParams, cOptions, &out))
        return try TokenDetails.take(out)
    }

    /// The C builders of requestToken/authorize (NULL for nil), for a call that consumes both.
    private func makeTokenHandles(_ params: TokenParams?,
                                  _ options: AuthOptions?) throws -> (OpaquePointer?, OpaquePointer?) {
        let cParams = try params?.makeHandle()
        do {
            return (cParams, try options?.makeHandle())
        } catch {
            ably_token_params_free(cParams)
            throw error
        }
    }

    /// Calls `body` with the C arguments of revokeTokens (valid for the call only).
    private func withRevokeArgs<R>(
        _ targets: [String], _ issuedBefore: Int64?, _ allowReauthMargin: Bool?,
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, Int, Int64, Int32) throws -> R
    ) rethrows -> R {
        let margin: Int32 = allowReauthMargin.map { $0 ? 1 : 0 } ?? -1
        return try withCStringArray(targets) { cTargets, count in
            try body(cTargets, count, issuedBefore ?? -1, margin)
        }
    }

    /// Calls `body` with the C header arrays and body bytes of request (valid for the call only).
    private func withRequestArgs<R>(
        _ headers: [String: String], _ body: Data?,
        _ call: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?, Int,
                 UnsafePointer<UInt8>?, Int) throws -> R
    ) rethrows -> R {
        let pairs = Array(headers)
        return try withCStringArray(pairs.map { $0.key }) { names, count in
            try withCStringArray(pairs.map { $0.value }) { values, _ in
                try (body ?? Data()).withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                    try call(names, values, count, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count)
                }
            }
        }
    }
}
