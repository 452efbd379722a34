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
    fi
}

ensure_rust_lints() {
    if command -v rustup >/dev/null 2>&1; then
        cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
        cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    fi
}
