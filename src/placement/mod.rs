//! Placement: decide which device holds each tensor. Pure: no system calls, no allocation on
//! devices. Inputs are a [`ModelSummary`] (per tensor: role, layer, resident bytes) and the
//! devices' memory ([`DeviceMemoryInfo`], from `device::` discovery or made up by tests);
//! the output is a [`Plan`].
//!
//! Strategies ([`DevicePlacementStrategy`]):
//! - [`GpuOptimized`]: fill the GPUs layer by layer, in layer order, each up to its share
//!   (an explicit `tensor_split`, or proportional to the budgets) and never past its budget;
//!   then the embeddings and the output head where room is left; the rest on the CPU.
//! - [`Hybrid`]: embeddings, norms and the output head on the CPU; the weights of the last
//!   `n_gpu_layers` layers (all by default) on the GPUs, layer by layer as above.
//! - [`CpuOptimized`]: everything on the CPU, zero-copy from the mapping where possible.
//!
//! The fallback chain, when a tensor does not fit where the strategy wants it (at planning, or
//! when an allocation fails during the load): the GPUs after that one in the order given,
//! wrapping around to the ones before it, then the CPU; each only when it has room. A tensor
//! larger than every budget it may use fails with `Status::TensorTooLarge`; a plan that runs
//! out of room fails with `Status::BudgetExceeded`.

pub mod plan;
pub mod summary;

use std::collections::HashMap;

use crate::device::{DeviceId, DeviceMemoryInfo};
use crate::error::{Error, Result, Status};
use crate::model::roles::TensorRole;
pub use plan::{budget_of, dev_name, DeviceUsage, Fallback, FallbackReason, Plan, TensorPlacement};
pub use summary::{ModelSummary, OutputTypes, TensorSummary};

/// The default fraction of a GPU's free memory a plan may use.
pub const DEFAULT_GPU_BUDGET_FRACTION: f64 = 0.8;

/// Working state while a plan is made: what each device holds so far.
#[derive(Debug)]
pub struct PlanState<'a> {
    /// The model being placed.
    pub model: &'a ModelSummary,
    /// The CPU first, then the GPUs in the order given.
    pub devices: Vec<DeviceUsage>,
    /// Layer → the GPU (index into the GPUs) chosen for it.
    layer_gpu: HashMap<u32, usize>,
    /// Per GPU, the bytes the layer fill may put there (computed on first use).
    quotas: Option<Vec<u64>>,
    /// The GPU the layer fill is at.
    cursor: usize,
    /// Layers no GPU had room for (kept whole on the CPU), with the bytes they needed and the
    /// room the last GPU tried had left.
    overflow: HashMap<u32, (DeviceId, u64, u64)>,
    /// Fallbacks a strategy took itself (the planner adds them to the plan).
    pub pending: Vec<Fallback>,
}

impl<'a> PlanState<'a> {
    fn new(model: &'a ModelSummary, devices: Vec<DeviceUsage>) -> PlanState<'a> {
        PlanState {
            model,
            devices,
            layer_gpu: HashMap::new(),
            quotas: None,
            cursor: 0,
            overflow: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// The GPUs' usage entries, in order.
    pub fn gpus(&self) -> &[DeviceUsage] {
        &self.devices[1..]
    }

    /// True when `t` fits on `dev` now.
    pub fn fits(&self, dev: DeviceId, t: &TensorSummary) -> bool {
        if dev == DeviceId::Cpu && t.zero_copy {
            return true;
        }
        self.devices.iter().find(|d| d.info.id == dev).is_some_and(|d| d.available() >= t.bytes)
    }

    /// The layer fill: the device for tensor `index` of layer `layer`, given the bytes of
    /// that layer the strategy wants on GPUs (`wanted` says which tensors) and the split.
    /// Layers are visited in order; a GPU takes whole layers while its share allows (the last
    /// GPU: while its budget allows); a layer no GPU has room for stays whole on the CPU (a
    /// fallback recorded for each of its tensors).
    fn layer_device(
        &mut self,
        index: usize,
        layer: u32,
        split: Option<&[f64]>,
        wanted: &dyn Fn(&TensorSummary) -> bool,
    ) -> DeviceId {
        let n = self.gpus().len();
        if n == 0 {
            return DeviceId::Cpu;
        }
        if let Some(&g) = self.layer_gpu.get(&layer) {
            return self.gpus()[g].info.id;
        }
        if let Some(&(from, needed, available)) = self.overflow.get(&layer) {
            self.pending.push(Fallback {
                tensor: Some(index),
                from,
                to: DeviceId::Cpu,
                reason: FallbackReason::OverBudget { needed, available },
            });
            return DeviceId::Cpu;
        }
        if self.quotas.is_none() {
            let total: u64 = self.model.tensors.iter().filter(|t| wanted(t)).map(|t| t.bytes).sum();
            let budgets: Vec<u64> = self.gpus().iter().map(|d| d.available()).collect();
            let weights: Vec<f64> = match split {
                Some(s) => s.to_vec(),
                None => budgets.iter().map(|&b| b as f64).collect(),
            };
            let sum: f64 = weights.iter().sum();
            let quotas = budgets
                .iter()
                .zip(&weights)
                .map(|(&b, &w)| {
                    let share = if sum > 0.0 { (w / sum * total as f64).ceil() as u64 } else { 0 };
                    share.min(b)
                })
                .collect();
            self.quotas = Some(quotas);
        }
        let bytes: u64 =
            self.model.tensors.iter().filter(|t| t.layer == Some(layer) && wanted(t)).map(|t| t.bytes).sum();
        let quotas = self.quotas.as_ref().expect("set above");
        let mut g = self.cursor;
        let mut room = 0;
        while g < n {
            let d = &self.gpus()[g];
            room = if g + 1 == n { d.available() } else { quotas[g].saturating_sub(d.used).min(d.available()) };
            if bytes <= room {
                break;
            }
            g += 1;
        }
        if g == n {
            let from = self.gpus()[n - 1].info.id;
            self.cursor = n - 1;
            self.overflow.insert(layer, (from, bytes, room));
            return self.layer_device(index, layer, split, wanted);
        }
        self.cursor = g;
        self.layer_gpu.insert(layer, g);
        self.gpus()[g].info.id
    }
}

/// The next device of the fallback chain after `failed` with room for `p`: the GPUs after
/// `failed` in order, wrapping around, then the CPU (when `allow_cpu`).
pub(crate) fn next_in_chain(
    devices: &[DeviceUsage],
    failed: DeviceId,
    p: &TensorPlacement,
    allow_cpu: bool,
) -> Option<DeviceId> {
    let gpus: Vec<&DeviceUsage> = devices.iter().filter(|d| d.info.id != DeviceId::Cpu).collect();
    let start = gpus.iter().position(|d| d.info.id == failed).map_or(0, |i| i + 1);
    let n = gpus.len();
    for k in 0..n {
        let d = gpus[(start + k) % n];
        if d.info.id != failed && d.available() >= p.bytes {
            return Some(d.info.id);
        }
    }
    if allow_cpu && failed != DeviceId::Cpu {
        let cpu = devices.iter().find(|d| d.info.id == DeviceId::Cpu)?;
        if p.mappable || cpu.available() >= p.bytes {
            return Some(DeviceId::Cpu);
        }
    }
    None
}

/// A placement strategy (see the module docs).
pub trait DevicePlacementStrategy {
    /// Short name: "gpu", "cpu", "hybrid".
    fn name(&self) -> &'static str;

    /// True when the strategy wants GPUs at all (a plan without GPUs then records a
    /// [`FallbackReason::NoDevice`] fallback).
    fn uses_gpus(&self) -> bool;

    /// Check, before placing anything, that the model can be placed at all: the options are
    /// valid for these devices (`InvalidParameter`) and no tensor is larger than every budget
    /// it may use (`TensorTooLarge`).
    fn validate_memory_requirements(&self, model: &ModelSummary, devices: &[DeviceUsage]) -> Result<()>;

    /// The device the strategy wants for tensor `index` (the planner then checks the budget
    /// and follows [`DevicePlacementStrategy::handle_placement_failure`] when it does not fit).
    fn place_tensor(&self, index: usize, state: &mut PlanState<'_>) -> DeviceId;

    /// Where tensor `index` goes when `failed` cannot take it; `None`: nowhere.
    fn handle_placement_failure(&self, index: usize, failed: DeviceId, state: &PlanState<'_>) -> Option<DeviceId> {
        let t = &state.model.tensors[index];
        let p = TensorPlacement { device: failed, materialize: t.materialize, bytes: t.bytes, mappable: t.zero_copy };
        next_in_chain(&state.devices, failed, &p, true)
    }
}

fn check_split(split: Option<&[f64]>, n_gpus: usize) -> Result<()> {
    let Some(s) = split else { return Ok(()) };
    if n_gpus == 0 {
        return Ok(());
    }
    if s.len() != n_gpus {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("tensor_split has {} entries but there are {n_gpus} GPUs", s.len()),
        ));
    }
    if s.iter().any(|v| !v.is_finite() || *v < 0.0) || s.iter().sum::<f64>() <= 0.0 {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("tensor_split {s:?}: entries must be finite, non-negative, and not all zero"),
        ));
    }
    Ok(())
}

/// Fail with `TensorTooLarge` when a tensor that `may_use` restricts to some devices fits none
/// of their budgets.
fn check_sizes(
    model: &ModelSummary,
    devices: &[DeviceUsage],
    may_use: &dyn Fn(&TensorSummary, DeviceId) -> bool,
) -> Result<()> {
    for t in &model.tensors {
        let mut best: Option<u64> = None;
        for d in devices.iter().filter(|d| may_use(t, d.info.id)) {
            if d.info.id == DeviceId::Cpu && t.zero_copy {
                best = Some(u64::MAX);
                break;
            }
            best = best.max(Some(d.available()));
        }
        let best = best.unwrap_or(0);
        if t.bytes > best {
            let budgets: Vec<String> = devices
                .iter()
                .filter(|d| may_use(t, d.info.id))
                .map(|d| format!("{} {}", dev_name(d.info.id), d.budget.map_or("unlimited".into(), |b| b.to_string())))
                .collect();
            return Err(Error::new(
                Status::TensorTooLarge,
                format!(
                    "tensor '{}' needs {} bytes, more than any device budget it may use ({}); raise the budget \
                     fraction, load it packed, or allow the CPU",
                    t.name,
                    t.bytes,
                    if budgets.is_empty() { "no device".to_string() } else { budgets.join(", ") }
                ),
            ));
        }
    }
    Ok(())
}

/// GPU-optimized: the GPUs take as much as their budgets allow, layer by layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuOptimized {
    /// Relative share of each GPU (like llama.cpp's `--tensor-split`); `None`: proportional to
    /// the budgets.
    pub tensor_split: Option<Vec<f64>>,
    /// Refuse the CPU: a tensor no GPU can take fails the plan instead of falling back.
    pub gpu_only: bool,
}

impl DevicePlacementStrategy for GpuOptimized {
    fn name(&self) -> &'static str {
        "gpu"
    }
    fn uses_gpus(&self) -> bool {
        true
    }
    fn validate_memory_requirements(&self, model: &ModelSummary, devices: &[DeviceUsage]) -> Result<()> {
        let n = devices.iter().filter(|d| d.info.id != DeviceId::Cpu).count();
        check_split(self.tensor_split.as_deref(), n)?;
        let gpu_only = self.gpu_only && n > 0;
        check_sizes(model, devices, &|_, d| !gpu_only || d != DeviceId::Cpu)
    }
    fn place_tensor(&self, index: usize, state: &mut PlanState<'_>) -> DeviceId {
        let t = &state.model.tensors[index];
        if state.gpus().is_empty() {
            return DeviceId::Cpu;
        }
        match t.layer {
            Some(l) => state.layer_device(index, l, self.tensor_split.as_deref(), &|_| true),
            None => {
                // Output head and final norm next to the last layer; embeddings and the rest on
                // the first GPU with room (the chain handles the rest).
                let g = if matches!(t.role, TensorRole::Output | TensorRole::Norm) { state.cursor } else { 0 };
                state.gpus()[g].info.id
            }
        }
    }
    fn handle_placement_failure(&self, index: usize, failed: DeviceId, state: &PlanState<'_>) -> Option<DeviceId> {
        let t = &state.model.tensors[index];
        let p = TensorPlacement { device: failed, materialize: t.materialize, bytes: t.bytes, mappable: t.zero_copy };
        next_in_chain(&state.devices, failed, &p, !self.gpu_only || state.gpus().is_empty())
    }
}

/// Hybrid: embeddings, norms and the output head on the CPU, layer weights on the GPUs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hybrid {
    /// Offload only the last N layers (llama.cpp's `n_gpu_layers`); `None`: all layers.
    pub n_gpu_layers: Option<u32>,
    /// Relative share of each GPU; `None`: proportional to the budgets.
    pub tensor_split: Option<Vec<f64>>,
}

impl Hybrid {
    fn wants_gpu(&self, t: &TensorSummary, n_layers: u32) -> bool {
        let Some(l) = t.layer else { return false };
        if matches!(t.role, TensorRole::Norm | TensorRole::Embedding | TensorRole::Output) {
            return false;
        }
        let first = self.n_gpu_layers.map_or(0, |n| n_layers.saturating_sub(n));
        l >= first
    }
}

impl DevicePlacementStrategy for Hybrid {
    fn name(&self) -> &'static str {
        "hybrid"
    }
    fn uses_gpus(&self) -> bool {
        self.n_gpu_layers != Some(0)
    }
    fn validate_memory_requirements(&self, model: &ModelSummary, devices: &[DeviceUsage]) -> Result<()> {
        let n = devices.iter().filter(|d| d.info.id != DeviceId::Cpu).count();
        check_split(self.tensor_split.as_deref(), n)?;
        check_sizes(model, devices, &|_, _| true)
    }
    fn place_tensor(&self, index: usize, state: &mut PlanState<'_>) -> DeviceId {
        let t = &state.model.tensors[index];
        let n_layers = state.model.n_layers;
        if !self.wants_gpu(t, n_layers) {
            return DeviceId::Cpu;
        }
        let l = t.layer.expect("wants_gpu checks the layer");
        state.layer_device(index, l, self.tensor_split.as_deref(), &|t| self.wants_gpu(t, n_layers))
    }
}

/// CPU-optimized: everything on the CPU (zero-copy from the mapping for packed tensors).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuOptimized;

impl DevicePlacementStrategy for CpuOptimized {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn uses_gpus(&self) -> bool {
        false
    }
    fn validate_memory_requirements(&self, model: &ModelSummary, devices: &[DeviceUsage]) -> Result<()> {
        check_sizes(model, devices, &|_, d| d == DeviceId::Cpu)
    }
    fn place_tensor(&self, _index: usize, _state: &mut PlanState<'_>) -> DeviceId {
        DeviceId::Cpu
    }
    fn handle_placement_failure(&self, _index: usize, _failed: DeviceId, _state: &PlanState<'_>) -> Option<DeviceId> {
        None
    }
}

/// The host entry used when the caller gives no CPU memory: unlimited.
pub fn unlimited_host() -> DeviceMemoryInfo {
    DeviceMemoryInfo { id: DeviceId::Cpu, name: "host".into(), total: u64::MAX, free: u64::MAX, budget_fraction: 1.0 }
}

/// Make a plan. `devices` lists the GPUs (any order kept) and optionally the CPU; without a CPU
/// entry the host is unlimited. Tensors in layers are placed first, in layer order, then the
/// others in model order.
pub fn make_plan(
    strategy: &dyn DevicePlacementStrategy,
    model: &ModelSummary,
    devices: &[DeviceMemoryInfo],
) -> Result<Plan> {
    let mut usages = Vec::with_capacity(devices.len() + 1);
    match devices.iter().find(|d| d.id == DeviceId::Cpu) {
        Some(c) => usages.push(DeviceUsage::new(c.clone())),
        None => {
            let mut u = DeviceUsage::new(unlimited_host());
            u.budget = None;
            usages.push(u);
        }
    }
    for d in devices.iter().filter(|d| d.id != DeviceId::Cpu) {
        if usages.iter().any(|u| u.info.id == d.id) {
            return Err(Error::new(Status::InvalidParameter, format!("device {} is listed twice", dev_name(d.id))));
        }
        usages.push(DeviceUsage::new(d.clone()));
    }
    strategy.validate_memory_requirements(model, &usages)?;

    let mut fallbacks = Vec::new();
    if strategy.uses_gpus() && usages.len() == 1 {
        fallbacks.push(Fallback {
            tensor: None,
            from: DeviceId::Cuda(0),
            to: DeviceId::Cpu,
            reason: FallbackReason::NoDevice,
        });
    }
    let mut order: Vec<usize> = (0..model.tensors.len()).collect();
    order.sort_by_key(|&i| (model.tensors[i].layer.is_none(), model.tensors[i].layer, i));

    let mut state = PlanState::new(model, usages);
    let mut placed = vec![DeviceId::Cpu; model.tensors.len()];
    for &i in &order {
        let t = &model.tensors[i];
        let mut dev = strategy.place_tensor(i, &mut state);
        fallbacks.append(&mut state.pending);
        let mut tried = 0;
        while !state.fits(dev, t) {
            let avail = state.devices.iter().find(|d| d.info.id == dev).map_or(0, |d| d.available());
            let next = strategy.handle_placement_failure(i, dev, &state);
            tried += 1;
            match next {
                Some(n) if tried <= state.devices.len() => {
                    fallbacks.push(Fallback {
                        tensor: Some(i),
                        from: dev,
                        to: n,
                        reason: FallbackReason::OverBudget { needed: t.bytes, available: avail },
                    });
                    dev = n;
                }
                _ => {
                    let totals: Vec<String> = state
                        .devices
                        .iter()
                        .map(|d| {
                            format!(
                                "{}: {} of {} bytes used",
                                dev_name(d.info.id),
                                d.used,
                                d.budget.map_or("unlimited".into(), |b| b.to_string())
                            )
                        })
                        .collect();
                    return Err(Error::new(
                        Status::BudgetExceeded,
                        format!(
                            "strategy '{}': tensor '{}' ({} bytes) fits on no device left in the fallback chain ({})",
                            strategy.name(),
                            t.name,
                            t.bytes,
                            totals.join("; ")
                        ),
                    ));
                }
            }
        }
        let d = state.devices.iter_mut().find(|d| d.info.id == dev).expect("fits checked the device");
        if dev == DeviceId::Cpu && t.zero_copy {
            d.mapped += t.bytes;
        } else {
            d.used += t.bytes;
        }
        d.tensors += 1;
        placed[i] = dev;
    }
    let tensors = model
        .tensors
        .iter()
        .zip(&placed)
        .map(|(t, &device)| TensorPlacement {
            device,
            materialize: t.materialize,
            bytes: t.bytes,
            mappable: t.zero_copy,
        })
        .collect();
    Ok(Plan { strategy: strategy.name(), tensors, devices: state.devices, fallbacks })
}
