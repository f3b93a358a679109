//! Tensor queries.

use std::ffi::c_char;

use super::boundary::{boundary, run};
use super::handles::*;
use crate::error::{Error, Result, Status};
use crate::model::{Model, ModelTensor};

/// A tensor's description. All pointers are borrowed from the model and valid until its last
/// reference is released.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct bg_tensor_desc {
    /// The name, NUL-terminated (GGUF forbids nothing, bitgguf rejects names with NUL bytes).
    pub name: *const c_char,
    /// The name's length in bytes, without the NUL (< 64).
    pub name_len: usize,
    /// The API type id (`BG_TYPE_*`; BitNet types have their own ids).
    pub type_id: u32,
    /// The type id as written in the file (36–39 are ambiguous on disk).
    pub disk_type: u32,
    /// Number of dimensions as written (0–4).
    pub n_dims: u32,
    /// Which file of a split model holds the data (0-based; 0 for single files).
    pub shard: u32,
    /// Dimensions, `ne[0]` innermost (the row length); unused dimensions are 1.
    pub ne: [u64; 4],
    /// Number of elements.
    pub n_elements: u64,
    /// Offset of the data relative to the start of its file's data section.
    pub offset: u64,
    /// Size of the data in bytes.
    pub n_bytes: u64,
}

pub(crate) fn tensor_at(m: &Model, index: usize) -> Result<ModelTensor<'_>> {
    m.tensor(index).ok_or_else(|| {
        Error::new(
            Status::IndexOutOfRange,
            format!("tensor index {index} is out of range (the model has {})", m.tensor_count()),
        )
    })
}

/// Number of tensors (over all shards). Returns 0 for NULL.
///
/// # Safety
/// `model` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_count(model: *const bg_model) -> usize {
    boundary("bg_tensor_count", || {
        // SAFETY: per the contract.
        unsafe { model_ref(model, "model") }.map(|m| m.tensor_count()).unwrap_or(0)
    })
}

/// Find a tensor by name (NUL-terminated, exact match).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INVALID_PARAMETER` (not
/// UTF-8) or `BG_STATUS_NOT_FOUND`. `*index_out` is written only on success.
///
/// # Safety
/// `model` NULL or live; `name` NULL or NUL-terminated; `index_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_find(model: *const bg_model, name: *const c_char, index_out: *mut usize) -> Status {
    run("bg_tensor_find", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        // SAFETY: per the contract.
        let name = unsafe { c_str(name, "name") }?;
        check_out(index_out, "index_out")?;
        let i = m.find_tensor(name).ok_or_else(|| Error::new(Status::NotFound, format!("no tensor named '{name}'")))?;
        // SAFETY: checked non-NULL.
        unsafe { out(index_out, i) };
        Ok(())
    })
}

/// Describe tensor `index` (0 ≤ index < `bg_tensor_count`).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `model` NULL or live; `info_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_info(model: *const bg_model, index: usize, info_out: *mut bg_tensor_desc) -> Status {
    run("bg_tensor_info", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(info_out, "info_out")?;
        let t = tensor_at(m, index)?;
        let i = &t.info;
        let info = bg_tensor_desc {
            name: i.name_c.as_ptr().cast(),
            name_len: i.name.len(),
            type_id: i.ty.id,
            disk_type: i.disk_type,
            n_dims: i.n_dims,
            shard: t.shard as u32,
            ne: i.ne,
            n_elements: i.n_elements,
            offset: i.offset,
            n_bytes: i.n_bytes,
        };
        // SAFETY: checked non-NULL.
        unsafe { out(info_out, info) };
        Ok(())
    })
}

/// Get tensor `index`'s bytes without copying: `*data_out` points into the mapped file (or the
/// model's own copy) and stays valid until the model's last reference is released. The bytes
/// are little-endian, in the file's layout; the pointer is aligned only as the file's alignment
/// guarantees (32 bytes by default). With mmap, touching them may fault pages in from disk.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INDEX_OUT_OF_RANGE`, or
/// `BG_STATUS_WRONG_DEVICE` when the load placed the tensor on a GPU (use
/// `bg_tensor_device_ptr`). For tensors decoded at load, this still gives the packed bytes;
/// `bg_tensor_resident_data` gives the decoded ones.
///
/// # Safety
/// `model` NULL or live; `data_out` and `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_data(
    model: *const bg_model,
    index: usize,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> Status {
    run("bg_tensor_data", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(data_out, "data_out")?;
        check_out(len_out, "len_out")?;
        tensor_at(m, index)?;
        // SAFETY: per the contract (checked non-NULL by model_ref above).
        super::placement::check_on_host(unsafe { loaded_ref(model, "model") }?, index)?;
        let d = m.tensor_data(index).expect("index checked");
        // SAFETY: checked non-NULL.
        unsafe {
            out(data_out, d.as_ptr());
            out(len_out, d.len());
        }
        Ok(())
    })
}
