//! Quantization throughput (criterion): per type with an encoder, 1 Mi seeded normal values in
//! rows of 4096 through `quant::quantize` on one thread. For ggml side by side see
//! `benches/quantize_vs_ggml.rs`. `cargo bench --bench quantize` (`-- q4_k` to filter).

use std::hint::black_box;

use bitgguf::quant;
use bitgguf::types;
use criterion::{Criterion, Throughput};

fn main() {
    let n = 1usize << 20;
    let mut x = 0x5eed_0a12u64;
    let vals: Vec<f32> = (0..n)
        .map(|_| {
            let s: f64 = (0..4)
                .map(|_| {
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
                })
                .sum();
            ((s - 2.0) * 1.732) as f32
        })
        .collect();
    let mut c = Criterion::default().configure_from_args();
    for t in types::UPSTREAM.iter() {
        let Ok((len, _)) = quant::quantized_size(t.id, n as u64, 4096) else { continue };
        let mut out = vec![0u8; len];
        let mut g = c.benchmark_group(format!("quantize/{}", t.name));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.warm_up_time(std::time::Duration::from_millis(300));
        g.measurement_time(std::time::Duration::from_secs(1));
        g.bench_function("1t", |b| b.iter(|| quant::quantize(t.id, black_box(&vals), 4096, &mut out).unwrap()));
        g.finish();
    }
    c.final_summary();
}
