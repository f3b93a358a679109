//! `bitgguf crossval FILE [--json] [--sample N] [--allow-unsupported] [--threads N]
//! [--type-policy P] [--i2s-layout L] [--verbose] [--quiet]`: compare, tensor by tensor, the Rust
//! loader's reading of a GGUF file with the independent C++ reference cpp_ref (names, types,
//! shapes, offsets, byte lengths, a hash of the bytes, TL tile keys, and every dequantized value
//! bit for bit), and, when `BG_GGML_LIB` names real ggml's `libggml-base.so`, with ggml's
//! `to_float` too (third leg, upstream types). A progress bar goes to stderr on files with more
//! than 64 MiB of tensor data when stderr is a terminal (never with `--quiet` or `--json`).
//! Needs the feature `crossval` (a C++17 compiler at build time); without it the subcommand says
//! so and exits 3.
//!
//! Exit codes: 0 every tensor matches; 1 the Rust loader rejects the file; 2 usage; 3 I/O error,
//! or crossval not compiled in; 4 a difference, a tensor that could not be compared, a file the
//! reference rejects, or a tensor skipped because one side cannot decode its type (skips are
//! never matches; `--allow-unsupported` tolerates them, and only them).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Exit code: cross-validation found a difference (or, without `--allow-unsupported`, a tensor
/// it could not compare because a side cannot decode its type).
#[cfg_attr(not(feature = "crossval"), allow(dead_code))]
pub const EXIT_MISMATCH: u8 = crate::EXIT_CHECK;

/// The exit codes of `bitgguf crossval` (its `--help`).
pub const EXIT_HELP: &str = "\
Exit codes:
  0  every tensor matches (bit-exact values; same name, type, shape, offset, bytes)
  1  invalid file (the Rust loader rejected it)
  2  usage error
  3  I/O or system error, or bitgguf was built without the feature `crossval`
  4  a difference, a tensor that could not be compared, a file cpp_ref rejected, or a tensor
     skipped as unsupported by one side (tolerated with --allow-unsupported)

Sampling: with --sample N at most N blocks per tensor are compared. The blocks depend only on the
seed and the tensor's name (never on --threads): BITNET_DETERMINISTIC=1 uses seed 42 and
BITNET_SEED=<u64> a given seed; otherwise the seed is random and printed with the report.

Third leg: when BG_GGML_LIB names libggml-base.so (pip package libggml-python), every upstream
type ggml decodes is compared with ggml's to_float as well; a difference there fails the run.
If BG_GGML_LIB is set but the library cannot be used, the command exits 3.";

/// Arguments of `bitgguf crossval`.
#[derive(Args, Debug)]
pub struct CrossvalArgs {
    /// The GGUF file (the first shard of a split model loads all shards).
    pub file: PathBuf,
    /// Print a JSON report on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Compare at most N blocks per tensor (chosen by the seed); default: every element.
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Exit 0 even when tensors were skipped because one side cannot decode their type (they
    /// are still reported, and never counted as matches).
    #[arg(long)]
    pub allow_unsupported: bool,
    /// Worker threads (default: every core). The result does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// How the contested on-disk type ids 36-39 are read (by both readers).
    #[arg(long, value_enum, default_value_t = CrossvalPolicy::Auto)]
    pub type_policy: CrossvalPolicy,
    /// Layout of I2_S tensors: the canonical 128-element blocks, or the ARM 64-element flavour
    /// (bitnet.cpp on ARM since 2025-11); never guessed. Both sides decode with it.
    #[arg(long, value_enum, default_value_t = I2sLayoutArg::Group128)]
    pub i2s_layout: I2sLayoutArg,
    /// TL1/TL2 tile configuration BM,BK,bm for tensors without a bitgguf.tl.<name> key (files
    /// from bitnet.cpp record none; never guessed). Passed to both sides.
    #[arg(long, value_name = "BM,BK,bm", conflicts_with = "tl_preset")]
    pub tl_config: Option<String>,
    /// A shipped TL tile table for tensors without a key: MODEL[:setup_env|:ini] (see
    /// `bitgguf dequant --help`).
    #[arg(long, value_name = "NAME")]
    pub tl_preset: Option<String>,
    /// Text mode: print every tensor, not only those that do not match.
    #[arg(long)]
    pub verbose: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--i2s-layout` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum I2sLayoutArg {
    /// 128-element blocks of 32 bytes (x86, the published files).
    Group128,
    /// 64-element blocks of 16 bytes (ARM).
    Group64,
}

/// `--type-policy` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CrossvalPolicy {
    /// Decide per tensor from the layout and the producer's metadata.
    Auto,
    /// Upstream ggml numbering (39 = MXFP4, 36-38 removed).
    Upstream,
    /// BitNet fork numbering (36 = I2_S, 38 = TL1, 39 = TL2).
    Bitnet,
}

#[cfg(not(feature = "crossval"))]
pub fn main(_args: CrossvalArgs) -> std::process::ExitCode {
    eprintln!(
        "bitgguf: error: crossval was not compiled in: rebuild the tool with the feature `crossval` \
         (cargo build -p bitgguf-cli --features crossval; it needs a C++17 compiler)"
    );
    std::process::ExitCode::from(crate::EXIT_IO)
}

#[cfg(feature = "crossval")]
pub use imp::main;

#[cfg(feature = "crossval")]
mod imp {
    use std::io::Write;
    use std::process::ExitCode;

    use bitgguf::crossval::{
        seed_from_env, CrossvalOptions, GgmlLib, GgufCrossValidator, ModelReport, ReferenceInput, TensorReport,
        ValueStats, Values,
    };
    use bitgguf::model::codec::{CodecOptions, TlPresetName};
    use bitgguf::quant::bitnet::I2sLayout;
    use bitgguf::{Error, LoadOptions, Model, Status, TypePolicy};
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use serde_json::{json, Value as J};

    use super::{CrossvalArgs, CrossvalPolicy, I2sLayoutArg, EXIT_MISMATCH};

    /// Files with more tensor data than this get a progress bar.
    const PROGRESS_MIN_BYTES: u64 = 64 << 20;

    fn fail(e: &Error) -> ExitCode {
        let _ = std::io::stdout().flush();
        eprintln!("bitgguf: error: {} [status {} {:?}]", e.message(), e.status() as u32, e.status());
        ExitCode::from(match e.status() {
            Status::Io | Status::OutOfMemory => crate::EXIT_IO,
            _ => crate::EXIT_INVALID,
        })
    }

    pub fn main(args: CrossvalArgs) -> ExitCode {
        let policy = match args.type_policy {
            CrossvalPolicy::Auto => TypePolicy::Auto,
            CrossvalPolicy::Upstream => TypePolicy::Upstream,
            CrossvalPolicy::Bitnet => TypePolicy::Bitnet,
        };
        let seed = match seed_from_env() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bitgguf: error: {}", e.message());
                return ExitCode::from(crate::EXIT_USAGE);
            }
        };
        let mut load = LoadOptions::default();
        load.parse.type_policy = policy;
        load.codec = CodecOptions {
            i2s_layout: match args.i2s_layout {
                I2sLayoutArg::Group128 => I2sLayout::Group128,
                I2sLayoutArg::Group64 => I2sLayout::Group64,
            },
            ..CodecOptions::default()
        };
        if let Some(t) = &args.tl_config {
            match crate::synth::parse_tl_config(t) {
                Ok(c) => load.codec.tl_config = Some(c),
                Err(m) => {
                    eprintln!("bitgguf: error: --tl-config: {m} [status 901 InvalidParameter]");
                    return ExitCode::from(crate::EXIT_INVALID);
                }
            }
        }
        if let Some(p) = &args.tl_preset {
            match TlPresetName::parse(p) {
                Ok(c) => load.codec.tl_preset = Some(c),
                Err(e) => {
                    eprintln!(
                        "bitgguf: error: --tl-preset: {} [status {} {:?}]",
                        e.message(),
                        e.status() as u32,
                        e.status()
                    );
                    return ExitCode::from(crate::EXIT_INVALID);
                }
            }
        }
        let model = match Model::open(&args.file, &load) {
            Ok(m) => m,
            Err(e) => return fail(&e),
        };
        let threads =
            args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let opts = CrossvalOptions {
            sample: args.sample,
            seed,
            threads: threads.max(1),
            type_policy: policy,
            reference_input: ReferenceInput::ReadFile,
        };
        let mut validator = GgufCrossValidator::new(&model, opts);
        match GgmlLib::from_env() {
            Ok(Some(lib)) => validator = validator.with_ggml(lib),
            Ok(None) => {}
            Err(e) => {
                eprintln!("bitgguf: error: BG_GGML_LIB is set but unusable: {}", e.message());
                return ExitCode::from(crate::EXIT_IO);
            }
        }
        let total_bytes: u64 = model.tensors().map(|t| t.info.n_bytes).sum();
        let bar = if !args.quiet && !args.json && total_bytes > PROGRESS_MIN_BYTES {
            // Hidden by indicatif itself when stderr is not a terminal.
            let bar = ProgressBar::with_draw_target(Some(model.tensor_count() as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("crossval {bar:40} {pos}/{len} tensors, {elapsed} (eta {eta})")
                    .expect("valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let progress = |_done: usize, _total: usize| bar.inc(1);
        let report = validator.check_all_with_progress(&progress);
        bar.finish_and_clear();
        let passed = report.passes(args.allow_unsupported);
        let out = if args.json {
            serde_json::to_string_pretty(&to_json(&args, &report, passed)).expect("JSON") + "\n"
        } else {
            to_text(&args, &report, passed)
        };
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("bitgguf: error: cannot write the output: {e}");
                return ExitCode::from(crate::EXIT_IO);
            }
        }
        if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_MISMATCH)
        }
    }

    fn to_text(args: &CrossvalArgs, r: &ModelReport, passed: bool) -> String {
        let legs = match &r.ggml {
            Some(p) => format!("cpp_ref and real ggml ({})", p.display()),
            None => "cpp_ref (third leg off: set BG_GGML_LIB to add real ggml)".to_string(),
        };
        let mut s = format!("crossval {} against {legs} (seed {}", args.file.display(), r.seed);
        match r.sample {
            Some(n) => s += &format!(", at most {n} sampled blocks per tensor)\n"),
            None => s += ", every element)\n",
        }
        for f in &r.files {
            if let Some(e) = &f.reference_error {
                s += &format!("[FILE ERROR] shard {}: cpp_ref could not read it: {e}\n", f.shard);
            }
            for d in &f.diffs {
                s += &format!("[FILE MISMATCH] shard {}: {d}\n", f.shard);
            }
        }
        for t in &r.tensors {
            if args.verbose || t.verdict != bitgguf::crossval::Verdict::Match {
                s += &format!("{t}\n");
            }
        }
        let sum = r.summary();
        s += &format!("{sum}\n");
        if passed {
            s += if sum.skipped > 0 { "PASS (with skipped tensors: --allow-unsupported)\n" } else { "PASS\n" };
        } else if sum.mismatched + sum.errors + sum.file_failures == 0 {
            s += "FAIL: tensors were skipped as unsupported (pass --allow-unsupported to tolerate them)\n";
        } else {
            s += "FAIL\n";
        }
        s
    }

    /// A float for JSON: a number when finite, else "NaN", "inf" or "-inf".
    fn num(v: f64) -> J {
        if v.is_finite() {
            json!(v)
        } else if v.is_nan() {
            json!("NaN")
        } else if v > 0.0 {
            json!("inf")
        } else {
            json!("-inf")
        }
    }

    fn stats_json(s: &ValueStats) -> J {
        json!({
            "status": "compared",
            "compared": s.compared,
            "total": s.total,
            "sampled_blocks": s.sampled_blocks,
            "mismatched": s.mismatched,
            "max_abs_diff": num(s.max_abs_diff),
            "max_ulp": if s.max_ulp == u64::MAX { J::Null } else { json!(s.max_ulp) },
            "first_diff": s.first_diff.map(|d| json!({
                "index": d.index,
                "rust": num(d.rust as f64),
                "reference": num(d.reference as f64),
                "rust_bits": format!("{:#010x}", d.rust.to_bits()),
                "reference_bits": format!("{:#010x}", d.reference.to_bits()),
            })),
        })
    }

    fn values_json(t: &TensorReport, v: &Values) -> J {
        match v {
            Values::Compared(s) => stats_json(s),
            Values::Unsupported { rust, reference } => json!({
                "status": "skipped",
                "reason": t.skip_reason(),
                "unsupported_by_rust": rust,
                "unsupported_by_reference": reference,
            }),
            Values::NotCompared(why) => json!({ "status": "not_compared", "reason": why }),
        }
    }

    fn to_json(args: &CrossvalArgs, r: &ModelReport, passed: bool) -> J {
        let s = r.summary();
        json!({
            "file": args.file.display().to_string(),
            "reference": "cpp_ref",
            "legs": if r.ggml.is_some() { json!(["rust", "cpp_ref", "ggml"]) } else { json!(["rust", "cpp_ref"]) },
            "ggml_lib": r.ggml.as_ref().map(|p| p.display().to_string()),
            "seed": r.seed,
            "sample": r.sample,
            "allow_unsupported": args.allow_unsupported,
            "passed": passed,
            "summary": {
                "tensors": s.tensors,
                "matched": s.matched,
                "mismatched": s.mismatched,
                "skipped": s.skipped,
                "errors": s.errors,
                "file_failures": s.file_failures,
                "ggml_compared": s.ggml_compared,
                "ggml_mismatched": s.ggml_mismatched,
            },
            "files": r.files.iter().map(|f| json!({
                "shard": f.shard,
                "path": f.path.as_ref().map(|p| p.display().to_string()),
                "reference_error": f.reference_error,
                "diffs": f.diffs.iter().map(|d| json!({"field": d.field, "rust": d.rust, "reference": d.reference})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "tensors": r.tensors.iter().map(|t| json!({
                "index": t.index,
                "shard": t.shard,
                "name": t.name,
                "type": t.type_name,
                "type_id": t.type_id,
                "ne": t.ne,
                "n_elements": t.n_elements,
                "n_bytes": t.n_bytes,
                "verdict": t.verdict.label().to_ascii_lowercase(),
                "diffs": t.diffs.iter().map(|d| json!({"field": d.field, "rust": d.rust, "reference": d.reference})).collect::<Vec<_>>(),
                "hash_rust": format!("{:#018x}", t.hash_rust),
                "hash_reference": t.hash_reference.map(|h| format!("{h:#018x}")),
                "tile": t.tile,
                "values": values_json(t, &t.values),
                "ggml": t.ggml.as_ref().map(|v| values_json(t, v)),
            })).collect::<Vec<_>>(),
        })
    }
}
