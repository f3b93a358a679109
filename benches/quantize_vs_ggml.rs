//! Quantization side by side, in one process: ggml's reference quantizers
//! (`ggml_quantize_chunk` without an importance matrix, from the real `libggml-base.so` of the
//! Python package `libggml-python`) against bitgguf's `quant::quantize`, both on one thread,
//! interleaved round by round; medians. Before timing, our bytes are checked against ggml's.
//!
//! `cargo bench --bench quantize_vs_ggml` (or `scripts/bench_dequant.sh`). Environment:
//! `BG_GGML_LIB` / `BG_PYTHON` (see `common::find_ggml`); `BG_QELEMS`: elements per type
//! (default 4 Mi under `cargo bench`, 64 Ki as a test); `BG_ROUNDS` (default 5, 1 as a test);
//! `BG_TYPES`: comma-separated type names. Prints "SKIPPED: ..." and exits 0 when ggml is absent.

mod common;

use std::hint::black_box;

use bitgguf::quant;
use bitgguf::types;
use common::ggml::Rng;
use common::{time_ms, Stats};

fn main() {
    let Some((lib, ggml)) = common::or_skip(common::load_ggml()) else { return };
    let bench = std::env::args().any(|a| a == "--bench");
    let env_usize = |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let n_per_row = 4096;
    let elems = env_usize("BG_QELEMS", if bench { 4 << 20 } else { 64 << 10 }).max(n_per_row) / n_per_row * n_per_row;
    let rounds = env_usize("BG_ROUNDS", if bench { 5 } else { 1 }).max(1);
    let only: Option<Vec<String>> =
        std::env::var("BG_TYPES").ok().map(|s| s.split(',').map(|t| t.trim().to_ascii_lowercase()).collect());
    println!(
        "quantize from f32, one thread: {elems} elements per type in rows of {n_per_row}; {rounds} rounds (median)"
    );
    println!("ggml: {}", lib.display());

    let mut rng = Rng(0x5eed_0a11);
    let vals: Vec<f32> = (0..elems).map(|_| rng.normal()).collect();
    println!();
    println!("{:<8} | {:>10} {:>10} | {:>7}", "type", "ggml Me/s", "ours Me/s", "ratio");
    let mut slower = Vec::new();
    let mut results = Vec::new();
    for t in types::UPSTREAM.iter() {
        let id = t.id;
        if let Some(only) = &only {
            if !only.iter().any(|o| o == t.name) {
                continue;
            }
        }
        if id == 0 {
            continue; // f32 "quantizes" by copying
        }
        let Ok((len, _)) = quant::quantized_size(id, elems as u64, n_per_row as u64) else { continue };
        if ggml.requires_imatrix(id) || ggml.type_info(id).1 == 0 {
            continue;
        }
        let mut ours = vec![0u8; len];
        let mut theirs = vec![0u8; len];
        ggml.quantize_into(id, &vals, n_per_row, None, &mut theirs);
        quant::quantize(id, &vals, n_per_row as u64, &mut ours).unwrap();
        assert!(ours == theirs, "{}: our bytes differ from ggml_quantize_chunk's", t.name);
        let (mut tg, mut to) = (Stats::new("ggml"), Stats::new("ours"));
        for r in 0..=rounds {
            // Alternate which runs first, so neither always finds the input warm.
            let mut g_run = || time_ms(|| ggml.quantize_into(id, black_box(&vals), n_per_row, None, &mut theirs)).0;
            let mut o_run =
                || time_ms(|| quant::quantize(id, black_box(&vals), n_per_row as u64, &mut ours).unwrap()).0;
            let (g, o) = if r % 2 == 0 {
                let g = g_run();
                (g, o_run())
            } else {
                let o = o_run();
                (g_run(), o)
            };
            if r > 0 {
                tg.ms.push(g);
                to.ms.push(o);
            }
        }
        let (g, o) = (elems as f64 / tg.median() / 1e3, elems as f64 / to.median() / 1e3);
        println!("{:<8} | {:>10.1} {:>10.1} | {:>6.2}x", t.name, g, o, o / g);
        if o < g {
            slower.push(format!("{} ({:.2}x)", t.name, o / g));
        }
        results.push(format!("{}:{g:.1}:{o:.1}", t.name));
    }
    println!();
    if slower.is_empty() {
        println!("FLOOR met: every quantizer at least as fast as ggml's reference quantizer (medians)");
    } else {
        println!("FLOOR unmet (slower than ggml): {}", slower.join(", "));
    }
    println!("RESULT name:ggml:ours (Melem/s) {}", results.join(" "));
}
