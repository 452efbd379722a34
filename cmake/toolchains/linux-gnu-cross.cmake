# Shared part of the Debian cross toolchain files for Linux (glibc) targets run under
# qemu-user. The including file sets:
#   ABLY_TC_PROCESSOR   CMAKE_SYSTEM_PROCESSOR
#   ABLY_TC_TRIPLE      the GNU triple of the cross compilers and of the sysroot /usr/<triple>
#   ABLY_TC_QEMU        the qemu-user program
#   ABLY_TC_RUST        the Rust target triple
# ctest runs the test programs through qemu (CMAKE_CROSSCOMPILING_EMULATOR, with the cross
# sysroot for the dynamic loader); the loopback test server is built for the build machine.
# CMAKE_LIBRARY_ARCHITECTURE is the Debian multiarch triplet, so that find_library and
# find_path also look in lib/<triple> and include/<triple> under each root (the tests'
# oracle libraries unpacked from the target architecture's Debian packages:
# ABLY_AUTH_TEST_DEPS_ROOT, cmake/AblyAuthTestOracles.cmake).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${ABLY_TC_PROCESSOR})
set(CMAKE_C_COMPILER ${ABLY_TC_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${ABLY_TC_TRIPLE}-g++)
set(CMAKE_FIND_ROOT_PATH /usr/${ABLY_TC_TRIPLE})
set(CMAKE_LIBRARY_ARCHITECTURE ${ABLY_TC_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR ${ABLY_TC_QEMU} -L /usr/${ABLY_TC_TRIPLE})
set(ABLY_AUTH_RUST_TARGET ${ABLY_TC_RUST} CACHE STRING "")
