#!/usr/bin/env bash
# Benchmarks this library against the peers users would otherwise pick, in one run, and
# writes benches/RESULTS.md (medians and ratios ours ÷ peer, CPU model, date, versions).
#
#   benches/peers/run.sh
#
# Installs the peers from the package registries into target/peers (npm `ably` = ably-js,
# PyPI `ably` = ably-python and PyJWT in a venv; ably-go and golang-jwt as Go modules of
# benches/peers/go), builds the release library, the loopback server and the Go program,
# then measures: createTokenRequest and JWT creation per call, the requestToken round trip
# against one loopback server (plain HTTP on 127.0.0.1), the cached-token Authorization
# header on one and two threads, and the footprint (benches/peers/footprint.sh: stripped .so
# and .a with and without the built-in HTTP client, as CMake and cargo build make them, size
# added to a static C program). Needs cargo, go (cgo), node/npm, python3 (venv) and cc.
# Environment: SAMPLES (samples per case, default 31; 15 for round trips),
# ABLY_JS_VERSION, ABLY_PY_VERSION, PYJWT_VERSION (pinned defaults below), OUT (report path),
# BENCH_AUTOGROUP_NICE (default -10, "off" to leave the scheduler alone; see below).
set -euo pipefail

# With the kernel's autogroup scheduling (Linux default), CPU time is shared fairly between
# sessions first and `nice` only counts inside a session: a background job at nice 19 in
# another session still takes a whole core of two away from this run, which wrecks the
# two-thread and round-trip figures. So the run goes into a session of its own whose
# autogroup gets a higher weight (this run's processes only; ends with the script).
if [ -z "${ABLY_BENCH_SESSION:-}" ] && [ "${BENCH_AUTOGROUP_NICE:--10}" != off ] &&
    [ -e /proc/self/autogroup ] && command -v setsid >/dev/null; then
    export ABLY_BENCH_SESSION=1
    exec setsid -w "$0" "$@"
fi
if [ -n "${ABLY_BENCH_SESSION:-}" ]; then
    echo "${BENCH_AUTOGROUP_NICE:--10}" >/proc/self/autogroup 2>/dev/null ||
        echo "run.sh: could not raise this run's autogroup weight (not root?)" >&2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
scratch="$root/target/peers"
out=${OUT:-$root/benches/RESULTS.md}
ABLY_JS_VERSION=${ABLY_JS_VERSION:-2.28.0}
ABLY_PY_VERSION=${ABLY_PY_VERSION:-3.1.4}
PYJWT_VERSION=${PYJWT_VERSION:-2.15.1}
for tool in cargo go node npm python3 cc strip; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
mkdir -p "$scratch"
results="$scratch/results.tsv"
: >"$results"
log() { echo "==> $*" >&2; }

log "installing peers into $scratch"
mkdir -p "$scratch/node"
(cd "$scratch/node" && [ -f package.json ] || echo '{"private":true}' >package.json)
(cd "$scratch/node" && npm install --no-audit --no-fund --loglevel=error "ably@$ABLY_JS_VERSION" >/dev/null)
[ -x "$scratch/venv/bin/python" ] || python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --disable-pip-version-check \
    "ably==$ABLY_PY_VERSION" "PyJWT==$PYJWT_VERSION"

log "building the release library, the loopback server and the Go program"
touch "$root/src/lib.rs"   # not a cdylib-only build left by an earlier run (see footprint)
# Two commands: `--bin` would also restrict ably-auth to no library targets.
(cd "$root" && cargo build --locked --release -p ably-auth)
(cd "$root" && cargo build --locked --release -p ably-loopback --bin ably-loopback-server)
# The Go binding links the same libably_auth.a as the Rust and C rows (ablyauth_external:
# flags from the environment, not an installed prefix). Go's build cache keys on the flags,
# not on the archive's bytes, so a rebuilt library at the same path would be linked from a
# stale cached build: the archive's hash goes into the flags as a harmless define.
archive_sha=$(sha256sum "$root/target/release/libably_auth.a" | cut -c1-16)
(cd "$here/go" && CGO_ENABLED=1 CGO_CFLAGS="-I$root/include -DABLY_AUTH_ARCHIVE_SHA=$archive_sha" \
    CGO_LDFLAGS="$root/target/release/libably_auth.a -lm -ldl -lpthread" \
    go build -tags ablyauth_external -o "$scratch/peers-go" .)
log "building the cargo benches"
(cd "$root" && cargo bench --locked --no-run --bench issuing --bench networked 2>&1 | tail -1) >&2

export NODE_PATH="$scratch/node/node_modules"
py="$scratch/venv/bin/python"

log "createTokenRequest and JWT per call"
# benches/issuing.rs prints "| case | ns | ratio |" rows.
(cd "$root" && cargo bench --locked --bench issuing 2>/dev/null) |
    awk -F'|' '/^\| / && $3 ~ /[0-9]/ { gsub(/^ +| +$/, "", $2); gsub(/ /, "", $3); print "RESULT\t" $2 "\t" $3 }' >>"$results"
"$scratch/peers-go" issue >>"$results"
node "$here/node/bench.cjs" issue >>"$results"
"$py" "$here/python/bench.py" issue >>"$results"

log "requestToken round trips against one loopback server"
coproc SERVER { exec "$root/target/release/ably-loopback-server" --exit-on-stdin-eof; }
server_pid=$SERVER_PID
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
read -r line <&"${SERVER[0]}"
url=${line#LISTENING }
log "loopback server at $url"
networked=$(cd "$root" && ABLY_LOOPBACK_URL="$url" cargo bench --locked --bench networked 2>/dev/null)
echo "$networked" >"$scratch/networked.txt"
awk '
  /^requestToken round trip, reused/ { v = $(NF-1); u = $NF }
  /^requestToken round trip, reused/ { printf "RESULT\tRust requestToken round trip (reused connection)\t%s\n", (u == "µs" ? v * 1000 : v) }
  /^requestToken round trip, fresh/ { v = $(NF-1); u = $NF; printf "RESULT\tRust requestToken round trip (new Auth and connection per call)\t%s\n", (u == "µs" ? v * 1000 : v) }
  /^authorization_header, cached token/ { v = $(NF-1); u = $NF; printf "RESULT\tRust authorization_header, cached token\t%s\n", (u == "µs" ? v * 1000 : v) }
  /^authorization_header calls\/s/ { printf "RESULT\theader calls/s 1 thread (M)\t%s\nRESULT\theader calls/s 2 threads (M)\t%s\n", $5, $9 }
' <<<"$networked" >>"$results"
"$scratch/peers-go" roundtrip "$url" >>"$results" || echo "FAILED	ably-go/go-binding round trip" >>"$results"
node "$here/node/bench.cjs" roundtrip "$url" >>"$results" || echo "FAILED	ably-js round trip" >>"$results"
"$py" "$here/python/bench.py" roundtrip "$url" >>"$results" || echo "FAILED	ably-python round trip" >>"$results"
exec {SERVER[1]}>&- || true
wait "$server_pid" 2>/dev/null || true
trap - EXIT

log "footprint"
scratch="$scratch" "$here/footprint.sh" >>"$results"

{
    printf 'META\tcpu\t%s\n' "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    printf 'META\tcores\t%s\n' "$(nproc)"
    printf 'META\tdate\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'META\trustc\t%s\n' "$(rustc --version)"
    printf 'META\tgo\t%s\n' "$(go version | awk '{ print $3 }')"
    printf 'META\tnode\t%s\n' "$(node --version)"
    printf 'META\tpython\t%s\n' "$("$py" --version | awk '{ print $2 }')"
    printf 'META\tcc\t%s\n' "$(cc --version | head -1)"
    printf 'META\tably-js\t%s\n' "$(node -p "require('$NODE_PATH/ably/package.json').version")"
    printf 'META\tably-python\t%s\n' "$("$py" -c 'import importlib.metadata as m; print(m.version("ably"))')"
    printf 'META\tPyJWT\t%s\n' "$("$py" -c 'import jwt; print(jwt.__version__)')"
    printf 'META\tably-go\t%s\n' "$(cd "$here/go" && go list -m -f '{{.Version}}' github.com/ably/ably-go)"
    printf 'META\tgolang-jwt\t%s\n' "$(cd "$here/go" && go list -m -f '{{.Version}}' github.com/golang-jwt/jwt/v5)"
    printf 'META\tload\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'META\tautogroup\t%s\n' "$(cat /proc/self/autogroup 2>/dev/null || echo n/a)"
    printf 'META\tothers\t%s\n' "$(ps -eo ni=,pcpu=,comm= --sort=-pcpu | awk -v me="$$" '$2 >= 20 { printf "%s%s (nice %s, %s%% CPU)", sep, $3, $1, $2; sep = ", " }')"
} >>"$results"

python3 "$here/report.py" "$results" "$scratch/nm.full.txt" "$scratch/sections.full.txt" \
    "$scratch/nm.no_http.txt" "$scratch/sections.no_http.txt" >"$out"
log "wrote $out"
cat "$out"
