/* Header check (C99, -Wall -Wextra -Wpedantic -Werror): ably_auth.h comes first, so it must
 * include everything it uses, and twice, so its include guard must work. No C11 construct
 * (static_assert, anonymous unions, _Alignas, ...) may appear in it. */
#include "ably_auth.h"
#include "ably_auth.h"

#include <stdio.h>

int main(void) {
    /* Taking the address checks the declaration's type as well as the symbol. */
    const char *(*version)(void) = &ably_auth_version;
    void (*free_error)(ably_error_info *) = &ably_error_info_free;
    const char *v = version();
    printf("ably_auth_version() = %s\n", v ? v : "(null)");
    free_error(NULL);
    return v ? 0 : 1;
}
