//! The IQ family ("i-quants"): IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M, IQ4_NL,
//! IQ4_XS (reference/gguf-ggml.md §2.3, §2.5, §2.6).
//!
//! Each decoder is bit-exact with ggml's `dequantize_row_*` in ggml-quants.c: every f32 product
//! is formed in the same order (e.g. `(db * grid) * sign`, `dl * (grid + delta)`), and every
//! field is read from bytes, little-endian, so any source alignment works. The lattice tables
//! live in [`tables`], generated from gguf-py by scripts/gen_iq_tables.py.
//!
//! Encoders exist for IQ4_NL and IQ4_XS, the two IQ types ggml quantizes without an importance
//! matrix through a deterministic search: `quantize_row_iq4_nl_impl` with NULL weights (so each
//! value is weighted by x²) and `ntry = 7`, operation by operation.

pub(crate) mod tables;

use super::float::f16_to_f32;
use super::kquants::{nearest_int, GROUP_MAX_EPS};
use super::legacy::{for_each_block_enc, put_f16, signed_absmax};
use super::{Decoder, Encoder};
use crate::types::TypeId;
use tables::{
    IQ1S_DELTA, IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, KMASK_IQ2XS, KSIGNS_IQ2XS,
    KVALUES_IQ4NL,
};

/// Elements per super-block.
const QK_K: usize = 256;
/// Elements per IQ4_NL block.
const QK4_NL: usize = 32;

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    Some(match id {
        16 => dequantize_iq2_xxs,
        17 => dequantize_iq2_xs,
        18 => dequantize_iq3_xxs,
        19 => dequantize_iq1_s,
        20 => dequantize_iq4_nl,
        21 => dequantize_iq3_s,
        22 => dequantize_iq2_s,
        23 => dequantize_iq4_xs,
        29 => dequantize_iq1_m,
        _ => return None,
    })
}

#[inline]
fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline]
fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
fn rd_f16(b: &[u8], at: usize) -> f32 {
    f16_to_f32(rd_u16(b, at))
}

/// ggml's `(signs & kmask_iq2xs[j] ? -1.f : 1.f)`.
#[inline]
fn sign(signs: u8, j: usize) -> f32 {
    if signs & KMASK_IQ2XS[j] != 0 {
        -1.0
    } else {
        1.0
    }
}

/// Byte `j` of a grid word (ggml reads the word's bytes in memory order, little-endian).
#[inline]
fn gb64(w: u64, j: usize) -> f32 {
    (w >> (8 * j)) as u8 as f32
}

#[inline]
fn gb32(w: u32, j: usize) -> f32 {
    (w >> (8 * j)) as u8 as f32
}

/// Signed byte `j` of an `iq1s_grid` word.
#[inline]
fn gi64(w: u64, j: usize) -> f32 {
    (w >> (8 * j)) as u8 as i8 as f32
}

/// IQ2_XXS, 66 bytes: d:f16@0, qs:u16[32]@2. Per 32 elements, two u32: `aux0` holds 4 grid
/// indices (bytes), `aux1` four 7-bit ksigns indices and a 4-bit scale.
fn dequantize_iq2_xxs(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(66).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        for (ib32, y) in y.chunks_exact_mut(32).enumerate() {
            let aux0 = rd_u32(x, 2 + 8 * ib32);
            let aux1 = rd_u32(x, 2 + 8 * ib32 + 4);
            let db = d * (0.5f32 + (aux1 >> 28) as f32) * 0.25f32;
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let grid = IQ2XXS_GRID[(aux0 >> (8 * l)) as u8 as usize];
                let signs = KSIGNS_IQ2XS[((aux1 >> (7 * l)) & 127) as usize];
                for (j, y) in y.iter_mut().enumerate() {
                    *y = db * gb64(grid, j) * sign(signs, j);
                }
            }
        }
    }
}

/// IQ2_XS, 74 bytes: d:f16@0, qs:u16[32]@2 (9-bit grid index, 7-bit ksigns index), scales[8]@66
/// (two 4-bit scales per 32 elements).
fn dequantize_iq2_xs(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(74).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        for (ib32, y) in y.chunks_exact_mut(32).enumerate() {
            let sc = x[66 + ib32];
            let db = [d * (0.5f32 + (sc & 0xf) as f32) * 0.25f32, d * (0.5f32 + (sc >> 4) as f32) * 0.25f32];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let q = rd_u16(x, 2 + 2 * (4 * ib32 + l));
                let grid = IQ2XS_GRID[(q & 511) as usize];
                let signs = KSIGNS_IQ2XS[(q >> 9) as usize];
                for (j, y) in y.iter_mut().enumerate() {
                    *y = db[l / 2] * gb64(grid, j) * sign(signs, j);
                }
            }
        }
    }
}

/// IQ2_S, 82 bytes: d:f16@0, qs[64]@2 (32 grid low bytes, then 32 sign bytes), qh[8]@66 (2 high
/// index bits per 8 elements), scales[8]@74.
fn dequantize_iq2_s(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(82).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        let qs = &x[2..34];
        let sg = &x[34..66];
        let qh = &x[66..74];
        let scales = &x[74..82];
        for (ib32, y) in y.chunks_exact_mut(32).enumerate() {
            let sc = scales[ib32];
            let db = [d * (0.5f32 + (sc & 0xf) as f32) * 0.25f32, d * (0.5f32 + (sc >> 4) as f32) * 0.25f32];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let dl = db[l / 2];
                let idx = qs[4 * ib32 + l] as usize | (((qh[ib32] as usize) << (8 - 2 * l)) & 0x300);
                let grid = IQ2S_GRID[idx];
                let signs = sg[4 * ib32 + l];
                for (j, y) in y.iter_mut().enumerate() {
                    *y = dl * gb64(grid, j) * sign(signs, j);
                }
            }
        }
    }
}

/// IQ3_XXS, 98 bytes: d:f16@0, qs[64]@2 (grid indices), then 8 u32 `scales_and_signs`@66
/// (four 7-bit ksigns indices and a 4-bit scale each).
fn dequantize_iq3_xxs(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(98).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        let qs = &x[2..66];
        for (ib32, y) in y.chunks_exact_mut(32).enumerate() {
            let aux32 = rd_u32(x, 66 + 4 * ib32);
            let db = d * (0.5f32 + (aux32 >> 28) as f32) * 0.5f32;
            let q = &qs[8 * ib32..8 * ib32 + 8];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let signs = KSIGNS_IQ2XS[((aux32 >> (7 * l)) & 127) as usize];
                let grid1 = IQ3XXS_GRID[q[2 * l] as usize];
                let grid2 = IQ3XXS_GRID[q[2 * l + 1] as usize];
                for j in 0..4 {
                    y[j] = db * gb32(grid1, j) * sign(signs, j);
                    y[j + 4] = db * gb32(grid2, j) * sign(signs, j + 4);
                }
            }
        }
    }
}

/// IQ3_S, 110 bytes: d:f16@0, qs[64]@2 (grid index low bytes), qh[8]@66 (the 9th bits),
/// signs[32]@74 (raw sign bytes), scales[4]@106 (two 4-bit scales per 64 elements).
fn dequantize_iq3_s(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(110).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        let qs = &x[2..66];
        let qh = &x[66..74];
        let signs = &x[74..106];
        let scales = &x[106..110];
        for (ib32, y) in y.chunks_exact_mut(32).enumerate() {
            // ggml walks pairs of 32-element groups: db1 (low nibble) for the even one, db2 (high
            // nibble) for the odd one, each computed as d * (1 + 2*s) with the int converted first.
            let sc = scales[ib32 / 2];
            let s = if ib32 % 2 == 0 { sc & 0xf } else { sc >> 4 };
            let db = d * (1 + 2 * s as i32) as f32;
            let q = &qs[8 * ib32..8 * ib32 + 8];
            let h = qh[ib32] as usize;
            let sg = &signs[4 * ib32..4 * ib32 + 4];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let grid1 = IQ3S_GRID[q[2 * l] as usize | ((h << (8 - 2 * l)) & 256)];
                let grid2 = IQ3S_GRID[q[2 * l + 1] as usize | ((h << (7 - 2 * l)) & 256)];
                for j in 0..4 {
                    y[j] = db * gb32(grid1, j) * sign(sg[l], j);
                    y[j + 4] = db * gb32(grid2, j) * sign(sg[l], j + 4);
                }
            }
        }
    }
}

/// IQ1_S, 50 bytes: d:f16@0, qs[32]@2 (grid index low bytes), qh:u16[8]@34 (per 32 elements:
/// four 3-bit index highs, a 3-bit scale at bits 12..15, the delta sign at bit 15).
fn dequantize_iq1_s(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(50).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        let qs = &x[2..34];
        for (ib, y) in y.chunks_exact_mut(32).enumerate() {
            let qh = rd_u16(x, 34 + 2 * ib);
            let dl = d * (2 * ((qh >> 12) & 7) as i32 + 1) as f32;
            let delta = if qh & 0x8000 != 0 { -IQ1S_DELTA } else { IQ1S_DELTA };
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let idx = qs[4 * ib + l] as usize | ((((qh >> (3 * l)) & 7) as usize) << 8);
                let grid = IQ1S_GRID[idx];
                for (j, y) in y.iter_mut().enumerate() {
                    *y = dl * (gi64(grid, j) + delta);
                }
            }
        }
    }
}

/// IQ1_M, 56 bytes: qs[32]@0, qh[16]@32 (per 8 elements a nibble: 3 index high bits and the
/// delta sign at 0x8), scales[8]@48 as four u16 words (3-bit sub-scales per 16 elements; the
/// top nibbles of the four words assemble the f16 block scale, word 0 lowest).
fn dequantize_iq1_m(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(56).zip(dst.chunks_exact_mut(QK_K)) {
        let qs = &x[0..32];
        let qh = &x[32..48];
        let sc = [rd_u16(x, 48), rd_u16(x, 50), rd_u16(x, 52), rd_u16(x, 54)];
        let scale = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000);
        let d = f16_to_f32(scale);
        for (ib, y) in y.chunks_exact_mut(32).enumerate() {
            let s = sc[ib / 2];
            let sh = 6 * (ib % 2);
            let dl1 = d * (2 * ((s >> sh) & 0x7) as i32 + 1) as f32;
            let dl2 = d * (2 * ((s >> (sh + 3)) & 0x7) as i32 + 1) as f32;
            let q = &qs[4 * ib..4 * ib + 4];
            let h = [qh[2 * ib] as usize, qh[2 * ib + 1] as usize];
            let idx = [
                q[0] as usize | ((h[0] << 8) & 0x700),
                q[1] as usize | ((h[0] << 4) & 0x700),
                q[2] as usize | ((h[1] << 8) & 0x700),
                q[3] as usize | ((h[1] << 4) & 0x700),
            ];
            let dm = |bit: usize| if bit != 0 { -IQ1S_DELTA } else { IQ1S_DELTA };
            let delta = [dm(h[0] & 0x08), dm(h[0] & 0x80), dm(h[1] & 0x08), dm(h[1] & 0x80)];
            for (l, y) in y.chunks_exact_mut(8).enumerate() {
                let dl = if l < 2 { dl1 } else { dl2 };
                let grid = IQ1S_GRID[idx[l]];
                for (j, y) in y.iter_mut().enumerate() {
                    *y = dl * (gi64(grid, j) + delta[l]);
                }
            }
        }
    }
}

/// IQ4_NL, 18 bytes: d:f16@0, qs[16]@2; low nibbles are elements 0..16, high nibbles 16..32.
fn dequantize_iq4_nl(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(18).zip(dst.chunks_exact_mut(QK4_NL)) {
        let d = rd_f16(x, 0);
        let (lo, hi) = y.split_at_mut(QK4_NL / 2);
        for (j, &q) in x[2..18].iter().enumerate() {
            lo[j] = d * KVALUES_IQ4NL[(q & 0xf) as usize] as f32;
            hi[j] = d * KVALUES_IQ4NL[(q >> 4) as usize] as f32;
        }
    }
}

/// IQ4_XS, 136 bytes: d:f16@0, scales_h:u16@2, scales_l[4]@4, qs[128]@8. Per 32 elements a
/// 6-bit scale (low nibble from scales_l, 2 high bits from scales_h), minus 32.
fn dequantize_iq4_xs(src: &[u8], dst: &mut [f32]) {
    for (x, y) in src.chunks_exact(136).zip(dst.chunks_exact_mut(QK_K)) {
        let d = rd_f16(x, 0);
        let scales_h = rd_u16(x, 2);
        for (ib, y) in y.chunks_exact_mut(32).enumerate() {
            let ls = ((x[4 + ib / 2] >> (4 * (ib % 2))) & 0xf) as i32 | ((((scales_h >> (2 * ib)) & 3) as i32) << 4);
            let dl = d * (ls - 32) as f32;
            let qs = &x[8 + 16 * ib..8 + 16 * ib + 16];
            let (lo, hi) = y.split_at_mut(16);
            for (j, &q) in qs.iter().enumerate() {
                lo[j] = dl * KVALUES_IQ4NL[(q & 0xf) as usize] as f32;
                hi[j] = dl * KVALUES_IQ4NL[(q >> 4) as usize] as f32;
            }
        }
    }
}

/// ggml's `best_index_int8(16, kvalues_iq4nl, x)`: the nearest code by bisection, the upper
/// one on a tie.
#[inline(always)]
fn best_index_iq4nl(x: f32) -> u8 {
    let val = |i: usize| KVALUES_IQ4NL[i] as f32;
    if x <= val(0) {
        return 0;
    }
    if x >= val(15) {
        return 15;
    }
    let (mut ml, mut mu) = (0usize, 15usize);
    while mu - ml > 1 {
        let mav = (ml + mu) / 2;
        if x < val(mav) {
            mu = mav;
        } else {
            ml = mav;
        }
    }
    if x - val(mu - 1) < val(mu) - x {
        (mu - 1) as u8
    } else {
        mu as u8
    }
}

/// [`best_index_iq4nl`] without branches (the same result for every `x`, NaN and ±inf
/// included): the bisection ends at `mu` = 1 + the number of codes `k` in 1..15 with
/// `!(x < val(k))` (the values are sorted, so that predicate is monotone; a NaN fails every
/// `<`, as in the bisection), and the ends `x <= val(0)` / `x >= val(15)` fall out of the
/// final comparison. The same two f32 subtractions decide it. (The bisection's branches are
/// mispredicted about half the time on real data: ggml's IQ4 quantizers spend most of their
/// time there.)
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x < v)` on purpose: true for NaN, as the bisection
fn best_index_iq4nl_fast(x: f32) -> u8 {
    let val = |i: usize| KVALUES_IQ4NL[i] as f32;
    let mut mu = 1usize;
    for k in 1..15 {
        mu += !(x < val(k)) as usize;
    }
    let lower = x - val(mu - 1) < val(mu) - x;
    (mu - lower as usize) as u8
}

/// The code nearest to `x`: [`best_index_iq4nl_fast`] where SIMD is in use, else the oracle.
#[inline(always)]
fn iq4_index(x: f32, fast: bool) -> u8 {
    if fast {
        best_index_iq4nl_fast(x)
    } else {
        best_index_iq4nl(x)
    }
}

/// The per-32-element scale search of `quantize_row_iq4_nl_impl` (weights x², ntry = 7):
/// start from `-max/kvalues[0]`, take the weighted least-squares scale of the codes it gives
/// (0 unless `Σw·q² > 0`), then try the inverse scales `(itry + kvalues[0])/max`, itry = −7..7, keeping a strictly
/// better one. Returns 0 for a group whose largest magnitude is below `GROUP_MAX_EPS`.
#[inline(always)]
fn iq4_group_scale(xb: &[f32], fast: bool) -> f32 {
    const NTRY: i32 = 7;
    let v0 = KVALUES_IQ4NL[0] as i32;
    let (max, amax) = signed_absmax(xb);
    if amax < GROUP_MAX_EPS {
        return 0.0;
    }
    if fast {
        return iq4_group_scale_lanes(xb, max);
    }
    let sums = |id: f32| {
        let (mut sumqx, mut sumq2) = (0f32, 0f32);
        for &v in xb {
            let q = KVALUES_IQ4NL[iq4_index(id * v, fast) as usize] as f32;
            let w = v * v;
            sumqx += w * q * v;
            sumq2 += w * q * q;
        }
        (sumqx, sumq2)
    };
    let d = -max / v0 as f32;
    let (sumqx, sumq2) = sums(1.0 / d);
    let mut d = if sumq2 > 0.0 { sumqx / sumq2 } else { 0.0 };
    let mut best = d * sumqx;
    for itry in -NTRY..=NTRY {
        let (sumqx, sumq2) = sums((itry + v0) as f32 / max);
        if sumq2 > 0.0 && sumqx * sumqx > best * sumq2 {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    d
}

/// The candidates of [`iq4_group_scale_lanes`]: lane 0 the first inverse scale `1/(-max/v0)`,
/// lanes 1..16 the trials itry = −7..7 in ggml's order.
const IQ4_LANES: usize = 16;

/// [`iq4_group_scale`] (for a group whose largest magnitude is `max`, not below
/// `GROUP_MAX_EPS`) with the sums of all 16 candidate inverse scales formed at once, one per
/// lane (vectorizable; each lane's f32 operations are the oracle's, in its order), then the
/// oracle's choice among them, in its order. The same bits.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x < v)` on purpose: true for NaN, as the bisection
fn iq4_group_scale_lanes(xb: &[f32], max: f32) -> f32 {
    let v0 = KVALUES_IQ4NL[0] as i32;
    let mut ids = [0f32; IQ4_LANES];
    ids[0] = 1.0 / (-max / v0 as f32);
    for (k, itry) in (-7..=7).enumerate() {
        ids[k + 1] = (itry + v0) as f32 / max;
    }
    let vals: [f32; 16] = KVALUES_IQ4NL.map(|v| v as f32);
    let (mut sumqx, mut sumq2) = ([0f32; IQ4_LANES], [0f32; IQ4_LANES]);
    for &v in xb {
        let w = v * v;
        // best_index_iq4nl_fast(ids[k] * v) in every lane, then its value.
        let x = ids.map(|id| id * v);
        let mut mu = [1i32; IQ4_LANES];
        for &vc in &vals[1..15] {
            for (mu, &x) in mu.iter_mut().zip(&x) {
                *mu += !(x < vc) as i32;
            }
        }
        for k in 0..IQ4_LANES {
            let (lo, hi) = (vals[(mu[k] - 1) as usize & 15], vals[mu[k] as usize & 15]);
            let q = if x[k] - lo < hi - x[k] { lo } else { hi };
            sumqx[k] += w * q * v;
            sumq2[k] += w * q * q;
        }
    }
    let mut d = if sumq2[0] > 0.0 { sumqx[0] / sumq2[0] } else { 0.0 };
    let mut best = d * sumqx[0];
    for k in 1..IQ4_LANES {
        if sumq2[k] > 0.0 && sumqx[k] * sumqx[k] > best * sumq2[k] {
            d = sumqx[k] / sumq2[k];
            best = d * sumqx[k];
        }
    }
    d
}

/// Pack IQ4 codes: byte `16i + j` holds element `32i + j` (low nibble) and `32i + 16 + j`.
fn iq4_pack(l: &[u8], q4: &mut [u8]) {
    for (i, q) in q4.chunks_exact_mut(16).enumerate() {
        for (j, q) in q.iter_mut().enumerate() {
            *q = l[32 * i + j] | (l[32 * i + 16 + j] << 4);
        }
    }
}

/// IQ4_NL (`quantize_iq4_nl` without weights): `d` = the group's searched scale (f32, stored as
/// f16); codes nearest to `x/d` (with the unrounded d).
#[inline(always)]
fn enc_block_iq4_nl(x: &[f32; 32], b: &mut [u8; 18], fast: bool) {
    let d = iq4_group_scale(x, fast);
    put_f16(b, 0, d);
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut l = [0u8; 32];
    for (l, &v) in l.iter_mut().zip(x) {
        *l = iq4_index(id * v, fast);
    }
    iq4_pack(&l, &mut b[2..]);
}

/// IQ4_XS (`quantize_iq4_xs` without weights): the eight group scales quantized to 6 bits
/// against `d = -max/32` (max = the signed largest-magnitude scale), codes nearest to
/// `x/(d*l)` (unrounded d).
#[inline(always)]
fn enc_block_iq4_xs(x: &[f32; 256], b: &mut [u8; 136], fast: bool) {
    let mut scales = [0f32; 8];
    for (ib, s) in scales.iter_mut().enumerate() {
        *s = iq4_group_scale(&x[32 * ib..][..32], fast);
    }
    let (max_scale, _) = signed_absmax(&scales);
    let d = -max_scale / 32.0;
    put_f16(b, 0, d);
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut scales_h = 0u16;
    let mut l = [0u8; 256];
    for (ib, &s) in scales.iter().enumerate() {
        let ls = nearest_int(id * s).clamp(-32, 31);
        let dl = d * ls as f32;
        let idl = if dl != 0.0 { 1.0 / dl } else { 0.0 };
        for (l, &v) in l[32 * ib..][..32].iter_mut().zip(&x[32 * ib..][..32]) {
            *l = iq4_index(idl * v, fast);
        }
        let ls = (ls + 32) as u8;
        if ib % 2 == 0 {
            b[4 + ib / 2] = ls & 0xF;
        } else {
            b[4 + ib / 2] |= (ls & 0xF) << 4;
        }
        scales_h |= ((ls >> 4) as u16) << (2 * ib);
    }
    b[2..4].copy_from_slice(&scales_h.to_le_bytes());
    iq4_pack(&l, &mut b[8..]);
}

fn enc_iq4_nl(src: &[f32], dst: &mut [u8]) {
    let fast = super::simd::level().is_simd();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_iq4_nl(x, b, fast),
    );
}

fn enc_iq4_xs(src: &[f32], dst: &mut [u8]) {
    let fast = super::simd::level().is_simd();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_iq4_xs(x, b, fast),
    );
}

/// Encoders of this family: IQ4_NL and IQ4_XS. IQ2_XXS, IQ2_XS and IQ1_S need an importance
/// matrix in ggml; IQ3_XXS, IQ3_S, IQ2_S and IQ1_M (lattice searches over neighbour maps) are
/// not ported.
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        20 => Some(enc_iq4_nl),
        23 => Some(enc_iq4_xs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iq4nl_best_index_without_branches_matches_the_bisection() {
        // Every code value, every midpoint, and their f32 neighbours; specials; a sweep.
        let mut xs = vec![f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, f32::MAX, -f32::MAX];
        let vals: Vec<f32> = KVALUES_IQ4NL.iter().map(|&v| v as f32).collect();
        let mut points = vals.clone();
        points.extend(vals.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        for p in points {
            let (mut lo, mut hi) = (p, p);
            for _ in 0..4 {
                xs.extend([lo, hi]);
                lo = f32::from_bits(if lo > 0.0 { lo.to_bits() - 1 } else { lo.to_bits() + 1 });
                hi = f32::from_bits(if hi >= 0.0 { hi.to_bits() + 1 } else { hi.to_bits() - 1 });
            }
        }
        xs.extend((-3000..=3000).map(|i| i as f32 * 0.0625));
        for x in xs {
            assert_eq!(best_index_iq4nl_fast(x), best_index_iq4nl(x), "x = {x:e} ({:#x})", x.to_bits());
        }
    }

    #[test]
    fn iq4_fast_encoders_match_the_oracles() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for n in 0..400 {
            let scale = 2f32.powi((next() % 271) as i32 - 140);
            let mut x = [0f32; 256];
            for v in x.iter_mut() {
                let u = (0..3).map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).sum::<f32>();
                *v = match next() % 97 {
                    0 if n % 2 == 0 => f32::NAN,
                    1 if n % 2 == 0 => f32::INFINITY,
                    2 => 0.0,
                    3 => ((next() % 17) as f32 - 8.0) * 0.5,
                    _ => u * scale,
                };
            }
            let (mut fast, mut oracle) = ([0u8; 136], [0u8; 136]);
            enc_block_iq4_xs(&x, &mut fast, true);
            enc_block_iq4_xs(&x, &mut oracle, false);
            assert_eq!(fast, oracle, "iq4_xs block {n}");
            let (mut fast, mut oracle) = ([0u8; 18], [0u8; 18]);
            let xb: &[f32; 32] = x[..32].try_into().unwrap();
            enc_block_iq4_nl(xb, &mut fast, true);
            enc_block_iq4_nl(xb, &mut oracle, false);
            assert_eq!(fast, oracle, "iq4_nl block {n}");
        }
    }

    #[test]
    fn iq4nl_best_index() {
        assert_eq!(
            [-200.0, -127.0, -115.6, -115.5, 0.0, 7.0, 7.1, 113.0, 1e9].map(best_index_iq4nl),
            [0, 0, 0, 1, 8, 9, 9, 15, 15]
        );
        assert_eq!(best_index_iq4nl(f32::NAN), 15);
    }

    fn dec(id: TypeId, src: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        decoder(id).expect("decoder")(src, &mut out);
        out
    }

    #[test]
    fn dispatch_covers_the_family() {
        for id in [16, 17, 18, 19, 20, 21, 22, 23, 29] {
            assert!(decoder(id).is_some(), "type {id}");
        }
        for id in [0, 1, 2, 8, 10, 15, 24, 30, 34, 35, 39] {
            assert!(decoder(id).is_none(), "type {id}");
        }
    }

    #[test]
    fn tables_have_ggml_shape() {
        // Spot values (ggml-common.h): first/last entries and the parity rule of ksigns.
        assert_eq!(IQ2XXS_GRID[0], 0x0808080808080808);
        assert_eq!(IQ1S_GRID[0], 0xffffffffffffffff);
        assert_eq!(IQ1S_GRID[2047], 0x0101010101010101);
        assert_eq!(IQ3XXS_GRID[0], 0x04040404);
        assert_eq!(IQ3S_GRID[0], 0x01010101);
        for (i, &s) in KSIGNS_IQ2XS.iter().enumerate() {
            assert_eq!(s as usize & 127, i);
            assert_eq!(s.count_ones() % 2, 0);
        }
        // Grid magnitudes come from the documented code books.
        for w in IQ2XXS_GRID.iter().chain(&IQ2XS_GRID).chain(&IQ2S_GRID) {
            assert!(w.to_le_bytes().iter().all(|b| [0x08, 0x19, 0x2b].contains(b)));
        }
        for w in IQ3XXS_GRID {
            assert!(w.to_le_bytes().iter().all(|b| [0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3e].contains(b)));
        }
        for w in IQ3S_GRID {
            assert!(w.to_le_bytes().iter().all(|b| b % 2 == 1 && *b <= 0x0f));
        }
        for w in IQ1S_GRID {
            assert!(w.to_le_bytes().iter().all(|b| [0xff, 0x00, 0x01].contains(b)));
        }
    }

    #[test]
    fn iq4_nl_hand_built_block() {
        // d = 0.5 (f16 0x3800); byte j = (j << 4) | (15 - j): element j gets code 15 - j,
        // element j + 16 code j.
        let mut b = vec![0x00, 0x38];
        b.extend((0..16u8).map(|j| (j << 4) | (15 - j)));
        let y = dec(20, &b, 32);
        for j in 0..16 {
            assert_eq!(y[j], 0.5 * KVALUES_IQ4NL[15 - j] as f32, "element {j}");
            assert_eq!(y[j + 16], 0.5 * KVALUES_IQ4NL[j] as f32, "element {}", j + 16);
        }
        assert_eq!(y[0], 56.5);
        assert_eq!(y[16], -63.5);
    }

    #[test]
    fn iq4_xs_scales() {
        // d = 1; sub-block ib gets ls = ib | ((ib % 4) << 4): low nibble in scales_l, high bits
        // in scales_h. Every code is 8 (kvalue 1), so each output is ls - 32.
        let mut b = vec![0u8; 136];
        b[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
        let mut sh = 0u16;
        for ib in 0..8 {
            sh |= ((ib % 4) as u16) << (2 * ib);
            b[4 + ib / 2] |= (ib as u8) << (4 * (ib % 2));
        }
        b[2..4].copy_from_slice(&sh.to_le_bytes());
        b[8..].fill(0x88);
        let y = dec(23, &b, 256);
        for ib in 0..8 {
            let ls = (ib | ((ib % 4) << 4)) as f32;
            assert!(y[32 * ib..32 * ib + 32].iter().all(|&v| v == ls - 32.0), "sub-block {ib}");
        }
    }

    #[test]
    fn iq1_s_delta_and_scale() {
        // d = 1; group 0: scale 3 -> dl = 7, delta negative, all indices 2047 (all +1);
        // other groups: qh = 0 -> dl = 1, delta +0.125, index 0 (all -1).
        let mut b = vec![0u8; 50];
        b[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
        b[2..6].fill(0xff);
        b[34..36].copy_from_slice(&(0x8000u16 | (3 << 12) | 0o7777).to_le_bytes());
        let y = dec(19, &b, 256);
        assert!(y[..32].iter().all(|&v| v == 7.0 * (1.0 - 0.125)));
        assert!(y[32..].iter().all(|&v| v == -1.0 + 0.125));
    }

    #[test]
    fn iq2_xxs_signs_and_scale() {
        // d = 1, group 0: aux1 = scale 15 and ksigns index 1 for every l -> db = 15.5 * 0.25,
        // element 0 of each 8 negated (ksigns[1] = 0x81 also flips element 7).
        let mut b = vec![0u8; 66];
        b[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
        let aux1: u32 = (15 << 28) | 1 | (1 << 7) | (1 << 14) | (1 << 21);
        b[6..10].copy_from_slice(&aux1.to_le_bytes());
        let y = dec(16, &b, 256);
        let db = 15.5f32 * 0.25;
        for l in 0..4 {
            let g = &y[8 * l..8 * l + 8];
            assert_eq!(g[0], -db * 8.0);
            assert!(g[1..7].iter().all(|&v| v == db * 8.0));
            assert_eq!(g[7], -db * 8.0);
        }
        assert!(y[32..].iter().all(|&v| v == 0.5 * 0.25 * 8.0));
    }

    #[test]
    fn decodes_at_any_alignment() {
        // Odd-offset source slices decode like aligned ones (fields are read from bytes).
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        };
        for (id, tsize, blck) in
            [(16, 66, 256), (17, 74, 256), (18, 98, 256), (19, 50, 256), (20, 18, 32), (21, 110, 256), (22, 82, 256)]
                .into_iter()
                .chain([(23, 136, 256), (29, 56, 256)])
        {
            let bytes: Vec<u8> = (0..3 * tsize).map(|_| next()).collect();
            let a = dec(id, &bytes, 3 * blck);
            let mut buf = vec![0u8; 3 * tsize + 1];
            buf[1..].copy_from_slice(&bytes);
            let b = dec(id, &buf[1..], 3 * blck);
            for (u, v) in a.iter().zip(&b) {
                assert!(u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan()), "type {id}");
            }
        }
    }
}
