//! Streaming vs ordinary stores, per type and output type, in one process: for each case the
//! decode with `Streaming::On`, with `Streaming::Off` and with the current `Streaming::Auto`,
//! on all threads and on one thread, next to the streaming-store fill of the same bytes (the
//! line `bitgguf bench` measures against), every case once per round, interleaved, each timed
//! run after an untimed run of the same case (steady state, as `bitgguf bench`). Prints
//! medians as % of the fill of the same thread count.
//!
//! ```sh
//! BG_GGML_LIB=... cargo run --release --example stream_ab -- q5_0,q5_1 f16,bf16 [ROUNDS] [ELEMS]
//! ```
//! (ggml quantizes the data when `BG_GGML_LIB` is set, as `bitgguf bench`; else our quantizer,
//! which skips the types it cannot quantize.)

use std::hint::black_box;

use bitgguf::bench::{nt_fill, time_ms, AlignedBuf, Samples};
use bitgguf::oracle::ggml::GgmlLib;
use bitgguf::quant::output::{decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::types;

fn normal_values(n: usize) -> Vec<f32> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut u = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n).map(|_| ((-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos()) as f32).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let names = args.get(1).map_or("q5_0,q5_1,q8_0,q6_k,f16,bf16", |s| s.as_str());
    let outs: Vec<OutType> = args
        .get(2)
        .map_or("f16,bf16", |s| s.as_str())
        .split(',')
        .map(|o| match o {
            "f32" => OutType::F32,
            "f16" => OutType::F16,
            "bf16" => OutType::Bf16,
            _ => panic!("output type {o}?"),
        })
        .collect();
    let rounds: usize = args.get(3).map_or(5, |s| s.parse().unwrap());
    let elems: usize = args.get(4).map_or(32 << 20, |s| s.parse().unwrap());
    let threads = rayon::current_num_threads();
    let ggml = GgmlLib::from_env().unwrap();
    let base_n = elems.min(1 << 20);
    let vals = normal_values(base_n);
    let mut dst = AlignedBuf::new(elems * 4);
    println!("{elems} elements, {rounds} rounds, {threads} threads; % of the streaming fill of the same bytes");
    println!("type     out  |  all: On   Off  Auto (GB/s fill) |   1T: On   Off  Auto (GB/s fill)");
    for name in names.split(',') {
        let t = types::from_name(name).unwrap_or_else(|| panic!("type {name}?"));
        let id = t.id;
        let (blck, tsize) = (t.blck as usize, t.tsize as usize);
        let mut one = vec![0u8; base_n / blck * tsize];
        let ok = match ggml {
            Some(g) => {
                let ones = vec![1f32; 4096];
                let im = g.requires_imatrix(id).then_some(&ones[..]);
                g.quantize_chunk(id, &vals, 4096, im, &mut one).is_some()
            }
            None => bitgguf::quant::quantize(id, &vals, 4096, &mut one).is_ok(),
        };
        if !ok {
            println!("{name}: cannot quantize, skipped");
            continue;
        }
        let mut src = Vec::with_capacity(elems / blck * tsize);
        while src.len() < elems / blck * tsize {
            src.extend_from_slice(&one);
        }
        src.truncate(elems / blck * tsize);
        for &out in &outs {
            let len = elems * out.size() as usize;
            // 0..3: all threads On/Off/Auto, 3: fill all; 4..7: 1T On/Off/Auto, 7: fill 1T.
            let mut times: Vec<Samples> = (0..8).map(|_| Samples::default()).collect();
            for _ in 0..rounds {
                for (c, s) in times.iter_mut().enumerate() {
                    let th = if c < 4 { 0 } else { 1 };
                    for timed in [false, true] {
                        let d = &mut dst.bytes()[..len];
                        let ms = if c % 4 == 3 {
                            time_ms(|| nt_fill(d, if th == 0 { threads } else { 1 }))
                        } else {
                            let streaming = [Streaming::On, Streaming::Off, Streaming::Auto][c % 4];
                            let opts = DecodeOptions { threads: th, streaming, ..DecodeOptions::default() };
                            time_ms(|| decode_into_with(id, black_box(&src), elems as u64, out, d, &opts).unwrap())
                        };
                        if timed {
                            s.0.push(ms);
                        }
                    }
                }
            }
            let ms: Vec<f64> = times.iter().map(|s| s.median()).collect();
            let pct = |c: usize| 100.0 * ms[c / 4 * 4 + 3] / ms[c];
            let gbs = |c: usize| len as f64 / ms[c] / 1e6;
            println!(
                "{:<8} {:<4} | {:5.0}% {:4.0}% {:4.0}% ({:5.2}) | {:5.0}% {:4.0}% {:4.0}% ({:5.2})",
                name,
                out.name(),
                pct(0),
                pct(1),
                pct(2),
                gbs(3),
                pct(4),
                pct(5),
                pct(6),
                gbs(7)
            );
        }
    }
}
