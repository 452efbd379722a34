import AblyAuth
import Foundation
import XCTest

/// The networked flows of the C++ and Go suites: authUrl GET and POST and its answers,
/// renewal on every token error, clock skew, the error cause chain.
final class FlowTests: LoopbackTestCase, @unchecked Sendable {
    func authUrlAuth(_ what: String, method: String? = nil) throws -> AblyAuth {
        var options = server.options()
        options.authUrl = "http://127.0.0.1:\(server.port)/auth/\(what)"
        options.authMethod = method
        options.authParams = ["clientId": "frank", "ttl": "90000"]
        options.authHeaders = ["X-Game": "42"]
        return try AblyAuth(options: options)
    }

    func testAuthUrlGETSendsParamsInTheQuery() throws {
        let details = try authUrlAuth("token-request").authorize()
        XCTAssertEqual(details.clientId, "frank")
        XCTAssertEqual((details.expires ?? 0) - (details.issued ?? 0), 90_000)
        let sent = try XCTUnwrap(server.requests().first { $0.path == "/auth/token-request" })
        XCTAssertEqual(sent.method, "GET")
        XCTAssertTrue(sent.query.contains(["clientId", "frank"]), "\(sent.query)")
        XCTAssertEqual(sent.header("x-game"), "42")
        XCTAssertNil(sent.header("authorization"), "no Ably credentials to an authUrl")
        XCTAssertTrue(try server.requests().contains { $0.path == "/keys/appId.keyId/requestToken" })
    }

    func testAuthUrlPOSTSendsParamsAsAForm() throws {
        let details = try authUrlAuth("token-request", method: "POST").authorize()
        XCTAssertEqual(details.clientId, "frank")
        let sent = try XCTUnwrap(server.requests().first { $0.path == "/auth/token-request" })
        XCTAssertEqual(sent.method, "POST")
        XCTAssertTrue(sent.query.isEmpty, "\(sent.query)")
        XCTAssertTrue(sent.header("content-type")?.contains("application/x-www-form-urlencoded") ?? false)
        XCTAssertTrue(sent.body.contains("clientId=frank"), sent.body)
        XCTAssertEqual(sent.header("x-game"), "42")
    }

    /// Each answer an authUrl may give: a token string, a JWT, TokenDetails.
    func testAuthUrlAnswers() throws {
        for what in ["token", "jwt", "token-details"] {
            let auth = try authUrlAuth(what)
            let details = try auth.authorize()
            XCTAssertFalse(details.token.isEmpty, what)
            let response = try auth.request("GET", path: "/protected/\(what)")
            XCTAssertEqual(response.status, 200, "\(what): \(response.text)")
        }
    }

    /// A 401 with any code of 40140...40149 renews the token once and retries (RSA4b4).
    func testRenewalOnEveryTokenError() throws {
        var options = server.options()
        options.key = try server.key()
        options.useTokenAuth = true
        let auth = try AblyAuth(options: options)
        XCTAssertEqual(try auth.request("GET", path: "/channels/renew").status, 200)
        for code in 40140...40149 {
            let issued = try server.tokensIssued()
            let before = try XCTUnwrap(auth.tokenDetails?.token)
            try server.rule(#"""
                {"method":"GET","pathPrefix":"/channels/renew","times":1,
                 "action":{"type":"ablyError","status":401,"code":\#(code),"message":"token error"}}
                """#)
            let response = try auth.request("GET", path: "/channels/renew")
            XCTAssertEqual(response.status, 200, "\(code): \(response.text)")
            XCTAssertEqual(try server.tokensIssued(), issued + 1, "\(code): renewed once")
            XCTAssertNotEqual(auth.tokenDetails?.token, before, "\(code)")
        }
        // Any other 401 is the answer, with no renewal.
        let issued = try server.tokensIssued()
        try server.rule(#"""
            {"method":"GET","pathPrefix":"/channels/renew","times":1,
             "action":{"type":"ablyError","status":401,"code":40160,"message":"not permitted"}}
            """#)
        let refused = try auth.request("GET", path: "/channels/renew")
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual(refused.error?.code, 40160)
        XCTAssertEqual(try server.tokensIssued(), issued)
    }

    /// A token that cannot be renewed: the server's error is the cause of 40171.
    func testUnrenewableTokenErrorHasTheServersErrorAsCause() throws {
        let minted = try server.mintToken()
        var options = server.options()
        options.token = minted.token
        let auth = try AblyAuth(options: options)
        try server.rule(#"""
            {"pathPrefix":"/channels/x","times":1,
             "action":{"type":"ablyError","status":401,"code":40142,"message":"Token expired"}}
            """#)
        let error = assertAblyError(AblyErrorInfo.tokenRenewalNotConfigured) {
            try auth.request("GET", path: "/channels/x")
        }
        XCTAssertEqual(error?.statusCode, 403)  // the spec's status for 40171
        XCTAssertEqual(error?.cause?.code, 40142)
        XCTAssertEqual(error?.cause?.statusCode, 401)
        XCTAssertEqual(error?.cause?.message, "Token expired")
    }

    /// An authUrl that fails: 40170 (status 401, RSA4e) caused by the authUrl's answer.
    func testFailingAuthUrlIs40170WithTheAnswerAsCause() throws {
        try server.rule(#"""
            {"pathPrefix":"/auth/","times":-1,
             "action":{"type":"ablyError","status":503,"code":50300,"message":"auth server down"}}
            """#)
        let error = assertAblyError(AblyErrorInfo.authCallbackFailed) {
            try authUrlAuth("token-request").authorize()
        }
        XCTAssertEqual(error?.statusCode, 401)
        let cause = try XCTUnwrap(error?.cause, "\(String(describing: error))")
        XCTAssertEqual(cause.statusCode, 503)
        XCTAssertEqual(cause.code, 50300)
        XCTAssertEqual(cause.message, "auth server down")
        XCTAssertTrue(String(describing: error).contains("cause:"), String(describing: error))
    }

    /// The server's clock is 10 minutes ahead: the first TokenRequest is refused (40104),
    /// the library asks /time and signs again; later TokenRequests carry the server's time.
    func testClockSkewIsLearntFromTheServer() throws {
        let skew: Int64 = 600_000
        try server.skew(skew)
        var options = server.options()
        options.key = try server.key()
        options.useTokenAuth = true
        let auth = try AblyAuth(options: options)
        let details = try auth.authorize()
        XCTAssertTrue(details.token.hasPrefix("lbtk-"))
        let paths = try server.requests().map(\.path)
        XCTAssertEqual(paths.filter { $0 == "/time" }.count, 1, "\(paths)")
        XCTAssertEqual(paths.filter { $0.hasSuffix("/requestToken") }.count, 2, "\(paths)")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let request = try auth.createTokenRequest()
        XCTAssertLessThan(abs(request.timestamp - (now + skew)), 60_000, "signed with the server's clock")
        XCTAssertLessThan(abs(try auth.time() - (now + skew)), 60_000)
    }

    /// queryTime: the server's time is asked before the first TokenRequest is signed (RSA9d).
    func testQueryTime() throws {
        let skew: Int64 = -900_000
        try server.skew(skew)
        var options = server.options()
        options.key = try server.key()
        options.useTokenAuth = true
        options.queryTime = true
        let auth = try AblyAuth(options: options)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let request = try auth.createTokenRequest()
        XCTAssertLessThan(abs(request.timestamp - (now + skew)), 60_000)
        _ = try auth.authorize()
        let paths = try server.requests().map(\.path)
        XCTAssertEqual(paths.filter { $0 == "/time" }.count, 1, "\(paths)")
        XCTAssertEqual(paths.filter { $0.hasSuffix("/requestToken") }.count, 1, "no 40104 round")
    }

    /// A fresh TokenRequest, signed by a "game server" Auth with the key, is exchanged by a
    /// client Auth through requestToken's per-call options (RSA8e).
    func testRequestTokenWithPerCallOptions() throws {
        let minted = try server.mintToken(clientId: "kim")
        var options = server.options()
        options.token = minted.token
        let client = try AblyAuth(options: options)
        let gameServer = try AblyAuth(key: try server.key())
        let perCall = AuthOptions(authCallback: .sync { params in
            .tokenRequest(try gameServer.createTokenRequest(TokenParams(ttl: params.ttl, clientId: "kim")))
        })
        let details = try client.requestToken(TokenParams(ttl: 30_000), options: perCall)
        XCTAssertEqual(details.clientId, "kim")
        XCTAssertEqual((details.expires ?? 0) - (details.issued ?? 0), 30_000)
        XCTAssertEqual(client.tokenDetails?.token, minted.token, "requestToken stores nothing")
    }
}
