#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target for a short, bounded time from the committed seed
# corpus (copied to a temporary directory, so the committed corpora are never modified).
# Needs a nightly toolchain and cargo-fuzz; installs them when missing and possible, else
# prints "SKIPPED: fuzz smoke (<what is missing>)" and runs only the stable replay of the
# committed inputs. Exits non-zero on any crash or failed check.
#
#   fuzz/smoke.sh                 # 10 s per target
#   FUZZ_SECONDS=600 fuzz/smoke.sh token_details   # longer, selected targets
#
# Environment: FUZZ_SECONDS (per target, default 10), FUZZ_RSS_MB (default 2048),
# FUZZ_JOBS_NICE (nice level, default 0), FUZZ_NO_NIGHTLY=1 (act as if there were no nightly).
set -euo pipefail
# shellcheck source=tests/ensure-tools.sh
source "$(dirname "$0")/../tests/ensure-tools.sh"

cd "$(dirname "$0")"
FUZZ_DIR=$PWD
SECONDS_PER_TARGET=${FUZZ_SECONDS:-10}
RSS_MB=${FUZZ_RSS_MB:-2048}
NICE=${FUZZ_JOBS_NICE:-0}

replay() {
    echo "== fuzz: stable replay of the committed corpora and regressions"
    # The root crate's copy of the replay: needs neither nightly nor libFuzzer's C++ build.
    cargo test --quiet --manifest-path "$FUZZ_DIR/../Cargo.toml" --test fuzz_replay
}

have_nightly() {
    [ -z "${FUZZ_NO_NIGHTLY:-}" ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'
}

if ! command -v rustup >/dev/null 2>&1; then
    skipped "fuzz smoke" "no nightly toolchain: rustup is not installed"
    replay
    exit 0
fi
if ! have_nightly && [ -z "${FUZZ_NO_NIGHTLY:-}" ]; then
    echo "== fuzz: installing a nightly toolchain"
    rustup toolchain install nightly --profile minimal || true
fi
if ! have_nightly; then
    skipped "fuzz smoke" "no nightly toolchain, and rustup could not install one"
    replay
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== fuzz: installing cargo-fuzz"
    if ! cargo install cargo-fuzz --locked; then
        skipped "fuzz smoke" "cargo-fuzz is not installed and could not be"
        replay
        exit 0
    fi
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== fuzz: building ${#targets[@]} targets (nightly, AddressSanitizer)"
cargo +nightly fuzz build

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    mkdir -p "$corpus" "$work/artifacts/$target"
    cp -R "$FUZZ_DIR/corpus/$target/." "$corpus/" 2>/dev/null || true
    if [ -d "$FUZZ_DIR/regressions/$target" ]; then
        cp -R "$FUZZ_DIR/regressions/$target/." "$corpus/"
    fi
    dict=()
    if [ -f "$FUZZ_DIR/dicts/$target.dict" ]; then
        dict=("-dict=$FUZZ_DIR/dicts/$target.dict")
    fi
    log="$work/$target.log"
    echo "== fuzz: $target for ${SECONDS_PER_TARGET}s"
    if nice -n "$NICE" cargo +nightly fuzz run "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$target/" "${dict[@]}" \
        >"$log" 2>&1; then
        grep -E '^#[0-9]+ +DONE|^Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb' "$log" | tr '\n' ' '
        echo
    else
        echo "FAILED: fuzz target $target crashed or failed a check; log tail:"
        tail -40 "$log"
        for artifact in "$work/artifacts/$target"/*; do
            [ -e "$artifact" ] || continue
            mkdir -p "$FUZZ_DIR/artifacts/$target"
            cp "$artifact" "$FUZZ_DIR/artifacts/$target/"
            echo "  crashing input saved to fuzz/artifacts/$target/$(basename "$artifact")"
        done
        failed+=("$target")
    fi
done

replay

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzz smoke OK: ${#targets[@]} targets, ${SECONDS_PER_TARGET}s each, no crashes"
