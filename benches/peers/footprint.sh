#!/usr/bin/env bash
# Footprint of the library as users get it (issue 13, item 4), for benches/peers/run.sh or
# alone: prints SIZE lines (name, bytes) on stdout and leaves the stripped libraries and
# symbol tables in $scratch (default target/peers).
#   - the cdylib and the staticlib each built alone (`cargo rustc --crate-type`), with and
#     without the built-in HTTP client; CMake (cmake/AblyAuthCargo.cmake) builds the two in
#     one `cargo rustc --crate-type cdylib --crate-type staticlib` run, which gives the same
#     files (no rlib among the crate types);
#     the cdylibs again with the min-size-rel profile (CMake's MinSizeRel)
#   - the .so `cargo build` makes (cdylib, staticlib and rlib in one rustc run)
#   - a minimal static C program without and with the library (full build)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
scratch=${scratch:-$root/target/peers}
rel="$root/target/release"
mkdir -p "$scratch"
size_of() { stat -c %s "$1"; }
log() { echo "==> $*" >&2; }

# Cargo's fingerprint does not tell the crate types apart, hence the touch before each build.
alone() { # alone <crate-type> <label> <profile> [cargo args...]
    local type=$1 label=$2 profile=$3 out="$root/target/$3"
    shift 3
    touch "$root/src/lib.rs"
    (cd "$root" && cargo rustc --locked --profile "$profile" -p ably-auth --lib --crate-type "$type" "$@" 2>&1 | tail -1) >&2
    case $type in
    cdylib) strip -o "$scratch/libably_auth.$label.stripped.so" "$out/libably_auth.so"
            cp "$out/libably_auth.so" "$scratch/libably_auth.$label.so"
            printf 'SIZE\tso_%s_stripped\t%s\n' "$label" "$(size_of "$scratch/libably_auth.$label.stripped.so")" ;;
    staticlib) cp "$out/libably_auth.a" "$scratch/libably_auth.$label.a"
            printf 'SIZE\tstatic_%s\t%s\n' "$label" "$(size_of "$scratch/libably_auth.$label.a")" ;;
    esac
}

log "cdylib and staticlib, each alone, without the built-in HTTP client"
alone cdylib no_http release --no-default-features
alone staticlib no_http release --no-default-features
log "cdylib and staticlib, each alone, full build"
alone cdylib full release
alone staticlib full release
log "cdylibs with the min-size-rel profile"
alone cdylib no_http_min_size min-size-rel --no-default-features
alone cdylib full_min_size min-size-rel

log "cargo build (cdylib, staticlib and rlib together)"
touch "$root/src/lib.rs"
(cd "$root" && cargo build --locked --release -p ably-auth 2>&1 | tail -1) >&2
strip -o "$scratch/libably_auth.stripped.so" "$rel/libably_auth.so"
printf 'SIZE\tso_unstripped\t%s\nSIZE\tso_stripped\t%s\nSIZE\tstatic_archive\t%s\n' \
    "$(size_of "$rel/libably_auth.so")" "$(size_of "$scratch/libably_auth.stripped.so")" \
    "$(size_of "$rel/libably_auth.a")"

log "size added to a static C program"
libs="-lm -lrt -lpthread -lgcc_s -lutil -ldl"
cc -O2 -o "$scratch/c-without" "$here/c/main.c"
# shellcheck disable=SC2086
cc -O2 -DUSE_ABLY -I"$root/include" -o "$scratch/c-with" "$here/c/main.c" \
    "$scratch/libably_auth.full.a" -Wl,--gc-sections $libs
"$scratch/c-with" >/dev/null
strip "$scratch/c-without" "$scratch/c-with"
printf 'SIZE\tc_without\t%s\nSIZE\tc_with\t%s\n' \
    "$(size_of "$scratch/c-without")" "$(size_of "$scratch/c-with")"

# Where the bytes go, for both cdylibs: symbol sizes by crate, and section sizes.
for label in full no_http; do
    nm -S --size-sort -C "$scratch/libably_auth.$label.so" >"$scratch/nm.$label.txt" 2>/dev/null || :
    readelf -S -W "$scratch/libably_auth.$label.stripped.so" >"$scratch/sections.$label.txt" 2>/dev/null || :
done
