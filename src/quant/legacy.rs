//! Legacy 32-element block quants: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (reference/gguf-ggml.md §2.3,
//! §2.5; ggml-quants.c `dequantize_row_q4_0` … `dequantize_row_q8_0`). Q8_1 has no `to_float`
//! in ggml (it is a dot-product intermediate), so no decoder here.
//!
//! Encoders follow ggml's `quantize_row_*_ref` (what `ggml_quantize_chunk` runs without an
//! importance matrix) operation by operation, so their bytes equal ggml's.
//!
//! Also home of the helpers every block family uses: [`f16_at`], [`for_each_block`] (decoding),
//! [`put_f16`], [`for_each_block_enc`] and [`cvtt`] (encoding).

use super::float::{f16_to_f32, f32_to_f16_ref};
use super::{Decoder, Encoder};
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

/// Store `f` at byte `at` of `b` as ggml's reference quantizers do (`GGML_FP32_TO_FP16`, f16 LE).
#[inline]
pub(super) fn put_f16(b: &mut [u8], at: usize, f: f32) {
    b[at..at + 2].copy_from_slice(&f32_to_f16_ref(f).to_le_bytes());
}

/// Run `block` over every `BLCK` inputs of `src` and the matching block of `dst`
/// (`dst` holds exactly `src.len() / BLCK` blocks of `TSIZE` bytes, any alignment).
#[inline]
pub(super) fn for_each_block_enc<const TSIZE: usize, const BLCK: usize>(
    src: &[f32],
    dst: &mut [u8],
    block: impl Fn(&[f32; BLCK], &mut [u8; TSIZE]),
) {
    debug_assert_eq!(src.len() / BLCK, dst.len() / TSIZE);
    // The same code, auto-vectorized for this CPU where it can be (the same bits).
    super::simd::wide(
        #[inline(always)]
        || {
            for (x, b) in src.chunks_exact(BLCK).zip(dst.chunks_exact_mut(TSIZE)) {
                block(x.try_into().unwrap(), b.try_into().unwrap());
            }
        },
    )
}

/// C's `(int)f` as x86-64 compiles it (`cvttss2si`): truncation toward zero, and the "integer
/// indefinite" `i32::MIN` for NaN and values outside the i32 range. ggml's narrowing casts
/// (`(int8_t)f`, `(uint8_t)f`) take the low byte of this.
#[inline]
pub(super) fn cvtt(f: f32) -> i32 {
    // NaN fails both comparisons.
    if (-2_147_483_648.0..2_147_483_648.0).contains(&f) {
        // SAFETY: f is finite and its truncation fits in i32 (checked just above).
        unsafe { f.to_int_unchecked::<i32>() }
    } else {
        i32::MIN
    }
}

/// `MIN(hi, (int8_t)f)` of ggml's legacy quantizers, as the byte it stores.
#[inline]
fn q_min_i8(f: f32, hi: i32) -> u8 {
    (cvtt(f) as i8 as i32).min(hi) as u8
}

/// The signed value of largest magnitude (the first one on ties) and that magnitude, as
/// ggml's quantizers find it: `if (amax < fabsf(v)) { amax = fabsf(v); max = v; }` from 0
/// (NaNs never win; all zeros give `(0.0, 0.0)`). Computed without long dependency chains or
/// data-dependent branches: the largest magnitude over eight lanes, reduced as a tree, then
/// the first position of that magnitude from a bit mask.
#[inline(always)]
pub(super) fn signed_absmax(x: &[f32]) -> (f32, f32) {
    let amax = abs_max(x);
    if amax == 0.0 {
        return (0.0, 0.0);
    }
    if x.len() <= 64 {
        let mut mask = 0u64;
        for (i, &v) in x.iter().enumerate() {
            mask |= ((v.abs() == amax) as u64) << i;
        }
        return (x[mask.trailing_zeros() as usize], amax);
    }
    (x.iter().copied().find(|v| v.abs() == amax).unwrap_or(0.0), amax)
}

/// The largest magnitude in `x` (+0 when empty, all zero or all NaN), over eight lanes
/// reduced as a tree: `if (amax < fabsf(v)) amax = fabsf(v)` from 0, whose result does not
/// depend on the order (magnitudes are ≥ +0 and NaNs never win).
#[inline(always)]
pub(super) fn abs_max(x: &[f32]) -> f32 {
    let mut m = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    // `a > b ? a : b` (`maxps`) ignores a NaN `v`, as the serial `amax < |v|` does; the lanes
    // hold magnitudes (≥ +0, never NaN), so which of two equal ones it keeps does not matter.
    for c in chunks {
        for (m, &v) in m.iter_mut().zip(c) {
            *m = gt(v.abs(), *m);
        }
    }
    for (m, &v) in m.iter_mut().zip(rest) {
        *m = gt(v.abs(), *m);
    }
    let m4 = [gt(m[0], m[4]), gt(m[1], m[5]), gt(m[2], m[6]), gt(m[3], m[7])];
    gt(gt(m4[0], m4[2]), gt(m4[1], m4[3]))
}

/// `a < b ? a : b` (x86 `minps`; a NaN `a` gives `b`).
#[inline(always)]
fn lt(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// `a > b ? a : b` (x86 `maxps`; a NaN `a` gives `b`).
#[inline(always)]
fn gt(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// Minimum and maximum as `quantize_row_q4_1_ref` / `q5_1_ref` find them (from ±FLT_MAX,
/// `if (v < min) min = v; if (v > max) max = v;`: NaNs ignored, the first zero kept on a ±0
/// tie). Over eight lanes without long dependency chains; a zero result, whose sign depends on
/// the order, is found again serially.
#[inline(always)]
fn min_max(x: &[f32; 32]) -> (f32, f32) {
    let (mut lo, mut hi) = ([f32::MAX; 8], [-f32::MAX; 8]);
    // `minps` / `maxps` exactly (`v < lo ? v : lo`): a NaN `v` never enters a lane.
    for c in x.chunks_exact(8) {
        for ((lo, hi), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(c) {
            *lo = lt(v, *lo);
            *hi = gt(v, *hi);
        }
    }
    let lo4 = [lt(lo[0], lo[4]), lt(lo[1], lo[5]), lt(lo[2], lo[6]), lt(lo[3], lo[7])];
    let hi4 = [gt(hi[0], hi[4]), gt(hi[1], hi[5]), gt(hi[2], hi[6]), gt(hi[3], hi[7])];
    let (mut min, mut max) = (lt(lt(lo4[0], lo4[2]), lt(lo4[1], lo4[3])), gt(gt(hi4[0], hi4[2]), gt(hi4[1], hi4[3])));
    if min == 0.0 || max == 0.0 {
        (min, max) = (f32::MAX, -f32::MAX);
        for &v in x {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
    }
    (min, max)
}

/// ggml's `d ? 1.0f/d : 0.0f`.
#[inline]
fn inv_or_zero(d: f32) -> f32 {
    if d != 0.0 {
        1.0 / d
    } else {
        0.0
    }
}

/// Q4_0 (`quantize_row_q4_0_ref`): `d = max / -8` (max = the signed largest-magnitude value),
/// `q = MIN(15, (int8_t)(x/d + 8.5))`.
#[inline(always)]
fn enc_block_q4_0(x: &[f32; 32], b: &mut [u8; 18]) {
    let d = signed_absmax(x).0 / -8.0;
    let id = inv_or_zero(d);
    put_f16(b, 0, d);
    let (lo, hi) = x.split_at(16);
    for ((q, &x0), &x1) in b[2..].iter_mut().zip(lo).zip(hi) {
        *q = q_min_i8(x0 * id + 8.5, 15) | (q_min_i8(x1 * id + 8.5, 15) << 4);
    }
}

/// Q4_1 (`quantize_row_q4_1_ref`): `d = (max - min) / 15`, `m = min`,
/// `q = MIN(15, (int8_t)((x - min)/d + 0.5))`.
#[inline(always)]
fn enc_block_q4_1(x: &[f32; 32], b: &mut [u8; 20]) {
    let (min, max) = min_max(x);
    let d = (max - min) / 15.0;
    let id = inv_or_zero(d);
    put_f16(b, 0, d);
    put_f16(b, 2, min);
    let (lo, hi) = x.split_at(16);
    for ((q, &x0), &x1) in b[4..].iter_mut().zip(lo).zip(hi) {
        *q = q_min_i8((x0 - min) * id + 0.5, 15) | (q_min_i8((x1 - min) * id + 0.5, 15) << 4);
    }
}

/// The Q5 `qh` word: bit j (element j) and bit j + 16 (element j + 16) hold the 5th bits.
#[inline]
fn q5_pack(xi0: u8, xi1: u8, j: usize, qh: &mut u32) -> u8 {
    *qh |= (((xi0 & 0x10) as u32) >> 4) << j;
    *qh |= (((xi1 & 0x10) as u32) >> 4) << (j + 16);
    (xi0 & 0x0F) | ((xi1 & 0x0F) << 4)
}

/// Q5_0 (`quantize_row_q5_0_ref`): `d = max / -16`, `q = MIN(31, (int8_t)(x/d + 16.5))`.
#[inline(always)]
fn enc_block_q5_0(x: &[f32; 32], b: &mut [u8; 22]) {
    let d = signed_absmax(x).0 / -16.0;
    let id = inv_or_zero(d);
    put_f16(b, 0, d);
    let mut qh = 0u32;
    for j in 0..16 {
        let xi0 = q_min_i8(x[j] * id + 16.5, 31);
        let xi1 = q_min_i8(x[j + 16] * id + 16.5, 31);
        b[6 + j] = q5_pack(xi0, xi1, j, &mut qh);
    }
    b[2..6].copy_from_slice(&qh.to_le_bytes());
}

/// Q5_1 (`quantize_row_q5_1_ref`): `d = (max - min) / 31`, `m = min`,
/// `q = (uint8_t)((x - min)/d + 0.5)`.
#[inline(always)]
fn enc_block_q5_1(x: &[f32; 32], b: &mut [u8; 24]) {
    let (min, max) = min_max(x);
    let d = (max - min) / 31.0;
    let id = inv_or_zero(d);
    put_f16(b, 0, d);
    put_f16(b, 2, min);
    let mut qh = 0u32;
    for j in 0..16 {
        let xi0 = cvtt((x[j] - min) * id + 0.5) as u8;
        let xi1 = cvtt((x[j + 16] - min) * id + 0.5) as u8;
        b[8 + j] = q5_pack(xi0, xi1, j, &mut qh);
    }
    b[4..8].copy_from_slice(&qh.to_le_bytes());
}

/// Q8_0 (`quantize_row_q8_0_ref`): `d = amax / 127`, `q = roundf(x/d)` (half away from zero).
#[inline(always)]
fn enc_block_q8_0(x: &[f32; 32], b: &mut [u8; 34]) {
    let mut amax = 0f32;
    for &v in x {
        // MAX(amax, fabsf(v)): `amax > |v| ? amax : |v|`.
        amax = if amax > v.abs() { amax } else { v.abs() };
    }
    let d = amax / 127.0;
    let id = inv_or_zero(d);
    put_f16(b, 0, d);
    for (q, &v) in b[2..].iter_mut().zip(x) {
        *q = cvtt((v * id).round()) as u8;
    }
}

fn enc_q4_0(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_q4_0);
}

fn enc_q4_1(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_q4_1);
}

fn enc_q5_0(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_q5_0);
}

fn enc_q5_1(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_q5_1);
}

fn enc_q8_0(src: &[f32], dst: &mut [u8]) {
    for_each_block_enc(src, dst, enc_block_q8_0);
}

/// Encoders of this family (Q8_1 is not a storage type: none).
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        2 => Some(enc_q4_0),
        3 => Some(enc_q4_1),
        6 => Some(enc_q5_0),
        7 => Some(enc_q5_1),
        8 => Some(enc_q8_0),
        _ => None,
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

    #[test]
    fn cvtt_is_x86_truncation() {
        assert_eq!((cvtt(2.9), cvtt(-2.9), cvtt(-0.5)), (2, -2, 0));
        assert_eq!(
            (cvtt(f32::NAN), cvtt(f32::INFINITY), cvtt(3e9), cvtt(-3e9)),
            (i32::MIN, i32::MIN, i32::MIN, i32::MIN)
        );
        assert_eq!(cvtt(-2_147_483_648.0), i32::MIN);
        assert_eq!(cvtt(2_147_483_520.0), 2_147_483_520);
    }

    #[test]
    fn q4_0_encodes_a_ramp() {
        // x = j - 16 → max = -16 (first largest magnitude), d = 2, q = (x/2 + 8.5) truncated.
        let x: Vec<f32> = (0..32).map(|j| j as f32 - 16.0).collect();
        let mut b = [0u8; 18];
        encoder(2).unwrap()(&x, &mut b);
        assert_eq!(&b[..2], &[0x00, 0x40]); // 2.0
        assert_eq!(b[2], 0x80); // x0 = -16 → 0; x16 = 0 → 8
        assert_eq!(b[17], 0xf8); // x15 = -1 → 8; x31 = 15 → MIN(15, 16)
        let y = decode(2, &b, 32);
        assert_eq!((y[0], y[15], y[31]), (-16.0, 0.0, 14.0));
    }

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
