//! Metadata (key/value) queries. Keys and values are those of the model's first file.
//!
//! Typed getters check the value's type and return `BG_STATUS_TYPE_MISMATCH` when it differs
//! (never abort, never reinterpret): asking for a u32 from an i32 value fails.

use std::ffi::c_char;

use super::boundary::{boundary, run};
use super::handles::*;
use crate::error::{Error, Result, Status};
use crate::gguf::{Kv, Value, ValueType};
use crate::model::Model;

/// A metadata pair's description. Pointers are borrowed from the model.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct bg_meta_desc {
    /// The key, NUL-terminated (valid UTF-8, no interior NUL).
    pub key: *const c_char,
    /// The key's length in bytes, without the NUL.
    pub key_len: usize,
    /// The value type (`BG_META_*`).
    pub value_type: u32,
    /// For arrays: the element type (`BG_META_*`); otherwise equal to `value_type`.
    pub array_type: u32,
    /// For arrays: the number of elements; otherwise 1.
    pub array_len: u64,
}

fn kv_at(m: &Model, index: usize) -> Result<Kv<'_>> {
    let md = m.metadata();
    if index >= md.kv_count() {
        return Err(Error::new(
            Status::IndexOutOfRange,
            format!("metadata index {index} is out of range (the model has {} pairs)", md.kv_count()),
        ));
    }
    Ok(md.kv(index))
}

fn mismatch(kv: &Kv<'_>, wanted: &str) -> Error {
    let found = match kv.value {
        Value::Array(a) => format!("array of {}", a.elem_type().name()),
        v => v.value_type().name().to_string(),
    };
    Error::new(Status::TypeMismatch, format!("key '{}' holds {found}, not {wanted}", kv.key))
}

/// Number of metadata pairs. Returns 0 for NULL.
///
/// # Safety
/// `model` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_count(model: *const bg_model) -> usize {
    boundary("bg_meta_count", || {
        // SAFETY: per the contract.
        unsafe { model_ref(model, "model") }.map(|m| m.metadata().kv_count()).unwrap_or(0)
    })
}

/// Find a metadata key (NUL-terminated, exact match).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INVALID_PARAMETER` or
/// `BG_STATUS_NOT_FOUND`.
///
/// # Safety
/// `model` NULL or live; `key` NULL or NUL-terminated; `index_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_find(model: *const bg_model, key: *const c_char, index_out: *mut usize) -> Status {
    run("bg_meta_find", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        // SAFETY: per the contract.
        let key = unsafe { c_str(key, "key") }?;
        check_out(index_out, "index_out")?;
        let i = m
            .metadata()
            .find_kv(key)
            .ok_or_else(|| Error::new(Status::NotFound, format!("no metadata key '{key}'")))?;
        // SAFETY: checked non-NULL.
        unsafe { out(index_out, i) };
        Ok(())
    })
}

/// Describe metadata pair `index` (0 ≤ index < `bg_meta_count`).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `model` NULL or live; `info_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_info(model: *const bg_model, index: usize, info_out: *mut bg_meta_desc) -> Status {
    run("bg_meta_info", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(info_out, "info_out")?;
        let kv = kv_at(m, index)?;
        let vt = kv.value.value_type() as u32;
        let (array_type, array_len) = match kv.value {
            Value::Array(a) => (a.elem_type() as u32, a.len()),
            _ => (vt, 1),
        };
        let info = bg_meta_desc {
            key: kv.key_c.as_ptr().cast(),
            key_len: kv.key.len(),
            value_type: vt,
            array_type,
            array_len,
        };
        // SAFETY: checked non-NULL.
        unsafe { out(info_out, info) };
        Ok(())
    })
}

/// Shared body of the scalar getters.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
unsafe fn get_scalar<T>(
    name: &str,
    model: *const bg_model,
    index: usize,
    value_out: *mut T,
    wanted: ValueType,
    pick: impl FnOnce(Value<'_>) -> Option<T>,
) -> Status {
    run(name, || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(value_out, "value_out")?;
        let kv = kv_at(m, index)?;
        let v = pick(kv.value).ok_or_else(|| mismatch(&kv, wanted.name()))?;
        // SAFETY: checked non-NULL.
        unsafe { out(value_out, v) };
        Ok(())
    })
}

/// Get a `uint8` value. Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`,
/// `BG_STATUS_INDEX_OUT_OF_RANGE` or `BG_STATUS_TYPE_MISMATCH`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_u8(model: *const bg_model, index: usize, value_out: *mut u8) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_u8", model, index, value_out, ValueType::U8, |v| {
            if let Value::U8(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get an `int8` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_i8(model: *const bg_model, index: usize, value_out: *mut i8) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_i8", model, index, value_out, ValueType::I8, |v| {
            if let Value::I8(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get a `uint16` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_u16(model: *const bg_model, index: usize, value_out: *mut u16) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_u16", model, index, value_out, ValueType::U16, |v| {
            if let Value::U16(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get an `int16` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_i16(model: *const bg_model, index: usize, value_out: *mut i16) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_i16", model, index, value_out, ValueType::I16, |v| {
            if let Value::I16(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get a `uint32` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_u32(model: *const bg_model, index: usize, value_out: *mut u32) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_u32", model, index, value_out, ValueType::U32, |v| {
            if let Value::U32(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get an `int32` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_i32(model: *const bg_model, index: usize, value_out: *mut i32) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_i32", model, index, value_out, ValueType::I32, |v| {
            if let Value::I32(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get a `float32` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_f32(model: *const bg_model, index: usize, value_out: *mut f32) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_f32", model, index, value_out, ValueType::F32, |v| {
            if let Value::F32(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get a `bool` value (any non-zero byte is true, as in gguf.cpp). Returns as
/// `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_bool(model: *const bg_model, index: usize, value_out: *mut bool) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_bool", model, index, value_out, ValueType::Bool, |v| {
            if let Value::Bool(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get a `uint64` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_u64(model: *const bg_model, index: usize, value_out: *mut u64) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_u64", model, index, value_out, ValueType::U64, |v| {
            if let Value::U64(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get an `int64` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_i64(model: *const bg_model, index: usize, value_out: *mut i64) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_i64", model, index, value_out, ValueType::I64, |v| {
            if let Value::I64(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get a `float64` value. Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_f64(model: *const bg_model, index: usize, value_out: *mut f64) -> Status {
    // SAFETY: per the contract.
    unsafe {
        get_scalar("bg_meta_get_f64", model, index, value_out, ValueType::F64, |v| {
            if let Value::F64(x) = v {
                Some(x)
            } else {
                None
            }
        })
    }
}

/// Get any unsigned or non-negative signed integer value that is at most `max` (for values
/// used as sizes or counts, such as `llama.block_count`). Returns `BG_STATUS_TYPE_MISMATCH` for
/// non-integers and negative values, `BG_STATUS_INVALID_PARAMETER` when the value exceeds `max`,
/// otherwise as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `value_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_uint(
    model: *const bg_model,
    index: usize,
    max: u64,
    value_out: *mut u64,
) -> Status {
    run("bg_meta_get_uint", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(value_out, "value_out")?;
        let kv = kv_at(m, index)?;
        let v = kv.value.as_u64().ok_or_else(|| mismatch(&kv, "a non-negative integer"))?;
        if v > max {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("key '{}' is {v}, above the caller's maximum {max}", kv.key),
            ));
        }
        // SAFETY: checked non-NULL.
        unsafe { out(value_out, v) };
        Ok(())
    })
}

/// Get a string value without copying: `*str_out` points into the model's bytes and is NOT
/// NUL-terminated; `*len_out` is its length. GGUF does not guarantee valid UTF-8.
///
/// Returns as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `str_out`, `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_str(
    model: *const bg_model,
    index: usize,
    str_out: *mut *const c_char,
    len_out: *mut usize,
) -> Status {
    run("bg_meta_get_str", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(str_out, "str_out")?;
        check_out(len_out, "len_out")?;
        let kv = kv_at(m, index)?;
        let s = kv.value.as_str_bytes().ok_or_else(|| mismatch(&kv, "string"))?;
        // SAFETY: checked non-NULL.
        unsafe {
            out(str_out, s.as_ptr().cast());
            out(len_out, s.len());
        }
        Ok(())
    })
}

/// Get element `elem` of a string array without copying (pointer into the model's bytes, NOT
/// NUL-terminated, constant time).
///
/// Returns `BG_STATUS_TYPE_MISMATCH` when the value is not an array of strings,
/// `BG_STATUS_INDEX_OUT_OF_RANGE` for a bad `index` or `elem`, otherwise as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `str_out`, `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_arr_str(
    model: *const bg_model,
    index: usize,
    elem: u64,
    str_out: *mut *const c_char,
    len_out: *mut usize,
) -> Status {
    run("bg_meta_get_arr_str", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(str_out, "str_out")?;
        check_out(len_out, "len_out")?;
        let kv = kv_at(m, index)?;
        let a = match kv.value {
            Value::Array(a) if a.elem_type() == ValueType::String => a,
            _ => return Err(mismatch(&kv, "array of string")),
        };
        let s = a.get_str(elem).ok_or_else(|| {
            Error::new(
                Status::IndexOutOfRange,
                format!("key '{}': element {elem} of {} is out of range", kv.key, a.len()),
            )
        })?;
        // SAFETY: checked non-NULL.
        unsafe {
            out(str_out, s.as_ptr().cast());
            out(len_out, s.len());
        }
        Ok(())
    })
}

/// Get the packed elements of a numeric or bool array without copying. `elem_type` is the
/// element type the caller expects (`BG_META_*`); a different element type is
/// `BG_STATUS_TYPE_MISMATCH`, so a u8 array is never read as f32. `*data_out` points into the
/// model's bytes (little-endian, possibly UNALIGNED: copy with memcpy before use) and
/// `*len_out` is the length in BYTES (`array_len * element size`).
///
/// Returns `BG_STATUS_INVALID_PARAMETER` for `BG_META_STRING`/`BG_META_ARRAY` or an unknown
/// `elem_type`, otherwise as `bg_meta_get_u8`.
///
/// # Safety
/// `model` NULL or live; `data_out`, `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_meta_get_arr_data(
    model: *const bg_model,
    index: usize,
    elem_type: u32,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> Status {
    run("bg_meta_get_arr_data", || {
        // SAFETY: per the contract.
        let m = unsafe { model_ref(model, "model") }?;
        check_out(data_out, "data_out")?;
        check_out(len_out, "len_out")?;
        let wanted = ValueType::from_u32(elem_type).filter(|t| t.fixed_size().is_some()).ok_or_else(|| {
            Error::new(
                Status::InvalidParameter,
                format!("elem_type {elem_type} is not a fixed-size value type (0-7, 10-12)"),
            )
        })?;
        let kv = kv_at(m, index)?;
        let a = match kv.value {
            Value::Array(a) if a.elem_type() == wanted => a,
            _ => return Err(mismatch(&kv, &format!("array of {}", wanted.name()))),
        };
        let d = a.raw_bytes();
        // SAFETY: checked non-NULL.
        unsafe {
            out(data_out, d.as_ptr());
            out(len_out, d.len());
        }
        Ok(())
    })
}
