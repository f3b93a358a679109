//! The fast TL1 / TL2 decoders (`tl_fast`: AVX2 block decoders where the CPU has them, the
//! table code otherwise) against the scalar tile walk (`decode_tl1` / `decode_tl2`), bit for
//! bit, on every shipped preset configuration (bitnet-formats.md §4.2 / §5.2 tables: the full
//! K of the preset shape, one or two row tiles), with ordinary and streaming stores into
//! destinations at several alignments, and random values with NaN / ±inf / negative scales.
//!
//! f16 / bf16 outputs of all three BitNet formats (I2_S, TL1, TL2): the fast paths (16-bit
//! patterns looked up in the AVX2 decoders) against the scalar path (the oracle's f32 stored by
//! `output::store_scalar`), through `TensorCodec` (whole tensors and row ranges, one thread and
//! all) and through the kernels directly (any scale bits, streaming, alignments).
//! Run it again with `BG_FORCE_SCALAR=1` for the table code (it prints which path ran).
//!
//! On x86-64 the kernel tests run both the AVX2 kernels and, where the CPU has AVX-512 (and
//! `BG_NO_AVX512` is unset), the AVX-512 ones ([`TlKernels`]), in the same run; without AVX-512
//! the second half is skipped with a printed reason.

use bitgguf::quant::bitnet::tl_fast::{decode_tl1_fast_out_on, decode_tl2_fast_out_on, TlKernels};
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

type Fast = fn(TlKernels, &[u8], usize, usize, &TlConfig, OutType, &mut [u8], Streaming) -> bitgguf::Result<()>;

/// The x86-64 kernels to test: AVX2, AVX-512 where this CPU and the settings allow it, and the
/// VBMI 16-bit expansion (`TlKernels::Best`) where the CPU also has AVX-512 VBMI; a set the CPU
/// cannot run would repeat another, so it is skipped with a printed reason.
fn kernel_choices() -> Vec<TlKernels> {
    static SAID: std::sync::Once = std::sync::Once::new();
    let say = |what: &str| SAID.call_once(|| eprintln!("{what}"));
    if TlKernels::Best.vbmi() {
        vec![TlKernels::Avx2, TlKernels::Avx512, TlKernels::Best]
    } else if TlKernels::Best.wide() {
        say("VBMI TL expansion: skipped (no AVX-512 VBMI on this CPU); testing the AVX2 and AVX-512 kernels");
        vec![TlKernels::Avx2, TlKernels::Avx512]
    } else {
        say("AVX-512 TL kernels: skipped (simd::avx512() is false: no AVX-512F/BW/VL/DQ on this CPU, \
             BG_NO_AVX512 or BG_FORCE_SCALAR set); testing the AVX2 kernels (or the table code) only");
        vec![TlKernels::Avx2]
    }
}

/// Decode with `fast`, each kernel choice and each output type (f32, f16, bf16) into
/// destinations 0, 16, 4, 48, 1, 2 and 32 bytes past a 64-byte boundary, with each streaming
/// setting; compare every bit with the scalar path (`want`, the oracle's f32, stored by
/// `output::store_scalar`) and check that no byte outside the destination was written.
fn check_fast(what: &str, fast: Fast, bytes: &[u8], m: usize, k: usize, cfg: &TlConfig, want: &[f32]) {
    let n = m * k;
    let mut buf = vec![0u8; 4 * n + 192];
    let adj = (64 - buf.as_ptr() as usize % 64) % 64;
    for out in OUTS {
        let es = out.size() as usize;
        let want = scalar_bytes(want, out);
        for kernels in kernel_choices() {
            for off in [0usize, 16, 4, 48, 1, 2, 32] {
                for st in [Streaming::Off, Streaming::On, Streaming::Auto] {
                    buf.fill(0x5a);
                    let dst = &mut buf[adj + off..adj + off + es * n];
                    fast(kernels, bytes, m, k, cfg, out, dst, st).unwrap();
                    if let Some(d) = first_diff(dst, &want, es) {
                        panic!(
                            "{what}: {m} x {k} {cfg:?} as {}, {kernels:?}, dst +{off} bytes, {st:?}: {d}",
                            out.name()
                        );
                    }
                    untouched_outside(&buf, adj + off, es * n, &format!("{what} {kernels:?} +{off} {st:?}"));
                }
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
        check_fast(&format!("TL1 {} {:?}", p.model, p.source), decode_tl1_fast_out_on, &bytes, m, k, &cfg, &want);
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
        check_fast(&format!("TL2 {} {:?}", p.model, p.source), decode_tl2_fast_out_on, &bytes, m, k, &cfg, &want);
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
        // A last chunk with an odd number of pairs, staged a step at a time while the chunk
        // before it is expanded (software pipelining), for both sub-group layouts.
        (64, 2048 + 24, TlConfig { bm_tile: 64, bk: 8, bm: 32 }),
        (128, 4096 + 8, TlConfig { bm_tile: 64, bk: 8, bm: 64 }),
    ] {
        let bytes = encode_tl1(&rng.trits(m * k), 0.25, m, k, &cfg).unwrap();
        let mut want = vec![0f32; m * k];
        decode_tl1(&bytes, m, k, &cfg, &mut want).unwrap();
        check_fast("TL1", decode_tl1_fast_out_on, &bytes, m, k, &cfg, &want);
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
        check_fast("TL2", decode_tl2_fast_out_on, &bytes, m, k, &cfg, &want);
    }
}

// ---------------------------------------------------------------------------------------------
// f16 / bf16 outputs.

use bitgguf::quant::bitnet::i2s_fast::fast::unpack_group128_out;
use bitgguf::quant::bitnet::tl_fast::{decode_tl1_fast_out, decode_tl2_fast_out};
use bitgguf::quant::bitnet::{decode_i2s_layout, encode_i2s, I2sLayout, TailFill};
use bitgguf::quant::output::{store_scalar, OutType};
use bitgguf::quant::tensor::TensorCodec;
use bitgguf::types::{I2_S, TL1, TL2};

const OUTS: [OutType; 3] = [OutType::F16, OutType::Bf16, OutType::F32];

/// Valid per-tensor scales (finite, > 0: what `TensorCodec` accepts) at the edges of the 16-bit
/// conversions: f32 subnormals; f16 subnormals, the f16 underflow tie 2^-25 (→ 0) and just
/// above it; the largest f16, the largest value that rounds to it, and the first that rounds to
/// +inf; bf16 ties to even (down and up) and a bf16 tie that overflows to +inf; f32::MAX.
fn codec_scales() -> Vec<f32> {
    vec![
        0.0123,
        1.0,
        f32::from_bits(1),
        1e-40,
        5.960_464_5e-8,
        2.980_232_2e-8,
        f32::from_bits(2.980_232_2e-8f32.to_bits() + 1),
        6.097_555e-5,
        65504.0,
        65519.996,
        65520.0,
        1e30,
        f32::from_bits(0x3f80_8000),
        f32::from_bits(0x3f81_8000),
        f32::from_bits(0x7f7f_8000),
        f32::MAX,
    ]
}

/// Any scale bits, for the kernels (the codec functions multiply whatever scale they find):
/// the valid ones, and zero (−0.0 for trit −1), −0.0, negative, ±inf, quiet and signalling NaNs.
fn kernel_scales() -> Vec<f32> {
    let mut v = codec_scales();
    v.extend([
        0.0,
        -0.0,
        -1.5,
        -65520.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc0_1234),
    ]);
    v
}

/// The scalar path's bytes: `vals` stored by `output::store_scalar`.
fn scalar_bytes(vals: &[f32], out: OutType) -> Vec<u8> {
    let mut b = vec![0u8; vals.len() * out.size() as usize];
    store_scalar(out, vals, &mut b);
    b
}

fn first_diff(got: &[u8], want: &[u8], esize: usize) -> Option<String> {
    let e = got.chunks(esize).zip(want.chunks(esize)).position(|(a, b)| a != b)?;
    Some(format!(
        "element {e}: {:02x?}, the scalar path says {:02x?}",
        &got[e * esize..][..esize],
        &want[e * esize..][..esize]
    ))
}

/// A BitNet tensor of one format with its oracle values.
struct Case {
    codec: TensorCodec,
    bytes: Vec<u8>,
    /// The scalar oracle's f32 values (whole tensor).
    vals: Vec<f32>,
}

fn i2s_case(rng: &mut Rng, m: usize, k: usize, scale: f32) -> Case {
    let trits = rng.trits(m * k);
    let bytes = encode_i2s(&trits, scale, I2sLayout::Group128, TailFill::Zero).unwrap();
    let mut vals = vec![0f32; m * k];
    decode_i2s_layout(&bytes, m * k, I2sLayout::Group128, &mut vals).unwrap();
    Case { codec: TensorCodec::new(I2_S, [k as u64, m as u64, 1, 1]), bytes, vals }
}

fn tl_case(rng: &mut Rng, tl2: bool, m: usize, k: usize, cfg: TlConfig, scale: f32) -> Case {
    let trits = rng.trits(m * k);
    let mut vals = vec![0f32; m * k];
    let bytes = if tl2 {
        let b = encode_tl2(&trits, scale, m, k, &cfg).unwrap();
        decode_tl2(&b, m, k, &cfg, &mut vals).unwrap();
        b
    } else {
        let b = encode_tl1(&trits, scale, m, k, &cfg).unwrap();
        decode_tl1(&b, m, k, &cfg, &mut vals).unwrap();
        b
    };
    let mut codec = TensorCodec::new(if tl2 { TL2 } else { TL1 }, [k as u64, m as u64, 1, 1]);
    codec.tl = Some(cfg);
    Case { codec, bytes, vals }
}

/// Decode `case` through the codec as every output type, whole and in row ranges (including
/// TL row ranges, which take the tile walk), into a destination `skew` bytes past a 64-byte
/// boundary, and compare with the scalar path.
fn check_codec(what: &str, case: &Case, rng: &mut Rng, skew: usize) {
    let (m, k) = (case.codec.ne[1] as usize, case.codec.ne[0] as usize);
    for out in OUTS {
        let es = out.size() as usize;
        let want = scalar_bytes(&case.vals, out);
        let mut buf = vec![0xa5u8; want.len() + 128];
        let adj = (64 - buf.as_ptr() as usize % 64) % 64 + skew;
        let mut ranges = vec![(0, m)];
        for _ in 0..3 {
            let a = (rng.next() % m as u64) as usize;
            let b = a + 1 + (rng.next() % (m - a) as u64) as usize;
            ranges.push((a, b));
        }
        for (a, b) in ranges {
            let dst = &mut buf[adj..adj + (b - a) * k * es];
            case.codec.decode_rows(&case.bytes, a as u64..b as u64, out, dst).unwrap();
            if let Some(d) = first_diff(dst, &want[a * k * es..b * k * es], es) {
                panic!("{what}: {m} x {k}, rows {a}..{b} as {}, dst +{skew}: {d}", out.name());
            }
        }
    }
}

#[test]
fn sixteen_bit_outputs_through_the_tensor_codec_equal_the_scalar_path() {
    eprintln!("SIMD level: {}", simd::level().name());
    let mut rng = Rng(SplitMix64::new(51));
    let all = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let tl1_cfg = TlConfig { bm_tile: 64, bk: 64, bm: 32 };
    let tl1_cfg64 = TlConfig { bm_tile: 64, bk: 32, bm: 64 };
    let tl2_cfg = TlConfig { bm_tile: 32, bk: 96, bm: 32 };
    for threads in [1, all] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            for (i, &scale) in codec_scales().iter().enumerate() {
                let skew = [0, 16, 2, 48][i % 4];
                let what = format!("{threads} thread(s), scale {scale:e} ({:#010x})", scale.to_bits());
                let c = i2s_case(&mut rng, 1 + i % 5, 128 * (1 + i % 3), scale);
                check_codec(&format!("I2_S {what}"), &c, &mut rng, skew);
                let cfg = if i % 2 == 0 { tl1_cfg } else { tl1_cfg64 };
                let c = tl_case(&mut rng, false, 64 * (1 + i % 2), 64 * (1 + i % 3), cfg, scale);
                check_codec(&format!("TL1 {what}"), &c, &mut rng, skew);
                let c = tl_case(&mut rng, true, 32 * (1 + i % 3), 96 * (1 + i % 2) + 32 * (i % 3), tl2_cfg, scale);
                check_codec(&format!("TL2 {what}"), &c, &mut rng, skew);
            }
            // Outputs over 1 MiB as f16 (split across the pool's threads), and a zero scale on
            // an all-zero tensor (the only tensor a zero scale is valid for).
            let c = i2s_case(&mut rng, 512, 1280, 0.02);
            check_codec(&format!("I2_S large, {threads} thread(s)"), &c, &mut rng, 16);
            let c = tl_case(&mut rng, false, 256, 2560, TlConfig { bm_tile: 256, bk: 128, bm: 32 }, 0.02);
            check_codec(&format!("TL1 large, {threads} thread(s)"), &c, &mut rng, 16);
            let c = tl_case(&mut rng, true, 256, 96 * 26 + 64, TlConfig { bm_tile: 256, bk: 96, bm: 32 }, 0.02);
            check_codec(&format!("TL2 large, {threads} thread(s)"), &c, &mut rng, 16);
            let zero = encode_i2s(&vec![0i8; 256], 0.0, I2sLayout::Group128, TailFill::Zero).unwrap();
            let codec = TensorCodec::new(I2_S, [128, 2, 1, 1]);
            let c = Case { codec, bytes: zero, vals: vec![0.0; 256] };
            check_codec("I2_S zero", &c, &mut rng, 0);
        });
    }
}

/// Panics if a byte of `buf` outside `[at, at + len)` is not the 0x5a it was filled with (the
/// realigned stores write 32-byte vectors around the ends of every run).
fn untouched_outside(buf: &[u8], at: usize, len: usize, what: &str) {
    let bad = buf[..at].iter().chain(&buf[at + len..]).position(|&b| b != 0x5a);
    assert!(bad.is_none(), "{what}: a byte outside the destination was written ({bad:?})");
}

/// The kernels themselves with any scale bits, every streaming setting and several
/// destination alignments.
#[test]
fn sixteen_bit_kernels_equal_the_scalar_path_for_any_scale() {
    let mut rng = Rng(SplitMix64::new(52));
    let tl1_cfg = TlConfig { bm_tile: 64, bk: 128, bm: 32 };
    let tl2_cfg = TlConfig { bm_tile: 32, bk: 96, bm: 32 };
    let (m1, k1, m2, k2) = (128, 256, 64, 96 * 3 + 32);
    for scale in kernel_scales() {
        let i2s = i2s_case(&mut rng, 3, 512, scale);
        let tl1 = tl_case(&mut rng, false, m1, k1, tl1_cfg, scale);
        let tl2 = tl_case(&mut rng, true, m2, k2, tl2_cfg, scale);
        for out in OUTS {
            let es = out.size() as usize;
            for st in [Streaming::Off, Streaming::On, Streaming::Auto] {
                for (skew, kernels) in [0usize, 16, 2, 48, 32, 1, 4]
                    .into_iter()
                    .flat_map(|skew| kernel_choices().into_iter().map(move |kr| (skew, kr)))
                {
                    let what = format!(
                        "scale {scale:e} ({:#010x}) as {}, {st:?}, dst +{skew}, {kernels:?}",
                        scale.to_bits(),
                        out.name()
                    );
                    let mut buf = vec![0x5au8; m1 * k1 * es + 128];
                    let adj = (64 - buf.as_ptr() as usize % 64) % 64 + skew;
                    // I2_S: the payload of the whole tensor.
                    let n = i2s.vals.len();
                    let want = scalar_bytes(&i2s.vals, out);
                    let dst = &mut buf[adj..adj + n * es];
                    // The decoders' value table (`value_lut`): products, so NaN scales keep
                    // their bits as in the scalar decoder.
                    #[allow(clippy::neg_multiply)]
                    let lut = [scale * -1.0, scale * 0.0, scale * 1.0];
                    if unpack_group128_out(
                        &i2s.bytes[..n / 4],
                        lut,
                        out,
                        dst,
                        st == Streaming::On,
                        kernels != TlKernels::Avx2,
                    )
                    .is_some()
                    {
                        if let Some(d) = first_diff(dst, &want, es) {
                            panic!("I2_S kernel, {what}: {d}");
                        }
                        untouched_outside(&buf, adj, n * es, &what);
                    }
                    let want = scalar_bytes(&tl1.vals, out);
                    buf.fill(0x5a);
                    let dst = &mut buf[adj..adj + m1 * k1 * es];
                    decode_tl1_fast_out_on(kernels, &tl1.bytes, m1, k1, &tl1_cfg, out, dst, st).unwrap();
                    if let Some(d) = first_diff(dst, &want, es) {
                        panic!("TL1, {what}: {d}");
                    }
                    untouched_outside(&buf, adj, m1 * k1 * es, &what);
                    let want = scalar_bytes(&tl2.vals, out);
                    buf.fill(0x5a);
                    let dst = &mut buf[adj..adj + m2 * k2 * es];
                    decode_tl2_fast_out_on(kernels, &tl2.bytes, m2, k2, &tl2_cfg, out, dst, st).unwrap();
                    if let Some(d) = first_diff(dst, &want, es) {
                        panic!("TL2, {what}: {d}");
                    }
                    untouched_outside(&buf, adj, m2 * k2 * es, &what);
                }
            }
        }
    }
}

/// Invalid indices / codes with a 16-bit output: the oracle's error, nothing written.
#[test]
fn sixteen_bit_outputs_reject_invalid_bytes_like_the_oracle() {
    let mut rng = Rng(SplitMix64::new(53));
    let cfg1 = TlConfig { bm_tile: 64, bk: 128, bm: 32 };
    let tl1 = tl_case(&mut rng, false, 64, 256, cfg1, 0.5);
    let mut bad = tl1.bytes.clone();
    bad[1000] = 0x9c;
    let e1 = decode_tl1(&bad, 64, 256, &cfg1, &mut vec![0f32; 64 * 256]).unwrap_err();
    let cfg2 = TlConfig { bm_tile: 32, bk: 96, bm: 32 };
    let tl2 = tl_case(&mut rng, true, 32, 96 * 2 + 32, cfg2, 0.5);
    let mut bad2 = tl2.bytes.clone();
    bad2[5] = 0xe1;
    let e2 = decode_tl2(&bad2, 32, 224, &cfg2, &mut vec![0f32; 32 * 224]).unwrap_err();
    let i2s = i2s_case(&mut rng, 2, 256, 0.5);
    let mut bad3 = i2s.bytes.clone();
    bad3[77] |= 0x30;
    for out in [OutType::F16, OutType::Bf16] {
        let es = out.size() as usize;
        let mut dst = vec![7u8; 64 * 256 * es];
        let e = decode_tl1_fast_out(&bad, 64, 256, &cfg1, out, &mut dst, Streaming::Auto).unwrap_err();
        assert_eq!(e.message(), e1.message());
        assert!(dst.iter().all(|&b| b == 7));
        let mut dst = vec![7u8; 32 * 224 * es];
        let e = decode_tl2_fast_out(&bad2, 32, 224, &cfg2, out, &mut dst, Streaming::Auto).unwrap_err();
        assert_eq!(e.message(), e2.message());
        assert!(dst.iter().all(|&b| b == 7));
        // Through the codec: the tile walk's / code check's wording, with the byte.
        let mut dst = vec![7u8; 64 * 256 * es];
        let e = tl1.codec.decode_rows(&bad, 0..64, out, &mut dst).unwrap_err();
        assert!(e.message().contains("byte 1000"), "{}", e.message());
        assert!(dst.iter().all(|&b| b == 7));
        let mut dst = vec![7u8; 512 * es];
        let e = i2s.codec.decode_rows(&bad3, 0..2, out, &mut dst).unwrap_err();
        assert!(e.message().contains("byte 77"), "{}", e.message());
        assert!(dst.iter().all(|&b| b == 7));
        // Wrong output lengths are refused.
        assert!(decode_tl1_fast_out(&tl1.bytes, 64, 256, &cfg1, out, &mut dst[..7], Streaming::Off).is_err());
    }
}

/// TL row ranges through the codec: the whole row groups inside a range come from the AVX2
/// decoders, the partial ones from the tile walk; every range of a few tensors, against the
/// scalar path, and an invalid index outside the range's tiles does not matter (the tile walk
/// reads only those tiles) while one inside them is refused with the tile walk's error.
#[test]
fn tl_row_ranges_equal_the_scalar_path() {
    let mut rng = Rng(SplitMix64::new(54));
    let cases = [
        tl_case(&mut rng, false, 192, 64, TlConfig { bm_tile: 64, bk: 64, bm: 32 }, 0.75),
        tl_case(&mut rng, false, 256, 32, TlConfig { bm_tile: 128, bk: 32, bm: 64 }, 3.0e-8),
        tl_case(&mut rng, true, 128, 96 + 32, TlConfig { bm_tile: 64, bk: 96, bm: 32 }, 65520.0),
        tl_case(&mut rng, true, 96, 48, TlConfig { bm_tile: 32, bk: 48, bm: 32 }, 0.1),
    ];
    for (ci, c) in cases.iter().enumerate() {
        let (m, k) = (c.codec.ne[1] as usize, c.codec.ne[0] as usize);
        let tl2 = c.codec.ty == TL2;
        for out in [OutType::F16, OutType::Bf16, OutType::F32] {
            let es = out.size() as usize;
            let want = scalar_bytes(&c.vals, out);
            let step = if m > 128 { 7 } else { 3 };
            for a in (0..m).step_by(step) {
                for b in (a + 1..=m).step_by(step) {
                    let mut dst = vec![0u8; (b - a) * k * es];
                    c.codec.decode_rows(&c.bytes, a as u64..b as u64, out, &mut dst).unwrap();
                    if let Some(d) = first_diff(&dst, &want[a * k * es..b * k * es], es) {
                        panic!("case {ci}: rows {a}..{b} as {}: {d}", out.name());
                    }
                }
            }
        }
        // An invalid index in the last row tile: ranges in the first tile still decode (and
        // match), ranges reaching the last tile are refused like the tile walk.
        let cfg = c.codec.tl.unwrap();
        let mut bad = c.bytes.clone();
        let last_tile_byte = if tl2 {
            let g = tl2_geometry(m, k, &cfg).unwrap();
            g.sign_offset - 1
        } else {
            m * k / 4 - 1
        };
        bad[last_tile_byte] = 0xee;
        let first_tile = 0..cfg.bm_tile as u64;
        let mut dst = vec![0u8; cfg.bm_tile * k * 2];
        c.codec.decode_rows(&bad, first_tile.clone(), OutType::F16, &mut dst).unwrap();
        assert!(first_diff(&dst, &scalar_bytes(&c.vals[..cfg.bm_tile * k], OutType::F16), 2).is_none());
        let mut dst = vec![9u8; (m - 1) * k * 2];
        let e = c.codec.decode_rows(&bad, 1..m as u64, OutType::F16, &mut dst).unwrap_err();
        assert!(e.message().contains(&format!("byte {last_tile_byte}")), "case {ci}: {}", e.message());
        assert!(dst.iter().all(|&x| x == 9));
    }
}
