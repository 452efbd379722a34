#!/usr/bin/env bash
# Rust-side instrumentation of the C ABI: the jobs that catch memory and thread bugs inside
# the library when C and C++ code drives it (the *_asan ctest builds instrument only the C
# side). Three jobs, all by default:
#
#   address  the library *and* Rust's std built with AddressSanitizer (nightly
#            -Zsanitizer=address -Zbuild-std, staticlib only); the C and C++ tests (tests/c,
#            tests/cpp) compiled with -fsanitize=address, linked to it and run by ctest
#   thread   the same with ThreadSanitizer
#   miri     tests/ffi_miri.rs (the extern "C" functions called from Rust, callbacks
#            included, no network) under Miri
#
#   tests/sanitizers.sh                 # all three
#   tests/sanitizers.sh thread miri     # selected jobs
#
# Needs a nightly toolchain with rust-src (and miri for the Miri job): installed with rustup
# when missing. Only when that is impossible does a job print "SKIPPED: <job> (<reason>)"
# (tests/ensure-tools.sh, skipped), which counts as no pass. Each sanitizer job proves that
# both sides are instrumented (the Rust
# objects of the archive and every C/C++ test object reference the sanitizer's entry points)
# before it runs anything, so it cannot silently test an uninstrumented library.
#
# Outputs: target/sanitizers/<address|thread> (cargo), build/sanitizers/<address|thread>
# (CMake), target/miri (Miri); the normal builds are untouched. The loopback test server is
# the ordinary one of build/cmake (tests/cmake-all.sh builds it first in the full run).
#
# Environment: ABLY_SANITIZER_TOOLCHAIN (default nightly).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=tests/ensure-tools.sh
source tests/ensure-tools.sh
ensure_tools

toolchain=${ABLY_SANITIZER_TOOLCHAIN:-nightly}
jobs=("$@")
((${#jobs[@]})) || jobs=(address thread miri)
for job in "${jobs[@]}"; do
    case $job in
    address | thread | miri) ;;
    *)
        echo "unknown job: $job (address, thread or miri)" >&2
        exit 2
        ;;
    esac
done

summary=()
report() { summary+=("$*"); }
trap 'printf "\n==> sanitizers: summary\n"; printf "  %s\n" "${summary[@]}"' EXIT

# --- The toolchain ------------------------------------------------------------------------
# A present toolchain only gains the components it lacks (no update that would invalidate
# other nightly builds); a missing one is installed with them.
ensure_component() { # ensure_component <component>: false when it cannot be had
    command -v rustup >/dev/null 2>&1 || return 1
    if rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
        rustup component list --toolchain "$toolchain" --installed 2>/dev/null |
            grep "^$1" >/dev/null && return 0
        RUST_BACKTRACE=0 rustup component add --toolchain "$toolchain" "$1" && return 0
    fi
    RUST_BACKTRACE=0 rustup toolchain install "$toolchain" --profile minimal --component "$1"
}

host=$(rustc -vV | sed -n 's/^host: //p')
nightly_reason=""
if ! command -v rustup >/dev/null 2>&1; then
    nightly_reason="rustup is not installed, so no $toolchain toolchain"
elif ! ensure_component rust-src; then
    nightly_reason="the $toolchain toolchain with rust-src could not be installed"
fi

# --- address / thread ---------------------------------------------------------------------
# The sanitizer runtime is the Rust toolchain's own compiler-rt copy: rustc does not put one
# into a staticlib, and the C compiler's runtime can be older than the instrumentation in the
# Rust objects (GCC 12's libtsan lacks __tsan_memcpy, which LLVM emits). So the C and C++
# code is compiled with the compiler's -fsanitize=<name>, and linked with -fno-sanitize=all
# (no second runtime) plus the toolchain's runtime, whole, as clang's driver links its own.
sanitizer_job() { # sanitizer_job address|thread
    local san=$1 short
    [[ $san == address ]] && short=asan || short=tsan
    if [[ -n $nightly_reason ]]; then
        skipped "Rust-side $san sanitizer" "$nightly_reason"
        report "$san: SKIPPED ($nightly_reason)"
        return 0
    fi
    if [[ $host != x86_64-unknown-linux-gnu && $host != aarch64-unknown-linux-gnu ]]; then
        skipped_optional "Rust-side $san sanitizer" "wired up for Linux/glibc hosts only, not $host"
        report "$san: SKIPPED (host $host)"
        return 0
    fi
    local start=$SECONDS
    local cargo_dir="$root/target/sanitizers/$san"
    local lib="$cargo_dir/$host/debug/libably_auth.a"
    echo "==> $san: building the library and std with -Zsanitizer=$san ($toolchain)"
    # Only the staticlib (no cdylib link), opt-level 1 (what the sanitizers recommend),
    # line tables for file:line in reports, frame pointers for the runtime's fast unwinder.
    # --target keeps RUSTFLAGS away from build scripts and proc-macros.
    env -u CARGO_ENCODED_RUSTFLAGS \
        RUSTFLAGS="-Zsanitizer=$san -Cforce-frame-pointers=yes" \
        CARGO_TARGET_DIR="$cargo_dir" CARGO_INCREMENTAL=0 \
        CARGO_PROFILE_DEV_OPT_LEVEL=1 CARGO_PROFILE_DEV_DEBUG=line-tables-only \
        cargo "+$toolchain" rustc --locked --lib --crate-type staticlib \
        -Zbuild-std --target "$host"
    local cargo_seconds=$((SECONDS - start))

    # Rust side: the crate's own objects and std's must call into the sanitizer.
    local probe
    [[ $san == address ]] && probe='__asan_report_(load|store)' || probe='__tsan_(read|write)'
    local crate count
    for crate in ably_auth std; do
        count=$(nm -A "$lib" 2>/dev/null | grep -cE ":${crate}-[0-9a-f]+\.[^:]*: +U ${probe}" || true)
        if ((count == 0)); then
            echo "error: no ${probe} references in the $crate objects of $lib: not instrumented" >&2
            return 1
        fi
        echo "instrumented: the $crate objects hold $count undefined ${probe} symbols"
    done

    local runtime
    runtime=$(compgen -G "$(rustc "+$toolchain" --print target-libdir --target "$host")/librustc-*_rt.$short.a" | head -n1 || true)
    if [[ -z $runtime ]]; then
        echo "error: the $toolchain toolchain has no $short runtime (librustc-*_rt.$short.a)" >&2
        return 1
    fi

    echo "==> $san: C and C++ tests with -fsanitize=$san"
    local build="$root/build/sanitizers/$san"
    local cflags="-fsanitize=$san -fno-omit-frame-pointer -g"
    # GCC documents that -fsanitize=address makes -Wmaybe-uninitialized report false positives
    # (it does on <optional> in tests/cpp at -O2); the tests build with -Werror.
    if "${CXX:-c++}" --version 2>/dev/null | grep -q 'Free Software Foundation'; then
        cflags+=" -Wno-maybe-uninitialized"
    fi
    local ldflags="-fno-sanitize=all -Wl,--whole-archive $runtime -Wl,--no-whole-archive -lpthread -ldl -lm -lrt"
    mkdir -p "$root/build"
    [[ -f "$root/build/.gitignore" ]] || echo '*' >"$root/build/.gitignore"
    # RelWithDebInfo: the loopback server comes from build/cmake's release cargo output.
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DABLY_AUTH_PREBUILT_STATIC_LIBRARY="$lib" \
        -DABLY_AUTH_CARGO_TARGET_DIR="$root/build/cmake/cargo-target" \
        -DABLY_AUTH_SANITIZER_TESTS=OFF -DABLY_AUTH_BUILD_EXAMPLES=OFF -DABLY_AUTH_INSTALL=OFF \
        -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cflags" \
        -DCMAKE_EXE_LINKER_FLAGS="$ldflags"
    cmake --build "$build" -j2

    # C side: every test object must have been compiled with the sanitizer.
    local objects=0 object
    while IFS= read -r -d '' object; do
        objects=$((objects + 1))
        if ! nm "$object" | grep -E " U __${short}_init$" >/dev/null; then
            echo "error: $object does not reference __${short}_init: not instrumented" >&2
            return 1
        fi
    done < <(find "$build/tests" -name '*.o' -print0)
    if ((objects == 0)); then
        echo "error: no C or C++ test objects under $build/tests" >&2
        return 1
    fi
    echo "instrumented: all $objects C and C++ test objects reference __${short}_init"

    echo "==> $san: ctest"
    local log="$build/ctest.log" rc
    set +e
    (
        cd "$build" &&
            ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1" \
                TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp" \
                ctest --output-on-failure --no-tests=error
    ) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    local line
    line=$(grep -E 'tests passed' "$log" | tail -n1 || true)
    report "$san: ${line:-no ctest summary}; $((SECONDS - start)) s (cargo ${cargo_seconds} s)"
    return "$rc"
}

# --- miri ---------------------------------------------------------------------------------
miri_job() {
    local reason=$nightly_reason
    if [[ -z $reason ]] && ! ensure_component miri; then
        reason="the miri component of the $toolchain toolchain could not be installed"
    fi
    if [[ -n $reason ]]; then
        skipped "Miri over the C ABI" "$reason"
        report "miri: SKIPPED ($reason)"
        return 0
    fi
    local start=$SECONDS
    echo "==> miri: tests/ffi_miri.rs"
    cargo "+$toolchain" miri setup
    # Isolation off: the library reads the real clock (TokenRequest timestamps, expiry).
    MIRIFLAGS="-Zmiri-disable-isolation ${MIRIFLAGS:-}" \
        cargo "+$toolchain" miri test --locked --test ffi_miri
    report "miri: passed; $((SECONDS - start)) s"
}

for job in "${jobs[@]}"; do
    case $job in
    address | thread) sanitizer_job "$job" ;;
    miri) miri_job ;;
    esac
done
