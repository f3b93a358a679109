//! Fast I2_S quantization and dequantization (canonical [`I2sLayout::Group128`]), with the scalar
//! oracles beside them. The AVX2 kernels live in [`super::simd_x86`] and are bit-exact with the
//! functions here; they are used when [`crate::quant::simd::level`] reports AVX2 (so
//! `BG_FORCE_SCALAR=1` turns them off). [`I2sLayout::Group64`] always takes the scalar path.
//!
//! Quantization is two passes over the input, both streaming (absmean on large inputs: one read,
//! the second pass replaced by a patch of the few elements near the threshold,
//! [`super::i2s_onepass`]):
//! 1. the scale: [`abs_sum`] for absmean (then `mean = max(sum/n, 1e-5)` rounded once to f32,
//!    exactly as [`super::absmean`], which calls [`abs_sum`]), or [`max_abs`] for sign-max;
//! 2. the codes, packed straight into the 128-element / 32-byte blocks, without a trit vector:
//!    - absmean: `t = clamp(round_half_even(x / s), −1, 1)` is `sign(x)` when `|x| > s/2` and 0
//!      otherwise. For f32 `x` and `s` the f64 quotient `x/s` rounds to exactly 0.5 only when
//!      `2|x| == s` (the exact quotient of two 24-bit-mantissa numbers is either 0.5 or at least
//!      2^-26 away from it, far more than the f64 rounding error), and `s/2` is exact in f32
//!      (`s ≥ 1e-5` is normal), so the comparison `|x| > s*0.5` in f32 gives the same trits as
//!      the division (checked against [`super::absmean`] in the tests, ties included);
//!    - sign-max (bitnet.cpp `quantize_i2_s`): `|x| < 1e-6` compared in f64 is `|x| ≤ 1e-6f32`
//!      in f32 (1e-6f32 is 9.99999997e-7 < 1e-6, the next f32 is above), so on the bits:
//!      `a = bits & 0x7fffffff`; `a ≤ bits(1e-6f32)` → code 1; else a clear sign bit and not NaN
//!      (`a ≤ 0x7f800000`) → code 2 (`x * max > 0` since `max ≥ |x| > 0`); else code 0 (negative
//!      or NaN).

use super::i2s::{decode_i2s_layout, i2s_nbytes, I2sLayout, TailFill};
use super::i2s_onepass::{one_pass, sample_len, OnePass, PIECE};
use super::{absmean, check_dst, invalid, scale_record, Ternarizer, ABSMEAN_MIN_SCALE};
use crate::error::Result;
use crate::quant::float::{bf16_to_f32, f16_to_f32};

/// Number of f64 partial sums of [`abs_sum`].
pub const SUM_LANES: usize = 16;

/// `Σ |w_e|` in f64, in a fixed order that SIMD can follow: element `e` is added (widened to
/// f64, in increasing `e`) to partial sum `e % 16`; then the 16 partial sums are combined as
/// `p[i] += p[i + w]` for `w = 8, 4, 2, 1` (i < w), and `p[0]` is the result.
pub fn abs_sum(w: &[f32]) -> f64 {
    combine_lanes(abs_sum_lanes(w, [0.0; SUM_LANES]))
}

/// The partial sums of [`abs_sum`] continued from `lanes` with `w` (whose first element counts
/// as element 0: pieces of a longer input keep the order when every piece but the last has a
/// multiple of 16 elements).
pub fn abs_sum_lanes(w: &[f32], lanes: [f64; SUM_LANES]) -> [f64; SUM_LANES] {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: AVX2 was detected at run time (`use_avx2`).
        return unsafe { super::simd_x86::abs_sum_lanes(w, lanes) };
    }
    abs_sum_lanes_scalar(w, lanes)
}

/// The scalar oracle of [`abs_sum_lanes`].
pub fn abs_sum_lanes_scalar(w: &[f32], mut lanes: [f64; SUM_LANES]) -> [f64; SUM_LANES] {
    for (e, &x) in w.iter().enumerate() {
        lanes[e % SUM_LANES] += (x as f64).abs();
    }
    lanes
}

/// The fixed combination of the partial sums.
pub fn combine_lanes(mut p: [f64; SUM_LANES]) -> f64 {
    let mut w = SUM_LANES / 2;
    while w > 0 {
        for i in 0..w {
            p[i] += p[i + w];
        }
        w /= 2;
    }
    p[0]
}

/// `max |x|` over the non-NaN elements (C `fmax` semantics: NaNs are skipped), 0 when there are
/// none. Exact (no rounding), so any evaluation order gives the same value.
pub fn max_abs(w: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: AVX2 was detected at run time.
        return f32::from_bits(unsafe { super::simd_x86::max_abs_bits(w) });
    }
    f32::from_bits(max_abs_bits_scalar(w))
}

/// Scalar oracle of [`max_abs`], on the bits: the largest `bits & 0x7fffffff` that is not a NaN.
pub fn max_abs_bits_scalar(w: &[f32]) -> u32 {
    w.iter().map(|x| x.to_bits() & 0x7fff_ffff).filter(|&a| a <= INF_BITS).max().unwrap_or(0)
}

/// The bits of +∞; a larger `bits & 0x7fffffff` is a NaN.
pub const INF_BITS: u32 = 0x7f80_0000;
/// The bits of `1e-6f32`: sign-max treats `|x| ≤` this as zero.
pub const SIGN_MAX_TINY_BITS: u32 = 0x358637bd;

/// How pass 2 turns an element into a code (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CodeRule {
    /// Absmean: `|x| > half` → sign, else 0. `half = scale * 0.5`.
    Threshold {
        /// Half the scale.
        half: f32,
    },
    /// Sign-max on the bits.
    SignMax,
}

/// The 2-bit code of one element (scalar oracle of the packers).
#[inline]
pub fn code_of(x: f32, rule: CodeRule) -> u8 {
    match rule {
        CodeRule::Threshold { half } => {
            if x.abs() > half {
                if x.is_sign_negative() {
                    0
                } else {
                    2
                }
            } else {
                1
            }
        }
        CodeRule::SignMax => {
            let b = x.to_bits();
            let a = b & 0x7fff_ffff;
            if a <= SIGN_MAX_TINY_BITS {
                1
            } else if b >> 31 == 0 && a <= INF_BITS {
                2
            } else {
                0
            }
        }
    }
}

/// Pack whole 128-element blocks of `w` into `out` (`w.len() / 4` bytes) in the canonical layout
/// (scalar oracle).
pub fn pack_group128_scalar(w: &[f32], rule: CodeRule, out: &mut [u8]) {
    for (blk, o) in w.chunks_exact(128).zip(out.chunks_exact_mut(32)) {
        for (p, b) in o.iter_mut().enumerate() {
            *b = code_of(blk[p], rule) << 6
                | code_of(blk[32 + p], rule) << 4
                | code_of(blk[64 + p], rule) << 2
                | code_of(blk[96 + p], rule);
        }
    }
}

/// Pack into any layout (scalar).
fn pack_scalar(w: &[f32], rule: CodeRule, layout: I2sLayout, out: &mut [u8]) {
    let g = layout.group();
    for (blk, o) in w.chunks_exact(4 * g).zip(out.chunks_exact_mut(g)) {
        for (p, b) in o.iter_mut().enumerate() {
            *b = code_of(blk[p], rule) << 6
                | code_of(blk[g + p], rule) << 4
                | code_of(blk[2 * g + p], rule) << 2
                | code_of(blk[3 * g + p], rule);
        }
    }
}

/// Pack with the fastest available path.
pub(super) fn pack(w: &[f32], rule: CodeRule, layout: I2sLayout, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if layout == I2sLayout::Group128 && use_avx2() {
        // SAFETY: AVX2 detected; `out` holds `w.len() / 4` bytes (checked by the callers).
        unsafe { super::simd_x86::pack_group128(w, rule, out) };
        return;
    }
    pack_scalar(w, rule, layout, out)
}

/// Absmean's scale and rule from `sum` ([`abs_sum`] of `w`). A non-finite sum comes from a NaN
/// or an infinity (a sum of finite f32 magnitudes cannot overflow f64): the reference path finds
/// and names the element.
fn absmean_rule(sum: f64, w: &[f32]) -> Result<(f32, CodeRule)> {
    if !sum.is_finite() {
        absmean(w)?;
    }
    let mean = if w.is_empty() { 0.0 } else { sum / w.len() as f64 };
    let scale = mean.max(ABSMEAN_MIN_SCALE) as f32;
    Ok((scale, CodeRule::Threshold { half: scale * 0.5 }))
}

/// The scale and the code rule of `how` for `w`. Absmean rejects non-finite inputs (the error of
/// [`absmean`], naming the element).
pub fn scale_and_rule(w: &[f32], how: Ternarizer) -> Result<(f32, CodeRule)> {
    match how {
        Ternarizer::Absmean => absmean_rule(abs_sum(w), w),
        Ternarizer::SignMax => Ok((max_abs(w), CodeRule::SignMax)),
    }
}

/// Quantize f32 weights to I2_S into `dst` (exactly `n/4 + 32` bytes): the same bytes as
/// [`super::quantize_i2s`]. Returns the scale. Absmean on large inputs (`i2s_onepass::one_pass`) reads
/// the input once ([`super::i2s_onepass`]). On error `dst` holds no codes: it is untouched, or
/// (a non-finite weight, found when the one pass had begun) its payload bytes are zero.
pub fn quantize_i2s_into(w: &[f32], how: Ternarizer, layout: I2sLayout, tail: TailFill, dst: &mut [u8]) -> Result<f32> {
    let need = i2s_nbytes(w.len(), layout)?;
    if dst.len() != need {
        return Err(invalid(format!(
            "an {}-element I2_S tensor needs {need} bytes, the buffer has {}",
            w.len(),
            dst.len()
        )));
    }
    let n4 = w.len() / 4;
    let scale = match how {
        // The codes do not depend on the scale: one pass, piece by piece (the max of a piece is
        // read while it is still in the cache).
        Ternarizer::SignMax => {
            let mut max = 0u32;
            for (piece, o) in w.chunks(HALF_CHUNK).zip(dst[..n4].chunks_mut(HALF_CHUNK / 4)) {
                max = max.max(max_abs(piece).to_bits());
                pack(piece, CodeRule::SignMax, layout, o);
            }
            f32::from_bits(max)
        }
        Ternarizer::Absmean if one_pass(w.len()) => {
            // One read of the input (`i2s_onepass`).
            let s = sample_len(w.len());
            let mut one = OnePass::new(abs_sum_lanes(&w[..s], [0.0; SUM_LANES]), s, w.len(), layout);
            for (i, (piece, o)) in w.chunks(PIECE).zip(dst[..n4].chunks_mut(PIECE / 4)).enumerate() {
                one.feed(piece, i * PIECE, o);
            }
            let (scale, rule) = absmean_rule(one.sum(), w).inspect_err(|_| dst.fill(0))?;
            let CodeRule::Threshold { half } = rule else { unreachable!("absmean's rule") };
            if !one.finish(half, &mut dst[..n4]) {
                pack(w, rule, layout, &mut dst[..n4]);
            }
            scale
        }
        Ternarizer::Absmean => {
            let (scale, rule) = scale_and_rule(w, how)?;
            pack(w, rule, layout, &mut dst[..n4]);
            scale
        }
    };
    dst[n4..].copy_from_slice(&scale_record(scale, tail == TailFill::Replicate));
    Ok(scale)
}

/// [`quantize_i2s_into`] into a new vector.
pub fn quantize_i2s_fast(w: &[f32], how: Ternarizer, layout: I2sLayout, tail: TailFill) -> Result<Vec<u8>> {
    let mut out = vec![0u8; i2s_nbytes(w.len(), layout)?];
    quantize_i2s_into(w, how, layout, tail, &mut out)?;
    Ok(out)
}

/// A 16-bit float input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// IEEE binary16.
    F16,
    /// bfloat16.
    Bf16,
}

/// Widen little-endian halves (`src.len() == 2 * dst.len()`) to f32 (scalar oracle).
pub fn half_to_f32_scalar(src: &[u8], bf16: bool, dst: &mut [f32]) {
    for (d, h) in dst.iter_mut().zip(src.chunks_exact(2)) {
        let h = u16::from_le_bytes([h[0], h[1]]);
        *d = if bf16 { bf16_to_f32(h) } else { f16_to_f32(h) };
    }
}

pub(super) fn half_to_f32(src: &[u8], kind: Half, dst: &mut [f32]) {
    let bf16 = kind == Half::Bf16;
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: AVX2 and F16C detected (level Avx2F16c); lengths asserted inside.
        unsafe { super::simd_x86::half_to_f32(src, bf16, dst) };
        return;
    }
    half_to_f32_scalar(src, bf16, dst)
}

/// Elements widened at a time by [`quantize_i2s_half`] (a multiple of 128; 32 KiB of f32): the
/// one-pass path's piece.
const HALF_CHUNK: usize = PIECE;

/// Quantize f16 / bf16 weights (`src`: `n` little-endian halves) to I2_S: the same bytes as
/// widening everything to f32 and calling [`quantize_i2s_fast`], but in cache-sized pieces
/// (two passes over `src`, no f32 copy of the tensor).
pub fn quantize_i2s_half(
    src: &[u8],
    kind: Half,
    how: Ternarizer,
    layout: I2sLayout,
    tail: TailFill,
) -> Result<Vec<u8>> {
    if !src.len().is_multiple_of(2) {
        return Err(invalid(format!("{} bytes are not a whole number of 16-bit values", src.len())));
    }
    let n = src.len() / 2;
    let mut out = vec![0u8; i2s_nbytes(n, layout)?];
    let mut buf = vec![0.0f32; HALF_CHUNK.min(n)];
    let (scale, rule) = match how {
        Ternarizer::Absmean => {
            // Large inputs: the sample summed, then one pass ([`OnePass`]).
            let s = if one_pass(n) { sample_len(n) } else { n };
            let mut lanes = [0.0; SUM_LANES];
            for piece in src[..2 * s].chunks(2 * HALF_CHUNK) {
                let w = &mut buf[..piece.len() / 2];
                half_to_f32(piece, kind, w);
                lanes = abs_sum_lanes(w, lanes);
            }
            let mut one = (s < n).then(|| OnePass::new(lanes, s, n, layout));
            if let Some(one) = &mut one {
                for (i, (piece, o)) in
                    src.chunks(2 * HALF_CHUNK).zip(out[..n / 4].chunks_mut(HALF_CHUNK / 4)).enumerate()
                {
                    one.feed_half(piece, kind, i * HALF_CHUNK, o, &mut buf);
                }
            }
            let sum = one.as_ref().map_or_else(|| combine_lanes(lanes), OnePass::sum);
            if !sum.is_finite() {
                let mut all = vec![0.0f32; n];
                half_to_f32(src, kind, &mut all);
                return quantize_i2s_fast(&all, how, layout, tail); // names the element
            }
            let mean = if n == 0 { 0.0 } else { sum / n as f64 };
            let scale = mean.max(ABSMEAN_MIN_SCALE) as f32;
            let half = scale * 0.5;
            if one.is_some_and(|one| one.finish(half, &mut out[..n / 4])) {
                out[n / 4..].copy_from_slice(&scale_record(scale, tail == TailFill::Replicate));
                return Ok(out);
            }
            (scale, CodeRule::Threshold { half })
        }
        Ternarizer::SignMax => {
            // One pass: the codes do not depend on the scale.
            let mut max = 0u32;
            for (piece, o) in src.chunks(2 * HALF_CHUNK).zip(out[..n / 4].chunks_mut(HALF_CHUNK / 4)) {
                let w = &mut buf[..piece.len() / 2];
                half_to_f32(piece, kind, w);
                max = max.max(max_abs(w).to_bits());
                pack(w, CodeRule::SignMax, layout, o);
            }
            let n4 = n / 4;
            out[n4..].copy_from_slice(&scale_record(f32::from_bits(max), tail == TailFill::Replicate));
            return Ok(out);
        }
    };
    let n4 = n / 4;
    for (piece, o) in src.chunks(2 * HALF_CHUNK).zip(out[..n4].chunks_mut(HALF_CHUNK / 4)) {
        let w = &mut buf[..piece.len() / 2];
        half_to_f32(piece, kind, w);
        pack(w, rule, layout, o);
    }
    out[n4..].copy_from_slice(&scale_record(scale, tail == TailFill::Replicate));
    Ok(out)
}

/// Outputs of at least this many bytes are written with streaming (non-temporal) stores when
/// 32-byte aligned: they would not stay in the caches anyway, and streaming stores skip the
/// read-for-ownership (the same threshold as `quant::output::STREAM_MIN_BYTES`).
pub const STREAM_MIN_BYTES: usize = crate::quant::output::STREAM_MIN_BYTES;

/// Decode a whole I2_S tensor (as [`super::decode_i2s_layout`], same values, same errors) with
/// the fast path where there is one.
pub fn decode_i2s_fast(src: &[u8], n: usize, layout: I2sLayout, dst: &mut [f32]) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if layout == I2sLayout::Group128 && use_avx2() && dst.len() == n && src.len() == i2s_nbytes(n, layout)? {
        let payload = &src[..n / 4];
        // SAFETY: AVX2 detected.
        if unsafe { super::simd_x86::any_code3(payload) } {
            return decode_i2s_layout(src, n, layout, dst); // names the element and byte
        }
        let lut = super::value_lut(super::read_f32(src, n / 4));
        // SAFETY: AVX2 detected; `payload` is whole 32-byte blocks (n % 128 == 0, checked by
        // i2s_nbytes) and `dst` holds 4 elements per byte (checked above).
        unsafe {
            super::simd_x86::unpack_group128(payload, lut, dst, 4 * n >= STREAM_MIN_BYTES, crate::quant::simd::avx512())
        };
        return Ok(());
    }
    check_dst(dst.len(), n)?;
    decode_i2s_layout(src, n, layout, dst)
}

/// Unpack whole canonical blocks with a known value table (scalar oracle of the AVX2 unpacker;
/// the payload must not contain code 3).
pub fn unpack_group128_scalar(payload: &[u8], lut: [f32; 3], dst: &mut [f32]) {
    for (blk, out) in payload.chunks_exact(32).zip(dst.chunks_exact_mut(128)) {
        for (p, &b) in blk.iter().enumerate() {
            out[p] = lut[(b >> 6) as usize];
            out[32 + p] = lut[((b >> 4) & 3) as usize];
            out[64 + p] = lut[((b >> 2) & 3) as usize];
            out[96 + p] = lut[(b & 3) as usize];
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn use_avx2() -> bool {
    crate::quant::simd::level() == crate::quant::simd::Level::Avx2F16c
}

/// The fast kernels called directly, for the SIMD-vs-scalar tests and benches: `None` when this
/// CPU (or `BG_FORCE_SCALAR`) gives no fast path.
pub mod fast {
    use super::*;

    /// AVX2 partial sums of [`abs_sum`].
    pub fn abs_sum_lanes(w: &[f32]) -> Option<[f64; SUM_LANES]> {
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            // SAFETY: AVX2 detected.
            return Some(unsafe { super::super::simd_x86::abs_sum_lanes(w, [0.0; SUM_LANES]) });
        }
        let _ = w;
        None
    }

    /// AVX2 [`max_abs_bits_scalar`].
    pub fn max_abs_bits(w: &[f32]) -> Option<u32> {
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            // SAFETY: AVX2 detected.
            return Some(unsafe { super::super::simd_x86::max_abs_bits(w) });
        }
        let _ = w;
        None
    }

    /// AVX2 [`pack_group128_scalar`] (`w.len() % 128 == 0`, `out.len() == w.len() / 4`).
    pub fn pack_group128(w: &[f32], rule: CodeRule, out: &mut [u8]) -> Option<()> {
        assert!(w.len().is_multiple_of(128) && out.len() == w.len() / 4, "whole blocks");
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            // SAFETY: AVX2 detected; lengths checked above.
            unsafe { super::super::simd_x86::pack_group128(w, rule, out) };
            return Some(());
        }
        let _ = (w, rule, out);
        None
    }

    /// AVX2 [`unpack_group128_scalar`] (`payload.len() % 32 == 0`, `dst.len() == 4 * payload.len()`),
    /// with streaming stores when asked and `dst` is 32-byte aligned; with `wide`, the AVX-512
    /// unpacker where `simd::avx512()` allows it (tests name both in one process).
    pub fn unpack_group128(payload: &[u8], lut: [f32; 3], dst: &mut [f32], streaming: bool, wide: bool) -> Option<()> {
        assert!(payload.len().is_multiple_of(32) && dst.len() == payload.len() * 4, "whole blocks");
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            let wide = wide && crate::quant::simd::avx512();
            // SAFETY: AVX2 detected (and AVX-512 where `wide`); lengths checked above.
            unsafe { super::super::simd_x86::unpack_group128(payload, lut, dst, streaming, wide) };
            return Some(());
        }
        let _ = (payload, lut, dst, streaming, wide);
        None
    }

    /// AVX2 [`unpack_group128_scalar`] stored as `out` into `dst` (`4 * payload.len()` elements
    /// of `out.size()` bytes, any alignment): f16 / bf16 look up the 16-bit patterns of the three
    /// values ([`super::super::out_values`]), so the bits are those of the f32 values stored by
    /// `output::store_scalar`. Streaming stores when asked and `dst` is 16-byte aligned; `wide`
    /// as [`unpack_group128`].
    pub fn unpack_group128_out(
        payload: &[u8],
        lut: [f32; 3],
        out: crate::quant::output::OutType,
        dst: &mut [u8],
        streaming: bool,
        wide: bool,
    ) -> Option<()> {
        assert!(
            payload.len().is_multiple_of(32) && dst.len() as u64 == payload.len() as u64 * 4 * out.size(),
            "whole blocks"
        );
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            let values = super::super::out_values(lut, out);
            let half = out != crate::quant::output::OutType::F32;
            let wide = wide && crate::quant::simd::avx512();
            // SAFETY: AVX2 detected (and AVX-512 where `wide`); lengths checked above; 16-bit
            // patterns are < 2^16.
            unsafe { super::super::simd_x86::unpack_group128_bits(payload, values, half, dst, streaming, wide) };
            return Some(());
        }
        let _ = (payload, lut, out, dst, streaming, wide);
        None
    }

    /// AVX2 "any byte holds code 3".
    pub fn any_code3(payload: &[u8]) -> Option<bool> {
        #[cfg(target_arch = "x86_64")]
        if use_avx2() {
            // SAFETY: AVX2 detected.
            return Some(unsafe { super::super::simd_x86::any_code3(payload) });
        }
        let _ = payload;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::i2s::quantize_i2s;
    use super::super::testutil::Rng;
    use super::super::{decode_i2s, sign_max};
    use super::*;
    use crate::quant::output::OutType;

    fn gaussian(rng: &mut Rng, n: usize, sigma: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let u1 = ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                let u2 = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
                ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32 * sigma
            })
            .collect()
    }

    /// Awkward values: ties at exactly s/2, neighbours of the thresholds, zeros of both signs,
    /// NaN, ±inf, 1e-6 and its neighbours, subnormals.
    fn awkward(rng: &mut Rng, n: usize, half: f32) -> Vec<f32> {
        let specials = [
            half,
            -half,
            f32::from_bits(half.to_bits() + 1),
            -f32::from_bits(half.to_bits() + 1),
            f32::from_bits(half.to_bits().saturating_sub(1)),
            0.0,
            -0.0,
            1e-6,
            -1e-6,
            f32::from_bits(1e-6f32.to_bits() + 1),
            -f32::from_bits(1e-6f32.to_bits() + 1),
            f32::from_bits(1e-6f32.to_bits() - 1),
            f32::from_bits(1),
            -f32::from_bits(1),
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            -f32::MAX,
        ];
        (0..n)
            .map(|_| {
                if rng.below(3) == 0 {
                    specials[rng.below(specials.len() as u64) as usize]
                } else {
                    f32::from_bits(rng.next() as u32)
                }
            })
            .collect()
    }

    #[test]
    fn sign_max_codes_match_the_f64_definition() {
        let mut rng = Rng(7);
        let w = awkward(&mut rng, 128 * 40, 0.25);
        let t = sign_max(&w);
        for (x, &tr) in w.iter().zip(&t.trits) {
            assert_eq!(code_of(*x, CodeRule::SignMax) as i8 - 1, tr, "x = {x:e} ({:#x})", x.to_bits());
        }
        assert_eq!(max_abs(&w).to_bits(), t.scale.to_bits());
        assert_eq!(1e-6f32.to_bits(), SIGN_MAX_TINY_BITS);
    }

    #[test]
    fn fast_quantizer_equals_the_reference_quantizer() {
        let mut rng = Rng(11);
        for &n in &[0usize, 128, 256, 128 * 7, 128 * 33, 4096 + 128] {
            for sigma in [1.0f32, 0.02, 3e-6] {
                let mut w = gaussian(&mut rng, n, sigma);
                // Exact ties at s/2 and its neighbours, computed from the real scale.
                if n > 0 {
                    let s = absmean(&w).unwrap().scale;
                    let h = s * 0.5;
                    for (i, v) in [h, -h, f32::from_bits(h.to_bits() + 1), f32::from_bits(h.to_bits() - 1)]
                        .into_iter()
                        .enumerate()
                    {
                        w[(i * 37) % n] = v;
                    }
                }
                for how in [Ternarizer::Absmean, Ternarizer::SignMax] {
                    for layout in [I2sLayout::Group128, I2sLayout::Group64] {
                        let want = quantize_i2s(&w, how, layout, TailFill::Replicate).unwrap();
                        let got = quantize_i2s_fast(&w, how, layout, TailFill::Replicate).unwrap();
                        assert_eq!(got, want, "n={n} sigma={sigma} {how:?} {layout:?}");
                    }
                }
            }
        }
        // Sign-max on NaN / ±0 / inf / 1e-6 inputs.
        let w = awkward(&mut rng, 128 * 16, 0.5);
        let want = quantize_i2s(&w, Ternarizer::SignMax, I2sLayout::Group128, TailFill::Zero).unwrap();
        assert_eq!(quantize_i2s_fast(&w, Ternarizer::SignMax, I2sLayout::Group128, TailFill::Zero).unwrap(), want);
        // Absmean rejects non-finite inputs with the same message.
        let mut w = gaussian(&mut rng, 256, 1.0);
        w[200] = f32::NAN;
        let e1 = quantize_i2s(&w, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap_err();
        let e2 = quantize_i2s_fast(&w, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap_err();
        assert_eq!(e1.message(), e2.message());
        w[200] = f32::NEG_INFINITY;
        assert!(quantize_i2s_fast(&w, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).is_err());
    }

    #[test]
    fn simd_kernels_are_bit_exact_with_the_scalar_oracles() {
        let mut rng = Rng(3);
        for &n in &[0usize, 1, 15, 16, 17, 100, 128, 1000, 128 * 50 + 3] {
            let w = awkward(&mut rng, n, 0.125);
            let g = gaussian(&mut rng, n, 0.5);
            for v in [&w, &g] {
                if let Some(l) = fast::abs_sum_lanes(v) {
                    let s = abs_sum_lanes_scalar(v, [0.0; SUM_LANES]);
                    for (a, b) in l.iter().zip(&s) {
                        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "n={n}");
                    }
                }
                if let Some(m) = fast::max_abs_bits(v) {
                    assert_eq!(m, max_abs_bits_scalar(v), "n={n}");
                }
            }
        }
        for blocks in [1usize, 2, 9, 64] {
            let n = blocks * 128;
            for half in [0.0f32, 0.125, 1e-3] {
                let w = awkward(&mut rng, n, half);
                for rule in [CodeRule::Threshold { half }, CodeRule::SignMax] {
                    let mut want = vec![0u8; n / 4];
                    pack_group128_scalar(&w, rule, &mut want);
                    let mut got = vec![0xeeu8; n / 4];
                    if fast::pack_group128(&w, rule, &mut got).is_some() {
                        assert_eq!(got, want, "{rule:?}");
                    }
                }
            }
            let payload: Vec<u8> = (0..n / 4)
                .map(|_| {
                    let b = rng.next() as u8;
                    b & !(b & (b >> 1) & 0x55) // clear one bit of every code 3
                })
                .collect();
            for scale in [0.3f32, -2.0, f32::NAN, f32::INFINITY, 0.0] {
                let lut = crate::quant::bitnet::value_lut(scale);
                let mut want = vec![0.0f32; n];
                unpack_group128_scalar(&payload, lut, &mut want);
                // The AVX2 unpacker and, where the CPU has AVX-512, the wide one.
                for (streaming, wide) in [(false, false), (true, false), (false, true), (true, true)] {
                    // A 16-byte-aligned destination (f32 vectors are 4-aligned: offset by hand),
                    // and one 16 bytes further (the realigned stores).
                    for extra in [0, 4] {
                        let mut buf = vec![1.0f32; n + 8];
                        let off = (4 - (buf.as_ptr() as usize % 16) / 4) % 4 + extra;
                        let got = &mut buf[off..off + n];
                        if fast::unpack_group128(&payload, lut, got, streaming, wide).is_some() {
                            assert!(
                                want.iter().zip(got.iter()).all(|(a, b)| a.to_bits() == b.to_bits()),
                                "n {n} scale {scale} streaming {streaming} wide {wide} +{extra}"
                            );
                        }
                        assert!(buf[..off].iter().chain(&buf[off + n..]).all(|&v| v == 1.0), "wrote outside");
                    }
                    // 16-bit outputs: the scalar stores of the same f32 values.
                    for out in [OutType::F16, OutType::Bf16] {
                        let mut want16 = vec![0u8; 2 * n];
                        crate::quant::output::store_scalar(out, &want, &mut want16);
                        for d_off in [0usize, 2, 16] {
                            let mut buf = vec![0x5au8; 2 * n + 64];
                            let base = (64 - buf.as_ptr() as usize % 64) % 64 + d_off;
                            let got = &mut buf[base..base + 2 * n];
                            if fast::unpack_group128_out(&payload, lut, out, got, streaming, wide).is_some() {
                                assert_eq!(
                                    got,
                                    &want16[..],
                                    "{out:?} n {n} streaming {streaming} wide {wide} +{d_off}"
                                );
                            }
                            assert!(buf[..base].iter().chain(&buf[base + 2 * n..]).all(|&v| v == 0x5a));
                        }
                    }
                }
            }
            let mut bad = payload.clone();
            assert!(!fast::any_code3(&bad).unwrap_or(false));
            let at = rng.below(bad.len() as u64) as usize;
            bad[at] |= 0x0c;
            if let Some(any) = fast::any_code3(&bad) {
                assert!(any);
            }
        }
    }

    #[test]
    fn half_inputs_quantize_like_their_f32_widening() {
        let mut rng = Rng(9);
        for &n in &[128usize, 128 * 3, HALF_CHUNK, HALF_CHUNK + 128 * 5, 3 * HALF_CHUNK] {
            let f = gaussian(&mut rng, n, 0.05);
            for kind in [Half::F16, Half::Bf16] {
                let mut bytes: Vec<u8> = f
                    .iter()
                    .flat_map(|&x| {
                        let h = if kind == Half::F16 {
                            crate::quant::float::f32_to_f16(x)
                        } else {
                            crate::quant::float::f32_to_bf16(x)
                        };
                        h.to_le_bytes()
                    })
                    .collect();
                // Signed zeros, a NaN and an infinity for sign-max.
                bytes[2..4].copy_from_slice(&0x8000u16.to_le_bytes());
                let mut widened = vec![0.0f32; n];
                half_to_f32_scalar(&bytes, kind == Half::Bf16, &mut widened);
                let mut fast_w = vec![0.0f32; n];
                half_to_f32(&bytes, kind, &mut fast_w);
                assert!(widened.iter().zip(&fast_w).all(|(a, b)| a.to_bits() == b.to_bits()));
                for how in [Ternarizer::Absmean, Ternarizer::SignMax] {
                    let want = quantize_i2s(&widened, how, I2sLayout::Group128, TailFill::Zero).unwrap();
                    let got = quantize_i2s_half(&bytes, kind, how, I2sLayout::Group128, TailFill::Zero).unwrap();
                    assert_eq!(got, want, "n={n} {kind:?} {how:?}");
                }
                let nan = if kind == Half::F16 { 0x7e00u16 } else { 0x7fc0 };
                bytes[6..8].copy_from_slice(&nan.to_le_bytes());
                let inf = if kind == Half::F16 { 0xfc00u16 } else { 0xff80 };
                bytes[10..12].copy_from_slice(&inf.to_le_bytes());
                half_to_f32_scalar(&bytes, kind == Half::Bf16, &mut widened);
                let want = quantize_i2s(&widened, Ternarizer::SignMax, I2sLayout::Group128, TailFill::Zero).unwrap();
                let got =
                    quantize_i2s_half(&bytes, kind, Ternarizer::SignMax, I2sLayout::Group128, TailFill::Zero).unwrap();
                assert_eq!(got, want);
                let e = quantize_i2s_half(&bytes, kind, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero);
                assert!(e.unwrap_err().message().contains("element 3"));
            }
        }
    }

    #[test]
    fn fast_decoder_equals_the_reference_decoder() {
        let mut rng = Rng(5);
        let n = 128 * 21;
        let w = gaussian(&mut rng, n, 1.0);
        let bytes = quantize_i2s(&w, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap();
        let mut want = vec![0.0f32; n];
        decode_i2s(&bytes, n, &mut want).unwrap();
        let mut got = vec![0.0f32; n];
        decode_i2s_fast(&bytes, n, I2sLayout::Group128, &mut got).unwrap();
        assert_eq!(got, want);
        // Code 3: the same error, output untouched.
        let mut bad = bytes.clone();
        bad[77] |= 0x30;
        let e1 = decode_i2s(&bad, n, &mut want).unwrap_err();
        let mut out = vec![5.0f32; n];
        let e2 = decode_i2s_fast(&bad, n, I2sLayout::Group128, &mut out).unwrap_err();
        assert_eq!(e1.message(), e2.message());
        assert!(out.iter().all(|&v| v == 5.0));
        assert!(decode_i2s_fast(&bytes[..bytes.len() - 1], n, I2sLayout::Group128, &mut got).is_err());
        assert!(decode_i2s_fast(&bytes, n, I2sLayout::Group128, &mut got[..n - 1]).is_err());
    }
}
