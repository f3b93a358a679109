//! Determinism of cross-validation (feature `crossval`): `BITNET_DETERMINISTIC=1 BITNET_SEED=42`
//! fixes the seed that picks the sampled blocks (`--sample`), and the report does not depend on
//! the number of threads. This binary holds one test because it sets process environment
//! variables (no other test may run beside it).
#![cfg(feature = "crossval")]

use bitgguf::crossval::{compare, seed_from_env, CrossvalOptions, GgufCrossValidator, ReferenceInput, Values};
use bitgguf::gguf::GgufWriter;
use bitgguf::quant::{self, Decoder};
use bitgguf::types::TypeId;
use bitgguf::{LoadOptions, Model, Status};

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = compare::SplitMix64::new(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// The real Q4_K decoder with element 100 of each block off by one: a difference that shows
/// which blocks were sampled.
fn q4_k_off(src: &[u8], dst: &mut [f32]) {
    quant::decoder(12).unwrap()(src, dst);
    for blk in dst.chunks_mut(256) {
        blk[100] += 1.0;
    }
}

fn mutate_q4_k(id: TypeId) -> Option<Decoder> {
    if id == 12 {
        Some(q4_k_off)
    } else {
        quant::decoder(id)
    }
}

#[test]
fn bitnet_deterministic_and_seed_fix_sampling_and_threads_do_not_matter() {
    // The seed from the environment.
    std::env::remove_var("BITNET_SEED");
    std::env::remove_var("BITNET_DETERMINISTIC");
    let (a, b) = (seed_from_env().unwrap(), seed_from_env().unwrap());
    assert_ne!(a, b, "without BITNET_DETERMINISTIC the seed is fresh each run");
    std::env::set_var("BITNET_DETERMINISTIC", "1");
    assert_eq!(seed_from_env().unwrap(), 42);
    std::env::set_var("BITNET_SEED", "42");
    assert_eq!(CrossvalOptions::from_env().unwrap().seed, 42);
    std::env::set_var("BITNET_SEED", "not-a-number");
    assert_eq!(seed_from_env().unwrap_err().status(), Status::InvalidParameter);
    std::env::set_var("BITNET_SEED", "42");

    // A model of several block types (random bytes; Q4_K with finite scales so that the
    // mutation shows as a value difference), 600 blocks per tensor.
    let mut w = GgufWriter::new();
    for (k, (ty, blck, tsize)) in [(12u32, 256u64, 144usize), (17, 256, 74), (8, 32, 34), (1, 1, 2)].iter().enumerate()
    {
        let mut data = random_bytes(k as u64, 600 * tsize);
        if *ty == 12 {
            for blk in data.chunks_mut(144) {
                blk[..4].copy_from_slice(&[0x00, 0x3c, 0x00, 0x38]); // d = 1, dmin = 0.5
            }
        }
        w.tensor(format!("t.{k}"), *ty, &[blck * 60, 10], data);
    }
    let bytes = w.to_bytes().unwrap();
    let model = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
    let run = |threads: usize| {
        let opts = CrossvalOptions {
            sample: Some(7),
            threads,
            reference_input: ReferenceInput::SharedBytes,
            ..CrossvalOptions::from_env().unwrap()
        };
        GgufCrossValidator::new(&model, opts).with_decoder_lookup(mutate_q4_k).check_all()
    };
    let one = run(1);
    assert_eq!(one.seed, 42);
    for threads in [2, 3, 8] {
        assert_eq!(run(threads), one, "{threads} threads changed the report");
    }
    // The mutated Q4_K tensor: 7 sampled blocks, each caught at element 100; the first
    // difference is in the lowest block the seed picks for this tensor's name.
    let t = &one.tensors[0];
    let Values::Compared(s) = &t.values else { panic!("{t}") };
    assert_eq!((s.sampled_blocks, s.compared, s.mismatched), (Some(7), 7 * 256, 7));
    let picked = compare::sample_indices(600, 7, compare::tensor_seed(42, b"t.0"));
    assert_eq!(s.first_diff.unwrap().index, picked[0] * 256 + 100);
    for t in &one.tensors[1..] {
        let Values::Compared(s) = &t.values else { panic!("{t}") };
        assert_eq!(s.mismatched, 0, "{t}");
    }
    // Another seed samples other blocks.
    std::env::set_var("BITNET_SEED", "43");
    let other = run(2);
    assert_eq!(other.seed, 43);
    assert_ne!(other.tensors[0].values, one.tensors[0].values);
    // And whole-tensor comparisons are thread-independent too.
    let full = |threads| {
        let opts = CrossvalOptions { threads, reference_input: ReferenceInput::SharedBytes, ..Default::default() };
        GgufCrossValidator::new(&model, opts).check_all()
    };
    let f1 = full(1);
    assert!(f1.all_match(), "{:?}", f1.first_failure());
    assert_eq!(full(5), f1);
}
