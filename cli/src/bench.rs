//! `bitgguf bench [--types LIST] [--to LIST] [--elements N] [--rounds R] [--ggml PATH | --no-ggml]
//! [--scalar] [--json] [--quiet]`: the dequantization speed comparison of docs/PERFORMANCE.md
//! on the user's machine — bitgguf on one thread and on all threads against real ggml's
//! `to_float`, and the machine's streaming-store bandwidth measured in the same rounds
//! (`bitgguf::bench`). Prints the ratio table (or JSON) and the floors that are not met.
//!
//! ggml: `--ggml PATH`, else `BG_GGML_LIB`, else the `libggml` Python package of `BG_PYTHON` /
//! `python3` (pip install libggml-python). Without it the table has our figures only (the data
//! then comes from bitgguf's quantizers, byte-identical with ggml's reference quantizers), and
//! the reason is printed; `--require-ggml` makes that an error instead.

use std::io::Write;
use std::path::PathBuf;

use bitgguf::bench::{run_decode_bench, DecodeBenchConfig, DecodeTable};
use bitgguf::oracle::ggml::{self, GgmlLib};
use bitgguf::quant::output::OutType;
use bitgguf::{types, Error, Status};
use clap::Args;
use serde_json::json;

use crate::{out_err, progress, CliError};

/// `bitgguf bench` arguments.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated types (default: every upstream type both decode, then i2_s, tl1, tl2,
    /// whose ggml column is the same-bits ternary type: tq2_0, tq2_0, tq1_0).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Comma-separated output types: f32, f16, bf16.
    #[arg(long = "to", value_delimiter = ',', default_value = "f32")]
    to: Vec<String>,
    /// Elements per type (rounded down to a multiple of 65536, at least 65536). The default,
    /// 32 Mi (128 MiB of f32), is far larger than caches, as in docs/PERFORMANCE.md.
    #[arg(long, default_value_t = 32 << 20)]
    elements: usize,
    /// Timed rounds per case (median); each timed run follows an untimed run of the same case.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Outputs start this many bytes past a 64-byte boundary (a multiple of 4 below 64); 16 is
    /// where malloc puts large blocks.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    dst_offset: usize,
    /// Path of ggml's libggml-base.so (default: $BG_GGML_LIB, else found through Python).
    #[arg(long, value_name = "PATH", conflicts_with = "no_ggml")]
    ggml: Option<PathBuf>,
    /// Do not look for ggml: our figures only.
    #[arg(long)]
    no_ggml: bool,
    /// Fail when ggml cannot be found or loaded.
    #[arg(long, conflicts_with = "no_ggml")]
    require_ggml: bool,
    /// Also time the scalar oracle (one thread, f32 out).
    #[arg(long)]
    scalar: bool,
    /// Print JSON: {"elements", "rounds", "dst_offset", "threads", "simd", "optimized_build", "ggml",
    /// "bandwidth", "rows", "skipped", "unmet_floors"}.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn usage(msg: String) -> CliError {
    CliError::Lib(Error::new(Status::InvalidParameter, msg))
}

fn out_type(s: &str) -> Result<OutType, CliError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "f32" => Ok(OutType::F32),
        "f16" => Ok(OutType::F16),
        "bf16" => Ok(OutType::Bf16),
        other => Err(usage(format!("--to: unknown output type '{other}' (f32, f16 or bf16)"))),
    }
}

/// ggml as asked: the library and its path, or the reason there is none.
fn open_ggml(a: &BenchArgs) -> Result<Result<GgmlLib, String>, CliError> {
    if a.no_ggml {
        return Ok(Err("--no-ggml".into()));
    }
    let found = match &a.ggml {
        Some(p) => Ok(p.clone()),
        None => ggml::find(),
    };
    let lib = found.and_then(|p| GgmlLib::open(&p));
    match lib {
        Ok(l) => Ok(Ok(l)),
        Err(e) if a.require_ggml => Err(CliError::Lib(e)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

pub fn run(a: BenchArgs) -> Result<(), CliError> {
    let types = if a.types.is_empty() {
        None
    } else {
        Some(
            a.types
                .iter()
                .map(|n| {
                    types::from_name(n.trim())
                        .map(|t| t.id)
                        .ok_or_else(|| usage(format!("--types: unknown type '{n}'")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let outs = a.to.iter().map(|s| out_type(s)).collect::<Result<Vec<_>, _>>()?;
    let cfg = DecodeBenchConfig {
        elements: a.elements,
        rounds: a.rounds,
        types,
        outs,
        scalar: a.scalar,
        dst_offset: a.dst_offset,
    };
    let ggml = open_ggml(&a)?;
    if let Err(why) = &ggml {
        eprintln!("bench: without ggml ({why}): bitgguf's figures only");
    }
    if cfg!(debug_assertions) {
        eprintln!("bench: WARNING: an unoptimized (debug) build of bitgguf: the figures mean nothing");
    }
    let bar = progress::bar(0, "bench {bar:40} {pos}/{len} types, {elapsed} {msg}", a.quiet || a.json);
    let table = run_decode_bench(&cfg, ggml.as_ref().ok(), &mut |name, done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(name.to_string());
    });
    bar.finish_and_clear();
    let table = table?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", to_json(&table, ggml.as_ref().ok())).map_err(out_err)?;
        return Ok(());
    }
    if let Ok(l) = &ggml {
        writeln!(out, "ggml: {}", l.path().display()).map_err(out_err)?;
    }
    write!(out, "{table}").map_err(out_err)?;
    let unmet = table.unmet_floors();
    if table.with_ggml {
        if unmet.is_empty() {
            writeln!(out, "floors: all met (1T: >= 1.5x ggml or >= 90% of 1T streaming bw; all: >= 70% of bw)")
        } else {
            writeln!(out, "floors not met: {}", unmet.join("; "))
        }
        .map_err(out_err)?;
    }
    Ok(())
}

fn to_json(t: &DecodeTable, lib: Option<&GgmlLib>) -> serde_json::Value {
    let rows: Vec<_> = t
        .rows
        .iter()
        .map(|r| {
            json!({
                "type": r.name, "out": r.out.name(), "ggml_type": r.ggml_type,
                "ggml_gelem_s": r.ggml, "ours_1t_gelem_s": r.ours_1t, "ours_1t_plain_gelem_s": r.ours_1t_plain,
                "ours_all_gelem_s": r.ours_all, "scalar_1t_gelem_s": r.scalar_1t,
                "ratio_1t": r.ratio_1t(), "ratio_all": r.ratio_all(),
                "pct_bw_1t": r.pct_bw_1t(), "pct_bw_all": r.pct_bw_all(),
                "floor_1t_met": r.floor_1t_met(), "floor_all_met": r.floor_all_met(),
            })
        })
        .collect();
    let skipped: Vec<_> = t.skipped.iter().map(|(n, why)| json!({"type": n, "reason": why})).collect();
    json!({
        "elements": t.elements, "rounds": t.rounds, "dst_offset": t.dst_offset, "threads": t.threads, "simd": t.simd,
        "optimized_build": !cfg!(debug_assertions),
        "ggml": lib.map(|l| l.path().display().to_string()),
        "bandwidth": {
            "bytes": t.bandwidth.bytes, "memcpy_1t_gb_s": t.bandwidth.memcpy_1t,
            "streaming_1t_gb_s": t.bandwidth.nt_1t, "streaming_all_gb_s": t.bandwidth.nt_all,
        },
        "rows": rows, "skipped": skipped,
        "unmet_floors": if t.with_ggml { json!(t.unmet_floors()) } else { serde_json::Value::Null },
    })
}
