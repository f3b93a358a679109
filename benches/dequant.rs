//! Dequantization throughput (criterion): per type, 1 Mi elements into a reused, pre-touched
//! buffer (4 MiB of f32: cache-resident on most machines, so this measures the kernels rather
//! than DRAM), for the scalar oracle on one thread, the fast kernel on one thread, and the
//! default `decode_into` (all threads); plus the fast kernel to f16 and bf16.
//!
//! `cargo bench --bench dequant` (`-- q4_k` to filter). Data: seeded normal values quantized by
//! our own encoders (byte-identical with ggml's reference quantizers); types without an encoder
//! get seeded random bytes. For ggml side by side and large (DRAM-bound) outputs see
//! `benches/dequant_vs_ggml.rs`.

use std::hint::black_box;

use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::quant::{self, simd};
use bitgguf::types;
use criterion::{Criterion, Throughput};

const TYPES: [&str; 16] = [
    "f16", "bf16", "q4_0", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0",
    "mxfp4", "iq2_xxs", "iq3_s",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn normal(&mut self) -> f32 {
        let s: f64 = (0..4).map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64).sum();
        ((s - 2.0) * 1.732) as f32
    }
}

fn main() {
    let n = 1usize << 20;
    let mut rng = Rng(0x5eed_00de);
    let vals: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
    let mut out = vec![1u8; 4 * n];
    let mut c = Criterion::default().configure_from_args();
    eprintln!("simd level: {}", simd::level().name());
    for name in TYPES {
        let Some(t) = types::UPSTREAM.iter().find(|t| t.name == name) else { continue };
        let id = t.id;
        if quant::decoder(id).is_none() {
            continue;
        }
        let src = match quant::quantized_size(id, n as u64, 4096) {
            Ok((len, _)) => {
                let mut q = vec![0u8; len];
                quant::quantize(id, &vals, 4096, &mut q).expect("quantizes");
                q
            }
            Err(_) => (0..n / t.blck as usize * t.tsize as usize).map(|_| (rng.next() >> 56) as u8).collect(),
        };
        let mut g = c.benchmark_group(format!("dequant/{name}"));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(20);
        g.warm_up_time(std::time::Duration::from_millis(500));
        g.measurement_time(std::time::Duration::from_secs(2));
        let one =
            |simd_on| DecodeOptions { threads: 1, simd: simd_on, streaming: Streaming::Off, ..Default::default() };
        let mut cases = vec![("f32_scalar_1t", OutType::F32, one(false))];
        if simd::kernel(id).is_some() {
            cases.push(("f32_simd_1t", OutType::F32, one(true)));
        }
        cases.push(("f32_all_threads", OutType::F32, DecodeOptions::default()));
        cases.push(("f16_fast_1t", OutType::F16, one(true)));
        cases.push(("bf16_fast_1t", OutType::Bf16, one(true)));
        for (case, ot, opts) in cases {
            let dst = &mut out[..n * ot.size() as usize];
            g.bench_function(case, |b| {
                b.iter(|| decode_into_with(id, black_box(&src), n as u64, ot, &mut *dst, &opts).unwrap())
            });
        }
        g.finish();
    }
    c.final_summary();
}
