//! F32, F16, BF16: decoding, and the f32 → f16 / bf16 roundings ggml uses
//! (reference/gguf-ggml.md §2.4; ggml-impl.h `ggml_compute_fp32_to_fp16`,
//! `ggml_compute_fp32_to_bf16`).

use super::{Decoder, Encoder};
use crate::types::TypeId;

/// IEEE binary16 → binary32, exact (NaN payloads kept, shifted).
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // Subnormal: normalize.
            let lz = man.leading_zeros() - 21; // shift that brings the leading 1 to bit 10
            let man = (man << lz) & 0x3ff;
            let exp = 127 - 15 + 1 - lz;
            sign | (exp << 23) | (man << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// binary32 → binary16, round to nearest even (what F16C `vcvtps2ph` with rounding mode 0 and
/// ggml's scalar `ggml_compute_fp32_to_fp16` produce). NaN stays NaN (quiet bit set) and keeps
/// the top payload bits, as F16C does; ggml's scalar code drops them ([`f32_to_f16_ref`]).
#[inline]
pub fn f32_to_f16(f: f32) -> u16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        // Inf or NaN.
        return if man == 0 { sign | 0x7c00 } else { sign | 0x7e00 | (man >> 13) as u16 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00; // overflow to infinity
    }
    if e <= 0 {
        // Subnormal or zero in f16.
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut h = (m >> shift) as u16;
        if rest > half || (rest == half && (h & 1) == 1) {
            h += 1;
        }
        return sign | h;
    }
    let mut h = ((e as u32) << 10 | (man >> 13)) as u16;
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) {
        h += 1; // may carry into the exponent, up to infinity: correct
    }
    sign | h
}

/// f32 → f16 as ggml's scalar `GGML_FP32_TO_FP16` (`ggml_compute_fp32_to_fp16`), which the
/// reference quantizers and `ggml_fp32_to_fp16_row` in ggml-base use: round to nearest even as
/// [`f32_to_f16`], except that every NaN becomes `sign | 0x7E00` (the payload is dropped).
///
/// Computed as ggml does, without data-dependent branches: the magnitude is scaled by 2^112
/// then 2^-110 (overflowing to infinity where f16 would), and adding the power of two that
/// aligns the f16 mantissa's last bit with f32's lets the FPU round to nearest even.
#[inline]
pub fn f32_to_f16_ref(f: f32) -> u16 {
    let scale_to_inf = f32::from_bits(0x7780_0000); // 2^112
    let scale_to_zero = f32::from_bits(0x0880_0000); // 2^-110
    let w = f.to_bits();
    let shl1_w = w.wrapping_add(w);
    let sign = w & 0x8000_0000;
    let bias = (shl1_w & 0xff00_0000).max(0x7100_0000);
    let base = f32::from_bits((bias >> 1) + 0x0780_0000) + (f.abs() * scale_to_inf) * scale_to_zero;
    let bits = base.to_bits();
    let nonsign = ((bits >> 13) & 0x7c00) + (bits & 0x0fff);
    ((sign >> 16) | if shl1_w > 0xff00_0000 { 0x7e00 } else { nonsign }) as u16
}

/// bf16 → f32 (exact).
#[inline]
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// f32 → bf16 as ggml's `ggml_compute_fp32_to_bf16`: NaN → quiet NaN (`(bits >> 16) | 64`),
/// otherwise round to nearest even.
#[inline]
pub fn f32_to_bf16(f: f32) -> u16 {
    let u = f.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u.wrapping_add(0x7fff + ((u >> 16) & 1))) >> 16) as u16
}

fn dec_f32(src: &[u8], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    }
}

fn dec_f16(src: &[u8], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = f16_to_f32(u16::from_le_bytes([s[0], s[1]]));
    }
}

fn dec_bf16(src: &[u8], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = bf16_to_f32(u16::from_le_bytes([s[0], s[1]]));
    }
}

/// F32: the bytes of the values (ggml_quantize_chunk copies them).
fn enc_f32(src: &[f32], dst: &mut [u8]) {
    for (d, v) in dst.chunks_exact_mut(4).zip(src) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}

/// F16: `ggml_fp32_to_fp16_row` (scalar [`f32_to_f16_ref`] per element).
fn enc_f16(src: &[f32], dst: &mut [u8]) {
    for (d, &v) in dst.chunks_exact_mut(2).zip(src) {
        d.copy_from_slice(&f32_to_f16_ref(v).to_le_bytes());
    }
}

/// BF16: `ggml_fp32_to_bf16_row_ref` ([`f32_to_bf16`] per element), through the fast bf16
/// stores where SIMD is in use (the same bits, `super::simd`).
fn enc_bf16(src: &[f32], dst: &mut [u8]) {
    if super::simd::store(super::output::OutType::Bf16, src, dst, false) {
        return;
    }
    for (d, &v) in dst.chunks_exact_mut(2).zip(src) {
        d.copy_from_slice(&f32_to_bf16(v).to_le_bytes());
    }
}

/// Encoders of this family.
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        0 => Some(enc_f32),
        1 => Some(enc_f16),
        30 => Some(enc_bf16),
        _ => None,
    }
}

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    match id {
        0 => Some(dec_f32),
        1 => Some(dec_f16),
        30 => Some(dec_bf16),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_every_value() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f32_to_f16(f) & 0x7c00 == 0x7c00 && f32_to_f16(f) & 0x3ff != 0);
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "{h:#06x} -> {f}");
        }
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "rounds up to inf");
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00, "tie to even");
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02, "tie to even (up)");
    }

    #[test]
    fn f16_ref_drops_nan_payloads() {
        assert_eq!(f32_to_f16_ref(f32::from_bits(0x7f81_2345)), 0x7e00);
        assert_eq!(f32_to_f16_ref(f32::from_bits(0xffc0_0001)), 0xfe00);
        assert_eq!(f32_to_f16(f32::from_bits(0x7fd2_3456)) & 0x7e00, 0x7e00);
        for f in [0.0f32, -0.0, 1.0, 65520.0, 1e-8, f32::INFINITY, -3.25] {
            assert_eq!(f32_to_f16_ref(f), f32_to_f16(f), "{f}");
        }
        // The branch-free trick equals the plain rounding everywhere but NaN (checked
        // exhaustively once; here a stride through all bit patterns).
        for w in (0..=u32::MAX).step_by(4099) {
            let f = f32::from_bits(w);
            if !f.is_nan() {
                assert_eq!(f32_to_f16_ref(f), f32_to_f16(f), "{w:#x}");
            }
        }
    }

    #[test]
    fn bf16_rounding() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80, "tie to even");
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82, "tie to even (up)");
        assert_eq!(f32_to_bf16(f32::from_bits(0x7f80_0001)), 0x7fc0, "NaN quieted");
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }
}
