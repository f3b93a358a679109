//! `bitgguf quantize IN.gguf --to TYPE [--mode absmean|sign-max] [--tl-config BM,BK,bm |
//! --tl-preset NAME] [--embeddings TYPE] [--allow-lossy-scale] [--i2s-tail zero|replicated]
//! [--quiet] [--json] -o OUT.gguf`: a thin
//! front end of `bitgguf::convert` with a progress bar and a per-tensor report.

use std::io::Write;
use std::path::PathBuf;

use bitgguf::convert::decode::TlChoice;
use bitgguf::convert::{convert_file, Action, ConvertOptions, ConvertReport, Progress};
use bitgguf::quant::bitnet::{TailFill, Ternarizer};
use bitgguf::types::{self, TypeId};
use bitgguf::{Error, Status};
use clap::{Args, ValueEnum};
use serde_json::json;

use crate::{out_err, CliError};

/// `bitgguf quantize` arguments.
#[derive(Args, Debug)]
pub struct QuantizeArgs {
    /// The input GGUF model (f32/f16/bf16, any quantized type, or a ternary model).
    input: PathBuf,
    /// Type of the linear-layer weights: i2_s, tl1, tl2, tq1_0, tq2_0, or an upstream type with a
    /// quantizer (f16, bf16, q4_0, q8_0, q4_k, ...).
    #[arg(long = "to", value_name = "TYPE")]
    to: String,
    /// How float weights become ternary: absmean (s = mean|W|, round half to even) or sign-max
    /// (bitnet.cpp's quantize_i2_s: s = max|W|, sign with |x| < 1e-6 -> 0).
    #[arg(long, value_enum, default_value_t = Mode::Absmean)]
    mode: Mode,
    /// TL1/TL2 output tile parameters BM,BK,bm (e.g. 256,128,32).
    #[arg(long, value_name = "BM,BK,bm", conflicts_with = "tl_preset")]
    tl_config: Option<String>,
    /// TL1/TL2 output tile parameters from a shipped preset, looked up per tensor shape:
    /// bitnet_b1_58-large, bitnet_b1_58-3B, Llama3-8B-1.58-100B-tokens (setup_env.py's table;
    /// append ":ini" for the kernel_config_tl{1,2}.ini table).
    #[arg(long, value_name = "NAME")]
    tl_preset: Option<String>,
    /// Tile parameters of TL1/TL2 *input* tensors the file does not record (files from bitnet.cpp).
    #[arg(long, value_name = "BM,BK,bm", conflicts_with = "input_tl_preset")]
    input_tl_config: Option<String>,
    /// Preset for TL1/TL2 input tensors (as --tl-preset).
    #[arg(long, value_name = "NAME")]
    input_tl_preset: Option<String>,
    /// Type of token_embd.weight and output.weight (default: unchanged).
    #[arg(long, value_name = "TYPE")]
    embeddings: Option<String>,
    /// Accept a per-tensor scale rounded to the f16 block scale of TQ1_0/TQ2_0 (reported).
    #[arg(long)]
    allow_lossy_scale: bool,
    /// Replicate the I2_S scale 8 times in the 32-byte tail (like the official Microsoft file)
    /// instead of zero-filling it.
    #[arg(long)]
    replicate_tail: bool,
    /// What each I2_S tensor's 32-byte tail holds after the scale: zero (default) or
    /// replicated (the scale 8 times); `--replicate-tail` is `--i2s-tail replicated`.
    #[arg(long = "i2s-tail", value_enum, conflicts_with = "replicate_tail")]
    i2s_tail: Option<crate::synth::I2sTail>,
    /// No progress bar and no per-tensor report (the summary line is still printed).
    #[arg(long, short)]
    quiet: bool,
    /// Print the report as JSON: {"input", "output", "file_bytes", "file_type", "exact",
    /// "tensors": [{"name", "from", "to", "action", "exact", "scale_loss", "tl"}]} (no bar).
    #[arg(long)]
    json: bool,
    /// The output file.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

/// `--mode` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// s = mean|W|, t = clamp(round_half_even(W/s), -1, 1).
    Absmean,
    /// bitnet.cpp's quantize_i2_s: s = max|W|, t = sign(W) with |W| < 1e-6 -> 0, NaN -> -1.
    SignMax,
}

fn type_arg(name: &str, what: &str) -> Result<TypeId, CliError> {
    types::from_name(name)
        .map(|t| t.id)
        .ok_or_else(|| CliError::Lib(Error::new(Status::InvalidParameter, format!("{what}: unknown type '{name}'"))))
}

fn tl_arg(config: &Option<String>, preset: &Option<String>) -> Result<Option<TlChoice>, CliError> {
    Ok(match (config, preset) {
        (Some(c), _) => Some(TlChoice::parse_config(c)?),
        (None, Some(p)) => Some(TlChoice::parse_preset(p)?),
        (None, None) => None,
    })
}

pub fn run(args: QuantizeArgs) -> Result<(), CliError> {
    let mut opts = ConvertOptions::new(type_arg(&args.to, "--to")?);
    opts.mode = match args.mode {
        Mode::Absmean => Ternarizer::Absmean,
        Mode::SignMax => Ternarizer::SignMax,
    };
    opts.tl = tl_arg(&args.tl_config, &args.tl_preset)?;
    opts.input_tl = tl_arg(&args.input_tl_config, &args.input_tl_preset)?;
    opts.embeddings = args.embeddings.as_deref().map(|e| type_arg(e, "--embeddings")).transpose()?;
    opts.allow_lossy_scale = args.allow_lossy_scale;
    opts.tail = match args.i2s_tail {
        Some(t) => t.fill(),
        None if args.replicate_tail => TailFill::Replicate,
        None => TailFill::Zero,
    };
    // Asked for explicitly: every I2_S tensor of the output gets that tail, copies included.
    opts.retail_copies = args.i2s_tail.is_some() || args.replicate_tail;

    let bar = crate::progress::bar(0, "{bar:40} {bytes}/{total_bytes} {msg}", args.quiet || args.json);
    let mut callback = |p: &Progress<'_>| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(format!("[{}/{}] {}", p.done, p.total, p.tensor));
        true
    };
    let report = convert_file(&args.input, &args.output, &opts, &mut callback);
    bar.finish_and_clear();
    let report = report?;
    if args.json {
        let mut out = std::io::stdout().lock();
        return writeln!(out, "{}", report_json(&report, &args.input, &args.output)).map_err(out_err);
    }
    print_report(&report, args.quiet, &args.input, &args.output).map_err(out_err)
}

fn action_name(a: &Action) -> String {
    match a {
        Action::Copied => "copied".to_string(),
        Action::Transcoded => "transcoded".to_string(),
        Action::Quantized => "quantized".to_string(),
        Action::Requantized(why) => format!("re-quantized ({why})"),
    }
}

fn report_json(r: &ConvertReport, input: &std::path::Path, output: &std::path::Path) -> serde_json::Value {
    let tensors: Vec<_> = r
        .tensors
        .iter()
        .map(|t| {
            json!({
                "name": t.name, "from": name(t.from), "to": name(t.to), "action": action_name(&t.action),
                "exact": t.exact,
                "scale_loss": t.scale_loss.as_ref().map(|l| json!({
                    "original": l.original, "stored": l.stored, "relative_error": l.rel_error()
                })),
                "tl": t.tl.map(|c| json!({"bm_tile": c.bm_tile, "bk": c.bk, "bm": c.bm})),
            })
        })
        .collect();
    json!({
        "input": input.display().to_string(), "output": output.display().to_string(),
        "file_bytes": r.file_bytes, "file_type": r.file_type, "exact": r.exact(), "tensors": tensors,
    })
}

fn name(id: TypeId) -> &'static str {
    types::info(id).map_or("?", |t| t.name)
}

fn print_report(
    r: &ConvertReport,
    quiet: bool,
    input: &std::path::Path,
    output: &std::path::Path,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if !quiet {
        for t in &r.tensors {
            let what = action_name(&t.action);
            let exact = if t.exact { "exact".to_string() } else { "lossy".to_string() };
            let mut extra = String::new();
            if let Some(l) = &t.scale_loss {
                extra += &format!(
                    ", scale {:e} stored as f16 {:e} (relative error {:.3e})",
                    l.original,
                    l.stored,
                    l.rel_error()
                );
            }
            if let Some(c) = &t.tl {
                extra += &format!(", tiles BM={} BK={} bm={}", c.bm_tile, c.bk, c.bm);
            }
            writeln!(out, "{}: {} -> {} {what} {exact}{extra}", t.name, name(t.from), name(t.to))?;
        }
    }
    let lossy = r.tensors.iter().filter(|t| !t.exact).count();
    let changed = r.tensors.iter().filter(|t| t.action != Action::Copied).count();
    writeln!(
        out,
        "{} -> {}: {} tensors ({changed} converted, {lossy} lossy), {} bytes, general.file_type = {}",
        input.display(),
        output.display(),
        r.tensors.len(),
        r.file_bytes,
        r.file_type.map_or("(removed: no llama ftype for this type)".to_string(), |f| f.to_string())
    )?;
    out.flush()
}
