#!/usr/bin/env bash
# Builds tests/consumer/main.c against an installed ably-auth using only pkg-config: against
# the shared library, the static one (ably_auth --static) and the static-only module
# ably_auth_static, and runs all three.
#
#   tests/consumer/pkgconfig.sh PREFIX [EXPECTED_VERSION]
#
# EXPECTED_VERSION defaults to `pkg-config --modversion ably_auth`, so this also checks that
# the .pc file and the library agree. Uses $CC (default cc).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 PREFIX [EXPECTED_VERSION]" >&2
  exit 2
fi
prefix="$(cd "$1" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cc="${CC:-cc}"

# Only this prefix's .pc files: a system-wide ably_auth.pc must not be picked up.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$PKG_CONFIG_PATH"

version="$(pkg-config --modversion ably_auth)"
expected="${2:-$version}"
libdir="$(pkg-config --variable=libdir ably_auth)"
echo "pkg-config: ably_auth $version, libdir $libdir"

# Plain paths: the prefix the package was installed into, nothing like lib/pkgconfig/../..
# (the install writes prefix= at install time, also with cmake --install --prefix).
for module in ably_auth ably_auth_static; do
  for variable in prefix includedir libdir; do
    value="$(pkg-config --variable="$variable" "$module")"
    if [[ "$value" == */../* || "$value" == */./* || "$value" != "$prefix"* ]]; then
      echo "$module.pc: $variable is '$value', expected a plain path under $prefix" >&2
      exit 1
    fi
  done
done
read -r -a cflags_words <<<"$(pkg-config --cflags ably_auth)"
if [[ "${cflags_words[*]}" != "-I$prefix/include" ]]; then
  echo "pkg-config --cflags ably_auth is '${cflags_words[*]}', expected '-I$prefix/include'" >&2
  exit 1
fi
echo "pkg-config: prefix $(pkg-config --variable=prefix ably_auth), cflags ${cflags_words[*]}"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# --- shared ---
read -r -a cflags <<<"$(pkg-config --cflags ably_auth)"
read -r -a libs <<<"$(pkg-config --libs ably_auth)"
echo "+ $cc main.c ${cflags[*]} ${libs[*]}"
"$cc" -o "$out/consumer_shared" "$here/main.c" "${cflags[@]}" "${libs[@]}"
if [[ "$(uname -s)" == Darwin ]]; then
  DYLD_LIBRARY_PATH="$libdir" "$out/consumer_shared" "$expected"
else
  LD_LIBRARY_PATH="$libdir" "$out/consumer_shared" "$expected"
fi
echo "pkg-config shared: OK"

# --- static ---
# `pkg-config --static` adds Libs.private. With both libably_auth.so and .a in libdir,
# -lably_auth would pick the .so, so it is replaced by the archive's path (works with any
# linker, unlike -Wl,-Bstatic).
read -r -a static_libs <<<"$(pkg-config --static --libs ably_auth)"
for i in "${!static_libs[@]}"; do
  if [[ "${static_libs[$i]}" == -lably_auth ]]; then
    static_libs[$i]="$libdir/libably_auth.a"
  fi
done
echo "+ $cc main.c ${cflags[*]} ${static_libs[*]}"
"$cc" -o "$out/consumer_static" "$here/main.c" "${cflags[@]}" "${static_libs[@]}"
# No LD_LIBRARY_PATH: a static binary must run without the shared library.
"$out/consumer_static" "$expected"
if command -v readelf >/dev/null 2>&1 && readelf -d "$out/consumer_static" | grep -q 'libably_auth'; then
  echo "pkg-config static: the binary still needs libably_auth.so" >&2
  exit 1
fi
echo "pkg-config static: OK"

# --- static, through ably_auth_static.pc (what the Go binding uses: no --static needed) ---
read -r -a static_only <<<"$(pkg-config --cflags --libs ably_auth_static)"
echo "+ $cc main.c ${static_only[*]}"
"$cc" -o "$out/consumer_static_pc" "$here/main.c" "${static_only[@]}"
"$out/consumer_static_pc" "$expected"
if command -v readelf >/dev/null 2>&1 && readelf -d "$out/consumer_static_pc" | grep -q 'libably_auth'; then
  echo "ably_auth_static.pc: the binary still needs libably_auth.so" >&2
  exit 1
fi
echo "pkg-config ably_auth_static: OK"
