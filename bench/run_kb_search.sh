#!/usr/bin/env bash
# Knowledge-base search benchmark (issue #6): ingestion chunks/s, index build, and search
# latency p50/p99 + recall@10 against exact search for the raw hnswlib call, the index path,
# vector, hybrid and filtered search, on synthetic 768-dim vectors with text.
# Usage: bench/run_kb_search.sh [N ...]    (default: 100000)
# Environment: EF (ef_search; default HnswParams' 128), KB_BENCH_DIR (data directory; default a temp dir, deleted
# after the run), KB_BENCH_ARGS (more kb_search_bench arguments, e.g. "--reuse" to keep
# KB_BENCH_DIR and skip ingestion next time, "--recall-queries 50").
# 1,000,000 chunks need ~10 GiB of RAM at the peak (HNSW graph + exact oracle + the reload
# check) and ~9 GiB of disk (store ~5.5 GiB + index file 3.2 GiB): put KB_BENCH_DIR on a disk
# with room, not /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${KB_BENCH_BIN:-build/bench/kb_search_bench}"
[[ -x "$BIN" ]] || ninja -C build kb_search_bench
for n in "${@:-100000}"; do
  dir_args=()
  [[ -n "${KB_BENCH_DIR:-}" ]] && dir_args=(--dir "$KB_BENCH_DIR/n$n")
  ef_args=()
  [[ -n "${EF:-}" ]] && ef_args=(--ef "$EF")
  # shellcheck disable=SC2086
  "$BIN" --n "$n" --dim 768 --queries 200 --k 10 "${ef_args[@]}" "${dir_args[@]}" ${KB_BENCH_ARGS:-}
done
