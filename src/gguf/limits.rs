//! Resource limits applied while parsing, all configurable through the load options.
//!
//! gguf.cpp caps strings at 1 GiB and arrays at 1 Gi elements and has no alignment bound; those
//! caps let a 160-byte file demand a 1 GiB allocation (ggml #1516) and an alignment of 2^31 wrap
//! 32-bit arithmetic (reference/gguf-ggml.md §3). Our defaults are tighter but still far above
//! any real model (the largest real metadata string, a chat template, is about 100 KB; the
//! largest array, a tokenizer vocabulary, about 300k entries).

/// Parser limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes in one string (key, value, array element or tensor name). Default 64 MiB.
    pub max_string_len: u64,
    /// Maximum elements in one array. Default 2^30 (gguf.cpp's cap).
    pub max_array_len: u64,
    /// Maximum string elements over all string arrays together (each costs 8 bytes of offset
    /// table). Default 2^26 (64 Mi).
    pub max_total_strings: u64,
    /// Maximum number of tensors. Default 2^20.
    pub max_tensors: u64,
    /// Maximum number of metadata key/value pairs. Default 2^20.
    pub max_kv: u64,
    /// Maximum `general.alignment`. Default 1 MiB (every real file uses 32).
    pub max_alignment: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_string_len: 64 << 20,
            max_array_len: 1 << 30,
            max_total_strings: 1 << 26,
            max_tensors: 1 << 20,
            max_kv: 1 << 20,
            max_alignment: 1 << 20,
        }
    }
}

/// The default alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// gguf.cpp's `GGML_MAX_NAME`: tensor names must be shorter than this.
pub const MAX_NAME: u64 = 64;
/// `GGML_MAX_DIMS`.
pub const MAX_DIMS: u32 = 4;
