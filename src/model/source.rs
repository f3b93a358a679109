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
use std::os::unix::fs::FileExt;
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
    /// The progressive loader's read mode: an anonymous, page-aligned mapping as long as the
    /// file (zero pages cost nothing until written), into which the header is read at open
    /// and each tensor's bytes by `pread` as the loader reaches it ([`Source::fill`]).
    /// Bytes not read yet are zeros.
    Sparse { map: memmap2::MmapMut, file: File, filled: usize },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Mapped(m) => write!(f, "Mapped({} bytes)", m.len()),
            Inner::Owned { len, .. } => write!(f, "Owned({len} bytes)"),
            Inner::Sparse { map, filled, .. } => write!(f, "Sparse({} bytes, {filled} read at open)", map.len()),
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
            Inner::Mapped(_) | Inner::Sparse { .. } => unreachable!("only owned sources are written here"),
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

    /// Open `path` for the read mode (see `Inner::Sparse`): map anonymous memory as long as
    /// the file and read its first `prefix` bytes (at most the file).
    pub fn sparse(path: &Path, prefix: usize) -> Result<Source> {
        let file = File::open(path).map_err(|e| io_err(path, "open", e))?;
        let len = file.metadata().map_err(|e| io_err(path, "stat", e))?.len();
        let len = usize::try_from(len).map_err(|_| {
            Error::new(Status::OutOfMemory, format!("{}: {len} bytes do not fit in memory", path.display()))
        })?;
        if len == 0 {
            return Ok(Source::zeroed(0));
        }
        let map = memmap2::MmapMut::map_anon(len).map_err(|e| {
            Error::new(Status::OutOfMemory, format!("{}: cannot reserve {len} bytes: {e}", path.display()))
        })?;
        let mut s = Source(Inner::Sparse { map, file, filled: 0 });
        s.read_prefix(prefix, path)?;
        Ok(s)
    }

    /// For a sparse source: read the file's bytes up to `upto` (at most its length) if not
    /// read yet. Other sources: nothing to do.
    pub fn read_prefix(&mut self, upto: usize, path: &Path) -> Result<()> {
        if let Inner::Sparse { map, filled, .. } = &self.0 {
            let upto = upto.min(map.len());
            if upto > *filled {
                let start = *filled;
                self.fill(start, upto - start).map_err(|e| e.context(path.display()))?;
                if let Inner::Sparse { filled, .. } = &mut self.0 {
                    *filled = upto;
                }
            }
        }
        Ok(())
    }

    /// Bytes of the file read at open (the whole length for the other sources).
    pub fn prefix_len(&self) -> usize {
        match &self.0 {
            Inner::Sparse { filled, .. } => *filled,
            _ => self.bytes().len(),
        }
    }

    /// True for a sparse source (the read mode).
    pub fn is_sparse(&self) -> bool {
        matches!(self.0, Inner::Sparse { .. })
    }

    /// True for a file mapping.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Inner::Mapped(_))
    }

    /// For a sparse source: read `len` bytes at `offset` of the file into place with `pread`
    /// (a short read means the file shrank: `Status::Io` naming the offset). Other sources
    /// already hold every byte: nothing to do.
    pub fn fill(&mut self, offset: usize, len: usize) -> Result<()> {
        let Inner::Sparse { map, file, .. } = &mut self.0 else { return Ok(()) };
        let end = offset.checked_add(len).filter(|&e| e <= map.len()).ok_or_else(|| {
            Error::new(Status::InvalidParameter, format!("range {offset}+{len} is outside the file ({})", map.len()))
        })?;
        let mut pos = offset;
        while pos < end {
            // At most 1 GiB per call (Linux caps a read at about 2 GiB).
            let n = (end - pos).min(1 << 30);
            match file.read_at(&mut map[pos..pos + n], pos as u64) {
                Ok(0) => {
                    return Err(Error::new(
                        Status::Io,
                        format!(
                            "the file ended at byte {pos} while reading bytes {offset}..{end}: it was truncated \
                             after it was opened"
                        ),
                    ))
                }
                Ok(k) => pos += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::new(Status::Io, format!("cannot read bytes {pos}..{end}: {e}"))),
            }
        }
        Ok(())
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.0 {
            Inner::Mapped(m) => m,
            Inner::Sparse { map, .. } => map,
            Inner::Owned { lines, len } => {
                // SAFETY: as in `owned_mut`.
                unsafe { std::slice::from_raw_parts(lines.as_ptr().cast::<u8>(), *len) }
            }
        }
    }
}
