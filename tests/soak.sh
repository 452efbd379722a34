#!/usr/bin/env bash
# The soak (tests/soak.rs) for longer than the test command's 5 seconds: 2 minutes by
# default, or --secs N. 8 threads of mixed operations on one Auth against the loopback
# server, tokens expiring every second, faults injected at random; prints operations done,
# failures by code and resident memory at start, after warm-up and at the end.
#
#   tests/soak.sh              # 120 s
#   tests/soak.sh --secs 600   # 10 minutes
#   tests/soak.sh --release    # also: build the test with the release profile
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs=120
profile=()
while (($#)); do
  case "$1" in
    --secs) secs="${2:?--secs needs a number}"; shift 2 ;;
    --secs=*) secs="${1#--secs=}"; shift ;;
    --release) profile=(--release); shift ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1 (use --secs N, --release)" >&2; exit 2 ;;
  esac
done
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 2)); then
  echo "--secs must be a whole number of seconds, at least 2" >&2
  exit 2
fi
cd "$root"
# The loopback server runs as a child process, so its own growing state (every token and
# nonce it saw) stays out of the soak's RSS figures.
echo "==> building ably-loopback-server"
cargo build --locked "${profile[@]}" -p ably-loopback --bin ably-loopback-server
profile_dir=debug
((${#profile[@]})) && profile_dir=release
server="${CARGO_TARGET_DIR:-$root/target}/$profile_dir/ably-loopback-server"
echo "==> soak for $secs s (server: $server)"
ABLY_LOOPBACK_SERVER="$server" ABLY_AUTH_SOAK_SECS="$secs" \
  cargo test --locked "${profile[@]}" --test soak -- --nocapture
