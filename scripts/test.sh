#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, slow conformance, e2e).
# Fixtures are read from $DKB_FIXTURES (default ../shared/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR="${DKB_BUILD_DIR:-build}"
cd "$BUILD_DIR"
ctest --output-on-failure -j2 --timeout 900 "$@"
