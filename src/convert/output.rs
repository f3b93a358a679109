//! The converter's output file: laid out up front by [`GgufWriter::plan`] (metadata and tensor
//! infos from the planned types and shapes) and written tensor by tensor through [`GgufStream`],
//! so only one tensor is in memory at a time. The file goes through [`OutFile`]: written as
//! `<out>.partial` and renamed over `<out>` only when complete (a device such as `/dev/null` is
//! written in place); on error, or when dropped unfinished, the partial file is removed.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::error::{Error, Result, Status};
use crate::gguf::writer::{GgufStream, TensorSpec};
use crate::gguf::{GgufWriter, OwnedValue};
use crate::outfile::OutFile;

/// A GGUF file being written tensor by tensor.
pub struct StreamingGguf {
    stream: GgufStream<BufWriter<File>>,
    out: OutFile,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(Status::Io, format!("{}: cannot {what}: {e}", path.display()))
}

impl StreamingGguf {
    /// Create `<dest>.partial` and write the header: `kvs` in order (a `general.alignment`
    /// among them is replaced by `alignment`, written last when it is not the default 32), then
    /// the tensor infos of `specs`.
    pub fn create(
        dest: &Path,
        kvs: &[(String, OwnedValue)],
        specs: &[TensorSpec],
        alignment: u64,
    ) -> Result<StreamingGguf> {
        let mut w = GgufWriter::new();
        let mut had_alignment = false;
        for (k, v) in kvs {
            if k == "general.alignment" {
                had_alignment = true;
            } else {
                w.kv(k.clone(), v.clone());
            }
        }
        if had_alignment || alignment != 32 {
            let a = u32::try_from(alignment).map_err(|_| {
                Error::new(Status::AlignmentTooLarge, format!("alignment {alignment} does not fit u32"))
            })?;
            w.alignment(a);
        }
        let plan = w.plan(specs)?;
        let (out, f) = OutFile::create(dest)?;
        let stream = GgufStream::new(BufWriter::with_capacity(1 << 20, f), plan)
            .map_err(|e| e.context(out.writing_path().display()))?;
        Ok(StreamingGguf { stream, out })
    }

    /// Write the next tensor's bytes (exactly its planned size; the padding follows).
    pub fn write_tensor(&mut self, data: &[u8]) -> Result<()> {
        let s = &mut self.stream;
        let i = s.current_tensor();
        let want = s.plan().tensors.get(i).map(|t| t.nbytes);
        if want != Some(data.len() as u64) {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("tensor #{i}: {} bytes produced, {want:?} planned", data.len()),
            ));
        }
        s.write(data).map_err(|e| e.context(self.out.writing_path().display()))
    }

    /// Flush, sync and rename over the destination; returns the file size.
    pub fn finish(self) -> Result<u64> {
        let StreamingGguf { stream, out } = self;
        let size = stream.plan().file_size;
        let w = stream.finish().map_err(|e| e.context(out.writing_path().display()))?;
        let f = w.into_inner().map_err(|e| io_err(out.writing_path(), "write", e.into_error()))?;
        out.commit(f)?;
        Ok(size)
    }
}
