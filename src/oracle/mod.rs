//! External oracles loaded at run time, never linked or copied: real ggml's `libggml-base.so`
//! (from the Python package `libggml-python`). `crossval` uses it as its third leg and
//! `bitgguf bench` as the speed reference; both find it through `BG_GGML_LIB` or a path given
//! explicitly.

pub mod ggml;
