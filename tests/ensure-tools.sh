# Sourced by the README's commands: installs what a fresh machine may lack.
# Rust (cargo) is expected; cmake, a C/C++ compiler and pkg-config come from Debian's
# packages when missing (as root), and rustfmt/clippy from rustup. ensure_tools also
# installs the C and C++ tests' oracle libraries (ensure_test_libraries).

ensure_tools() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    command -v c++ >/dev/null 2>&1 || missing+=(g++)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    command -v make >/dev/null 2>&1 || missing+=(make)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "error: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
            return 1
        fi
        echo "==> installing ${missing[*]} with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        local tool
        for tool in cmake cc c++ pkg-config make; do
            command -v "$tool" >/dev/null 2>&1 ||
                { echo "error: $tool is still missing after apt-get install ${missing[*]}" >&2; return 1; }
        done
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
        return 1
    fi
    ensure_test_libraries
}

# The libraries the C and C++ tests judge the library's output with
# (cmake/AblyAuthTestOracles.cmake; configuring the tests fails without them): libgcrypt for
# SHA-256 and HMAC-SHA256, cJSON for JSON. Debian: libgcrypt20-dev libcjson-dev, installed
# with apt-get when missing (as root). Elsewhere pkg-config must find libgcrypt and libcjson.
ensure_test_libraries() {
    local packages=(libgcrypt20-dev libcjson-dev) missing=() pkg
    if command -v dpkg-query >/dev/null 2>&1; then
        for pkg in "${packages[@]}"; do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
                missing+=("$pkg")
        done
    elif ! pkg-config --exists libgcrypt libcjson 2>/dev/null; then
        echo "error: the C and C++ tests need libgcrypt and cJSON (pkg-config: libgcrypt, libcjson)" >&2
        return 1
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            echo "error: the C and C++ tests need ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
            return 1
        fi
        echo "==> installing ${missing[*]} with apt-get (the C and C++ tests' oracles)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}"
        require_packages "the C and C++ tests" "${packages[@]}"
    fi
}

ensure_rust_lints() {
    if command -v rustup >/dev/null 2>&1; then
        cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
        cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    fi
}

# --- Crates: the registry, or the vendored snapshot ---------------------------------------
# Cargo fetches from the crate registry. A machine that reaches none (the Swift machine of
# this project) builds from the snapshot in ../shared/vendor instead: its script points
# $CARGO_HOME/config.toml at the unpacked crates (see its README). ABLY_AUTH_VENDORED_CRATES=1
# forces the snapshot, =0 forbids it. ensure_crates prints one line saying which it is, and
# sets ABLY_AUTH_CRATES to "registry" or "vendored" for the rest of the run.
ensure_crates() {
    local vendor_script config="${CARGO_HOME:-$HOME/.cargo}/config.toml"
    vendor_script="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/vendor/use-vendored-crates"
    if [ "${ABLY_AUTH_CRATES:-}" = registry ] || [ "${ABLY_AUTH_CRATES:-}" = vendored ]; then
        return 0 # decided by the script that called this one
    fi
    if [ "${ABLY_AUTH_VENDORED_CRATES:-}" = 0 ] && [ -x "$vendor_script" ] &&
        grep -qx '# >>> ably-auth vendored crates' "$config" 2>/dev/null; then
        "$vendor_script" --undo >/dev/null # forbidden: back to the registry before asking it
    fi
    if [ -z "${ABLY_AUTH_VENDORED_CRATES:-}" ] && grep -qx '# >>> ably-auth vendored crates' "$config" 2>/dev/null; then
        export ABLY_AUTH_CRATES=vendored
        echo "crates: vendored snapshot (already configured in $config)"
        return 0
    fi
    if [ "${ABLY_AUTH_VENDORED_CRATES:-}" != 1 ] &&
        timeout 300 cargo fetch --locked --quiet >/dev/null 2>&1; then
        export ABLY_AUTH_CRATES=registry
        echo "crates: from the crate registry"
        return 0
    fi
    if [ "${ABLY_AUTH_VENDORED_CRATES:-}" = 0 ]; then
        echo "error: cargo could not fetch the crates and ABLY_AUTH_VENDORED_CRATES=0 forbids the snapshot" >&2
        return 1
    fi
    if [ ! -x "$vendor_script" ]; then
        echo "error: no crate registry answers and there is no vendored snapshot at $vendor_script" >&2
        return 1
    fi
    "$vendor_script" >/dev/null
    export ABLY_AUTH_CRATES=vendored
    echo "crates: vendored snapshot (no crate registry answered; $vendor_script configured $config)"
}

# --- Parts a machine cannot run -----------------------------------------------------------
# skipped <part> <what is missing>: the one line a part prints when a tool it needs is missing
# and cannot be installed here. It counts as no pass. tests/run-all.sh collects these lines
# (ABLY_AUTH_SKIP_LOG) and fails the run when a crate registry answered (the usual machine,
# where every tool can be installed) unless ABLY_AUTH_SKIP_PLATFORMS=1 allows skips.
# skipped_optional is for a part no machine of the project is expected to have (Swift on a
# machine without a Swift toolchain): reported, never fatal.
skipped() {
    echo "SKIPPED: $1 ($2)"
    if [ -n "${ABLY_AUTH_SKIP_LOG:-}" ]; then echo "required	$1 ($2)" >>"$ABLY_AUTH_SKIP_LOG"; fi
}
skipped_optional() {
    echo "SKIPPED: $1 ($2)"
    if [ -n "${ABLY_AUTH_SKIP_LOG:-}" ]; then echo "optional	$1 ($2)" >>"$ABLY_AUTH_SKIP_LOG"; fi
}

# require_packages <what> <package>...: fails loudly when a Debian package is still not
# installed after the install step that should have brought it.
require_packages() {
    local what=$1 pkg missing=()
    shift
    command -v dpkg-query >/dev/null 2>&1 || return 0
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "error: $what needs ${missing[*]}, still not installed after apt-get" >&2
        return 1
    fi
}
