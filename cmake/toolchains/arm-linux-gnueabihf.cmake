# armv7 (hard-float) Linux (glibc), cross built on Debian/Ubuntu and run under qemu-user: apt-get install
# g++-arm-linux-gnueabihf qemu-user; rustup target add armv7-unknown-linux-gnueabihf.
#
#   cmake -S . -B build/armv7 --toolchain cmake/toolchains/arm-linux-gnueabihf.cmake
#
# ctest runs the test programs through qemu (CMAKE_CROSSCOMPILING_EMULATOR, with the cross
# sysroot for the dynamic loader); the loopback test server is built for the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf)
set(ABLY_AUTH_RUST_TARGET armv7-unknown-linux-gnueabihf CACHE STRING "")
