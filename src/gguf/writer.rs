//! A GGUF v3 writer: metadata of every value type, tensors of any type, any power-of-two
//! alignment. Offsets are laid out exactly as gguf.cpp requires (running sum of padded sizes),
//! padding is zero bytes. Used by tests, `synth` and `quantize`.

use std::io::Write;

use super::layout::align_up;
use super::limits::DEFAULT_ALIGNMENT;
use super::value::{OwnedValue, ValueType};
use crate::error::{Error, Result, Status};
use crate::types::{self, TypeId};

/// One tensor to write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterTensor {
    /// Name (< 64 bytes).
    pub name: String,
    /// API type id.
    pub ty: TypeId,
    /// Dimensions, ne[0] first (1 to 4 of them).
    pub ne: Vec<u64>,
    /// The tensor's bytes (exactly the type's byte size for the shape).
    pub data: Vec<u8>,
}

/// A tensor's name, type and shape, without its data (for [`GgufWriter::plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Name (< 64 bytes).
    pub name: String,
    /// API type id.
    pub ty: TypeId,
    /// Dimensions, `ne[0]` first (1 to 4 of them).
    pub ne: Vec<u64>,
}

impl TensorSpec {
    /// The tensor's byte size for its type and shape (checked).
    pub fn nbytes(&self) -> Result<u64> {
        let ti = types::info(self.ty).ok_or_else(|| {
            Error::new(Status::UnknownType, format!("tensor '{}': unknown type id {}", self.name, self.ty))
        })?;
        if self.ne.is_empty() || self.ne.len() > 4 {
            return Err(Error::new(
                Status::BadDimCount,
                format!("tensor '{}': {} dimensions", self.name, self.ne.len()),
            ));
        }
        let mut ne = [1u64; 4];
        ne[..self.ne.len()].copy_from_slice(&self.ne);
        ti.nbytes(&ne).map_err(|e| {
            Error::new(
                Status::BadShapeForType,
                format!("tensor '{}': shape {:?} invalid for {}: {e:?}", self.name, self.ne, ti.name),
            )
        })
    }
}

/// Where one tensor goes in a planned file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedTensor {
    /// Offset relative to the data section.
    pub offset: u64,
    /// Byte size.
    pub nbytes: u64,
}

/// A file laid out before any tensor data exists: see [`GgufWriter::plan`], written with
/// [`GgufStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    /// Header, metadata and tensor infos, zero-padded to the start of the data section.
    pub header: Vec<u8>,
    /// Each tensor's place, in order.
    pub tensors: Vec<PlannedTensor>,
    /// Bytes of the data section (the last tensor padded to the alignment).
    pub data_size: u64,
    /// Bytes of the whole file.
    pub file_size: u64,
    /// The alignment.
    pub alignment: u64,
}

/// Writes a [`StreamPlan`]'s file to any [`Write`] without holding the tensors: the header
/// first, then each tensor's bytes in order, in pieces of any size; the padding between tensors
/// is written when a tensor is complete. The sizes are checked: too many bytes for a tensor, or
/// [`GgufStream::finish`] before every tensor is complete, is an error.
#[derive(Debug)]
pub struct GgufStream<W: Write> {
    w: W,
    plan: StreamPlan,
    /// The tensor being written.
    cur: usize,
    /// Bytes of it written so far.
    done: u64,
    /// Bytes of the file written so far.
    pos: u64,
}

impl<W: Write> GgufStream<W> {
    /// Write the header and get ready for the first tensor's bytes.
    pub fn new(mut w: W, plan: StreamPlan) -> Result<GgufStream<W>> {
        w.write_all(&plan.header)?;
        let pos = plan.header.len() as u64;
        let mut s = GgufStream { w, plan, cur: 0, done: 0, pos };
        s.skip_empty()?;
        Ok(s)
    }

    /// The plan being written.
    pub fn plan(&self) -> &StreamPlan {
        &self.plan
    }

    /// Bytes of the file written so far (header and padding included).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Index of the tensor the next bytes belong to (`tensors.len()` when all are complete).
    pub fn current_tensor(&self) -> usize {
        self.cur
    }

    fn pad_to(&mut self, end: u64) -> Result<()> {
        const ZEROS: [u8; 256] = [0; 256];
        while self.pos < end {
            let k = (end - self.pos).min(ZEROS.len() as u64) as usize;
            self.w.write_all(&ZEROS[..k])?;
            self.pos += k as u64;
        }
        Ok(())
    }

    /// Complete zero-size tensors and pad after a complete one.
    fn skip_empty(&mut self) -> Result<()> {
        let start = self.plan.header.len() as u64;
        while let Some(t) = self.plan.tensors.get(self.cur).copied() {
            if self.done < t.nbytes {
                break;
            }
            self.cur += 1;
            self.done = 0;
            let next = self.plan.tensors.get(self.cur).map_or(self.plan.data_size, |n| n.offset);
            self.pad_to(start + next)?;
        }
        Ok(())
    }

    /// Append bytes of the current tensor (a piece may complete it and run into the next ones).
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let Some(t) = self.plan.tensors.get(self.cur).copied() else {
                return Err(Error::new(
                    Status::InvalidParameter,
                    format!("{} bytes written after the last tensor was complete", bytes.len()),
                ));
            };
            let k = (t.nbytes - self.done).min(bytes.len() as u64) as usize;
            self.w.write_all(&bytes[..k])?;
            self.pos += k as u64;
            self.done += k as u64;
            bytes = &bytes[k..];
            self.skip_empty()?;
        }
        Ok(())
    }

    /// Check that every tensor is complete, flush, and return the writer.
    pub fn finish(mut self) -> Result<W> {
        if let Some(t) = self.plan.tensors.get(self.cur) {
            return Err(Error::new(
                Status::InvalidParameter,
                format!(
                    "tensor {} of {} is incomplete: {} of its {} bytes written",
                    self.cur,
                    self.plan.tensors.len(),
                    self.done,
                    t.nbytes
                ),
            ));
        }
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Builds a GGUF v3 file in memory.
#[derive(Debug, Clone, Default)]
pub struct GgufWriter {
    kvs: Vec<(String, OwnedValue)>,
    tensors: Vec<WriterTensor>,
    alignment: Option<u64>,
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn put_value(out: &mut Vec<u8>, v: &OwnedValue) -> Result<()> {
    match v {
        OwnedValue::U8(x) => out.push(*x),
        OwnedValue::I8(x) => out.push(*x as u8),
        OwnedValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::U32(x) => put_u32(out, *x),
        OwnedValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::Bool(x) => out.push(*x as u8),
        OwnedValue::String(s) => put_str(out, s),
        OwnedValue::U64(x) => put_u64(out, *x),
        OwnedValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::Array(elem, items) => {
            if *elem == ValueType::Array {
                return Err(Error::new(Status::NestedArray, "the writer does not write arrays of arrays"));
            }
            put_u32(out, *elem as u32);
            put_u64(out, items.len() as u64);
            for it in items {
                if it.value_type() != *elem {
                    return Err(Error::new(
                        Status::TypeMismatch,
                        format!("array of {} holds a {}", elem.name(), it.value_type().name()),
                    ));
                }
                put_value(out, it)?;
            }
        }
    }
    Ok(())
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> GgufWriter {
        GgufWriter::default()
    }

    /// Set the alignment (written as `general.alignment`, u32). Default 32, not written.
    pub fn alignment(&mut self, a: u32) -> &mut GgufWriter {
        self.alignment = Some(a as u64);
        self.kvs.retain(|(k, _)| k != "general.alignment");
        self.kvs.push(("general.alignment".into(), OwnedValue::U32(a)));
        self
    }

    /// Add a metadata pair (keys are written in insertion order).
    pub fn kv(&mut self, key: impl Into<String>, value: OwnedValue) -> &mut GgufWriter {
        self.kvs.push((key.into(), value));
        self
    }

    /// Add a tensor (tensors are written in insertion order).
    pub fn tensor(&mut self, name: impl Into<String>, ty: TypeId, ne: &[u64], data: Vec<u8>) -> &mut GgufWriter {
        self.tensors.push(WriterTensor { name: name.into(), ty, ne: ne.to_vec(), data });
        self
    }

    /// Serialize to bytes. Fails when a tensor's data length does not match its type and shape,
    /// or a type cannot be written.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let specs: Vec<TensorSpec> =
            self.tensors.iter().map(|t| TensorSpec { name: t.name.clone(), ty: t.ty, ne: t.ne.clone() }).collect();
        let plan = self.plan(&specs)?;
        for (t, p) in self.tensors.iter().zip(&plan.tensors) {
            if p.nbytes != t.data.len() as u64 {
                return Err(Error::new(
                    Status::InvalidParameter,
                    format!("tensor '{}': {} bytes given, its type and shape need {}", t.name, t.data.len(), p.nbytes),
                ));
            }
        }
        let mut out = Vec::with_capacity(usize::try_from(plan.file_size).unwrap_or(0));
        let mut s = GgufStream::new(&mut out, plan)?;
        for t in &self.tensors {
            s.write(&t.data)?;
        }
        s.finish()?;
        Ok(out)
    }

    /// The file's layout for these tensors (without data): the header bytes (metadata of this
    /// writer, then one tensor info per spec, padded to the data section), each tensor's offset
    /// and size, and the file size. Tensors added with [`GgufWriter::tensor`] are not part of it.
    pub fn plan(&self, specs: &[TensorSpec]) -> Result<StreamPlan> {
        let align = self.alignment.unwrap_or(DEFAULT_ALIGNMENT);
        if align == 0 || !align.is_power_of_two() {
            return Err(Error::new(Status::AlignmentNotPowerOfTwo, format!("alignment {align} is not a power of two")));
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        put_u32(&mut out, 3);
        put_u64(&mut out, specs.len() as u64);
        put_u64(&mut out, self.kvs.len() as u64);
        for (k, v) in &self.kvs {
            put_str(&mut out, k.as_bytes());
            put_u32(&mut out, v.value_type() as u32);
            put_value(&mut out, v)?;
        }
        let too_big = || Error::new(Status::DataSizeOverflow, "the tensor data does not fit in 64 bits");
        let mut offset = 0u64;
        let mut tensors = Vec::with_capacity(specs.len());
        for t in specs {
            let n = t.nbytes()?;
            put_str(&mut out, t.name.as_bytes());
            put_u32(&mut out, t.ne.len() as u32);
            for d in &t.ne {
                put_u64(&mut out, *d);
            }
            put_u32(&mut out, types::info(t.ty).map_or(0, |ti| ti.disk_id));
            put_u64(&mut out, offset);
            tensors.push(PlannedTensor { offset, nbytes: n });
            offset = offset.checked_add(n).and_then(|e| align_up(e, align)).ok_or_else(too_big)?;
        }
        let data_start =
            if specs.is_empty() { out.len() as u64 } else { align_up(out.len() as u64, align).ok_or_else(too_big)? };
        out.resize(data_start as usize, 0);
        let file_size = data_start.checked_add(offset).ok_or_else(too_big)?;
        Ok(StreamPlan { header: out, tensors, data_size: offset, file_size, alignment: align })
    }

    /// Serialize to a writer.
    pub fn write_to(&self, w: &mut impl Write) -> Result<()> {
        w.write_all(&self.to_bytes()?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<TensorSpec> {
        vec![
            TensorSpec { name: "a".into(), ty: 0, ne: vec![3] },
            TensorSpec { name: "empty".into(), ty: 0, ne: vec![0] },
            TensorSpec { name: "b".into(), ty: 1, ne: vec![5, 2] },
        ]
    }

    #[test]
    fn streaming_equals_in_memory_in_any_pieces() {
        let mut w = GgufWriter::new();
        w.kv("general.architecture", OwnedValue::str("x"));
        let data: Vec<Vec<u8>> = vec![(0..12).collect(), vec![], (100..120).collect()];
        for (s, d) in specs().iter().zip(&data) {
            w.tensor(s.name.clone(), s.ty, &s.ne, d.clone());
        }
        let whole = w.to_bytes().unwrap();
        let mut meta = GgufWriter::new();
        meta.kv("general.architecture", OwnedValue::str("x"));
        let plan = meta.plan(&specs()).unwrap();
        assert_eq!(plan.file_size, whole.len() as u64);
        assert_eq!(plan.tensors.iter().map(|t| t.offset).collect::<Vec<_>>(), vec![0, 32, 32]);
        let all: Vec<u8> = data.concat();
        for piece in [1, 5, 32] {
            let mut s = GgufStream::new(Vec::new(), plan.clone()).unwrap();
            for c in all.chunks(piece) {
                s.write(c).unwrap();
            }
            assert_eq!(s.finish().unwrap(), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn streaming_checks_sizes() {
        let plan = GgufWriter::new().plan(&specs()).unwrap();
        let mut s = GgufStream::new(Vec::new(), plan.clone()).unwrap();
        s.write(&[0; 14]).unwrap();
        let e = s.finish().unwrap_err();
        assert!(e.message().contains("tensor 2 of 3 is incomplete: 2 of its 20 bytes"), "{e}");
        let mut s = GgufStream::new(Vec::new(), plan).unwrap();
        let e = s.write(&[0; 33]).unwrap_err();
        assert!(e.message().contains("1 bytes written after the last tensor"), "{e}");
        let bad = [TensorSpec { name: "q".into(), ty: 2, ne: vec![31] }];
        assert_eq!(GgufWriter::new().plan(&bad).unwrap_err().status(), Status::BadShapeForType);
    }
}
