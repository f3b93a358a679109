//! AVX2 + F16C kernels. No FMA: every `a*b + c` is a multiply then an add, as in the scalar
//! oracles, so the results are the same bits.
//!
//! Each kernel is generic over a store mode `M` (output type in bits 0–1: f32, f16, bf16, or bf16
//! through AVX512-BF16; streaming in bit 2) and produces its values eight at a time as `__m256`,
//! handed to [`put`]. Loads are unaligned
//! and never read outside the blocks; stores are unaligned, or aligned non-temporal ones in the
//! streaming modes (32 bytes where the address is 32-byte aligned, else 16; the caller gives a
//! 16-byte-aligned destination), followed by an `sfence`.
//!
//! Every function here is `unsafe` with `#[target_feature(enable = "avx2,f16c")]`: callers must
//! have checked at run time that the CPU has AVX2 and F16C (`super::level()`), and pass
//! pointers valid for the block counts they give.

// The kernels are `unsafe fn`s whose bodies are nothing but raw-pointer loads and stores and
// intrinsics; the safety contract is the one above, per function (`// SAFETY:` on each kernel
// says what it reads and writes), so the bodies are not split into many `unsafe` blocks.
// (Raw-pointer loads and stores are `unsafe` operations.)
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

use super::nt::{stream16, stream32};
use super::{KernelFn, KernelSet, Stream2};
use crate::quant::fp4::{e8m0_to_f32_half, KVALUES_MXFP4, UE4M3_HALF};
use crate::quant::iquants::tables::{
    IQ1S_DELTA, IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, KSIGNS_IQ2XS, KVALUES_IQ4NL,
};
use crate::types::TypeId;

const OUT_F32: u8 = 0;
const OUT_F16: u8 = 1;
const OUT_BF16: u8 = 2;
/// bf16 through `vcvtneps2bf16` ([`bf16x8_native`]): only for kernels whose f32 values are never
/// subnormal (see [`kernels`]).
const OUT_BF16_NATIVE: u8 = 3;
const STREAM: u8 = 4;

/// Bytes per output element in mode `m`.
#[inline(always)]
const fn es(m: u8) -> usize {
    if m & 3 == OUT_F32 {
        4
    } else {
        2
    }
}

/// Eight f32 → eight bf16 as `float::f32_to_bf16`: NaN → `(bits >> 16) | 64`, otherwise
/// `(bits + 0x7fff + ((bits >> 16) & 1)) >> 16` (wrapping), packed into the low 128 bits.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn bf16x8(v: __m256) -> __m128i {
    let u = _mm256_castps_si256(v);
    // Unordered with itself ⇔ NaN ⇔ `(bits & 0x7fff_ffff) > 0x7f80_0000`.
    let is_nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
    let hi = _mm256_srli_epi32::<16>(u);
    let nan = _mm256_or_si256(hi, _mm256_set1_epi32(64));
    let lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)));
    let r = _mm256_blendv_epi8(rounded, nan, is_nan);
    // Every lane is 0..=0xffff, so unsigned saturation keeps it; then gather the two low
    // 64-bit halves of the 128-bit lanes.
    let p = _mm256_packus_epi32(r, r);
    _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b00_00_10_00>(p))
}

/// Eight f32 → eight bf16 with AVX512-BF16 + AVX512VL `vcvtneps2bf16` (one instruction instead
/// of [`bf16x8`]'s ten). For every input that is not subnormal it gives `float::f32_to_bf16`'s
/// bits — round to nearest even, NaN → `(bits >> 16) | 64`, infinities kept — and it flushes
/// subnormal inputs to a signed zero (it ignores MXCSR). So it serves only kernels that can
/// never produce a subnormal f32 (`kernels` says which); checked against the scalar rounding for
/// all 2^32 inputs by `tests/simd_vs_scalar.rs` (ignored test `bf16_native_exhaustive`).
///
/// Inline assembly, so that the crate builds on compilers without the AVX-512 target features;
/// the caller must have checked [`has_native_bf16`].
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn bf16x8_native(v: __m256) -> __m128i {
    let r: __m128i;
    std::arch::asm!(
        "vcvtneps2bf16 {r}, {v}",
        r = out(xmm_reg) r,
        v = in(ymm_reg) v,
        options(pure, nomem, nostack, preserves_flags)
    );
    r
}

/// Whether the CPU and OS support `vcvtneps2bf16` on 256-bit registers: AVX512VL (which includes
/// the OS's AVX-512 state check) and CPUID leaf 7 sub-leaf 1 EAX bit 5 (AVX512_BF16). Read from
/// CPUID directly (this predates the crate's move to Rust 1.89, whose
/// `is_x86_feature_detected!("avx512bf16")` would do the same).
pub(super) fn has_native_bf16() -> bool {
    if !(std::is_x86_feature_detected!("avx512vl") && std::is_x86_feature_detected!("avx512f")) {
        return false;
    }
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 7 exists because AVX-512 was detected
    // (it is reported there), and sub-leaf 1 is read only when leaf 7 says it exists. (The
    // intrinsic is safe on current compilers, unsafe on older ones.)
    #[allow(unused_unsafe)]
    unsafe {
        let leaf7 = __cpuid_count(7, 0);
        leaf7.eax >= 1 && __cpuid_count(7, 1).eax & (1 << 5) != 0
    }
}

/// Whether the CPU and OS support the AVX-512 kernels' instructions: AVX512F, BW, VL and DQ
/// (`is_x86_feature_detected!` includes the OS's AVX-512 state check).
pub(super) fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
}

/// Store eight values at `dst` in mode `m` (a constant after inlining).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn put_mode(m: u8, dst: *mut u8, v: __m256) {
    let nt = m & STREAM != 0;
    match m & 3 {
        OUT_F32 => {
            if nt && (dst as usize).is_multiple_of(32) {
                stream32(dst, v);
            } else if nt {
                // A 16-byte-aligned destination (malloc's large blocks start 16 bytes past a
                // page): two 16-byte streaming stores, which fill memory as fast as 32-byte ones
                // in steady state on the development machine (27.4–27.9 vs 27.6–28.1 GB/s).
                stream16(dst, _mm256_castps256_ps128(v));
                stream16(dst.add(16), _mm256_extractf128_ps::<1>(v));
            } else {
                _mm256_storeu_ps(dst.cast(), v);
            }
        }
        o => {
            let h = half8_of(o, v);
            if nt {
                stream16(dst, _mm_castsi128_ps(h));
            } else {
                _mm_storeu_si128(dst.cast(), h);
            }
        }
    }
}

#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn put<const M: u8>(dst: *mut u8, v: __m256) {
    put_mode(M, dst, v)
}

/// Eight values as 2-byte outputs of mode `m` (f16, bf16 or bf16 native), in the low 128 bits.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn half8_of(m: u8, v: __m256) -> __m128i {
    match m & 3 {
        OUT_F16 => {
            let mut h = _mm256_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT }>(v);
            // Keep the result in a register: otherwise LLVM folds the store that follows into
            // `vcvtps2ph` with a memory destination, which AMD Zen runs at a third of the speed
            // of the register form plus a store (0.82 vs 0.35 ns per eight on the development
            // machine's Zen 4).
            std::arch::asm!("/* {h} */", h = inout(xmm_reg) h, options(pure, nomem, nostack, preserves_flags));
            h
        }
        OUT_BF16_NATIVE => bf16x8_native(v),
        _ => bf16x8(v),
    }
}

/// Store sixteen consecutive values (`a` then `b`) at `dst`: for 2-byte outputs one 32-byte
/// store — streaming in the streaming modes when `dst` is 32-byte aligned, which is where
/// streaming pays for 2-byte outputs (two 16-byte halves written apart do not); for f32 as two
/// [`put`]s.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn put2<const M: u8>(dst: *mut u8, a: __m256, b: __m256) {
    if M & 3 == OUT_F32 {
        put::<M>(dst, a);
        put::<M>(dst.add(32), b);
        return;
    }
    store32::<M>(dst, _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(half8_of(M, a)), half8_of(M, b)));
}

/// 32 bytes of 2-byte outputs at `dst` in mode `M`: one streaming store where `dst` is 32-byte
/// aligned, two 16-byte ones otherwise (streaming modes; `dst` is at least 16-byte aligned
/// there), or one ordinary unaligned store.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn store32<const M: u8>(dst: *mut u8, v: __m256i) {
    if M & STREAM != 0 && (dst as usize).is_multiple_of(32) {
        stream32(dst, _mm256_castsi256_ps(v));
    } else if M & STREAM != 0 {
        stream16(dst, _mm_castsi128_ps(_mm256_castsi256_si128(v)));
        stream16(dst.add(16), _mm_castsi128_ps(_mm256_extracti128_si256::<1>(v)));
    } else {
        _mm256_storeu_si256(dst.cast(), v);
    }
}

/// Store the first `k` (< 8) of eight values at `dst`, with ordinary stores.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn put_partial<const M: u8>(dst: *mut u8, v: __m256, k: usize) {
    let mut tmp = [0u8; 32];
    put_mode(M & 3, tmp.as_mut_ptr(), v);
    std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, k * es(M));
}

/// Order the streaming stores before anything the caller does next.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn finish<const M: u8>() {
    if M & STREAM != 0 {
        _mm_sfence();
    }
}

/// The f16 at `p` (unaligned), as f32 in all eight lanes. A signalling NaN comes back quieted;
/// callers multiply it, which quiets it on the scalar path too. (Broadcasting the f16 first,
/// from a general register, avoids the false dependency a `vpinsrw` into a live register would
/// put between consecutive blocks.)
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn half8(p: *const u8) -> __m256 {
    let h = std::ptr::read_unaligned(p.cast::<u16>());
    _mm256_cvtph_ps(_mm_set1_epi16(h as i16))
}

/// [`half8`] as a scalar.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn half(p: *const u8) -> f32 {
    _mm256_cvtss_f32(half8(p))
}

/// The f16 at `p` (unaligned), as f32, bit-exact with `float::f16_to_f32` (NaN payloads and
/// the quiet bit kept): for values that are output without arithmetic.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn half_exact(p: *const u8) -> f32 {
    let h = std::ptr::read_unaligned(p.cast::<u16>());
    _mm256_cvtss_f32(f16x8(_mm_cvtsi32_si128(h as i32)))
}

/// Eight signed bytes (the low 8 of `x`) → f32.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn i8x8(x: __m128i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(x))
}

/// Eight unsigned bytes (the low 8 of `x`) → f32.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn u8x8(x: __m128i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x))
}

/// The high 8 bytes of `x` moved to the low 8.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn hi8(x: __m128i) -> __m128i {
    _mm_unpackhi_epi64(x, x)
}

#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn load16(p: *const u8) -> __m128i {
    _mm_loadu_si128(p.cast())
}

#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn load8(p: *const u8) -> __m128i {
    _mm_loadl_epi64(p.cast())
}

/// `d * x` for each of the sixteen signed bytes of `q`, stored as 16 outputs at `y`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn put16_i8_mul<const M: u8>(y: *mut u8, q: __m128i, d: __m256) {
    put2::<M>(y, _mm256_mul_ps(i8x8(q), d), _mm256_mul_ps(i8x8(hi8(q)), d));
}

/// `for $b in 0..$nb $body`, with a different order in the streaming modes: there the blocks
/// are split into four quarters and one block of each quarter is decoded in turn (`i`,
/// `i + q`, `i + 2q`, `i + 3q`), so the streaming stores go to four places in memory at once.
/// Every block is decoded on its own, so the results are the same. Measured on the
/// development machine (one thread, 128 MiB of f32, paired with the streaming fill): a q4_0
/// decode with four interleaved output streams wrote 0.98–1.05x the fill's bandwidth against
/// 0.76–0.82x in address order, for quarters 256 KiB, 2 MiB or 32 MiB apart; four streams beat
/// two (0.88–0.93x). Used by q8_0, q4_0, q4_1 and bf16 → f32. For q4_k and q5_k (1 KiB of f32
/// per block) taking turns per block measured slower (0.94 → 0.81x, 0.92 → 0.77x of the fill):
/// their kernels take turns every 64 elements instead (`k_q4_k`).
macro_rules! for_blocks {
    ($m:expr, $nb:expr, $b:ident => $body:block) => {{
        let nb: usize = $nb;
        if $m & STREAM != 0 && nb >= 16 {
            let q = nb / 4;
            for i in 0..q {
                {
                    let $b = i;
                    $body
                }
                {
                    let $b = i + q;
                    $body
                }
                {
                    let $b = i + 2 * q;
                    $body
                }
                {
                    let $b = i + 3 * q;
                    $body
                }
            }
            for $b in 4 * q..nb $body
        } else {
            for $b in 0..nb $body
        }
    }};
}

// ---------------------------------------------------------------------------------------------
// Float types (one element per "block")
// ---------------------------------------------------------------------------------------------

/// F32 → any output (the fast f32 → f16 / bf16 stores, and a streaming copy).
// SAFETY: caller contract (module doc): `src` valid for n * 4 bytes, `dst` for n * es(M) bytes;
// the vector loop touches elements i..i+8 <= n, the tail copies only the n - i left.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_f32<const M: u8>(src: *const u8, n: usize, dst: *mut u8) {
    let mut i = 0;
    while i + 16 <= n {
        let a = _mm256_loadu_ps(src.add(4 * i).cast());
        put2::<M>(dst.add(i * es(M)), a, _mm256_loadu_ps(src.add(4 * i + 32).cast()));
        i += 16;
    }
    if i + 8 <= n {
        put::<M>(dst.add(i * es(M)), _mm256_loadu_ps(src.add(4 * i).cast()));
        i += 8;
    }
    if i < n {
        let mut tmp = [0f32; 8];
        std::ptr::copy_nonoverlapping(src.add(4 * i), tmp.as_mut_ptr().cast::<u8>(), 4 * (n - i));
        put_partial::<M>(dst.add(i * es(M)), _mm256_loadu_ps(tmp.as_ptr()), n - i);
    }
    finish::<M>();
}

/// Eight f16 → f32, exactly as `float::f16_to_f32` (signalling NaNs keep their quiet bit clear).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn f16x8(h: __m128i) -> __m256 {
    let f = _mm256_castps_si256(_mm256_cvtph_ps(h));
    let h32 = _mm256_cvtepu16_epi32(h);
    let nan_exp = _mm256_cmpeq_epi32(_mm256_and_si256(h32, _mm256_set1_epi32(0x7e00)), _mm256_set1_epi32(0x7c00));
    let no_payload = _mm256_cmpeq_epi32(_mm256_and_si256(h32, _mm256_set1_epi32(0x1ff)), _mm256_setzero_si256());
    let snan = _mm256_andnot_si256(no_payload, nan_exp);
    let quiet_bit = _mm256_and_si256(snan, _mm256_set1_epi32(0x0040_0000));
    _mm256_castsi256_ps(_mm256_andnot_si256(quiet_bit, f))
}

/// A 16-bit float type to itself: what the decode-then-round path gives, which is the input
/// with NaNs quieted — `h | quiet` where `h & 0x7fff > inf` (f16: `0x7c00`, quiet bit `0x0200`,
/// as `vcvtps2ph` quiets; bf16: `0x7f80`, `0x0040`, as `float::f32_to_bf16`) and every other
/// value unchanged (the f32 in between holds it exactly). Sixteen at a time.
// SAFETY: caller contract (module doc): `src` valid for n * 2 bytes, `dst` for n * 2 bytes; the
// vector loop touches elements i..i+16 <= n, the tail only the n - i left.
#[target_feature(enable = "avx2,f16c")]
unsafe fn copy_quieting<const M: u8>(src: *const u8, n: usize, dst: *mut u8, inf: u16, quiet: u16) {
    let abs = _mm256_set1_epi16(0x7fff);
    let lim = _mm256_set1_epi16(inf as i16);
    let q = _mm256_set1_epi16(quiet as i16);
    let mut i = 0;
    while i + 16 <= n {
        let h = _mm256_loadu_si256(src.add(2 * i).cast());
        // `h & 0x7fff` is 0..=0x7fff, so the signed compare is the unsigned one.
        let nan = _mm256_cmpgt_epi16(_mm256_and_si256(h, abs), lim);
        let r = _mm256_or_si256(h, _mm256_and_si256(nan, q));
        store32::<M>(dst.add(2 * i), r);
        i += 16;
    }
    while i < n {
        let h = std::ptr::read_unaligned(src.add(2 * i).cast::<u16>());
        let r = if h & 0x7fff > inf { h | quiet } else { h };
        std::ptr::write_unaligned(dst.add(2 * i).cast::<u16>(), r);
        i += 1;
    }
    finish::<M>();
}

// SAFETY: caller contract (module doc): `src` valid for n * 2 bytes, `dst` for n * es(M) bytes;
// the vector loop touches elements i..i+8 <= n, the tail copies only the n - i left.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_f16<const M: u8>(src: *const u8, n: usize, dst: *mut u8) {
    if M & 3 == OUT_F16 {
        return copy_quieting::<M>(src, n, dst, 0x7c00, 0x0200);
    }
    let mut i = 0;
    while i + 16 <= n {
        put2::<M>(dst.add(i * es(M)), f16x8(load16(src.add(2 * i))), f16x8(load16(src.add(2 * i + 16))));
        i += 16;
    }
    if i + 8 <= n {
        put::<M>(dst.add(i * es(M)), f16x8(load16(src.add(2 * i))));
        i += 8;
    }
    if i < n {
        let mut tmp = [0u8; 16];
        std::ptr::copy_nonoverlapping(src.add(2 * i), tmp.as_mut_ptr(), 2 * (n - i));
        put_partial::<M>(dst.add(i * es(M)), f16x8(load16(tmp.as_ptr())), n - i);
    }
    finish::<M>();
}

/// F16 → bf16 (all modes are bf16 ones): `vcvtph2ps` then the bf16 rounding of the mode. The
/// f32 of an f16 is exact; `vcvtph2ps` quiets a signalling NaN (sets f32 bit 22) where
/// `float::f16_to_f32` keeps it, but the bf16 rounding sets that bit anyway (NaN →
/// `(bits >> 16) | 64`, and f32 bit 22 is bf16 bit 6), so the result is
/// `f32_to_bf16(f16_to_f32(h))` for every `h` without [`f16x8`]'s fix-up. No f16 is an f32
/// subnormal, so the native rounding serves. (Checked on all 65,536 inputs by
/// `tests/simd_vs_scalar.rs`.)
// SAFETY: caller contract (module doc): `src` valid for n * 2 bytes, `dst` for n * 2 bytes; the
// vector loop touches elements i..i+16 <= n, the tail copies only the n - i left.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_f16_to_bf16<const M: u8>(src: *const u8, n: usize, dst: *mut u8) {
    debug_assert!(M & 3 == OUT_BF16 || M & 3 == OUT_BF16_NATIVE, "a bf16 mode");
    let mut i = 0;
    while i + 16 <= n {
        let a = _mm256_cvtph_ps(load16(src.add(2 * i)));
        put2::<M>(dst.add(2 * i), a, _mm256_cvtph_ps(load16(src.add(2 * i + 16))));
        i += 16;
    }
    if i + 8 <= n {
        put::<M>(dst.add(2 * i), _mm256_cvtph_ps(load16(src.add(2 * i))));
        i += 8;
    }
    if i < n {
        let mut tmp = [0u8; 16];
        std::ptr::copy_nonoverlapping(src.add(2 * i), tmp.as_mut_ptr(), 2 * (n - i));
        put_partial::<M>(dst.add(2 * i), _mm256_cvtph_ps(load16(tmp.as_ptr())), n - i);
    }
    finish::<M>();
}

#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn bf16x8_to_f32(h: __m128i) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
}

// SAFETY: caller contract (module doc): `src` valid for n * 2 bytes, `dst` for n * es(M) bytes;
// the vector loop touches elements i..i+8 <= n, the tail copies only the n - i left.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_bf16<const M: u8>(src: *const u8, n: usize, dst: *mut u8) {
    if M & 3 == OUT_BF16 || M & 3 == OUT_BF16_NATIVE {
        return copy_quieting::<M>(src, n, dst, 0x7f80, 0x0040);
    }
    // Four streams only for f32 out: a turn is 16 values, a whole 64-byte line of f32 but half a
    // line of 2-byte outputs, and four streams of half lines ran BF16 -> f16 at 19-24% of the
    // one-thread line (2.6 Gelem/s, 17:52-17:56); one address-order stream for those.
    for_blocks!(if M & 3 == OUT_F32 { M } else { 0 }, n / 16, g => {
        let i = 16 * g;
        let a = bf16x8_to_f32(load16(src.add(2 * i)));
        put2::<M>(dst.add(i * es(M)), a, bf16x8_to_f32(load16(src.add(2 * i + 16))));
    });
    let mut i = n / 16 * 16;
    if i + 8 <= n {
        put::<M>(dst.add(i * es(M)), bf16x8_to_f32(load16(src.add(2 * i))));
        i += 8;
    }
    if i < n {
        let mut tmp = [0u8; 16];
        std::ptr::copy_nonoverlapping(src.add(2 * i), tmp.as_mut_ptr(), 2 * (n - i));
        put_partial::<M>(dst.add(i * es(M)), bf16x8_to_f32(load16(tmp.as_ptr())), n - i);
    }
    finish::<M>();
}

// ---------------------------------------------------------------------------------------------
// Legacy 32-element blocks
// ---------------------------------------------------------------------------------------------

/// Q8_0 (34 bytes): `q * d`.
// SAFETY: caller contract (module doc): `src` valid for nb * 34 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q8_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    for_blocks!(M, nb, b => {
        let x = src.add(34 * b);
        let y = dst.add(32 * es(M) * b);
        let d = half8(x);
        for k in 0..2 {
            put16_i8_mul::<M>(y.add(16 * k * es(M)), load16(x.add(2 + 16 * k)), d);
        }
    });
    finish::<M>();
}

/// Q4_0 (18 bytes): `(nibble - 8) * d`, low nibbles first.
// SAFETY: caller contract (module doc): `src` valid for nb * 18 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q4_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let m4 = _mm_set1_epi8(0x0f);
    let e8 = _mm_set1_epi8(8);
    for_blocks!(M, nb, b => {
        let x = src.add(18 * b);
        let y = dst.add(32 * es(M) * b);
        let d = half8(x);
        let q = load16(x.add(2));
        let lo = _mm_sub_epi8(_mm_and_si128(q, m4), e8);
        let hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16::<4>(q), m4), e8);
        put16_i8_mul::<M>(y, lo, d);
        put16_i8_mul::<M>(y.add(16 * es(M)), hi, d);
    });
    finish::<M>();
}

/// Q4_1 (20 bytes): `nibble * d + m`.
// SAFETY: caller contract (module doc): `src` valid for nb * 20 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q4_1<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let m4 = _mm_set1_epi8(0x0f);
    for_blocks!(M, nb, b => {
        let x = src.add(20 * b);
        let y = dst.add(32 * es(M) * b);
        let d = half8(x);
        let m = half8(x.add(2));
        let q = load16(x.add(4));
        let lo = _mm_and_si128(q, m4);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), m4);
        for (k, v) in [lo, hi].into_iter().enumerate() {
            let a = _mm256_add_ps(_mm256_mul_ps(u8x8(v), d), m);
            put2::<M>(y.add(16 * k * es(M)), a, _mm256_add_ps(_mm256_mul_ps(u8x8(hi8(v)), d), m));
        }
    });
    finish::<M>();
}

/// The five-bit values of a Q5 block as 32 bytes, element j in byte j: the nibbles of
/// `qs[16]` (low nibbles are elements 0..16, high nibbles 16..32) with bit 4 from bit j of
/// `qh`. The `qh` bits become bytes as in ggml's `bytes_from_bits_32`: byte j of the broadcast
/// word picked by `vpshufb`, every bit but bit `j % 8` set, compared with all-ones.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q5_bytes(qs: *const u8, qh: u32) -> __m256i {
    let m4 = _mm_set1_epi8(0x0f);
    let q = load16(qs);
    let nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16::<4>(q), m4), _mm_and_si128(q, m4));
    let pick = _mm256_setr_epi64x(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303);
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(qh as i32), pick);
    let all_but = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
    let set = _mm256_cmpeq_epi8(_mm256_or_si256(bytes, all_but), _mm256_set1_epi8(-1));
    _mm256_or_si256(nib, _mm256_and_si256(set, _mm256_set1_epi8(0x10)))
}

/// The four groups of eight bytes of `v` (elements `8g..8g+8`) as f32, sign-extended
/// (`SIGNED`) or zero-extended.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn bytes32_f32<const SIGNED: bool>(v: __m256i) -> [__m256; 4] {
    let lo = _mm256_castsi256_si128(v);
    let hi = _mm256_extracti128_si256::<1>(v);
    if SIGNED {
        [i8x8(lo), i8x8(hi8(lo)), i8x8(hi), i8x8(hi8(hi))]
    } else {
        [u8x8(lo), u8x8(hi8(lo)), u8x8(hi), u8x8(hi8(hi))]
    }
}

/// Q5_0 (22 bytes): `(q5 - 16) * d`.
// SAFETY: caller contract (module doc): `src` valid for nb * 22 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q5_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let s16 = _mm256_set1_epi8(16);
    for b in 0..nb {
        let x = src.add(22 * b);
        let y = dst.add(32 * es(M) * b);
        let d = half8(x);
        let qh = std::ptr::read_unaligned(x.add(2).cast::<u32>());
        // q5 - 16 is -16..=15: exact as a signed byte.
        let q = bytes32_f32::<true>(_mm256_sub_epi8(q5_bytes(x.add(6), qh), s16));
        let v = [_mm256_mul_ps(q[0], d), _mm256_mul_ps(q[1], d), _mm256_mul_ps(q[2], d), _mm256_mul_ps(q[3], d)];
        put2::<M>(y, v[0], v[1]);
        put2::<M>(y.add(16 * es(M)), v[2], v[3]);
    }
    finish::<M>();
}

/// Q5_1 (24 bytes): `q5 * d + m`.
// SAFETY: caller contract (module doc): `src` valid for nb * 24 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q5_1<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    for b in 0..nb {
        let x = src.add(24 * b);
        let y = dst.add(32 * es(M) * b);
        let d = half8(x);
        let m = half8(x.add(2));
        let qh = std::ptr::read_unaligned(x.add(4).cast::<u32>());
        let q = bytes32_f32::<false>(q5_bytes(x.add(8), qh));
        let mut v = q;
        for v in v.iter_mut() {
            *v = _mm256_add_ps(_mm256_mul_ps(*v, d), m);
        }
        put2::<M>(y, v[0], v[1]);
        put2::<M>(y.add(16 * es(M)), v[2], v[3]);
    }
    finish::<M>();
}

// ---------------------------------------------------------------------------------------------
// K-quants, 256-element super-blocks
// ---------------------------------------------------------------------------------------------

/// Sixteen unsigned bytes `q` → sixteen outputs `dl * q - ml` at `y`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn put16_affine<const M: u8>(y: *mut u8, q: __m128i, dl: __m256, ml: __m256) {
    let a = _mm256_sub_ps(_mm256_mul_ps(dl, u8x8(q)), ml);
    put2::<M>(y, a, _mm256_sub_ps(_mm256_mul_ps(dl, u8x8(hi8(q))), ml));
}

/// Q2_K (84 bytes): scales[16]@0, qs[64]@16, d@80, dmin@82; `(d*sc)*q - dmin*m`.
// SAFETY: caller contract (module doc): `src` valid for nb * 84 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q2_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let m3 = _mm_set1_epi8(3);
    let m4 = _mm_set1_epi8(0x0f);
    let mut dl = [0f32; 16];
    let mut ml = [0f32; 16];
    for b in 0..nb {
        let x = src.add(84 * b);
        let y = dst.add(256 * es(M) * b);
        // The 16 products d*(sc & 15) and dmin*(sc >> 4), each one f32 multiply as in ggml.
        let sc = load16(x);
        let d = half8(x.add(80));
        let dmin = half8(x.add(82));
        let lo = _mm_and_si128(sc, m4);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(sc), m4);
        _mm256_storeu_ps(dl.as_mut_ptr(), _mm256_mul_ps(d, u8x8(lo)));
        _mm256_storeu_ps(dl.as_mut_ptr().add(8), _mm256_mul_ps(d, u8x8(hi8(lo))));
        _mm256_storeu_ps(ml.as_mut_ptr(), _mm256_mul_ps(dmin, u8x8(hi)));
        _mm256_storeu_ps(ml.as_mut_ptr().add(8), _mm256_mul_ps(dmin, u8x8(hi8(hi))));
        // Outputs in address order (streaming stores fill whole lines).
        for h in 0..2 {
            let q = [load16(x.add(16 + 32 * h)), load16(x.add(32 + 32 * h))];
            for j in 0..4 {
                let shift = _mm_cvtsi32_si128(2 * j as i32);
                for (p, &q) in q.iter().enumerate() {
                    let i = 8 * h + 2 * j + p;
                    let v = _mm_and_si128(_mm_srl_epi16(q, shift), m3);
                    let (dl, ml) = (_mm256_broadcast_ss(&dl[i]), _mm256_broadcast_ss(&ml[i]));
                    put16_affine::<M>(y.add((128 * h + 32 * j + 16 * p) * es(M)), v, dl, ml);
                }
            }
        }
    }
    finish::<M>();
}

/// The sixteen Q3_K scales minus 32, as signed bytes, from `scales[12]` at `s` (ggml's
/// `kmask1` / `kmask2` unpacking: low 4 bits from byte `j` or the high nibble of byte `j - 8`,
/// high 2 bits from bits `2*(j/4)` of byte `8 + j%4`).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q3_k_scales(s: *const u8) -> __m128i {
    let a0 = std::ptr::read_unaligned(s.cast::<u32>());
    let a1 = std::ptr::read_unaligned(s.add(4).cast::<u32>());
    let t = std::ptr::read_unaligned(s.add(8).cast::<u32>());
    const K1: u32 = 0x0303_0303;
    const K2: u32 = 0x0f0f_0f0f;
    let w0 = (a0 & K2) | ((t & K1) << 4);
    let w1 = (a1 & K2) | (((t >> 2) & K1) << 4);
    let w2 = ((a0 >> 4) & K2) | (((t >> 4) & K1) << 4);
    let w3 = ((a1 >> 4) & K2) | (((t >> 6) & K1) << 4);
    _mm_sub_epi8(_mm_setr_epi32(w0 as i32, w1 as i32, w2 as i32, w3 as i32), _mm_set1_epi8(32))
}

/// Q3_K (110 bytes): hmask[32]@0, qs[64]@32, scales[12]@96, d@108;
/// `(d*(sc-32)) * (q2 - (hbit ? 0 : 4))`.
// SAFETY: caller contract (module doc): `src` valid for nb * 110 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q3_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let m3 = _mm_set1_epi8(3);
    let four = _mm_set1_epi8(4);
    let zero = _mm_setzero_si128();
    let mut dl = [0f32; 16];
    for b in 0..nb {
        let x = src.add(110 * b);
        let y = dst.add(256 * es(M) * b);
        let sc = q3_k_scales(x.add(96));
        let d = half8(x.add(108));
        _mm256_storeu_ps(dl.as_mut_ptr(), _mm256_mul_ps(d, i8x8(sc)));
        _mm256_storeu_ps(dl.as_mut_ptr().add(8), _mm256_mul_ps(d, i8x8(hi8(sc))));
        let hm = [load16(x), load16(x.add(16))];
        for h in 0..2 {
            let q = [load16(x.add(32 + 32 * h)), load16(x.add(48 + 32 * h))];
            for j in 0..4 {
                let bit = _mm_set1_epi8((1u8 << (4 * h + j)) as i8);
                let shift = _mm_cvtsi32_si128(2 * j as i32);
                for p in 0..2 {
                    let dl = _mm256_broadcast_ss(&dl[8 * h + 2 * j + p]);
                    let low = _mm_and_si128(_mm_srl_epi16(q[p], shift), m3);
                    let clear = _mm_cmpeq_epi8(_mm_and_si128(hm[p], bit), zero);
                    let v = _mm_sub_epi8(low, _mm_and_si128(clear, four));
                    put16_i8_mul::<M>(y.add((128 * h + 32 * j + 16 * p) * es(M)), v, dl);
                }
            }
        }
    }
    finish::<M>();
}

/// The eight (d*sc, dmin*m) pairs of a Q4_K / Q5_K block (d@0, dmin@2, scales[12]@4) into
/// `dl` / `ml`, each one f32 multiply as in ggml. The 6-bit scales and mins are unpacked with
/// ggml's `kmask` word trick, equal to `get_scale_min_k4(j)` for every `j`: scale bytes 0..8
/// then min bytes 0..8.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn k4_scales(x: *const u8, dl: &mut [f32; 8], ml: &mut [f32; 8]) {
    const K1: u32 = 0x3f3f_3f3f;
    const K2: u32 = 0x0f0f_0f0f;
    const K3: u32 = 0x0303_0303;
    let u0 = std::ptr::read_unaligned(x.add(4).cast::<u32>());
    let u1 = std::ptr::read_unaligned(x.add(8).cast::<u32>());
    let u2 = std::ptr::read_unaligned(x.add(12).cast::<u32>());
    let sc = [u0 & K1, (u2 & K2) | (((u0 >> 6) & K3) << 4)];
    let m = [u1 & K1, ((u2 >> 4) & K2) | (((u1 >> 6) & K3) << 4)];
    let v = _mm_setr_epi32(sc[0] as i32, sc[1] as i32, m[0] as i32, m[1] as i32);
    _mm256_storeu_ps(dl.as_mut_ptr(), _mm256_mul_ps(half8(x), u8x8(v)));
    _mm256_storeu_ps(ml.as_mut_ptr(), _mm256_mul_ps(half8(x.add(2)), u8x8(hi8(v))));
}

/// The block loop of Q4_K and Q5_K (`$tsize`-byte blocks of 256 elements, the scales from
/// [`k4_scales`], each 64-element quarter written by `$part`). In the streaming modes: four
/// output streams (see `for_blocks!`), taking turns every 64 elements rather than every block
/// (per-block turns measured slower for these two).
macro_rules! k4_blocks {
    ($m:ident, $src:expr, $nb:expr, $dst:expr, $tsize:expr, $part:ident) => {{
        let (src, nb, dst): (*const u8, usize, *mut u8) = ($src, $nb, $dst);
        let mut first = 0;
        if $m & STREAM != 0 && nb >= 16 {
            let q = nb / 4;
            let mut dl = [[0f32; 8]; 4];
            let mut ml = [[0f32; 8]; 4];
            for i in 0..q {
                for k in 0..4 {
                    k4_scales(src.add($tsize * (i + k * q)), &mut dl[k], &mut ml[k]);
                }
                for c in 0..4 {
                    for k in 0..4 {
                        let b = i + k * q;
                        $part::<$m>(src.add($tsize * b), dst.add(256 * es($m) * b), c, &dl[k], &ml[k]);
                    }
                }
            }
            first = 4 * q;
        }
        let (mut dl, mut ml) = ([0f32; 8], [0f32; 8]);
        for b in first..nb {
            let x = src.add($tsize * b);
            let y = dst.add(256 * es($m) * b);
            k4_scales(x, &mut dl, &mut ml);
            for c in 0..4 {
                $part::<$m>(x, y, c, &dl, &ml);
            }
        }
        finish::<$m>();
    }};
}

/// Q4_K (144 bytes): d@0, dmin@2, scales[12]@4, qs[128]@16.
// SAFETY: caller contract (module doc): `src` valid for nb * 144 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q4_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    k4_blocks!(M, src, nb, dst, 144, q4_k_part);
}

/// Elements 64c..64c+64 of the Q4_K block at `x` into `y` (the block's output), with the
/// block's [`k4_scales`].
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q4_k_part<const M: u8>(x: *const u8, y: *mut u8, c: usize, dl: &[f32; 8], ml: &[f32; 8]) {
    let m4 = _mm_set1_epi8(0x0f);
    let (d1, m1) = (_mm256_broadcast_ss(&dl[2 * c]), _mm256_broadcast_ss(&ml[2 * c]));
    let (d2, m2) = (_mm256_broadcast_ss(&dl[2 * c + 1]), _mm256_broadcast_ss(&ml[2 * c + 1]));
    let q = [load16(x.add(16 + 32 * c)), load16(x.add(32 + 32 * c))];
    // Outputs in address order: low nibbles of both halves, then high nibbles.
    for (half_, &q) in q.iter().enumerate() {
        put16_affine::<M>(y.add((64 * c + 16 * half_) * es(M)), _mm_and_si128(q, m4), d1, m1);
    }
    for (half_, &q) in q.iter().enumerate() {
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), m4);
        put16_affine::<M>(y.add((64 * c + 32 + 16 * half_) * es(M)), hi, d2, m2);
    }
}

/// Q5_K (176 bytes): d@0, dmin@2, scales[12]@4, qh[32]@16, qs[128]@48.
// SAFETY: caller contract (module doc): `src` valid for nb * 176 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q5_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    k4_blocks!(M, src, nb, dst, 176, q5_k_part);
}

/// Elements 64c..64c+64 of the Q5_K block at `x` into `y` (the block's output), with the
/// block's [`k4_scales`].
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q5_k_part<const M: u8>(x: *const u8, y: *mut u8, c: usize, dl: &[f32; 8], ml: &[f32; 8]) {
    let (d1, m1) = (_mm256_broadcast_ss(&dl[2 * c]), _mm256_broadcast_ss(&ml[2 * c]));
    let (d2, m2) = (_mm256_broadcast_ss(&dl[2 * c + 1]), _mm256_broadcast_ss(&ml[2 * c + 1]));
    let (lo, hi) = q5_k_values(x, c);
    // Outputs in address order: the 32 low-nibble values, then the 32 high.
    let y = y.add(64 * c * es(M));
    put16_affine::<M>(y, _mm256_castsi256_si128(lo), d1, m1);
    put16_affine::<M>(y.add(16 * es(M)), _mm256_extracti128_si256::<1>(lo), d1, m1);
    put16_affine::<M>(y.add(32 * es(M)), _mm256_castsi256_si128(hi), d2, m2);
    put16_affine::<M>(y.add(48 * es(M)), _mm256_extracti128_si256::<1>(hi), d2, m2);
}

/// The 5-bit values (0..32) of elements 64c..64c+64 of the Q5_K block at `x`, one per byte:
/// those of elements 64c.. (the low nibbles, scale pair 2c), then 64c+32.. (the high nibbles,
/// pair 2c + 1).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q5_k_values(x: *const u8, c: usize) -> (__m256i, __m256i) {
    let m4 = _mm256_set1_epi8(0x0f);
    let b4 = _mm256_set1_epi8(0x10);
    let qh = _mm256_loadu_si256(x.add(16).cast());
    // Bits 2c and 2c + 1 of every qh byte, moved to bit 4 (the fifth bit of the low /
    // high nibbles' values); 16-bit shifts, the masks drop what crosses bytes.
    let h = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c as i32));
    let q = _mm256_loadu_si256(x.add(48 + 32 * c).cast());
    let lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_slli_epi16::<4>(h), b4));
    let hi = _mm256_or_si256(
        _mm256_and_si256(_mm256_srli_epi16::<4>(q), m4),
        _mm256_and_si256(_mm256_slli_epi16::<3>(h), b4),
    );
    (lo, hi)
}

/// Q6_K (210 bytes): ql[128]@0, qh[64]@128, scales:i8[16]@192, d@208; `(d*sc) * (q6 - 32)`.
// SAFETY: caller contract (module doc): `src` valid for nb * 210 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q6_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let mut dsc = [0f32; 16];
    for b in 0..nb {
        let x = src.add(210 * b);
        let y = dst.add(256 * es(M) * b);
        q6_k_scales(x, &mut dsc);
        for h in 0..2 {
            let qs = q6_k_values(x, h);
            // Outputs in address order (streaming stores fill whole lines).
            for k in 0..4 {
                for (hf, qs) in qs.iter().enumerate() {
                    let dl = _mm256_broadcast_ss(&dsc[8 * h + hf + 2 * k]);
                    put16_i8_mul::<M>(y.add((128 * h + 32 * k + 16 * hf) * es(M)), qs[k], dl);
                }
            }
        }
    }
    finish::<M>();
}

/// The 16 products d*scale of the Q6_K block at `x`, one f32 multiply each as in ggml.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q6_k_scales(x: *const u8, dsc: &mut [f32; 16]) {
    let d = half8(x.add(208));
    let sc = load16(x.add(192));
    _mm256_storeu_ps(dsc.as_mut_ptr(), _mm256_mul_ps(d, i8x8(sc)));
    _mm256_storeu_ps(dsc.as_mut_ptr().add(8), _mm256_mul_ps(d, i8x8(hi8(sc))));
}

/// The signed values `q6 - 32` of half `h` (elements 128h..128h+128) of the Q6_K block at `x`:
/// `[hf][k]` holds the sixteen of elements `128h + 32k + 16hf..`, scale `dsc[8h + hf + 2k]`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn q6_k_values(x: *const u8, h: usize) -> [[__m128i; 4]; 2] {
    let m4 = _mm_set1_epi8(0x0f);
    let m30 = _mm_set1_epi8(0x30);
    let s32 = _mm_set1_epi8(32);
    let mut qs = [[_mm_setzero_si128(); 4]; 2];
    for (hf, qs) in qs.iter_mut().enumerate() {
        let ql0 = load16(x.add(64 * h + 16 * hf));
        let ql1 = load16(x.add(64 * h + 32 + 16 * hf));
        let qh = load16(x.add(128 + 32 * h + 16 * hf));
        let q = [
            _mm_or_si128(_mm_and_si128(ql0, m4), _mm_and_si128(_mm_slli_epi16::<4>(qh), m30)),
            _mm_or_si128(_mm_and_si128(ql1, m4), _mm_and_si128(_mm_slli_epi16::<2>(qh), m30)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16::<4>(ql0), m4), _mm_and_si128(qh, m30)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16::<4>(ql1), m4), _mm_and_si128(_mm_srli_epi16::<2>(qh), m30)),
        ];
        *qs = q.map(|q| _mm_sub_epi8(q, s32));
    }
    qs
}

// ---------------------------------------------------------------------------------------------
// Ternary
// ---------------------------------------------------------------------------------------------

/// TQ2_0 (66 bytes): qs[64]@0, d@64; element `128g + 32l + m` = `(field l of qs[32g+m]) - 1`.
// SAFETY: caller contract (module doc): `src` valid for nb * 66 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_tq2_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let m3 = _mm_set1_epi8(3);
    let one = _mm_set1_epi8(1);
    for b in 0..nb {
        let x = src.add(66 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half8(x.add(64));
        // Outputs in address order (streaming stores fill whole lines).
        for g in 0..2 {
            let q = [load16(x.add(32 * g)), load16(x.add(32 * g + 16))];
            for l in 0..4 {
                let shift = _mm_cvtsi32_si128(2 * l as i32);
                for (hf, &q) in q.iter().enumerate() {
                    let v = _mm_sub_epi8(_mm_and_si128(_mm_srl_epi16(q, shift), m3), one);
                    put16_i8_mul::<M>(y.add((128 * g + 32 * l + 16 * hf) * es(M)), v, d);
                }
            }
        }
    }
    finish::<M>();
}

/// Eight TQ1_0 trits `n` of the eight bytes in `b` (as i32 lanes): `((b * 3^n mod 256) * 3) >> 8`
/// (0, 1 or 2) picks `(t - 1) * d` from `vals` ([`tq1_values`]). `pow` holds
/// `b * 3^n mod 256`; it is advanced to `n + 1`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn tq1_step(pow: &mut __m256i, vals: __m256) -> __m256 {
    let x = *pow;
    let x3 = _mm256_add_epi32(x, _mm256_add_epi32(x, x));
    *pow = _mm256_and_si256(x3, _mm256_set1_epi32(0xff));
    _mm256_permutevar8x32_ps(vals, _mm256_srli_epi32::<8>(x3))
}

/// The three values a TQ1_0 block can hold, `-1 * d`, `0 * d`, `1 * d` in lanes 0..3: the
/// same multiplications as the scalar oracle's `(t - 1) as f32 * d` (NaN and infinite `d`
/// included), done once per block instead of once per element.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn tq1_values(d: __m256) -> __m256 {
    _mm256_mul_ps(_mm256_setr_ps(-1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0), d)
}

/// Eight TQ1_0 start values `b` (as i32 lanes) from the eight bytes at `p`.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn tq1_bytes(p: *const u8) -> __m256i {
    _mm256_cvtepu8_epi32(load8(p))
}

/// TQ1_0 (54 bytes): qs[48]@0, qh[4]@48, d@52 (see `ternary::block_tq1_0` for the order).
///
/// Written out with one named register per trit chain (four for qs[0..32], two for
/// qs[32..48]) rather than arrays walked by loops: LLVM kept the array form as a loop over
/// stack slots in the f32 streaming variant, which then ran well below the store line.
// SAFETY: caller contract (module doc): `src` valid for nb * 54 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_tq1_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    for b in 0..nb {
        let x = src.add(54 * b);
        let y = dst.add(256 * es(M) * b);
        let vals = tq1_values(half8(x.add(52)));
        // qs[0..32]: trit n of byte m → element 32n + m. Outputs in address order (streaming
        // stores fill whole lines): trit-major, 32 elements (two lines of f32) per trit.
        let (mut p0, mut p1, mut p2, mut p3) =
            (tq1_bytes(x), tq1_bytes(x.add(8)), tq1_bytes(x.add(16)), tq1_bytes(x.add(24)));
        for n in 0..5 {
            let (a, b_) = (tq1_step(&mut p0, vals), tq1_step(&mut p1, vals));
            put2::<M>(y.add(32 * n * es(M)), a, b_);
            let (c, d) = (tq1_step(&mut p2, vals), tq1_step(&mut p3, vals));
            put2::<M>(y.add((32 * n + 16) * es(M)), c, d);
        }
        // qs[32..48]: → element 160 + 16n + m.
        let (mut p4, mut p5) = (tq1_bytes(x.add(32)), tq1_bytes(x.add(40)));
        for n in 0..5 {
            let (a, b_) = (tq1_step(&mut p4, vals), tq1_step(&mut p5, vals));
            put2::<M>(y.add((160 + 16 * n) * es(M)), a, b_);
        }
        // qh[0..4]: trit n of byte j → element 240 + 4n + j; two trits per eight lanes.
        let qh = std::ptr::read_unaligned(x.add(48).cast::<u32>()) as i32;
        let bytes = _mm256_setr_epi32(qh, qh >> 8, qh >> 16, qh >> 24, qh, qh >> 8, qh >> 16, qh >> 24);
        let bytes = _mm256_and_si256(bytes, _mm256_set1_epi32(0xff));
        // Lanes 4..8 start one trit later: multiply by 3 (mod 256) there.
        let x3 = _mm256_add_epi32(bytes, _mm256_add_epi32(bytes, bytes));
        let mut pow = _mm256_blend_epi32::<0b1111_0000>(bytes, _mm256_and_si256(x3, _mm256_set1_epi32(0xff)));
        let v0 = tq1_step(&mut pow, vals);
        // Advance one more trit so the next pair is n + 2.
        let x = pow;
        pow = _mm256_and_si256(_mm256_add_epi32(x, _mm256_add_epi32(x, x)), _mm256_set1_epi32(0xff));
        let v1 = tq1_step(&mut pow, vals);
        put2::<M>(y.add(240 * es(M)), v0, v1);
    }
    finish::<M>();
}

// ---------------------------------------------------------------------------------------------
// Non-linear 4-bit tables: IQ4_NL, IQ4_XS, MXFP4, NVFP4
// ---------------------------------------------------------------------------------------------

#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn table(t: &[i8; 16]) -> __m128i {
    _mm_loadu_si128(t.as_ptr().cast())
}

/// The sixteen bytes of `q` → (table[low nibble], table[high nibble]) as signed bytes.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn lookup_nibbles(tbl: __m128i, q: __m128i) -> (__m128i, __m128i) {
    let m4 = _mm_set1_epi8(0x0f);
    let lo = _mm_shuffle_epi8(tbl, _mm_and_si128(q, m4));
    let hi = _mm_shuffle_epi8(tbl, _mm_and_si128(_mm_srli_epi16::<4>(q), m4));
    (lo, hi)
}

/// IQ4_NL (18 bytes): d@0, qs[16]@2; `d * kvalues[nibble]`, low nibbles first.
// SAFETY: caller contract (module doc): `src` valid for nb * 18 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq4_nl<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let tbl = table(&KVALUES_IQ4NL);
    for b in 0..nb {
        let x = src.add(18 * b);
        let y = dst.add(32 * es(M) * b);
        let d = half8(x);
        let (lo, hi) = lookup_nibbles(tbl, load16(x.add(2)));
        put16_i8_mul::<M>(y, lo, d);
        put16_i8_mul::<M>(y.add(16 * es(M)), hi, d);
    }
    finish::<M>();
}

/// IQ4_XS (136 bytes): d@0, scales_h:u16@2, scales_l[4]@4, qs[128]@8.
// SAFETY: caller contract (module doc): `src` valid for nb * 136 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq4_xs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let tbl = table(&KVALUES_IQ4NL);
    for b in 0..nb {
        let x = src.add(136 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half(x);
        let scales_h = std::ptr::read_unaligned(x.add(2).cast::<u16>()) as u32;
        for ib in 0..8 {
            let sl = (*x.add(4 + ib / 2) >> (4 * (ib % 2))) & 0xf;
            let ls = sl as i32 | ((((scales_h >> (2 * ib)) & 3) as i32) << 4);
            let dl = _mm256_set1_ps(d * (ls - 32) as f32);
            let (lo, hi) = lookup_nibbles(tbl, load16(x.add(8 + 16 * ib)));
            put16_i8_mul::<M>(y.add(32 * ib * es(M)), lo, dl);
            put16_i8_mul::<M>(y.add((32 * ib + 16) * es(M)), hi, dl);
        }
    }
    finish::<M>();
}

/// MXFP4 (17 bytes): e8m0@0, qs[16]@1; `kvalues[nibble] * e8m0_half(e)`.
// SAFETY: caller contract (module doc): `src` valid for nb * 17 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_mxfp4<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let tbl = table(&KVALUES_MXFP4);
    for b in 0..nb {
        let x = src.add(17 * b);
        let y = dst.add(32 * es(M) * b);
        // `vcvtneps2bf16` flushes subnormal f32 to zero. A block's nonzero values are at least
        // 2^(e - 128) in magnitude (E8M0 `e` halved, times |kvalue| >= 1), normal for e >= 2;
        // blocks with e < 3 (one of margin; rare) take the portable rounding in the
        // bf16-native modes.
        match M {
            OUT_BF16_NATIVE if *x < 3 => mxfp4_block::<OUT_BF16>(x, y, tbl),
            m if m == STREAM | OUT_BF16_NATIVE && *x < 3 => mxfp4_block::<{ STREAM | OUT_BF16 }>(x, y, tbl),
            _ => mxfp4_block::<M>(x, y, tbl),
        }
    }
    finish::<M>();
}

/// One MXFP4 block (`x`, 17 bytes) to `y` in mode `M`.
// SAFETY: `x` valid for 17 bytes, `y` for 32 * es(M) bytes.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn mxfp4_block<const M: u8>(x: *const u8, y: *mut u8, tbl: __m128i) {
    let d = _mm256_set1_ps(e8m0_to_f32_half(*x));
    let (lo, hi) = lookup_nibbles(tbl, load16(x.add(1)));
    put16_i8_mul::<M>(y, lo, d);
    put16_i8_mul::<M>(y.add(16 * es(M)), hi, d);
}

/// NVFP4 (36 bytes): four UE4M3 scales@0, qs[32]@4; sub-block s: byte `qs[8s+j]` holds
/// elements `16s+j` (low nibble) and `16s+j+8` (high).
// SAFETY: caller contract (module doc): `src` valid for nb * 36 bytes, `dst` for nb * 64 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_nvfp4<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let tbl = table(&KVALUES_MXFP4);
    for b in 0..nb {
        let x = src.add(36 * b);
        let y = dst.add(64 * es(M) * b);
        for s in 0..4 {
            let d = _mm256_set1_ps(UE4M3_HALF[*x.add(s) as usize]);
            let (lo, hi) = lookup_nibbles(tbl, load8(x.add(4 + 8 * s)));
            put2::<M>(y.add(16 * s * es(M)), _mm256_mul_ps(i8x8(lo), d), _mm256_mul_ps(i8x8(hi), d));
        }
    }
    finish::<M>();
}

// ---------------------------------------------------------------------------------------------
// Sequential low-bit: Q1_0, Q2_0
// ---------------------------------------------------------------------------------------------

/// Q1_0 (18 bytes, 128 elements): d@0, qs[16]@2; bit set → d, clear → -d.
// SAFETY: caller contract (module doc): `src` valid for nb * 18 bytes, `dst` for nb * 128 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q1_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for b in 0..nb {
        let x = src.add(18 * b);
        let y = dst.add(128 * es(M) * b);
        let dh = half_exact(x);
        let (d, neg_d) = (_mm256_set1_ps(dh), _mm256_set1_ps(-dh));
        for i in 0..8 {
            let mut v = [d; 2];
            for (j, v) in v.iter_mut().enumerate() {
                let q = _mm256_set1_epi32(*x.add(2 + 2 * i + j) as i32);
                let set = _mm256_cmpeq_epi32(_mm256_and_si256(q, bits), bits);
                *v = _mm256_blendv_ps(neg_d, d, _mm256_castsi256_ps(set));
            }
            put2::<M>(y.add(16 * i * es(M)), v[0], v[1]);
        }
    }
    finish::<M>();
}

/// Q2_0 (18 bytes, 64 elements): d@0, qs[16]@2; element j = `(field j%4 of qs[j/4]) - 1`, × d.
// SAFETY: caller contract (module doc): `src` valid for nb * 18 bytes, `dst` for nb * 64 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_q2_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    let m3 = _mm256_set1_epi32(3);
    let one = _mm256_set1_epi32(1);
    for b in 0..nb {
        let x = src.add(18 * b);
        let y = dst.add(64 * es(M) * b);
        let d = half8(x);
        for i in 0..4 {
            let mut v = [d; 2];
            for (j, v) in v.iter_mut().enumerate() {
                let w = std::ptr::read_unaligned(x.add(2 + 4 * i + 2 * j).cast::<u16>()) as i32;
                let t = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(w), shifts), m3);
                *v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(t, one)), d);
            }
            put2::<M>(y.add(16 * i * es(M)), v[0], v[1]);
        }
    }
    finish::<M>();
}

// ---------------------------------------------------------------------------------------------
// Lattice i-quants: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M
// ---------------------------------------------------------------------------------------------

/// Eight f32 grid values, 32-byte aligned: one row of [`grid8_f32`] / [`iq1_rows`].
#[repr(C, align(32))]
struct Row8([f32; 8]);

/// An 8-value lattice grid (IQ2_XXS, IQ2_XS, IQ2_S: the eight unsigned bytes of each u64 entry)
/// as f32 rows, built once: a group of eight is then one aligned load instead of a
/// zero-extension and a conversion (FP work that bounds these kernels). The values are small
/// integers, exact in f32, so the products are the same bits.
fn grid8_f32(cell: &'static std::sync::OnceLock<Box<[Row8]>>, grid: &[u64]) -> *const Row8 {
    cell.get_or_init(|| grid.iter().map(|g| Row8(g.to_le_bytes().map(f32::from))).collect()).as_ptr()
}

/// Row `i` of a [`grid8_f32`] / [`iq1_rows`] table as eight f32.
// SAFETY: `i` is below the table's length (the callers' indices are masked to it).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn row8(rows: *const Row8, i: usize) -> __m256 {
    _mm256_load_ps((*rows.add(i)).0.as_ptr())
}

/// A 4-value lattice grid (IQ3_XXS, IQ3_S: the four bytes of each u32 entry) as f32, built
/// once: a grid row is then one 16-byte load instead of a zero-extension and a conversion.
/// The values are small integers, exact in f32, so the products are the same bits.
fn grid4_f32<const N: usize>(
    cell: &'static std::sync::OnceLock<Box<[[f32; 4]; N]>>,
    grid: &[u32; N],
) -> &'static [[f32; 4]; N] {
    cell.get_or_init(|| {
        let mut t = Box::new([[0f32; 4]; N]);
        for (row, &g) in t.iter_mut().zip(grid) {
            *row = g.to_le_bytes().map(f32::from);
        }
        t
    })
}

/// Eight grid values as f32: the rows at byte offsets `a` and `b` (16 x the row index) of the
/// [`grid4_f32`] table at `grid`.
// SAFETY: both offsets are 16 x an index below the table's length.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn grid4_at(grid: *const u8, a: u16, b: u16) -> __m256 {
    let lo = _mm_loadu_ps(grid.add(a as usize).cast());
    _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(lo), _mm_loadu_ps(grid.add(b as usize).cast()))
}

/// The sign bits of group `l` (elements `8l..8l+8`) of a 32-element sub-block whose four sign
/// bytes (byte l: bit j set ⇔ element `8l + j` negative) are broadcast in every lane of `sv`:
/// bit `8l + j` moved to bit 31 of lane j. One broadcast per sub-block instead of one per
/// eight elements.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn signs_of(sv: __m256i, l: usize) -> __m256 {
    let cnt = _mm256_sub_epi32(_mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24), _mm256_set1_epi32(8 * l as i32));
    _mm256_castsi256_ps(_mm256_and_si256(_mm256_sllv_epi32(sv, cnt), _mm256_set1_epi32(i32::MIN)))
}

/// The four ksigns bytes of the 7-bit fields `l = 0..4` of `aux` (bits `7l..7l+7`), packed
/// into a u32 (byte l) and broadcast, for [`signs_of`].
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn ksigns4(aux: u32) -> __m256i {
    _mm256_set1_epi32(ksigns_word(aux) as i32)
}

/// The four ksigns bytes of the 7-bit fields `l = 0..4` of `aux` (bits `7l..7l+7`), packed
/// into a u32 (byte l: bit j set ⇔ element `8l + j` negative).
#[inline(always)]
fn ksigns_word(aux: u32) -> u32 {
    let k = |l: u32| KSIGNS_IQ2XS[((aux >> (7 * l)) & 127) as usize] as u32;
    k(0) | (k(1) << 8) | (k(2) << 16) | (k(3) << 24)
}

/// `KSIGNS_IQ2XS` computed: every 16-bit lane `s` (< 128) of `s` → `s | parity(s) << 7` (an
/// even number of sign bits). Also right for 32-bit lanes holding values < 128.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn ksigns_v(s: __m256i) -> __m256i {
    let mut p = _mm256_xor_si256(s, _mm256_srli_epi16::<4>(s));
    p = _mm256_xor_si256(p, _mm256_srli_epi16::<2>(p));
    p = _mm256_xor_si256(p, _mm256_srli_epi16::<1>(p));
    _mm256_or_si256(s, _mm256_slli_epi16::<7>(_mm256_and_si256(p, _mm256_set1_epi16(1))))
}

/// Eight values `(db * g[j]) * sign[j]` (`g`: eight unsigned grid values as f32; `signs`
/// from [`signs_of`]), as ggml's IQ2 / IQ3 dequantizers (ggml's
/// `signs & kmask_iq2xs[j] ? -1.f : 1.f` factor). Multiplying by ±1 is exact, so it is a sign
/// flip: the same bits for every non-NaN product (NaN signs are unspecified; the compiler turns
/// the scalar oracle's `* -1.0` into the same flip).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn grid8(g: __m256, signs: __m256, db: __m256) -> __m256 {
    _mm256_xor_ps(_mm256_mul_ps(db, g), signs)
}

/// ggml's IQ2 / IQ3_XXS sub-block scale `d * (0.5 + s) * k` (k = 0.25 or 0.5), one f32
/// operation at a time.
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq_db(d: f32, s: u32, k: f32) -> __m256 {
    _mm256_set1_ps(d * (0.5f32 + s as f32) * k)
}

/// IQ2_XXS (66 bytes): d@0, per 32 elements two u32 (`aux0`: four grid indices; `aux1`: four
/// 7-bit ksigns indices and the scale in bits 28..32).
// SAFETY: caller contract (module doc): `src` valid for nb * 66 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq2_xxs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq2xxs_grid();
    for b in 0..nb {
        let x = src.add(66 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half(x);
        for ib in 0..8 {
            let aux0 = std::ptr::read_unaligned(x.add(2 + 8 * ib).cast::<u32>());
            let aux1 = std::ptr::read_unaligned(x.add(6 + 8 * ib).cast::<u32>());
            let db = iq_db(d, aux1 >> 28, 0.25);
            let sv = ksigns4(aux1);
            let mut v = [_mm256_setzero_ps(); 4];
            for (l, v) in v.iter_mut().enumerate() {
                *v = grid8(row8(grid, (aux0 >> (8 * l)) as u8 as usize), signs_of(sv, l), db);
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The IQ2_XXS grid as a [`grid8_f32`] table (256 rows), built once.
fn iq2xxs_grid() -> *const Row8 {
    static GRID: std::sync::OnceLock<Box<[Row8]>> = std::sync::OnceLock::new();
    grid8_f32(&GRID, &IQ2XXS_GRID)
}

/// IQ2_XS (74 bytes): d@0, qs:u16[32]@2 (9-bit grid index, 7-bit ksigns index), scales[8]@66.
// SAFETY: caller contract (module doc): `src` valid for nb * 74 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq2_xs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq2xs_grid();
    let mut idx = [0u16; 32];
    let mut sg = [0u8; 32];
    for b in 0..nb {
        let x = src.add(74 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half(x);
        iq2xs_indices_signs(x, &mut idx, &mut sg);
        for ib in 0..8 {
            let sc = *x.add(66 + ib) as u32;
            let db = [iq_db(d, sc & 0xf, 0.25), iq_db(d, sc >> 4, 0.25)];
            let sv = _mm256_set1_epi32(std::ptr::read_unaligned(sg.as_ptr().add(4 * ib).cast::<i32>()));
            let mut v = [_mm256_setzero_ps(); 4];
            for l in 0..4 {
                v[l] = grid8(row8(grid, idx[4 * ib + l] as usize), signs_of(sv, l), db[l / 2]);
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The IQ2_XS grid as a [`grid8_f32`] table, built once.
fn iq2xs_grid() -> *const Row8 {
    static GRID: std::sync::OnceLock<Box<[Row8]>> = std::sync::OnceLock::new();
    grid8_f32(&GRID, &IQ2XS_GRID)
}

/// The 32 grid indices (low 9 bits of each qs word) and the 32 sign bytes (`KSIGNS_IQ2XS` of
/// the top 7 bits, computed: [`ksigns_v`]) of the IQ2_XS block at `x`, built in vectors.
// SAFETY: `x` valid for the 74 bytes of one IQ2_XS block (reads qs@2..66).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq2xs_indices_signs(x: *const u8, idx: &mut [u16; 32], sg: &mut [u8; 32]) {
    let (qa, qb) = (_mm256_loadu_si256(x.add(2).cast()), _mm256_loadu_si256(x.add(34).cast()));
    let m = _mm256_set1_epi16(511);
    _mm256_storeu_si256(idx.as_mut_ptr().cast(), _mm256_and_si256(qa, m));
    _mm256_storeu_si256(idx.as_mut_ptr().add(16).cast(), _mm256_and_si256(qb, m));
    let (sa, sb) = (ksigns_v(_mm256_srli_epi16::<9>(qa)), ksigns_v(_mm256_srli_epi16::<9>(qb)));
    // packus interleaves the 128-bit lanes (a0..7, b0..7 | a8..15, b8..15): reorder.
    let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(sa, sb));
    _mm256_storeu_si256(sg.as_mut_ptr().cast(), packed);
}

/// IQ2_S (82 bytes): d@0, qs[32]@2 (grid index low bytes), signs[32]@34, qh[8]@66, scales[8]@74.
///
/// The 32 grid offsets and 16 scales of a block are built in vectors ([`iq2s_tables`]), one
/// block ahead ([`Ahead`]), and read back one word each: the scalar bit-field and scale work
/// per group of eight was most of this kernel's instructions.
// SAFETY: caller contract (module doc): `src` valid for nb * 82 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables
// (every offset is `32 * index`, index < 1024, inside the 1024-row table).
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq2_s<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq2s_grid().cast::<u8>();
    let mut t = Ahead::<Iq2sTables>::new(src, nb, 82);
    for b in 0..nb {
        let x = src.add(82 * b);
        let y = dst.add(256 * es(M) * b);
        let t = t.next(b);
        for ib in 0..8 {
            let sv = _mm256_set1_epi32(std::ptr::read_unaligned(x.add(34 + 4 * ib).cast::<i32>()));
            let mut v = [_mm256_setzero_ps(); 4];
            for (l, v) in v.iter_mut().enumerate() {
                let g = _mm256_load_ps(grid.add(t.off[4 * ib + l] as usize).cast());
                *v = grid8(g, signs_of(sv, l), _mm256_set1_ps(t.db[ib + 4 * (l & 2)]));
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The IQ2_S grid as a [`grid8_f32`] table (1024 rows), built once.
fn iq2s_grid() -> *const Row8 {
    static GRID: std::sync::OnceLock<Box<[Row8]>> = std::sync::OnceLock::new();
    grid8_f32(&GRID, &IQ2S_GRID)
}

/// Per-block tables built in vectors one block ahead of the kernel that reads them back one
/// word at a time. Why ahead: read right after 256-bit stores wrote them, the scalar loads
/// stalled the kernel once per block, as if each waited for the stores to reach the cache
/// (store-to-load forwarding did not hide it); built a block early, they are there when read.
/// On the development machine (Zen 4), IQ2_S → f16 at 256 Ki elements on one thread (AVX-512
/// kernel): 8.7 Gelem/s with the tables built in the same block, 13.8 one block ahead, 9.6 with
/// the scalar index and scale work per group it replaces.
struct Ahead<T> {
    bufs: [T; 2],
    src: *const u8,
    nb: usize,
    stride: usize,
}

/// A per-block table that [`Ahead`] builds: `build` fills it from the block at `x`.
trait BlockTables: Copy {
    const ZERO: Self;
    /// # Safety
    /// `x` valid for one block of the table's type; AVX2 and F16C available.
    unsafe fn build(&mut self, x: *const u8);
}

impl<T: BlockTables> Ahead<T> {
    /// Tables for the `nb` blocks of `stride` bytes at `src`: block 0's built now.
    // SAFETY: `src` valid for nb * stride bytes (the kernels' contract).
    #[target_feature(enable = "avx2,f16c")]
    #[inline]
    unsafe fn new(src: *const u8, nb: usize, stride: usize) -> Self {
        let mut a = Ahead { bufs: [T::ZERO; 2], src, nb, stride };
        if nb > 0 {
            a.bufs[0].build(src);
        }
        a
    }

    /// Block `b`'s tables (b = 0, 1, .. in order), after building block `b + 1`'s if it exists.
    // SAFETY: `b < nb`.
    #[target_feature(enable = "avx2,f16c")]
    #[inline]
    unsafe fn next(&mut self, b: usize) -> &T {
        if b + 1 < self.nb {
            self.bufs[(b + 1) & 1].build(self.src.add(self.stride * (b + 1)));
        }
        &self.bufs[b & 1]
    }
}

/// The tables of one IQ2_S block ([`iq2s_tables`]).
#[derive(Clone, Copy)]
struct Iq2sTables {
    /// Grid index `4 ib + l` as a byte offset (`32 * index`) into [`iq2s_grid`].
    off: [u32; 32],
    /// `db[ib]`: the scale of groups 0, 1 of sub-block ib (low nibble of scales[ib]); `db[8 + ib]`:
    /// of groups 2, 3 (high nibble).
    db: [f32; 16],
}

impl BlockTables for Iq2sTables {
    const ZERO: Self = Iq2sTables { off: [0; 32], db: [0.0; 16] };
    #[inline(always)]
    unsafe fn build(&mut self, x: *const u8) {
        iq2s_tables(x, self)
    }
}

/// The [`Iq2sTables`] of the IQ2_S block at `x`. Index `4 ib + l` is `qs[4 ib + l] | (bits
/// 2l..2l+2 of qh[ib]) << 8`, eight (two sub-blocks) per step; the scales are [`iq_db`]'s
/// `d * (0.5 + s) * 0.25` lane-wise (the same f32 operations in the same order).
// SAFETY: `x` valid for the 82 bytes of one IQ2_S block (reads d@0, qs@2..34, qh@66..74 and
// scales@74..82).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq2s_tables(x: *const u8, t: &mut Iq2sTables) {
    // Lane j of step k: group j % 4 of sub-block 2k + j / 4, whose two bits are bits 2j..2j+2
    // of the 16-bit word qh[2k] | qh[2k + 1] << 8.
    let cnt = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for k in 0..4 {
        let qs = _mm256_cvtepu8_epi32(_mm_loadl_epi64(x.add(2 + 8 * k).cast()));
        let qh = _mm256_set1_epi32(std::ptr::read_unaligned(x.add(66 + 2 * k).cast::<u16>()) as i32);
        let high = _mm256_slli_epi32::<8>(_mm256_and_si256(_mm256_srlv_epi32(qh, cnt), _mm256_set1_epi32(3)));
        let idx = _mm256_or_si256(qs, high);
        _mm256_storeu_si256(t.off.as_mut_ptr().add(8 * k).cast(), _mm256_slli_epi32::<5>(idx));
    }
    let d = _mm256_set1_ps(half(x));
    let sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64(x.add(74).cast()));
    let nibbles = [_mm256_and_si256(sc, _mm256_set1_epi32(15)), _mm256_srli_epi32::<4>(sc)];
    for (h, s) in nibbles.into_iter().enumerate() {
        let v = _mm256_mul_ps(
            _mm256_mul_ps(d, _mm256_add_ps(_mm256_set1_ps(0.5), _mm256_cvtepi32_ps(s))),
            _mm256_set1_ps(0.25),
        );
        _mm256_storeu_ps(t.db.as_mut_ptr().add(8 * h), v);
    }
}

/// IQ3_XXS (98 bytes): d@0, qs[64]@2 (grid indices), scales_and_signs:u32[8]@66.
// SAFETY: caller contract (module doc): `src` valid for nb * 98 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables.
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq3_xxs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq3xxs_grid();
    let mut off = [0u16; 64];
    let mut sw = [0u32; 8];
    for b in 0..nb {
        let x = src.add(98 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half(x);
        iq3xxs_offsets_signs(x, &mut off, &mut sw);
        for ib in 0..8 {
            let aux = std::ptr::read_unaligned(x.add(66 + 4 * ib).cast::<u32>());
            let db = iq_db(d, aux >> 28, 0.5);
            let sv = _mm256_set1_epi32(sw[ib] as i32);
            let o = &off[8 * ib..8 * ib + 8];
            let mut v = [_mm256_setzero_ps(); 4];
            for (l, v) in v.iter_mut().enumerate() {
                *v = grid8(grid4_at(grid, o[2 * l], o[2 * l + 1]), signs_of(sv, l), db);
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The IQ3_XXS grid as a [`grid4_f32`] table (256 rows of four f32), built once.
fn iq3xxs_grid() -> *const u8 {
    static GRID: std::sync::OnceLock<Box<[[f32; 4]; 256]>> = std::sync::OnceLock::new();
    grid4_f32(&GRID, &IQ3XXS_GRID).as_ptr().cast::<u8>()
}

/// The 64 grid indices of the IQ3_XXS block at `x` as byte offsets (`16 * index`) into
/// [`iq3xxs_grid`], and the sign words of its eight sub-blocks (as [`ksigns4`]: bit `j` set ⇔
/// element `j` of the sub-block negative), built in vectors.
// SAFETY: `x` valid for the 98 bytes of one IQ3_XXS block (reads qs@2..66, aux@66..98).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq3xxs_offsets_signs(x: *const u8, off: &mut [u16; 64], sw: &mut [u32; 8]) {
    for k in 0..4 {
        let qs = _mm256_cvtepu8_epi16(_mm_loadu_si128(x.add(2 + 16 * k).cast()));
        _mm256_storeu_si256(off.as_mut_ptr().add(16 * k).cast(), _mm256_slli_epi16::<4>(qs));
    }
    let aux = _mm256_loadu_si256(x.add(66).cast());
    let mut words = _mm256_setzero_si256();
    for l in 0..4 {
        let f = _mm256_and_si256(_mm256_srl_epi32(aux, _mm_cvtsi32_si128(7 * l)), _mm256_set1_epi32(127));
        words = _mm256_or_si256(words, _mm256_sll_epi32(ksigns_v(f), _mm_cvtsi32_si128(8 * l)));
    }
    _mm256_storeu_si256(sw.as_mut_ptr().cast(), words);
}

/// IQ3_S (110 bytes): d@0, qs[64]@2, qh[8]@66 (9th index bits), signs[32]@74, scales[4]@106;
/// scale `d * (1 + 2s)` with the integer converted first.
///
/// The 64 grid indices of a block (`qs[i] | bit i%8 of qh[i/8] << 8`) are built sixteen at a
/// time in a vector as byte offsets into the f32 grid table, and the eight scales in one vector
/// ([`iq3s_tables`]), one block ahead ([`Ahead`]), then read back one word each: the scalar
/// shift / mask / or per index was most of this kernel's work.
// SAFETY: caller contract (module doc): `src` valid for nb * 110 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables
// (every offset is `16 * index`, index < 512, inside the 512-row table).
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq3_s<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq3s_grid();
    let mut t = Ahead::<Iq3sTables>::new(src, nb, 110);
    for b in 0..nb {
        let x = src.add(110 * b);
        let y = dst.add(256 * es(M) * b);
        let t = t.next(b);
        for ib in 0..8 {
            let db = _mm256_set1_ps(t.db[ib]);
            let sv = _mm256_set1_epi32(std::ptr::read_unaligned(x.add(74 + 4 * ib).cast::<i32>()));
            let o = &t.off[8 * ib..8 * ib + 8];
            let mut v = [_mm256_setzero_ps(); 4];
            for (l, v) in v.iter_mut().enumerate() {
                *v = grid8(grid4_at(grid, o[2 * l], o[2 * l + 1]), signs_of(sv, l), db);
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The IQ3_S grid as a [`grid4_f32`] table (512 rows of four f32), built once.
fn iq3s_grid() -> *const u8 {
    static GRID: std::sync::OnceLock<Box<[[f32; 4]; 512]>> = std::sync::OnceLock::new();
    grid4_f32(&GRID, &IQ3S_GRID).as_ptr().cast::<u8>()
}

/// The tables of one IQ3_S block ([`iq3s_tables`]).
#[derive(Clone, Copy)]
struct Iq3sTables {
    /// Grid index i as a byte offset (`16 * index`) into [`iq3s_grid`].
    off: [u16; 64],
    /// The scale of sub-block ib.
    db: [f32; 8],
}

impl BlockTables for Iq3sTables {
    const ZERO: Self = Iq3sTables { off: [0; 64], db: [0.0; 8] };
    #[inline(always)]
    unsafe fn build(&mut self, x: *const u8) {
        iq3s_tables(x, self)
    }
}

/// The [`Iq3sTables`] of the IQ3_S block at `x`: index i is `qs[i] | (bit i % 8 of qh[i / 8])
/// << 8`, sixteen per step; the scale of sub-block ib is `d * (1 + 2s)` for s nibble ib % 2 of
/// scales[ib / 2], the integer converted first, as ggml (one f32 multiply per lane).
// SAFETY: `x` valid for the 110 bytes of one IQ3_S block (reads d@0, qs@2..66, qh@66..74 and
// scales@106..110).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq3s_tables(x: *const u8, t: &mut Iq3sTables) {
    let bit = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, i16::MIN);
    for k in 0..4 {
        let qs = _mm256_cvtepu8_epi16(_mm_loadu_si128(x.add(2 + 16 * k).cast()));
        let qh = _mm256_set1_epi16(std::ptr::read_unaligned(x.add(66 + 2 * k).cast::<i16>()));
        let high = _mm256_and_si256(_mm256_cmpeq_epi16(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi16(256));
        let idx = _mm256_or_si256(qs, high);
        _mm256_storeu_si256(t.off.as_mut_ptr().add(16 * k).cast(), _mm256_slli_epi16::<4>(idx));
    }
    // Lane ib: scales[ib / 2] >> (4 * (ib % 2)) & 15.
    let sc = _mm256_set1_epi32(std::ptr::read_unaligned(x.add(106).cast::<i32>()));
    let s =
        _mm256_and_si256(_mm256_srlv_epi32(sc, _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)), _mm256_set1_epi32(15));
    let odd = _mm256_add_epi32(_mm256_set1_epi32(1), _mm256_add_epi32(s, s));
    let db = _mm256_mul_ps(_mm256_set1_ps(half(x)), _mm256_cvtepi32_ps(odd));
    _mm256_storeu_ps(t.db.as_mut_ptr(), db);
}

/// The IQ1_S / IQ1_M grid with the delta already added, built once: row `2 * index + s` holds
/// `grid[index][j] as f32 + (s == 0 ? IQ1S_DELTA : -IQ1S_DELTA)`, the f32 sum ggml's
/// dequantizers compute (`dl * (grid[j] + delta)`: the sum first, one f32 add, the same bits
/// here), so a group of eight is one aligned load and one multiply instead of a sign-extension,
/// a conversion, the delta's sign bits and an add (those FP operations were the IQ1 kernels'
/// limit). 4096 rows, 128 KiB: L2-resident while decoding.
fn iq1_rows() -> *const Row8 {
    static ROWS: std::sync::OnceLock<Box<[Row8]>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| {
        (0..2 * IQ1S_GRID.len())
            .map(|r| {
                let delta = if r % 2 == 0 { IQ1S_DELTA } else { -IQ1S_DELTA };
                Row8(IQ1S_GRID[r / 2].to_le_bytes().map(|g| g as i8 as f32 + delta))
            })
            .collect::<Box<[Row8]>>()
    })
    .as_ptr()
}

/// Eight values `dl * row` for row `r` of [`iq1_rows`].
// SAFETY: `r` < 4096 (callers build it from an 11-bit index and a sign bit).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq1_8(rows: *const Row8, r: usize, dl: __m256) -> __m256 {
    _mm256_mul_ps(dl, row8(rows, r))
}

/// IQ1_S (50 bytes): d@0, qs[32]@2, qh:u16[8]@34 (four 3-bit index highs, scale at 12..15,
/// delta sign at 15).
// SAFETY: caller contract (module doc): `src` valid for nb * 50 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables
// (rows < 4096: see `iq1s_rows`).
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq1_s<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let rows = iq1_rows();
    let mut r = [0u32; 32];
    for b in 0..nb {
        let x = src.add(50 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half(x);
        iq1s_rows(x, &mut r);
        for ib in 0..8 {
            let qh = std::ptr::read_unaligned(x.add(34 + 2 * ib).cast::<u16>());
            let dl = _mm256_set1_ps(d * (2 * ((qh >> 12) & 7) as i32 + 1) as f32);
            let mut v = [_mm256_setzero_ps(); 4];
            for (l, v) in v.iter_mut().enumerate() {
                *v = iq1_8(rows, r[4 * ib + l] as usize, dl);
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The 32 [`iq1_rows`] rows of the IQ1_S block at `x`: for group `i = 4 ib + l`,
/// `2 * (qs[i] | ((qh[ib] >> 3l) & 7) << 8) + (qh[ib] >> 15)`, eight per step.
// SAFETY: `x` valid for the 50 bytes of one IQ1_S block (reads qs@2..34 and qh@34..50).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq1s_rows(x: *const u8, r: &mut [u32; 32]) {
    let shift = _mm256_setr_epi32(0, 3, 6, 9, 16, 19, 22, 25);
    let sign = _mm256_setr_epi32(15, 15, 15, 15, 31, 31, 31, 31);
    for k in 0..4 {
        let qs = _mm256_cvtepu8_epi32(_mm_loadl_epi64(x.add(2 + 8 * k).cast()));
        let qh = _mm256_set1_epi32(std::ptr::read_unaligned(x.add(34 + 4 * k).cast::<i32>()));
        let high = _mm256_slli_epi32::<8>(_mm256_and_si256(_mm256_srlv_epi32(qh, shift), _mm256_set1_epi32(7)));
        let s = _mm256_and_si256(_mm256_srlv_epi32(qh, sign), _mm256_set1_epi32(1));
        let row = _mm256_or_si256(_mm256_slli_epi32::<1>(_mm256_or_si256(qs, high)), s);
        _mm256_storeu_si256(r.as_mut_ptr().add(8 * k).cast(), row);
    }
}

/// IQ1_M (56 bytes): qs[32]@0, qh[16]@32, scales:u16[4]@48 (3-bit sub-scales; the top nibbles
/// assemble the f16 block scale).
// SAFETY: caller contract (module doc): `src` valid for nb * 56 bytes, `dst` for nb * 256 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in the static tables
// (rows < 4096: see `iq1m_rows`).
#[target_feature(enable = "avx2,f16c")]
unsafe fn k_iq1_m<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let rows = iq1_rows();
    let mut r = [0u16; 32];
    for b in 0..nb {
        let x = src.add(56 * b);
        let y = dst.add(256 * es(M) * b);
        let sc = std::ptr::read_unaligned(x.add(48).cast::<u64>());
        let w = |k: u32| (sc >> (16 * k)) as u16;
        let scale = (w(0) >> 12) | ((w(1) >> 8) & 0x00f0) | ((w(2) >> 4) & 0x0f00) | (w(3) & 0xf000);
        let d = _mm256_cvtph_ps(_mm_set1_epi16(scale as i16));
        // The sixteen sub-block scales `d * (2 * s + 1)`, s the 3-bit fields at bits 0, 3, 6, 9
        // of each scales word (k = 2 * ib + half: field k % 4 of word k / 4), one f32 multiply
        // each as in ggml.
        let mut dls = [0f32; 16];
        let words = _mm256_cvtepu16_epi32(_mm_cvtsi64_si128(sc as i64));
        let shifts = _mm256_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9);
        for (half_, out) in dls.chunks_exact_mut(8).enumerate() {
            let pick = _mm256_add_epi32(_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_set1_epi32(2 * half_ as i32));
            let f = _mm256_and_si256(
                _mm256_srlv_epi32(_mm256_permutevar8x32_epi32(words, pick), shifts),
                _mm256_set1_epi32(7),
            );
            let odd = _mm256_add_epi32(_mm256_add_epi32(f, f), _mm256_set1_epi32(1));
            _mm256_storeu_ps(out.as_mut_ptr(), _mm256_mul_ps(d, _mm256_cvtepi32_ps(odd)));
        }
        iq1m_rows(x, &mut r);
        for ib in 0..8 {
            let dl1 = _mm256_broadcast_ss(&dls[2 * ib]);
            let dl2 = _mm256_broadcast_ss(&dls[2 * ib + 1]);
            let mut v = [_mm256_setzero_ps(); 4];
            for (l, v) in v.iter_mut().enumerate() {
                *v = iq1_8(rows, r[4 * ib + l] as usize, if l < 2 { dl1 } else { dl2 });
            }
            put2::<M>(y.add(32 * ib * es(M)), v[0], v[1]);
            put2::<M>(y.add((32 * ib + 16) * es(M)), v[2], v[3]);
        }
    }
    finish::<M>();
}

/// The 32 [`iq1_rows`] rows of the IQ1_M block at `x`: group i (eight elements) takes nibble
/// `i % 2` of `qh[i / 2]` — bits 0..3 the index's high bits, bit 3 the delta's sign — so row
/// `2 * (qs[i] | (nibble & 7) << 8) + (nibble >> 3)`, sixteen per step.
// SAFETY: `x` valid for the 56 bytes of one IQ1_M block (reads qs@0..32 and qh@32..48).
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn iq1m_rows(x: *const u8, r: &mut [u16; 32]) {
    // Each qh byte twice; the low nibble moved to bits 8..11 (x 256), the high one too (x 16).
    let mul = _mm256_setr_epi16(256, 16, 256, 16, 256, 16, 256, 16, 256, 16, 256, 16, 256, 16, 256, 16);
    for k in 0..2 {
        let qs = _mm256_cvtepu8_epi16(_mm_loadu_si128(x.add(16 * k).cast()));
        let h = _mm_loadl_epi64(x.add(32 + 8 * k).cast());
        let t = _mm256_mullo_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(h, h)), mul);
        let idx = _mm256_or_si256(qs, _mm256_and_si256(t, _mm256_set1_epi16(0x700)));
        let s = _mm256_srli_epi16::<11>(_mm256_and_si256(t, _mm256_set1_epi16(0x800)));
        _mm256_storeu_si256(r.as_mut_ptr().add(16 * k).cast(), _mm256_or_si256(_mm256_slli_epi16::<1>(idx), s));
    }
}

/// `f()`, compiled with AVX2 and F16C (see `super::wide`).
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn wide<R>(f: impl FnOnce() -> R) -> R {
    f()
}

// ---------------------------------------------------------------------------------------------
// Dispatch table
// ---------------------------------------------------------------------------------------------

// AVX-512 variants of some kernels for f32 outputs (after the macros they use).
mod avx512;

/// The eight modes of a kernel in [`KernelSet`] order (`super::variant`): f32, f16, bf16, bf16
/// native, then the same streaming; then the [`Stream2`] choices for f16 and bf16 outputs.
/// `set!(k, subnormal, ..)` is for kernels whose values can be subnormal: their "bf16 native"
/// slots hold the portable bf16 kernel.
macro_rules! set {
    ($k:ident, [$($m:literal),*], $f16:ident, $bf16:ident) => {{
        static SET: KernelSet = KernelSet {
            fns: [$($k::<$m> as KernelFn),*],
            stream2: [Stream2::$f16, Stream2::$bf16],
            avx512: [None; 8],
        };
        &SET
    }};
    // With AVX-512 variants (`avx512::$w`) for the outputs where they measured faster: f32 only,
    // 16-bit only, or every output.
    ($k:ident, $f16:ident, $bf16:ident, avx512 f32 $w:ident) => {
        set!($k, $f16, $bf16, avx512 [0, _, _, _, 4, _, _, _] $w)
    };
    ($k:ident, $f16:ident, $bf16:ident, avx512 half $w:ident) => {
        set!($k, $f16, $bf16, avx512 [_, 1, 2, 3, _, 5, 6, 7] $w)
    };
    ($k:ident, $f16:ident, $bf16:ident, avx512 all $w:ident) => {
        set!($k, $f16, $bf16, avx512 [0, 1, 2, 3, 4, 5, 6, 7] $w)
    };
    ($k:ident, $f16:ident, $bf16:ident, avx512 [$($m:tt),*] $w:ident) => {{
        static SET: KernelSet = KernelSet {
            fns: [$k::<0>, $k::<1>, $k::<2>, $k::<3>, $k::<4>, $k::<5>, $k::<6>, $k::<7>],
            stream2: [Stream2::$f16, Stream2::$bf16],
            avx512: [$(set!(@slot $w $m)),*],
        };
        &SET
    }};
    (@slot $w:ident _) => {
        None
    };
    (@slot $w:ident $m:literal) => {
        Some(avx512::$w::<$m> as KernelFn)
    };
    ($k:ident, subnormal, $f16:ident, $bf16:ident) => {
        set!($k, [0, 1, 2, 2, 4, 5, 6, 6], $f16, $bf16)
    };
    ($k:ident, $f16:ident, $bf16:ident) => {
        set!($k, [0, 1, 2, 3, 4, 5, 6, 7], $f16, $bf16)
    };
}

/// The kernels of type `id`, if it has fast ones. Only call them after checking AVX2 and F16C
/// (and [`has_native_bf16`] for the "bf16 native" slots).
///
/// Which kernels may use `vcvtneps2bf16`: those whose every f32 value is zero or at least 2^-126
/// in magnitude. All types scaled by f16 values (multiples of 2^-24) or UE4M3 scales (multiples
/// of 2^-10 after halving), times integers and the small dyadic constants of the IQ formats,
/// produce exact products and differences that are zero or far above 2^-126, and rounding to f32
/// keeps a nonzero value nonzero and normal. F32 and BF16 inputs can hold subnormals: those keep
/// the portable rounding. MXFP4's E8M0 scale reaches 2^-128: its kernel takes the portable
/// rounding for the blocks whose scale is that small, the native one for the others.
///
/// The [`Stream2`] choices (f16, bf16) are measured (`examples/stream_ab.rs`, docs/PERFORMANCE.md
/// section 0g): `Split` where streaming stores were faster on all threads, `Always` where they
/// were also at least as fast on one thread, `Never` where ordinary stores were faster on all
/// threads as well.
pub(super) fn kernels(id: TypeId) -> Option<&'static KernelSet> {
    Some(match id {
        0 => set!(k_f32, subnormal, Always, Always),
        1 => {
            // F16 → bf16 has its own kernel (`k_f16_to_bf16`); F16 → f32 / f16 is `k_f16`.
            static SET: KernelSet = KernelSet {
                fns: [
                    k_f16::<0>,
                    k_f16::<1>,
                    k_f16_to_bf16::<2>,
                    k_f16_to_bf16::<3>,
                    k_f16::<4>,
                    k_f16::<5>,
                    k_f16_to_bf16::<6>,
                    k_f16_to_bf16::<7>,
                ],
                stream2: [Stream2::Always, Stream2::Always],
                avx512: [None; 8],
            };
            &SET
        }
        2 => set!(k_q4_0, Split, Split),
        3 => set!(k_q4_1, Split, Split),
        6 => set!(k_q5_0, Split, Split, avx512 half k_q5_0),
        7 => set!(k_q5_1, Never, Never, avx512 half k_q5_1),
        8 => set!(k_q8_0, Always, Always),
        10 => set!(k_q2_k, Split, Split),
        11 => set!(k_q3_k, Split, Split),
        12 => set!(k_q4_k, Split, Split),
        13 => set!(k_q5_k, Split, Split, avx512 f32 k_q5_k),
        14 => set!(k_q6_k, Split, Split, avx512 half k_q6_k),
        16 => set!(k_iq2_xxs, Split, Split, avx512 half k_iq2_xxs),
        17 => set!(k_iq2_xs, Always, Always, avx512 half k_iq2_xs),
        18 => set!(k_iq3_xxs, Split, Split, avx512 all k_iq3_xxs),
        19 => set!(k_iq1_s, Always, Always),
        20 => set!(k_iq4_nl, Split, Split),
        21 => set!(k_iq3_s, Always, Always, avx512 all k_iq3_s),
        22 => set!(k_iq2_s, Always, Always, avx512 half k_iq2_s),
        23 => set!(k_iq4_xs, Split, Split),
        29 => set!(k_iq1_m, Always, Always),
        30 => set!(k_bf16, subnormal, Always, Always),
        34 => set!(k_tq1_0, Never, Never, avx512 f32 k_tq1_0),
        35 => set!(k_tq2_0, Split, Split),
        39 => set!(k_mxfp4, Split, Never),
        40 => set!(k_nvfp4, Never, Never),
        41 => set!(k_q1_0, Split, Split),
        42 => set!(k_q2_0, Split, Split),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::float::f32_to_bf16;

    /// `vcvtneps2bf16` on `bits` (eight at a time), against the portable rounding: equal for
    /// every input that is not subnormal, a signed zero for the subnormal ones.
    fn check_native(bits: impl Iterator<Item = u32>) -> usize {
        let bits: Vec<u32> = bits.collect();
        let mut checked = 0;
        for c in bits.chunks(8) {
            let mut v = [0u32; 8];
            v[..c.len()].copy_from_slice(c);
            let mut got = [0u16; 8];
            // SAFETY: only called after `has_native_bf16()` (which implies AVX2 on every CPU
            // with AVX-512) — see the tests below; the buffers are eight lanes.
            unsafe {
                let r = bf16x8_native(_mm256_loadu_ps(v.as_ptr().cast()));
                _mm_storeu_si128(got.as_mut_ptr().cast(), r);
            }
            for (&b, &g) in c.iter().zip(&got) {
                let subnormal = b & 0x7f80_0000 == 0 && b & 0x007f_ffff != 0;
                let want = if subnormal { (b >> 16) as u16 & 0x8000 } else { f32_to_bf16(f32::from_bits(b)) };
                assert_eq!(g, want, "vcvtneps2bf16({b:#010x})");
                checked += 1;
            }
        }
        checked
    }

    /// [`ksigns_v`] equals `KSIGNS_IQ2XS` for every 7-bit input, in 16- and 32-bit lanes.
    #[test]
    fn ksigns_computed_equals_the_table() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("SKIPPED: no AVX2");
            return;
        }
        for base in (0..128u16).step_by(16) {
            let mut w16 = [0u16; 16];
            let mut w32 = [0u32; 8];
            // SAFETY: AVX2 checked above; the buffers are 32 bytes.
            unsafe {
                let v16 = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                let v16 = _mm256_add_epi16(v16, _mm256_set1_epi16(base as i16));
                _mm256_storeu_si256(w16.as_mut_ptr().cast(), ksigns_v(v16));
                let v32 = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(base as i32));
                _mm256_storeu_si256(w32.as_mut_ptr().cast(), ksigns_v(v32));
            }
            for (i, &w) in w16.iter().enumerate() {
                assert_eq!(w, KSIGNS_IQ2XS[base as usize + i] as u16, "ksigns({})", base as usize + i);
            }
            for (i, &w) in w32.iter().enumerate() {
                assert_eq!(w, KSIGNS_IQ2XS[base as usize + i] as u32, "ksigns({})", base as usize + i);
            }
        }
    }

    fn native_available() -> bool {
        let ok = std::is_x86_feature_detected!("avx2") && has_native_bf16();
        if !ok {
            eprintln!("SKIPPED: this CPU has no AVX512-BF16 (vcvtneps2bf16): nothing to check");
        }
        ok
    }

    /// Every exponent's rounding boundaries, infinities, zeros, NaNs with assorted payloads,
    /// subnormals and a million random patterns.
    #[test]
    fn native_bf16_matches_the_portable_rounding() {
        if !native_available() {
            return;
        }
        let mut v = Vec::new();
        for sign in [0u32, 0x8000_0000] {
            for e in 0..256u32 {
                for m in [0u32, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x1_0000, 0x1_7fff, 0x1_8000, 0x40_0000, 0x7f_ffff] {
                    v.push(sign | (e << 23) | m);
                }
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(x as u32);
        }
        assert_eq!(check_native(v.into_iter()), 2 * 256 * 11 + 1_000_000);
    }

    /// All 2^32 inputs (release: `cargo test --release --lib simd::x86_64 -- --ignored`).
    #[test]
    #[ignore]
    fn bf16_native_exhaustive() {
        if !native_available() {
            return;
        }
        for hi in 0..256u32 {
            check_native((0..1u32 << 24).map(|lo| (hi << 24) | lo));
        }
    }
}
