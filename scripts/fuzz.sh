#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets: parse, ffi_load, decode, roundtrip; decode a
# second time as decode_scalar with BG_FORCE_SCALAR=1, for the scalar oracles) under
# AddressSanitizer, with overflow checks and debug assertions on (fuzz/Cargo.toml), from seeds:
#   - examples/fuzz_seeds.rs: small valid files (every value type, every block type, BitNet,
#     a split shard) and the tiny synthetic models of bitgguf::synth (0.6-1.5 MB: libFuzzer
#     reads their first 128 KiB, -max_len, so their header and metadata are mutated);
#   - the malicious corpus of tests/common/malicious.rs (written by `cargo test --test malicious`
#     with BG_MALICIOUS_CORPUS_DIR), one file per case of reference/gguf-ggml.md §3.3.
# Any crash, panic, overflow, sanitizer report, timeout (20 s) or RSS over 3 GiB fails the run;
# the crashing input is kept in fuzz/artifacts/<target>/ and its log tail is printed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Environment:
#   BG_FUZZ_RUNS=N        run N executions per target instead of a fixed time (the long runs
#                         of docs/SECURITY.md use 10000000)
#   BG_FUZZ_PARALLEL=N    targets run at the same time (default: all five; on 2 cores each then
#                         gets 2/5 of a core for SECONDS_PER_TARGET of wall time)
#   BG_FUZZ_CORPUS=DIR    keep the corpora and logs in DIR (default: a temporary directory)
#   BG_FUZZ_NICE=N        nice level of the fuzzers (default 0; use 19 on a shared machine)
#   BG_FUZZ_TARGETS="A B" run only these targets (default: all five)
#
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on the stable toolchain, so
# no second toolchain is needed. Requires `cargo install cargo-fuzz --locked` (.ci/run does it).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
secs="${1:-60}"
runs="${BG_FUZZ_RUNS:-}"
targets=(parse ffi_load decode decode_scalar roundtrip)
if [[ -n "${BG_FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$BG_FUZZ_TARGETS"
fi
parallel="${BG_FUZZ_PARALLEL:-${#targets[@]}}"
nice_level="${BG_FUZZ_NICE:-0}"
corpus="${BG_FUZZ_CORPUS:-$(mktemp -d "${TMPDIR:-/tmp}/bitgguf-fuzz.XXXXXX")}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: cargo-fuzz is required: cargo install cargo-fuzz --locked --version 0.13.2" >&2
  exit 1
fi
t0=$SECONDS

# ---- seeds -----------------------------------------------------------------------------------
seeds="$corpus/seeds"
rm -rf "$seeds" "$corpus/malicious"
mkdir -p "$seeds"
cargo run -q --example fuzz_seeds -- "$seeds"
BG_MALICIOUS_CORPUS_DIR="$corpus/malicious" cargo test -q --test malicious every_case >"$corpus/malicious.log" 2>&1 || {
  tail -n 40 "$corpus/malicious.log" >&2
  echo "scripts/fuzz.sh: writing the malicious corpus failed" >&2
  exit 1
}
# Flatten (split cases are directories of shards).
while IFS= read -r f; do
  rel="${f#"$corpus/malicious/"}"
  cp "$f" "$seeds/mal_${rel//\//_}"
done < <(find "$corpus/malicious" -name '*.gguf')
echo "seeds: $(find "$seeds" -type f | wc -l) files ($(du -sh "$seeds" | cut -f1)) in $((SECONDS - t0))s"

# ---- build -----------------------------------------------------------------------------------
export RUSTC_BOOTSTRAP=1
t1=$SECONDS
echo "+ cargo +stable fuzz build -O (all targets)"
cargo +stable fuzz build -O >"$corpus/build.log" 2>&1 || {
  tail -n 60 "$corpus/build.log" >&2
  exit 1
}
echo "build: $((SECONDS - t1))s"
bin="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

# ---- run -------------------------------------------------------------------------------------
limit=(-max_total_time="$secs")
[[ -n "$runs" ]] && limit=(-runs="$runs")
run_one() { # run_one TARGET
  local t="$1"
  mkdir -p "$corpus/$t" "fuzz/artifacts/$t"
  local start=$SECONDS rc=0 scalar=0
  [[ "$t" == *_scalar ]] && scalar=1
  BG_FORCE_SCALAR=$scalar ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" nice -n "$nice_level" \
    "$bin/${t%_scalar}" "$corpus/$t" "$seeds" "${limit[@]}" -max_len=131072 -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$root/fuzz/artifacts/$t/" >"$corpus/$t.log" 2>&1 || rc=$?
  echo "$rc $((SECONDS - start))" >"$corpus/$t.rc"
}
t2=$SECONDS
pids=()
for t in "${targets[@]}"; do
  while [[ ${#pids[@]} -ge $parallel ]]; do
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  done
  if [[ -n "$runs" ]]; then echo "+ $t ($runs runs)"; else echo "+ $t ($secs s)"; fi
  run_one "$t" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done

failed=0
for t in "${targets[@]}"; do
  read -r rc took <"$corpus/$t.rc"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus/$t.log" | tail -n 1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$corpus/$t.log" | tail -n 1)"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9A-Za-z]+' "$corpus/$t.log" | tail -n 1)"
  printf '  [%s] exit %s, %ss, %s executions, %s exec/s, %s\n' "$t" "$rc" "$took" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}"
  if [[ "$rc" != 0 ]]; then
    failed=1
    echo "---- $t FAILED (exit $rc); last 60 lines of $corpus/$t.log:" >&2
    tail -n 60 "$corpus/$t.log" >&2
    echo "---- artifacts: $(ls "fuzz/artifacts/$t" 2>/dev/null | tr '\n' ' ')" >&2
  fi
done
echo "fuzzing: $((SECONDS - t2))s; total with seeds and build: $((SECONDS - t0))s; corpus and logs: $corpus"
if [[ $failed -ne 0 ]]; then
  echo "scripts/fuzz.sh: a fuzz target failed; reproduce with: $bin/<target> fuzz/artifacts/<target>/<file>" >&2
  exit 1
fi
