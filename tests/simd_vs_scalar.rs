//! Every fast (SIMD) kernel against its scalar oracle, bit for bit (NaN equals NaN; see
//! `same_bits`): random bytes as blocks with NaN/Inf/subnormal scales injected, odd block
//! counts and tails, unaligned sources and destinations, every output type, ordinary and
//! streaming stores; the fast f32 → f16 / bf16 stores; multi-threaded decoding against
//! single-threaded; the forced-scalar path (run this file again with `BG_FORCE_SCALAR=1`); and
//! the dispatching `decode_into` against real ggml when `BG_GGML_LIB` is set.
//!
//! The scalar oracle is `quant::decoder(id)` into f32 followed by `float::f32_to_f16` /
//! `f32_to_bf16`, independent of `quant::output`.

mod bits;
mod ggml;

use bitgguf::quant::output::{self, decode_into, decode_into_with, DecodeOptions, OutType, Streaming};
use bitgguf::quant::{self, float, simd};
use bitgguf::types::{self, TypeId};
use ggml::{random_blocks, Ggml, Rng};

const OUTS: [OutType; 3] = [OutType::F32, OutType::F16, OutType::Bf16];

/// The scalar oracle: `n` elements of `id` from `src` as `out`, little-endian bytes.
fn oracle(id: TypeId, src: &[u8], n: usize, out: OutType) -> Vec<u8> {
    let mut f = vec![0f32; n];
    quant::decoder(id).expect("decoder")(src, &mut f);
    bits::store(&f, out)
}

use bits::same_bits;

/// Run the fast kernel of `id` (which must exist) on `src` into a destination that starts
/// `dst_off` bytes into a 64-byte-aligned buffer; returns the output bytes.
fn fast(id: TypeId, src: &[u8], n: usize, out: OutType, dst_off: usize, streaming: bool) -> Vec<u8> {
    fast_with(simd::kernel(id).expect("fast kernel"), n, src, out, dst_off, streaming)
}

/// [`fast`] with a given kernel (e.g. `portable_bf16()`).
fn fast_with(k: simd::Kernel, n: usize, src: &[u8], out: OutType, dst_off: usize, streaming: bool) -> Vec<u8> {
    let len = n * out.size() as usize;
    let mut buf = vec![0u8; len + dst_off + 64];
    let adj = (64 - buf.as_ptr() as usize % 64) % 64;
    let dst = &mut buf[adj + dst_off..adj + dst_off + len];
    dst.fill(0xa5);
    k.decode(src, out, dst, streaming);
    let got = dst.to_vec();
    // Nothing outside the destination was written (streaming stores realign to 16 / 32 bytes).
    assert!(
        buf[..adj + dst_off].iter().chain(&buf[adj + dst_off + len..]).all(|&b| b == 0),
        "{k:?} -> {} dst+{dst_off} streaming={streaming}: wrote outside the destination",
        out.name()
    );
    got
}

fn check_type(id: TypeId, rng: &mut Rng, report: &mut Vec<String>) {
    let ti = types::info(id).unwrap();
    let blck = ti.blck as usize;
    let counts: &[usize] =
        if blck == 1 { &[1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 1001, 4099] } else { &[1, 2, 3, 7, 33, 129] };
    let mut nan_diffs = 0;
    for &blocks in counts {
        let n = blocks * blck;
        let src_all = random_blocks(rng, id, blocks + 1);
        for src_off in [0usize, 1, 3] {
            let src_bytes = &{
                let mut v = vec![0u8; src_off];
                v.extend_from_slice(&src_all[..blocks * ti.tsize as usize]);
                v
            };
            let src = &src_bytes[src_off..];
            for out in OUTS {
                let want = oracle(id, src, n, out);
                // bf16: the CPU's conversion instruction where the kernel uses it, and the
                // portable rounding; and where the kernel has an AVX-512 variant for `out`, the
                // AVX2 kernel too.
                let k = simd::kernel(id).expect("fast kernel");
                let mut kernels = vec![k];
                if out == OutType::Bf16 {
                    kernels.push(k.portable_bf16());
                }
                if k.uses_avx512_for(out) {
                    kernels.push(k.avx2_only());
                    if out == OutType::Bf16 {
                        kernels.push(k.avx2_only().portable_bf16());
                    }
                }
                for k in kernels {
                    for (dst_off, streaming) in
                        [(0, false), (1, false), (2, false), (0, true), (16, true), (32, true), (48, true), (4, true)]
                    {
                        let got = fast_with(k, n, src, out, dst_off, streaming);
                        let what = format!(
                            "{} x{blocks} src+{src_off} -> {} dst+{dst_off} streaming={streaming} {k:?}",
                            ti.name,
                            out.name()
                        );
                        nan_diffs += same_bits(&what, out, &got, &want);
                    }
                }
                // The dispatching path, both settings of `simd`.
                for simd_on in [true, false] {
                    let mut got = vec![0u8; n * out.size() as usize + 3];
                    let opts = DecodeOptions { threads: 1, simd: simd_on, ..DecodeOptions::default() };
                    decode_into_with(id, src, n as u64, out, &mut got[3..], &opts).unwrap();
                    let what = format!("{} x{blocks} decode_into simd={simd_on} -> {}", ti.name, out.name());
                    nan_diffs += same_bits(&what, out, &got[3..], &want);
                }
            }
        }
    }
    if nan_diffs > 0 {
        report.push(format!("{}: {nan_diffs} NaN elements with other payload bits", ti.name));
    }
}

#[test]
fn every_fast_kernel_matches_scalar() {
    let fast_types = simd::fast_types();
    eprintln!("level {:?}; fast kernels for {:?}", simd::level(), fast_types);
    let wide: Vec<_> = fast_types.iter().filter(|&&id| simd::kernel(id).is_some_and(|k| k.uses_avx512())).collect();
    if simd::avx512() {
        eprintln!("AVX-512 variants (checked with the AVX2 kernels): {wide:?}");
        assert!(
            [6, 7, 13, 14, 16, 17, 18, 21, 22, 34].iter().all(|id| wide.contains(&id)),
            "Q5_0, Q5_1, Q5_K, Q6_K, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ3_S, IQ2_S and TQ1_0 have AVX-512 variants: {wide:?}"
        );
    } else {
        eprintln!("note: no AVX-512 on this CPU (or BG_NO_AVX512): the AVX-512 variants are not checked here");
        assert!(wide.is_empty());
    }
    if simd::level().is_simd() {
        assert!(fast_types.contains(&0) && fast_types.contains(&8), "{fast_types:?}");
    } else {
        assert!(fast_types.is_empty());
    }
    let mut rng = Rng(0x51bd_0001);
    let mut report = Vec::new();
    for id in fast_types {
        check_type(id, &mut rng, &mut report);
    }
    for r in &report {
        eprintln!("note: {r}");
    }
}

/// Every f16 bit pattern decodes exactly (signalling NaNs keep their quiet bit clear), to every
/// output type.
#[test]
fn f16_and_bf16_every_pattern() {
    let all: Vec<u8> = (0..=u16::MAX).flat_map(|h| h.to_le_bytes()).collect();
    for id in [1, 30] {
        if simd::kernel(id).is_none() {
            continue;
        }
        for out in OUTS {
            let want = oracle(id, &all, 65536, out);
            let got = fast(id, &all, 65536, out, 0, false);
            assert_eq!(got, want, "type {id} -> {}: every bit pattern, exact bits", out.name());
        }
    }
}

/// The fast f32 → f16 and f32 → bf16 stores equal `float::f32_to_f16` / `f32_to_bf16`
/// exactly, NaN payloads included, on every NaN, every exponent and random values.
#[test]
fn f32_stores_exact() {
    if simd::kernel(0).is_none() {
        return;
    }
    let mut vals: Vec<f32> = Vec::new();
    // Every NaN and infinity (2^24 patterns), both signs.
    for sign in [0u32, 0x8000_0000] {
        vals.extend((0..1u32 << 23).map(|m| f32::from_bits(sign | 0x7f80_0000 | m)));
    }
    // Around every exponent: the rounding boundaries of f16 and bf16.
    for e in 0..256u32 {
        for m in [0u32, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0x18000, 0x7f_ffff] {
            vals.push(f32::from_bits((e << 23) | m));
            vals.push(f32::from_bits(0x8000_0000 | (e << 23) | m));
        }
    }
    let mut rng = Rng(0x51bd_0002);
    vals.extend((0..1_000_000).map(|_| f32::from_bits(rng.next_u64() as u32)));
    let src: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    for out in [OutType::F16, OutType::Bf16, OutType::F32] {
        let want = oracle(0, &src, vals.len(), out);
        for streaming in [false, true] {
            let got = fast(0, &src, vals.len(), out, 0, streaming);
            assert!(got == want, "f32 -> {} (streaming {streaming}): exact bits", out.name());
        }
    }
}

/// All 2^32 f32 values through the fast f16 store (about a minute unoptimized; run with
/// `cargo test --release --test simd_vs_scalar -- --ignored`).
#[test]
#[ignore]
fn f16_store_exhaustive() {
    if simd::kernel(0).is_none() {
        return;
    }
    let chunk = 1usize << 24;
    let mut src = vec![0u8; 4 * chunk];
    let mut got = vec![0u8; 2 * chunk];
    let k = simd::kernel(0).unwrap();
    for hi in 0..256u32 {
        for (i, s) in src.chunks_exact_mut(4).enumerate() {
            s.copy_from_slice(&((hi << 24) | i as u32).to_le_bytes());
        }
        k.decode(&src, OutType::F16, &mut got, false);
        for (i, g) in got.chunks_exact(2).enumerate() {
            let f = f32::from_bits((hi << 24) | i as u32);
            assert_eq!(u16::from_le_bytes([g[0], g[1]]), float::f32_to_f16(f), "{:#010x}", f.to_bits());
        }
    }
}

/// Splitting across threads (pieces of whole blocks) gives the same bytes as one thread, for
/// every output type, with and without streaming stores, and with scalar decoders.
#[test]
fn threads_equal_single_thread() {
    let mut rng = Rng(0x51bd_0003);
    let ids: Vec<TypeId> = types::UPSTREAM.iter().map(|t| t.id).filter(|&id| quant::decoder(id).is_some()).collect();
    for id in ids {
        let ti = types::info(id).unwrap();
        let blocks = (300_000 / ti.blck as usize).max(1) + 7;
        let n = blocks * ti.blck as usize;
        let src = random_blocks(&mut rng, id, blocks);
        for out in OUTS {
            let len = n * out.size() as usize;
            let one = DecodeOptions { threads: 1, ..DecodeOptions::default() };
            let mut want = vec![0u8; len];
            decode_into_with(id, &src, n as u64, out, &mut want, &one).unwrap();
            for (threads, streaming, simd_on) in [
                (4, Streaming::Off, true),
                (3, Streaming::On, true),
                (0, Streaming::Auto, true),
                (5, Streaming::Off, false),
            ] {
                let opts = DecodeOptions { threads, streaming, simd: simd_on, par_min_bytes: 0 };
                let mut got = vec![0u8; len + 1];
                decode_into_with(id, &src, n as u64, out, &mut got[1..], &opts).unwrap();
                let what = format!("{} -> {} threads={threads} {streaming:?} simd={simd_on}", ti.name, out.name());
                same_bits(&what, out, &got[1..], &want);
            }
        }
    }
}

/// `BG_FORCE_SCALAR=1` (read once) disables every fast path and is reported by `bg_version`.
#[test]
fn forced_scalar_is_reported_and_used() {
    let forced = std::env::var("BG_FORCE_SCALAR").is_ok_and(|v| !v.is_empty() && v != "0");
    let v = bitgguf::ffi::version::version_string();
    assert!(v.contains(&format!("simd: {}", simd::isa_name())), "{v}");
    assert!(simd::isa_name().starts_with(simd::level().name()), "{v}");
    if forced {
        assert_eq!(simd::level(), simd::Level::ForcedScalar);
        assert!(v.contains("simd: scalar (forced)"), "{v}");
        assert!(simd::fast_types().is_empty());
        assert!(!simd::store(OutType::F16, &[1.0], &mut [0u8; 2], false));
    } else {
        assert_ne!(simd::level(), simd::Level::ForcedScalar);
    }
    // Decoding still works and equals the oracle.
    let mut rng = Rng(0x51bd_0004);
    let src = random_blocks(&mut rng, 12, 5);
    let mut got = vec![0u8; 5 * 256 * 2];
    decode_into(12, &src, 5 * 256, OutType::F16, &mut got).unwrap();
    same_bits("q4_k -> f16", OutType::F16, &got, &oracle(12, &src, 5 * 256, OutType::F16));
}

/// The dispatching path (`decode_into`, fast kernels and threads) against real ggml's
/// `to_float`, on random bytes and on data ggml quantized.
#[test]
fn dispatching_path_matches_ggml() {
    let Some(g) = Ggml::get("dispatching_path_matches_ggml") else { return };
    let mut rng = Rng(0x51bd_0005);
    let n_per_row = 4096;
    let mut vals: Vec<f32> = (0..64 * n_per_row).map(|_| rng.normal()).collect();
    vals[..n_per_row].fill(0.0);
    for t in types::UPSTREAM.iter() {
        let id = t.id;
        if quant::decoder(id).is_none() || !g.has_to_float(id) {
            continue;
        }
        let mut inputs = vec![("random bytes", random_blocks(&mut rng, id, 262_144 / t.blck as usize))];
        if !g.requires_imatrix(id) && (n_per_row as u64).is_multiple_of(t.blck) {
            inputs.push(("quantized by ggml", g.quantize(id, &vals, n_per_row)));
        }
        for (what, src) in inputs {
            let n = src.len() / t.tsize as usize * t.blck as usize;
            let want = g.to_float(id, &src, n);
            let want_bytes: Vec<u8> = want.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut got = vec![0u8; 4 * n];
            let opts = DecodeOptions { par_min_bytes: 0, ..DecodeOptions::default() };
            decode_into_with(id, &src, n as u64, OutType::F32, &mut got, &opts).unwrap();
            same_bits(&format!("{} {what} vs ggml", t.name), OutType::F32, &got, &want_bytes);
        }
    }
}

/// `Streaming::Auto` at the sizes where it streams ([`output::STREAM_MIN_BYTES`]), on one thread
/// and split across threads, gives the bytes of ordinary stores, for kernels of each per-kernel
/// choice (`simd::Stream2`: streaming always, only when split, never) and both 2-byte outputs
/// (the F16 → bf16 kernel included); the destination starts 32 bytes into an aligned buffer
/// and, once, 16 bytes in (malloc's alignment: 16-byte streaming stores there).
#[test]
fn auto_streaming_policy_same_bits() {
    let mut rng = Rng(0x51bd_0006);
    // q8_0 and the F16 / BF16 conversions and copies: always; q4_k, q5_0: split; tq1_0: never.
    for id in [8, 1, 30, 12, 6, 34] {
        let Some(k) = simd::kernel(id) else { continue };
        let ti = types::info(id).unwrap();
        let blck = ti.blck as usize;
        let n = (output::STREAM_MIN_BYTES / 2).div_ceil(blck) * blck + blck;
        let src = random_blocks(&mut rng, id, n / blck);
        for out in [OutType::F16, OutType::Bf16] {
            let len = n * out.size() as usize;
            let off = DecodeOptions { threads: 1, streaming: Streaming::Off, ..DecodeOptions::default() };
            let mut want = vec![0u8; len];
            decode_into_with(id, &src, n as u64, out, &mut want, &off).unwrap();
            for (threads, streaming, at) in
                [(1, Streaming::Auto, 32), (2, Streaming::Auto, 32), (2, Streaming::Auto, 16), (2, Streaming::On, 32)]
            {
                let mut buf = vec![0u8; len + 128];
                let adj = (64 - buf.as_ptr() as usize % 64) % 64 + at;
                let opts = DecodeOptions { threads, streaming, ..DecodeOptions::default() };
                decode_into_with(id, &src, n as u64, out, &mut buf[adj..adj + len], &opts).unwrap();
                assert!(
                    buf[adj..adj + len] == want[..],
                    "{} -> {} threads={threads} {streaming:?} dst+{at} ({:?}): differs from ordinary stores",
                    ti.name,
                    out.name(),
                    k.stream2(out)
                );
            }
        }
    }
}
