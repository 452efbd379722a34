#!/usr/bin/env bash
# Everything Swift, in order (each step fails the script loudly):
#   1. cargo: the Rust library (release) and the loopback server;
#   2. swift build of every target (the package, its tests, the example) in the Swift 6
#      language mode with complete strict-concurrency checking and -warnings-as-errors;
#   3. swift test over the built-in HTTP client;
#   4. swift test over URLSessionTransport (ABLY_SWIFT_TRANSPORT=urlsession): every test
#      that passed in 3 passes, or is skipped with its reason (the same results);
#   5. swift test --sanitize=address (LeakSanitizer on, lsan.supp) and --sanitize=thread
#      (tsan.supp), every test;
#   6. the example (a game server issuing a token for a player, a client authorizing);
#   7. the consumer test (bindings/swift/test-consumer.sh: CMake install, pkg-config, a
#      fresh package depending on this checkout).
# Without `swift` on PATH it prints one SKIPPED line and exits 0.
#
#   bindings/swift/run-tests.sh [--quick]
#
# --quick runs steps 1-4 only. Logs go to target/swift-logs/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
if ! command -v swift >/dev/null 2>&1; then
    skipped_optional "Swift package" "no swift toolchain on PATH; see bindings/swift/README.md"
    exit 0
fi
quick=false
[ "${1:-}" = --quick ] && quick=true

here="$root/bindings/swift"
cd "$root"
lib="$root/target/release"
logs="$root/target/swift-logs"
mkdir -p "$logs"

summary=()
current="setup"
on_exit() {
    local rc=$?
    printf '\n==> Swift summary\n'
    ((${#summary[@]})) && printf '  %s\n' "${summary[@]}"
    if ((rc != 0)); then
        printf '  FAILED during: %s (exit %d); logs in %s\n' "$current" "$rc" "$logs"
    fi
}
trap on_exit EXIT
step() { current="$*"; printf '\n==> %s\n' "$*"; }
fail() { echo "run-tests.sh: $*" >&2; exit 1; }
now() { date +%s; }

step "cargo build --release (library, loopback server)"
t0=$(now)
cargo build --release --lib
cargo build --release -p ably-loopback --bin ably-loopback-server
summary+=("cargo release build: OK ($(($(now) - t0)) s)")

export ABLY_LOOPBACK_SERVER="$lib/ably-loopback-server"
# The library is found by -L at link time and by an rpath at run time. (SwiftPM also warns
# "couldn't find pc file for ably_auth" when no ably_auth.pc is installed: harmless here.)
link=(-Xlinker -L"$lib" -Xlinker -rpath -Xlinker "$lib")
strict=(-Xswiftc -warnings-as-errors)

step "swift build (Swift 6 mode, complete concurrency checking, warnings as errors)"
t0=$(now)
swift build --build-tests --scratch-path target/swift "${strict[@]}" "${link[@]}" 2>&1 |
    tee "$logs/build.txt"
[ "${PIPESTATUS[0]}" = 0 ] || fail "swift build failed"
if grep -E '(^|: )warning: ' "$logs/build.txt" | grep -v "couldn't find pc file"; then
    fail "the Swift build has warnings (above)"
fi
summary+=("swift build, 0 warnings: OK ($(($(now) - t0)) s)")

# run_tests NAME SCRATCH [swift test arguments...]: runs the suites, fails on a failure or a
# sanitizer report, and records the counts.
run_tests() {
    local name=$1 scratch=$2
    shift 2
    local log="$logs/$name.txt" t0 rc=0
    t0=$(now)
    swift test --scratch-path "$scratch" "${strict[@]}" "${link[@]}" "$@" >"$log" 2>&1 || rc=$?
    local secs=$(($(now) - t0))
    local executed
    executed=$(grep -E "^Test Suite 'All tests' (passed|failed)" -A1 "$log" | grep -oE 'Executed [0-9]+ tests?, with [0-9]+ tests? skipped and [0-9]+ failures?|Executed [0-9]+ tests?, with [0-9]+ failures?' | tail -n1 || true)
    if ((rc != 0)) || [ -z "$executed" ] || grep -qE "' failed \(|error: .* : " "$log" ||
        grep -qE 'WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$log"; then
        grep -E "error: |' failed|Sanitizer|SUMMARY" "$log" | head -n 60 >&2 || true
        tail -n 40 "$log" >&2
        fail "$name: swift test failed (exit $rc; log $log)"
    fi
    grep -oE "Test Case '[^']+' passed" "$log" | sed "s/Test Case '//; s/' passed//" | sort >"$logs/$name.passed"
    grep -oE "Test Case '[^']+' skipped" "$log" | sed "s/Test Case '//; s/' skipped//" | sort >"$logs/$name.skipped" || true
    echo "$name: $executed in $secs s"
    summary+=("$name: $executed ($secs s)")
}

step "swift test (built-in HTTP client)"
run_tests builtin target/swift

step "swift test (URLSessionTransport)"
ABLY_SWIFT_TRANSPORT=urlsession run_tests urlsession target/swift
# The same results: what passed over the built-in client passes over URLSession, or is
# skipped there with its reason.
missing=$(comm -23 "$logs/builtin.passed" "$logs/urlsession.passed" | comm -23 - "$logs/urlsession.skipped")
[ -z "$missing" ] || fail "passed over the built-in client but not over URLSession: $missing"
while IFS= read -r skipped; do
    [ -n "$skipped" ] || continue
    reason=$(grep -F "$skipped" "$logs/urlsession.txt" | grep -m1 -i 'skip' || true)
    echo "skipped over URLSession: $reason"
    summary+=("  skipped over URLSession: $skipped")
done <"$logs/urlsession.skipped"

if $quick; then
    summary+=("--quick: sanitizers, example and consumer test not run")
    exit 0
fi

# The Swift code and the tests are instrumented; the Rust library is not (it is built by
# cargo, without sanitizers), but its allocations go through the interceptors, so
# LeakSanitizer sees its leaks too. lsan.supp names what XCTest and the system's libcurl
# (under URLSession) keep until exit, each with its reason; nothing of this package or of
# the Rust library is suppressed.
step "swift test --sanitize=address (with LeakSanitizer)"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=1" \
    run_tests asan target/swift-asan --sanitize=address

# tsan.supp: only the thread leaks of the library's detached threads (with the reason).
step "swift test --sanitize=thread"
TSAN_OPTIONS="halt_on_error=1:suppressions=$here/tsan.supp:print_suppressions=1" \
    run_tests tsan target/swift-tsan --sanitize=thread

step "the example: a game server issues a token for a player, the client authorizes"
t0=$(now)
coproc SERVER { exec "$ABLY_LOOPBACK_SERVER" --exit-on-stdin-eof; }
server_pid=$SERVER_PID # bash unsets SERVER_PID once the coprocess has exited
read -r line <&"${SERVER[0]}"
url=${line#LISTENING }
out=$("$root/target/swift/debug/ably-auth-swift-example" appId.keyId:loopbackSecret0123456789 "$url" player-7) ||
    fail "the example failed: $out"
echo "$out"
exec {SERVER[1]}>&-
wait "$server_pid" || true
grep -qx 'authorized: clientId player-7, token valid for 3600 s' <<<"$out" || fail "the example did not authorize"
grep -qx 'GET /channels/game:lobby: 200' <<<"$out" || fail "the example's request failed"
summary+=("example: OK ($(($(now) - t0)) s)")

step "consumer test (CMake install, pkg-config, a fresh package)"
t0=$(now)
"$here/test-consumer.sh" >"$logs/consumer.txt" 2>&1 || { tail -n 60 "$logs/consumer.txt" >&2; fail "the consumer test failed"; }
tail -n 8 "$logs/consumer.txt"
summary+=("consumer test: OK ($(($(now) - t0)) s)")

current="done"
summary+=("Swift: all steps passed")
