// json_oracle.hpp: the C++ tests' JSON reader (header-only, no exceptions, so the
// -fno-exceptions test can use it too): std::string faces on tests/c/json_oracle.h, which
// parses with cJSON (Debian libcjson-dev), a validating parser independent of the library's.
//
//   json_oracle::string_member(json, key)    a top-level string member, unescaped
//   json_oracle::int_member(json, key)       a top-level number member with an integer value
//
// Each is std::nullopt when the member is missing or of another type, or when the text is not
// exactly one JSON object (the rules of tests/c/json_oracle.h).
#ifndef ABLY_AUTH_TEST_JSON_ORACLE_HPP
#define ABLY_AUTH_TEST_JSON_ORACLE_HPP

#include <cstdint>
#include <optional>
#include <string>

#include "json_oracle.h"  // tests/c

namespace json_oracle {

/// The top-level object (json_oracle_parse); NULL also when `json` holds a NUL byte, which
/// would hide the rest of the text from the parser.
inline cJSON *parse(const std::string &json) {
    return json.find('\0') == std::string::npos ? json_oracle_parse(json.c_str()) : nullptr;
}

inline std::optional<std::string> string_member(const std::string &json, const std::string &key) {
    cJSON *root = parse(json);
    const cJSON *value = json_oracle_member(root, key.c_str());
    std::optional<std::string> out;
    if (cJSON_IsString(value) && value->valuestring != nullptr) {
        out = std::string(value->valuestring);
    }
    cJSON_Delete(root);
    return out;
}

inline std::optional<int64_t> int_member(const std::string &json, const std::string &key) {
    cJSON *root = parse(json);
    int64_t n = 0;
    bool ok = json_oracle_integer(json_oracle_member(root, key.c_str()), &n);
    cJSON_Delete(root);
    return ok ? std::optional<int64_t>(n) : std::nullopt;
}

}  // namespace json_oracle

#endif  // ABLY_AUTH_TEST_JSON_ORACLE_HPP
