//! A bounds-checked little-endian cursor over the file bytes.
//!
//! Every read checks the remaining length first and reports the absolute byte offset and the
//! field being read, so a truncated or lying file fails with a message such as
//! `truncated: needed 8 bytes for the length of key #3 at byte 1021, but the input ends at 1024`.

use crate::error::{Error, Result, Status};

/// A cursor over `bytes`, starting at absolute offset 0.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// The absolute offset of the next byte to read.
    #[inline]
    pub fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left after the cursor.
    #[inline]
    pub fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// The whole input.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    #[cold]
    fn truncated(&self, n: u64, what: &dyn Fn() -> String) -> Error {
        Error::new(
            Status::Truncated,
            format!(
                "truncated: needed {n} bytes for {} at byte {}, but the input ends at byte {}",
                what(),
                self.pos,
                self.bytes.len()
            ),
        )
    }

    /// Take the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(n, what));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    /// Skip `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<()> {
        self.take(n, what).map(|_| ())
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        if (N as u64) > self.remaining() {
            return Err(self.truncated(N as u64, what));
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }

    /// Read a little-endian u32.
    #[inline]
    pub fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        self.array::<4>(what).map(u32::from_le_bytes)
    }

    /// Read a little-endian u64.
    #[inline]
    pub fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    /// Move to an absolute offset that is at most the input's length.
    pub fn seek(&mut self, pos: u64, what: &dyn Fn() -> String) -> Result<()> {
        if pos > self.bytes.len() as u64 {
            let needed = pos - self.pos as u64;
            return Err(self.truncated(needed, what));
        }
        self.pos = pos as usize;
        Ok(())
    }
}

/// Read a little-endian u16 at `off` of `b` (caller guarantees bounds).
#[inline]
pub fn le_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Read a little-endian u32 at `off` of `b` (caller guarantees bounds).
#[inline]
pub fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Read a little-endian u64 at `off` of `b` (caller guarantees bounds).
#[inline]
pub fn le_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}
