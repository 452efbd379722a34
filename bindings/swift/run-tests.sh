#!/usr/bin/env bash
# Swift package tests (Package.swift at the repository root, sources here).
#
# With `swift` on PATH: builds the Rust library and the loopback server with cargo, then runs
# `swift test`, linking target/release/libably_auth (shared; found at run time through an
# rpath). Without it: says so and exits 0. Extra arguments go to `swift test`
# (e.g. `--filter OfflineTests`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
if ! command -v swift >/dev/null 2>&1; then
    skipped_optional "Swift package" "no swift toolchain on PATH; see bindings/swift/README.md"
    exit 0
fi

cd "$root"
lib="$root/target/release"

cargo build --release --lib
cargo build --release -p ably-loopback --bin ably-loopback-server

export ABLY_LOOPBACK_SERVER="$lib/ably-loopback-server"
# The scratch path keeps SwiftPM's .build out of the source tree (target/ is ignored).
swift test --package-path "$root" --scratch-path "$root/target/swift" \
    -Xlinker -L"$lib" -Xlinker -rpath -Xlinker "$lib" "$@"
echo "Swift tests passed"
