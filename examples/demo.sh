#!/usr/bin/env bash
# The README's first command: build the library, the loopback Ably-compatible server and the
# demo programs, then run the end-to-end demo: a game server signs TokenRequests on an
# authUrl endpoint; a player client authorizes through it, exchanges the TokenRequest at the
# Ably-compatible server and uses the token, printing each step.
# Optional argument: the player's clientId. Nothing leaves 127.0.0.1.
#
# One cargo build: cargo's target directory is the checkout's target/ (release profile), so
# `cargo run --release -p ably-loopback --bin ably-loopback-server`, examples/issue-tokens.sh
# and the README's CMake commands reuse what this builds instead of compiling the crate
# again. cargo's and CMake's output go to build/demo/build.log, printed if the build fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
ensure_tools
ensure_crates # the crate registry, or the vendored snapshot where none answers
build="$root/build/demo"
mkdir -p "$build"
log="$build/build.log"
: >"$log"
started=$SECONDS
failed() {
  echo "demo: the build failed; its log ($log):" >&2
  cat "$log" >&2
  exit 1
}
echo "demo: building the library, the loopback server and the demo programs (cargo + CMake;"
echo "      a first build takes a few minutes; progress in ${log#"$root"/})"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DABLY_AUTH_BUILD_TESTS=ON \
  -DABLY_AUTH_SANITIZER_TESTS=OFF -DABLY_AUTH_CARGO_TARGET_DIR="$root/target" >>"$log" 2>&1 ||
  failed
cmake --build "$build" --target demo -j2 >>"$log" 2>&1 || failed
loopback="$root/target/release/ably-loopback-server"
[[ -x "$loopback" ]] || { echo "demo: the loopback server was not built ($loopback)" >&2; failed; }
echo "demo: built in $((SECONDS - started)) s (cargo's output: target/release)"
echo
exec "$root/examples/demo/run-demo.sh" "$loopback" "$build/examples/demo/game_server" \
  "$build/examples/demo/player_client" "$@"
