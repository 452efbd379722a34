/* Links against an installed ably-auth (CMake package or pkg-config) and checks that the
 * library answers with the expected version: exit 0 if ably_auth_version() == argv[1]. */
#include "ably_auth.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *version = ably_auth_version();
    printf("ably_auth_version() = %s\n", version ? version : "(null)");
    if (argc < 2) {
        fprintf(stderr, "usage: %s EXPECTED_VERSION\n", argv[0]);
        return 2;
    }
    if (version == NULL || strcmp(version, argv[1]) != 0) {
        fprintf(stderr, "expected version %s\n", argv[1]);
        return 1;
    }
    return 0;
}
