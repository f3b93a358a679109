//! Fast TL1 / TL2 decoders: the same values and errors as [`super::decode_tl1`] /
//! [`super::decode_tl2`] (their scalar oracles), restructured for speed: the index check is a
//! branch-free scan over the payload (the oracle runs only to name an invalid byte), and the
//! tile loops write whole pairs / triples of values from tables built once from the oracle's
//! value table (`scale * t` for t in {−1, 0, 1}), so every output is the same f32 product.
//! TL2 sign words are read once per group of 8 triples. On x86-64 with AVX2 (unless
//! `BG_FORCE_SCALAR` is set) the tile blocks go through `tl_x86`'s staged `vpermps` decoders
//! instead, with streaming stores for large outputs — their expansion in AVX-512 (sixteen values
//! and one 64-byte store per word) where `simd::avx512()` allows it ([`TlKernels`]); the table
//! code is the portable path.
//!
//! f16 / bf16 outputs ([`decode_tl1_fast_out`], [`decode_tl2_fast_out`]): the AVX2 decoders look
//! the 16-bit patterns of the three values up directly (each converted once by the scalar
//! conversion, [`super::out_values`]), so they are the scalar path's bits by construction; the
//! portable path decodes to f32 and stores through [`super::store_values`].

#[cfg(target_arch = "x86_64")]
use super::i2s_fast::STREAM_MIN_BYTES;
use super::tl1::{pair, tl1_nbytes, tl1_validate};
use super::tl2::{rowperm, tl2_geometry, Tl2Geometry, TRIPLES};
use std::ops::Range;

use super::tiles::TlKind;
use super::{check_out, decode_tl1, decode_tl2, elements, read_f32, value_lut, with_f32, TlConfig};
use crate::error::Result;
#[cfg(target_arch = "x86_64")]
use crate::quant::output::{share_pieces, PAR_MIN_BYTES, PIECE_BYTES};
use crate::quant::output::{OutType, Streaming};
use crate::quant::simd::f32_bytes_mut;

/// Which x86-64 kernels the fast TL decoders run; the values are the same. The library uses
/// [`TlKernels::Best`]; tests and benchmarks name [`TlKernels::Avx512`] / [`TlKernels::Avx2`] to
/// run the other kernels on a CPU that has the newer features (all in one process, so CI's one
/// run of a test binary checks each kernel set the CPU can run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlKernels {
    /// [`TlKernels::Avx512`], and for 16-bit outputs the VBMI expansion (`tl_x86::vbmi`: 32
    /// values per store from one multishift and one lookup) where the CPU has AVX-512 VBMI.
    Best,
    /// The AVX-512 kernels (`tl_x86`'s `*_row512`: sixteen values and one 64-byte store per
    /// word) where [`crate::quant::simd::avx512`] allows them, else as [`TlKernels::Avx2`].
    Avx512,
    /// The AVX2 kernels where the CPU has AVX2, else the table code.
    Avx2,
}

impl TlKernels {
    /// Whether these are the AVX-512 kernels on this CPU (and settings).
    pub fn wide(self) -> bool {
        self != TlKernels::Avx2 && crate::quant::simd::avx512()
    }

    /// Whether these run the VBMI expansion for 16-bit outputs on this CPU (and settings).
    pub fn vbmi(self) -> bool {
        self == TlKernels::Best && crate::quant::simd::avx512_vbmi()
    }

    /// The expansion `tl_x86` runs.
    #[cfg(target_arch = "x86_64")]
    fn expand(self) -> super::tl_x86::Expand {
        use super::tl_x86::Expand;
        match (self.wide(), self.vbmi()) {
            (_, true) => Expand::Vbmi,
            (true, false) => Expand::Avx512,
            _ => Expand::Avx2,
        }
    }
}

/// The two values of each TL1 / TL2 pair index 0..=8 (unused entries are never read).
fn pair_table(lut: [f32; 3]) -> [[f32; 2]; 16] {
    let mut t = [[0.0; 2]; 16];
    for (i, e) in t.iter_mut().enumerate().take(9) {
        let (a, b) = pair(i as u8);
        *e = [lut[(a + 1) as usize], lut[(b + 1) as usize]];
    }
    t
}

/// The four values of each byte of valid pair indices: `[pair(hi), pair(lo)]` flattened.
fn byte_table(pt: &[[f32; 2]; 16]) -> Vec<[f32; 4]> {
    (0..256)
        .map(|b| {
            let (h, l) = (pt[b >> 4], pt[b & 15]);
            [h[0], h[1], l[0], l[1]]
        })
        .collect()
}

/// Whether any nibble of `bytes` exceeds `max` (shared with rayon's pool for large inputs,
/// [`super::scan_any`]).
fn any_nibble_above(bytes: &[u8], max: u8) -> bool {
    super::scan_any(bytes, |c| any_nibble_above_one(c, max))
}

/// [`any_nibble_above`] on the calling thread (branch-free, so it vectorizes; AVX2 where
/// available).
fn any_nibble_above_one(bytes: &[u8], max: u8) -> bool {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: AVX2 detected.
        return unsafe { super::tl_x86::any_nibble_above(bytes, max) };
    }
    bytes.chunks(4096).any(|c| c.iter().fold(false, |acc, &b| acc | ((b >> 4) > max) | ((b & 15) > max)))
}

/// Whether a fast decode into `dst` (bytes) uses streaming stores: as asked, `Auto` meaning
/// outputs of at least [`STREAM_MIN_BYTES`], f16 / bf16 included (for these decoders streaming
/// measured about 2x ordinary stores at 16 Mi elements of f16, docs/PERFORMANCE.md); only into
/// a 16-byte-aligned destination.
#[cfg(target_arch = "x86_64")]
fn stream(streaming: Streaming, dst: &[u8]) -> bool {
    let want = match streaming {
        Streaming::Auto => dst.len() >= STREAM_MIN_BYTES,
        Streaming::On => true,
        Streaming::Off => false,
    };
    want && (dst.as_ptr() as usize).is_multiple_of(16)
}

/// Run `group(scratch, gi, rows)` for every row group `gi` from `first` on (`rows`: its
/// `group_bytes` output bytes of `dst`, which holds consecutive groups): on the calling thread
/// for small outputs or a one-thread pool (one scratch), else in pieces of whole groups, about
/// [`PIECE_BYTES`] of output each, shared by the calling thread and the pool
/// ([`share_pieces`], as the other decoders split): one scratch per piece, and each piece
/// fences its streaming stores (`nt`) when it ends. Against rayon's `par_chunks_mut` over
/// single groups (a fence per 256 KiB group, and the calling thread waiting for the pool to
/// pick the job up), two threads, 16 Mi elements, five alternated runs with the scan split the
/// same way ([`super::scan_any`]): TL1 f32 71% -> 77% of the line, TL2 f32 65% -> 75%, TL1 f16
/// / bf16 57 / 62% -> 62 / 66%, TL2 f16 / bf16 64 / 57% -> 64 / 62% (docs/PERFORMANCE.md,
/// session 11).
#[cfg(target_arch = "x86_64")]
fn for_row_groups<S>(
    dst: &mut [u8],
    first: usize,
    group_bytes: usize,
    nt: bool,
    scratch: impl Fn() -> S + Sync + Send,
    group: impl Fn(&mut S, usize, &mut [u8]) + Sync + Send,
) {
    let run = |first: usize, piece: &mut [u8]| {
        let mut s = scratch();
        for (gi, rows) in piece.chunks_mut(group_bytes).enumerate() {
            group(&mut s, first + gi, rows);
        }
        if nt {
            // SAFETY: only called on the AVX2 paths; orders this thread's streaming stores.
            unsafe { super::tl_x86::sfence() };
        }
    };
    let threads = rayon::current_num_threads();
    if threads == 1 || dst.len() < PAR_MIN_BYTES {
        return run(first, dst);
    }
    let per = (PIECE_BYTES / group_bytes).max(1);
    let pieces: Vec<(usize, &mut [u8])> = dst.chunks_mut(per * group_bytes).enumerate().collect();
    share_pieces(pieces, threads, |(i, piece)| run(first + i * per, piece));
}

/// [`super::decode_tl1`], fast (streaming stores for large outputs).
pub fn decode_tl1_fast(src: &[u8], m: usize, k: usize, cfg: &TlConfig, dst: &mut [f32]) -> Result<()> {
    decode_tl1_fast_with(src, m, k, cfg, dst, Streaming::Auto)
}

/// [`super::decode_tl1`], fast, with the streaming stores chosen (the values are the same).
/// The AVX2 block decoder runs where the CPU has AVX2 (and `BG_FORCE_SCALAR` is unset) and
/// `BK % 8 == 0`; otherwise the scalar table code.
pub fn decode_tl1_fast_with(
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    dst: &mut [f32],
    streaming: Streaming,
) -> Result<()> {
    tl1_validate(m, k, cfg)?;
    if dst.len() != elements(m, k)? {
        return decode_tl1(src, m, k, cfg, dst); // the oracle's error
    }
    decode_tl1_fast_out(src, m, k, cfg, OutType::F32, f32_bytes_mut(dst), streaming)
}

/// [`super::decode_tl1`] into `dst` as `out` (exactly `m * k * out.size()` bytes, any
/// alignment): the bits of the oracle's f32 stored by `output::store_scalar`. Paths as
/// [`decode_tl1_fast_with`]; f16 / bf16 straight from the AVX2 decoder (see the module docs).
pub fn decode_tl1_fast_out(
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    out: OutType,
    dst: &mut [u8],
    streaming: Streaming,
) -> Result<()> {
    decode_tl1_fast_out_on(TlKernels::Best, src, m, k, cfg, out, dst, streaming)
}

/// [`decode_tl1_fast_out`] with the x86-64 kernels chosen (the same values).
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))] // `streaming`: AVX2 only
pub fn decode_tl1_fast_out_on(
    kernels: TlKernels,
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    out: OutType,
    dst: &mut [u8],
    streaming: Streaming,
) -> Result<()> {
    tl1_validate(m, k, cfg)?;
    let need = tl1_nbytes(m, k)?;
    let n = elements(m, k)?;
    check_out(dst.len(), n, out)?;
    if src.len() != need || any_nibble_above(&src[..need - 32], 8) {
        // The oracle's error, naming the byte.
        return with_f32(out, dst, n, |v| decode_tl1(src, m, k, cfg, v));
    }
    let lut = value_lut(read_f32(src, need - 32));
    let TlConfig { bm_tile, bk, bm } = *cfg;
    #[cfg(target_arch = "x86_64")]
    if use_avx2() && bk % 8 == 0 {
        tl1_groups(&src[..need - 32], k, cfg, lut, out, 0, dst, stream(streaming, dst), kernels.expand());
        return Ok(());
    }
    let _ = (bm_tile, bm);
    with_f32(out, dst, n, |v| {
        tl1_table(src, m, k, cfg, lut, v);
        Ok(())
    })
}

/// Row groups (`bm` rows each) `first..` of a TL1 tensor with `k` columns, whose validated
/// payload (every nibble ≤ 8; `bk % 8 == 0`) is `payload`, into `dst` (whole groups) as `out`,
/// with the AVX2 decoder (the caller checked for AVX2); `nt`: streaming stores (`dst` 16-byte
/// aligned); `expand`: the expansion (from [`TlKernels::expand`], which checked the CPU).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn tl1_groups(
    payload: &[u8],
    k: usize,
    cfg: &TlConfig,
    lut: [f32; 3],
    out: OutType,
    first: usize,
    dst: &mut [u8],
    nt: bool,
    expand: super::tl_x86::Expand,
) {
    use super::tl_x86::{tl1_rows, Blocks, Tl1Scratch};
    let TlConfig { bm_tile, bk, bm } = *cfg;
    let (values, half, es) = (super::out_values(lut, out), out != OutType::F32, out.size() as usize);
    // One (I, J, R) block is `bm` rows x `BK` columns in `bm*BK/4` consecutive bytes.
    let block = bm * bk / 4;
    let (nj, ng) = (k / bk, bm_tile / bm);
    // Every row group (bm rows: group `gi` is row tile gi / ng, group gi % ng in it) is
    // independent, decoded into its own bm*k outputs: in parallel (rayon) when the output
    // is large and the pool has several threads.
    let group = |scratch: &mut Tl1Scratch, gi: usize, rows: &mut [u8]| {
        let at = |gi: usize| Blocks { first: (gi / ng * nj * ng + gi % ng) * block, jstride: ng * block, nj };
        // SAFETY: AVX2 (and the features `expand` names) checked by the caller; the payload was validated (nibbles ≤ 8); `rows`
        // are the bm*k outputs of rows gi*bm.., 16-byte aligned with `nt` (dst is; k is a
        // multiple of 8). `tl1_rows` asserts the block bounds and the output length.
        unsafe { tl1_rows(payload, at(gi), Some(at(gi + 1)), bm, bk, values, half, rows, nt, expand, scratch) };
    };
    for_row_groups(dst, first, bm * k * es, nt, Tl1Scratch::new, group);
}

/// The portable TL1 decoder: validated `src` (every nibble ≤ 8) into `dst` (`m * k` f32).
fn tl1_table(src: &[u8], m: usize, k: usize, cfg: &TlConfig, lut: [f32; 3], dst: &mut [f32]) {
    let TlConfig { bm_tile, bk, bm } = *cfg;
    // One (I, J, R) block is `bm` rows x `BK` columns in `bm*BK/4` consecutive bytes.
    let block = bm * bk / 4;
    let by = 256 / bm;
    // Step `Y` (by columns) is a 64-byte chunk, inside which row `g*16 + s`, pair-of-pairs `yq`
    // is at `g*(by/4)*16 + yq*16 + s`. Rows are written one at a time, each contiguously
    // (writing 16 rows at once, 16 KiB apart, thrashes the cache sets).
    let bt = byte_table(&pair_table(lut));
    // Offset in the block of the byte holding columns 4x..4x+3 (x < BK/4) of row 0 of a
    // 16-row sub-group: step y = x / (by/4), pair-of-pairs yq = x % (by/4).
    let q = by / 4;
    let offs: Vec<usize> = (0..bk / 4).map(|x| (x / q) * 64 + (x % q) * 16).collect();
    let mut o = 0;
    for i in 0..m / bm_tile {
        for j in 0..k / bk {
            for r in 0..bm_tile / bm {
                let bytes = &src[o..o + block];
                for rr in 0..bm {
                    let base = (rr / 16) * q * 16 + rr % 16;
                    let row = i * bm_tile + r * bm + rr;
                    let out = &mut dst[row * k + j * bk..row * k + (j + 1) * bk];
                    for (d, &off) in out.chunks_exact_mut(4).zip(&offs) {
                        d.copy_from_slice(&bt[bytes[base + off] as usize]);
                    }
                }
                o += block;
            }
        }
    }
}

/// [`super::decode_tl2`], fast (streaming stores for large outputs).
pub fn decode_tl2_fast(src: &[u8], m: usize, k: usize, cfg: &TlConfig, dst: &mut [f32]) -> Result<()> {
    decode_tl2_fast_with(src, m, k, cfg, dst, Streaming::Auto)
}

/// [`super::decode_tl2`], fast, with the streaming stores chosen (the values are the same).
/// The AVX2 block decoders run where the CPU has AVX2 (and `BG_FORCE_SCALAR` is unset);
/// otherwise the scalar table code.
pub fn decode_tl2_fast_with(
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    dst: &mut [f32],
    streaming: Streaming,
) -> Result<()> {
    tl2_geometry(m, k, cfg)?;
    if dst.len() != elements(m, k)? {
        return decode_tl2(src, m, k, cfg, dst); // the oracle's error
    }
    decode_tl2_fast_out(src, m, k, cfg, OutType::F32, f32_bytes_mut(dst), streaming)
}

/// [`super::decode_tl2`] into `dst` as `out` (exactly `m * k * out.size()` bytes, any
/// alignment), as [`decode_tl1_fast_out`].
pub fn decode_tl2_fast_out(
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    out: OutType,
    dst: &mut [u8],
    streaming: Streaming,
) -> Result<()> {
    decode_tl2_fast_out_on(TlKernels::Best, src, m, k, cfg, out, dst, streaming)
}

/// [`decode_tl2_fast_out`] with the x86-64 kernels chosen (the same values).
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))] // `streaming`: AVX2 only
pub fn decode_tl2_fast_out_on(
    kernels: TlKernels,
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    out: OutType,
    dst: &mut [u8],
    streaming: Streaming,
) -> Result<()> {
    let g = tl2_geometry(m, k, cfg)?;
    let n = elements(m, k)?;
    check_out(dst.len(), n, out)?;
    if src.len() != g.nbytes
        || any_nibble_above(&src[..g.sign_offset], 13)
        || any_nibble_above(&src[g.two_offset..g.payload], 8)
    {
        // The oracle's error, naming the byte.
        return with_f32(out, dst, n, |v| decode_tl2(src, m, k, cfg, v));
    }
    let lut = value_lut(read_f32(src, g.scale_offset));
    let (bm_tile, bk) = (cfg.bm_tile, cfg.bk);
    // Section A with the signs of section B. A block (I, J, R) is 32 rows x BK columns: `BK/6`
    // steps of 32 bytes (byte `rowperm(row)` of step Y holds triples 2Y, 2Y+1 of that row), and
    // `BK/24` groups of 16 little-endian sign words (bit 15 - (2q + h) of word c is the sign of
    // triple q of the group for row 16h + c).
    let a_block = 32 * bk / 6;
    let s_block = 32 * (bk / 24);
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        tl2_groups(src, &g, k, cfg, lut, out, 0, dst, stream(streaming, dst), kernels.expand());
        return Ok(());
    }
    let _ = (bm_tile, a_block, s_block);
    with_f32(out, dst, n, |dst| {
        tl2_table(src, m, k, cfg, &g, lut, dst);
        Ok(())
    })
}

/// Row groups (32 rows each) `first..` of a validated TL2 tensor `src` (three indices ≤ 13, two
/// indices ≤ 8) with geometry `g` into `dst` (whole groups) as `out`, with the AVX2 decoders
/// (the caller checked for AVX2); `nt` and `expand` as in [`tl1_groups`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn tl2_groups(
    src: &[u8],
    g: &Tl2Geometry,
    k: usize,
    cfg: &TlConfig,
    lut: [f32; 3],
    out: OutType,
    first: usize,
    dst: &mut [u8],
    nt: bool,
    expand: super::tl_x86::Expand,
) {
    use super::tl_x86::{tl2_rows, Blocks, Tl2Rows, Tl2Scratch};
    let (bm_tile, bk) = (cfg.bm_tile, cfg.bk);
    let (a_block, s_block) = (32 * bk / 6, 32 * (bk / 24));
    let (values, half, es) = (super::out_values(lut, out), out != OutType::F32, out.size() as usize);
    {
        let (nj3, nj2, ng) = (g.k3 / bk, g.k2 / 32, bm_tile / 32);
        // Every 32-row group (group `gi` is row tile gi / ng, group gi % ng in it) is
        // independent, decoded into its own 32*k outputs (in parallel as for TL1).
        let group = |scratch: &mut Tl2Scratch, gi: usize, rows: &mut [u8]| {
            let parts = |gi: usize| {
                let (i, r) = (gi / ng, gi % ng);
                let at = |base: usize, nj: usize, size: usize| {
                    (nj > 0).then_some(Blocks { first: base + (i * nj * ng + r) * size, jstride: ng * size, nj })
                };
                Tl2Rows {
                    a: at(0, nj3, a_block),
                    signs: at(g.sign_offset, nj3, s_block),
                    c: at(g.two_offset, nj2, 256),
                    bk,
                    k,
                }
            };
            // The next row group, if there is one (its section A ends before the signs).
            let next = Some(parts(gi + 1)).filter(|n| n.a.is_some_and(|a| a.first < g.sign_offset));
            // SAFETY: AVX2 (and the features `expand` names) detected; the payload was validated (three indices ≤ 13, two indices
            // ≤ 8); `rows` are the 32*k outputs of rows gi*32.., 16-byte aligned with `nt` (dst
            // is; k is a multiple of 8).
            unsafe { tl2_rows(&src[..g.payload], parts(gi), next, values, half, rows, nt, expand, scratch) };
        };
        for_row_groups(dst, first, 32 * k * es, nt, Tl2Scratch::new, group);
    }
}

/// Rows `rows` (not necessarily whole row groups) of a TL1 / TL2 tensor into `dst` (exactly
/// `rows.len() * k * out.size()` bytes) as `out`: the whole row groups inside the range through
/// the AVX2 decoders, straight into `dst`, the partial groups at its ends through the tile walk
/// (`tiles::decode_tl_rows`) and [`super::store_values`]. The same bits as the tile walk. Reads
/// and checks only the row tiles holding the rows, as the tile walk does. Returns `false`,
/// having written nothing, when this does not apply: no AVX2 (or `BG_FORCE_SCALAR`), TL1 with
/// `BK % 8 != 0`, no whole row group in the range, an invalid shape or configuration, or an
/// invalid index in those tiles (the caller's tile walk then words the error).
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) fn decode_tl_rows_fast(
    kind: TlKind,
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    rows: Range<usize>,
    out: OutType,
    dst: &mut [u8],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if !use_avx2() || rows.start > rows.end || rows.end > m {
            return false;
        }
        let es = out.size() as usize;
        let (bm_tile, bk) = (cfg.bm_tile, cfg.bk);
        // The rows' tiles: their indices must be valid (the tile walk checks the same tiles).
        let (t0, t1) = (rows.start / bm_tile, rows.end.div_ceil(bm_tile));
        let (group_rows, geometry) = match kind {
            TlKind::Tl1 => {
                let ok = tl1_validate(m, k, cfg).is_ok()
                    && bk % 8 == 0
                    && tl1_nbytes(m, k).is_ok_and(|n| n == src.len())
                    && !any_nibble_above(&src[t0 * bm_tile * k / 4..t1 * bm_tile * k / 4], 8);
                if !ok {
                    return false;
                }
                (cfg.bm, None)
            }
            TlKind::Tl2 => {
                let Ok(g) = tl2_geometry(m, k, cfg) else { return false };
                let (ta, tc) = (bm_tile * g.k3 / 6, bm_tile * g.k2 / 4);
                if g.nbytes != src.len()
                    || any_nibble_above(&src[t0 * ta..t1 * ta], 13)
                    || any_nibble_above(&src[g.two_offset + t0 * tc..g.two_offset + t1 * tc], 8)
                {
                    return false;
                }
                (32, Some(g))
            }
        };
        let (ga, gb) = (rows.start.div_ceil(group_rows), rows.end / group_rows);
        if ga >= gb || dst.len() != rows.len() * k * es {
            return false;
        }
        // The partial groups first (the tile walk; it cannot fail on these checked tiles, but
        // if it did nothing would have been written yet).
        let edge = |r: Range<usize>| -> Option<Vec<f32>> {
            let mut v = vec![0f32; r.len() * k];
            super::tiles::decode_tl_rows(kind, src, m, k, cfg, r, None, &mut v).ok().map(|_| v)
        };
        let (Some(head), Some(tail)) = (edge(rows.start..ga * group_rows), edge(gb * group_rows..rows.end)) else {
            return false;
        };
        let lut = value_lut(read_f32(src, src.len() - 32));
        let (hd, rest) = dst.split_at_mut(head.len() * es);
        let (mid, tl) = rest.split_at_mut((gb - ga) * group_rows * k * es);
        let nt = stream(Streaming::Auto, mid);
        match geometry {
            None => tl1_groups(&src[..src.len() - 32], k, cfg, lut, out, ga, mid, nt, TlKernels::Best.expand()),
            Some(g) => tl2_groups(src, &g, k, cfg, lut, out, ga, mid, nt, TlKernels::Best.expand()),
        }
        super::store_values(out, &head, hd);
        super::store_values(out, &tail, tl);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The portable TL2 decoder: validated `src` (three indices ≤ 13, two indices ≤ 8) into `dst`
/// (`m * k` f32).
fn tl2_table(src: &[u8], m: usize, k: usize, cfg: &TlConfig, g: &Tl2Geometry, lut: [f32; 3], dst: &mut [f32]) {
    let (bm_tile, bk) = (cfg.bm_tile, cfg.bk);
    let a_block = 32 * bk / 6;
    let s_block = 32 * (bk / 24);
    // [sign][index] -> the triple's three values (index 14, 15 are never read).
    let mut t3 = [[[0.0f32; 3]; 16]; 2];
    for (idx, tr) in TRIPLES.iter().enumerate() {
        for (neg, table) in t3.iter_mut().enumerate() {
            for (v, &t) in table[idx].iter_mut().zip(tr) {
                let t = if neg == 1 { -t } else { t };
                *v = lut[(t + 1) as usize];
            }
        }
    }
    let bt = byte_table(&pair_table(lut));
    // [signs (hi, lo)][byte] -> six values (bytes with an index above 13 are never read).
    let t6: Vec<[f32; 6]> = (0..1024)
        .map(|x| {
            let (sg, b) = (x >> 8, x & 255);
            let (a, c) = (t3[sg >> 1][(b >> 4).min(13)], t3[sg & 1][(b & 15).min(13)]);
            [a[0], a[1], a[2], c[0], c[1], c[2]]
        })
        .collect();
    // Rows are written one at a time, contiguously.
    let mut o = 0;
    let mut sign_at = g.sign_offset;
    for i in 0..m / bm_tile {
        for j in 0..g.k3 / bk {
            for r in 0..bm_tile / 32 {
                let bytes = &src[o..o + a_block];
                let signs = &src[sign_at..sign_at + s_block];
                for rw in 0..32 {
                    let (h, c) = (rw / 16, rw % 16);
                    let pos = rowperm(rw);
                    let row = i * bm_tile + r * 32 + rw;
                    let out = &mut dst[row * k + j * bk..row * k + (j + 1) * bk];
                    for (q_group, group) in out.chunks_exact_mut(24).enumerate() {
                        let w =
                            u16::from_le_bytes([signs[32 * q_group + 2 * c], signs[32 * q_group + 2 * c + 1]]) as u32;
                        for (yy, d) in group.chunks_exact_mut(6).enumerate() {
                            let b = bytes[(4 * q_group + yy) * 32 + pos];
                            let q = 2 * yy as u32;
                            let neg_hi = ((w >> (15 - (2 * q + h as u32))) & 1) as usize;
                            let neg_lo = ((w >> (15 - (2 * (q + 1) + h as u32))) & 1) as usize;
                            d.copy_from_slice(&t6[((neg_hi << 1 | neg_lo) << 8) | b as usize]);
                        }
                    }
                }
                o += a_block;
                sign_at += s_block;
            }
        }
    }
    // Section C: a block (I, J, R) is 32 rows x 32 columns in 8 steps of 32 bytes.
    let mut o = g.two_offset;
    for i in 0..m / bm_tile {
        for j in 0..g.k2 / 32 {
            for r in 0..bm_tile / 32 {
                let bytes = &src[o..o + 256];
                for rw in 0..32 {
                    let pos = rowperm(rw);
                    let row = i * bm_tile + r * 32 + rw;
                    let start = row * k + g.k3 + 32 * j;
                    for (y, d) in dst[start..start + 32].chunks_exact_mut(4).enumerate() {
                        d.copy_from_slice(&bt[bytes[32 * y + pos] as usize]);
                    }
                }
                o += 256;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn use_avx2() -> bool {
    crate::quant::simd::level() == crate::quant::simd::Level::Avx2F16c
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::super::{encode_tl1, encode_tl2, SCAN_PIECE};
    use super::*;

    /// The index scan split over the pool (inputs of several [`SCAN_PIECE`]s) finds one bad
    /// nibble wherever it is (first piece, a piece boundary, the last byte), as the one-thread
    /// scan does, and passes a clean input.
    #[test]
    fn split_index_scan_finds_any_bad_nibble() {
        let n = 3 * SCAN_PIECE + 1000;
        let mut rng = Rng(7);
        let clean: Vec<u8> = (0..n).map(|_| ((rng.below(9) as u8) << 4) | rng.below(9) as u8).collect();
        assert!(!any_nibble_above(&clean, 8) && !any_nibble_above_one(&clean, 8));
        for at in [0, 17, SCAN_PIECE - 1, SCAN_PIECE, 2 * SCAN_PIECE + 5, n - 1] {
            for bad in [0x09u8, 0x90, 0xff] {
                let mut b = clean.clone();
                b[at] = bad;
                assert!(any_nibble_above(&b, 8), "byte {at} = {bad:#04x}");
                assert!(any_nibble_above_one(&b, 8));
                assert!(!any_nibble_above(&b, 15));
            }
        }
    }

    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Both x86-64 kernel choices (AVX2, and AVX-512 where `simd::avx512()` allows it; the
    /// second is skipped with a printed reason otherwise).
    fn kernels() -> Vec<TlKernels> {
        if TlKernels::Best.wide() {
            vec![TlKernels::Avx2, TlKernels::Best]
        } else {
            eprintln!("AVX-512 TL kernels: skipped (simd::avx512() is false here)");
            vec![TlKernels::Avx2]
        }
    }

    #[test]
    fn tl1_fast_equals_the_oracle() {
        let mut rng = Rng(21);
        for (m, k, cfg) in [
            (32, 16, TlConfig { bm_tile: 32, bk: 16, bm: 32 }),
            (128, 128, TlConfig { bm_tile: 64, bk: 32, bm: 64 }),
            (256, 192, TlConfig { bm_tile: 128, bk: 64, bm: 32 }),
            // BK not a multiple of 8 (valid for bm = 64, by = 4): the table path.
            (64, 8, TlConfig { bm_tile: 64, bk: 4, bm: 64 }),
            (64, 24, TlConfig { bm_tile: 64, bk: 12, bm: 64 }),
            (64, 1024, TlConfig { bm_tile: 64, bk: 1024, bm: 64 }),
            // An odd number of 8-column pairs per block (words straddle blocks), and rows
            // longer than one staging chunk (2048 columns) for both bm.
            (64, 72, TlConfig { bm_tile: 64, bk: 24, bm: 32 }),
            (64, 48, TlConfig { bm_tile: 64, bk: 24, bm: 64 }),
            (32, 4160, TlConfig { bm_tile: 32, bk: 520, bm: 32 }),
            (64, 2064, TlConfig { bm_tile: 64, bk: 344, bm: 64 }),
        ] {
            for scale in [0.37f32, -1.5, f32::NAN, f32::INFINITY] {
                let trits = rng.trits(m * k);
                let bytes = encode_tl1(&trits, scale, m, k, &cfg).unwrap();
                let mut want = vec![0.0f32; m * k];
                decode_tl1(&bytes, m, k, &cfg, &mut want).unwrap();
                for kr in kernels() {
                    for st in [Streaming::Auto, Streaming::On] {
                        let mut got = vec![9.0f32; m * k];
                        let dst = f32_bytes_mut(&mut got);
                        decode_tl1_fast_out_on(kr, &bytes, m, k, &cfg, OutType::F32, dst, st).unwrap();
                        assert!(same(&want, &got), "{m}x{k} {cfg:?} scale {scale} {kr:?} {st:?}");
                    }
                }
                // An invalid index: the same error, output untouched.
                let mut bad = bytes.clone();
                let at = rng.below((m * k / 4) as u64) as usize;
                bad[at] = 0x9c;
                let e1 = decode_tl1(&bad, m, k, &cfg, &mut want).unwrap_err();
                let mut out = vec![3.0f32; m * k];
                let e2 = decode_tl1_fast(&bad, m, k, &cfg, &mut out).unwrap_err();
                assert_eq!(e1.message(), e2.message());
                assert!(out.iter().all(|&v| v == 3.0));
            }
        }
    }

    #[test]
    fn random_bytes_agree_with_the_oracle() {
        // Arbitrary bytes (mostly invalid indices, any scale bits): the same Ok values or the
        // same error as the oracle, never a panic.
        let mut rng = Rng(23);
        for _ in 0..300 {
            let bm = [32, 64][rng.below(2) as usize];
            let by = 256 / bm;
            let bk = by * (1 + rng.below(6) as usize);
            let bm_tile = bm * (1 + rng.below(2) as usize);
            let (m, k) = (bm_tile * (1 + rng.below(2) as usize), bk * (1 + rng.below(3) as usize));
            let cfg = TlConfig { bm_tile, bk, bm };
            let mut src: Vec<u8> = (0..m * k / 4 + 32).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 {
                src.iter_mut().take(m * k / 4).for_each(|b| *b = (((*b >> 4) % 9) << 4) | ((*b & 15) % 9));
            }
            let (mut a, mut b) = (vec![0.0f32; m * k], vec![0.0f32; m * k]);
            let (ra, rb) = (decode_tl1(&src, m, k, &cfg, &mut a), decode_tl1_fast(&src, m, k, &cfg, &mut b));
            assert_eq!(
                ra.as_ref().map_err(|e| e.message().to_string()),
                rb.as_ref().map_err(|e| e.message().to_string())
            );
            assert!(same(&a, &b));
        }
        for _ in 0..200 {
            let bm_tile = 32 * (1 + rng.below(2) as usize);
            let bk = 24 * (1 + rng.below(4) as usize);
            let m = bm_tile * (1 + rng.below(2) as usize);
            let k = bk * (1 + rng.below(3) as usize) + 32 * rng.below(2) as usize;
            let cfg = TlConfig { bm_tile, bk, bm: 32 };
            let Ok(g) = tl2_geometry(m, k, &cfg) else { continue };
            let mut src: Vec<u8> = (0..g.nbytes).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 {
                src[..g.sign_offset].iter_mut().for_each(|b| *b = (((*b >> 4) % 14) << 4) | ((*b & 15) % 14));
                src[g.two_offset..g.payload].iter_mut().for_each(|b| *b = (((*b >> 4) % 9) << 4) | ((*b & 15) % 9));
            }
            let (mut a, mut b) = (vec![0.0f32; m * k], vec![0.0f32; m * k]);
            let (ra, rb) = (decode_tl2(&src, m, k, &cfg, &mut a), decode_tl2_fast(&src, m, k, &cfg, &mut b));
            assert_eq!(
                ra.as_ref().map_err(|e| e.message().to_string()),
                rb.as_ref().map_err(|e| e.message().to_string())
            );
            assert!(same(&a, &b));
        }
    }

    #[test]
    fn tl2_fast_equals_the_oracle() {
        let mut rng = Rng(22);
        for (m, k, cfg) in [
            (32, 80, TlConfig { bm_tile: 32, bk: 48, bm: 32 }),
            (64, 256, TlConfig { bm_tile: 32, bk: 96, bm: 32 }),
            (128, 288, TlConfig { bm_tile: 64, bk: 96, bm: 32 }),
            (64, 192, TlConfig { bm_tile: 64, bk: 192, bm: 32 }),
            // More than one staging chunk (32 groups) per row, with and without a two part.
            (64, 96 * 9 + 32, TlConfig { bm_tile: 32, bk: 96, bm: 32 }),
            (32, 24 * 70, TlConfig { bm_tile: 32, bk: 24 * 35, bm: 32 }),
            (32, 64, TlConfig { bm_tile: 32, bk: 72, bm: 32 }),
        ] {
            for scale in [0.37f32, -1.5, f32::NAN] {
                let trits = rng.trits(m * k);
                let mut bytes = encode_tl2(&trits, scale, m, k, &cfg).unwrap();
                // Sign bits on index-0 triples decode to zeros in both.
                let g = tl2_geometry(m, k, &cfg).unwrap();
                if g.k3 > 0 {
                    bytes[g.sign_offset] |= 0x80;
                }
                let mut want = vec![0.0f32; m * k];
                decode_tl2(&bytes, m, k, &cfg, &mut want).unwrap();
                for kr in kernels() {
                    for st in [Streaming::Auto, Streaming::On] {
                        let mut got = vec![9.0f32; m * k];
                        let dst = f32_bytes_mut(&mut got);
                        decode_tl2_fast_out_on(kr, &bytes, m, k, &cfg, OutType::F32, dst, st).unwrap();
                        assert!(same(&want, &got), "{m}x{k} {cfg:?} scale {scale} {kr:?} {st:?}");
                    }
                }
                for (at, v) in [(rng.below(g.sign_offset.max(1) as u64) as usize, 0xe1u8), (g.payload - 1, 0x19)] {
                    if at < g.sign_offset || g.k2 > 0 {
                        let mut bad = bytes.clone();
                        bad[at] = v;
                        let e1 = decode_tl2(&bad, m, k, &cfg, &mut want).unwrap_err();
                        let mut out = vec![3.0f32; m * k];
                        let e2 = decode_tl2_fast(&bad, m, k, &cfg, &mut out).unwrap_err();
                        assert_eq!(e1.message(), e2.message());
                        assert!(out.iter().all(|&v| v == 3.0));
                    }
                }
            }
        }
    }
}
