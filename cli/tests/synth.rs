//! `bitgguf synth`: byte-identical output across thread counts, `BITNET_SEED` /
//! `BITNET_DETERMINISTIC` vs `--seed`, the library's bytes, and its errors.

use std::process::Command;

use bitgguf::synth::{synthesize, Preset, SynthOptions};
use bitgguf::types::TL2;

fn bitgguf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bitgguf"))
}

#[test]
fn cli_is_deterministic_across_thread_counts_and_honours_bitnet_seed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, threads: &str, seed_arg: Option<&str>, env_seed: Option<&str>| {
        let out = dir.path().join(name);
        let mut c = bitgguf();
        c.args(["synth", "--preset", "tiny", "--type", "tl2", "-o"]).arg(&out).env("RAYON_NUM_THREADS", threads);
        c.env_remove("BITNET_SEED").env_remove("BITNET_DETERMINISTIC");
        if let Some(s) = seed_arg {
            c.args(["--seed", s]);
        }
        if let Some(s) = env_seed {
            c.env("BITNET_DETERMINISTIC", "1").env("BITNET_SEED", s);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    let a = run("a.gguf", "1", None, Some("42"));
    let b = run("b.gguf", "2", None, Some("42"));
    assert_eq!(a, b, "RAYON_NUM_THREADS 1 vs 2");
    assert_eq!(run("c.gguf", "2", Some("42"), None), a, "--seed 42 = BITNET_SEED=42");
    assert_eq!(run("d.gguf", "2", None, None), a, "the default seed is 42");
    let e = run("e.gguf", "2", None, Some("7"));
    assert_ne!(e, a);
    assert_eq!(run("f.gguf", "1", Some("7"), Some("99")), e, "--seed wins over BITNET_SEED");
    let mut o = SynthOptions::new(Preset::Tiny, TL2);
    o.seed = 7;
    assert_eq!(synthesize(&o).unwrap(), e, "CLI = library");
}

#[test]
fn cli_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gguf");
    let fail = |args: &[&str], needle: &str| {
        let o = bitgguf().args(args).arg("-o").arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(needle), "{args:?}: {err}");
        assert!(!out.exists(), "no partial file is left behind");
    };
    fail(&["synth", "--preset", "huge", "--type", "i2_s"], "unknown preset 'huge'");
    fail(&["synth", "--preset", "tiny", "--type", "nope"], "unknown type 'nope'");
    fail(&["synth", "--preset", "bitnet-3b", "--type", "i2_s"], "blk.0.ffn_down.weight");
    fail(&["synth", "--preset", "tiny", "--type", "tl2", "--tl-config", "32,100,32"], "BK");
    fail(&["synth", "--preset", "tiny", "--type", "tl2", "--tl-config", "32,96"], "three numbers");
}

#[test]
fn i2s_tail_flag_writes_the_library_bytes_and_quantize_takes_it_too() {
    use bitgguf::quant::bitnet::TailFill;
    use bitgguf::types::I2_S;
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let o = bitgguf()
            .args(["synth", "--preset", "tiny", "--type", "i2_s", "--seed", "5"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let mut lib = SynthOptions::new(Preset::Tiny, I2_S);
    lib.seed = 5;
    let zero = run("z.gguf", &[]);
    assert_eq!(std::fs::read(&zero).unwrap(), synthesize(&lib).unwrap(), "default = zero");
    assert_eq!(std::fs::read(run("z2.gguf", &["--i2s-tail", "zero"])).unwrap(), std::fs::read(&zero).unwrap());
    let rep = run("r.gguf", &["--i2s-tail", "replicated"]);
    lib.i2s_tail = TailFill::Replicate;
    let rep_bytes = std::fs::read(&rep).unwrap();
    assert_eq!(rep_bytes, synthesize(&lib).unwrap(), "CLI = library (replicated)");
    assert_ne!(rep_bytes, std::fs::read(&zero).unwrap());
    let o = bitgguf()
        .args(["synth", "--preset", "tiny", "--type", "i2_s", "--i2s-tail", "eight", "-o"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a usage error");
    // quantize: transcoding the zero-tail file with --i2s-tail replicated (or --replicate-tail)
    // gives the replicated file's tensor bytes.
    let model = |p: &std::path::Path| bitgguf::Model::open(p, &bitgguf::LoadOptions::default()).unwrap();
    // Without a tail flag, copied I2_S tensors keep their bytes (either way round); with
    // --i2s-tail zero a replicated file is normalised.
    for (name, input, flag, want) in [
        ("q1.gguf", &zero, "--i2s-tail=replicated", &rep),
        ("q2.gguf", &zero, "--replicate-tail", &rep),
        ("q3.gguf", &rep, "--mode=absmean", &rep),
        ("q4.gguf", &zero, "--mode=absmean", &zero),
        ("q5.gguf", &rep, "--i2s-tail=zero", &zero),
    ] {
        let want = model(want);
        let q = dir.path().join(name);
        let o = bitgguf()
            .arg("quantize")
            .arg(input)
            .args(["--to", "i2_s", "--quiet", flag, "-o"])
            .arg(&q)
            .output()
            .unwrap();
        assert!(o.status.success(), "{flag}: {}", String::from_utf8_lossy(&o.stderr));
        let got = model(&q);
        let mut n = 0;
        for i in 0..want.tensor_count() {
            let t = want.tensor(i).unwrap().info;
            let j = got.find_tensor(t.name).unwrap();
            let (g, w) = (got.tensor_data(j).unwrap(), want.tensor_data(i).unwrap());
            let first = g.iter().zip(w).position(|(a, b)| a != b);
            assert!(g == w, "{flag}: {} ({} vs {} bytes, first difference at {first:?})", t.name, g.len(), w.len());
            n += usize::from(t.ty.id == I2_S);
        }
        assert_eq!(n, 14, "{flag}");
    }
    let o = bitgguf()
        .arg("quantize")
        .arg(&zero)
        .args(["--to", "i2_s", "--replicate-tail", "--i2s-tail", "zero", "-o"])
        .arg(dir.path().join("q6.gguf"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "the two flags conflict");
}
