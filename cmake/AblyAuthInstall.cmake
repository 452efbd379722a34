# Install rules: the header, both libraries, the CMake package AblyAuth and ably_auth.pc.
#
#   <prefix>/include/ably_auth.h
#   <prefix>/include/ably/auth.hpp                     (the header-only C++17 binding)
#   <prefix>/lib/libably_auth.a
#   <prefix>/lib/libably_auth.so.X.Y.Z, libably_auth.so.<soname version> -> .so.X.Y.Z,
#                libably_auth.so -> .so.<soname version>          (ELF; one .dylib on Apple)
#   <prefix>/lib/cmake/AblyAuth/AblyAuthConfig.cmake, AblyAuthConfigVersion.cmake
#   <prefix>/lib/pkgconfig/ably_auth.pc, ably_auth_static.pc (static only; the Go binding's)
#
# The libraries are IMPORTED targets, which install(TARGETS)/install(EXPORT) cannot handle,
# so the files are installed directly and AblyAuthConfig.cmake defines its own IMPORTED
# targets (the fallback style-anchors §3.10 names for when corrosion_install is not used).
include(CMakePackageConfigHelpers)

set(ABLY_AUTH_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/AblyAuth" CACHE STRING
    "Where AblyAuthConfig.cmake is installed, relative to the prefix")
mark_as_advanced(ABLY_AUTH_INSTALL_CMAKEDIR)

# --- Header and libraries -----------------------------------------------------------------
install(FILES "${PROJECT_SOURCE_DIR}/include/ably_auth.h" "${ABLY_AUTH_CONF_HEADER}"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
# The header-only C++ binding, next to ably_auth.h: <prefix>/include/ably/auth.hpp.
install(FILES "${PROJECT_SOURCE_DIR}/bindings/cpp/include/ably/auth.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/ably")

install(FILES "${ABLY_AUTH_STATIC_FILE}" DESTINATION "${CMAKE_INSTALL_LIBDIR}")

set(_ably_exec_perms OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                     WORLD_READ WORLD_EXECUTE)
if(WIN32)
  set(ABLY_AUTH_CONFIG_SHARED_DIR "${CMAKE_INSTALL_BINDIR}") # DLLs go next to programs
  install(FILES "${ABLY_AUTH_SHARED_FILE}" DESTINATION "${CMAKE_INSTALL_BINDIR}"
          PERMISSIONS ${_ably_exec_perms})
  install(FILES "${ABLY_AUTH_IMPLIB_FILE}" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
else()
  set(ABLY_AUTH_CONFIG_SHARED_DIR "${CMAKE_INSTALL_LIBDIR}")
  install(FILES "${ABLY_AUTH_SHARED_FILE}" DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          RENAME "${ABLY_AUTH_SHARED_REAL_NAME}" PERMISSIONS ${_ably_exec_perms})
  if(NOT ABLY_AUTH_SHARED_REAL_NAME STREQUAL ABLY_AUTH_SHARED_NAME)
    # The usual ELF chain: the linker finds libably_auth.so, the loader the SONAME. The links
    # are made once in the build tree; install(FILES) copies symlinks as symlinks, so they are
    # also listed in install_manifest.txt.
    set(_ably_links "${CMAKE_CURRENT_BINARY_DIR}/ably_auth-install-links")
    file(MAKE_DIRECTORY "${_ably_links}")
    file(CREATE_LINK "${ABLY_AUTH_SHARED_REAL_NAME}" "${_ably_links}/${ABLY_AUTH_SONAME}" SYMBOLIC)
    file(CREATE_LINK "${ABLY_AUTH_SONAME}" "${_ably_links}/${ABLY_AUTH_SHARED_NAME}" SYMBOLIC)
    install(FILES "${_ably_links}/${ABLY_AUTH_SONAME}" "${_ably_links}/${ABLY_AUTH_SHARED_NAME}"
            DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  endif()
endif()

# --- CMake package --------------------------------------------------------------------------
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/AblyAuthConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/AblyAuthConfig.cmake"
  INSTALL_DESTINATION "${ABLY_AUTH_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR ABLY_AUTH_CONFIG_SHARED_DIR)

# Before 1.0 every minor release may break the API and ABI, so find_package(AblyAuth 0.1)
# must not accept 0.2: SameMinorVersion. From 1.0 on, SameMajorVersion is the honest promise.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_ably_compat SameMinorVersion)
else()
  set(_ably_compat SameMajorVersion)
endif()
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/AblyAuthConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY ${_ably_compat})

install(FILES "${CMAKE_CURRENT_BINARY_DIR}/AblyAuthConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/AblyAuthConfigVersion.cmake"
        DESTINATION "${ABLY_AUTH_INSTALL_CMAKEDIR}")

# --- pkg-config -----------------------------------------------------------------------------
# prefix= is the install prefix as it is when installing (`cmake --install --prefix DIR`
# included; a relative DIR made absolute), so pkg-config prints plain paths (-I/opt/ably-auth/include, not
# .../lib/pkgconfig/../../include): the .pc files are written by an install script from
# templates made here, in which @ABLY_AUTH_PC_INSTALL_PREFIX@ is still to be replaced. A
# package staged with DESTDIR gets the final prefix, as distributions expect. An absolute
# CMAKE_INSTALL_<dir> is used as it is. Moving an installed tree means editing prefix=.
set(_ably_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
set(ABLY_AUTH_PC_PREFIX "@ABLY_AUTH_PC_INSTALL_PREFIX@")
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(ABLY_AUTH_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(ABLY_AUTH_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${_ably_pc_dir}")
  set(_ably_pc_dest "\$ENV{DESTDIR}${_ably_pc_dir}")
else()
  set(_ably_pc_dest "\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${_ably_pc_dir}")
endif()
foreach(_pc ably_auth ably_auth_static)
  set(_ably_pc_template "${CMAKE_CURRENT_BINARY_DIR}/${_pc}.pc.template")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${_pc}.pc.in" "${_ably_pc_template}" @ONLY)
  install(CODE "
    get_filename_component(ABLY_AUTH_PC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\" ABSOLUTE)
    message(STATUS \"Installing: ${_ably_pc_dest}/${_pc}.pc\")
    configure_file(\"${_ably_pc_template}\" \"${_ably_pc_dest}/${_pc}.pc\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"${_ably_pc_dest}/${_pc}.pc\")")
endforeach()
