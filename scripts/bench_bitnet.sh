#!/usr/bin/env bash
# BitNet ternary codecs side by side with ggml, one thread, in one process: I2_S quantize
# (absmean / sign-max from f32, f16, bf16) vs ggml_quantize_chunk TQ2_0; I2_S / TL1 dequantize vs
# ggml's TQ2_0 to_float and TL2 vs TQ1_0 to_float (ggml has no I2_S/TL1/TL2 code: these are the
# upstream ternary types of the same bits per weight); our TQ1_0/TQ2_0 vs ggml's. Prints a
# Markdown table: type, op, ours Gelem/s, reference, reference Gelem/s, ratio.
# Steady state: every timed run (ours, ggml's, the streaming-store line) follows an untimed run of
# the same case, so no case pays for the dirty-line write-backs of the case before it (as
# `bitgguf bench`, src/bench.rs). Wrap it in `flock /tmp/bg-bench.lock` on a shared machine so two
# benches never overlap.
# See benches/bitnet.rs and docs/PERFORMANCE.md ("BitNet ternary codecs").
#
# Environment (all optional):
#   BG_GGML_LIB    path of libggml-base.so (default: found through $BG_PYTHON's libggml package)
#   BG_PYTHON      a Python with libggml-python (default: python3)
#   BG_M, BG_K     tensor shape (default 4096 x 4096 = 16 Mi elements)
#   BG_ROUNDS      timed rounds (default 7)
#   BG_SMALL=1     also run cache-resident shapes (256 x 256, 51 rounds; 1024 x 1024, 21 rounds):
#                  kernel speed
#   BG_ONLY        comma-separated rows to run: i2_s,tl1,tl2,tq1_0,tq2_0 (default: all)
#   BG_TL_STREAMING=on|off  streaming stores for TL1/TL2 (default: the library's choice, on for
#                  outputs >= 8 MiB)
#   BG_DST_OFFSET  the destination starts this many bytes past a 64-byte boundary (default:
#                  wherever malloc puts a plain Vec, 16 bytes past a page here)
#   BG_CRITERION=1 also run criterion on the I2_S kernels (1 Mi elements)
# Prints "SKIPPED: ..." (exit 0) when ggml is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export BG_PYTHON="${BG_PYTHON:-python3}"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), \
$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ); \
load average $(cut -d' ' -f1-3 /proc/loadavg)"
# One thread (the decoders split rows over rayon's pool: RAYON_NUM_THREADS=1 keeps them on one),
# then all threads for the 16 Mi shape.
RAYON_NUM_THREADS=1 cargo bench --bench bitnet
cargo bench --bench bitnet
if [[ "${BG_SMALL:-0}" == 1 ]]; then
    BG_M=256 BG_K=256 BG_ROUNDS=51 RAYON_NUM_THREADS=1 cargo bench --bench bitnet
    BG_M=1024 BG_K=1024 BG_ROUNDS=21 RAYON_NUM_THREADS=1 cargo bench --bench bitnet
fi
