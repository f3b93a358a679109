//! Writes seed inputs for the cargo-fuzz targets: `cargo run --example fuzz_seeds -- DIR`.
//! Small valid files that reach every part of the parser and decoders: every value type,
//! string arrays, custom alignment, every block type, contested BitNet ids, split keys, and the
//! tiny synthetic models of `bitgguf::synth`.

use bitgguf::gguf::{GgufWriter, OwnedValue, ValueType};
use bitgguf::types;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fuzz_seeds DIR");
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    let write = |name: &str, w: &GgufWriter| {
        std::fs::write(format!("{dir}/{name}.gguf"), w.to_bytes().expect("serialize")).expect("write a seed");
    };

    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"))
        .kv("u8", OwnedValue::U8(1))
        .kv("i8", OwnedValue::I8(-1))
        .kv("u16", OwnedValue::U16(2))
        .kv("i16", OwnedValue::I16(-2))
        .kv("u32", OwnedValue::U32(3))
        .kv("i32", OwnedValue::I32(-3))
        .kv("f32", OwnedValue::F32(1.5))
        .kv("bool", OwnedValue::Bool(true))
        .kv("u64", OwnedValue::U64(4))
        .kv("i64", OwnedValue::I64(-4))
        .kv("f64", OwnedValue::F64(2.5))
        .kv("tokens", OwnedValue::Array(ValueType::String, vec![OwnedValue::str("a"), OwnedValue::str("bc")]))
        .kv("scores", OwnedValue::Array(ValueType::F32, vec![OwnedValue::F32(0.5), OwnedValue::F32(-0.5)]));
    write("metadata", &w);

    // One small tensor of every live block type, with patterned bytes.
    let mut w = GgufWriter::new();
    w.alignment(64);
    for t in types::UPSTREAM.iter().filter(|t| t.layout == types::Layout::Blocks && t.tsize > 0) {
        let ne = [t.blck * 2, 2];
        let n = t.nbytes(&[ne[0], ne[1], 1, 1]).expect("valid shape") as usize;
        let data = (0..n).map(|i| (i * 37 + t.id as usize) as u8).collect();
        w.tensor(format!("t.{}", t.name), t.id, &ne, data);
    }
    write("all_types", &w);

    // BitNet: I2_S (36), TL1 (38) and TL2 (39) under a bitnet architecture.
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    for (name, id, ne) in
        [("i2s", types::I2_S, [256u64, 4]), ("tl1", types::TL1, [128, 4]), ("tl2", types::TL2, [256, 32])]
    {
        let n = types::info(id).unwrap().nbytes(&[ne[0], ne[1], 1, 1]).expect("valid shape") as usize;
        w.tensor(name, id, &ne, (0..n).map(|i| (i % 3) as u8 * 0x55).collect());
    }
    write("bitnet", &w);

    // A shard of a split model.
    let mut w = GgufWriter::new();
    w.kv("split.no", OwnedValue::U16(0))
        .kv("split.count", OwnedValue::U16(2))
        .kv("split.tensors.count", OwnedValue::I32(1));
    w.tensor("x", 0, &[4], vec![0; 16]);
    write("shard", &w);

    // The synthetic models of bitgguf::synth (tiny preset): a whole llama/bitnet-shaped file per
    // weight type, as the loader sees real models.
    for ty in [types::I2_S, types::TL1, types::TL2, 8 /* q8_0 */] {
        let opts = bitgguf::synth::SynthOptions::new(bitgguf::synth::Preset::Tiny, ty);
        let bytes = bitgguf::synth::synthesize(&opts).expect("synthesize the tiny preset");
        let name = types::info(ty).expect("type").name;
        std::fs::write(format!("{dir}/synth_tiny_{name}.gguf"), bytes).expect("write a seed");
    }
}
