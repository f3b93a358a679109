//! # bitgguf
//!
//! A hardened, zero-copy GGUF loader with a C ABI, for every ggml quantization type and the
//! BitNet b1.58 ternary formats I2_S, TL1 and TL2.
//!
//! Data flows one way: bytes → [`gguf`] (parse, validate structure) → [`model`] (the loaded
//! file or shards, config, tensor roles) → [`placement`] (a plan: which device holds each
//! tensor) → [`load`] (materialize per plan, through [`quant`] and [`device`]) → the caller.
//! `ffi` wraps that pipeline for C; nothing under it knows about C. Around it: [`convert`]
//! (quantize, transcode), [`synth`] (synthetic models), [`validate`] (accuracy), `crossval`
//! (the C++ reference, feature `crossval`), [`bench`] (what `bitgguf bench` measures).
//!
//! ```
//! use bitgguf::gguf::{GgufWriter, OwnedValue};
//! use bitgguf::{LoadOptions, Model};
//!
//! let mut w = GgufWriter::new();
//! w.kv("general.architecture", OwnedValue::str("llama"));
//! w.tensor("t", 0, &[2, 2], vec![0u8; 16]);
//! let model = Model::from_bytes(&w.to_bytes()?, &LoadOptions::default())?;
//! assert_eq!(model.tensor(0).unwrap().info.name, "t");
//! # Ok::<(), bitgguf::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bench;
pub mod convert;
#[cfg(feature = "crossval")]
pub mod crossval;
pub mod device;
pub mod error;
pub mod ffi;
pub mod gguf;
pub mod load;
pub mod model;
pub mod oracle;
pub mod outfile;
pub mod placement;
pub mod quant;
pub mod synth;
pub mod types;
pub mod validate;

pub use error::{Error, Result, Status};
pub use gguf::{Gguf, GgufWriter, Limits, ParseOptions};
pub use model::{LoadOptions, Model};
pub use types::TypePolicy;
