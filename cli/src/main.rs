//! `bitgguf`: inspect GGUF files and demonstrate the loader.
//!
//! ```text
//! bitgguf inspect FILE [--json] [--no-mmap] [--type-policy auto|upstream|bitnet]
//! bitgguf dequant FILE --tensor NAME [--to f32|f16|bf16] -o OUT
//! bitgguf demo
//! bitgguf load FILE [--strategy cpu|gpu|hybrid] [--vram-fraction F] [--to packed|f32|f16|bf16] [--no-mmap] [--quiet] [--json]
//! bitgguf crossval FILE [--json] [--sample N] [--allow-unsupported]   (feature `crossval`)
//! ```
//!
//! Exit codes (stable, also printed by `--help`):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | invalid file: the library rejected it (bad magic, truncated, bad layout, ...) |
//! | 2 | usage error (unknown option, missing argument) |
//! | 3 | I/O or system error: cannot open, stat, map or read the file, write the output or a temporary file |
//!
//! Errors print the library's detailed message (what, where, expected vs found) on stderr.

mod crossval;
mod demo;
mod dequant;
mod inspect;
mod json;
mod load;
mod text;

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

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  invalid file (the library rejected it; the message says what, where, expected vs found)
  2  usage error
  3  I/O or system error (cannot open/stat/map/read the file, write the output or a temp file)";

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
    },
    /// Write a small synthetic BitNet-style model to a temporary file, load it, print what was
    /// found, and delete it. No arguments, no network.
    #[command(after_help = EXIT_CODES_HELP)]
    Demo,
    /// Compare the Rust loader with the C++ reference cpp_ref, tensor by tensor and bit for bit
    /// (needs the feature `crossval`).
    #[command(after_help = crossval::EXIT_HELP)]
    Crossval(crossval::CrossvalArgs),
    /// Load a model with the progressive loader (placement strategy, output type, read mode),
    /// with a progress bar, then print the per-device summary, fallbacks, time and peak memory.
    #[command(after_help = EXIT_CODES_HELP)]
    Load(load::LoadArgs),
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
        Command::Dequant { file, tensor, to, output, no_mmap, type_policy } => {
            dequant::run(&file, &tensor, to.into(), &output, !no_mmap, type_policy.into())
        }
        Command::Demo => demo::run(),
        Command::Crossval(args) => return crossval::main(args),
        Command::Load(args) => load::run(&args),
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
