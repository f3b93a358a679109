//! K-quants, 256-element super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (reference/gguf-ggml.md
//! §2.3, §2.5; ggml-quants.c `dequantize_row_q2_K` … `dequantize_row_q6_K`). Q8_K has no
//! `to_float` in ggml's type traits (it is a dot-product intermediate), so no decoder here.
//!
//! Operation order follows ggml exactly: sub-block scales are formed as f32 products first
//! (`dl = d*sc`, `ml = dmin*m`), then `dl*q - ml`; Q6_K is `(d*sc)*q`.

use super::legacy::{f16_at, for_each_block};
use super::Decoder;
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
}
