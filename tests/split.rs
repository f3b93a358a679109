//! Split models as written by llama.cpp's gguf-split (reference/gguf-ggml.md §1.11): files
//! `<prefix>-0000N-of-0000M.gguf`, each a complete GGUF with `split.no` (u16, 0-based),
//! `split.count` (u16) and `split.tensors.count` (i32, the total), loaded as one model.

mod common;

use std::path::{Path, PathBuf};

use bitgguf::gguf::{GgufWriter, OwnedValue};
use bitgguf::{LoadOptions, Model, Status};
use common::XorShift;

const F32: u32 = 0;
const Q8_0: u32 = 8;

/// (name, type, shape, bytes) of the tensors of each shard.
type Tensors = Vec<(&'static str, u32, Vec<u64>, Vec<u8>)>;

fn bytes_of(n: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; n];
    XorShift::new(seed).fill(&mut v);
    v
}

fn layout() -> Vec<Tensors> {
    vec![
        vec![
            ("token_embd.weight", Q8_0, vec![64, 3], bytes_of(2 * 34 * 3, 1)),
            ("blk.0.attn_norm.weight", F32, vec![7], bytes_of(28, 2)),
        ],
        vec![("blk.0.ffn_up.weight", Q8_0, vec![32, 5], bytes_of(34 * 5, 3))],
        vec![
            ("blk.1.ffn_up.weight", F32, vec![3, 3], bytes_of(36, 4)),
            ("output.weight", Q8_0, vec![96, 1], bytes_of(3 * 34, 5)),
        ],
    ]
}

/// Knobs for the split keys of each shard.
struct SplitKeys {
    no: OwnedValue,
    count: OwnedValue,
    tensors_count: Option<OwnedValue>,
}

fn std_keys(no: u16, count: u16, total: i32) -> SplitKeys {
    SplitKeys { no: OwnedValue::U16(no), count: OwnedValue::U16(count), tensors_count: Some(OwnedValue::I32(total)) }
}

fn shard_bytes(no: usize, keys: &SplitKeys, tensors: &Tensors) -> Vec<u8> {
    let mut w = GgufWriter::new();
    if no == 0 {
        // Only the first shard carries the model's other metadata.
        w.kv("general.architecture", OwnedValue::str("llama"));
        w.kv("llama.block_count", OwnedValue::U32(2));
    }
    w.kv("split.no", keys.no.clone());
    w.kv("split.count", keys.count.clone());
    if let Some(tc) = &keys.tensors_count {
        w.kv("split.tensors.count", tc.clone());
    }
    for (name, ty, ne, data) in tensors {
        w.tensor(*name, *ty, ne, data.clone());
    }
    w.to_bytes().unwrap()
}

fn path(dir: &Path, prefix: &str, no: usize, count: usize) -> PathBuf {
    dir.join(format!("{prefix}-{:05}-of-{count:05}.gguf", no + 1))
}

/// Write the standard 3-shard model, with `edit(shard_no, keys)` applied to each shard's keys.
fn write_model(dir: &Path, layout: &[Tensors], edit: impl Fn(usize, &mut SplitKeys)) -> Vec<PathBuf> {
    let n = layout.len();
    let total: usize = layout.iter().map(|t| t.len()).sum();
    (0..n)
        .map(|i| {
            let mut keys = std_keys(i as u16, n as u16, total as i32);
            edit(i, &mut keys);
            let p = path(dir, "m", i, n);
            std::fs::write(&p, shard_bytes(i, &keys, &layout[i])).unwrap();
            p
        })
        .collect()
}

fn err(r: Result<Model, bitgguf::Error>) -> bitgguf::Error {
    match r {
        Ok(m) => panic!("expected an error, loaded {} tensors", m.tensor_count()),
        Err(e) => e,
    }
}

fn contains(e: &bitgguf::Error, needles: &[&str]) {
    for n in needles {
        assert!(e.message().contains(n), "message {:?} lacks {:?}", e.message(), n);
    }
}

#[test]
fn three_shards_load_as_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let lay = layout();
    let paths = write_model(dir.path(), &lay, |_, _| {});
    assert!(paths[0].ends_with("m-00001-of-00003.gguf"));
    for use_mmap in [true, false] {
        let m = Model::open(&paths[0], &LoadOptions { use_mmap, ..LoadOptions::default() }).unwrap();
        assert_eq!(m.shard_count(), 3);
        assert_eq!(m.tensor_count(), 5);
        let mut i = 0;
        for (s, tensors) in lay.iter().enumerate() {
            assert_eq!(m.shard_path(s), Some(paths[s].as_path()));
            for (name, ty, ne, data) in tensors {
                let t = m.tensor(i).unwrap();
                assert_eq!(t.shard, s);
                assert_eq!(t.info.name, *name);
                assert_eq!(t.info.disk_type, *ty);
                assert_eq!(&t.info.ne[..ne.len()], &ne[..]);
                assert_eq!(m.tensor_data(i).unwrap(), &data[..], "{name}");
                assert_eq!(m.find_tensor(name), Some(i));
                i += 1;
            }
        }
        assert!(m.tensor(5).is_none());
        assert!(m.tensor_data(5).is_none());
        assert_eq!(m.tensors().map(|t| t.info.name).collect::<Vec<_>>()[4], "output.weight");
        // Offsets are relative to each shard's own data section: every shard's first is 0.
        assert_eq!(m.tensor(2).unwrap().info.offset, 0);
        assert_eq!(m.tensor(3).unwrap().info.offset, 0);
        // The model's metadata is the first shard's.
        let md = m.metadata();
        assert_eq!(md.get("general.architecture").unwrap().as_str_bytes(), Some(&b"llama"[..]));
        assert_eq!(md.get("split.no").unwrap().as_u64(), Some(0));
        assert_eq!(m.shard(2).get("split.no").unwrap().as_u64(), Some(2));
    }
}

#[test]
fn a_shard_loaded_from_memory_is_just_that_shard() {
    let lay = layout();
    let b = shard_bytes(1, &std_keys(1, 3, 5), &lay[1]);
    let m = Model::from_bytes(&b, &LoadOptions::default()).unwrap();
    assert_eq!((m.shard_count(), m.tensor_count()), (1, 1));
    assert_eq!(m.tensor_data(0).unwrap(), &lay[1][0].3[..]);
}

#[test]
fn metadata_only_first_shard_and_wider_integer_types() {
    // gguf-split --no-tensor-first-split: shard 0 has no tensors (and no data padding). Split
    // keys of other unsigned/signed integer types whose values fit are accepted.
    let dir = tempfile::tempdir().unwrap();
    let mut lay = layout();
    let first = std::mem::take(&mut lay[0]);
    lay[1].extend(first);
    let paths = write_model(dir.path(), &lay, |_, k| {
        k.count = OwnedValue::U32(3);
        k.tensors_count = Some(OwnedValue::U64(5));
    });
    let m = Model::open(&paths[0], &LoadOptions::default()).unwrap();
    assert_eq!(m.tensor_count(), 5);
    assert_eq!(m.tensor(0).unwrap().shard, 1);
    assert_eq!(m.tensor(0).unwrap().info.name, "blk.0.ffn_up.weight");
    assert_eq!(m.tensor_data(2).unwrap(), &lay[1][2].3[..]);
}

#[test]
fn opening_the_second_shard_first_fails() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |_, _| {});
    let e = err(Model::open(&paths[1], &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["m-00002-of-00003.gguf", "shard 2 (split.no = 1) of 3", "open the first shard"]);
}

#[test]
fn a_missing_shard_fails() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |_, _| {});
    std::fs::remove_file(&paths[2]).unwrap();
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["shard 3 of 3 is missing", "m-00003-of-00003.gguf"]);
}

#[test]
fn a_wrong_split_no_fails() {
    let dir = tempfile::tempdir().unwrap();
    // Shard 2's file says split.no = 2 (it should be 1).
    let paths = write_model(dir.path(), &layout(), |i, k| {
        if i == 1 {
            k.no = OwnedValue::U16(2);
        }
    });
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["m-00002-of-00003.gguf", "expected split.no = 1 and split.count = 3", "Some((2, 3))"]);
}

#[test]
fn a_split_count_that_differs_between_shards_fails() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |i, k| {
        if i == 2 {
            k.count = OwnedValue::U16(4);
        }
    });
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["m-00003-of-00003.gguf", "expected split.no = 2 and split.count = 3"]);
}

#[test]
fn split_tensors_count_mismatch_fails() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |_, k| k.tensors_count = Some(OwnedValue::I32(6)));
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["split.tensors.count = 6", "3 shards hold 5 tensors"]);
    // Without the key the count is not checked.
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |_, k| k.tensors_count = None);
    assert_eq!(Model::open(&paths[0], &LoadOptions::default()).unwrap().tensor_count(), 5);
}

#[test]
fn a_tensor_duplicated_across_shards_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut lay = layout();
    lay[2][1].0 = "blk.0.attn_norm.weight"; // also in shard 1
    lay[2][1].1 = F32;
    lay[2][1].2 = vec![7];
    lay[2][1].3 = bytes_of(28, 9);
    let paths = write_model(dir.path(), &lay, |_, _| {});
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::DuplicateTensor);
    contains(&e, &["tensor 'blk.0.attn_norm.weight' of shard 3", "duplicates the one in shard 1", "at byte"]);
}

#[test]
fn split_keys_of_bad_types_or_values_fail() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |i, k| {
        if i == 0 {
            k.no = OwnedValue::str("0");
        }
    });
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["key 'split.no' at byte", "expected an integer"]);

    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |i, k| {
        if i == 0 {
            k.no = OwnedValue::I32(-1);
        }
    });
    assert_eq!(err(Model::open(&paths[0], &LoadOptions::default())).status(), Status::SplitMismatch);

    // split.no >= split.count.
    let dir = tempfile::tempdir().unwrap();
    let p = path(dir.path(), "m", 0, 3);
    std::fs::write(&p, shard_bytes(0, &std_keys(3, 3, 5), &layout()[0])).unwrap();
    let e = err(Model::open(&p, &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["split.no = 3 and split.count = 3"]);
}

#[test]
fn a_first_shard_whose_name_does_not_follow_the_convention_fails() {
    let dir = tempfile::tempdir().unwrap();
    let lay = layout();
    let p = dir.path().join("model.gguf");
    std::fs::write(&p, shard_bytes(0, &std_keys(0, 3, 5), &lay[0])).unwrap();
    let e = err(Model::open(&p, &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["model.gguf", "split.count = 3", "-00001-of-00003.gguf"]);
    // Named as shard 1 of 2 while the metadata says 3.
    let p = path(dir.path(), "x", 0, 2);
    std::fs::write(&p, shard_bytes(0, &std_keys(0, 3, 5), &lay[0])).unwrap();
    let e = err(Model::open(&p, &LoadOptions::default()));
    assert_eq!(e.status(), Status::SplitMismatch);
    contains(&e, &["the name says shard 1 of 2"]);
}

#[test]
fn a_corrupt_later_shard_reports_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_model(dir.path(), &layout(), |_, _| {});
    let mut b = std::fs::read(&paths[2]).unwrap();
    b.truncate(b.len() - 40); // into output.weight's data
    std::fs::write(&paths[2], &b).unwrap();
    let e = err(Model::open(&paths[0], &LoadOptions::default()));
    assert_eq!(e.status(), Status::DataOutOfBounds);
    contains(&e, &["m-00003-of-00003.gguf", "tensor 'output.weight'"]);
}

#[test]
fn non_ascii_file_names_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let lay = layout();
    // A non-ASCII prefix works like any other.
    let total = 5;
    for (i, t) in lay.iter().enumerate() {
        let p = path(dir.path(), "modèle-ß", i, 3);
        std::fs::write(&p, shard_bytes(i, &std_keys(i as u16, 3, total), t)).unwrap();
    }
    let m = Model::open(path(dir.path(), "modèle-ß", 0, 3), &LoadOptions::default()).unwrap();
    assert_eq!((m.shard_count(), m.tensor_count()), (3, 5));
    // Names whose last 15 bytes before ".gguf" cut a multi-byte character, or hold one where
    // the "-NNNNN-of-MMMMM" pattern is expected: not a shard name, a clean error.
    let stems = ["é".repeat(10), "x-0000é-of-00003".into(), "x-00001-ofé00003".into(), "m-00001-of-0000é".into()];
    for stem in stems {
        let p = dir.path().join(format!("{stem}.gguf"));
        std::fs::write(&p, shard_bytes(0, &std_keys(0, 3, total), &lay[0])).unwrap();
        let r = std::panic::catch_unwind(|| Model::open(&p, &LoadOptions::default()));
        let e = err(r.unwrap_or_else(|_| panic!("Model::open panicked on the file name {stem:?}")));
        assert_eq!(e.status(), Status::SplitMismatch, "{stem}: {}", e.message());
        contains(&e, &["the file name does not follow"]);
    }
}
