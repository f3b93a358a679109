//! FP4 (E2M1) block types MXFP4 and NVFP4 (reference/gguf-ggml.md §2.3–§2.5; ggml-quants.c
//! `dequantize_row_mxfp4`, `dequantize_row_nvfp4`; scale conversions from ggml-impl.h).
//!
//! ggml stores the E2M1 values doubled ([`KVALUES_MXFP4`]) and halves the scales instead, so
//! every value is `kvalues[nibble] * scale/2`; we do the same, bit for bit.
//!
//! The encoders are ggml's `quantize_row_mxfp4_ref` / `quantize_row_nvfp4_ref`: a scale from
//! the block's absmax, then each value's nearest code by exhaustive search (first best wins).

use super::legacy::{cvtt, for_each_block, for_each_block_enc};
use super::{Decoder, Encoder};
use crate::types::TypeId;

/// E2M1 values ×2, indexed by the 4-bit code (ggml-common.h `kvalues_mxfp4`).
pub const KVALUES_MXFP4: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// Half the value of an E8M0 scale byte, 2^(e − 128) (ggml-impl.h `ggml_e8m0_to_fp32_half`):
/// e < 2 gives the subnormals 2^−128 and 2^−127; e = 0xFF (NaN in OCP MX) is not special-cased.
#[inline]
pub fn e8m0_to_f32_half(e: u8) -> f32 {
    let bits = if e < 2 { 0x0020_0000u32 << e } else { ((e - 1) as u32) << 23 };
    f32::from_bits(bits)
}

/// Half the value of a UE4M3 scale byte (ggml-impl.h `ggml_ue4m3_to_fp32`): 0x00 and 0x7F give
/// 0; otherwise exponent = bits 3..7 (bias 7), mantissa = bits 0..3, subnormal `man·2^−9` when
/// the exponent is 0; bit 7 is ignored (so 0xFF is not zero). Every result is exact in f32.
#[inline]
pub const fn ue4m3_to_f32_half(x: u8) -> f32 {
    if x == 0 || x == 0x7F {
        return 0.0;
    }
    let exp = ((x >> 3) & 0xF) as u32;
    let man = (x & 7) as f32;
    let raw = if exp == 0 {
        man * f32::from_bits((127 - 9) << 23) // man · 2^-9
    } else {
        (1.0 + man / 8.0) * f32::from_bits((exp + 127 - 7) << 23) // (1 + man/8) · 2^(exp-7)
    };
    raw * 0.5
}

/// [`ue4m3_to_f32_half`] of every byte, for the SIMD kernels (one load per sub-block instead of
/// the branches; the same function evaluated at compile time, checked against it at run time by
/// this module's tests).
pub static UE4M3_HALF: [f32; 256] = {
    let mut t = [0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ue4m3_to_f32_half(i as u8);
        i += 1;
    }
    t
};

/// f32 → UE4M3 as ggml's `ggml_fp32_to_ue4m3` (the NVFP4 scale encoder): 0 for x ≤ 0 or NaN;
/// x clamped to 448; subnormal codes `(int)(x*512 + 0.5)` (1..7, else 0); normal codes round
/// half up on the 4th mantissa bit and saturate at 0x7E.
pub fn f32_to_ue4m3(x: f32) -> u8 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    let x = if x > 448.0 { 448.0 } else { x };
    let bits = x.to_bits();
    let fp32_exp = ((bits >> 23) & 0xFF) as i32 - 127;
    let fp32_man = ((bits >> 20) & 0x7) as i32;
    let mut exp = fp32_exp + 7;
    if exp <= 0 {
        let man = cvtt(x * 512.0 + 0.5).min(7);
        return if man < 1 { 0 } else { man as u8 };
    }
    if exp >= 15 {
        return 0x7E;
    }
    let mut man = fp32_man + ((bits >> 19) & 1) as i32;
    if man > 7 {
        man = 0;
        exp += 1;
        if exp >= 15 {
            return 0x7E;
        }
    }
    ((exp << 3) | man) as u8
}

/// ggml's `best_index_mxfp4(x, e)`: the code whose `kvalues[i]*e` is nearest to `x` (the first
/// of equals, strict `<`).
#[inline]
fn best_index_mxfp4(x: f32, e: f32) -> u8 {
    let mut best = 0u8;
    let mut best_err = (KVALUES_MXFP4[0] as f32 * e - x).abs();
    for (i, &k) in KVALUES_MXFP4.iter().enumerate().skip(1) {
        let err = (k as f32 * e - x).abs();
        if err < best_err {
            best = i as u8;
            best_err = err;
        }
    }
    best
}

/// `amax` as the FP4 quantizers find it: `if (amax < fabsf(v)) amax = fabsf(v)`.
#[inline]
fn absmax(x: &[f32]) -> f32 {
    let mut amax = 0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
        }
    }
    amax
}

/// MXFP4 (`quantize_row_mxfp4_ref`): `e = (uint8_t)(floorf(log2f(amax)) - 2 + 127)` (0 when
/// amax is 0), then the nearest code of each value against `e8m0_half(e)`.
#[inline(always)]
fn enc_block_mxfp4(x: &[f32; 32], b: &mut [u8; 17]) {
    let amax = absmax(x);
    // log2f is the C library's, as in ggml; floorf, the f32 sums and the x86 conversion follow.
    let e = if amax > 0.0 { cvtt(amax.log2().floor() - 2.0 + 127.0) as u8 } else { 0 };
    let d = e8m0_to_f32_half(e);
    b[0] = e;
    for j in 0..16 {
        b[1 + j] = best_index_mxfp4(x[j], d) | (best_index_mxfp4(x[j + 16], d) << 4);
    }
}

/// NVFP4 (`quantize_row_nvfp4_ref`): per 16-element sub-block a UE4M3 scale of `amax / 6`, then
/// the nearest code of each value against the scale as decoded.
#[inline(always)]
fn enc_block_nvfp4(x: &[f32; 64], b: &mut [u8; 36]) {
    for s in 0..4 {
        let xb = &x[16 * s..][..16];
        let ue = f32_to_ue4m3(absmax(xb) / 6.0);
        b[s] = ue;
        let d = ue4m3_to_f32_half(ue);
        for j in 0..8 {
            b[4 + 8 * s + j] = best_index_mxfp4(xb[j], d) | (best_index_mxfp4(xb[j + 8], d) << 4);
        }
    }
}

fn enc_mxfp4(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_mxfp4);
}

fn enc_nvfp4(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_nvfp4);
}

/// Encoders of this family.
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        39 => Some(enc_mxfp4),
        40 => Some(enc_nvfp4),
        _ => None,
    }
}

/// MXFP4: e:u8 (E8M0)@0, qs[16]@1. Byte j holds elements j (low nibble) and j+16 (high).
fn block_mxfp4(b: &[u8; 17], y: &mut [f32; 32]) {
    let d = e8m0_to_f32_half(b[0]);
    for (j, &q) in b[1..].iter().enumerate() {
        y[j] = KVALUES_MXFP4[(q & 0xF) as usize] as f32 * d;
        y[j + 16] = KVALUES_MXFP4[(q >> 4) as usize] as f32 * d;
    }
}

/// NVFP4: d:u8[4] (UE4M3, one per 16 elements)@0, qs[32]@4. Sub-block s: byte `qs[8s + j]`
/// holds elements `16s + j` (low nibble) and `16s + j + 8` (high).
fn block_nvfp4(b: &[u8; 36], y: &mut [f32; 64]) {
    for (s, (qs, out)) in b[4..].chunks_exact(8).zip(y.chunks_exact_mut(16)).enumerate() {
        let d = ue4m3_to_f32_half(b[s]);
        for (j, &q) in qs.iter().enumerate() {
            out[j] = KVALUES_MXFP4[(q & 0xF) as usize] as f32 * d;
            out[j + 8] = KVALUES_MXFP4[(q >> 4) as usize] as f32 * d;
        }
    }
}

fn dec_mxfp4(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_mxfp4);
}

fn dec_nvfp4(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_nvfp4);
}

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    match id {
        39 => Some(dec_mxfp4),
        40 => Some(dec_nvfp4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ue4m3_encoding() {
        assert_eq!([0.0, -1.0, f32::NAN, 1e-9].map(f32_to_ue4m3), [0, 0, 0, 0]);
        assert_eq!(f32_to_ue4m3(1.0 / 512.0), 0x01); // smallest subnormal
        assert_eq!(f32_to_ue4m3(7.0 / 512.0), 0x07);
        assert_eq!(f32_to_ue4m3(1.0), 0x38);
        assert_eq!(f32_to_ue4m3(1.0625), 0x39, "half up on the 4th mantissa bit");
        assert_eq!(f32_to_ue4m3(1.9375), 0x40, "carry into the exponent");
        assert_eq!([448.0, 1e30, f32::INFINITY].map(f32_to_ue4m3), [0x7e, 0x7e, 0x7e]);
        // Codes with exponent 15 (0x78..0x7E) are never produced except the saturated 0x7E.
        for code in 1..0x78u8 {
            assert_eq!(f32_to_ue4m3(2.0 * ue4m3_to_f32_half(code)), code, "code {code:#x}");
        }
    }

    #[test]
    fn ue4m3_table_is_the_function() {
        for x in 0..=255u8 {
            assert_eq!(UE4M3_HALF[x as usize].to_bits(), ue4m3_to_f32_half(x).to_bits(), "byte {x:#04x}");
        }
        assert_eq!(UE4M3_HALF[0x38], 0.5);
        assert_eq!(UE4M3_HALF[0x7f], 0.0);
        assert_eq!(UE4M3_HALF[0x01], 1.0 / 1024.0);
    }

    #[test]
    fn mxfp4_encodes_exact_values() {
        // amax 12 → e = floor(log2 12) - 2 + 127 = 128 (half scale 1): codes are exact.
        let x: Vec<f32> = (0..32).map(|j| KVALUES_MXFP4[j % 16] as f32).collect();
        let mut b = [0u8; 17];
        encoder(39).unwrap()(&x, &mut b);
        assert_eq!(b[0], 128);
        let want: Vec<f32> = x.iter().map(|&v| if v == 0.0 { 0.0 } else { v }).collect();
        assert_eq!(decode(39, &b, 32), want);
    }

    fn decode(id: TypeId, src: &[u8], n: usize) -> Vec<f32> {
        let mut y = vec![f32::NAN; n];
        decoder(id).unwrap()(src, &mut y);
        y
    }

    #[test]
    fn e8m0_half() {
        assert_eq!(e8m0_to_f32_half(0).to_bits(), 0x0020_0000); // 2^-128
        assert_eq!(e8m0_to_f32_half(1).to_bits(), 0x0040_0000); // 2^-127
        assert_eq!(e8m0_to_f32_half(2), f32::MIN_POSITIVE); // 2^-126
        assert_eq!(e8m0_to_f32_half(127), 0.5);
        assert_eq!(e8m0_to_f32_half(128), 1.0);
        assert_eq!(e8m0_to_f32_half(255).to_bits(), 254 << 23); // 2^127, not NaN
    }

    #[test]
    fn ue4m3_half() {
        assert_eq!(ue4m3_to_f32_half(0x00), 0.0);
        assert_eq!(ue4m3_to_f32_half(0x7f), 0.0);
        assert_eq!(ue4m3_to_f32_half(0x80), 0.0); // exponent 0, mantissa 0
        assert_eq!(ue4m3_to_f32_half(0x01), 1.0 / 1024.0); // 2^-9 / 2
        assert_eq!(ue4m3_to_f32_half(0x07), 7.0 / 1024.0);
        assert_eq!(ue4m3_to_f32_half(0x38), 0.5); // 1.0 / 2
        assert_eq!(ue4m3_to_f32_half(0x3d), 0.8125); // 1.625 / 2
        assert_eq!(ue4m3_to_f32_half(0x7e), 224.0); // 1.75 · 2^8 / 2
        assert_eq!(ue4m3_to_f32_half(0xb8), 0.5); // bit 7 ignored
        assert_eq!(ue4m3_to_f32_half(0xff), 240.0); // not the 0x7F zero
    }

    #[test]
    fn mxfp4_block() {
        // e = 128 → scale 2 (half: 1); byte j = j | (15 - j) << 4.
        let mut b = vec![128u8];
        b.extend((0..16u8).map(|j| j | (15 - j) << 4));
        let y = decode(39, &b, 32);
        assert_eq!(&y[..8], &[0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]);
        assert_eq!(&y[8..16], &[0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0]);
        assert_eq!(&y[16..24], &[-12.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0.0]);
        assert_eq!(&y[24..], &[12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn nvfp4_block() {
        // Scales (half) 0.5, 0, 2^-10, 240; byte 8s + j = j | (j + 8) << 4.
        let mut b = vec![0x38, 0x7f, 0x01, 0xff];
        for _ in 0..4 {
            b.extend((0..8u8).map(|j| j | (j + 8) << 4));
        }
        let y = decode(40, &b, 64);
        let want: Vec<f32> = [0.5f32, 0.0, 1.0 / 1024.0, 240.0]
            .iter()
            .flat_map(|&d| KVALUES_MXFP4.iter().map(move |&k| k as f32 * d))
            .collect();
        assert_eq!(y, want);
        assert_eq!((y[7], y[15], y[63]), (6.0, -6.0, -2880.0));
    }
}
