# Builds the ably-auth crate with cargo and wraps the results in imported targets:
#
#   ably_auth_cargo              custom target that runs cargo (part of ALL)
#   ably_auth_shared             SHARED IMPORTED GLOBAL, the cdylib
#   ably_auth_static             STATIC IMPORTED GLOBAL, the staticlib + native libs
#   AblyAuth::ably_auth_shared   alias
#   AblyAuth::ably_auth_static   alias
#   AblyAuth::ably_auth          alias of the shared or the static target (BUILD_SHARED_LIBS)
#
# Cache variables:
#   ABLY_AUTH_CARGO_EXECUTABLE   path to cargo
#   ABLY_AUTH_RUST_TARGET        Rust target triple for cross builds (empty: host)
#   ABLY_AUTH_CARGO_TARGET_DIR   cargo's --target-dir (default <build>/cargo-target); builds
#                                for several targets may share one, so that the host's build
#                                scripts and proc-macros are compiled once
#   ABLY_AUTH_CARGO_TOOLCHAIN_FROM_CMAKE
#                                when cross compiling (CMAKE_CROSSCOMPILING and a Rust
#                                target), give cargo CMake's C compiler as the target's linker
#                                and as the C compiler and archiver of build scripts (ring),
#                                unless the environment already sets them or the compiler
#                                needs --target (CMAKE_C_COMPILER_TARGET) (default ON)
#   ABLY_AUTH_CARGO_LOCKED       pass --locked (default ON)
#   ABLY_AUTH_HTTP_CLIENT        the built-in HTTP client: Cargo feature `http-client` (ureq,
#                                rustls, Mozilla's roots) (default ON). OFF builds a library
#                                whose networked calls need a host transport
#                                (ably_auth_options_set_http_transport)
#   ABLY_AUTH_SET_SONAME         give the shared library a SONAME / install name (default ON)
#   ABLY_AUTH_CARGO_TARGET_DIR   cargo --target-dir (default <build dir>/cargo-target)
#   ABLY_AUTH_PREBUILT_STATIC_LIBRARY
#                                a libably_auth.a built outside CMake (tests/sanitizers.sh builds
#                                one with a Rust sanitizer): cargo does not build the library,
#                                AblyAuth::ably_auth is this static library, and there is no
#                                shared library (no ably_auth_shared, no install rules)
#
# Variables set for the install rules (cmake/AblyAuthInstall.cmake):
#   ABLY_AUTH_CARGO_OUT_DIR, ABLY_AUTH_SHARED_FILE, ABLY_AUTH_STATIC_FILE, ABLY_AUTH_IMPLIB_FILE,
#   ABLY_AUTH_SHARED_NAME, ABLY_AUTH_STATIC_NAME, ABLY_AUTH_IMPLIB_NAME, ABLY_AUTH_SONAME,
#   ABLY_AUTH_SHARED_REAL_NAME, ABLY_AUTH_STATIC_NATIVE_LIBS, ABLY_AUTH_PC_LIBS_PRIVATE,
#   ABLY_AUTH_CONF_HEADER (the generated ably_auth_conf.h), ABLY_AUTH_FEATURE_<NAME> (0/1)
#
# The cdylib and the staticlib come from one `cargo rustc --crate-type cdylib --crate-type
# staticlib` run, so the crate is compiled (and link-time optimised) once. The rlib is left
# out: built together with the rlib, the staticlib carries every dependency's unoptimised
# object code (see benches/RESULTS.md for the sizes); without it, the two files are the same
# as when each is built alone.
#
# We call cargo directly instead of using corrosion: one crate, one library, and no
# FetchContent download at configure time.

find_program(ABLY_AUTH_CARGO_EXECUTABLE cargo
  HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin"
  DOC "cargo used to build the ably-auth Rust library")
if(NOT ABLY_AUTH_CARGO_EXECUTABLE)
  message(FATAL_ERROR "cargo not found. Install Rust (https://rustup.rs) or set "
                      "ABLY_AUTH_CARGO_EXECUTABLE.")
endif()

set(ABLY_AUTH_RUST_TARGET "" CACHE STRING
    "Rust target triple passed to cargo --target (empty: the host)")
option(ABLY_AUTH_CARGO_LOCKED "Pass --locked to cargo (fail if Cargo.lock is out of date)" ON)
option(ABLY_AUTH_SET_SONAME "Give the shared library a versioned SONAME (ELF) / @rpath install name (Apple)" ON)

# --- Profile and output paths -----------------------------------------------------------
# The cargo profile is fixed at configure time: dev for CMAKE_BUILD_TYPE=Debug, min-size-rel
# (every crate at opt-level "z") for MinSizeRel, release for everything else. Multi-config
# generators (no CMAKE_BUILD_TYPE) therefore get release.
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(_ably_profile_args "")
  set(_ably_profile_dir debug)
elseif(CMAKE_BUILD_TYPE STREQUAL "MinSizeRel")
  set(_ably_profile_args --profile min-size-rel)
  set(_ably_profile_dir min-size-rel)
else()
  set(_ably_profile_args --release)
  set(_ably_profile_dir release)
endif()

set(ABLY_AUTH_CARGO_TARGET_DIR "${CMAKE_BINARY_DIR}/cargo-target" CACHE PATH
    "cargo --target-dir for the ably-auth library and the loopback test server (may be shared between build trees)")
set(ABLY_AUTH_PREBUILT_STATIC_LIBRARY "" CACHE FILEPATH
    "Link this prebuilt libably_auth.a instead of building the library with cargo (static only)")
if(ABLY_AUTH_PREBUILT_STATIC_LIBRARY AND NOT EXISTS "${ABLY_AUTH_PREBUILT_STATIC_LIBRARY}")
  message(FATAL_ERROR "ABLY_AUTH_PREBUILT_STATIC_LIBRARY: ${ABLY_AUTH_PREBUILT_STATIC_LIBRARY} "
                      "does not exist")
endif()
if(ABLY_AUTH_RUST_TARGET)
  set(_ably_target_args --target ${ABLY_AUTH_RUST_TARGET})
  set(ABLY_AUTH_CARGO_OUT_DIR "${ABLY_AUTH_CARGO_TARGET_DIR}/${ABLY_AUTH_RUST_TARGET}/${_ably_profile_dir}")
else()
  # Note: a CARGO_BUILD_TARGET variable or build.target in .cargo/config.toml would move the
  # output to <triple>/; set ABLY_AUTH_RUST_TARGET instead.
  set(_ably_target_args "")
  set(ABLY_AUTH_CARGO_OUT_DIR "${ABLY_AUTH_CARGO_TARGET_DIR}/${_ably_profile_dir}")
endif()

if(ABLY_AUTH_CARGO_LOCKED)
  set(_ably_locked_args --locked)
else()
  set(_ably_locked_args "")
endif()

# --- Cargo features and ably_auth_conf.h -----------------------------------------------------
# One CMake option per Cargo feature of Cargo.toml's [features] (tests/features.rs keeps the
# lists in step): each becomes a cargo --features entry and a 0/1 macro of ably_auth_conf.h,
# generated from include/ably_auth_conf.h.in as build.rs does for cargo-only builds.
option(ABLY_AUTH_HTTP_CLIENT
       "Build in the HTTP client (ureq, rustls, Mozilla's roots); OFF: networked calls need a host transport" ON)
set(_ably_features "")
foreach(_pair IN ITEMS "HTTP_CLIENT:http-client")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _macro)
  list(GET _pair 1 _feature)
  if(ABLY_AUTH_${_macro})
    set(ABLY_AUTH_FEATURE_${_macro} 1)
    list(APPEND _ably_features "${_feature}")
  else()
    set(ABLY_AUTH_FEATURE_${_macro} 0)
  endif()
endforeach()
set(_ably_feature_args --no-default-features)
if(_ably_features)
  string(JOIN "," _ably_features_csv ${_ably_features})
  list(APPEND _ably_feature_args --features "${_ably_features_csv}")
endif()
set(ABLY_AUTH_CONF_INCLUDE_DIR "${CMAKE_CURRENT_BINARY_DIR}/ably_auth_conf/include")
set(ABLY_AUTH_CONF_HEADER "${ABLY_AUTH_CONF_INCLUDE_DIR}/ably_auth_conf.h")
configure_file("${PROJECT_SOURCE_DIR}/include/ably_auth_conf.h.in" "${ABLY_AUTH_CONF_HEADER}" @ONLY)

# --- The C toolchain cargo uses when cross compiling ---------------------------------------
# A toolchain file names the cross compiler for CMake only; cargo would otherwise link with
# `cc` and build ring's C code with a compiler it guesses from the triple. Passed as the
# environment of the cargo command (cargo's own variables, see "Environment variables" in
# the cargo book), so a value the user exported at configure time wins.
option(ABLY_AUTH_CARGO_TOOLCHAIN_FROM_CMAKE
       "Cross builds: give cargo CMake's C compiler (linker, cc crate) and archiver" ON)
# A compiler that needs --target (CMAKE_C_COMPILER_TARGET, e.g. the Android NDK's clang) is
# not handed over: cargo would call it without that flag.
set(_ably_cargo_env "")
if(ABLY_AUTH_RUST_TARGET AND CMAKE_CROSSCOMPILING AND ABLY_AUTH_CARGO_TOOLCHAIN_FROM_CMAKE)
  string(TOUPPER "${ABLY_AUTH_RUST_TARGET}" _ably_triple_upper)
  string(REPLACE "-" "_" _ably_triple_upper "${_ably_triple_upper}")
  string(REPLACE "-" "_" _ably_triple_lower "${ABLY_AUTH_RUST_TARGET}")
  set(_ably_env_pairs "AR_${_ably_triple_lower}=${CMAKE_AR}")
  if(NOT CMAKE_C_COMPILER_TARGET)
    list(APPEND _ably_env_pairs
      "CARGO_TARGET_${_ably_triple_upper}_LINKER=${CMAKE_C_COMPILER}"
      "CC_${_ably_triple_lower}=${CMAKE_C_COMPILER}")
  endif()
  foreach(_pair IN LISTS _ably_env_pairs)
    string(REGEX MATCH "^[^=]+" _name "${_pair}")
    if(NOT DEFINED ENV{${_name}} AND NOT _pair MATCHES "=$")
      list(APPEND _ably_cargo_env "${_pair}")
    endif()
  endforeach()
endif()
if(_ably_cargo_env)
  set(_ably_cargo_command
      "${CMAKE_COMMAND}" -E env ${_ably_cargo_env} "${ABLY_AUTH_CARGO_EXECUTABLE}")
else()
  set(_ably_cargo_command "${ABLY_AUTH_CARGO_EXECUTABLE}")
endif()

# --- File names cargo produces, per platform ---------------------------------------------
set(ABLY_AUTH_IMPLIB_NAME "")
set(ABLY_AUTH_SONAME "")
if(WIN32)
  # rustc's MSVC and GNU targets name things differently. The GNU one (mingw-w64) is tested
  # by tests/platforms.sh (cross built, run under Wine); the MSVC names are untested.
  set(ABLY_AUTH_SHARED_NAME ably_auth.dll)
  if(MSVC OR ABLY_AUTH_RUST_TARGET MATCHES "msvc$")
    set(ABLY_AUTH_STATIC_NAME ably_auth.lib)
    set(ABLY_AUTH_IMPLIB_NAME ably_auth.dll.lib)
  else()
    set(ABLY_AUTH_STATIC_NAME libably_auth.a)
    set(ABLY_AUTH_IMPLIB_NAME libably_auth.dll.a)
  endif()
elseif(APPLE)
  set(ABLY_AUTH_SHARED_NAME libably_auth.dylib)
  set(ABLY_AUTH_STATIC_NAME libably_auth.a)
else()
  set(ABLY_AUTH_SHARED_NAME libably_auth.so)
  set(ABLY_AUTH_STATIC_NAME libably_auth.a)
endif()
set(ABLY_AUTH_SHARED_FILE "${ABLY_AUTH_CARGO_OUT_DIR}/${ABLY_AUTH_SHARED_NAME}")
if(ABLY_AUTH_PREBUILT_STATIC_LIBRARY)
  set(ABLY_AUTH_STATIC_FILE "${ABLY_AUTH_PREBUILT_STATIC_LIBRARY}")
else()
  set(ABLY_AUTH_STATIC_FILE "${ABLY_AUTH_CARGO_OUT_DIR}/${ABLY_AUTH_STATIC_NAME}")
endif()
if(ABLY_AUTH_IMPLIB_NAME)
  set(ABLY_AUTH_IMPLIB_FILE "${ABLY_AUTH_CARGO_OUT_DIR}/${ABLY_AUTH_IMPLIB_NAME}")
else()
  set(ABLY_AUTH_IMPLIB_FILE "")
endif()
# Name of the installed shared library file (ELF: the fully versioned real name).
set(ABLY_AUTH_SHARED_REAL_NAME "${ABLY_AUTH_SHARED_NAME}")

# --- SONAME / install name ----------------------------------------------------------------
# cargo gives a cdylib no SONAME on ELF (binaries then record the path they were linked
# against) and an install name that is not @rpath-relative on Apple. We add one with
# `cargo rustc --lib -- -C link-arg=...` rather than RUSTFLAGS: arguments after `--` reach only
# the rustc call for this crate, so dependencies keep their fingerprints (no full rebuild), the
# user's RUSTFLAGS/.cargo/config.toml stay untouched, and build scripts and proc-macros are not
# linked with our soname. The staticlib, built by the same call, ignores link arguments.
#
# While on 0.x every minor release may break the ABI, so the SONAME carries major.minor
# (libably_auth.so.0.1); from 1.0 it carries the major only.
set(_ably_rustc_args "")
if(ABLY_AUTH_SET_SONAME AND NOT WIN32)
  if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(_ably_abi_version "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
  else()
    set(_ably_abi_version "${PROJECT_VERSION_MAJOR}")
  endif()
  if(APPLE)
    set(ABLY_AUTH_SONAME "@rpath/${ABLY_AUTH_SHARED_NAME}")
    set(_ably_rustc_args -- -C "link-arg=-Wl,-install_name,${ABLY_AUTH_SONAME}")
  else()
    set(ABLY_AUTH_SONAME "${ABLY_AUTH_SHARED_NAME}.${_ably_abi_version}")
    set(ABLY_AUTH_SHARED_REAL_NAME "${ABLY_AUTH_SHARED_NAME}.${PROJECT_VERSION}")
    set(_ably_rustc_args -- -C "link-arg=-Wl,-soname,${ABLY_AUTH_SONAME}")
  endif()
endif()
set(_ably_cargo_common
    --lib
    --manifest-path "${PROJECT_SOURCE_DIR}/Cargo.toml"
    --target-dir "${ABLY_AUTH_CARGO_TARGET_DIR}"
    ${_ably_profile_args} ${_ably_target_args} ${_ably_locked_args} ${_ably_feature_args})

# --- The cargo step -----------------------------------------------------------------------
# Everything cargo reads for this crate. CONFIGURE_DEPENDS re-globs on every build, so new
# source files are picked up without a manual re-configure.
file(GLOB_RECURSE _ably_rust_sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/*")
set(_ably_cargo_inputs
  "${PROJECT_SOURCE_DIR}/Cargo.toml"
  "${PROJECT_SOURCE_DIR}/Cargo.lock"
  ${_ably_rust_sources})
foreach(_f build.rs .cargo/config.toml rust-toolchain.toml rust-toolchain)
  if(EXISTS "${PROJECT_SOURCE_DIR}/${_f}")
    list(APPEND _ably_cargo_inputs "${PROJECT_SOURCE_DIR}/${_f}")
  endif()
endforeach()

set(_ably_byproducts "${ABLY_AUTH_SHARED_FILE}" "${ABLY_AUTH_STATIC_FILE}")
if(ABLY_AUTH_IMPLIB_FILE)
  list(APPEND _ably_byproducts "${ABLY_AUTH_IMPLIB_FILE}")
endif()
set(_ably_post_commands "")
if(ABLY_AUTH_SONAME AND NOT APPLE)
  # Binaries linked in the build tree record the SONAME, so the loader looks for that name
  # next to the library: provide it as a symlink.
  list(APPEND _ably_byproducts "${ABLY_AUTH_CARGO_OUT_DIR}/${ABLY_AUTH_SONAME}")
  set(_ably_post_commands
    COMMAND "${CMAKE_COMMAND}" -E create_symlink
            "${ABLY_AUTH_SHARED_NAME}" "${ABLY_AUTH_CARGO_OUT_DIR}/${ABLY_AUTH_SONAME}")
endif()

if(ABLY_AUTH_PREBUILT_STATIC_LIBRARY)
  # Nothing to build; the target stays so that dependencies on it (the loopback server's
  # cargo run) keep working.
  message(STATUS "ably-auth: using the prebuilt ${ABLY_AUTH_PREBUILT_STATIC_LIBRARY}")
  add_custom_target(ably_auth_cargo)
else()
  # The command's OUTPUT is a stamp file and the libraries are BYPRODUCTS: when cargo finds
  # nothing to do it leaves the libraries untouched, and C targets are not relinked; with the
  # libraries as OUTPUTs a no-op cargo run would leave them "out of date" forever.
  set(_ably_stamp "${CMAKE_CURRENT_BINARY_DIR}/ably_auth_cargo.stamp")
  if(ABLY_AUTH_RUST_TARGET)
    set(_ably_target_label "${ABLY_AUTH_RUST_TARGET}")
  else()
    set(_ably_target_label "host")
  endif()
  add_custom_command(
    OUTPUT "${_ably_stamp}"
    BYPRODUCTS ${_ably_byproducts}
    COMMAND ${_ably_cargo_command} rustc ${_ably_cargo_common} --crate-type cdylib
            --crate-type staticlib ${_ably_rustc_args}
    ${_ably_post_commands}
    COMMAND "${CMAKE_COMMAND}" -E touch "${_ably_stamp}"
    DEPENDS ${_ably_cargo_inputs} "${ABLY_AUTH_CONF_HEADER}"
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    COMMENT "cargo: building ably-auth (${_ably_profile_dir}, ${_ably_target_label})"
    USES_TERMINAL # stream cargo's progress (Ninja's console pool)
    VERBATIM)
  add_custom_target(ably_auth_cargo ALL DEPENDS "${_ably_stamp}")
endif()

# --- Native libraries the staticlib needs -------------------------------------------------
# What `rustc --print native-static-libs` reports for Rust's std, minus what every C compiler
# driver adds anyway (libc, libgcc_s for the unwinder, libSystem on Apple). Only std needs
# native libraries today; if a dependency adds one, add it here and to the pkg-config list.
#   Linux/glibc: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc. On glibc >= 2.34 util, rt,
#                pthread and dl are empty stubs; we keep pthread/dl/m for older systems and musl.
#   Apple:       -lSystem -lc -lm (libSystem is implicit), and Security and CoreFoundation
#                for the platform certificate verifier of the built-in HTTP client.
#   Windows:     the system import libraries rustc lists for std (untested here).
if(NOT TARGET Threads::Threads)
  find_package(Threads REQUIRED)
  # Our imported targets are GLOBAL; Threads::Threads must be too, or a parent project that
  # links ably_auth_static could not resolve the name.
  set_property(TARGET Threads::Threads PROPERTY IMPORTED_GLOBAL TRUE)
endif()
if(WIN32)
  # crypt32: the platform certificate verifier (CertGetCertificateChain).
  set(ABLY_AUTH_STATIC_NATIVE_LIBS kernel32 advapi32 ntdll userenv ws2_32 bcrypt crypt32)
  set(ABLY_AUTH_PC_LIBS_PRIVATE "-lkernel32 -ladvapi32 -lntdll -luserenv -lws2_32 -lbcrypt -lcrypt32")
elseif(APPLE)
  set(ABLY_AUTH_STATIC_NATIVE_LIBS Threads::Threads m)
  set(ABLY_AUTH_PC_LIBS_PRIVATE "-lpthread -lm")
  if(ABLY_AUTH_HTTP_CLIENT) # the platform certificate verifier (Security.framework); untested here
    list(APPEND ABLY_AUTH_STATIC_NATIVE_LIBS "-framework Security" "-framework CoreFoundation")
    string(APPEND ABLY_AUTH_PC_LIBS_PRIVATE " -framework Security -framework CoreFoundation")
  endif()
else()
  set(ABLY_AUTH_STATIC_NATIVE_LIBS Threads::Threads ${CMAKE_DL_LIBS} m)
  set(ABLY_AUTH_PC_LIBS_PRIVATE "-lpthread -ldl -lm")
endif()

# --- Imported targets ----------------------------------------------------------------------
# The include directory in BUILD_INTERFACE/INSTALL_INTERFACE form, as for a normal library.
# Imported targets are never exported, so only the BUILD_INTERFACE half takes effect here; the
# installed AblyAuthConfig.cmake defines its own IMPORTED targets pointing at <prefix>/include.
set(_ably_include_dirs
  "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
  "$<BUILD_INTERFACE:${ABLY_AUTH_CONF_INCLUDE_DIR}>"
  "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")

# Imported (not INTERFACE) targets so that CMake knows the library kind: it adds the build
# RPATH for the shared one and orders the static one correctly on link lines. GLOBAL so that
# a project using add_subdirectory() can see them and alias them.
if(NOT ABLY_AUTH_PREBUILT_STATIC_LIBRARY)
  add_library(ably_auth_shared SHARED IMPORTED GLOBAL)
  set_target_properties(ably_auth_shared PROPERTIES
    IMPORTED_LOCATION "${ABLY_AUTH_SHARED_FILE}"
    INTERFACE_INCLUDE_DIRECTORIES "${_ably_include_dirs}")
  if(ABLY_AUTH_IMPLIB_FILE)
    set_target_properties(ably_auth_shared PROPERTIES IMPORTED_IMPLIB "${ABLY_AUTH_IMPLIB_FILE}")
  endif()
  if(ABLY_AUTH_SONAME)
    set_target_properties(ably_auth_shared PROPERTIES IMPORTED_SONAME "${ABLY_AUTH_SONAME}")
  else()
    set_target_properties(ably_auth_shared PROPERTIES IMPORTED_NO_SONAME TRUE)
  endif()
endif()

add_library(ably_auth_static STATIC IMPORTED GLOBAL)
set_target_properties(ably_auth_static PROPERTIES
  IMPORTED_LOCATION "${ABLY_AUTH_STATIC_FILE}"
  INTERFACE_INCLUDE_DIRECTORIES "${_ably_include_dirs}"
  INTERFACE_LINK_LIBRARIES "${ABLY_AUTH_STATIC_NATIVE_LIBS}")

# A dependency on an imported target is followed by every target that links it, so C code
# is compiled and linked only after cargo has run.
add_dependencies(ably_auth_static ably_auth_cargo)
add_library(AblyAuth::ably_auth_static ALIAS ably_auth_static)
if(ABLY_AUTH_PREBUILT_STATIC_LIBRARY)
  add_library(AblyAuth::ably_auth ALIAS ably_auth_static)
else()
  add_dependencies(ably_auth_shared ably_auth_cargo)
  add_library(AblyAuth::ably_auth_shared ALIAS ably_auth_shared)
  if(ABLY_AUTH_DEFAULT_SHARED)
    add_library(AblyAuth::ably_auth ALIAS ably_auth_shared)
  else()
    add_library(AblyAuth::ably_auth ALIAS ably_auth_static)
  endif()
endif()
