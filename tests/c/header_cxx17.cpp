// Header check (C++17, -Wall -Wextra -Werror): the C header must be usable from C++ on its
// own (extern "C" linkage, no C-only constructs) and survive a second include.
#include "ably_auth.h"
#include "ably_auth.h"

#include <cstdio>

int main() {
    const char *(*version)() = &ably_auth_version;
    const char *v = version();
    std::printf("ably_auth_version() = %s\n", v ? v : "(null)");
    return v ? 0 : 1;
}
