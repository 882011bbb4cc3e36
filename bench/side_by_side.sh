#!/usr/bin/env bash
# Side by side with llama.cpp on the same GGUF files and threads (issue #4's ratios): per type,
# llama-bench and `deepkb bench` alternated per test (tg128, pp512) at nice -19, then 8
# sequences decoding together (llama-batched-bench S_TG at -npl 8 vs deepkb's --parallel 8).
# Prints one line per run (time, load average, tokens/s); bench/README.md has the results.
# Usage: LLAMA_BIN=/path/to/llama.cpp/build/bin bench/side_by_side.sh [MODELS_DIR] [ROUNDS]
#   MODELS_DIR holds q15-{q4_0,q4_k_m,q8_0}.gguf (e.g. bench/run_synthetic.sh's models renamed,
#   or `deepkb bench --synthetic deepseek-r1-distill-qwen-1.5b --type T --out ...`).
#   A current llama.cpp can be built from the npm package node-llama-cpp (bench/README.md).
# nice -19 needs root (or CAP_SYS_NICE); without it the runs take the default priority.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_BIN:?set LLAMA_BIN to the folder with llama-bench and llama-batched-bench}"
MODELS="${1:-build/bench-models}"
ROUNDS="${2:-1}"
DK="${DEEPKB_BIN:-build/src/cli/deepkb}"
THREADS="${THREADS:-2}"
export LD_LIBRARY_PATH="$LLAMA_BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nice_run() { if nice -n -19 true 2>/dev/null; then nice -n -19 "$@"; else "$@"; fi; }
stamp() { echo "$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"; }
# "avg_ts ± stddev_ts" of each row of a llama-bench-style JSON list on stdin.
rates() {
  python3 -c 'import json,sys; s=sys.stdin.read(); s=s[s.index("["):s.rindex("]")+1]
for e in json.loads(s):
    x = " eff %.0f%% (%s) bw %.1f" % (100*e["bandwidth_efficiency"], " ".join("%.0f" % (100*v) for v in e.get("bandwidth_efficiency_samples", [])), e["mem_read_gbs"]) if "bandwidth_efficiency" in e else ""
    print("%.2f ± %.2f%s" % (e["avg_ts"], e["stddev_ts"], x))'
}
for ((r = 0; r < ROUNDS; r++)); do
  for type in q4_0 q4_k_m q8_0; do
    m="$MODELS/q15-$type.gguf"
    for test in tg128 pp512; do
      if [[ $test == tg128 ]]; then p=0 n=128 reps=3; else p=512 n=0 reps=2; fi
      s=$(stamp); v=$(nice_run "$LLAMA_BIN/llama-bench" -m "$m" -p $p -n $n -t "$THREADS" -r $reps -o json 2>/dev/null | rates)
      echo "$s $type $test llama: $v"
      extra=(); [[ $test == pp512 ]] && extra=(--no-bandwidth)
      s=$(stamp); v=$(nice_run "$DK" bench -m "$m" -p $p -n $n -t "$THREADS" -r $reps -o json "${extra[@]}" 2>/dev/null | rates)
      echo "$s $type $test deepkb: $v"
    done
  done
  for type in q4_0 q4_k_m q8_0; do
    m="$MODELS/q15-$type.gguf"
    s=$(stamp)
    v=$(nice_run "$LLAMA_BIN/llama-batched-bench" -m "$m" -c 2048 -b 512 -ub 512 -npp 16 -ntg 64 \
          -npl 8 -t "$THREADS" 2>&1 | awk -F'|' '/^\|/ && $4+0 == 8 {gsub(/ /, "", $9); print $9}')
    echo "$s $type 8 sequences llama (S_TG t/s): $v"
    s=$(stamp)
    v=$(nice_run "$DK" bench -m "$m" -p 0 -n 64 -r 2 -t "$THREADS" --parallel 8 --no-bandwidth -o json \
          2>/dev/null | rates | tail -1)
    echo "$s $type 8 sequences deepkb: $v"
  done
done
