// Links against an installed ably-auth through the C++ binding <ably/auth.hpp>
// (AblyAuth::ably_auth_cpp): exit 0 if ably::version() == argv[1] and an offline
// TokenRequest can be signed.
#include <ably/auth.hpp>

#include <iostream>
#include <string>

int main(int argc, char **argv) {
    std::cout << "ably::version() = " << ably::version() << "\n";
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " EXPECTED_VERSION\n";
        return 2;
    }
    if (ably::version() != argv[1]) {
        std::cerr << "expected version " << argv[1] << "\n";
        return 1;
    }
    try {
        ably::Auth auth(ably::Options().set_key("appId.keyId:keySecret"));
        auto request = auth.create_token_request(ably::TokenParams().set_client_id("consumer"));
        std::cout << "TokenRequest: " << request.to_json() << "\n";
        return request.mac() ? 0 : 1;
    } catch (const ably::Error &e) {
        std::cerr << "ably::Error: " << e.what() << "\n";
        return 1;
    }
}
