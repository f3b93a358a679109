//! Metadata parse of the real Gemma 3 270M Q4_K_M file (236 tensors, 262,144-token vocab).
//!
//! - `open_mmap`: `Model::open` with the default options (map the file, parse, index tensors,
//!   then drop: munmap included), a fresh open per iteration.
//! - `parse_mapped`: `bitgguf::gguf::parse` on bytes that are already mapped (the parser alone).
//!
//! `cargo bench --bench parse`. Skips (exit 0, "SKIPPED: ...") when the file is absent.
//! For the side-by-side comparison with ggml see `benches/parse_vs_ggml.rs`.

mod common;

use std::hint::black_box;

use bitgguf::gguf::{self, ParseOptions};
use bitgguf::{LoadOptions, Model};
use criterion::Criterion;

fn main() {
    let Some(path) = common::or_skip(common::gemma_path()) else { return };
    let opts = LoadOptions::default();
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("gemma3_270m");
        g.bench_function("open_mmap", |b| {
            b.iter(|| {
                let m = Model::open(black_box(&path), &opts).expect("the Gemma file loads");
                black_box(m.tensor_count())
            })
        });
        let mapped = Model::open(&path, &opts).expect("the Gemma file loads");
        let bytes = mapped.metadata().bytes();
        let popts = ParseOptions::default();
        g.bench_function("parse_mapped", |b| {
            b.iter(|| {
                let idx = gguf::parse(black_box(bytes), &popts).expect("parses");
                black_box(idx.tensor_count())
            })
        });
        g.finish();
    }
    c.final_summary();
}
