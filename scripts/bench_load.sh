#!/usr/bin/env bash
# Load measurements (issue 6; not run in CI). Prints, per synthetic model and mode, the load time
# and the peak resident memory (VmHWM) against what stays resident after the load, each load in
# a fresh process (`bitgguf load --json`), warm page cache, medians of $ROUNDS rounds
# (interleaved), beside the machine's own references measured in the same rounds:
# `cat FILE > /dev/null` (read bandwidth of the warm file) and a mapping populated with
# MADV_POPULATE_READ (`bitgguf load --populate`, zero-copy).
#
#   bash scripts/bench_load.sh [SIZES_GB...]      default: 1 5
#
# Models: examples/load_synth (llama-shaped q8_0, ~SIZE GB) and, for the time to CPU-ready, the
# 7B-class `llama3-8b-1.58` I2_S preset of `bitgguf synth` (~3 GB with f16 embeddings). Files go
# to $BG_BENCH_DIR (default /tmp/bitgguf-bench) and are deleted at the end unless BG_KEEP=1.
# The 5 GB model's decoded modes need ~15 GB of free memory; they are skipped with a message
# when MemAvailable is lower. BG_SKIP_7B=1 skips the 7B-class model,
# BG_ONLY_7B=1 measures only it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dir="${BG_BENCH_DIR:-/tmp/bitgguf-bench}"
rounds="${ROUNDS:-3}"
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(1 5)
mkdir -p "$dir"
cleanup() { [[ "${BG_KEEP:-}" == 1 ]] || rm -f "$dir"/load_*.gguf "$dir"/l8b_i2s.gguf; }
trap cleanup EXIT

cargo build --release -q -p bitgguf-cli
cargo build --release -q -p bitgguf --example load_synth
bin="$root/target/release/bitgguf"
synth="$root/target/release/examples/load_synth"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "rounds: $rounds (medians), warm page cache, each load a fresh process"

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# run_mode FILE LABEL ARGS... -> "time_s ratio"
run_mode() {
  local f="$1" label="$2"
  shift 2
  "$bin" load "$f" --json --quiet "$@" |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["elapsed_s"], v["peak_over_resident"], v["resident_bytes"])'
}

bench_file() { # bench_file FILE MODES...
  local f="$1"
  shift
  local bytes
  bytes=$(stat -c %s "$f")
  cat "$f" >/dev/null
  declare -A times ratios res
  local cat_times=()
  for ((r = 0; r < rounds; r++)); do
    local t0 t1
    t0=$(date +%s.%N)
    cat "$f" >/dev/null
    t1=$(date +%s.%N)
    cat_times+=("$(echo "$t1 - $t0" | bc -l)")
    for m in "$@"; do
      # shellcheck disable=SC2086
      read -r t q b < <(run_mode "$f" "$m" ${m//_/ })
      times[$m]+="$t "
      ratios[$m]+="$q "
      res[$m]=$b
    done
  done
  local cat_med
  cat_med=$(printf '%s\n' "${cat_times[@]}" | median)
  printf '\n%s: %.2f GB; cat > /dev/null: %.3f s (%.2f GB/s)\n' "$(basename "$f")" "$(echo "$bytes/1000000000" | bc -l)" \
    "$cat_med" "$(echo "$bytes/1000000000/$cat_med" | bc -l)"
  printf '  %-34s %10s %10s %12s %14s\n' "mode" "time s" "GB/s" "vs cat" "peak/resident"
  for m in "$@"; do
    local t q
    t=$(echo "${times[$m]}" | tr ' ' '\n' | grep . | median)
    q=$(echo "${ratios[$m]}" | tr ' ' '\n' | grep . | median)
    printf '  %-34s %10.3f %10.2f %11.2fx %13.1f%%\n' "${m//_/ }" "$t" "$(echo "$bytes/1000000000/$t" | bc -l)" \
      "$(echo "$t/$cat_med" | bc -l)" "$(echo "$q*100" | bc -l)"
  done
}

avail_gb() { awk '/MemAvailable/ {printf "%d", $2/1048576}' /proc/meminfo; }

[[ "${BG_ONLY_7B:-}" == 1 ]] && sizes=()
for s in "${sizes[@]}"; do
  f="$dir/load_${s}g.gguf"
  [[ -f "$f" ]] || "$synth" "$f" "$s"
  modes=(--populate --no-mmap)
  need=$((s * 3 + 2))
  if [[ $(avail_gb) -ge $need ]]; then
    modes+=(--to_f16 --no-mmap_--to_f16)
  else
    echo "SKIPPED decoded modes for ${s} GB: MemAvailable $(avail_gb) GiB < ${need} GiB"
  fi
  bench_file "$f" "${modes[@]}"
  [[ "${BG_KEEP:-}" == 1 ]] || rm -f "$f"
done

# Time to CPU-ready for the 7B-class I2_S model: zero-copy with every page populated (ready to
# run without page faults), and the read mode (every byte copied into the process).
if [[ "${BG_SKIP_7B:-}" == 1 ]]; then
  exit 0
fi
f="$dir/l8b_i2s.gguf"
[[ -f "$f" ]] || "$bin" synth --preset llama3-8b-1.58 --type i2_s -o "$f"
bench_file "$f" --populate --staging-mib_256 --no-mmap
echo
echo "floor 2 s, goal 0.5 s for the 7B-class model to CPU-ready (mmap --populate); peak RSS floor 150 %, goal 110 %"
