//! Output files that never destroy what is not ours.
//!
//! Every file the library and the CLI write (converted models, synthetic models, dequantized
//! tensors) goes through [`OutFile`]:
//! - a regular destination (or a new one) is written as `<dest>.partial` and renamed over
//!   `<dest>` only when complete, so a failed or cancelled write leaves the old file intact and
//!   no half-written file behind;
//! - a destination that exists and is not a regular file — `/dev/null`, another character or
//!   block device, a FIFO, a socket — is written in place and is never removed, renamed over
//!   or synced. (Renaming `<dest>.partial` over `/dev/null`, or removing `/dev/null` after an
//!   error, would replace the machine's `/dev/null` with a regular file: every later reader of
//!   `/dev/null` then reads whatever was last written to it.)
//! - a destination that is a symbolic link is resolved first, so the link stays a link and its
//!   target receives the data.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Status};

fn io_err(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(Status::Io, format!("{}: cannot {what}: {e}", path.display()))
}

/// How an [`OutFile`] reaches its destination.
#[derive(Debug)]
enum Mode {
    /// Written to `tmp`, renamed over `dest` by [`OutFile::commit`].
    Atomic { tmp: PathBuf },
    /// Written to `dest` itself (a device, FIFO or socket): never removed, renamed or synced.
    InPlace,
}

/// An output file being written; see the module docs. Dropped uncommitted, it removes its
/// partial file (and nothing else).
#[derive(Debug)]
pub struct OutFile {
    dest: PathBuf,
    mode: Mode,
    committed: bool,
}

impl OutFile {
    /// Open the destination for writing; returns the guard and the file to write into.
    pub fn create(dest: impl AsRef<Path>) -> Result<(OutFile, File)> {
        let given = dest.as_ref();
        // Follow a symbolic link so the link survives and its target gets the data.
        let dest = match std::fs::symlink_metadata(given) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(given).map_err(|e| io_err(given, "resolve the symbolic link of the output", e))?
            }
            _ => given.to_path_buf(),
        };
        match std::fs::metadata(&dest) {
            Ok(m) if m.is_dir() => {
                return Err(Error::new(
                    Status::Io,
                    format!("{}: the output is a directory; expected a file path", dest.display()),
                ))
            }
            Ok(m) if !m.is_file() => {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&dest)
                    .map_err(|e| io_err(&dest, "open the output for writing", e))?;
                return Ok((OutFile { dest, mode: Mode::InPlace, committed: false }, f));
            }
            _ => {}
        }
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let f = File::create(&tmp).map_err(|e| io_err(&tmp, "create the output", e))?;
        Ok((OutFile { dest, mode: Mode::Atomic { tmp }, committed: false }, f))
    }

    /// The path the bytes are going to now (`<dest>.partial` until committed), for messages.
    pub fn writing_path(&self) -> &Path {
        match &self.mode {
            Mode::Atomic { tmp } => tmp,
            Mode::InPlace => &self.dest,
        }
    }

    /// The final destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// True when the destination is written in place (a device, FIFO or socket).
    pub fn in_place(&self) -> bool {
        matches!(self.mode, Mode::InPlace)
    }

    /// Finish: sync the written file (regular files only) and rename it over the destination.
    /// `f` is the file [`create`](Self::create) returned, flushed by the caller.
    pub fn commit(mut self, f: File) -> Result<()> {
        let result = match &self.mode {
            Mode::InPlace => Ok(()),
            Mode::Atomic { tmp } => f.sync_all().map_err(|e| io_err(tmp, "sync", e)).and_then(|()| {
                drop(f);
                std::fs::rename(tmp, &self.dest).map_err(|e| io_err(&self.dest, "rename the finished output onto", e))
            }),
        };
        // On success there is no partial file left; on failure Drop removes it.
        self.committed = result.is_ok();
        result
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let (false, Mode::Atomic { tmp }) = (self.committed, &self.mode) {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileTypeExt;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn regular_destination_is_replaced_only_on_commit() {
        let d = dir();
        let dest = d.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        let (o, mut f) = OutFile::create(&dest).unwrap();
        assert_eq!(o.writing_path(), d.path().join("out.bin.partial"));
        f.write_all(b"new bytes").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        o.commit(f).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new bytes");
        assert!(!d.path().join("out.bin.partial").exists());
    }

    #[test]
    fn dropped_uncommitted_keeps_the_old_file_and_removes_the_partial() {
        let d = dir();
        let dest = d.path().join("out.bin");
        std::fs::write(&dest, b"old").unwrap();
        let (o, mut f) = OutFile::create(&dest).unwrap();
        f.write_all(b"half").unwrap();
        drop(o);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert!(!d.path().join("out.bin.partial").exists());
    }

    #[test]
    fn dev_null_stays_a_character_device() {
        let null = Path::new("/dev/null");
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
        // Committed ...
        let (o, mut f) = OutFile::create(null).unwrap();
        assert!(o.in_place());
        assert_eq!(o.writing_path(), null);
        f.write_all(b"discarded").unwrap();
        o.commit(f).unwrap();
        // ... and dropped after a failure.
        let (o, mut f) = OutFile::create(null).unwrap();
        f.write_all(b"discarded").unwrap();
        drop(o);
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
        assert!(!Path::new("/dev/null.partial").exists());
    }

    #[test]
    fn symlink_survives_and_its_target_gets_the_data() {
        let d = dir();
        let target = d.path().join("target.bin");
        let link = d.path().join("link.bin");
        std::fs::write(&target, b"old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (o, mut f) = OutFile::create(&link).unwrap();
        f.write_all(b"new").unwrap();
        o.commit(f).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn directory_destination_is_an_error_naming_it() {
        let d = dir();
        let e = OutFile::create(d.path()).unwrap_err();
        assert_eq!(e.status(), Status::Io);
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
