//! `-o` naming something that is not a regular file (a FIFO here; `/dev/null` in the library's
//! unit tests): synth, quantize and dequant write into it in place and leave it what it was.
//! Before this was fixed, `quantize -o /dev/null` renamed `/dev/null.partial` over `/dev/null`,
//! turning the machine's `/dev/null` into a regular file that later readers read garbage from.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bitgguf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitgguf")).args(args).output().expect("run bitgguf")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("run mkfifo (coreutils)");
    assert!(st.success(), "mkfifo {}", p.display());
}

/// Run bitgguf with `-o FIFO` while a thread drains the FIFO; returns the output and the bytes
/// that came through.
fn through_fifo(dir: &Path, args: &[&str]) -> (Output, Vec<u8>) {
    let fifo = dir.join("out.fifo");
    let _ = std::fs::remove_file(&fifo);
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut v = Vec::new();
            std::fs::File::open(&fifo).unwrap().read_to_end(&mut v).unwrap();
            v
        })
    };
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", s(&fifo)]);
    let o = bitgguf(&all);
    // Checked before joining: had the FIFO been replaced, the reader would wait forever.
    assert!(
        std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
        "{} is no longer a FIFO; bitgguf said: {}",
        fifo.display(),
        err(&o)
    );
    if !o.status.success() {
        // Unblock the reader if bitgguf never opened the FIFO.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    }
    let bytes = reader.join().unwrap();
    let mut partial = fifo.as_os_str().to_owned();
    partial.push(".partial");
    assert!(!PathBuf::from(partial).exists(), "a .partial file was left beside the FIFO");
    (o, bytes)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn synth_quantize_dequant_write_into_a_fifo_and_leave_it_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    // The same commands into regular files give the bytes to expect.
    let f32m = dir.path().join("tiny-f32.gguf");
    let o = bitgguf(&["synth", "--preset", "tiny", "--type", "f32", "-o", s(&f32m)]);
    assert!(o.status.success(), "{}", err(&o));
    let i2s = dir.path().join("tiny-i2s.gguf");
    let o = bitgguf(&["quantize", s(&f32m), "--to", "i2_s", "-o", s(&i2s)]);
    assert!(o.status.success(), "{}", err(&o));
    let raw = dir.path().join("q.f32");
    let name = "blk.0.attn_q.weight";
    let o = bitgguf(&["dequant", s(&i2s), "--tensor", name, "-o", s(&raw)]);
    assert!(o.status.success(), "{}", err(&o));

    let (o, bytes) = through_fifo(dir.path(), &["synth", "--preset", "tiny", "--type", "f32"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(bytes, std::fs::read(&f32m).unwrap(), "synth into a FIFO");

    let (o, bytes) = through_fifo(dir.path(), &["quantize", s(&f32m), "--to", "i2_s"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(bytes, std::fs::read(&i2s).unwrap(), "quantize into a FIFO");

    let (o, bytes) = through_fifo(dir.path(), &["dequant", s(&i2s), "--tensor", name]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(bytes, std::fs::read(&raw).unwrap(), "dequant into a FIFO");

    // A failure (no such tensor) touches nothing.
    let (o, bytes) = through_fifo(dir.path(), &["dequant", s(&i2s), "--tensor", "nope"]);
    assert!(!o.status.success());
    assert!(err(&o).contains("no tensor named 'nope'"), "{}", err(&o));
    assert!(bytes.is_empty());
}

#[test]
fn a_failed_write_keeps_the_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let f32m = dir.path().join("tiny-f32.gguf");
    let o = bitgguf(&["synth", "--preset", "tiny", "--type", "f32", "-o", s(&f32m)]);
    assert!(o.status.success(), "{}", err(&o));
    // An output file that exists; dequant of a missing tensor fails and must leave it alone.
    let out = dir.path().join("keep.bin");
    std::fs::write(&out, b"precious").unwrap();
    let o = bitgguf(&["dequant", s(&f32m), "--tensor", "nope", "-o", s(&out)]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    // A directory as the output is refused, naming it.
    let o = bitgguf(&["dequant", s(&f32m), "--tensor", "blk.0.attn_q.weight", "-o", s(dir.path())]);
    assert!(!o.status.success());
    assert!(err(&o).contains("is a directory"), "{}", err(&o));
}
