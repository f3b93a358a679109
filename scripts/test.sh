#!/usr/bin/env bash
# THE test command of bitgguf (the README's second command; .ci/run runs it after installing
# what a fresh machine lacks). In order:
#   0. cargo fmt --check and cargo clippy -D warnings
#   1. cargo test --workspace
#  1b. the same with the feature crossval (cpp_ref/ compiled by build.rs): clippy -D warnings,
#      then cargo test, which cross-validates every tensor against the C++ reference
#   2. cargo builds in the other feature configurations (all features; gpu; crossval), the
#      feature gpu's clippy and no-GPU tests (tests/gpu_nodevice.rs, tests/gpu.rs skipping), and
#      cargo check --target aarch64-unknown-linux-gnu --lib (the NEON decoders compile)
#   3. scripts/check_header.sh: include/bitgguf.h is fresh and only declares bg_/BG_ names;
#      Doxygen runs without a warning on include/bitgguf.h and include/bitgguf.hpp
#   4. CMake configure + build + ctest (gcc, shared library), then install it and build a
#      downstream project against it with find_package (shared and static) and pkg-config; the
#      SONAME (readelf); an add_subdirectory consumer; the examples (Rust, C, C++) run and agree
#  4b. the C tests again against a library built with -DBITGGUF_CROSSVAL=ON (feature crossval;
#      its own CARGO_TARGET_DIR), which adds c_tests/crossval.c (bg_crossval_* from C)
#   5. the C tests again with clang -fsanitize=address,undefined against the static library
#      (first: c_tests/ffi_contract.c calls, and docs/API.md names, every function of the header)
#   6. the C tests again under valgrind --leak-check=full (shared library)
#   7. fuzzing: every cargo-fuzz target for a short fixed time (scripts/fuzz.sh; BG_FUZZ_SECONDS,
#      default 60 of wall time, the five fuzz jobs side by side); a crash fails
#
# Optional inputs (from the environment; .ci/run sets them):
#   BG_PYTHON      a Python with the packages gguf and numpy (oracle tests)
#   BG_GEMMA_PATH  the Gemma 3 270M Q4_K_M model (tests that need it skip, with a message,
#                  when it is missing; when BG_GEMMA_PATH names an existing file, the C Gemma
#                  test must run, not skip)
#   BG_GGML_LIB    libggml-base.so from libggml-python (oracle tests)
#   BG_REQUIRE_ORACLES=1  a test that would skip for want of an oracle fails instead
#   BG_BUILD_DIR   where the CMake build trees go (default: build/ in the repository)
#   BG_FUZZ_SECONDS  wall-clock seconds of step 7 (default 60)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${BG_BUILD_DIR:-$root/build}"
jobs="$(nproc 2>/dev/null || echo 2)"
cargo_target="$build/cargo" # CARGO_TARGET_DIR of the CMake library builds (shared by all three)
t_start=$SECONDS
t_section=$SECONDS
current=""
skipped_notes=()

section() {
  if [[ -n "$current" ]]; then
    printf '     (%s: %ds)\n' "$current" $((SECONDS - t_section))
  fi
  current="$1"
  t_section=$SECONDS
  printf '\n==============================================================================\n'
  printf '==== %s\n' "$1"
  printf '==============================================================================\n'
}

on_exit() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    printf '\n#### FAILED in section: %s (exit status %d, after %ds)\n' "${current:-setup}" "$rc" \
      $((SECONDS - t_start)) >&2
  fi
}
trap on_exit EXIT

need() { # need TOOL HINT
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "scripts/test.sh: '$1' is required but not installed ($2; .ci/run installs it)" >&2
    exit 1
  fi
}

# Run a command quietly; on failure show the end of its output.
logged() { # logged LOGFILE CMD...
  local log="$1"
  shift
  echo "+ $*"
  if ! "$@" >"$log" 2>&1; then
    echo "---- FAILED: $* (last 100 lines of $log) ----" >&2
    tail -n 100 "$log" >&2
    return 1
  fi
}

# Run ctest in a build tree; print the reasons of skipped tests; enforce the Gemma rule.
run_ctest() { # run_ctest BUILD_TREE LABEL [ENV=VALUE...]
  local tree="$1" label="$2"
  shift 2
  echo "+ (cd $tree && ctest --output-on-failure)"
  (cd "$tree" && env "$@" ctest --output-on-failure -j "$jobs" --timeout 900)
  local log="$tree/Testing/Temporary/LastTest.log"
  if [[ -f "$log" ]] && grep -q 'SKIPPED:' "$log"; then
    while IFS= read -r line; do
      echo "  [$label] $line"
      skipped_notes+=("[$label] $line")
    done < <(grep -h 'SKIPPED:' "$log" | sort -u)
    if [[ "${BG_REQUIRE_ORACLES:-}" == 1 ]]; then
      echo "scripts/test.sh: BG_REQUIRE_ORACLES=1, yet a C test was skipped" >&2
      return 1
    fi
    if [[ -n "${BG_GEMMA_PATH:-}" && -f "${BG_GEMMA_PATH}" ]]; then
      echo "scripts/test.sh: BG_GEMMA_PATH=$BG_GEMMA_PATH exists, yet a C test was skipped" >&2
      return 1
    fi
  fi
}

# ---------------------------------------------------------------------------------------------
section "environment"
need cargo "install Rust with rustup"
need cmake "apt-get install cmake"
need clang "apt-get install clang"
need valgrind "apt-get install valgrind"
need pkg-config "apt-get install pkg-config"
need python3 "apt-get install python3"
# cargo reads /dev/null as rustc's input when it probes the target; a regular file there makes
# that probe fail in confusing ways (.ci/run repairs it; see there).
[[ -c /dev/null ]] || { echo "scripts/test.sh: /dev/null is not a character device ($(stat -c %F /dev/null)); run .ci/run or recreate it: rm /dev/null; mknod -m 666 /dev/null c 1 3" >&2; exit 1; }
echo "repository:    $root"
echo "rustc:         $(rustc --version)"
echo "cmake:         $(cmake --version | head -n 1)"
echo "cc / clang:    $(cc --version | head -n 1) / $(clang --version | head -n 1)"
echo "valgrind:      $(valgrind --version)"
echo "cores:         $jobs"
echo "BG_REQUIRE_ORACLES: ${BG_REQUIRE_ORACLES:-(not set: missing oracles make tests skip)}"
for v in BG_PYTHON BG_GEMMA_PATH BG_GGML_LIB; do
  val="${!v:-}"
  if [[ -z "$val" ]]; then
    echo "$v: (not set: tests that need it will print SKIPPED)"
  elif [[ -e "$val" ]]; then
    echo "$v: $val"
  else
    echo "$v: $val (DOES NOT EXIST: tests that need it will print SKIPPED)"
  fi
done

# ---------------------------------------------------------------------------------------------
section "0. cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

# ---------------------------------------------------------------------------------------------
section "1. cargo test --workspace"
mkdir -p "$build"
cargo test --workspace 2>&1 | tee "$build/cargo-test.log"
while IFS= read -r line; do
  skipped_notes+=("[cargo test] $line")
done < <(grep -o 'SKIPPED:.*' "$build/cargo-test.log" | sort -u || true)

# The scalar paths alone (BG_FORCE_SCALAR=1 turns off every fast path: the SIMD decoders and
# the AVX2-compiled quantizers): the quantizers against real ggml, and the forced level is
# reported and used. (The scalar decoders are compared with ggml directly in dequant_ggml.)
echo "+ BG_FORCE_SCALAR=1 cargo test --test quantize_ggml; ... --test simd_vs_scalar forced_scalar"
BG_FORCE_SCALAR=1 cargo test --test quantize_ggml
BG_FORCE_SCALAR=1 cargo test --test simd_vs_scalar forced_scalar
# The TL1 / TL2 table decoders (the AVX2 block decoders' portable fallback) on every preset.
echo "+ BG_FORCE_SCALAR=1 cargo test --test bitnet_tl_simd"
BG_FORCE_SCALAR=1 cargo test --test bitnet_tl_simd

# ---------------------------------------------------------------------------------------------
section "1b. cargo clippy + cargo test --workspace --features crossval (cpp_ref)"
# cargo fmt (section 0) already covers these files: formatting does not depend on features.
need c++ "apt-get install g++"
cargo clippy --workspace --all-targets --features crossval -- -D warnings
cargo test --workspace --features crossval 2>&1 | tee "$build/cargo-test-crossval.log"
while IFS= read -r line; do
  skipped_notes+=("[cargo test --features crossval] $line")
done < <(grep -o 'SKIPPED:.*' "$build/cargo-test-crossval.log" | sort -u || true)

# ---------------------------------------------------------------------------------------------
section "2. cargo build: other feature configurations"
echo "+ cargo build --workspace --all-features"
cargo build --workspace --all-features
echo "+ cargo build --no-default-features --features gpu"
cargo build --no-default-features --features gpu
# The GPU backend without a GPU (CI has none): clippy over its code, then the no-device
# behaviour (no libcuda: count 0, NO_DEVICE, never an abort); tests/gpu.rs skips with a reason.
# scripts/bench_gpu.sh runs the GPU tests on a machine with a GPU.
echo "+ cargo clippy --all-targets --features gpu -- -D warnings"
cargo clippy --all-targets --features gpu -- -D warnings
echo "+ cargo test --features gpu --lib device::cuda"
cargo test --features gpu --lib device::cuda
echo "+ cargo test --features gpu --test gpu_nodevice --test gpu --test readme_types -- --nocapture"
cargo test --features gpu --test gpu_nodevice --test gpu --test readme_types -- --nocapture
echo "+ cargo test --no-default-features --features gpu --test gpu_nodevice"
cargo test --no-default-features --features gpu --test gpu_nodevice
echo "+ cargo build --features crossval"
cargo build --features crossval
# The NEON decoders (src/quant/simd/aarch64.rs) must at least compile (.ci/run installs the target).
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "+ cargo check --target aarch64-unknown-linux-gnu --lib"
  cargo check --target aarch64-unknown-linux-gnu --lib
else
  echo "SKIPPED: cargo check --target aarch64-unknown-linux-gnu: the target is not installed (rustup target add aarch64-unknown-linux-gnu)"
  skipped_notes+=("[aarch64] cargo check skipped: rustup target aarch64-unknown-linux-gnu not installed")
fi

# ---------------------------------------------------------------------------------------------
section "3. header: fresh and bg_-prefixed (scripts/check_header.sh), Doxygen without warnings"
bash scripts/check_header.sh
# Doxygen over the public headers (bitgguf.h, bitgguf.hpp): every declaration documented, no
# warning. PREDEFINED __cplusplus: bg_status is documented as the enum (C before C23 sees a
# uint32_t typedef of it, which cbindgen emits without a comment).
need doxygen "apt-get install doxygen"
dox="$(mktemp -d "${TMPDIR:-/tmp}/bitgguf-doxygen.XXXXXX")"
cat >"$dox/Doxyfile" <<EOF
PROJECT_NAME = bitgguf
INPUT = $root/include/bitgguf.h $root/include/bitgguf.hpp
OUTPUT_DIRECTORY = $dox/out
GENERATE_HTML = YES
GENERATE_LATEX = NO
HAVE_DOT = NO
QUIET = YES
WARNINGS = YES
WARN_IF_UNDOCUMENTED = YES
WARN_IF_DOC_ERROR = YES
WARN_LOGFILE = $dox/warnings.log
OPTIMIZE_OUTPUT_FOR_C = YES
ENABLE_PREPROCESSING = YES
PREDEFINED = __cplusplus
EOF
echo "+ doxygen (include/bitgguf.h, include/bitgguf.hpp; $(doxygen --version))"
(cd "$dox" && doxygen Doxyfile)
if [[ -s "$dox/warnings.log" ]]; then
  echo "doxygen warns about the public headers:" >&2
  cat "$dox/warnings.log" >&2
  rm -rf "$dox"
  exit 1
fi
rm -rf "$dox"
echo "doxygen: no warnings"

# ---------------------------------------------------------------------------------------------
section "4. CMake: build, ctest, install, find_package and pkg-config consumers"
logged "$build/main-configure.log" cmake -S . -B "$build/main" -DCMAKE_BUILD_TYPE=Debug \
  -DBITGGUF_CARGO_TARGET_DIR="$cargo_target"
logged "$build/main-build.log" cmake --build "$build/main" -j "$jobs"
run_ctest "$build/main" cmake

# The shared library exports exactly the functions the header declares (comments stripped by the
# preprocessor), and nothing else.
so="$cargo_target/release/libbitgguf.so"
if ! diff -u <(cc -E -P -x c include/bitgguf.h | grep -oE '\bbg_[a-z0-9_]+ *\(' | tr -d '( ' | sort -u) \
             <(nm -D --defined-only "$so" | awk '{print $3}' | sort -u); then
  echo "the exports of $so (+) differ from the functions in include/bitgguf.h (-)" >&2
  exit 1
fi
echo "exports of libbitgguf.so == functions of include/bitgguf.h ($(nm -D --defined-only "$so" | wc -l) symbols)"

prefix="$build/install"
rm -rf "$prefix"
logged "$build/install.log" cmake --install "$build/main" --prefix "$prefix"
# The three consumers (find_package, pkg-config, add_subdirectory) are built from a copy of
# c_tests/consumer{,_subdir} in a temporary directory outside the source tree, so they can only
# reach bitgguf the way a downstream project does (the install prefix, or BITGGUF_SOURCE_DIR).
cons="$(mktemp -d "${TMPDIR:-/tmp}/bitgguf-consumers.XXXXXX")"
cp -r c_tests/consumer c_tests/consumer_subdir "$cons/"
echo "+ consumers copied to $cons"
for mode in shared static; do
  flag=OFF
  [[ $mode == static ]] && flag=ON
  logged "$build/consumer-$mode.log" cmake -S "$cons/consumer" -B "$cons/build-$mode" \
    -DCMAKE_PREFIX_PATH="$prefix" -DBITGGUF_STATIC=$flag
  logged "$build/consumer-$mode-build.log" cmake --build "$cons/build-$mode"
  echo "+ consumer ($mode, find_package)"
  "$cons/build-$mode/consumer"
done
if ldd "$cons/build-static/consumer" | grep libbitgguf >/dev/null; then
  echo "the static consumer links libbitgguf.so dynamically" >&2
  exit 1
fi
pc_flags="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs bitgguf)"
pc_libdir="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --variable=libdir bitgguf)"
echo "+ cc consumer.c \$(pkg-config --cflags --libs bitgguf) = $pc_flags"
# shellcheck disable=SC2086
cc -std=c99 -Wall -Wextra -Werror "$cons/consumer/consumer.c" $pc_flags -Wl,-rpath,"$pc_libdir" \
  -o "$cons/consumer-pkgconfig"
"$cons/consumer-pkgconfig"

# SONAME: libbitgguf.so.<BG_ABI_VERSION> (build.rs), installed with its symlinks, and what the
# installed-library consumer records as needed.
abi="$(sed -n 's/^#define BG_ABI_VERSION \([0-9][0-9]*\)$/\1/p' include/bitgguf.h)"
soname="$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
echo "+ readelf -d $so: SONAME $soname (BG_ABI_VERSION $abi)"
if [[ -z "$abi" || "$soname" != "libbitgguf.so.$abi" ]]; then
  echo "$so has SONAME '$soname', expected libbitgguf.so.$abi" >&2
  exit 1
fi
if [[ "$(readlink "$prefix/lib/libbitgguf.so")" != "libbitgguf.so.$abi" ||
  ! -f "$prefix/lib/$(readlink "$prefix/lib/libbitgguf.so.$abi")" ]]; then
  echo "the install lacks libbitgguf.so -> libbitgguf.so.$abi -> libbitgguf.so.X.Y.Z" >&2
  ls -l "$prefix/lib" >&2
  exit 1
fi
if ! readelf -d "$cons/build-shared/consumer" | grep -q "NEEDED.*\[libbitgguf.so.$abi\]"; then
  echo "the shared consumer does not record libbitgguf.so.$abi as needed" >&2
  exit 1
fi

# add_subdirectory consumer (C and C++17 through bitgguf.hpp), configured in a temporary directory.
subdir="$(mktemp -d "${TMPDIR:-/tmp}/bitgguf-subdir.XXXXXX")"
logged "$build/consumer-subdir.log" cmake -S "$cons/consumer_subdir" -B "$subdir" \
  -DBITGGUF_SOURCE_DIR="$root" -DBITGGUF_CARGO_TARGET_DIR="$cargo_target"
logged "$build/consumer-subdir-build.log" cmake --build "$subdir" -j "$jobs"
echo "+ consumer, consumer_cpp (add_subdirectory)"
"$subdir/consumer"
"$subdir/consumer_cpp"
rm -rf "$subdir" "$cons"

# The examples: the Rust one (crate API) synthesizes the tiny BitNet model in I2_S and decodes a
# tensor; the C and C++ hosts (built above by CMake) load that file with a progress callback and
# must print the same statistics, bit for bit. With BG_GEMMA_PATH, the two hosts on Gemma's
# blk.0.attn_q.weight against gguf-py's dequantize (BG_PYTHON) as well.
ex_tensor=blk.0.attn_q.weight
ex_stats() { grep '^stats ' "$1" || { echo "no stats line in $1" >&2; return 1; }; }
echo "+ cargo run --example tiny_bitnet -- $build/tiny-i2s.gguf $ex_tensor"
cargo run -q --example tiny_bitnet -- "$build/tiny-i2s.gguf" "$ex_tensor" >"$build/example-rust.log"
for host in host host_cpp; do
  echo "+ examples/$host $build/tiny-i2s.gguf $ex_tensor"
  "$build/main/examples/$host" "$build/tiny-i2s.gguf" "$ex_tensor" >"$build/example-$host.log"
  if [[ "$(ex_stats "$build/example-$host.log")" != "$(ex_stats "$build/example-rust.log")" ]]; then
    echo "examples/$host and examples/tiny_bitnet.rs disagree:" >&2
    ex_stats "$build/example-$host.log" >&2
    ex_stats "$build/example-rust.log" >&2
    exit 1
  fi
done
echo "examples: C, C++ and Rust agree: $(ex_stats "$build/example-rust.log")"
rm -f "$build/tiny-i2s.gguf"
if [[ -n "${BG_GEMMA_PATH:-}" && -f "${BG_GEMMA_PATH}" ]]; then
  for host in host host_cpp; do
    echo "+ examples/$host \$BG_GEMMA_PATH $ex_tensor"
    "$build/main/examples/$host" "$BG_GEMMA_PATH" "$ex_tensor" >"$build/example-$host-gemma.log"
  done
  if [[ "$(ex_stats "$build/example-host-gemma.log")" != "$(ex_stats "$build/example-host_cpp-gemma.log")" ]]; then
    echo "examples/host and examples/host_cpp disagree on Gemma" >&2
    exit 1
  fi
  if [[ -n "${BG_PYTHON:-}" ]]; then
    ref="$("$BG_PYTHON" - "$BG_GEMMA_PATH" "$ex_tensor" <<'PY'
import struct, sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
t = next(t for t in GGUFReader(sys.argv[1]).tensors if t.name == sys.argv[2])
v = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1)
s = 0.0
for x in v.astype(np.float64).tolist():  # summed in index order, as the examples do
    s += x
def bits(f):
    return struct.unpack("<I", struct.pack("<f", f))[0]
print("stats name=%s type=%s n=%d min=%08x max=%08x mean=%016x" % (
    t.name, t.tensor_type.name.lower(), v.size, bits(v.min()), bits(v.max()),
    struct.unpack("<Q", struct.pack("<d", s / v.size))[0]))
PY
)"
    if [[ "$(ex_stats "$build/example-host-gemma.log")" != "$ref" ]]; then
      echo "examples/host on Gemma disagrees with gguf-py:" >&2
      ex_stats "$build/example-host-gemma.log" >&2
      echo "$ref" >&2
      exit 1
    fi
    echo "examples on Gemma agree with gguf-py: $ref"
  else
    echo "SKIPPED: examples vs gguf-py on Gemma: BG_PYTHON is not set"
    skipped_notes+=("[examples] gguf-py comparison skipped: BG_PYTHON not set")
  fi
else
  echo "SKIPPED: examples on Gemma: BG_GEMMA_PATH is not set"
  skipped_notes+=("[examples] Gemma run skipped: BG_GEMMA_PATH not set")
fi

# ---------------------------------------------------------------------------------------------
section "4b. CMake -DBITGGUF_CROSSVAL=ON: bg_crossval_* from C (c_tests/crossval.c)"
logged "$build/crossval-configure.log" cmake -S . -B "$build/crossval" -DCMAKE_BUILD_TYPE=Debug \
  -DBITGGUF_CROSSVAL=ON -DBITGGUF_CARGO_TARGET_DIR="$build/cargo-crossval"
logged "$build/crossval-build.log" cmake --build "$build/crossval" -j "$jobs"
if [[ ! -x "$build/crossval/c_tests/crossval" ]]; then
  echo "BITGGUF_CROSSVAL=ON did not build c_tests/crossval" >&2
  exit 1
fi
run_ctest "$build/crossval" crossval

# ---------------------------------------------------------------------------------------------
section "5. AddressSanitizer + UBSan (clang, static library)"
# c_tests/ffi_contract.c calls every function the header declares (NULL in each pointer argument),
# and docs/API.md names each (its "Functions by topic" table).
for f in $(cc -E -P -x c include/bitgguf.h | grep -oE '\bbg_[a-z0-9_]+ *\(' | tr -d '( ' | sort -u); do
  if ! grep -qw "$f" c_tests/ffi_contract.c; then
    echo "c_tests/ffi_contract.c does not call $f (every export needs its NULL/contract checks there)" >&2
    exit 1
  fi
  if ! grep -q "\`$f\`" docs/API.md; then
    echo "docs/API.md does not name $f (its 'Functions by topic' table lists every function of the header)" >&2
    exit 1
  fi
done
echo "c_tests/ffi_contract.c calls, and docs/API.md names, every function of include/bitgguf.h"
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
logged "$build/asan-configure.log" env CC=clang CXX=clang++ cmake -S . -B "$build/asan" \
  -DCMAKE_BUILD_TYPE=Debug -DBITGGUF_STATIC=ON -DBITGGUF_CARGO_TARGET_DIR="$cargo_target" \
  -DCMAKE_C_FLAGS="$san -O1" -DCMAKE_CXX_FLAGS="$san -O1" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
logged "$build/asan-build.log" cmake --build "$build/asan" -j "$jobs"
for t in header_c99 header_cxx synthetic gemma ffi_contract progress cxx_wrapper; do # the sanitizers are really linked in
  if ! nm "$build/asan/c_tests/$t" | grep '__asan_init' >/dev/null; then
    echo "$build/asan/c_tests/$t is not instrumented with ASan" >&2
    exit 1
  fi
  if ldd "$build/asan/c_tests/$t" | grep libbitgguf >/dev/null; then
    echo "$build/asan/c_tests/$t is not linked against the static library" >&2
    exit 1
  fi
done
echo "ASan instrumentation confirmed (nm: __asan_init); static library confirmed (ldd)"
run_ctest "$build/asan" asan \
  ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# ---------------------------------------------------------------------------------------------
section "6. valgrind --leak-check=full (gcc, shared library)"
logged "$build/valgrind-configure.log" cmake -S . -B "$build/valgrind" -DCMAKE_BUILD_TYPE=Debug \
  -DBITGGUF_CARGO_TARGET_DIR="$cargo_target" \
  "-DBITGGUF_TEST_WRAPPER=valgrind;--error-exitcode=1;--leak-check=full;--errors-for-leak-kinds=definite,indirect,possible;--show-leak-kinds=definite,indirect,possible;--track-origins=yes;--quiet;--suppressions=$root/c_tests/valgrind.supp"
logged "$build/valgrind-build.log" cmake --build "$build/valgrind" -j "$jobs"
run_ctest "$build/valgrind" valgrind

# ---------------------------------------------------------------------------------------------
section "7. fuzzing: every cargo-fuzz target for ${BG_FUZZ_SECONDS:-60}s (scripts/fuzz.sh)"
need cargo-fuzz "cargo install cargo-fuzz --locked --version 0.13.2"
BG_FUZZ_CORPUS="$build/fuzz" bash scripts/fuzz.sh "${BG_FUZZ_SECONDS:-60}"

# ---------------------------------------------------------------------------------------------
section "summary"
# No step may have replaced /dev/null (see the check at the top).
[[ -c /dev/null ]] || { echo "a step above replaced /dev/null with a $(stat -c %F /dev/null)" >&2; exit 1; }
if [[ ${#skipped_notes[@]} -gt 0 ]]; then
  echo "SKIPPED (not passed; each with its reason):"
  printf '  %s\n' "${skipped_notes[@]}"
  echo "ALL TESTS PASSED in $((SECONDS - t_start))s, except ${#skipped_notes[@]} SKIPPED (listed above)"
else
  echo "skipped: none"
  echo "ALL TESTS PASSED in $((SECONDS - t_start))s"
fi
current=""
