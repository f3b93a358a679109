//! Dequantization into caller-provided buffers.

use std::ffi::c_void;

use super::boundary::run;
use super::handles::*;
use super::tensor::tensor_at;
use crate::error::{Error, Result, Status};
use crate::model::Model;
use crate::quant::output::{decode_into, OutType};
use crate::quant::tensor::TensorCodec;

fn out_type(dst_type: u32) -> Result<OutType> {
    OutType::from_type_id(dst_type).ok_or_else(|| {
        Error::new(
            Status::InvalidParameter,
            format!("dst_type {dst_type} is not an output type (BG_TYPE_F32, BG_TYPE_F16 or BG_TYPE_BF16)"),
        )
    })
}

/// # Safety
/// `dst` NULL or writable for `dst_len` bytes.
unsafe fn dst_slice<'a>(dst: *mut c_void, dst_len: usize) -> Result<&'a mut [u8]> {
    if dst.is_null() {
        if dst_len == 0 {
            return Ok(&mut []);
        }
        return Err(super::boundary::null("dst"));
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(dst.cast::<u8>(), dst_len) })
}

/// Decode rows `[row_start, row_start + n_rows)` of tensor `index` through its codec.
fn decode_tensor_rows(
    m: &Model,
    index: usize,
    row_start: u64,
    n_rows: u64,
    out: OutType,
    dst: &mut [u8],
) -> Result<()> {
    let t = tensor_at(m, index)?;
    let total_rows = m.codec(index)?.n_rows()?;
    let end = row_start.checked_add(n_rows).filter(|&e| e <= total_rows).ok_or_else(|| {
        Error::new(
            Status::IndexOutOfRange,
            format!(
                "rows {row_start}..{row_start}+{n_rows} of tensor '{}' are out of range (it has {total_rows} rows)",
                t.info.name
            ),
        )
    })?;
    m.decode_rows(index, row_start..end, out, dst)
}

/// Decode `n_elements` elements of type `src_type` from `src` (exactly `src_len` bytes: whole
/// blocks, no more, no less) into `dst` as `dst_type` (`BG_TYPE_F32`, `BG_TYPE_F16` or
/// `BG_TYPE_BF16`, little-endian; `dst` needs no alignment). Bit-exact with ggml's
/// `dequantize_row_*` for f32; f16/bf16 round as ggml does.
///
/// Returns `BG_STATUS_OK`; `BG_STATUS_NULL_PARAMETER`; `BG_STATUS_INVALID_PARAMETER` (unknown
/// type, `n_elements` not a multiple of the block size, `src_len` not matching);
/// `BG_STATUS_UNSUPPORTED_TYPE` (no decoder for the type in this build);
/// `BG_STATUS_INSUFFICIENT_SIZE` (`dst_len < n_elements * size of dst_type`: the message gives
/// the size needed). Nothing is written unless the result is `BG_STATUS_OK`.
///
/// # Safety
/// `src` NULL (only with `src_len` 0) or readable for `src_len` bytes; `dst` NULL (only with
/// `dst_len` 0) or writable for `dst_len` bytes; the two must not overlap.
#[no_mangle]
pub unsafe extern "C" fn bg_dequantize(
    src_type: u32,
    src: *const u8,
    src_len: usize,
    n_elements: u64,
    dst_type: u32,
    dst: *mut c_void,
    dst_len: usize,
) -> Status {
    run("bg_dequantize", || {
        let out = out_type(dst_type)?;
        let src: &[u8] = if src.is_null() {
            if src_len != 0 {
                return Err(super::boundary::null("src"));
            }
            &[]
        } else {
            // SAFETY: per the contract.
            unsafe { std::slice::from_raw_parts(src, src_len) }
        };
        // SAFETY: per the contract.
        let dst = unsafe { dst_slice(dst, dst_len) }?;
        decode_into(src_type, src, n_elements, out, dst)
    })
}

/// The number of bytes `bg_tensor_dequantize` needs for tensor `index` as `dst_type`.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INDEX_OUT_OF_RANGE` or
/// `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `model` NULL or live; `size_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_dequantized_size(
    model: *const bg_model,
    index: usize,
    dst_type: u32,
    size_out: *mut usize,
) -> Status {
    run("bg_tensor_dequantized_size", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(size_out, "size_out")?;
        let ot = out_type(dst_type)?;
        let t = tensor_at(m, index)?;
        let n = TensorCodec::new(t.info.ty.id, t.info.ne).decoded_size(ot)?;
        let n = usize::try_from(n)
            .map_err(|_| Error::new(Status::InvalidParameter, "the output size does not fit in size_t"))?;
        // SAFETY: checked non-NULL.
        unsafe { out(size_out, n) };
        Ok(())
    })
}

/// Decode all of tensor `index` into `dst` as `dst_type` (row-major, `ne[0]` fastest). Every
/// type decodes, the BitNet ones included: I2_S with the load options' layout
/// (`bg_load_options_set_i2s_layout`), TL1 / TL2 with the tile configuration recorded in the
/// file (`bitgguf.tl.<name>`) or given in the load options (`bg_load_options_set_tl_config`,
/// `bg_load_options_set_tl_preset`). Their per-tensor scale must be finite and >= 0, and 0 only
/// for an all-zero tensor.
///
/// Returns as `bg_dequantize`, plus `BG_STATUS_INDEX_OUT_OF_RANGE`; for BitNet tensors
/// `BG_STATUS_INVALID_CODE` (I2_S code 3, TL index out of range), `BG_STATUS_BAD_SCALE`,
/// `BG_STATUS_TILE_CONFIG_MISSING`, `BG_STATUS_TILE_CONFIG_INVALID`. Messages name the file,
/// the tensor and the absolute byte offset.
///
/// # Safety
/// `model` NULL or live; `dst` NULL (only with `dst_len` 0) or writable for `dst_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_dequantize(
    model: *const bg_model,
    index: usize,
    dst_type: u32,
    dst: *mut c_void,
    dst_len: usize,
) -> Status {
    run("bg_tensor_dequantize", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        let out = out_type(dst_type)?;
        tensor_at(m, index)?;
        let rows = m.codec(index)?.n_rows()?;
        // SAFETY: per the contract.
        let dst = unsafe { dst_slice(dst, dst_len) }?;
        decode_tensor_rows(m, index, 0, rows, out, dst)
    })
}

/// Decode rows `[row_start, row_start + n_rows)` of tensor `index` (a row is `ne[0]` elements;
/// the tensor has `n_elements / ne[0]` rows) into `dst` as `dst_type`.
///
/// Returns as `bg_tensor_dequantize`; rows out of range give `BG_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `model` NULL or live; `dst` NULL (only with `dst_len` 0) or writable for `dst_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_dequantize_rows(
    model: *const bg_model,
    index: usize,
    row_start: u64,
    n_rows: u64,
    dst_type: u32,
    dst: *mut c_void,
    dst_len: usize,
) -> Status {
    run("bg_tensor_dequantize_rows", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        let out = out_type(dst_type)?;
        // SAFETY: per the contract.
        let dst = unsafe { dst_slice(dst, dst_len) }?;
        decode_tensor_rows(m, index, row_start, n_rows, out, dst)
    })
}
