//! The fast TL1 / TL2 decoders (`tl_fast`: AVX2 block decoders where the CPU has them, the
//! table code otherwise) against the scalar tile walk (`decode_tl1` / `decode_tl2`), bit for
//! bit, on every shipped preset configuration (bitnet-formats.md §4.2 / §5.2 tables: the full
//! K of the preset shape, one or two row tiles), with ordinary and streaming stores into
//! destinations at several alignments, and random values with NaN / ±inf / negative scales.
//! Run it again with `BG_FORCE_SCALAR=1` for the table code (it prints which path ran).

use bitgguf::quant::bitnet::tl_fast::{decode_tl1_fast_with, decode_tl2_fast_with};
use bitgguf::quant::bitnet::{
    decode_tl1, decode_tl2, encode_tl1, encode_tl2, tl1_presets, tl1_validate, tl2_geometry, tl2_presets, TlConfig,
};
use bitgguf::quant::output::Streaming;
use bitgguf::quant::simd;
use bitgguf::synth::rng::SplitMix64;

/// Test data from the library's SplitMix64.
struct Rng(SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn trits(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| (self.next() % 3) as i8 - 1).collect()
    }
}

type Fast = fn(&[u8], usize, usize, &TlConfig, &mut [f32], Streaming) -> bitgguf::Result<()>;

/// Decode with `fast` into destinations 0, 16, 4 and 48 bytes past a 64-byte boundary, with each
/// streaming setting, and compare every bit with `want`.
fn check_fast(what: &str, fast: Fast, bytes: &[u8], m: usize, k: usize, cfg: &TlConfig, want: &[f32]) {
    let n = m * k;
    let mut buf = vec![0f32; n + 32];
    let adj = (64 - buf.as_ptr() as usize % 64) % 64 / 4;
    for off in [0usize, 4, 1, 12] {
        for st in [Streaming::Off, Streaming::On, Streaming::Auto] {
            let dst = &mut buf[adj + off..adj + off + n];
            dst.fill(f32::from_bits(0x7fc0_dead));
            fast(bytes, m, k, cfg, dst, st).unwrap();
            if let Some(e) = dst.iter().zip(want).position(|(a, b)| a.to_bits() != b.to_bits()) {
                panic!(
                    "{what}: {m} x {k} {cfg:?}, dst +{} bytes, {st:?}: element {e} (row {}, column {}) is {:#x}, \
                     the oracle says {:#x}",
                    4 * off,
                    e / k,
                    e % k,
                    dst[e].to_bits(),
                    want[e].to_bits()
                );
            }
        }
    }
}

#[test]
fn tl1_fast_equals_the_tile_walk_on_every_preset() {
    eprintln!("SIMD level: {}", simd::level().name());
    let mut rng = Rng(SplitMix64::new(41));
    let mut seen = Vec::new();
    for (i, p) in tl1_presets().iter().enumerate() {
        let cfg = p.config;
        if seen.contains(&(p.k, cfg)) {
            continue; // the same tiling of the same K (INI and setup_env rows often agree)
        }
        seen.push((p.k, cfg));
        // One row tile (two for the first preset: the tile loop).
        let (m, k) = (cfg.bm_tile * if i == 0 { 2 } else { 1 }, p.k);
        tl1_validate(m, k, &cfg).unwrap();
        let scale = [0.0123f32, -1.5, f32::NAN, f32::INFINITY][i % 4];
        let trits = rng.trits(m * k);
        let bytes = encode_tl1(&trits, scale, m, k, &cfg).unwrap();
        let mut want = vec![0f32; m * k];
        decode_tl1(&bytes, m, k, &cfg, &mut want).unwrap();
        check_fast(&format!("TL1 {} {:?}", p.model, p.source), decode_tl1_fast_with, &bytes, m, k, &cfg, &want);
    }
    assert!(seen.len() >= 10, "{seen:?}");
}

#[test]
fn tl2_fast_equals_the_tile_walk_on_every_preset() {
    let mut rng = Rng(SplitMix64::new(42));
    let mut seen = Vec::new();
    for (i, p) in tl2_presets().iter().enumerate() {
        let cfg = p.config;
        if seen.contains(&(p.k, cfg)) {
            continue;
        }
        let (m, k) = (cfg.bm_tile * if i == 0 { 2 } else { 1 }, p.k);
        let Ok(g) = tl2_geometry(m, k, &cfg) else {
            // The one shipped row that cannot be TL2 (bm = 64 in the ini): refused alike.
            assert_eq!(cfg.bm, 64, "{p:?}");
            continue;
        };
        seen.push((p.k, cfg));
        let scale = [0.0123f32, -1.5, f32::NAN, f32::NEG_INFINITY][i % 4];
        let trits = rng.trits(m * k);
        let mut bytes = encode_tl2(&trits, scale, m, k, &cfg).unwrap();
        // Sign bits on index-0 triples (which the encoder never sets) decode to zeros.
        for b in 0..64.min(g.two_offset - g.sign_offset) {
            bytes[g.sign_offset + b] |= (rng.next() as u8) & 0x55;
        }
        let mut want = vec![0f32; m * k];
        decode_tl2(&bytes, m, k, &cfg, &mut want).unwrap();
        check_fast(&format!("TL2 {} {:?}", p.model, p.source), decode_tl2_fast_with, &bytes, m, k, &cfg, &want);
    }
    assert!(seen.len() >= 7, "{seen:?}");
}

#[test]
fn tails_chunks_and_alignments_beyond_the_presets() {
    // Shapes the presets do not reach: BK with an odd number of 8-column pairs, rows longer
    // than a staging chunk, a two part only, a K3 of several chunks plus a two part.
    let mut rng = Rng(SplitMix64::new(43));
    for (m, k, cfg) in [
        (64, 72, TlConfig { bm_tile: 64, bk: 24, bm: 32 }),
        (128, 4160, TlConfig { bm_tile: 64, bk: 520, bm: 32 }),
        (64, 2064, TlConfig { bm_tile: 64, bk: 344, bm: 64 }),
        (32, 8, TlConfig { bm_tile: 32, bk: 8, bm: 32 }),
    ] {
        let bytes = encode_tl1(&rng.trits(m * k), 0.25, m, k, &cfg).unwrap();
        let mut want = vec![0f32; m * k];
        decode_tl1(&bytes, m, k, &cfg, &mut want).unwrap();
        check_fast("TL1", decode_tl1_fast_with, &bytes, m, k, &cfg, &want);
    }
    for (m, k, cfg) in [
        (64, 96 * 40 + 64, TlConfig { bm_tile: 64, bk: 96, bm: 32 }),
        (32, 64, TlConfig { bm_tile: 32, bk: 72, bm: 32 }),
        (96, 24 * 70, TlConfig { bm_tile: 32, bk: 24 * 35, bm: 32 }),
        (32, 24, TlConfig { bm_tile: 32, bk: 24, bm: 32 }),
    ] {
        let bytes = encode_tl2(&rng.trits(m * k), -0.75, m, k, &cfg).unwrap();
        let mut want = vec![0f32; m * k];
        decode_tl2(&bytes, m, k, &cfg, &mut want).unwrap();
        check_fast("TL2", decode_tl2_fast_with, &bytes, m, k, &cfg, &want);
    }
}
