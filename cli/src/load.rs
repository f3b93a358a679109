//! `bitgguf load FILE [--strategy cpu|gpu|hybrid] [--vram-fraction F] [--to f16|bf16|f32|packed]
//! [--no-mmap] [--populate] [--staging-mib N] [--tensor-split A,B,..] [--n-gpu-layers N]
//! [--quiet] [--json]`: run the progressive loader on a file with a progress bar (on stderr,
//! only when it is a terminal and without `--quiet`), then print the plan's per-device summary,
//! the fallbacks taken, the timing, and the process's peak resident memory (VmHWM) against what
//! stays resident after the load.
//!
//! GPUs come from the library's GPU backend (feature `gpu`); without one the GPU strategies put
//! everything on the CPU and the summary says so.

use std::io::Write;
use std::path::PathBuf;

use bitgguf::device::{DeviceId, Materialize};
use bitgguf::load::{LoadConfig, LoadedModel, Phase, ProgressiveGgufLoader, ReadMode, StrategyChoice};
use bitgguf::placement::{dev_name, GpuOptimized, Hybrid, OutputTypes};
use bitgguf::quant::output::OutType;
use clap::{Args, ValueEnum};
use serde_json::json;

use crate::{out_err, CliError};

/// `--strategy` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    /// Everything on the CPU, zero-copy from the mapping where possible.
    Cpu,
    /// Split the layers across the GPUs (by --tensor-split, else by budget), never past a budget; the rest on the CPU.
    Gpu,
    /// Embeddings, norms and output head on the CPU, layer weights on the GPUs.
    Hybrid,
}

/// `--to` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LoadTo {
    /// The on-disk bytes as they are.
    Packed,
    /// Decoded to IEEE binary32.
    F32,
    /// Decoded to IEEE binary16.
    F16,
    /// Decoded to bfloat16.
    Bf16,
}

impl LoadTo {
    /// The name as `--to` spells it.
    fn name(self) -> &'static str {
        match self {
            LoadTo::Packed => "packed",
            LoadTo::F32 => "f32",
            LoadTo::F16 => "f16",
            LoadTo::Bf16 => "bf16",
        }
    }
}

/// Arguments of `bitgguf load`.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The GGUF file (the first shard of a split model loads all shards).
    pub file: PathBuf,
    /// Placement strategy.
    #[arg(long, value_enum, default_value_t = Strategy::Cpu)]
    pub strategy: Strategy,
    /// Fraction of each GPU's free memory the plan may use.
    #[arg(long, default_value_t = 0.8)]
    pub vram_fraction: f64,
    /// What tensors become.
    #[arg(long, value_enum, default_value_t = LoadTo::Packed)]
    pub to: LoadTo,
    /// Read with pread into the process's memory instead of mapping the file.
    #[arg(long)]
    pub no_mmap: bool,
    /// Fault in the pages of zero-copy tensors during the load.
    #[arg(long)]
    pub populate: bool,
    /// Staging budget in MiB.
    #[arg(long, default_value_t = 256)]
    pub staging_mib: usize,
    /// Relative share of the layers for each GPU, comma-separated (e.g. 3,1: 3/4 of the layers on the first).
    #[arg(long, value_delimiter = ',')]
    pub tensor_split: Option<Vec<f64>>,
    /// Hybrid: offload only the last N layers.
    #[arg(long)]
    pub n_gpu_layers: Option<u32>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

pub fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

fn config(a: &LoadArgs) -> Result<LoadConfig, CliError> {
    if !(a.vram_fraction > 0.0 && a.vram_fraction <= 1.0) {
        return Err(CliError::Lib(bitgguf::Error::new(
            bitgguf::Status::InvalidParameter,
            format!("--vram-fraction {} is outside (0, 1]", a.vram_fraction),
        )));
    }
    let strategy = match a.strategy {
        Strategy::Cpu => StrategyChoice::Cpu,
        Strategy::Gpu => StrategyChoice::Gpu(GpuOptimized { tensor_split: a.tensor_split.clone(), gpu_only: false }),
        Strategy::Hybrid => {
            StrategyChoice::Hybrid(Hybrid { n_gpu_layers: a.n_gpu_layers, tensor_split: a.tensor_split.clone() })
        }
    };
    let m = match a.to {
        LoadTo::Packed => Materialize::Packed,
        LoadTo::F32 => Materialize::Decoded(OutType::F32),
        LoadTo::F16 => Materialize::Decoded(OutType::F16),
        LoadTo::Bf16 => Materialize::Decoded(OutType::Bf16),
    };
    Ok(LoadConfig {
        strategy,
        outputs: OutputTypes::all(m),
        gpu_budget_fraction: a.vram_fraction,
        staging_bytes: a.staging_mib.max(1) << 20,
        read_mode: if a.no_mmap { ReadMode::Pread } else { ReadMode::Mmap },
        populate: a.populate,
        ..LoadConfig::default()
    })
}

/// Bytes that stay resident after the load: every tensor as materialized, plus (read mode) the
/// model's own copy of the packed bytes of decoded tensors.
fn resident_bytes(m: &LoadedModel, read_mode: ReadMode) -> u64 {
    m.plan()
        .tensors
        .iter()
        .zip(m.model().tensors())
        .map(|(p, t)| match (p.device, p.materialize) {
            (DeviceId::Cpu, Materialize::Packed) => t.info.n_bytes,
            (DeviceId::Cpu, Materialize::Decoded(_)) if read_mode == ReadMode::Pread => p.bytes + t.info.n_bytes,
            (DeviceId::Cpu, _) => p.bytes,
            (_, _) if read_mode == ReadMode::Pread => t.info.n_bytes,
            _ => 0,
        })
        .sum()
}

/// The progressive loader for `cfg`, with this build's GPU backend for the GPU strategies when
/// there is one (feature `gpu` and a device): shared by `bitgguf load` and `bitgguf demo`.
pub fn loader(cfg: LoadConfig) -> ProgressiveGgufLoader {
    let backend = if cfg.strategy != StrategyChoice::Cpu { bitgguf::device::default_backend() } else { None };
    let l = ProgressiveGgufLoader::new(cfg);
    match backend {
        Some(b) => l.with_backend(b),
        None => l,
    }
}

/// The plan's per-device table and the fallbacks taken (text mode of `bitgguf load`, and the demo).
pub fn write_devices(out: &mut impl Write, m: &LoadedModel) -> std::io::Result<()> {
    let plan = m.plan();
    writeln!(out, "{:<8} {:>14} {:>14} {:>14} {:>8}", "device", "budget", "allocated", "zero-copy", "tensors")?;
    for d in &plan.devices {
        writeln!(
            out,
            "{:<8} {:>14} {:>14} {:>14} {:>8}{}",
            dev_name(d.info.id),
            d.budget.map_or("unlimited".to_string(), mb),
            mb(d.used),
            mb(d.mapped),
            d.tensors,
            if d.exhausted { "  (exhausted during the load)" } else { "" }
        )?;
    }
    if plan.fallbacks.is_empty() {
        return writeln!(out, "fallbacks: none");
    }
    writeln!(out, "fallbacks: {}", plan.fallbacks.len())?;
    for f in plan.fallbacks.iter().take(8) {
        let name = f.tensor.and_then(|t| m.model().tensor(t)).map_or("all tensors", |t| t.info.name);
        writeln!(out, "  {name}: {} -> {}: {}", dev_name(f.from), dev_name(f.to), f.reason)?;
    }
    if plan.fallbacks.len() > 8 {
        writeln!(out, "  ... and {} more", plan.fallbacks.len() - 8)?;
    }
    Ok(())
}

/// Run `bitgguf load`.
pub fn run(a: &LoadArgs) -> Result<(), CliError> {
    let cfg = config(a)?;
    let read_mode = cfg.read_mode;
    let rss_before = status_kb("VmRSS:").unwrap_or(0) * 1024;
    let bar = crate::progress::bytes_bar(a.quiet || a.json);
    let loader = loader(cfg);
    let m = loader.load(&a.file, &mut |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(match p.phase {
            Phase::Critical => "critical",
            Phase::Layers => "layers",
            Phase::Rest => "rest",
        });
        true
    });
    bar.finish_and_clear();
    let m = m.map_err(|e| CliError::Lib(e.context(a.file.display())))?;
    let hwm = status_kb("VmHWM:").unwrap_or(0) * 1024;
    let resident = resident_bytes(&m, read_mode);
    let packed: u64 = m.model().tensors().map(|t| t.info.n_bytes).sum();
    let plan = m.plan();
    let s = m.stats();
    let ratio = if resident > 0 { hwm.saturating_sub(rss_before) as f64 / resident as f64 } else { 0.0 };
    let mut out = std::io::stdout().lock();
    if a.json {
        let devices: Vec<_> = plan
            .devices
            .iter()
            .map(|d| {
                json!({
                    "device": dev_name(d.info.id), "name": d.info.name, "budget": d.budget, "used": d.used,
                    "mapped": d.mapped, "tensors": d.tensors, "exhausted": d.exhausted,
                })
            })
            .collect();
        let fallbacks: Vec<_> = plan
            .fallbacks
            .iter()
            .map(|f| {
                json!({
                    "tensor": f.tensor.and_then(|t| m.model().tensor(t)).map(|t| t.info.name),
                    "from": dev_name(f.from), "to": dev_name(f.to), "reason": f.reason.to_string(),
                })
            })
            .collect();
        let v = json!({
            "file": a.file.display().to_string(),
            "strategy": plan.strategy,
            "read_mode": if read_mode == ReadMode::Pread { "pread" } else { "mmap" },
            "to": a.to.name(),
            "tensors": m.model().tensor_count(),
            "architecture": m.config().architecture,
            "layers": m.config().n_layers,
            "elapsed_s": s.elapsed.as_secs_f64(),
            "phase_s": s.phase_elapsed.iter().map(|d| d.as_secs_f64()).collect::<Vec<_>>(),
            "packed_bytes": packed,
            "resident_bytes": resident,
            "host_allocated_bytes": s.host_allocated,
            "released_bytes": s.released,
            "rss_before_bytes": rss_before,
            "vm_hwm_bytes": hwm,
            "peak_over_resident": ratio,
            "devices": devices,
            "fallbacks": fallbacks,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json")).map_err(out_err)?;
        return Ok(());
    }
    let w = |out: &mut std::io::StdoutLock<'_>, s: String| writeln!(out, "{s}").map_err(out_err);
    w(
        &mut out,
        format!(
            "{}: {} tensors ({}), {} layers, strategy {}, {} mode, to {}",
            a.file.display(),
            m.model().tensor_count(),
            mb(packed),
            m.config().n_layers,
            plan.strategy,
            if read_mode == ReadMode::Pread { "pread" } else { "mmap" },
            a.to.name()
        ),
    )?;
    write_devices(&mut out, &m).map_err(out_err)?;
    let ph = s.phase_elapsed;
    w(
        &mut out,
        format!(
            "time: {:.3} s (critical {:.3} s, layers {:.3} s, rest {:.3} s)",
            s.elapsed.as_secs_f64(),
            ph[0].as_secs_f64(),
            ph[1].as_secs_f64(),
            ph[2].as_secs_f64()
        ),
    )?;
    w(
        &mut out,
        format!(
            "memory: peak {} above the {} before the load, for {} resident after it ({:.1} %)",
            mb(hwm.saturating_sub(rss_before)),
            mb(rss_before),
            mb(resident),
            ratio * 100.0
        ),
    )?;
    Ok(())
}
