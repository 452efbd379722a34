import AblyAuth
import Foundation
import XCTest

/// Issuing TokenRequests and JWTs with a key: no network.
final class OfflineTests: XCTestCase {
    let key = "appId.keyId:swiftTestSecret"

    func testTokenRequestMatchesGoldenMac() throws {
        // The mac was computed independently: base64(HMAC-SHA256("swiftTestSecret",
        // "appId.keyId\n3600000\n{\"chat:*\":[\"publish\",\"subscribe\"]}\nplayer-42\n
        // 1700000000000\nswift-nonce-0001\n")), and checked against the C API.
        let auth = try AblyAuth(key: key)
        let request = try auth.createTokenRequest(TokenParams(
            ttl: 3_600_000, capability: #"{"chat:*":["subscribe","publish"]}"#,
            clientId: "player-42", timestamp: 1_700_000_000_000, nonce: "swift-nonce-0001"))
        XCTAssertEqual(request.keyName, "appId.keyId")
        XCTAssertEqual(request.ttl, 3_600_000)
        XCTAssertEqual(request.capability, #"{"chat:*":["publish","subscribe"]}"#)  // canonical
        XCTAssertEqual(request.clientId, "player-42")
        XCTAssertEqual(request.timestamp, 1_700_000_000_000)
        XCTAssertEqual(request.nonce, "swift-nonce-0001")
        XCTAssertEqual(request.mac, "v0wSUnf7RyB98IgKuaacUZ6JomH+eyZyOXgHhU9/oCs=")
    }

    func testDefaultsApplyWhenNoParams() throws {
        var options = AuthOptions(key: key, clientId: "server")
        options.defaultTokenParams = TokenParams(ttl: 60_000)
        let auth = try AblyAuth(options: options)
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let request = try auth.createTokenRequest()
        XCTAssertEqual(request.clientId, "server")
        XCTAssertEqual(request.ttl, 60_000)
        XCTAssertNil(request.capability)  // left to Ably (RSA6)
        XCTAssertEqual(request.nonce.count, 22)
        XCTAssertNotNil(request.mac)
        XCTAssertLessThan(abs(request.timestamp - before), 60_000)
        // Explicit params replace the defaults as a whole (RSA9h); their clientId wins.
        let other = try auth.createTokenRequest(TokenParams(clientId: "player-7"))
        XCTAssertNil(other.ttl)
        XCTAssertEqual(other.clientId, "player-7")
        XCTAssertNotEqual(other.nonce, request.nonce)
    }

    func testTokenRequestJSONRoundTrip() throws {
        let auth = try AblyAuth(key: key)
        let request = try auth.createTokenRequest(TokenParams(clientId: "p"))
        let json = try JSONEncoder().encode(request)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual(object["keyName"] as? String, "appId.keyId")
        XCTAssertEqual(object["clientId"] as? String, "p")
        XCTAssertNil(object["ttl"])  // absent, not null
        XCTAssertEqual(try JSONDecoder().decode(TokenRequest.self, from: json), request)
    }

    func testCreateJWT() throws {
        let auth = try AblyAuth(key: key)
        let jwt = try auth.createJWT(TokenParams(
            ttl: 120_000, capability: #"{"chat":["publish"]}"#, clientId: "player-42",
            timestamp: 1_700_000_000_000))
        let header = try XCTUnwrap(jwtPart(jwt, 0))
        let claims = try XCTUnwrap(jwtPart(jwt, 1))
        XCTAssertEqual(header["alg"] as? String, "HS256")
        XCTAssertEqual(header["kid"] as? String, "appId.keyId")
        XCTAssertEqual(int64(claims["iat"]), 1_700_000_000)
        XCTAssertEqual(int64(claims["exp"]), 1_700_000_120)
        XCTAssertEqual(claims["x-ably-clientId"] as? String, "player-42")
        XCTAssertEqual(claims["x-ably-capability"] as? String, #"{"chat":["publish"]}"#)
    }

    func testClientIdAndTokenDetailsFromOptions() throws {
        let basic = try AblyAuth(key: key, clientId: "bob")
        XCTAssertEqual(basic.clientId, "bob")
        XCTAssertNil(basic.tokenDetails)  // Basic auth: no token

        var options = AuthOptions(token: "a-token-string")
        options.clientId = "carol"
        let withToken = try AblyAuth(options: options)
        XCTAssertEqual(withToken.tokenDetails?.token, "a-token-string")
        XCTAssertNil(withToken.tokenDetails?.expires)
        XCTAssertEqual(withToken.clientId, "carol")

        var detailsOptions = AuthOptions()
        detailsOptions.tokenDetails = TokenDetails(token: "t2", expires: 4_000_000_000_000,
                                                   clientId: "dave")
        let withDetails = try AblyAuth(options: detailsOptions)
        XCTAssertEqual(withDetails.tokenDetails,
                       TokenDetails(token: "t2", expires: 4_000_000_000_000, clientId: "dave"))
        XCTAssertEqual(withDetails.clientId, "dave")
    }

    func testVersion() {
        let parts = AblyAuth.version.split(separator: ".")
        XCTAssertEqual(parts.count, 3, AblyAuth.version)
        XCTAssertTrue(parts.allSatisfy { Int($0) != nil }, AblyAuth.version)
    }

    func testConcurrentIssuingFromOneInstance() throws {
        let auth = try AblyAuth(key: key)
        let nonces = Locked(Set<String>())
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            if let request = try? auth.createTokenRequest() {
                nonces.update { $0.insert(request.nonce) }
            }
        }
        XCTAssertEqual(nonces.get().count, 64)
    }
}
