#!/usr/bin/env bash
# The README's first command: build the library and the C example with CMake, then issue a
# signed TokenRequest and an Ably JWT. Arguments go to the example: [API_KEY [CLIENT_ID]].
# Without a key it uses a built-in demo key; nothing touches the network.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
ensure_tools
build="$root/build/example"
# cargo's target directory is the checkout's target/, as for examples/demo.sh: one build of
# the crate serves both.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DABLY_AUTH_BUILD_TESTS=OFF \
  -DABLY_AUTH_CARGO_TARGET_DIR="$root/target" >/dev/null
cmake --build "$build" --target issue_tokens -j2 >/dev/null
exec "$build/examples/c/issue_tokens" "$@"
