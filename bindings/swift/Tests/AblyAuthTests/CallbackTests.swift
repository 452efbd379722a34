import AblyAuth
import Foundation
import XCTest

/// authCallback (answered now, later, from a Task, never, twice, with errors), listeners and
/// the log handler, against the loopback server.
final class CallbackTests: LoopbackTestCase, @unchecked Sendable {
    func callbackAuth(_ callback: AuthCallback, requestTimeoutMs: Int64 = 3000) throws -> AblyAuth {
        var options = server.options(requestTimeoutMs: requestTimeoutMs)
        options.authCallback = callback
        return try AblyAuth(options: options)
    }

    func testSyncCallbackGetsTheParams() throws {
        let minted = try server.mintToken(clientId: "hana")
        let seen = Locked<[TokenParams]>([])
        let auth = try callbackAuth(.sync { params in
            seen.update { $0.append(params) }
            return .token(minted.token)
        })
        let details = try auth.authorize(TokenParams(ttl: 60_000, clientId: "hana"))
        XCTAssertEqual(details.token, minted.token)
        XCTAssertEqual(seen.get(), [TokenParams(ttl: 60_000, clientId: "hana")])
        XCTAssertEqual(try auth.request("GET", path: "/protected/x").status, 200)
    }

    func testCallbackAnsweredLaterFromAnotherThread() throws {
        let minted = try server.mintToken()
        let answerError = Locked<Error?>(nil)
        let auth = try callbackAuth(AuthCallback { _, completion in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) {
                do {
                    try completion.answer(.tokenDetails(minted))
                } catch {
                    answerError.update { $0 = error }
                }
            }
        })
        let details = try auth.authorize()
        XCTAssertEqual(details.token, minted.token)
        XCTAssertEqual(details.expires, minted.expires)
        XCTAssertNil(answerError.get())
    }

    /// A client's callback gets a TokenRequest from "its game server" (here an AblyAuth with
    /// the key, as the server would hand it out over HTTP); the library exchanges it.
    func testAsyncCallbackAnsweringWithATokenRequest() throws {
        try runAsync { [self] in
            let gameServer = try AblyAuth(key: try server.key())
            let auth = try callbackAuth(.async { params in
                try await Task.sleep(nanoseconds: 50_000_000)
                var forClient = params
                forClient.clientId = "ivan"
                return .tokenRequest(try gameServer.createTokenRequest(forClient))
            })
            let details = try await auth.authorize()
            XCTAssertEqual(details.clientId, "ivan")
            XCTAssertTrue(details.token.hasPrefix("lbtk-"), details.token)
            XCTAssertEqual(auth.clientId, "ivan")
        }
    }

    func testThrownErrorsFailTheCall() throws {
        struct ServerDown: Error {}
        let auth = try callbackAuth(.sync { _ in throw ServerDown() })
        let error = assertAblyError(AblyErrorInfo.authCallbackFailed) { try auth.authorize() }
        XCTAssertTrue(String(describing: error).contains("ServerDown"), String(describing: error))

        let banned = try callbackAuth(.async { _ in
            throw AblyErrorInfo(code: 40300, statusCode: 403, message: "banned")
        })
        let kept = assertAblyError(40300) { try banned.authorize() }
        XCTAssertEqual(kept?.statusCode, 403)
        XCTAssertEqual(kept?.message, "banned")
    }

    /// A completion released unanswered answers itself (not the 60 s request timeout).
    func testDroppedCompletionFailsAtOnce() throws {
        let auth = try callbackAuth(AuthCallback { _, _ in }, requestTimeoutMs: 60_000)
        let error = assertAblyError(AblyErrorInfo.authCallbackFailed) { try auth.authorize() }
        XCTAssertTrue(String(describing: error).contains("released its completion without answering"),
                      String(describing: error))
    }

    func testUnansweredCompletionTimesOutAndRefusesLateAnswers() throws {
        let kept = Locked<AuthCompletion?>(nil)
        let auth = try callbackAuth(AuthCallback { _, completion in
            kept.update { $0 = completion }
        }, requestTimeoutMs: 1000)
        assertAblyError(AblyErrorInfo.authCallbackFailed) { try auth.authorize() }
        let completion = try XCTUnwrap(kept.get())
        assertAblyError(AblyErrorInfo.authCallbackFailed) { try completion.answer(.token("late")) }
        assertAblyError(AblyErrorInfo.invalidArgument) { try completion.answer(.token("again")) }
    }

    func testAnsweringTwiceIsRefused() throws {
        let minted = try server.mintToken()
        let second = Locked<AblyErrorInfo?>(nil)
        let auth = try callbackAuth(AuthCallback { _, completion in
            try? completion.answer(.token(minted.token))
            do {
                try completion.fail(AblyErrorInfo(code: 40300, statusCode: 403, message: "late"))
            } catch {
                second.update { $0 = error as? AblyErrorInfo }
            }
        })
        XCTAssertEqual(try auth.authorize().token, minted.token)
        XCTAssertEqual(second.get()?.code, AblyErrorInfo.invalidArgument)
    }

    func testListeners() throws {
        let minted = try server.mintToken()
        let failing = Locked(false)
        let auth = try callbackAuth(.sync { _ in
            if failing.get() {
                throw AblyErrorInfo(code: 0, statusCode: 401, message: "denied by the host")
            }
            return .token(minted.token)
        })
        let events = Locked<[Result<TokenDetails, AblyErrorInfo>]>([])
        // A listener may call back into the Auth (no library lock is held).
        let reentrant = Locked<AblyAuth?>(auth)
        let seenInside = Locked<[String?]>([])
        let id = try auth.addListener { result in
            events.update { $0.append(result) }
            seenInside.update { $0.append(reentrant.get()?.tokenDetails?.token) }
        }
        _ = try auth.authorize()
        failing.update { $0 = true }
        assertAblyError(AblyErrorInfo.authCallbackFailed) { try auth.authorize() }
        try auth.removeListener(id)
        failing.update { $0 = false }
        _ = try auth.authorize()  // not heard
        reentrant.update { $0 = nil }  // break the Auth → listener → Auth cycle

        let heard = events.get()
        XCTAssertEqual(heard.count, 2)
        if case .success(let details)? = heard.first {
            XCTAssertEqual(details.token, minted.token)
        } else {
            XCTFail("first event: \(String(describing: heard.first))")
        }
        if case .failure(let error)? = heard.last {
            XCTAssertEqual(error.code, AblyErrorInfo.authCallbackFailed)
        } else {
            XCTFail("last event: \(String(describing: heard.last))")
        }
        XCTAssertEqual(seenInside.get().first ?? nil, minted.token)
    }

    func testLogHandlerNeverSeesSecrets() throws {
        let key = try server.key()
        let secret = String(key.split(separator: ":").last ?? "")
        let lines = Locked<[(LogLevel, String)]>([])
        var options = server.options()
        options.key = key
        options.useTokenAuth = true
        options.logLevel = .debug
        options.logHandler = { level, line in lines.update { $0.append((level, line)) } }
        let auth = try AblyAuth(options: options)
        let details = try auth.authorize()
        _ = try auth.request("GET", path: "/channels/logged")
        let logged = lines.get()
        XCTAssertFalse(logged.isEmpty)
        for (level, line) in logged {
            XCTAssertLessThanOrEqual(level.rawValue, LogLevel.debug.rawValue)
            XCTAssertFalse(line.contains(secret), line)
            XCTAssertFalse(line.contains(details.token), line)
        }
    }
}
