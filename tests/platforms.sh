#!/usr/bin/env bash
# Platform jobs of the README's test command (tests/run-all.sh), on an x86_64 Debian host:
#
#   i686      gcc -m32 and i686-unknown-linux-gnu, run natively: ctest (C, C++) and the Go
#             binding's tests with GOARCH=386
#   aarch64   cross built, ctest (C, C++, examples) under qemu-aarch64
#   armv7     cross built, ctest (C, C++, examples) under qemu-arm
#   windows   x86_64-pc-windows-gnu with MinGW-w64, ctest (C, C++, examples) under Wine; the
#             DLL's exports are exactly the header's functions and it needs system DLLs only
#   android   aarch64-linux-android staticlib, compiled only (Debian's clang, no NDK)
#   ios       aarch64-apple-ios staticlib, compiled only (Debian's clang, no SDK)
#   headers   ably_auth.h as C99 and C11, it and <ably/auth.hpp> as C++17, with clang and
#             MinGW (gcc compiles them in every ctest run)
#
#   tests/platforms.sh [JOB...]      all jobs when none is named
#
# Each job installs what it needs (apt-get as root, rustup target add) and prints a header
# and its duration. ABLY_AUTH_SKIP_PLATFORMS=1 skips them all (for quick local runs; CI
# must not set it). The emulated and cross builds use the release profile without LTO
# (CARGO_PROFILE_RELEASE_LTO=false): optimised code keeps the tests fast under qemu and
# Wine, and fat LTO would cost minutes per target; the host's ctest run covers the LTO build.
# All targets share one cargo target directory (build/platforms/cargo-target), so the
# host's build scripts and proc-macros are compiled once; the loopback test server is the
# host's debug build in target/ (shared with the Go step of tests/run-all.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
all_jobs=(headers i686 aarch64 armv7 windows android ios)

if [[ ${ABLY_AUTH_SKIP_PLATFORMS:-} == 1 ]]; then
  echo "platform jobs SKIPPED (ABLY_AUTH_SKIP_PLATFORMS=1): ${all_jobs[*]}"
  exit 0
fi
selected=("$@")
((${#selected[@]})) || selected=("${all_jobs[@]}")
for job in "${selected[@]}"; do
  if [[ " ${all_jobs[*]} " != *" $job "* ]]; then
    echo "unknown job: $job (jobs: ${all_jobs[*]})" >&2
    exit 2
  fi
done

out="$root/build/platforms"
mkdir -p "$out"
[[ -f "$root/build/.gitignore" ]] || echo '*' >"$root/build/.gitignore"
cargo_target="$out/cargo-target"
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

# --- What each job needs ---------------------------------------------------------------------
declare -A apt_packages=(
  [headers]="clang g++-mingw-w64-x86-64-posix"
  [i686]="gcc-12-multilib g++-12-multilib googletest"
  [aarch64]="g++-aarch64-linux-gnu qemu-user googletest"
  [armv7]="g++-arm-linux-gnueabihf qemu-user googletest"
  [windows]="g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix wine64 wine googletest"
  [android]="clang llvm"
  [ios]="clang llvm"
)
declare -A rust_targets=(
  [i686]=i686-unknown-linux-gnu
  [aarch64]=aarch64-unknown-linux-gnu
  [armv7]=armv7-unknown-linux-gnueabihf
  [windows]=x86_64-pc-windows-gnu
  [android]=aarch64-linux-android
  [ios]=aarch64-apple-ios
)

install_needs() {
  local wanted=() missing=() targets=() pkg job
  for job in "${selected[@]}"; do
    read -ra pkgs <<<"${apt_packages[$job]:-}"
    wanted+=("${pkgs[@]}")
    [[ -n ${rust_targets[$job]:-} ]] && targets+=("${rust_targets[$job]}")
  done
  for pkg in cmake make pkg-config "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "platform jobs need: ${missing[*]} (apt-get install as root)" >&2
      exit 1
    fi
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  if ((${#targets[@]})); then
    local installed
    installed=$(rustup target list --installed)
    for t in "${targets[@]}"; do
      grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
  fi
}

# --- Shared pieces ---------------------------------------------------------------------------
loopback_server="$root/target/debug/ably-loopback-server"
build_loopback_server() {
  cargo build --locked -q -p ably-loopback --bin ably-loopback-server
}

# cmake_job NAME TOOLCHAIN [CMAKE ARGS...]: configure, build and run ctest in build/platforms/NAME.
cmake_job() {
  local name=$1 toolchain=$2
  shift 2
  local dir="$out/$name"
  cmake -S "$root" -B "$dir" --toolchain "$root/cmake/toolchains/$toolchain" \
    -DCMAKE_BUILD_TYPE=Release \
    -DABLY_AUTH_CARGO_TARGET_DIR="$cargo_target" \
    -DABLY_AUTH_SANITIZER_TESTS=OFF \
    -DABLY_AUTH_GTEST_SOURCE_DIR=/usr/src/googletest \
    "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j2
  (cd "$dir" && ctest --output-on-failure -j2)
}

# --- Jobs ------------------------------------------------------------------------------------
job_headers() {
  local c_flags=(-Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$root/include")
  local cxx_flags=("${c_flags[@]}" -I"$root/bindings/cpp/include" -std=c++17)
  local cc cxx std
  for cc in clang x86_64-w64-mingw32-gcc-posix; do
    for std in 99 11; do
      echo "$cc -std=c$std: tests/c/header_c$std.c"
      "$cc" -std=c$std "${c_flags[@]}" "$root/tests/c/header_c$std.c"
    done
  done
  for cxx in clang++ x86_64-w64-mingw32-g++-posix; do
    echo "$cxx -std=c++17: tests/c/header_cxx17.cpp (ably_auth.h, <ably/auth.hpp>)"
    "$cxx" "${cxx_flags[@]}" "$root/tests/c/header_cxx17.cpp"
  done
}

job_i686() {
  build_loopback_server
  cmake_job i686 i686-linux-gnu.cmake -DABLY_AUTH_LOOPBACK_SERVER="$loopback_server"
  # The Go binding against the i686 static library just built (no -race on 386).
  local lib="$cargo_target/i686-unknown-linux-gnu/release/libably_auth.a"
  local cflags="-I$root/include"
  # The asm/ link the i686 toolchain file made when gcc-multilib is not installed.
  [[ -d $out/i686/i686-asm ]] && cflags+=" -idirafter $out/i686/i686-asm"
  echo "==> Go binding, GOARCH=386, linked to $lib"
  (cd "$root/bindings/go" &&
    GOARCH=386 CGO_ENABLED=1 ABLY_LOOPBACK_SERVER="$loopback_server" \
      CGO_CFLAGS="$cflags" CGO_LDFLAGS="$lib -lm -ldl -lpthread" \
      go test -tags ablyauth_external -count=1 ./...)
}

job_aarch64() {
  build_loopback_server
  cmake_job aarch64 aarch64-linux-gnu.cmake -DABLY_AUTH_LOOPBACK_SERVER="$loopback_server"
}

job_armv7() {
  build_loopback_server
  cmake_job armv7 arm-linux-gnueabihf.cmake -DABLY_AUTH_LOOPBACK_SERVER="$loopback_server"
}

job_windows() {
  # Wine 8 lacks bcryptprimitives.dll (ProcessPrng, Windows 10+): a stand-in on WINEPATH,
  # for the test run only.
  local dlls="$out/wine-dlls"
  mkdir -p "$dlls"
  x86_64-w64-mingw32-gcc-posix -O2 -shared -Wall -Wextra -Werror \
    -o "$dlls/bcryptprimitives.dll" "$root/tests/platforms/bcryptprimitives.c" -ladvapi32
  export WINEPREFIX="$out/wine-prefix" WINEDEBUG=-all WINEPATH="$dlls"
  export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono/Gecko installer prompts
  wineboot --init >/dev/null 2>&1
  # The loopback server runs under Wine too (Windows programs cannot start Linux ones), so
  # ctest builds it for the target (cmake/AblyAuthTestRuntime.cmake).
  cmake_job windows mingw-w64-x86_64.cmake
  local dll="$cargo_target/x86_64-pc-windows-gnu/release/ably_auth.dll"
  check_dll "$dll"
  wineserver -k || true
}

# The DLL exports exactly the functions include/ably_auth.h declares, and imports system
# DLLs only (no MinGW runtime such as libgcc_s_seh-1.dll or libwinpthread-1.dll).
check_dll() {
  local dll=$1 exports declared imports
  exports=$(x86_64-w64-mingw32-objdump -p "$dll" |
    sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | grep -o '\bably_[a-z0-9_]*' | sort -u)
  declared=$(grep -o '\bably_[a-z0-9_]*(' "$root/include/ably_auth.h" | tr -d '(' | sort -u)
  if [[ "$exports" != "$declared" ]]; then
    echo "ably_auth.dll exports differ from the header's functions:" >&2
    diff <(echo "$declared") <(echo "$exports") >&2 || true
    return 1
  fi
  echo "ably_auth.dll exports the $(wc -l <<<"$exports") functions of ably_auth.h"
  imports=$(x86_64-w64-mingw32-objdump -p "$dll" | sed -n 's/^\s*DLL Name: //p' | sort -u)
  echo "ably_auth.dll imports: $(tr '\n' ' ' <<<"$imports")"
  local system='kernel32|advapi32|ntdll|userenv|ws2_32|bcrypt|bcryptprimitives|crypt32|msvcrt|api-ms-win-[a-z0-9-]+'
  if grep -Eiv "^($system)\.dll$" <<<"$imports"; then
    echo "ably_auth.dll imports a non-system DLL (above)" >&2
    return 1
  fi
}

# staticlib_job TRIPLE [CFLAGS...]: the static library for TRIPLE, compiled with Debian's
# clang and no platform SDK. ring's C code is built with -nostdlibinc (clang's own headers
# only, RING_CORE_NOSTDLIBINC); the Rust standard library comes precompiled from rustup.
# Then checks that the archive defines the C ABI.
staticlib_job() {
  local triple=$1
  shift
  local var=${triple//-/_}
  env "CC_$var=clang" "AR_$var=llvm-ar" \
    "CFLAGS_$var=-nostdlibinc -DRING_CORE_NOSTDLIBINC=1 $*" \
    cargo rustc --locked -q --lib --crate-type staticlib --target "$triple" \
    --target-dir "$cargo_target"
  local lib="$cargo_target/$triple/debug/libably_auth.a"
  local defined
  defined=$(llvm-nm --defined-only "$lib" 2>/dev/null |
    grep -c ' T _\{0,1\}ably_auth_version$' || true)
  if [[ $defined != 1 ]]; then
    echo "$lib does not define ably_auth_version" >&2
    return 1
  fi
  echo "$lib: $(du -h "$lib" | cut -f1), defines the C ABI (ably_auth_version found)"
}

job_android() {
  # API level 21 (Android 5.0) is Rust's minimum for this target.
  staticlib_job aarch64-linux-android --target=aarch64-linux-android21
}

job_ios() {
  # iOS 13, as Package.swift declares. Without Xcode: cc-rs takes the SDK from SDKROOT (an
  # empty directory) instead of asking xcrun, and ring's only system header,
  # TargetConditionals.h, is a stub for device builds.
  local stub="$out/ios-stub"
  mkdir -p "$stub/sdk" "$stub/include"
  cat >"$stub/include/TargetConditionals.h" <<'EOF'
/* Stub of Apple's TargetConditionals.h for compile-only iOS device builds without an SDK. */
#define TARGET_OS_MAC 1
#define TARGET_OS_IPHONE 1
#define TARGET_OS_IOS 1
#define TARGET_OS_OSX 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_MACCATALYST 0
EOF
  SDKROOT="$stub/sdk" IPHONEOS_DEPLOYMENT_TARGET=13.0 \
    staticlib_job aarch64-apple-ios -isystem "$stub/include"
}

# --- Run --------------------------------------------------------------------------------------
total_start=$SECONDS
printf '==> platform jobs: %s\n' "${selected[*]}"
install_needs
took=$((SECONDS - total_start))
summary=("$(printf '%-8s %dm%02ds (apt-get, rustup)' tools $((took / 60)) $((took % 60)))")
for job in "${selected[@]}"; do
  printf '\n==> platform job: %s\n' "$job"
  start=$SECONDS
  "job_$job"
  took=$((SECONDS - start))
  printf '==> platform job %s passed in %dm%02ds\n' "$job" $((took / 60)) $((took % 60))
  summary+=("$(printf '%-8s %dm%02ds' "$job" $((took / 60)) $((took % 60)))")
done
took=$((SECONDS - total_start))
printf '\n==> platform jobs passed (%dm%02ds in all):\n' $((took / 60)) $((took % 60))
printf '  %s\n' "${summary[@]}"
