#!/usr/bin/env bash
# Parity of the two transports (issue 13): every networked Rust suite runs over the built-in
# client and over a host transport driven through the C ABI (tests/common/host_transport.rs,
# selected by ABLY_TEST_TRANSPORT=host), and both runs must report the same results.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

suites=(uts_auth_callback uts_auth_scheme uts_authorize uts_client_id uts_fallback
        uts_options_types uts_revoke_tokens uts_time uts_token_details uts_token_renewal
        fault_matrix faults concurrency rest_client smoke_networked auth_url_redirects
        renew_ahead logging host_transport)
args=()
for suite in "${suites[@]}"; do args+=(--test "$suite"); done

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
results() { # $1: transport; prints "suite: N passed; N failed; N ignored" per suite
  local log="$log_dir/$1.log"
  # --no-fail-fast: every suite reports, so a failure shows up as a difference below.
  if ! ABLY_TEST_TRANSPORT=$1 cargo test --locked --no-fail-fast "${args[@]}" >"$log" 2>&1; then
    echo "cargo test failed over the $1 transport; its failures:" >&2
    grep -E -A30 '^---- |^failures:|panicked|^error' "$log" | head -200 >&2 || tail -50 "$log" >&2
  fi
  awk '/Running tests\//{split($2, p, "/"); sub(/\.rs$/, "", p[2]); suite = p[2]}
       /^test result:/{print suite ": " $4 " " $5 " " $6 " " $7 " " $8 " " $9}' "$log"
}

builtin=$(results builtin)
host=$(results host)
echo "built-in client:"; echo "$builtin" | sed 's/^/  /'
echo "host transport:";  echo "$host" | sed 's/^/  /'
if [[ "$builtin" != "$host" ]]; then
  echo "FAIL: the two transports give different results" >&2
  diff <(echo "$builtin") <(echo "$host") >&2 || true
  exit 1
fi
if [[ $(echo "$builtin" | wc -l) -ne ${#suites[@]} ]] || grep -qv " 0 failed;" <<<"$builtin"; then
  echo "FAIL: a suite failed or did not run" >&2
  exit 1
fi
passed=$(echo "$builtin" | awk '{s += $2} END {print s}')
echo "transport parity: $passed passed, 0 failed (each transport)"
