//! The converter's output file: laid out up front by [`GgufWriter::plan`] (metadata and tensor
//! infos from the planned types and shapes) and written tensor by tensor through [`GgufStream`],
//! so only one tensor is in memory at a time. The file is written as `<out>.partial` and renamed
//! over `<out>` only when complete; on error (or when dropped unfinished) the partial file is
//! removed.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Status};
use crate::gguf::writer::{GgufStream, TensorSpec};
use crate::gguf::{GgufWriter, OwnedValue};

/// A GGUF file being written tensor by tensor.
pub struct StreamingGguf {
    stream: Option<GgufStream<BufWriter<File>>>,
    tmp: PathBuf,
    dest: PathBuf,
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
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let f = File::create(&tmp).map_err(|e| io_err(&tmp, "create the output", e))?;
        let stream = GgufStream::new(BufWriter::with_capacity(1 << 20, f), plan).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            e.context(tmp.display())
        })?;
        Ok(StreamingGguf { stream: Some(stream), tmp, dest: dest.to_path_buf() })
    }

    /// Write the next tensor's bytes (exactly its planned size; the padding follows).
    pub fn write_tensor(&mut self, data: &[u8]) -> Result<()> {
        let s = self.stream.as_mut().expect("open until finished");
        let i = s.current_tensor();
        let want = s.plan().tensors.get(i).map(|t| t.nbytes);
        if want != Some(data.len() as u64) {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("tensor #{i}: {} bytes produced, {want:?} planned", data.len()),
            ));
        }
        s.write(data).map_err(|e| e.context(self.tmp.display()))
    }

    /// Flush, sync and rename over the destination; returns the file size.
    pub fn finish(mut self) -> Result<u64> {
        let s = self.stream.take().expect("open until finished");
        let size = s.plan().file_size;
        let result = s.finish().and_then(|w| {
            let f = w.into_inner().map_err(|e| io_err(&self.tmp, "write", e.into_error()))?;
            f.sync_all().map_err(|e| io_err(&self.tmp, "sync", e))?;
            drop(f);
            std::fs::rename(&self.tmp, &self.dest).map_err(|e| io_err(&self.dest, "rename the finished output onto", e))
        });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        Ok(size)
    }
}

impl Drop for StreamingGguf {
    fn drop(&mut self) {
        if self.stream.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
