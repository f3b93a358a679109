//! `bitgguf quantize` and `bitgguf validate` end to end: reports, JSON, and the documented exit
//! codes (0 ok, 1 invalid file / refused conversion, 2 usage, 4 below the accuracy gate).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bitgguf::gguf::{GgufWriter, OwnedValue};
use bitgguf::types;
use serde_json::Value as J;

fn bitgguf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitgguf")).args(args).output().expect("run bitgguf")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A model with a ternary x 2^-5 linear weight, a Gaussian-ish one, and a norm.
fn model(dir: &Path) -> PathBuf {
    let mut s = 7u64;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let tern: Vec<f32> = (0..256 * 32).map(|_| ((next() * 3.0) as i32 - 1) as f32 * 0.03125).collect();
    let noise: Vec<f32> = (0..256 * 32).map(|_| (next() - 0.5) as f32).collect();
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w.kv("general.file_type", OwnedValue::U32(0));
    w.tensor("blk.0.attn_norm.weight", 0, &[256], f32_bytes(&vec![1.0; 256]));
    w.tensor("blk.0.attn_q.weight", 0, &[256, 32], f32_bytes(&tern));
    w.tensor("blk.0.ffn_up.weight", 0, &[256, 32], f32_bytes(&noise));
    let p = dir.join("m.gguf");
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn quantize_reports_and_validate_gates() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let out = dir.path().join("q.gguf");
    let o = bitgguf(&["quantize", s(&m), "--to", "i2_s", "--mode", "sign-max", "-o", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("blk.0.attn_norm.weight: f32 -> f32 copied exact"), "{text}");
    assert!(text.contains("blk.0.attn_q.weight: f32 -> i2_s quantized exact"), "{text}");
    assert!(text.contains("blk.0.ffn_up.weight: f32 -> i2_s quantized lossy"), "{text}");
    assert!(text.contains("3 tensors (2 converted, 1 lossy)") && text.contains("general.file_type = 40"), "{text}");
    // No progress bar when stderr is not a terminal.
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let loaded = bitgguf::Model::open(&out, &bitgguf::LoadOptions::default()).unwrap();
    assert_eq!(loaded.tensor(1).unwrap().info.ty.id, types::I2_S);

    // validate without a reference: structure only.
    let o = bitgguf(&["validate", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("structure: ok (3 tensors decode)"), "{}", stdout(&o));
    // Against the f32 model: the ternary tensor is exact, the noise is below the gate -> 4.
    let o = bitgguf(&["validate", s(&out), "--reference", s(&m)]);
    assert_eq!(o.status.code(), Some(4), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("blk.0.attn_q.weight i2_s [256, 32] vs f32: exact"), "{text}");
    assert!(text.contains("blk.0.ffn_up.weight i2_s [256, 32] vs f32: cos 0.") && text.contains("FAIL"), "{text}");
    let o = bitgguf(&["validate", s(&out), "--reference", s(&m), "--json"]);
    assert_eq!(o.status.code(), Some(4));
    let j: J = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["structural_ok"], true);
    assert_eq!(j["accuracy_ok"], false);
    let t = &j["tensors"][2];
    assert_eq!(t["name"], "blk.0.ffn_up.weight");
    let cos = t["weights"]["cosine"].as_f64().unwrap();
    // Sign quantization of uniform noise: cosine = E|w| / sqrt(E w^2) = (1/4) / sqrt(1/12) = 0.866.
    assert!((cos - 0.866).abs() < 0.02, "{cos}");
    assert_eq!(t["passes"], false);
    assert_eq!(j["tensors"][1]["weights"]["exact"], true);
    // A gate it does pass.
    let o = bitgguf(&["validate", s(&out), "--reference", s(&m), "--min-cosine", "0.8"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // q8_0 passes the default gate.
    let q8 = dir.path().join("q8.gguf");
    assert!(bitgguf(&["quantize", s(&m), "--to", "q8_0", "--quiet", "-o", s(&q8)]).status.success());
    let o = bitgguf(&["validate", s(&q8), "--reference", s(&m)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn lossy_scale_tl_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    // absmean -> TQ2_0: the f32 mean is not an f16: refused (exit 1), then allowed.
    let out = dir.path().join("tq2.gguf");
    let o = bitgguf(&["quantize", s(&m), "--to", "tq2_0", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("allow_lossy_scale") && stderr(&o).contains("blk.0.attn_q.weight"), "{}", stderr(&o));
    assert!(!out.exists());
    let o = bitgguf(&["quantize", s(&m), "--to", "tq2_0", "--allow-lossy-scale", "-o", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("stored as f16"), "{}", stdout(&o));
    // TL2 with a tile config, recorded in the file; transcoding back to I2_S is exact.
    let tl2 = dir.path().join("tl2.gguf");
    let o =
        bitgguf(&["quantize", s(&m), "--to", "tl2", "--mode", "sign-max", "--tl-config", "32,96,32", "-o", s(&tl2)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("tiles BM=32 BK=96 bm=32"), "{}", stdout(&o));
    let i2s = dir.path().join("i2s.gguf");
    let o = bitgguf(&["quantize", s(&tl2), "--to", "i2_s", "-o", s(&i2s)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("blk.0.attn_q.weight: tl2 -> i2_s transcoded exact"), "{}", stdout(&o));
    let o = bitgguf(&["validate", s(&i2s), "--reference", s(&tl2)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // A TL preset without the shape: error naming the tensor.
    let o = bitgguf(&["quantize", s(&m), "--to", "tl1", "--tl-preset", "bitnet_b1_58-3B", "-o", s(&tl2)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("has no configuration for M=32, K=256"), "{}", stderr(&o));
    // Usage errors.
    assert_eq!(bitgguf(&["quantize", s(&m), "--to", "nope", "-o", s(&out)]).status.code(), Some(1));
    assert_eq!(bitgguf(&["quantize", s(&m), "-o", s(&out)]).status.code(), Some(2));
    assert_eq!(
        bitgguf(&["quantize", s(&m), "--to", "tl1", "--tl-config", "1,2", "-o", s(&out)]).status.code(),
        Some(1)
    );
    // A tensor that does not decode: validate exits 1 and names it.
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    let mut payload = vec![0x55u8; 32];
    payload[3] = 0x03;
    payload.extend([0u8; 32]);
    w.tensor("blk.0.attn_k.weight", types::I2_S, &[128], payload);
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, w.to_bytes().unwrap()).unwrap();
    let o = bitgguf(&["validate", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("blk.0.attn_k.weight i2_s [128]: DOES NOT DECODE") && stdout(&o).contains("code 3"));
    // Missing file: exit 3.
    assert_eq!(bitgguf(&["validate", s(&dir.path().join("none.gguf"))]).status.code(), Some(3));
}

#[test]
fn synth_models_transcode_exactly_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let f32m = dir.path().join("tiny_f32.gguf");
    let o = bitgguf(&["synth", "--preset", "tiny", "--type", "f32", "-o", s(&f32m)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Weights are ternary x scale: sign-max reproduces them exactly in every ternary type.
    for (to, extra) in [("i2_s", None), ("tl2", Some("32,96,32"))] {
        let out = dir.path().join(format!("tiny_{to}.gguf"));
        let mut args = vec!["quantize", s(&f32m), "--to", to, "--mode", "sign-max", "--quiet", "-o", s(&out)];
        if let Some(c) = extra {
            args.extend(["--tl-config", c]);
        }
        let o = bitgguf(&args);
        assert!(o.status.success(), "{to}: {}", stderr(&o));
        assert!(stdout(&o).contains(", 0 lossy)"), "{to}: {}", stdout(&o));
        let v = bitgguf(&["validate", s(&out), "--reference", s(&f32m)]);
        assert_eq!(v.status.code(), Some(0), "{to}: {}", stdout(&v));
        assert!(stdout(&v).contains("min cosine 1.000000"), "{}", stdout(&v));
    }
}
