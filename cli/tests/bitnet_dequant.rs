//! `bitgguf dequant` on BitNet tensors: synthetic TL2 / I2_S models decode as the library does,
//! `--tl-config` / `--tl-preset` / `--i2s-layout`, and rejections (code 3, bad scale, missing
//! tile configuration) that name the tensor and the file byte.

use std::path::Path;
use std::process::Command;

use bitgguf::gguf::{GgufWriter, OwnedValue};
use bitgguf::quant::output::OutType;
use bitgguf::synth::{synthesize_to_path, Preset, SynthOptions};
use bitgguf::types::{I2_S, TL1, TL2};
use bitgguf::{LoadOptions, Model};

fn dequant(file: &Path, tensor: &str, out: &Path, extra: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_bitgguf"))
        .arg("dequant")
        .arg(file)
        .args(["--tensor", tensor, "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn synthetic_models_decode_like_the_library() {
    let dir = tempfile::tempdir().unwrap();
    for ty in [I2_S, TL1, TL2] {
        let p = dir.path().join("m.gguf");
        synthesize_to_path(&SynthOptions::new(Preset::Tiny, ty), &p, &mut |_, _| {}).unwrap();
        let model = Model::open(&p, &LoadOptions::default()).unwrap();
        for name in ["blk.0.ffn_down.weight", "blk.1.attn_k.weight"] {
            let i = model.find_tensor(name).unwrap();
            let c = model.codec(i).unwrap();
            let mut want = vec![0u8; c.decoded_size(OutType::Bf16).unwrap() as usize];
            model.decode_rows(i, 0..c.n_rows().unwrap(), OutType::Bf16, &mut want).unwrap();
            let out = dir.path().join("o.bin");
            let (ok, err) = dequant(&p, name, &out, &["--to", "bf16"]);
            assert!(ok, "{err}");
            assert_eq!(std::fs::read(&out).unwrap(), want, "{ty} {name}");
        }
    }
}

fn one_tensor(dir: &Path, ty: u32, ne: &[u64], data: Vec<u8>) -> std::path::PathBuf {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w.tensor("w", ty, ne, data);
    let p = dir.join("one.gguf");
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

#[test]
fn flags_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.f32");
    let f32s = |p: &Path| -> Vec<f32> {
        std::fs::read(p).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    // TL1 §9.4-shaped tensor without a key: the tile configuration must be given.
    let trits: Vec<i8> = (0..32 * 16).map(|e| ((e / 16 + e % 16) % 3) as i8 - 1).collect();
    let cfg = bitgguf::quant::bitnet::TlConfig { bm_tile: 32, bk: 16, bm: 32 };
    let data = bitgguf::quant::bitnet::encode_tl1(&trits, 0.5, 32, 16, &cfg).unwrap();
    let p = one_tensor(dir.path(), TL1, &[16, 32], data);
    let (ok, err) = dequant(&p, "w", &out, &[]);
    assert!(!ok && err.contains("tensor 'w'") && err.contains("TileConfigMissing"), "{err}");
    assert!(!out.exists(), "no partial output");
    let (ok, err) = dequant(&p, "w", &out, &["--tl-config", "32,16,32"]);
    assert!(ok, "{err}");
    assert_eq!(f32s(&out), trits.iter().map(|&t| 0.5 * t as f32).collect::<Vec<_>>());
    let (ok, err) = dequant(&p, "w", &out, &["--tl-preset", "bitnet-3b"]);
    assert!(!ok && err.contains("bitnet_b1_58-3B"), "{err}");

    // I2_S GROUP_64 only with the flag: vector B of §9.1.
    let mut data: Vec<u8> = (0..32).map(|p| [0x18, 0x61, 0x86][p % 3]).collect();
    data.extend(1.0f32.to_le_bytes());
    data.extend([0u8; 28]);
    let p = one_tensor(dir.path(), I2_S, &[128, 1], data.clone());
    let (ok, err) = dequant(&p, "w", &out, &["--i2s-layout", "group64"]);
    assert!(ok, "{err}");
    assert_eq!(f32s(&out), (0..128).map(|j| (j % 3) as f32 - 1.0).collect::<Vec<_>>());

    // Code 3 and a NaN scale: exit 1, the tensor and the file byte named.
    let mut bad = data.clone();
    bad[5] = 0xff;
    let p = one_tensor(dir.path(), I2_S, &[128, 1], bad);
    let at = Model::open(&p, &LoadOptions::default()).unwrap().tensor_file_offset(0).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bitgguf"))
        .args(["dequant"])
        .arg(&p)
        .args(["--tensor", "w", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("tensor 'w'") && err.contains(&format!("byte 5 (file byte {})", at + 5)), "{err}");
    assert!(err.contains("InvalidCode"), "{err}");
    let mut bad = data;
    bad[32..36].copy_from_slice(&f32::NAN.to_le_bytes());
    let p = one_tensor(dir.path(), I2_S, &[128, 1], bad);
    let (ok, err) = dequant(&p, "w", &out, &[]);
    assert!(!ok && err.contains("BadScale") && err.contains(&format!("file byte {}", at + 32)), "{err}");
}
