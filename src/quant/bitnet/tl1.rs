//! TL1: the ARM NEON lookup-table format (shared/reference/bitnet-formats.md §4).
//!
//! Pairs of consecutive weights of a row, `(t0, t1) = (W[m][2p], W[m][2p+1])`, become a 4-bit
//! index `3*t0 + t1 + 4` (0..=8); a byte holds pairs `p0` (high nibble) and `p0+1` (low nibble)
//! of the same row. Bytes are emitted tile by tile in the order of §4.4, which depends on the tile
//! parameters `(BM, BK, bm)` ([`TlConfig`]). The payload (`M*K/4` bytes) is followed by the hidden
//! `_scale` record: f32 LE scale + 28 zero bytes (§4.5), so a tensor is `M*K/4 + 32` bytes.

use std::ops::Range;

use super::preset_table::{row, B3, ENV, INI, L8, LARGE};
use super::tiles::{all_tiles, decode_tl_rows, TileWalk, TlKind};
use super::{
    byte_at, check_dst, check_src, check_trits, elements, invalid, read_f32, scale_record, PresetSource, Ternarizer,
    Ternary, TlConfig, TlPreset,
};
use crate::error::{Error, Result, Status};

/// Check TL1 tile parameters against a shape (§4.2): `BM > 0`, `BK > 0`, `bm ∈ {32, 64}`,
/// `M % BM == 0`, `BM % bm == 0`, `K % BK == 0` and `BK % by == 0` with `by = 256 / bm`.
pub fn tl1_validate(m: usize, k: usize, cfg: &TlConfig) -> Result<()> {
    let TlConfig { bm_tile, bk, bm } = *cfg;
    let bad =
        |why: String| Err(invalid(format!("TL1 tile config BM={bm_tile}, BK={bk}, bm={bm} for M={m}, K={k}: {why}")));
    if bm != 32 && bm != 64 {
        return bad(format!("bm must be 32 or 64 (codegen_tl1.py), not {bm}"));
    }
    if bm_tile == 0 || bk == 0 {
        return bad("BM and BK must be positive".into());
    }
    if !m.is_multiple_of(bm_tile) {
        return bad(format!("M % BM = {} (must be 0)", m % bm_tile));
    }
    if bm_tile % bm != 0 {
        return bad(format!("BM % bm = {} (must be 0)", bm_tile % bm));
    }
    if !k.is_multiple_of(bk) {
        return bad(format!("K % BK = {} (must be 0)", k % bk));
    }
    let by = 256 / bm;
    if bk % by != 0 {
        return bad(format!("BK % by = {} with by = 256/bm = {by} (must be 0)", bk % by));
    }
    elements(m, k)?;
    Ok(())
}

/// Bytes of an `M x K` TL1 tensor: `M*K/4 + 32` (ggml_nbytes), `M*K % 4 == 0`.
pub fn tl1_nbytes(m: usize, k: usize) -> Result<usize> {
    let n = elements(m, k)?;
    if n % 4 != 0 {
        return Err(invalid(format!("a TL1 tensor of {m} x {k} elements is not a whole number of bytes")));
    }
    Ok(n / 4 + 32)
}

/// Call `f(byte_offset, row, p0)` for every payload byte of the row tiles `tiles` in file order
/// (§4.4): the byte holds pairs `p0` (high nibble) and `p0 + 1` (low nibble) of `row`. The config
/// was validated.
fn walk(k: usize, cfg: &TlConfig, tiles: Range<usize>, mut f: impl FnMut(usize, usize, usize)) {
    let TlConfig { bm_tile, bk, bm } = *cfg;
    let by = 256 / bm;
    let tw = TileWalk { nj: k / bk, ng: bm_tile / bm, ny: bk / by, step_bytes: bm * by / 4 };
    tw.run(0, tiles, |mut o, i, j, r, y| {
        for g in 0..bm / 16 {
            for yq in 0..by / 4 {
                let p0 = j * (bk / 2) + y * (by / 2) + 2 * yq;
                let row0 = i * bm_tile + r * bm + g * 16;
                for s in 0..16 {
                    f(o, row0 + s, p0);
                    o += 1;
                }
            }
        }
    });
}

/// Validate shape, config and length, and every nibble (≤ 8) of the row tiles `tiles`; returns
/// the scale. `file_base`: where the tensor starts in its file, for messages.
pub(crate) fn validate(
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    tiles: Range<usize>,
    file_base: Option<u64>,
) -> Result<f32> {
    tl1_validate(m, k, cfg)?;
    let need = tl1_nbytes(m, k)?;
    check_src(&format!("a {m} x {k} TL1 tensor"), src.len(), need)?;
    let mut err = None;
    walk(k, cfg, tiles, |o, row, p0| {
        let b = src[o];
        if err.is_none() && (b >> 4 > 8 || b & 15 > 8) {
            let (nib, p) = if b >> 4 > 8 { (b >> 4, p0) } else { (b & 15, p0 + 1) };
            err = Some(format!(
                "{} has the invalid TL1 index {nib} (> 8; expected 0..=8) for row {row}, columns {}..{} (byte {b:#04x})",
                byte_at(o, file_base),
                2 * p,
                2 * p + 1
            ));
        }
    });
    match err {
        Some(msg) => Err(Error::new(Status::InvalidCode, msg)),
        None => Ok(read_f32(src, need - 32)),
    }
}

/// Visit every trit of the row tiles `tiles` of a validated tensor: `put(row, col, t)`.
pub(crate) fn for_each_trit(
    src: &[u8],
    k: usize,
    cfg: &TlConfig,
    tiles: Range<usize>,
    mut put: impl FnMut(usize, usize, i8),
) {
    walk(k, cfg, tiles, |o, row, p0| {
        let b = src[o];
        let (a0, a1) = pair(b >> 4);
        let (b0, b1) = pair(b & 15);
        put(row, 2 * p0, a0);
        put(row, 2 * p0 + 1, a1);
        put(row, 2 * p0 + 2, b0);
        put(row, 2 * p0 + 3, b1);
    });
}

/// `(t0, t1)` of a valid TL1 index.
#[inline]
pub(crate) fn pair(idx: u8) -> (i8, i8) {
    ((idx / 3) as i8 - 1, (idx % 3) as i8 - 1)
}

/// The TL1 index of a pair of trits.
#[inline]
pub(crate) fn pair_index(t0: i8, t1: i8) -> u8 {
    (3 * t0 + t1 + 4) as u8
}

/// Decode an `M x K` TL1 tensor (`src` exactly `M*K/4 + 32` bytes) into `dst` (`M*K` elements,
/// row-major `W[m][k]`), with the tile parameters it was encoded with.
pub fn decode_tl1(src: &[u8], m: usize, k: usize, cfg: &TlConfig, dst: &mut [f32]) -> Result<()> {
    decode_tl_rows(TlKind::Tl1, src, m, k, cfg, 0..m, None, dst).map(|_| ())
}

/// Decode an `M x K` TL1 tensor to its trits and scale.
pub fn decode_tl1_trits(src: &[u8], m: usize, k: usize, cfg: &TlConfig) -> Result<Ternary> {
    tl1_validate(m, k, cfg)?;
    let scale = validate(src, m, k, cfg, all_tiles(m, cfg), None)?;
    let mut trits = vec![0i8; m * k];
    walk(k, cfg, all_tiles(m, cfg), |o, row, p0| {
        let b = src[o];
        let base = row * k + 2 * p0;
        (trits[base], trits[base + 1]) = pair(b >> 4);
        (trits[base + 2], trits[base + 3]) = pair(b & 15);
    });
    Ok(Ternary { trits, scale })
}

/// Encode an `M x K` ternary tensor (row-major trits) as TL1 with these tile parameters:
/// payload, then the hidden scale record (f32 LE + 28 zero bytes).
pub fn encode_tl1(trits: &[i8], scale: f32, m: usize, k: usize, cfg: &TlConfig) -> Result<Vec<u8>> {
    tl1_validate(m, k, cfg)?;
    check_dst(trits.len(), elements(m, k)?)?;
    check_trits(trits)?;
    let need = tl1_nbytes(m, k)?;
    let mut out = vec![0u8; need];
    walk(k, cfg, all_tiles(m, cfg), |o, row, p0| {
        let t = &trits[row * k + 2 * p0..row * k + 2 * p0 + 4];
        out[o] = pair_index(t[0], t[1]) << 4 | pair_index(t[2], t[3]);
    });
    out[need - 32..].copy_from_slice(&scale_record(scale, false));
    Ok(out)
}

/// Quantize f32 weights (`M x K`, row-major) to TL1: ternarize with `how` (the converter uses
/// [`super::sign_max`]: sign with the 1e-6 threshold, scale `max|W|`), then [`encode_tl1`].
pub fn quantize_tl1(w: &[f32], how: Ternarizer, m: usize, k: usize, cfg: &TlConfig) -> Result<Vec<u8>> {
    tl1_validate(m, k, cfg)?;
    check_dst(w.len(), elements(m, k)?)?;
    let t = how.ternarize(w)?;
    encode_tl1(&t.trits, t.scale, m, k, cfg)
}

// Rows and their sources: see [`tl1_presets`].
static TL1_PRESETS: [TlPreset; 20] = [
    row(LARGE, INI, 1536, 4096, 256, 128, 32),
    row(LARGE, INI, 1536, 1536, 128, 64, 64),
    row(LARGE, INI, 4096, 1536, 256, 128, 32),
    row(B3, INI, 3200, 8640, 160, 64, 32),
    row(B3, INI, 3200, 3200, 320, 128, 64),
    row(B3, INI, 8640, 3200, 320, 64, 32),
    row(L8, INI, 14336, 4096, 256, 128, 64),
    row(L8, INI, 4096, 14336, 256, 128, 32),
    row(L8, INI, 1024, 4096, 128, 64, 64),
    row(L8, INI, 4096, 4096, 128, 64, 32),
    row(LARGE, ENV, 1536, 4096, 256, 128, 32),
    row(LARGE, ENV, 1536, 1536, 128, 64, 64),
    row(LARGE, ENV, 4096, 1536, 256, 128, 32),
    row(B3, ENV, 3200, 8640, 160, 64, 32),
    row(B3, ENV, 3200, 3200, 320, 128, 64),
    row(B3, ENV, 8640, 3200, 320, 64, 32),
    row(L8, ENV, 14336, 4096, 256, 128, 32),
    row(L8, ENV, 4096, 14336, 128, 64, 64),
    row(L8, ENV, 1024, 4096, 256, 128, 32),
    row(L8, ENV, 4096, 4096, 128, 64, 64),
];

/// The shipped TL1 tile configurations (bitnet-formats.md §4.2 table).
///
/// Defined in microsoft/BitNet `preset_kernels/<model>/kernel_config_tl1.ini` (sections
/// `[Kernels_i]` with keys `m`, `k`, `bm` = BM, `bk` = BK, `bmm` = bm) and, as
/// [`PresetSource::SetupEnv`] rows, in `setup_env.py::gen_code` (the `--BM/--BK/--bm` lists passed
/// to `utils/codegen_tl1.py`, zipped with codegen's `ModelShapeDict` order). The two agree except
/// for Llama3-8B-1.58, where setup_env.py's lists give other values than the preset ini; since
/// setup_env.py always reruns codegen, which rewrites `include/kernel_config.ini`, files it
/// converted use the SetupEnv rows.
pub fn tl1_presets() -> &'static [TlPreset] {
    &TL1_PRESETS
}

/// The shipped TL1 configuration for `(model, source, M, K)`, if there is one. Lookups need the
/// model and the source: the tile parameters are never inferred from the shape alone.
pub fn tl1_preset(model: &str, source: PresetSource, m: usize, k: usize) -> Option<TlConfig> {
    TL1_PRESETS.iter().find(|p| p.model == model && p.source == source && p.m == m && p.k == k).map(|p| p.config)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::error::Status;

    const VECTOR: &str = "
        16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
        51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51
        51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51
        65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65
        65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65
        16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
        16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
        51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51";

    const CFG_94: TlConfig = TlConfig { bm_tile: 32, bk: 16, bm: 32 };

    fn trits_94() -> Vec<i8> {
        let (m, k) = (32, 16);
        (0..m * k).map(|e| ((e / k + e % k) % 3) as i8 - 1).collect()
    }

    #[test]
    fn vector_9_4() {
        let t = trits_94();
        let scale = 0.0123f32;
        let bytes = encode_tl1(&t, scale, 32, 16, &CFG_94).unwrap();
        assert_eq!(bytes.len(), 128 + 32);
        assert_eq!(&bytes[..128], &unhex(VECTOR)[..]);
        let digest = hex(&sha256(&bytes[..128]));
        assert!(digest.starts_with("99991fcd") && digest.ends_with("2dc96ae0"), "{digest}");
        assert_eq!(&bytes[128..132], &scale.to_le_bytes());
        assert!(bytes[132..].iter().all(|&b| b == 0));
        // Byte 0: row 0 pairs 0 and 1 = (-1,0) -> 1, (+1,-1) -> 6.
        assert_eq!(bytes[0], 0x16);
        let back = decode_tl1_trits(&bytes, 32, 16, &CFG_94).unwrap();
        assert_eq!(back.trits, t);
        assert_eq!(back.scale, scale);
        let mut out = vec![0.0f32; 512];
        decode_tl1(&bytes, 32, 16, &CFG_94, &mut out).unwrap();
        let want: Vec<f32> = t.iter().map(|&x| scale * x as f32).collect();
        assert_eq!(out, want);
    }

    /// SHA-256 of the payload microsoft/BitNet's converter produces (`preprocess_weights_tl1` /
    /// `process_tl1` of utils/convert-hf-to-gguf-bitnet.py, run with numpy on `0.5 * hashed_trits`
    /// and the tile parameters given explicitly instead of through kernel_config.ini).
    #[test]
    fn converter_oracle_digests() {
        let cases = [
            (32, 16, 32, 16, 32, "50209dd475082686e28be5f140a306d91c9f7530e9e185293310bf6ace8ed360"),
            (128, 64, 64, 32, 32, "4a5eb610d184f056f67122391a8ca5a91767ac4900048ef5fc04bf262e3ec44c"),
            (128, 64, 128, 16, 64, "c6e03e06f79d457061bb173066a3ba7c66a246cf042fcec0a47024bdfb109808"),
            (256, 96, 128, 48, 64, "d8a0a7f2ab4d16f2def764a2f42953622013b3b5d2a1e73aaccb7c4221e1fc94"),
            (64, 128, 64, 128, 64, "a764c8df4044ea2d3146057c08b36e61a07e0ea30bdb864061187592e64c576f"),
            (320, 128, 160, 64, 32, "6375377f7485d58f382d88c3bc03dc5a29c05169e82941ac3372c9dee94b40aa"),
        ];
        for (m, k, bm_tile, bk, bm, digest) in cases {
            let cfg = TlConfig { bm_tile, bk, bm };
            let w: Vec<f32> = hashed_trits(m, k).iter().map(|t| 0.5 * t).collect();
            let bytes = quantize_tl1(&w, Ternarizer::SignMax, m, k, &cfg).unwrap();
            assert_eq!(hex(&sha256(&bytes[..m * k / 4])), digest, "{m}x{k} {cfg:?}");
            assert_eq!(read_f32(&bytes, m * k / 4), 0.5);
        }
    }

    #[test]
    fn index_table() {
        for idx in 0..9u8 {
            let (t0, t1) = pair(idx);
            assert_eq!(pair_index(t0, t1), idx);
        }
        assert_eq!(pair_index(0, 0), 4);
    }

    /// The chunk offsets of §4.4: bm = 32 -> g*32 + yq*16 + s; bm = 64 -> g*16 + s.
    #[test]
    fn chunk_offsets_closed_form() {
        for (cfg, m, k) in
            [(TlConfig { bm_tile: 64, bk: 16, bm: 32 }, 128, 32), (TlConfig { bm_tile: 128, bk: 8, bm: 64 }, 128, 16)]
        {
            let by = 256 / cfg.bm;
            let mut seen = 0;
            walk(k, &cfg, all_tiles(m, &cfg), |o, row, p0| {
                let (i, rr) = (row / cfg.bm_tile, row % cfg.bm_tile);
                let (r, rb) = (rr / cfg.bm, rr % cfg.bm);
                let (g, s) = (rb / 16, rb % 16);
                let (j, pj) = (p0 / (cfg.bk / 2), p0 % (cfg.bk / 2));
                let (y, yq) = (pj / (by / 2), (pj % (by / 2)) / 2);
                let chunk = ((i * (k / cfg.bk) + j) * (cfg.bm_tile / cfg.bm) + r) * (cfg.bk / by) + y;
                let within = if cfg.bm == 32 { g * 32 + yq * 16 + s } else { g * 16 + s };
                assert_eq!(o, chunk * 64 + within);
                // A BM-row tile is contiguous: i_tile * (K*BM/4).
                assert_eq!(o / (k * cfg.bm_tile / 4), i);
                seen += 1;
            });
            assert_eq!(seen, m * k / 4);
        }
    }

    #[test]
    fn round_trips_random_tensors() {
        let mut rng = Rng(7);
        let cases = [
            (32, 16, CFG_94),
            (64, 32, TlConfig { bm_tile: 64, bk: 16, bm: 64 }),
            (128, 64, TlConfig { bm_tile: 64, bk: 32, bm: 32 }),
            (192, 24, TlConfig { bm_tile: 64, bk: 8, bm: 32 }),
            (256, 48, TlConfig { bm_tile: 128, bk: 12, bm: 64 }),
            (320, 128, TlConfig { bm_tile: 320, bk: 128, bm: 64 }),
        ];
        for (m, k, cfg) in cases {
            let t = rng.trits(m * k);
            let scale = -0.37f32;
            let bytes = encode_tl1(&t, scale, m, k, &cfg).unwrap();
            assert_eq!(bytes.len(), tl1_nbytes(m, k).unwrap());
            let back = decode_tl1_trits(&bytes, m, k, &cfg).unwrap();
            assert_eq!(back.trits, t, "{m}x{k} {cfg:?}");
            assert_eq!(back.scale, scale);
            // Every (row, pair) is written exactly once.
            let mut hits = vec![0u8; m * k / 2];
            walk(k, &cfg, all_tiles(m, &cfg), |_, row, p0| {
                hits[row * k / 2 + p0] += 1;
                hits[row * k / 2 + p0 + 1] += 1;
            });
            assert!(hits.iter().all(|&h| h == 1));
            // A different (valid) tiling reads valid but different trits: configs matter.
            let other = TlConfig { bm_tile: m, ..cfg };
            if other != cfg && tl1_validate(m, k, &other).is_ok() {
                assert_ne!(decode_tl1_trits(&bytes, m, k, &other).unwrap().trits, t);
            }
        }
    }

    #[test]
    fn quantize_uses_the_ternarizer() {
        let w: Vec<f32> = (0..32 * 16).map(|e| [0.0, 0.4, -0.4][e % 3]).collect();
        let bytes = quantize_tl1(&w, Ternarizer::SignMax, 32, 16, &CFG_94).unwrap();
        let t = decode_tl1_trits(&bytes, 32, 16, &CFG_94).unwrap();
        assert_eq!(t.to_f32().unwrap(), w);
        assert!(quantize_tl1(&w[1..], Ternarizer::SignMax, 32, 16, &CFG_94).is_err());
    }

    #[test]
    fn bad_nibbles_name_the_byte() {
        let mut bytes = encode_tl1(&trits_94(), 1.0, 32, 16, &CFG_94).unwrap();
        // Byte 17: row 1, pairs 2 and 3 (chunk offset yq*16 + s = 16 + 1).
        bytes[17] = 0x49;
        let mut out = vec![5.0f32; 512];
        let e = decode_tl1(&bytes, 32, 16, &CFG_94, &mut out).unwrap_err();
        assert_eq!(e.status(), Status::InvalidCode);
        assert!(
            e.message().contains("byte 17 has the invalid TL1 index 9 (> 8; expected 0..=8) for row 1, columns 6..7"),
            "{e}"
        );
        assert!(out.iter().all(|&v| v == 5.0));
        bytes[17] = 0xf4;
        let e = decode_tl1_trits(&bytes, 32, 16, &CFG_94).unwrap_err();
        assert!(
            e.message().contains("byte 17 has the invalid TL1 index 15 (> 8; expected 0..=8) for row 1, columns 4..5"),
            "{e}"
        );
    }

    #[test]
    fn bad_configs_and_shapes() {
        let t = vec![0i8; 64 * 32];
        let bad = [
            TlConfig { bm_tile: 64, bk: 16, bm: 16 }, // bm not in {32, 64}
            TlConfig { bm_tile: 0, bk: 16, bm: 32 },  // BM = 0
            TlConfig { bm_tile: 64, bk: 0, bm: 32 },  // BK = 0
            TlConfig { bm_tile: 48, bk: 16, bm: 32 }, // M % BM
            TlConfig { bm_tile: 32, bk: 16, bm: 64 }, // BM % bm
            TlConfig { bm_tile: 64, bk: 12, bm: 32 }, // K % BK
            TlConfig { bm_tile: 64, bk: 4, bm: 32 },  // BK % by (by = 8)
        ];
        for cfg in bad {
            let e = encode_tl1(&t, 1.0, 64, 32, &cfg).unwrap_err();
            assert_eq!(e.status(), Status::InvalidParameter, "{cfg:?}");
            assert!(e.message().contains("TL1 tile config"), "{e}");
            assert!(decode_tl1_trits(&[0x44; 64 * 32 / 4 + 32], 64, 32, &cfg).is_err());
        }
        let good = TlConfig { bm_tile: 64, bk: 16, bm: 32 };
        assert!(encode_tl1(&t[1..], 1.0, 64, 32, &good).is_err(), "wrong element count");
        assert!(decode_tl1_trits(&[0x44; 64 * 32 / 4 + 31], 64, 32, &good).is_err(), "wrong length");
        let mut out = vec![0.0; 10];
        assert!(decode_tl1(&[0x44; 64 * 32 / 4 + 32], 64, 32, &good, &mut out).is_err(), "wrong dst length");
        let mut t2 = t.clone();
        t2[3] = 5;
        assert!(encode_tl1(&t2, 1.0, 64, 32, &good).is_err(), "bad trit");
    }

    #[test]
    fn presets_are_valid_for_their_shapes() {
        assert_eq!(tl1_presets().len(), 20);
        for p in tl1_presets() {
            tl1_validate(p.m, p.k, &p.config).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert_eq!(tl1_preset(p.model, p.source, p.m, p.k), Some(p.config));
        }
        let c = tl1_preset("bitnet_b1_58-3B", PresetSource::KernelConfigIni, 3200, 3200).unwrap();
        assert_eq!(c, TlConfig { bm_tile: 320, bk: 128, bm: 64 });
        assert_eq!(tl1_preset("bitnet_b1_58-3B", PresetSource::KernelConfigIni, 2560, 2560), None);
        // Ini and setup_env.py agree except for Llama3-8B.
        for p in tl1_presets().iter().filter(|p| p.source == PresetSource::KernelConfigIni) {
            let env = tl1_preset(p.model, PresetSource::SetupEnv, p.m, p.k).unwrap();
            assert_eq!(env == p.config, p.model != L8, "{p:?} vs {env:?}");
        }
    }
}
