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
# and its duration. The C and C++ tests' oracles (libgcrypt, cJSON:
# cmake/AblyAuthTestOracles.cmake) are linked statically for each target, from Debian's
# packages, into build/platforms/deps/<job> (ABLY_AUTH_TEST_DEPS_ROOT), so that the test
# programs need no further shared library under qemu or Wine:
#   libgcrypt  i686, aarch64, armv7: the target architecture's libgcrypt20-dev and
#              libgpg-error-dev (dpkg --add-architecture; downloaded and unpacked there, not
#              installed: they are not Multi-Arch "same", so installing them would remove the
#              build machine's own copies); windows: libgcrypt-mingw-w64-dev and
#              libgpg-error-mingw-w64-dev, installed
#   cJSON      Debian's cjson source package (apt-get source, with deb-src entries made from
#              the system's own sources in build/platforms/apt-src, leaving /etc/apt alone),
#              built as a static library with the job's toolchain file
# ABLY_AUTH_SKIP_PLATFORMS=1 skips them all (for quick local runs; CI must not set it). The emulated and cross builds use the release profile without LTO
# (CARGO_PROFILE_RELEASE_LTO=false): optimised code keeps the tests fast under qemu and
# Wine, and fat LTO would cost minutes per target; the host's ctest run covers the LTO build.
# All targets share one cargo target directory (build/platforms/cargo-target), so the
# host's build scripts and proc-macros are compiled once; the loopback test server is the
# host's debug build in target/ (shared with the Go step of tests/run-all.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=tests/ensure-tools.sh
source tests/ensure-tools.sh
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
  [i686]="gcc-12-multilib g++-12-multilib googletest dpkg-dev"
  [aarch64]="g++-aarch64-linux-gnu qemu-user googletest dpkg-dev"
  [armv7]="g++-arm-linux-gnueabihf qemu-user googletest dpkg-dev"
  [windows]="g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix wine64 wine googletest
             libgcrypt-mingw-w64-dev libgpg-error-mingw-w64-dev dpkg-dev"
  [android]="clang llvm"
  [ios]="clang llvm"
)
# Debian architectures whose packages a job takes (dpkg --add-architecture), and the GNU
# multiarch triplet of their libraries.
declare -A deb_arch=([i686]=i386 [aarch64]=arm64 [armv7]=armhf)
declare -A multiarch=([i686]=i386-linux-gnu [aarch64]=aarch64-linux-gnu [armv7]=arm-linux-gnueabihf)
declare -A rust_targets=(
  [i686]=i686-unknown-linux-gnu
  [aarch64]=aarch64-unknown-linux-gnu
  [armv7]=armv7-unknown-linux-gnueabihf
  [windows]=x86_64-pc-windows-gnu
  [android]=aarch64-linux-android
  [ios]=aarch64-apple-ios
)

install_needs() {
  local wanted=() missing=() archs=() pkgs=() kept=() pkg job arch t installed said
  # Rust targets first: a job whose target rustup cannot add (a machine without rustup
  # downloads) is skipped with one line, and its Debian packages are not installed.
  installed=$(rustup target list --installed 2>/dev/null || true)
  for job in "${selected[@]}"; do
    t=${rust_targets[$job]:-}
    if [[ -n $t ]] && ! grep -qx "$t" <<<"$installed" && ! said=$(RUST_BACKTRACE=0 rustup target add "$t" 2>&1); then
      said=$(grep -m1 -o '^error: [^:]*' <<<"$said" || true)
      skipped "platform job $job" "Rust target $t is not installed and rustup could not add it: ${said:-no reason given}"
      continue
    fi
    kept+=("$job")
  done
  selected=("${kept[@]}")
  for job in "${selected[@]}"; do
    # The lists span lines: read them whole (read -ra alone takes the first line only).
    read -rd '' -a pkgs <<<"${apt_packages[$job]:-}" || true
    wanted+=("${pkgs[@]}")
    [[ -n ${deb_arch[$job]:-} ]] && archs+=("${deb_arch[$job]}")
  done
  # The target architectures' packages (the oracles' -dev packages, see oracle_deps).
  local added=0
  for arch in "${archs[@]}"; do
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      if [[ $(id -u) -ne 0 ]]; then
        echo "platform jobs need the Debian architecture $arch (dpkg --add-architecture as root)" >&2
        exit 1
      fi
      echo "==> dpkg --add-architecture $arch"
      dpkg --add-architecture "$arch"
      added=1
    fi
  done
  ((added == 0)) || apt-get update -qq
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
    require_packages "the platform jobs (${selected[*]})" "${missing[@]}"
  fi
}

# --- The tests' oracles for a target ---------------------------------------------------------
deps_root() { echo "$out/deps/$1"; }

# The cjson source package, unpacked once into build/platforms/src (its directory on stdout).
# apt-get source needs deb-src entries: they are made from the system's deb entries in a
# private directory, with private package lists, so /etc/apt and the system's lists stay as
# they are.
cjson_source() {
  local dir
  dir=$(compgen -G "$out/src/cjson-*/cJSON.c" | head -n1 || true)
  if [[ -n $dir ]]; then
    dirname "$dir"
    return
  fi
  local apt="$out/apt-src"
  rm -rf "$apt" "$out/src"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$out/src"
  local f n=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    sed -E 's/^Types:([[:space:]]+deb)+[[:space:]]*$/Types: deb-src/' "$f" >"$apt/s$((n++)).sources"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -nE 's/^deb([[:space:]])/deb-src\1/p' "$f" >"$apt/s$((n++)).list"
  done
  local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt"
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o APT::Sandbox::User=root)
  echo "==> cjson source package (apt-get source)" >&2
  apt-get "${opts[@]}" update -qq >&2
  # apt-get checks the files against the signed Sources index; dpkg-source, without the
  # Debian keyring, only warns that it cannot check the uploader's signature.
  (cd "$out/src" && apt-get "${opts[@]}" source --download-only -qq cjson >&2 &&
    dpkg-source -x ./cjson_*.dsc >dpkg-source.log 2>&1) ||
    { cat "$out/src/dpkg-source.log" >&2 2>/dev/null; return 1; }
  dir=$(compgen -G "$out/src/cjson-*/cJSON.c" | head -n1 || true)
  [[ -n $dir ]] || { echo "the cjson source package did not unpack" >&2; return 1; }
  dirname "$dir"
}

# The file name of the .deb that apt-get download would fetch for PACKAGE[:ARCH].
deb_file() { apt-get download --print-uris "$1" 2>/dev/null | awk 'NR == 1 { print $2 }'; }

# oracle_deps JOB TOOLCHAIN: fill deps_root JOB with the target's static libgcrypt and
# libgpg-error (Linux targets: from the target architecture's -dev packages) and a static
# cJSON built from Debian's source package with TOOLCHAIN.
oracle_deps() {
  local job=$1 toolchain=$2 deps
  deps=$(deps_root "$job")
  mkdir -p "$deps"
  local arch=${deb_arch[$job]:-}
  if [[ -n $arch ]]; then
    local debs="$out/deps/debs-$arch" pkg file sandbox=(-o APT::Sandbox::User=root)
    mkdir -p "$debs"
    for pkg in libgcrypt20-dev libgpg-error-dev; do
      # The candidate's .deb, downloaded when it is not there yet; after an apt-get update
      # when the package lists do not know it or are out of date.
      file=$(deb_file "$pkg:$arch" || true)
      if [[ -z $file || ! -f $debs/$file ]]; then
        echo "==> $pkg:$arch (apt-get download, unpacked into $deps)"
        if [[ -z $file ]] || ! (cd "$debs" && apt-get download -qq "${sandbox[@]}" "$pkg:$arch"); then
          apt-get update -qq
          file=$(deb_file "$pkg:$arch")
          (cd "$debs" && apt-get download -qq "${sandbox[@]}" "$pkg:$arch")
        fi
      fi
      dpkg-deb -x "$debs/$file" "$deps"
    done
    [[ -f $deps/usr/lib/${multiarch[$job]}/libgcrypt.a ]] ||
      { echo "no libgcrypt.a for $arch in $deps" >&2; return 1; }
  fi
  if [[ ! -f $deps/usr/lib/libcjson.a ]]; then
    local src build="$out/deps/build-cjson-$job" flags=()
    # cJSON's own compiler flags include -fstack-protector-strong, which with MinGW needs
    # libssp in every program that links the archive: not for Windows.
    if [[ $job == windows ]]; then
      flags+=(-DENABLE_CUSTOM_COMPILER_FLAGS=OFF)
    fi
    src=$(cjson_source)
    echo "==> cJSON $(basename "$src"), static, for $job"
    cmake -S "$src" -B "$build" --toolchain "$root/cmake/toolchains/$toolchain" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$deps/usr" -DCMAKE_INSTALL_LIBDIR=lib \
      -DBUILD_SHARED_LIBS=OFF -DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF \
      -DENABLE_PUBLIC_SYMBOLS=OFF -DENABLE_HIDDEN_SYMBOLS=ON -DENABLE_TARGET_EXPORT=OFF \
      -DCMAKE_POLICY_VERSION_MINIMUM=3.5 "${flags[@]}" >"$build.log" 2>&1 &&
      cmake --build "$build" -j2 >>"$build.log" 2>&1 &&
      cmake --install "$build" >>"$build.log" 2>&1 || { cat "$build.log"; return 1; }
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
  oracle_deps "$name" "$toolchain"
  cmake -S "$root" -B "$dir" --toolchain "$root/cmake/toolchains/$toolchain" \
    -DCMAKE_BUILD_TYPE=Release \
    -DABLY_AUTH_TEST_DEPS_ROOT="$(deps_root "$name")" \
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
  if ! command -v go >/dev/null 2>&1; then
    skipped "platform job i686: Go binding with GOARCH=386" "no go toolchain on PATH"
    return 0
  fi
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
