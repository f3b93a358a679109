//! AVX-512 variants of AVX2 kernels, for f32 outputs: sixteen values per vector and one
//! 64-byte store per cache line where the AVX2 kernels use two 32-byte (or four 16-byte)
//! stores. The values are the AVX2 kernels' — the same f32 operations per value in the same
//! order, only on wider vectors — so the bits are the same (checked against the scalar oracles
//! and the AVX2 kernels by `tests/simd_vs_scalar.rs`, which runs both).
//!
//! Why: on one thread a decode into fresh memory is limited by how fast one core fills lines
//! with streaming stores while it computes; on the development machine (Zen 4) Q5_K → f32 at
//! 32 Mi elements measured 82% of the one-thread streaming line with the AVX2 kernel and 90% with
//! this one (medians of eight alternated runs; docs/PERFORMANCE.md, section 0j).
//!
//! Every function is `unsafe` with the AVX2 + F16C + AVX512F/BW/VL/DQ target features: callers
//! must have checked them at run time (`super::super::avx512()`), and pass pointers valid for
//! the block counts they give (the contract of the parent module).

use std::arch::x86_64::*;

use super::{es, finish, k4_scales, q5_k_values, stream16, STREAM};

/// Sixteen values `d * q - m` of the sixteen unsigned bytes of `q` (the AVX2 kernels'
/// `put16_affine` values: one multiply, then one subtraction, per value).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn affine16(q: __m128i, d: __m512, m: __m512) -> __m512 {
    _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q))), m)
}

/// 128-bit lane `i` (0..4) of `v`.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn lane(v: __m512, i: usize) -> __m128 {
    match i {
        0 => _mm512_castps512_ps128(v),
        1 => _mm512_extractf32x4_ps::<1>(v),
        2 => _mm512_extractf32x4_ps::<2>(v),
        _ => _mm512_extractf32x4_ps::<3>(v),
    }
}

/// Store the 64 f32 values `v` (in order) at `y`, in mode `M` (f32 outputs only). Streaming
/// (`y` 16-byte aligned, as the streaming modes guarantee): every whole cache line of the 256
/// bytes with one 64-byte streaming store; where `y` is not 64-byte aligned (malloc's large
/// blocks start 16 bytes past a page) the lines are realigned with `valignd` and the partial
/// lines at both ends are written with 16-byte streaming stores.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn put64<const M: u8>(y: *mut u8, v: [__m512; 4]) {
    debug_assert_eq!(M & 3, 0, "f32 outputs only");
    if M & STREAM == 0 {
        for (k, &v) in v.iter().enumerate() {
            _mm512_storeu_ps(y.add(64 * k).cast(), v);
        }
        return;
    }
    match (y as usize / 16) % 4 {
        0 => {
            for (k, &v) in v.iter().enumerate() {
                _mm512_stream_ps(y.add(64 * k).cast(), v);
            }
        }
        1 => realigned::<12>(y, v),
        2 => realigned::<8>(y, v),
        _ => realigned::<4>(y, v),
    }
}

/// [`put64`] with streaming stores at a `y` that is `64 - 4 * H` bytes before a line boundary:
/// `H` values (a multiple of four) before the first line, three whole lines, `16 - H` after.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn realigned<const H: i32>(y: *mut u8, v: [__m512; 4]) {
    let h = H as usize;
    for i in 0..h / 4 {
        stream16(y.add(16 * i), lane(v[0], i));
    }
    for k in 0..3 {
        // Values h.. of v[k], then 0..h of v[k + 1].
        let line = _mm512_alignr_epi32::<H>(_mm512_castps_si512(v[k + 1]), _mm512_castps_si512(v[k]));
        _mm512_stream_ps(y.add(4 * h + 64 * k).cast(), _mm512_castsi512_ps(line));
    }
    for i in h / 4..4 {
        stream16(y.add(192 + 16 * i), lane(v[3], i));
    }
}

/// Q5_K → f32: the block loop and scales of the AVX2 kernel ([`super::k_q5_k`]), sixteen values
/// per vector.
// SAFETY: the parent module's contract: `src` valid for nb * 176 bytes, `dst` for nb * 256 * 4
// bytes (16-byte aligned in the streaming mode); every load and store stays inside block `b`
// (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_q5_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    k4_blocks!(M, src, nb, dst, 176, q5_k_part);
}

/// Elements 64c..64c+64 of the Q5_K block at `x` into `y` (the block's output).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn q5_k_part<const M: u8>(x: *const u8, y: *mut u8, c: usize, dl: &[f32; 8], ml: &[f32; 8]) {
    let (d1, m1) = (_mm512_set1_ps(dl[2 * c]), _mm512_set1_ps(ml[2 * c]));
    let (d2, m2) = (_mm512_set1_ps(dl[2 * c + 1]), _mm512_set1_ps(ml[2 * c + 1]));
    let (lo, hi) = q5_k_values(x, c);
    let v = [
        affine16(_mm256_castsi256_si128(lo), d1, m1),
        affine16(_mm256_extracti128_si256::<1>(lo), d1, m1),
        affine16(_mm256_castsi256_si128(hi), d2, m2),
        affine16(_mm256_extracti128_si256::<1>(hi), d2, m2),
    ];
    put64::<M>(y.add(64 * c * es(M)), v);
}
