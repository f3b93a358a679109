#!/usr/bin/env bash
# Codec benchmarks, side by side in one process against the real ggml (libggml-base.so from the
# pip package libggml-python):
#  1. dequantization: ggml's to_float versus bitgguf's decode_into on one thread and on all
#     threads, with this machine's streaming-store write bandwidth (1 thread and all threads)
#     measured in the same rounds; prints the table (type, out type, ggml, ours, ratio, % of
#     bandwidth) and which floors of issue 3 are met (benches/dequant_vs_ggml.rs);
#  2. quantization: ggml_quantize_chunk (reference quantizers) versus quant::quantize, one
#     thread (benches/quantize_vs_ggml.rs).
# See docs/PERFORMANCE.md.
#
# Environment (all optional):
#   BG_GGML_LIB    path of libggml-base.so (default: found through $BG_PYTHON's libggml package)
#   BG_PYTHON      a Python with libggml-python (default: /tmp/venv/bin/python if present, else python3)
#   BG_ELEMS       elements per type (default 33554432 = 32 Mi)
#   BG_ROUNDS      timed rounds per case (default 5)
#   BG_TYPES       comma-separated type names (default: all that ggml and bitgguf decode)
#   BG_OUTS        output types to time (default "f32,f16,bf16")
#   BG_QELEMS      elements per type for quantization (default 4 Mi)
#   BG_SCALAR=1    also time our scalar decoders
#   BG_DST_OFFSET  outputs start this many bytes past a 64-byte boundary (default 0; 16 is
#                  where malloc puts large blocks)
#   BG_CRITERION=1 also run the criterion benches `dequant` and `quantize` (1 Mi elements)
# Prints "SKIPPED: ..." (exit 0) when ggml is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${BG_PYTHON:-}" ]]; then
    if [[ -x /tmp/venv/bin/python ]]; then BG_PYTHON=/tmp/venv/bin/python; else BG_PYTHON=python3; fi
fi
export BG_PYTHON

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), \
$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
cargo bench --bench dequant_vs_ggml
cargo bench --bench quantize_vs_ggml
if [[ "${BG_CRITERION:-0}" == 1 ]]; then
    cargo bench --bench dequant
    cargo bench --bench quantize
fi
