//! CUDA device queries for the planner. The same functions exist in every build: without the
//! feature `gpu` they return `BG_STATUS_NOT_COMPILED`.

use std::ffi::c_char;

use super::boundary::run;
use super::handles::{check_out, out};
#[cfg(not(feature = "gpu"))]
use crate::error::{Error, Status};

/// Bytes of `bg_cuda_device_desc.name`, NUL included.
pub const BG_CUDA_NAME_LEN: usize = 256;

/// One CUDA device as `bg_cuda_device_info` reports it (a `_desc`, like `bg_tensor_desc`: in C
/// a struct cannot share its typedef name with the function).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct bg_cuda_device_desc {
    /// The device name, NUL-terminated (truncated to `BG_CUDA_NAME_LEN - 1` bytes).
    pub name: [c_char; BG_CUDA_NAME_LEN],
    /// Total device memory in bytes.
    pub total_memory: u64,
    /// Free device memory in bytes when queried.
    pub free_memory: u64,
    /// Compute capability, major (9 for Hopper).
    pub compute_capability_major: i32,
    /// Compute capability, minor.
    pub compute_capability_minor: i32,
}

#[cfg(not(feature = "gpu"))]
fn not_compiled() -> Error {
    Error::new(Status::NotCompiled, "this build has no GPU support (rebuild with the cargo feature 'gpu')")
}

/// The number of CUDA devices in `*count_out`. A machine without the CUDA driver (or without
/// a GPU) has 0 devices: that is `BG_STATUS_OK`, not an error.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_DEVICE_FAILURE` (the driver
/// failed to answer), or `BG_STATUS_NOT_COMPILED` (a build without the feature `gpu`).
///
/// # Safety
/// `count_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_cuda_device_count(count_out: *mut u32) -> crate::error::Status {
    run("bg_cuda_device_count", || {
        check_out(count_out, "count_out")?;
        #[cfg(feature = "gpu")]
        {
            let n = crate::device::cuda::device_count()?;
            // SAFETY: checked non-NULL.
            unsafe { out(count_out, n.min(u32::MAX as usize) as u32) };
            Ok(())
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = out::<u32>;
            Err(not_compiled())
        }
    })
}

/// Name, total and free memory, and compute capability of CUDA device `index` into
/// `*info_out`.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_NO_DEVICE` (no driver, or
/// `index` is not a device), `BG_STATUS_DEVICE_FAILURE`, or `BG_STATUS_NOT_COMPILED`.
///
/// # Safety
/// `info_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_cuda_device_info(index: u32, info_out: *mut bg_cuda_device_desc) -> crate::error::Status {
    run("bg_cuda_device_info", || {
        check_out(info_out, "info_out")?;
        #[cfg(feature = "gpu")]
        {
            let i = crate::device::cuda::device_info(index)?;
            let mut name = [0 as c_char; BG_CUDA_NAME_LEN];
            for (d, &b) in name.iter_mut().zip(i.name.as_bytes().iter().take(BG_CUDA_NAME_LEN - 1)) {
                *d = b as c_char;
            }
            let info = bg_cuda_device_desc {
                name,
                total_memory: i.total,
                free_memory: i.free,
                compute_capability_major: i.cc_major,
                compute_capability_minor: i.cc_minor,
            };
            // SAFETY: checked non-NULL.
            unsafe { out(info_out, info) };
            Ok(())
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = (index, out::<bg_cuda_device_desc>);
            Err(not_compiled())
        }
    })
}
