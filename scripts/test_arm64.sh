#!/usr/bin/env bash
# Cross-builds the kernel tests for aarch64 and runs them under qemu at each dispatch level:
# the default (NEON + dotprod on qemu's "max" CPU), DKB_FORCE_NEON=1, DKB_FORCE_SCALAR=1, and
# the default on an emulated Cortex-A53 (no dotprod: runtime detection must pick NEON).
# The build (cmake/aarch64-linux-gnu.cmake, DKB_KERNELS_ONLY=ON) holds only base, kernels and
# dkb_kernels_tests, with GoogleTest compiled from /usr/src/googletest; ccache applies.
# Needs g++-aarch64-linux-gnu and qemu-user (scripts/setup.sh installs them). Without them it
# skips with exit 77 — unless CI=true, where it fails. CTest runs it as the test kernels_arm64.
# Usage: scripts/test_arm64.sh [ctest args]   (build folder: $DKB_ARM64_BUILD_DIR, default
# build-arm64; fixtures: $DKB_FIXTURES as for the native tests)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ qemu-aarch64 cmake ninja; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ -f /usr/src/googletest/googletest/src/gtest-all.cc ]] || missing+=(/usr/src/googletest)
if ((${#missing[@]})); then
  msg="missing ${missing[*]} (apt-get install g++-aarch64-linux-gnu qemu-user libgtest-dev, or scripts/setup.sh)"
  if [[ "${CI:-}" == "true" ]]; then
    echo "test_arm64: FAILED: $msg" >&2
    exit 1
  fi
  echo "test_arm64: *** SKIPPED: $msg ***" >&2
  exit 77
fi

BUILD_DIR="${DKB_ARM64_BUILD_DIR:-build-arm64}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DDKB_KERNELS_ONLY=ON >/dev/null
ninja -C "$BUILD_DIR" -j2 dkb_kernels_tests
cd "$BUILD_DIR"
ctest --output-on-failure -j2 "$@"
