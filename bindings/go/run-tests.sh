#!/usr/bin/env bash
# Tests of the Go binding: builds the static library (cargo build --release -p ably-auth)
# and the loopback Ably-compatible server, then runs go vet and go test -race with
# GODEBUG=cgocheck=1, and checks that linking a library from elsewhere
# (-tags ablyauth_external with CGO_CFLAGS/CGO_LDFLAGS, here the shared library) works.
# Needs Go (with cgo and a C compiler) and cargo; installs nothing. Go modules (ably-go,
# test-only, for the oracle test) are fetched through the module proxy when missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

command -v go >/dev/null || { echo "run-tests.sh: go not found (Go 1.22 or newer is needed)" >&2; exit 1; }
command -v cargo >/dev/null || { echo "run-tests.sh: cargo not found" >&2; exit 1; }

echo "==> cargo build --release -p ably-auth (libably_auth.a, .so)"
(cd "$root" && cargo build --locked --release -p ably-auth)
echo "==> cargo build -p ably-loopback --bin ably-loopback-server"
(cd "$root" && cargo build --locked -p ably-loopback --bin ably-loopback-server)
export ABLY_LOOPBACK_SERVER="$root/target/debug/ably-loopback-server"

cd "$here"
export CGO_ENABLED=1
echo "==> go vet ./..."
go vet ./...
echo "==> linking through -tags ablyauth_external (shared library)"
ext_bin=$(mktemp -d)/issue-tokens
CGO_CFLAGS="-I$root/include" CGO_LDFLAGS="-L$root/target/release -lably_auth" \
    go build -tags ablyauth_external -o "$ext_bin" ./examples/issue-tokens
LD_LIBRARY_PATH="$root/target/release" "$ext_bin" 'appId.keyId:keySecret' go-external >/dev/null
rm -rf "$(dirname "$ext_bin")"
echo "==> GODEBUG=cgocheck=1 go test -race -count=1 ./..."
GODEBUG=cgocheck=1 go test -race -count=1 ./...
