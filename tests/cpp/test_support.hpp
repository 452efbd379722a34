// test_support.hpp: small helpers shared by the C++ tests (header-only).
#ifndef ABLY_AUTH_TEST_SUPPORT_HPP
#define ABLY_AUTH_TEST_SUPPORT_HPP

#include <ably/auth.hpp>

#include "json_oracle.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace test_support {

/// Decodes Base64 (standard or URL alphabet, padding optional); stops at the first bad char.
inline std::string base64url_decode(const std::string &text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-' || c == '+') return 62;
        if (c == '_' || c == '/') return 63;
        return -1;
    };
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = value(c);
        if (v < 0) {
            break;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

/// A top-level number member with an integer value of a JSON object, read by cJSON
/// (tests/cpp/json_oracle.hpp): std::nullopt when the text is not one JSON object.
inline std::optional<int64_t> json_int(const std::string &json, const std::string &key) {
    return json_oracle::int_member(json, key);
}

#if ABLY_AUTH_CPP_EXCEPTIONS
/// Runs `f`; the code of the ably::Error it throws, or 0 when it throws none.
template <class F>
int32_t code_of(F &&f) {
    try {
        f();
    } catch (const ably::Error &e) {
        return e.code();
    }
    return 0;
}
#endif

}  // namespace test_support

#endif  // ABLY_AUTH_TEST_SUPPORT_HPP
