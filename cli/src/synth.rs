//! `bitgguf synth --preset NAME --type TYPE [--seed N] [--tl-config BM,BK,bm] [--embed-type TYPE]
//! [--i2s-tail zero|replicated] [--quiet] [--json] -o OUT.gguf`: write a deterministic synthetic
//! BitNet-architecture model (see `bitgguf::synth`), streaming it to disk.
//!
//! Seed: `--seed`, else the environment's `BITNET_SEED` (as set with `BITNET_DETERMINISTIC=1`),
//! else 42. The same seed gives byte-identical files whatever the number of threads.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use bitgguf::quant::bitnet::{TailFill, TlConfig};
use bitgguf::synth::{self, Preset, SynthOptions};
use bitgguf::{types, Error, Status};
use clap::{Args, ValueEnum};

use crate::CliError;

/// `bitgguf synth` arguments.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Architecture: tiny, bitnet-2b-4t, bitnet-large, bitnet-3b, llama3-8b-1.58.
    #[arg(long)]
    preset: String,
    /// Type of the linear weights: i2_s, tl1, tl2, tq1_0, tq2_0, or any type with a quantizer
    /// (f32, f16, bf16, q4_0, q8_0, q4_k, ...).
    #[arg(long = "type")]
    ty: String,
    /// Seed (default: $BITNET_SEED, else 42).
    #[arg(long)]
    seed: Option<u64>,
    /// TL1 / TL2 tile configuration for every TL tensor, as BM,BK,bm (default: the preset's
    /// shipped configuration for each shape, else a valid one; always recorded in the file).
    #[arg(long, value_name = "BM,BK,bm")]
    tl_config: Option<String>,
    /// Type of token_embd.weight / output.weight (default f16).
    #[arg(long = "embed-type")]
    embed_type: Option<String>,
    /// What each I2_S tensor's 32-byte tail holds after the f32 scale: zeros (default, the
    /// Python converter's convention) or the scale replicated 8 times (like Microsoft's
    /// published 2B-4T file). Readers use tail bytes 0..4 only.
    #[arg(long = "i2s-tail", value_enum, default_value_t = I2sTail::Zero)]
    i2s_tail: I2sTail,
    /// Output file.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print the summary as JSON on stdout: {"output", "preset", "type", "seed", "tensors",
    /// "file_bytes", "data_bytes", "seconds"} (no progress bar).
    #[arg(long)]
    json: bool,
}

/// `--i2s-tail` values (also `bitgguf quantize --i2s-tail`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum I2sTail {
    /// Scale, then 28 zero bytes.
    Zero,
    /// The scale 8 times.
    Replicated,
}

impl I2sTail {
    /// The library's tail option.
    pub fn fill(self) -> TailFill {
        match self {
            I2sTail::Zero => TailFill::Zero,
            I2sTail::Replicated => TailFill::Replicate,
        }
    }
}

fn usage(msg: String) -> CliError {
    CliError::Lib(Error::new(Status::InvalidParameter, msg))
}

/// Parse `BM,BK,bm`.
pub fn parse_tl_config(s: &str) -> Result<TlConfig, String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse::<usize>().map_err(|_| format!("'{x}' in '{s}' is not a number")))
        .collect::<Result<_, _>>()?;
    match v[..] {
        [bm_tile, bk, bm] => Ok(TlConfig { bm_tile, bk, bm }),
        _ => Err(format!("the tile configuration '{s}' must be three numbers BM,BK,bm")),
    }
}

fn type_id(name: &str, what: &str) -> Result<types::TypeId, CliError> {
    types::from_name(name).map(|t| t.id).ok_or_else(|| usage(format!("{what}: unknown type '{name}'")))
}

pub fn run(a: SynthArgs) -> Result<(), CliError> {
    let preset = Preset::from_name(&a.preset).ok_or_else(|| {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
        usage(format!("unknown preset '{}' (one of: {})", a.preset, names.join(", ")))
    })?;
    let mut opts = SynthOptions::new(preset, type_id(&a.ty, "--type")?);
    opts.seed = match a.seed {
        Some(s) => s,
        None => match std::env::var("BITNET_SEED") {
            Ok(v) => v.trim().parse().map_err(|_| usage(format!("BITNET_SEED='{v}' is not an unsigned integer")))?,
            Err(_) => synth::DEFAULT_SEED,
        },
    };
    if let Some(t) = &a.tl_config {
        opts.tl = Some(parse_tl_config(t).map_err(|m| usage(format!("--tl-config: {m}")))?);
    }
    if let Some(e) = &a.embed_type {
        opts.embed_ty = Some(type_id(e, "--embed-type")?);
    }
    opts.i2s_tail = a.i2s_tail.fill();
    let start = Instant::now();
    let bar = crate::progress::bytes_bar(a.quiet || a.json);
    bar.set_message("synth");
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = synth::synthesize_to_path(&opts, &a.output, &mut progress);
    bar.finish_and_clear();
    let summary = summary?;
    let secs = start.elapsed().as_secs_f64();
    let ty_name = types::info(opts.ty).map_or("?", |t| t.name);
    if a.json {
        let j = serde_json::json!({
            "output": a.output.display().to_string(), "preset": preset.name(), "type": ty_name,
            "seed": opts.seed, "tensors": summary.tensors.len(), "file_bytes": summary.file_size,
            "data_bytes": summary.data_size, "seconds": secs,
        });
        let mut out = std::io::stdout().lock();
        return writeln!(out, "{j}").map_err(crate::out_err);
    }
    eprintln!(
        "{}: preset {} ({} tensors), {} linear weights, seed {}: {} bytes in {:.2} s ({:.0} MB/s)",
        a.output.display(),
        preset.name(),
        summary.tensors.len(),
        ty_name,
        opts.seed,
        summary.file_size,
        secs,
        summary.file_size as f64 / 1e6 / secs.max(1e-9)
    );
    Ok(())
}
