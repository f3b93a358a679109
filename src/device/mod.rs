//! Devices that hold tensors after a load: the host (always) and, with feature `gpu`, CUDA GPUs.
//!
//! This module is the seam between the loader (`load/`, which decides *what* goes where from a
//! placement plan) and the backends (`device::cuda`, which know *how* to put bytes on a GPU).
//! The planner (`placement/`) never calls into it: it only sees [`DeviceMemoryInfo`] values,
//! which the caller gets from [`DeviceBackend::devices`] or makes up (tests).

pub mod cpu;
#[cfg(feature = "gpu")]
pub mod cuda;

use crate::error::Result;
use crate::quant::output::OutType;
use crate::types::TypeId;

/// Which device a tensor lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceId {
    /// Host memory (the mapping itself, or a host buffer).
    Cpu,
    /// CUDA device by ordinal.
    Cuda(u32),
}

/// Memory of one device as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceMemoryInfo {
    /// The device.
    pub id: DeviceId,
    /// A human-readable name ("NVIDIA H100 80GB HBM3", "host").
    pub name: String,
    /// Total memory in bytes.
    pub total: u64,
    /// Free memory in bytes when queried.
    pub free: u64,
    /// The fraction of `free` the planner may use (default 0.8 for GPUs).
    pub budget_fraction: f64,
}

/// What a tensor becomes on its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Materialize {
    /// The on-disk bytes as they are (engines with their own kernels).
    Packed,
    /// Dequantized to this float type.
    Decoded(OutType),
}

/// A tensor's bytes held by a device backend. Dropping it frees the device memory.
pub trait DeviceTensor: Send + Sync + std::fmt::Debug {
    /// The device holding it.
    fn device(&self) -> DeviceId;
    /// The device address (a `CUdeviceptr` for CUDA).
    fn device_ptr(&self) -> u64;
    /// Its size in bytes.
    fn len(&self) -> u64;
    /// True when it holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One tensor to put on a device: its packed bytes and how to read them.
#[derive(Debug, Clone, Copy)]
pub struct TensorUpload<'a> {
    /// The tensor's name (for error messages).
    pub name: &'a str,
    /// bitgguf type id (upstream ids, or the BitNet ids of `types`).
    pub ty: TypeId,
    /// Shape, ne0 fastest.
    pub ne: [u64; 4],
    /// The packed on-disk bytes (for I2_S including its scale tail).
    pub packed: &'a [u8],
}

/// A backend that can hold tensors on its devices (implemented by `device::cuda` with feature
/// `gpu`). Every method reports failures as statuses (`NoDevice`, `OutOfMemory`, ...); an
/// allocation failure is an error the loader turns into the plan's fallback, never a crash.
pub trait DeviceBackend: Send + Sync {
    /// The devices this backend drives, with their memory now.
    fn devices(&self) -> Result<Vec<DeviceMemoryInfo>>;
    /// True when the backend can decode `ty` into `out` on the device itself; otherwise the
    /// loader decodes on the CPU and calls [`DeviceBackend::upload`] with the decoded bytes.
    fn can_decode(&self, ty: TypeId, out: Materialize) -> bool;
    /// Upload the packed bytes and materialize them on `device` as `out`.
    fn materialize(&self, device: DeviceId, t: &TensorUpload<'_>, out: Materialize) -> Result<Box<dyn DeviceTensor>>;
    /// Copy ready-made bytes (already decoded on the host) to `device` as they are.
    fn upload(&self, device: DeviceId, bytes: &[u8]) -> Result<Box<dyn DeviceTensor>>;
    /// Wait until every tensor returned so far by `materialize` / `upload` holds its bytes
    /// (backends may return before the device has finished, e.g. CUDA's stream-ordered
    /// copies and kernels). The default does nothing (synchronous backends).
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
