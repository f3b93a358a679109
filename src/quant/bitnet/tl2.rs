//! TL2: the x86 AVX2 lookup-table format (shared/reference/bitnet-formats.md §5).
//!
//! The columns of an `M x K` tensor are split at `K3 = floor(K/BK)*BK`:
//! - the "three" part (columns `0..K3`): triples `(t0, t1, t2)` become `v = 9t0 + 3t1 + t2`,
//!   stored as a 4-bit index `|v|` (0..=13, section A) plus one sign bit `v < 0` (section B);
//! - the "two" part (the last `K2 = K - K3` columns): TL1 pairs, index `3t0 + t1 + 4` (section C).
//!
//! Bytes are emitted per tile in the orders of §5.4, with rows permuted inside each 32-row group
//! (byte positions 8..15 hold rows 16..23 and 16..23 hold rows 8..15). The payload is zero-padded
//! to `F(M, K)` bytes (§5.7) and then to a multiple of 32; the hidden scale record (f32 LE + 28
//! zero bytes) sits at `roundup32(F)`, so a tensor is `roundup32(F) + 32` bytes.

use std::ops::Range;

use super::preset_table::{row, B3, ENV, INI, L8, LARGE};
use super::tiles::{all_tiles, decode_tl_rows, TileWalk, TlKind};
use super::tl1::{pair, pair_index};
use super::{
    byte_at, check_dst, check_src, check_trits, elements, invalid, read_f32, scale_record, PresetSource, Ternarizer,
    Ternary, TlConfig, TlPreset,
};
use crate::error::{Error, Result, Status};

/// `F(M, K) = (K-256)*M/3*5/8 + 256*M/2*4/8` with C's signed 64-bit semantics (§5.7), as
/// [`crate::types::tl2_payload_bound`] computes it. `None` on overflow or a negative result.
pub fn tl2_f(m: usize, k: usize) -> Option<u64> {
    crate::types::tl2_payload_bound(m as u64, k as u64)
}

/// Bytes of an `M x K` TL2 tensor: `roundup32(F(M, K)) + 32` (ggml_nbytes).
pub fn tl2_nbytes(m: usize, k: usize) -> Result<usize> {
    let f = tl2_f(m, k).ok_or_else(|| invalid(format!("F({m}, {k}) of a TL2 tensor overflows")))?;
    usize::try_from(f)
        .ok()
        .and_then(|f| f.checked_add(31))
        .map(|v| v & !31)
        .and_then(|v| v.checked_add(32))
        .ok_or_else(|| invalid(format!("the size of a {m} x {k} TL2 tensor overflows")))
}

/// Where everything of an `M x K` TL2 tensor lies, for one tile configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tl2Geometry {
    /// Columns of the three part, `floor(K/BK)*BK`.
    pub k3: usize,
    /// Columns of the two part, `K - K3`.
    pub k2: usize,
    /// Start of section B (sign bits) = size of section A, `M*K3/6`.
    pub sign_offset: usize,
    /// Start of section C (two part) = `M*K3/6 + M*K3/24`.
    pub two_offset: usize,
    /// Bytes of real payload, `two_offset + M*K2/4`.
    pub payload: usize,
    /// `F(M, K)` (§5.7): the payload is zero-padded to this.
    pub f: usize,
    /// Where the scale record starts: `roundup32(F)`.
    pub scale_offset: usize,
    /// The tensor's size: `scale_offset + 32`.
    pub nbytes: usize,
}

/// Check TL2 tile parameters against a shape (§5.2) and compute the layout: `bm == 32`
/// (codegen_tl2.py asserts it), `BM > 0`, `BM % 32 == 0`, `M % BM == 0`, `BK > 0`,
/// `BK % 24 == 0`, `K2 % 32 == 0`, and the payload must fit in `F(M, K)` (it can only exceed
/// it when `K2 > 256`; the scale record would then overlap the payload).
pub fn tl2_geometry(m: usize, k: usize, cfg: &TlConfig) -> Result<Tl2Geometry> {
    let TlConfig { bm_tile, bk, bm } = *cfg;
    let bad =
        |why: String| Err(invalid(format!("TL2 tile config BM={bm_tile}, BK={bk}, bm={bm} for M={m}, K={k}: {why}")));
    if bm != 32 {
        return bad(format!(
            "bm must be 32 (codegen_tl2.py asserts it; setup_env.py always generates bm = 32), not {bm}"
        ));
    }
    if bm_tile == 0 || bm_tile % 32 != 0 {
        return bad("BM must be a positive multiple of 32".into());
    }
    if !m.is_multiple_of(bm_tile) {
        return bad(format!("M % BM = {} (must be 0)", m % bm_tile));
    }
    if bk == 0 || bk % 24 != 0 {
        return bad("BK must be a positive multiple of 24".into());
    }
    let k3 = k / bk * bk;
    let k2 = k - k3;
    if !k2.is_multiple_of(32) {
        return bad(format!("K2 = K - floor(K/BK)*BK = {k2} is not a multiple of 32"));
    }
    let n = elements(m, k)?;
    let three = m * k3 / 6; // m*k3 <= n: no overflow
    let sign_offset = three;
    let two_offset = three + m * k3 / 24;
    let payload = two_offset + m * k2 / 4;
    let f = tl2_f(m, k).and_then(|f| usize::try_from(f).ok());
    let nbytes = tl2_nbytes(m, k)?;
    let f = f.ok_or_else(|| invalid(format!("F({m}, {k}) overflows")))?;
    if payload > f {
        return bad(format!(
            "the payload ({payload} bytes) exceeds F(M, K) = {f}, so the scale record at roundup32(F) would overlap it"
        ));
    }
    debug_assert!(n / 4 + 32 >= payload);
    Ok(Tl2Geometry { k3, k2, sign_offset, two_offset, payload, f, scale_offset: nbytes - 32, nbytes })
}

/// Swap bits 3 and 4 of a position within a 32-row group (§5.4 `rowperm`).
#[inline]
pub(crate) const fn rowperm(pos: usize) -> usize {
    (pos & !0x18) | ((pos & 8) << 1) | ((pos & 16) >> 1)
}

/// Call `f(byte_offset, row, j0)` for every section-A byte of the row tiles `tiles`: it holds
/// triples `j0` (high nibble) and `j0 + 1` (low nibble) of `row`.
fn walk_three(g: &Tl2Geometry, cfg: &TlConfig, tiles: Range<usize>, mut f: impl FnMut(usize, usize, usize)) {
    let (bm_tile, bk) = (cfg.bm_tile, cfg.bk);
    let tw = TileWalk { nj: g.k3 / bk, ng: bm_tile / 32, ny: bk / 6, step_bytes: 32 };
    tw.run(0, tiles, |o, i, j, r, y| {
        let j0 = j * (bk / 3) + 2 * y;
        for pos in 0..32 {
            f(o + pos, i * bm_tile + r * 32 + rowperm(pos), j0);
        }
    });
}

/// Call `f(byte_offset, row, p0)` for every section-C byte of the row tiles `tiles`: it holds
/// pairs `p0` (high nibble) and `p0 + 1` (low nibble) of the two part (columns `K3 + 2p`,
/// `K3 + 2p + 1`).
fn walk_two(g: &Tl2Geometry, cfg: &TlConfig, tiles: Range<usize>, mut f: impl FnMut(usize, usize, usize)) {
    let bm_tile = cfg.bm_tile;
    let tw = TileWalk { nj: g.k2 / 32, ng: bm_tile / 32, ny: 8, step_bytes: 32 };
    tw.run(g.two_offset, tiles, |o, i, j, r, y| {
        let p0 = j * 16 + 2 * y;
        for pos in 0..32 {
            f(o + pos, i * bm_tile + r * 32 + rowperm(pos), p0);
        }
    });
}

/// The byte offset and bit (0 = LSB of that byte) of the sign of triple `jt` of `row` (§5.4
/// section B: little-endian u16 words, bit `15 - (2q + h)` of word `c`).
#[inline]
fn sign_bit(row: usize, jt: usize, g: &Tl2Geometry, cfg: &TlConfig) -> (usize, u32) {
    let (bm_tile, bk) = (cfg.bm_tile, cfg.bk);
    let (i, rr) = (row / bm_tile, row % bm_tile);
    let (r, rw) = (rr / 32, rr % 32);
    let (h, c) = (rw / 16, rw % 16);
    let (j, jj) = (jt / (bk / 3), jt % (bk / 3));
    let (q_group, q) = (jj / 8, jj % 8);
    let word = ((((i * (g.k3 / bk) + j) * (bm_tile / 32) + r) * (bk / 24) + q_group) * 16) + c;
    let bit = 15 - (2 * q + h) as u32;
    (g.sign_offset + 2 * word + (bit / 8) as usize, bit % 8)
}

/// The triples of the 14 three-part indices: balanced ternary with a non-negative leading
/// nonzero digit (§5.3, `three_lut_ctor` order).
pub(crate) const TRIPLES: [[i8; 3]; 14] = {
    let mut t = [[0i8; 3]; 14];
    let mut v = 0;
    while v < 14 {
        // v = 9a + 3b + c with a, b, c in {-1, 0, 1}.
        let c = ((v + 1) % 3) as i8 - 1;
        let rest = (v as i8 - c) / 3;
        let b = ((rest + 1) % 3) - 1;
        let a = (rest - b) / 3;
        t[v] = [a, b, c];
        v += 1;
    }
    t
};

/// `(|v|, v < 0)` of a triple.
#[inline]
fn triple_index(t: &[i8]) -> (u8, bool) {
    let v = 9 * t[0] + 3 * t[1] + t[2];
    (v.unsigned_abs(), v < 0)
}

/// Validate shape, config, length and every index (three ≤ 13, two ≤ 8) of the row tiles
/// `tiles`; returns the geometry and the scale. `file_base`: where the tensor starts in its file,
/// for messages.
pub(crate) fn validate(
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    tiles: Option<Range<usize>>,
    file_base: Option<u64>,
) -> Result<(Tl2Geometry, f32)> {
    let g = tl2_geometry(m, k, cfg)?;
    check_src(&format!("a {m} x {k} TL2 tensor"), src.len(), g.nbytes)?;
    let tiles = tiles.unwrap_or(all_tiles(m, cfg));
    let mut err = None;
    walk_three(&g, cfg, tiles.clone(), |o, row, j0| {
        let b = src[o];
        if err.is_none() && (b >> 4 > 13 || b & 15 > 13) {
            let (nib, j) = if b >> 4 > 13 { (b >> 4, j0) } else { (b & 15, j0 + 1) };
            err = Some(format!(
                "{} has the invalid TL2 three-index {nib} (> 13; expected 0..=13) for row {row}, columns {}..{} \
                 (byte {b:#04x})",
                byte_at(o, file_base),
                3 * j,
                3 * j + 2
            ));
        }
    });
    walk_two(&g, cfg, tiles, |o, row, p0| {
        let b = src[o];
        if err.is_none() && (b >> 4 > 8 || b & 15 > 8) {
            let (nib, p) = if b >> 4 > 8 { (b >> 4, p0) } else { (b & 15, p0 + 1) };
            err = Some(format!(
                "{} has the invalid TL2 two-index {nib} (> 8; expected 0..=8) for row {row}, columns {}..{} \
                 (byte {b:#04x})",
                byte_at(o, file_base),
                g.k3 + 2 * p,
                g.k3 + 2 * p + 1
            ));
        }
    });
    match err {
        Some(msg) => Err(Error::new(Status::InvalidCode, msg)),
        None => Ok((g, read_f32(src, g.scale_offset))),
    }
}

/// Visit every trit of the row tiles `tiles` of a validated tensor: `put(row, col, t)`.
pub(crate) fn for_each_trit(
    src: &[u8],
    g: &Tl2Geometry,
    cfg: &TlConfig,
    tiles: Range<usize>,
    mut put: impl FnMut(usize, usize, i8),
) {
    walk_three(g, cfg, tiles.clone(), |o, row, j0| {
        let b = src[o];
        for (jt, idx) in [(j0, b >> 4), (j0 + 1, b & 15)] {
            let (at, bit) = sign_bit(row, jt, g, cfg);
            let neg = (src[at] >> bit) & 1 == 1;
            for (d, &t) in TRIPLES[idx as usize].iter().enumerate() {
                put(row, 3 * jt + d, if neg { -t } else { t });
            }
        }
    });
    walk_two(g, cfg, tiles, |o, row, p0| {
        let b = src[o];
        let c = g.k3 + 2 * p0;
        let (a0, a1) = pair(b >> 4);
        let (b0, b1) = pair(b & 15);
        put(row, c, a0);
        put(row, c + 1, a1);
        put(row, c + 2, b0);
        put(row, c + 3, b1);
    });
}

/// Decode an `M x K` TL2 tensor (`src` exactly `roundup32(F) + 32` bytes) into `dst` (`M*K`
/// elements, row-major), with the tile parameters it was encoded with. A sign bit set on index 0
/// decodes to zeros (the kernel's `(x + m) ^ m` does the same); padding bytes are not checked.
pub fn decode_tl2(src: &[u8], m: usize, k: usize, cfg: &TlConfig, dst: &mut [f32]) -> Result<()> {
    decode_tl_rows(TlKind::Tl2, src, m, k, cfg, 0..m, None, dst).map(|_| ())
}

/// Decode an `M x K` TL2 tensor to its trits and scale.
pub fn decode_tl2_trits(src: &[u8], m: usize, k: usize, cfg: &TlConfig) -> Result<Ternary> {
    let (g, scale) = validate(src, m, k, cfg, None, None)?;
    let mut trits = vec![0i8; m * k];
    for_each_trit(src, &g, cfg, all_tiles(m, cfg), |row, col, t| trits[row * k + col] = t);
    Ok(Ternary { trits, scale })
}

/// Encode an `M x K` ternary tensor (row-major trits) as TL2 with these tile parameters:
/// sections A, B, C, zero padding to `roundup32(F)`, then the hidden scale record.
pub fn encode_tl2(trits: &[i8], scale: f32, m: usize, k: usize, cfg: &TlConfig) -> Result<Vec<u8>> {
    let g = tl2_geometry(m, k, cfg)?;
    check_dst(trits.len(), elements(m, k)?)?;
    check_trits(trits)?;
    let mut out = vec![0u8; g.nbytes];
    walk_three(&g, cfg, all_tiles(m, cfg), |o, row, j0| {
        let base = row * k + 3 * j0;
        let (hi, hn) = triple_index(&trits[base..base + 3]);
        let (lo, ln) = triple_index(&trits[base + 3..base + 6]);
        out[o] = hi << 4 | lo;
        for (jt, neg) in [(j0, hn), (j0 + 1, ln)] {
            if neg {
                let (at, bit) = sign_bit(row, jt, &g, cfg);
                out[at] |= 1 << bit;
            }
        }
    });
    walk_two(&g, cfg, all_tiles(m, cfg), |o, row, p0| {
        let t = &trits[row * k + g.k3 + 2 * p0..row * k + g.k3 + 2 * p0 + 4];
        out[o] = pair_index(t[0], t[1]) << 4 | pair_index(t[2], t[3]);
    });
    out[g.scale_offset..].copy_from_slice(&scale_record(scale, false));
    Ok(out)
}

/// Quantize f32 weights (`M x K`, row-major) to TL2: ternarize with `how` (the converter uses
/// [`super::sign_max`]), then [`encode_tl2`].
pub fn quantize_tl2(w: &[f32], how: Ternarizer, m: usize, k: usize, cfg: &TlConfig) -> Result<Vec<u8>> {
    tl2_geometry(m, k, cfg)?;
    check_dst(w.len(), elements(m, k)?)?;
    let t = how.ternarize(w)?;
    encode_tl2(&t.trits, t.scale, m, k, cfg)
}

// Rows and their sources: see [`tl2_presets`].
static TL2_PRESETS: [TlPreset; 20] = [
    row(LARGE, INI, 1536, 4096, 256, 96, 32),
    row(LARGE, INI, 1536, 1536, 128, 192, 32),
    row(LARGE, INI, 4096, 1536, 256, 96, 64),
    row(B3, INI, 3200, 8640, 160, 96, 32),
    row(B3, INI, 3200, 3200, 320, 96, 32),
    row(B3, INI, 8640, 3200, 320, 96, 32),
    row(L8, INI, 14336, 4096, 256, 96, 32),
    row(L8, INI, 4096, 14336, 128, 96, 32),
    row(L8, INI, 1024, 4096, 256, 96, 32),
    row(L8, INI, 4096, 4096, 128, 96, 32),
    row(LARGE, ENV, 1536, 4096, 256, 96, 32),
    row(LARGE, ENV, 1536, 1536, 128, 192, 32),
    row(LARGE, ENV, 4096, 1536, 256, 96, 32),
    row(B3, ENV, 3200, 8640, 160, 96, 32),
    row(B3, ENV, 3200, 3200, 320, 96, 32),
    row(B3, ENV, 8640, 3200, 320, 96, 32),
    row(L8, ENV, 14336, 4096, 256, 96, 32),
    row(L8, ENV, 4096, 14336, 128, 96, 32),
    row(L8, ENV, 1024, 4096, 256, 96, 32),
    row(L8, ENV, 4096, 4096, 128, 96, 32),
];

/// The shipped TL2 tile configurations (bitnet-formats.md §5.2 table).
///
/// Defined in microsoft/BitNet `preset_kernels/<model>/kernel_config_tl2.ini` (keys `m`, `k`,
/// `bm` = BM, `bk` = BK, `bmm` = bm) and, as [`PresetSource::SetupEnv`] rows, in
/// `setup_env.py::gen_code` (the lists passed to `utils/codegen_tl2.py`). They agree except for
/// bitnet_b1_58-large (4096, 1536), whose ini says `bmm = 64`: codegen_tl2.py asserts bm = 32 and
/// the converter's packer breaks with 64, so [`tl2_geometry`] rejects that row; setup_env.py
/// generates bm = 32 for it, and files converted through it use the SetupEnv row.
pub fn tl2_presets() -> &'static [TlPreset] {
    &TL2_PRESETS
}

/// The shipped TL2 configuration for `(model, source, M, K)`, if there is one (returned as
/// shipped, even the one row [`tl2_geometry`] rejects).
pub fn tl2_preset(model: &str, source: PresetSource, m: usize, k: usize) -> Option<TlConfig> {
    TL2_PRESETS.iter().find(|p| p.model == model && p.source == source && p.m == m && p.k == k).map(|p| p.config)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::error::Status;
    use crate::types;

    const CFG_95: TlConfig = TlConfig { bm_tile: 32, bk: 48, bm: 32 };

    fn trits_95() -> Vec<i8> {
        let (m, k) = (32, 80);
        (0..m * k).map(|e| ((5 * (e / k) + 7 * (e % k)) % 3) as i8 - 1).collect()
    }

    #[test]
    fn vector_9_5() {
        let (m, k) = (32, 80);
        let g = tl2_geometry(m, k, &CFG_95).unwrap();
        assert_eq!((g.k3, g.k2), (48, 32));
        assert_eq!((g.sign_offset, g.two_offset - g.sign_offset, g.payload - g.two_offset), (256, 64, 256));
        assert_eq!(g.payload, 576);
        assert_eq!(tl2_f(m, k), Some(875), "C semantics");
        assert_eq!((g.f, g.scale_offset, g.nbytes), (875, 896, 928));
        let t = trits_95();
        let scale = 0.5f32;
        let bytes = encode_tl2(&t, scale, m, k, &CFG_95).unwrap();
        assert_eq!(bytes.len(), 928);
        assert_eq!(
            &bytes[..32],
            &unhex("88 66 22 88 66 22 88 66 66 22 88 66 22 88 66 22 22 88 66 22 88 66 22 88 88 66 22 88 66 22 88 66")[..]
        );
        assert_eq!(
            &bytes[256..288],
            &unhex("aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa")[..]
        );
        assert_eq!(
            &bytes[320..352],
            &unhex("16 65 51 16 65 51 16 65 65 51 16 65 51 16 65 51 51 16 65 51 16 65 51 16 16 65 51 16 65 51 16 65")[..]
        );
        assert_eq!(hex(&sha256(&bytes[..576])), "476ad7e381954f7d72e5acc002c33dea57fe120c81cd8b4ca887750c8397a1e1");
        assert!(bytes[576..896].iter().all(|&b| b == 0), "zero padding to roundup32(F)");
        assert_eq!(&bytes[896..900], &scale.to_le_bytes());
        assert!(bytes[900..].iter().all(|&b| b == 0));
        // Word 0 of the sign section = 0xAAAA: row 0's triples are negative, row 16's are not.
        assert_eq!(u16::from_le_bytes([bytes[256], bytes[257]]), 0xaaaa);
        let back = decode_tl2_trits(&bytes, m, k, &CFG_95).unwrap();
        assert_eq!(back.trits, t);
        assert_eq!(back.scale, scale);
        let mut out = vec![0.0f32; m * k];
        decode_tl2(&bytes, m, k, &CFG_95, &mut out).unwrap();
        assert_eq!(out, back.to_f32().unwrap());
    }

    /// SHA-256 of the bytes microsoft/BitNet's converter produces (`preprocess_weights_tl2` of
    /// utils/convert-hf-to-gguf-bitnet.py, run with numpy on `0.5 * hashed_trits`, tile parameters
    /// given explicitly), i.e. the payload zero-padded to F(M, K) in Python arithmetic (which is
    /// one byte shorter than C's F when K < 256).
    #[test]
    fn converter_oracle_digests() {
        let cases = [
            (32, 80, 32, 48, 874, "c249cb7e2180bf2d60ad97702dac0547352cafc4cad93835de105ab980ebfa39"),
            (64, 320, 32, 96, 4949, "51371d81efbc081615cd3a42ffa5d82725fa295dff1a0e605f5b7a29b925d347"),
            (128, 352, 64, 96, 10752, "321d20585ee7e7c10bffa3d914ffd0d9bb984936bdd1ce06bf2846f73b5ab9ce"),
            (96, 288, 96, 96, 6784, "37e64ed4f675ac0bbc6d6b4ccaedc90da10b65939f69a427b42676f82a8444b6"),
            (64, 512, 32, 192, 7509, "acb16a5f9ec92823158866256649e90454b5d209eaa1d68e7a665ab5fd369c0d"),
            (64, 96, 32, 48, 1962, "c4ebf7a4d3675c2859448b79d3d9996d569c548d45e36841dfdda2ac59d411b2"),
            (128, 288, 64, 96, 9045, "dfd570aa2d46dbf91843e3787ff6b8c7210e8019212943f9509f44dc9e549d39"),
        ];
        for (m, k, bm_tile, bk, f_python, digest) in cases {
            let cfg = TlConfig { bm_tile, bk, bm: 32 };
            let g = tl2_geometry(m, k, &cfg).unwrap();
            assert_eq!(g.f - f_python, usize::from(k < 256), "C and Python F differ only for K < 256");
            let w: Vec<f32> = hashed_trits(m, k).iter().map(|t| 0.5 * t).collect();
            let bytes = quantize_tl2(&w, Ternarizer::SignMax, m, k, &cfg).unwrap();
            assert_eq!(hex(&sha256(&bytes[..f_python])), digest, "{m}x{k} {cfg:?}");
            assert_eq!(read_f32(&bytes, g.scale_offset), 0.5);
            let back = decode_tl2_trits(&bytes, m, k, &cfg).unwrap();
            assert_eq!(back.to_f32().unwrap(), w);
        }
    }

    #[test]
    fn triple_table() {
        let want: [[i8; 3]; 14] = [
            [0, 0, 0],
            [0, 0, 1],
            [0, 1, -1],
            [0, 1, 0],
            [0, 1, 1],
            [1, -1, -1],
            [1, -1, 0],
            [1, -1, 1],
            [1, 0, -1],
            [1, 0, 0],
            [1, 0, 1],
            [1, 1, -1],
            [1, 1, 0],
            [1, 1, 1],
        ];
        assert_eq!(TRIPLES, want);
        for a in -1..=1i8 {
            for b in -1..=1i8 {
                for c in -1..=1i8 {
                    let (idx, neg) = triple_index(&[a, b, c]);
                    let t = TRIPLES[idx as usize];
                    let t = if neg { t.map(|x| -x) } else { t };
                    assert_eq!(t, [a, b, c]);
                }
            }
        }
        assert_eq!(rowperm(8), 16);
        assert_eq!(rowperm(16), 8);
        assert_eq!(rowperm(7), 7);
        assert_eq!(rowperm(31), 31);
        assert_eq!(rowperm(12), 20);
    }

    #[test]
    fn size_formula() {
        // §9.6: hypothetical TL2 sizes of the 2B-4T shapes ([ne0, ne1] = [K, M]).
        for (k, m, want) in
            [(2560, 2560, 1_392_672), (2560, 640, 348_192), (2560, 6912, 3_760_160), (6912, 2560, 3_713_760)]
        {
            assert_eq!(tl2_nbytes(m, k).unwrap(), want);
            assert_eq!(types::info(types::TL2).unwrap().nbytes(&[k as u64, m as u64, 1, 1]), Ok(want as u64));
        }
        // F agrees with types::tl2_payload_bound for K >= 256.
        let mut rng = Rng(3);
        for _ in 0..2000 {
            let m = rng.below(20000) as usize;
            let k = 256 + rng.below(20000) as usize;
            assert_eq!(tl2_f(m, k), types::tl2_payload_bound(m as u64, k as u64), "M={m} K={k}");
        }
        // K < 256: C truncation (Python floor would give 874).
        assert_eq!(tl2_f(32, 80), Some(875));
        assert_eq!(types::tl2_payload_bound(32, 80), Some(875), "the same C semantics");
        assert_eq!(tl2_nbytes(32, 80).unwrap(), 928);
        assert_eq!(tl2_f(usize::MAX, 1024), None);
    }

    #[test]
    fn round_trips_random_tensors() {
        let mut rng = Rng(11);
        let cases = [
            (32, 80, CFG_95),
            (64, 96, TlConfig { bm_tile: 32, bk: 48, bm: 32 }), // K2 = 0, two J blocks, two tiles
            (96, 288, TlConfig { bm_tile: 96, bk: 96, bm: 32 }), // K2 = 0, three 32-row groups
            (64, 320, TlConfig { bm_tile: 64, bk: 96, bm: 32 }), // K2 = 32
            (128, 352, TlConfig { bm_tile: 64, bk: 96, bm: 32 }), // K2 = 64
            (64, 512, TlConfig { bm_tile: 32, bk: 192, bm: 32 }), // K2 = 128
            (32, 64, TlConfig { bm_tile: 32, bk: 96, bm: 32 }), // K3 = 0: all two part
        ];
        for (m, k, cfg) in cases {
            let g = tl2_geometry(m, k, &cfg).unwrap();
            let t = rng.trits(m * k);
            let scale = 1.25e-3f32;
            let bytes = encode_tl2(&t, scale, m, k, &cfg).unwrap();
            assert_eq!(bytes.len(), g.nbytes);
            assert_eq!(bytes.len(), tl2_nbytes(m, k).unwrap());
            assert!(bytes[g.payload..g.scale_offset].iter().all(|&b| b == 0));
            let back = decode_tl2_trits(&bytes, m, k, &cfg).unwrap();
            assert_eq!(back.trits, t, "{m}x{k} {cfg:?}");
            assert_eq!(back.scale, scale);
            // Every sign bit belongs to exactly one (row, triple).
            let mut seen = std::collections::HashSet::new();
            for row in 0..m {
                for jt in 0..g.k3 / 3 {
                    let (at, bit) = sign_bit(row, jt, &g, &cfg);
                    assert!((g.sign_offset..g.two_offset).contains(&at));
                    assert!(seen.insert((at, bit)));
                }
            }
            assert_eq!(seen.len(), (g.two_offset - g.sign_offset) * 8);
            // A BM-row tile is contiguous within section A: i_tile * (K3*BM/6).
            walk_three(&g, &cfg, all_tiles(m, &cfg), |o, row, _| {
                assert_eq!(o / (g.k3 * cfg.bm_tile / 6).max(1), row / cfg.bm_tile)
            });
        }
    }

    #[test]
    fn negative_zero_index_decodes_to_zero() {
        let t = vec![0i8; 32 * 80];
        let mut bytes = encode_tl2(&t, 1.0, 32, 80, &CFG_95).unwrap();
        bytes[256..320].fill(0xff); // every sign bit set, every index 0 (0x44 in the two part)
        let back = decode_tl2_trits(&bytes, 32, 80, &CFG_95).unwrap();
        assert_eq!(back.trits, t);
    }

    #[test]
    fn quantize_uses_the_ternarizer() {
        let w: Vec<f32> = (0..32 * 80).map(|e| [0.0, 0.25, -0.25][(e * 7) % 3]).collect();
        let bytes = quantize_tl2(&w, Ternarizer::SignMax, 32, 80, &CFG_95).unwrap();
        assert_eq!(decode_tl2_trits(&bytes, 32, 80, &CFG_95).unwrap().to_f32().unwrap(), w);
        assert!(quantize_tl2(&w[..100], Ternarizer::SignMax, 32, 80, &CFG_95).is_err());
    }

    #[test]
    fn bad_indices_name_the_byte() {
        let mut bytes = encode_tl2(&trits_95(), 1.0, 32, 80, &CFG_95).unwrap();
        // Section A byte 40: chunk Y = 1, pos 8 -> row 16, triples 2 and 3 (columns 6..11).
        bytes[40] = 0x0e;
        let mut out = vec![3.0f32; 32 * 80];
        let e = decode_tl2(&bytes, 32, 80, &CFG_95, &mut out).unwrap_err();
        assert_eq!(e.status(), Status::InvalidCode);
        assert!(
            e.message().contains(
                "byte 40 has the invalid TL2 three-index 14 (> 13; expected 0..=13) for row 16, columns 9..11"
            ),
            "{e}"
        );
        assert!(out.iter().all(|&v| v == 3.0));
        bytes[40] = 0xf0;
        let e = decode_tl2_trits(&bytes, 32, 80, &CFG_95).unwrap_err();
        assert!(
            e.message().contains(
                "byte 40 has the invalid TL2 three-index 15 (> 13; expected 0..=13) for row 16, columns 6..8"
            ),
            "{e}"
        );
        // Section C: 13 is a valid three-index but not a valid two-index.
        let mut bytes = encode_tl2(&trits_95(), 1.0, 32, 80, &CFG_95).unwrap();
        bytes[320 + 33] = 0x4d; // Y = 1, pos 1 -> row 1, pairs 2 and 3 -> columns 48+6..48+7
        let e = decode_tl2_trits(&bytes, 32, 80, &CFG_95).unwrap_err();
        assert!(
            e.message()
                .contains("byte 353 has the invalid TL2 two-index 13 (> 8; expected 0..=8) for row 1, columns 54..55"),
            "{e}"
        );
    }

    #[test]
    fn bad_configs_and_shapes() {
        let t = vec![0i8; 64 * 320];
        let bad = [
            (TlConfig { bm_tile: 64, bk: 96, bm: 64 }, "bm must be 32"),
            (TlConfig { bm_tile: 48, bk: 96, bm: 32 }, "multiple of 32"),
            (TlConfig { bm_tile: 0, bk: 96, bm: 32 }, "multiple of 32"),
            (TlConfig { bm_tile: 128, bk: 96, bm: 32 }, "M % BM"),
            (TlConfig { bm_tile: 64, bk: 100, bm: 32 }, "multiple of 24"),
            (TlConfig { bm_tile: 64, bk: 0, bm: 32 }, "multiple of 24"),
            // 320 = 13*24 + 8: K2 = 8 is not a multiple of 32 (BK = 72 gives K2 = 32: fine).
            (TlConfig { bm_tile: 64, bk: 24, bm: 32 }, "K2 = K - floor(K/BK)*BK = 8"),
        ];
        assert!(tl2_geometry(64, 320, &TlConfig { bm_tile: 64, bk: 72, bm: 32 }).is_ok());
        for (cfg, why) in bad {
            let e = encode_tl2(&t, 1.0, 64, 320, &cfg).unwrap_err();
            assert_eq!(e.status(), Status::InvalidParameter);
            assert!(e.message().contains("TL2 tile config") && e.message().contains(why), "{cfg:?}: {e}");
            assert!(decode_tl2_trits(&vec![0x44; tl2_nbytes(64, 320).unwrap()], 64, 320, &cfg).is_err());
        }
        // K2 = 288 > 256: the payload would pass F and overlap the scale record.
        let cfg = TlConfig { bm_tile: 32, bk: 600, bm: 32 };
        let (m, k) = (32, 888);
        let e = tl2_geometry(m, k, &cfg).unwrap_err();
        assert!(e.message().contains("exceeds F(M, K)"), "{e}");
        let good = TlConfig { bm_tile: 64, bk: 96, bm: 32 };
        assert!(encode_tl2(&t[1..], 1.0, 64, 320, &good).is_err());
        let n = tl2_nbytes(64, 320).unwrap();
        assert!(decode_tl2_trits(&vec![0x44; n - 1], 64, 320, &good).is_err());
        let mut out = vec![0.0; 5];
        assert!(decode_tl2(&vec![0x44; n], 64, 320, &good, &mut out).is_err());
    }

    #[test]
    fn presets_are_valid_for_their_shapes() {
        assert_eq!(tl2_presets().len(), 20);
        let mut rejected = vec![];
        for p in tl2_presets() {
            match tl2_geometry(p.m, p.k, &p.config) {
                Ok(g) => {
                    assert!(g.k2 <= 256);
                    assert_eq!(g.nbytes, tl2_nbytes(p.m, p.k).unwrap());
                }
                Err(_) => rejected.push((p.model, p.source, p.m, p.k)),
            }
            assert_eq!(tl2_preset(p.model, p.source, p.m, p.k), Some(p.config));
        }
        // Only the large preset's (4096, 1536) bmm = 64 row, which codegen_tl2.py refuses.
        assert_eq!(rejected, vec![(LARGE, PresetSource::KernelConfigIni, 4096, 1536)]);
        assert_eq!(
            tl2_preset(LARGE, PresetSource::SetupEnv, 4096, 1536),
            Some(TlConfig { bm_tile: 256, bk: 96, bm: 32 })
        );
    }
}
