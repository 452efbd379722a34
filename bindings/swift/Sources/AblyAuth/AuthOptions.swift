import CAblyAuth
import Foundation

/// Options for `AblyAuth(options:)` (ClientOptions/AuthOptions, TO3 and AO2). Also the
/// `options` of `requestToken` and `authorize`, of which only the auth part (key, token,
/// authUrl and its method/headers/params, authCallback, queryTime) is used.
///
/// nil, empty or default fields are not passed to the library, so its defaults apply.
/// Durations are milliseconds.
public struct AuthOptions: Sendable {
    /// `appId.keyId:keySecret` (TO3j1).
    public var key: String?
    /// A token string (an Ably token or a JWT) to authenticate with (TO3j2).
    public var token: String?
    /// A TokenDetails to authenticate with (TO3j3).
    public var tokenDetails: TokenDetails?
    /// The client identity (TO3a, RSA7).
    public var clientId: String?
    /// Token auth even when only a key is given (TO3j4).
    public var useTokenAuth = false
    /// Used whenever a call passes no TokenParams (TO3j11); no timestamp or nonce.
    public var defaultTokenParams: TokenParams?
    /// A URL answering with a token, TokenDetails or TokenRequest (AO2c, RSA8c).
    public var authUrl: String?
    /// `"GET"` (the default) or `"POST"` (AO2d).
    public var authMethod: String?
    /// Headers sent to the authUrl (AO2e).
    public var authHeaders: [String: String] = [:]
    /// Query (GET) or form (POST) parameters sent to the authUrl (AO2f).
    public var authParams: [String: String] = [:]
    /// Where tokens come from (AO2b, RSA8d); wins over the authUrl.
    public var authCallback: AuthCallback?
    /// Ask Ably for the time before signing a TokenRequest (AO2g).
    public var queryTime = false
    /// A routing policy id, `nonprod:<id>`, or a host name (REC1b).
    public var endpoint: String?
    public var environment: String?
    public var restHost: String?
    /// nil: the defaults; `[]`: no fallback (REC2a).
    public var fallbackHosts: [String]?
    /// false: plain HTTP (Basic auth then refused, 40103).
    public var tls = true
    public var port: Int?
    public var tlsPort: Int?
    /// Connection-open timeout (default 4000 ms).
    public var openTimeoutMs: Int64?
    /// Whole-request timeout (default 10000 ms); also bounds how long an authCallback may
    /// take to answer.
    public var requestTimeoutMs: Int64?
    /// Extra CAs to trust (PEM text), besides Mozilla's roots.
    public var caPEMs: [String] = []
    /// host → `ip:port`, instead of DNS (like curl's --resolve).
    public var resolve: [String: String] = [:]
    /// A token counts as expired this long before `expires` (default 15000 ms).
    public var tokenExpiryMarginMs: Int64?
    public var fallbackRetryTimeoutMs: Int64?
    public var maxRetryCount: Int?
    /// `name/version` entries for the `Ably-Agent` header.
    public var agents: [String] = []
    public var addRequestIds = false
    /// Worker threads for the `async` calls and renewal ahead (default 2, 1...16); one more
    /// library thread delivers their outcomes. Started on first use.
    public var workerThreads: Int?
    /// Renew the token in the background before it expires (default true): after the
    /// first token, `authorizationHeader` does not wait on the network while one is valid.
    public var renewAhead = true
    /// Log lines from `logLevel` up; they never contain a key secret, token or mac. Called
    /// on any thread.
    public var logHandler: LogHandler?
    public var logLevel: LogLevel = .info
    /// Send every request through this HTTP client instead of the built-in one, e.g.
    /// `URLSessionTransport()`. The request timeout applies to each request; options only
    /// the built-in client honours (`caPEMs`, `resolve`, `openTimeoutMs`) are then refused
    /// (40000): configure them in the transport.
    public var httpTransport: (any HTTPTransport)?

    public init(key: String? = nil, token: String? = nil, clientId: String? = nil,
                authUrl: String? = nil, authCallback: AuthCallback? = nil) {
        self.key = key
        self.token = token
        self.clientId = clientId
        self.authUrl = authUrl
        self.authCallback = authCallback
    }

    /// A new `ably_auth_options` builder; the caller passes it to a consuming call.
    func makeHandle() throws -> OpaquePointer {
        guard let options = ably_auth_options_new() else {
            throw AblyErrorInfo.internalFailure("ably_auth_options_new returned NULL")
        }
        do {
            try apply(to: options)
        } catch {
            ably_auth_options_free(options)  // also releases callback boxes set so far
            throw error
        }
        return options
    }

    private func apply(to o: OpaquePointer) throws {
        if let key { try check(ably_auth_options_set_key(o, key)) }
        if let clientId { try check(ably_auth_options_set_client_id(o, clientId)) }
        if let token { try check(ably_auth_options_set_token(o, token)) }
        if let tokenDetails {
            let details = try tokenDetails.makeHandle()
            defer { ably_token_details_free(details) }  // copied, not consumed
            try check(ably_auth_options_set_token_details(o, details))
        }
        if useTokenAuth { try check(ably_auth_options_set_use_token_auth(o, true)) }
        if let defaultTokenParams {
            let params = try defaultTokenParams.makeHandle()
            try check(ably_auth_options_set_default_token_params(o, params))  // consumes params
        }
        if let authUrl { try check(ably_auth_options_set_auth_url(o, authUrl)) }
        if let authMethod { try check(ably_auth_options_set_auth_method(o, authMethod)) }
        for (name, value) in authHeaders {
            try check(ably_auth_options_add_auth_header(o, name, value))
        }
        for (name, value) in authParams {
            try check(ably_auth_options_add_auth_param(o, name, value))
        }
        if let authCallback {
            // The C side owns the retained box from here on, also when this call fails: it
            // then runs releaseBox at once, so nothing is released here.
            let box = Unmanaged.passRetained(Box<AuthCallback>(authCallback)).toOpaque()
            try check(ably_auth_options_set_auth_callback(o, authCallbackTrampoline, box, releaseBox))
        }
        if queryTime { try check(ably_auth_options_set_query_time(o, true)) }
        if let endpoint { try check(ably_auth_options_set_endpoint(o, endpoint)) }
        if let environment { try check(ably_auth_options_set_environment(o, environment)) }
        if let restHost { try check(ably_auth_options_set_rest_host(o, restHost)) }
        if let fallbackHosts {
            try withCStringArray(fallbackHosts) { hosts, count in
                try check(ably_auth_options_set_fallback_hosts(o, hosts, count))
            }
        }
        if !tls { try check(ably_auth_options_set_tls(o, false)) }
        if let port { try check(ably_auth_options_set_port(o, Int32(clamping: port))) }
        if let tlsPort { try check(ably_auth_options_set_tls_port(o, Int32(clamping: tlsPort))) }
        if openTimeoutMs != nil || requestTimeoutMs != nil {
            try check(ably_auth_options_set_timeouts(o, openTimeoutMs ?? 4000,
                                                     requestTimeoutMs ?? 10000))
        }
        for pem in caPEMs { try check(ably_auth_options_add_ca_pem(o, pem)) }
        for (host, address) in resolve {
            try check(ably_auth_options_add_resolve(o, host, address))
        }
        if let tokenExpiryMarginMs {
            try check(ably_auth_options_set_token_expiry_margin(o, tokenExpiryMarginMs))
        }
        if let fallbackRetryTimeoutMs {
            try check(ably_auth_options_set_fallback_retry_timeout(o, fallbackRetryTimeoutMs))
        }
        if let maxRetryCount {
            try check(ably_auth_options_set_max_retry_count(o, Int32(clamping: maxRetryCount)))
        }
        for agent in agents { try check(ably_auth_options_add_agent(o, agent)) }
        if addRequestIds { try check(ably_auth_options_set_add_request_ids(o, true)) }
        if let workerThreads {
            try check(ably_auth_options_set_worker_threads(o, Int32(clamping: workerThreads)))
        }
        if !renewAhead { try check(ably_auth_options_set_renew_ahead(o, false)) }
        if let httpTransport {
            // Owned by the C side from here, also when this fails (released at once then).
            let box = Unmanaged.passRetained(Box<any HTTPTransport>(httpTransport)).toOpaque()
            try check(ably_auth_options_set_http_transport(
                o, transportSendTrampoline, transportCancelTrampoline, box, releaseBox))
        }
        if let logHandler {
            let box = Unmanaged.passRetained(Box<LogHandler>(logHandler)).toOpaque()
            try check(ably_auth_options_set_log(o, logTrampoline, logLevel.rawValue, box, releaseBox))
        }
    }
}
