#!/usr/bin/env bash
# Measures deepkb on random-weight GGUFs with the exact shape of DeepSeek-R1-Distill-Qwen-1.5B,
# in llama-bench's JSON format, for the types the performance issue compares.
# Usage: bench/run_synthetic.sh [THREADS] [OUT_DIR]   (needs ~4 GiB of disk in OUT_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-2}"
OUT="${2:-build/bench-models}"
BIN="${DEEPKB_BIN:-build/src/cli/deepkb}"
mkdir -p "$OUT"
for type in q4_0 q4_k_m q8_0; do
  model="$OUT/deepseek-r1-distill-qwen-1.5b-$type.gguf"
  [[ -f "$model" ]] || "$BIN" bench --synthetic deepseek-r1-distill-qwen-1.5b --type "$type" --out "$model"
  "$BIN" bench -m "$model" -p 512 -n 128 -t "$THREADS" -r 3 -o md
done
