/* Header check (C11, -Wall -Wextra -Wpedantic -Werror): ably_auth.h comes first, so it must
 * include everything it uses, and twice, so its include guard must work. */
#include "ably_auth.h"
#include "ably_auth.h"

#include <stdio.h>

int main(void) {
    /* Taking the address checks the declaration's type as well as the symbol. */
    const char *(*version)(void) = &ably_auth_version;
    const char *v = version();
    printf("ably_auth_version() = %s\n", v ? v : "(null)");
    return v ? 0 : 1;
}
