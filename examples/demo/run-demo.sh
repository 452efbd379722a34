#!/usr/bin/env bash
# Run the end-to-end demo from built binaries:
#   run-demo.sh LOOPBACK_SERVER GAME_SERVER PLAYER_CLIENT [CLIENT_ID]
# 1. starts the loopback Ably-compatible server (stands in for Ably, 127.0.0.1 only)
# 2. starts the game server with the Ably key; it serves signed TokenRequests on an authUrl
# 3. runs the player client, which knows only the authUrl and its clientId
# ABLY_AUTH_EMULATOR (words separated by spaces, e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu")
# runs the game server and the player client when they are cross built; the loopback server
# is a program of the build machine and runs directly.
set -euo pipefail
ably_bin=$1 game_bin=$2 player_bin=$3 client_id=${4:-player-42}
read -ra emulator <<<"${ABLY_AUTH_EMULATOR:-}"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE PREFIX: print the rest of the first line of FILE starting with PREFIX.
wait_for() {
  for _ in $(seq 100); do
    if line=$(grep -m1 "^$2 " "$1" 2>/dev/null); then
      echo "${line#"$2 "}"
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# The key the loopback server accepts (its default); only the game server gets it.
key="appId.keyId:loopbackSecret0123456789"
"$ably_bin" --key "$key" >"$tmp/ably.log" 2>&1 &
pids+=($!)
ably_url=$(wait_for "$tmp/ably.log" LISTENING)
ably_port=${ably_url##*:}
echo "demo: Ably-compatible server at $ably_url (loopback stand-in for Ably)"

${emulator[@]+"${emulator[@]}"} "$game_bin" "$key" >"$tmp/game.log" 2>&1 &
pids+=($!)
game_url=$(wait_for "$tmp/game.log" GAME_SERVER)
echo "demo: game server at $game_url, serving TokenRequests on $game_url/ably/token"

status=0
${emulator[@]+"${emulator[@]}"} "$player_bin" "$ably_port" "$game_url/ably/token" "$client_id" || status=$?
echo
echo "demo: what the game server printed:"
grep -v '^GAME_SERVER ' "$tmp/game.log" | sed 's/^/  /'
exit "$status"
