# aarch64 Linux (glibc), cross built on Debian/Ubuntu and run under qemu-user: apt-get install
# g++-aarch64-linux-gnu qemu-user; rustup target add aarch64-unknown-linux-gnu.
#
#   cmake -S . -B build/aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
#
# ctest runs the test programs through qemu (CMAKE_CROSSCOMPILING_EMULATOR, with the cross
# sysroot for the dynamic loader); the loopback test server is built for the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
set(ABLY_AUTH_RUST_TARGET aarch64-unknown-linux-gnu CACHE STRING "")
