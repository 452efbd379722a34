# The C and C++ tests' oracles: well-kept libraries, independent of the library's own code,
# that the tests use to judge what the library writes.
#
#   libgcrypt  SHA-256 and HMAC-SHA256 (tests/c/hmac_oracle.h)        Debian: libgcrypt20-dev
#   cJSON      a validating JSON parser (tests/c/json_oracle.h,        Debian: libcjson-dev
#              tests/cpp/json_oracle.hpp)
#
# Defines ably_auth_test_oracles, an INTERFACE library that every C and C++ test links to. The
# tests cannot judge the library without them, so a missing one fails the configuration and
# names the Debian package (tests/ensure-tools.sh installs them for the host, and
# tests/platforms.sh for its targets).
#
# Cross builds (tests/platforms.sh) find the target's copies under ABLY_AUTH_TEST_DEPS_ROOT: a
# directory laid out like / (usr/include, usr/include/<multiarch>, usr/lib/<multiarch>,
# usr/lib), searched before the toolchain's CMAKE_FIND_ROOT_PATH. Cross builds prefer the
# static archives, so that the test programs need no further shared library at run time
# (under qemu-user or Wine).
include_guard(GLOBAL)

set(ABLY_AUTH_TEST_DEPS_ROOT "" CACHE PATH
    "A root (laid out like /) with the test oracles' libraries for the target (cross builds)")
if(ABLY_AUTH_TEST_DEPS_ROOT)
  list(PREPEND CMAKE_FIND_ROOT_PATH "${ABLY_AUTH_TEST_DEPS_ROOT}")
endif()

# pkg-config only for hints, and only for the build machine's own libraries.
set(_ably_pc_gcrypt_include "")
set(_ably_pc_gcrypt_libdir "")
set(_ably_pc_cjson_include "")
set(_ably_pc_cjson_libdir "")
if(NOT CMAKE_CROSSCOMPILING)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(_ABLY_PC_GCRYPT QUIET libgcrypt)
    pkg_check_modules(_ABLY_PC_CJSON QUIET libcjson)
    set(_ably_pc_gcrypt_include ${_ABLY_PC_GCRYPT_INCLUDE_DIRS})
    set(_ably_pc_gcrypt_libdir ${_ABLY_PC_GCRYPT_LIBRARY_DIRS})
    set(_ably_pc_cjson_include ${_ABLY_PC_CJSON_INCLUDE_DIRS})
    set(_ably_pc_cjson_libdir ${_ABLY_PC_CJSON_LIBRARY_DIRS})
  endif()
endif()

# ably_auth_find_oracle_library(<var> <name>): the static archive first in cross builds.
function(ably_auth_find_oracle_library var name)
  set(_names ${name})
  if(CMAKE_CROSSCOMPILING)
    set(_names ${CMAKE_STATIC_LIBRARY_PREFIX}${name}${CMAKE_STATIC_LIBRARY_SUFFIX} ${name})
  endif()
  find_library(${var} NAMES ${_names} HINTS ${ARGN})
endfunction()

find_path(ABLY_AUTH_GCRYPT_INCLUDE_DIR gcrypt.h HINTS ${_ably_pc_gcrypt_include})
find_path(ABLY_AUTH_GPG_ERROR_INCLUDE_DIR gpg-error.h HINTS ${_ably_pc_gcrypt_include})
ably_auth_find_oracle_library(ABLY_AUTH_GCRYPT_LIBRARY gcrypt ${_ably_pc_gcrypt_libdir})
ably_auth_find_oracle_library(ABLY_AUTH_GPG_ERROR_LIBRARY gpg-error ${_ably_pc_gcrypt_libdir})
find_path(ABLY_AUTH_CJSON_INCLUDE_DIR cjson/cJSON.h HINTS ${_ably_pc_cjson_include})
ably_auth_find_oracle_library(ABLY_AUTH_CJSON_LIBRARY cjson ${_ably_pc_cjson_libdir})

set(_ably_missing "")
foreach(_var ABLY_AUTH_GCRYPT_INCLUDE_DIR ABLY_AUTH_GPG_ERROR_INCLUDE_DIR
             ABLY_AUTH_GCRYPT_LIBRARY ABLY_AUTH_GPG_ERROR_LIBRARY)
  if(NOT ${_var})
    list(APPEND _ably_missing "libgcrypt [Debian: libgcrypt20-dev] (${_var} not found)")
    break()
  endif()
endforeach()
foreach(_var ABLY_AUTH_CJSON_INCLUDE_DIR ABLY_AUTH_CJSON_LIBRARY)
  if(NOT ${_var})
    list(APPEND _ably_missing "cJSON [Debian: libcjson-dev] (${_var} not found)")
    break()
  endif()
endforeach()
if(_ably_missing)
  string(REPLACE ";" ", " _ably_missing "${_ably_missing}")
  message(FATAL_ERROR
    "ably-auth: the C and C++ tests need their oracle libraries, missing: ${_ably_missing}. "
    "Install them (apt-get install libgcrypt20-dev libcjson-dev; tests/ensure-tools.sh does "
    "it as root), or configure with -DABLY_AUTH_BUILD_TESTS=OFF. Cross builds: see "
    "ABLY_AUTH_TEST_DEPS_ROOT in cmake/AblyAuthTestOracles.cmake (tests/platforms.sh).")
endif()
message(STATUS "ably-auth: test oracles: ${ABLY_AUTH_GCRYPT_LIBRARY} "
               "${ABLY_AUTH_GPG_ERROR_LIBRARY} ${ABLY_AUTH_CJSON_LIBRARY}")

add_library(ably_auth_test_oracles INTERFACE)
target_include_directories(ably_auth_test_oracles SYSTEM INTERFACE
  "${ABLY_AUTH_GCRYPT_INCLUDE_DIR}" "${ABLY_AUTH_GPG_ERROR_INCLUDE_DIR}"
  "${ABLY_AUTH_CJSON_INCLUDE_DIR}")
# libgpg-error after libgcrypt, for static archives.
target_link_libraries(ably_auth_test_oracles INTERFACE
  "${ABLY_AUTH_GCRYPT_LIBRARY}" "${ABLY_AUTH_GPG_ERROR_LIBRARY}" "${ABLY_AUTH_CJSON_LIBRARY}"
  Threads::Threads)
if(WIN32)
  target_link_libraries(ably_auth_test_oracles INTERFACE ws2_32) # libgpg-error's, when static
  if(ABLY_AUTH_CJSON_LIBRARY MATCHES "${CMAKE_STATIC_LIBRARY_SUFFIX}$"
     AND NOT ABLY_AUTH_CJSON_LIBRARY MATCHES "\\.dll\\.a$")
    # cJSON.h declares its functions dllexport unless told otherwise.
    target_compile_definitions(ably_auth_test_oracles INTERFACE CJSON_HIDE_SYMBOLS)
  endif()
endif()
if(NOT WIN32 AND ABLY_AUTH_CJSON_LIBRARY MATCHES "${CMAKE_STATIC_LIBRARY_SUFFIX}$")
  target_link_libraries(ably_auth_test_oracles INTERFACE m) # cJSON's, when static
endif()
