// Harness for bindings/cpp/README.md, the first example (tests/readme-snippets.sh inserts its
// #include at @SNIPPET_TOP@ and its statements at @SNIPPET_BODY@). Offline: signing only.
// main checks that the TokenRequest and the JWT came out.
#include <iostream>
#include <string>

// @SNIPPET_TOP@

int main() {
    // @SNIPPET_BODY@
    if (json.find("\"mac\"") == std::string::npos || jwt.empty()) {
        std::cerr << "cpp_quick: no mac in the TokenRequest, or no JWT\n";
        return 1;
    }
    std::cout << "cpp_quick: " << json << "\n";
    return 0;
}
