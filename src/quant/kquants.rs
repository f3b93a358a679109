//! K-quants, 256-element super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (reference/gguf-ggml.md
//! §2.3, §2.5; ggml-quants.c `dequantize_row_q2_K` … `dequantize_row_q6_K`). Q8_K has no
//! `to_float` in ggml's type traits (it is a dot-product intermediate), so no decoder here.
//!
//! Operation order follows ggml exactly: sub-block scales are formed as f32 products first
//! (`dl = d*sc`, `ml = dmin*m`), then `dl*q - ml`; Q6_K is `(d*sc)*q`.
//!
//! The encoders are ggml's `quantize_row_q{2..6}_K_ref` (what `ggml_quantize_chunk` runs without
//! an importance matrix), with its scale searches `make_qkx2_quants` (Q2_K, Q4_K, Q5_K),
//! `make_q3_quants` (Q3_K) and `make_qx_quants` (Q6_K), each f32 operation in ggml's order.
//! Every K-quant search also has a restructured version (several groups or candidate
//! scales at once, one per vector lane, each lane with the oracle's operations in its order),
//! used whenever SIMD is; `BG_FORCE_SCALAR=1` runs the oracles, and the tests check both
//! against ggml and each other.

use super::legacy::{f16_at, for_each_block, for_each_block_enc, put_f16, signed_absmax};
use super::{Decoder, Encoder};
use crate::types::TypeId;

/// Q2_K: scales[16]@0 (low nibble scale, high nibble min), qs[64]@16, d:f16@80, dmin:f16@82.
/// Output element `128h + 32j + 16p + l` is 2-bit field `j` of `qs[32h + 16p + l]`, with
/// sub-block scale `scales[8h + 2j + p]`.
fn block_q2_k(b: &[u8; 84], y: &mut [f32; 256]) {
    let (scales, qs) = (&b[..16], &b[16..80]);
    let d = f16_at(b, 80);
    let min = f16_at(b, 82);
    for h in 0..2 {
        for j in 0..4 {
            for p in 0..2 {
                let sc = scales[8 * h + 2 * j + p];
                let dl = d * (sc & 0xF) as f32;
                let ml = min * (sc >> 4) as f32;
                let q = &qs[32 * h + 16 * p..][..16];
                let out = &mut y[128 * h + 32 * j + 16 * p..][..16];
                for (o, &q) in out.iter_mut().zip(q) {
                    *o = dl * ((q >> (2 * j)) & 3) as f32 - ml;
                }
            }
        }
    }
}

/// The sixteen 6-bit Q3_K scales, unpacked from `scales[12]` (ggml does it with `kmask1`/`kmask2`
/// over three u32 words): low 4 bits from byte `j` (`j < 8`) or the high nibble of byte `j - 8`,
/// high 2 bits from bits `2*(j/4)` of byte `8 + j%4`. Returned without the −32 bias.
fn q3_k_scales(s: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = if j < 8 { s[j] & 0xF } else { s[j - 8] >> 4 };
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = low | (high << 4);
    }
    out
}

/// Q3_K: hmask[32]@0, qs[64]@32, scales[12]@96, d:f16@108. Element `128h + 32j + 16p + l` has
/// low bits = field `j` of `qs[32h + 16p + l]`, minus 4 unless bit `4h + j` of
/// `hmask[16p + l]` is set; scale `d * (sc[8h + 2j + p] - 32)`.
fn block_q3_k(b: &[u8; 110], y: &mut [f32; 256]) {
    let (hmask, qs) = (&b[..32], &b[32..96]);
    let scales = q3_k_scales(&b[96..108]);
    let d_all = f16_at(b, 108);
    for h in 0..2 {
        for j in 0..4 {
            let m = 1u8 << (4 * h + j);
            for p in 0..2 {
                let dl = d_all * (scales[8 * h + 2 * j + p] as i32 - 32) as f32;
                let q = &qs[32 * h + 16 * p..][..16];
                let hm = &hmask[16 * p..][..16];
                let out = &mut y[128 * h + 32 * j + 16 * p..][..16];
                for ((o, &q), &hm) in out.iter_mut().zip(q).zip(hm) {
                    let v = ((q >> (2 * j)) & 3) as i32 - if hm & m != 0 { 0 } else { 4 };
                    *o = dl * v as f32;
                }
            }
        }
    }
}

/// ggml's `get_scale_min_k4`: the 6-bit (scale, min) pair of sub-block `j` (0..8) of the 12-byte
/// Q4_K/Q5_K `scales` field.
#[inline]
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }
}

/// Q4_K: d:f16@0, dmin:f16@2, scales[12]@4, qs[128]@16. Chunk c (32 bytes) gives 64 elements:
/// low nibbles with sub-block 2c, then high nibbles with sub-block 2c+1.
fn block_q4_k(b: &[u8; 144], y: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let min = f16_at(b, 2);
    let scales = &b[4..16];
    for (c, (q, out)) in b[16..].chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc, m) = scale_min_k4(2 * c, scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = scale_min_k4(2 * c + 1, scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        let (lo, hi) = out.split_at_mut(32);
        for ((lo, hi), &q) in lo.iter_mut().zip(hi).zip(q) {
            *lo = d1 * (q & 0xF) as f32 - m1;
            *hi = d2 * (q >> 4) as f32 - m2;
        }
    }
}

/// Q5_K: d:f16@0, dmin:f16@2, scales[12]@4, qh[32]@16, qs[128]@48. As Q4_K, plus 16 when bit
/// 2c (low-nibble element l) or 2c+1 (high-nibble element l) of `qh[l]` is set.
fn block_q5_k(b: &[u8; 176], y: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let min = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    for (c, (q, out)) in b[48..].chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc, m) = scale_min_k4(2 * c, scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = scale_min_k4(2 * c + 1, scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
        let (lo, hi) = out.split_at_mut(32);
        for (((lo, hi), &q), &h) in lo.iter_mut().zip(hi).zip(q).zip(qh) {
            *lo = d1 * ((q & 0xF) + if h & u1 != 0 { 16 } else { 0 }) as f32 - m1;
            *hi = d2 * ((q >> 4) + if h & u2 != 0 { 16 } else { 0 }) as f32 - m2;
        }
    }
}

/// Q6_K: ql[128]@0, qh[64]@128, scales:i8[16]@192, d:f16@208. Half h, position l (0..32):
/// elements `128h + l + 32k` (k = 0..4) take the low/high nibble of `ql[64h + l]` /
/// `ql[64h + l + 32]` and bits 2k of `qh[32h + l]`, scale `scales[8h + l/16 + 2k]`;
/// `y = (d*sc)*(q6 - 32)`.
fn block_q6_k(b: &[u8; 210], y: &mut [f32; 256]) {
    let d = f16_at(b, 208);
    for h in 0..2 {
        let ql = &b[64 * h..][..64];
        let qh = &b[128 + 32 * h..][..32];
        let sc = &b[192 + 8 * h..][..8];
        let out = &mut y[128 * h..][..128];
        for l in 0..32 {
            let is = l / 16;
            let q = [
                (ql[l] & 0xF) | ((qh[l] & 3) << 4),
                (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4),
                (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
            ];
            for (k, &q) in q.iter().enumerate() {
                out[l + 32 * k] = d * (sc[is + 2 * k] as i8) as f32 * (q as i32 - 32) as f32;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------------------------

/// ggml's `GROUP_MAX_EPS`: a group whose largest magnitude is below it quantizes to zero.
pub(super) const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `nearest_int`: round to nearest (ties to even) with the 1.5·2^23 magic number, reading
/// the low mantissa bits. Exact for |f| ≤ 2^22; any other input (huge, infinite, NaN) gives what
/// the same bit trick gives in ggml.
#[inline]
pub(super) fn nearest_int(f: f32) -> i32 {
    let val = f + 12_582_912.0;
    (val.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// ggml's `make_qkx2_quants`: an asymmetric `nmax`-level quantization `x ≈ scale*L - the_min`
/// of one group, searching `nstep + 1` scales `(rmin + rdelta*is + nmax)/(max - min)` for the
/// least weighted error (absolute if `use_mad`, else squared); keeps the first best (strict
/// `<`). Writes `l` and returns `(scale, the_min)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    l: &mut [u8],
    laux: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
) -> (f32, f32) {
    let n = x.len();
    assert!(n <= 32, "make_qkx2_quants: groups of at most 32");
    let (weights, l, laux) = (&weights[..n], &mut l[..n], &mut laux[..n]);
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l.fill(0);
        return (0.0, -min);
    }
    let err = |diff: f32| if use_mad { diff.abs() } else { diff * diff };
    let nmaxf = nmax as f32;
    let mut iscale = nmaxf / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0f32;
    for i in 0..n {
        let q = nearest_int(iscale * (x[i] - min)).max(0).min(nmax);
        l[i] = q as u8;
        best_error += weights[i] * err(scale * q as f32 + min - x[i]);
    }
    if nstep < 1 {
        return (scale, -min);
    }
    // x - min, as the trials use it (recomputed when min changes).
    let mut xm = [0f32; 32];
    for (d, &v) in xm[..n].iter_mut().zip(x) {
        *d = v - min;
    }
    let mut qf = [0f32; 32];
    let mut errs = [0f32; 32];
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmaxf) / (max - min);
        // The levels first (element-wise, vectorizable), then the sums in ggml's order.
        for ((q, qf), &d) in laux.iter_mut().zip(&mut qf[..n]).zip(&xm[..n]) {
            let v = nearest_int(iscale * d).max(0).min(nmax);
            *q = v as u8;
            *qf = v as f32;
        }
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0f32, 0f32, 0f32);
        for ((&w, &q), &v) in weights.iter().zip(&qf[..n]).zip(x) {
            let wq = w * q;
            sum_l += wq;
            sum_l2 += wq * q;
            sum_xl += wq * v;
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            for ((e, &w), (&q, &v)) in errs.iter_mut().zip(weights).zip(qf[..n].iter().zip(x)) {
                *e = w * err(this_scale * q + this_min - v);
            }
            let mut cur_error = 0f32;
            for &e in &errs[..n] {
                cur_error += e;
            }
            if cur_error < best_error {
                l.copy_from_slice(laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
                // ggml's later trials use the new min (in x - min and max - min).
                for (d, &v) in xm[..n].iter_mut().zip(x) {
                    *d = v - min;
                }
            }
        }
    }
    (scale, -min)
}

/// [`make_qkx2_quants`] for `G` groups of `N` elements at once, one group per lane
/// (vectorizable across the groups; each lane's f32 operations are the oracle's, in its order,
/// its branches turned into selects; every lane runs the same `nstep + 1` trials, so nothing
/// is wasted). `t[i][g]` is element `i` of group `g` and `w[i][g]` its weight. Returns the
/// levels `lq[i][g]` and per group `(scale, the_min)`. The same bits as the oracle.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn make_qkx2_quants_lanes<const G: usize, const N: usize>(
    nmax: i32,
    t: &[[f32; G]; N],
    w: &[[f32; G]; N],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
) -> ([[u8; G]; N], [f32; G], [f32; G]) {
    let err = |diff: f32| if use_mad { diff.abs() } else { diff * diff };
    let (mut min, mut max) = (t[0], t[0]);
    let mut sum_w = w[0];
    let mut sum_x = [0f32; G];
    for g in 0..G {
        sum_x[g] = sum_w[g] * t[0][g];
    }
    for i in 1..N {
        for g in 0..G {
            let v = t[i][g];
            min[g] = if v < min[g] { v } else { min[g] };
            max[g] = if v > max[g] { v } else { max[g] };
            sum_w[g] += w[i][g];
            sum_x[g] += w[i][g] * v;
        }
    }
    let nmaxf = nmax as f32;
    let mut flat = [false; G];
    let mut iscale = [0f32; G];
    let mut scale = [0f32; G];
    for g in 0..G {
        min[g] = if min[g] > 0.0 { 0.0 } else { min[g] };
        flat[g] = max[g] == min[g];
        iscale[g] = nmaxf / (max[g] - min[g]);
        scale[g] = 1.0 / iscale[g];
    }
    let mut lq = [[0u8; G]; N];
    let mut best_error = [0f32; G];
    for i in 0..N {
        for g in 0..G {
            let q = nearest_int(iscale[g] * (t[i][g] - min[g])).max(0).min(nmax);
            lq[i][g] = q as u8;
            best_error[g] += w[i][g] * err(scale[g] * q as f32 + min[g] - t[i][g]);
        }
    }
    if nstep >= 1 {
        for is in 0..=nstep {
            let mut qf = [[0f32; G]; N];
            let (mut sum_l, mut sum_l2, mut sum_xl) = ([0f32; G], [0f32; G], [0f32; G]);
            for g in 0..G {
                iscale[g] = (rmin + rdelta * is as f32 + nmaxf) / (max[g] - min[g]);
            }
            for i in 0..N {
                for g in 0..G {
                    let q = nearest_int(iscale[g] * (t[i][g] - min[g])).max(0).min(nmax) as f32;
                    qf[i][g] = q;
                    let wq = w[i][g] * q;
                    sum_l[g] += wq;
                    sum_l2[g] += wq * q;
                    sum_xl[g] += wq * t[i][g];
                }
            }
            let (mut this_scale, mut this_min) = ([0f32; G], [0f32; G]);
            let mut ok = [false; G];
            for g in 0..G {
                let det = sum_w[g] * sum_l2[g] - sum_l[g] * sum_l[g];
                let s = (sum_w[g] * sum_xl[g] - sum_x[g] * sum_l[g]) / det;
                let m = (sum_l2[g] * sum_x[g] - sum_l[g] * sum_xl[g]) / det;
                let clip = m > 0.0;
                this_scale[g] = if clip { sum_xl[g] / sum_l2[g] } else { s };
                this_min[g] = if clip { 0.0 } else { m };
                ok[g] = (det > 0.0) & !flat[g];
            }
            let mut cur_error = [0f32; G];
            for i in 0..N {
                for g in 0..G {
                    cur_error[g] += w[i][g] * err(this_scale[g] * qf[i][g] + this_min[g] - t[i][g]);
                }
            }
            let mut better = [false; G];
            for g in 0..G {
                better[g] = ok[g] & (cur_error[g] < best_error[g]);
                best_error[g] = if better[g] { cur_error[g] } else { best_error[g] };
                scale[g] = if better[g] { this_scale[g] } else { scale[g] };
                min[g] = if better[g] { this_min[g] } else { min[g] };
            }
            for i in 0..N {
                for g in 0..G {
                    lq[i][g] = if better[g] { qf[i][g] as u8 } else { lq[i][g] };
                }
            }
        }
    }
    let mut the_min = [0f32; G];
    for g in 0..G {
        scale[g] = if flat[g] { 0.0 } else { scale[g] };
        the_min[g] = -min[g];
    }
    for row in lq.iter_mut() {
        for (q, &f) in row.iter_mut().zip(&flat) {
            *q = if f { 0 } else { *q };
        }
    }
    (lq, scale, the_min)
}

/// ggml's `make_q3_quants(n, nmax, x, L, do_rmse = true)`: symmetric levels −nmax..nmax−1
/// weighted by x², refined by up to 5 rounds of coordinate descent. Writes `l` (+nmax, so
/// 0..2·nmax) and returns the scale.
#[inline(always)]
fn make_q3_quants(nmax: i32, x: &[f32], l: &mut [i8]) -> f32 {
    let n = x.len();
    let (max, amax) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        l[..n].fill(0);
        return 0.0;
    }
    let iscale = -nmax as f32 / max;
    let (mut sumlx, mut suml2) = (0f32, 0f32);
    for i in 0..n {
        let q = nearest_int(iscale * x[i]).max(-nmax).min(nmax - 1);
        l[i] = q as i8;
        let w = x[i] * x[i];
        sumlx += w * x[i] * q as f32;
        suml2 += w * q as f32 * q as f32;
    }
    q3_descent(nmax, x, &mut l[..n], &mut sumlx, &mut suml2, 5);
    for q in l[..n].iter_mut() {
        *q += nmax as i8;
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}

/// The coordinate descent of ggml's `make_q3_quants`: up to `passes` passes over the group,
/// each trying every element's best level against the running sums `sumlx` = Σ w·x·l and
/// `suml2` = Σ w·l² (w = x²), keeping a change that raises sumlx²/suml2; stops after a pass
/// without a change. `l` holds the levels −nmax..nmax−1.
#[inline(always)]
fn q3_descent(nmax: i32, x: &[f32], l: &mut [i8], sumlx: &mut f32, suml2: &mut f32, passes: usize) {
    for _ in 0..passes {
        let mut n_changed = 0;
        for (&x, l) in x.iter().zip(l.iter_mut()) {
            let w = x * x;
            let li = *l as f32;
            let mut slx = *sumlx - w * x * li;
            if slx > 0.0 {
                let mut sl2 = *suml2 - w * li * li;
                let new_l = nearest_int(x * sl2 / slx).max(-nmax).min(nmax - 1);
                if new_l != *l as i32 {
                    slx += w * x * new_l as f32;
                    sl2 += w * new_l as f32 * new_l as f32;
                    if sl2 > 0.0 && slx * slx * *suml2 > *sumlx * *sumlx * sl2 {
                        *l = new_l as i8;
                        *sumlx = slx;
                        *suml2 = sl2;
                        n_changed += 1;
                    }
                }
            }
        }
        if n_changed == 0 {
            break;
        }
    }
}

/// ggml's `make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL)`: symmetric levels
/// −nmax..nmax−1 weighted by x², trying the scales `-(nmax + 0.1*is)/max` for is = −9..9 and
/// keeping a strictly better one. Writes `l` (+nmax) and returns the scale.
#[inline(always)]
fn make_qx_quants(nmax: i32, x: &[f32], l: &mut [i8]) -> f32 {
    let n = x.len();
    assert!(n <= 32, "make_qx_quants: groups of at most 32");
    let (max, amax) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        l[..n].fill(0);
        return 0.0;
    }
    // Per element the weight w = x² and w·x, the same products ggml forms in every trial.
    let mut w = [0f32; 32];
    let mut wx = [0f32; 32];
    for ((w, wx), &v) in w.iter_mut().zip(wx.iter_mut()).zip(x) {
        *w = v * v;
        *wx = *w * v;
    }
    let sums = |iscale: f32| {
        // The levels first (element-wise, vectorizable), then the two sums in ggml's order.
        let mut q = [0f32; 32];
        for (q, &v) in q.iter_mut().zip(x) {
            *q = nearest_int(iscale * v).max(-nmax).min(nmax - 1) as f32;
        }
        let (mut sumlx, mut suml2) = (0f32, 0f32);
        for ((&wx, &w), &q) in wx[..n].iter().zip(&w[..n]).zip(&q[..n]) {
            sumlx += wx * q;
            suml2 += w * q * q;
        }
        (sumlx, suml2)
    };
    let fill = |l: &mut [i8], iscale: f32| {
        for (q, &v) in l.iter_mut().zip(x) {
            *q = (nmax + nearest_int(iscale * v).max(-nmax).min(nmax - 1)) as i8;
        }
    };
    let iscale = -nmax as f32 / max;
    fill(l, iscale);
    let (sumlx, suml2) = sums(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        let iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            fill(l, iscale);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// [`make_q3_quants`] for the sixteen 16-element groups of a Q3_K block at once (the same
/// bits): `x` and `l` group-major as the block stores them; returns the sixteen scales. The
/// start and the first coordinate-descent pass run with one group per lane (vectorizable
/// across the groups; each lane's f32 operations are the oracle's, in its order, its branches
/// turned into selects). Most groups make no change in that pass and are done (the oracle
/// stops there too); the few that changed go on one by one through [`q3_descent`], the
/// oracle's own loop, for its remaining passes.
#[inline(always)]
fn make_q3_quants_x16(nmax: i32, x: &[f32; 256], l: &mut [i8; 256]) -> [f32; 16] {
    // Element i of group g at t[i][g]; w = x², wx = w·x as the oracle forms them.
    let mut t = [[0f32; 16]; 16];
    for g in 0..16 {
        for i in 0..16 {
            t[i][g] = x[16 * g + i];
        }
    }
    let mut w = [[0f32; 16]; 16];
    let mut wx = [[0f32; 16]; 16];
    for i in 0..16 {
        for g in 0..16 {
            w[i][g] = t[i][g] * t[i][g];
            wx[i][g] = w[i][g] * t[i][g];
        }
    }
    // ggml's serial signed absmax: the first element of the largest magnitude.
    let (mut amax, mut max) = ([0f32; 16], [0f32; 16]);
    for row in &t {
        for g in 0..16 {
            let ax = row[g].abs();
            let more = ax > amax[g];
            amax[g] = if more { ax } else { amax[g] };
            max[g] = if more { row[g] } else { max[g] };
        }
    }
    let mut live = [false; 16];
    let mut iscale = [0f32; 16];
    for g in 0..16 {
        live[g] = amax[g] >= GROUP_MAX_EPS;
        iscale[g] = -nmax as f32 / max[g];
    }
    let mut lq = [[0i32; 16]; 16];
    let (mut sumlx, mut suml2) = ([0f32; 16], [0f32; 16]);
    for i in 0..16 {
        for g in 0..16 {
            let q = nearest_int(iscale[g] * t[i][g]).max(-nmax).min(nmax - 1);
            lq[i][g] = q;
            let qf = q as f32;
            sumlx[g] += wx[i][g] * qf;
            suml2[g] += w[i][g] * qf * qf;
        }
    }
    // The first pass in lanes (every live group makes it).
    let mut changed = [false; 16];
    for i in 0..16 {
        // Each lane's trial, then the accepted ones taken over (whole arrays, no conditional
        // stores: they would stall the next step's loads).
        let (mut new_lq, mut new_sumlx, mut new_suml2) = ([0i32; 16], [0f32; 16], [0f32; 16]);
        for g in 0..16 {
            let li = lq[i][g] as f32;
            let slx = sumlx[g] - wx[i][g] * li;
            let sl2 = suml2[g] - w[i][g] * li * li;
            let nl = nearest_int(t[i][g] * sl2 / slx).max(-nmax).min(nmax - 1);
            let nlf = nl as f32;
            let slx2 = slx + wx[i][g] * nlf;
            let sl22 = sl2 + w[i][g] * nlf * nlf;
            let ok = live[g]
                & (slx > 0.0)
                & (nl != lq[i][g])
                & (sl22 > 0.0)
                & (slx2 * slx2 * suml2[g] > sumlx[g] * sumlx[g] * sl22);
            new_lq[g] = if ok { nl } else { lq[i][g] };
            new_sumlx[g] = if ok { slx2 } else { sumlx[g] };
            new_suml2[g] = if ok { sl22 } else { suml2[g] };
            changed[g] |= ok;
        }
        lq[i] = new_lq;
        sumlx = new_sumlx;
        suml2 = new_suml2;
    }
    for g in 0..16 {
        for i in 0..16 {
            l[16 * g + i] = lq[i][g] as i8;
        }
    }
    // The few groups that changed go on one by one, as the oracle (up to 4 more passes).
    for g in 0..16 {
        if changed[g] {
            q3_descent(nmax, &x[16 * g..][..16], &mut l[16 * g..][..16], &mut sumlx[g], &mut suml2[g], 4);
        }
    }
    let mut scales = [0f32; 16];
    for g in 0..16 {
        scales[g] = if !live[g] {
            0.0
        } else if suml2[g] > 0.0 {
            sumlx[g] / suml2[g]
        } else {
            0.0
        };
        for q in &mut l[16 * g..][..16] {
            *q = if live[g] { *q + nmax as i8 } else { 0 };
        }
    }
    scales
}

/// Candidates of [`make_qx_quants_fast`]: lane 0 the first scale `-nmax/max`, lanes 1..19 the
/// trials is = −9..−1, 1..9 in ggml's order, lanes 19..24 padding (copies of lane 0, unused).
const QX_LANES: usize = 24;

/// [`make_qx_quants`] for a 16-element group with all 19 candidate scales summed at once, one
/// candidate per lane (vectorizable across the candidates; each lane's f32 operations are the
/// oracle's, in its order), then the oracle's choice among them in its order; the levels are
/// formed once, from the chosen scale. The same bits.
#[inline(always)]
fn make_qx_quants_fast(nmax: i32, x: &[f32; 16], l: &mut [i8; 16]) -> f32 {
    let (max, amax) = signed_absmax(x);
    if amax < GROUP_MAX_EPS {
        l.fill(0);
        return 0.0;
    }
    let mut iscales = [-nmax as f32 / max; QX_LANES];
    for (k, is) in (-9..0).chain(1..=9).enumerate() {
        iscales[k + 1] = -(nmax as f32 + 0.1 * is as f32) / max;
    }
    let mut sumlx = [0f32; QX_LANES];
    let mut suml2 = [0f32; QX_LANES];
    for &v in x {
        let w = v * v;
        let wx = w * v;
        for k in 0..QX_LANES {
            let q = nearest_int(iscales[k] * v).max(-nmax).min(nmax - 1) as f32;
            sumlx[k] += wx * q;
            suml2[k] += w * q * q;
        }
    }
    let mut scale = if suml2[0] != 0.0 { sumlx[0] / suml2[0] } else { 0.0 };
    let mut best = scale * sumlx[0];
    let mut chosen = 0;
    for k in 1..19 {
        if suml2[k] > 0.0 && sumlx[k] * sumlx[k] > best * suml2[k] {
            scale = sumlx[k] / suml2[k];
            best = scale * sumlx[k];
            chosen = k;
        }
    }
    let iscale = iscales[chosen];
    for (q, &v) in l.iter_mut().zip(x) {
        *q = (nmax + nearest_int(iscale * v).max(-nmax).min(nmax - 1)) as i8;
    }
    scale
}

/// The last pass of every K-quant quantizer: the levels of one sub-block `x` against its stored
/// (f16-rounded) scale `d` and offset `dm`, `nearest_int((x + dm) / d)` clamped to `lo..=hi`,
/// handed to `set(i, level - lo)`. A sub-block whose stored scale is 0 keeps the levels of the
/// search, as in ggml. The symmetric types pass `dm = 0`: `x + 0.0` only turns −0 into +0, and
/// both give level 0 (NaN payloads are kept, so the bit trick of `nearest_int` sees the same).
#[inline(always)]
fn requantize(x: &[f32], d: f32, dm: f32, lo: i32, hi: i32, mut set: impl FnMut(usize, i32)) {
    if d == 0.0 {
        return;
    }
    // The levels first, element-wise (vectorizable, no branches), then handed over.
    let n = x.len();
    assert!(n <= 32, "requantize: groups of at most 32");
    let mut q = [0i32; 32];
    for (q, &v) in q[..n].iter_mut().zip(x) {
        *q = nearest_int((v + dm) / d).max(lo).min(hi) - lo;
    }
    for (i, &q) in q[..n].iter().enumerate() {
        set(i, q);
    }
}

/// Pack 2-bit levels as Q2_K/Q3_K store them: byte `32h + l` of `qs` holds elements
/// `128h + l + 32k` in bits 2k..2k+2.
#[inline(always)]
fn pack_2bit(l: &[u8; 256], qs: &mut [u8]) {
    for h in 0..2 {
        for i in 0..32 {
            let j = 128 * h + i;
            qs[32 * h + i] = l[j] | (l[j + 32] << 2) | (l[j + 64] << 4) | (l[j + 96] << 6);
        }
    }
}

/// Q2_K (`quantize_row_q2_K_ref`): per 16-element sub-block `make_qkx2_quants(16, 3, |x|
/// weights, rmin −0.5, rdelta 0.1, 15 steps, mad)`, 4-bit scales and mins against
/// `max/15`, then every sub-block requantized with the stored (f16-rounded) values.
#[inline(always)]
fn enc_block_q2_k(x: &[f32; 256], b: &mut [u8; 84], fast: bool) {
    const Q4SCALE: f32 = 15.0;
    let mut l = [0u8; 256];
    let mut laux = [0u8; 16];
    let mut weights = [0f32; 16];
    let mut mins = [0f32; 16];
    let mut scales = [0f32; 16];
    let (mut max_scale, mut max_min) = (0f32, 0f32);
    if fast {
        let (mut t, mut w) = ([[0f32; 16]; 16], [[0f32; 16]; 16]);
        for i in 0..16 {
            for g in 0..16 {
                t[i][g] = x[16 * g + i];
                w[i][g] = t[i][g].abs();
            }
        }
        let lq;
        (lq, scales, mins) = make_qkx2_quants_lanes(3, &t, &w, -0.5, 0.1, 15, true);
        for g in 0..16 {
            for i in 0..16 {
                l[16 * g + i] = lq[i][g];
            }
        }
    } else {
        for j in 0..16 {
            let xs = &x[16 * j..][..16];
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = v.abs();
            }
            (scales[j], mins[j]) =
                make_qkx2_quants(3, xs, &weights, &mut l[16 * j..][..16], &mut laux, -0.5, 0.1, 15, true);
        }
    }
    for j in 0..16 {
        let (scale, min) = (scales[j], mins[j]);
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }
    if max_scale > 0.0 {
        let iscale = Q4SCALE / max_scale;
        for j in 0..16 {
            b[j] = nearest_int(iscale * scales[j]) as u8;
        }
        put_f16(b, 80, max_scale / Q4SCALE);
    } else {
        b[..16].fill(0);
        put_f16(b, 80, 0.0);
    }
    if max_min > 0.0 {
        let iscale = Q4SCALE / max_min;
        for j in 0..16 {
            b[j] |= (nearest_int(iscale * mins[j]) as u8) << 4;
        }
        put_f16(b, 82, max_min / Q4SCALE);
    } else {
        put_f16(b, 82, 0.0);
    }
    let (d_all, dmin) = (f16_at(b, 80), f16_at(b, 82));
    for j in 0..16 {
        let (d, dm) = (d_all * (b[j] & 0xF) as f32, dmin * (b[j] >> 4) as f32);
        requantize(&x[16 * j..][..16], d, dm, 0, 3, |i, q| l[16 * j + i] = q as u8);
    }
    pack_2bit(&l, &mut b[16..80]);
}

/// Q3_K (`quantize_row_q3_K_ref`): per 16-element sub-block `make_q3_quants(16, 4)`, 6-bit
/// signed scales against `-max/32` (max = the signed largest-magnitude scale), requantized
/// with the stored values; the third bit goes to `hmask`.
#[inline(always)]
fn enc_block_q3_k(x: &[f32; 256], b: &mut [u8; 110], fast: bool) {
    let mut l = [0i8; 256];
    let mut scales = [0f32; 16];
    if fast {
        scales = make_q3_quants_x16(4, x, &mut l);
    } else {
        for j in 0..16 {
            scales[j] = make_q3_quants(4, &x[16 * j..][..16], &mut l[16 * j..][..16]);
        }
    }
    let (max_scale, _) = signed_absmax(&scales);
    b.fill(0);
    if max_scale != 0.0 {
        let iscale = -32.0 / max_scale;
        let sc = &mut b[96..108];
        for j in 0..16 {
            // int8_t l = nearest_int(...); l = MAX(-32, MIN(31, l)) + 32;
            let q = (nearest_int(iscale * scales[j]) as i8 as i32).clamp(-32, 31) + 32;
            if j < 8 {
                sc[j] = (q & 0xF) as u8;
            } else {
                sc[j - 8] |= ((q & 0xF) << 4) as u8;
            }
            sc[j % 4 + 8] |= ((q >> 4) << (2 * (j / 4))) as u8;
        }
        put_f16(b, 108, 1.0 / iscale);
    } else {
        put_f16(b, 108, 0.0);
    }
    let sc = q3_k_scales(&b[96..108]);
    let d_all = f16_at(b, 108);
    for j in 0..16 {
        let d = d_all * (sc[j] as i32 - 32) as f32;
        requantize(&x[16 * j..][..16], d, 0.0, -4, 3, |i, q| l[16 * j + i] = q as i8);
    }
    // Levels are 0..8: ggml's `if (L[j] > 3) { hm[j % 32] |= 1 << (j / 32); L[j] -= 4; }` is
    // bit 2 of the level into bit j/32 of hmask[j % 32] (zeroed above), bits 0..2 kept.
    let mut lu = [0u8; 256];
    for (u, &q) in lu.iter_mut().zip(&l) {
        *u = q as u8 & 3;
    }
    for (i, hm) in b[..32].iter_mut().enumerate() {
        let mut m = 0u8;
        for k in 0..8 {
            m |= ((l[32 * k + i] as u8 >> 2) & 1) << k;
        }
        *hm = m;
    }
    pack_2bit(&lu, &mut b[32..96]);
}

/// Pack the 6-bit (scale, min) pair of sub-block `j` as `get_scale_min_k4` reads it.
#[inline(always)]
fn put_scale_min_k4(j: usize, ls: u8, lm: u8, s: &mut [u8]) {
    if j < 4 {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
        s[j - 4] |= (ls >> 4) << 6;
        s[j] |= (lm >> 4) << 6;
    }
}

/// The common part of Q4_K and Q5_K (`quantize_row_q4_K_ref`, `quantize_row_q5_K_ref`): per
/// 32-element sub-block, weights `sqrt(Σx²/32) + |x|` and `make_qkx2_quants(32, nmax, rmin,
/// 0.1, nstep)`; 6-bit scales and mins against `max/63` into `d`, `dmin`, `scales[12]` (bytes
/// 0..16 of `b`); every sub-block requantized with the stored values. Returns the levels.
#[inline(always)]
fn k4_levels(x: &[f32; 256], nmax: i32, rmin: f32, nstep: i32, b: &mut [u8], fast: bool) -> [u8; 256] {
    let mut l = [0u8; 256];
    let mut laux = [0u8; 32];
    let mut weights = [0f32; 32];
    let mut mins = [0f32; 8];
    let mut scales = [0f32; 8];
    let (mut max_scale, mut max_min) = (0f32, 0f32);
    if fast {
        let (mut t, mut w) = ([[0f32; 8]; 32], [[0f32; 8]; 32]);
        let mut sum_x2 = [0f32; 8];
        for i in 0..32 {
            for g in 0..8 {
                t[i][g] = x[32 * g + i];
                sum_x2[g] += t[i][g] * t[i][g];
            }
        }
        let av_x = sum_x2.map(|s| (s / 32.0).sqrt());
        for i in 0..32 {
            for g in 0..8 {
                w[i][g] = av_x[g] + t[i][g].abs();
            }
        }
        let lq;
        (lq, scales, mins) = make_qkx2_quants_lanes(nmax, &t, &w, rmin, 0.1, nstep, false);
        for g in 0..8 {
            for i in 0..32 {
                l[32 * g + i] = lq[i][g];
            }
        }
    } else {
        for j in 0..8 {
            let xs = &x[32 * j..][..32];
            let mut sum_x2 = 0f32;
            for &v in xs {
                sum_x2 += v * v;
            }
            let av_x = (sum_x2 / 32.0).sqrt();
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = av_x + v.abs();
            }
            (scales[j], mins[j]) =
                make_qkx2_quants(nmax, xs, &weights, &mut l[32 * j..][..32], &mut laux, rmin, 0.1, nstep, false);
        }
    }
    for j in 0..8 {
        let (scale, min) = (scales[j], mins[j]);
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        put_scale_min_k4(j, ls, lm, &mut b[4..16]);
    }
    put_f16(b, 0, max_scale / 63.0);
    put_f16(b, 2, max_min / 63.0);
    let (d_all, dmin) = (f16_at(b, 0), f16_at(b, 2));
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, &b[4..16]);
        let (d, dm) = (d_all * sc as f32, dmin * m as f32);
        requantize(&x[32 * j..][..32], d, dm, 0, nmax, |i, q| l[32 * j + i] = q as u8);
    }
    l
}

/// Q4_K (`quantize_row_q4_K_ref`): [`k4_levels`] with nmax 15, rmin −1, 20 steps; chunk c of
/// `qs` holds sub-block 2c in the low nibbles and 2c+1 in the high ones.
#[inline(always)]
fn enc_block_q4_k(x: &[f32; 256], b: &mut [u8; 144], fast: bool) {
    let l = k4_levels(x, 15, -1.0, 20, b, fast);
    for (c, q) in b[16..].chunks_exact_mut(32).enumerate() {
        for (i, q) in q.iter_mut().enumerate() {
            *q = l[64 * c + i] | (l[64 * c + i + 32] << 4);
        }
    }
}

/// Q5_K (`quantize_row_q5_K_ref`): [`k4_levels`] with nmax 31, rmin −0.5, 15 steps; the 5th
/// bits go to `qh` (bit 2c / 2c+1 of `qh[i]`).
#[inline(always)]
fn enc_block_q5_k(x: &[f32; 256], b: &mut [u8; 176], fast: bool) {
    let l = k4_levels(x, 31, -0.5, 15, b, fast);
    let (qh, ql) = b[16..].split_at_mut(32);
    qh.fill(0);
    for (c, q) in ql.chunks_exact_mut(32).enumerate() {
        let (m1, m2) = (1u8 << (2 * c), 2u8 << (2 * c));
        for (i, q) in q.iter_mut().enumerate() {
            let (mut l1, mut l2) = (l[64 * c + i], l[64 * c + i + 32]);
            if l1 > 15 {
                l1 -= 16;
                qh[i] |= m1;
            }
            if l2 > 15 {
                l2 -= 16;
                qh[i] |= m2;
            }
            *q = l1 | (l2 << 4);
        }
    }
}

/// Q6_K (`quantize_row_q6_K_ref`): per 16-element sub-block `make_qx_quants(16, 32, rmse 1)`,
/// i8 scales against `-max/128` (max = the signed largest-magnitude scale), requantized with
/// the stored values; an all-(near-)zero block is all zero bytes.
#[inline(always)]
fn enc_block_q6_k(x: &[f32; 256], b: &mut [u8; 210], fast: bool) {
    let mut l = [0i8; 256];
    let mut scales = [0f32; 16];
    for ib in 0..16 {
        let (xs, ls) = (&x[16 * ib..][..16], &mut l[16 * ib..][..16]);
        scales[ib] = if fast {
            make_qx_quants_fast(32, xs.try_into().unwrap(), ls.try_into().unwrap())
        } else {
            make_qx_quants(32, xs, ls)
        };
    }
    let (max_scale, max_abs_scale) = signed_absmax(&scales);
    b.fill(0);
    if max_abs_scale < GROUP_MAX_EPS {
        put_f16(b, 208, 0.0);
        return;
    }
    let iscale = -128.0 / max_scale;
    put_f16(b, 208, 1.0 / iscale);
    for ib in 0..16 {
        b[192 + ib] = nearest_int(iscale * scales[ib]).min(127) as u8;
    }
    let d_all = f16_at(b, 208);
    for j in 0..16 {
        let d = d_all * (b[192 + j] as i8) as f32;
        requantize(&x[16 * j..][..16], d, 0.0, -32, 31, |i, q| l[16 * j + i] = q as i8);
    }
    for h in 0..2 {
        for i in 0..32 {
            let j = 128 * h + i;
            let q = [l[j] as u8, l[j + 32] as u8, l[j + 64] as u8, l[j + 96] as u8];
            b[64 * h + i] = (q[0] & 0xF) | ((q[2] & 0xF) << 4);
            b[64 * h + i + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4);
            b[128 + 32 * h + i] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
        }
    }
}

/// Whether the K-quant encoders use the restructured scale searches
/// ([`make_qkx2_quants_lanes`], [`make_q3_quants_x16`], [`make_qx_quants_fast`]; the same
/// bits) rather than the oracles written as ggml's loops: whenever SIMD is in use, so
/// `BG_FORCE_SCALAR=1` runs the oracles.
fn fast_search() -> bool {
    super::simd::level().is_simd()
}

fn enc_q2_k(src: &[f32], dst: &mut [u8]) {
    let fast = fast_search();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_q2_k(x, b, fast),
    );
}

fn enc_q3_k(src: &[f32], dst: &mut [u8]) {
    let fast = fast_search();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_q3_k(x, b, fast),
    );
}

fn enc_q4_k(src: &[f32], dst: &mut [u8]) {
    let fast = fast_search();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_q4_k(x, b, fast),
    );
}

fn enc_q5_k(src: &[f32], dst: &mut [u8]) {
    let fast = fast_search();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_q5_k(x, b, fast),
    );
}

fn enc_q6_k(src: &[f32], dst: &mut [u8]) {
    let fast = fast_search();
    for_each_block_enc(
        src,
        dst,
        #[inline(always)]
        |x, b| enc_block_q6_k(x, b, fast),
    );
}

/// Encoders of this family (no Q8_K: it is not a storage type).
pub fn encoder(id: TypeId) -> Option<Encoder> {
    match id {
        10 => Some(enc_q2_k),
        11 => Some(enc_q3_k),
        12 => Some(enc_q4_k),
        13 => Some(enc_q5_k),
        14 => Some(enc_q6_k),
        _ => None,
    }
}

fn dec_q2_k(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q2_k);
}

fn dec_q3_k(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q3_k);
}

fn dec_q4_k(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q4_k);
}

fn dec_q5_k(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q5_k);
}

fn dec_q6_k(src: &[u8], dst: &mut [f32]) {
    for_each_block(src, dst, block_q6_k);
}

/// Decoders of this family.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    match id {
        10 => Some(dec_q2_k),
        11 => Some(dec_q3_k),
        12 => Some(dec_q4_k),
        13 => Some(dec_q5_k),
        14 => Some(dec_q6_k),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999998, 4194303.0].map(nearest_int), [0, 2, 2, 0, -2, 2, 4194303]);
        // Outside the trick's range: what the bits give, as in ggml.
        assert_eq!(nearest_int(f32::from_bits(0x7fc0_0000)), 0);
        assert_eq!(nearest_int(f32::INFINITY), -0x40_0000);
    }

    #[test]
    fn zero_blocks_encode_to_zeros() {
        let x = [0f32; 256];
        for (id, size) in [(10, 84), (11, 110), (12, 144), (13, 176), (14, 210)] {
            let mut b = vec![0xeeu8; size];
            encoder(id).unwrap()(&x, &mut b);
            assert!(decode(id, &b).iter().all(|&v| v == 0.0), "type {id}");
        }
    }

    const ONE: [u8; 2] = [0x00, 0x3c];
    const HALF: [u8; 2] = [0x00, 0x38];

    fn decode(id: TypeId, src: &[u8]) -> Vec<f32> {
        let mut y = vec![f32::NAN; 256];
        decoder(id).unwrap()(src, &mut y);
        y
    }

    /// Every qs byte 0xe4 = fields (0, 1, 2, 3): element e has 2-bit value (e % 128) / 32.
    const FIELDS: u8 = 0b11_10_01_00;

    #[test]
    fn q2_k_block() {
        // d = 1, dmin = 0.5, scales[s] = s | 1 << 4: y[e] = (e/16) * ((e%128)/32) - 0.5.
        let mut b: Vec<u8> = (0..16).map(|s| s | 0x10).collect();
        b.extend([FIELDS; 64]);
        b.extend(ONE);
        b.extend(HALF);
        let y = decode(10, &b);
        assert_eq!((y[0], y[37], y[255]), (-0.5, 1.5, 44.5));
        for (e, &v) in y.iter().enumerate() {
            assert_eq!(v, ((e / 16) * ((e % 128) / 32)) as f32 - 0.5, "element {e}");
        }
    }

    #[test]
    fn q3_k_block() {
        // 6-bit scale of sub-block s = 33 + s, i.e. sc - 32 = s + 1 (packed as ggml's quantizer
        // does). hmask all set except bit 0 of hmask[0] (element 0 loses 4), d = 1.
        let mut scales = [0u8; 12];
        for s in 0..16 {
            let l = 33 + s as u8;
            if s < 8 {
                scales[s] = l & 0xF;
            } else {
                scales[s - 8] |= (l & 0xF) << 4;
            }
            scales[8 + s % 4] |= (l >> 4) << (2 * (s / 4));
        }
        let mut b = vec![0xffu8; 32];
        b[0] = 0xfe;
        b.extend([FIELDS; 64]);
        b.extend(scales);
        b.extend(ONE);
        let y = decode(11, &b);
        assert_eq!((y[0], y[16], y[200], y[255]), (-4.0, 0.0, 26.0, 48.0));
        for (e, &v) in y.iter().enumerate().skip(1) {
            assert_eq!(v, ((e / 16 + 1) * ((e % 128) / 32)) as f32, "element {e}");
        }
    }

    /// Scales (sc, m) of sub-block j: (j + 1, j) for j < 4, (10 + j, 20 + j) above (6 bits),
    /// packed as ggml's quantizer does.
    fn k4_scales() -> ([u8; 12], [(f32, f32); 8]) {
        let mut s = [0u8; 12];
        let mut v = [(0.0, 0.0); 8];
        for j in 0..8 {
            let (ls, lm) = if j < 4 { (j as u8 + 1, j as u8) } else { (10 + j as u8, 20 + j as u8) };
            if j < 4 {
                s[j] = ls;
                s[j + 4] = lm;
            } else {
                s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
                s[j - 4] |= (ls >> 4) << 6;
                s[j] |= (lm >> 4) << 6;
            }
            v[j] = (ls as f32, lm as f32);
        }
        (s, v)
    }

    #[test]
    fn q4_k_block() {
        // d = 1, dmin = 0.5; byte l of each chunk = (l % 16) | (15 - l % 16) << 4.
        let (scales, v) = k4_scales();
        let mut b = [ONE, HALF].concat();
        b.extend(scales);
        for _ in 0..4 {
            b.extend((0..32).map(|l| (l % 16) | (15 - l % 16) << 4));
        }
        let y = decode(12, &b);
        // Element 255: chunk 3, high nibble (sub-block 7: sc 17, m 27), l = 31: 15 - 15 = 0.
        assert_eq!((y[0], y[33], y[255]), (0.0, 2.0 * 14.0 - 0.5, -13.5));
        for (e, &got) in y.iter().enumerate() {
            let (c, r) = (e / 64, e % 64);
            let l = (r % 32) as u8 % 16;
            let (q, (sc, m)) = if r < 32 { (l, v[2 * c]) } else { (15 - l, v[2 * c + 1]) };
            assert_eq!(got, sc * q as f32 - 0.5 * m, "element {e}");
        }
    }

    #[test]
    fn q5_k_block() {
        // As q4_k_block, plus qh[l] = 0x55 (l even: low-nibble elements +16) or 0xaa (l odd:
        // high-nibble elements +16).
        let (scales, v) = k4_scales();
        let mut b = [ONE, HALF].concat();
        b.extend(scales);
        b.extend((0..32).map(|l| if l % 2 == 0 { 0x55u8 } else { 0xaa }));
        for _ in 0..4 {
            b.extend((0..32).map(|l| (l % 16) | (15 - l % 16) << 4));
        }
        let y = decode(13, &b);
        assert_eq!((y[0], y[1], y[33]), (16.0, 1.0, 2.0 * (16.0 + 14.0) - 0.5));
        for (e, &got) in y.iter().enumerate() {
            let (c, r) = (e / 64, e % 64);
            let l = r % 32;
            let n = l as u8 % 16;
            let (q, (sc, m)) = if r < 32 {
                (n + if l % 2 == 0 { 16 } else { 0 }, v[2 * c])
            } else {
                (15 - n + if l % 2 == 1 { 16 } else { 0 }, v[2 * c + 1])
            };
            assert_eq!(got, sc * q as f32 - 0.5 * m, "element {e}");
        }
    }

    #[test]
    fn q6_k_block() {
        // d = 0.5, scales[s] = s - 8, ql[k] = k, qh[k] = 7k (mod 256).
        let mut b: Vec<u8> = (0..128).collect();
        b.extend((0..64u32).map(|k| (7 * k) as u8));
        b.extend((0..16).map(|s| (s as i8 - 8) as u8));
        b.extend(HALF);
        let y = decode(14, &b);
        // Element 0: ql[0] = 0, qh[0] = 0 → q = -32, scale -8: 0.5 * -8 * -32 = 128.
        // Element 100 (h 0, k 3, l 4): ql[36] >> 4 = 2, (qh[4] = 28) >> 6 = 0 → q = 2 - 32,
        // scale index 0 + 6 → -2: 0.5 * -2 * -30 = 30.
        assert_eq!((y[0], y[100]), (128.0, 30.0));
        for (e, &got) in y.iter().enumerate() {
            let (h, k, l) = (e / 128, (e % 128) / 32, e % 32);
            let byte = b[64 * h + l + 32 * (k % 2)];
            let low = if k < 2 { byte & 0xF } else { byte >> 4 };
            let high = (b[128 + 32 * h + l] >> (2 * k)) & 3;
            let sc = (8 * h + l / 16 + 2 * k) as f32 - 8.0;
            assert_eq!(got, 0.5 * sc * ((low | high << 4) as f32 - 32.0), "element {e}");
        }
    }

    /// Blocks of seeded data for the fast-vs-oracle checks: normal values at scales 2^-140..2^130
    /// with an occasional special element (±0, ±inf, NaN, ±FLT_MAX, subnormal, exact ties),
    /// plus all-equal, all-zero and one-outlier blocks.
    fn search_blocks() -> Vec<[f32; 256]> {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut blocks = vec![[0f32; 256], [0.75; 256], [-3.5; 256]];
        let mut outlier = [0f32; 256];
        outlier[37] = -40.0;
        blocks.push(outlier);
        for n in 0..600 {
            let scale = 2f32.powi((next() % 271) as i32 - 140);
            let mut b = [0f32; 256];
            for v in b.iter_mut() {
                // Sum of uniforms: roughly normal.
                let u = (0..3).map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).sum::<f32>();
                *v = u * scale;
                if n % 3 == 0 {
                    *v = match next() % 64 {
                        0 => 0.0,
                        1 => -0.0,
                        2 => f32::INFINITY,
                        3 => f32::NEG_INFINITY,
                        4 => f32::NAN,
                        5 => f32::MAX,
                        6 => -f32::MAX,
                        7 => 1e-41,
                        8 => ((next() % 17) as f32 - 8.0) * 0.5,
                        _ => *v,
                    };
                }
            }
            if n % 5 == 1 {
                // Exact small integers and halves: ties in every rounding.
                for v in b.iter_mut() {
                    *v = ((next() % 33) as i32 - 16) as f32 * 0.5;
                }
            }
            blocks.push(b);
        }
        blocks
    }

    #[test]
    fn fast_scale_searches_match_the_oracles() {
        // (Every K-quant encoder, the restructured searches against the oracles.)
        for (n, x) in search_blocks().iter().enumerate() {
            let (mut fast, mut oracle) = ([0u8; 110], [0u8; 110]);
            enc_block_q3_k(x, &mut fast, true);
            enc_block_q3_k(x, &mut oracle, false);
            assert_eq!(fast, oracle, "q3_k block {n}");
            let (mut fast, mut oracle) = ([0u8; 210], [0u8; 210]);
            enc_block_q6_k(x, &mut fast, true);
            enc_block_q6_k(x, &mut oracle, false);
            assert_eq!(fast, oracle, "q6_k block {n}");
            let (mut fast, mut oracle) = ([0u8; 84], [0u8; 84]);
            enc_block_q2_k(x, &mut fast, true);
            enc_block_q2_k(x, &mut oracle, false);
            assert_eq!(fast, oracle, "q2_k block {n}");
            let (mut fast, mut oracle) = ([0u8; 144], [0u8; 144]);
            enc_block_q4_k(x, &mut fast, true);
            enc_block_q4_k(x, &mut oracle, false);
            assert_eq!(fast, oracle, "q4_k block {n}");
            let (mut fast, mut oracle) = ([0u8; 176], [0u8; 176]);
            enc_block_q5_k(x, &mut fast, true);
            enc_block_q5_k(x, &mut oracle, false);
            assert_eq!(fast, oracle, "q5_k block {n}");
            // The searches themselves, group by group: the levels, and the scales bit for bit
            // (NaN as NaN: which NaN an operation with two NaN operands returns depends on
            // the operand order the compiler picks, in ggml too; the encoders read none of it).
            let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            let mut l16 = [0i8; 256];
            let s16 = make_q3_quants_x16(4, x, &mut l16);
            for g in 0..16 {
                let (xs, mut lq, mut lx) = (&x[16 * g..][..16], [0i8; 16], [0i8; 16]);
                let want = make_q3_quants(4, xs, &mut lq);
                assert_eq!(&l16[16 * g..][..16], &lq[..], "q3 levels {n}/{g}");
                assert!(same(s16[g], want), "q3 scale {n}/{g}: {} vs {want}", s16[g]);
                let got = make_qx_quants_fast(32, xs.try_into().unwrap(), &mut lx);
                let want = make_qx_quants(32, xs, &mut lq);
                assert_eq!(lx, lq, "qx levels {n}/{g}");
                assert!(same(got, want), "qx scale {n}/{g}: {got} vs {want}");
            }
        }
    }
}
