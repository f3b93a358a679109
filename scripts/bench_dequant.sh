#!/usr/bin/env bash
# Dequantization benchmark, side by side in one process: ggml's to_float (libggml-base.so from
# the pip package libggml-python) versus bitgguf's scalar oracle, fast (SIMD) kernels on one
# thread and the default threaded decode_into, plus memcpy / store bandwidth of the same size.
# See benches/dequant_vs_ggml.rs and docs/PERFORMANCE.md.
#
# Environment (all optional):
#   BG_GGML_LIB    path of libggml-base.so (default: found through $BG_PYTHON's libggml package)
#   BG_PYTHON      a Python with libggml-python (default: /tmp/venv/bin/python if present, else python3)
#   BG_ELEMS       elements per type (default 33554432 = 32 Mi)
#   BG_ROUNDS      timed rounds per case (default 5)
#   BG_TYPES       comma-separated type names (default: all that ggml and bitgguf decode)
#   BG_OUTS        extra output types to time (default "f16,bf16"; "none" for f32 only)
#   BG_CRITERION=1 also run the criterion bench `dequant` (1 Mi elements, cache-resident)
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
if [[ "${BG_CRITERION:-0}" == 1 ]]; then
    cargo bench --bench dequant
fi
