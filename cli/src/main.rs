//! `bitgguf`: inspect GGUF files and demonstrate the loader.
//!
//! ```text
//! bitgguf inspect FILE [--json] [--no-mmap] [--type-policy auto|upstream|bitnet]
//! bitgguf dequant FILE --tensor NAME [--to f32|f16|bf16] [--tl-config BM,BK,bm | --tl-preset NAME] [--i2s-layout group128|group64] [--quiet] [--json] -o OUT
//!                 [--no-mmap] [--type-policy auto|upstream|bitnet]
//! bitgguf demo [--json]
//! bitgguf synth --preset tiny|bitnet-2b-4t|bitnet-large|bitnet-3b|llama3-8b-1.58 --type TYPE [--seed N] [--i2s-tail zero|replicated] [--quiet] [--json] -o OUT.gguf
//!               [--tl-config BM,BK,bm] [--embed-type TYPE]
//! bitgguf load FILE [--strategy cpu|gpu|hybrid] [--vram-fraction F] [--to packed|f32|f16|bf16] [--no-mmap] [--populate]
//!              [--staging-mib N] [--tensor-split A,B,...] [--n-gpu-layers N] [--quiet] [--json]
//! bitgguf crossval FILE [--json] [--sample N] [--allow-unsupported] [--threads N] [--type-policy P] [--i2s-layout L]
//!                  [--tl-config BM,BK,bm | --tl-preset NAME] [--verbose] [--quiet]   (feature `crossval`)
//! bitgguf quantize IN.gguf --to TYPE [--mode absmean|sign-max] [--tl-config BM,BK,bm | --tl-preset NAME]
//!                  [--embeddings TYPE] [--allow-lossy-scale] [--i2s-tail zero|replicated] [--quiet] [--json] -o OUT.gguf
//!                  [--input-tl-config BM,BK,bm | --input-tl-preset NAME]
//! bitgguf validate FILE [--reference REF.gguf] [--json] [--quiet] [--min-cosine C] [--seed N]
//!                  [--tl-config BM,BK,bm | --tl-preset NAME]
//! bitgguf bench [--types LIST] [--to f32,f16,bf16] [--elements N] [--rounds R] [--dst-offset BYTES]
//!               [--ggml PATH | --no-ggml] [--require-ggml] [--scalar] [--quiet] [--json]
//! ```
//!
//! Exit codes (stable, also printed by `--help`):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | invalid file: the library rejected it (bad magic, truncated, bad layout, ...); also an option value refused after parsing (status 901 `InvalidParameter`: an unknown type name, a malformed `--tl-config`, ...) |
//! | 2 | usage error (unknown option, missing argument, a value not among the option's choices) |
//! | 3 | I/O or system error: cannot open, stat, map or read the file, write the output or a temporary file |
//! | 4 | a check failed: `crossval` found a mismatch; `validate` found a tensor below the accuracy gate (cosine < 0.99) or without a counterpart in the reference; `bench` found our output different from ggml's (or, for I2_S / TL1 / TL2, the scalar oracle's) |
//!
//! Errors print the library's detailed message (what, where, expected vs found) on stderr.

mod bench;
mod crossval;
mod demo;
mod dequant;
mod inspect;
mod json;
mod load;
mod progress;
mod quantize;
mod synth;
mod text;
mod validate;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bitgguf::{Error, Status, TypePolicy};
use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: the file is not a valid GGUF file (or one the library refuses).
pub const EXIT_INVALID: u8 = 1;
/// Exit code: bad command line (clap's own code for usage errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: I/O or system error.
pub const EXIT_IO: u8 = 3;
/// Exit code: a check failed (crossval mismatch, validate below the gate, demo, bench against
/// ggml).
pub const EXIT_CHECK: u8 = 4;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  invalid file (the library rejected it; the message says what, where, expected vs found),
     or an option value refused after parsing (status 901 InvalidParameter: unknown type name, ...)
  2  usage error (unknown option, missing argument, a value not among the option's choices)
  3  I/O or system error (cannot open/stat/map/read the file, write the output or a temp file)
  4  a check failed (crossval: mismatch; validate: a tensor below the accuracy gate, cosine < 0.99;
     demo: a step's check; bench: our output differs from ggml's or the scalar oracle's)";

#[derive(Parser, Debug)]
#[command(name = "bitgguf", version, about = "Inspect GGUF model files with the bitgguf loader", after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a GGUF file's header, metadata and tensor table.
    #[command(after_help = EXIT_CODES_HELP)]
    Inspect {
        /// The GGUF file (the first shard of a split model loads all shards).
        file: PathBuf,
        /// Print JSON instead of text: {"version", "alignment", "data_offset", "metadata",
        /// "tensors", and "shards" when the model is split}.
        #[arg(long)]
        json: bool,
        /// Read the file into memory instead of mapping it.
        #[arg(long)]
        no_mmap: bool,
        /// How the contested on-disk type ids 36-39 are read.
        #[arg(long, value_enum, default_value_t = Policy::Auto)]
        type_policy: Policy,
    },
    /// Decode one tensor and write its values as raw little-endian numbers (row-major, ne0
    /// fastest).
    #[command(after_help = EXIT_CODES_HELP)]
    Dequant {
        /// The GGUF file.
        file: PathBuf,
        /// The tensor's name.
        #[arg(long)]
        tensor: String,
        /// Output element type.
        #[arg(long, value_enum, default_value_t = To::F32)]
        to: To,
        /// Output file.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Read the file into memory instead of mapping it.
        #[arg(long)]
        no_mmap: bool,
        /// How the contested on-disk type ids 36-39 are read.
        #[arg(long, value_enum, default_value_t = Policy::Auto)]
        type_policy: Policy,
        /// TL1/TL2 tile configuration BM,BK,bm for tensors without a bitgguf.tl.<name> key
        /// (files from bitnet.cpp record none; never guessed).
        #[arg(long, value_name = "BM,BK,bm", conflicts_with = "tl_preset")]
        tl_config: Option<String>,
        /// A shipped TL tile table: MODEL[:setup_env|:ini], MODEL one of bitnet_b1_58-large,
        /// bitnet_b1_58-3B, Llama3-8B-1.58-100B-tokens (or bitnet-large, bitnet-3b, llama3-8b-1.58).
        #[arg(long, value_name = "NAME")]
        tl_preset: Option<String>,
        /// Layout of I2_S tensors: group128 (canonical, default) or group64 (bitnet.cpp's ARM
        /// flavour since 2025-11; the bytes cannot tell, so it is never guessed).
        #[arg(long, value_enum, default_value_t = I2sLayoutArg::Group128)]
        i2s_layout: I2sLayoutArg,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Print the summary as JSON on stdout: {"tensor", "type", "shape", "elements", "to",
        /// "bytes", "output"} (no progress bar).
        #[arg(long)]
        json: bool,
    },
    /// The showcase: synthesize the tiny BitNet model in I2_S (seed 42) into a temporary file,
    /// load it with automatic placement (GPU if present), cross-validate it against cpp_ref
    /// (feature `crossval`), transcode it losslessly to TQ2_0 and check every value, and print a
    /// report. No arguments, no network, a few seconds.
    #[command(after_help = EXIT_CODES_HELP)]
    Demo {
        /// Print the report as one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compare the Rust loader with the C++ reference cpp_ref, tensor by tensor and bit for bit
    /// (needs the feature `crossval`).
    #[command(after_help = crossval::EXIT_HELP)]
    Crossval(crossval::CrossvalArgs),
    /// Write a deterministic synthetic BitNet-architecture model (weights ternary x scale, so
    /// every ternary format holds them exactly). Seed: --seed, else $BITNET_SEED, else 42.
    #[command(after_help = EXIT_CODES_HELP)]
    Synth(synth::SynthArgs),
    /// Quantize a model's linear-layer weights to a ternary type (i2_s, tl1, tl2, tq1_0, tq2_0)
    /// or an upstream type; ternary inputs are transcoded losslessly, norms and other tensors
    /// are kept, and the embeddings change only with --embeddings. Prints a per-tensor report.
    #[command(after_help = EXIT_CODES_HELP)]
    Quantize(quantize::QuantizeArgs),
    /// Check a model: it loads and every tensor decodes; with --reference, per-tensor accuracy
    /// (cosine similarity, relative RMSE, max abs error of the weights and of W·x with a seeded
    /// x) against the tensors of the same names, gated at cosine >= 0.99.
    #[command(after_help = validate::EXIT_HELP)]
    Validate(validate::ValidateArgs),
    /// Load a model with the progressive loader (placement strategy, output type, read mode),
    /// with a progress bar, then print the per-device summary, fallbacks, time and peak memory.
    #[command(after_help = EXIT_CODES_HELP)]
    Load(load::LoadArgs),
    /// Measure dequantization speed on this machine: bitgguf on one thread and on all threads
    /// against real ggml's to_float (when found) and the streaming-store bandwidth, measured
    /// side by side; prints the ratio table (docs/PERFORMANCE.md) and any floor not met.
    #[command(after_help = EXIT_CODES_HELP)]
    Bench(bench::BenchArgs),
}

/// `--to` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum To {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (round to nearest even).
    F16,
    /// bfloat16 (round to nearest even, as ggml).
    Bf16,
}

impl From<To> for bitgguf::quant::output::OutType {
    fn from(t: To) -> Self {
        match t {
            To::F32 => Self::F32,
            To::F16 => Self::F16,
            To::Bf16 => Self::Bf16,
        }
    }
}

/// `--i2s-layout` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum I2sLayoutArg {
    /// 128-element blocks of 32 bytes (x86, the published files, every converter).
    Group128,
    /// 64-element blocks of 16 bytes (bitnet.cpp on ARM since 2025-11).
    Group64,
}

/// Build the codec options of `dequant` from its flags.
fn codec_options(
    tl_config: Option<String>,
    tl_preset: Option<String>,
    i2s_layout: I2sLayoutArg,
) -> Result<bitgguf::model::codec::CodecOptions, CliError> {
    use bitgguf::model::codec::{CodecOptions, TlPresetName};
    use bitgguf::quant::bitnet::I2sLayout;
    let mut c = CodecOptions {
        i2s_layout: match i2s_layout {
            I2sLayoutArg::Group128 => I2sLayout::Group128,
            I2sLayoutArg::Group64 => I2sLayout::Group64,
        },
        ..CodecOptions::default()
    };
    if let Some(t) = tl_config {
        c.tl_config = Some(
            synth::parse_tl_config(&t)
                .map_err(|m| CliError::Lib(Error::new(Status::InvalidParameter, format!("--tl-config: {m}"))))?,
        );
    }
    if let Some(p) = tl_preset {
        c.tl_preset = Some(TlPresetName::parse(&p)?);
    }
    Ok(c)
}

/// `--type-policy` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Policy {
    /// Decide per tensor from the layout and the producer's metadata.
    Auto,
    /// Upstream ggml numbering (39 = MXFP4, 36-38 removed).
    Upstream,
    /// BitNet fork numbering (36 = I2_S, 38 = TL1, 39 = TL2).
    Bitnet,
}

impl From<Policy> for TypePolicy {
    fn from(p: Policy) -> TypePolicy {
        match p {
            Policy::Auto => TypePolicy::Auto,
            Policy::Upstream => TypePolicy::Upstream,
            Policy::Bitnet => TypePolicy::Bitnet,
        }
    }
}

/// A failure of a subcommand: either a library error or an I/O error of the tool itself.
#[derive(Debug)]
pub enum CliError {
    /// The library refused (or could not read) the input.
    Lib(Error),
    /// Writing output or a temporary file failed.
    Io(String, io::Error),
}

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        CliError::Lib(e)
    }
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Lib(e) => match e.status() {
                Status::Io | Status::OutOfMemory => EXIT_IO,
                Status::ReferenceMismatch => EXIT_CHECK,
                _ => EXIT_INVALID,
            },
            CliError::Io(..) => EXIT_IO,
        }
    }
}

/// Wrap an I/O error of the tool's own output.
pub fn out_err(e: io::Error) -> CliError {
    CliError::Io("cannot write the output".into(), e)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are "errors" too; clap prints them and picks the code
            // (0 for help/version, 2 for usage errors).
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(if code == 0 { 0 } else { EXIT_USAGE });
        }
    };
    let result = match cli.command {
        Command::Inspect { file, json, no_mmap, type_policy } => {
            inspect::run(&file, json, !no_mmap, type_policy.into())
        }
        Command::Dequant {
            file,
            tensor,
            to,
            output,
            no_mmap,
            type_policy,
            tl_config,
            tl_preset,
            i2s_layout,
            quiet,
            json,
        } => codec_options(tl_config, tl_preset, i2s_layout).and_then(|c| {
            let show = dequant::Show { quiet, json };
            dequant::run(&file, &tensor, to.into(), &output, !no_mmap, type_policy.into(), c, show)
        }),
        Command::Demo { json } => match demo::run(json) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Command::Crossval(args) => return crossval::main(args),
        Command::Synth(args) => synth::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Validate(args) => match validate::run(args) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Command::Load(args) => load::run(&args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Io(_, e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            // The reader went away (`bitgguf inspect f | head`): not an error.
            ExitCode::SUCCESS
        }
        Err(err) => {
            let _ = io::stdout().flush();
            match &err {
                CliError::Lib(e) => {
                    eprintln!("bitgguf: error: {} [status {} {:?}]", e.message(), e.status() as u32, e.status())
                }
                CliError::Io(what, e) => eprintln!("bitgguf: error: {what}: {e}"),
            }
            ExitCode::from(err.exit_code())
        }
    }
}
