//! The upload path of one device: a small ring of reused pinned staging buffers (each paired
//! with a device staging buffer of the same size), a copy stream and a compute stream.
//!
//! For each chunk of a tensor (whole blocks, at most [`CHUNK_BYTES`]): wait until the slot's
//! previous copy has left its pinned buffer, copy the host bytes into it (several threads for
//! large chunks; I2_S codes are validated in the same pass), queue the host → device copy on
//! the copy stream (after the kernel that last read the slot's device buffer), and, when
//! decoding, queue the kernel on the compute stream after that copy. So the host copy of chunk
//! k+1 overlaps the DMA of chunk k, which overlaps the kernel of chunk k-1. Packed uploads copy
//! straight into the destination allocation. Nothing waits at the end of a tensor: the next
//! tensor's chunks flow behind it; [`Stager::sync`] waits for everything.

use rayon::prelude::*;

use super::driver::Ctx;
use super::driver::{DeviceBuffer, Event, PinnedBuffer, Stream};
use super::kernels::{Module, Spec};
use crate::error::{Error, Result, Status};
use crate::quant::output::OutType;

/// Bytes per staging slot (default; `BG_CUDA_CHUNK_MB` overrides it).
pub const CHUNK_BYTES: usize = 8 << 20;
/// Slots in the ring.
pub const SLOTS: usize = 4;
/// Host copies larger than this are split across threads.
const PAR_COPY_MIN: usize = 1 << 20;

struct Slot {
    pinned: PinnedBuffer,
    dev: DeviceBuffer,
    /// Recorded on the copy stream after the slot's last host → device copy.
    copied: Event,
    /// Recorded on the compute stream after the last kernel that read `dev`.
    consumed: Event,
}

/// One device's staging ring, streams and kernels.
pub struct Stager {
    /// The device's context.
    pub ctx: Ctx,
    /// Host → device copies.
    pub copy: Stream,
    /// Kernels.
    pub compute: Stream,
    /// The loaded kernels.
    pub module: Module,
    /// Multiprocessors (grid sizing).
    pub sm_count: i32,
    slots: Vec<Slot>,
    next: usize,
    chunk: usize,
}

/// What to do with a chunk's bytes on the device.
#[derive(Clone, Copy)]
pub enum Sink<'a> {
    /// Copy them to `dst + offset` as they are.
    Packed {
        /// Device address of the whole tensor.
        dst: u64,
    },
    /// Decode them with `spec` into `dst` as `out`.
    Decode {
        /// The type's kernel.
        spec: &'a Spec,
        /// Device address of the whole decoded tensor.
        dst: u64,
        /// Output type.
        out: OutType,
        /// The kernel's scalar argument (I2_S: the scale).
        aux: f32,
    },
}

/// A host-side check run over each staged chunk (I2_S code validation): returns the offset of
/// the first bad byte within the chunk, if any.
pub type Check = fn(&[u8]) -> Option<usize>;

fn par_copy(dst: &mut [u8], src: &[u8], check: Option<Check>) -> Option<usize> {
    if src.len() < PAR_COPY_MIN {
        dst.copy_from_slice(src);
        return check.and_then(|c| c(dst));
    }
    // Pieces small enough to spread a chunk over every thread (a few each).
    let piece = (src.len() / (4 * rayon::current_num_threads())).clamp(64 << 10, 1 << 20) & !63;
    dst.par_chunks_mut(piece)
        .zip(src.par_chunks(piece))
        .enumerate()
        .filter_map(|(i, (d, s))| {
            d.copy_from_slice(s);
            check.and_then(|c| c(d)).map(|o| i * piece + o)
        })
        .min()
}

impl Stager {
    /// The ring for `ctx` (allocates `SLOTS` pinned and device buffers of the chunk size).
    pub fn new(ctx: Ctx) -> Result<Stager> {
        let chunk = std::env::var("BG_CUDA_CHUNK_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&m| (1..=1024).contains(&m))
            .map_or(CHUNK_BYTES, |m| m << 20);
        let module = Module::load(&ctx)?;
        let sm_count = ctx.sm_count()?;
        let copy = Stream::new(&ctx)?;
        let compute = Stream::new(&ctx)?;
        let mut slots = Vec::with_capacity(SLOTS);
        for _ in 0..SLOTS {
            slots.push(Slot {
                pinned: PinnedBuffer::alloc(&ctx, chunk)?,
                dev: DeviceBuffer::alloc(&ctx, chunk as u64)?,
                copied: Event::new(&ctx, false)?,
                consumed: Event::new(&ctx, false)?,
            });
        }
        Ok(Stager { ctx, copy, compute, module, sm_count, slots, next: 0, chunk })
    }

    /// The staging chunk size in bytes.
    pub fn chunk_bytes(&self) -> usize {
        self.chunk
    }

    /// Change the chunk size (waits for queued work, then reallocates the ring).
    pub fn set_chunk_bytes(&mut self, bytes: usize) -> Result<()> {
        self.sync()?;
        let bytes = bytes.max(1 << 16);
        for slot in &mut self.slots {
            slot.pinned = PinnedBuffer::alloc(&self.ctx, bytes)?;
            slot.dev = DeviceBuffer::alloc(&self.ctx, bytes as u64)?;
        }
        self.chunk = bytes;
        Ok(())
    }

    /// Wait for every queued copy and kernel.
    pub fn sync(&self) -> Result<()> {
        self.copy.sync()?;
        self.compute.sync()
    }

    /// Stream `src` through the ring into `sink`. `unit_bytes` / `unit_elems`: chunks are cut
    /// at multiples of `unit_bytes` (whole blocks), each giving `unit_elems` elements per unit
    /// (for decoding). `check` validates each chunk on the host; `what` names the tensor.
    pub fn stream(
        &mut self,
        src: &[u8],
        unit_bytes: usize,
        unit_elems: u64,
        sink: Sink<'_>,
        check: Option<Check>,
        what: &str,
    ) -> Result<()> {
        self.ctx.bind()?;
        let unit = unit_bytes.max(1);
        let chunk = (self.chunk / unit).max(1) * unit;
        if chunk > self.chunk {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("{what}: a block is larger than the staging chunk"),
            ));
        }
        let mut off = 0usize;
        while off < src.len() {
            let len = chunk.min(src.len() - off);
            let piece = &src[off..off + len];
            let i = self.next;
            self.next = (self.next + 1) % self.slots.len();
            let slot = &mut self.slots[i];
            // The pinned buffer is free once its previous copy has completed.
            slot.copied.sync()?;
            if let Some(bad) = par_copy(&mut slot.pinned.as_mut_slice()[..len], piece, check) {
                let at = off + bad;
                // Let queued work finish before the caller frees anything.
                let _ = self.sync();
                return Err(Error::new(
                    Status::InvalidParameter,
                    format!(
                        "{what}: byte {at} (0x{:02x}) holds an invalid code (I2_S: 3; TL1: an index above 8)",
                        src[at]
                    ),
                ));
            }
            match sink {
                Sink::Packed { dst } => {
                    // SAFETY: dst holds the whole tensor (checked by the caller); the pinned
                    // bytes stay untouched until `copied` completes.
                    unsafe { self.copy.htod(dst + off as u64, &slot.pinned.as_slice()[..len]) }?;
                    slot.copied.record(&self.copy)?;
                }
                Sink::Decode { spec, dst, out, aux } => {
                    // The device slot is free once the kernel that last read it has finished.
                    self.copy.wait(&slot.consumed)?;
                    // SAFETY: the device slot holds `chunk` bytes; pinned bytes as above.
                    unsafe { self.copy.htod(slot.dev.ptr(), &slot.pinned.as_slice()[..len]) }?;
                    slot.copied.record(&self.copy)?;
                    self.compute.wait(&slot.copied)?;
                    let first = (off / unit) as u64 * unit_elems;
                    let n = if unit_bytes == 0 { 0 } else { (len / unit) as u64 * unit_elems };
                    // Plain floats: a last partial unit of fewer than 8 elements.
                    let n = n + if !len.is_multiple_of(unit) {
                        ((len % unit) as u64) * unit_elems / unit as u64
                    } else {
                        0
                    };
                    let dst_at = dst + first * out.size();
                    self.module.launch(&self.compute, spec, slot.dev.ptr(), dst_at, n, out, aux, self.sm_count)?;
                    slot.consumed.record(&self.compute)?;
                }
            }
            off += len;
        }
        Ok(())
    }
}
