//! Second and third oracles for the codecs, through Python (`BG_PYTHON`): the `gguf` package's
//! `gguf.quants` (numpy re-implementations of ggml's codecs) and `libgguf` (standalone native
//! ggml-compatible row kernels, PyPI package `libgguf`).
//!
//! Decoding: for every type either oracle decodes, random bytes as blocks (f16 scales that are
//! NaN/Inf/subnormal included) and data our own quantizers made, decoded by our scalar oracle
//! and by `quant::dequantize_f32` (fast kernels), compared bit for bit (NaN equals NaN).
//! Encoding: for every type we quantize, our bytes against `libgguf.quantize_rows` and, where
//! gguf-py implements it, `gguf.quants.quantize`, byte for byte.
//!
//! Without `BG_PYTHON`, or when the Python lacks a package, the test prints `SKIPPED: ...` and
//! passes; with `BG_REQUIRE_ORACLES=1` (as in CI) it fails instead.

mod ggml;

use std::path::Path;
use std::process::Command;

use bitgguf::quant;
use bitgguf::types::{self, TypeId};
use ggml::{assert_same_f32, random_blocks, Rng};

/// Reads `manifest.txt` in the directory `argv[1]`: lines `dq ID NROWS NPERROW` (decode
/// `K.bin`, case K = line number) or `q ID NROWS NPERROW` (quantize `K.f32`). Writes
/// `K.gguf` / `K.libgguf` (f32 values or bytes) or `K.gguf.err` / `K.libgguf.err` (why not).
const PY: &str = r#"
import sys, os, traceback
import numpy as np
d = sys.argv[1]
try:
    import gguf, gguf.quants as gq
except Exception as e:
    gq = None; print("NOGGUF", e)
try:
    import libgguf
except Exception as e:
    libgguf = None; print("NOLIBGGUF", e)
def put(k, which, f):
    try:
        out = f()
        open(os.path.join(d, f"{k}.{which}"), "wb").write(np.ascontiguousarray(out).tobytes())
    except Exception as e:
        open(os.path.join(d, f"{k}.{which}.err"), "w").write(f"{type(e).__name__}: {e}")
for k, line in enumerate(open(os.path.join(d, "manifest.txt"))):
    kind, tid, nrows, nper = line.split()
    tid, nrows, nper = int(tid), int(nrows), int(nper)
    if kind == "dq":
        raw = np.fromfile(os.path.join(d, f"{k}.bin"), dtype=np.uint8).reshape(nrows, -1)
        if gq is not None:
            put(k, "gguf", lambda: gq.dequantize(raw, gguf.GGMLQuantizationType(tid)).astype(np.float32, copy=False))
        if libgguf is not None:
            put(k, "libgguf", lambda: libgguf.dequantize_rows(raw, tid, nper))
    else:
        x = np.fromfile(os.path.join(d, f"{k}.f32"), dtype=np.float32).reshape(nrows, nper)
        if gq is not None:
            put(k, "gguf", lambda: gq.quantize(x, gguf.GGMLQuantizationType(tid)))
        if libgguf is not None:
            put(k, "libgguf", lambda: libgguf.quantize_rows(x, tid))
print("DONE")
"#;

fn skip(reason: &str) {
    if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("BG_REQUIRE_ORACLES=1 but the Python oracle is unavailable: {reason}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: quant_python: {reason}");
}

enum Case {
    /// Decode `bytes` (`nrows` rows of `n_per_row` elements).
    Decode { id: TypeId, what: &'static str, bytes: Vec<u8>, nrows: usize, n_per_row: usize },
    /// Quantize `vals`.
    Encode { id: TypeId, vals: Vec<f32>, nrows: usize, n_per_row: usize },
}

fn read_f32(p: &Path) -> Vec<f32> {
    std::fs::read(p).unwrap().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn gguf_py_and_libgguf_agree_with_our_codecs() {
    let Ok(python) = std::env::var("BG_PYTHON") else {
        return skip("BG_PYTHON is not set (a Python with gguf, numpy and libgguf)");
    };
    let mut rng = Rng(0x5eed_0907);
    let n_per_row = 1024;
    let nrows = 4;
    let mut vals: Vec<f32> = (0..nrows * n_per_row).map(|_| rng.normal()).collect();
    vals[..64].fill(0.0);
    let mut cases = Vec::new();
    for t in types::UPSTREAM.iter() {
        let id = t.id;
        if t.blck <= 1 || quant::decoder(id).is_none() || !(n_per_row as u64).is_multiple_of(t.blck) {
            continue; // plain float types: covered against ggml; gguf-py passes them through
        }
        let bytes = random_blocks(&mut rng, id, nrows * n_per_row / t.blck as usize);
        cases.push(Case::Decode { id, what: "random bytes", bytes, nrows, n_per_row });
        if let Ok((len, _)) = quant::quantized_size(id, vals.len() as u64, n_per_row as u64) {
            let mut q = vec![0u8; len];
            quant::quantize(id, &vals, n_per_row as u64, &mut q).unwrap();
            cases.push(Case::Decode { id, what: "our quantized data", bytes: q, nrows, n_per_row });
            cases.push(Case::Encode { id, vals: vals.clone(), nrows, n_per_row });
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::new();
    for (k, c) in cases.iter().enumerate() {
        match c {
            Case::Decode { id, bytes, nrows, n_per_row, .. } => {
                manifest += &format!("dq {id} {nrows} {n_per_row}\n");
                std::fs::write(dir.path().join(format!("{k}.bin")), bytes).unwrap();
            }
            Case::Encode { id, vals, nrows, n_per_row } => {
                manifest += &format!("q {id} {nrows} {n_per_row}\n");
                let b: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
                std::fs::write(dir.path().join(format!("{k}.f32")), b).unwrap();
            }
        }
    }
    std::fs::write(dir.path().join("manifest.txt"), manifest).unwrap();
    let out = match Command::new(&python).arg("-c").arg(PY).arg(dir.path()).output() {
        Ok(o) => o,
        Err(e) => return skip(&format!("cannot run {python}: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.contains("DONE") {
        return skip(&format!("{python} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    for (tag, pkg) in [("NOGGUF", "gguf"), ("NOLIBGGUF", "libgguf")] {
        if let Some(line) = stdout.lines().find(|l| l.starts_with(tag)) {
            skip(&format!("{python} cannot import {pkg} (pip install gguf==0.19.0 libgguf==0.2.2): {line}"));
        }
    }

    let mut checked = [0usize; 2];
    let mut notes = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        for (o, which) in ["gguf", "libgguf"].into_iter().enumerate() {
            let p = dir.path().join(format!("{k}.{which}"));
            let err = dir.path().join(format!("{k}.{which}.err"));
            match c {
                Case::Decode { id, what, bytes, nrows, n_per_row } => {
                    let name = types::info(*id).unwrap().name;
                    if !p.exists() {
                        if err.exists() {
                            notes.push(format!(
                                "{which} cannot decode {name}: {}",
                                std::fs::read_to_string(&err).unwrap()
                            ));
                        }
                        continue;
                    }
                    let want = read_f32(&p);
                    let n = nrows * n_per_row;
                    let mut ours = vec![0f32; n];
                    quant::decoder(*id).unwrap()(bytes, &mut ours);
                    assert_same_f32(&format!("{name} {what}: scalar oracle vs {which}"), &ours, &want);
                    quant::dequantize_f32(*id, bytes, &mut ours).unwrap();
                    assert_same_f32(&format!("{name} {what}: dequantize_f32 vs {which}"), &ours, &want);
                    checked[o] += 1;
                }
                Case::Encode { id, vals, n_per_row, .. } => {
                    let name = types::info(*id).unwrap().name;
                    if !p.exists() {
                        if err.exists() {
                            notes.push(format!(
                                "{which} cannot quantize {name}: {}",
                                std::fs::read_to_string(&err).unwrap()
                            ));
                        }
                        continue;
                    }
                    let want = std::fs::read(&p).unwrap();
                    let mut ours = vec![0u8; want.len()];
                    let len = quant::quantize(*id, vals, *n_per_row as u64, &mut ours).unwrap();
                    assert_eq!(len, want.len(), "{name}: quantized size vs {which}");
                    if let Some(i) = ours.iter().zip(&want).position(|(a, b)| a != b) {
                        panic!(
                            "{name}: quantized bytes differ from {which} at byte {i}: ours {:#04x}, {which} {:#04x}",
                            ours[i], want[i]
                        );
                    }
                    checked[o] += 1;
                }
            }
        }
    }
    for n in &notes {
        eprintln!("note: {n}");
    }
    eprintln!("checked {} cases against gguf-py, {} against libgguf", checked[0], checked[1]);
    assert!(checked[0] > 0 || checked[1] > 0, "no case was checked");
}
