//! Decoding into a caller's buffer as f32, f16 or bf16 (little-endian, any alignment).
//!
//! Types with a fast kernel ([`super::simd`]) decode straight into the destination in any output
//! type; the others decode with their scalar oracle, straight into an aligned f32 destination or
//! in chunks through a small scratch buffer that is then stored in the requested type (f16 and
//! bf16 use ggml's roundings, [`super::float`], with the fast stores where available). Large
//! outputs are split across rayon's threads in pieces of whole blocks, and the largest use
//! streaming stores ([`Streaming::Auto`] says which). The bits never depend on the path taken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::float::{f32_to_bf16, f32_to_f16};
use super::{decoder, row_bytes, simd, Decoder};
use crate::error::{Error, Result, Status};
use crate::types::{self, TypeId, TypeInfo};

/// An output element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16, rounded to nearest even.
    F16,
    /// bfloat16, rounded to nearest even (NaN quieted), as ggml.
    Bf16,
}

impl OutType {
    /// The output type for an API type id (`BG_TYPE_F32`, `BG_TYPE_F16`, `BG_TYPE_BF16`).
    pub fn from_type_id(id: TypeId) -> Option<OutType> {
        match id {
            0 => Some(OutType::F32),
            1 => Some(OutType::F16),
            30 => Some(OutType::Bf16),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            OutType::F32 => 4,
            OutType::F16 | OutType::Bf16 => 2,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            OutType::F32 => "f32",
            OutType::F16 => "f16",
            OutType::Bf16 => "bf16",
        }
    }
}

/// Elements decoded per chunk on the scalar path (a multiple of every block size; 16 KiB of
/// f32, so the scratch stays in L1).
const CHUNK: usize = 4096;

/// Outputs at least this large are split across threads (by default).
pub const PAR_MIN_BYTES: usize = 1 << 20;

/// Outputs at least this large may use streaming (non-temporal) stores when `Streaming::Auto`
/// (see there): they would not stay in the caches anyway, and streaming stores skip the
/// read-for-ownership.
pub const STREAM_MIN_BYTES: usize = 8 << 20;

/// Whether to use streaming (non-temporal) stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// For outputs of at least [`STREAM_MIN_BYTES`]: f32 outputs always; f16 and bf16 outputs
    /// as the kernel's [`simd::Stream2`] choice for that output type says — for most kernels,
    /// streaming when the decode is split across threads and ordinary stores on one thread.
    ///
    /// Why (measured on the 2-core development machine, docs/PERFORMANCE.md sections 0e and
    /// 0g): on all threads memory bandwidth is the limit, and ordinary stores make each output
    /// line cross the memory bus twice (read for ownership, then write-back), so streaming
    /// stores raised most 2-byte outputs by up to 30% there (q8_0 → f16 65% → 86% of the
    /// all-thread streaming line, medians of several runs). On one thread the kernel's
    /// instructions are the limit for most types, and there streaming stores measured 5–40%
    /// slower (q5_1 → f16 53% → 42% of the one-thread line): one thread keeps ordinary stores
    /// except for the F16 → f16 / BF16 → bf16 NaN-quieting copies and the kernels that measured
    /// at least as fast with streaming stores. A few kernels measured slower with streaming
    /// stores on all threads too and never stream their 2-byte outputs. f32 outputs gain from
    /// streaming stores on one thread and on all threads. (Types without a fast kernel — none
    /// on x86_64 — keep ordinary stores for 2-byte outputs.)
    Auto,
    /// Always (where the destination is 16-byte aligned and a fast kernel runs).
    On,
    /// Never.
    Off,
}

/// How [`decode_into_with`] runs. The results are the same bits whatever the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Threads to split a large output across: 0 = rayon's pool size; 1 = the calling thread.
    pub threads: usize,
    /// Use the fast (SIMD) kernels where this CPU and build have them (and `BG_FORCE_SCALAR`
    /// is not set); `false` runs the scalar oracles.
    pub simd: bool,
    /// Streaming stores.
    pub streaming: Streaming,
    /// Outputs smaller than this stay on the calling thread.
    pub par_min_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { threads: 0, simd: true, streaming: Streaming::Auto, par_min_bytes: PAR_MIN_BYTES }
    }
}

/// Store f32 values as `out`, scalar (ggml's roundings): `dst` holds `vals.len() * out.size()`
/// bytes.
pub fn store_scalar(out: OutType, vals: &[f32], dst: &mut [u8]) {
    match out {
        OutType::F32 => {
            for (d, v) in dst.chunks_exact_mut(4).zip(vals) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
        OutType::F16 => {
            for (d, v) in dst.chunks_exact_mut(2).zip(vals) {
                d.copy_from_slice(&f32_to_f16(*v).to_le_bytes());
            }
        }
        OutType::Bf16 => {
            for (d, v) in dst.chunks_exact_mut(2).zip(vals) {
                d.copy_from_slice(&f32_to_bf16(*v).to_le_bytes());
            }
        }
    }
}

/// What one piece of a decode runs.
#[derive(Clone, Copy)]
struct Plan {
    ti: &'static TypeInfo,
    dec: Decoder,
    fast: Option<simd::Kernel>,
    simd_stores: bool,
    streaming: bool,
    out: OutType,
}

impl Plan {
    /// Decode the whole blocks of `src` into `dst` (exactly their output bytes).
    fn run(&self, src: &[u8], dst: &mut [u8]) {
        if let Some(k) = self.fast {
            k.decode(src, self.out, dst, self.streaming);
            return;
        }
        if self.out == OutType::F32 {
            if let Some(view) = simd::f32_view_mut(dst) {
                (self.dec)(src, view);
                return;
            }
        }
        let blck = self.ti.blck as usize;
        let chunk = CHUNK / blck * blck;
        let src_chunk = chunk / blck * self.ti.tsize as usize;
        let mut scratch = [0f32; CHUNK];
        let esize = self.out.size() as usize;
        for (s, d) in src.chunks(src_chunk).zip(dst.chunks_mut(chunk * esize)) {
            let vals = &mut scratch[..d.len() / esize];
            (self.dec)(s, vals);
            if !(self.simd_stores && simd::store(self.out, vals, d, self.streaming)) {
                store_scalar(self.out, vals, d);
            }
        }
    }
}

/// Look up a type and its decoder, with errors that name what is missing.
pub fn decodable(id: TypeId) -> Result<(&'static TypeInfo, Decoder)> {
    let ti = types::info(id).ok_or_else(|| Error::new(Status::InvalidParameter, format!("unknown type id {id}")))?;
    let dec = decoder(id).ok_or_else(|| {
        Error::new(Status::UnsupportedType, format!("decoding {} is not supported by this build", ti.name))
    })?;
    Ok((ti, dec))
}

/// Decode `n` elements of type `id` from `src` (exactly their bytes) into `dst` as `out`
/// (at least `n * out.size()` bytes; only those are written). Nothing is written unless every
/// check passes. Large outputs are split across threads; fast kernels run where available (see
/// [`decode_into_with`]).
pub fn decode_into(id: TypeId, src: &[u8], n: u64, out: OutType, dst: &mut [u8]) -> Result<()> {
    decode_into_with(id, src, n, out, dst, &DecodeOptions::default())
}

/// [`decode_into`] with explicit options (threads, SIMD, streaming stores). Every combination
/// gives the same bits: each block is decoded on its own, pieces are whole blocks, and the fast
/// kernels are bit-exact with the scalar oracles.
pub fn decode_into_with(
    id: TypeId,
    src: &[u8],
    n: u64,
    out: OutType,
    dst: &mut [u8],
    opts: &DecodeOptions,
) -> Result<()> {
    let ti = types::info(id).ok_or_else(|| Error::new(Status::InvalidParameter, format!("unknown type id {id}")))?;
    let need_src = row_bytes(ti, n)?;
    if src.len() as u64 != need_src {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("{n} {} elements are {need_src} bytes, but {} bytes were given", ti.name, src.len()),
        ));
    }
    let need_dst = n
        .checked_mul(out.size())
        .ok_or_else(|| Error::new(Status::InvalidParameter, format!("{n} elements overflow the output size")))?;
    if (dst.len() as u64) < need_dst {
        return Err(Error::new(
            Status::InsufficientSize,
            format!("{n} {} elements need {need_dst} bytes of output, the buffer has {}", out.name(), dst.len()),
        ));
    }
    let (_, dec) = decodable(id)?;
    let dst = &mut dst[..need_dst as usize];
    let fast = if opts.simd { simd::kernel(id) } else { None };
    let simd_stores = opts.simd && simd::level().is_simd();
    let threads = if opts.threads == 0 { rayon::current_num_threads() } else { opts.threads };
    let split = threads > 1 && dst.len() >= opts.par_min_bytes.max(1);
    let streaming = (fast.is_some() || simd_stores)
        && match opts.streaming {
            Streaming::Auto => {
                dst.len() >= STREAM_MIN_BYTES
                    && match fast.map(|k| k.stream2(out)) {
                        // f32 outputs, and the scalar decoders' stores.
                        _ if out == OutType::F32 => true,
                        Some(simd::Stream2::Always) => true,
                        Some(simd::Stream2::Split) => split,
                        Some(simd::Stream2::Never) | None => false,
                    }
            }
            Streaming::On => true,
            Streaming::Off => false,
        };
    let plan = Plan { ti, dec, fast, simd_stores, streaming, out };

    if !split {
        plan.run(src, dst);
        return Ok(());
    }
    // Pieces of whole blocks and whole 256-element groups (every piece's output then starts
    // 32-byte aligned relative to `dst`: 256 elements are 512 bytes or more), about PIECE_BYTES
    // each, at least one per thread.
    let blck = ti.blck as usize;
    let unit = lcm(blck, 256);
    let esize = out.size() as usize;
    let n = n as usize;
    let pieces = (dst.len() / PIECE_BYTES).max(threads.min(n / unit)).max(1);
    let piece = n.div_ceil(pieces).div_ceil(unit) * unit;
    let src_piece = piece / blck * ti.tsize as usize;
    let items: Vec<(&[u8], &mut [u8])> = src.chunks(src_piece).zip(dst.chunks_mut(piece * esize)).collect();
    share_pieces(items, threads, |(s, d)| plan.run(s, d));
    Ok(())
}

/// Target output bytes of one piece when a decode is split across threads: small enough that
/// threads which start late or run slower (another process on their core) still take an even
/// share, large enough that the per-piece cost (a lock, a kernel call, an `sfence`) is noise.
pub const PIECE_BYTES: usize = 1 << 20;

/// Run `f` on every item, on the calling thread and up to `threads - 1` helpers from rayon's
/// pool, each taking the next item from a shared counter until none is left.
///
/// The calling thread works from the start rather than waiting for pool threads to wake up:
/// on a machine whose cores are busy with other processes, a woken helper can wait a
/// scheduler time slice (milliseconds) for a core, and a split into fixed per-thread shares
/// then ends no earlier than that helper's share (measured on the 2-core development machine:
/// two threads slower than one; docs/PERFORMANCE.md). Here a late helper takes fewer items and
/// the decode is never much slower than on the calling thread alone. Used for the decodes and
/// for the streaming-store reference of `bitgguf bench`, so both split the same way.
pub fn share_pieces<T: Send>(items: Vec<T>, threads: usize, f: impl Fn(T) + Sync) {
    let helpers = threads.min(items.len()).saturating_sub(1);
    if helpers == 0 {
        items.into_iter().for_each(f);
        return;
    }
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(slot) = slots.get(next.fetch_add(1, Ordering::Relaxed)) {
            // Each index is handed out once, so the slot is full; a poisoned lock (a panic in
            // `f` on another thread, re-raised by the scope) still holds its item.
            if let Some(item) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                f(item);
            }
        }
    };
    rayon::in_place_scope(|s| {
        for _ in 0..helpers {
            s.spawn(|_| work());
        }
        work();
    });
}

fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    // rayon's pool threads outlive the test, which Miri reports at exit ("the main thread
    // terminated without waiting for all remaining threads"); nothing of ours to check there.
    #[cfg_attr(miri, ignore)]
    fn share_pieces_runs_every_item_once() {
        for threads in [0, 1, 2, 3, 8] {
            for n in [0usize, 1, 2, 5, 100] {
                let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
                share_pieces((0..n).collect(), threads, |i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                let counts: Vec<u32> = hits.iter().map(|h| h.load(Ordering::Relaxed)).collect();
                assert_eq!(counts, vec![1; n], "threads {threads}, {n} items");
            }
        }
    }
}
