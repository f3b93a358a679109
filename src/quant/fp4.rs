//! FP4 (E2M1) block types MXFP4 and NVFP4 (reference/gguf-ggml.md §2.3–§2.5; ggml-quants.c
//! `dequantize_row_mxfp4`, `dequantize_row_nvfp4`; scale conversions from ggml-impl.h).
//!
//! ggml stores the E2M1 values doubled ([`KVALUES_MXFP4`]) and halves the scales instead, so
//! every value is `kvalues[nibble] * scale/2`; we do the same, bit for bit.

use super::legacy::for_each_block;
use super::Decoder;
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
pub fn ue4m3_to_f32_half(x: u8) -> f32 {
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
