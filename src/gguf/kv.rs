//! The key/value (metadata) section (reference/gguf-ggml.md §1.3, §1.8 rules 6–13).
//!
//! Values are not copied: each entry records where its bytes are. String arrays get one offset
//! per element in a table shared by the whole file, so a 262k-token vocabulary costs one
//! allocation, not 262k.

use std::collections::HashMap;

use super::limits::Limits;
use super::reader::{le_u64, Reader};
use super::value::ValueType;
use crate::error::{Error, Result, Status};

/// Where one key/value pair lives in the file.
#[derive(Debug, Clone)]
pub struct KvEntry {
    /// Range of the key (NUL-terminated copy) in the index's name arena.
    pub(crate) key: (usize, usize),
    /// Absolute offset of the key's length prefix.
    pub(crate) pos: u64,
    /// The value type.
    pub(crate) ty: ValueType,
    /// Absolute offset of the value (for arrays: of the first element).
    pub(crate) data_pos: u64,
    /// Length of the value's bytes (strings: without the length prefix; arrays: all elements).
    pub(crate) data_len: u64,
    /// Arrays: element type.
    pub(crate) elem: ValueType,
    /// Arrays: element count.
    pub(crate) count: u64,
    /// String arrays: index of the first element's offset in the shared offset table.
    pub(crate) str_first: usize,
}

/// The parsed metadata section.
#[derive(Debug, Default)]
pub struct KvSection {
    pub(crate) entries: Vec<KvEntry>,
    pub(crate) by_key: HashMap<Box<str>, u32>,
    /// Offsets (relative to each array's first byte) of every string-array element.
    pub(crate) str_offsets: Vec<u64>,
}

fn check_string_len(len: u64, limits: &Limits, pos: u64, what: &dyn Fn() -> String) -> Result<()> {
    if len > limits.max_string_len {
        return Err(Error::new(
            Status::StringTooLong,
            format!("{} at byte {pos} has length {len}, above the limit of {} bytes", what(), limits.max_string_len),
        ));
    }
    Ok(())
}

/// Read a GGUF string (u64 length + bytes), checking the length against the limit and the
/// remaining input before touching the bytes.
pub(crate) fn read_string<'a>(r: &mut Reader<'a>, limits: &Limits, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
    let pos = r.pos();
    let len = r.u64(&|| format!("the length of {}", what()))?;
    check_string_len(len, limits, pos, what)?;
    r.take(len, what)
}

fn value_type(raw: u32, pos: u64, key: &str, ctx: &str) -> Result<ValueType> {
    ValueType::from_u32(raw).ok_or_else(|| {
        Error::new(
            Status::BadValueType,
            format!("key '{key}': {ctx} type at byte {pos} is {raw} (as i32: {}); expected 0..=12", raw as i32),
        )
    })
}

/// Parse `n_kv` key/value pairs. Keys (NUL-terminated) are appended to `arena`.
pub fn read_kvs(r: &mut Reader<'_>, n_kv: u64, limits: &Limits, arena: &mut String) -> Result<KvSection> {
    let mut sec = KvSection {
        entries: Vec::with_capacity(n_kv as usize),
        by_key: HashMap::with_capacity(n_kv as usize),
        str_offsets: Vec::new(),
    };
    let mut total_strings: u64 = 0;
    for i in 0..n_kv {
        let pos = r.pos();
        let key_bytes = read_string(r, limits, &|| format!("key #{i}"))?;
        if key_bytes.is_empty() {
            return Err(Error::new(Status::EmptyKey, format!("key #{i} at byte {pos} is empty")));
        }
        let key = std::str::from_utf8(key_bytes).map_err(|e| {
            Error::new(
                Status::InvalidKey,
                format!("key #{i} at byte {pos} is not valid UTF-8 ({e}): '{}'", String::from_utf8_lossy(key_bytes)),
            )
        })?;
        if key.contains('\0') {
            return Err(Error::new(
                Status::InvalidKey,
                format!("key #{i} at byte {pos} contains a NUL byte: '{}'", key.escape_default()),
            ));
        }
        if let Some(&first) = sec.by_key.get(key) {
            let first_pos = sec.entries[first as usize].pos;
            return Err(Error::new(
                Status::DuplicateKey,
                format!("key #{i} '{key}' at byte {pos} duplicates key #{first} at byte {first_pos}"),
            ));
        }
        let type_pos = r.pos();
        let ty = value_type(r.u32(&|| format!("the value type of key '{key}'"))?, type_pos, key, "value")?;
        let mut e = KvEntry {
            key: (arena.len(), key.len()),
            pos,
            ty,
            data_pos: 0,
            data_len: 0,
            elem: ty,
            count: 1,
            str_first: 0,
        };
        match ty {
            ValueType::String => {
                let s = read_string(r, limits, &|| format!("the value of key '{key}'"))?;
                e.data_pos = r.pos() - s.len() as u64;
                e.data_len = s.len() as u64;
            }
            ValueType::Array => {
                let epos = r.pos();
                let elem =
                    value_type(r.u32(&|| format!("the element type of key '{key}'"))?, epos, key, "array element")?;
                if elem == ValueType::Array {
                    return Err(Error::new(
                        Status::NestedArray,
                        format!("key '{key}': array at byte {epos} has arrays as elements, which are not supported (as in gguf.cpp)"),
                    ));
                }
                let cpos = r.pos();
                let count = r.u64(&|| format!("the element count of key '{key}'"))?;
                if count > limits.max_array_len {
                    return Err(Error::new(
                        Status::ArrayTooLong,
                        format!(
                            "key '{key}': array at byte {cpos} has {count} elements, above the limit of {}",
                            limits.max_array_len
                        ),
                    ));
                }
                e.elem = elem;
                e.count = count;
                e.data_pos = r.pos();
                match elem.fixed_size() {
                    Some(size) => {
                        // count <= max_array_len (< 2^61) so this cannot overflow, but check anyway.
                        let n = count.checked_mul(size).ok_or_else(|| {
                            Error::new(Status::ArrayTooLong, format!("key '{key}': array byte size overflows"))
                        })?;
                        r.skip(n, &|| format!("the {count} {} elements of key '{key}'", elem.name()))?;
                        e.data_len = n;
                    }
                    None => {
                        // Strings: at least 8 bytes each; check before reserving the offsets.
                        if count > r.remaining() / 8 {
                            return Err(Error::new(
                                Status::Truncated,
                                format!(
                                    "truncated: key '{key}' declares {count} strings at byte {cpos}, but only {} bytes \
                                     remain (each string needs at least 8)",
                                    r.remaining()
                                ),
                            ));
                        }
                        total_strings += count;
                        if total_strings > limits.max_total_strings {
                            return Err(Error::new(
                                Status::MetadataTooLarge,
                                format!(
                                    "key '{key}' at byte {pos} brings the number of array strings to {total_strings}, above the \
                                     limit of {}",
                                    limits.max_total_strings
                                ),
                            ));
                        }
                        e.str_first = sec.str_offsets.len();
                        sec.str_offsets.reserve(count as usize);
                        // The hot loop of every tokenizer (262k strings for Gemma): an inlined
                        // fast path; anything unusual goes through `read_string` for its error.
                        let base = e.data_pos;
                        let bytes = r.bytes();
                        let mut pos = r.pos() as usize;
                        for j in 0..count {
                            let rest = bytes.len() - pos;
                            let len = if rest >= 8 { le_u64(bytes, pos) } else { u64::MAX };
                            if len > limits.max_string_len || rest < 8 || len > (rest - 8) as u64 {
                                r.seek(pos as u64, &|| "a string".into())?;
                                let err = read_string(r, limits, &|| format!("string #{j} of key '{key}'")).err();
                                return Err(err.unwrap_or_else(|| {
                                    Error::new(
                                        Status::Truncated,
                                        format!("string #{j} of key '{key}' at byte {pos} is invalid"),
                                    )
                                }));
                            }
                            sec.str_offsets.push(pos as u64 - base);
                            pos += 8 + len as usize;
                        }
                        r.seek(pos as u64, &|| "the end of a string array".into())?;
                        e.data_len = r.pos() - base;
                    }
                }
            }
            _ => {
                let size = ty.fixed_size().expect("scalar");
                e.data_pos = r.pos();
                e.data_len = size;
                r.skip(size, &|| format!("the {} value of key '{key}'", ty.name()))?;
            }
        }
        arena.push_str(key);
        arena.push('\0');
        sec.by_key.insert(key.into(), i as u32);
        sec.entries.push(e);
    }
    Ok(sec)
}
