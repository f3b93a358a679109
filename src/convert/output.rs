//! Streaming GGUF output: the header (metadata and tensor infos, with offsets computed from the
//! planned types and shapes) is written first, then each tensor's bytes as they are produced,
//! so only one tensor is in memory at a time. The file is written as `<out>.partial` and renamed
//! over `<out>` only when complete; on error the partial file is removed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Status};
use crate::gguf::layout::align_up;
use crate::gguf::{GgufWriter, OwnedValue};
use crate::types::{self, TypeId};

/// One tensor of the output, planned before any data is written.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTensor {
    /// Name.
    pub name: String,
    /// API type id.
    pub ty: TypeId,
    /// Dimensions as in the input (n_dims of them).
    pub ne: Vec<u64>,
    /// Byte size for the type and shape.
    pub nbytes: u64,
}

impl PlannedTensor {
    /// Plan a tensor, computing its byte size (an error names the tensor when the shape does not
    /// fit the type).
    pub fn new(name: &str, ty: TypeId, ne: &[u64]) -> Result<PlannedTensor> {
        let ti = types::info(ty)
            .ok_or_else(|| Error::new(Status::UnknownType, format!("tensor '{name}': unknown type id {ty}")))?;
        let mut full = [1u64; 4];
        full[..ne.len()].copy_from_slice(ne);
        let nbytes = ti.nbytes(&full).map_err(|e| {
            Error::new(
                Status::BadShapeForType,
                format!("tensor '{name}': shape {ne:?} cannot be stored as {}: {e:?}", ti.name),
            )
        })?;
        Ok(PlannedTensor { name: name.into(), ty, ne: ne.to_vec(), nbytes })
    }
}

/// A GGUF file being written tensor by tensor.
pub struct StreamingGguf {
    w: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
    tensors: Vec<PlannedTensor>,
    next: usize,
    alignment: u64,
    written: u64,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(Status::Io, format!("{}: cannot {what}: {e}", path.display()))
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

impl StreamingGguf {
    /// Create `<dest>.partial` and write the header: `kvs` in order, then the tensor infos.
    /// `alignment` must equal the `general.alignment` in `kvs` (32 when absent).
    pub fn create(
        dest: &Path,
        kvs: &[(String, OwnedValue)],
        tensors: Vec<PlannedTensor>,
        alignment: u64,
    ) -> Result<StreamingGguf> {
        let mut meta = GgufWriter::new();
        for (k, v) in kvs {
            meta.kv(k.clone(), v.clone());
        }
        // The writer serializes the header and metadata; with no tensors that is all it writes.
        let mut header = meta.to_bytes()?;
        header[8..16].copy_from_slice(&(tensors.len() as u64).to_le_bytes());
        let mut offset = 0u64;
        for t in &tensors {
            let ti = types::info(t.ty).expect("planned types exist");
            put_str(&mut header, t.name.as_bytes());
            header.extend_from_slice(&(t.ne.len() as u32).to_le_bytes());
            for d in &t.ne {
                header.extend_from_slice(&d.to_le_bytes());
            }
            header.extend_from_slice(&ti.disk_id.to_le_bytes());
            header.extend_from_slice(&offset.to_le_bytes());
            offset = align_up(offset + t.nbytes, alignment)
                .ok_or_else(|| Error::new(Status::DataSizeOverflow, "the output's data section overflows"))?;
        }
        let start = align_up(header.len() as u64, alignment).expect("small") as usize;
        header.resize(start, 0);
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let f = File::create(&tmp).map_err(|e| io_err(&tmp, "create the output", e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        w.write_all(&header).map_err(|e| io_err(&tmp, "write", e))?;
        Ok(StreamingGguf {
            w: Some(w),
            tmp,
            dest: dest.to_path_buf(),
            tensors,
            next: 0,
            alignment,
            written: header.len() as u64,
        })
    }

    /// Write the next tensor's bytes (exactly its planned size), then the alignment padding.
    pub fn write_tensor(&mut self, data: &[u8]) -> Result<()> {
        let t = self.tensors.get(self.next).ok_or_else(|| {
            Error::new(
                Status::InvalidParameter,
                format!("all {} planned tensors were already written", self.tensors.len()),
            )
        })?;
        if data.len() as u64 != t.nbytes {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("tensor '{}': {} bytes produced, {} planned", t.name, data.len(), t.nbytes),
            ));
        }
        let pad = (align_up(t.nbytes, self.alignment).expect("planned") - t.nbytes) as usize;
        let w = self.w.as_mut().expect("open until finished");
        w.write_all(data).map_err(|e| io_err(&self.tmp, "write", e))?;
        w.write_all(&vec![0u8; pad]).map_err(|e| io_err(&self.tmp, "write", e))?;
        self.written += (data.len() + pad) as u64;
        self.next += 1;
        Ok(())
    }

    /// Flush, sync and rename over the destination; returns the file size.
    pub fn finish(mut self) -> Result<u64> {
        if self.next != self.tensors.len() {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("only {} of {} planned tensors were written", self.next, self.tensors.len()),
            ));
        }
        let w = self.w.take().expect("open until finished");
        let f = w.into_inner().map_err(|e| io_err(&self.tmp, "write", e.into_error()))?;
        f.sync_all().map_err(|e| io_err(&self.tmp, "sync", e))?;
        drop(f);
        if let Err(e) = std::fs::rename(&self.tmp, &self.dest) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(io_err(&self.dest, "rename the finished output onto", e));
        }
        Ok(self.written)
    }
}

impl Drop for StreamingGguf {
    fn drop(&mut self) {
        if self.w.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
