//! Every subcommand documents the exit codes in its `--help` and takes `--json`; every long one
//! takes `--quiet` (issue 9: exit codes documented, `--json` everywhere a script would want it,
//! progress bars that `--quiet` hides).

use std::process::Command;

fn help(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_bitgguf")).args(args).arg("--help").output().expect("run bitgguf");
    assert_eq!(o.status.code(), Some(0), "{args:?} --help");
    String::from_utf8(o.stdout).expect("UTF-8 help")
}

#[test]
fn every_subcommand_documents_exit_codes_json_and_quiet() {
    let top = help(&[]);
    let listed: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    let expected = ["inspect", "synth", "dequant", "quantize", "crossval", "validate", "load", "bench", "demo"];
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(sorted, want, "the subcommands changed: update this test and the README");
    for text in std::iter::once(top.clone()).chain(listed.iter().map(|c| help(&[c]))) {
        let codes = text.split("Exit codes:").nth(1).unwrap_or_else(|| panic!("no exit codes in: {text}"));
        for code in 0..=4 {
            assert!(codes.lines().any(|l| l.trim_start().starts_with(&format!("{code} "))), "exit {code}: {text}");
        }
    }
    for c in &listed {
        let h = help(&[c]);
        assert!(h.contains("--json"), "{c} has no --json");
        // inspect is instant, demo prints its own step lines: the others draw progress bars.
        if !matches!(*c, "inspect" | "demo") {
            assert!(h.contains("--quiet"), "{c} has no --quiet");
        }
    }
    // The code 4 line of the footer names every command that can exit 4.
    for c in ["crossval", "validate", "demo", "bench"] {
        let four = top.split("Exit codes:").nth(1).unwrap().split("  4 ").nth(1).unwrap();
        assert!(four.contains(c), "exit 4 does not name {c}: {four}");
    }
}
