//! The malicious-input corpus (tests/common/malicious.rs: every case of reference/gguf-ggml.md
//! §3.3) as tests. Each case is written to its own file (split cases: a directory of shards) and
//! loaded every way bitgguf can: by path with mmap, by path with the read mode, from memory, the
//! parser alone, and through the C ABI (`bg_load`). Each must give the case's exact status, say
//! where (the file name for path loads), and leave `model_out` untouched on error.
//!
//! `BG_MALICIOUS_CORPUS_DIR=DIR` keeps the files in DIR (scripts/fuzz.sh uses them as seeds;
//! tests/malicious_ggml.rs runs them through real ggml).

mod common;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr;

use bitgguf::ffi::load::*;
use bitgguf::ffi::meta::*;
use bitgguf::ffi::tensor::*;
use bitgguf::ffi::types::*;
use bitgguf::ffi::{bg_load_options, bg_model};
use bitgguf::gguf::{self, Value};
use bitgguf::{LoadOptions, Model, Status, TypePolicy};
use common::malicious::{cases, Case};

/// Write a case's files under `dir`; returns the path to open.
fn write_case(dir: &Path, c: &Case) -> PathBuf {
    let d = if c.single() { dir.to_path_buf() } else { dir.join(c.name) };
    std::fs::create_dir_all(&d).unwrap();
    for (name, bytes) in &c.files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    d.join(&c.files[0].0)
}

fn status_of(r: &Result<Model, bitgguf::Error>) -> Status {
    match r {
        Ok(_) => Status::Ok,
        Err(e) => e.status(),
    }
}

/// The same options through the C ABI.
unsafe fn c_options(o: &LoadOptions) -> *mut bg_load_options {
    let h = bg_load_options_new();
    assert!(!h.is_null());
    let d = LoadOptions::default();
    let policy = match o.parse.type_policy {
        TypePolicy::Auto => BG_TYPE_POLICY_AUTO,
        TypePolicy::Upstream => BG_TYPE_POLICY_UPSTREAM,
        TypePolicy::Bitnet => BG_TYPE_POLICY_BITNET,
    };
    assert_eq!(bg_load_options_set_type_policy(h, policy), Status::Ok);
    let (l, dl) = (&o.parse.limits, &d.parse.limits);
    for (id, v, dv) in [
        (BG_LIMIT_MAX_STRING_LEN, l.max_string_len, dl.max_string_len),
        (BG_LIMIT_MAX_ARRAY_LEN, l.max_array_len, dl.max_array_len),
        (BG_LIMIT_MAX_TOTAL_STRINGS, l.max_total_strings, dl.max_total_strings),
        (BG_LIMIT_MAX_TENSORS, l.max_tensors, dl.max_tensors),
        (BG_LIMIT_MAX_KV, l.max_kv, dl.max_kv),
        (BG_LIMIT_MAX_ALIGNMENT, l.max_alignment, dl.max_alignment),
    ] {
        if v != dv {
            assert_eq!(bg_load_options_set_limit(h, id, v), Status::Ok);
        }
    }
    assert_eq!(bg_load_options_set_use_mmap(h, o.use_mmap), Status::Ok);
    h
}

/// Extra checks on the cases bitgguf accepts: what it exposes is what the file says.
fn check_accepted(c: &Case, m: &Model) {
    let md = m.metadata();
    match c.name {
        "key_70000_bytes" => assert_eq!(md.get(&"k".repeat(70_000)).and_then(|v| v.as_u64()), Some(1)),
        "value_invalid_utf8" => {
            assert_eq!(md.get("general.name").and_then(|v| v.as_str_bytes()), Some(&[0xc3, 0x28, 0xff][..]))
        }
        "bool_byte_2" => assert_eq!(md.get("a.flag"), Some(Value::Bool(true))),
        "alignment_1" => {
            assert_eq!(md.index().alignment(), 1);
            let b = m.tensor(1).unwrap().info;
            assert_eq!((b.name, b.offset, b.n_bytes), ("b", 3, 4));
        }
        "tensor_name_empty" => assert_eq!(m.find_tensor(""), Some(0)),
        "zero_dim_with_huge_dims" => {
            let t = m.tensor(0).unwrap().info;
            assert_eq!((t.ne, t.n_elements, t.n_bytes), ([0, 1 << 62, 1 << 62, 1 << 62], 0, 0));
            assert!(m.tensor_data(0).unwrap().is_empty());
        }
        "split_valid" => {
            assert_eq!((m.shard_count(), m.tensor_count()), (2, 2));
            assert_eq!(m.tensor_data(1).unwrap(), (1..17u8).collect::<Vec<_>>().as_slice());
        }
        other => panic!("case {other} is accepted but has no check in check_accepted"),
    }
}

fn run_case(dir: &Path, c: &Case) {
    let path = write_case(dir, c);
    let file = path.file_name().unwrap().to_str().unwrap().to_string();
    let ctx = format!("case {} ({}: {})", c.name, c.group, c.what);
    for use_mmap in [true, false] {
        let o = LoadOptions { use_mmap, ..c.opts };
        let r = Model::open(&path, &o);
        assert_eq!(status_of(&r), c.expect, "{ctx}, use_mmap {use_mmap}: {:?}", r.as_ref().err());
        match r {
            Ok(m) => check_accepted(c, &m),
            Err(e) => assert!(
                e.message().contains(&file) || e.message().contains(c.name),
                "{ctx}: the message does not name the file: {}",
                e.message()
            ),
        }
    }
    // From memory (a shard loaded from memory is that shard alone, so not for split cases).
    if c.single() && c.group != "splits" {
        let bytes = &c.files[0].1;
        let p = gguf::parse(bytes, &c.opts.parse);
        assert_eq!(p.as_ref().err().map_or(Status::Ok, |e| e.status()), c.expect, "{ctx}: gguf::parse");
        let r = Model::from_bytes(bytes, &c.opts);
        assert_eq!(status_of(&r), c.expect, "{ctx}: Model::from_bytes");
    }
    // The C ABI, both read modes.
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    for use_mmap in [true, false] {
        unsafe {
            let o = c_options(&LoadOptions { use_mmap, ..c.opts });
            let sentinel = 0x5a5a as *mut bg_model;
            let mut m = sentinel;
            let s = bg_load(cpath.as_ptr(), o, &mut m);
            bg_load_options_free(o);
            assert_eq!(s, c.expect, "{ctx}: bg_load, use_mmap {use_mmap}");
            if s == Status::Ok {
                assert_ne!(m, sentinel);
                assert!(bg_tensor_count(m) > 0 || c.name.starts_with("key") || c.name.starts_with("value"));
                bg_free(m);
            } else {
                assert_eq!(m, sentinel, "{ctx}: model_out written on error");
            }
        }
    }
}

#[test]
fn every_case_gives_its_status_every_way_it_is_loaded() {
    let keep = std::env::var_os("BG_MALICIOUS_CORPUS_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let all = cases();
    for c in &all {
        run_case(&dir, c);
    }
    if let Some(k) = keep {
        eprintln!("malicious corpus: {} cases written to {}", all.len(), k.display());
    }
}

#[test]
fn the_corpus_covers_every_group_of_section_3_3() {
    let all = cases();
    assert!(all.len() >= 40, "only {} cases", all.len());
    let mut names: Vec<_> = all.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "case names are not unique");
    for g in ["header and counts", "strings and keys", "values", "tensor infos", "splits"] {
        let n = all.iter().filter(|c| c.group == g).count();
        assert!(n >= 5, "group '{g}' has only {n} cases");
    }
    // The three holes still open in real ggml are in the corpus, and rejected here.
    for (name, st) in [
        ("nbytes_multiply_before_divide", Status::DataOutOfBounds),
        ("padding_wraps_near_u64_max", Status::DataOutOfBounds),
        ("alignment_2_31_no_tensors", Status::AlignmentTooLarge),
    ] {
        let c = all.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(c.expect, st);
    }
    // Every reject status of the parser and the split loader (1xx-4xx) appears at least once,
    // except the two that depend on the type policy (tests/type_policy.rs covers them).
    let parser_statuses = Status::ALL
        .iter()
        .copied()
        .filter(|s| (100..500).contains(&(*s as u32)) && !matches!(s, Status::ContestedType | Status::TypeNotStorable));
    for st in parser_statuses {
        assert!(all.iter().any(|c| c.expect == st), "no case expects {st:?}");
    }
}

#[test]
fn ggml_nbytes_wrap_case_is_what_it_claims() {
    // Independently of ggml: the multiply-first order wraps to 2 bytes, the divide-first order
    // (ours, and the one reference/gguf-ggml.md §3.3 prescribes) gives the true size.
    let ne0 = common::malicious::q4_0_ne0_whose_ggml_nbytes_wraps_to_2();
    assert_eq!(ne0 % 32, 0);
    assert_eq!(ne0.wrapping_mul(18) / 32, 2);
    let true_size = ne0 / 32 * 18;
    assert!(true_size > 1 << 61, "{true_size}");
    assert_eq!(common::ggml_nbytes(common::Q4_0, &[ne0]), Some(true_size));
    let c = cases().into_iter().find(|c| c.name == "nbytes_multiply_before_divide").unwrap();
    let e = gguf::parse(&c.files[0].1, &c.opts.parse).unwrap_err();
    assert!(e.message().contains(&format!("{true_size} bytes")), "{}", e.message());
}

// ---- hostile-metadata consumers (§3.3): typed accessors through the C ABI --------------------

fn load_mem(bytes: &[u8]) -> *mut bg_model {
    let mut m = ptr::null_mut();
    assert_eq!(unsafe { bg_load_from_memory(bytes.as_ptr(), bytes.len(), ptr::null(), &mut m) }, Status::Ok);
    m
}

#[test]
fn array_element_type_confusion_is_a_status_not_a_wrong_pointer() {
    // llama.cpp #26690: a u8[] read as f32[] gave an out-of-bounds read. Here the element type
    // is part of the request and the length is in bytes of the real array.
    use common::*;
    let b = Spec::new().kv(kv_raw(b"a.scores", T_ARRAY, &array_payload(T_U8, 3, &[1, 2, 3]))).bytes();
    let m = load_mem(&b);
    unsafe {
        let key = CString::new("a.scores").unwrap();
        let mut i = 0usize;
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut i), Status::Ok);
        let (mut p, mut n) = (std::ptr::dangling::<u8>(), 77usize);
        for wrong in [BG_META_F32, BG_META_I32, BG_META_U16, BG_META_U64, BG_META_F64, BG_META_I8] {
            assert_eq!(bg_meta_get_arr_data(m, i, wrong, &mut p, &mut n), Status::TypeMismatch, "{wrong}");
            assert_eq!((p as usize, n), (1, 77));
        }
        assert_eq!(bg_meta_get_arr_data(m, i, BG_META_U8, &mut p, &mut n), Status::Ok);
        assert_eq!(std::slice::from_raw_parts(p, n), &[1, 2, 3]);
        // A scalar getter on an array, and a string getter on a u8 array, are type mismatches.
        let mut f = 9.0f32;
        assert_eq!(bg_meta_get_f32(m, i, &mut f), Status::TypeMismatch);
        let (mut s, mut sl) = (ptr::null(), 5usize);
        assert_eq!(bg_meta_get_arr_str(m, i, 0, &mut s, &mut sl), Status::TypeMismatch);
        assert_eq!((f, sl), (9.0, 5));
        bg_free(m);
    }
}

#[test]
fn numeric_metadata_used_as_sizes_has_a_checked_getter() {
    // block_count > LLAMA_MAX_LAYERS wrote out of bounds in llama.cpp (#25821): the caller passes
    // its own maximum and gets a status, any integer type accepted.
    use common::*;
    let b = Spec::new()
        .kv(kv("llama.block_count", &bitgguf::gguf::OwnedValue::U64(100_000)))
        .kv(kv("llama.head_count", &bitgguf::gguf::OwnedValue::I16(-4)))
        .kv(kv("llama.vocab_size", &bitgguf::gguf::OwnedValue::U8(200)))
        .bytes();
    let m = load_mem(&b);
    unsafe {
        let find = |k: &str| {
            let key = CString::new(k).unwrap();
            let mut i = 0usize;
            assert_eq!(bg_meta_find(m, key.as_ptr(), &mut i), Status::Ok);
            i
        };
        let mut v = 7u64;
        assert_eq!(bg_meta_get_uint(m, find("llama.block_count"), 512, &mut v), Status::InvalidParameter);
        assert_eq!(v, 7);
        assert_eq!(bg_meta_get_uint(m, find("llama.head_count"), 512, &mut v), Status::TypeMismatch);
        assert_eq!(v, 7);
        assert_eq!(bg_meta_get_uint(m, find("llama.vocab_size"), 512, &mut v), Status::Ok);
        assert_eq!(v, 200);
        bg_free(m);
    }
}

// ---- process level (§3.3): the file changes while the model is loaded -------------------------

/// A model with a 64 KiB f32 tensor (several pages) and string metadata.
fn mutable_model() -> Vec<u8> {
    let mut w = bitgguf::gguf::GgufWriter::new();
    w.kv("general.architecture", bitgguf::gguf::OwnedValue::str("llama"))
        .kv("general.name", bitgguf::gguf::OwnedValue::str("original name"));
    let data: Vec<u8> = (0..16384u32).flat_map(|i| (i as f32 * 0.25).to_le_bytes()).collect();
    w.tensor("big", common::F32, &[16384], data);
    w.tensor("small", common::F32, &[4], vec![0x11; 16]);
    w.to_bytes().unwrap()
}

#[test]
fn read_mode_survives_the_file_being_truncated_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changing.gguf");
    let bytes = mutable_model();
    std::fs::write(&path, &bytes).unwrap();
    let opts = LoadOptions { use_mmap: false, ..LoadOptions::default() };
    let m = Model::open(&path, &opts).unwrap();
    // The same through the C ABI.
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    let cm = unsafe {
        let o = c_options(&opts);
        let mut cm = ptr::null_mut();
        assert_eq!(bg_load(cpath.as_ptr(), o, &mut cm), Status::Ok);
        bg_load_options_free(o);
        cm
    };
    let original_big = m.tensor_data(0).unwrap().to_vec();
    let check = |when: &str| {
        assert_eq!(m.tensor_data(0).unwrap(), &original_big[..], "{when}");
        assert_eq!(m.tensor_data(1).unwrap(), &[0x11; 16], "{when}");
        assert_eq!(m.metadata().get("general.name").unwrap().as_str_bytes(), Some(&b"original name"[..]), "{when}");
        unsafe {
            let (mut p, mut n) = (ptr::null(), 0usize);
            assert_eq!(bg_tensor_data(cm, 0, &mut p, &mut n), Status::Ok);
            assert_eq!(std::slice::from_raw_parts(p, n), &original_big[..], "{when}: bg_tensor_data");
            let mut out = vec![0f32; 16384];
            assert_eq!(
                bitgguf::ffi::dequant::bg_tensor_dequantize(cm, 0, BG_TYPE_F32, out.as_mut_ptr().cast(), 65536),
                Status::Ok
            );
            assert!(out.iter().enumerate().all(|(i, &v)| v == i as f32 * 0.25), "{when}: dequantized values");
        }
    };
    check("after load");
    // Truncated to nothing.
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    check("after truncation to 0 bytes");
    // Rewritten: same length, every byte different; then longer.
    std::fs::write(&path, bytes.iter().map(|b| !b).collect::<Vec<_>>()).unwrap();
    check("after an in-place rewrite");
    std::fs::write(&path, vec![0xEE; bytes.len() * 2]).unwrap();
    check("after a rewrite to twice the size");
    // Deleted.
    std::fs::remove_file(&path).unwrap();
    check("after deletion");
    unsafe { bg_free(cm) };
}

/// The child of mapped_mode_dies_with_sigbus_when_the_file_is_truncated.
#[test]
#[ignore = "the child process of mapped_mode_dies_with_sigbus_when_the_file_is_truncated (run by it)"]
fn sigbus_child() {
    let path = std::env::var("BG_SIGBUS_FILE").expect("run by mapped_mode_dies_with_sigbus_when_the_file_is_truncated");
    let cpath = CString::new(path.clone()).unwrap();
    unsafe {
        let mut m = ptr::null_mut();
        assert_eq!(bg_load(cpath.as_ptr(), ptr::null(), &mut m), Status::Ok, "default options map the file");
        let (mut p, mut n) = (ptr::null(), 0usize);
        assert_eq!(bg_tensor_data(m, 0, &mut p, &mut n), Status::Ok);
        assert_eq!(std::ptr::read_volatile(p.add(8)), 0); // element 2 = 0.5f32 = 00 00 00 3f
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
        println!("SIGBUS_CHILD touching the mapping after truncation");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        let b = std::ptr::read_volatile(p.add(n - 1));
        println!("SIGBUS_CHILD survived, read {b}");
        bg_free(m);
    }
}

#[test]
fn mapped_mode_dies_with_sigbus_when_the_file_is_truncated() {
    // The documented hazard of the default (mmap) mode, shown in a child process: after another
    // writer truncates the file, touching the tensor data kills the process with SIGBUS.
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapped.gguf");
    std::fs::write(&path, mutable_model()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["sigbus_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("BG_SIGBUS_FILE", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("SIGBUS_CHILD touching"),
        "the child did not get that far: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("SIGBUS_CHILD survived"), "{stdout}");
    assert_eq!(out.status.signal(), Some(7), "expected SIGBUS (7), got {:?}", out.status);
}
