#!/usr/bin/env bash
# End-to-end check of the CMake build and packaging, runnable from any directory:
#   1. configure the root project into build/cmake (Release), build it, run ctest
#   2. install into build/install (emptied first)
#   3. build and run tests/consumer against that prefix, shared and static (find_package)
#   4. build and run the same program with pkg-config only (tests/consumer/pkgconfig.sh)
# Missing cmake, pkg-config or C/C++ compilers, and the tests' oracle libraries (libgcrypt,
# cJSON: tests/ensure-tools.sh), are installed with apt-get when running as root. cargo is
# not (Debian's is too old for this crate); install it with rustup.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
jobs=2

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

current_step="setup"
summary=()
on_exit() {
  local rc=$?
  printf '\n==> Summary\n'
  if ((${#summary[@]})); then
    printf '  %s\n' "${summary[@]}"
  fi
  if ((rc != 0)); then
    printf '  FAILED during: %s (exit %d)\n' "$current_step" "$rc"
  else
    printf '  all steps passed\n'
  fi
}
trap on_exit EXIT

# --- Tools ------------------------------------------------------------------------------
missing_pkgs=()
need() { # need <command> <apt package>...
  local cmd="$1"; shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "missing: $cmd (apt package: $*)"
    missing_pkgs+=("$@")
  fi
}
step "Checking tools"
need cmake cmake
need pkg-config pkg-config
need cc gcc libc6-dev
need c++ g++
need make make
# GoogleTest for the C++ binding tests (tests/cpp); without it they are skipped, not failed.
if [[ ! -f /usr/include/gtest/gtest.h ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "missing: GoogleTest (apt package: libgtest-dev)"
    missing_pkgs+=(libgtest-dev)
  else
    echo "note: GoogleTest (libgtest-dev) not found; the C++ binding tests will be skipped"
  fi
fi
# libcurl for the example host transport over libcurl (tests/cpp/test_curl_transport.cpp).
if ! pkg-config --exists libcurl 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "missing: libcurl (apt package: libcurl4-openssl-dev)"
    missing_pkgs+=(libcurl4-openssl-dev)
  else
    echo "note: libcurl (libcurl4-openssl-dev) not found; the curl transport test will be skipped"
  fi
fi
if ((${#missing_pkgs[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing with apt-get: ${missing_pkgs[*]}"
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_pkgs[@]}"
  else
    echo "please install: ${missing_pkgs[*]}" >&2
    exit 1
  fi
fi
# The C and C++ tests' oracles (cmake/AblyAuthTestOracles.cmake): libgcrypt and cJSON.
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
ensure_test_libraries
if ! command -v cargo >/dev/null 2>&1 && [[ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
  echo "cargo not found: install Rust with https://rustup.rs" >&2
  exit 1
fi
echo "cmake: $(cmake --version | head -n1)"
echo "cc:    $(cc --version | head -n1)"

# Cargo.toml's [package] version: what ably_auth_version() must return.
version="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)"
echo "expected version: $version"

# Keep build/ out of git without touching the repository's .gitignore.
mkdir -p "$build"
[[ -f "$build/.gitignore" ]] || echo '*' >"$build/.gitignore"

# --- 1. Root project ------------------------------------------------------------------------
current_step="configure build/cmake"
step "Configuring the root project (Release) into build/cmake"
run cmake -S "$root" -B "$build/cmake" -DCMAKE_BUILD_TYPE=Release

current_step="build build/cmake"
step "Building (cargo runs as part of the build)"
run cmake --build "$build/cmake" -j"$jobs"

current_step="ctest"
step "Running ctest"
ctest_log="$build/cmake/ctest-summary.log"
set +e # keep going long enough to record the counts
(cd "$build/cmake" && run ctest --output-on-failure) 2>&1 | tee "$ctest_log"
ctest_rc=${PIPESTATUS[0]}
set -e
ctest_line="$(grep -E 'tests passed' "$ctest_log" | tail -n1 || true)"
summary+=("ctest: ${ctest_line:-no summary line}")
((ctest_rc == 0))

# --- 2. Install -----------------------------------------------------------------------------
current_step="install"
step "Installing into build/install"
rm -rf "$build/install"
run cmake --install "$build/cmake" --prefix "$build/install"
(cd "$build/install" && find . \( -type f -o -type l \) | sort | sed 's/^/  /')
summary+=("install: OK ($build/install)")

# --- 3. CMake consumer, shared and static ---------------------------------------------------
for kind in shared static; do
  current_step="consumer ($kind)"
  step "CMake consumer, $kind"
  static_flag=OFF
  [[ $kind == static ]] && static_flag=ON
  dir="$build/consumer-$kind"
  rm -rf "$dir"
  run cmake -S "$root/tests/consumer" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$build/install" -DABLY_AUTH_USE_STATIC="$static_flag"
  run cmake --build "$dir" -j"$jobs"
  run "$dir/ably_auth_consumer" "$version"
  run "$dir/ably_auth_consumer_cpp" "$version" # the C++ binding, <ably/auth.hpp>
  # The static binary must not need the shared library (ELF only).
  if command -v readelf >/dev/null 2>&1; then
    needed="$(readelf -d "$dir/ably_auth_consumer" | grep -o 'Shared library: \[libably_auth[^]]*\]' || true)"
    echo "libably_auth in DT_NEEDED: ${needed:-none}"
    if [[ $kind == static && -n $needed ]]; then
      echo "static consumer is linked to the shared library" >&2
      exit 1
    fi
    if [[ $kind == shared && -z $needed ]]; then
      echo "shared consumer does not need the shared library" >&2
      exit 1
    fi
  fi
  summary+=("consumer ($kind, find_package): OK")
done

# --- 4. pkg-config consumer -----------------------------------------------------------------
current_step="pkg-config consumer"
step "pkg-config consumer (shared and static)"
run "$root/tests/consumer/pkgconfig.sh" "$build/install" "$version"
summary+=("consumer (pkg-config, shared and static): OK")
