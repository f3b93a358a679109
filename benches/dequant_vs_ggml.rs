//! Dequantization side by side, in one process: ggml's `to_float` (the real `libggml-base.so` of
//! the Python package `libggml-python`, loaded at run time) against bitgguf's scalar oracle, its
//! fast (SIMD) kernels on one thread (ordinary and streaming stores), and the default
//! `decode_into` (fast kernels, all threads, streaming stores for large outputs); plus memcpy
//! and plain / streaming store bandwidth of the same output size as the physical references.
//!
//! `cargo bench --bench dequant_vs_ggml` (or `scripts/bench_dequant.sh`). Environment:
//! - `BG_GGML_LIB`, `BG_PYTHON`: where `libggml-base.so` is (see `common::find_ggml`);
//! - `BG_ELEMS`: elements per type (default 32 Mi under `cargo bench`, 256 Ki as a test);
//! - `BG_ROUNDS`: timed rounds per case (default 5, 1 as a test), after one warm-up;
//! - `BG_TYPES`: comma-separated type names to run (default: every type ggml and we decode);
//! - `BG_OUTS`: also time f16 / bf16 output (`f16,bf16`; default both).
//!
//! Data: 1 Mi (or `BG_ELEMS`, if fewer) normal values quantized by ggml's own `ggml_quantize_chunk` (an all-ones
//! importance matrix for the types that require one), tiled to `BG_ELEMS`. Before timing, our
//! output is checked against ggml's, bit for bit (NaN equals NaN). Outputs go into
//! 64-byte-aligned, pre-touched buffers that are reused, so page faults are not timed.
//! Prints "SKIPPED: ..." and exits 0 when ggml is absent.

mod common;

use std::ffi::{c_char, c_void, CStr};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::quant::{self, simd};
use bitgguf::types;
use rayon::prelude::*;

type ToFloat = unsafe extern "C" fn(x: *const c_void, y: *mut f32, k: i64);
type FromFloat = unsafe extern "C" fn(x: *const f32, y: *mut c_void, k: i64);

/// `struct ggml_type_traits` of the package's include/ggml.h (0.20.2).
#[repr(C)]
struct TypeTraits {
    type_name: *const c_char,
    blck_size: i64,
    blck_size_interleave: i64,
    type_size: usize,
    is_quantized: bool,
    to_float: Option<ToFloat>,
    from_float_ref: Option<FromFloat>,
}

type QuantizeChunk = unsafe extern "C" fn(i32, *const f32, *mut c_void, i64, i64, i64, *const f32) -> usize;

struct Ggml {
    _lib: libloading::Library,
    traits: unsafe extern "C" fn(i32) -> *const TypeTraits,
    quantize_chunk: QuantizeChunk,
    requires_imatrix: unsafe extern "C" fn(i32) -> bool,
}

impl Ggml {
    fn load(path: &Path) -> Result<Ggml, String> {
        // SAFETY: loading ggml runs its (trivial) initializers; the symbols are used with the
        // signatures of the package's own include/ggml.h.
        unsafe {
            let lib = libloading::Library::new(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
            let traits = *lib
                .get::<unsafe extern "C" fn(i32) -> *const TypeTraits>(b"ggml_get_type_traits\0")
                .map_err(|e| e.to_string())?;
            let quantize_chunk = *lib.get::<QuantizeChunk>(b"ggml_quantize_chunk\0").map_err(|e| e.to_string())?;
            let requires_imatrix = *lib
                .get::<unsafe extern "C" fn(i32) -> bool>(b"ggml_quantize_requires_imatrix\0")
                .map_err(|e| e.to_string())?;
            Ok(Ggml { _lib: lib, traits, quantize_chunk, requires_imatrix })
        }
    }

    fn traits(&self, t: u32) -> &TypeTraits {
        // SAFETY: ggml returns a pointer into its static table for any id < GGML_TYPE_COUNT
        // (every id we pass is in our upstream table, which a test matches against ggml's).
        unsafe { &*(self.traits)(t as i32) }
    }

    fn name(&self, t: u32) -> String {
        // SAFETY: a static C string.
        unsafe { CStr::from_ptr(self.traits(t).type_name) }.to_string_lossy().into_owned()
    }

    /// Quantize `src` (rows of `n_per_row`) to type `t`.
    fn quantize(&self, t: u32, src: &[f32], n_per_row: usize, tsize: usize, blck: usize) -> Vec<u8> {
        let nrows = src.len() / n_per_row;
        let mut out = vec![0u8; src.len() / blck * tsize];
        // SAFETY: plain query.
        let imatrix = if unsafe { (self.requires_imatrix)(t as i32) } { vec![1f32; n_per_row] } else { Vec::new() };
        let im = if imatrix.is_empty() { std::ptr::null() } else { imatrix.as_ptr() };
        // SAFETY: buffers sized as ggml requires (nrows * row size bytes; n_per_row imatrix).
        let written = unsafe {
            (self.quantize_chunk)(
                t as i32,
                src.as_ptr(),
                out.as_mut_ptr().cast(),
                0,
                nrows as i64,
                n_per_row as i64,
                im,
            )
        };
        assert_eq!(written, out.len(), "ggml_quantize_chunk size for {}", self.name(t));
        out
    }
}

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

/// Medians of seconds.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    common::median(&v)
}

fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
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

fn plain_fill(dst: &mut [u8], threads: usize) {
    if threads <= 1 {
        return dst.fill(black_box(7));
    }
    let piece = dst.len().div_ceil(threads * 4);
    dst.par_chunks_mut(piece).for_each(|d| d.fill(black_box(7)));
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

fn main() {
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
    let bench = std::env::args().any(|a| a == "--bench");
    let env_usize = |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let elems = env_usize("BG_ELEMS", if bench { 32 << 20 } else { 256 << 10 }).max(1 << 16) >> 16 << 16;
    let rounds = env_usize("BG_ROUNDS", if bench { 5 } else { 1 }).max(1);
    let only: Option<Vec<String>> =
        std::env::var("BG_TYPES").ok().map(|s| s.split(',').map(|t| t.trim().to_ascii_lowercase()).collect());
    let outs: Vec<OutType> = std::env::var("BG_OUTS")
        .unwrap_or_else(|_| "f16,bf16".into())
        .split(',')
        .filter_map(|s| match s.trim() {
            "f16" => Some(OutType::F16),
            "bf16" => Some(OutType::Bf16),
            _ => None,
        })
        .collect();
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

    // Physical references for the f32 output size.
    let out_len = elems * 4;
    let mut dst = Buf::new(out_len);
    let mut src_copy = Buf::new(out_len);
    let (mut t_cpy, mut t_fill, mut t_nt1, mut t_ntn, mut t_filln) = (vec![], vec![], vec![], vec![], vec![]);
    for r in 0..=rounds {
        let s = src_copy.bytes().to_vec();
        let c = time(|| dst.bytes().copy_from_slice(black_box(&s)));
        let f = time(|| plain_fill(dst.bytes(), 1));
        let fnn = time(|| plain_fill(dst.bytes(), threads));
        let n1 = time(|| nt_fill(dst.bytes(), 1));
        let nn = time(|| nt_fill(dst.bytes(), threads));
        if r > 0 {
            t_cpy.push(c);
            t_fill.push(f);
            t_filln.push(fnn);
            t_nt1.push(n1);
            t_ntn.push(nn);
        }
    }
    let gbs = |t: f64| out_len as f64 / t / 1e9;
    let bw_nt_all = gbs(median(t_ntn.clone()));
    println!();
    println!("reference bandwidth, {} MiB destination (GB/s of destination bytes, medians):", out_len >> 20);
    println!("  memcpy (1 thread)                         {:>6.2}", gbs(median(t_cpy)));
    println!("  memset (1 thread; glibc may stream)       {:>6.2}", gbs(median(t_fill)));
    println!("  memset ({threads} threads, rayon)               {:>6.2}", gbs(median(t_filln)));
    println!("  streaming stores (1 thread)               {:>6.2}", gbs(median(t_nt1)));
    println!("  streaming stores ({threads} threads, rayon)        {:>6.2}", bw_nt_all);

    // The data: up to 1 Mi normal values (xorshift, sum of 4 uniforms), quantized by ggml, tiled.
    let base_n = elems.min(1 << 20);
    let mut x = 0x5eed_d00du64;
    let vals: Vec<f32> = (0..base_n)
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

    let mut rows = Vec::new();
    let mut rows_half = Vec::new();
    for t in types::UPSTREAM.iter() {
        let id = t.id;
        if quant::decoder(id).is_none() || ggml.traits(id).to_float.is_none() || t.blck == 0 {
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
        let one = ggml.quantize(id, &vals, 4096, tsize, blck);
        let reps = elems.div_ceil(base_n);
        let mut src = Vec::with_capacity(one.len() * reps);
        for _ in 0..reps {
            src.extend_from_slice(&one);
        }
        src.truncate(elems / blck * tsize);
        let to_float = ggml.traits(id).to_float.unwrap();
        let n = elems;

        // Correctness first.
        let mut theirs = vec![0f32; n];
        // SAFETY: `src` holds n/blck whole blocks, `theirs` n floats.
        unsafe { to_float(src.as_ptr().cast(), theirs.as_mut_ptr(), n as i64) };
        let opts_default = DecodeOptions::default();
        decode_into_with(id, &src, n as u64, OutType::F32, dst.bytes(), &opts_default).unwrap();
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
        let cases: [(&str, Option<DecodeOptions>); 6] = [
            ("ggml", None),
            ("scalar1", Some(o(false, 1, Streaming::Off))),
            ("simd1_plain", Some(o(true, 1, Streaming::Off))),
            ("simd1", Some(o(true, 1, Streaming::Auto))),
            ("all_plain", Some(o(true, 0, Streaming::Off))),
            ("all", Some(opts_default)),
        ];
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        for r in 0..=rounds {
            for (k, (_, opts)) in cases.iter().enumerate() {
                let d = dst.bytes();
                let secs = match opts {
                    None => time(|| {
                        // SAFETY: as above; `d` is 64-byte aligned and holds n floats.
                        unsafe { to_float(black_box(src.as_ptr()).cast(), d.as_mut_ptr().cast(), n as i64) }
                    }),
                    Some(opts) => {
                        time(|| decode_into_with(id, black_box(&src), n as u64, OutType::F32, d, opts).unwrap())
                    }
                };
                if r > 0 {
                    times[k].push(secs);
                }
            }
        }
        let rate: Vec<f64> = times.into_iter().map(|t| n as f64 / median(t) / 1e9).collect();
        let fast = simd::kernel(id).is_some();
        rows.push((t.name, fast, rate));

        for &out in &outs {
            let len = n * out.size() as usize;
            let cases = [o(false, 1, Streaming::Off), o(true, 1, Streaming::Auto), opts_default];
            let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
            for r in 0..=rounds {
                for (k, opts) in cases.iter().enumerate() {
                    let d = &mut dst.bytes()[..len];
                    let secs = time(|| decode_into_with(id, black_box(&src), n as u64, out, d, opts).unwrap());
                    if r > 0 {
                        times[k].push(secs);
                    }
                }
            }
            let rate: Vec<f64> = times.into_iter().map(|t| n as f64 / median(t) / 1e9).collect();
            rows_half.push((t.name, out, fast, rate));
        }
    }

    println!();
    println!("f32 output, Gelem/s (medians); ratios against ggml to_float (1 thread); GB/s of output");
    println!(
        "{:<8} {:>4} | {:>6} | {:>7} {:>7} {:>7} | {:>7} {:>7} | {:>7} {:>7} | {:>7} {:>6}",
        "type",
        "simd",
        "ggml",
        "scalar1",
        "simd1pl",
        "simd1",
        "allpl",
        "all",
        "1T/ggml",
        "all/ggml",
        "all GB/s",
        "%NTbw"
    );
    let mut results = Vec::new();
    for (name, fast, r) in &rows {
        let best1 = r[2].max(r[3]);
        let all = r[5];
        println!(
            "{:<8} {:>4} | {:>6.2} | {:>7.2} {:>7.2} {:>7.2} | {:>7.2} {:>7.2} | {:>6.2}x {:>6.2}x | {:>7.2} {:>5.0}%",
            name,
            if *fast { "yes" } else { "no" },
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            all,
            r[3] / r[0],
            all / r[0],
            all * 4.0,
            all * 4.0 / bw_nt_all * 100.0
        );
        results.push(format!("{name}:{:.2}:{:.2}:{:.2}", r[0], best1, all));
    }
    println!("columns: ggml = to_float, 1 thread; scalar1 = our scalar oracle, 1 thread; simd1pl = fast kernel,");
    println!("         1 thread, plain stores; simd1 = fast kernel, 1 thread, default stores (streaming for outputs");
    println!("         >= 8 MiB); allpl / all = decode_into on {threads} threads, plain / default stores.");
    println!(
        "         1T/ggml = simd1 / ggml; %NTbw = all's output GB/s / streaming-store bandwidth ({threads} threads)."
    );
    if !rows_half.is_empty() {
        println!();
        println!("f16 / bf16 output, Gelem/s (medians); GB/s of output bytes for `all`");
        println!(
            "{:<8} {:>4} {:>4} | {:>7} {:>7} {:>7} | {:>7} {:>6}",
            "type", "out", "simd", "scalar1", "simd1", "all", "GB/s", "%NTbw"
        );
        for (name, out, fast, r) in &rows_half {
            println!(
                "{:<8} {:>4} {:>4} | {:>7.2} {:>7.2} {:>7.2} | {:>7.2} {:>5.0}%",
                name,
                out.name(),
                if *fast { "yes" } else { "no" },
                r[0],
                r[1],
                r[2],
                r[2] * 2.0,
                r[2] * 2.0 / bw_nt_all * 100.0
            );
        }
    }
    println!();
    println!("RESULT name:ggml:best_1T:all (Gelem/s) {}", results.join(" "));
}
