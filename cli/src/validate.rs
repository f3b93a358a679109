//! `bitgguf validate FILE [--reference REF.gguf] [--json] [--quiet]`: structural checks (the file loads
//! and every tensor decodes), then per-tensor accuracy against a reference model with the same
//! tensor names (a thin front end of `bitgguf::validate`).

use std::io::Write;
use std::path::PathBuf;

use bitgguf::convert::decode::TlChoice;
use bitgguf::types;
use bitgguf::validate::metrics::Accuracy;
use bitgguf::validate::{validate, ValidateOptions, ValidationReport, COSINE_GATE};
use bitgguf::{LoadOptions, Model};
use clap::Args;
use serde_json::{json, Value as J};

use crate::{CliError, EXIT_INVALID};

/// Exit code: a tensor is below the accuracy gate (or has no counterpart in the reference).
pub const EXIT_ACCURACY: u8 = crate::EXIT_CHECK;

/// The exit codes of `bitgguf validate` (its `--help`).
pub const EXIT_HELP: &str = "\
Exit codes:
  0  valid; with --reference every tensor reaches the gate (cosine >= 0.99 by default)
  1  invalid file: it does not load, or a tensor does not decode (the message names it)
  2  usage error
  3  I/O or system error
  4  accuracy below the gate: some tensor's weight or GEMV cosine is under --min-cosine, or a
     tensor has no counterpart of the same name and shape in the reference";

/// `bitgguf validate` arguments.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The GGUF file to check.
    file: PathBuf,
    /// The reference model (same tensor names), e.g. the f32/f16/bf16 model it was made from.
    #[arg(long, value_name = "REF.gguf")]
    reference: Option<PathBuf>,
    /// Print JSON instead of text (no progress bar).
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// The accuracy gate on the cosine similarity of the weights and of W·x.
    #[arg(long, value_name = "C", default_value_t = COSINE_GATE)]
    min_cosine: f64,
    /// Seed of the GEMV input x (default: $BITNET_SEED, else 42).
    #[arg(long)]
    seed: Option<u64>,
    /// Tile parameters BM,BK,bm for TL1/TL2 tensors the files do not record.
    #[arg(long, value_name = "BM,BK,bm", conflicts_with = "tl_preset")]
    tl_config: Option<String>,
    /// Preset for TL1/TL2 tensors the files do not record (see `quantize --help`).
    #[arg(long, value_name = "NAME")]
    tl_preset: Option<String>,
}

fn name(id: u32) -> &'static str {
    types::info(id).map_or("?", |t| t.name)
}

fn acc_json(a: &Accuracy) -> J {
    let f = |v: f64| if v.is_finite() { json!(v) } else { json!(v.to_string()) };
    json!({"exact": a.exact, "cosine": f(a.cosine), "rel_rmse": f(a.rel_rmse), "max_abs": f(a.max_abs), "n": a.n})
}

fn acc_text(a: &Accuracy) -> String {
    if a.exact {
        "exact".into()
    } else {
        format!("cos {:.6} rel_rmse {:.4e} max_abs {:.4e}", a.cosine, a.rel_rmse, a.max_abs)
    }
}

fn to_json(r: &ValidationReport) -> J {
    let tensors: Vec<J> = r
        .tensors
        .iter()
        .map(|t| {
            let mut o = json!({"name": t.name, "type": name(t.ty), "shape": t.ne, "decodes": t.decode_error.is_none()});
            if let Some(e) = &t.decode_error {
                o["error"] = json!(e);
            }
            if t.not_decodable {
                o["not_decodable"] = json!(true);
            }
            if let Some(a) = &t.accuracy {
                o["reference_type"] = json!(name(a.reference_type));
                o["weights"] = acc_json(&a.weights);
                o["gemv"] = a.gemv.as_ref().map_or(J::Null, acc_json);
                o["passes"] = json!(a.passes(r.gate));
            }
            if let Some(e) = &t.accuracy_error {
                o["accuracy_error"] = json!(e);
                o["passes"] = json!(false);
            }
            o
        })
        .collect();
    json!({
        "structural_ok": r.structural_ok(),
        "accuracy_ok": r.accuracy_ok(),
        "with_reference": r.with_reference,
        "gate": r.gate,
        "min_cosine": r.min_cosine(),
        "missing_in_file": r.missing,
        "tensors": tensors,
    })
}

fn print_text(r: &ValidationReport, out: &mut impl Write) -> std::io::Result<()> {
    for t in &r.tensors {
        let head = format!("{} {} {:?}", t.name, name(t.ty), t.ne);
        if let Some(e) = &t.decode_error {
            writeln!(out, "{head}: DOES NOT DECODE: {e}")?;
        } else if t.not_decodable {
            writeln!(out, "{head}: ok (no decoder for this type; not compared)")?;
        } else if let Some(e) = &t.accuracy_error {
            writeln!(out, "{head}: FAIL: {e}")?;
        } else if let Some(a) = &t.accuracy {
            let verdict = if a.exact() {
                "exact".to_string()
            } else {
                let g = a.gemv.as_ref().map_or(String::new(), |g| format!(" | gemv {}", acc_text(g)));
                format!("{}{g} {}", acc_text(&a.weights), if a.passes(r.gate) { "PASS" } else { "FAIL" })
            };
            writeln!(out, "{head} vs {}: {verdict}", name(a.reference_type))?;
        } else {
            writeln!(out, "{head}: decodes")?;
        }
    }
    for m in &r.missing {
        writeln!(out, "{m}: FAIL: in the reference but not in the file")?;
    }
    let n = r.tensors.len();
    let bad_decode = r.tensors.iter().filter(|t| t.decode_error.is_some()).count();
    write!(
        out,
        "structure: {}",
        if bad_decode == 0 {
            format!("ok ({n} tensors decode)")
        } else {
            format!("{bad_decode} of {n} tensors do not decode")
        }
    )?;
    if r.with_reference {
        let measured: Vec<_> = r.tensors.iter().filter_map(|t| t.accuracy).collect();
        let exact = measured.iter().filter(|a| a.exact()).count();
        let below = measured.iter().filter(|a| !a.passes(r.gate)).count();
        write!(
            out,
            "; accuracy: {} ({} compared, {exact} exact, {below} below cosine {}, min cosine {})",
            if r.accuracy_ok() { "ok" } else { "FAIL" },
            measured.len(),
            r.gate,
            r.min_cosine().map_or("-".into(), |c| format!("{c:.6}"))
        )?;
    }
    writeln!(out)
}

/// Run; `Ok` carries the exit code (0, [`EXIT_INVALID`] or [`EXIT_ACCURACY`]).
pub fn run(args: ValidateArgs) -> Result<u8, CliError> {
    let seed = match args.seed {
        Some(s) => s,
        None => std::env::var("BITNET_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(42),
    };
    let mut load = LoadOptions::default();
    match (&args.tl_config, &args.tl_preset) {
        (Some(c), _) => load.codec = TlChoice::parse_config(c)?.codec_options(),
        (None, Some(p)) => load.codec = TlChoice::parse_preset(p)?.codec_options(),
        _ => {}
    }
    let opts = ValidateOptions { gate: args.min_cosine, seed };
    let model = Model::open(&args.file, &load)?;
    let reference = args.reference.as_ref().map(|p| Model::open(p, &load)).transpose()?;
    let bar = crate::progress::bar(
        model.tensor_count() as u64,
        "validate {bar:40} {pos}/{len} tensors, {elapsed} (eta {eta}) {msg}",
        args.quiet || args.json,
    );
    let report = validate(&model, reference.as_ref(), &opts, &mut |done, _, name| {
        bar.set_position(done as u64);
        bar.set_message(name.to_string());
    });
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&to_json(&report)).expect("JSON")).map_err(crate::out_err)?;
    } else {
        print_text(&report, &mut out).map_err(crate::out_err)?;
    }
    out.flush().map_err(crate::out_err)?;
    Ok(if !report.structural_ok() {
        EXIT_INVALID
    } else if !report.accuracy_ok() {
        EXIT_ACCURACY
    } else {
        0
    })
}
