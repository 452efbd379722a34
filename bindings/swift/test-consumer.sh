#!/usr/bin/env bash
# Uses the Swift package the way a Swift developer does, from a package outside this checkout:
#   1. builds the C library with CMake and installs it into PREFIX (the README's commands);
#   2. makes a fresh package in a temporary directory, next to a link named ably-auth to this
#      checkout, that depends on it with .package(path: "../ably-auth") and whose executable
#      is the example (bindings/swift/Examples/TokenExample/Example.swift, copied);
#   3. builds it with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig only: SwiftPM takes -L<libdir>
#      from the installed ably_auth.pc (CAblyAuth's pkgConfig), and an rpath finds the
#      shared library at run time;
#   4. checks that the program loads libably_auth from PREFIX (not from target/), and runs it
#      against the loopback server: it signs a TokenRequest and authorizes with it.
# The commands a user types are marked "verbatim" below; the script first checks that
# README.md (Swift section) and bindings/swift/README.md show each of those lines exactly.
#
#   bindings/swift/test-consumer.sh [PREFIX]
#
# PREFIX defaults to a temporary directory removed at the end. The CMake build tree is
# build/swift in the checkout (kept, so later runs are incremental). Needs cmake, cargo,
# swift, pkg-config, and target/release/ably-loopback-server (run-tests.sh builds it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

# The READMEs show the verbatim lines of this script, unchanged.
verbatim=$(awk '/^# --- the README.s commands/ { on = 1; next } /^# ---/ { on = 0 } on' "${BASH_SOURCE[0]}")
[ "$(wc -l <<<"$verbatim")" -ge 7 ] || { echo "test-consumer.sh: no verbatim lines found" >&2; exit 1; }
for readme in "$root/README.md" "$here/README.md"; do
    while IFS= read -r line; do
        grep -qxF -- "$line" "$readme" ||
            { echo "test-consumer.sh: $readme lacks the line: $line" >&2; exit 1; }
    done <<<"$verbatim"
done

for tool in cmake cargo swift pkg-config; do
    command -v "$tool" >/dev/null || { echo "test-consumer.sh: $tool not found" >&2; exit 1; }
done
server=$root/target/release/ably-loopback-server
[ -x "$server" ] || { echo "test-consumer.sh: $server not built" >&2; exit 1; }

scratch=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$scratch"
}
trap cleanup EXIT
prefix=${1:-$scratch/prefix}
mkdir -p "$prefix" "$root/build"
prefix=$(cd "$prefix" && pwd)
[ -f "$root/build/.gitignore" ] || echo '*' >"$root/build/.gitignore"

echo "==> install the C library with CMake into $prefix"
cd "$root"
# --- the README's commands (install), verbatim ------------------------------------------
cmake -S . -B build/swift -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_LIBDIR=lib \
    -DABLY_AUTH_CARGO_TARGET_DIR="$PWD/target" \
    -DABLY_AUTH_BUILD_TESTS=OFF -DABLY_AUTH_BUILD_EXAMPLES=OFF
cmake --build build/swift
cmake --install build/swift --prefix "$prefix"
# ---------------------------------------------------------------------------------------

echo "==> a fresh package in $scratch/app depending on the checkout"
ln -s "$root" "$scratch/ably-auth"
mkdir -p "$scratch/app/Sources/tokens"
cp "$here/Examples/TokenExample/Example.swift" "$scratch/app/Sources/tokens/"
# The manifest is the README's, verbatim (between its swift fences).
awk '/^```swift$/ { n++; if (n == 1) { on = 1; next } } /^```$/ { on = 0 } on' "$here/README.md" \
    >"$scratch/app/Package.swift"
grep -q '^// swift-tools-version:6.0$' "$scratch/app/Package.swift" ||
    { echo "test-consumer.sh: the README's first swift block is not the manifest" >&2; exit 1; }
cat "$scratch/app/Package.swift"
cd "$scratch/app"
# Only this prefix's .pc files: a system-wide ably_auth.pc must not be picked up.
export PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
# --- the README's commands (build), verbatim --------------------------------------------
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
swift build -c release -Xlinker -rpath -Xlinker "$prefix/lib"
# ---------------------------------------------------------------------------------------

echo "==> the program loads the installed library"
program=$scratch/app/.build/release/tokens
loaded=$(ldd "$program" | grep libably_auth)
echo "$loaded"
grep -qF "$prefix/lib/libably_auth.so" <<<"$loaded" ||
    { echo "test-consumer.sh: libably_auth does not come from $prefix/lib" >&2; exit 1; }

echo "==> run it against the loopback server (TokenRequest, authorize)"
coproc SERVER { exec "$server" --exit-on-stdin-eof; }
server_pid=$SERVER_PID
read -r line <&"${SERVER[0]}"
url=${line#LISTENING }
version=$(pkg-config --modversion ably_auth)
ABLY_KEY=appId.keyId:loopbackSecret0123456789 # the loopback server's key
ABLY_REST_URL=$url
exec 3>&1 >"$scratch/out.txt"
# --- the README's commands (run), verbatim ----------------------------------------------
.build/release/tokens "$ABLY_KEY" "$ABLY_REST_URL" player-42
# ---------------------------------------------------------------------------------------
exec >&3 3>&-
out=$(cat "$scratch/out.txt")
echo "$out"
grep -qx "ably-auth $version" <<<"$out"
grep -q '^TokenRequest: {"keyName":"appId.keyId","ttl":3600000,"capability":.*"clientId":"player-42",' <<<"$out"
grep -qx 'authorized: clientId player-42, token valid for 3600 s' <<<"$out"
grep -qx 'GET /channels/game:lobby: 200' <<<"$out"
exec {SERVER[1]}>&-
wait "$server_pid" || true
server_pid=

echo "==> Swift consumer test passed (ably_auth $version from $prefix, pkg-config)"
