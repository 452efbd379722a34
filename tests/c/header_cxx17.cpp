// Header check (C++17, -Wall -Wextra -Wpedantic -Werror): the C header must be usable from
// C++ on its own (extern "C" linkage, no C-only constructs) and survive a second include; the
// C++ binding <ably/auth.hpp> likewise.
#include "ably_auth.h"
#include "ably_auth.h"

#include <ably/auth.hpp>
#include <ably/auth.hpp>

#include <cstdio>

int main() {
    const char *(*version)() = &ably_auth_version;
    const char *v = version();
    std::printf("ably_auth_version() = %s, ably::version() = %s\n", v ? v : "(null)",
                ably::version().c_str());
    return v != nullptr && ably::version() == v ? 0 : 1;
}
