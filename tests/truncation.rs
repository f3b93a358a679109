//! Every prefix of a small valid file, and 20k seeded random mutations of it (and of a file with
//! the contested BitNet ids): the parser must
//! return an error (never panic) where data is missing, accept exactly the prefixes that still
//! hold every tensor's bytes, and never panic on mutated input — including while reading back
//! everything an accepted mutant exposes.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use bitgguf::gguf::{self, Limits, OwnedValue, ParseOptions, ValueType};
use bitgguf::{LoadOptions, Model, Status, TypePolicy};
use common::*;

/// A small file: scalar KVs, a string, string arrays (one empty element, one empty array),
/// numeric arrays, and 4 tensors of different types with unpadded sizes.
fn sample() -> Built {
    use OwnedValue as V;
    Spec::new()
        .kv(kv_str("general.architecture", "llama"))
        .kv(kv_u32("general.quantization_version", 2))
        .kv(kv(
            "tokenizer.ggml.tokens",
            &V::Array(ValueType::String, ["<s>", "</s>", "", "hello", "wörld"].map(V::str).to_vec()),
        ))
        .kv(kv("tokenizer.ggml.scores", &V::Array(ValueType::F32, (0..6).map(|i| V::F32(i as f32 * -0.5)).collect())))
        .kv(kv("tokenizer.ggml.merges", &V::Array(ValueType::String, vec![])))
        .kv(kv("llama.rope.dims", &V::Array(ValueType::I64, vec![V::I64(-1), V::I64(1 << 40)])))
        .kv(kv("general.flag", &V::Bool(true)))
        .kv(kv("llama.eps", &V::F64(1e-6)))
        .tensor(t("token_embd.weight", Q8_0, &[64, 3]))
        .tensor(t("blk.0.attn_norm.weight", F32, &[5]))
        .tensor(t("blk.0.ffn.weight", Q4_K, &[256, 2]))
        .tensor(t("output_norm.weight", F16, &[3]))
        .build()
}

/// Parse and read back everything the parse exposes.
fn exercise(bytes: &[u8], o: &ParseOptions) -> Result<(), bitgguf::Error> {
    let idx = gguf::parse(bytes, o)?;
    let v = idx.view(bytes);
    for i in 0..v.kv_count() {
        let kv = v.kv(i);
        let owned = OwnedValue::from_value(&kv.value);
        assert_eq!(owned.value_type(), kv.value.value_type());
        assert_eq!(v.find_kv(kv.key), Some(i));
        assert_eq!(kv.key_c.last(), Some(&0));
        if let bitgguf::gguf::Value::Array(a) = kv.value {
            assert_eq!(a.iter().count() as u64, a.len());
            let _ = a.get(a.len());
        }
    }
    let mut total = 0u64;
    for i in 0..v.tensor_count() {
        let t = v.tensor(i);
        let d = v.tensor_data(i);
        assert_eq!(d.len() as u64, t.n_bytes);
        assert_eq!(idx.find_tensor(t.name), Some(i));
        assert!(idx.data_offset() + t.offset + t.n_bytes <= bytes.len() as u64);
        total += d.iter().map(|&b| b as u64).sum::<u64>();
    }
    std::hint::black_box(total);
    Ok(())
}

#[test]
fn every_prefix_is_rejected_until_the_last_tensor_is_complete() {
    let b = sample();
    let len = b.bytes.len();
    let last = b.offsets.len() - 1;
    let required = (b.data_offset + b.offsets[last] + b.sizes[last]) as usize;
    assert!(required < len, "the sample should end with padding");
    let o = ParseOptions::default();
    // Errors a prefix may produce: something is missing, or the counts cannot fit.
    let allowed = [Status::Truncated, Status::DataOutOfBounds, Status::KvCountTooLarge, Status::TensorCountTooLarge];
    let mut seen = std::collections::HashSet::new();
    for n in 0..=len {
        let prefix = &b.bytes[..n];
        let r = catch_unwind(AssertUnwindSafe(|| exercise(prefix, &o)))
            .unwrap_or_else(|_| panic!("panic on the prefix of {n} bytes"));
        match r {
            Ok(()) => assert!(n >= required, "prefix of {n} bytes (< {required}) accepted"),
            Err(e) => {
                assert!(n < required, "prefix of {n} bytes (>= {required}) rejected: {}", e.message());
                assert!(allowed.contains(&e.status()), "prefix {n}: {:?}: {}", e.status(), e.message());
                assert!(e.message().contains("byte"), "prefix {n}: no byte offset in {:?}", e.message());
                seen.insert(e.status());
            }
        }
        let m = catch_unwind(AssertUnwindSafe(|| Model::from_bytes(prefix, &LoadOptions::default())))
            .unwrap_or_else(|_| panic!("Model::from_bytes panicked on the prefix of {n} bytes"));
        assert_eq!(m.is_ok(), n >= required, "Model::from_bytes on {n} bytes");
    }
    assert!(seen.contains(&Status::Truncated) && seen.contains(&Status::DataOutOfBounds), "{seen:?}");
    // The full file reads back what was written.
    let idx = ok(&b.bytes);
    for i in 0..4 {
        assert_eq!(idx.view(&b.bytes).tensor_data(i), b.tensor_bytes(i));
    }
}

const INTERESTING_U64: [u64; 12] =
    [0, 1, 2, 63, 64, 255, 1 << 31, u32::MAX as u64, 1 << 62, i64::MAX as u64, 1 << 63, u64::MAX];
const INTERESTING_U32: [u32; 14] = [0, 1, 4, 5, 8, 9, 12, 13, 31, 36, 37, 39, 43, u32::MAX];

fn mutate(rng: &mut XorShift, buf: &mut Vec<u8>, header_end: usize) {
    if buf.is_empty() {
        buf.push(rng.next_u64() as u8);
        return;
    }
    // Most mutations hit the header, KVs and tensor infos, where the parser works.
    let pick = |rng: &mut XorShift, len: usize| -> usize {
        if rng.below(8) != 0 && header_end > 0 {
            rng.below(header_end.min(len) as u64) as usize
        } else {
            rng.below(len as u64) as usize
        }
    };
    match rng.below(8) {
        0 => {
            let i = pick(rng, buf.len());
            buf[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = pick(rng, buf.len());
            buf[i] = rng.next_u64() as u8;
        }
        2 => {
            let i = pick(rng, buf.len());
            let v = INTERESTING_U64[rng.below(INTERESTING_U64.len() as u64) as usize].to_le_bytes();
            for (k, b) in v.iter().enumerate() {
                if let Some(x) = buf.get_mut(i + k) {
                    *x = *b;
                }
            }
        }
        3 => {
            let i = pick(rng, buf.len());
            let v = INTERESTING_U32[rng.below(INTERESTING_U32.len() as u64) as usize].to_le_bytes();
            for (k, b) in v.iter().enumerate() {
                if let Some(x) = buf.get_mut(i + k) {
                    *x = *b;
                }
            }
        }
        4 => {
            let n = pick(rng, buf.len());
            buf.truncate(n);
        }
        5 => {
            let i = pick(rng, buf.len());
            buf.insert(i, rng.next_u64() as u8);
        }
        6 => {
            let i = pick(rng, buf.len());
            buf.remove(i);
        }
        _ => {
            // Small +-1 arithmetic on a length-like u64 field.
            let i = pick(rng, buf.len());
            if i + 8 <= buf.len() {
                let mut a = [0u8; 8];
                a.copy_from_slice(&buf[i..i + 8]);
                let v = u64::from_le_bytes(a);
                let v = if rng.below(2) == 0 { v.wrapping_add(1) } else { v.wrapping_sub(1) };
                buf[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// A file with the contested ids: I2_S (36), TL1 (38), TL2 and MXFP4 (both 39), so mutations
/// reach the type-policy code.
fn bitnet_sample() -> Vec<u8> {
    use bitgguf::types::{I2_S, MXFP4, TL1, TL2};
    let mut w = bitgguf::GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    w.kv("general.file_type", OwnedValue::U32(40));
    w.tensor("a", I2_S, &[128, 2], vec![0x55; 96]);
    w.tensor("b", TL1, &[8, 2], vec![0x11; 36]);
    w.tensor("c", TL2, &[512, 4], vec![0x22; tl2_nbytes(512, 4) as usize]);
    w.tensor("d", MXFP4, &[64, 2], vec![0x33; 68]);
    w.to_bytes().unwrap()
}

#[test]
fn twenty_thousand_random_mutations_never_panic() {
    let samples = [sample().bytes, bitnet_sample()];
    let header_ends: Vec<usize> = samples.iter().map(|b| ok(b).data_offset() as usize).collect();
    let policies = [TypePolicy::Auto, TypePolicy::Upstream, TypePolicy::Bitnet];
    let tight = Limits { max_string_len: 16, max_array_len: 4, max_total_strings: 3, ..Limits::default() };
    let mut rng = XorShift::new(0x5eed_f9a5);
    let (mut accepted, mut rejected) = (0u32, 0u32);
    let mut statuses = std::collections::HashMap::new();
    for iter in 0..20_000u32 {
        let which = (iter as usize / 3) % 2;
        let mut buf = samples[which].clone();
        let n = 1 + rng.below(3);
        for _ in 0..n {
            mutate(&mut rng, &mut buf, header_ends[which]);
        }
        let limits = if iter % 10 == 9 { tight } else { Limits::default() };
        let o = opts(limits, policies[iter as usize % 3]);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let r = exercise(&buf, &o);
            let m = Model::from_bytes(&buf, &LoadOptions { parse: o, use_mmap: false, ..LoadOptions::default() });
            assert_eq!(r.as_ref().err().map(|e| e.status()), m.as_ref().err().map(|e| e.status()));
            if let Ok(m) = m {
                for i in 0..m.tensor_count() {
                    assert_eq!(m.tensor_data(i).unwrap().len() as u64, m.tensor(i).unwrap().info.n_bytes);
                }
            }
            r
        }));
        match r {
            Err(_) => panic!("panic at mutation #{iter}; file ({} bytes): {:02x?}", buf.len(), buf),
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => {
                rejected += 1;
                assert!(!e.message().is_empty());
                assert_ne!(e.status(), Status::Panic);
                *statuses.entry(e.status()).or_insert(0u32) += 1;
            }
        }
    }
    eprintln!("mutations: {accepted} accepted, {rejected} rejected; statuses: {statuses:?}");
    // The mutations must exercise both paths and many different checks.
    assert!(accepted > 500, "accepted {accepted}");
    assert!(rejected > 5_000, "rejected {rejected}");
    assert!(statuses.len() >= 12, "only {} distinct statuses: {statuses:?}", statuses.len());
}
