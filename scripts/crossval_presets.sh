#!/usr/bin/env bash
# Cross-validate every synthetic model preset in every type `bitgguf synth` writes for it:
# synthesize (deterministic, BITNET_SEED=42), then `bitgguf crossval --sample N` (Rust vs cpp_ref,
# and real ggml as a third leg when BG_GGML_LIB is set), then delete the file. Not part of CI
# (the large presets are 1-3 GB each); CI runs the `tiny` preset in every type
# (tests/crossval_synth.rs). Prints one line per (preset, type) and a summary; exits non-zero
# when any pair does not match bit for bit.
#
#   bash scripts/crossval_presets.sh [--sample N] [--presets "tiny bitnet-2b-4t ..."] [--types "i2_s tl1 ..."|all]
#
# BG_BITGGUF_BIN=path runs a prebuilt `bitgguf` (built with --features crossval) instead of
# building one (e.g. on a machine without a Rust toolchain); TMPDIR chooses where the files go.
#
# Pairs synth refuses (a shape the type cannot hold, e.g. bitnet-3b in I2_S: 8640 % 128 != 0)
# are listed as "refused" with synth's message, not counted as failures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sample=64
presets="tiny bitnet-2b-4t bitnet-large bitnet-3b llama3-8b-1.58"
types="i2_s tl1 tl2 tq1_0 tq2_0 q4_0 q8_0 q4_k q6_k f16"
# Every type synth writes.
all_types="i2_s tl1 tl2 tq1_0 tq2_0 f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs mxfp4 nvfp4 q1_0 q2_0"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sample) sample="$2"; shift 2 ;;
    --presets) presets="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ $types == all ]] && types="$all_types"
if [[ -n ${BG_BITGGUF_BIN:-} ]]; then
  bin="$BG_BITGGUF_BIN"
else
  cargo build --release -q -p bitgguf-cli --features crossval
  bin="$root/target/release/bitgguf"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bitgguf-xv.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export BITNET_DETERMINISTIC=1 BITNET_SEED=42
ok=0 bad=0 refused=0
printf '%-16s %-6s %10s %8s %8s  %s\n' preset type MiB synth_s xval_s result
for p in $presets; do
  for t in $types; do
    f="$work/$p-$t.gguf"
    t0=$(date +%s.%N)
    if ! "$bin" synth --preset "$p" --type "$t" -o "$f" >"$work/synth.log" 2>&1; then
      refused=$((refused + 1))
      printf '%-16s %-6s %10s %8s %8s  refused: %s\n' "$p" "$t" - - - "$(tail -n 1 "$work/synth.log" | cut -c1-110)"
      rm -f "$f"
      continue
    fi
    t1=$(date +%s.%N)
    mib=$(($(stat -c %s "$f") / 1048576))
    if "$bin" crossval "$f" --sample "$sample" --quiet >"$work/xv.log" 2>&1; then
      res="$(grep -E '^[0-9]+ tensors:' "$work/xv.log" | head -n 1 || true)"
      ok=$((ok + 1))
    else
      res="MISMATCH: $(tail -n 3 "$work/xv.log" | tr '\n' ' ' | cut -c1-150)"
      bad=$((bad + 1))
    fi
    t2=$(date +%s.%N)
    printf '%-16s %-6s %10s %8.1f %8.1f  %s\n' "$p" "$t" "$mib" "$(awk "BEGIN{print $t1 - $t0}")" "$(awk "BEGIN{print $t2 - $t1}")" "$res"
    rm -f "$f"
  done
done
echo "summary: $ok bit-exact, $bad mismatched, $refused refused by synth (sample $sample blocks/tensor, ggml leg: $([[ -n ${BG_GGML_LIB:-} ]] && echo on || echo off))"
[[ $bad -eq 0 ]]
