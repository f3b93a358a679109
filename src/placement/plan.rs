//! The planner's output: which device holds each tensor, what each device will hold, and every
//! fallback taken (and why).

use std::fmt;

use crate::device::{DeviceId, DeviceMemoryInfo, Materialize};

/// Where one tensor goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorPlacement {
    /// The device.
    pub device: DeviceId,
    /// What it becomes there.
    pub materialize: Materialize,
    /// Bytes it occupies there.
    pub bytes: u64,
    /// True when, on the CPU, it can stay in the file mapping (packed output, mapped file).
    pub mappable: bool,
}

impl TensorPlacement {
    /// True when it stays in the file mapping (on the CPU and mappable): no allocation.
    pub fn zero_copy(&self) -> bool {
        self.device == DeviceId::Cpu && self.mappable
    }
}

/// What one device will hold.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceUsage {
    /// The device as given to the planner.
    pub info: DeviceMemoryInfo,
    /// Bytes the plan may allocate there (`free × budget_fraction`); `None`: unlimited (the
    /// host when its memory was not given).
    pub budget: Option<u64>,
    /// Bytes allocated there by the plan.
    pub used: u64,
    /// Bytes served zero-copy from the file mapping (CPU only; not counted in `used`).
    pub mapped: u64,
    /// Number of tensors placed there.
    pub tensors: usize,
    /// Set when an allocation on this device failed during the load: nothing more goes there.
    pub exhausted: bool,
}

impl DeviceUsage {
    /// A device with nothing placed yet.
    pub fn new(info: DeviceMemoryInfo) -> DeviceUsage {
        let budget = budget_of(&info);
        DeviceUsage { info, budget: Some(budget), used: 0, mapped: 0, tensors: 0, exhausted: false }
    }

    /// Bytes still available (`u64::MAX` when unlimited; 0 once exhausted).
    pub fn available(&self) -> u64 {
        if self.exhausted {
            return 0;
        }
        self.budget.map_or(u64::MAX, |b| b.saturating_sub(self.used))
    }
}

/// A device's budget: `free × budget_fraction` (the fraction clamped to [0, 1]).
pub fn budget_of(info: &DeviceMemoryInfo) -> u64 {
    let f = if info.budget_fraction.is_finite() { info.budget_fraction.clamp(0.0, 1.0) } else { 0.0 };
    (info.free as f64 * f) as u64
}

/// Why a tensor (or the whole plan) left its preferred device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FallbackReason {
    /// The strategy wants GPUs, but none was given (or the GPU backend is not built).
    NoDevice,
    /// The device's budget had `available` bytes left; the tensor needs `needed`.
    OverBudget {
        /// Bytes the tensor needs.
        needed: u64,
        /// Bytes left in the budget.
        available: u64,
    },
    /// The device backend failed to allocate during the load (the message says why).
    AllocationFailed(String),
    /// An earlier allocation on the device failed during the load; nothing more is tried there.
    DeviceExhausted,
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackReason::NoDevice => write!(f, "no GPU device is available"),
            FallbackReason::OverBudget { needed, available } => {
                write!(f, "needs {needed} bytes, the budget has {available} left")
            }
            FallbackReason::AllocationFailed(m) => write!(f, "allocation failed during the load: {m}"),
            FallbackReason::DeviceExhausted => write!(f, "an earlier allocation on this device failed"),
        }
    }
}

/// One fallback taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The tensor, or `None` for a plan-wide fallback (e.g. no GPU at all).
    pub tensor: Option<usize>,
    /// The device it was meant for.
    pub from: DeviceId,
    /// The device it went to.
    pub to: DeviceId,
    /// Why.
    pub reason: FallbackReason,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tensor {
            Some(t) => write!(f, "tensor #{t}: {} -> {}: {}", dev_name(self.from), dev_name(self.to), self.reason),
            None => write!(f, "all tensors: {} -> {}: {}", dev_name(self.from), dev_name(self.to), self.reason),
        }
    }
}

/// "cpu" or "cuda:N".
pub fn dev_name(d: DeviceId) -> String {
    match d {
        DeviceId::Cpu => "cpu".to_string(),
        DeviceId::Cuda(i) => format!("cuda:{i}"),
    }
}

/// A placement plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The strategy that made it ("gpu", "cpu", "hybrid").
    pub strategy: &'static str,
    /// One entry per tensor, indexed like the model's tensors.
    pub tensors: Vec<TensorPlacement>,
    /// Every device the plan knows (the CPU first, then the GPUs in the order given).
    pub devices: Vec<DeviceUsage>,
    /// Fallbacks taken, in order (planning first, then any during the load).
    pub fallbacks: Vec<Fallback>,
}

impl Plan {
    /// The usage entry of a device.
    pub fn device(&self, id: DeviceId) -> Option<&DeviceUsage> {
        self.devices.iter().find(|d| d.info.id == id)
    }

    pub(crate) fn device_mut(&mut self, id: DeviceId) -> Option<&mut DeviceUsage> {
        self.devices.iter_mut().find(|d| d.info.id == id)
    }

    /// Total bytes allocated on a device by the plan (0 when unknown).
    pub fn bytes_on(&self, id: DeviceId) -> u64 {
        self.device(id).map_or(0, |d| d.used + d.mapped)
    }

    /// Number of tensors on GPUs.
    pub fn gpu_tensors(&self) -> usize {
        self.tensors.iter().filter(|t| t.device != DeviceId::Cpu).count()
    }

    /// Move tensor `t` off `failed` after an allocation failure during the load: marks the
    /// device exhausted, takes back the tensor's bytes there, and picks the next device of the
    /// fallback chain (the GPUs after `failed`, wrapping around, then the CPU) with room for it.
    /// Returns the new device, recorded in `fallbacks`, or `None` when no device can take it.
    pub fn reassign(&mut self, t: usize, reason: FallbackReason) -> Option<DeviceId> {
        let p = *self.tensors.get(t)?;
        let failed = p.device;
        if let Some(d) = self.device_mut(failed) {
            if p.zero_copy() {
                d.mapped = d.mapped.saturating_sub(p.bytes);
            } else {
                d.used = d.used.saturating_sub(p.bytes);
            }
            d.tensors = d.tensors.saturating_sub(1);
            d.exhausted = true;
        }
        let next = super::next_in_chain(&self.devices, failed, &p, true)?;
        let d = self.device_mut(next).expect("chain returns known devices");
        if next == DeviceId::Cpu && p.mappable {
            d.mapped += p.bytes;
        } else {
            d.used += p.bytes;
        }
        d.tensors += 1;
        self.tensors[t].device = next;
        self.fallbacks.push(Fallback { tensor: Some(t), from: failed, to: next, reason });
        Some(next)
    }
}
