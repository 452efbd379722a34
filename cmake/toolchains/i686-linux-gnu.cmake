# 32-bit x86 Linux on an x86_64 Debian/Ubuntu host: gcc -m32 (apt-get install gcc-12-multilib
# g++-12-multilib; the unversioned gcc-multilib conflicts with the cross compilers) and the
# Rust target i686-unknown-linux-gnu (rustup target add). The programs run natively.
#
#   cmake -S . -B build/i686 --toolchain cmake/toolchains/i686-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(CMAKE_C_COMPILER gcc)
set(CMAKE_CXX_COMPILER g++)
set(CMAKE_C_FLAGS_INIT -m32)
set(CMAKE_CXX_FLAGS_INIT -m32)
# gcc-multilib would add the link /usr/include/asm -> x86_64-linux-gnu/asm (the kernel's asm/
# headers serve both i386 and x86_64); gcc-12-multilib does not. Provide it in the build tree.
if(NOT EXISTS /usr/include/asm AND EXISTS /usr/include/x86_64-linux-gnu/asm)
  set(_ably_i686_asm "${CMAKE_BINARY_DIR}/i686-asm")
  file(MAKE_DIRECTORY "${_ably_i686_asm}")
  file(CREATE_LINK /usr/include/x86_64-linux-gnu/asm "${_ably_i686_asm}/asm" SYMBOLIC)
  string(APPEND CMAKE_C_FLAGS_INIT " -idirafter ${_ably_i686_asm}")
  string(APPEND CMAKE_CXX_FLAGS_INIT " -idirafter ${_ably_i686_asm}")
endif()
set(CMAKE_LIBRARY_ARCHITECTURE i386-linux-gnu)
set(ABLY_AUTH_RUST_TARGET i686-unknown-linux-gnu CACHE STRING "")
