# Helpers for the test and example programs of this repository (included by the root
# CMakeLists.txt when tests or examples are built).
#
# ably_auth_runnable(<target>)
#   Makes <target> runnable from the build tree on every platform:
#   - Windows: copies ably_auth.dll next to the program after each build (Windows has no
#     RPATH; the loader looks in the program's directory first);
#   - MinGW: links the compiler's runtime (libgcc, libstdc++, winpthread) statically, so
#     the program needs no MinGW DLL on its PATH, and selects MinGW's C99 printf
#     (__USE_MINGW_ANSI_STDIO), so %zu and %lld work as on other platforms.
#
# ABLY_LOOPBACK_SERVER
#   Path of the loopback Ably-compatible server (crate tests/support) that the networked
#   tests spawn. The server runs where the tests run, so it is built for the build machine
#   (no --target) even in a cross build: under qemu-user, a test program that spawns a
#   program of the build machine simply runs it natively. Windows programs run under Wine
#   cannot start Linux programs, so for a Windows target it is built for that target.
#   ABLY_AUTH_LOOPBACK_SERVER (cache) names a server built elsewhere; nothing is built then.
#   Target ably_loopback_server builds it (or does nothing).

function(ably_auth_runnable target)
  if(WIN32)
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND "${CMAKE_COMMAND}" -E copy_if_different
              "$<TARGET_FILE:ably_auth_shared>" "$<TARGET_FILE_DIR:${target}>"
      VERBATIM)
  endif()
  if(MINGW)
    target_link_options(${target} PRIVATE -static)
    target_compile_definitions(${target} PRIVATE __USE_MINGW_ANSI_STDIO=1)
  endif()
endfunction()

set(ABLY_AUTH_LOOPBACK_SERVER "" CACHE FILEPATH
    "A prebuilt ably-loopback-server for the tests (empty: build it with cargo)")
if(ABLY_AUTH_LOOPBACK_SERVER)
  set(ABLY_LOOPBACK_SERVER "${ABLY_AUTH_LOOPBACK_SERVER}")
  add_custom_target(ably_loopback_server)
else()
  if(WIN32 AND ABLY_AUTH_RUST_TARGET)
    set(_ably_loopback_target_args --target ${ABLY_AUTH_RUST_TARGET})
    set(_ably_loopback_dir
        "${ABLY_AUTH_CARGO_TARGET_DIR}/${ABLY_AUTH_RUST_TARGET}/${_ably_profile_dir}")
    set(_ably_loopback_cargo ${_ably_cargo_command})
  else()
    set(_ably_loopback_target_args "")
    set(_ably_loopback_dir "${ABLY_AUTH_CARGO_TARGET_DIR}/${_ably_profile_dir}")
    set(_ably_loopback_cargo "${ABLY_AUTH_CARGO_EXECUTABLE}")
  endif()
  if(CMAKE_HOST_WIN32 OR WIN32)
    set(_ably_loopback_suffix .exe)
  else()
    set(_ably_loopback_suffix "")
  endif()
  set(ABLY_LOOPBACK_SERVER "${_ably_loopback_dir}/ably-loopback-server${_ably_loopback_suffix}")
  file(GLOB_RECURSE _ably_loopback_sources CONFIGURE_DEPENDS
       "${PROJECT_SOURCE_DIR}/tests/support/src/*.rs")
  set(_ably_loopback_stamp "${CMAKE_CURRENT_BINARY_DIR}/ably_loopback_server.stamp")
  add_custom_command(
    OUTPUT "${_ably_loopback_stamp}"
    BYPRODUCTS "${ABLY_LOOPBACK_SERVER}"
    COMMAND ${_ably_loopback_cargo} build -p ably-loopback --bin ably-loopback-server
            --manifest-path "${PROJECT_SOURCE_DIR}/Cargo.toml"
            --target-dir "${ABLY_AUTH_CARGO_TARGET_DIR}"
            ${_ably_profile_args} ${_ably_loopback_target_args} ${_ably_locked_args}
    COMMAND "${CMAKE_COMMAND}" -E touch "${_ably_loopback_stamp}"
    DEPENDS ${_ably_loopback_sources} "${PROJECT_SOURCE_DIR}/tests/support/Cargo.toml"
            "${PROJECT_SOURCE_DIR}/Cargo.lock"
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    COMMENT "cargo: building ably-loopback-server (test server)"
    USES_TERMINAL
    VERBATIM)
  add_custom_target(ably_loopback_server DEPENDS "${_ably_loopback_stamp}")
  # Both cargo runs share one target directory: run them one after the other.
  add_dependencies(ably_loopback_server ably_auth_cargo)
endif()
