//! The GGUF file format: safe Rust over `&[u8]`.
//!
//! [`parse`] reads the header, metadata and tensor infos of one GGUF file and checks the layout;
//! it returns a [`GgufIndex`] that records *where* things are and owns no file bytes. A
//! [`Gguf`] view pairs an index with the bytes it was parsed from and hands out borrowed
//! metadata values, names and tensor data. Tensor bytes are never touched while parsing.
//!
//! The accept/reject rules are those of llama.cpp's `gguf.cpp` (reference/gguf-ggml.md §1.8),
//! plus: checked u64 arithmetic everywhere, caps on counts, strings, arrays and alignment
//! ([`Limits`]), keys and tensor names that are valid UTF-8 without NUL bytes, and every
//! tensor's data inside the file.

pub mod header;
pub mod kv;
pub mod layout;
pub mod limits;
pub mod reader;
pub mod split;
pub mod tensor_info;
pub mod value;
pub mod writer;

use crate::error::{Error, Result, Status};
use crate::types::{self, TypeInfo, TypePolicy};

pub use limits::Limits;
pub use value::{ArrayView, OwnedValue, Value, ValueType};
pub use writer::GgufWriter;

use kv::KvSection;
use reader::Reader;
use tensor_info::TensorSection;

/// Options for [`parse`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Resource limits.
    pub limits: Limits,
    /// How the contested type ids 36–39 are read.
    pub type_policy: TypePolicy,
}

/// The parsed structure of one GGUF file: positions, not bytes.
#[derive(Debug)]
pub struct GgufIndex {
    version: u32,
    alignment: u64,
    data_offset: u64,
    file_len: u64,
    kv: KvSection,
    tensors: TensorSection,
    /// NUL-terminated copies of every key and tensor name.
    arena: String,
}

/// Parse one GGUF file from its bytes.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<GgufIndex> {
    let limits = &opts.limits;
    let mut r = Reader::new(bytes);
    let hdr = header::read_header(&mut r, limits)?;
    let mut arena = String::new();
    let kv = kv::read_kvs(&mut r, hdr.n_kv, limits, &mut arena)?;

    let mut index = GgufIndex {
        version: hdr.version,
        alignment: limits::DEFAULT_ALIGNMENT,
        data_offset: 0,
        file_len: bytes.len() as u64,
        kv,
        tensors: TensorSection::default(),
        arena,
    };
    let (alignment, hints) = {
        let view = Gguf { bytes, index: &index };
        (read_alignment(&view, limits)?, producer_hints(&view))
    };
    index.alignment = alignment;

    let mut tensors = tensor_info::read_tensor_infos(&mut r, hdr.n_tensors, limits, &mut index.arena)?;
    index.data_offset = layout::resolve(
        &mut tensors.entries,
        &index.arena,
        alignment,
        r.pos(),
        bytes.len() as u64,
        opts.type_policy,
        &hints,
    )?;
    index.tensors = tensors;
    Ok(index)
}

fn read_alignment(view: &Gguf<'_>, limits: &Limits) -> Result<u64> {
    let Some(i) = view.find_kv("general.alignment") else {
        return Ok(limits::DEFAULT_ALIGNMENT);
    };
    let kv = view.kv(i);
    let pos = view.index.kv.entries[i].data_pos;
    let a = match kv.value {
        Value::U32(a) => a as u64,
        other => {
            return Err(Error::new(
                Status::AlignmentType,
                format!(
                    "key 'general.alignment' at byte {} must be of type uint32 but is {}",
                    view.index.kv.entries[i].pos,
                    other.value_type().name()
                ),
            ))
        }
    };
    if a == 0 || !a.is_power_of_two() {
        return Err(Error::new(
            Status::AlignmentNotPowerOfTwo,
            format!("general.alignment at byte {pos} is {a}; it must be a non-zero power of two"),
        ));
    }
    if a > limits.max_alignment {
        return Err(Error::new(
            Status::AlignmentTooLarge,
            format!("general.alignment at byte {pos} is {a}, above the limit of {}", limits.max_alignment),
        ));
    }
    Ok(a)
}

fn producer_hints(view: &Gguf<'_>) -> layout::ProducerHints {
    let arch = view
        .find_kv("general.architecture")
        .and_then(|i| view.kv(i).value.as_str_bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned());
    layout::ProducerHints {
        bitnet_architecture: arch.as_deref().is_some_and(|a| a.to_ascii_lowercase().contains("bitnet")),
        architecture: arch,
        file_type: view.find_kv("general.file_type").and_then(|i| view.kv(i).value.as_u64()),
    }
}

/// A metadata key/value pair, borrowed from the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kv<'a> {
    /// The key (valid UTF-8, no NUL).
    pub key: &'a str,
    /// The key as a NUL-terminated C string (pointer valid as long as the index).
    pub key_c: &'a [u8],
    /// The value.
    pub value: Value<'a>,
    /// Absolute offset of the pair in the file.
    pub pos: u64,
}

/// A tensor's description, borrowed from the index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorInfo<'a> {
    /// The name (valid UTF-8, no NUL, < 64 bytes).
    pub name: &'a str,
    /// The name with its terminating NUL.
    pub name_c: &'a [u8],
    /// The resolved type.
    pub ty: &'static TypeInfo,
    /// The type id as written in the file.
    pub disk_type: u32,
    /// Number of dimensions as written.
    pub n_dims: u32,
    /// Dimensions, ne[0] innermost; unused ones are 1.
    pub ne: [u64; 4],
    /// Element count.
    pub n_elements: u64,
    /// Offset relative to the data section.
    pub offset: u64,
    /// Byte size.
    pub n_bytes: u64,
    /// Absolute offset of the tensor info in the file.
    pub info_pos: u64,
}

impl GgufIndex {
    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }
    /// The alignment in effect.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }
    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }
    /// Length of the input that was parsed.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }
    /// Number of metadata pairs.
    pub fn kv_count(&self) -> usize {
        self.kv.entries.len()
    }
    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.tensors.entries.len()
    }
    /// Index of a key.
    pub fn find_kv(&self, key: &str) -> Option<usize> {
        self.kv.by_key.get(key).map(|&i| i as usize)
    }
    /// Index of a tensor.
    pub fn find_tensor(&self, name: &str) -> Option<usize> {
        self.tensors.by_name.get(name).map(|&i| i as usize)
    }
    /// Tensor `i`'s description (panics when out of range; callers check `tensor_count`).
    pub fn tensor(&self, i: usize) -> TensorInfo<'_> {
        let t = &self.tensors.entries[i];
        let (a, n) = t.name;
        TensorInfo {
            name: &self.arena[a..a + n],
            name_c: &self.arena.as_bytes()[a..a + n + 1],
            ty: types::info(t.ty).expect("resolved type"),
            disk_type: t.disk_type,
            n_dims: t.n_dims,
            ne: t.ne,
            n_elements: t.n_elements,
            offset: t.offset,
            n_bytes: t.nbytes,
            info_pos: t.info_pos,
        }
    }
    /// Pair this index with the bytes it was parsed from.
    ///
    /// `bytes` must be the same input given to [`parse`]; a different one gives wrong values but
    /// never reads out of bounds (every access is slice-checked).
    pub fn view<'a>(&'a self, bytes: &'a [u8]) -> Gguf<'a> {
        Gguf { bytes, index: self }
    }
}

/// A parsed GGUF file together with its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Gguf<'a> {
    bytes: &'a [u8],
    index: &'a GgufIndex,
}

impl<'a> Gguf<'a> {
    /// The index.
    pub fn index(&self) -> &'a GgufIndex {
        self.index
    }
    /// The whole input.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Number of metadata pairs.
    pub fn kv_count(&self) -> usize {
        self.index.kv_count()
    }
    /// Index of a key.
    pub fn find_kv(&self, key: &str) -> Option<usize> {
        self.index.find_kv(key)
    }
    /// Pair `i` (panics when out of range).
    pub fn kv(&self, i: usize) -> Kv<'a> {
        let e = &self.index.kv.entries[i];
        let (a, n) = e.key;
        let start = e.data_pos as usize;
        let data = &self.bytes[start..start + e.data_len as usize];
        let value = match e.ty {
            ValueType::String => Value::String(data),
            ValueType::Array => Value::Array(ArrayView {
                elem: e.elem,
                len: e.count,
                data,
                str_offsets: if e.elem == ValueType::String {
                    &self.index.kv.str_offsets[e.str_first..e.str_first + e.count as usize]
                } else {
                    &[]
                },
            }),
            ty => Value::scalar(ty, data),
        };
        Kv { key: &self.index.arena[a..a + n], key_c: &self.index.arena.as_bytes()[a..a + n + 1], value, pos: e.pos }
    }
    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.find_kv(key).map(|i| self.kv(i).value)
    }
    /// Iterate over the metadata.
    pub fn kvs(&self) -> impl Iterator<Item = Kv<'a>> + '_ {
        (0..self.kv_count()).map(move |i| self.kv(i))
    }
    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.index.tensor_count()
    }
    /// Tensor `i`'s description (panics when out of range).
    pub fn tensor(&self, i: usize) -> TensorInfo<'a> {
        self.index.tensor(i)
    }
    /// Tensor `i`'s bytes (panics when out of range). The layout stage proved they are inside
    /// the input.
    pub fn tensor_data(&self, i: usize) -> &'a [u8] {
        let t = &self.index.tensors.entries[i];
        let start = (self.index.data_offset + t.offset) as usize;
        &self.bytes[start..start + t.nbytes as usize]
    }
}
