#!/usr/bin/env bash
# GPU tests and measurements (issue 7). Two steps, because the GPU machine has no Rust toolchain:
#
#   bash scripts/bench_gpu.sh build [DEST]   (here) builds the GPU test binaries (tests/gpu*.rs)
#                                            and the bench (examples/bench_gpu.rs) in release
#                                            mode with the feature gpu, strips them and copies
#                                            them with this script into DEST (default .devbin/)
#   bash DEST/bench_gpu.sh run               (on the GPU machine) prints the card and where
#                                            libcuda / libnvrtc live, runs the GPU tests with
#                                            BG_REQUIRE_GPU=1 (a skip fails), the no-device
#                                            tests (also with BG_CUDA_DISABLE=1, which hides the
#                                            driver), then the bench, whose table comes last
#
# The bench synthesizes the bitnet-2b-4t I2_S model in $BG_BENCH_DIR (default /tmp) if absent.
# Kernels are compiled by NVRTC on first use and cached in $BG_KERNEL_CACHE_DIR (default
# ~/.cache/bitgguf/kernels): the tests run first, so the bench's load reports the disk cache.
set -euo pipefail

mode="${1:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "$mode" in
build)
  root="$(cd "$here/.." && pwd)"
  dest="${2:-$root/.devbin}"
  cd "$root"
  mkdir -p "$dest"
  rm -f "$dest"/gpu "$dest"/gpu_nodevice "$dest"/bench_gpu
  cargo build --release --features gpu --example bench_gpu
  cp target/release/examples/bench_gpu "$dest/bench_gpu"
  # The test binaries: cargo prints their paths as JSON artifacts.
  cargo test --release --features gpu --test gpu --test gpu_nodevice --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys, shutil
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        shutil.copy(m["executable"], sys.argv[1] + "/" + m["target"]["name"])
        print("copied", m["target"]["name"])
' "$dest"
  strip "$dest"/gpu "$dest"/gpu_nodevice "$dest"/bench_gpu
  cp "$here/bench_gpu.sh" "$dest/bench_gpu.sh"
  ls -la "$dest"
  du -sh "$dest"
  ;;
run)
  cd "$here"
  echo "==== machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.current,pcie.link.width.current --format=csv || true
  echo "libcuda: $(ldconfig -p | grep -m1 'libcuda.so.1' || echo 'not in ldconfig')"
  if ! ldconfig -p | grep -q 'libnvrtc.so'; then
    # NVRTC from the CUDA toolkit or the Python wheel (cudarc dlopens libnvrtc.so.13 / .so).
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
      $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, s, "lib") for p in nvidia.__path__ for s in os.listdir(p)))' 2>/dev/null); do
      if ls "$d"/libnvrtc.so* >/dev/null 2>&1; then
        export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        break
      fi
    done
  fi
  echo "libnvrtc: $(ldconfig -p | grep -m1 'libnvrtc.so' || ls ${LD_LIBRARY_PATH%%:*}/libnvrtc.so* 2>/dev/null | head -3 | tr '\n' ' ')"
  export BG_KERNEL_CACHE_DIR="${BG_KERNEL_CACHE_DIR:-$HOME/.cache/bitgguf/kernels}"
  rm -rf "$BG_KERNEL_CACHE_DIR"
  status=0
  echo "==== GPU tests (BG_REQUIRE_GPU=1)"
  BG_REQUIRE_GPU=1 ./gpu --test-threads=1 --nocapture || status=1
  echo "==== no-device tests with the driver present, then hidden (BG_CUDA_DISABLE=1)"
  ./gpu_nodevice --nocapture || status=1
  BG_CUDA_DISABLE=1 ./gpu_nodevice --nocapture || status=1
  BG_CUDA_DISABLE=1 ./gpu --nocapture 2>&1 | grep -c SKIPPED || status=1
  echo "==== bench"
  ./bench_gpu "${BG_BENCH_DIR:-/tmp}" || status=1
  echo "==== tests: $([[ $status == 0 ]] && echo passed || echo FAILED)"
  exit $status
  ;;
*)
  echo "usage: $0 build [DEST] | run" >&2
  exit 2
  ;;
esac
