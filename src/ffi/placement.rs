//! Placement and progressive-loading options, plans, and device-resident tensors.
//!
//! Setting any option of this file on a `bg_load_options` makes `bg_load` /
//! `bg_load_from_memory` run the progressive loader (`load::ProgressiveGgufLoader`): plan the
//! placement with the chosen strategy and device budgets, then materialize every tensor in
//! phases, reporting progress. Without them `bg_load` maps (or reads) the file and touches no
//! tensor data, as before; its plan is then "everything on the CPU, zero-copy".
//!
//! GPUs come from the GPU backend of a `gpu` build. Without one (or without a CUDA device) the
//! GPU strategies place everything on the CPU and the plan reports a `BG_FALLBACK_NO_DEVICE`
//! fallback.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary::{boundary, null, run};
use super::handles::*;
use super::progress::{bg_progress_fn, CProgress};
use super::tensor::tensor_at;
use crate::device::{DeviceBackend, DeviceId, DeviceMemoryInfo, Materialize};
use crate::error::{Error, Result, Status};
use crate::load::{LoadConfig, LoadedModel, ProgressiveGgufLoader, ReadMode, Resident, StrategyChoice};
use crate::model::roles::TensorRole;
use crate::model::{LoadOptions, Model};
use crate::placement::{FallbackReason, GpuOptimized, Hybrid, Plan};
use crate::quant::output::OutType;

/// Device kind: the host.
pub const BG_DEVICE_CPU: u32 = 0;
/// Device kind: a CUDA GPU (`ordinal` is its index).
pub const BG_DEVICE_CUDA: u32 = 1;

/// Strategy: everything on the CPU, zero-copy from the mapping where possible (default).
pub const BG_STRATEGY_CPU: u32 = 0;
/// Strategy: fill the GPUs layer by layer up to their budgets, the rest on the CPU.
pub const BG_STRATEGY_GPU: u32 = 1;
/// Strategy: embeddings, norms and output head on the CPU, layer weights on the GPUs.
pub const BG_STRATEGY_HYBRID: u32 = 2;

/// Read mode: map the file (default).
pub const BG_READ_MODE_MMAP: u32 = 0;
/// Read mode: read the header, then each tensor with `pread` into the model's own memory (no
/// mapping: safe when the file changes under the process; a shrunk file is `BG_STATUS_IO`).
pub const BG_READ_MODE_PREAD: u32 = 1;

/// Role: token embeddings (`token_embd`, ...).
pub const BG_ROLE_EMBEDDING: u32 = 0;
/// Role: attention weights of a layer.
pub const BG_ROLE_ATTENTION: u32 = 1;
/// Role: feed-forward weights of a layer.
pub const BG_ROLE_FFN: u32 = 2;
/// Role: normalization weights.
pub const BG_ROLE_NORM: u32 = 3;
/// Role: the output head.
pub const BG_ROLE_OUTPUT: u32 = 4;
/// Role: anything else.
pub const BG_ROLE_OTHER: u32 = 5;
/// Every role at once (`bg_load_options_set_output_type`).
pub const BG_ROLE_ALL: u32 = 0xFFFF_FFFF;

/// Output "type": the on-disk bytes as they are (default).
pub const BG_OUTPUT_PACKED: u32 = 0xFFFF_FFFF;

/// Fallback reason: the strategy wants GPUs but there are none.
pub const BG_FALLBACK_NO_DEVICE: u32 = 0;
/// Fallback reason: the device's budget had no room left for the tensor.
pub const BG_FALLBACK_OVER_BUDGET: u32 = 1;
/// Fallback reason: the device failed to allocate during the load.
pub const BG_FALLBACK_ALLOCATION_FAILED: u32 = 2;
/// Fallback reason: an earlier allocation on the device failed during the load.
pub const BG_FALLBACK_DEVICE_EXHAUSTED: u32 = 3;

/// `bg_fallback_info.tensor` of a fallback that concerns every tensor.
pub const BG_PLAN_ALL_TENSORS: u64 = 0xFFFF_FFFF_FFFF_FFFF;
/// `bg_device_usage.budget` of a device without a limit.
pub const BG_BUDGET_UNLIMITED: u64 = 0xFFFF_FFFF_FFFF_FFFF;

/// A device.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct bg_device_id {
    /// `BG_DEVICE_CPU` or `BG_DEVICE_CUDA`.
    pub kind: u32,
    /// The GPU's index (0 for the CPU).
    pub ordinal: u32,
}

/// A device's memory, for `bg_load_options_add_device`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct bg_device_memory {
    /// The device.
    pub device: bg_device_id,
    /// Total bytes.
    pub total: u64,
    /// Free bytes.
    pub free: u64,
    /// The fraction of `free` the plan may use, in [0, 1].
    pub budget_fraction: f64,
}

/// Where a tensor went.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct bg_tensor_placement {
    /// The device.
    pub device: bg_device_id,
    /// `BG_OUTPUT_PACKED`, or the output type (`BG_TYPE_F32`, `BG_TYPE_F16`, `BG_TYPE_BF16`).
    pub output_type: u32,
    /// True when it stays in the file mapping (no copy).
    pub zero_copy: bool,
    /// Bytes it occupies on the device.
    pub bytes: u64,
}

/// What a device holds.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct bg_device_usage {
    /// The device.
    pub device: bg_device_id,
    /// The bytes the plan may allocate there, or `BG_BUDGET_UNLIMITED`.
    pub budget: u64,
    /// Bytes allocated there.
    pub used: u64,
    /// Bytes served zero-copy from the mapping (CPU).
    pub mapped: u64,
    /// Number of tensors there.
    pub tensors: usize,
    /// True when an allocation there failed during the load.
    pub exhausted: bool,
}

/// A fallback the plan (or the load) took.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct bg_fallback_info {
    /// The tensor's index, or `BG_PLAN_ALL_TENSORS`.
    pub tensor: u64,
    /// The device it was meant for.
    pub from: bg_device_id,
    /// The device it went to.
    pub to: bg_device_id,
    /// `BG_FALLBACK_*`.
    pub reason: u32,
    /// For `BG_FALLBACK_OVER_BUDGET`: the bytes needed (else 0).
    pub needed: u64,
    /// For `BG_FALLBACK_OVER_BUDGET`: the bytes the budget had left (else 0).
    pub available: u64,
    /// A description (UTF-8, NUL-terminated; valid until `bg_plan_free`).
    pub message: *const c_char,
    /// Its length in bytes, without the NUL.
    pub message_len: usize,
}

/// A placement plan: a snapshot taken by `bg_model_plan`, released with `bg_plan_free`.
/// Immutable: its getters may be called from any thread.
pub struct bg_plan {
    _private: [u8; 0],
}

struct FfiPlan {
    plan: Plan,
    messages: Vec<CString>,
}

/// The options behind a `bg_load_options` handle.
#[derive(Debug, Clone)]
pub(crate) struct FfiLoadOptions {
    pub base: LoadOptions,
    /// True once any placement or progress option was set: `bg_load` then runs the loader.
    pub placed: bool,
    pub config: LoadConfig,
    pub read_mode: Option<ReadMode>,
    pub strategy: u32,
    pub tensor_split: Option<Vec<f64>>,
    pub n_gpu_layers: Option<u32>,
    pub progress: Option<CProgress>,
}

impl FfiLoadOptions {
    pub fn new(base: LoadOptions) -> FfiLoadOptions {
        FfiLoadOptions {
            base,
            placed: false,
            config: LoadConfig::default(),
            read_mode: None,
            strategy: BG_STRATEGY_CPU,
            tensor_split: None,
            n_gpu_layers: None,
            progress: None,
        }
    }

    fn loader(&self, read_mode: ReadMode) -> ProgressiveGgufLoader {
        let mut c = self.config.clone();
        c.options = self.base;
        c.read_mode = read_mode;
        c.strategy = match self.strategy {
            BG_STRATEGY_GPU => {
                StrategyChoice::Gpu(GpuOptimized { tensor_split: self.tensor_split.clone(), gpu_only: false })
            }
            BG_STRATEGY_HYBRID => StrategyChoice::Hybrid(Hybrid {
                n_gpu_layers: self.n_gpu_layers,
                tensor_split: self.tensor_split.clone(),
            }),
            _ => StrategyChoice::Cpu,
        };
        let l = ProgressiveGgufLoader::new(c);
        if self.strategy == BG_STRATEGY_CPU {
            return l;
        }
        match gpu_backend() {
            Some(b) => l.with_backend(b),
            None => l,
        }
    }

    fn read_mode(&self) -> ReadMode {
        self.read_mode.unwrap_or(if self.base.use_mmap { ReadMode::Mmap } else { ReadMode::Pread })
    }

    fn run(
        &self,
        l: &ProgressiveGgufLoader,
        f: impl FnOnce(&ProgressiveGgufLoader, &mut dyn FnMut(&crate::load::Progress) -> bool) -> Result<LoadedModel>,
    ) -> Result<LoadedModel> {
        match self.progress {
            Some(p) => f(l, &mut |r| p.call(r)),
            None => f(l, &mut |_| true),
        }
    }
}

/// The GPU backend of this build, if any (`device::default_backend`: CUDA with feature `gpu`
/// and a device; otherwise none, and GPU strategies fall back to the CPU).
fn gpu_backend() -> Option<Arc<dyn DeviceBackend>> {
    crate::device::default_backend()
}

/// Models larger than this (all shards together) that are read rather than mapped
/// (`use_mmap` false) load progressively even without placement options (issue 6 asks that
/// models above 4 GB load progressively by default): tensor by tensor with `pread` into their own
/// buffers, never the whole file in one read. (Mapped models need no loading: the CPU uses the
/// mapping zero-copy, and the kernel pages it in as it is used.)
pub(crate) const PROGRESSIVE_MIN_BYTES: u64 = 4 << 30;

/// `bg_load` with placement options — or, without them, a read (not mapped) model larger than
/// [`PROGRESSIVE_MIN_BYTES`]: run the progressive loader. `None` when neither applies (the
/// caller then loads as before).
pub(crate) fn load_if_placed(path: &str, options: *const bg_load_options) -> Result<Option<*mut bg_model>> {
    load_if_placed_above(path, options, PROGRESSIVE_MIN_BYTES)
}

fn load_if_placed_above(path: &str, options: *const bg_load_options, min_bytes: u64) -> Result<Option<*mut bg_model>> {
    // SAFETY: the caller (bg_load) checked its contract: NULL or a live handle.
    let Some(o) = (unsafe { ffi_options_ref(options) }) else { return Ok(None) };
    if !o.placed && (o.base.use_mmap || model_bytes(path) <= min_bytes) {
        return Ok(None);
    }
    let l = o.loader(o.read_mode());
    let m = o.run(&l, |l, p| l.load(path, p))?;
    Ok(Some(loaded_into_raw(m)))
}

/// The size of the model at `path`: the file, or for the first shard of a split model
/// (`name-00001-of-0000N.gguf`) all its shards that exist. 0 when it cannot be read (the load
/// itself then reports why).
fn model_bytes(path: &str) -> u64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let p = std::path::Path::new(path);
    match crate::gguf::split::parse_shard_name(p) {
        Some((prefix, 1, count)) => {
            (1..=count).map(|no| size(&crate::gguf::split::shard_path(&prefix, no, count))).sum()
        }
        _ => size(p),
    }
}

/// `bg_load_from_memory` with placement options (the bytes are always copied: the read mode
/// and zero-copy do not apply).
pub(crate) fn load_bytes_if_placed(bytes: &[u8], options: *const bg_load_options) -> Result<Option<*mut bg_model>> {
    // SAFETY: the caller (bg_load_from_memory) checked its contract: NULL or a live handle.
    let Some(o) = (unsafe { ffi_options_ref(options) }) else { return Ok(None) };
    if !o.placed {
        return Ok(None);
    }
    let model = Model::from_bytes(bytes, &o.base)?;
    let l = o.loader(ReadMode::Mmap);
    let m = o.run(&l, |l, p| l.load_model(model, p))?;
    Ok(Some(loaded_into_raw(m)))
}

fn invalid(msg: String) -> Error {
    Error::new(Status::InvalidParameter, msg)
}

/// Apply a change to the options of a live handle and mark them as placement options.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
unsafe fn with_options(options: *mut bg_load_options, f: impl FnOnce(&mut FfiLoadOptions) -> Result<()>) -> Result<()> {
    // SAFETY: per the contract.
    let o = unsafe { ffi_options_mut(options) }?;
    let mut c = o.clone();
    f(&mut c)?;
    c.placed = true;
    *o = c;
    Ok(())
}

/// Choose the placement strategy: `BG_STRATEGY_CPU` (default), `BG_STRATEGY_GPU` or
/// `BG_STRATEGY_HYBRID`. Without a GPU backend or device the GPU strategies place everything
/// on the CPU and the plan says so (`BG_FALLBACK_NO_DEVICE`).
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER` (unknown strategy).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_strategy(options: *mut bg_load_options, strategy: u32) -> Status {
    run("bg_load_options_set_strategy", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                if strategy > BG_STRATEGY_HYBRID {
                    return Err(invalid(format!(
                        "unknown strategy {strategy}; expected 0 (cpu), 1 (gpu) or 2 (hybrid)"
                    )));
                }
                o.strategy = strategy;
                Ok(())
            })
        }
    })
}

fn materialize_of(output_type: u32) -> Result<Materialize> {
    if output_type == BG_OUTPUT_PACKED {
        return Ok(Materialize::Packed);
    }
    OutType::from_type_id(output_type).map(Materialize::Decoded).ok_or_else(|| {
        invalid(format!("output type {output_type} is not BG_OUTPUT_PACKED, BG_TYPE_F32, BG_TYPE_F16 or BG_TYPE_BF16"))
    })
}

fn output_type_of(m: Materialize) -> u32 {
    match m {
        Materialize::Packed => BG_OUTPUT_PACKED,
        Materialize::Decoded(OutType::F32) => 0,
        Materialize::Decoded(OutType::F16) => 1,
        Materialize::Decoded(OutType::Bf16) => 30,
    }
}

/// Set what tensors of a role become: `BG_OUTPUT_PACKED` (the on-disk bytes, default) or a
/// float type (`BG_TYPE_F32`, `BG_TYPE_F16`, `BG_TYPE_BF16`, decoded at load). `role` is a
/// `BG_ROLE_*` or `BG_ROLE_ALL`. Tensors whose type this build cannot decode at load stay
/// packed.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_output_type(
    options: *mut bg_load_options,
    role: u32,
    output_type: u32,
) -> Status {
    run("bg_load_options_set_output_type", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                let m = materialize_of(output_type)?;
                if role == BG_ROLE_ALL {
                    o.config.outputs = crate::placement::OutputTypes::all(m);
                    return Ok(());
                }
                let r = TensorRole::ALL
                    .get(role as usize)
                    .ok_or_else(|| invalid(format!("unknown role {role}; expected 0..=5 or BG_ROLE_ALL")))?;
                o.config.outputs.set(*r, m);
                Ok(())
            })
        }
    })
}

fn device_id(d: &bg_device_id) -> Result<DeviceId> {
    match d.kind {
        BG_DEVICE_CPU => Ok(DeviceId::Cpu),
        BG_DEVICE_CUDA => Ok(DeviceId::Cuda(d.ordinal)),
        k => Err(invalid(format!("unknown device kind {k}; expected BG_DEVICE_CPU or BG_DEVICE_CUDA"))),
    }
}

fn c_device(d: DeviceId) -> bg_device_id {
    match d {
        DeviceId::Cpu => bg_device_id { kind: BG_DEVICE_CPU, ordinal: 0 },
        DeviceId::Cuda(i) => bg_device_id { kind: BG_DEVICE_CUDA, ordinal: i },
    }
}

/// Give the planner a device and its memory instead of discovering them. The first call
/// replaces discovery by this explicit list (the host is unlimited unless a `BG_DEVICE_CPU`
/// entry is given); `bg_load_options_clear_devices` goes back to discovery.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER` (unknown kind, a
/// fraction outside [0, 1], `free > total`, or a device given twice).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently; `device` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_add_device(
    options: *mut bg_load_options,
    device: *const bg_device_memory,
) -> Status {
    run("bg_load_options_add_device", || {
        if options.is_null() {
            return Err(null("options"));
        }
        // SAFETY: per the contract.
        let d = unsafe { device.as_ref() }.ok_or_else(|| null("device"))?;
        let id = device_id(&d.device)?;
        if !(0.0..=1.0).contains(&d.budget_fraction) {
            return Err(invalid(format!("budget_fraction {} is outside [0, 1]", d.budget_fraction)));
        }
        if d.free > d.total {
            return Err(invalid(format!("free ({}) is larger than total ({})", d.free, d.total)));
        }
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                let list = o.config.devices.get_or_insert_with(Vec::new);
                if list.iter().any(|x| x.id == id) {
                    return Err(invalid(format!("device {} was given twice", crate::placement::dev_name(id))));
                }
                let name = crate::placement::dev_name(id);
                list.push(DeviceMemoryInfo {
                    id,
                    name,
                    total: d.total,
                    free: d.free,
                    budget_fraction: d.budget_fraction,
                });
                Ok(())
            })
        }
    })
}

/// Forget the devices given with `bg_load_options_add_device`: discover them again.
///
/// Returns `BG_STATUS_NULL_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_clear_devices(options: *mut bg_load_options) -> Status {
    run("bg_load_options_clear_devices", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                o.config.devices = None;
                Ok(())
            })
        }
    })
}

/// The fraction of each discovered GPU's free memory the plan may use (default 0.8), in
/// (0, 1].
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_gpu_budget_fraction(
    options: *mut bg_load_options,
    fraction: f64,
) -> Status {
    run("bg_load_options_set_gpu_budget_fraction", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                if !(fraction > 0.0 && fraction <= 1.0) {
                    return Err(invalid(format!("GPU budget fraction {fraction} is outside (0, 1]")));
                }
                o.config.gpu_budget_fraction = fraction;
                Ok(())
            })
        }
    })
}

/// Split the layers across the GPUs in these proportions (like llama.cpp's `--tensor-split`;
/// one entry per GPU, non-negative, not all zero). `split` NULL with `n` 0 goes back to the
/// default (proportional to the budgets).
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER` (a negative or
/// non-finite entry, or all zero); a count that does not match the GPUs fails at load with
/// `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `options` NULL or a live handle, not used concurrently; `split` NULL (only with `n` 0) or
/// readable for `n` doubles.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_tensor_split(
    options: *mut bg_load_options,
    split: *const f64,
    n: usize,
) -> Status {
    run("bg_load_options_set_tensor_split", || {
        if options.is_null() {
            return Err(null("options"));
        }
        let v = if n == 0 {
            None
        } else if split.is_null() {
            return Err(null("split"));
        } else {
            // SAFETY: per the contract.
            Some(unsafe { std::slice::from_raw_parts(split, n) }.to_vec())
        };
        if let Some(v) = &v {
            if v.iter().any(|x| !x.is_finite() || *x < 0.0) || v.iter().sum::<f64>() <= 0.0 {
                return Err(invalid(format!("tensor split {v:?}: entries must be finite, non-negative, not all zero")));
            }
        }
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                o.tensor_split = v;
                Ok(())
            })
        }
    })
}

/// Hybrid strategy: offload only the last `n` layers to the GPUs (llama.cpp's
/// `n_gpu_layers`); a negative `n` means all (default).
///
/// Returns `BG_STATUS_NULL_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_n_gpu_layers(options: *mut bg_load_options, n: i32) -> Status {
    run("bg_load_options_set_n_gpu_layers", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                o.n_gpu_layers = u32::try_from(n).ok();
                Ok(())
            })
        }
    })
}

/// The staging budget: host memory for bytes decoded on their way to a GPU (default 256 MiB;
/// a single larger tensor gets a temporary buffer of its own size). Must be non-zero.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_staging_budget(options: *mut bg_load_options, bytes: usize) -> Status {
    run("bg_load_options_set_staging_budget", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                if bytes == 0 {
                    return Err(invalid("the staging budget must be non-zero".into()));
                }
                o.config.staging_bytes = bytes;
                Ok(())
            })
        }
    })
}

/// How tensor bytes are read: `BG_READ_MODE_MMAP` (default) or `BG_READ_MODE_PREAD`.
///
/// Returns `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_read_mode(options: *mut bg_load_options, mode: u32) -> Status {
    run("bg_load_options_set_read_mode", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                o.read_mode = Some(match mode {
                    BG_READ_MODE_MMAP => ReadMode::Mmap,
                    BG_READ_MODE_PREAD => ReadMode::Pread,
                    _ => return Err(invalid(format!("unknown read mode {mode}; expected 0 (mmap) or 1 (pread)"))),
                });
                Ok(())
            })
        }
    })
}

/// Fault in the pages of zero-copy tensors during the load (default false: only readahead is
/// requested), so that the first use does not stall on page faults.
///
/// Returns `BG_STATUS_NULL_PARAMETER`.
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_populate(options: *mut bg_load_options, populate: bool) -> Status {
    run("bg_load_options_set_populate", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                o.config.populate = populate;
                Ok(())
            })
        }
    })
}

/// Report progress to `callback` (see `bg_progress_fn`), with `user_data` passed through;
/// returning false from it cancels the load (`BG_STATUS_CANCELLED`, everything freed). NULL
/// removes the callback.
///
/// Returns `BG_STATUS_NULL_PARAMETER` (options).
///
/// # Safety
/// `options` must be NULL or a live handle, not used concurrently; `callback` must be safe to
/// call with `user_data` on the thread that calls `bg_load`, for as long as these options are
/// used to load.
#[no_mangle]
pub unsafe extern "C" fn bg_load_options_set_progress(
    options: *mut bg_load_options,
    callback: bg_progress_fn,
    user_data: *mut c_void,
) -> Status {
    run("bg_load_options_set_progress", || {
        // SAFETY: per the contract.
        unsafe {
            with_options(options, |o| {
                o.progress = callback.map(|f| CProgress { f, user_data });
                Ok(())
            })
        }
    })
}

/// Take a snapshot of a model's placement plan (including fallbacks taken during the load).
/// A model loaded without placement options has the plan "everything on the CPU".
///
/// Returns `BG_STATUS_OK` or `BG_STATUS_NULL_PARAMETER`; `*plan_out` (release with
/// `bg_plan_free`) is written only on success.
///
/// # Safety
/// `model` NULL or live; `plan_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_model_plan(model: *const bg_model, plan_out: *mut *mut bg_plan) -> Status {
    run("bg_model_plan", || {
        // SAFETY: per the contract.
        let m = unsafe { loaded_ref(model, "model") }?;
        check_out(plan_out, "plan_out")?;
        let plan = m.plan().clone();
        let messages = plan
            .fallbacks
            .iter()
            .map(|f| {
                let mut s = f.to_string();
                if let Some(t) = f.tensor.and_then(|t| m.model().tensor(t)) {
                    s = format!("{} ('{}')", s, t.info.name);
                }
                CString::new(s.replace('\0', " ")).expect("NULs replaced")
            })
            .collect();
        let raw = Box::into_raw(Box::new(FfiPlan { plan, messages })) as *mut bg_plan;
        // SAFETY: checked non-NULL.
        unsafe { out(plan_out, raw) };
        Ok(())
    })
}

/// Release a plan. NULL is a no-op.
///
/// # Safety
/// `plan` must be NULL or from `bg_model_plan`, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_free(plan: *mut bg_plan) {
    boundary("bg_plan_free", || {
        if !plan.is_null() {
            // SAFETY: per the contract: from Box::into_raw, given back once.
            drop(unsafe { Box::from_raw(plan.cast::<FfiPlan>()) });
        }
    })
}

/// # Safety
/// `p` NULL or a live plan.
unsafe fn plan_ref<'a>(p: *const bg_plan) -> Result<&'a FfiPlan> {
    // SAFETY: per the contract.
    unsafe { p.cast::<FfiPlan>().as_ref() }.ok_or_else(|| null("plan"))
}

/// The plan's strategy (`BG_STRATEGY_*`); `BG_STRATEGY_CPU` for NULL.
///
/// # Safety
/// `plan` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_strategy(plan: *const bg_plan) -> u32 {
    boundary("bg_plan_strategy", || {
        // SAFETY: per the contract.
        match unsafe { plan_ref(plan) }.map(|p| p.plan.strategy) {
            Ok("gpu") => BG_STRATEGY_GPU,
            Ok("hybrid") => BG_STRATEGY_HYBRID,
            _ => BG_STRATEGY_CPU,
        }
    })
}

/// Number of tensors in the plan (as in the model); 0 for NULL.
///
/// # Safety
/// `plan` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_tensor_count(plan: *const bg_plan) -> usize {
    // SAFETY: per the contract.
    boundary("bg_plan_tensor_count", || unsafe { plan_ref(plan) }.map_or(0, |p| p.plan.tensors.len()))
}

fn index_err(what: &str, i: usize, n: usize) -> Error {
    Error::new(Status::IndexOutOfRange, format!("{what} index {i} is out of range (the plan has {n})"))
}

/// Where tensor `index` went.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `plan` NULL or live; `placement_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_tensor(
    plan: *const bg_plan,
    index: usize,
    placement_out: *mut bg_tensor_placement,
) -> Status {
    run("bg_plan_tensor", || {
        // SAFETY: per the contract.
        let p = unsafe { plan_ref(plan) }?;
        check_out(placement_out, "placement_out")?;
        let t = p.plan.tensors.get(index).ok_or_else(|| index_err("tensor", index, p.plan.tensors.len()))?;
        let v = bg_tensor_placement {
            device: c_device(t.device),
            output_type: output_type_of(t.materialize),
            zero_copy: t.zero_copy(),
            bytes: t.bytes,
        };
        // SAFETY: checked non-NULL.
        unsafe { out(placement_out, v) };
        Ok(())
    })
}

/// Number of devices in the plan (the CPU first, then the GPUs); 0 for NULL.
///
/// # Safety
/// `plan` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_device_count(plan: *const bg_plan) -> usize {
    // SAFETY: per the contract.
    boundary("bg_plan_device_count", || unsafe { plan_ref(plan) }.map_or(0, |p| p.plan.devices.len()))
}

/// What device `index` holds (per-device totals).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `plan` NULL or live; `device_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_device(
    plan: *const bg_plan,
    index: usize,
    device_out: *mut bg_device_usage,
) -> Status {
    run("bg_plan_device", || {
        // SAFETY: per the contract.
        let p = unsafe { plan_ref(plan) }?;
        check_out(device_out, "device_out")?;
        let d = p.plan.devices.get(index).ok_or_else(|| index_err("device", index, p.plan.devices.len()))?;
        let v = bg_device_usage {
            device: c_device(d.info.id),
            budget: d.budget.unwrap_or(BG_BUDGET_UNLIMITED),
            used: d.used,
            mapped: d.mapped,
            tensors: d.tensors,
            exhausted: d.exhausted,
        };
        // SAFETY: checked non-NULL.
        unsafe { out(device_out, v) };
        Ok(())
    })
}

/// Number of fallbacks taken; 0 for NULL.
///
/// # Safety
/// `plan` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_fallback_count(plan: *const bg_plan) -> usize {
    // SAFETY: per the contract.
    boundary("bg_plan_fallback_count", || unsafe { plan_ref(plan) }.map_or(0, |p| p.plan.fallbacks.len()))
}

/// Fallback `index`, in the order taken (planning, then the load).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER` or `BG_STATUS_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `plan` NULL or live; `fallback_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_plan_fallback(
    plan: *const bg_plan,
    index: usize,
    fallback_out: *mut bg_fallback_info,
) -> Status {
    run("bg_plan_fallback", || {
        // SAFETY: per the contract.
        let p = unsafe { plan_ref(plan) }?;
        check_out(fallback_out, "fallback_out")?;
        let f = p.plan.fallbacks.get(index).ok_or_else(|| index_err("fallback", index, p.plan.fallbacks.len()))?;
        let (reason, needed, available) = match f.reason {
            FallbackReason::NoDevice => (BG_FALLBACK_NO_DEVICE, 0, 0),
            FallbackReason::OverBudget { needed, available } => (BG_FALLBACK_OVER_BUDGET, needed, available),
            FallbackReason::AllocationFailed(_) => (BG_FALLBACK_ALLOCATION_FAILED, 0, 0),
            FallbackReason::DeviceExhausted => (BG_FALLBACK_DEVICE_EXHAUSTED, 0, 0),
        };
        let msg = &p.messages[index];
        let v = bg_fallback_info {
            tensor: f.tensor.map_or(BG_PLAN_ALL_TENSORS, |t| t as u64),
            from: c_device(f.from),
            to: c_device(f.to),
            reason,
            needed,
            available,
            message: msg.as_ptr(),
            message_len: msg.as_bytes().len(),
        };
        // SAFETY: checked non-NULL.
        unsafe { out(fallback_out, v) };
        Ok(())
    })
}

/// Fail with `WrongDevice` when tensor `index` lives on a GPU (used by `bg_tensor_data`).
pub(crate) fn check_on_host(m: &LoadedModel, index: usize) -> Result<()> {
    match m.host_bytes(index) {
        Err(e) if e.status() == Status::WrongDevice => Err(e),
        _ => Ok(()),
    }
}

/// The device address of tensor `index` when it lives on a GPU: its device, the address (a
/// `CUdeviceptr`) and its size in bytes (valid until the model's last reference is released).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INDEX_OUT_OF_RANGE`, or
/// `BG_STATUS_WRONG_DEVICE` when the tensor is in host memory (use `bg_tensor_data` /
/// `bg_tensor_resident_data`). Outputs are written only on success.
///
/// # Safety
/// `model` NULL or live; the outputs NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_device_ptr(
    model: *const bg_model,
    index: usize,
    device_out: *mut bg_device_id,
    ptr_out: *mut u64,
    len_out: *mut u64,
) -> Status {
    run("bg_tensor_device_ptr", || {
        // SAFETY: per the contract.
        let m = unsafe { loaded_ref(model, "model") }?;
        check_out(device_out, "device_out")?;
        check_out(ptr_out, "ptr_out")?;
        check_out(len_out, "len_out")?;
        tensor_at(m.model(), index)?;
        let t = m.device_tensor(index)?;
        // SAFETY: checked non-NULL.
        unsafe {
            out(device_out, c_device(t.device()));
            out(ptr_out, t.device_ptr());
            out(len_out, t.len());
        }
        Ok(())
    })
}

/// Tensor `index`'s bytes in host memory as loaded: the packed bytes (`*type_out` =
/// `BG_OUTPUT_PACKED`), or the decoded values (`*type_out` = `BG_TYPE_F32`, `BG_TYPE_F16` or
/// `BG_TYPE_BF16`) when the load options asked for them. Valid until the model's last
/// reference is released.
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INDEX_OUT_OF_RANGE`, or
/// `BG_STATUS_WRONG_DEVICE` for a tensor on a GPU (use `bg_tensor_device_ptr`).
///
/// # Safety
/// `model` NULL or live; the outputs NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_tensor_resident_data(
    model: *const bg_model,
    index: usize,
    data_out: *mut *const u8,
    len_out: *mut usize,
    type_out: *mut u32,
) -> Status {
    run("bg_tensor_resident_data", || {
        // SAFETY: per the contract.
        let m = unsafe { loaded_ref(model, "model") }?;
        check_out(data_out, "data_out")?;
        check_out(len_out, "len_out")?;
        check_out(type_out, "type_out")?;
        tensor_at(m.model(), index)?;
        let bytes = m.host_bytes(index)?;
        let ty = match m.resident(index) {
            Some(Resident::Host(_)) => output_type_of(m.plan().tensors[index].materialize),
            _ => BG_OUTPUT_PACKED,
        };
        // SAFETY: checked non-NULL.
        unsafe {
            out(data_out, bytes.as_ptr());
            out(len_out, bytes.len());
            out(type_out, ty);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    //! The C calls on a model whose tensors a load put on a GPU. No GPU here: a fake backend
    //! (host memory pretending to be `cuda:0`) stands in, so the checks run in every build.
    use super::*;
    use crate::device::{DeviceTensor, TensorUpload};
    use crate::ffi::load::bg_free;
    use crate::ffi::status::bg_last_error_message;
    use crate::ffi::tensor::bg_tensor_data;
    use crate::gguf::{GgufWriter, OwnedValue};
    use crate::placement::unlimited_host;
    use crate::types::TypeId;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static LIVE: AtomicUsize = AtomicUsize::new(0);

    #[derive(Debug)]
    struct FakeTensor(Vec<u8>);
    impl Drop for FakeTensor {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
    impl DeviceTensor for FakeTensor {
        fn device(&self) -> DeviceId {
            DeviceId::Cuda(0)
        }
        fn device_ptr(&self) -> u64 {
            self.0.as_ptr() as u64
        }
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
    }

    struct FakeGpu;
    impl DeviceBackend for FakeGpu {
        fn devices(&self) -> Result<Vec<DeviceMemoryInfo>> {
            unreachable!("the test gives the devices")
        }
        fn can_decode(&self, _ty: TypeId, out: Materialize) -> bool {
            out == Materialize::Packed
        }
        fn materialize(
            &self,
            _d: DeviceId,
            t: &TensorUpload<'_>,
            _m: Materialize,
        ) -> Result<Box<dyn crate::device::DeviceTensor>> {
            self.upload(DeviceId::Cuda(0), t.packed)
        }
        fn upload(&self, _d: DeviceId, bytes: &[u8]) -> Result<Box<dyn crate::device::DeviceTensor>> {
            LIVE.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(FakeTensor(bytes.to_vec())))
        }
    }

    fn last_error() -> String {
        let mut buf = vec![0 as c_char; 1024];
        let mut len = 0usize;
        // SAFETY: a writable buffer of its length and a writable length.
        assert_eq!(unsafe { bg_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len) }, Status::Ok);
        // SAFETY: bg_last_error_message NUL-terminates within the buffer.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    /// A read (not mapped) model above the threshold loads progressively without placement
    /// options: it has a plan (CPU, every tensor), and its tensors hold the file's bytes. Below
    /// the threshold, or mapped, `bg_load` loads it as before (no plan).
    #[test]
    fn large_read_models_load_progressively_by_default() {
        use crate::ffi::load::{bg_load_options_free, bg_load_options_new, bg_load_options_set_use_mmap};
        let dir = std::env::temp_dir().join(format!("bg-progressive-default-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.gguf");
        let vals: Vec<u8> = (0..4096).flat_map(|i| (i as f32 * 0.25).to_le_bytes()).collect();
        let mut w = GgufWriter::new();
        w.kv("general.architecture", OwnedValue::str("llama"));
        w.kv("llama.block_count", OwnedValue::U32(1));
        w.tensor("token_embd.weight", 0, &[64, 64], vals.clone());
        w.tensor("blk.0.attn_q.weight", 0, &[64, 64], vals.clone());
        let bytes = w.to_bytes().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let path_s = path.to_str().unwrap();
        assert_eq!(model_bytes(path_s), bytes.len() as u64);
        // SAFETY: live option handles, used by this thread only; freed at the end.
        unsafe {
            let opts = bg_load_options_new();
            assert!(!opts.is_null());
            // Mapped (the default): never the loader, whatever the size.
            assert!(load_if_placed_above(path_s, opts, 0).unwrap().is_none());
            assert_eq!(bg_load_options_set_use_mmap(opts, false), Status::Ok);
            // Read, at or below the threshold: as before.
            assert!(load_if_placed_above(path_s, opts, bytes.len() as u64).unwrap().is_none());
            assert!(load_if_placed(path_s, opts).unwrap().is_none());
            // Read, above it: the progressive loader.
            let m = load_if_placed_above(path_s, opts, bytes.len() as u64 - 1).unwrap().expect("progressive load");
            let mut plan = std::ptr::null_mut();
            assert_eq!(bg_model_plan(m, &mut plan), Status::Ok);
            assert_eq!(bg_plan_tensor_count(plan), 2);
            for i in 0..2 {
                let mut t = std::mem::zeroed::<bg_tensor_placement>();
                assert_eq!(bg_plan_tensor(plan, i, &mut t), Status::Ok);
                assert_eq!((t.device.kind, t.bytes, t.zero_copy), (BG_DEVICE_CPU, vals.len() as u64, false));
                let (mut d, mut len) = (std::ptr::null(), 0usize);
                assert_eq!(bg_tensor_data(m, i, &mut d, &mut len), Status::Ok);
                assert_eq!(std::slice::from_raw_parts(d, len), vals.as_slice());
            }
            bg_plan_free(plan);
            bg_free(m);
            bg_load_options_free(opts);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gpu_resident_tensors_answer_wrong_device_with_a_hint_and_give_their_device_pointer() {
        let f32s = |n: usize| (0..n).flat_map(|i| (i as f32 - 7.5).to_le_bytes()).collect::<Vec<u8>>();
        let mut w = GgufWriter::new();
        w.kv("general.architecture", OwnedValue::str("llama"));
        w.kv("llama.block_count", OwnedValue::U32(1));
        w.tensor("token_embd.weight", 0, &[16, 4], f32s(64));
        w.tensor("blk.0.attn_q.weight", 0, &[16, 16], f32s(256));
        let model = Model::from_bytes(&w.to_bytes().unwrap(), &LoadOptions::default()).unwrap();
        let gpu0 = DeviceMemoryInfo {
            id: DeviceId::Cuda(0),
            name: "fake".into(),
            total: 1 << 30,
            free: 1 << 30,
            budget_fraction: 1.0,
        };
        // Hybrid: the embeddings stay on the CPU, the layer's weight goes to the GPU.
        let cfg = LoadConfig {
            strategy: StrategyChoice::Hybrid(Hybrid::default()),
            devices: Some(vec![unlimited_host(), gpu0]),
            ..LoadConfig::default()
        };
        let loaded =
            ProgressiveGgufLoader::new(cfg).with_backend(Arc::new(FakeGpu)).load_model(model, &mut |_| true).unwrap();
        assert_eq!(loaded.plan().tensors[0].device, DeviceId::Cpu);
        assert_eq!(loaded.plan().tensors[1].device, DeviceId::Cuda(0));
        assert_eq!(LIVE.load(Ordering::SeqCst), 1);
        let m = loaded_into_raw(loaded);
        let sentinel = 0x5a5a as *const u8;
        // SAFETY: `m` is a live handle; every output is a valid local.
        unsafe {
            // bg_tensor_data / bg_tensor_resident_data on the GPU tensor: WRONG_DEVICE, outputs
            // untouched, and the message names the tensor, its device and what to call instead.
            let (mut d, mut n, mut ty) = (sentinel, 77usize, 99u32);
            assert_eq!(bg_tensor_data(m, 1, &mut d, &mut n), Status::WrongDevice);
            assert_eq!((d, n), (sentinel, 77));
            let msg = last_error();
            assert!(
                msg.contains("blk.0.attn_q.weight") && msg.contains("cuda:0") && msg.contains("bg_tensor_device_ptr"),
                "{msg}"
            );
            assert_eq!(bg_tensor_resident_data(m, 1, &mut d, &mut n, &mut ty), Status::WrongDevice);
            assert_eq!((d, n, ty), (sentinel, 77, 99));
            // bg_tensor_device_ptr gives the device, the address and the size.
            let (mut dev, mut ptr, mut len) = (bg_device_id { kind: 9, ordinal: 9 }, 0u64, 0u64);
            assert_eq!(bg_tensor_device_ptr(m, 1, &mut dev, &mut ptr, &mut len), Status::Ok);
            assert_eq!((dev.kind, dev.ordinal, len), (BG_DEVICE_CUDA, 0, 1024));
            // The fake's "device" memory is host memory: it holds the tensor's bytes.
            let held = std::slice::from_raw_parts(ptr as *const u8, len as usize);
            assert_eq!(held, f32s(256).as_slice());
            // The CPU tensor: bg_tensor_data works, bg_tensor_device_ptr says WRONG_DEVICE.
            assert_eq!(bg_tensor_data(m, 0, &mut d, &mut n), Status::Ok);
            assert_eq!(std::slice::from_raw_parts(d, n), f32s(64).as_slice());
            let mut ptr2 = 5u64;
            assert_eq!(bg_tensor_device_ptr(m, 0, &mut dev, &mut ptr2, &mut len), Status::WrongDevice);
            assert_eq!(ptr2, 5);
            assert!(last_error().contains("token_embd.weight") && last_error().contains("bg_tensor_data"));
            bg_free(m);
        }
        // Freeing the model frees its device tensors.
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
    }
}
