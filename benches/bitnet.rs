//! BitNet ternary codecs side by side with ggml, in one process: on one thread with
//! `RAYON_NUM_THREADS=1` (the issue-4 floors; `scripts/bench_bitnet.sh` sets it), and on all
//! threads without it (the I2_S / TL1 / TL2 / TQ decoders split rows over rayon's pool; ggml's
//! `to_float` is single-threaded either way).
//!
//! ggml has no I2_S, TL1 or TL2 code, so each of our operations is timed next to the ggml
//! operation on the same number of elements of the closest upstream type:
//! - I2_S quantize (absmean / sign-max, from f32, f16, bf16) vs ggml's `ggml_quantize_chunk`
//!   TQ2_0 from f32 (the 2-bit ternary type, per-block absmax, `quantize_row_tq2_0_ref`);
//! - I2_S and TL1 dequantize (2 bits/weight) vs ggml's TQ2_0 `to_float`; TL2 (5/3 bits/weight)
//!   vs ggml's TQ1_0 `to_float` (1.69 bits/weight);
//! - our TQ2_0 / TQ1_0 `decode_into` (one thread) vs ggml's.
//!
//! Rounds are interleaved (ours, ggml, ours, ggml, ...) and the table shows medians. Every timed
//! run is in steady state: it follows an untimed run of the same case (see [`steady`]; the rule
//! of `bitgguf bench` since commit 05c5f6f), so no case pays for the previous case's dirty-line
//! write-backs. Dequantize
//! rows of outputs beyond the caches (≥ 8 MiB) also time, in the same rounds, one-thread
//! streaming stores of the same output bytes (`bitgguf::bench::nt_fill`): the memory's ceiling
//! for an f32 output, the figure to judge memory-bound shapes by (where 1.5x ggml would exceed
//! it). Every timed dequantization writes the same destination buffer.
//! `cargo bench --bench bitnet` (or `scripts/bench_bitnet.sh`). Environment:
//! - `BG_GGML_LIB`, `BG_PYTHON`: where `libggml-base.so` is (see `common::find_ggml`);
//! - `BG_M`, `BG_K`: the tensor shape (default 4096 x 4096 = 16 Mi elements; 256 x 512 under
//!   `cargo test --benches`);
//! - `BG_ROUNDS`: timed rounds (default 7; 1 as a test);
//! - `BG_CRITERION=1`: also run criterion on the I2_S kernels (1 Mi elements);
//! - `BG_ONLY`: comma-separated type names (`i2_s,tl1,tl2,tq1_0,tq2_0`): only those rows;
//! - `BG_TL_STREAMING=on|off`: streaming stores for TL1 / TL2 (default: the library's choice);
//! - `BG_DST_OFFSET`: the destination's offset past a 64-byte boundary, in bytes (a multiple of
//!   4; default: where the allocator puts a plain `Vec`, 16 with glibc);
//! - `BG_OUT=f32,codec32,f16,bf16`: the I2_S / TL1 / TL2 dequantize rows (default all four):
//!   `f32` the fast decoders called directly (I2_S on the calling thread), `codec32` / `f16` /
//!   `bf16` that output through `TensorCodec` (the loading path, rows over rayon's pool).
//!
//! `(TensorCodec)` dequantize rows (f32, f16, bf16) time the loading path,
//! `TensorCodec::decode` (scale check, index scan, the fast decoders straight into the output,
//! rows split over rayon's pool), next to ggml's f32 `to_float` of the same-bits type (ggml has no 16-bit output) and, in the same
//! rounds, streaming stores of the same output bytes (the ceiling column: % of the streaming
//! line in bytes).
//!
//! Prints "SKIPPED: ..." and exits 0 when ggml is absent (our numbers alone are not a table).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bitgguf::quant::bitnet::i2s_fast::{
    decode_i2s_fast, quantize_i2s_fast, quantize_i2s_half, quantize_i2s_into, Half,
};
use bitgguf::quant::bitnet::tl_fast::{
    decode_tl1_fast, decode_tl1_fast_out, decode_tl1_fast_with, decode_tl2_fast, decode_tl2_fast_out,
    decode_tl2_fast_with,
};
use bitgguf::quant::bitnet::{
    decode_tl1, decode_tl2, encode_tl1, encode_tl2, quantize_i2s, I2sLayout, TailFill, Ternarizer, TlConfig,
};
use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::quant::tensor::TensorCodec;
use bitgguf::quant::{float, simd};
use bitgguf::synth::rng::SplitMix64;
use criterion::Criterion;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    common::median(&v)
}

fn time(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// One timed run of `f` in steady state: right after an untimed run of the same case, so the
/// timed run pays for the write-backs of its own kind's dirty lines, never for another case's
/// (an ordinary-store pass leaves up to L2 + L3, ~34 MiB here, of dirty destination lines, and
/// whatever runs next writes them back: ggml's `to_float` used to run right before our
/// one-thread case, ours right before the streaming line). The rule of `bitgguf bench`
/// (`src/bench.rs`).
fn steady(f: &mut dyn FnMut()) -> f64 {
    f();
    time(f)
}

/// Interleaved medians (seconds) of `ours` and `theirs`, each timed run in steady state
/// ([`steady`]).
fn side_by_side(rounds: usize, ours: &mut dyn FnMut(), theirs: &mut dyn FnMut()) -> (f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(steady(ours));
        b.push(steady(theirs));
    }
    (median(a), median(b))
}

/// As [`side_by_side`], with a third case (the streaming-store ceiling) in the same rounds.
fn side_by_side_ceil(
    rounds: usize,
    ours: &mut dyn FnMut(),
    theirs: &mut dyn FnMut(),
    ceil: &mut dyn FnMut(),
) -> (f64, f64, f64) {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(steady(ours));
        b.push(steady(theirs));
        c.push(steady(ceil));
    }
    (median(a), median(b), median(c))
}

/// N(0, 0.02²) weights from a fixed seed.
fn gaussian(n: usize) -> Vec<f32> {
    let mut r = SplitMix64::new(0x1234_5678_9abc_def0);
    (0..n).map(|_| (r.normal() * 0.02) as f32).collect()
}

struct Row {
    ty: &'static str,
    op: String,
    ours: f64,
    reference: &'static str,
    theirs: f64,
    /// Dequantize rows: one-thread streaming stores of the same output bytes, same rounds.
    ceiling: Option<f64>,
}

fn main() {
    let under_test = std::env::args().any(|a| a == "--test" || a == "--list") || std::env::var_os("BG_TEST").is_some();
    let Some((_, ggml)) = common::or_skip(common::load_ggml()) else { return };
    let (m, k) = if under_test { (256, 512) } else { (env_usize("BG_M", 4096), env_usize("BG_K", 4096)) };
    let rounds = if under_test { 1 } else { env_usize("BG_ROUNDS", 7) };
    let n = m * k;
    let w = gaussian(n);
    let f16: Vec<u8> = w.iter().flat_map(|&x| float::f32_to_f16(x).to_le_bytes()).collect();
    let bf16: Vec<u8> = w.iter().flat_map(|&x| float::f32_to_bf16(x).to_le_bytes()).collect();
    let mut tq2 = vec![0u8; n / 256 * 66];
    let mut tq1 = vec![0u8; n / 256 * 54];
    ggml.quantize_into(35, &w, k, None, &mut tq2);
    ggml.quantize_into(34, &w, k, None, &mut tq1);
    let mut out = vec![0.0f32; n];
    let mut rows = Vec::new();
    let (g_tq2, g_tq1) = (35u32, 34u32);
    let ggml_deq = |src: &[u8], t: u32, out: &mut [f32]| ggml.to_float_into(t, src, out);
    let only = std::env::var("BG_ONLY").unwrap_or_default();
    let want = |ty: &str| only.is_empty() || only.split(',').any(|o| o.trim() == ty);
    let tl_stream = match std::env::var("BG_TL_STREAMING").as_deref() {
        Ok("on") => Streaming::On,
        Ok("off") => Streaming::Off,
        _ => Streaming::Auto,
    };

    // Quantize.
    let lay = I2sLayout::Group128;
    for (how, hname) in [(Ternarizer::Absmean, "absmean"), (Ternarizer::SignMax, "sign-max")] {
        if !want("i2_s") {
            break;
        }
        assert_eq!(
            quantize_i2s_fast(&w, how, lay, TailFill::Zero).unwrap(),
            quantize_i2s(&w, how, lay, TailFill::Zero).unwrap(),
            "fast and scalar quantizers agree"
        );
        let mut q = vec![0u8; n / 4 + 32];
        let mut tq = vec![0u8; tq2.len()];
        let (a, b) = side_by_side(
            rounds,
            &mut || {
                black_box(quantize_i2s_into(black_box(&w), how, lay, TailFill::Zero, &mut q).unwrap());
            },
            &mut || {
                ggml.quantize_into(35, black_box(&w), k, None, &mut tq);
                black_box(&tq);
            },
        );
        rows.push(Row {
            ty: "i2_s",
            op: format!("quantize {hname} f32"),
            ours: a,
            reference: "ggml quantize tq2_0",
            theirs: b,
            ceiling: None,
        });
        for (src, kind, kname) in [(&f16, Half::F16, "f16"), (&bf16, Half::Bf16, "bf16")] {
            let (a, b) = side_by_side(
                rounds,
                &mut || q = black_box(quantize_i2s_half(black_box(src), kind, how, lay, TailFill::Zero).unwrap()),
                &mut || {
                    ggml.quantize_into(35, black_box(&w), k, None, &mut tq);
                    black_box(&tq);
                },
            );
            rows.push(Row {
                ty: "i2_s",
                op: format!("quantize {hname} {kname}"),
                ours: a,
                reference: "ggml quantize tq2_0 (f32)",
                theirs: b,
                ceiling: None,
            });
        }
        black_box(&q);
    }

    // Dequantize.
    let i2s = quantize_i2s(&w, Ternarizer::Absmean, lay, TailFill::Zero).unwrap();
    let t = bitgguf::quant::bitnet::absmean(&w).unwrap();
    let tl1_cfg = TlConfig { bm_tile: 256.min(m), bk: 128.min(k), bm: 32 };
    let tl2_cfg = TlConfig { bm_tile: 256.min(m), bk: 96, bm: 32 };
    let tl1 = encode_tl1(&t.trits, t.scale, m, k, &tl1_cfg).unwrap();
    let tl2 = encode_tl2(&t.trits, t.scale, m, k, &tl2_cfg).unwrap();
    // The fast decoders agree with the oracles before anything is timed.
    let mut check = vec![0.0f32; n];
    decode_tl1(&tl1, m, k, &tl1_cfg, &mut check).unwrap();
    decode_tl1_fast(&tl1, m, k, &tl1_cfg, &mut out).unwrap();
    assert!(check.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()), "tl1 fast == oracle");
    decode_tl2(&tl2, m, k, &tl2_cfg, &mut check).unwrap();
    decode_tl2_fast(&tl2, m, k, &tl2_cfg, &mut out).unwrap();
    assert!(check.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()), "tl2 fast == oracle");
    bitgguf::quant::bitnet::decode_i2s(&i2s, n, &mut check).unwrap();
    decode_i2s_fast(&i2s, n, lay, &mut out).unwrap();
    assert!(check.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()), "i2s fast == oracle");
    drop(check);
    // One destination for every timed dequantization, ours and ggml's alike (and for the
    // streaming-store ceiling): at 16 Mi elements where the kernel writes matters as much as
    // how (separate buffers measured up to 2x apart from one process run to the next).
    // `BG_DST_OFFSET` (bytes, a multiple of 4 below 64): where the destination starts past a
    // 64-byte boundary; default: wherever the allocator puts a plain `Vec` (glibc: 16 bytes
    // past a page for large buffers).
    let shared = std::cell::RefCell::new(vec![0f32; n + 16]);
    let at = std::env::var("BG_DST_OFFSET").ok().and_then(|v| v.parse::<usize>().ok()).map_or(0, |want| {
        let have = shared.borrow().as_ptr() as usize % 64;
        ((want % 64) + 64 - have) % 64 / 4
    });
    let dst = || std::cell::RefMut::map(shared.borrow_mut(), |v| &mut v[at..at + n]);
    let dst_bytes = || {
        std::cell::RefMut::map(shared.borrow_mut(), |v| {
            let v = &mut v[at..at + n];
            // SAFETY: the f32 buffer viewed as its 4n bytes (u8 has no alignment or validity
            // requirement).
            unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), 4 * v.len()) }
        })
    };
    println!("destination: {} bytes past a 64-byte boundary", dst_bytes().as_ptr() as usize % 64);
    // The physical ceiling of an f32 output: one-thread streaming stores of its bytes.
    // Only for outputs beyond the caches (the library's streaming threshold): streaming stores
    // evict the destination, which would make a cache-resident shape start cold.
    let big = 4 * n >= bitgguf::quant::output::STREAM_MIN_BYTES;
    let mut ceil = || {
        if big {
            bitgguf::bench::nt_fill(black_box(&mut dst_bytes()), rayon::current_num_threads())
        }
    };
    if want("i2_s") {
        let (a, b, c) = side_by_side_ceil(
            rounds,
            &mut || decode_i2s_fast(black_box(&i2s), n, lay, &mut dst()).unwrap(),
            &mut || ggml_deq(black_box(&tq2), g_tq2, &mut dst()),
            &mut ceil,
        );
        rows.push(Row {
            ty: "i2_s",
            op: "dequantize f32".into(),
            ours: a,
            reference: "ggml to_float tq2_0",
            theirs: b,
            ceiling: big.then_some(c),
        });
    }
    if want("tl1") {
        let (a, b, c) = side_by_side_ceil(
            rounds,
            &mut || decode_tl1_fast_with(black_box(&tl1), m, k, &tl1_cfg, &mut dst(), tl_stream).unwrap(),
            &mut || ggml_deq(black_box(&tq2), g_tq2, &mut dst()),
            &mut ceil,
        );
        rows.push(Row {
            ty: "tl1",
            op: "dequantize f32".into(),
            ours: a,
            reference: "ggml to_float tq2_0",
            theirs: b,
            ceiling: big.then_some(c),
        });
    }
    if want("tl2") {
        let (a, b, c) = side_by_side_ceil(
            rounds,
            &mut || decode_tl2_fast_with(black_box(&tl2), m, k, &tl2_cfg, &mut dst(), tl_stream).unwrap(),
            &mut || ggml_deq(black_box(&tq1), g_tq1, &mut dst()),
            &mut ceil,
        );
        rows.push(Row {
            ty: "tl2",
            op: "dequantize f32".into(),
            ours: a,
            reference: "ggml to_float tq1_0",
            theirs: b,
            ceiling: big.then_some(c),
        });
    }
    // f32 / f16 / bf16 outputs through the loading path (`TensorCodec`: rows split over
    // rayon's pool, unlike `decode_i2s_fast` above), checked against the scalar path (the
    // oracle's f32 stored by `store_scalar`) first. The f32 rows (BG_OUT=codec32 or the
    // default) are the all-thread f32 figures of I2_S.
    let outs = std::env::var("BG_OUT").unwrap_or_else(|_| "f32,codec32,f16,bf16".into());
    for (out, oname, key) in
        [(OutType::F32, "f32", "codec32"), (OutType::F16, "f16", "f16"), (OutType::Bf16, "bf16", "bf16")]
    {
        if !outs.split(',').any(|o| o.trim() == key) {
            continue;
        }
        let nb = out.size() as usize * n;
        let big16 = nb >= bitgguf::quant::output::STREAM_MIN_BYTES;
        let mut ceil16 = || {
            if big16 {
                bitgguf::bench::nt_fill(black_box(&mut dst_bytes()[..nb]), rayon::current_num_threads())
            }
        };
        for (ty, name, src, cfg, refsrc, reft, refname) in [
            (bitgguf::types::I2_S, "i2_s", &i2s, None, &tq2, g_tq2, "ggml to_float tq2_0 (f32)"),
            (bitgguf::types::TL1, "tl1", &tl1, Some(tl1_cfg), &tq2, g_tq2, "ggml to_float tq2_0 (f32)"),
            (bitgguf::types::TL2, "tl2", &tl2, Some(tl2_cfg), &tq1, g_tq1, "ggml to_float tq1_0 (f32)"),
        ] {
            if !want(name) {
                continue;
            }
            let mut codec = TensorCodec::new(ty, [k as u64, m as u64, 1, 1]);
            codec.tl = cfg;
            let mut vals = vec![0f32; n];
            match name {
                "i2_s" => bitgguf::quant::bitnet::decode_i2s(src, n, &mut vals).unwrap(),
                "tl1" => decode_tl1(src, m, k, &tl1_cfg, &mut vals).unwrap(),
                _ => decode_tl2(src, m, k, &tl2_cfg, &mut vals).unwrap(),
            }
            let mut want16 = vec![0u8; nb];
            bitgguf::quant::output::store_scalar(out, &vals, &mut want16);
            drop(vals);
            codec.decode(src, out, &mut dst_bytes()[..nb]).unwrap();
            assert!(dst_bytes()[..nb] == want16[..], "{name} {oname} fast == scalar path");
            drop(want16);
            let (a, b, c) = side_by_side_ceil(
                rounds,
                &mut || {
                    let d = &mut dst_bytes()[..nb];
                    match (name, tl_stream) {
                        // BG_TL_STREAMING set: the TL decoders directly, with that choice.
                        ("tl1", Streaming::On | Streaming::Off) => {
                            decode_tl1_fast_out(black_box(src), m, k, &tl1_cfg, out, d, tl_stream).unwrap()
                        }
                        ("tl2", Streaming::On | Streaming::Off) => {
                            decode_tl2_fast_out(black_box(src), m, k, &tl2_cfg, out, d, tl_stream).unwrap()
                        }
                        _ => codec.decode(black_box(src), out, d).unwrap(),
                    }
                },
                &mut || ggml_deq(black_box(refsrc), reft, &mut dst()),
                &mut ceil16,
            );
            rows.push(Row {
                ty: name,
                op: match (name, tl_stream) {
                    ("tl1" | "tl2", Streaming::On | Streaming::Off) => {
                        format!("dequantize {oname} (streaming {tl_stream:?})")
                    }
                    _ => format!("dequantize {oname} (TensorCodec)"),
                },
                ours: a,
                reference: refname,
                theirs: b,
                ceiling: big16.then_some(c),
            });
        }
    }
    let one = DecodeOptions { threads: 1, ..DecodeOptions::default() };
    for (id, src, f, name, refname) in
        [(35u32, &tq2, g_tq2, "tq2_0", "ggml to_float tq2_0"), (34, &tq1, g_tq1, "tq1_0", "ggml to_float tq1_0")]
    {
        if !want(name) {
            continue;
        }
        let (a, b, c) = side_by_side_ceil(
            rounds,
            &mut || decode_into_with(id, black_box(src), n as u64, OutType::F32, &mut dst_bytes(), &one).unwrap(),
            &mut || ggml_deq(black_box(src), f, &mut dst()),
            &mut ceil,
        );
        rows.push(Row {
            ty: name,
            op: "dequantize f32".into(),
            ours: a,
            reference: refname,
            theirs: b,
            ceiling: big.then_some(c),
        });
    }

    println!(
        "machine: {} CPUs ({} SIMD); shape {m} x {k} = {n} elements; {} rayon thread(s) (RAYON_NUM_THREADS); medians of {rounds} interleaved rounds, each timed run after an untimed run of the same case",
        std::thread::available_parallelism().map_or(0, |v| v.get()),
        simd::level().name(),
        rayon::current_num_threads()
    );
    println!(
        "| type | op | ours Gelem/s | reference | reference Gelem/s | ratio | stream-store ceiling Gelem/s (ours %) |"
    );
    println!("|---|---|---:|---|---:|---:|---:|");
    for r in &rows {
        let (ga, gb) = (n as f64 / r.ours / 1e9, n as f64 / r.theirs / 1e9);
        let ceil = r.ceiling.map_or("–".to_string(), |c| {
            let gc = n as f64 / c / 1e9;
            format!("{gc:.2} ({:.0}%)", 100.0 * ga / gc)
        });
        println!("| {} | {} | {ga:.2} | {} | {gb:.2} | {:.2}x | {ceil} |", r.ty, r.op, r.reference, ga / gb);
    }

    if std::env::var("BG_CRITERION").is_ok_and(|v| v == "1") && !under_test {
        let mut c = Criterion::default().measurement_time(Duration::from_secs(2)).configure_from_args();
        let small = &w[..(1 << 20).min(n)];
        let q = quantize_i2s_fast(small, Ternarizer::Absmean, lay, TailFill::Zero).unwrap();
        let mut o = vec![0.0f32; small.len()];
        let mut g = c.benchmark_group("i2s_1Mi");
        g.throughput(criterion::Throughput::Elements(small.len() as u64));
        g.bench_function("quantize_absmean", |b| {
            b.iter(|| quantize_i2s_fast(small, Ternarizer::Absmean, lay, TailFill::Zero))
        });
        g.bench_function("quantize_sign_max", |b| {
            b.iter(|| quantize_i2s_fast(small, Ternarizer::SignMax, lay, TailFill::Zero))
        });
        g.bench_function("dequantize", |b| b.iter(|| decode_i2s_fast(&q, small.len(), lay, &mut o)));
        g.finish();
        c.final_summary();
    }
}
