//! The C ABI: the only place that exports `extern "C"` functions (`crossval::cref` only imports
//! cpp_ref's). Every export runs inside the one panic boundary ([`boundary`]); fallible ones
//! return `bg_status` and record a detailed message for `bg_last_error_message`. Outputs are
//! written only on success. The header `include/bitgguf.h` is generated from these files by
//! cbindgen.
#![allow(non_camel_case_types)]

mod boundary;
pub mod crossval;
pub mod cuda;
pub mod dequant;
mod handles;
pub mod load;
pub mod meta;
pub mod placement;
pub mod progress;
pub mod quantize;
pub mod status;
pub mod tensor;
pub mod types;
pub mod version;

pub use handles::{bg_load_options, bg_model};
