#!/usr/bin/env bash
# Knowledge-base search benchmark (issue #6): ingestion chunks/s, index build, and search
# latency p50/p99 + recall@10 against exact search for the raw hnswlib call, the index path,
# vector, hybrid and filtered search, on synthetic 768-dim vectors with text.
# Usage: bench/run_kb_search.sh [N ...]    (default: 100000; 1000000 needs ~10 GiB RAM + disk)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${KB_BENCH_BIN:-build/bench/kb_search_bench}"
[[ -x "$BIN" ]] || ninja -C build kb_search_bench
for n in "${@:-100000}"; do
  "$BIN" --n "$n" --dim 768 --queries 200 --k 10 --ef "${EF:-64}"
done
