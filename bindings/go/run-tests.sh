#!/usr/bin/env bash
# Tests of the Go binding:
#   1. test-outside-module.sh: installs the C library with CMake into build/go-prefix,
#      then gets the binding through a local module proxy into a fresh module outside the
#      checkout, builds it (static) and runs it against the loopback server;
#   2. against that same prefix (PKG_CONFIG_PATH): go vet and go test -race with
#      GODEBUG=cgocheck=1 (and once with GOEXPERIMENT=cgocheck2) of the package, linking
#      the shared library instead (-tags ablyauth_pkgconfig) and a library given through
#      the environment (-tags ablyauth_external), and the nested test-only modules: the
#      ably-go oracle (internal/oracle) and the proxy tool (internal/modproxy).
# Needs Go (with cgo and a C compiler), cargo, cmake and pkg-config; installs nothing.
# Without Go it prints one SKIPPED line (tests/ensure-tools.sh). Go
# modules (ably-go for the oracle, golang.org/x/mod for the proxy tool) are fetched through
# the module proxy when missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
if ! command -v go >/dev/null 2>&1; then
    skipped "Go binding" "no go toolchain on PATH; Debian's golang-go is older than go.mod's go 1.22"
    exit 0
fi
for tool in go cargo cmake pkg-config; do
    command -v "$tool" >/dev/null || { echo "run-tests.sh: $tool not found" >&2; exit 1; }
done

# A fixed prefix, installed afresh: Go's build cache keys the cgo package on its sources and
# flags but not on pkg-config's answer (a cached build of bindings/go keeps linking the
# prefix it was first built against) nor on the library's bytes. So the prefix stays the
# same path, and the archive's hash goes into CGO_CFLAGS as a harmless define.
prefix=$root/build/go-prefix
rm -rf "$prefix"
echo "==> outside-module test (installs the C library into $prefix)"
"$here/test-outside-module.sh" "$prefix"

# Everything below builds against the installed prefix, like a user's module.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export CGO_CFLAGS="-DABLY_AUTH_ARCHIVE_SHA=$(sha256sum "$prefix/lib/libably_auth.a" | cut -c1-16)"
export ABLY_LOOPBACK_SERVER="$root/target/debug/ably-loopback-server" # built by step 1
export CGO_ENABLED=1
cd "$here"
echo "==> go vet ./..."
go vet ./...

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
echo "==> linking the shared library through -tags ablyauth_pkgconfig"
go build -tags ablyauth_pkgconfig -o "$bin/issue-tokens-shared" ./examples/issue-tokens
readelf -d "$bin/issue-tokens-shared" | grep -q 'NEEDED.*libably_auth'
LD_LIBRARY_PATH="$prefix/lib" "$bin/issue-tokens-shared" 'appId.keyId:keySecret' go-shared >/dev/null
echo "==> linking through -tags ablyauth_external (CGO_CFLAGS, CGO_LDFLAGS)"
CGO_CFLAGS="$CGO_CFLAGS -I$prefix/include" CGO_LDFLAGS="$prefix/lib/libably_auth.a -lm -ldl -lpthread" \
    go build -tags ablyauth_external -o "$bin/issue-tokens-external" ./examples/issue-tokens
"$bin/issue-tokens-external" 'appId.keyId:keySecret' go-external >/dev/null

echo "==> GODEBUG=cgocheck=1 go test -race -count=1 ./..."
GODEBUG=cgocheck=1 go test -race -count=1 ./...
# CreateTokenRequest and CreateJWT pass a struct holding pointers to Go strings by value;
# cgocheck2 checks every pointer write and argument, so it would catch such a struct
# reaching C through Go memory (the cgo rules allow it by value only).
echo "==> GOEXPERIMENT=cgocheck2 go test -count=1 ."
GOEXPERIMENT=cgocheck2 go test -count=1 .

echo "==> internal/oracle (ably-go oracle, a module of its own): go vet, go test -race"
(cd internal/oracle && go vet ./... && GODEBUG=cgocheck=1 go test -race -count=1 ./...)
echo "==> internal/modproxy (proxy tool, a module of its own): go vet"
(cd internal/modproxy && go vet ./...)
