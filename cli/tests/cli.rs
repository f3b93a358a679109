//! Runs the built `bitgguf` binary: `demo` (every step, checked against the library), `inspect` (text and JSON, checked value by value
//! with serde_json) on files written with `GgufWriter`, and the documented exit codes.

use std::path::Path;
use std::process::{Command, Output};

use bitgguf::gguf::{GgufWriter, OwnedValue, ValueType};
use bitgguf::synth::{Preset, SynthOptions};
use bitgguf::types;
use serde_json::Value as J;

fn bitgguf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitgguf")).args(args).output().expect("run bitgguf")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn type_id(name: &str) -> u32 {
    types::from_name(name).unwrap().id
}

/// A file with every value type, awkward strings, non-finite floats, a non-default alignment
/// and tensors of several types (including I2_S and a 3-D one).
fn sample() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    w.alignment(64);
    w.kv("t.u8", OwnedValue::U8(200));
    w.kv("t.i8", OwnedValue::I8(-100));
    w.kv("t.u16", OwnedValue::U16(65535));
    w.kv("t.i16", OwnedValue::I16(-32768));
    w.kv("t.u32", OwnedValue::U32(4_000_000_000));
    w.kv("t.i32", OwnedValue::I32(-2_000_000_000));
    w.kv("t.u64", OwnedValue::U64(u64::MAX));
    w.kv("t.i64", OwnedValue::I64(i64::MIN));
    w.kv("t.f32", OwnedValue::F32(0.1));
    w.kv("t.f64", OwnedValue::F64(-2.5e300));
    w.kv("t.nan", OwnedValue::F32(f32::NAN));
    w.kv("t.inf", OwnedValue::F64(f64::INFINITY));
    w.kv("t.ninf", OwnedValue::F32(f32::NEG_INFINITY));
    w.kv("t.true", OwnedValue::Bool(true));
    w.kv("t.false", OwnedValue::Bool(false));
    w.kv("t.str", OwnedValue::str("quote \" backslash \\ newline \n tab \t ü 日本"));
    w.kv("t.bad_utf8", OwnedValue::String(vec![b'a', 0xff, b'b']));
    w.kv("t.empty", OwnedValue::str(""));
    let toks: Vec<OwnedValue> = (0..1000).map(|i| OwnedValue::String(format!("tok{i}").into_bytes())).collect();
    w.kv("tokenizer.ggml.tokens", OwnedValue::Array(ValueType::String, toks));
    w.kv("t.arr_u8", OwnedValue::Array(ValueType::U8, vec![OwnedValue::U8(1), OwnedValue::U8(2), OwnedValue::U8(255)]));
    w.kv(
        "t.arr_f32",
        OwnedValue::Array(
            ValueType::F32,
            vec![OwnedValue::F32(1.5), OwnedValue::F32(f32::NAN), OwnedValue::F32(-0.25)],
        ),
    );
    w.kv("t.arr_empty", OwnedValue::Array(ValueType::I64, vec![]));
    w.kv("t.arr_bool", OwnedValue::Array(ValueType::Bool, vec![OwnedValue::Bool(true), OwnedValue::Bool(false)]));
    w.tensor("a.f32", type_id("f32"), &[3], vec![0u8; 12]);
    w.tensor("b.q8_0", type_id("q8_0"), &[64, 2], vec![0u8; 4 * 34]);
    w.tensor("c.i2_s", types::I2_S, &[128, 4], vec![0u8; 128 * 4 / 4 + 32]);
    w.tensor("d.f16.3d", type_id("f16"), &[2, 3, 4], vec![0u8; 2 * 24]);
    w
}

fn write_sample(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("sample.gguf");
    std::fs::write(&p, sample().to_bytes().unwrap()).unwrap();
    p
}

/// The demo's facts, computed here with the library: the tiny model in I2_S, seed 42.
fn demo_model() -> (usize, usize, u64, f64) {
    let opts = SynthOptions { seed: 42, ..SynthOptions::new(Preset::Tiny, types::I2_S) };
    let bytes = bitgguf::synth::synthesize(&opts).unwrap();
    let m = bitgguf::Model::from_bytes(&bytes, &Default::default()).unwrap();
    let i2s: Vec<_> = m.tensors().filter(|t| t.info.ty.id == types::I2_S).map(|t| t.info).collect();
    let bits =
        i2s.iter().map(|t| t.n_bytes).sum::<u64>() as f64 * 8.0 / i2s.iter().map(|t| t.n_elements).sum::<u64>() as f64;
    (m.tensor_count(), i2s.len(), bytes.len() as u64, bits)
}

#[test]
fn demo_runs_every_step_and_cleans_up() {
    let (n_tensors, n_linear, i2s_bytes, i2s_bits) = demo_model();
    assert_eq!(n_tensors, 24, "the tiny preset has 24 tensors");
    let o = Command::new(env!("CARGO_BIN_EXE_bitgguf"))
        .arg("demo")
        .env_remove("BITNET_SEED")
        .env_remove("BG_GGML_LIB")
        .output()
        .expect("run bitgguf");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "demo failed: {}\n{}", out, stderr(&o));
    let line = |prefix: &str| -> &str {
        out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line {prefix:?}:\n{out}"))
    };
    assert!(line("[1/4] synth: ").starts_with(&format!("[1/4] synth: 24 tensors, {i2s_bytes} bytes, i2_s")));
    assert!(line("[2/4] load: ").starts_with("[2/4] load: 24 tensors, 2 layers, strategy gpu ("), "{out}");
    // The per-device table places every tensor exactly once.
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("device "))
        .skip(1)
        .take_while(|l| !l.starts_with("fallbacks"))
        .collect();
    assert!(!table.is_empty() && table.iter().any(|l| l.starts_with("cpu ") || l.starts_with("cuda")), "{out}");
    let placed: usize = table.iter().map(|l| l.split_whitespace().last().unwrap().parse::<usize>().unwrap()).sum();
    assert_eq!(placed, 24, "{out}");
    let crossval = line("[3/4] crossval: ");
    if cfg!(feature = "crossval") {
        assert!(
            crossval.starts_with(
                "[3/4] crossval: 24 tensors: 24 match, 0 mismatch, 0 skipped (unsupported), 0 error; 0 file-level \
                 failure(s) against cpp_ref, every element: PASS"
            ),
            "{out}"
        );
    } else {
        assert!(crossval.starts_with("[3/4] crossval: not compiled (build with --features crossval) ("), "{out}");
    }
    assert!(
        line("[4/4] transcode: ").starts_with(&format!(
            "[4/4] transcode: i2_s -> tq2_0: {n_linear} tensors transcoded, reloaded: 24 of 24 tensors decode to the \
             same f32 values: exact ("
        )),
        "{out}"
    );
    assert!(
        line("  i2_s ").contains(&format!("({i2s_bytes} bytes), linear weights {i2s_bits:.4} bits/weight")),
        "{out}"
    );
    // TQ2_0: 66 bytes per 256 weights.
    assert!(line("  tq2_0 ").ends_with("linear weights 2.0625 bits/weight"), "{out}");
    assert_eq!(out.lines().last(), Some("result: every step succeeded"), "{out}");
    let removed = line("removed ").strip_prefix("removed ").unwrap();
    for path in removed.split(" and ") {
        assert!(path.contains("bitgguf-demo-"), "{path}");
        assert!(!Path::new(path).exists(), "{path} was left behind");
    }
}

#[test]
fn inspect_json_matches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let o = bitgguf(&["inspect", "--json", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: J = serde_json::from_slice(&o.stdout).expect("valid JSON");

    // The same file through the library, for the header fields.
    let m = bitgguf::Model::from_bytes(&bytes, &Default::default()).unwrap();
    let idx = m.metadata().index();
    assert_eq!(j["version"], 3);
    assert_eq!(j["alignment"], 64);
    assert_eq!(j["data_offset"], idx.data_offset());
    assert_eq!(j["data_offset"].as_u64().unwrap() % 64, 0);
    assert!(j.get("shards").is_none(), "single file: no shards field");
    let top: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for k in ["version", "alignment", "data_offset", "metadata", "tensors"] {
        assert!(top.contains(&k), "missing {k}");
    }

    let md = &j["metadata"];
    assert_eq!(md.as_object().unwrap().len(), idx.kv_count());
    assert_eq!(md["general.architecture"], "bitnet");
    assert_eq!(md["general.alignment"], 64);
    assert_eq!(md["t.u8"], 200);
    assert_eq!(md["t.i8"], -100);
    assert_eq!(md["t.u16"], 65535);
    assert_eq!(md["t.i16"], -32768);
    assert_eq!(md["t.u32"], 4_000_000_000u64);
    assert_eq!(md["t.i32"], -2_000_000_000);
    assert_eq!(md["t.u64"].as_u64(), Some(u64::MAX));
    assert_eq!(md["t.i64"].as_i64(), Some(i64::MIN));
    assert_eq!(md["t.f32"].as_f64().unwrap() as f32, 0.1f32);
    assert_eq!(md["t.f64"].as_f64(), Some(-2.5e300));
    assert_eq!(md["t.nan"], "nan");
    assert_eq!(md["t.inf"], "inf");
    assert_eq!(md["t.ninf"], "-inf");
    assert_eq!(md["t.true"], true);
    assert_eq!(md["t.false"], false);
    assert_eq!(md["t.str"], "quote \" backslash \\ newline \n tab \t ü 日本");
    assert_eq!(md["t.bad_utf8"], "a\u{fffd}b");
    assert_eq!(md["t.empty"], "");
    let toks = md["tokenizer.ggml.tokens"].as_array().unwrap();
    assert_eq!(toks.len(), 1000, "arrays are complete");
    assert_eq!(toks[0], "tok0");
    assert_eq!(toks[999], "tok999");
    assert_eq!(md["t.arr_u8"], serde_json::json!([1, 2, 255]));
    assert_eq!(md["t.arr_f32"], serde_json::json!([1.5, "nan", -0.25]));
    assert_eq!(md["t.arr_empty"], serde_json::json!([]));
    assert_eq!(md["t.arr_bool"], serde_json::json!([true, false]));

    let ts = j["tensors"].as_array().unwrap();
    assert_eq!(ts.len(), 4);
    let expect = [
        ("a.f32", "f32", vec![3u64], 12u64),
        ("b.q8_0", "q8_0", vec![64, 2], 4 * 34),
        ("c.i2_s", "i2_s", vec![128, 4], 128 + 32),
        ("d.f16.3d", "f16", vec![2, 3, 4], 48),
    ];
    let mut next_offset = 0u64;
    for (t, (name, ty, shape, n)) in ts.iter().zip(expect) {
        assert_eq!(t["name"], name);
        assert_eq!(t["type"], ty);
        assert_eq!(t["shape"], serde_json::json!(shape));
        assert_eq!(t["n_bytes"], n);
        let off = t["offset"].as_u64().unwrap();
        assert_eq!(off, next_offset, "{name}: offsets are relative to data_offset");
        next_offset = (off + n).div_ceil(64) * 64;
        assert_eq!(t.as_object().unwrap().len(), 5, "no extra tensor fields for a single file");
    }
    // An absolute offset from the JSON points at the tensor's bytes.
    let abs = j["data_offset"].as_u64().unwrap() + ts[1]["offset"].as_u64().unwrap();
    assert_eq!(&bytes[abs as usize..abs as usize + 136], m.tensor_data(1).unwrap());

    // --no-mmap gives the same answer.
    let o2 = bitgguf(&["inspect", "--json", "--no-mmap", path.to_str().unwrap()]);
    assert!(o2.status.success());
    assert_eq!(o2.stdout, o.stdout);
}

#[test]
fn inspect_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path());
    let o = bitgguf(&["inspect", path.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    for needle in [
        "GGUF version:  3",
        "alignment:     64",
        "data_offset:",
        "shards:        1",
        "c.i2_s",
        "[128, 4]",
        "[2, 3, 4]",
        "[string; 1000]",
        "\"tok0\"",
        "...",
    ] {
        assert!(out.contains(needle), "text output lacks {needle:?}:\n{out}");
    }
    assert!(!out.contains("tok999"), "long arrays are summarized");
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample().to_bytes().unwrap();

    // 1: invalid file (bad magic).
    let mut bad = good.clone();
    bad[0] = b'X';
    let p = dir.path().join("bad_magic.gguf");
    std::fs::write(&p, &bad).unwrap();
    let o = bitgguf(&["inspect", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "no partial JSON on error");
    let e = stderr(&o);
    assert!(e.contains("bad_magic.gguf") && e.to_lowercase().contains("magic"), "detailed message: {e}");

    // 1: truncated inside the metadata.
    let p = dir.path().join("truncated.gguf");
    std::fs::write(&p, &good[..200]).unwrap();
    let o = bitgguf(&["inspect", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));

    // 1: tensor data cut off.
    let p = dir.path().join("short_data.gguf");
    std::fs::write(&p, &good[..good.len() - 40]).unwrap(); // past the 16 padding bytes
    assert_eq!(bitgguf(&["inspect", p.to_str().unwrap()]).status.code(), Some(1));

    // 1: the I2_S tensor (disk id 36) is a removed type under the upstream policy.
    let p = write_sample(dir.path());
    let o = bitgguf(&["inspect", "--type-policy", "upstream", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("c.i2_s"), "{}", stderr(&o));
    assert_eq!(bitgguf(&["inspect", "--type-policy", "bitnet", p.to_str().unwrap()]).status.code(), Some(0));

    // 3: I/O (missing file).
    let missing = dir.path().join("missing.gguf");
    let o = bitgguf(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.gguf"));

    // 2: usage.
    assert_eq!(bitgguf(&[]).status.code(), Some(2));
    assert_eq!(bitgguf(&["inspect"]).status.code(), Some(2));
    assert_eq!(bitgguf(&["inspect", "--type-policy", "nonsense", "x.gguf"]).status.code(), Some(2));
    assert_eq!(bitgguf(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(bitgguf(&["--help"]).status.code(), Some(0));
}
