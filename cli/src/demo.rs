//! `bitgguf demo`: write a small synthetic BitNet-style model with [`GgufWriter`], load it back
//! with [`Model::open`], print what the loader found, and delete the file.
//!
//! Everything is deterministic (fixed seed) and local: no arguments, no network.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use bitgguf::gguf::{GgufWriter, OwnedValue, ValueType};
use bitgguf::types::{self, TypeId};
use bitgguf::{LoadOptions, Model};

use crate::{out_err, text, CliError};

/// Hidden size of the demo model (a multiple of 256 so every block type fits).
const N_EMBD: u64 = 256;
/// Feed-forward size.
const N_FF: u64 = 512;
/// Vocabulary size.
const N_VOCAB: u64 = 32;

/// Removes the file when dropped, so the demo leaves nothing behind even when it fails.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// Roughly normal (sum of four uniforms), scaled.
    fn normal(&mut self, scale: f32) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit()) * 0.5 * scale
    }
    /// A ternary value in {-1, 0, +1}.
    fn trit(&mut self) -> i8 {
        (self.next_u64() % 3) as i8 - 1
    }
}

/// f32 -> IEEE half, round to nearest even (finite, normal-range inputs; tiny values flush
/// to zero, large ones saturate to infinity). Enough for the demo's scales and weights.
fn f16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let man = b & 0x7f_ffff;
    if exp <= 0 {
        return sign;
    }
    if exp >= 31 {
        return sign | 0x7c00;
    }
    let mut h = ((exp as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) {
        h += 1; // may carry into the exponent, which is the correct rounding
    }
    sign | h as u16
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|&x| f16_bits(x).to_le_bytes()).collect()
}

/// Q8_0: blocks of 32: f16 d, then 32 x i8 with x = d * q (ggml's reference quantizer).
fn q8_0_bytes(v: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() / 32 * 34);
    for blk in v.chunks_exact(32) {
        let amax = blk.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16_bits(d).to_le_bytes());
        out.extend(blk.iter().map(|x| (x * id).round() as i8 as u8));
    }
    out
}

/// Q4_K: blocks of 256: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
/// Plausible rather than quantized from data: fixed super-scales, random sub-scales and codes.
fn q4_k_bytes(rng: &mut Rng, n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity((n / 256 * 144) as usize);
    for _ in 0..n / 256 {
        out.extend_from_slice(&f16_bits(0.0125).to_le_bytes());
        out.extend_from_slice(&f16_bits(0.0050).to_le_bytes());
        out.extend((0..12).map(|_| (rng.next_u64() & 0x3f) as u8));
        out.extend((0..128).map(|_| rng.next_u64() as u8));
    }
    out
}

/// TQ2_0: blocks of 256: qs[64] (2-bit codes t+1, LSB first, element 128h+m+32n in byte
/// 32h+m at bits 2n), then f16 d.
fn tq2_0_bytes(trits: &[i8], d: f32) -> Vec<u8> {
    let mut out = Vec::with_capacity(trits.len() / 256 * 66);
    for blk in trits.chunks_exact(256) {
        let mut qs = [0u8; 64];
        for (e, &t) in blk.iter().enumerate() {
            let (h, r) = (e / 128, e % 128);
            let (n, m) = (r / 32, r % 32);
            qs[32 * h + m] |= ((t + 1) as u8) << (2 * n);
        }
        out.extend_from_slice(&qs);
        out.extend_from_slice(&f16_bits(d).to_le_bytes());
    }
    out
}

/// I2_S (canonical 128-element / 32-byte blocks, MSB first) followed by the 32-byte tail that
/// holds the per-tensor f32 scale (then 28 zero bytes).
fn i2_s_bytes(trits: &[i8], scale: f32) -> Vec<u8> {
    let mut out = vec![0u8; trits.len() / 4 + 32];
    for (e, &t) in trits.iter().enumerate() {
        let (blk, pos) = (e / 128, e % 128);
        let byte = 32 * blk + pos % 32;
        let shift = 6 - 2 * (pos / 32);
        out[byte] |= ((t + 1) as u8) << shift;
    }
    let tail = trits.len() / 4;
    out[tail..tail + 4].copy_from_slice(&scale.to_le_bytes());
    out
}

fn id(name: &str) -> TypeId {
    types::from_name(name).unwrap_or_else(|| panic!("type '{name}' is in the table")).id
}

/// The demo model: (writer, expected tensor bytes by name).
fn build() -> (GgufWriter, Vec<(String, Vec<u8>)>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ 42);
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    w.kv("general.name", OwnedValue::str("bitgguf demo (synthetic)"));
    w.kv("general.quantization_version", OwnedValue::U32(2));
    w.kv("bitnet.context_length", OwnedValue::U32(2048));
    w.kv("bitnet.embedding_length", OwnedValue::U32(N_EMBD as u32));
    w.kv("bitnet.feed_forward_length", OwnedValue::U32(N_FF as u32));
    w.kv("bitnet.block_count", OwnedValue::U32(1));
    w.kv("bitnet.attention.head_count", OwnedValue::U32(4));
    w.kv("bitnet.attention.head_count_kv", OwnedValue::U32(4));
    w.kv("bitnet.attention.layer_norm_rms_epsilon", OwnedValue::F32(1e-5));
    w.kv("bitnet.rope.freq_base", OwnedValue::F32(500_000.0));
    w.kv("bitnet.vocab_size", OwnedValue::U32(N_VOCAB as u32));
    w.kv("tokenizer.ggml.model", OwnedValue::str("gpt2"));
    let specials = ["<unk>", "<s>", "</s>"];
    let tokens: Vec<OwnedValue> = (0..N_VOCAB as usize)
        .map(|i| match specials.get(i) {
            Some(s) => OwnedValue::str(s),
            None => OwnedValue::String(vec![b'a' + (i - specials.len()) as u8 % 26]),
        })
        .collect();
    w.kv("tokenizer.ggml.tokens", OwnedValue::Array(ValueType::String, tokens));
    let scores = (0..N_VOCAB).map(|i| OwnedValue::F32(0.0 - i as f32)).collect();
    w.kv("tokenizer.ggml.scores", OwnedValue::Array(ValueType::F32, scores));
    let kinds = (0..N_VOCAB).map(|i| OwnedValue::I32(if i < 3 { 3 } else { 1 })).collect();
    w.kv("tokenizer.ggml.token_type", OwnedValue::Array(ValueType::I32, kinds));
    w.kv("tokenizer.ggml.bos_token_id", OwnedValue::U32(1));
    w.kv("tokenizer.ggml.eos_token_id", OwnedValue::U32(2));
    w.kv("tokenizer.ggml.unknown_token_id", OwnedValue::U32(0));

    let mut tensors: Vec<(String, TypeId, Vec<u64>, Vec<u8>)> = Vec::new();
    let embd: Vec<f32> = (0..N_EMBD * N_VOCAB).map(|_| rng.normal(0.02)).collect();
    tensors.push(("token_embd.weight".into(), id("f16"), vec![N_EMBD, N_VOCAB], f16_bytes(&embd)));
    let norm: Vec<f32> = (0..N_EMBD).map(|_| 1.0 + rng.normal(0.05)).collect();
    tensors.push(("blk.0.attn_norm.weight".into(), id("f32"), vec![N_EMBD], f32_bytes(&norm)));
    let q: Vec<i8> = (0..N_EMBD * N_EMBD).map(|_| rng.trit()).collect();
    tensors.push(("blk.0.attn_q.weight".into(), types::I2_S, vec![N_EMBD, N_EMBD], i2_s_bytes(&q, 0.0421)));
    let up: Vec<i8> = (0..N_EMBD * N_FF).map(|_| rng.trit()).collect();
    tensors.push(("blk.0.ffn_up.weight".into(), id("tq2_0"), vec![N_EMBD, N_FF], tq2_0_bytes(&up, 0.0375)));
    tensors.push(("blk.0.ffn_down.weight".into(), id("q4_k"), vec![N_FF, N_EMBD], q4_k_bytes(&mut rng, N_FF * N_EMBD)));
    let out: Vec<f32> = (0..N_EMBD * N_VOCAB).map(|_| rng.normal(0.02)).collect();
    tensors.push(("output.weight".into(), id("q8_0"), vec![N_EMBD, N_VOCAB], q8_0_bytes(&out)));

    let mut expected = Vec::new();
    for (name, ty, ne, data) in tensors {
        expected.push((name.clone(), data.clone()));
        w.tensor(name, ty, &ne, data);
    }
    (w, expected)
}

/// Run the demo.
pub fn run() -> Result<(), CliError> {
    let (writer, expected) = build();
    let bytes = writer.to_bytes()?;
    let path = std::env::temp_dir().join(format!("bitgguf-demo-{}.gguf", std::process::id()));
    std::fs::write(&path, &bytes)
        .map_err(|e| CliError::Io(format!("cannot write the demo model to {}", path.display()), e))?;
    let file = TempFile(path);

    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    writeln!(w, "bitgguf demo: wrote a synthetic model ({} bytes) to {}", bytes.len(), file.0.display())
        .map_err(out_err)?;

    let t0 = Instant::now();
    let model = Model::open(&file.0, &LoadOptions::default())?;
    let load = t0.elapsed();

    writeln!(w, "loaded with Model::open (mmap) in {:.1} us", load.as_secs_f64() * 1e6).map_err(out_err)?;
    writeln!(w).map_err(out_err)?;
    text::model(&mut w, &model).map_err(out_err)?;

    // What the loader found, checked against what was written.
    writeln!(w).map_err(out_err)?;
    writeln!(w, "summary:").map_err(out_err)?;
    let meta = model.metadata();
    let arch = meta.get("general.architecture").and_then(|v| v.as_str_bytes()).map(text::short_string);
    writeln!(w, "  architecture: {}", arch.unwrap_or_else(|| "(none)".into())).map_err(out_err)?;
    if let Some(bitgguf::gguf::Value::Array(tok)) = meta.get("tokenizer.ggml.tokens") {
        let first: Vec<String> = (0..tok.len().min(4)).filter_map(|i| tok.get_str(i)).map(text::short_string).collect();
        writeln!(w, "  vocabulary:   {} tokens, first {}", tok.len(), first.join(" ")).map_err(out_err)?;
    }
    let mut all_equal = true;
    for (name, data) in &expected {
        let i = model.find_tensor(name).expect("every written tensor is found");
        let t = model.tensor(i).expect("in range").info;
        let got = model.tensor_data(i).expect("in range");
        let ok = got == data.as_slice();
        all_equal &= ok;
        let bpw = t.n_bytes as f64 * 8.0 / t.n_elements as f64;
        write!(
            w,
            "  {:24} {:6} {:>7} elements {:>10}  {:6.3} bits/weight  bytes {}",
            name,
            t.ty.name,
            t.n_elements,
            text::bytes(t.n_bytes),
            bpw,
            if ok { "match" } else { "DIFFER" }
        )
        .map_err(out_err)?;
        if t.ty.id == types::I2_S {
            let tail = (t.n_elements / 4) as usize;
            let s = f32::from_le_bytes(got[tail..tail + 4].try_into().expect("4 bytes"));
            write!(w, "  (i2_s tail scale {s})").map_err(out_err)?;
        }
        writeln!(w).map_err(out_err)?;
    }
    let total: u64 = model.tensors().map(|t| t.info.n_bytes).sum();
    writeln!(
        w,
        "  {} tensors, {} of tensor data in a {} file; all bytes as written: {}",
        model.tensor_count(),
        text::bytes(total),
        text::bytes(bytes.len() as u64),
        if all_equal { "yes" } else { "NO" }
    )
    .map_err(out_err)?;
    drop(model);
    let shown = file.0.display().to_string();
    drop(file);
    writeln!(w, "removed {shown}").map_err(out_err)?;
    w.flush().map_err(out_err)?;
    if !all_equal {
        return Err(CliError::Lib(bitgguf::Error::new(
            bitgguf::Status::Panic,
            "the loaded tensor bytes differ from what was written (a bug: please report it)",
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversion() {
        assert_eq!(f16_bits(1.0), 0x3c00);
        assert_eq!(f16_bits(-2.0), 0xc000);
        assert_eq!(f16_bits(0.0), 0);
        assert_eq!(f16_bits(65504.0), 0x7bff);
        assert_eq!(f16_bits(1e6), 0x7c00);
        assert_eq!(f16_bits(0.1), 0x2e66);
    }

    #[test]
    fn i2_s_layout() {
        let mut t = vec![0i8; 128];
        t[0] = 1; // code 2 at byte 0 bits 7..6
        t[32] = -1; // code 0 at byte 0 bits 5..4
        let b = i2_s_bytes(&t, 1.5);
        assert_eq!(b.len(), 32 + 32);
        assert_eq!(b[0], 0b10_00_01_01);
        assert_eq!(b[1], 0b01_01_01_01);
        assert_eq!(f32::from_le_bytes(b[32..36].try_into().unwrap()), 1.5);
    }

    #[test]
    fn demo_model_builds() {
        let (w, expected) = build();
        let bytes = w.to_bytes().unwrap();
        let m = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
        assert_eq!(m.tensor_count(), expected.len());
        for (name, data) in &expected {
            let i = m.find_tensor(name).unwrap();
            assert_eq!(m.tensor_data(i).unwrap(), data.as_slice());
        }
    }
}
