//! Split (sharded) models as written by llama.cpp's gguf-split (reference/gguf-ggml.md §1.11):
//! files named `<prefix>-NNNNN-of-MMMMM.gguf` (1-based, five digits), each carrying `split.no`
//! (u16, 0-based), `split.count` (u16) and `split.tensors.count` (i32, the total).
//!
//! llama.cpp reads these keys with exact types and aborts on a mismatch; we accept any integer
//! type whose value fits and fail with [`Status::SplitMismatch`] otherwise.

use std::path::{Path, PathBuf};

use super::Gguf;
use crate::error::{Error, Result, Status};

/// The split keys of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitInfo {
    /// 0-based shard number.
    pub no: u16,
    /// Number of shards.
    pub count: u16,
    /// Total number of tensors over all shards, when present.
    pub tensors_count: Option<u64>,
}

fn int_key(view: &Gguf<'_>, key: &str, max: u64) -> Result<Option<u64>> {
    let Some(i) = view.find_kv(key) else { return Ok(None) };
    let kv = view.kv(i);
    match kv.value.as_u64() {
        Some(v) if v <= max => Ok(Some(v)),
        _ => Err(Error::new(
            Status::SplitMismatch,
            format!("key '{key}' at byte {} is {:?}; expected an integer in 0..={max}", kv.pos, kv.value),
        )),
    }
}

/// The split keys of a file, or `None` when it is not a shard (no `split.count`, or a count of
/// 0 or 1 with `split.no` 0).
pub fn split_info(view: &Gguf<'_>) -> Result<Option<SplitInfo>> {
    let count = int_key(view, "split.count", u16::MAX as u64)?;
    let no = int_key(view, "split.no", u16::MAX as u64)?;
    let tensors_count = int_key(view, "split.tensors.count", i32::MAX as u64)?;
    let Some(count) = count else {
        if no.is_some() {
            return Err(Error::new(Status::SplitMismatch, "key 'split.no' is present but 'split.count' is missing"));
        }
        return Ok(None);
    };
    let no = no.unwrap_or(0);
    if count == 0 || no >= count {
        return Err(Error::new(
            Status::SplitMismatch,
            format!("split.no = {no} and split.count = {count}: need 0 <= split.no < split.count"),
        ));
    }
    if count == 1 {
        return Ok(None);
    }
    Ok(Some(SplitInfo { no: no as u16, count: count as u16, tensors_count }))
}

/// Split a shard file name into its prefix, 1-based shard number and count:
/// `"/m/model-00002-of-00003.gguf"` → `("/m/model", 2, 3)`.
pub fn parse_shard_name(path: &Path) -> Option<(String, u32, u32)> {
    let s = path.to_str()?;
    let stem = s.strip_suffix(".gguf")?.as_bytes();
    // "-NNNNN-of-MMMMM" is 15 bytes. Work on bytes: the cut may fall inside a multi-byte
    // character of a non-ASCII name (slicing the str there would panic).
    if stem.len() < 15 {
        return None;
    }
    let (prefix, tail) = stem.split_at(stem.len() - 15);
    if tail[0] != b'-' || &tail[6..10] != b"-of-" {
        return None;
    }
    let digits = |t: &[u8]| -> Option<u32> {
        t.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32))
    };
    let no = digits(&tail[1..6])?;
    let count = digits(&tail[10..15])?;
    // The tail is ASCII, so the prefix ends on a character boundary.
    Some((std::str::from_utf8(prefix).ok()?.to_string(), no, count))
}

/// The path of shard `no` (0-based) of `count`, as llama.cpp names them.
pub fn shard_path(prefix: &str, no: u32, count: u32) -> PathBuf {
    PathBuf::from(format!("{prefix}-{:05}-of-{count:05}.gguf", no + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names() {
        assert_eq!(parse_shard_name(Path::new("/a/m-00002-of-00003.gguf")), Some(("/a/m".into(), 2, 3)));
        assert_eq!(parse_shard_name(Path::new("m-0002-of-00003.gguf")), None);
        assert_eq!(parse_shard_name(Path::new("m.gguf")), None);
        assert_eq!(parse_shard_name(Path::new("éééééééééé.gguf")), None);
        assert_eq!(parse_shard_name(Path::new("modèle-00001-of-00002.gguf")), Some(("modèle".into(), 1, 2)));
        assert_eq!(shard_path("/a/m", 0, 3), PathBuf::from("/a/m-00001-of-00003.gguf"));
    }
}
