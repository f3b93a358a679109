//! Write a llama-shaped synthetic q8_0 GGUF file of about SIZE_GB gigabytes, streaming (no
//! full copy in memory), for scripts/bench_load.sh:
//!
//! ```text
//! cargo run --release --example load_synth -- OUT.gguf SIZE_GB
//! ```
//!
//! Shape: n_embd 4096, n_ff 11008, vocab 32000 (LLaMA-7B), as many layers as reach the size
//! (a 7B-like layer is ~216 MB in q8_0); f32 norms. The bytes are valid q8_0 blocks (scale
//! 2^-7, cycling quants) so every decoder accepts them.

use std::io::{BufWriter, Write};

const Q8_0: u32 = 8;
const F32: u32 = 0;
const ALIGN: u64 = 32;

struct T {
    name: String,
    ty: u32,
    ne: Vec<u64>,
}

impl T {
    fn nbytes(&self) -> u64 {
        let n: u64 = self.ne.iter().product();
        if self.ty == F32 {
            n * 4
        } else {
            n / 32 * 34
        }
    }
}

fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: load_synth OUT.gguf SIZE_GB");
        std::process::exit(2);
    }
    let size: f64 = args[2].parse().expect("SIZE_GB is a number");
    let (e, ff, vocab) = (4096u64, 11008u64, 32000u64);
    let layer_bytes = (4 * e * e + 3 * e * ff) / 32 * 34 + 2 * e * 4;
    let fixed = 2 * (e * vocab / 32 * 34) + e * 4;
    let layers = (((size * 1e9) as u64).saturating_sub(fixed) / layer_bytes).max(1);
    let mut ts = vec![T { name: "token_embd.weight".into(), ty: Q8_0, ne: vec![e, vocab] }];
    for l in 0..layers {
        ts.push(T { name: format!("blk.{l}.attn_norm.weight"), ty: F32, ne: vec![e] });
        for n in ["attn_q", "attn_k", "attn_v", "attn_output"] {
            ts.push(T { name: format!("blk.{l}.{n}.weight"), ty: Q8_0, ne: vec![e, e] });
        }
        ts.push(T { name: format!("blk.{l}.ffn_norm.weight"), ty: F32, ne: vec![e] });
        ts.push(T { name: format!("blk.{l}.ffn_gate.weight"), ty: Q8_0, ne: vec![e, ff] });
        ts.push(T { name: format!("blk.{l}.ffn_up.weight"), ty: Q8_0, ne: vec![e, ff] });
        ts.push(T { name: format!("blk.{l}.ffn_down.weight"), ty: Q8_0, ne: vec![ff, e] });
    }
    ts.push(T { name: "output_norm.weight".into(), ty: F32, ne: vec![e] });
    ts.push(T { name: "output.weight".into(), ty: Q8_0, ne: vec![e, vocab] });

    let mut w = BufWriter::with_capacity(8 << 20, std::fs::File::create(&args[1])?);
    let mut pos = 0u64;
    let mut hdr = Vec::new();
    hdr.extend_from_slice(b"GGUF");
    hdr.extend_from_slice(&3u32.to_le_bytes());
    hdr.extend_from_slice(&(ts.len() as u64).to_le_bytes());
    hdr.extend_from_slice(&2u64.to_le_bytes());
    put_str(&mut hdr, "general.architecture")?;
    hdr.extend_from_slice(&8u32.to_le_bytes());
    put_str(&mut hdr, "llama")?;
    put_str(&mut hdr, "llama.block_count")?;
    hdr.extend_from_slice(&4u32.to_le_bytes());
    hdr.extend_from_slice(&(layers as u32).to_le_bytes());
    let mut off = 0u64;
    for t in &ts {
        put_str(&mut hdr, &t.name)?;
        hdr.extend_from_slice(&(t.ne.len() as u32).to_le_bytes());
        for d in &t.ne {
            hdr.extend_from_slice(&d.to_le_bytes());
        }
        hdr.extend_from_slice(&t.ty.to_le_bytes());
        hdr.extend_from_slice(&off.to_le_bytes());
        off = (off + t.nbytes()).div_ceil(ALIGN) * ALIGN;
    }
    while !(hdr.len() as u64).is_multiple_of(ALIGN) {
        hdr.push(0);
    }
    w.write_all(&hdr)?;
    pos += hdr.len() as u64;
    // 128 distinct q8_0 blocks, repeated.
    let block_table: Vec<u8> = (0..128u8)
        .flat_map(|b| {
            let mut blk = 0x2000u16.to_le_bytes().to_vec();
            blk.extend((0..32u8).map(|i| (i.wrapping_add(b) & 0x7f).wrapping_sub(64)));
            blk
        })
        .collect();
    let ones: Vec<u8> = (0..4096).flat_map(|_| 1.0f32.to_le_bytes()).collect();
    let data_start = pos;
    let mut off = 0u64;
    for t in &ts {
        let n = t.nbytes();
        let src = if t.ty == F32 { &ones } else { &block_table };
        let mut left = n;
        while left > 0 {
            let k = left.min(src.len() as u64) as usize;
            w.write_all(&src[..k])?;
            left -= k as u64;
        }
        off += n;
        let pad = off.div_ceil(ALIGN) * ALIGN - off;
        w.write_all(&vec![0u8; pad as usize])?;
        off += pad;
    }
    w.flush()?;
    eprintln!("{}: {} layers, {} tensors, {:.2} GB", args[1], layers, ts.len(), (data_start + off) as f64 / 1e9);
    Ok(())
}
