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
        let align = self.alignment.unwrap_or(DEFAULT_ALIGNMENT);
        if align == 0 || !align.is_power_of_two() {
            return Err(Error::new(Status::AlignmentNotPowerOfTwo, format!("alignment {align} is not a power of two")));
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        put_u32(&mut out, 3);
        put_u64(&mut out, self.tensors.len() as u64);
        put_u64(&mut out, self.kvs.len() as u64);
        for (k, v) in &self.kvs {
            put_str(&mut out, k.as_bytes());
            put_u32(&mut out, v.value_type() as u32);
            put_value(&mut out, v)?;
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for t in &self.tensors {
            let ti = types::info(t.ty).ok_or_else(|| {
                Error::new(Status::UnknownType, format!("tensor '{}': unknown type id {}", t.name, t.ty))
            })?;
            if t.ne.is_empty() || t.ne.len() > 4 {
                return Err(Error::new(Status::BadDimCount, format!("tensor '{}': {} dimensions", t.name, t.ne.len())));
            }
            let mut ne = [1u64; 4];
            ne[..t.ne.len()].copy_from_slice(&t.ne);
            let n = ti.nbytes(&ne).map_err(|e| {
                Error::new(
                    Status::BadShapeForType,
                    format!("tensor '{}': shape {:?} invalid for {}: {e:?}", t.name, t.ne, ti.name),
                )
            })?;
            if n != t.data.len() as u64 {
                return Err(Error::new(
                    Status::InvalidParameter,
                    format!("tensor '{}': {} bytes given, {} {} needs {n}", t.name, t.data.len(), ti.name, ti.name),
                ));
            }
            put_str(&mut out, t.name.as_bytes());
            put_u32(&mut out, t.ne.len() as u32);
            for d in &t.ne {
                put_u64(&mut out, *d);
            }
            put_u32(&mut out, ti.disk_id);
            put_u64(&mut out, offset);
            offsets.push(offset);
            offset = align_up(offset + n, align).expect("in-memory sizes fit");
        }
        if !self.tensors.is_empty() {
            let start = align_up(out.len() as u64, align).expect("fits") as usize;
            out.resize(start, 0);
            for (t, off) in self.tensors.iter().zip(offsets) {
                out.resize(start + off as usize, 0);
                out.extend_from_slice(&t.data);
            }
            let end = start + offset as usize;
            out.resize(end, 0);
        }
        Ok(out)
    }

    /// Serialize to a writer.
    pub fn write_to(&self, w: &mut impl Write) -> Result<()> {
        w.write_all(&self.to_bytes()?)?;
        Ok(())
    }
}
