# aarch64 Linux (glibc), cross built on Debian/Ubuntu and run under qemu-user: apt-get install
# g++-aarch64-linux-gnu qemu-user; rustup target add aarch64-unknown-linux-gnu.
#
#   cmake -S . -B build/aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
set(ABLY_TC_PROCESSOR aarch64)
set(ABLY_TC_TRIPLE aarch64-linux-gnu)
set(ABLY_TC_QEMU qemu-aarch64)
set(ABLY_TC_RUST aarch64-unknown-linux-gnu)
include("${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake")
