//! Legacy 32-element block quants: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (reference/gguf-ggml.md §2.3,
//! §2.5; ggml-quants.c `dequantize_row_q4_0` … `dequantize_row_q8_0`). Q8_1 has no `to_float`
//! in ggml (it is a dot-product intermediate), so no decoder here.
//!
//! Also home of the two helpers every block family uses: [`f16_at`] and [`for_each_block`].

use super::float::f16_to_f32;
use super::Decoder;
use crate::types::TypeId;

/// The f16 stored little-endian at byte `at` of `b`, as f32 (ggml's `GGML_FP16_TO_FP32`).
#[inline]
pub(super) fn f16_at(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Run `block` over every block of `src` and the matching `BLCK` outputs of `dst`
/// (`src` holds exactly `dst.len() / BLCK` blocks of `TSIZE` bytes, any alignment).
#[inline]
pub(super) fn for_each_block<const TSIZE: usize, const BLCK: usize>(
    src: &[u8],
    dst: &mut [f32],
    block: impl Fn(&[u8; TSIZE], &mut [f32; BLCK]),
) {
    debug_assert_eq!(src.len() / TSIZE, dst.len() / BLCK);
    for (b, y) in src.chunks_exact(TSIZE).zip(dst.chunks_exact_mut(BLCK)) {
        block(b.try_into().unwrap(), y.try_into().unwrap());
    }
}

/// Q4_0: d:f16@0, qs[16]@2. Byte j holds element j (low nibble) and j+16 (high); `(q-8)*d`.
fn block_q4_0(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (j, &q) in b[2..].iter().enumerate() {
        y[j] = ((q & 0xF) as i32 - 8) as f32 * d;
        y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// Q4_1: d:f16@0, m:f16@2, qs[16]@4. Same nibble order as Q4_0, `q*d + m` (not fused).
fn block_q4_1(b: &[u8; 20], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    for (j, &q) in b[4..].iter().enumerate() {
        y[j] = (q & 0xF) as f32 * d + m;
        y[j + 16] = (q >> 4) as f32 * d + m;
    }
}

/// The 5th bits of elements j and j+16 from Q5's `qh` word, as ggml extracts them
/// (`((qh >> j) << 4) & 0x10` and `(qh >> (j + 12)) & 0x10`).
#[inline]
fn q5_high(qh: u32, j: usize) -> (u8, u8) {
    ((((qh >> j) << 4) & 0x10) as u8, ((qh >> (j + 12)) & 0x10) as u8)
}

/// Q5_0: d:f16@0, qh:u32@2, qs[16]@6. `(q5 - 16)*d`.
fn block_q5_0(b: &[u8; 22], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for (j, &q) in b[6..].iter().enumerate() {
        let (h0, h1) = q5_high(qh, j);
        y[j] = (((q & 0xF) | h0) as i32 - 16) as f32 * d;
        y[j + 16] = (((q >> 4) | h1) as i32 - 16) as f32 * d;
    }
}

/// Q5_1: d:f16@0, m:f16@2, qh:u32@4, qs[16]@8. `q5*d + m`.
fn block_q5_1(b: &[u8; 24], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for (j, &q) in b[8..].iter().enumerate() {
        let (h0, h1) = q5_high(qh, j);
        y[j] = ((q & 0xF) | h0) as f32 * d + m;
        y[j + 16] = ((q >> 4) | h1) as f32 * d + m;
    }
}

/// Q8_0: d:f16@0, qs:i8[32]@2. `q*d`.
fn block_q8_0(b: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..]) {
        *y = (q as i8) as f32 * d;
    }
}

fn dec_q4_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q4_0);
}

fn dec_q4_1(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q4_1);
}

fn dec_q5_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q5_0);
}

fn dec_q5_1(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q5_1);
}

fn dec_q8_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q8_0);
}

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    match id {
        2 => Some(dec_q4_0),
        3 => Some(dec_q4_1),
        6 => Some(dec_q5_0),
        7 => Some(dec_q5_1),
        8 => Some(dec_q8_0),
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
    fn q4_0_block() {
        // d = 0.5; byte j = j | (15 - j) << 4 → y[j] = (j - 8)/2, y[j + 16] = (7 - j)/2.
        let mut b = vec![0x00, 0x38];
        b.extend((0..16u8).map(|j| j | (15 - j) << 4));
        let y = decode(2, &b, 32);
        assert_eq!(&y[..4], &[-4.0, -3.5, -3.0, -2.5]);
        assert_eq!(y[15], 3.5);
        assert_eq!(&y[16..18], &[3.5, 3.0]);
        assert_eq!(y[31], -4.0);
    }

    #[test]
    fn q4_1_block() {
        // d = 0.5, m = -1.0: y[j] = j/2 - 1, y[j + 16] = (15 - j)/2 - 1.
        let mut b = vec![0x00, 0x38, 0x00, 0xbc];
        b.extend((0..16u8).map(|j| j | (15 - j) << 4));
        let y = decode(3, &b, 32);
        assert_eq!(&y[..3], &[-1.0, -0.5, 0.0]);
        assert_eq!(y[15], 6.5);
        assert_eq!(y[16], 6.5);
        assert_eq!(y[31], -1.0);
    }

    #[test]
    fn q5_0_block() {
        // d = 1, qh bits 0 and 31 (elements 0 and 31 get the 5th bit), qs[3] = 0x5a.
        let mut b = vec![0x00, 0x3c, 0x01, 0x00, 0x00, 0x80];
        b.extend([0u8; 16]);
        b[6 + 3] = 0x5a;
        let y = decode(6, &b, 32);
        assert_eq!(y[0], 0.0);
        assert_eq!(y[1], -16.0);
        assert_eq!(y[3], -6.0); // 0xa - 16
        assert_eq!(y[19], -11.0); // 0x5 - 16
        assert_eq!(y[31], 0.0);
        assert_eq!(y[30], -16.0);
    }

    #[test]
    fn q5_1_block() {
        // d = 2, m = 0.25, qh bit 16 (element 16), qs[0] = 0x21.
        let mut b = vec![0x00, 0x40, 0x00, 0x34, 0x00, 0x00, 0x01, 0x00];
        b.extend([0u8; 16]);
        b[8] = 0x21;
        let y = decode(7, &b, 32);
        assert_eq!(y[0], 2.25); // 1*2 + 0.25
        assert_eq!(y[16], 36.25); // (2 | 16)*2 + 0.25
        assert_eq!(y[1], 0.25);
        assert_eq!(y[17], 0.25);
    }

    #[test]
    fn q8_0_blocks_unaligned() {
        // Two blocks at an odd offset: d = 0.25 then d = -2; qs = j - 16.
        let mut src = vec![0xee];
        for d in [[0x00, 0x34], [0x00, 0xc0]] {
            src.extend(d);
            src.extend((0..32).map(|j| (j as i8 - 16) as u8));
        }
        let y = decode(8, &src[1..], 64);
        assert_eq!(y[0], -4.0);
        assert_eq!(y[31], 3.75);
        assert_eq!(y[32], 32.0);
        assert_eq!(y[63], -30.0);
    }
}
