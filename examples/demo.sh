#!/usr/bin/env bash
# The README's first command: build everything (the library, the loopback Ably-compatible
# server, the demo programs) and run the end-to-end demo: a game server signs TokenRequests
# on an authUrl endpoint; a player client authorizes through it, exchanges the TokenRequest
# at the Ably-compatible server and uses the token, printing each step.
# Optional argument: the player's clientId. Nothing leaves 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
ensure_tools
build="$root/build/demo"
echo "demo: building (cargo + CMake; the first build takes a few minutes)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DABLY_AUTH_BUILD_TESTS=ON \
  -DABLY_AUTH_SANITIZER_TESTS=OFF >/dev/null
cmake --build "$build" --target demo -j2 >/dev/null
loopback=$(find "$build" -type f -name ably-loopback-server -perm -u+x | head -n1)
[[ -x "$loopback" ]] || { echo "demo: the loopback server was not built" >&2; exit 1; }
exec "$root/examples/demo/run-demo.sh" "$loopback" "$build/examples/demo/game_server" \
  "$build/examples/demo/player_client" "$@"
