//! Opaque handles and the checked conversions between C pointers and Rust references.

use std::ffi::{c_char, CStr};
use std::sync::Arc;

use super::boundary::null;
use super::placement::FfiLoadOptions;
use crate::error::{Error, Result, Status};
use crate::load::LoadedModel;
use crate::model::{LoadOptions, Model};

/// A loaded model. Opaque; created by `bg_load` / `bg_load_from_memory`, released by
/// `bg_free`. Read-only: every query may be called from any thread, concurrently.
pub struct bg_model {
    _private: [u8; 0],
}

/// Load options. Opaque; created by `bg_load_options_new`, released by
/// `bg_load_options_free`. Not thread-safe: configure it from one thread.
pub struct bg_load_options {
    _private: [u8; 0],
}

/// A handle is an `Arc<LoadedModel>`: the model plus where each tensor was placed (a model
/// loaded without placement options is all on the CPU, in its own bytes).
pub(crate) fn model_into_raw(m: Model) -> *mut bg_model {
    loaded_into_raw(LoadedModel::unplaced(m))
}

pub(crate) fn loaded_into_raw(m: LoadedModel) -> *mut bg_model {
    Arc::into_raw(Arc::new(m)) as *mut bg_model
}

/// Borrow the model behind a handle.
///
/// # Safety
/// `p` must be NULL or a live handle from `bg_load*`.
pub(crate) unsafe fn model_ref<'a>(p: *const bg_model, arg: &str) -> Result<&'a Model> {
    // SAFETY: per the contract.
    unsafe { loaded_ref(p, arg) }.map(|l| l.model())
}

/// Borrow the loaded model (model + placement) behind a handle.
///
/// # Safety
/// `p` must be NULL or a live handle from `bg_load*`.
pub(crate) unsafe fn loaded_ref<'a>(p: *const bg_model, arg: &str) -> Result<&'a LoadedModel> {
    // SAFETY: per the contract, p is NULL or points to the LoadedModel inside an Arc.
    unsafe { p.cast::<LoadedModel>().as_ref() }.ok_or_else(|| null(arg))
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load*`; the caller gives up this reference.
pub(crate) unsafe fn model_release(p: *mut bg_model) {
    if !p.is_null() {
        // SAFETY: p came from Arc::into_raw and this reference is given back exactly once.
        drop(unsafe { Arc::from_raw(p.cast::<LoadedModel>()) });
    }
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load*`.
pub(crate) unsafe fn model_retain(p: *const bg_model) {
    if !p.is_null() {
        // SAFETY: p came from Arc::into_raw and is live.
        unsafe { Arc::increment_strong_count(p.cast::<LoadedModel>()) };
    }
}

/// A `bg_load_options` handle is a `Box<FfiLoadOptions>`: the parser options plus the
/// placement and progress options of `ffi::placement`.
pub(crate) fn options_into_raw(o: LoadOptions) -> *mut bg_load_options {
    Box::into_raw(Box::new(FfiLoadOptions::new(o))) as *mut bg_load_options
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load_options_new`.
pub(crate) unsafe fn options_ref<'a>(p: *const bg_load_options) -> Option<&'a LoadOptions> {
    // SAFETY: per the contract.
    unsafe { ffi_options_ref(p) }.map(|o| &o.base)
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load_options_new`, not used by another thread.
pub(crate) unsafe fn options_mut<'a>(p: *mut bg_load_options) -> Result<&'a mut LoadOptions> {
    // SAFETY: per the contract.
    unsafe { ffi_options_mut(p) }.map(|o| &mut o.base)
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load_options_new`.
pub(crate) unsafe fn ffi_options_ref<'a>(p: *const bg_load_options) -> Option<&'a FfiLoadOptions> {
    // SAFETY: per the contract.
    unsafe { p.cast::<FfiLoadOptions>().as_ref() }
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load_options_new`, not used by another thread.
pub(crate) unsafe fn ffi_options_mut<'a>(p: *mut bg_load_options) -> Result<&'a mut FfiLoadOptions> {
    // SAFETY: per the contract.
    unsafe { p.cast::<FfiLoadOptions>().as_mut() }.ok_or_else(|| null("options"))
}

/// # Safety
/// `p` must be NULL or a live handle from `bg_load_options_new`.
pub(crate) unsafe fn options_release(p: *mut bg_load_options) {
    if !p.is_null() {
        // SAFETY: p came from Box::into_raw and is given back exactly once.
        drop(unsafe { Box::from_raw(p.cast::<FfiLoadOptions>()) });
    }
}

/// Borrow a NUL-terminated C string as UTF-8.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, arg: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(null(arg));
    }
    // SAFETY: per the contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| Error::new(Status::InvalidParameter, format!("argument '{arg}' is not valid UTF-8: {e}")))
}

/// Write an output parameter (after checking it is not NULL).
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn out<T>(p: *mut T, v: T) {
    // SAFETY: callers check for NULL first (via `check_out`); per the contract p is writable.
    unsafe { p.write(v) }
}

/// Fail with NullParameter when an output pointer is NULL.
pub(crate) fn check_out<T>(p: *mut T, arg: &str) -> Result<()> {
    if p.is_null() {
        Err(null(arg))
    } else {
        Ok(())
    }
}
