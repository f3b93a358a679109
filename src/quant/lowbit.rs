//! Sequential low-bit types Q1_0 (128-element blocks, 1 bit) and Q2_0 (64-element blocks,
//! 2 bits) (reference/gguf-ggml.md §2.3, §2.5; ggml-quants.c `dequantize_row_q1_0`,
//! `dequantize_row_q2_0`). Element j is bit field j of `qs`, LSB first, unlike TQ2_0's strided
//! order.
//!
//! The encoders are ggml's `quantize_row_q1_0_ref` / `quantize_row_q2_0_ref`.

use super::legacy::{abs_max, cvtt, f16_at, for_each_block, for_each_block_enc, put_f16};
use super::{Decoder, Encoder};
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

/// Q1_0 (`quantize_row_q1_0_ref`): `d = Σ|x| / 128` (summed in order), bit set for `x >= 0`.
#[inline(always)]
fn enc_block_q1_0(x: &[f32; 128], b: &mut [u8; 18]) {
    let mut sum_abs = 0f32;
    for &v in x {
        sum_abs += v.abs();
    }
    q1_0_finish(x, sum_abs, b);
}

/// Four Q1_0 blocks at once: the same four sums in ggml's order, interleaved so that the four
/// chains of dependent additions overlap (one alone is the encoder's bottleneck).
#[inline(always)]
fn enc_blocks4_q1_0(x: &[f32; 512], b: &mut [u8; 72]) {
    let mut sum_abs = [0f32; 4];
    for i in 0..128 {
        for (k, s) in sum_abs.iter_mut().enumerate() {
            *s += x[128 * k + i].abs();
        }
    }
    for (k, &s) in sum_abs.iter().enumerate() {
        q1_0_finish(x[128 * k..][..128].try_into().unwrap(), s, (&mut b[18 * k..][..18]).try_into().unwrap());
    }
}

/// The rest of a Q1_0 block once `Σ|x|` is known: `d` and the sign bits.
#[inline(always)]
fn q1_0_finish(x: &[f32; 128], sum_abs: f32, b: &mut [u8; 18]) {
    put_f16(b, 0, sum_abs / 128.0);
    for (q, xs) in b[2..].iter_mut().zip(x.chunks_exact(8)) {
        *q = 0;
        for (bit, &v) in xs.iter().enumerate() {
            *q |= ((v >= 0.0) as u8) << bit;
        }
    }
}

/// Q2_0 (`quantize_row_q2_0_ref`): `d` = absmax, `q = clamp((int)roundf(x/d) + 1, 0, 3)`.
#[inline(always)]
fn enc_block_q2_0(x: &[f32; 64], b: &mut [u8; 18]) {
    // `if (fabsf(v) > amax) amax = fabsf(v)` from 0: NaNs ignored; a maximum needs no order.
    let amax = abs_max(x);
    let id = if amax > 0.0 { 1.0 / amax } else { 0.0 };
    put_f16(b, 0, amax);
    for (q, xs) in b[2..].iter_mut().zip(x.chunks_exact(4)) {
        *q = 0;
        for (k, &v) in xs.iter().enumerate() {
            let l = cvtt((v * id).round()).wrapping_add(1).clamp(0, 3);
            *q |= (l as u8) << (2 * k);
        }
    }
}

fn enc_q1_0(src: &[f32], dst: &mut [u8]) {
    // Groups of four blocks, then the last 0..3 one by one (the same bytes either way).
    let n4 = src.len() / 512;
    let (src4, src1) = src.split_at(512 * n4);
    let (dst4, dst1) = dst.split_at_mut(72 * n4);
    for_each_block_enc(src4, dst4, enc_blocks4_q1_0);
    for_each_block_enc(src1, dst1, enc_block_q1_0);
}

fn enc_q2_0(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_q2_0);
}

/// Encoders of this family.
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        41 => Some(enc_q1_0),
        42 => Some(enc_q2_0),
        _ => None,
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

    #[test]
    fn q1_0_and_q2_0_encode() {
        // Q1_0: d = mean |x| = 0.375; -0.0 counts as non-negative.
        let x: Vec<f32> = (0..128).map(|j| [0.5, -0.5, -0.0, 0.5][j % 4]).collect();
        let mut b = [0u8; 18];
        encoder(41).unwrap()(&x, &mut b);
        assert_eq!(&b[..3], &[0x00, 0x36, 0b1101_1101]);
        // Q2_0: d = absmax = 2; x/d rounds half away from zero to -1, 0 or 1.
        let x: Vec<f32> = (0..64).map(|j| [2.0, -1.1, 1.1, -0.9][j % 4]).collect();
        let mut b = [0u8; 18];
        encoder(42).unwrap()(&x, &mut b);
        assert_eq!(decode(42, &b, 64)[..4], [2.0, -2.0, 2.0, 0.0]);
    }

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
