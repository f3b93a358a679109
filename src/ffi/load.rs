//! Loading and releasing models, and load options.

use std::ffi::c_char;

use super::boundary::{boundary, null, run};
use super::handles::*;
use crate::error::{Error, Status};
use crate::model::codec::TlPresetName;
use crate::model::{LoadOptions, Model};
use crate::quant::bitnet::{I2sLayout, TlConfig};
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
/// **SIGBUS risk of mmap.** With `use_mmap` true, the model's tensor data, metadata values and
/// strings are read from the mapping when they are queried, not at load. If another process
/// truncates the file while it is mapped, the next access to a page past the new end (through
/// `bg_tensor_data` pointers, `bg_tensor_dequantize*`, `bg_meta_get_*`) raises SIGBUS and kills
/// the process; no status can be returned. If the file is rewritten in place, queries see the
/// new bytes (still within the mapping's bounds, but no longer what was validated). Choose
/// `use_mmap` false for files that other processes may modify (downloads in progress, shared
/// network storage, untrusted writers): the whole file is read into memory once, and later
/// changes to the file cannot affect the loaded model.
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

/// I2_S layout: the canonical x86 layout, 128-element blocks of 32 bytes (default; the
/// published files and every converter).
pub const BG_I2S_LAYOUT_GROUP_128: u32 = 0;
/// I2_S layout: bitnet.cpp's ARM "GROUP_64" flavour (64-element blocks of 16 bytes), written by
/// `quantize_i2_s` on ARM since 2025-11. The bytes cannot tell the two apart: never guessed.
pub const BG_I2S_LAYOUT_GROUP_64: u32 = 1;

/// Set the tile configuration (`BM`, `BK`, `bm` as in bitnet.cpp's `kernel_config.ini`: `bm`,
/// `bk`, `bmm`) used for every TL1 / TL2 tensor that has no `bitgguf.tl.<name>` key (files from
/// bitnet.cpp record none). A tensor whose key disagrees fails to decode with
/// `BG_STATUS_TILE_CONFIG_INVALID`. Clears any preset set with `bg_load_options_set_tl_preset`.
/// The values are checked against each tensor's shape when it is decoded.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER` (a zero value).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_tl_config(
    options: *mut bg_load_options,
    bm: u32,
    bk: u32,
    bm_small: u32,
) -> Status {
    run("bg_load_options_set_tl_config", || {
        // SAFETY: per the contract.
        let o = unsafe { options_mut(options) }?;
        if bm == 0 || bk == 0 || bm_small == 0 {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("tile configuration BM={bm}, BK={bk}, bm={bm_small}: every value must be positive"),
            ));
        }
        o.codec.tl_config = Some(TlConfig { bm_tile: bm as usize, bk: bk as usize, bm: bm_small as usize });
        o.codec.tl_preset = None;
        Ok(())
    })
}

/// Use one of bitnet.cpp's shipped TL tile tables for TL1 / TL2 tensors without a
/// `bitgguf.tl.<name>` key: `name` is `MODEL[:setup_env|:ini]` with MODEL one of
/// `bitnet_b1_58-large`, `bitnet_b1_58-3B`, `Llama3-8B-1.58-100B-tokens` (or `bitnet-large`,
/// `bitnet-3b`, `llama3-8b-1.58`), case-insensitive; the table defaults to `setup_env`
/// (setup_env.py's codegen lists, what files converted through it use), `:ini` selects
/// `preset_kernels/<model>/kernel_config_tl{1,2}.ini`. A tensor whose shape the table lacks
/// fails with `BG_STATUS_TILE_CONFIG_MISSING`. NULL clears the preset. Clears any tile
/// configuration set with `bg_load_options_set_tl_config`.
///
/// Returns `BG_STATUS_NULL_PARAMETER` (`options`) or `BG_STATUS_INVALID_PARAMETER` (unknown
/// name, not UTF-8).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently; `name` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_tl_preset(options: *mut bg_load_options, name: *const c_char) -> Status {
    run("bg_load_options_set_tl_preset", || {
        // SAFETY: per the contract.
        let o = unsafe { options_mut(options) }?;
        if name.is_null() {
            o.codec.tl_preset = None;
            return Ok(());
        }
        // SAFETY: per the contract (non-NULL here).
        let name = unsafe { c_str(name, "name") }?;
        o.codec.tl_preset = Some(TlPresetName::parse(name)?);
        o.codec.tl_config = None;
        Ok(())
    })
}

/// Set the layout of I2_S tensors: `BG_I2S_LAYOUT_GROUP_128` (default) or
/// `BG_I2S_LAYOUT_GROUP_64` (bitnet.cpp's ARM flavour). It applies to every I2_S tensor.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER` (unknown layout).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_i2s_layout(options: *mut bg_load_options, layout: u32) -> Status {
    run("bg_load_options_set_i2s_layout", || {
        // SAFETY: per the contract.
        let o = unsafe { options_mut(options) }?;
        o.codec.i2s_layout = match layout {
            BG_I2S_LAYOUT_GROUP_128 => I2sLayout::Group128,
            BG_I2S_LAYOUT_GROUP_64 => I2sLayout::Group64,
            _ => {
                return Err(Error::new(
                    Status::InvalidParameter,
                    format!(
                    "unknown I2_S layout {layout}; expected BG_I2S_LAYOUT_GROUP_128 (0) or BG_I2S_LAYOUT_GROUP_64 (1)"
                ),
                ))
            }
        };
        Ok(())
    })
}

/// Load a GGUF model from a file: map it (or read it, see `bg_load_options_set_use_mmap`),
/// validate the header, metadata, tensor infos and layout, and return a read-only handle. Tensor
/// data is not touched. When `path` is the first shard of a split model
/// (`name-00001-of-0000N.gguf`), all shards are loaded as one model.
///
/// With the default options the file is memory-mapped: if another process truncates it while
/// the model is loaded, a later access to its data or metadata raises **SIGBUS** (the process
/// dies; no status can be returned), and if it rewrites it in place, queries see the new bytes.
/// Load files that may change with `bg_load_options_set_use_mmap(options, false)`; such a
/// read model larger than 4 GiB (all shards together) is read tensor by tensor through the
/// progressive loader (CPU, packed, `pread`), as with placement options, so it has a plan
/// (`bg_model_plan`) and is never read in one piece.
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
