//! `--json` on every command a script would drive (issue 9): synth, quantize, dequant, demo and
//! bench print one JSON object on stdout whose figures agree with the files they wrote and with
//! the library; no progress bar or control character reaches stdout.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as J;

fn bitgguf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitgguf")).args(args).output().expect("run bitgguf")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The stdout of a successful run, parsed as one JSON object.
fn json_of(args: &[&str]) -> J {
    let o = bitgguf(args);
    assert!(o.status.success(), "bitgguf {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains('\r') && !text.contains('\x1b'), "control characters on stdout: {text:?}");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("bitgguf {args:?}: not JSON ({e}): {text}"))
}

#[test]
fn synth_quantize_dequant_json_agree_with_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let f32m = dir.path().join("tiny-f32.gguf");
    let j = json_of(&["synth", "--preset", "tiny", "--type", "f32", "--seed", "7", "--json", "-o", s(&f32m)]);
    let len = std::fs::metadata(&f32m).unwrap().len();
    assert_eq!(j["file_bytes"], len);
    assert_eq!(j["preset"], "tiny");
    assert_eq!(j["type"], "f32");
    assert_eq!(j["seed"], 7);
    let model = bitgguf::Model::open(&f32m, &bitgguf::LoadOptions::default()).unwrap();
    assert_eq!(j["tensors"], model.tensor_count());

    let i2s = dir.path().join("tiny-i2s.gguf");
    let j = json_of(&["quantize", s(&f32m), "--to", "i2_s", "--mode", "sign-max", "--json", "-o", s(&i2s)]);
    assert_eq!(j["file_bytes"], std::fs::metadata(&i2s).unwrap().len());
    // Synthetic weights are ternary x scale, so sign-max (scale = max|W|) holds them exactly.
    assert_eq!(j["exact"], true, "{j}");
    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), model.tensor_count());
    let q = tensors.iter().find(|t| t["name"] == "blk.0.attn_q.weight").unwrap();
    assert_eq!(
        (q["from"].as_str(), q["to"].as_str(), q["action"].as_str()),
        (Some("f32"), Some("i2_s"), Some("quantized"))
    );

    let raw = dir.path().join("q.bf16");
    let j = json_of(&["dequant", s(&i2s), "--tensor", "blk.0.attn_q.weight", "--to", "bf16", "--json", "-o", s(&raw)]);
    let t = model.tensor(model.find_tensor("blk.0.attn_q.weight").unwrap()).unwrap().info;
    assert_eq!(j["elements"], t.n_elements);
    assert_eq!(j["bytes"], t.n_elements * 2);
    assert_eq!(j["bytes"], std::fs::metadata(&raw).unwrap().len());
    assert_eq!(j["type"], "i2_s");
    assert_eq!(j["to"], "bf16");
}

#[test]
fn demo_json_reports_every_step() {
    let j = json_of(&["demo", "--json"]);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["transcode"]["exact"], true);
    assert_eq!(j["synth"]["tensors"], j["load"]["tensors"]);
    let placed: u64 = j["load"]["devices"].as_array().unwrap().iter().map(|d| d["tensors"].as_u64().unwrap()).sum();
    assert_eq!(j["load"]["tensors"].as_u64(), Some(placed));
    assert_eq!(j["crossval"]["compiled"], cfg!(feature = "crossval"));
}

#[test]
fn bench_json_rows_without_ggml() {
    let j = json_of(&[
        "bench",
        "--elements",
        "65536",
        "--rounds",
        "1",
        "--types",
        "tl2,q4_0,f64,q8_0",
        "--to",
        "f32,bf16",
        "--no-ggml",
        "--json",
    ]);
    let rows = j["rows"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["out"].as_str().unwrap(), r["ggml_type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("q4_0", "f32", "q4_0"),
            ("q4_0", "bf16", "q4_0"),
            ("q8_0", "f32", "q8_0"),
            ("q8_0", "bf16", "q8_0"),
            ("tl2", "f32", "tq1_0"),
            ("tl2", "bf16", "tq1_0")
        ]
    );
    for r in rows {
        assert!(r["ours_1t_gelem_s"].as_f64().unwrap() > 0.0 && r["ours_all_gelem_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["ggml_gelem_s"].is_null() && r["ratio_1t"].is_null(), "{r}");
        // BitNet rows time the loading path, which makes its own streaming choice.
        assert_eq!(r["ours_1t_plain_gelem_s"].is_null(), r["type"] == "tl2", "{r}");
    }
    // A type asked for that has no decoder is listed with the reason, never dropped.
    let skipped = j["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{j}");
    assert_eq!(skipped[0]["type"], "f64");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("not a dequantizable type"), "{j}");
    assert!(j["ggml"].is_null() && j["unmet_floors"].is_null());
    assert_eq!(j["elements"], 65536);
    // An unknown type is a usage error naming it.
    let o = bitgguf(&["bench", "--types", "q9_9", "--no-ggml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown type 'q9_9'"));
}

#[test]
fn bench_json_against_real_ggml() {
    let Ok(lib) = std::env::var("BG_GGML_LIB") else {
        if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("BG_REQUIRE_ORACLES=1 but BG_GGML_LIB is not set");
        }
        eprintln!(
            "SKIPPED: bench_json_against_real_ggml: BG_GGML_LIB is not set (libggml-base.so from libggml-python)"
        );
        return;
    };
    // Our output is checked against ggml's bit for bit before any timing: success means equal.
    let j = json_of(&[
        "bench",
        "--elements",
        "65536",
        "--rounds",
        "1",
        "--types",
        "q4_k,iq4_xs,tq2_0,i2_s,tl1",
        "--ggml",
        &lib,
        "--json",
    ]);
    assert_eq!(j["ggml"], lib.as_str());
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{j}");
    // ggml has no I2_S or TL1: their ggml column is its TQ2_0 (2 bits/weight) on as many elements.
    let stand_in: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["type"].as_str().unwrap(), r["ggml_type"].as_str().unwrap())).collect();
    assert_eq!(
        stand_in,
        [("q4_k", "q4_k"), ("iq4_xs", "iq4_xs"), ("tq2_0", "tq2_0"), ("i2_s", "tq2_0"), ("tl1", "tq2_0")]
    );
    for r in rows {
        let (ours, ggml, ratio) = (
            r["ours_1t_gelem_s"].as_f64().unwrap(),
            r["ggml_gelem_s"].as_f64().unwrap(),
            r["ratio_1t"].as_f64().unwrap(),
        );
        assert!(ours > 0.0 && ggml > 0.0);
        assert!((ratio - ours / ggml).abs() < 1e-9 * ratio.max(1.0), "{r}");
        assert!(r["floor_1t_met"].is_boolean());
    }
    assert!(j["unmet_floors"].is_array());
}
