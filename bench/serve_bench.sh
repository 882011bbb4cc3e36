#!/usr/bin/env bash
# Serving benchmark on the synthetic DeepSeek-R1-Distill-Qwen-1.5B shape (Q4_0): starts
# `deepkb serve` with 16 slots, runs bench/serve_bench.mjs at 1, 4, 8 and 16 concurrent
# streams (prompt "Once upon a time", 64 tokens each), prints a Markdown table, stops the server.
# Usage: bench/serve_bench.sh [THREADS] [OUT_DIR] [extra serve_bench.mjs args...]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-2}"
OUT="${2:-build/bench-models}"
shift $(( $# > 2 ? 2 : $# ))
BIN="${DEEPKB_BIN:-build/src/cli/deepkb}"
mkdir -p "$OUT"
model="$OUT/deepseek-r1-distill-qwen-1.5b-q4_0.gguf"
[[ -f "$model" ]] || "$BIN" bench --synthetic deepseek-r1-distill-qwen-1.5b --type q4_0 --out "$model"
data="$(mktemp -d)"
log="$(mktemp)"
"$BIN" serve -m "$model" --parallel 16 --ctx-size 2048 --threads "$THREADS" --no-auth \
  --response-cache-mb 0 --port 0 --data "$data" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 1 600); do
  grep -q "deepkb: ready" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
url="$(grep -o 'listening on http://[^ ]*' "$log" | head -1 | cut -d' ' -f3)"
echo "serve: $model, --parallel 16 --ctx-size 2048 --threads $THREADS --no-auth ($url)" >&2
node bench/serve_bench.mjs --url "$url" "$@"
