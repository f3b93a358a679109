//! Sequential low-bit types Q1_0 (128-element blocks, 1 bit) and Q2_0 (64-element blocks,
//! 2 bits) (reference/gguf-ggml.md §2.3, §2.5; ggml-quants.c `dequantize_row_q1_0`,
//! `dequantize_row_q2_0`). Element j is bit field j of `qs`, LSB first, unlike TQ2_0's strided
//! order.

use super::legacy::{f16_at, for_each_block};
use super::Decoder;
use crate::types::TypeId;

/// Q1_0: d:f16@0, qs[16]@2. Bit j%8 of `qs[j/8]` set → `d`, clear → `-d`.
fn block_q1_0(b: &[u8; 18], y: &mut [f32; 128]) {
    let d = f16_at(b, 0);
    let neg_d = -d;
    for (&q, out) in b[2..].iter().zip(y.chunks_exact_mut(8)) {
        for (bit, o) in out.iter_mut().enumerate() {
            *o = if (q >> bit) & 1 != 0 { d } else { neg_d };
        }
    }
}

/// Q2_0: d:f16@0, qs[16]@2. 2-bit field j%4 of `qs[j/4]` is q; `(q - 1) * d`.
fn block_q2_0(b: &[u8; 18], y: &mut [f32; 64]) {
    let d = f16_at(b, 0);
    for (&q, out) in b[2..].iter().zip(y.chunks_exact_mut(4)) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = (((q >> (2 * k)) & 3) as i32 - 1) as f32 * d;
        }
    }
}

fn dec_q1_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q1_0);
}

fn dec_q2_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q2_0);
}

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    match id {
        41 => Some(dec_q1_0),
        42 => Some(dec_q2_0),
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
    fn q1_0_block() {
        // d = 0.5; qs[0] = 0b101 (elements 0 and 2 positive), qs[15] = 0x80 (element 127).
        let mut b = vec![0x00, 0x38, 0b101];
        b.extend([0u8; 14]);
        b.push(0x80);
        let y = decode(41, &b, 128);
        assert_eq!(&y[..4], &[0.5, -0.5, 0.5, -0.5]);
        assert!(y[3..127].iter().all(|&v| v == -0.5));
        assert_eq!(y[127], 0.5);
    }

    #[test]
    fn q2_0_block() {
        // d = 2; qs[0] = 0xe4 = fields (0, 1, 2, 3), qs[15] = 0x1b = fields (3, 2, 1, 0).
        let mut b = vec![0x00, 0x40, 0xe4];
        b.extend([0x55u8; 14]); // all fields 1 → 0
        b.push(0x1b);
        let y = decode(42, &b, 64);
        assert_eq!(&y[..4], &[-2.0, 0.0, 2.0, 4.0]);
        assert!(y[4..60].iter().all(|&v| v == 0.0));
        assert_eq!(&y[60..], &[4.0, 2.0, 0.0, -2.0]);
    }
}
