//! The progressive loader: open a model, plan its placement, and materialize every tensor on
//! its device in phases, with bounded host memory, progress reports and cancellation.
//!
//! Phases ([`Phase`]): 1. the critical tensors (token embeddings, output head, final norm);
//! 2. the layers, one batch per layer in layer order; 3. everything else. For each tensor:
//! read (from the mapping, or with `pread` in [`ReadMode::Pread`]), validate, materialize as
//! the plan says (packed, or decoded to f32/f16/bf16), and place it: the CPU keeps packed
//! tensors zero-copy in the mapping or gets an aligned host buffer; a GPU gets
//! [`DeviceBackend::materialize`] (packed bytes, decoded on the device when the backend can)
//! or [`DeviceBackend::upload`] of bytes decoded on the host in a reused staging buffer.
//!
//! Host memory stays bounded: in the copy modes (decoded outputs, GPU placement) the mapping's
//! pages of a tensor are released (`MADV_DONTNEED`) once it is materialized, so the peak is
//! the materialized bytes plus about one tensor. An allocation failure on a GPU moves the
//! tensor along the plan's fallback chain (next GPU, then CPU) and records it in the plan.
//! A progress callback returning `false` cancels: everything allocated so far is freed and the
//! load fails with `Status::Cancelled`.
//!
//! Every load is progressive, whatever the model's size (the issue asks for it above 4 GB; the
//! phases cost nothing on small models, and the memory bound then holds for all of them).

pub mod decode;
pub mod pages;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::device::cpu::{host_device, host_memory, HostBuffer};
use crate::device::{DeviceBackend, DeviceId, DeviceMemoryInfo, DeviceTensor, Materialize, TensorUpload};
use crate::error::{Error, Result, Status};
use crate::model::config::ModelConfig;
use crate::model::roles::classify;
use crate::model::{LoadOptions, Model};
use crate::placement::{
    dev_name, make_plan, CpuOptimized, DevicePlacementStrategy, FallbackReason, GpuOptimized, Hybrid, ModelSummary,
    OutputTypes, Plan, DEFAULT_GPU_BUDGET_FRACTION,
};

/// The default staging budget.
pub const DEFAULT_STAGING_BYTES: usize = 256 << 20;

/// The default fraction of the host's usable memory a plan may allocate.
pub const DEFAULT_HOST_BUDGET_FRACTION: f64 = 0.9;

/// A loading phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Token embeddings, output head, final norm.
    Critical = 1,
    /// Layer batches, in layer order.
    Layers = 2,
    /// Everything else.
    Rest = 3,
}

/// A progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The phase running.
    pub phase: Phase,
    /// Tensors materialized so far.
    pub tensors_done: usize,
    /// Tensors in all.
    pub tensors_total: usize,
    /// Packed (file) bytes of the tensors materialized so far.
    pub bytes_done: u64,
    /// Packed bytes of all tensors.
    pub bytes_total: u64,
}

/// Which strategy places the tensors.
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyChoice {
    /// [`CpuOptimized`].
    Cpu,
    /// [`GpuOptimized`].
    Gpu(GpuOptimized),
    /// [`Hybrid`].
    Hybrid(Hybrid),
}

impl StrategyChoice {
    /// The strategy object.
    pub fn strategy(&self) -> &dyn DevicePlacementStrategy {
        match self {
            StrategyChoice::Cpu => &CpuOptimized,
            StrategyChoice::Gpu(g) => g,
            StrategyChoice::Hybrid(h) => h,
        }
    }
}

/// How tensor bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Map the file (zero-copy for packed CPU tensors).
    Mmap,
    /// Read the header at open, then each tensor with `pread` into the model's own
    /// page-aligned memory: no mapping of the file, so no SIGBUS when the file changes.
    Pread,
}

/// How to load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// Parser options (`use_mmap` is replaced by `read_mode`).
    pub options: LoadOptions,
    /// The placement strategy.
    pub strategy: StrategyChoice,
    /// The output type per role.
    pub outputs: OutputTypes,
    /// The devices; `None`: discover (the host from /proc/meminfo and cgroup v2, the GPUs from
    /// the backend).
    pub devices: Option<Vec<DeviceMemoryInfo>>,
    /// Budget fraction of the free memory of discovered GPUs (default 0.8).
    pub gpu_budget_fraction: f64,
    /// Budget fraction of the host's usable memory when discovered (default 0.9).
    pub host_budget_fraction: f64,
    /// Staging memory for bytes decoded on the host on their way to a GPU (default 256 MiB;
    /// a single larger tensor gets a temporary buffer of its own size).
    pub staging_bytes: usize,
    /// Mapping or `pread`.
    pub read_mode: ReadMode,
    /// Fault in the pages of zero-copy tensors during the load (so the first inference does
    /// not stall on page faults); default off (the kernel's readahead is asked to start).
    pub populate: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            options: LoadOptions::default(),
            strategy: StrategyChoice::Cpu,
            outputs: OutputTypes::default(),
            devices: None,
            gpu_budget_fraction: DEFAULT_GPU_BUDGET_FRACTION,
            host_budget_fraction: DEFAULT_HOST_BUDGET_FRACTION,
            staging_bytes: DEFAULT_STAGING_BYTES,
            read_mode: ReadMode::Mmap,
            populate: false,
        }
    }
}

/// Where a loaded tensor's bytes are.
#[derive(Debug)]
pub enum Resident {
    /// In the model's own bytes: the file mapping (zero-copy) or, in the read mode, the
    /// model's memory.
    InModel,
    /// In a host buffer (decoded, or a copy).
    Host(HostBuffer),
    /// On a device.
    Device(Box<dyn DeviceTensor>),
}

/// Timing and memory figures of a load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadStats {
    /// Wall time of the whole load (open, plan, materialize).
    pub elapsed: Duration,
    /// Wall time of each phase.
    pub phase_elapsed: [Duration; 3],
    /// Bytes allocated in host buffers.
    pub host_allocated: u64,
    /// Largest staging buffer used.
    pub staging_peak: usize,
    /// Bytes of mapped pages released after use (copy modes).
    pub released: u64,
}

/// A loaded model: the model, its plan, and where each tensor's bytes are.
#[derive(Debug)]
pub struct LoadedModel {
    model: Model,
    config: ModelConfig,
    plan: Plan,
    resident: Vec<Resident>,
    stats: LoadStats,
}

impl LoadedModel {
    /// Wrap a model opened without placement: every tensor stays in the model's bytes on the
    /// CPU (the plan of [`CpuOptimized`] with packed outputs).
    pub fn unplaced(model: Model) -> LoadedModel {
        let config = ModelConfig::from_model(&model);
        let summary = ModelSummary::from_model(&model, &OutputTypes::default(), model.is_mapped(), config.n_layers);
        let plan = make_plan(&CpuOptimized, &summary, &[]).expect("an unlimited host takes every tensor");
        let resident = (0..model.tensor_count()).map(|_| Resident::InModel).collect();
        LoadedModel { model, config, plan, resident, stats: LoadStats::default() }
    }

    /// The model (metadata, tensor infos, the packed bytes where they are in host memory).
    pub fn model(&self) -> &Model {
        &self.model
    }
    /// The configuration read from the metadata.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }
    /// The plan, including fallbacks taken during the load.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
    /// Timing and memory figures.
    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }
    /// Where tensor `i` is.
    pub fn resident(&self, i: usize) -> Option<&Resident> {
        self.resident.get(i)
    }

    /// Tensor `i`'s bytes in host memory, as materialized (packed, or decoded as the plan
    /// says). `Status::WrongDevice` for a tensor on a GPU.
    pub fn host_bytes(&self, i: usize) -> Result<&[u8]> {
        let r = self.resident.get(i).ok_or_else(|| {
            Error::new(Status::IndexOutOfRange, format!("tensor index {i} is out of range ({})", self.resident.len()))
        })?;
        match r {
            Resident::InModel => Ok(self.model.tensor_data(i).expect("index checked")),
            Resident::Host(b) => Ok(b.as_slice()),
            Resident::Device(d) => Err(wrong_device(&self.model, i, d.device())),
        }
    }

    /// Tensor `i`'s device, device address and size; `Status::WrongDevice` for a tensor in host
    /// memory (use [`LoadedModel::host_bytes`]).
    pub fn device_tensor(&self, i: usize) -> Result<&dyn DeviceTensor> {
        match self.resident.get(i) {
            Some(Resident::Device(d)) => Ok(d.as_ref()),
            Some(_) => Err(Error::new(
                Status::WrongDevice,
                format!(
                    "tensor '{}' is in host memory, not on a GPU: use bg_tensor_data",
                    self.model.tensor(i).map_or("?", |t| t.info.name)
                ),
            )),
            None => Err(Error::new(
                Status::IndexOutOfRange,
                format!("tensor index {i} is out of range ({})", self.resident.len()),
            )),
        }
    }
}

fn wrong_device(model: &Model, i: usize, d: DeviceId) -> Error {
    Error::new(
        Status::WrongDevice,
        format!(
            "tensor '{}' lives on {}, not in host memory: use bg_tensor_device_ptr for its device address, or load \
             with the CPU strategy",
            model.tensor(i).map_or("?", |t| t.info.name),
            dev_name(d)
        ),
    )
}

/// The progressive loader (see the module docs).
#[derive(Clone, Default)]
pub struct ProgressiveGgufLoader {
    config: LoadConfig,
    backend: Option<Arc<dyn DeviceBackend>>,
}

impl std::fmt::Debug for ProgressiveGgufLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressiveGgufLoader")
            .field("config", &self.config)
            .field("backend", &self.backend.is_some())
            .finish()
    }
}

/// The order tensors load in: (phase, tensor indices) per batch.
pub fn batches(model: &Model) -> Vec<(Phase, Vec<usize>)> {
    let mut critical = Vec::new();
    let mut layers: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    let mut rest = Vec::new();
    for (i, t) in model.tensors().enumerate() {
        let r = classify(t.info.name);
        if r.is_critical() {
            critical.push(i);
        } else if let Some(l) = r.layer {
            layers.entry(l).or_default().push(i);
        } else {
            rest.push(i);
        }
    }
    let mut out = vec![(Phase::Critical, critical)];
    out.extend(layers.into_values().map(|v| (Phase::Layers, v)));
    out.push((Phase::Rest, rest));
    out
}

impl ProgressiveGgufLoader {
    /// A loader with this configuration and no GPU backend.
    pub fn new(config: LoadConfig) -> ProgressiveGgufLoader {
        ProgressiveGgufLoader { config, backend: None }
    }

    /// Use a GPU backend (its devices are discovered when `config.devices` is `None`).
    pub fn with_backend(mut self, backend: Arc<dyn DeviceBackend>) -> ProgressiveGgufLoader {
        self.backend = Some(backend);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LoadConfig {
        &self.config
    }

    /// The devices the plan will use: the configured ones, or the host (discovered) and the
    /// backend's GPUs with the configured budget fraction.
    pub fn devices(&self) -> Result<Vec<DeviceMemoryInfo>> {
        if let Some(d) = &self.config.devices {
            return Ok(d.clone());
        }
        let mut v = vec![host_device(&host_memory()?, self.config.host_budget_fraction)];
        if let Some(b) = &self.backend {
            if self.config.strategy != StrategyChoice::Cpu {
                match b.devices() {
                    Ok(gpus) => v.extend(gpus.into_iter().filter(|g| g.id != DeviceId::Cpu).map(|mut g| {
                        g.budget_fraction = self.config.gpu_budget_fraction;
                        g
                    })),
                    // No driver or no device: the plan records the fallback to the CPU.
                    Err(e) if matches!(e.status(), Status::NoDevice | Status::NotCompiled) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(v)
    }

    /// Open `path` and load it.
    pub fn load(&self, path: impl AsRef<Path>, progress: &mut dyn FnMut(&Progress) -> bool) -> Result<LoadedModel> {
        let t0 = Instant::now();
        let mut opts = self.config.options;
        let model = match self.config.read_mode {
            ReadMode::Mmap => {
                opts.use_mmap = true;
                Model::open(path, &opts)?
            }
            ReadMode::Pread => Model::open_sparse(path, &opts)?,
        };
        self.load_model_since(model, progress, t0)
    }

    /// Load a model opened already (e.g. [`Model::from_bytes`]).
    pub fn load_model(&self, model: Model, progress: &mut dyn FnMut(&Progress) -> bool) -> Result<LoadedModel> {
        self.load_model_since(model, progress, Instant::now())
    }

    /// Plan a model's placement without loading it.
    pub fn plan(&self, model: &Model) -> Result<Plan> {
        let config = ModelConfig::from_model(model);
        let summary = ModelSummary::from_model(model, &self.config.outputs, model.is_mapped(), config.n_layers);
        make_plan(self.config.strategy.strategy(), &summary, &self.devices()?)
    }

    fn load_model_since(
        &self,
        mut model: Model,
        progress: &mut dyn FnMut(&Progress) -> bool,
        t0: Instant,
    ) -> Result<LoadedModel> {
        let config = ModelConfig::from_model(&model);
        let mapped = model.is_mapped();
        let summary = ModelSummary::from_model(&model, &self.config.outputs, mapped, config.n_layers);
        let mut plan = make_plan(self.config.strategy.strategy(), &summary, &self.devices()?)?;

        let n = model.tensor_count();
        let bytes_total: u64 = model.tensors().map(|t| t.info.n_bytes).sum();
        let mut stats = LoadStats::default();
        let mut resident: Vec<Option<Resident>> = (0..n).map(|_| None).collect();
        let mut staging: Option<HostBuffer> = None;
        let mut p = Progress { phase: Phase::Critical, tensors_done: 0, tensors_total: n, bytes_done: 0, bytes_total };
        let cancelled = |p: &Progress| {
            Error::new(
                Status::Cancelled,
                format!(
                    "the load was cancelled by the progress callback in phase {:?} after {} of {} tensors; \
                     everything allocated was freed",
                    p.phase, p.tensors_done, p.tensors_total
                ),
            )
        };
        let mut last_phase = None;
        for (phase, batch) in batches(&model) {
            let tp = Instant::now();
            if last_phase != Some(phase) {
                last_phase = Some(phase);
                p.phase = phase;
                if !progress(&p) {
                    return Err(cancelled(&p));
                }
            }
            for &i in &batch {
                let r = self.load_tensor(&mut model, &mut plan, i, &mut staging, &mut stats)?;
                resident[i] = Some(r);
                p.tensors_done += 1;
                p.bytes_done += model.tensor(i).map_or(0, |t| t.info.n_bytes);
                if !progress(&p) {
                    return Err(cancelled(&p));
                }
            }
            stats.phase_elapsed[phase as usize - 1] += tp.elapsed();
        }
        drop(staging);
        // Device backends may return before their copies and kernels have finished (CUDA's are
        // stream-ordered): the model is complete only once they have.
        if let Some(b) = &self.backend {
            b.synchronize()?;
        }
        let resident = resident.into_iter().map(|r| r.expect("every tensor is in one batch")).collect();
        stats.elapsed = t0.elapsed();
        Ok(LoadedModel { model, config, plan, resident, stats })
    }

    /// Materialize tensor `i` where the plan says, falling back along the chain when a device
    /// allocation fails.
    fn load_tensor(
        &self,
        model: &mut Model,
        plan: &mut Plan,
        i: usize,
        staging: &mut Option<HostBuffer>,
        stats: &mut LoadStats,
    ) -> Result<Resident> {
        let place = plan.tensors[i];
        // Read: the read mode brings the bytes into the model's memory first.
        if self.config.read_mode == ReadMode::Pread {
            model.fill_tensor(i)?;
        }
        let mapped = model.is_mapped();
        let info = model.tensor(i).expect("index in range").info;
        let src = model.tensor_data(i).expect("index in range");
        decode::validate(&info, src)?;
        let release = |src: &[u8], stats: &mut LoadStats| {
            if mapped {
                // SAFETY: the model's bytes are a read-only private file mapping (is_mapped).
                unsafe { pages::release(src) };
                stats.released += src.len() as u64;
            }
        };
        let mut device = place.device;
        if plan.device(device).is_some_and(|d| d.exhausted) {
            device = plan.reassign(i, FallbackReason::DeviceExhausted).ok_or_else(|| {
                Error::new(
                    Status::OutOfMemory,
                    format!(
                        "tensor '{}': {} is exhausted and no device is left in the fallback chain",
                        info.name,
                        dev_name(device)
                    ),
                )
            })?;
        }
        loop {
            let r = match device {
                DeviceId::Cpu => {
                    if place.materialize == Materialize::Packed {
                        if mapped {
                            if self.config.populate {
                                pages::populate(src);
                            } else {
                                pages::will_need(src);
                            }
                        }
                        return Ok(Resident::InModel);
                    }
                    let mut buf = HostBuffer::new(decode::out_bytes(&info, place.materialize)?)
                        .map_err(|e| e.context(format!("tensor '{}'", info.name)))?;
                    decode::materialize_into(&info, src, place.materialize, buf.as_mut_slice())?;
                    stats.host_allocated += buf.len() as u64;
                    release(src, stats);
                    return Ok(Resident::Host(buf));
                }
                DeviceId::Cuda(_) => self.to_gpu(device, &info, src, place.materialize, staging, stats),
            };
            match r {
                Ok(t) => {
                    release(src, stats);
                    return Ok(Resident::Device(t));
                }
                Err(e) if matches!(e.status(), Status::OutOfMemory | Status::NoDevice) => {
                    let reason = FallbackReason::AllocationFailed(e.message().to_string());
                    match plan.reassign(i, reason) {
                        Some(next) => device = next,
                        None => {
                            return Err(
                                e.context(format!("tensor '{}': no device left in the fallback chain", info.name))
                            )
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn to_gpu(
        &self,
        device: DeviceId,
        info: &crate::gguf::TensorInfo<'_>,
        src: &[u8],
        m: Materialize,
        staging: &mut Option<HostBuffer>,
        stats: &mut LoadStats,
    ) -> Result<Box<dyn DeviceTensor>> {
        let Some(b) = &self.backend else {
            return Err(Error::new(
                Status::NoDevice,
                format!("tensor '{}' is planned on {} but no GPU backend is attached", info.name, dev_name(device)),
            ));
        };
        if m == Materialize::Packed || b.can_decode(info.ty.id, m) {
            let up = TensorUpload { name: info.name, ty: info.ty.id, ne: info.ne, packed: src };
            return b.materialize(device, &up, m);
        }
        let need = decode::out_bytes(info, m)?;
        // The staging buffer is reused; a tensor larger than the budget gets one of its own.
        let mut own = None;
        let buf = if need <= self.config.staging_bytes {
            if !matches!(staging, Some(s) if s.len() >= need) {
                *staging = None; // free the old one first
                *staging = Some(HostBuffer::new(need.next_power_of_two().min(self.config.staging_bytes))?);
            }
            staging.as_mut().expect("set above")
        } else {
            own.insert(HostBuffer::new(need)?)
        };
        stats.staging_peak = stats.staging_peak.max(buf.len());
        let dst = &mut buf.as_mut_slice()[..need];
        decode::materialize_into(info, src, m, dst)?;
        b.upload(device, dst)
    }
}

/// A loaded model is shared across threads (the C handle is an `Arc`).
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LoadedModel>();
};
