//! `bg_crossval_tensor` and `bg_crossval_model`: with the feature `crossval` they compare a
//! model with cpp_ref and fill the report structs; without it they check their arguments and
//! return `BG_STATUS_NOT_COMPILED`. In both builds: NULL arguments give
//! `BG_STATUS_NULL_PARAMETER` and outputs are untouched on error.

use std::ptr;

use bitgguf::error::Status;
use bitgguf::ffi::bg_model;
use bitgguf::ffi::crossval::*;
use bitgguf::ffi::load::*;
use bitgguf::gguf::GgufWriter;

fn model() -> *mut bg_model {
    let mut w = GgufWriter::new();
    w.tensor("norm", 0, &[4], [1.0f32, -2.0, 0.5, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect());
    let mut q = Vec::new();
    for b in 0..4u8 {
        q.extend_from_slice(&[0x00, 0x3c]); // d = 1.0
        q.extend((0..32u8).map(|j| j.wrapping_mul(3).wrapping_add(b)));
    }
    w.tensor("w", 8, &[64, 2], q);
    w.tensor("q81", 9, &[32], vec![0u8; 36]); // Q8_1: neither side decodes it (never stored by ggml)
    let bytes = w.to_bytes().unwrap();
    let mut m = ptr::null_mut();
    assert_eq!(unsafe { bg_load_from_memory(bytes.as_ptr(), bytes.len(), ptr::null(), &mut m) }, Status::Ok);
    m
}

const UNTOUCHED: bg_crossval_report = bg_crossval_report {
    verdict: 77,
    diff_mask: 77,
    unsupported_mask: 77,
    type_id: 77,
    n_elements: 77,
    n_compared: 77,
    n_mismatched: 77,
    max_ulp: 77,
    max_abs_diff: 77.0,
    first_diff_index: 77,
    first_diff_rust: 77.0,
    first_diff_reference: 77.0,
    hash_rust: 77,
    hash_reference: 77,
};

const UNTOUCHED_SUMMARY: bg_crossval_summary = bg_crossval_summary {
    n_tensors: 77,
    n_matched: 77,
    n_mismatched: 77,
    n_skipped: 77,
    n_errors: 77,
    n_file_failures: 77,
    first_failure_index: 77,
};

#[test]
fn null_arguments_in_every_build() {
    let m = model();
    unsafe {
        let mut r = UNTOUCHED;
        let mut s = UNTOUCHED_SUMMARY;
        assert_eq!(bg_crossval_tensor(ptr::null(), 0, &mut r), Status::NullParameter);
        assert_eq!(bg_crossval_tensor(m, 0, ptr::null_mut()), Status::NullParameter);
        assert_eq!(bg_crossval_model(ptr::null(), &mut s), Status::NullParameter);
        assert_eq!(bg_crossval_model(m, ptr::null_mut()), Status::NullParameter);
        assert_eq!(r, UNTOUCHED);
        assert_eq!(s, UNTOUCHED_SUMMARY);
        bg_free(m);
    }
}

#[cfg(not(feature = "crossval"))]
#[test]
fn without_the_feature_both_return_not_compiled() {
    let m = model();
    unsafe {
        let mut r = UNTOUCHED;
        let mut s = UNTOUCHED_SUMMARY;
        assert_eq!(bg_crossval_tensor(m, 0, &mut r), Status::NotCompiled);
        assert_eq!(bg_crossval_model(m, &mut s), Status::NotCompiled);
        assert_eq!(r, UNTOUCHED);
        assert_eq!(s, UNTOUCHED_SUMMARY);
        let mut len = 0usize;
        let mut buf = vec![0 as std::ffi::c_char; 512];
        assert_eq!(bitgguf::ffi::status::bg_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len), Status::Ok);
        let msg = std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        assert!(msg.contains("bg_crossval_model") && msg.contains("crossval"), "{msg}");
        bg_free(m);
    }
}

#[cfg(feature = "crossval")]
#[test]
fn with_the_feature_tensors_are_compared() {
    let m = model();
    unsafe {
        let mut r = UNTOUCHED;
        assert_eq!(bg_crossval_tensor(m, 1, &mut r), Status::Ok);
        assert_eq!(r.verdict, BG_CROSSVAL_MATCH, "{r:?}");
        assert_eq!((r.diff_mask, r.unsupported_mask, r.type_id), (0, 0, 8));
        assert_eq!((r.n_elements, r.n_compared, r.n_mismatched, r.max_ulp), (128, 128, 0, 0));
        assert_eq!(r.first_diff_index, BG_CROSSVAL_NO_INDEX);
        assert_eq!(r.hash_rust, r.hash_reference);
        assert_ne!(r.hash_rust, 0);

        assert_eq!(bg_crossval_tensor(m, 2, &mut r), Status::Ok);
        assert_eq!(r.verdict, BG_CROSSVAL_SKIPPED, "{r:?}");
        assert_eq!(r.unsupported_mask, BG_CROSSVAL_UNSUPPORTED_BY_RUST | BG_CROSSVAL_UNSUPPORTED_BY_REFERENCE);
        assert_eq!(r.n_compared, 0);

        let before = r;
        assert_eq!(bg_crossval_tensor(m, 3, &mut r), Status::IndexOutOfRange);
        assert_eq!(r, before);

        let mut s = UNTOUCHED_SUMMARY;
        assert_eq!(bg_crossval_model(m, &mut s), Status::Ok);
        assert_eq!(
            s,
            bg_crossval_summary {
                n_tensors: 3,
                n_matched: 2,
                n_mismatched: 0,
                n_skipped: 1,
                n_errors: 0,
                n_file_failures: 0,
                first_failure_index: 2,
            }
        );
        bg_free(m);
    }
}
