//! Dequantization side by side, in one process (the measurement is the library's
//! `bitgguf::bench`, which `bitgguf bench` runs too): ggml's `to_float` (the real `libggml-base.so` of
//! the Python package `libggml-python`, loaded at run time) against bitgguf's `decode_into` on
//! one thread and on all threads, with the physical ceiling measured in the same rounds:
//! streaming (non-temporal) stores of a constant over the same destination, on one thread and on
//! all threads. Every case of a type runs once per round, interleaved, so a noisy neighbour
//! slows all of them alike; the figures are medians over the rounds.
//!
//! `cargo bench --bench dequant_vs_ggml` (or `scripts/bench_dequant.sh`). Environment:
//! - `BG_GGML_LIB`, `BG_PYTHON`: where `libggml-base.so` is (see `common::find_ggml`);
//! - `BG_ELEMS`: elements per type (default 32 Mi under `cargo bench`, 256 Ki as a test);
//! - `BG_ROUNDS`: timed rounds per case (default 5, 1 as a test), after one warm-up;
//! - `BG_TYPES`: comma-separated type names to run (default: every type ggml and we decode);
//! - `BG_OUTS`: output types (default `f32,f16,bf16`);
//! - `BG_SCALAR=1`: also time our scalar oracle (one thread, f32 out).
//! - `BG_DST_OFFSET=16`: outputs start 16 bytes past a 64-byte boundary (malloc's large blocks).
//!
//! Data: 1 Mi (or `BG_ELEMS`, if fewer) normal values quantized by ggml's own `ggml_quantize_chunk`
//! (an all-ones importance matrix for the types that require one), tiled to `BG_ELEMS`. Before
//! timing, our output is checked against ggml's, bit for bit (NaN equals NaN). Outputs go into
//! 64-byte-aligned, pre-touched buffers that are reused, so page faults are not timed.
//! Prints "SKIPPED: ..." and exits 0 when ggml is absent.
//!
//! The floors of issue 3, checked at the end (f32 out, one thread): ours ≥ 1.5× ggml, or, where
//! that is above what the memory takes, ours ≥ 90% of the one-thread streaming-store bandwidth;
//! all threads: ≥ 70% of the all-thread streaming-store bandwidth (in output bytes).

mod common;

use bitgguf::bench::{run_decode_bench, DecodeBenchConfig};
use bitgguf::quant::output::OutType;
use bitgguf::types;

fn main() {
    let Some((lib, ggml)) = common::or_skip(common::load_ggml()) else { return };
    let bench = std::env::args().any(|a| a == "--bench");
    let env_usize = |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let types = std::env::var("BG_TYPES")
        .ok()
        .map(|s| s.split(',').filter_map(|t| types::from_name(t.trim()).map(|ti| ti.id)).collect::<Vec<_>>());
    let outs: Vec<OutType> = std::env::var("BG_OUTS")
        .unwrap_or_else(|_| "f32,f16,bf16".into())
        .split(',')
        .filter_map(|s| match s.trim() {
            "f32" => Some(OutType::F32),
            "f16" => Some(OutType::F16),
            "bf16" => Some(OutType::Bf16),
            _ => None,
        })
        .collect();
    let cfg = DecodeBenchConfig {
        elements: env_usize("BG_ELEMS", if bench { 32 << 20 } else { 256 << 10 }),
        rounds: env_usize("BG_ROUNDS", if bench { 5 } else { 1 }),
        types,
        outs,
        scalar: std::env::var("BG_SCALAR").as_deref() == Ok("1"),
        dst_offset: env_usize("BG_DST_OFFSET", 0),
    };
    println!(
        "machine: {} CPUs; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) { "UNOPTIMIZED build (numbers meaningless)" } else { "optimized build" }
    );
    println!("ggml:    {}", lib.display());
    let table = run_decode_bench(&cfg, Some(ggml.lib()), &mut |_, _, _| {}).unwrap_or_else(|e| panic!("{e}"));
    print!("{table}");
    println!();
    let unmet = table.unmet_floors();
    if unmet.is_empty() {
        println!("FLOORS: all met (1T: >= 1.5x ggml or >= 90% of 1T streaming bw; all threads: >= 70% of bw)");
    } else {
        println!("FLOORS unmet: {}", unmet.join("; "));
    }
    let results: Vec<String> = table
        .rows
        .iter()
        .filter(|r| r.out == OutType::F32)
        .map(|r| format!("{}:{:.2}:{:.2}:{:.2}", r.name, r.ggml.unwrap_or(f64::NAN), r.ours_1t, r.ours_all))
        .collect();
    println!("RESULT name:ggml:ours_1T:all (Gelem/s, f32 out) {}", results.join(" "));
}
