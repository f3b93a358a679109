#!/usr/bin/env bash
# Long fuzz campaigns on a many-core machine without a Rust toolchain (the docs/SECURITY.md long
# runs used the 16-core GPU machine): libFuzzer's fork mode runs JOBS worker processes per
# target side by side; the parent's "#N" lines count the executions of every job together.
#
#   scripts/fuzz_fork.sh BIN_DIR CORPUS_DIR SECONDS TARGET:JOBS [TARGET:JOBS ...]
#
#   BIN_DIR     the fuzz binaries (fuzz/target/x86_64-unknown-linux-gnu/release/ after
#               `RUSTC_BOOTSTRAP=1 cargo +stable fuzz build -O`, or a copy of them)
#   CORPUS_DIR  one folder per target (created when missing) and seeds/ (scripts/fuzz.sh writes
#               one with BG_FUZZ_CORPUS); crashes go to CORPUS_DIR/artifacts/
#   TARGET      parse, ffi_load, decode, roundtrip, or decode_scalar (decode with
#               BG_FORCE_SCALAR=1, the scalar oracles)
#
# Example (what docs/SECURITY.md reports): scripts/fuzz_fork.sh bin corpus 270 ffi_load:10 decode:5
# Exit status: non-zero when a target found a crash, a leak, a timeout or an out-of-memory.
set -uo pipefail
[[ $# -ge 4 ]] || { sed -n '2,17p' "$0" >&2; exit 2; }
bin="$1" corpus="$2" secs="$3"
shift 3
mkdir -p "$corpus/artifacts" "$corpus/seeds"
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
pids=()
names=()
for spec in "$@"; do
  t="${spec%%:*}" jobs="${spec##*:}"
  scalar=0
  [[ "$t" == *_scalar ]] && scalar=1
  mkdir -p "$corpus/$t"
  BG_FORCE_SCALAR=$scalar "$bin/${t%_scalar}" -fork="$jobs" "$corpus/$t" "$corpus/seeds" -max_total_time="$secs" \
    -max_len=131072 -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$corpus/artifacts/$t-" >"$corpus/$t.log" 2>&1 &
  pids+=($!)
  names+=("$t")
done
status=0
for k in "${!pids[@]}"; do
  wait "${pids[$k]}" || status=1
  t="${names[$k]}"
  last="$(grep -E '^#[0-9]+' "$corpus/$t.log" | tail -n 1)"
  echo "[$t] ${last:-no progress line; see $corpus/$t.log}"
  if grep -qE 'ERROR: |SUMMARY: ' "$corpus/$t.log"; then
    status=1
    grep -E 'ERROR: |SUMMARY: ' "$corpus/$t.log" | head -n 5
  fi
done
exit $status
