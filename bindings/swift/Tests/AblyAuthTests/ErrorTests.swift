import AblyAuth
import Foundation
import XCTest

/// Errors raised at the boundary and by the library, with no network.
final class ErrorTests: XCTestCase {
    let key = "appId.keyId:swiftTestSecret"

    func testOptionErrors() {
        let malformed = assertAblyError(AblyErrorInfo.invalidCredentials) {
            try AblyAuth(key: "not-a-key")
        }
        XCTAssertEqual(malformed?.statusCode, 401)
        XCTAssertFalse(malformed?.message.contains("not-a-key") ?? true, "the key is never quoted")
        assertAblyError(AblyErrorInfo.noAuthMethod) { try AblyAuth(options: AuthOptions()) }
        assertAblyError(AblyErrorInfo.invalidClientId) { try AblyAuth(key: key, clientId: "*") }
        var plain = AuthOptions(key: key)
        plain.tls = false
        assertAblyError(AblyErrorInfo.insecureBasicAuth) { try AblyAuth(options: plain) }
        var conflicting = AuthOptions(key: key)
        conflicting.endpoint = "sandbox"
        conflicting.restHost = "rest.example.com"
        assertAblyError(AblyErrorInfo.badRequest) { try AblyAuth(options: conflicting) }
        var badPort = AuthOptions(key: key)
        badPort.port = 70_000
        assertAblyError(AblyErrorInfo.invalidArgument) { try AblyAuth(options: badPort) }
    }

    func testParamErrors() throws {
        let auth = try AblyAuth(key: key)
        let capability = assertAblyError(AblyErrorInfo.invalidArgument) {
            try auth.createTokenRequest(TokenParams(capability: #"{"a":["Fly"]}"#))
        }
        XCTAssertTrue(capability?.message.contains("Fly") ?? false, "\(String(describing: capability))")
        assertAblyError(AblyErrorInfo.invalidArgument) {
            try auth.createTokenRequest(TokenParams(ttl: -1))
        }
        assertAblyError(AblyErrorInfo.invalidClientId) {
            try auth.createTokenRequest(TokenParams(clientId: ""))
        }
        assertAblyError(AblyErrorInfo.invalidArgument) { try auth.createJWT(TokenParams(ttl: 10)) }
        // The Auth is still usable after errors.
        XCTAssertNoThrow(try auth.createTokenRequest())
    }

    func testTokenAuthCannotSignOrRevoke() throws {
        let auth = try AblyAuth(options: AuthOptions(token: "some-token"))
        assertAblyError(AblyErrorInfo.invalidCredentials) { try auth.createTokenRequest() }
        var keyed = AuthOptions(key: key)
        keyed.useTokenAuth = true
        let tokenAuth = try AblyAuth(options: keyed)
        assertAblyError(AblyErrorInfo.requiresBasicAuth) {
            try tokenAuth.revokeTokens(["clientId:alice"])
        }
        // A token with no means of renewal is dropped all the same (RSA4a).
        assertAblyError(AblyErrorInfo.tokenRenewalNotConfigured) { try auth.tokenRejected() }
        XCTAssertNil(auth.tokenDetails)
    }

    func testBasicAuthorizationHeaderAndBadRequests() throws {
        let auth = try AblyAuth(key: key)
        XCTAssertEqual(try auth.authorizationHeader(), "Basic " + Data(key.utf8).base64EncodedString())
        assertAblyError(AblyErrorInfo.invalidArgument) { try auth.request("GET", path: "no-slash") }
        assertAblyError(AblyErrorInfo.invalidArgument) { try auth.request("BREW", path: "/coffee") }
        assertAblyError(AblyErrorInfo.invalidArgument) { try auth.revokeTokens([]) }
    }

    func testErrorDescriptionAndTokenErrorRange() {
        let cause = AblyErrorInfo(code: 50003, statusCode: 500, message: "timed out")
        let error = AblyErrorInfo(code: 40142, statusCode: 401, message: "expired", cause: cause)
        XCTAssertTrue(error.isTokenError)
        XCTAssertFalse(cause.isTokenError)
        XCTAssertEqual(error.cause?.code, 50003)
        XCTAssertTrue(error.description.contains("40142"))
        XCTAssertTrue(error.localizedDescription.contains("expired"))
    }

    /// The C side owns a registered closure box from registration on and releases it exactly
    /// once, also when the options are rejected (by a later setter, or by ably_auth_new).
    /// A double release would crash; a missing one keeps the tracker alive.
    func testRejectedOptionsReleaseCallbackBoxesOnce() {
        weak var weakTracker: Tracker?
        do {
            let tracker = Tracker()
            weakTracker = tracker
            var badSetter = AuthOptions(key: key, authCallback: .sync { _ in
                tracker.touch()
                return .token("unused")
            })
            badSetter.logHandler = { _, _ in tracker.touch() }
            badSetter.port = 0  // rejected after the callbacks were set
            assertAblyError(AblyErrorInfo.invalidArgument) { try AblyAuth(options: badSetter) }

            var badNew = AuthOptions(key: key, authCallback: AuthCallback { _, _ in tracker.touch() })
            badNew.endpoint = "sandbox"
            badNew.environment = "sandbox"  // rejected by ably_auth_new, which consumed them
            assertAblyError(AblyErrorInfo.badRequest) { try AblyAuth(options: badNew) }
        }
        XCTAssertNil(weakTracker, "every box was released")
    }

    func testFreedAuthReleasesItsClosures() throws {
        weak var weakTracker: Tracker?
        do {
            let tracker = Tracker()
            weakTracker = tracker
            var options = AuthOptions(key: key)
            options.authCallback = .sync { _ in tracker.touch(); return .token("t") }
            let auth = try AblyAuth(options: options)
            let id = try auth.addListener { _ in tracker.touch() }
            try auth.addListener { _ in tracker.touch() }  // kept until the Auth goes
            try auth.removeListener(id)
            assertAblyError(AblyErrorInfo.invalidArgument) { try auth.removeListener(id) }
        }
        XCTAssertNil(weakTracker)
    }
}

final class Tracker: Sendable {
    func touch() {}
}
