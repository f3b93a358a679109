//! AVX-512 variants of AVX2 kernels: sixteen values per vector where the AVX2 kernels have
//! eight, so about half the instructions per output. The values are the AVX2 kernels' — the
//! same f32 operations per value in the same order, only on wider vectors; lattice signs as a
//! mask register under which the sign bit is flipped, where the AVX2 kernels xor a vector of
//! sign bits — so the bits are the same (checked against the scalar oracles and the AVX2
//! kernels by `tests/simd_vs_scalar.rs`, which runs both).
//!
//! Why: a decode into fresh memory is limited by how fast a core fills lines with streaming
//! stores while it computes (one thread), or by how much of the two cores the compute-heavy
//! kernels need to reach the memory line (all threads). On the development machine (Zen 4):
//! - Q5_K → f32 at 32 Mi elements, one thread: 82% of the streaming line with the AVX2 kernel,
//!   90% with this one (one 64-byte streaming store per line);
//! - the lattice and Q5_0 kernels → f16 / bf16: 5–14% faster on one thread, and up to 27 points
//!   of the line on two.
//!
//! Only the kernels and outputs where the variant measured faster use it (`super::kernels`;
//! docs/PERFORMANCE.md, section 0j).
//!
//! Every function is `unsafe` with the AVX2 + F16C + AVX512F/BW/VL/DQ target features: callers
//! must have checked them at run time (`super::super::avx512()`), and pass pointers valid for
//! the block counts they give (the contract of the parent module). The bf16 conversion
//! instruction is used only in the "bf16 native" modes, which `super::super::native_bf16()`
//! guards as for the AVX2 kernels.

use std::arch::x86_64::*;

use super::{
    bf16x8, es, finish, half, half8, iq2s_grid, iq2xs_grid, iq2xs_indices_signs, iq2xxs_grid, iq3s_grid, iq3xxs_grid,
    iq3xxs_offsets_signs, iq_db, k4_scales, ksigns_word, q5_bytes, q5_k_values, q6_k_scales, q6_k_values, row8,
    store32, stream16, tq1_values, Ahead, Iq2sTables, Iq3sTables, Row8, OUT_BF16_NATIVE, OUT_F16, OUT_F32, STREAM,
};

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

/// Store the sixteen values `v` at `y` in mode `M`: f32 (one 64-byte store; streaming where `y`
/// is 64-byte aligned, else four 16-byte streaming stores), f16 (`vcvtps2ph`) or bf16 through
/// `vcvtneps2bf16` or the portable rounding (32 bytes, as the AVX2 kernels' [`store32`]).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn put16<const M: u8>(y: *mut u8, v: __m512) {
    match M & 3 {
        OUT_F32 => {
            if M & STREAM == 0 {
                _mm512_storeu_ps(y.cast(), v);
            } else if (y as usize).is_multiple_of(64) {
                _mm512_stream_ps(y.cast(), v);
            } else {
                for i in 0..4 {
                    stream16(y.add(16 * i), lane(v, i));
                }
            }
        }
        OUT_F16 => {
            let mut h = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            // In a register, as the AVX2 kernels' `half8_of` (no memory-destination vcvtps2ph).
            std::arch::asm!("/* {h} */", h = inout(ymm_reg) h, options(pure, nomem, nostack, preserves_flags));
            store32::<M>(y, h);
        }
        OUT_BF16_NATIVE => {
            // `vcvtneps2bf16` on sixteen lanes: the AVX2 kernels' `bf16x8_native`, wider (the
            // kernels here are used for bf16 only where that is exact, as theirs).
            let h: __m256i;
            std::arch::asm!(
                "vcvtneps2bf16 {h}, {v}",
                h = out(ymm_reg) h,
                v = in(zmm_reg) v,
                options(pure, nomem, nostack, preserves_flags)
            );
            store32::<M>(y, h);
        }
        _ => {
            // The portable bf16 rounding, eight lanes at a time.
            let lo = bf16x8(_mm512_castps512_ps256(v));
            let hi = bf16x8(_mm512_extractf32x8_ps::<1>(v));
            store32::<M>(y, _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(lo), hi));
        }
    }
}

/// Sixteen grid values as f32: the four-value rows at byte offsets `o[0..4]` (16 x the row
/// index) of the `grid4_f32` table at `grid`, in that order.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn rows4(grid: *const u8, o: &[u16]) -> __m512 {
    let row = |i: usize| _mm_loadu_ps(grid.add(o[i] as usize).cast());
    let v = _mm512_castps128_ps512(row(0));
    let v = _mm512_insertf32x4::<1>(v, row(1));
    let v = _mm512_insertf32x4::<2>(v, row(2));
    _mm512_insertf32x4::<3>(v, row(3))
}

/// Sixteen grid values times `db`, their signs flipped where `mask` has a bit (bit j:
/// element j negative): the AVX2 kernels' `grid8` (a product, then the sign bit flipped),
/// sixteen lanes with the signs as a mask register.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn grid16(g: __m512, mask: __mmask16, db: __m512) -> __m512 {
    let p = _mm512_mul_ps(db, g);
    _mm512_mask_xor_ps(p, mask, p, _mm512_castsi512_ps(_mm512_set1_epi32(i32::MIN)))
}

/// Rows `a` then `b` of a `grid8_f32` table (the AVX2 kernels' `row8`, two per vector).
// SAFETY: `a` and `b` are below the table's length.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn rows2(grid: *const Row8, a: usize, b: usize) -> __m512 {
    _mm512_insertf32x8::<1>(_mm512_castps256_ps512(row8(grid, a)), row8(grid, b))
}

/// [`iq_db`] in all sixteen lanes.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn iq_db16(d: f32, s: u32, k: f32) -> __m512 {
    _mm512_broadcastss_ps(_mm256_castps256_ps128(iq_db(d, s, k)))
}

/// IQ3_S: the AVX2 kernel's steps ([`super::k_iq3_s`]: the same tables, built one block ahead,
/// and products), sixteen values per vector, the signs as a mask register (`db * g`, then the
/// sign bit flipped where the sign bit of the element is set: the AVX2 kernel's xor).
// SAFETY: the parent module's contract: `src` valid for nb * 110 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both, or in the static
// grid (every offset is `16 * index`, index < 512, inside the 512-row table).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_iq3_s<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq3s_grid();
    let mut t = Ahead::<Iq3sTables>::new(src, nb, 110);
    for b in 0..nb {
        let x = src.add(110 * b);
        let y = dst.add(256 * es(M) * b);
        let t = t.next(b);
        for ib in 0..8 {
            let db = _mm512_set1_ps(t.db[ib]);
            for h in 0..2 {
                let i = 8 * ib + 4 * h;
                let m = std::ptr::read_unaligned(x.add(74 + 4 * ib + 2 * h).cast::<u16>());
                put16::<M>(y.add((32 * ib + 16 * h) * es(M)), grid16(rows4(grid, &t.off[i..i + 4]), m, db));
            }
        }
    }
    finish::<M>();
}

/// IQ3_XXS: the AVX2 kernel's steps ([`super::k_iq3_xxs`]: the same offsets, sign words, scales
/// and products), sixteen values per vector, the signs as a mask register.
// SAFETY: the parent module's contract: `src` valid for nb * 98 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both, or in the static
// grid (every offset is `16 * index`, index < 256, inside the 256-row table).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_iq3_xxs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
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
            let db = iq_db16(d, aux >> 28, 0.5);
            for h in 0..2 {
                let v = grid16(rows4(grid, &off[8 * ib + 4 * h..]), (sw[ib] >> (16 * h)) as __mmask16, db);
                put16::<M>(y.add((32 * ib + 16 * h) * es(M)), v);
            }
        }
    }
    finish::<M>();
}

/// IQ2_XS: the AVX2 kernel's steps ([`super::k_iq2_xs`]: the same indices, sign bytes, scales
/// and products), sixteen values (two grid rows) per vector, the signs as a mask register.
// SAFETY: the parent module's contract: `src` valid for nb * 74 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both, or in the static
// grid (indices are masked to 9 bits, the grid has 512 rows).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_iq2_xs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
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
            for h in 0..2 {
                let s = if h == 0 { sc & 0xf } else { sc >> 4 };
                let i = 4 * ib + 2 * h;
                let g = rows2(grid, idx[i] as usize, idx[i + 1] as usize);
                let m = std::ptr::read_unaligned(sg.as_ptr().add(i).cast::<u16>());
                put16::<M>(y.add((32 * ib + 16 * h) * es(M)), grid16(g, m, iq_db16(d, s, 0.25)));
            }
        }
    }
    finish::<M>();
}

/// The sixteen bytes of `v` (half `H` of 32) as f32, sign-extended (`SIGNED`) or zero-extended.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn bytes16_f32<const SIGNED: bool>(v: __m256i, h: usize) -> __m512 {
    let q = if h == 0 { _mm256_castsi256_si128(v) } else { _mm256_extracti128_si256::<1>(v) };
    _mm512_cvtepi32_ps(if SIGNED { _mm512_cvtepi8_epi32(q) } else { _mm512_cvtepu8_epi32(q) })
}

/// Q5_0: the AVX2 kernel's values ([`super::k_q5_0`]: `(q5 - 16) * d`), sixteen per vector.
// SAFETY: the parent module's contract: `src` valid for nb * 22 bytes, `dst` for nb * 32 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_q5_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let s16 = _mm256_set1_epi8(16);
    for b in 0..nb {
        let x = src.add(22 * b);
        let y = dst.add(32 * es(M) * b);
        let d = _mm512_broadcastss_ps(_mm256_castps256_ps128(half8(x)));
        let qh = std::ptr::read_unaligned(x.add(2).cast::<u32>());
        let q = _mm256_sub_epi8(q5_bytes(x.add(6), qh), s16);
        for h in 0..2 {
            put16::<M>(y.add(16 * h * es(M)), _mm512_mul_ps(bytes16_f32::<true>(q, h), d));
        }
    }
    finish::<M>();
}

/// Q5_1: the AVX2 kernel's values ([`super::k_q5_1`]: `q5 * d + m`), sixteen per vector.
// SAFETY: the parent module's contract: `src` valid for nb * 24 bytes, `dst` for nb * 32 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_q5_1<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    for b in 0..nb {
        let x = src.add(24 * b);
        let y = dst.add(32 * es(M) * b);
        let d = _mm512_broadcastss_ps(_mm256_castps256_ps128(half8(x)));
        let m = _mm512_broadcastss_ps(_mm256_castps256_ps128(half8(x.add(2))));
        let qh = std::ptr::read_unaligned(x.add(4).cast::<u32>());
        let q = q5_bytes(x.add(8), qh);
        for h in 0..2 {
            let v = _mm512_add_ps(_mm512_mul_ps(bytes16_f32::<false>(q, h), d), m);
            put16::<M>(y.add(16 * h * es(M)), v);
        }
    }
    finish::<M>();
}

/// IQ2_S: the AVX2 kernel's steps ([`super::k_iq2_s`]: the same tables, built one block ahead,
/// and products), sixteen values (two grid rows) per vector, the signs as a mask register.
// SAFETY: the parent module's contract: `src` valid for nb * 82 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both, or in the static
// grid (every offset is `32 * index`, index < 1024, inside the 1024-row table).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_iq2_s<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq2s_grid().cast::<u8>();
    let mut t = Ahead::<Iq2sTables>::new(src, nb, 82);
    for b in 0..nb {
        let x = src.add(82 * b);
        let y = dst.add(256 * es(M) * b);
        let t = t.next(b);
        for ib in 0..8 {
            for h in 0..2 {
                let i = 4 * ib + 2 * h;
                let row = |l: usize| _mm256_load_ps(grid.add(t.off[i + l] as usize).cast());
                let g = _mm512_insertf32x8::<1>(_mm512_castps256_ps512(row(0)), row(1));
                let m = std::ptr::read_unaligned(x.add(34 + i).cast::<u16>());
                put16::<M>(y.add((32 * ib + 16 * h) * es(M)), grid16(g, m, _mm512_set1_ps(t.db[ib + 8 * h])));
            }
        }
    }
    finish::<M>();
}

/// Q6_K: the AVX2 kernel's values and scales ([`super::k_q6_k`]: `(d * sc) * (q6 - 32)`),
/// sixteen per vector.
// SAFETY: the parent module's contract: `src` valid for nb * 210 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_q6_k<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let mut dsc = [0f32; 16];
    for b in 0..nb {
        let x = src.add(210 * b);
        let y = dst.add(256 * es(M) * b);
        q6_k_scales(x, &mut dsc);
        for h in 0..2 {
            let qs = q6_k_values(x, h);
            for k in 0..4 {
                for (hf, qs) in qs.iter().enumerate() {
                    let dl = _mm512_set1_ps(dsc[8 * h + hf + 2 * k]);
                    let v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(qs[k])), dl);
                    put16::<M>(y.add((128 * h + 32 * k + 16 * hf) * es(M)), v);
                }
            }
        }
    }
    finish::<M>();
}

/// IQ2_XXS: the AVX2 kernel's steps ([`super::k_iq2_xxs`]: the same rows, sign bytes, scales
/// and products), sixteen values (two grid rows) per vector, the signs as a mask register.
// SAFETY: the parent module's contract: `src` valid for nb * 66 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both, or in the static
// tables (row indices are bytes, the grid has 256 rows).
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_iq2_xxs<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let grid = iq2xxs_grid();
    for b in 0..nb {
        let x = src.add(66 * b);
        let y = dst.add(256 * es(M) * b);
        let d = half(x);
        for ib in 0..8 {
            let aux0 = std::ptr::read_unaligned(x.add(2 + 8 * ib).cast::<u32>());
            let aux1 = std::ptr::read_unaligned(x.add(6 + 8 * ib).cast::<u32>());
            let db = iq_db16(d, aux1 >> 28, 0.25);
            let signs = ksigns_word(aux1);
            for h in 0..2 {
                let row = |l: usize| (aux0 >> (8 * (2 * h + l))) as u8 as usize;
                let v = grid16(rows2(grid, row(0), row(1)), (signs >> (16 * h)) as u16, db);
                put16::<M>(y.add((32 * ib + 16 * h) * es(M)), v);
            }
        }
    }
    finish::<M>();
}

/// Sixteen TQ1_0 trits `n` of the sixteen bytes in `pow` (as i32 lanes; `pow` holds
/// `b * 3^n mod 256` and is advanced to `n + 1`): the AVX2 kernels' `tq1_step`, sixteen lanes.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn tq1_step16(pow: &mut __m512i, vals: __m512) -> __m512 {
    let x = *pow;
    let x3 = _mm512_add_epi32(x, _mm512_add_epi32(x, x));
    *pow = _mm512_and_si512(x3, _mm512_set1_epi32(0xff));
    _mm512_permutexvar_ps(_mm512_srli_epi32::<8>(x3), vals)
}

/// TQ1_0: the AVX2 kernel's values ([`super::k_tq1_0`]: the same trits picking the same three
/// products `(t - 1) * d`), sixteen per vector, each vector one line of f32 in address order.
// SAFETY: the parent module's contract: `src` valid for nb * 54 bytes, `dst` for nb * 256 *
// es(M) bytes; every load and store stays inside block `b` (< nb) of both.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) unsafe fn k_tq1_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let bytes16 = |p: *const u8| _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast()));
    for b in 0..nb {
        let x = src.add(54 * b);
        let y = dst.add(256 * es(M) * b);
        let vals = _mm512_castps256_ps512(tq1_values(half8(x.add(52))));
        // qs[0..32]: trit n of byte m → element 32n + m.
        let (mut p0, mut p1) = (bytes16(x), bytes16(x.add(16)));
        for n in 0..5 {
            put16::<M>(y.add(32 * n * es(M)), tq1_step16(&mut p0, vals));
            put16::<M>(y.add((32 * n + 16) * es(M)), tq1_step16(&mut p1, vals));
        }
        // qs[32..48]: → element 160 + 16n + m.
        let mut p2 = bytes16(x.add(32));
        for n in 0..5 {
            put16::<M>(y.add((160 + 16 * n) * es(M)), tq1_step16(&mut p2, vals));
        }
        // qh[0..4]: trit n of byte j → element 240 + 4n + j: lanes 4n..4n+4 start n trits on.
        let qh = std::ptr::read_unaligned(x.add(48).cast::<u32>());
        let mut lanes = [0i32; 16];
        let mut by = qh.to_le_bytes().map(u32::from);
        for n in 0..4 {
            for j in 0..4 {
                lanes[4 * n + j] = by[j] as i32;
                by[j] = (by[j] * 3) & 0xff;
            }
        }
        let mut pow = _mm512_loadu_si512(lanes.as_ptr().cast());
        put16::<M>(y.add(240 * es(M)), tq1_step16(&mut pow, vals));
    }
    finish::<M>();
}
