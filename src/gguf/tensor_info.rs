//! The tensor-info section (reference/gguf-ggml.md §1.4, §1.8 rules 14–22).
//!
//! This stage reads names, shapes, raw on-disk type ids and offsets. Resolving the type (the
//! contested ids 36–39 need the whole layout) and checking sizes and offsets happen in
//! [`super::layout`].

use std::collections::HashMap;

use super::kv::read_string;
use super::limits::{Limits, MAX_DIMS, MAX_NAME};
use super::reader::Reader;
use crate::error::{Error, Result, Status};
use crate::types::TypeId;

/// One tensor info, as parsed and then resolved.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    /// Range of the name (NUL-terminated copy) in the index's name arena.
    pub(crate) name: (usize, usize),
    /// Absolute offset of this tensor info in the file.
    pub(crate) info_pos: u64,
    /// The type id as written in the file.
    pub(crate) disk_type: u32,
    /// The resolved API type id (set by the layout stage).
    pub(crate) ty: TypeId,
    /// Number of dimensions as written (0..=4).
    pub(crate) n_dims: u32,
    /// Dimensions, ne[0] innermost; missing dimensions are 1.
    pub(crate) ne: [u64; 4],
    /// Element count.
    pub(crate) n_elements: u64,
    /// Offset relative to the data section.
    pub(crate) offset: u64,
    /// Byte size (set by the layout stage).
    pub(crate) nbytes: u64,
}

/// The parsed tensor-info section.
#[derive(Debug, Default)]
pub struct TensorSection {
    pub(crate) entries: Vec<TensorEntry>,
    pub(crate) by_name: HashMap<Box<str>, u32>,
}

/// Parse `n` tensor infos. Names (NUL-terminated) are appended to `arena`.
pub fn read_tensor_infos(r: &mut Reader<'_>, n: u64, limits: &Limits, arena: &mut String) -> Result<TensorSection> {
    let mut sec =
        TensorSection { entries: Vec::with_capacity(n as usize), by_name: HashMap::with_capacity(n as usize) };
    for i in 0..n {
        let info_pos = r.pos();
        let name_bytes = read_string(r, limits, &|| format!("the name of tensor #{i}"))?;
        let name = std::str::from_utf8(name_bytes).map_err(|e| {
            Error::new(
                Status::InvalidTensorName,
                format!(
                    "tensor #{i} at byte {info_pos}: name is not valid UTF-8 ({e}): '{}'",
                    String::from_utf8_lossy(name_bytes)
                ),
            )
        })?;
        if name_bytes.len() as u64 >= MAX_NAME {
            return Err(Error::new(
                Status::TensorNameTooLong,
                format!(
                    "tensor #{i} at byte {info_pos}: name '{name}' is {} bytes; names must be shorter than {MAX_NAME} bytes",
                    name_bytes.len()
                ),
            ));
        }
        if name.contains('\0') {
            return Err(Error::new(
                Status::InvalidTensorName,
                format!("tensor #{i} at byte {info_pos}: name '{}' contains a NUL byte", name.escape_default()),
            ));
        }
        if let Some(&first) = sec.by_name.get(name) {
            return Err(Error::new(
                Status::DuplicateTensor,
                format!(
                    "tensor #{i} at byte {info_pos}: name '{name}' duplicates tensor #{first} at byte {}",
                    sec.entries[first as usize].info_pos
                ),
            ));
        }
        let what = |field: &str| format!("the {field} of tensor '{name}'");
        let nd_pos = r.pos();
        let n_dims = r.u32(&|| what("n_dims"))?;
        if n_dims > MAX_DIMS {
            return Err(Error::new(
                Status::BadDimCount,
                format!("tensor '{name}' (tensor info at byte {info_pos}): n_dims at byte {nd_pos} is {n_dims}; at most {MAX_DIMS}"),
            ));
        }
        let mut ne = [1u64; 4];
        for (j, d) in ne.iter_mut().enumerate().take(n_dims as usize) {
            let dpos = r.pos();
            let v = r.u64(&|| format!("ne[{j}] of tensor '{name}'"))?;
            if v > i64::MAX as u64 {
                return Err(Error::new(
                    Status::BadDimension,
                    format!(
                        "tensor '{name}' (tensor info at byte {info_pos}): ne[{j}] at byte {dpos} is {} as a signed \
                         64-bit integer; dimensions must be in [0, 2^63)",
                        v as i64
                    ),
                ));
            }
            *d = v;
        }
        let n_elements = crate::types::element_count(&ne).ok_or_else(|| {
            Error::new(
                Status::ElementCountOverflow,
                format!("tensor '{name}' (tensor info at byte {info_pos}): shape {ne:?} has more than 2^63-1 elements"),
            )
        })?;
        let disk_type = r.u32(&|| what("type"))?;
        let offset = r.u64(&|| what("offset"))?;
        sec.by_name.insert(name.into(), i as u32);
        let start = arena.len();
        arena.push_str(name);
        arena.push('\0');
        sec.entries.push(TensorEntry {
            name: (start, name.len()),
            info_pos,
            disk_type,
            ty: u32::MAX,
            n_dims,
            ne,
            n_elements,
            offset,
            nbytes: 0,
        });
    }
    Ok(sec)
}
