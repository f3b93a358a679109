//! Reader parity with cpp_ref (feature `crossval`): the malformed files the Rust parser rejects
//! must be rejected by cpp_ref's independent reader too, in the corresponding category, except
//! where bitgguf is deliberately stricter than gguf.cpp (cpp_ref/README.md, docs/CROSSVAL.md).
//!
//! `tests/crossval_reject.rs` compiles tests/reject.rs again; in that binary (only), every
//! `common::reject_with` also calls [`check`], so each malformed file of reject.rs is fed to
//! cpp_ref.

use bitgguf::crossval::cref::{CrefCode, CrefFile};
use bitgguf::gguf::{Limits, ParseOptions};
use bitgguf::Status;

/// Whether this test binary checks parity on every reject (tests/crossval_reject.rs).
pub fn enabled() -> bool {
    module_path!().starts_with("crossval_reject")
}

/// The cref categories a Rust status may correspond to (`None`: any rejection).
pub fn categories(s: Status) -> Option<Vec<CrefCode>> {
    use CrefCode::*;
    Some(match s {
        Status::Truncated => vec![Truncated],
        Status::BadMagic => vec![Magic],
        Status::UnsupportedVersion | Status::VersionOneUnsupported | Status::BigEndian => vec![Version],
        // Rust rejects a count that cannot fit the remaining bytes up front; cpp_ref (like
        // gguf.cpp, §1.8 rules 4-5) only a negative one, then reads on and rejects whatever it
        // meets first (an empty key, a duplicate name, the end of the input, ...).
        Status::TensorCountTooLarge | Status::KvCountTooLarge => return None,
        Status::EmptyKey | Status::DuplicateKey => vec![Key],
        Status::BadValueType | Status::NestedArray | Status::StringTooLong | Status::ArrayTooLong => {
            vec![Value, Truncated]
        }
        Status::AlignmentType | Status::AlignmentNotPowerOfTwo => vec![Alignment],
        Status::TensorNameTooLong | Status::DuplicateTensor => vec![Name],
        Status::BadDimCount | Status::BadDimension | Status::ElementCountOverflow => vec![Dims],
        Status::UnknownType | Status::RemovedType | Status::ContestedType | Status::TypeNotStorable => vec![Type],
        Status::BadShapeForType | Status::ByteSizeOverflow => vec![Shape],
        Status::BadTensorOffset => vec![Offset],
        Status::DataSizeOverflow | Status::DataOutOfBounds => vec![Bounds],
        other => panic!("no cref category for {other:?}"),
    })
}

/// Why cpp_ref may accept a file the Rust parser rejects with `s` (deliberate differences:
/// bitgguf is stricter than gguf.cpp there), or `None` when cpp_ref must reject it too.
pub fn rust_only(s: Status, o: &ParseOptions) -> Option<&'static str> {
    match s {
        Status::InvalidKey | Status::InvalidTensorName => {
            Some("keys and names must be UTF-8 without NUL in bitgguf; gguf.cpp takes any bytes")
        }
        Status::AlignmentTooLarge => Some("bitgguf caps general.alignment; gguf.cpp takes any power of two"),
        Status::MetadataTooLarge => Some("bitgguf's configurable metadata limit; gguf.cpp has none"),
        Status::SplitMismatch => {
            Some("split-model consistency is a model-level check (llama's gguf-split); cpp_ref, like gguf.cpp, reads one file")
        }
        Status::StringTooLong | Status::ArrayTooLong | Status::TensorCountTooLarge | Status::KvCountTooLarge
            if o.limits != Limits::default() =>
        {
            Some("bitgguf's configurable limits below gguf.cpp's fixed ones")
        }
        _ => None,
    }
}

/// cpp_ref must reject `bytes` (read with `o`'s type policy) in a category matching `status`,
/// unless [`rust_only`] says the difference is deliberate.
pub fn check(bytes: &[u8], o: &ParseOptions, status: Status) {
    let c = CrefFile::from_bytes(bytes, o.type_policy);
    match (rust_only(status, o), c) {
        (Some(_), _) => {}
        (None, Ok(_)) => panic!("cpp_ref accepted a file the Rust parser rejects with {status:?}"),
        (None, Err(e)) => assert!(
            categories(status).is_none_or(|c| c.contains(&e.code)),
            "the Rust parser says {status:?} but cpp_ref {:?}: {}",
            e.code,
            e.message
        ),
    }
}
