import AblyAuth
import CAblyAuth
import Foundation
import XCTest

/// The shared TokenRequest vectors of tests/c/token_vectors.h, issued through Swift and
/// compared byte for byte with what the C API gives for the same input.
final class VectorTests: XCTestCase {
    // tests/c/token_vectors.h
    let key = "appId.keyId:keySecret"
    let timestamp: Int64 = 1_234_567_890_000
    let nonce = "abcdefghijklmnop"
    let ttl: Int64 = 3_600_000
    let clientId = "client-1"
    let capability = #"{"channel2":["subscribe"],"channel1":["subscribe","publish"]}"#
    let capabilityCanonical = #"{"channel1":["publish","subscribe"],"channel2":["subscribe"]}"#
    let macMinimal = "foz/hUYxHedNgRFel0jQFxXq5fHsrIU9ZUZiqONgXow="
    let macFull = "YyyQoBgJPiNWX5hgG6lCGuEfKybZMePUYxdV5mnCawY="

    var minimal: TokenParams { TokenParams(timestamp: timestamp, nonce: nonce) }
    var full: TokenParams {
        TokenParams(ttl: ttl, capability: capability, clientId: clientId, timestamp: timestamp,
                    nonce: nonce)
    }

    func testMinimalVector() throws {
        let request = try AblyAuth(key: key).createTokenRequest(minimal)
        XCTAssertEqual(request, TokenRequest(keyName: "appId.keyId", timestamp: timestamp,
                                             nonce: nonce, mac: macMinimal))
        XCTAssertEqual(try request.jsonString(), try cTokenRequestJSON(minimal))
    }

    func testFullVector() throws {
        let request = try AblyAuth(key: key).createTokenRequest(full)
        XCTAssertEqual(request, TokenRequest(
            keyName: "appId.keyId", ttl: ttl, capability: capabilityCanonical,
            clientId: clientId, timestamp: timestamp, nonce: nonce, mac: macFull))
        let cJSON = try cTokenRequestJSON(full)
        XCTAssertEqual(try request.jsonString(), cJSON)
        XCTAssertTrue(cJSON.contains(macFull), cJSON)
        // Swift's Codable form reads back as the same request in C.
        let encoded = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        XCTAssertEqual(try cReencode(encoded), cJSON)
        XCTAssertEqual(try JSONDecoder().decode(TokenRequest.self, from: Data(cJSON.utf8)), request)
    }

    /// A JWT with a fixed timestamp is deterministic: the Swift one is the C one.
    func testJWTsMatchTheCAPI() throws {
        let auth = try AblyAuth(key: key)
        for params in [
            TokenParams(timestamp: timestamp),
            TokenParams(ttl: 120_000, capability: capability, clientId: clientId,
                        timestamp: timestamp),
            TokenParams(clientId: "player-1", timestamp: timestamp, revocationKey: "group-7"),
        ] {
            let jwt = try auth.createJWT(params)
            XCTAssertEqual(jwt, try cJWT(params))
            let claims = try XCTUnwrap(jwtPart(jwt, 1))
            XCTAssertEqual(int64(claims["iat"]), timestamp / 1000)
            XCTAssertEqual(int64(claims["exp"]), timestamp / 1000 + (params.ttl ?? 3_600_000) / 1000)
            XCTAssertEqual(claims["x-ably-clientId"] as? String, params.clientId)
            XCTAssertEqual(claims["x-ably-revocation-key"] as? String, params.revocationKey)
        }
        // A revocation key is for JWTs only.
        assertAblyError(AblyErrorInfo.invalidArgument) {
            try auth.createTokenRequest(TokenParams(revocationKey: "group-7"))
        }
    }

    // MARK: The C API, called directly

    private func cAuth() throws -> OpaquePointer {
        let options = ably_auth_options_new()
        try cCheck(ably_auth_options_set_key(options, key))
        var auth: OpaquePointer?
        try cCheck(ably_auth_new(options, &auth))
        return try XCTUnwrap(auth)
    }

    private func cParams(_ params: TokenParams) throws -> OpaquePointer {
        let p = try XCTUnwrap(ably_token_params_new())
        if let ttl = params.ttl { try cCheck(ably_token_params_set_ttl(p, ttl)) }
        if let capability = params.capability {
            try cCheck(ably_token_params_set_capability(p, capability))
        }
        if let clientId = params.clientId { try cCheck(ably_token_params_set_client_id(p, clientId)) }
        if let timestamp = params.timestamp { try cCheck(ably_token_params_set_timestamp(p, timestamp)) }
        if let nonce = params.nonce { try cCheck(ably_token_params_set_nonce(p, nonce)) }
        if let revocationKey = params.revocationKey {
            try cCheck(ably_token_params_set_revocation_key(p, revocationKey))
        }
        return p
    }

    private func cTokenRequestJSON(_ params: TokenParams) throws -> String {
        let auth = try cAuth()
        defer { ably_auth_free(auth) }
        var request: OpaquePointer?
        try cCheck(ably_auth_create_token_request(auth, try cParams(params), &request))
        defer { ably_token_request_free(request) }
        var json: UnsafeMutablePointer<CChar>?
        try cCheck(ably_token_request_to_json(request, &json))
        defer { ably_string_free(json) }
        return String(cString: try XCTUnwrap(json))
    }

    private func cReencode(_ json: String) throws -> String {
        var request: OpaquePointer?
        try cCheck(ably_token_request_from_json(json, &request))
        defer { ably_token_request_free(request) }
        var out: UnsafeMutablePointer<CChar>?
        try cCheck(ably_token_request_to_json(request, &out))
        defer { ably_string_free(out) }
        return String(cString: try XCTUnwrap(out))
    }

    private func cJWT(_ params: TokenParams) throws -> String {
        let auth = try cAuth()
        defer { ably_auth_free(auth) }
        var jwt: UnsafeMutablePointer<CChar>?
        try cCheck(ably_auth_create_jwt(auth, try cParams(params), &jwt))
        defer { ably_string_free(jwt) }
        return String(cString: try XCTUnwrap(jwt))
    }

    private func cCheck(_ error: UnsafeMutablePointer<ably_error_info>?,
                        file: StaticString = #filePath, line: UInt = #line) throws {
        guard let error else { return }
        defer { ably_error_info_free(error) }
        let message = String(cString: error.pointee.message)
        XCTFail("C error \(error.pointee.code): \(message)", file: file, line: line)
        throw CFailure(code: Int(error.pointee.code))
    }

    private struct CFailure: Error { let code: Int }
}
