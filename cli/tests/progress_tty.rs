//! Progress bars on a terminal: every long command (synth, dequant, quantize, validate, load)
//! draws one on stderr when it is a terminal, and none with `--quiet` or `--json`. The other
//! CLI tests run without a terminal and check that nothing is drawn there; this one gives the
//! command a pseudo-terminal with util-linux `script` (skipped, with a printed reason, where
//! `script` is missing or cannot open a pty). With feature `crossval`: `bitgguf crossval` draws its
//! bar on files over 64 MiB of tensor data only.

use std::path::Path;
use std::process::Command;

/// What indicatif writes each time it redraws a bar: carriage return + "erase line".
const REDRAW: &str = "\r\x1b[2K";

/// Run `bitgguf ARGS` on a pseudo-terminal; (exit status, everything it wrote to the terminal).
fn on_tty(dir: &Path, args: &[&str]) -> (bool, String) {
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_bitgguf")).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let ts = dir.join("typescript");
    let o = Command::new("script").args(["-qec", &cmd]).arg(&ts).output().expect("run script");
    (o.status.success(), String::from_utf8_lossy(&std::fs::read(&ts).unwrap_or_default()).into_owned())
}

fn script_works(dir: &Path) -> Result<(), String> {
    let probe = dir.join("probe");
    match Command::new("script").args(["-qec", "true"]).arg(&probe).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("`script -qec true` failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("util-linux `script` is not available: {e}")),
    }
}

#[test]
fn long_commands_draw_a_bar_on_a_terminal_and_none_with_quiet_or_json() {
    let dir = tempfile::tempdir().unwrap();
    if let Err(why) = script_works(dir.path()) {
        eprintln!("SKIPPED: long_commands_draw_a_bar_on_a_terminal_and_none_with_quiet_or_json: {why}");
        return;
    }
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (a, q, b) = (p("a.gguf"), p("q.f32"), p("b.gguf"));
    let commands: [Vec<&str>; 5] = [
        vec!["synth", "--preset", "tiny", "--type", "i2_s", "-o", &a],
        vec!["dequant", &a, "--tensor", "blk.0.attn_q.weight", "-o", &q],
        vec!["quantize", &a, "--to", "tq2_0", "-o", &b],
        vec!["validate", &b, "--reference", &a],
        vec!["load", &a, "--to", "f16"],
    ];
    for args in &commands {
        let (ok, out) = on_tty(dir.path(), args);
        assert!(ok, "{args:?} failed on a terminal: {out}");
        assert!(out.contains(REDRAW), "{args:?}: no progress bar on a terminal: {out:?}");
        for flag in ["--quiet", "--json"] {
            let mut with = args.clone();
            with.push(flag);
            let (ok, out) = on_tty(dir.path(), &with);
            assert!(ok, "{with:?} failed: {out}");
            assert!(!out.contains(REDRAW) && !out.contains("\x1b["), "{with:?} drew a bar: {out:?}");
            if flag == "--json" {
                // util-linux may write a "Script started ..." line first: what follows is the JSON.
                let body = out.lines().filter(|l| !l.starts_with("Script ")).collect::<Vec<_>>().join("\n");
                assert!(body.trim_start().starts_with('{'), "{with:?}: not JSON: {out:?}");
            }
        }
    }
}

/// `bitgguf crossval` draws its bar only on files with more than 64 MiB of tensor data.
#[cfg(feature = "crossval")]
#[test]
fn crossval_draws_a_bar_on_files_over_64_mib_only() {
    use bitgguf::gguf::GgufWriter;
    let dir = tempfile::tempdir().unwrap();
    if let Err(why) = script_works(dir.path()) {
        eprintln!("SKIPPED: crossval_draws_a_bar_on_files_over_64_mib_only: {why}");
        return;
    }
    let write = |name: &str, tensors: usize| {
        let mut w = GgufWriter::new();
        for k in 0..tensors {
            // 1 Mi f32 values (4 MiB) each, all 1.0.
            w.tensor(format!("t.{k}"), 0, &[1 << 20], 1.0f32.to_le_bytes().repeat(1 << 20));
        }
        let p = dir.path().join(name);
        w.write_to(&mut std::io::BufWriter::new(std::fs::File::create(&p).unwrap())).unwrap();
        p.display().to_string()
    };
    let (big, small) = (write("big.gguf", 17), write("small.gguf", 2)); // 68 MiB, 8 MiB
    let (ok, out) = on_tty(dir.path(), &["crossval", &big, "--sample", "1"]);
    assert!(ok, "{out}");
    assert!(out.contains(REDRAW) && out.contains("/17 tensors"), "no bar on a 68 MiB file: {out:?}");
    for args in [vec!["crossval", big.as_str(), "--sample", "1", "--quiet"], vec!["crossval", small.as_str()]] {
        let (ok, out) = on_tty(dir.path(), &args);
        assert!(ok, "{out}");
        assert!(!out.contains(REDRAW), "{args:?} drew a bar: {out:?}");
    }
}
