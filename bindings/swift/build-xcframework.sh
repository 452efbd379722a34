#!/usr/bin/env bash
# Builds bindings/swift/CAblyAuth.xcframework from the Rust staticlib for iOS devices, the
# arm64 iOS simulator and arm64 macOS, with the header and a module map. Package.swift uses
# it instead of the system library while it exists (delete it to go back). macOS + Xcode only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="$root/bindings/swift/CAblyAuth.xcframework"
headers="$root/target/xcframework-headers"
targets=(aarch64-apple-ios aarch64-apple-ios-sim aarch64-apple-darwin)

rustup target add "${targets[@]}"
args=()
for target in "${targets[@]}"; do
    cargo build --release --lib --target "$target"
    args+=(-library "target/$target/release/libably_auth.a" -headers "$headers")
done

rm -rf "$headers" "$out"
mkdir -p "$headers"
cp include/ably_auth.h "$headers/"
cat > "$headers/module.modulemap" <<'MODULEMAP'
module CAblyAuth {
    header "ably_auth.h"
    export *
}
MODULEMAP
xcodebuild -create-xcframework "${args[@]}" -output "$out"
echo "built $out"
