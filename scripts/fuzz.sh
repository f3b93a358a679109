#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a fixed time, from seed files written by
# examples/fuzz_seeds.rs, under AddressSanitizer. Any crash, panic or sanitizer report fails.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60; BG_FUZZ_CORPUS keeps the corpus)
#
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on the stable toolchain,
# so no second toolchain is needed. Requires `cargo install cargo-fuzz` (.ci/run does it).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
corpus="${BG_FUZZ_CORPUS:-$(mktemp -d "${TMPDIR:-/tmp}/bitgguf-fuzz.XXXXXX")}"
mkdir -p "$corpus/seeds"
cargo run -q --example fuzz_seeds -- "$corpus/seeds"
export RUSTC_BOOTSTRAP=1
for t in parse ffi_load decode roundtrip; do
  mkdir -p "$corpus/$t"
  echo "+ cargo fuzz run $t ($secs s)"
  log="$corpus/$t.log"
  if ! cargo +stable fuzz run "$t" "$corpus/$t" "$corpus/seeds" -- \
      -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "scripts/fuzz.sh: target $t failed (log: $log; artifacts in fuzz/artifacts/$t)" >&2
    exit 1
  fi
  grep -E '^Done|number_of_executed_units|new_units_added' "$log" | sed "s/^/  [$t] /"
done
