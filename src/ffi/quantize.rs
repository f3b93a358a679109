//! Quantization from f32 into a caller-provided buffer.

use std::ffi::c_void;

use super::boundary::{null, run};
use super::handles::{check_out, out};
use crate::error::{Error, Status};
use crate::quant::quantized_size;

/// Quantize `n_elements` f32 values from `src_f32` (rows of `row_len` elements, row-major) to
/// `dst_type` into `dst`, byte-identical with ggml's reference quantizer:
/// `ggml_quantize_chunk(dst_type, src, dst, 0, n_elements / row_len, row_len, NULL)`.
///
/// Types: `BG_TYPE_F32`, `BG_TYPE_F16`, `BG_TYPE_BF16`, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
/// Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0 and Q2_0.
///
/// On `BG_STATUS_OK`, `*written_out` is the number of bytes written to the start of `dst`
/// (`n_elements / row_len` rows of the type's row size). When `dst_len` is smaller,
/// `BG_STATUS_INSUFFICIENT_SIZE` is returned, `*written_out` is the size needed and `dst` is not
/// touched (so `dst` NULL and `dst_len` 0 asks for the size). On any other error nothing is
/// written.
///
/// Returns `BG_STATUS_OK`; `BG_STATUS_NULL_PARAMETER` (`written_out` NULL, or `src_f32` NULL
/// with `n_elements` > 0, or `dst` NULL with `dst_len` > 0); `BG_STATUS_INVALID_PARAMETER`
/// (unknown type, `row_len` 0 or not a multiple of the type's block size, `n_elements` not a
/// multiple of `row_len`, `src_f32` not aligned for `float`, a size that overflows);
/// `BG_STATUS_UNSUPPORTED_TYPE` (no quantizer for the type: IQ2/IQ3/IQ1 types, the BitNet
/// types, removed ids); `BG_STATUS_INSUFFICIENT_SIZE`.
///
/// # Safety
/// `src_f32` NULL (only with `n_elements` 0) or readable for `n_elements` floats; `dst` NULL
/// (only with `dst_len` 0) or writable for `dst_len` bytes, not overlapping `src_f32`;
/// `written_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_quantize(
    dst_type: u32,
    src_f32: *const f32,
    n_elements: u64,
    row_len: u64,
    dst: *mut c_void,
    dst_len: usize,
    written_out: *mut usize,
) -> Status {
    run("bg_quantize", || {
        check_out(written_out, "written_out")?;
        if src_f32.is_null() && n_elements != 0 {
            return Err(null("src_f32"));
        }
        if !src_f32.is_null() && !src_f32.is_aligned() {
            return Err(Error::new(Status::InvalidParameter, "argument 'src_f32' is not aligned for float"));
        }
        if dst.is_null() && dst_len != 0 {
            return Err(null("dst"));
        }
        let n = usize::try_from(n_elements).ok().filter(|n| n.checked_mul(4).is_some()).ok_or_else(|| {
            Error::new(Status::InvalidParameter, format!("{n_elements} elements do not fit in memory"))
        })?;
        let (need, enc) = quantized_size(dst_type, n_elements, row_len)?;
        if dst_len < need {
            // SAFETY: checked non-NULL; per the contract writable.
            unsafe { out(written_out, need) };
            return Err(Error::new(
                Status::InsufficientSize,
                format!("{n_elements} elements need {need} bytes, the buffer has {dst_len}"),
            ));
        }
        let src: &[f32] = if n == 0 {
            &[]
        } else {
            // SAFETY: non-NULL (checked), aligned (checked), readable for n floats per the contract.
            unsafe { std::slice::from_raw_parts(src_f32, n) }
        };
        let dst: &mut [u8] = if need == 0 {
            &mut []
        } else {
            // SAFETY: need <= dst_len, so dst is non-NULL and writable for need bytes.
            unsafe { std::slice::from_raw_parts_mut(dst.cast::<u8>(), need) }
        };
        enc(src, dst);
        // SAFETY: checked non-NULL; per the contract writable.
        unsafe { out(written_out, need) };
        Ok(())
    })
}
