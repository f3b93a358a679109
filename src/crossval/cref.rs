//! Safe Rust over cpp_ref's C surface (`cpp_ref/cref.h`): the independent C++17 GGUF reader and
//! dequantizers that `build.rs` compiles when the feature `crossval` is on.
//!
//! Every `cref_*` function catches all C++ exceptions, returns a status and leaves a
//! thread-local message; [`CrefError`] carries both. Nothing here interprets the reference's
//! answers: that is [`super::GgufCrossValidator`]'s job.

use std::ffi::{c_char, c_int, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;

use crate::types::{TypeId, TypePolicy};

#[repr(C)]
struct RawFile {
    _private: [u8; 0],
}

extern "C" {
    fn cref_open(path: *const c_char, policy: u32, out: *mut *mut RawFile) -> c_int;
    fn cref_open_memory(data: *const u8, len: usize, policy: u32, out: *mut *mut RawFile) -> c_int;
    fn cref_close(f: *mut RawFile);
    fn cref_error() -> *const c_char;
    fn cref_file_info(
        f: *const RawFile,
        version: *mut u32,
        n_kv: *mut u64,
        alignment: *mut u64,
        data_offset: *mut u64,
    ) -> c_int;
    fn cref_tensor_count(f: *const RawFile) -> usize;
    fn cref_tensor_info(
        f: *const RawFile,
        i: usize,
        name: *mut *const c_char,
        name_len: *mut usize,
        ty: *mut u32,
        disk_type: *mut u32,
        n_dims: *mut u32,
        ne: *mut u64,
        offset: *mut u64,
        n_bytes: *mut u64,
    ) -> c_int;
    fn cref_tensor_data(f: *const RawFile, i: usize, data: *mut *const u8, len: *mut usize) -> c_int;
    fn cref_tensor_tile(f: *const RawFile, i: usize, cfg: *mut u32) -> c_int;
    fn cref_type_supported(ty: u32) -> c_int;
    fn cref_dequantize(ty: u32, src: *const u8, src_len: usize, n: u64, dst: *mut f32) -> c_int;
    fn cref_dequantize_i2s(src: *const u8, src_len: usize, n: u64, group: u32, dst: *mut f32) -> c_int;
    fn cref_dequantize_tl(
        ty: u32,
        src: *const u8,
        src_len: usize,
        k: u64,
        m: u64,
        cfg: *const u32,
        dst: *mut f32,
    ) -> c_int;
}

/// The status codes of `cref.h` (`CREF_ERR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrefCode {
    /// `CREF_ERR_IO`: the file cannot be opened or read.
    Io,
    /// `CREF_ERR_TRUNCATED`: the input ends inside a field or before the data section.
    Truncated,
    /// `CREF_ERR_MAGIC`: not "GGUF".
    Magic,
    /// `CREF_ERR_VERSION`: version 0, 1, > 3 or byte-swapped.
    Version,
    /// `CREF_ERR_COUNT`: a count is negative as int64.
    Count,
    /// `CREF_ERR_KEY`: empty or duplicate key.
    Key,
    /// `CREF_ERR_VALUE`: bad value type, nested array, string or array too long.
    Value,
    /// `CREF_ERR_ALIGNMENT`: `general.alignment` not u32, zero or not a power of two.
    Alignment,
    /// `CREF_ERR_NAME`: tensor name too long or duplicate.
    Name,
    /// `CREF_ERR_DIMS`: n_dims > 4, negative dimension, element count overflow.
    Dims,
    /// `CREF_ERR_TYPE`: unknown, removed, not storable or unresolved type id.
    Type,
    /// `CREF_ERR_SHAPE`: shape not valid for the type, or byte size overflow.
    Shape,
    /// `CREF_ERR_OFFSET`: offset not the running sum of padded sizes.
    Offset,
    /// `CREF_ERR_BOUNDS`: data beyond the end of the file, or size overflow.
    Bounds,
    /// `CREF_ERR_UNSUPPORTED`: no decoder for the type in cpp_ref.
    Unsupported,
    /// `CREF_ERR_BAD_DATA`: a value the format forbids (I2_S code 3, a TL index > 8 or 13).
    BadData,
    /// `CREF_ERR_NO_TILE`: a TL1/TL2 tensor without a well-formed `bitgguf.tl.<name>` key.
    NoTile,
    /// `CREF_ERR_ARG`: NULL pointer or mismatched size.
    Arg,
    /// `CREF_ERR_RANGE`: index out of range.
    Range,
    /// `CREF_ERR_INTERNAL`: an unexpected C++ exception.
    Internal,
    /// A code this binding does not know.
    Other(i32),
}

impl CrefCode {
    fn from_raw(code: c_int) -> CrefCode {
        match code {
            1 => CrefCode::Io,
            10 => CrefCode::Truncated,
            11 => CrefCode::Magic,
            12 => CrefCode::Version,
            13 => CrefCode::Count,
            20 => CrefCode::Key,
            21 => CrefCode::Value,
            22 => CrefCode::Alignment,
            30 => CrefCode::Name,
            31 => CrefCode::Dims,
            32 => CrefCode::Type,
            33 => CrefCode::Shape,
            40 => CrefCode::Offset,
            41 => CrefCode::Bounds,
            50 => CrefCode::Unsupported,
            51 => CrefCode::BadData,
            52 => CrefCode::NoTile,
            90 => CrefCode::Arg,
            91 => CrefCode::Range,
            99 => CrefCode::Internal,
            other => CrefCode::Other(other),
        }
    }
}

/// A failed `cref_*` call: its code and cpp_ref's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrefError {
    /// The status.
    pub code: CrefCode,
    /// What went wrong, where.
    pub message: String,
}

impl std::fmt::Display for CrefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.message, self.code)
    }
}

impl std::error::Error for CrefError {}

/// Turn a status into a result, reading the message on the thread that failed.
fn check(code: c_int) -> Result<(), CrefError> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: cref_error never returns NULL; the string is valid until the next failing call on
    // this thread, and it is copied right away.
    let message = unsafe { CStr::from_ptr(cref_error()) }.to_string_lossy().into_owned();
    Err(CrefError { code: CrefCode::from_raw(code), message })
}

/// Header facts as cpp_ref read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrefFileInfo {
    /// GGUF version.
    pub version: u32,
    /// Number of key/value pairs.
    pub n_kv: u64,
    /// Alignment in effect.
    pub alignment: u64,
    /// Absolute offset of the data section.
    pub data_offset: u64,
}

/// One tensor as cpp_ref read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrefTensor<'a> {
    /// The name's bytes (cpp_ref, like gguf.cpp, does not require UTF-8).
    pub name: &'a [u8],
    /// API type id after the type policy.
    pub ty: TypeId,
    /// The type id as written in the file.
    pub disk_type: u32,
    /// Number of dimensions as written.
    pub n_dims: u32,
    /// Dimensions (unused ones are 1).
    pub ne: [u64; 4],
    /// Offset relative to the data section.
    pub offset: u64,
    /// Byte size.
    pub n_bytes: u64,
}

/// A GGUF file opened by cpp_ref. Read-only after opening; cpp_ref's queries and decoders are
/// safe to call from any thread, so it is `Send + Sync`. `'a` is the lifetime of borrowed input
/// bytes (`'static` when cpp_ref read the file itself).
#[derive(Debug)]
pub struct CrefFile<'a> {
    raw: NonNull<RawFile>,
    _bytes: PhantomData<&'a [u8]>,
}

// SAFETY: a cref_file is immutable after cref_open*/cref_open_memory returns, and every query
// only reads it (cref.h: "every query may run on any thread"); the error message is
// thread-local on the C++ side.
unsafe impl Send for CrefFile<'_> {}
// SAFETY: as above.
unsafe impl Sync for CrefFile<'_> {}

impl Drop for CrefFile<'_> {
    fn drop(&mut self) {
        // SAFETY: raw came from cref_open*, is closed exactly once, and nothing borrowed from it
        // outlives self (borrows are tied to &self).
        unsafe { cref_close(self.raw.as_ptr()) }
    }
}

fn path_cstring(path: &Path) -> Result<CString, CrefError> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    CString::new(bytes).map_err(|_| CrefError {
        code: CrefCode::Arg,
        message: format!("{}: the path contains a NUL byte", path.display()),
    })
}

fn wrap<'a>(code: c_int, raw: *mut RawFile) -> Result<CrefFile<'a>, CrefError> {
    check(code)?;
    let raw = NonNull::new(raw).ok_or_else(|| CrefError {
        code: CrefCode::Internal,
        message: "cpp_ref returned success but no file handle".into(),
    })?;
    Ok(CrefFile { raw, _bytes: PhantomData })
}

impl CrefFile<'static> {
    /// Let cpp_ref read and parse the file at `path` itself (into its own memory).
    pub fn open(path: &Path, policy: TypePolicy) -> Result<CrefFile<'static>, CrefError> {
        let c = path_cstring(path)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: c is NUL-terminated; raw is a valid out pointer.
        let code = unsafe { cref_open(c.as_ptr(), policy as u32, &mut raw) };
        wrap(code, raw)
    }
}

impl<'a> CrefFile<'a> {
    /// Let cpp_ref parse `bytes` (borrowed, not copied).
    pub fn from_bytes(bytes: &'a [u8], policy: TypePolicy) -> Result<CrefFile<'a>, CrefError> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: bytes is readable for its length and outlives the handle ('a).
        let code = unsafe { cref_open_memory(bytes.as_ptr(), bytes.len(), policy as u32, &mut raw) };
        wrap(code, raw)
    }

    /// Header facts.
    pub fn info(&self) -> CrefFileInfo {
        let mut i = CrefFileInfo { version: 0, n_kv: 0, alignment: 0, data_offset: 0 };
        // SAFETY: live handle; valid out pointers.
        let code = unsafe {
            cref_file_info(self.raw.as_ptr(), &mut i.version, &mut i.n_kv, &mut i.alignment, &mut i.data_offset)
        };
        check(code).expect("cref_file_info cannot fail on a live handle");
        i
    }

    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        // SAFETY: live handle.
        unsafe { cref_tensor_count(self.raw.as_ptr()) }
    }

    /// Tensor `i`'s description.
    pub fn tensor(&self, i: usize) -> Result<CrefTensor<'_>, CrefError> {
        let mut name: *const c_char = std::ptr::null();
        let mut name_len = 0usize;
        let (mut ty, mut disk_type, mut n_dims) = (0u32, 0u32, 0u32);
        let mut ne = [0u64; 4];
        let (mut offset, mut n_bytes) = (0u64, 0u64);
        // SAFETY: live handle; every out pointer is valid; ne has 4 elements.
        let code = unsafe {
            cref_tensor_info(
                self.raw.as_ptr(),
                i,
                &mut name,
                &mut name_len,
                &mut ty,
                &mut disk_type,
                &mut n_dims,
                ne.as_mut_ptr(),
                &mut offset,
                &mut n_bytes,
            )
        };
        check(code)?;
        // SAFETY: on success name points to name_len bytes owned by the handle, alive while
        // &self is.
        let name = unsafe { std::slice::from_raw_parts(name.cast::<u8>(), name_len) };
        Ok(CrefTensor { name, ty, disk_type, n_dims, ne, offset, n_bytes })
    }

    /// Tensor `i`'s bytes as cpp_ref located them.
    pub fn tensor_data(&self, i: usize) -> Result<&[u8], CrefError> {
        let mut data: *const u8 = std::ptr::null();
        let mut len = 0usize;
        // SAFETY: live handle; valid out pointers.
        let code = unsafe { cref_tensor_data(self.raw.as_ptr(), i, &mut data, &mut len) };
        check(code)?;
        if len == 0 {
            return Ok(&[]);
        }
        // SAFETY: on success data points to len bytes inside the file's bytes, which live as
        // long as the handle (owned) or 'a (borrowed, and 'a outlives the handle).
        Ok(unsafe { std::slice::from_raw_parts(data, len) })
    }
}

impl CrefFile<'_> {
    /// Tensor `i`'s TL1/TL2 tile configuration `[BM, BK, bm]` as cpp_ref read it from the key
    /// `bitgguf.tl.<name>` ([`CrefCode::NoTile`] when absent or malformed).
    pub fn tensor_tile(&self, i: usize) -> Result<[u32; 3], CrefError> {
        let mut cfg = [0u32; 3];
        // SAFETY: live handle; cfg has 3 elements.
        let code = unsafe { cref_tensor_tile(self.raw.as_ptr(), i, cfg.as_mut_ptr()) };
        check(code)?;
        Ok(cfg)
    }
}

/// Whether cpp_ref can decode `ty` (TL1/TL2 with [`dequantize_tl`]).
pub fn type_supported(ty: TypeId) -> bool {
    // SAFETY: a pure function of its argument.
    unsafe { cref_type_supported(ty) == 1 }
}

/// Decode `dst.len()` elements of type `ty` from exactly their bytes `src` with cpp_ref (I2_S:
/// the whole tensor, payload and tail).
pub fn dequantize(ty: TypeId, src: &[u8], dst: &mut [f32]) -> Result<(), CrefError> {
    // SAFETY: src is readable for src.len() bytes and dst writable for dst.len() floats;
    // cpp_ref writes at most n = dst.len() floats and reads at most src_len bytes.
    let code = unsafe { cref_dequantize(ty, src.as_ptr(), src.len(), dst.len() as u64, dst.as_mut_ptr()) };
    check(code)
}

/// Decode a whole I2_S tensor of `dst.len()` elements with an explicit layout: `group` = 32
/// (canonical GROUP_128) or 16 (ARM GROUP_64) bytes per block.
pub fn dequantize_i2s(src: &[u8], group: u32, dst: &mut [f32]) -> Result<(), CrefError> {
    // SAFETY: as in dequantize.
    let code = unsafe { cref_dequantize_i2s(src.as_ptr(), src.len(), dst.len() as u64, group, dst.as_mut_ptr()) };
    check(code)
}

/// Decode a whole TL1/TL2 tensor (`ty` = [`crate::types::TL1`] or [`crate::types::TL2`]) of `m`
/// rows and `k` columns with tile configuration `[BM, BK, bm]`; `dst` must hold `m * k` floats.
pub fn dequantize_tl(ty: TypeId, src: &[u8], k: u64, m: u64, cfg: [u32; 3], dst: &mut [f32]) -> Result<(), CrefError> {
    if k.checked_mul(m) != Some(dst.len() as u64) {
        return Err(CrefError {
            code: CrefCode::Arg,
            message: format!("dequantize_tl: {m} x {k} elements do not fit an output of {}", dst.len()),
        });
    }
    // SAFETY: src readable for its length, cfg has 3 elements, dst holds m*k floats (checked).
    let code = unsafe { cref_dequantize_tl(ty, src.as_ptr(), src.len(), k, m, cfg.as_ptr(), dst.as_mut_ptr()) };
    check(code)
}
