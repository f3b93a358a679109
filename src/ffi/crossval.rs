//! Cross-validation against cpp_ref, the independent C++ reference (feature `crossval`,
//! shared/DESIGN.md §5). The declarations are the same in every build; without the feature the
//! functions check their arguments and return `BG_STATUS_NOT_COMPILED`.

use super::boundary::run;
use super::handles::*;
use crate::error::Status;

/// Verdict: name, type, shape, offset, byte length, bytes and every compared value agree
/// bit for bit (0 ulp; NaN equals NaN).
pub const BG_CROSSVAL_MATCH: u32 = 0;
/// Verdict: something differs (see `diff_mask` and the value statistics).
pub const BG_CROSSVAL_MISMATCH: u32 = 1;
/// Verdict: the values were not compared because a side cannot decode the type (see
/// `unsupported_mask`). Not a match.
pub const BG_CROSSVAL_SKIPPED: u32 = 2;
/// Verdict: the tensor could not be compared (the reference rejected the file, or both sides
/// rejected the data).
pub const BG_CROSSVAL_ERROR: u32 = 3;

/// `diff_mask` bit: the names differ.
pub const BG_CROSSVAL_DIFF_NAME: u32 = 1;
/// `diff_mask` bit: the API type ids differ.
pub const BG_CROSSVAL_DIFF_TYPE: u32 = 2;
/// `diff_mask` bit: the on-disk type ids differ.
pub const BG_CROSSVAL_DIFF_DISK_TYPE: u32 = 4;
/// `diff_mask` bit: the numbers of dimensions differ.
pub const BG_CROSSVAL_DIFF_N_DIMS: u32 = 8;
/// `diff_mask` bit: the shapes differ.
pub const BG_CROSSVAL_DIFF_SHAPE: u32 = 16;
/// `diff_mask` bit: the offsets differ.
pub const BG_CROSSVAL_DIFF_OFFSET: u32 = 32;
/// `diff_mask` bit: the byte lengths differ.
pub const BG_CROSSVAL_DIFF_N_BYTES: u32 = 64;
/// `diff_mask` bit: the hashes of the raw bytes differ.
pub const BG_CROSSVAL_DIFF_BYTES: u32 = 128;
/// `diff_mask` bit: decoded values differ, or only one side could decode the data.
pub const BG_CROSSVAL_DIFF_VALUES: u32 = 256;
/// `diff_mask` bit: the reference has no such tensor.
pub const BG_CROSSVAL_DIFF_MISSING: u32 = 512;
/// `diff_mask` bit: TL1/TL2 only: the two readings of the tile key `bitgguf.tl.<name>` differ.
pub const BG_CROSSVAL_DIFF_TILE: u32 = 1024;
/// `diff_mask` bit: third leg (only when the environment variable `BG_GGML_LIB` names real
/// ggml's `libggml-base.so`): bitgguf's values differ from ggml's `to_float`.
pub const BG_CROSSVAL_DIFF_GGML: u32 = 2048;

/// `unsupported_mask` bit: bitgguf's Rust codecs cannot decode the type.
pub const BG_CROSSVAL_UNSUPPORTED_BY_RUST: u32 = 1;
/// `unsupported_mask` bit: the C++ reference cannot decode the type.
pub const BG_CROSSVAL_UNSUPPORTED_BY_REFERENCE: u32 = 2;

/// `first_diff_index` / `first_failure_index` when there is none (UINT64_MAX).
pub const BG_CROSSVAL_NO_INDEX: u64 = 0xFFFF_FFFF_FFFF_FFFF;

/// The cross-validation of one tensor (`bg_crossval_tensor`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct bg_crossval_report {
    /// `BG_CROSSVAL_MATCH`, `_MISMATCH`, `_SKIPPED` or `_ERROR`.
    pub verdict: u32,
    /// `BG_CROSSVAL_DIFF_*` bits: what differs.
    pub diff_mask: u32,
    /// `BG_CROSSVAL_UNSUPPORTED_BY_*` bits, for skipped tensors.
    pub unsupported_mask: u32,
    /// The tensor's API type id (`BG_TYPE_*`) as bitgguf read it.
    pub type_id: u32,
    /// Elements of the tensor.
    pub n_elements: u64,
    /// Elements compared (all of them: the C API does not sample).
    pub n_compared: u64,
    /// Elements whose values differ.
    pub n_mismatched: u64,
    /// Largest distance in units in the last place (UINT64_MAX when a NaN meets a number).
    pub max_ulp: u64,
    /// Largest |rust - reference| over the differing elements (infinity for NaN vs number).
    pub max_abs_diff: f64,
    /// Index of the first differing element, or `BG_CROSSVAL_NO_INDEX`.
    pub first_diff_index: u64,
    /// bitgguf's value at `first_diff_index` (0 when none).
    pub first_diff_rust: f32,
    /// The reference's value at `first_diff_index` (0 when none).
    pub first_diff_reference: f32,
    /// FNV-1a 64 of the tensor's bytes as bitgguf located them.
    pub hash_rust: u64,
    /// FNV-1a 64 of the tensor's bytes as the reference located them (0 when it has none).
    pub hash_reference: u64,
}

/// The cross-validation of a whole model (`bg_crossval_model`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct bg_crossval_summary {
    /// Tensors.
    pub n_tensors: u64,
    /// Tensors with verdict `BG_CROSSVAL_MATCH`.
    pub n_matched: u64,
    /// Tensors with verdict `BG_CROSSVAL_MISMATCH`.
    pub n_mismatched: u64,
    /// Tensors with verdict `BG_CROSSVAL_SKIPPED` (unsupported by a side; not matches).
    pub n_skipped: u64,
    /// Tensors with verdict `BG_CROSSVAL_ERROR`.
    pub n_errors: u64,
    /// Files (shards) the reference rejected or read differently (version, key/value count,
    /// alignment, data offset, tensor count).
    pub n_file_failures: u64,
    /// Index of the first tensor whose verdict is not `BG_CROSSVAL_MATCH`, or
    /// `BG_CROSSVAL_NO_INDEX`. Pass it to `bg_crossval_tensor` for the details.
    pub first_failure_index: u64,
}

/// Cross-validate tensor `index` of `model` against the C++ reference (which parses the
/// model's bytes itself): name, type, shape, offset, byte length, a hash of the bytes, and every
/// dequantized value, bit for bit. The reference resolves the contested type ids 36-39 with the
/// `auto` policy. A difference is a result, not an error: the call returns `BG_STATUS_OK` and
/// `report_out->verdict` says what was found. TL1/TL2 tensors are decoded with the tile
/// configuration of the metadata key `bitgguf.tl.<name>` (UINT32 [BM, BK, bm]), read by each side.
/// When the environment variable `BG_GGML_LIB` names real ggml's `libggml-base.so`, the values of
/// every upstream type are also compared with ggml's `to_float` (`BG_CROSSVAL_DIFF_GGML`).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INDEX_OUT_OF_RANGE`,
/// `BG_STATUS_IO` when `BG_GGML_LIB` is set but the library cannot be used, or
/// `BG_STATUS_NOT_COMPILED` when bitgguf was built without the feature `crossval`.
///
/// # Safety
/// `model` NULL or live; `report_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_crossval_tensor(
    model: *const bg_model,
    index: usize,
    report_out: *mut bg_crossval_report,
) -> Status {
    run("bg_crossval_tensor", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(report_out, "report_out")?;
        let r = imp::tensor(m, index)?;
        // SAFETY: checked non-NULL.
        unsafe { out(report_out, r) };
        Ok(())
    })
}

/// Cross-validate every tensor of `model` against the C++ reference (which reads the model's
/// file(s) itself when the model was loaded from a path), on all cores; the result does not
/// depend on the number of cores. Returns `BG_STATUS_OK` whatever was found:
/// `summary_out` counts the verdicts (`n_matched == n_tensors` and `n_file_failures == 0` means
/// everything matched).
///
/// With `BG_GGML_LIB` set, real ggml is the third leg, as in `bg_crossval_tensor`.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_IO` when `BG_GGML_LIB` is set
/// but the library cannot be used, or `BG_STATUS_NOT_COMPILED` when bitgguf was built without
/// the feature `crossval`.
///
/// # Safety
/// `model` NULL or live; `summary_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_crossval_model(model: *const bg_model, summary_out: *mut bg_crossval_summary) -> Status {
    run("bg_crossval_model", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(summary_out, "summary_out")?;
        let s = imp::model(m)?;
        // SAFETY: checked non-NULL.
        unsafe { out(summary_out, s) };
        Ok(())
    })
}

#[cfg(feature = "crossval")]
mod imp {
    use super::*;
    use crate::crossval::{
        CrossvalOptions, GgmlLib, GgufCrossValidator, ReferenceInput, TensorReport, Values, Verdict,
    };
    use crate::error::Result;
    use crate::model::Model;

    fn verdict(v: Verdict) -> u32 {
        match v {
            Verdict::Match => BG_CROSSVAL_MATCH,
            Verdict::Mismatch => BG_CROSSVAL_MISMATCH,
            Verdict::Skipped => BG_CROSSVAL_SKIPPED,
            Verdict::Error => BG_CROSSVAL_ERROR,
        }
    }

    pub(super) fn report(r: &TensorReport) -> bg_crossval_report {
        let mut c = bg_crossval_report {
            verdict: verdict(r.verdict),
            diff_mask: 0,
            unsupported_mask: 0,
            type_id: r.type_id,
            n_elements: r.n_elements,
            n_compared: 0,
            n_mismatched: 0,
            max_ulp: 0,
            max_abs_diff: 0.0,
            first_diff_index: BG_CROSSVAL_NO_INDEX,
            first_diff_rust: 0.0,
            first_diff_reference: 0.0,
            hash_rust: r.hash_rust,
            hash_reference: r.hash_reference.unwrap_or(0),
        };
        for d in &r.diffs {
            c.diff_mask |= match d.field {
                "name" => BG_CROSSVAL_DIFF_NAME,
                "type" => BG_CROSSVAL_DIFF_TYPE,
                "disk_type" => BG_CROSSVAL_DIFF_DISK_TYPE,
                "n_dims" => BG_CROSSVAL_DIFF_N_DIMS,
                "shape" => BG_CROSSVAL_DIFF_SHAPE,
                "offset" => BG_CROSSVAL_DIFF_OFFSET,
                "n_bytes" => BG_CROSSVAL_DIFF_N_BYTES,
                "bytes" => BG_CROSSVAL_DIFF_BYTES,
                "tile" => BG_CROSSVAL_DIFF_TILE,
                _ => BG_CROSSVAL_DIFF_MISSING,
            };
        }
        match &r.values {
            Values::Compared(s) => {
                c.n_compared = s.compared;
                c.n_mismatched = s.mismatched;
                c.max_ulp = s.max_ulp;
                c.max_abs_diff = s.max_abs_diff;
                if s.mismatched > 0 {
                    c.diff_mask |= BG_CROSSVAL_DIFF_VALUES;
                }
                if let Some(d) = s.first_diff {
                    c.first_diff_index = d.index;
                    c.first_diff_rust = d.rust;
                    c.first_diff_reference = d.reference;
                }
            }
            Values::Unsupported { rust, reference } => {
                c.unsupported_mask = if *rust { BG_CROSSVAL_UNSUPPORTED_BY_RUST } else { 0 }
                    | if *reference { BG_CROSSVAL_UNSUPPORTED_BY_REFERENCE } else { 0 };
            }
            Values::NotCompared(_) => {
                if r.verdict == Verdict::Mismatch && r.diffs.is_empty() {
                    c.diff_mask |= BG_CROSSVAL_DIFF_VALUES; // one side rejected the data
                }
            }
        }
        if let Some(Values::Compared(g)) = &r.ggml {
            if g.mismatched > 0 {
                c.diff_mask |= BG_CROSSVAL_DIFF_GGML;
            }
        }
        c
    }

    /// The validator, with real ggml as the third leg when `BG_GGML_LIB` is set.
    fn validator(m: &Model, opts: CrossvalOptions) -> Result<GgufCrossValidator<'_>> {
        let v = GgufCrossValidator::new(m, opts);
        Ok(match GgmlLib::from_env()? {
            Some(lib) => v.with_ggml(lib),
            None => v,
        })
    }

    pub(super) fn tensor(m: &Model, index: usize) -> Result<bg_crossval_report> {
        let opts = CrossvalOptions { reference_input: ReferenceInput::SharedBytes, ..CrossvalOptions::default() };
        let v = validator(m, opts)?;
        Ok(report(&v.check_tensor(index)?))
    }

    pub(super) fn model(m: &Model) -> Result<bg_crossval_summary> {
        let opts = CrossvalOptions {
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            ..CrossvalOptions::default()
        };
        let rep = validator(m, opts)?.check_all();
        let s = rep.summary();
        Ok(bg_crossval_summary {
            n_tensors: s.tensors as u64,
            n_matched: s.matched as u64,
            n_mismatched: s.mismatched as u64,
            n_skipped: s.skipped as u64,
            n_errors: s.errors as u64,
            n_file_failures: s.file_failures as u64,
            first_failure_index: rep.first_failure().map(|t| t.index as u64).unwrap_or(BG_CROSSVAL_NO_INDEX),
        })
    }
}

#[cfg(not(feature = "crossval"))]
mod imp {
    use super::*;
    use crate::error::{Error, Result};
    use crate::model::Model;

    fn not_compiled() -> Error {
        Error::new(
            Status::NotCompiled,
            "cross-validation was not compiled in: build bitgguf with the feature 'crossval' (it needs a C++17 \
             compiler for cpp_ref/)",
        )
    }

    pub(super) fn tensor(_: &Model, _: usize) -> Result<bg_crossval_report> {
        Err(not_compiled())
    }

    pub(super) fn model(_: &Model) -> Result<bg_crossval_summary> {
        Err(not_compiled())
    }
}
