//! BitNet ternary codecs side by side with ggml, one thread, in one process.
//!
//! ggml has no I2_S, TL1 or TL2 code, so each of our operations is timed next to the ggml
//! operation on the same number of elements of the closest upstream type:
//! - I2_S quantize (absmean / sign-max, from f32, f16, bf16) vs ggml's `ggml_quantize_chunk`
//!   TQ2_0 from f32 (the 2-bit ternary type, per-block absmax, `quantize_row_tq2_0_ref`);
//! - I2_S and TL1 dequantize (2 bits/weight) vs ggml's TQ2_0 `to_float`; TL2 (5/3 bits/weight)
//!   vs ggml's TQ1_0 `to_float` (1.69 bits/weight);
//! - our TQ2_0 / TQ1_0 `decode_into` (one thread) vs ggml's.
//!
//! Rounds are interleaved (ours, ggml, ours, ggml, ...) and the table shows medians.
//! `cargo bench --bench bitnet` (or `scripts/bench_bitnet.sh`). Environment:
//! - `BG_GGML_LIB`, `BG_PYTHON`: where `libggml-base.so` is (see `common::find_ggml`);
//! - `BG_M`, `BG_K`: the tensor shape (default 4096 x 4096 = 16 Mi elements; 256 x 512 under
//!   `cargo test --benches`);
//! - `BG_ROUNDS`: timed rounds (default 7; 1 as a test);
//! - `BG_CRITERION=1`: also run criterion on the I2_S kernels (1 Mi elements);
//! - `BG_ONLY`: comma-separated type names (`i2_s,tl1,tl2,tq1_0,tq2_0`): only those rows;
//! - `BG_TL_STREAMING=on|off`: streaming stores for TL1 / TL2 (default: the library's choice).
//!
//! Prints "SKIPPED: ..." and exits 0 when ggml is absent (our numbers alone are not a table).

mod common;

use std::ffi::c_void;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use bitgguf::quant::bitnet::i2s_fast::{
    decode_i2s_fast, quantize_i2s_fast, quantize_i2s_half, quantize_i2s_into, Half,
};
use bitgguf::quant::bitnet::tl_fast::{decode_tl1_fast, decode_tl1_fast_with, decode_tl2_fast, decode_tl2_fast_with};
use bitgguf::quant::bitnet::{
    decode_tl1, decode_tl2, encode_tl1, encode_tl2, quantize_i2s, I2sLayout, TailFill, Ternarizer, TlConfig,
};
use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::quant::{float, simd};
use criterion::Criterion;

type ToFloat = unsafe extern "C" fn(x: *const c_void, y: *mut f32, k: i64);
type QuantizeChunk = unsafe extern "C" fn(i32, *const f32, *mut c_void, i64, i64, i64, *const f32) -> usize;

/// The leading fields of `struct ggml_type_traits` (libggml-python 0.20.2's include/ggml.h).
#[repr(C)]
struct TypeTraits {
    type_name: *const std::ffi::c_char,
    blck_size: i64,
    blck_size_interleave: i64,
    type_size: usize,
    is_quantized: bool,
    to_float: Option<ToFloat>,
}

struct Ggml {
    _lib: libloading::Library,
    traits: unsafe extern "C" fn(i32) -> *const TypeTraits,
    quantize_chunk: QuantizeChunk,
}

impl Ggml {
    fn load(path: &Path) -> Result<Ggml, String> {
        // SAFETY: loading ggml runs its trivial initializers; the symbols are used with the
        // signatures of the package's include/ggml.h.
        unsafe {
            let lib = libloading::Library::new(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
            let traits = *lib
                .get::<unsafe extern "C" fn(i32) -> *const TypeTraits>(b"ggml_get_type_traits\0")
                .map_err(|e| e.to_string())?;
            let quantize_chunk = *lib.get::<QuantizeChunk>(b"ggml_quantize_chunk\0").map_err(|e| e.to_string())?;
            Ok(Ggml { _lib: lib, traits, quantize_chunk })
        }
    }

    fn to_float(&self, t: u32) -> ToFloat {
        // SAFETY: a pointer into ggml's static type table (t is 34 or 35).
        unsafe { (*(self.traits)(t as i32)).to_float.expect("ggml has to_float for tq1_0 / tq2_0") }
    }

    fn quantize(&self, t: u32, src: &[f32], k: usize, dst: &mut [u8]) -> usize {
        // SAFETY: `dst` holds the quantized size of `src` (checked by the caller's assert).
        unsafe {
            (self.quantize_chunk)(
                t as i32,
                src.as_ptr(),
                dst.as_mut_ptr().cast(),
                0,
                (src.len() / k) as i64,
                k as i64,
                std::ptr::null(),
            )
        }
    }
}

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

/// Interleaved medians (seconds) of `ours` and `theirs` after one warm-up each.
fn side_by_side(rounds: usize, ours: &mut dyn FnMut(), theirs: &mut dyn FnMut()) -> (f64, f64) {
    ours();
    theirs();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(time(ours));
        b.push(time(theirs));
    }
    (median(a), median(b))
}

fn gaussian(n: usize) -> Vec<f32> {
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (next().max(1e-300), next());
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * 0.02) as f32
        })
        .collect()
}

struct Row {
    ty: &'static str,
    op: String,
    ours: f64,
    reference: &'static str,
    theirs: f64,
}

fn main() {
    let under_test = std::env::args().any(|a| a == "--test" || a == "--list") || std::env::var_os("BG_TEST").is_some();
    let lib = match common::find_ggml() {
        Ok(p) => p,
        Err(why) => {
            println!("SKIPPED: ggml not found: {why}");
            return;
        }
    };
    let ggml = match Ggml::load(&lib) {
        Ok(g) => g,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let (m, k) = if under_test { (256, 512) } else { (env_usize("BG_M", 4096), env_usize("BG_K", 4096)) };
    let rounds = if under_test { 1 } else { env_usize("BG_ROUNDS", 7) };
    let n = m * k;
    let w = gaussian(n);
    let f16: Vec<u8> = w.iter().flat_map(|&x| float::f32_to_f16(x).to_le_bytes()).collect();
    let bf16: Vec<u8> = w.iter().flat_map(|&x| float::f32_to_bf16(x).to_le_bytes()).collect();
    let mut tq2 = vec![0u8; n / 256 * 66];
    let mut tq1 = vec![0u8; n / 256 * 54];
    assert_eq!(ggml.quantize(35, &w, k, &mut tq2), tq2.len());
    assert_eq!(ggml.quantize(34, &w, k, &mut tq1), tq1.len());
    let mut out = vec![0.0f32; n];
    let mut out_b = vec![0u8; 4 * n];
    let mut rows = Vec::new();
    let g_tq2 = ggml.to_float(35);
    let g_tq1 = ggml.to_float(34);
    let ggml_deq = |src: &[u8], f: ToFloat, out: &mut [f32]| {
        // SAFETY: `src` holds n elements of the type whose to_float `f` is; `out` n floats.
        unsafe { f(src.as_ptr().cast(), out.as_mut_ptr(), n as i64) }
    };
    let mut ref_out = vec![0.0f32; n];
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
                black_box(ggml.quantize(35, black_box(&w), k, &mut tq));
            },
        );
        rows.push(Row {
            ty: "i2_s",
            op: format!("quantize {hname} f32"),
            ours: a,
            reference: "ggml quantize tq2_0",
            theirs: b,
        });
        for (src, kind, kname) in [(&f16, Half::F16, "f16"), (&bf16, Half::Bf16, "bf16")] {
            let (a, b) = side_by_side(
                rounds,
                &mut || q = black_box(quantize_i2s_half(black_box(src), kind, how, lay, TailFill::Zero).unwrap()),
                &mut || {
                    black_box(ggml.quantize(35, black_box(&w), k, &mut tq));
                },
            );
            rows.push(Row {
                ty: "i2_s",
                op: format!("quantize {hname} {kname}"),
                ours: a,
                reference: "ggml quantize tq2_0 (f32)",
                theirs: b,
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
    if want("i2_s") {
        let (a, b) =
            side_by_side(rounds, &mut || decode_i2s_fast(black_box(&i2s), n, lay, &mut out).unwrap(), &mut || {
                ggml_deq(black_box(&tq2), g_tq2, &mut ref_out)
            });
        rows.push(Row {
            ty: "i2_s",
            op: "dequantize f32".into(),
            ours: a,
            reference: "ggml to_float tq2_0",
            theirs: b,
        });
    }
    if want("tl1") {
        let (a, b) = side_by_side(
            rounds,
            &mut || decode_tl1_fast_with(black_box(&tl1), m, k, &tl1_cfg, &mut out, tl_stream).unwrap(),
            &mut || ggml_deq(black_box(&tq2), g_tq2, &mut ref_out),
        );
        rows.push(Row { ty: "tl1", op: "dequantize f32".into(), ours: a, reference: "ggml to_float tq2_0", theirs: b });
    }
    if want("tl2") {
        let (a, b) = side_by_side(
            rounds,
            &mut || decode_tl2_fast_with(black_box(&tl2), m, k, &tl2_cfg, &mut out, tl_stream).unwrap(),
            &mut || ggml_deq(black_box(&tq1), g_tq1, &mut ref_out),
        );
        rows.push(Row { ty: "tl2", op: "dequantize f32".into(), ours: a, reference: "ggml to_float tq1_0", theirs: b });
    }
    let one = DecodeOptions { threads: 1, ..DecodeOptions::default() };
    for (id, src, f, name, refname) in
        [(35u32, &tq2, g_tq2, "tq2_0", "ggml to_float tq2_0"), (34, &tq1, g_tq1, "tq1_0", "ggml to_float tq1_0")]
    {
        if !want(name) {
            continue;
        }
        let (a, b) = side_by_side(
            rounds,
            &mut || decode_into_with(id, black_box(src), n as u64, OutType::F32, &mut out_b, &one).unwrap(),
            &mut || ggml_deq(black_box(src), f, &mut ref_out),
        );
        rows.push(Row { ty: name, op: "dequantize f32".into(), ours: a, reference: refname, theirs: b });
    }

    println!(
        "machine: {} CPUs ({} SIMD); shape {m} x {k} = {n} elements; one thread; medians of {rounds} interleaved rounds",
        std::thread::available_parallelism().map_or(0, |v| v.get()),
        simd::level().name()
    );
    println!("| type | op | ours Gelem/s | reference | reference Gelem/s | ratio |");
    println!("|---|---|---:|---|---:|---:|");
    for r in &rows {
        let (ga, gb) = (n as f64 / r.ours / 1e9, n as f64 / r.theirs / 1e9);
        println!("| {} | {} | {ga:.2} | {} | {gb:.2} | {:.2}x |", r.ty, r.op, r.reference, ga / gb);
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
