# Toolchain for the aarch64 cross build of the kernel tests (scripts/test_arm64.sh): Debian's
# g++-aarch64-linux-gnu, its sysroot /usr/aarch64-linux-gnu (nothing from the host's
# /usr/include or /usr/lib), and qemu-user to run the binaries: qemu's "max" CPU has NEON and
# dotprod. CTest and gtest discovery run test binaries through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(DKB_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${DKB_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(DKB_QEMU_AARCH64 qemu-aarch64)
if(DKB_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${DKB_QEMU_AARCH64} -L ${DKB_AARCH64_SYSROOT} -cpu max)
endif()
