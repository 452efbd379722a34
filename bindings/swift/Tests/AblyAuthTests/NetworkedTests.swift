import AblyAuth
import Foundation
import XCTest

/// requestToken, authorize, the Authorization header, time, request, revokeTokens and the
/// async variants against the loopback server (skipped when ABLY_LOOPBACK_SERVER is unset).
final class NetworkedTests: LoopbackTestCase, @unchecked Sendable {
    /// The server's key with token auth (plain HTTP allows no Basic auth).
    func keyTokenAuth() throws -> AblyAuth {
        var options = server.options()
        options.key = try server.key()
        options.useTokenAuth = true
        return try AblyAuth(options: options)
    }

    func testRequestTokenWithKey() throws {
        let auth = try keyTokenAuth()
        let details = try auth.requestToken()
        XCTAssertTrue(details.token.hasPrefix("lbtk-"), details.token)
        XCTAssertGreaterThan(details.expires ?? 0, details.issued ?? .max)
        let carol = try auth.requestToken(TokenParams(ttl: 120_000, clientId: "carol"))
        XCTAssertEqual(carol.clientId, "carol")
        XCTAssertEqual((carol.expires ?? 0) - (carol.issued ?? 0), 120_000)
        XCTAssertNil(auth.tokenDetails, "requestToken does not store the token")
    }

    func testAuthorizeAndAuthorizationHeader() throws {
        let auth = try keyTokenAuth()
        let details = try auth.authorize(TokenParams(clientId: "erin"))
        XCTAssertEqual(auth.tokenDetails, details)
        XCTAssertEqual(auth.clientId, "erin")
        let header = try auth.authorizationHeader()
        XCTAssertEqual(header, "Bearer " + Data(details.token.utf8).base64EncodedString())
        // The cached token is reused; a rejected one is replaced.
        let issued = try server.tokensIssued()
        XCTAssertEqual(try auth.authorizationHeader(), header)
        try auth.tokenRejected(details.token)
        XCTAssertNotEqual(try auth.authorizationHeader(), header)
        XCTAssertEqual(try server.tokensIssued(), issued + 1)
    }

    func testAuthUrl() throws {
        var options = server.options()
        options.authUrl = "http://127.0.0.1:\(server.port)/auth/token-request"
        options.authParams = ["clientId": "frank"]
        options.authHeaders = ["X-Game": "42"]
        let auth = try AblyAuth(options: options)
        let details = try auth.authorize()
        XCTAssertEqual(details.clientId, "frank")
        XCTAssertTrue(details.token.hasPrefix("lbtk-"))
    }

    func testTime() throws {
        let auth = try keyTokenAuth()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertLessThan(abs(try auth.time() - now), 60_000)
    }

    func testRequestRenewsOnceOnTokenError() throws {
        let auth = try keyTokenAuth()
        let response = try auth.request("GET", path: "/channels/swift")
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.text.contains("swift"), response.text)
        XCTAssertNotNil(response.header("content-type"))
        let issued = try server.tokensIssued()
        try server.rule(#"""
            {"method":"GET","pathPrefix":"/channels/swift","times":1,
             "action":{"type":"ablyError","status":401,"code":40142,"message":"Token expired"}}
            """#)
        XCTAssertEqual(try auth.request("GET", path: "/channels/swift").status, 200)
        XCTAssertEqual(try server.tokensIssued(), issued + 1, "renewed once")

        let posted = try auth.request("POST", path: "/channels/swift/messages",
                                      headers: ["Content-Type": "application/json"],
                                      body: Data(#"{"name":"move","data":"e4"}"#.utf8))
        XCTAssertEqual(posted.status, 201)
        let missing = try auth.request("GET", path: "/nowhere")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.error?.code, 40400)
    }

    func testConnectionFailure() throws {
        let port = server.port
        server.stop()
        var options = AuthOptions(key: "appId.keyId:secret")
        options.useTokenAuth = true
        options.endpoint = "127.0.0.1"
        options.tls = false
        options.port = port
        options.requestTimeoutMs = 1000
        if let transport = Loopback.transport {
            options.httpTransport = transport
        } else {
            options.openTimeoutMs = 1000
        }
        let auth = try AblyAuth(options: options)
        assertAblyError(AblyErrorInfo.connectionFailed) { try auth.time() }
    }

    func testRevokeTokensOverTLS() throws {
        let key = try server.key()  // the TLS server has the same default key
        let tlsServer = try Loopback(tls: true)
        defer { tlsServer.stop() }
        var options = tlsServer.options()
        options.key = key
        #if os(Linux)
        if Loopback.transport != nil {
            // FoundationNetworking (libcurl) on Linux has no way to trust a private CA (no
            // server-trust challenge; it reads URLSessionCertificateAuthorityInfoFile only on
            // Android), so through URLSession only the refusal can be checked here.
            let refused = assertAblyError(AblyErrorInfo.connectionFailed) {
                try AblyAuth(options: options).revokeTokens(["clientId:alice"])
            }
            XCTAssertTrue(refused?.message.contains("URLSession") ?? false, "\(String(describing: refused))")
            throw XCTSkip("revokeTokens over TLS through URLSession: the loopback's CA cannot be trusted by URLSession on Linux")
        }
        #endif
        let auth = try AblyAuth(options: options)
        let result = try auth.revokeTokens(["clientId:alice", "bogus:x"], allowReauthMargin: true)
        XCTAssertEqual(result.successCount, 1)
        XCTAssertEqual(result.failureCount, 1)
        XCTAssertEqual(result.results.map(\.target), ["clientId:alice", "bogus:x"])
        let success = result.results[0]
        XCTAssertTrue(success.isSuccess)
        XCTAssertGreaterThan(success.appliesAt ?? 0, success.issuedBefore ?? .max)
        XCTAssertEqual(result.results[1].error?.code, 40000)

        // Without the server's CA, TLS fails.
        options.caPEMs = []
        let untrusting = try AblyAuth(options: options)
        assertAblyError(AblyErrorInfo.connectionFailed) {
            try untrusting.revokeTokens(["clientId:alice"])
        }
    }

    func testAsyncVariants() throws {
        try runAsync { [self] in
            let auth = try keyTokenAuth()
            async let time = auth.time()
            async let requested = auth.requestToken(TokenParams(clientId: "gina"))
            let details = try await auth.authorize()
            let header = try await auth.authorizationHeader()
            XCTAssertEqual(header, "Bearer " + Data(details.token.utf8).base64EncodedString())
            let serverTime = try await time  // XCTAssert's autoclosures cannot await
            let other = try await requested
            XCTAssertGreaterThan(serverTime, 0)
            XCTAssertEqual(other.clientId, "gina")
            let response = try await auth.request("GET", path: "/protected/x")
            XCTAssertEqual(response.status, 200)
            // An error answer is a response (RSC19d), not a thrown error.
            let missing = try await auth.request("GET", path: "/nowhere")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.error?.code, 40400)
        }
    }
}
