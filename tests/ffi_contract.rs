//! The C ABI's contract, exercised from Rust through the exported functions: NULL for every
//! pointer argument, outputs untouched on error, `free(NULL)`, reference counting, the last
//! error message, and concurrent queries on one model from many threads.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use bitgguf::error::Status;
use bitgguf::ffi::bg_model;
use bitgguf::ffi::load::*;
use bitgguf::ffi::meta::*;
use bitgguf::ffi::status::*;
use bitgguf::ffi::tensor::*;
use bitgguf::ffi::types::*;
use bitgguf::ffi::version::*;
use bitgguf::gguf::{GgufWriter, OwnedValue, ValueType};

fn sample() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"))
        .kv("llama.block_count", OwnedValue::U32(2))
        .kv("neg", OwnedValue::I32(-5))
        .kv("pi", OwnedValue::F32(3.5))
        .kv("flag", OwnedValue::Bool(true))
        .kv("big", OwnedValue::U64(1 << 40))
        .kv(
            "tokenizer.ggml.tokens",
            OwnedValue::Array(
                ValueType::String,
                vec![OwnedValue::str("<s>"), OwnedValue::str("hello"), OwnedValue::str("")],
            ),
        )
        .kv("scores", OwnedValue::Array(ValueType::F32, vec![OwnedValue::F32(1.0), OwnedValue::F32(-2.0)]));
    w.tensor("a", BG_TYPE_F32, &[4, 2], (0..32u8).collect());
    w.tensor("b.weight", BG_TYPE_Q8_0, &[64], (0..68u8).map(|x| x.wrapping_mul(3)).collect());
    w.to_bytes().unwrap()
}

fn load(bytes: &[u8]) -> *mut bg_model {
    let mut m = ptr::null_mut();
    let s = unsafe { bg_load_from_memory(bytes.as_ptr(), bytes.len(), ptr::null(), &mut m) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    assert!(!m.is_null());
    m
}

fn last_error() -> String {
    let mut n = 0usize;
    let s = unsafe { bg_last_error_message(ptr::null_mut(), 0, &mut n) };
    if n == 0 {
        return String::new();
    }
    assert_eq!(s, Status::InsufficientSize);
    let mut buf = vec![0 as c_char; n + 1];
    let mut n2 = 0usize;
    assert_eq!(unsafe { bg_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n2) }, Status::Ok);
    assert_eq!(n, n2);
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string()
}

#[test]
fn load_query_and_free() {
    let bytes = sample();
    let m = load(&bytes);
    unsafe {
        assert_eq!(bg_tensor_count(m), 2);
        assert_eq!(bg_meta_count(m), 8);
        let name = CString::new("b.weight").unwrap();
        let mut idx = 99usize;
        assert_eq!(bg_tensor_find(m, name.as_ptr(), &mut idx), Status::Ok);
        assert_eq!(idx, 1);
        let mut info = std::mem::zeroed::<bg_tensor_desc>();
        assert_eq!(bg_tensor_info(m, 1, &mut info), Status::Ok);
        assert_eq!(CStr::from_ptr(info.name).to_str().unwrap(), "b.weight");
        assert_eq!(info.name_len, 8);
        assert_eq!(info.type_id, BG_TYPE_Q8_0);
        assert_eq!(info.n_dims, 1);
        assert_eq!(info.ne, [64, 1, 1, 1]);
        assert_eq!(info.n_elements, 64);
        assert_eq!(info.offset, 32, "f32 4x2 = 32 bytes, padded to 32");
        assert_eq!(info.n_bytes, 68);
        let (mut p, mut n) = (ptr::null(), 0usize);
        assert_eq!(bg_tensor_data(m, 1, &mut p, &mut n), Status::Ok);
        let data = std::slice::from_raw_parts(p, n);
        assert_eq!(data, (0..68u8).map(|x| x.wrapping_mul(3)).collect::<Vec<_>>().as_slice());

        let key = CString::new("llama.block_count").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        let mut u = 0u32;
        assert_eq!(bg_meta_get_u32(m, idx, &mut u), Status::Ok);
        assert_eq!(u, 2);
        let mut wide = 0u64;
        assert_eq!(bg_meta_get_uint(m, idx, 512, &mut wide), Status::Ok);
        assert_eq!(wide, 2);
        assert_eq!(bg_meta_get_uint(m, idx, 1, &mut wide), Status::InvalidParameter);
        // Type mismatch is a status, not an abort, and the output is untouched.
        let mut i = 77i32;
        assert_eq!(bg_meta_get_i32(m, idx, &mut i), Status::TypeMismatch);
        assert_eq!(i, 77);
        assert!(last_error().contains("llama.block_count"), "{}", last_error());

        let key = CString::new("neg").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        assert_eq!(bg_meta_get_i32(m, idx, &mut i), Status::Ok);
        assert_eq!(i, -5);
        assert_eq!(bg_meta_get_uint(m, idx, u64::MAX, &mut wide), Status::TypeMismatch);

        let key = CString::new("tokenizer.ggml.tokens").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        let mut d = std::mem::zeroed::<bg_meta_desc>();
        assert_eq!(bg_meta_info(m, idx, &mut d), Status::Ok);
        assert_eq!((d.value_type, d.array_type, d.array_len), (BG_META_ARRAY, BG_META_STRING, 3));
        assert_eq!(CStr::from_ptr(d.key).to_str().unwrap(), "tokenizer.ggml.tokens");
        let (mut s, mut sl) = (ptr::null(), 0usize);
        assert_eq!(bg_meta_get_arr_str(m, idx, 1, &mut s, &mut sl), Status::Ok);
        assert_eq!(std::slice::from_raw_parts(s.cast::<u8>(), sl), b"hello");
        assert_eq!(bg_meta_get_arr_str(m, idx, 2, &mut s, &mut sl), Status::Ok);
        assert_eq!(sl, 0);
        assert_eq!(bg_meta_get_arr_str(m, idx, 3, &mut s, &mut sl), Status::IndexOutOfRange);
        // A string array is not f32 data.
        let (mut dp, mut dl) = (ptr::null(), 0usize);
        assert_eq!(bg_meta_get_arr_data(m, idx, BG_META_F32, &mut dp, &mut dl), Status::TypeMismatch);

        let key = CString::new("scores").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        assert_eq!(bg_meta_get_arr_data(m, idx, BG_META_U8, &mut dp, &mut dl), Status::TypeMismatch);
        assert_eq!(bg_meta_get_arr_data(m, idx, BG_META_STRING, &mut dp, &mut dl), Status::InvalidParameter);
        assert_eq!(bg_meta_get_arr_data(m, idx, BG_META_F32, &mut dp, &mut dl), Status::Ok);
        assert_eq!(dl, 8);
        let raw = std::slice::from_raw_parts(dp, dl);
        assert_eq!(f32::from_le_bytes(raw[4..8].try_into().unwrap()), -2.0);

        let key = CString::new("general.architecture").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        assert_eq!(bg_meta_get_str(m, idx, &mut s, &mut sl), Status::Ok);
        assert_eq!(std::slice::from_raw_parts(s.cast::<u8>(), sl), b"llama");

        let key = CString::new("pi").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        let mut v = 0f32;
        assert_eq!(bg_meta_get_f32(m, idx, &mut v), Status::Ok);
        assert_eq!(v, 3.5);
        let key = CString::new("flag").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        let mut b = false;
        assert_eq!(bg_meta_get_bool(m, idx, &mut b), Status::Ok);
        assert!(b);
        let key = CString::new("big").unwrap();
        assert_eq!(bg_meta_find(m, key.as_ptr(), &mut idx), Status::Ok);
        assert_eq!(bg_meta_get_u64(m, idx, &mut wide), Status::Ok);
        assert_eq!(wide, 1 << 40);

        // Reference counting: retain, free twice.
        let m2 = bg_model_retain(m);
        assert_eq!(m2, m);
        bg_free(m);
        assert_eq!(bg_tensor_count(m2), 2);
        bg_free(m2);
    }
}

#[test]
fn null_arguments_and_untouched_outputs() {
    let bytes = sample();
    let m = load(&bytes);
    unsafe {
        let name = CString::new("a").unwrap();
        let mut idx = 12345usize;
        assert_eq!(bg_tensor_find(ptr::null(), name.as_ptr(), &mut idx), Status::NullParameter);
        assert_eq!(bg_tensor_find(m, ptr::null(), &mut idx), Status::NullParameter);
        assert_eq!(bg_tensor_find(m, name.as_ptr(), ptr::null_mut()), Status::NullParameter);
        assert_eq!(idx, 12345);
        assert!(last_error().contains("index_out"), "{}", last_error());
        let missing = CString::new("nope").unwrap();
        assert_eq!(bg_tensor_find(m, missing.as_ptr(), &mut idx), Status::NotFound);
        assert_eq!(idx, 12345);
        assert_eq!(bg_meta_find(m, missing.as_ptr(), &mut idx), Status::NotFound);
        assert_eq!(bg_meta_find(ptr::null(), missing.as_ptr(), &mut idx), Status::NullParameter);

        let mut info = std::mem::zeroed::<bg_tensor_desc>();
        info.n_bytes = 777;
        assert_eq!(bg_tensor_info(m, 2, &mut info), Status::IndexOutOfRange);
        assert_eq!(info.n_bytes, 777);
        assert_eq!(bg_tensor_info(ptr::null(), 0, &mut info), Status::NullParameter);
        assert_eq!(bg_tensor_info(m, 0, ptr::null_mut()), Status::NullParameter);
        let (mut p, mut n) = (ptr::null::<u8>(), 5usize);
        assert_eq!(bg_tensor_data(m, 9, &mut p, &mut n), Status::IndexOutOfRange);
        assert_eq!((p.is_null(), n), (true, 5));
        assert_eq!(bg_tensor_data(m, 0, ptr::null_mut(), &mut n), Status::NullParameter);
        assert_eq!(bg_tensor_data(m, 0, &mut p, ptr::null_mut()), Status::NullParameter);
        let mut d = std::mem::zeroed::<bg_meta_desc>();
        assert_eq!(bg_meta_info(m, 100, &mut d), Status::IndexOutOfRange);
        assert_eq!(bg_meta_info(m, 0, ptr::null_mut()), Status::NullParameter);
        let mut v = 0u8;
        assert_eq!(bg_meta_get_u8(m, 0, ptr::null_mut()), Status::NullParameter);
        assert_eq!(bg_meta_get_u8(ptr::null(), 0, &mut v), Status::NullParameter);
        assert_eq!(bg_meta_get_u8(m, 100, &mut v), Status::IndexOutOfRange);
        assert_eq!(bg_tensor_count(ptr::null()), 0);
        assert_eq!(bg_meta_count(ptr::null()), 0);

        // Loading: NULLs and an untouched model_out on error.
        let mut out: *mut bg_model = std::ptr::dangling_mut::<bg_model>();
        assert_eq!(bg_load(ptr::null(), ptr::null(), &mut out), Status::NullParameter);
        assert_eq!(bg_load_from_memory(ptr::null(), 10, ptr::null(), &mut out), Status::NullParameter);
        assert_eq!(
            bg_load_from_memory(bytes.as_ptr(), bytes.len(), ptr::null(), ptr::null_mut()),
            Status::NullParameter
        );
        assert_eq!(bg_load_from_memory(bytes.as_ptr(), 10, ptr::null(), &mut out), Status::Truncated);
        assert_eq!(out as usize, 1);
        let missing = CString::new("/nonexistent/dir/model.gguf").unwrap();
        assert_eq!(bg_load(missing.as_ptr(), ptr::null(), &mut out), Status::Io);
        assert!(last_error().contains("/nonexistent/dir/model.gguf"), "{}", last_error());
        assert_eq!(out as usize, 1);
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(bg_load_from_memory(bad.as_ptr(), bad.len(), ptr::null(), &mut out), Status::BadMagic);
        assert!(last_error().contains("expected 'GGUF'"), "{}", last_error());
        assert_eq!(out as usize, 1);

        // Options.
        let o = bg_load_options_new();
        assert!(!o.is_null());
        assert_eq!(bg_load_options_set_type_policy(o, 7), Status::InvalidParameter);
        assert_eq!(bg_load_options_set_type_policy(ptr::null_mut(), 0), Status::NullParameter);
        assert_eq!(bg_load_options_set_type_policy(o, BG_TYPE_POLICY_UPSTREAM), Status::Ok);
        assert_eq!(bg_load_options_set_limit(o, BG_LIMIT_MAX_ALIGNMENT, 48), Status::InvalidParameter);
        assert_eq!(bg_load_options_set_limit(o, 99, 48), Status::InvalidParameter);
        assert_eq!(bg_load_options_set_limit(o, BG_LIMIT_MAX_TENSORS, 0), Status::InvalidParameter);
        assert_eq!(bg_load_options_set_limit(o, BG_LIMIT_MAX_TENSORS, 1), Status::Ok);
        assert_eq!(bg_load_options_set_use_mmap(o, false), Status::Ok);
        // Two tensors exceed the limit of one.
        assert_eq!(bg_load_from_memory(bytes.as_ptr(), bytes.len(), o, &mut out), Status::TensorCountTooLarge);
        assert_eq!(bg_load_options_set_limit(o, BG_LIMIT_MAX_TENSORS, 2), Status::Ok);
        let mut m2 = ptr::null_mut();
        assert_eq!(bg_load_from_memory(bytes.as_ptr(), bytes.len(), o, &mut m2), Status::Ok);
        bg_free(m2);
        bg_load_options_free(o);
        bg_load_options_free(ptr::null_mut());
        bg_free(ptr::null_mut());
        assert!(bg_model_retain(ptr::null()).is_null());

        // Last error with a too-small buffer: the size is reported, nothing is copied, and the
        // message survives the size query.
        let mut n = 0usize;
        let mut small = [7 as c_char; 4];
        let before = last_error();
        assert_eq!(bg_last_error_message(small.as_mut_ptr(), small.len(), &mut n), Status::InsufficientSize);
        assert_eq!(n, before.len());
        assert_eq!(small, [7 as c_char; 4]);
        assert_eq!(bg_last_error_message(small.as_mut_ptr(), 4, ptr::null_mut()), Status::NullParameter);
        assert_eq!(last_error(), before);
        bg_free(m);
    }
}

#[test]
fn strings_types_and_versions() {
    unsafe {
        assert_eq!(CStr::from_ptr(bg_status_str(0)).to_str().unwrap(), "ok");
        assert_eq!(
            CStr::from_ptr(bg_status_str(Status::BadMagic as u32)).to_str().unwrap(),
            Status::BadMagic.description()
        );
        assert_eq!(CStr::from_ptr(bg_status_str(12345)).to_str().unwrap(), "unknown status");
        assert_eq!(CStr::from_ptr(bg_type_name(BG_TYPE_Q4_K)).to_str().unwrap(), "q4_k");
        assert_eq!(CStr::from_ptr(bg_type_name(BG_TYPE_I2_S)).to_str().unwrap(), "i2_s");
        assert!(bg_type_name(43).is_null());
        let mut t = 0u32;
        let n = CString::new("Q4_K").unwrap();
        assert_eq!(bg_type_from_name(n.as_ptr(), &mut t), Status::Ok);
        assert_eq!(t, 12);
        let n = CString::new("tl2").unwrap();
        assert_eq!(bg_type_from_name(n.as_ptr(), &mut t), Status::Ok);
        assert_eq!(t, BG_TYPE_TL2);
        let n = CString::new("q4_0_4_4").unwrap();
        assert_eq!(bg_type_from_name(n.as_ptr(), &mut t), Status::NotFound);
        assert_eq!(bg_type_from_name(ptr::null(), &mut t), Status::NullParameter);
        let v = CStr::from_ptr(bg_version()).to_str().unwrap();
        assert!(v.starts_with(&format!("{BG_VERSION_MAJOR}.{BG_VERSION_MINOR}.{BG_VERSION_PATCH} (features: ")), "{v}");
        assert!(v.contains("simd: "), "{v}");
        assert_eq!(bg_abi_version(), BG_ABI_VERSION);
    }
}

#[test]
fn concurrent_queries_on_one_model() {
    let bytes = sample();
    let m = load(&bytes) as usize;
    // The f32 values of tensor "a" (bytes 0..32) and the q8_0 ones of "b.weight", single-threaded.
    let expect = |i: usize, n: usize| unsafe {
        let mut v = vec![0f32; n];
        assert_eq!(
            bitgguf::ffi::dequant::bg_tensor_dequantize(
                m as *const bg_model,
                i,
                BG_TYPE_F32,
                v.as_mut_ptr().cast(),
                n * 4
            ),
            Status::Ok
        );
        v
    };
    let (want_a, want_b) = (expect(0, 8), expect(1, 64));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (want_a, want_b) = (want_a.clone(), want_b.clone());
            std::thread::spawn(move || unsafe {
                let m = bg_model_retain(m as *const bg_model);
                let name = CString::new("a").unwrap();
                let tok = CString::new("tokenizer.ggml.tokens").unwrap();
                let mut ti = 0usize;
                assert_eq!(bg_meta_find(m, tok.as_ptr(), &mut ti), Status::Ok);
                for k in 0..1000 {
                    let (mut s, mut sl) = (ptr::null(), 0usize);
                    assert_eq!(bg_meta_get_arr_str(m, ti, 1, &mut s, &mut sl), Status::Ok);
                    assert_eq!(std::slice::from_raw_parts(s.cast::<u8>(), sl), b"hello");
                    let (i, want) = if (k + t) % 2 == 0 { (0, &want_a) } else { (1, &want_b) };
                    let mut got = vec![f32::NAN; want.len()];
                    let s = bitgguf::ffi::dequant::bg_tensor_dequantize(
                        m,
                        i,
                        BG_TYPE_F32,
                        got.as_mut_ptr().cast(),
                        got.len() * 4,
                    );
                    assert_eq!(s, Status::Ok);
                    assert_eq!(
                        got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    );
                    let mut idx = 9usize;
                    assert_eq!(bg_tensor_find(m, name.as_ptr(), &mut idx), Status::Ok);
                    assert_eq!(idx, 0);
                    let mut info = std::mem::zeroed::<bg_tensor_desc>();
                    assert_eq!(bg_tensor_info(m, t % 2, &mut info), Status::Ok);
                    let (mut p, mut n) = (ptr::null(), 0usize);
                    assert_eq!(bg_tensor_data(m, 0, &mut p, &mut n), Status::Ok);
                    assert_eq!(*p.add(5), 5);
                    // Per-thread last error.
                    let mut v = 0u8;
                    assert_eq!(bg_meta_get_u8(m, 100 + t, &mut v), Status::IndexOutOfRange);
                    assert!(last_error().contains(&format!("index {}", 100 + t)));
                }
                bg_free(m);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    unsafe { bg_free(m as *mut bg_model) };
}

// ---- completeness: NULL for every pointer argument of every exported function ------------------

use bitgguf::ffi::crossval::*;
use bitgguf::ffi::cuda::{bg_cuda_device_count, bg_cuda_device_info};
use bitgguf::ffi::dequant::*;
use bitgguf::ffi::quantize::*;
use std::collections::BTreeSet;
use std::ffi::c_void;

/// The functions include/bitgguf.h declares (comments stripped; a name followed by `(`).
fn header_functions() -> BTreeSet<String> {
    let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/bitgguf.h")).unwrap();
    let mut code = String::new();
    let mut rest = h.as_str();
    // Strip /* */ and // comments.
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = &r[r.find("*/").map_or(r.len(), |i| i + 2)..];
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = &r[r.find('\n').unwrap_or(r.len())..];
        } else {
            let c = rest.chars().next().unwrap();
            code.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let b = code.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("bg_") {
        let s = i + p;
        let word_start = s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_');
        let mut e = s;
        while e < b.len() && (b[e].is_ascii_lowercase() || b[e].is_ascii_digit() || b[e] == b'_') {
            e += 1;
        }
        let mut f = e;
        while f < b.len() && b[f] == b' ' {
            f += 1;
        }
        if word_start && f < b.len() && b[f] == b'(' {
            out.insert(code[s..e].to_string());
        }
        i = e.max(s + 3);
    }
    out
}

/// The bytes of a value (to check an output struct was not written at all).
fn bytes_of<T>(v: &T) -> Vec<u8> {
    // SAFETY: reading size_of::<T>() initialized bytes (every test value is fully initialized
    // with write_bytes first).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()).to_vec() }
}

/// A value of T whose every byte is 0xA5 (a sentinel for "untouched").
fn sentinel<T>() -> T {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: all-0xA5 is a valid bit pattern for the plain-data output types used here.
    unsafe {
        v.as_mut_ptr().write_bytes(0xA5, 1);
        v.assume_init()
    }
}

/// Calls every export with NULL in each pointer argument (one at a time, the others valid),
/// asserts the documented status and that no output was written, and records the names called.
/// The companion test fails when the header declares a function this does not call.
fn null_checks(seen: &mut BTreeSet<String>) {
    macro_rules! call {
        ($f:ident ( $($a:expr),* ) ) => {{
            seen.insert(stringify!($f).to_string());
            #[allow(unused_unsafe)]
            unsafe { $f($($a),*) }
        }};
    }
    const NP: Status = Status::NullParameter;
    let bytes = sample();
    let m = load(&bytes);
    let key = CString::new("pi").unwrap();
    let strs = CString::new("tokenizer.ggml.tokens").unwrap();
    let scores = CString::new("scores").unwrap();
    let tname = CString::new("a").unwrap();
    let n = ptr::null_mut::<c_void>();
    let idx_of = |k: &CString| {
        let mut i = 0usize;
        assert_eq!(unsafe { bg_meta_find(m, k.as_ptr(), &mut i) }, Status::Ok);
        i
    };
    let (pi, tok, sc) = (idx_of(&key), idx_of(&strs), idx_of(&scores));

    // status / version / types
    assert!(!call!(bg_status_str(u32::MAX)).is_null());
    assert!(!call!(bg_version()).is_null());
    assert_eq!(call!(bg_abi_version()), BG_ABI_VERSION);
    assert!(call!(bg_type_name(u32::MAX)).is_null());
    let mut ty = 0xA5A5_A5A5u32;
    assert_eq!(call!(bg_type_from_name(ptr::null(), &mut ty)), NP);
    let q8 = CString::new("q8_0").unwrap();
    assert_eq!(call!(bg_type_from_name(q8.as_ptr(), ptr::null_mut())), NP);
    assert_eq!(ty, 0xA5A5_A5A5);
    let mut len = 0xA5usize;
    assert_eq!(call!(bg_last_error_message(ptr::null_mut(), 0, ptr::null_mut())), NP);
    assert_eq!(call!(bg_last_error_message(ptr::null_mut(), 100, &mut len)), Status::InsufficientSize);

    // options
    let o = call!(bg_load_options_new());
    assert!(!o.is_null());
    assert_eq!(call!(bg_load_options_set_type_policy(ptr::null_mut(), 0)), NP);
    assert_eq!(call!(bg_load_options_set_use_mmap(ptr::null_mut(), false)), NP);
    assert_eq!(call!(bg_load_options_set_limit(ptr::null_mut(), BG_LIMIT_MAX_KV, 1)), NP);
    assert_eq!(call!(bg_load_options_set_tl_config(ptr::null_mut(), 32, 64, 32)), NP);
    assert_eq!(call!(bg_load_options_set_tl_config(o, 32, 0, 32)), Status::InvalidParameter);
    assert_eq!(call!(bg_load_options_set_tl_preset(ptr::null_mut(), c"bitnet-3b".as_ptr())), NP);
    assert_eq!(call!(bg_load_options_set_tl_preset(o, c"no-such-model".as_ptr())), Status::InvalidParameter);
    assert_eq!(call!(bg_load_options_set_tl_preset(o, ptr::null())), Status::Ok, "NULL clears the preset");
    assert_eq!(call!(bg_load_options_set_i2s_layout(ptr::null_mut(), BG_I2S_LAYOUT_GROUP_64)), NP);
    assert_eq!(call!(bg_load_options_set_i2s_layout(o, 7)), Status::InvalidParameter);
    call!(bg_load_options_free(ptr::null_mut()));

    // loading
    let mut mo = 0x5a as *mut bg_model;
    assert_eq!(call!(bg_load(ptr::null(), o, &mut mo)), NP);
    let path = CString::new("/nonexistent.gguf").unwrap();
    assert_eq!(call!(bg_load(path.as_ptr(), o, ptr::null_mut())), NP);
    assert_eq!(call!(bg_load_from_memory(ptr::null(), 1, o, &mut mo)), NP);
    assert_eq!(call!(bg_load_from_memory(bytes.as_ptr(), bytes.len(), o, ptr::null_mut())), NP);
    assert_eq!(mo as usize, 0x5a);
    // NULL data with length 0 is an empty input: truncated, not a NULL error.
    assert_eq!(call!(bg_load_from_memory(ptr::null(), 0, ptr::null(), &mut mo)), Status::Truncated);
    assert_eq!(mo as usize, 0x5a);
    assert!(call!(bg_model_retain(ptr::null())).is_null());
    call!(bg_free(ptr::null_mut()));
    unsafe { bg_load_options_free(o) };

    // metadata
    assert_eq!(call!(bg_meta_count(ptr::null())), 0);
    let mut ix = 0xA5A5usize;
    assert_eq!(call!(bg_meta_find(ptr::null(), key.as_ptr(), &mut ix)), NP);
    assert_eq!(call!(bg_meta_find(m, ptr::null(), &mut ix)), NP);
    assert_eq!(call!(bg_meta_find(m, key.as_ptr(), ptr::null_mut())), NP);
    assert_eq!(ix, 0xA5A5);
    let mut md: bg_meta_desc = sentinel();
    let md0 = bytes_of(&md);
    assert_eq!(call!(bg_meta_info(ptr::null(), 0, &mut md)), NP);
    assert_eq!(call!(bg_meta_info(m, 0, ptr::null_mut())), NP);
    assert_eq!(call!(bg_meta_info(m, usize::MAX, &mut md)), Status::IndexOutOfRange);
    assert_eq!(bytes_of(&md), md0);
    macro_rules! scalar {
        ($f:ident, $t:ty) => {{
            let mut v: $t = sentinel();
            let v0 = bytes_of(&v);
            assert_eq!(call!($f(ptr::null(), pi, &mut v)), NP, stringify!($f));
            assert_eq!(call!($f(m, pi, ptr::null_mut())), NP, stringify!($f));
            assert_eq!(call!($f(m, usize::MAX, &mut v)), Status::IndexOutOfRange, stringify!($f));
            assert_eq!(bytes_of(&v), v0, stringify!($f));
        }};
    }
    scalar!(bg_meta_get_u8, u8);
    scalar!(bg_meta_get_i8, i8);
    scalar!(bg_meta_get_u16, u16);
    scalar!(bg_meta_get_i16, i16);
    scalar!(bg_meta_get_u32, u32);
    scalar!(bg_meta_get_i32, i32);
    scalar!(bg_meta_get_f32, f32);
    scalar!(bg_meta_get_u64, u64);
    scalar!(bg_meta_get_i64, i64);
    scalar!(bg_meta_get_f64, f64);
    {
        let mut v = 7u8 != 0;
        assert_eq!(call!(bg_meta_get_bool(ptr::null(), pi, &mut v)), NP);
        assert_eq!(call!(bg_meta_get_bool(m, pi, ptr::null_mut())), NP);
        assert_eq!(call!(bg_meta_get_bool(m, usize::MAX, &mut v)), Status::IndexOutOfRange);
        assert!(v);
    }
    let mut u = 0xA5u64;
    assert_eq!(call!(bg_meta_get_uint(ptr::null(), pi, 10, &mut u)), NP);
    assert_eq!(call!(bg_meta_get_uint(m, pi, 10, ptr::null_mut())), NP);
    assert_eq!(u, 0xA5);
    let (mut sp, mut sl) = (std::ptr::dangling::<c_char>(), 0xA5usize);
    let arch = idx_of(&CString::new("general.architecture").unwrap());
    assert_eq!(call!(bg_meta_get_str(ptr::null(), arch, &mut sp, &mut sl)), NP);
    assert_eq!(call!(bg_meta_get_str(m, arch, ptr::null_mut(), &mut sl)), NP);
    assert_eq!(call!(bg_meta_get_str(m, arch, &mut sp, ptr::null_mut())), NP);
    assert_eq!(call!(bg_meta_get_arr_str(ptr::null(), tok, 0, &mut sp, &mut sl)), NP);
    assert_eq!(call!(bg_meta_get_arr_str(m, tok, 0, ptr::null_mut(), &mut sl)), NP);
    assert_eq!(call!(bg_meta_get_arr_str(m, tok, 0, &mut sp, ptr::null_mut())), NP);
    assert_eq!(call!(bg_meta_get_arr_str(m, tok, u64::MAX, &mut sp, &mut sl)), Status::IndexOutOfRange);
    assert_eq!((sp as usize, sl), (1, 0xA5));
    let (mut dp, mut dl) = (std::ptr::dangling::<u8>(), 0xA5usize);
    assert_eq!(call!(bg_meta_get_arr_data(ptr::null(), sc, BG_META_F32, &mut dp, &mut dl)), NP);
    assert_eq!(call!(bg_meta_get_arr_data(m, sc, BG_META_F32, ptr::null_mut(), &mut dl)), NP);
    assert_eq!(call!(bg_meta_get_arr_data(m, sc, BG_META_F32, &mut dp, ptr::null_mut())), NP);
    assert_eq!(call!(bg_meta_get_arr_data(m, sc, u32::MAX, &mut dp, &mut dl)), Status::InvalidParameter);
    assert_eq!((dp as usize, dl), (1, 0xA5));

    // tensors
    assert_eq!(call!(bg_tensor_count(ptr::null())), 0);
    assert_eq!(call!(bg_tensor_find(ptr::null(), tname.as_ptr(), &mut ix)), NP);
    assert_eq!(call!(bg_tensor_find(m, ptr::null(), &mut ix)), NP);
    assert_eq!(call!(bg_tensor_find(m, tname.as_ptr(), ptr::null_mut())), NP);
    assert_eq!(ix, 0xA5A5);
    let mut td: bg_tensor_desc = sentinel();
    let td0 = bytes_of(&td);
    assert_eq!(call!(bg_tensor_info(ptr::null(), 0, &mut td)), NP);
    assert_eq!(call!(bg_tensor_info(m, 0, ptr::null_mut())), NP);
    assert_eq!(call!(bg_tensor_info(m, usize::MAX, &mut td)), Status::IndexOutOfRange);
    assert_eq!(bytes_of(&td), td0);
    assert_eq!(call!(bg_tensor_data(ptr::null(), 0, &mut dp, &mut dl)), NP);
    assert_eq!(call!(bg_tensor_data(m, 0, ptr::null_mut(), &mut dl)), NP);
    assert_eq!(call!(bg_tensor_data(m, 0, &mut dp, ptr::null_mut())), NP);
    assert_eq!((dp as usize, dl), (1, 0xA5));

    // dequantization
    let mut size = 0xA5usize;
    assert_eq!(call!(bg_tensor_dequantized_size(ptr::null(), 0, BG_TYPE_F32, &mut size)), NP);
    assert_eq!(call!(bg_tensor_dequantized_size(m, 0, BG_TYPE_F32, ptr::null_mut())), NP);
    assert_eq!(call!(bg_tensor_dequantized_size(m, usize::MAX, BG_TYPE_F32, &mut size)), Status::IndexOutOfRange);
    assert_eq!(size, 0xA5);
    let mut buf = [0xA5u8; 256];
    let bp = buf.as_mut_ptr().cast::<c_void>();
    assert_eq!(call!(bg_tensor_dequantize(ptr::null(), 0, BG_TYPE_F32, bp, 256)), NP);
    assert_eq!(call!(bg_tensor_dequantize(m, 0, BG_TYPE_F32, n, 256)), NP);
    assert_eq!(call!(bg_tensor_dequantize(m, 0, BG_TYPE_F32, bp, 4)), Status::InsufficientSize);
    assert_eq!(call!(bg_tensor_dequantize_rows(ptr::null(), 0, 0, 1, BG_TYPE_F32, bp, 256)), NP);
    assert_eq!(call!(bg_tensor_dequantize_rows(m, 0, 0, 1, BG_TYPE_F32, n, 256)), NP);
    assert_eq!(call!(bg_tensor_dequantize_rows(m, 0, u64::MAX, 2, BG_TYPE_F32, bp, 256)), Status::IndexOutOfRange);
    let src = [0u8; 34];
    assert_eq!(call!(bg_dequantize(BG_TYPE_Q8_0, ptr::null(), 34, 32, BG_TYPE_F32, bp, 256)), NP);
    assert_eq!(call!(bg_dequantize(BG_TYPE_Q8_0, src.as_ptr(), 34, 32, BG_TYPE_F32, n, 256)), NP);
    assert_eq!(
        call!(bg_dequantize(BG_TYPE_Q8_0, src.as_ptr(), 34, 32, BG_TYPE_F32, bp, 127)),
        Status::InsufficientSize
    );
    assert_eq!(buf, [0xA5u8; 256]);
    let f = [0.5f32; 32];
    let mut written = 0xA5usize;
    assert_eq!(call!(bg_quantize(BG_TYPE_Q8_0, ptr::null(), 32, 32, bp, 256, &mut written)), NP);
    assert_eq!(call!(bg_quantize(BG_TYPE_Q8_0, f.as_ptr(), 32, 32, n, 256, &mut written)), NP);
    assert_eq!(call!(bg_quantize(BG_TYPE_Q8_0, f.as_ptr(), 32, 32, bp, 256, ptr::null_mut())), NP);
    assert_eq!((buf, written), ([0xA5u8; 256], 0xA5));

    // cross-validation (NotCompiled without the feature, but NULLs are checked first)
    let mut rep: bg_crossval_report = sentinel();
    let rep0 = bytes_of(&rep);
    assert_eq!(call!(bg_crossval_tensor(ptr::null(), 0, &mut rep)), NP);
    assert_eq!(call!(bg_crossval_tensor(m, 0, ptr::null_mut())), NP);
    assert_eq!(bytes_of(&rep), rep0);
    let mut sum: bg_crossval_summary = sentinel();
    let sum0 = bytes_of(&sum);
    assert_eq!(call!(bg_crossval_model(ptr::null(), &mut sum)), NP);
    assert_eq!(call!(bg_crossval_model(m, ptr::null_mut())), NP);
    assert_eq!(bytes_of(&sum), sum0);
    if !cfg!(feature = "crossval") {
        assert_eq!(unsafe { bg_crossval_model(m, &mut sum) }, Status::NotCompiled);
        assert_eq!(bytes_of(&sum), sum0);
    }

    // placement and progressive loading (ffi/placement.rs)
    {
        use bitgguf::ffi::placement::*;
        let o = bg_load_options_new();
        let on = ptr::null_mut::<bitgguf::ffi::bg_load_options>();
        let dm = bg_device_memory {
            device: bg_device_id { kind: BG_DEVICE_CUDA, ordinal: 0 },
            total: 1,
            free: 1,
            budget_fraction: 0.5,
        };
        let split = [1.0f64];
        assert_eq!(call!(bg_load_options_set_strategy(on, BG_STRATEGY_GPU)), NP);
        assert_eq!(call!(bg_load_options_set_output_type(on, BG_ROLE_ALL, 0)), NP);
        assert_eq!(call!(bg_load_options_add_device(on, &dm)), NP);
        assert_eq!(call!(bg_load_options_add_device(o, ptr::null())), NP);
        assert_eq!(call!(bg_load_options_clear_devices(on)), NP);
        assert_eq!(call!(bg_load_options_set_gpu_budget_fraction(on, 0.5)), NP);
        assert_eq!(call!(bg_load_options_set_tensor_split(on, split.as_ptr(), 1)), NP);
        assert_eq!(call!(bg_load_options_set_tensor_split(o, ptr::null(), 1)), NP);
        assert_eq!(call!(bg_load_options_set_n_gpu_layers(on, 1)), NP);
        assert_eq!(call!(bg_load_options_set_staging_budget(on, 1)), NP);
        assert_eq!(call!(bg_load_options_set_read_mode(on, BG_READ_MODE_PREAD)), NP);
        assert_eq!(call!(bg_load_options_set_populate(on, true)), NP);
        assert_eq!(call!(bg_load_options_set_progress(on, None, ptr::null_mut())), NP);
        unsafe { bg_load_options_free(o) };

        let mut plan: *mut bg_plan = sentinel();
        let plan0 = bytes_of(&plan);
        assert_eq!(call!(bg_model_plan(ptr::null(), &mut plan)), NP);
        assert_eq!(call!(bg_model_plan(m, ptr::null_mut())), NP);
        assert_eq!(bytes_of(&plan), plan0);
        assert_eq!(call!(bg_plan_strategy(ptr::null())), BG_STRATEGY_CPU);
        assert_eq!(call!(bg_plan_tensor_count(ptr::null())), 0);
        assert_eq!(call!(bg_plan_device_count(ptr::null())), 0);
        assert_eq!(call!(bg_plan_fallback_count(ptr::null())), 0);
        let mut tp: bg_tensor_placement = sentinel();
        let mut du: bg_device_usage = sentinel();
        let mut fi: bg_fallback_info = sentinel();
        let (tp0, du0, fi0) = (bytes_of(&tp), bytes_of(&du), bytes_of(&fi));
        assert_eq!(call!(bg_plan_tensor(ptr::null(), 0, &mut tp)), NP);
        assert_eq!(call!(bg_plan_device(ptr::null(), 0, &mut du)), NP);
        assert_eq!(call!(bg_plan_fallback(ptr::null(), 0, &mut fi)), NP);
        assert_eq!(unsafe { bg_model_plan(m, &mut plan) }, Status::Ok);
        assert_eq!(call!(bg_plan_tensor(plan, 0, ptr::null_mut())), NP);
        assert_eq!(call!(bg_plan_device(plan, 0, ptr::null_mut())), NP);
        assert_eq!(call!(bg_plan_fallback(plan, 0, ptr::null_mut())), NP);
        assert_eq!((bytes_of(&tp), bytes_of(&du), bytes_of(&fi)), (tp0, du0, fi0));
        call!(bg_plan_free(plan));
        call!(bg_plan_free(ptr::null_mut()));

        let mut dev: bg_device_id = sentinel();
        let (mut p, mut l): (u64, u64) = (sentinel(), sentinel());
        let (d0, p0) = (bytes_of(&dev), bytes_of(&p));
        assert_eq!(call!(bg_tensor_device_ptr(ptr::null(), 0, &mut dev, &mut p, &mut l)), NP);
        assert_eq!(call!(bg_tensor_device_ptr(m, 0, ptr::null_mut(), &mut p, &mut l)), NP);
        assert_eq!(call!(bg_tensor_device_ptr(m, 0, &mut dev, ptr::null_mut(), &mut l)), NP);
        assert_eq!(call!(bg_tensor_device_ptr(m, 0, &mut dev, &mut p, ptr::null_mut())), NP);
        assert_eq!(unsafe { bg_tensor_device_ptr(m, 0, &mut dev, &mut p, &mut l) }, Status::WrongDevice);
        assert_eq!((bytes_of(&dev), bytes_of(&p)), (d0, p0));
        let mut dp: *const u8 = sentinel();
        let (mut len, mut ty): (usize, u32) = (sentinel(), sentinel());
        let dp0 = bytes_of(&dp);
        assert_eq!(call!(bg_tensor_resident_data(ptr::null(), 0, &mut dp, &mut len, &mut ty)), NP);
        assert_eq!(call!(bg_tensor_resident_data(m, 0, ptr::null_mut(), &mut len, &mut ty)), NP);
        assert_eq!(call!(bg_tensor_resident_data(m, 0, &mut dp, ptr::null_mut(), &mut ty)), NP);
        assert_eq!(call!(bg_tensor_resident_data(m, 0, &mut dp, &mut len, ptr::null_mut())), NP);
        assert_eq!(bytes_of(&dp), dp0);
    }
    // CUDA queries (NotCompiled without the feature gpu; NULLs are checked first)
    assert_eq!(call!(bg_cuda_device_count(ptr::null_mut())), NP);
    let mut info: bitgguf::ffi::cuda::bg_cuda_device_desc = sentinel();
    let info0 = bytes_of(&info);
    assert_eq!(call!(bg_cuda_device_info(0, ptr::null_mut())), NP);
    if !cfg!(feature = "gpu") {
        assert_eq!(unsafe { bg_cuda_device_info(0, &mut info) }, Status::NotCompiled);
        let mut count = 0xA5u32;
        assert_eq!(unsafe { bg_cuda_device_count(&mut count) }, Status::NotCompiled);
        assert_eq!(count, 0xA5);
    }
    assert_eq!(bytes_of(&info), info0);
    unsafe { bg_free(m) };
}

#[test]
fn null_for_every_pointer_argument_of_every_export() {
    let mut seen = BTreeSet::new();
    null_checks(&mut seen);
    let declared = header_functions();
    assert!(declared.len() >= 40, "the header parser found only {declared:?}");
    let missing: Vec<_> = declared.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "exported functions without NULL/contract checks in tests/ffi_contract.rs null_checks: {missing:?} (add \
         them there and to c_tests/ffi_contract.c)"
    );
    let unknown: Vec<_> = seen.difference(&declared).collect();
    assert!(unknown.is_empty(), "null_checks calls functions the header does not declare: {unknown:?}");
}
