//! The contested on-disk type ids 36–39 (reference/bitnet-formats.md §2.1): 36 = I2_S and
//! 38 = TL1 in the BitNet fork (retired upstream), 37 = I8_S (never stored), 39 = TL2 in the
//! fork and MXFP4 upstream. Byte sizes are computed here independently from the formulas in
//! bitnet-formats.md (I2_S/TL1 `n/4 + 32`, TL2 `roundup32(F) + 32`) and gguf-ggml.md §2.1.

mod common;

use bitgguf::gguf::{GgufWriter, Limits, OwnedValue, ParseOptions};
use bitgguf::types::{self, I2_S, MXFP4, TL1, TL2};
use bitgguf::{LoadOptions, Model, Status, TypePolicy};
use common::*;

fn po(p: TypePolicy) -> ParseOptions {
    opts(Limits::default(), p)
}

fn data(n: u64, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; n as usize];
    XorShift::new(seed).fill(&mut v);
    v
}

/// Parse and return (api type id, disk id, n_bytes) of tensor `i`.
fn resolved(bytes: &[u8], p: TypePolicy, i: usize) -> (u32, u32, u64) {
    let idx = ok_with(bytes, &po(p));
    let t = idx.tensor(i);
    (t.ty.id, t.disk_type, t.n_bytes)
}

/// The raw type id written in tensor info `i` of a file with no KVs and names of `name_len`.
fn disk_type_field(bytes: &[u8], info_pos: usize, name_len: usize, n_dims: usize) -> u32 {
    let at = info_pos + 8 + name_len + 4 + 8 * n_dims;
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn size_formulas_match_the_reference_numbers() {
    // bitnet-formats.md §3.9 (BitNet b1.58 2B-4T).
    assert_eq!(i2s_nbytes(&[2560, 2560]), 1_638_432);
    assert_eq!(i2s_nbytes(&[2560, 640]), 409_632);
    assert_eq!(i2s_nbytes(&[6912, 2560]), 4_423_712);
    // TL2: F(M,K) = (K-256)*M/3*5/8 + 256*M/2*4/8, left to right.
    // K=4096, M=1536: 3840*1536 = 5898240 /3 = 1966080 *5 = 9830400 /8 = 1228800;
    // 256*1536 = 393216 /2 = 196608 *4 = 786432 /8 = 98304; F = 1327104 (a multiple of 32).
    assert_eq!(tl2_nbytes(4096, 1536), 1_327_104 + 32);
    // K=1536, M=4096: 1280*4096/3 truncates (5242880/3 = 1747626); F = 1354410 -> 1354432 + 32.
    assert_eq!(tl2_nbytes(1536, 4096), 1_354_464);
    // K=512, M=4: 1024/3 = 341 *5 = 1705 /8 = 213; + 256 = 469 -> 480 + 32.
    assert_eq!(tl2_nbytes(512, 4), 512);
    // The crate agrees.
    assert_eq!(types::info(I2_S).unwrap().nbytes(&[2560, 640, 1, 1]), Ok(409_632));
    assert_eq!(types::info(TL2).unwrap().nbytes(&[4096, 1536, 1, 1]), Ok(1_327_136));
}

#[test]
fn writer_stores_bitnet_types_with_their_fork_ids() {
    let mut w = GgufWriter::new();
    w.tensor("a", I2_S, &[128, 2], data(i2s_nbytes(&[128, 2]), 1));
    w.tensor("b", TL1, &[4, 2], data(i2s_nbytes(&[4, 2]), 2));
    w.tensor("c", TL2, &[256, 2], data(tl2_nbytes(256, 2), 3));
    w.tensor("d", MXFP4, &[32, 1], data(17, 4));
    let bytes = w.to_bytes().unwrap();
    // Walk the infos by hand: name "x" (1 byte), 2 dims.
    let mut pos = 24;
    for expect in [36u32, 38, 39, 39] {
        assert_eq!(disk_type_field(&bytes, pos, 1, 2), expect);
        pos += 8 + 1 + 4 + 16 + 4 + 8;
    }
}

#[test]
fn i2_s_under_auto_and_bitnet_and_removed_under_upstream() {
    let shapes: [[u64; 2]; 3] = [[2560, 640], [2560, 2560], [6912, 2560]];
    let mut w = GgufWriter::new();
    for (i, s) in shapes.iter().enumerate() {
        w.tensor(format!("blk.{i}.w"), I2_S, s, data(i2s_nbytes(s), i as u64 + 10));
    }
    let bytes = w.to_bytes().unwrap();
    for p in [TypePolicy::Auto, TypePolicy::Bitnet] {
        let idx = ok_with(&bytes, &po(p));
        let v = idx.view(&bytes);
        for (i, s) in shapes.iter().enumerate() {
            let t = v.tensor(i);
            assert_eq!((t.ty.id, t.disk_type, t.ty.name), (I2_S, 36, "i2_s"));
            assert_eq!(t.n_bytes, i2s_nbytes(s), "{s:?}");
            assert_eq!(v.tensor_data(i), &data(i2s_nbytes(s), i as u64 + 10)[..]);
        }
        assert_eq!(idx.tensor(0).n_bytes, 409_632);
        assert_eq!(idx.tensor(1).n_bytes, 1_638_432);
        assert_eq!(idx.tensor(2).n_bytes, 4_423_712);
    }
    let e = parse_with(&bytes, &po(TypePolicy::Upstream)).unwrap_err();
    assert_eq!(e.status(), Status::RemovedType);
    assert_msg(&e, &["tensor 'blk.0.w'", "type id 36 (iq4_nl_4_4) under the upstream type policy"]);
}

#[test]
fn i2_s_and_tl1_row_lengths() {
    // I2_S packs whole 128-element blocks; TL1 4 elements per byte.
    let b = Spec::new().tensor(t("w", 36, &[100, 2]).nbytes(82)).bytes();
    let e = reject(&b, Status::BadShapeForType, &["tensor 'w' (tensor info at byte 24)", "ne[0]=100", "i2_s"]);
    assert_msg(&e, &["128"]);
    let b = Spec::new().tensor(t("w", 38, &[6, 2]).nbytes(35)).bytes();
    reject(&b, Status::BadShapeForType, &["tensor 'w'", "ne[0]=6", "tl1"]);
}

#[test]
fn tl1_under_auto_and_bitnet() {
    let shapes: [[u64; 2]; 2] = [[256, 4], [1536, 64]];
    let mut w = GgufWriter::new();
    for (i, s) in shapes.iter().enumerate() {
        w.tensor(format!("t{i}"), TL1, s, data(i2s_nbytes(s), i as u64));
    }
    let bytes = w.to_bytes().unwrap();
    for p in [TypePolicy::Auto, TypePolicy::Bitnet] {
        for (i, s) in shapes.iter().enumerate() {
            assert_eq!(resolved(&bytes, p, i), (TL1, 38, s[0] * s[1] / 4 + 32));
        }
    }
    assert_eq!(resolved(&bytes, TypePolicy::Auto, 0).2, 288);
    let e = parse_with(&bytes, &po(TypePolicy::Upstream)).unwrap_err();
    assert_eq!(e.status(), Status::RemovedType);
}

#[test]
fn id_39_decided_by_the_layout_of_the_last_tensor() {
    // [512, 4]: MXFP4 1088 bytes, TL2 512 bytes. The last tensor must end (padded) at the end
    // of the file, so the data length decides.
    let mut w = GgufWriter::new();
    w.tensor("w", MXFP4, &[512, 4], data(1088, 1));
    let mx = w.to_bytes().unwrap();
    assert_eq!(resolved(&mx, TypePolicy::Auto, 0), (MXFP4, 39, 1088));

    let mut w = GgufWriter::new();
    w.tensor("w", TL2, &[512, 4], data(512, 1));
    let tl = w.to_bytes().unwrap();
    assert_eq!(resolved(&tl, TypePolicy::Auto, 0), (TL2, 39, tl2_nbytes(512, 4)));
    // The metadata does not override an exact layout fit.
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    w.tensor("w", MXFP4, &[512, 4], data(1088, 1));
    assert_eq!(resolved(&w.to_bytes().unwrap(), TypePolicy::Auto, 0).0, MXFP4);
}

#[test]
fn id_39_decided_by_the_next_tensors_offset() {
    for (ty, size) in [(MXFP4, 1088u64), (TL2, 512)] {
        let mut w = GgufWriter::new();
        w.kv("general.architecture", OwnedValue::str("llama")); // would say MXFP4 if asked
        w.tensor("w", ty, &[512, 4], data(size, 7));
        w.tensor("next", 0, &[8], data(32, 8));
        let bytes = w.to_bytes().unwrap();
        let idx = ok(&bytes);
        assert_eq!(idx.tensor(0).ty.id, ty);
        assert_eq!(idx.tensor(0).n_bytes, size);
        assert_eq!(idx.tensor(1).offset, size);
        assert_eq!(idx.view(&bytes).tensor_data(0), &data(size, 7)[..]);
        assert_eq!(idx.view(&bytes).tensor_data(1), &data(32, 8)[..]);
    }
}

/// [256, 1] with alignment 256: MXFP4 136 bytes, TL2 96 bytes, both padded to 256 — the layout
/// fits both exactly.
fn ambiguous(kvs: &[(&str, OwnedValue)], extra_i2s: bool) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.alignment(256);
    for (k, v) in kvs {
        w.kv(*k, v.clone());
    }
    w.tensor("w", MXFP4, &[256, 1], data(136, 3));
    w.tensor("n", 0, &[4], data(16, 4));
    if extra_i2s {
        w.tensor("i", I2_S, &[128, 1], data(64, 5));
    }
    w.to_bytes().unwrap()
}

#[test]
fn id_39_both_sizes_fit_decided_by_general_architecture() {
    assert_eq!((ggml_nbytes(MXFP4, &[256, 1]).unwrap(), tl2_nbytes(256, 1)), (136, 96));
    for arch in ["bitnet", "BitNet-b1.58", "bitnet-25"] {
        let b = ambiguous(&[("general.architecture", OwnedValue::str(arch))], false);
        assert_eq!(resolved(&b, TypePolicy::Auto, 0), (TL2, 39, 96), "{arch}");
    }
    for arch in ["llama", "gpt-oss", ""] {
        let b = ambiguous(&[("general.architecture", OwnedValue::str(arch))], false);
        assert_eq!(resolved(&b, TypePolicy::Auto, 0), (MXFP4, 39, 136), "{arch:?}");
    }
    // Nothing to go on: a status of its own, never a guess.
    let e = parse(&ambiguous(&[], false)).unwrap_err();
    assert_eq!(e.status(), Status::ContestedType);
    assert_msg(&e, &["tensor 'w'", "both sizes fit", "type policy"]);
}

#[test]
fn id_39_both_sizes_fit_decided_by_other_hints() {
    // Another tensor that only the BitNet fork writes (I2_S) means TL2.
    assert_eq!(resolved(&ambiguous(&[], true), TypePolicy::Auto, 0), (TL2, 39, 96));
    // general.file_type: 39 is LLAMA_FTYPE_MOSTLY_TL2 in the fork, 38 MXFP4_MOE upstream.
    let b = ambiguous(&[("general.file_type", OwnedValue::U32(39))], false);
    assert_eq!(resolved(&b, TypePolicy::Auto, 0).0, TL2);
    let b = ambiguous(&[("general.file_type", OwnedValue::U32(38))], false);
    assert_eq!(resolved(&b, TypePolicy::Auto, 0).0, MXFP4);
    // A BitNet architecture wins over file_type 38.
    let b = ambiguous(
        &[("general.architecture", OwnedValue::str("bitnet")), ("general.file_type", OwnedValue::U32(38))],
        false,
    );
    assert_eq!(resolved(&b, TypePolicy::Auto, 0).0, TL2);
    // Other file types decide nothing.
    let b = ambiguous(&[("general.file_type", OwnedValue::U32(15))], false);
    assert_eq!(parse(&b).unwrap_err().status(), Status::ContestedType);
}

#[test]
fn upstream_policy_reads_39_as_mxfp4_always() {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    w.tensor("w", MXFP4, &[512, 4], data(1088, 1));
    assert_eq!(resolved(&w.to_bytes().unwrap(), TypePolicy::Upstream, 0), (MXFP4, 39, 1088));
    // A TL2 file read as MXFP4: 1088 bytes do not fit in 512.
    let mut w = GgufWriter::new();
    w.tensor("w", TL2, &[512, 4], data(512, 1));
    let e = parse_with(&w.to_bytes().unwrap(), &po(TypePolicy::Upstream)).unwrap_err();
    assert_eq!(e.status(), Status::DataOutOfBounds);
    assert_msg(&e, &["tensor 'w'", "1088 bytes of mxfp4"]);
    // The ambiguous file is decided without hints.
    assert_eq!(resolved(&ambiguous(&[], false), TypePolicy::Upstream, 0), (MXFP4, 39, 136));
}

#[test]
fn bitnet_policy_reads_39_as_tl2_always() {
    assert_eq!(resolved(&ambiguous(&[], false), TypePolicy::Bitnet, 0), (TL2, 39, 96));
    // An MXFP4 file followed by another tensor: as TL2 the next offset is wrong.
    let mut w = GgufWriter::new();
    w.tensor("w", MXFP4, &[512, 4], data(1088, 1));
    w.tensor("n", 0, &[4], data(16, 2));
    let e = parse_with(&w.to_bytes().unwrap(), &po(TypePolicy::Bitnet)).unwrap_err();
    assert_eq!(e.status(), Status::BadTensorOffset);
    assert_msg(&e, &["tensor 'n'", "offset is 1088, expected 512"]);
    // TL2 sizes: K < 256 is sized with C's truncating F (bitnet-formats.md §5.7, §9.5:
    // (128-256)*4/3 = -170, *5/8 = -106, + 256*4/2*4/8 = 256: 150 -> 160 + 32); only 2-D is a parse rule
    // (decodability rules need the tile configuration: TypeInfo::tl_shape_rule, tl2_geometry).
    let b = Spec::new().tensor(t("w", 39, &[128, 4]).nbytes(192)).bytes();
    assert_eq!(resolved(&b, TypePolicy::Bitnet, 0), (TL2, 39, 192));
    let b = Spec::new().tensor(t("w", 39, &[256, 2, 2]).nbytes(512)).bytes();
    reject_with(&b, &po(TypePolicy::Bitnet), Status::BadShapeForType, &["tensor 'w'", "2-D"]);
}

#[test]
fn tl2_sizes_for_real_shapes() {
    let shapes: [(u64, u64); 3] = [(2560, 640), (4096, 1536), (1536, 4096)];
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet"));
    for (i, &(k, m)) in shapes.iter().enumerate() {
        w.tensor(format!("t{i}"), TL2, &[k, m], data(tl2_nbytes(k, m), i as u64));
    }
    let bytes = w.to_bytes().unwrap();
    for p in [TypePolicy::Auto, TypePolicy::Bitnet] {
        for (i, &(k, m)) in shapes.iter().enumerate() {
            assert_eq!(resolved(&bytes, p, i), (TL2, 39, tl2_nbytes(k, m)), "{k}x{m}");
        }
    }
    // Through Model with the policy in the load options.
    let lo = LoadOptions { parse: po(TypePolicy::Bitnet), use_mmap: false, ..LoadOptions::default() };
    let m = Model::from_bytes(&bytes, &lo).unwrap();
    assert_eq!(m.tensor(1).unwrap().info.n_bytes, 1_327_136);
    assert_eq!(m.tensor_data(2).unwrap(), &data(tl2_nbytes(1536, 4096), 2)[..]);
}

#[test]
fn i8_s_is_rejected_under_every_policy() {
    let b = Spec::new().tensor(t("w", 37, &[64]).nbytes(64)).bytes();
    assert_eq!(parse_with(&b, &po(TypePolicy::Auto)).unwrap_err().status(), Status::TypeNotStorable);
    assert_eq!(parse_with(&b, &po(TypePolicy::Bitnet)).unwrap_err().status(), Status::TypeNotStorable);
    assert_eq!(parse_with(&b, &po(TypePolicy::Upstream)).unwrap_err().status(), Status::RemovedType);
}
