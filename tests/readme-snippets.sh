#!/usr/bin/env bash
# Compiles every code snippet of README.md, bindings/cpp/README.md and bindings/go/README.md
# as written, and runs those that run offline (or against a loopback server it starts) under
# valgrind: no memcheck error, no definitely lost byte. C: -std=c11 -Wall -Wextra -Wpedantic
# -Werror; C++: -std=c++17, the same warnings; both against the installed package, found with
# pkg-config as a user finds it. Go: go vet and go build in a module using this checkout's
# binding (one "SKIPPED:" line when go is missing). Rust: rustc -D warnings against the crate
# as `cargo test` builds it. Shell blocks: bash -n. The Swift README (bindings/swift) is not
# read here. How a README marks a snippet (program or fragment, run or not, and the harness a
# fragment goes into, tests/readme/*): tests/readme/snippets.py.
#
#   tests/readme-snippets.sh [PREFIX]     default PREFIX: build/install, as tests/cmake-all.sh
#                                         leaves it
#
# Environment: ABLY_LOOPBACK_SERVER (default: the one the CMake build in build/cmake built),
# README_SNIPPETS_KEEP=1 keeps the generated sources.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"

prefix="${1:-$root/build/install}"
pc_dir=""
for dir in "$prefix/lib/pkgconfig" "$prefix/lib64/pkgconfig"; do
  if [[ -f "$dir/ably_auth.pc" ]]; then pc_dir="$dir"; fi
done
if [[ -z "$pc_dir" ]]; then
  echo "readme-snippets: no ably_auth.pc under $prefix (run tests/cmake-all.sh first, or pass an install prefix)" >&2
  exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing valgrind with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind
  else
    echo "readme-snippets: valgrind is missing (apt-get install valgrind)" >&2
    exit 1
  fi
fi
if [[ -z "${ABLY_LOOPBACK_SERVER:-}" ]]; then
  for candidate in "$root/build/cmake/cargo-target/release/ably-loopback-server" \
                   "$root/target/release/ably-loopback-server"; do
    if [[ -x "$candidate" ]]; then ABLY_LOOPBACK_SERVER="$candidate"; break; fi
  done
fi
args=(--root "$root" --pkg-config-path "$pc_dir" --loopback-server "${ABLY_LOOPBACK_SERVER:-}")
if ! command -v go >/dev/null 2>&1; then
  skipped "README snippets in Go (bindings/go/README.md)" "go is not installed"
  args+=(--no-go)
fi
if [[ "${README_SNIPPETS_KEEP:-}" == 1 ]]; then args+=(--keep); fi
echo "readme-snippets: against $pc_dir; loopback server ${ABLY_LOOPBACK_SERVER:-(none)}"
exec python3 "$root/tests/readme/snippets.py" "${args[@]}"
