#!/usr/bin/env bash
# Miri (the Rust interpreter that detects undefined behaviour: out-of-bounds and misaligned
# accesses, use of uninitialized memory, invalid values, aliasing violations, leaks) on the code
# that does not touch mmap, FFI or SIMD:
#   1. the library's unit tests with BG_FORCE_SCALAR=1: every scalar codec (legacy, k-, i-quants,
#      ternary, fp4, BitNet I2_S/TL1/TL2 and transcoding), the type table, split keys, the
#      panic boundary;
#   2. tests/reject.rs: the GGUF parser from bytes (one test per reject status) and
#      Model::from_bytes, whose aligned owned copy is one of the crate's `unsafe` blocks.
# Nightly only; not part of CI (see docs/SECURITY.md for the time it takes). Miri interprets
# every instruction (~1000x slower), so the unit tests that push large random tensors or every
# f16 value through a codec are skipped (`--skip`, list below): the same code paths run on the
# small hand-checked vectors of the other tests. One test is skipped for another reason (below).
#
#   scripts/miri.sh [extra libtest args, e.g. a test-name filter]
#
# Installs the miri and rust-src components of the nightly toolchain when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "+ rustup component add miri rust-src --toolchain nightly"
  rustup component add miri rust-src --toolchain nightly
fi
cargo +nightly miri --version
export BG_FORCE_SCALAR=1
# Isolation stays on (no file system, no clock); only this variable is passed through.
# Tree Borrows: under Stacked Borrows, Miri reports crossbeam-epoch 0.9 (rayon's work-stealing
# deques) as soon as a test starts rayon's pool (`Local::element_of`, a known third-party
# pattern, not our code); our own code passed the first 55 library tests under Stacked Borrows
# too (docs/SECURITY.md).
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-tree-borrows -Zmiri-env-forward=BG_FORCE_SCALAR"
t0=$SECONDS
# block_scales_unify_or_fail compares the bit patterns of NaNs that arithmetic produced (0 * inf):
# Rust leaves the sign of such NaNs unspecified and Miri picks it at random, while every real
# CPU is deterministic; the test is not Miri-portable (no undefined behaviour involved).
heavy=(block_scales_unify_or_fail round_trips_random_tensors converter_oracle_digests presets_are_valid_for_their_shapes
  every_pair_of_formats_round_trips f16_round_trips_every_value quantize_matches_the_reference_quantizer
  absmean_definition chain_i2s_tq2_i2s_tl1_tl2_i2s_is_value_exact fast_scale_searches_match_the_oracles
  block_trits_and_absmax_match_the_serial_forms random_inputs_never_panic)
# Out of Miri's scope (DESIGN: the pure parser and scalar codecs): modules that map memory, touch
# the file system (isolation forbids it), time or dispatch to SIMD by design.
outside=(device:: load:: outfile:: bench:: i2s_fast:: tl_fast::)
skips=()
for h in "${heavy[@]}" "${outside[@]}"; do skips+=(--skip "$h"); done
echo "+ cargo +nightly miri test --lib -- ${skips[*]}"
cargo +nightly miri test --lib -- "${skips[@]}" "$@"
t1=$SECONDS
echo "+ cargo +nightly miri test --test reject"
cargo +nightly miri test --test reject -- "$@"
echo "miri: lib ${t1}s (with the build), reject $((SECONDS - t1))s, total $((SECONDS - t0))s"
