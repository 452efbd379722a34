#!/usr/bin/env bash
# Runs every test executable ctest knows in an existing CMake build directory under valgrind
# memcheck, except the sanitizer builds (*_asan: ASan and valgrind do not mix) and the
# header-only compile checks (header_*), and fails on any memcheck error or any definitely
# lost byte. "Still reachable" blocks (the library's one-time statics: the shared root
# store, the handle registries) are reported by valgrind but are not failures.
#
#   tests/valgrind.sh [BUILD_DIR]        default: build/cmake, as tests/cmake-all.sh leaves it
#
# tests/valgrind.supp holds the few suppressions (false positives in ring's TLS code, each
# explained there).
#
# Environment: VALGRIND_TIMEOUT (seconds per test, default 900), VALGRIND_EXCLUDE (an extra
# extended regex of test names to skip). valgrind is installed with apt-get when missing and
# running as root. Logs: BUILD_DIR/valgrind/<test>.log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build/cmake}" && pwd)"
timeout_s="${VALGRIND_TIMEOUT:-900}"
exclude='(_asan$|^header_)'
if [[ -n "${VALGRIND_EXCLUDE:-}" ]]; then
  exclude="$exclude|(${VALGRIND_EXCLUDE})"
fi

if ! command -v valgrind >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing valgrind with apt-get"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind
  else
    echo "valgrind is missing: install it (apt-get install valgrind)" >&2
    exit 1
  fi
fi
echo "valgrind: $(valgrind --version)"

if [[ ! -f "$build/CTestTestfile.cmake" ]]; then
  echo "$build is not a configured CMake build with tests (run tests/cmake-all.sh first)" >&2
  exit 1
fi

# `ctest -N -V` prints "<n>: Test command: <exe> <quoted args>" before "Test #<n>: <name>".
declare -A commands=()
names=()
while IFS= read -r line; do
  if [[ $line =~ ^([0-9]+):\ Test\ command:\ (.*)$ ]]; then
    commands[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}"
  elif [[ $line =~ ^\ *Test\ +#([0-9]+):\ (.+)$ ]]; then
    names+=("${BASH_REMATCH[1]}:${BASH_REMATCH[2]}")
  fi
done < <(cd "$build" && ctest -N -V)

logs="$build/valgrind"
mkdir -p "$logs"
failed=()
ran=0
summary=()
for entry in "${names[@]}"; do
  n="${entry%%:*}"
  name="${entry#*:}"
  if [[ $name =~ $exclude ]]; then
    continue
  fi
  command="${commands[$n]:-}"
  if [[ -z $command ]]; then
    echo "no command for test $name" >&2
    failed+=("$name (no command)")
    continue
  fi
  eval "argv=($command)" # ctest quotes the arguments
  exe="${argv[0]}"
  # valgrind instruments native executables only (not scripts that ctest may run).
  if ! head -c 4 "$exe" 2>/dev/null | grep -q $'\x7fELF'; then
    echo "==> $name: skipped (not an ELF executable: $exe)"
    continue
  fi
  log="$logs/$name.log"
  echo "==> $name"
  set +e
  (cd "$(dirname "$exe")" &&
    timeout "$timeout_s" valgrind --tool=memcheck --leak-check=full \
      --errors-for-leak-kinds=definite --show-leak-kinds=definite --error-exitcode=99 \
      --track-fds=no --num-callers=40 --suppressions="$root/tests/valgrind.supp" \
      --log-file="$log" "${argv[@]}" >"$log.out" 2>&1)
  rc=$?
  set -e
  ran=$((ran + 1))
  errors="$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n1)"
  lost="$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n1 | tr -d ,)"
  suppressed="$(sed -n 's/.*ERROR SUMMARY: .*(suppressed: \([0-9]*\) from.*/\1/p' "$log" | tail -n1)"
  line="$name: exit $rc, errors ${errors:-?}, definitely lost ${lost:-0} bytes, suppressed ${suppressed:-0}"
  summary+=("$line")
  echo "    $line (log: $log)"
  if ((rc != 0)) || [[ ${errors:-x} != 0 ]] || [[ ${lost:-0} != 0 ]]; then
    failed+=("$name")
    tail -n 30 "$log.out" | sed 's/^/    | /'
    grep -A 30 -E 'definitely lost in|Invalid|uninitialised|Mismatched' "$log" | head -n 80 |
      sed 's/^/    ! /' || true
  fi
done

printf '\n==> valgrind summary (%d tests)\n' "$ran"
printf '  %s\n' "${summary[@]}"
if ((ran == 0)); then
  echo "no test ran under valgrind" >&2
  exit 1
fi
if ((${#failed[@]})); then
  printf 'FAILED under valgrind: %s\n' "${failed[*]}" >&2
  exit 1
fi
echo "  zero errors, zero bytes definitely lost"
