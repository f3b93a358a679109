//! `bitgguf load`: the JSON summary of each strategy / mode / output type on a small synthetic
//! model, the text summary, and the exit code of a bad file.

use std::process::Command;

use bitgguf::gguf::{GgufWriter, OwnedValue};

fn bitgguf(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bitgguf")).args(args).output().expect("run bitgguf")
}

fn model(dir: &std::path::Path) -> (String, u64, usize) {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"));
    w.kv("llama.block_count", OwnedValue::U32(2));
    let f32s = |n: usize| (0..n).flat_map(|i| (i as f32 * 0.25 - 3.0).to_le_bytes()).collect::<Vec<u8>>();
    w.tensor("token_embd.weight", 0, &[32, 8], f32s(256));
    for l in 0..2 {
        w.tensor(format!("blk.{l}.attn_norm.weight"), 0, &[32], f32s(32));
        w.tensor(format!("blk.{l}.attn_q.weight"), 0, &[32, 32], f32s(1024));
    }
    w.tensor("output_norm.weight", 0, &[32], f32s(32));
    w.tensor("output.weight", 0, &[32, 8], f32s(256));
    let p = dir.join("m.gguf");
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    (p.display().to_string(), (256 * 2 + 32 * 3 + 1024 * 2) * 4, 7)
}

#[test]
fn json_summary_per_strategy_mode_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let (path, packed, n) = model(dir.path());
    for (strategy, to, mmap, resident, fallbacks) in [
        ("cpu", "packed", true, packed, 0),
        ("cpu", "f16", true, packed / 2, 0),
        ("cpu", "f16", false, packed / 2 + packed, 0),
        ("gpu", "packed", true, packed, 1),
        ("hybrid", "bf16", false, packed / 2 + packed, 1),
    ] {
        let mut args = vec!["load", &path, "--strategy", strategy, "--to", to, "--json"];
        if !mmap {
            args.push("--no-mmap");
        }
        let o = bitgguf(&args);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stderr.is_empty(), "no progress bar without a terminal: {}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["strategy"], strategy, "{v}");
        assert_eq!(v["tensors"], n);
        assert_eq!(v["layers"], 2);
        assert_eq!(v["packed_bytes"], packed);
        assert_eq!(v["resident_bytes"], resident, "{args:?}");
        assert_eq!(v["read_mode"], if mmap { "mmap" } else { "pread" });
        assert_eq!(v["fallbacks"].as_array().unwrap().len(), fallbacks, "{v}");
        let cpu = &v["devices"][0];
        assert_eq!(cpu["device"], "cpu");
        assert_eq!(cpu["tensors"], n);
        let on_cpu = cpu["used"].as_u64().unwrap() + cpu["mapped"].as_u64().unwrap();
        let expect = if to == "packed" { packed } else { packed / 2 };
        assert_eq!(on_cpu, expect, "{args:?}");
        assert!(v["vm_hwm_bytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn text_summary_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _) = model(dir.path());
    let o = bitgguf(&["load", &path, "--strategy", "gpu", "--quiet"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("strategy gpu") && s.contains("fallbacks: 1") && s.contains("no GPU device"), "{s}");
    assert!(s.contains("cpu") && s.contains("memory: peak"), "{s}");
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"GGUX").unwrap();
    let o = bitgguf(&["load", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = bitgguf(&["load", &path, "--vram-fraction", "1.5"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bitgguf(&["load", &path, "--to", "q4_0"]);
    assert_eq!(o.status.code(), Some(2));
}
