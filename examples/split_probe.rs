//! How a large decode uses two threads (docs/PERFORMANCE.md, "one thread vs two"): the
//! diagnostic behind `decode_into_with`'s split. Needs ggml for the data (`BG_GGML_LIB`).
//!
//! `cargo run --release --example split_probe -- TYPES [ROUNDS] [MODE]`, TYPES comma-separated
//! (default q3_k), 32 Mi elements, f32 out. MODE:
//! - `paired` (default): one thread; the previous split (8 pieces over rayon's pool, the
//!   calling thread waiting) and the library's (`share_pieces`); streaming-store fills split
//!   both ways. Every case once per round, interleaved; medians, and the medians of the per-round
//!   ratios (robust to a machine whose speed changes between rounds).
//! - `spans`: one thread, then two halves through `rayon::join`; per round, when each half
//!   started and ended (ms after the call), on which CPU, and its thread CPU time.
//! - `l2`: compute scaling without memory: 256 Ki elements (1 MiB out, L2-resident) decoded 200
//!   times by one thread alone, then by two threads at once, each into its own buffer.

use std::hint::black_box;
use std::time::Instant;

use bitgguf::bench::{nt_fill, time_ms, AlignedBuf, Samples};
use bitgguf::oracle::ggml::GgmlLib;
use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType};
use bitgguf::synth::rng::SplitMix64;
use bitgguf::types;
use rayon::prelude::*;

/// One timed case: fills the destination.
type Case<'a> = Box<dyn Fn(&mut [u8]) + 'a>;

/// This thread's CPU time in ms.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let names = args.get(1).map_or("q3_k", |s| s.as_str()).to_string();
    let rounds: usize = args.get(2).map_or(15, |s| s.parse().expect("ROUNDS: a number"));
    let mode = args.get(3).map_or("paired", |s| s.as_str()).to_string();
    let elems: usize = 32 << 20;
    let g = GgmlLib::from_env().expect("ggml").expect("set BG_GGML_LIB");
    let mut r = SplitMix64::new(0x5eed_d00d);
    let vals: Vec<f32> = (0..1 << 20).map(|_| r.normal() as f32).collect();
    let mut dst = AlignedBuf::new(elems * 4);
    let one_t = DecodeOptions { threads: 1, ..DecodeOptions::default() };
    for name in names.split(',') {
        let t = types::from_name(name).expect("a type name");
        let (id, blck, tsize) = (t.id, t.blck as usize, t.tsize as usize);
        let mut one = vec![0u8; (1 << 20) / blck * tsize];
        let ones = vec![1f32; 4096];
        let im = g.requires_imatrix(id).then_some(&ones[..]);
        g.quantize_chunk(id, &vals, 4096, im, &mut one).expect("ggml quantizes it");
        let src: Vec<u8> = one.iter().copied().cycle().take(elems / blck * tsize).collect();
        let decode = |s: &[u8], d: &mut [u8], o: &DecodeOptions| {
            decode_into_with(id, s, (s.len() / tsize * blck) as u64, OutType::F32, d, o).expect("decodes");
        };
        match mode.as_str() {
            "spans" => {
                let half = elems / 2;
                let (sa, sb) = src.split_at(half / blck * tsize);
                for _ in 0..rounds {
                    let d = dst.bytes();
                    let (w1, c1) = {
                        let (t0, c0) = (Instant::now(), cpu_ms());
                        decode(&src, d, &one_t);
                        (t0.elapsed().as_secs_f64() * 1e3, cpu_ms() - c0)
                    };
                    let (da, db) = d.split_at_mut(half * 4);
                    let t0 = Instant::now();
                    let run = |s: &[u8], d: &mut [u8]| {
                        let start = t0.elapsed().as_secs_f64() * 1e3;
                        // SAFETY: no arguments; returns the CPU this thread runs on.
                        let core = unsafe { libc::sched_getcpu() };
                        let c0 = cpu_ms();
                        decode(s, d, &one_t);
                        format!(
                            "cpu{core} {start:.2}..{:.2} ms (cpu time {:.2})",
                            t0.elapsed().as_secs_f64() * 1e3,
                            cpu_ms() - c0
                        )
                    };
                    let (a, b) = rayon::join(|| run(sa, da), || run(sb, db));
                    let w2 = t0.elapsed().as_secs_f64() * 1e3;
                    println!("{name}: 1T {w1:.2} ms (cpu time {c1:.2}); 2T {w2:.2} ms: A {a}; B {b}");
                }
            }
            "l2" => {
                let n = 1usize << 18;
                let s = &src[..n / blck * tsize];
                let work = |reps: usize| {
                    let mut b = AlignedBuf::new(n * 4);
                    let t0 = Instant::now();
                    for _ in 0..reps {
                        decode(black_box(s), b.bytes(), &one_t);
                    }
                    (n * reps) as f64 / t0.elapsed().as_secs_f64() / 1e9
                };
                for _ in 0..rounds.min(5) {
                    let alone = work(200);
                    let (a, b) = rayon::join(|| work(200), || work(200));
                    println!("{name} L2: alone {alone:.2} Gelem/s; together {a:.2} + {b:.2} = {:.2}", a + b);
                }
            }
            _ => {
                // The split before share_pieces: 8 pieces over the pool, the caller waiting.
                let old2 = |d: &mut [u8]| {
                    let piece = elems / 8;
                    src.par_chunks(piece / blck * tsize)
                        .zip(d.par_chunks_mut(piece * 4))
                        .for_each(|(s, d)| decode(s, d, &one_t));
                };
                let old_nt = |d: &mut [u8]| {
                    let piece = d.len() / 8;
                    d.par_chunks_mut(piece).for_each(|d| nt_fill(d, 1));
                };
                let cases: Vec<Case> = vec![
                    Box::new(|d| decode(&src, d, &one_t)),
                    Box::new(old2),
                    Box::new(|d| decode(&src, d, &DecodeOptions::default())),
                    Box::new(|d| nt_fill(d, 1)),
                    Box::new(old_nt),
                    Box::new(|d| nt_fill(d, 2)),
                ];
                let mut times: Vec<Samples> = cases.iter().map(|_| Samples::default()).collect();
                for round in 0..=rounds {
                    for (i, f) in cases.iter().enumerate() {
                        let ms = time_ms(|| f(dst.bytes()));
                        if round > 0 {
                            times[i].0.push(ms);
                        }
                    }
                }
                // Median over rounds of time[b] / time[a], i.e. the speed of a over b.
                let ratio = |a: usize, b: usize| {
                    Samples(times[a].0.iter().zip(&times[b].0).map(|(x, y)| y / x).collect()).median()
                };
                let g = |i: usize| elems as f64 / times[i].median() / 1e6;
                println!(
                    "{name}: Gelem/s 1T {:.2} | 2T old {:.2} new {:.2} | fill 1T {:.2}, 2T old {:.2} new {:.2} || \
                     per-round medians: 2T/1T old {:.2} new {:.2}; new/old {:.2}; 2T/fill2T old {:.0}% new {:.0}%",
                    g(0),
                    g(1),
                    g(2),
                    g(3),
                    g(4),
                    g(5),
                    ratio(1, 0),
                    ratio(2, 0),
                    ratio(2, 1),
                    100.0 / ratio(4, 1),
                    100.0 / ratio(5, 2)
                );
            }
        }
    }
}
