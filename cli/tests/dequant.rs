//! `bitgguf dequant`: the raw little-endian values it writes, for each output type, and its
//! errors.

use std::process::Command;

use bitgguf::gguf::GgufWriter;
use bitgguf::quant::float::{f16_to_f32, f32_to_bf16};

fn bitgguf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bitgguf"))
}

#[test]
fn dequant_writes_raw_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.gguf");
    let bits: Vec<u16> = (0..64u16).map(|i| 0x3c00 + i * 37).collect();
    let mut w = GgufWriter::new();
    w.tensor("w", 1, &[16, 4], bits.iter().flat_map(|b| b.to_le_bytes()).collect());
    std::fs::write(&file, w.to_bytes().unwrap()).unwrap();

    let out = dir.path().join("w.f32");
    let st = bitgguf().args(["dequant"]).arg(&file).args(["--tensor", "w", "-o"]).arg(&out).status().unwrap();
    assert!(st.success());
    let got = std::fs::read(&out).unwrap();
    let want: Vec<u8> = bits.iter().flat_map(|b| f16_to_f32(*b).to_le_bytes()).collect();
    assert_eq!(got, want);

    let st = bitgguf()
        .args(["dequant"])
        .arg(&file)
        .args(["--tensor", "w", "--to", "bf16", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let want: Vec<u8> = bits.iter().flat_map(|b| f32_to_bf16(f16_to_f32(*b)).to_le_bytes()).collect();
    assert_eq!(std::fs::read(&out).unwrap(), want);

    let o = bitgguf().args(["dequant"]).arg(&file).args(["--tensor", "nope", "-o"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no tensor named 'nope'"));
}
