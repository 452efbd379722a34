#!/usr/bin/env bash
# The build without the built-in HTTP client (issue 13, item 3):
#   1. `cargo build --release --no-default-features` builds, and `cargo tree` shows none of
#      ureq, rustls, ring or the root certificates in the library's dependencies
#   2. the Rust tests that need no network (signing, JWTs, the C ABI, the host transport
#      driven by scripted answers, the feature bookkeeping) pass in that build
#   3. CMake with -DABLY_AUTH_HTTP_CLIENT=OFF: the C and C++ suites (offline parts, the
#      feature check against the generated ably_auth_conf.h, and the libcurl host transport
#      against the loopback server) pass
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build="$root/build/cmake-no-http"

echo "==> cargo build --release --no-default-features"
cargo build --locked --release --no-default-features --lib

echo "==> cargo tree: no HTTP client, TLS or root certificates"
tree=$(cargo tree --locked --no-default-features -e normal -p ably-auth --prefix none)
if grep -E '^(ureq|rustls|ring|webpki|rustls-platform-verifier) ' <<<"$tree"; then
  echo "FAIL: the build without http-client still depends on the crates above" >&2
  exit 1
fi
echo "ok: $(wc -l <<<"$tree") crates, none of ureq/rustls/ring/webpki"

echo "==> Rust tests without the network"
cargo test --locked --no-default-features --lib --test features --test host_transport \
  --test signing --test uts_token_types --test uts_token_request_params --test uts_error_types \
  --test zeroize --test header

echo "==> CMake -DABLY_AUTH_HTTP_CLIENT=OFF: C and C++ suites"
# shellcheck source=tests/ensure-tools.sh
source "$root/tests/ensure-tools.sh"
ensure_test_libraries # libgcrypt and cJSON, the tests' oracles
if ! pkg-config --exists libcurl 2>/dev/null && [[ $(id -u) -eq 0 ]]; then
  apt-get install -y -q libcurl4-openssl-dev >/dev/null || {
    apt-get update -q >/dev/null && apt-get install -y -q libcurl4-openssl-dev >/dev/null; }
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DABLY_AUTH_HTTP_CLIENT=OFF
cmake --build "$build" -j2
grep -q '^#define ABLY_AUTH_FEATURE_HTTP_CLIENT 0$' "$build/ably_auth_conf/include/ably_auth_conf.h"
ctest --test-dir "$build" --output-on-failure -j2
