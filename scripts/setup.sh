#!/usr/bin/env bash
# Installs every Debian package deepkb needs, then configures and builds it into build/.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgtest-dev libgmock-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libpcre2-dev libutf8proc-dev
  libsqlite3-dev libyaml-cpp-dev libxml2-dev
  libboost-dev
  libssl-dev libargon2-dev
  libpoppler-cpp-dev libzip-dev libcsv-dev libcmark-dev
  libhnswlib-dev
  python3 python3-requests
  g++-aarch64-linux-gnu qemu-user
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Node.js runs the end-to-end tests with the official OpenAI/Ollama/Chroma SDKs (npm registry).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
fi
if [[ ! -d tests/clients/node_modules ]] || [[ tests/clients/package-lock.json -nt tests/clients/node_modules ]]; then
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
fi

[[ "${1:-}" == "--no-build" ]] && exit 0

BUILD_DIR="${DKB_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD_DIR"
