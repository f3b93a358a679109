//! Model conversion (`bitgguf::convert`) and validation (`bitgguf::validate`) on models built
//! with `GgufWriter`: every ternary pair value-exact, the reference vectors of
//! bitnet-formats.md §9 byte for byte through the converter, the size formulas, the lossy-scale
//! refusal, metadata, and the accuracy metrics against values computed here independently.

use std::path::{Path, PathBuf};

use bitgguf::convert::decode::{decode_f32, TlChoice};
use bitgguf::convert::{convert_file, Action, ConvertOptions, ConvertReport};
use bitgguf::gguf::{GgufWriter, OwnedValue, Value};
use bitgguf::quant::bitnet::{Ternarizer, TlConfig};
use bitgguf::synth::rng::SplitMix64;
use bitgguf::types::{self, TypeId, I2_S, TL1, TL2};
use bitgguf::validate::{validate, ValidateOptions};
use bitgguf::{LoadOptions, Model, Status};

const TQ1_0: TypeId = 34;
const TQ2_0: TypeId = 35;

/// Test data from the library's SplitMix64.
struct Rng(SplitMix64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gaussian(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| ((-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()) as f32)
            .collect()
    }
    fn trits(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| (self.next() % 3) as f32 - 1.0).collect()
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write(dir: &Path, name: &str, w: &GgufWriter) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

/// Every tensor of a model as f32 (TL parameters from the file's keys).
fn values(path: &Path) -> Vec<(String, Vec<f32>)> {
    let m = Model::open(path, &LoadOptions::default()).unwrap();
    (0..m.tensor_count())
        .map(|i| {
            let t = m.tensor(i).unwrap().info;
            (t.name.to_string(), decode_f32(&m.codec(i).unwrap(), m.tensor_data(i).unwrap(), t.name).unwrap())
        })
        .collect()
}

fn convert(input: &Path, output: &Path, opts: &ConvertOptions) -> bitgguf::Result<ConvertReport> {
    convert_file(input, output, opts, &mut |_| true)
}

const SCALE: f32 = 0.015625; // 2^-6: exact in f16, so TQ1_0 / TQ2_0 hold it losslessly

/// A small BitNet-like model whose linear weights are ternary x SCALE (as f32), with norms, an
/// f16 embedding and metadata of several types.
fn ternary_model(rng: &mut Rng) -> (GgufWriter, Vec<(String, Vec<f32>)>) {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w.kv("general.name", OwnedValue::str("convert-test"));
    w.kv("general.file_type", OwnedValue::U32(0));
    w.kv("bitnet-b1.58.block_count", OwnedValue::U32(1));
    w.kv("test.f64", OwnedValue::F64(-2.5));
    w.kv(
        "tokenizer.ggml.tokens",
        OwnedValue::Array(bitgguf::gguf::ValueType::String, vec![OwnedValue::str("a"), OwnedValue::str("b")]),
    );
    let emb: Vec<f32> = rng.gaussian(256 * 8);
    let emb16: Vec<u8> = emb.iter().flat_map(|&x| bitgguf::quant::float::f32_to_f16(x).to_le_bytes()).collect();
    w.tensor("token_embd.weight", 1, &[256, 8], emb16);
    let norm = rng.gaussian(256);
    w.tensor("blk.0.attn_norm.weight", 0, &[256], f32_bytes(&norm));
    let mut lin = Vec::new();
    for (name, k, m) in [("blk.0.attn_q.weight", 256usize, 64usize), ("blk.0.ffn_down.weight", 512, 64)] {
        let v: Vec<f32> = rng.trits(k * m).iter().map(|t| t * SCALE).collect();
        w.tensor(name, 0, &[k as u64, m as u64], f32_bytes(&v));
        lin.push((name.to_string(), v));
    }
    (w, lin)
}

fn tl_opts(to: TypeId) -> ConvertOptions {
    let mut o = ConvertOptions::new(to);
    o.tl = Some(TlChoice::Config(if to == TL2 {
        TlConfig { bm_tile: 32, bk: 96, bm: 32 }
    } else {
        TlConfig { bm_tile: 32, bk: 64, bm: 32 }
    }));
    o
}

#[test]
fn every_ternary_pair_is_value_exact_through_the_converter() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SplitMix64::new(1));
    let (w, lin) = ternary_model(&mut rng);
    let src = write(dir.path(), "f32.gguf", &w);
    let original = values(&src);
    let fmts = [I2_S, TL1, TL2, TQ1_0, TQ2_0];
    // f32 (ternary x 2^-6) -> every format with sign-max: exact.
    let mut files = Vec::new();
    for &to in &fmts {
        let out = dir.path().join(format!("{}.gguf", types::info(to).unwrap().name));
        let mut o = tl_opts(to);
        o.mode = Ternarizer::SignMax;
        let r = convert(&src, &out, &o).unwrap();
        assert!(r.exact(), "{to}: {r:?}");
        assert_eq!(values(&out), original, "f32 -> {to}");
        let lin_reports: Vec<_> = r.tensors.iter().filter(|t| t.to == to).collect();
        assert_eq!(lin_reports.len(), lin.len());
        assert!(lin_reports.iter().all(|t| t.action == Action::Quantized));
        files.push((to, out));
    }
    // Every ordered pair of ternary files: transcoded, value-exact.
    for (from, path) in &files {
        for &to in &fmts {
            if *from == to {
                continue;
            }
            let out = dir.path().join(format!("pair_{from}_{to}.gguf"));
            let r = convert(path, &out, &tl_opts(to)).unwrap();
            for t in r.tensors.iter().filter(|t| t.from == *from) {
                assert_eq!(t.action, Action::Transcoded, "{from} -> {to}: {}", t.name);
                assert!(t.exact && t.scale_loss.is_none());
            }
            assert_eq!(values(&out), original, "{from} -> {to}");
        }
    }
}

#[test]
fn metadata_file_type_tl_keys_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SplitMix64::new(2));
    let (w, _) = ternary_model(&mut rng);
    let src = write(dir.path(), "f32.gguf", &w);
    for (to, ftype) in [(I2_S, 40u64), (TL1, 38), (TL2, 39), (TQ1_0, 36), (TQ2_0, 37), (8, 7), (1, 1)] {
        let out = dir.path().join("out.gguf");
        let mut o = tl_opts(to);
        o.mode = Ternarizer::SignMax;
        let r = convert(&src, &out, &o).unwrap();
        let m = Model::open(&out, &LoadOptions::default()).unwrap();
        let meta = m.metadata();
        assert_eq!(meta.get("general.file_type").and_then(|v| v.as_u64()), Some(ftype), "{to}");
        assert_eq!(r.file_type, Some(ftype as u32));
        assert_eq!(meta.get("general.name").unwrap().as_str_bytes().unwrap(), b"convert-test");
        assert!(matches!(meta.get("test.f64"), Some(Value::F64(v)) if v == -2.5));
        assert_eq!(meta.get("tokenizer.ggml.tokens").map(|v| v.value_type()), Some(bitgguf::gguf::ValueType::Array));
        // Norms and the embedding are untouched; linear weights change type.
        for t in m.tensors() {
            let i = t.info;
            let expect = if i.name.starts_with("blk.0.attn_q") || i.name.starts_with("blk.0.ffn_down") {
                to
            } else if i.name == "token_embd.weight" {
                1
            } else {
                0
            };
            assert_eq!(i.ty.id, expect, "{}", i.name);
            // The size formulas (bitnet-formats.md §3.9, §4.1, §5.7, §6).
            let n = i.n_elements;
            let (mm, k) = (n / i.ne[0], i.ne[0]);
            let want = match i.ty.id {
                I2_S | TL1 => n / 4 + 32,
                TL2 => {
                    let f = (k - 256) * mm / 3 * 5 / 8 + 256 * mm / 2 * 4 / 8;
                    f.div_ceil(32) * 32 + 32
                }
                TQ1_0 => n / 256 * 54,
                TQ2_0 => n / 256 * 66,
                8 => n / 32 * 34,
                1 => n * 2,
                _ => n * 4,
            };
            assert_eq!(i.n_bytes, want, "{} as {}", i.name, i.ty.name);
            let tl = m.recorded_tl_config(i.name).unwrap();
            if to == TL1 || to == TL2 {
                if i.ty.id == to {
                    assert_eq!(
                        tl,
                        Some(if to == TL1 {
                            TlConfig { bm_tile: 32, bk: 64, bm: 32 }
                        } else {
                            TlConfig { bm_tile: 32, bk: 96, bm: 32 }
                        })
                    );
                }
            } else {
                assert_eq!(tl, None);
            }
        }
        assert_eq!(std::fs::metadata(&out).unwrap().len(), r.file_bytes);
        assert!(!dir.path().join("out.gguf.partial").exists());
    }
}

/// §9.1: shape [128, 2], row 0 = vector A, row 1 = vector B, scale 0.0123.
fn vectors_ab() -> Vec<f32> {
    let a = (0..128).map(|j| [1.0f32, 0.0, -1.0, 1.0][j / 32]);
    let b = (0..128).map(|j| (j % 3) as f32 - 1.0);
    a.chain(b).map(|t| t * 0.0123).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|t| u8::from_str_radix(t, 16).unwrap()).collect()
}

fn tensor_bytes(path: &Path, name: &str) -> Vec<u8> {
    let m = Model::open(path, &LoadOptions::default()).unwrap();
    m.tensor_data(m.find_tensor(name).unwrap()).unwrap().to_vec()
}

#[test]
fn sign_max_reproduces_the_reference_vectors_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w.tensor("blk.0.attn_q.weight", 0, &[128, 2], f32_bytes(&vectors_ab()));
    // §9.4: TL1, M = 32, K = 16, t[m][k] = ((m + k) mod 3) - 1.
    let tl1: Vec<f32> = (0..32 * 16).map(|e| (((e / 16 + e % 16) % 3) as f32 - 1.0) * 0.5).collect();
    w.tensor("blk.0.ffn_up.weight", 0, &[16, 32], f32_bytes(&tl1));
    let src = write(dir.path(), "ab.gguf", &w);

    let mut o = ConvertOptions::new(I2_S);
    o.mode = Ternarizer::SignMax;
    // ffn_up (16 columns) cannot be I2_S (128-element blocks): the error names it.
    let e = convert(&src, &dir.path().join("x.gguf"), &o).unwrap_err();
    assert!(e.message().contains("blk.0.ffn_up.weight"), "{e}");
    let mut w2 = GgufWriter::new();
    w2.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w2.tensor("blk.0.attn_q.weight", 0, &[128, 2], f32_bytes(&vectors_ab()));
    let src2 = write(dir.path(), "ab2.gguf", &w2);
    let out = dir.path().join("i2s.gguf");
    convert(&src2, &out, &o).unwrap();
    let want = unhex(
        "92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92
         24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49
         f0 85 49 3c 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    );
    assert_eq!(tensor_bytes(&out, "blk.0.attn_q.weight"), want);

    // §9.2: the same 256 values as one TQ2_0 block need the scale rounded to f16: refused,
    // then allowed.
    let mut w4 = GgufWriter::new();
    w4.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w4.tensor("blk.0.attn_q.weight", 0, &[256, 1], f32_bytes(&vectors_ab()));
    let src2 = write(dir.path(), "ab256.gguf", &w4);
    let mut o = ConvertOptions::new(TQ2_0);
    o.mode = Ternarizer::SignMax;
    let out = dir.path().join("tq2.gguf");
    let e = convert(&src2, &out, &o).unwrap_err();
    assert_eq!(e.status(), Status::InvalidParameter);
    assert!(e.message().contains("blk.0.attn_q.weight") && e.message().contains("allow_lossy_scale"), "{e}");
    assert!(!out.exists() && !dir.path().join("tq2.gguf.partial").exists());
    o.allow_lossy_scale = true;
    let r = convert(&src2, &out, &o).unwrap();
    let t = r.tensors.iter().find(|t| t.name == "blk.0.attn_q.weight").unwrap();
    let loss = t.scale_loss.expect("reported");
    assert_eq!(loss.original, 0.0123);
    assert_eq!(loss.stored as f64, 0.012298583984375f64); // f16 0x224c (bytes 4c 22)
    assert!(!t.exact);
    let mut want = vec![0x86u8; 32];
    want.extend((0..32).map(|p| [0x18u8, 0x61, 0x86][p % 3]));
    want.extend([0x4c, 0x22]);
    assert_eq!(tensor_bytes(&out, "blk.0.attn_q.weight"), want);
    // The I2_S file of the same values transcodes to the same TQ2_0 bytes (and is refused the
    // same way).
    let mut o = ConvertOptions::new(I2_S);
    o.mode = Ternarizer::SignMax;
    let i2s256 = dir.path().join("i2s256.gguf");
    convert(&src2, &i2s256, &o).unwrap();
    assert_eq!(
        tensor_bytes(&i2s256, "blk.0.attn_q.weight"),
        tensor_bytes(&dir.path().join("i2s.gguf"), "blk.0.attn_q.weight")
    );
    let from_i2s = dir.path().join("tq2b.gguf");
    let mut o2 = ConvertOptions::new(TQ2_0);
    assert!(convert(&i2s256, &from_i2s, &o2).is_err());
    o2.allow_lossy_scale = true;
    convert(&i2s256, &from_i2s, &o2).unwrap();
    assert_eq!(tensor_bytes(&from_i2s, "blk.0.attn_q.weight"), want);

    // §9.4 TL1 through the converter (tile config 32,16,32).
    let mut w3 = GgufWriter::new();
    w3.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w3.tensor("blk.0.ffn_up.weight", 0, &[16, 32], f32_bytes(&tl1));
    let src3 = write(dir.path(), "tl1src.gguf", &w3);
    let mut o = ConvertOptions::new(TL1);
    o.mode = Ternarizer::SignMax;
    o.tl = Some(TlChoice::parse_config("32,16,32").unwrap());
    let out = dir.path().join("tl1.gguf");
    convert(&src3, &out, &o).unwrap();
    let want = unhex(
        "16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16  51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51
         51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51  65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65
         65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65  16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
         16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16  51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51",
    );
    let bytes = tensor_bytes(&out, "blk.0.ffn_up.weight");
    assert_eq!(&bytes[..128], &want[..]);
    assert_eq!(&bytes[128..132], &0.5f32.to_le_bytes());
}

/// The cosine of absmean ternarization, computed here from its definition (f64 mean of |w|,
/// rounded to f32; t = sign(w) where |w| > s/2; values s*t in f32).
fn absmean_cosine(w: &[f32]) -> f64 {
    let s = (w.iter().map(|x| x.abs() as f64).sum::<f64>() / w.len() as f64) as f32;
    let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for &x in w {
        let t = if x.abs() > s * 0.5 { x.signum() } else { 0.0 };
        let q = (s * t) as f64;
        dot += x as f64 * q;
        aa += (x as f64).powi(2);
        bb += q * q;
    }
    dot / (aa.sqrt() * bb.sqrt())
}

#[test]
fn accuracy_of_absmean_and_q8_0_on_gaussian_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SplitMix64::new(3));
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"));
    let weights = rng.gaussian(256 * 256);
    w.tensor("blk.0.attn_q.weight", 0, &[256, 256], f32_bytes(&weights));
    w.tensor("blk.0.attn_norm.weight", 0, &[256], f32_bytes(&rng.gaussian(256)));
    let src = write(dir.path(), "g.gguf", &w);
    let reference = Model::open(&src, &LoadOptions::default()).unwrap();

    let out = dir.path().join("i2s.gguf");
    let r = convert(&src, &out, &ConvertOptions::new(I2_S)).unwrap();
    assert!(!r.exact());
    let model = Model::open(&out, &LoadOptions::default()).unwrap();
    let rep = validate(&model, Some(&reference), &ValidateOptions::default(), &mut |_, _, _| {});
    assert!(rep.structural_ok());
    let q = rep.tensors.iter().find(|t| t.name == "blk.0.attn_q.weight").unwrap().accuracy.unwrap();
    let want = absmean_cosine(&weights);
    assert!((q.weights.cosine - want).abs() < 1e-12, "{} vs {want}", q.weights.cosine);
    // Theory for a Gaussian: threshold s/2 = sigma*sqrt(2/pi)/2 = 0.399 sigma, cosine
    // 2 phi(0.399) / sqrt(P(|w| > 0.399)) = 0.887. Ternary weights cannot reach the 0.99 gate
    // on Gaussian data: the gate fails, as it must.
    assert!((want - 0.887).abs() < 0.005, "{want}");
    assert!(!q.passes(0.99) && !rep.accuracy_ok());
    let g = q.gemv.unwrap();
    assert!(g.cosine > 0.8 && g.cosine < 0.95, "{}", g.cosine);
    let norm = rep.tensors.iter().find(|t| t.name == "blk.0.attn_norm.weight").unwrap().accuracy.unwrap();
    assert!(norm.exact() && norm.gemv.is_none());

    // q8_0 keeps cosine > 0.9999 and passes.
    let out = dir.path().join("q8.gguf");
    convert(&src, &out, &ConvertOptions::new(8)).unwrap();
    let model = Model::open(&out, &LoadOptions::default()).unwrap();
    let rep = validate(&model, Some(&reference), &ValidateOptions::default(), &mut |_, _, _| {});
    let q = rep.tensors.iter().find(|t| t.name == "blk.0.attn_q.weight").unwrap().accuracy.unwrap();
    assert!(q.weights.cosine > 0.9999 && q.weights.cosine < 1.0, "{}", q.weights.cosine);
    assert!(rep.accuracy_ok());

    // Ternary-representable input, sign-max: exact, and the GEMV too.
    let tern: Vec<f32> = rng.trits(256 * 256).iter().map(|t| t * 0.03).collect();
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"));
    w.tensor("blk.0.attn_q.weight", 0, &[256, 256], f32_bytes(&tern));
    let src = write(dir.path(), "t.gguf", &w);
    let out = dir.path().join("t_i2s.gguf");
    let mut o = ConvertOptions::new(I2_S);
    o.mode = Ternarizer::SignMax;
    assert!(convert(&src, &out, &o).unwrap().exact());
    let rep = validate(
        &Model::open(&out, &LoadOptions::default()).unwrap(),
        Some(&Model::open(&src, &LoadOptions::default()).unwrap()),
        &ValidateOptions::default(),
        &mut |_, _, _| {},
    );
    let a = rep.tensors[0].accuracy.unwrap();
    assert!(a.exact() && a.gemv.unwrap().exact && rep.accuracy_ok());
}

#[test]
fn progress_cancel_and_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SplitMix64::new(4));
    let (w, _) = ternary_model(&mut rng);
    let src = write(dir.path(), "m.gguf", &w);
    let out = dir.path().join("o.gguf");
    let mut calls = Vec::new();
    convert_file(&src, &out, &ConvertOptions::new(I2_S), &mut |p| {
        calls.push((p.done, p.total, p.tensor.to_string(), p.bytes_done, p.bytes_total));
        true
    })
    .unwrap();
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[0].2, "token_embd.weight");
    assert_eq!(calls[4].0, 4);
    assert_eq!(calls[4].3, calls[4].4);
    std::fs::remove_file(&out).unwrap();
    let e = convert_file(&src, &out, &ConvertOptions::new(I2_S), &mut |p| p.done < 2).unwrap_err();
    assert_eq!(e.status(), Status::Cancelled);
    assert!(!out.exists() && !dir.path().join("o.gguf.partial").exists());
    // TL output without tile parameters, and an I2_S tensor with code 3.
    let e = convert(&src, &out, &ConvertOptions::new(TL2)).unwrap_err();
    assert!(e.message().contains("no tile parameters"), "{e}");
    let mut bad = GgufWriter::new();
    bad.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    let mut payload = vec![0x55u8; 64];
    payload[5] = 0xff;
    payload.extend(0.5f32.to_le_bytes());
    payload.extend([0u8; 28]);
    bad.tensor("blk.0.attn_q.weight", I2_S, &[128, 2], payload);
    let badp = write(dir.path(), "bad.gguf", &bad);
    let e = convert(&badp, &out, &ConvertOptions::new(8)).unwrap_err();
    assert!(e.message().contains("blk.0.attn_q.weight") && e.message().contains("byte 5"), "{e}");
    let m = Model::open(&badp, &LoadOptions::default()).unwrap();
    let rep = validate(&m, None, &ValidateOptions::default(), &mut |_, _, _| {});
    assert!(!rep.structural_ok());
    assert!(rep.tensors[0].decode_error.as_ref().unwrap().contains("code 3"));
}

#[test]
fn random_shapes_round_trip_in_every_ternary_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(SplitMix64::new(5));
    for _ in 0..4 {
        let m = 32 * (1 + rng.next() % 4) as usize;
        let k = [256usize, 512, 768, 1024][(rng.next() % 4) as usize];
        let scale = [0.25f32, 0.0078125, 3.0][(rng.next() % 3) as usize];
        let v: Vec<f32> = rng.trits(m * k).iter().map(|t| t * scale).collect();
        let mut w = GgufWriter::new();
        w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
        w.tensor("blk.3.ffn_gate.weight", 0, &[k as u64, m as u64], f32_bytes(&v));
        let src = write(dir.path(), "r.gguf", &w);
        let mut prev = src.clone();
        for to in [TL2, TQ1_0, I2_S, TL1, TQ2_0, TL2] {
            let out = dir.path().join(format!("r_{to}.gguf"));
            let mut o = tl_opts(to);
            o.mode = Ternarizer::SignMax;
            let r = convert(&prev, &out, &o).unwrap();
            assert!(r.exact(), "{m}x{k} -> {to}: {r:?}");
            assert_eq!(values(&out)[0].1, v, "{m}x{k} scale {scale} -> {to}");
            prev = out;
        }
    }
}
