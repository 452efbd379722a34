// A game server issues a token for a player; the player's client authorizes with it.
//
//   ably-auth-swift-example <key> [<rest url> [<clientId>]]
//
// The server side signs a TokenRequest with the app's key (no network I/O) and hands its
// JSON to the client (here in memory; in a game, over your own HTTPS endpoint). The client
// never sees the key: its authCallback answers with that JSON, and the library exchanges
// it with Ably for a token, renews it before it expires, and authenticates requests with
// it. <rest url> defaults to Ably's; the tests pass the loopback server's.
import AblyAuth
import Foundation

@main
struct Example {
    static func main() async {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            fail("usage: ably-auth-swift-example <key> [<rest url> [<clientId>]]", code: 2)
        }
        let restURL = arguments.count > 2 ? URL(string: arguments[2]) : nil
        let player = arguments.count > 3 ? arguments[3] : "player-42"
        do {
            print("ably-auth \(AblyAuth.version)")
            let status = try await run(key: arguments[1], restURL: restURL, player: player)
            exit(status == 200 ? 0 : 1)
        } catch {
            fail("error: \(error)", code: 1)
        }
    }

    static func run(key: String, restURL: URL?, player: String) async throws -> Int {
        // --- The game server: the key stays here. -----------------------------------------
        let gameServer = try AblyAuth(key: key)
        let grant = TokenParams(ttl: 3_600_000, capability: #"{"game:*":["publish","subscribe"]}"#,
                                clientId: player)
        print("TokenRequest: \(try gameServer.createTokenRequest(grant).jsonString())")

        // --- The player's client: its tokens come from the game server. --------------------
        var options = hostOptions(restURL)
        options.clientId = player
        options.authCallback = .async { _ in
            // A real client fetches this from the game server (URLSession, your API); the
            // server signs a fresh TokenRequest for each renewal.
            .json(try gameServer.createTokenRequest(grant).jsonString())
        }
        let client = try AblyAuth(options: options)
        let details = try await client.authorize()
        let valid = ((details.expires ?? 0) - (details.issued ?? 0)) / 1000
        print("authorized: clientId \(details.clientId ?? "-"), token valid for \(valid) s")
        let response = try await client.request("GET", path: "/channels/game:lobby")
        print("GET /channels/game:lobby: \(response.status)")
        try client.shutdown(timeoutMs: 5000)
        return response.status
    }

    /// Ably's hosts, or the host and port of `url` (the loopback server in the tests).
    static func hostOptions(_ url: URL?) -> AuthOptions {
        var options = AuthOptions()
        if let url, let host = url.host {
            options.endpoint = host
            options.tls = url.scheme == "https"
            if let port = url.port {
                options.port = port
                options.tlsPort = port
            }
            options.fallbackHosts = []
        }
        return options
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}
