# 64-bit Windows, cross built with MinGW-w64 on Debian/Ubuntu and run under Wine:
# apt-get install gcc-mingw-w64-x86-64-posix g++-mingw-w64-x86-64-posix wine64; rustup target
# add x86_64-pc-windows-gnu.
#
#   cmake -S . -B build/windows --toolchain cmake/toolchains/mingw-w64-x86_64.cmake
#
# The posix-thread flavour of MinGW's g++ is needed: with the win32 one (GCC < 13) the C++
# binding <ably/auth.hpp> has no std::mutex. ctest runs the programs through wine; the
# library runs on Windows 10 / Server 2016 or later (Rust's minimum), and Wine 8 needs
# the stand-in bcryptprimitives.dll of tests/platforms (tests/platforms.sh).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
set(ABLY_AUTH_RUST_TARGET x86_64-pc-windows-gnu CACHE STRING "")
