//! Loading and releasing models, and load options.

use std::ffi::c_char;

use super::boundary::{boundary, null, run};
use super::handles::*;
use crate::error::{Error, Status};
use crate::model::{LoadOptions, Model};
use crate::types::TypePolicy;

/// Type-id policy: decide contested ids 36–39 per tensor from the layout and metadata (default).
pub const BG_TYPE_POLICY_AUTO: u32 = 0;
/// Type-id policy: upstream ggml numbering (36–38 removed, 39 = MXFP4).
pub const BG_TYPE_POLICY_UPSTREAM: u32 = 1;
/// Type-id policy: BitNet fork numbering (36 = I2_S, 38 = TL1, 39 = TL2).
pub const BG_TYPE_POLICY_BITNET: u32 = 2;

/// Limit: maximum bytes in one string (default 64 MiB).
pub const BG_LIMIT_MAX_STRING_LEN: u32 = 0;
/// Limit: maximum elements in one metadata array (default 2^30).
pub const BG_LIMIT_MAX_ARRAY_LEN: u32 = 1;
/// Limit: maximum string elements over all metadata arrays (default 2^26).
pub const BG_LIMIT_MAX_TOTAL_STRINGS: u32 = 2;
/// Limit: maximum number of tensors (default 2^20).
pub const BG_LIMIT_MAX_TENSORS: u32 = 3;
/// Limit: maximum number of metadata pairs (default 2^20).
pub const BG_LIMIT_MAX_KV: u32 = 4;
/// Limit: maximum `general.alignment` (default 1 MiB).
pub const BG_LIMIT_MAX_ALIGNMENT: u32 = 5;

/// Create load options with the defaults (mmap on, type policy auto, default limits).
///
/// Returns NULL only on allocation failure or an internal error. Release with
/// `bg_load_options_free`.
#[no_mangle]
pub extern "C" fn bg_load_options_new() -> *mut bg_load_options {
    boundary("bg_load_options_new", || options_into_raw(LoadOptions::default()))
}

/// Release load options. NULL is a no-op. Models loaded with them are not affected.
///
/// # Safety
/// `options` must be NULL or from `bg_load_options_new`, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_free(options: *mut bg_load_options) {
    // SAFETY: per the contract.
    boundary("bg_load_options_free", || unsafe { options_release(options) })
}

/// Set how contested on-disk type ids 36–39 are read: `BG_TYPE_POLICY_AUTO` (default),
/// `BG_TYPE_POLICY_UPSTREAM` or `BG_TYPE_POLICY_BITNET`.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER` (unknown policy).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_type_policy(options: *mut bg_load_options, policy: u32) -> Status {
    run("bg_load_options_set_type_policy", || {
        // SAFETY: per the contract.
        let o = unsafe { options_mut(options) }?;
        o.parse.type_policy = TypePolicy::from_u32(policy).ok_or_else(|| {
            Error::new(Status::InvalidParameter, format!("unknown type policy {policy}; expected 0, 1 or 2"))
        })?;
        Ok(())
    })
}

/// Map the file (`use_mmap` true, the default: zero-copy) or read it into memory (false: safe
/// against the file being truncated or rewritten while loaded, see the SIGBUS note in the
/// header overview).
///
/// Returns `BG_STATUS_NULL_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_use_mmap(options: *mut bg_load_options, use_mmap: bool) -> Status {
    run("bg_load_options_set_use_mmap", || {
        // SAFETY: per the contract.
        unsafe { options_mut(options) }?.use_mmap = use_mmap;
        Ok(())
    })
}

/// Set a parser limit (`BG_LIMIT_*`). `value` must be non-zero; `BG_LIMIT_MAX_ALIGNMENT` must
/// be a power of two.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_limit(options: *mut bg_load_options, limit: u32, value: u64) -> Status {
    run("bg_load_options_set_limit", || {
        // SAFETY: per the contract.
        let o = unsafe { options_mut(options) }?;
        let bad = |why: &str| Error::new(Status::InvalidParameter, format!("limit {limit} = {value}: {why}"));
        if value == 0 {
            return Err(bad("must be non-zero"));
        }
        let l = &mut o.parse.limits;
        match limit {
            BG_LIMIT_MAX_STRING_LEN => l.max_string_len = value,
            BG_LIMIT_MAX_ARRAY_LEN => l.max_array_len = value,
            BG_LIMIT_MAX_TOTAL_STRINGS => l.max_total_strings = value,
            BG_LIMIT_MAX_TENSORS => l.max_tensors = value,
            BG_LIMIT_MAX_KV => l.max_kv = value,
            BG_LIMIT_MAX_ALIGNMENT if value.is_power_of_two() => l.max_alignment = value,
            BG_LIMIT_MAX_ALIGNMENT => return Err(bad("must be a power of two")),
            _ => return Err(bad("unknown limit")),
        }
        Ok(())
    })
}

/// Load a GGUF model from a file: map it (or read it, see `bg_load_options_set_use_mmap`),
/// validate the header, metadata, tensor infos and layout, and return a read-only handle. Tensor
/// data is not touched. When `path` is the first shard of a split model
/// (`name-00001-of-0000N.gguf`), all shards are loaded as one model.
///
/// `options` may be NULL for the defaults; it is not retained. On success `*model_out` receives
/// a new handle to release with `bg_free`; on error it is left untouched and
/// `bg_last_error_message` says what, where (file, tensor, byte offset) and expected vs found.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INVALID_PARAMETER` (path not
/// UTF-8), `BG_STATUS_IO`, or any 1xx–4xx parse status.
///
/// # Safety
/// `path` must be NULL or NUL-terminated; `options` NULL or a live handle; `model_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn bg_load(
    path: *const c_char,
    options: *const bg_load_options,
    model_out: *mut *mut bg_model,
) -> Status {
    run("bg_load", || {
        // SAFETY: per the contract.
        let path = unsafe { c_str(path, "path") }?;
        check_out(model_out, "model_out")?;
        // Placement or progress options: the progressive loader (ffi/placement.rs).
        if let Some(raw) = super::placement::load_if_placed(path, options)? {
            // SAFETY: checked non-NULL above.
            unsafe { out(model_out, raw) };
            return Ok(());
        }
        // SAFETY: per the contract.
        let opts = unsafe { options_ref(options) }.copied().unwrap_or_default();
        let m = Model::open(path, &opts)?;
        // SAFETY: checked non-NULL above.
        unsafe { out(model_out, model_into_raw(m)) };
        Ok(())
    })
}

/// Load a GGUF model from memory. The bytes are copied (into 64-byte-aligned storage), so
/// `data` may be freed as soon as this returns. A shard of a split model loads as that shard
/// alone.
///
/// Returns as `bg_load` (no `BG_STATUS_IO`).
///
/// # Safety
/// `data` must be NULL (only with `len` 0) or readable for `len` bytes; `options` NULL or a live
/// handle; `model_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_load_from_memory(
    data: *const u8,
    len: usize,
    options: *const bg_load_options,
    model_out: *mut *mut bg_model,
) -> Status {
    run("bg_load_from_memory", || {
        if data.is_null() && len != 0 {
            return Err(null("data"));
        }
        check_out(model_out, "model_out")?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: per the contract, data is readable for len bytes.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        // Placement or progress options: the progressive loader (ffi/placement.rs).
        if let Some(raw) = super::placement::load_bytes_if_placed(bytes, options)? {
            // SAFETY: checked non-NULL above.
            unsafe { out(model_out, raw) };
            return Ok(());
        }
        // SAFETY: per the contract.
        let opts = unsafe { options_ref(options) }.copied().unwrap_or_default();
        let m = Model::from_bytes(bytes, &opts)?;
        // SAFETY: checked non-NULL above.
        unsafe { out(model_out, model_into_raw(m)) };
        Ok(())
    })
}

/// Take another reference to a model (for another owner or thread); each reference is released
/// with its own `bg_free`. Returns `model` (NULL for NULL).
///
/// # Safety
/// `model` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bg_model_retain(model: *const bg_model) -> *mut bg_model {
    boundary("bg_model_retain", || {
        // SAFETY: per the contract.
        unsafe { model_retain(model) };
        model as *mut bg_model
    })
}

/// Release a reference to a model. NULL is a no-op. When the last reference goes, the mapping
/// is unmapped and every pointer obtained from the model (tensor data, names, strings) becomes
/// invalid. Freeing the same reference twice is undefined behaviour.
///
/// # Safety
/// `model` must be NULL or a live handle, not used afterwards through this reference.
#[no_mangle]
pub unsafe extern "C" fn bg_free(model: *mut bg_model) {
    // SAFETY: per the contract.
    boundary("bg_free", || unsafe { model_release(model) })
}
