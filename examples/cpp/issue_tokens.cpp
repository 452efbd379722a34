// issue_tokens (C++): what a token-issuing game server does with <ably/auth.hpp>.
//
// The server holds the Ably API key; clients never see it. For each client it signs a
// short-lived TokenRequest (the client exchanges it with Ably for a token) and an Ably JWT
// (the client uses it directly). Both are made locally, with no network call.
//
// Usage: issue_tokens_cpp [API_KEY [CLIENT_ID]]
// Without API_KEY a clearly fake demo key is used: right shape, but Ably will not accept it.
#include <ably/auth.hpp>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

constexpr const char *kDemoKey = "demoApp.demoKey:demo-secret-not-a-real-key";
// Subscribe everywhere; publish, subscribe and presence on the "chat:" namespace.
constexpr const char *kCapability = R"({"*":["subscribe"],"chat:*":["publish","subscribe","presence"]})";
constexpr int64_t kTtlMs = 60 * 60 * 1000;

// Fresh params per credential: the call they are passed to consumes them.
ably::TokenParams params_for(const std::string &client_id) {
    return ably::TokenParams().set_ttl(kTtlMs).set_capability(kCapability).set_client_id(client_id);
}

}  // namespace

int main(int argc, char **argv) {
    const std::string key = argc > 1 ? argv[1] : kDemoKey;
    const std::string client_id = argc > 2 ? argv[2] : "player-42";
    try {
        // One Auth per key; thread-safe, so a server shares it between request handlers.
        ably::Auth auth(ably::Options().set_key(key));

        ably::TokenRequest request = auth.create_token_request(params_for(client_id));
        std::cout << "TokenRequest for " << client_id << " (keyName " << request.key_name() << ", ttl "
                  << request.ttl() << " ms):\n"
                  << request.to_json() << "\n\n";

        std::string jwt = auth.create_jwt(params_for(client_id));
        std::cout << "Ably JWT for " << client_id << ":\n" << jwt << "\n\n";

        // Errors arrive as ably::Error with the Ably code, status and message.
        try {
            (void)auth.create_token_request(ably::TokenParams().set_capability(R"({"chat:*":["fly"]})"));
        } catch (const ably::Error &e) {
            std::cout << "an invalid capability is refused: code " << e.code() << ", status " << e.status_code()
                      << ": " << e.info().message << "\n";
        }
        // The same without exceptions: the try_ calls return ably::Result<T>.
        auto result = ably::Auth::try_create(ably::Options().set_key("not-a-key"));
        if (!result) {
            std::cout << "a malformed key is refused: code " << result.error().code << "\n";
        }
        return 0;
    } catch (const ably::Error &e) {
        std::cerr << "error " << e.code() << " (HTTP status " << e.status_code() << "): " << e.info().message << "\n";
        return 1;
    }
}
