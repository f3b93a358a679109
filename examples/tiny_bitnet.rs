//! The crate API from Rust: synthesize the tiny BitNet b1.58 model in I2_S (`bitgguf::synth`),
//! load it, list its tensors, decode one to f32 and print statistics.
//!
//! ```text
//! cargo run --example tiny_bitnet [-- OUT.gguf [TENSOR]]
//! ```
//!
//! With OUT.gguf the model is written there and loaded from the file (memory-mapped), otherwise
//! it is loaded from memory. TENSOR defaults to the first tensor that is not f32/f16. The last
//! line has the format of examples/c/host.c's (bit patterns; scripts/test.sh compares them).

use bitgguf::quant::output::OutType;
use bitgguf::synth::{self, Preset, SynthOptions};
use bitgguf::types::I2_S;
use bitgguf::{LoadOptions, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = SynthOptions::new(Preset::Tiny, I2_S);
    let model = match args.first() {
        Some(path) => {
            let summary = synth::synthesize_to_path(&opts, path, &mut |_, _| {})?;
            println!("wrote {path}: {} bytes, {} tensors", summary.file_size, summary.tensors.len());
            Model::open(path, &LoadOptions::default())?
        }
        None => {
            let bytes = synth::synthesize(&opts)?;
            println!("synthesized {} bytes in memory", bytes.len());
            Model::from_bytes(&bytes, &LoadOptions::default())?
        }
    };

    println!("{} tensors:", model.tensor_count());
    for t in model.tensors() {
        let ne = t.info.ne;
        println!("  {:<32} {:<6} {ne:?} {} bytes", t.info.name, t.info.ty.name, t.info.n_bytes);
    }
    let index = match args.get(1) {
        Some(name) => model.find_tensor(name).ok_or_else(|| format!("no tensor named {name}"))?,
        None => model.tensors().position(|t| !matches!(t.info.ty.name, "f32" | "f16")).unwrap_or(0),
    };
    let info = model.tensor(index).ok_or("tensor index out of range")?.info;

    // Decode every row to f32 (little-endian bytes), as bg_tensor_dequantize does.
    let rows = info.n_elements / info.ne[0];
    let mut bytes = vec![0u8; info.n_elements as usize * 4];
    model.decode_rows(index, 0..rows, OutType::F32, &mut bytes)?;
    let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();

    let (mut min, mut max, mut sum) = (values[0], values[0], 0.0f64);
    for &v in &values {
        sum += f64::from(v);
        min = if v < min { v } else { min };
        max = if v > max { v } else { max };
    }
    let mean = sum / values.len() as f64;
    println!("{} ({}): {} values, min {min}, max {max}, mean {mean}", info.name, info.ty.name, values.len());
    println!(
        "stats name={} type={} n={} min={:08x} max={:08x} mean={:016x}",
        info.name,
        info.ty.name,
        values.len(),
        min.to_bits(),
        max.to_bits(),
        mean.to_bits()
    );
    Ok(())
}
