//! The fixed GGUF header: magic, version, tensor count, key/value count
//! (reference/gguf-ggml.md §1.1, §1.2, §1.8 rules 1–5).

use super::limits::Limits;
use super::reader::Reader;
use crate::error::{Error, Result, Status};

/// The GGUF magic, as bytes.
pub const MAGIC: [u8; 4] = *b"GGUF";

/// The fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// Number of tensor infos.
    pub n_tensors: u64,
    /// Number of key/value pairs.
    pub n_kv: u64,
}

/// Minimum serialized size of one key/value pair: key length (8) + one key byte + value type
/// (4) + the smallest value (1).
pub const MIN_KV_BYTES: u64 = 8 + 1 + 4 + 1;
/// Minimum serialized size of one tensor info: name length (8) + n_dims (4) + type (4) +
/// offset (8).
pub const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

fn printable(b: &[u8]) -> String {
    b.iter().map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '?' }).collect()
}

/// Read and check the header.
pub fn read_header(r: &mut Reader<'_>, limits: &Limits) -> Result<Header> {
    let magic = r.take(4, &|| "the magic".into())?;
    if magic != MAGIC {
        let hint = if magic == b"FUGG" {
            " (\"FUGG\" is the magic some tools write for big-endian files, which are not supported)"
        } else {
            ""
        };
        return Err(Error::new(
            Status::BadMagic,
            format!(
                "bad magic at byte 0: found '{}' ({:02x} {:02x} {:02x} {:02x}), expected 'GGUF'{hint}",
                printable(magic),
                magic[0],
                magic[1],
                magic[2],
                magic[3]
            ),
        ));
    }
    let version = r.u32(&|| "the version".into())?;
    if version == 0 {
        return Err(Error::new(Status::UnsupportedVersion, "version at byte 4 is 0; expected 2 or 3"));
    }
    if version & 0xFFFF == 0 {
        return Err(Error::new(
            Status::BigEndian,
            format!(
                "version at byte 4 reads as {version:#010x} (= {} byte-swapped): this is a big-endian \
                 GGUF file, which is not supported; convert it with gguf-py's gguf_convert_endian",
                version.swap_bytes()
            ),
        ));
    }
    if version == 1 {
        return Err(Error::new(
            Status::VersionOneUnsupported,
            "version at byte 4 is 1: GGUF v1 (32-bit counts) is no longer supported, as in \
             llama.cpp; re-convert the model to GGUF v3",
        ));
    }
    if version > 3 {
        return Err(Error::new(
            Status::UnsupportedVersion,
            format!("version at byte 4 is {version}; this reader supports versions 2 and 3"),
        ));
    }
    let n_tensors = r.u64(&|| "the tensor count".into())?;
    let n_kv = r.u64(&|| "the key/value count".into())?;
    // Counts are checked against what the rest of the input could possibly hold before
    // anything is allocated for them.
    let rest = r.remaining();
    let kv_cap = (rest / MIN_KV_BYTES).min(limits.max_kv);
    if n_kv > kv_cap {
        return Err(Error::new(
            Status::KvCountTooLarge,
            format!(
                "key/value count at byte 16 is {n_kv}, but at most {kv_cap} fit (limit {}, {rest} bytes \
                 left, each pair at least {MIN_KV_BYTES} bytes)",
                limits.max_kv
            ),
        ));
    }
    let tensor_cap = (rest.saturating_sub(n_kv * MIN_KV_BYTES) / MIN_TENSOR_INFO_BYTES).min(limits.max_tensors);
    if n_tensors > tensor_cap {
        return Err(Error::new(
            Status::TensorCountTooLarge,
            format!(
                "tensor count at byte 8 is {n_tensors}, but at most {tensor_cap} fit (limit {}, {rest} \
                 bytes left, each tensor info at least {MIN_TENSOR_INFO_BYTES} bytes)",
                limits.max_tensors
            ),
        ));
    }
    Ok(Header { version, n_tensors, n_kv })
}
