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
