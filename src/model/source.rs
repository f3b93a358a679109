//! Where a model's bytes live: a read-only memory map of the file (the one place that uses
//! `memmap2`), or an owned, 64-byte-aligned copy (loading from memory, or the no-mmap read mode).
//!
//! # The mmap hazard
//! A mapped file that another process truncates or rewrites while it is mapped can raise SIGBUS
//! on access or change under us. bitgguf maps read-only and re-checks the size after mapping,
//! but cannot prevent this; load with `use_mmap = false` (the read mode) for files that may
//! change while loaded.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result, Status};

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// The bytes of one file.
pub struct Source(Inner);

enum Inner {
    /// A read-only private mapping.
    Mapped(memmap2::Mmap),
    /// An owned copy in 64-byte-aligned storage; `len` bytes are valid.
    Owned { lines: Vec<Line>, len: usize },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Mapped(m) => write!(f, "Mapped({} bytes)", m.len()),
            Inner::Owned { len, .. } => write!(f, "Owned({len} bytes)"),
        }
    }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(Status::Io, format!("{}: cannot {what}: {e}", path.display()))
}

impl Source {
    /// Copy `bytes` into aligned owned storage.
    pub fn copy_of(bytes: &[u8]) -> Source {
        let mut s = Source::zeroed(bytes.len());
        s.owned_mut().copy_from_slice(bytes);
        s
    }

    fn zeroed(len: usize) -> Source {
        Source(Inner::Owned { lines: vec![Line([0; 64]); len.div_ceil(64)], len })
    }

    fn owned_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Inner::Owned { lines, len } => {
                let n = *len;
                // SAFETY: `Line` is 64 plain bytes with no padding, so `lines` is
                // `lines.len() * 64 >= n` initialized, contiguous bytes.
                unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<u8>(), n) }
            }
            Inner::Mapped(_) => unreachable!("mapped sources are read-only"),
        }
    }

    /// Map `path` read-only.
    pub fn map(path: &Path) -> Result<Source> {
        let file = File::open(path).map_err(|e| io_err(path, "open", e))?;
        let len = file.metadata().map_err(|e| io_err(path, "stat", e))?.len();
        if len == 0 {
            return Ok(Source::zeroed(0));
        }
        // SAFETY: the mapping is read-only and private. Mutation of the file by another process
        // while mapped is the documented hazard of mmap (see the module docs).
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| io_err(path, "map", e))?;
        let now = file.metadata().map_err(|e| io_err(path, "stat", e))?.len();
        if now != len || map.len() as u64 != len {
            return Err(Error::new(
                Status::Io,
                format!("{}: the file changed size while being mapped ({len} -> {now} bytes)", path.display()),
            ));
        }
        Ok(Source(Inner::Mapped(map)))
    }

    /// Read `path` into aligned owned storage (the no-mmap mode).
    pub fn read(path: &Path) -> Result<Source> {
        let mut file = File::open(path).map_err(|e| io_err(path, "open", e))?;
        let len = file.metadata().map_err(|e| io_err(path, "stat", e))?.len();
        let len = usize::try_from(len).map_err(|_| {
            Error::new(Status::OutOfMemory, format!("{}: {len} bytes do not fit in memory", path.display()))
        })?;
        let mut s = Source::zeroed(len);
        file.read_exact(s.owned_mut()).map_err(|e| io_err(path, "read", e))?;
        Ok(s)
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.0 {
            Inner::Mapped(m) => m,
            Inner::Owned { lines, len } => {
                // SAFETY: as in `owned_mut`.
                unsafe { std::slice::from_raw_parts(lines.as_ptr().cast::<u8>(), *len) }
            }
        }
    }
}
