//! Dequantization side by side, in one process: ggml's `to_float` (the real `libggml-base.so` of
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

use std::hint::black_box;

use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::quant::{self, simd};
use bitgguf::types;
use common::ggml::Rng;
use common::{time_ms, Stats};
use rayon::prelude::*;

/// A 64-byte-aligned, pre-touched byte buffer of `len` bytes inside a larger allocation.
struct Buf {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl Buf {
    fn new(len: usize) -> Buf {
        let mut v = vec![0u8; len + 64];
        let off = (64 - v.as_ptr() as usize % 64) % 64;
        v.fill(1); // fault every page in now
        Buf { v, off, len }
    }
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + self.len]
    }
}

/// Streaming (non-temporal) stores of a constant over `dst` (16-byte aligned), `threads` ways
/// (on rayon's pool when more than one, as `decode_into` runs, so no thread start is timed).
fn nt_fill(dst: &mut [u8], threads: usize) {
    if threads <= 1 {
        return nt_fill_one(dst);
    }
    let piece = dst.len().div_ceil(threads * 4).div_ceil(64) * 64;
    dst.par_chunks_mut(piece).for_each(nt_fill_one);
}

#[cfg(target_arch = "x86_64")]
fn nt_fill_one(d: &mut [u8]) {
    use std::arch::x86_64::*;
    assert_eq!(d.as_ptr() as usize % 16, 0);
    let n = d.len() / 16;
    let p = d.as_mut_ptr().cast::<__m128i>();
    // SAFETY: SSE2 is part of x86_64; `p` is 16-byte aligned (checked) and `n * 16` bytes of
    // `d` are in bounds; the fence orders the streaming stores before the thread ends.
    unsafe {
        let v = _mm_set1_epi32(0x3f80_0000);
        for i in 0..n {
            _mm_stream_si128(p.add(i), v);
        }
        _mm_sfence();
    }
    d[n * 16..].fill(0);
}

#[cfg(not(target_arch = "x86_64"))]
fn nt_fill_one(d: &mut [u8]) {
    d.fill(1);
}

/// Plain stores (`memset`; glibc may use streaming stores for large sizes).
fn plain_fill(dst: &mut [u8]) {
    dst.fill(black_box(7));
}

fn same(ours: &[u8], theirs: &[f32]) -> Result<(), String> {
    for (i, (a, b)) in ours.chunks_exact(4).zip(theirs).enumerate() {
        let a = f32::from_le_bytes(a.try_into().unwrap());
        if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
            return Err(format!("element {i}: ours {a:e}, ggml {b:e}"));
        }
    }
    Ok(())
}

/// One measured case of a round.
enum Case {
    Ggml,
    Ours(DecodeOptions),
    Nt(usize),
}

/// One row of the table: a type and output type, rates in Gelem/s (medians).
struct Row {
    name: &'static str,
    out: OutType,
    ggml: f64,
    ours1: f64,
    ours1_plain: f64,
    nt1: f64,
    all: f64,
    nt_all: f64,
    scalar1: Option<f64>,
}

fn main() {
    let (lib, ggml) = match common::load_ggml() {
        Ok(g) => g,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let bench = std::env::args().any(|a| a == "--bench");
    let env_usize = |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let elems = env_usize("BG_ELEMS", if bench { 32 << 20 } else { 256 << 10 }).max(1 << 16) >> 16 << 16;
    let rounds = env_usize("BG_ROUNDS", if bench { 5 } else { 1 }).max(1);
    let only: Option<Vec<String>> =
        std::env::var("BG_TYPES").ok().map(|s| s.split(',').map(|t| t.trim().to_ascii_lowercase()).collect());
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
    let with_scalar = std::env::var("BG_SCALAR").as_deref() == Ok("1");
    let threads = rayon::current_num_threads();

    println!(
        "machine: {} CPUs ({} rayon threads); simd level {}; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        threads,
        simd::level().name(),
        if cfg!(debug_assertions) { "UNOPTIMIZED build (numbers meaningless)" } else { "optimized build" }
    );
    println!("ggml:    {}", lib.display());
    println!(
        "elements per type: {elems} ({} MiB of f32 output); rounds: {rounds} (median), 1 warm-up",
        (elems * 4) >> 20
    );

    let out_len = elems * 4;
    let mut dst = Buf::new(out_len);

    // Physical references for the f32 output size, once (per-type references follow below).
    let mut src_copy = Buf::new(out_len);
    let names = ["memcpy (1 thread)", "memset (1 thread; glibc may stream)", "streaming stores (1 thread)"];
    let mut refs: Vec<Stats> = names.iter().map(|n| Stats::new(n)).collect();
    let nt_all_name = format!("streaming stores ({threads} threads, rayon)");
    refs.push(Stats::new("streaming stores (all threads)"));
    for r in 0..=rounds {
        let s = src_copy.bytes().to_vec();
        let t = [
            time_ms(|| dst.bytes().copy_from_slice(black_box(&s))).0,
            time_ms(|| plain_fill(dst.bytes())).0,
            time_ms(|| nt_fill(dst.bytes(), 1)).0,
            time_ms(|| nt_fill(dst.bytes(), threads)).0,
        ];
        if r > 0 {
            for (st, t) in refs.iter_mut().zip(t) {
                st.ms.push(t);
            }
        }
    }
    let gbs = |ms: f64| out_len as f64 / ms / 1e6;
    println!();
    println!("reference bandwidth, {} MiB destination (GB/s of destination bytes, medians):", out_len >> 20);
    for (k, st) in refs.iter().enumerate() {
        let name = if k == 3 { nt_all_name.as_str() } else { st.name };
        println!("  {name:<42} {:>6.2}", gbs(st.median()));
    }

    // The data: up to 1 Mi normal values, quantized by ggml, tiled.
    let base_n = elems.min(1 << 20);
    let mut rng = Rng(0x5eed_d00d);
    let vals: Vec<f32> = (0..base_n).map(|_| rng.normal()).collect();

    let mut rows: Vec<Row> = Vec::new();
    for t in types::UPSTREAM.iter() {
        let id = t.id;
        if quant::decoder(id).is_none() || !ggml.has_to_float(id) || t.blck == 0 {
            continue;
        }
        if let Some(only) = &only {
            if !only.iter().any(|o| o == t.name) {
                continue;
            }
        }
        let (blck, tsize) = (t.blck as usize, t.tsize as usize);
        if elems % blck != 0 || base_n % 4096 != 0 {
            continue;
        }
        let mut one = vec![0u8; base_n / blck * tsize];
        let ones = vec![1f32; 4096];
        let imatrix = if ggml.requires_imatrix(id) { Some(&ones[..]) } else { None };
        ggml.quantize_into(id, &vals, 4096, imatrix, &mut one);
        let mut src = Vec::with_capacity(one.len() * elems.div_ceil(base_n));
        while src.len() < elems / blck * tsize {
            src.extend_from_slice(&one);
        }
        src.truncate(elems / blck * tsize);
        let n = elems;

        // Correctness first.
        let mut theirs = vec![0f32; n];
        ggml.to_float_into(id, &src, &mut theirs);
        decode_into_with(id, &src, n as u64, OutType::F32, dst.bytes(), &DecodeOptions::default()).unwrap();
        if let Err(e) = same(dst.bytes(), &theirs) {
            panic!("{}: our output differs from ggml's: {e}", t.name);
        }
        drop(theirs);

        let o = |simd_on: bool, threads: usize, streaming: Streaming| DecodeOptions {
            threads,
            simd: simd_on,
            streaming,
            ..DecodeOptions::default()
        };
        for &out in &outs {
            let len = n * out.size() as usize;
            let mut cases = vec![
                Case::Ggml,
                Case::Ours(o(true, 1, Streaming::Auto)),
                Case::Ours(o(true, 1, Streaming::Off)),
                Case::Nt(1),
                Case::Ours(DecodeOptions::default()),
                Case::Nt(threads),
            ];
            if with_scalar && out == OutType::F32 {
                cases.push(Case::Ours(o(false, 1, Streaming::Off)));
            }
            let mut times: Vec<Stats> = cases.iter().map(|_| Stats::new("")).collect();
            for r in 0..=rounds {
                for (k, case) in cases.iter().enumerate() {
                    let d = &mut dst.bytes()[..len];
                    let ms = match case {
                        Case::Ggml => {
                            // ggml writes f32 whatever `out` is: its own full-size buffer.
                            let f = simd::f32_view_mut(dst.bytes()).expect("aligned f32 buffer");
                            time_ms(|| ggml.to_float_into(id, black_box(&src), f)).0
                        }
                        Case::Ours(opts) => {
                            time_ms(|| decode_into_with(id, black_box(&src), n as u64, out, d, opts).unwrap()).0
                        }
                        Case::Nt(th) => time_ms(|| nt_fill(d, *th)).0,
                    };
                    if r > 0 {
                        times[k].ms.push(ms);
                    }
                }
            }
            let rate: Vec<f64> = times.iter().map(|s| n as f64 / s.median() / 1e6).collect();
            rows.push(Row {
                name: t.name,
                out,
                ggml: rate[0],
                ours1: rate[1],
                ours1_plain: rate[2],
                nt1: rate[3],
                all: rate[4],
                nt_all: rate[5],
                scalar1: rate.get(6).copied(),
            });
        }
    }

    println!();
    println!("Gelem/s (medians). ggml = to_float (f32 out, 1 thread); 1T = decode_into on one thread");
    println!("(streaming stores for outputs >= 8 MiB), 1T plain = the same with ordinary stores; all =");
    println!("decode_into on {threads} threads. %bw = our output GB/s / streaming-store GB/s of the same bytes");
    println!("and thread count, measured in the same rounds.");
    println!(
        "{:<8} {:>4} | {:>6} | {:>6} {:>7} {:>6} {:>6} | {:>6} {:>7} {:>6}{}",
        "type",
        "out",
        "ggml",
        "1T",
        "1T/ggml",
        "%bw1T",
        "1Tpl",
        "all",
        "all/ggm",
        "%bwAll",
        if with_scalar { "  scalar1" } else { "" }
    );
    let mut unmet = Vec::new();
    for r in &rows {
        let bw1 = r.ours1 / r.nt1 * 100.0;
        let bwn = r.all / r.nt_all * 100.0;
        println!(
            "{:<8} {:>4} | {:>6.2} | {:>6.2} {:>6.2}x {:>5.0}% {:>6.2} | {:>6.2} {:>6.2}x {:>5.0}%{}",
            r.name,
            r.out.name(),
            r.ggml,
            r.ours1,
            r.ours1 / r.ggml,
            bw1,
            r.ours1_plain,
            r.all,
            r.all / r.ggml,
            bwn,
            r.scalar1.map_or(String::new(), |s| format!("  {s:>7.2}"))
        );
        if r.out == OutType::F32 && r.ours1 / r.ggml < 1.5 && bw1 < 90.0 {
            unmet.push(format!("{} 1T ({:.2}x ggml, {bw1:.0}% of 1T streaming bw)", r.name, r.ours1 / r.ggml));
        }
        if bwn < 70.0 {
            unmet.push(format!("{} {} all threads ({bwn:.0}% of streaming bw)", r.name, r.out.name()));
        }
    }
    println!();
    if unmet.is_empty() {
        println!("FLOORS: all met (1T: >= 1.5x ggml or >= 90% of 1T streaming bw; all threads: >= 70% of bw)");
    } else {
        println!("FLOORS unmet: {}", unmet.join("; "));
    }
    let results: Vec<String> = rows
        .iter()
        .filter(|r| r.out == OutType::F32)
        .map(|r| format!("{}:{:.2}:{:.2}:{:.2}", r.name, r.ggml, r.ours1, r.all))
        .collect();
    println!("RESULT name:ggml:ours_1T:all (Gelem/s, f32 out) {}", results.join(" "));
}
