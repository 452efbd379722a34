# armv7 (hard-float) Linux (glibc), cross built on Debian/Ubuntu and run under qemu-user:
# apt-get install g++-arm-linux-gnueabihf qemu-user; rustup target add
# armv7-unknown-linux-gnueabihf.
#
#   cmake -S . -B build/armv7 --toolchain cmake/toolchains/arm-linux-gnueabihf.cmake
set(ABLY_TC_PROCESSOR armv7l)
set(ABLY_TC_TRIPLE arm-linux-gnueabihf)
set(ABLY_TC_QEMU qemu-arm)
set(ABLY_TC_RUST armv7-unknown-linux-gnueabihf)
# GCC notes that std::vector iterators are passed differently since GCC 7.1 (-Wpsabi);
# that matters only when mixing with code built by GCC 6 or older.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
include("${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake")
