#!/usr/bin/env bash
# Uses the Go binding the way a Go developer does, from a module outside this checkout:
#   1. builds the C library with CMake and installs it into PREFIX (the README's commands);
#   2. publishes bindings/go as github.com/ably-auth/ably-auth/bindings/go at the crate's
#      version into a module proxy served from a local directory (GOPROXY=file://...), zipped
#      by golang.org/x/mod/zip (internal/modproxy) as a real release would be;
#   3. in a fresh module in a temporary directory: `go get` of that version (no replace
#      pointing at the checkout) and `go build` with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig,
#      of examples/authorize/main.go copied there;
#   4. runs the program against the loopback server: it signs a TokenRequest and authorizes;
#   5. checks that the binary is statically linked to the library (no libably_auth.so
#      needed), that go.sum holds nothing but the binding, and that CGO_ENABLED=0 fails
#      with the readable message of nocgo.go.
# The commands a user types are marked "verbatim" below; the script first checks that
# README.md (Go section) and bindings/go/README.md show each of those lines exactly.
#
#   bindings/go/test-outside-module.sh [PREFIX]
#
# PREFIX defaults to a temporary directory removed at the end; run-tests.sh passes its own
# and goes on using it. The CMake build tree is build/go in the checkout (kept, so later
# runs are incremental). Needs cmake, cargo, go (cgo and a C compiler), pkg-config.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
module=github.com/ably-auth/ably-auth/bindings/go
version=v0.1.0 # the crate's version: the module is tagged bindings/go/<version>
if [ "$version" != "v$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)" ]; then
    echo "test-outside-module.sh: Cargo.toml has another version: update \$version here and the" \
        "go get lines of README.md and bindings/go/README.md" >&2
    exit 1
fi

# The READMEs show the verbatim lines of this script, unchanged.
verbatim=$(awk '/^# --- the README.s commands/ { on = 1; next } /^# ---/ { on = 0 } on' "${BASH_SOURCE[0]}")
for readme in "$root/README.md" "$here/README.md"; do
    while IFS= read -r line; do
        grep -qxF -- "$line" "$readme" ||
            { echo "test-outside-module.sh: $readme lacks the line: $line" >&2; exit 1; }
    done <<<"$verbatim"
done

for tool in cmake cargo go pkg-config cc; do
    command -v "$tool" >/dev/null || { echo "test-outside-module.sh: $tool not found" >&2; exit 1; }
done

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
src=$root
build=$root/build/go
# --- the README's commands (Go section), verbatim ---------------------------------------
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_LIBDIR=lib \
    -DABLY_AUTH_BUILD_TESTS=OFF -DABLY_AUTH_BUILD_EXAMPLES=OFF
cmake --build "$build"
cmake --install "$build" --prefix "$prefix"
# ---------------------------------------------------------------------------------------

echo "==> publish $module@$version into a local module proxy"
proxy=$scratch/proxy
(cd "$here/internal/modproxy" &&
    go run . -module "$module" -version "$version" -src "$here" -out "$proxy")

echo "==> cargo build -p ably-loopback --bin ably-loopback-server"
(cd "$root" && cargo build --locked -p ably-loopback --bin ably-loopback-server)

# The fresh module sees only the local proxy and a module cache of its own (a cached
# download of the same version from an earlier run would otherwise be reused). The
# checksum database does not know this version: GOSUMDB=off (GONOSUMDB for the path too).
export GOPROXY=file://$proxy GOSUMDB=off GONOSUMDB=$module GOPRIVATE= GOWORK=off
export GOFLAGS="-mod=mod -modcacherw" GOMODCACHE=$scratch/modcache CGO_ENABLED=1
app=$scratch/app
mkdir -p "$app"
cp "$here/examples/authorize/main.go" "$app/main.go"
cd "$app"
echo "==> a fresh module in $app: go get $module@$version, go build"
# --- the README's commands (Go section), verbatim ---------------------------------------
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
go mod init example.com/tokens
go get github.com/ably-auth/ably-auth/bindings/go@v0.1.0
go build -o tokens .
# ---------------------------------------------------------------------------------------

echo "==> go.sum holds the binding only"
cat go.sum
if grep -v "^$module " go.sum; then
    echo "test-outside-module.sh: go.sum holds more than $module (above)" >&2
    exit 1
fi
grep -q "^$module $version h1:" go.sum

echo "==> statically linked: the program does not need libably_auth.so"
needed=$(readelf -d tokens | grep 'NEEDED' || true)
echo "$needed"
if grep -q libably_auth <<<"$needed"; then
    echo "test-outside-module.sh: the program needs the shared library" >&2
    exit 1
fi
if ldd tokens | grep libably_auth; then
    echo "test-outside-module.sh: ldd lists libably_auth" >&2
    exit 1
fi
# Not vacuous: the library's code is in the program itself (grep -c reads all of nm's
# output, so pipefail sees no SIGPIPE).
[ "$(nm tokens | grep -c ' T ably_auth_create_token_request$')" = 1 ]

echo "==> run it against the loopback server (TokenRequest, authorize)"
coproc SERVER { exec "$root/target/debug/ably-loopback-server" --exit-on-stdin-eof; }
server_pid=$SERVER_PID
read -r line <&"${SERVER[0]}"
url=${line#LISTENING }
# No LD_LIBRARY_PATH: nothing of the prefix is needed at run time.
out=$(./tokens 'appId.keyId:loopbackSecret0123456789' "$url" player-42)
echo "$out"
grep -q "^ably-auth ${version#v} (header ${version#v})$" <<<"$out"
grep -q '^TokenRequest: {"keyName":"appId.keyId","ttl":3600000,"clientId":"player-42",' <<<"$out"
grep -q '^authorized: clientId player-42, ' <<<"$out"
exec {SERVER[1]}>&-
wait "$server_pid" || true
server_pid=

echo "==> CGO_ENABLED=0 fails with a readable message"
if CGO_ENABLED=0 go build -o /dev/null . 2>"$scratch/nocgo.txt"; then
    echo "test-outside-module.sh: the build without cgo succeeded" >&2
    exit 1
fi
cat "$scratch/nocgo.txt"
grep -q 'ablyauth_requires_cgo_set_CGO_ENABLED_1_and_install_a_C_compiler' "$scratch/nocgo.txt"

echo "==> outside-module test passed ($module@$version, static, from $prefix)"
