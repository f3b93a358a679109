//! Upstream ternary types TQ1_0 and TQ2_0, 256-element blocks (reference/gguf-ggml.md §2.3,
//! §2.5; reference/bitnet-formats.md §6; ggml-quants.c `dequantize_row_tq1_0`,
//! `dequantize_row_tq2_0`). Values are `(t - 1) * d` with t ∈ {0, 1, 2}.
//!
//! The encoders are ggml's `quantize_row_tq1_0_ref` / `quantize_row_tq2_0_ref`: `d` = the
//! block's absmax, `t = lroundf(x/d) + 1`.

use super::legacy::{abs_max, f16_at, for_each_block, for_each_block_enc, put_f16};
use super::{Decoder, Encoder};
use crate::types::TypeId;

/// Powers of three as u8, for TQ1_0 trit extraction (`pow3` in ggml-quants.c
/// `dequantize_row_tq1_0`).
const POW3: [u8; 5] = [1, 3, 9, 27, 81];

/// Trit `n` (0 = most significant) of a TQ1_0 byte, which stores 5 trits as the fixed-point
/// fraction `ceil(q * 256 / 243)`: rotate it with a wrapping u8 multiply by 3^n, then take the
/// top "digit" `(x * 3) >> 8`. Returned as `t - 1` ∈ {−1, 0, 1}.
#[inline]
fn trit(byte: u8, n: usize) -> i32 {
    let x = byte.wrapping_mul(POW3[n]);
    ((x as u16 * 3) >> 8) as i32 - 1
}

/// TQ1_0: qs[48]@0, qh[4]@48, d:f16@52. Output order: trit n of `qs[m]` (n = 0..5, m = 0..32),
/// then trit n of `qs[32 + m]` (n = 0..5, m = 0..16), then trit n of `qh[j]` (n = 0..4,
/// j = 0..4).
fn block_tq1_0(b: &[u8; 54], y: &mut [f32; 256]) {
    let d = f16_at(b, 52);
    let mut out = y.iter_mut();
    let groups: [(&[u8], usize); 3] = [(&b[..32], 5), (&b[32..48], 5), (&b[48..52], 4)];
    for (bytes, trits) in groups {
        for n in 0..trits {
            // `bytes` first: zip stops on it without consuming an extra output slot.
            for (&q, o) in bytes.iter().zip(out.by_ref()) {
                *o = trit(q, n) as f32 * d;
            }
        }
    }
}

/// TQ2_0: qs[64]@0, d:f16@64. Byte m of 32-byte group g holds elements `128g + m + 32l` in
/// bits 2l..2l+2 (LSB first).
fn block_tq2_0(b: &[u8; 66], y: &mut [f32; 256]) {
    let d = f16_at(b, 64);
    for (qs, out) in b[..64].chunks_exact(32).zip(y.chunks_exact_mut(128)) {
        for (l, out) in out.chunks_exact_mut(32).enumerate() {
            for (o, &q) in out.iter_mut().zip(qs) {
                *o = (((q >> (2 * l)) & 3) as i32 - 1) as f32 * d;
            }
        }
    }
}

/// `lroundf(f) + 1` as an `int`, as ggml computes each trit: round half away from zero; glibc's
/// `lroundf` returns `LONG_MIN` for NaN and out-of-range values, and the `long` sum is
/// truncated to `int`.
#[inline(always)]
fn trit_of(f: f32) -> i32 {
    const TWO_23: f32 = 8_388_608.0;
    const TWO_63: f32 = 9_223_372_036_854_775_808.0;
    if f.abs() < TWO_23 {
        // The common case, without a libm call: truncate, then step away from zero when the
        // (exact) remainder is at least one half.
        let t = f as i32;
        let r = f - t as f32;
        return t + (r >= 0.5) as i32 - (r <= -0.5) as i32 + 1;
    }
    // Integers already (or NaN / out of range).
    let l = if f.is_nan() || f.abs() >= TWO_63 { i64::MIN } else { f as i64 };
    l.wrapping_add(1) as i32
}

/// Block absmax and its inverse as the TQ quantizers compute them: `amax = MAX(amax, |v|)`,
/// `id = d ? 1/d : 0`.
#[inline(always)]
fn absmax_inv(x: &[f32]) -> (f32, f32) {
    // Without a NaN this is the plain maximum, which needs no order (over lanes); a NaN makes
    // `amax > |v|` false, so the serial loop restarts from the next magnitude: done serially.
    let mut nan = false;
    for &v in x {
        nan |= v.is_nan();
    }
    let amax = if nan {
        let mut amax = 0f32;
        for &v in x {
            amax = if amax > v.abs() { amax } else { v.abs() };
        }
        amax
    } else {
        abs_max(x)
    };
    (amax, if amax != 0.0 { 1.0 / amax } else { 0.0 })
}

/// [`trit_of`]`(x[i] * id)` for the 256 elements of a block: element-wise without branches
/// (vectorizable) when every product is below 2^23 in magnitude — always, unless the block
/// holds NaN or ±inf — else one by one through [`trit_of`].
#[inline(always)]
fn block_trits(x: &[f32; 256], id: f32) -> [i32; 256] {
    const TWO_23: f32 = 8_388_608.0;
    let mut t = [0i32; 256];
    let mut small = true;
    for (t, &v) in t.iter_mut().zip(x) {
        let f = v * id;
        small &= f.abs() < TWO_23;
        // trit_of's common case; `as` saturates (NaN → 0) and the sum wraps, so any input is
        // defined here, and only blocks where every |f| < 2^23 keep these values.
        let i = f as i32;
        let r = f - i as f32;
        *t = i.wrapping_add((r >= 0.5) as i32 - (r <= -0.5) as i32 + 1);
    }
    if !small {
        for (t, &v) in t.iter_mut().zip(x) {
            *t = trit_of(v * id);
        }
    }
    t
}

/// Five (or four, then ×3) trits, most significant first, as the fixed-point fraction
/// `ceil(q * 256 / 243)` (u8 arithmetic wraps as in ggml).
#[inline(always)]
fn tq1_byte(trits: impl Iterator<Item = i32>, shift_one: bool) -> u8 {
    let mut q = 0u8;
    for t in trits {
        q = q.wrapping_mul(3).wrapping_add(t as u8);
    }
    if shift_one {
        q = q.wrapping_mul(3);
    }
    (q as u32 * 256).div_ceil(243) as u8
}

/// TQ1_0 (`quantize_row_tq1_0_ref`): the inverse of [`block_tq1_0`]'s order.
#[inline(always)]
fn enc_block_tq1_0(x: &[f32; 256], b: &mut [u8; 54]) {
    let (d, id) = absmax_inv(x);
    put_f16(b, 52, d);
    let t = block_trits(x, id);
    for m in 0..32 {
        b[m] = tq1_byte((0..5).map(|n| t[m + 32 * n]), false);
    }
    for m in 0..16 {
        b[32 + m] = tq1_byte((0..5).map(|n| t[160 + m + 16 * n]), false);
    }
    for j in 0..4 {
        b[48 + j] = tq1_byte((0..4).map(|n| t[240 + j + 4 * n]), true);
    }
}

/// TQ2_0 (`quantize_row_tq2_0_ref`): byte m of group g gets `(t & 3) << 2n` for element
/// `128g + m + 32n`.
#[inline(always)]
fn enc_block_tq2_0(x: &[f32; 256], b: &mut [u8; 66]) {
    let (d, id) = absmax_inv(x);
    put_f16(b, 64, d);
    let trits = block_trits(x, id);
    for g in 0..2 {
        for m in 0..32 {
            let mut q = 0u8;
            for n in 0..4 {
                let t = trits[128 * g + m + 32 * n];
                q = q.wrapping_add(((t & 3) << (2 * n)) as u8);
            }
            b[32 * g + m] = q;
        }
    }
}

fn enc_tq1_0(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_tq1_0);
}

fn enc_tq2_0(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_tq2_0);
}

/// Encoders of this family.
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        34 => Some(enc_tq1_0),
        35 => Some(enc_tq2_0),
        _ => None,
    }
}

fn dec_tq1_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_tq1_0);
}

fn dec_tq2_0(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_tq2_0);
}

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    match id {
        34 => Some(dec_tq1_0),
        35 => Some(dec_tq2_0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_trits_and_absmax_match_the_serial_forms() {
        let mut s = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for n in 0..300 {
            let mut x = [0f32; 256];
            for v in x.iter_mut() {
                let u = (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                *v = match next() % 61 {
                    0 if n % 3 == 0 => f32::NAN,
                    1 if n % 3 == 1 => f32::INFINITY,
                    2 => ((next() % 9) as f32 - 4.0) * 0.25, // ties at ±0.5 after scaling
                    3 => -0.0,
                    _ => u * 2f32.powi(n % 40 - 20),
                };
            }
            let mut amax = 0f32;
            for &v in &x {
                amax = if amax > v.abs() { amax } else { v.abs() };
            }
            let (d, id) = absmax_inv(&x);
            assert_eq!(d.to_bits(), amax.to_bits(), "block {n}");
            for id in [id, 1.0, 2.0, 1e30] {
                let want: Vec<i32> = x.iter().map(|&v| trit_of(v * id)).collect();
                assert_eq!(block_trits(&x, id).to_vec(), want, "block {n}, id {id}");
            }
        }
    }

    #[test]
    fn trits_round_half_away() {
        assert_eq!([0.5, -0.5, 0.49, 1.0, -1.0].map(trit_of), [2, 0, 1, 2, 0]);
        // LONG_MIN + 1 truncated to int: 1, the "0" trit.
        assert_eq!([f32::NAN, f32::INFINITY, -1e30].map(trit_of), [1, 1, 1]);
    }

    fn decode(id: TypeId, src: &[u8]) -> Vec<f32> {
        let mut y = vec![f32::NAN; 256];
        decoder(id).unwrap()(src, &mut y);
        y
    }

    #[test]
    fn tq1_0_all_plus_one() {
        // reference/bitnet-formats.md §9.3: qs = ff × 48, qh = fd × 4, d = 1.0.
        let mut b = vec![0xffu8; 48];
        b.extend([0xfd; 4]);
        b.extend([0x00, 0x3c]);
        assert!(decode(34, &b).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn tq1_0_single_bytes() {
        // Byte 0xd0 holds trits (+1, 0, −1, +1, +1) (bitnet-formats.md §9.3); 0x00 holds all −1.
        // qh byte 146 = ceil(3 * 46 * 256 / 243) holds (0, +1, −1, 0). d = 2.
        let mut b = vec![0u8; 54];
        b[5] = 0xd0; // elements 5 + 32n
        b[40] = 0xd0; // elements 160 + 8 + 16n
        b[48 + 2] = 146; // elements 240 + 2 + 4n
        b[52..].copy_from_slice(&[0x00, 0x40]);
        let y = decode(34, &b);
        let mut want = [-2.0f32; 256];
        for (n, t) in [2.0, 0.0, -2.0, 2.0, 2.0].into_iter().enumerate() {
            want[5 + 32 * n] = t;
            want[168 + 16 * n] = t;
        }
        for (n, t) in [0.0, 2.0, -2.0, 0.0].into_iter().enumerate() {
            want[242 + 4 * n] = t;
        }
        assert_eq!(y, want);
    }

    #[test]
    fn tq2_0_block() {
        // bitnet-formats.md §9.2: byte 0x86 = fields (2, 1, 0, 2) → (+1, 0, −1, +1) at m + 32l;
        // d = fp16 0x224c = 0.012298583984375. Second half: byte m = 0xe4 (fields 0, 1, 2, 3).
        let mut b = vec![0x86u8; 32];
        b.extend([0xe4; 32]);
        b.extend([0x4c, 0x22]);
        let y = decode(35, &b);
        let d = 0.012_298_584_f32; // = 0.012298583984375 exactly
        for (e, &v) in y.iter().enumerate() {
            let t = if e < 128 { [1.0, 0.0, -1.0, 1.0][e / 32] } else { ((e - 128) / 32) as f32 - 1.0 };
            assert_eq!(v, t * d, "element {e}");
        }
    }
}
