#!/usr/bin/env bash
# Every test of the repository, as the README's second command and CI run it:
#   1. Rust (the workspace: the library and the loopback Ably-compatible test server):
#      formatting, clippy, unit tests, UTS-derived tests over real sockets, concurrency and
#      fault tests, header drift check, fuzz corpus replay; the networked suites again over
#      a host transport driven through the C ABI (tests/transport-parity.sh); a 10 s libFuzzer run per fuzz
#      target (fuzz/smoke.sh); the benchmarks are compiled, not run
#   2. CMake/ctest: C and C++ (GoogleTest) tests (plus an AddressSanitizer+UBSan copy of
#      each), header compiled alone as C11 and C++17, the examples and the end-to-end demo;
#      then install and build consumer projects against the installed package
#      (find_package shared and static, C and C++, pkg-config); every snippet of the READMEs
#      compiled as written (tests/readme-snippets.sh); then the build without the
#      built-in HTTP client (tests/no-http-client.sh: cargo tree, offline Rust tests, the C
#      and C++ suites with the libcurl host transport)
#   3. Rust-side sanitizers (tests/sanitizers.sh): the C and C++ tests again, linked to the
#      library and std built with AddressSanitizer, then ThreadSanitizer (nightly); Miri over
#      tests/ffi_miri.rs (the C ABI driven from Rust)
#   4. Go binding: go vet and go test -race against the loopback server
#   5. Swift package: swift test where a toolchain exists, otherwise a clear SKIPPED line
#   6. Platform jobs (tests/platforms.sh): i686 (C, C++, Go), aarch64 and armv7 under
#      qemu-user, Windows x86_64 under Wine (MinGW-w64), Android and iOS staticlibs compiled,
#      the headers with clang and MinGW. ABLY_AUTH_SKIP_PLATFORMS=1 skips them locally.
#
# Crates come from the crate registry, or, where none answers, from the vendored snapshot in
# ../shared/vendor (tests/ensure-tools.sh, ensure_crates; ABLY_AUTH_VENDORED_CRATES=1 forces
# it). A part whose tool is missing and cannot be installed here (Rust nightly for the
# sanitizers, Miri and fuzzing; rustup targets for the platform jobs; Go; Swift) prints one
# "SKIPPED: <part> (<what is missing>)" line and counts as no pass. Where a crate registry
# answers (the project's usual machine, on which every such tool can be installed) a skipped
# part fails the run unless ABLY_AUTH_SKIP_PLATFORMS=1; Swift, which no Debian package
# provides, may be skipped anywhere.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=tests/ensure-tools.sh
source tests/ensure-tools.sh
ensure_tools
ensure_rust_lints
ensure_crates
ABLY_AUTH_SKIP_LOG=$(mktemp)
export ABLY_AUTH_SKIP_LOG
trap 'rm -f "$ABLY_AUTH_SKIP_LOG"' EXIT

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "==> cargo test"
cargo test --locked --workspace
echo "==> transport parity (the networked suites over the built-in client and a host transport)"
tests/transport-parity.sh
echo "==> fuzz smoke (10 s per target; stable replay only without nightly)"
fuzz/smoke.sh
echo "==> benchmarks compile"
cargo bench --locked --workspace --no-run
echo "==> CMake build, ctest, install, consumers"
tests/cmake-all.sh
echo "==> README snippets (compiled as written against the installed package; offline ones under valgrind)"
tests/readme-snippets.sh
echo "==> build without the built-in HTTP client (cargo tree, offline Rust tests, C/C++ suites)"
tests/no-http-client.sh
echo "==> valgrind memcheck (C and C++ tests of build/cmake)"
tests/valgrind.sh build/cmake
echo "==> Rust-side ASan and TSan under the C/C++ tests, Miri over the C ABI (nightly)"
tests/sanitizers.sh
echo "==> Go binding (go vet, go test -race with GODEBUG=cgocheck=1)"
bindings/go/run-tests.sh
echo "==> Swift package (runs only where a swift toolchain is installed)"
bindings/swift/run-tests.sh
echo "==> platform jobs (i686, aarch64/armv7 under qemu, Windows under Wine, Android/iOS)"
tests/platforms.sh
if [ -s "$ABLY_AUTH_SKIP_LOG" ]; then
    echo "==> skipped parts (counted as no pass):"
    cut -f2 "$ABLY_AUTH_SKIP_LOG" | sed 's/^/  /'
    if [ "$ABLY_AUTH_CRATES" = registry ] && [ "${ABLY_AUTH_SKIP_PLATFORMS:-}" != 1 ] &&
        grep -q '^required' "$ABLY_AUTH_SKIP_LOG"; then
        echo "error: parts were skipped on a machine that reaches the crate registry, where their tools can be installed (ABLY_AUTH_SKIP_PLATFORMS=1 allows it)" >&2
        exit 1
    fi
fi
echo "==> all test suites passed"
