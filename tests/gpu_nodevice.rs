//! The GPU entry points where there is no GPU (CI, this machine) and in CPU-only builds:
//! - built without `gpu`: `bg_cuda_device_count` / `bg_cuda_device_info` return
//!   `BG_STATUS_NOT_COMPILED` (same header, same symbols) and leave their outputs alone;
//! - built with `gpu` on a machine without the CUDA driver (or with `BG_CUDA_DISABLE=1`):
//!   the count is 0 (OK), device info is `NO_DEVICE`, the backend refuses to start with
//!   `NO_DEVICE` — and nothing aborts (cudarc panics when libcuda is missing; these calls
//!   would abort the test binary if a panic escaped).
//! - built with `gpu` where a driver and a device exist: the same calls succeed and agree.

use bitgguf::ffi::cuda::{bg_cuda_device_count, bg_cuda_device_desc as Info, bg_cuda_device_info};
use bitgguf::Status;

fn blank() -> Info {
    Info {
        name: [7; 256],
        total_memory: 11,
        free_memory: 12,
        compute_capability_major: 13,
        compute_capability_minor: 14,
    }
}

fn untouched(i: &Info) -> bool {
    i.name.iter().all(|&c| c == 7)
        && i.total_memory == 11
        && i.free_memory == 12
        && i.compute_capability_major == 13
        && i.compute_capability_minor == 14
}

#[test]
fn null_outputs_are_rejected() {
    // SAFETY: NULL outputs are part of the contract.
    unsafe {
        let s = bg_cuda_device_count(std::ptr::null_mut());
        assert!(s == Status::NullParameter, "{s:?}");
        let s = bg_cuda_device_info(0, std::ptr::null_mut());
        assert!(s == Status::NullParameter, "{s:?}");
    }
}

#[cfg(not(feature = "gpu"))]
#[test]
fn cpu_builds_say_not_compiled() {
    let mut n = 77u32;
    let mut info = blank();
    // SAFETY: valid outputs.
    unsafe {
        assert_eq!(bg_cuda_device_count(&mut n), Status::NotCompiled);
        assert_eq!(bg_cuda_device_info(0, &mut info), Status::NotCompiled);
    }
    assert_eq!(n, 77);
    assert!(untouched(&info));
}

#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use bitgguf::device::cuda::{self, CudaBackend};

    #[test]
    fn count_and_info_agree_with_the_driver() {
        let mut n = 77u32;
        let mut info = blank();
        // SAFETY: valid outputs.
        let s = unsafe { bg_cuda_device_count(&mut n) };
        assert_eq!(s, Status::Ok);
        if !cuda::driver_available() {
            eprintln!("no CUDA driver here: checking the no-device behaviour");
            assert_eq!(n, 0);
            // SAFETY: valid output.
            assert_eq!(unsafe { bg_cuda_device_info(0, &mut info) }, Status::NoDevice);
            assert!(untouched(&info));
            let e = CudaBackend::new().unwrap_err();
            assert_eq!(e.status(), Status::NoDevice);
            assert!(e.message().contains("libcuda") || e.message().contains("BG_CUDA_DISABLE"), "{e}");
            assert_eq!(cuda::device_info(3).unwrap_err().status(), Status::NoDevice);
            return;
        }
        eprintln!("CUDA driver present: {n} device(s)");
        assert_eq!(n as usize, cuda::device_count().unwrap());
        for i in 0..n {
            // SAFETY: valid output.
            assert_eq!(unsafe { bg_cuda_device_info(i, &mut info) }, Status::Ok);
            let name: Vec<u8> = info.name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
            assert!(!name.is_empty() && info.total_memory >= info.free_memory && info.total_memory > 0);
            assert!(info.compute_capability_major > 0);
            eprintln!(
                "device {i}: {} sm_{}{} {} MiB",
                String::from_utf8_lossy(&name),
                info.compute_capability_major,
                info.compute_capability_minor,
                info.total_memory >> 20
            );
        }
        let mut past = blank();
        // SAFETY: valid output.
        assert_eq!(unsafe { bg_cuda_device_info(n, &mut past) }, Status::NoDevice);
        assert!(untouched(&past));
    }
}
