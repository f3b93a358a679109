//! Tensor-level decoding: [`TensorCodec`] decodes any tensor, or any range of its rows, from its
//! whole byte range, for every type, including those that need more than a block at a time:
//! - I2_S: one f32 scale per tensor, after the payload (bitnet-formats.md §3.4), and a layout
//!   flavour that cannot be read from the bytes ([`I2sLayout`], §3.8);
//! - TL1 / TL2: one scale per tensor, and tile parameters ([`TlConfig`]) that are not stored
//!   by bitnet.cpp (§4.9, §5.9).
//!
//! Upstream ggml types delegate to [`decode_into`] (row slices of whole blocks).
//!
//! On top of the codecs' own checks (lengths, invalid codes), the per-tensor scale of the BitNet
//! types is checked here, where tensors come from files: it must be finite and `>= 0`, and may
//! be 0 only when every element is 0. Rationale (bitnet-formats.md §3.4, §3.7, §4.5, §10):
//! bitnet.cpp's `quantize_i2_s` and the converters write `max|W|` (or the absmean, clamped to
//! 1e-5), which is never negative, NaN or infinite for finite weights, and is 0 exactly for an
//! all-zero tensor (whose codes all mean 0). The codec functions in [`super::bitnet`] stay
//! permissive (they multiply whatever scale they find, as the reference kernels do).
//!
//! Errors name the byte (relative to the tensor, and in the file when
//! [`TensorCodec::file_offset`] is known) and what was expected versus found; nothing is written
//! to `dst` unless every check passes.

use std::ops::Range;

use super::bitnet::i2s::{decode_i2s_payload_at, decode_i2s_trits};
use super::bitnet::i2s_fast;
use super::bitnet::tiles::{decode_tl_rows, TlKind};
use super::bitnet::tl1::decode_tl1_trits;
use super::bitnet::tl2::{decode_tl2_trits, tl2_geometry};
use super::bitnet::tl_fast::{decode_tl1_fast_out, decode_tl2_fast_out, decode_tl_rows_fast};
use super::bitnet::{
    byte_at, i2s_nbytes, read_f32, scan_any, store_values, tl1_validate, value_lut, I2sLayout, TlConfig,
};
use super::output::{decode_into, share_pieces, OutType, Streaming, PAR_MIN_BYTES, PIECE_BYTES, STREAM_MIN_BYTES};
use super::row_bytes;
use crate::error::{Error, Result, Status};
use crate::types::{self, TypeId, TypeInfo, I2_S, TL1, TL2};
use std::sync::{Mutex, PoisonError};

/// How to decode one tensor: its type and shape, plus the context its bytes need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorCodec {
    /// API type id.
    pub ty: TypeId,
    /// Shape, ne0 (the row length) first; unused dimensions are 1.
    pub ne: [u64; 4],
    /// TL1 / TL2 tile parameters (required for those types, ignored otherwise).
    pub tl: Option<TlConfig>,
    /// I2_S layout flavour (ignored for other types). Default: the canonical GROUP_128.
    pub i2s: I2sLayout,
    /// Where the tensor's first byte is in its file, when known: errors then also give file
    /// offsets. Does not change what is decoded.
    pub file_offset: Option<u64>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidParameter, msg)
}

/// Elements decoded per step through the f32 scratch buffer.
const STEP_ELEMS: u64 = 1 << 16;

/// Whole rows of `ne0` elements per step: about [`STEP_ELEMS`] elements, at least one row.
fn rows_per_step(ne0: usize) -> usize {
    (STEP_ELEMS as usize / ne0).max(1)
}

impl TensorCodec {
    /// A codec for a tensor of type `ty` and shape `ne` (canonical I2_S layout, no tile
    /// configuration, file offset unknown).
    pub fn new(ty: TypeId, ne: [u64; 4]) -> TensorCodec {
        TensorCodec { ty, ne, tl: None, i2s: I2sLayout::Group128, file_offset: None }
    }

    fn info(&self) -> Result<&'static TypeInfo> {
        types::info(self.ty).ok_or_else(|| bad(format!("unknown type id {}", self.ty)))
    }

    /// Elements of the tensor (checked).
    pub fn n_elements(&self) -> Result<u64> {
        types::element_count(&self.ne).ok_or_else(|| bad(format!("the shape {:?} overflows", self.ne)))
    }

    /// Rows of the tensor: `ne1 * ne2 * ne3`.
    pub fn n_rows(&self) -> Result<u64> {
        self.n_elements()?;
        // ne0 may be 0, so the element count does not bound this product.
        self.ne[1]
            .checked_mul(self.ne[2])
            .and_then(|v| v.checked_mul(self.ne[3]))
            .ok_or_else(|| bad(format!("the row count of the shape {:?} overflows", self.ne)))
    }

    /// `(M, K)` of a TL tensor (2-D), with its validated tile configuration.
    fn tl_shape(&self, ti: &TypeInfo) -> Result<(usize, usize, TlConfig)> {
        ti.tl_shape_rule(&self.ne).map_err(|e| {
            Error::new(Status::BadShapeForType, format!("the shape {:?} cannot be {}: {e:?}", self.ne, ti.name))
        })?;
        let cfg = self.tl.ok_or_else(|| {
            Error::new(
                Status::TileConfigMissing,
                format!(
                    "a {} tensor needs its tile configuration (BM, BK, bm): it is not stored by bitnet.cpp and is \
                     never guessed; give it with a bitgguf.tl.<tensor> key, a tile config or a TL preset",
                    ti.name
                ),
            )
        })?;
        let (m, k) = (usize::try_from(self.ne[1]), usize::try_from(self.ne[0]));
        let (Ok(m), Ok(k)) = (m, k) else { return Err(bad(format!("the shape {:?} is too large", self.ne))) };
        let checked = if self.ty == TL1 { tl1_validate(m, k, &cfg) } else { tl2_geometry(m, k, &cfg).map(|_| ()) };
        checked.map_err(|e| Error::new(Status::TileConfigInvalid, e.message().to_string()))?;
        Ok((m, k, cfg))
    }

    /// The tensor's exact byte size (checking the shape, and the tile configuration of TL1 /
    /// TL2).
    pub fn nbytes(&self) -> Result<u64> {
        let ti = self.info()?;
        let n = ti.nbytes(&self.ne).map_err(|e| {
            Error::new(Status::BadShapeForType, format!("the shape {:?} is invalid for {}: {e:?}", self.ne, ti.name))
        })?;
        match self.ty {
            TL1 | TL2 => {
                self.tl_shape(ti)?;
            }
            I2_S => {
                let n_el = usize::try_from(self.n_elements()?).map_err(|_| bad("too many elements"))?;
                i2s_nbytes(n_el, self.i2s)?;
                if !self.ne[0].is_multiple_of(self.i2s.block_elems() as u64) {
                    return Err(Error::new(
                        Status::BadShapeForType,
                        format!(
                            "I2_S rows of {} elements are not whole {}-element blocks",
                            self.ne[0],
                            self.i2s.block_elems()
                        ),
                    ));
                }
            }
            _ => {}
        }
        Ok(n)
    }

    /// Bytes of the whole tensor decoded as `out`.
    pub fn decoded_size(&self, out: OutType) -> Result<u64> {
        self.n_elements()?.checked_mul(out.size()).ok_or_else(|| bad("the decoded size overflows"))
    }

    /// Decode the whole tensor (`bytes`: exactly [`TensorCodec::nbytes`]) into `dst` (at least
    /// [`TensorCodec::decoded_size`] bytes) as `out`.
    pub fn decode(&self, bytes: &[u8], out: OutType, dst: &mut [u8]) -> Result<()> {
        self.decode_rows(bytes, 0..self.n_rows()?, out, dst)
    }

    /// The per-tensor scale of a BitNet tensor (I2_S, TL1, TL2), checked (see the module
    /// docs); `None` for other types.
    pub fn scale(&self, bytes: &[u8]) -> Result<Option<f32>> {
        let ti = self.info()?;
        if !matches!(self.ty, I2_S | TL1 | TL2) {
            return Ok(None);
        }
        self.check_len(bytes)?;
        let at = bytes.len() - 32;
        let s = read_f32(bytes, at);
        self.check_scale(ti, bytes, s, at)?;
        Ok(Some(s))
    }

    fn check_len(&self, bytes: &[u8]) -> Result<u64> {
        let need = self.nbytes()?;
        if bytes.len() as u64 != need {
            let ti = self.info()?;
            return Err(bad(format!(
                "{} bytes of data given; a {} tensor of shape {:?} is {need} bytes",
                bytes.len(),
                ti.name,
                &self.ne
            )));
        }
        Ok(need)
    }

    /// The scale rule of the module docs.
    fn check_scale(&self, ti: &TypeInfo, bytes: &[u8], s: f32, at: usize) -> Result<()> {
        let what = format!(
            "the {} per-tensor scale at {} is {s} (bits {:#010x})",
            ti.name,
            byte_at(at, self.file_offset),
            s.to_bits()
        );
        if !s.is_finite() || s < 0.0 {
            return Err(Error::new(
                Status::BadScale,
                format!("{what}; expected a finite value >= 0 (bitnet.cpp writes max|W|)"),
            ));
        }
        if s == 0.0 {
            let n = usize::try_from(self.n_elements()?).map_err(|_| bad("too many elements"))?;
            let trits = match self.ty {
                I2_S => decode_i2s_trits(bytes, n, self.i2s)?.trits,
                _ => {
                    let (m, k, cfg) = self.tl_shape(ti)?;
                    if self.ty == TL1 {
                        decode_tl1_trits(bytes, m, k, &cfg)?.trits
                    } else {
                        decode_tl2_trits(bytes, m, k, &cfg)?.trits
                    }
                }
            };
            if let Some(e) = trits.iter().position(|&t| t != 0) {
                return Err(Error::new(
                    Status::BadScale,
                    format!(
                        "{what} but element {e} is {}; a zero scale is only valid for an all-zero tensor (bitnet.cpp \
                         writes max|W|, which is 0 only then)",
                        trits[e]
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Decode rows `rows` (`rows.end <= n_rows`) of the tensor whose whole byte range is
    /// `bytes` into `dst` (at least `rows.len() * ne0 * out.size()` bytes; only those are
    /// written) as `out`. TL1 / TL2 read (and validate) only the row tiles holding the rows.
    pub fn decode_rows(&self, bytes: &[u8], rows: Range<u64>, out: OutType, dst: &mut [u8]) -> Result<()> {
        let ti = self.info()?;
        self.check_len(bytes)?;
        let n_rows = self.n_rows()?;
        if rows.start > rows.end || rows.end > n_rows {
            return Err(Error::new(
                Status::IndexOutOfRange,
                format!("rows {}..{} requested from a tensor of {n_rows} rows", rows.start, rows.end),
            ));
        }
        let ne0 = self.ne[0];
        let n = (rows.end - rows.start) * ne0;
        let need = n.checked_mul(out.size()).ok_or_else(|| bad("the decoded size overflows"))?;
        if (dst.len() as u64) < need {
            return Err(Error::new(
                Status::InsufficientSize,
                format!("{n} elements as {} need {need} bytes, the buffer has {}", out.name(), dst.len()),
            ));
        }
        let dst = &mut dst[..need as usize];
        if n == 0 {
            return Ok(());
        }
        match self.ty {
            I2_S | TL1 | TL2 => {
                let scale_at = bytes.len() - 32;
                self.check_scale(ti, bytes, read_f32(bytes, scale_at), scale_at)?;
                if self.ty == I2_S {
                    self.decode_i2s_rows(bytes, rows, out, dst)
                } else {
                    self.decode_tl_rows(ti, bytes, rows, out, dst)
                }
            }
            _ => {
                let rb = row_bytes(ti, ne0)?;
                let src = &bytes[(rows.start * rb) as usize..(rows.end * rb) as usize];
                decode_into(self.ty, src, n, out, dst)
            }
        }
    }

    fn decode_i2s_rows(&self, bytes: &[u8], rows: Range<u64>, out: OutType, dst: &mut [u8]) -> Result<()> {
        let ne0 = self.ne[0] as usize;
        let scale = read_f32(bytes, bytes.len() - 32);
        let rows_per_step = rows_per_step(ne0);
        // Check every code of the range before writing anything (the vectorized scan first; the
        // scalar check finds and names the byte).
        let (b0, b1) = (rows.start as usize * ne0 / 4, rows.end as usize * ne0 / 4);
        // (Large ranges in pieces shared with rayon's pool.)
        if scan_any(&bytes[b0..b1], |c| i2s_fast::fast::any_code3(c) != Some(false)) {
            super::bitnet::i2s::check_codes(&bytes[b0..b1], b0, self.i2s, self.file_offset)?;
        }
        let lut = value_lut(scale);
        let esize = out.size() as usize;
        // Large outputs use streaming stores (they would not stay in the caches).
        let streaming = dst.len() >= STREAM_MIN_BYTES;
        // Steps of whole rows (about STEP_ELEMS elements each) are independent, decoded in
        // pieces of whole steps (about PIECE_BYTES of output each) shared by the calling thread
        // and rayon's pool (`share_pieces`, as the other decoders split), each piece into its
        // own part of `dst`. Against rayon's `par_chunks_mut` over single steps (the calling
        // thread waiting for the pool to take the job): two threads, 16 Mi elements, four
        // alternated runs, f32 92.5% -> 95.5% of the line, f16 72.5% -> 83%, bf16 74% -> 79.5%
        // (docs/PERFORMANCE.md, session 11).
        let step_bytes = rows_per_step * ne0 * esize;
        let threads = if dst.len() >= PAR_MIN_BYTES { rayon::current_num_threads() } else { 1 };
        let per = (PIECE_BYTES / step_bytes).max(1);
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        let pieces: Vec<(usize, &mut [u8])> = dst.chunks_mut(per * step_bytes).enumerate().collect();
        share_pieces(pieces, threads, |(p, piece)| {
            let first = (rows.start as usize + p * per * rows_per_step) * ne0 / 4;
            if let Err(e) = self.decode_i2s_piece(bytes, first, scale, lut, out, piece, streaming) {
                failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
            }
        });
        match failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A piece of [`Self::decode_i2s_rows`]: the whole rows whose codes start at payload byte
    /// `first`, into `d` (their outputs), their codes already checked.
    #[allow(clippy::too_many_arguments)]
    fn decode_i2s_piece(
        &self,
        bytes: &[u8],
        first: usize,
        scale: f32,
        lut: [f32; 3],
        out: OutType,
        d: &mut [u8],
        streaming: bool,
    ) -> Result<()> {
        let (ne0, esize) = (self.ne[0] as usize, out.size() as usize);
        let rows = d.len() / esize / ne0;
        let payload = &bytes[first..first + rows * ne0 / 4];
        // The AVX2 / AVX-512 unpacker (bit-exact with the scalar one, `i2s_fast`) for the
        // canonical layout, straight into `d` in any output type; the codes were checked above.
        if self.i2s == I2sLayout::Group128
            && i2s_fast::fast::unpack_group128_out(payload, lut, out, d, streaming, true).is_some()
        {
            return Ok(());
        }
        // The scalar path: steps of whole rows (about STEP_ELEMS elements) through an f32
        // scratch buffer, then stored.
        let rows_per_step = rows_per_step(ne0);
        let mut scratch = Vec::new();
        for (i, d) in d.chunks_mut(rows_per_step * ne0 * esize).enumerate() {
            let at = first + i * rows_per_step * ne0 / 4;
            let n = d.len() / esize;
            scratch.resize(n, 0.0);
            decode_i2s_payload_at(&bytes[at..at + n / 4], at, scale, self.i2s, self.file_offset, &mut scratch)?;
            store_values(out, &scratch, d);
        }
        Ok(())
    }

    fn decode_tl_rows(
        &self,
        ti: &TypeInfo,
        bytes: &[u8],
        rows: Range<u64>,
        out: OutType,
        dst: &mut [u8],
    ) -> Result<()> {
        let (m, k, cfg) = self.tl_shape(ti)?;
        let (r0, r1) = (rows.start as usize, rows.end as usize);
        let kind = if self.ty == TL1 { TlKind::Tl1 } else { TlKind::Tl2 };
        // Whole tensors: the fast decoders (`tl_fast`, bit-exact with the tile walk, in every
        // output type); anything they refuse is decoded (and its error worded) by the tile walk
        // below.
        if r0 == 0 && r1 == m {
            let fast = if kind == TlKind::Tl1 {
                decode_tl1_fast_out(bytes, m, k, &cfg, out, dst, Streaming::Auto)
            } else {
                decode_tl2_fast_out(bytes, m, k, &cfg, out, dst, Streaming::Auto)
            };
            if fast.is_ok() {
                return Ok(());
            }
        }
        // Row ranges: the whole row groups inside through the fast decoders, the partial ones
        // at the ends through the tile walk (`decode_tl_rows_fast`); anything it declines
        // (including invalid indices, worded below) goes through the tile walk alone.
        if decode_tl_rows_fast(kind, bytes, m, k, &cfg, r0..r1, out, dst) {
            return Ok(());
        }
        let mut vals = vec![0f32; (r1 - r0) * k];
        decode_tl_rows(kind, bytes, m, k, &cfg, r0..r1, self.file_offset, &mut vals)?;
        store_values(out, &vals, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::bitnet::testutil::Rng;
    use super::*;

    /// An I2_S tensor whose code scan is split over the pool (a payload of several
    /// `SCAN_PIECE`s): one code 3 in any piece is reported (naming its element and byte) and
    /// nothing is written; the clean tensor decodes.
    #[test]
    fn split_i2s_code_scan_names_the_bad_byte() {
        let (ne0, rows) = (4096u64, 1536u64); // payload 1.5 MiB
        let n = (ne0 * rows) as usize;
        let mut rng = Rng(5);
        let trits: Vec<i8> = (0..n).map(|_| rng.below(3) as i8 - 1).collect();
        let w: Vec<f32> = trits.iter().map(|&t| t as f32 * 0.5).collect();
        let bytes = super::super::bitnet::quantize_i2s(
            &w,
            super::super::bitnet::Ternarizer::Absmean,
            I2sLayout::Group128,
            super::super::bitnet::TailFill::Zero,
        )
        .unwrap();
        let codec = TensorCodec::new(I2_S, [ne0, rows, 1, 1]);
        let mut dst = vec![0u8; 4 * n];
        codec.decode(&bytes, OutType::F32, &mut dst).unwrap();
        for at in [3usize, super::super::bitnet::SCAN_PIECE, n / 4 - 1] {
            let mut bad = bytes.clone();
            bad[at] |= 0x0c; // field 2 of the byte: code 3
            let mut out = vec![0x5au8; 4 * n];
            let e = codec.decode(&bad, OutType::F32, &mut out).unwrap_err();
            assert_eq!(e.status(), Status::InvalidCode, "{e}");
            // Field 2 of byte `at` (block at / 32, position at % 32) is element 128b + 64 + p.
            let el = at / 32 * 128 + 64 + at % 32;
            assert!(e.message().contains(&format!("element {el} at byte {at} ")), "{e}");
            assert!(out.iter().all(|&b| b == 0x5a), "nothing written");
        }
    }

    /// Arbitrary bytes, shapes, tile configurations and row ranges: errors, never panics, and
    /// nothing written on error.
    #[test]
    fn random_inputs_never_panic() {
        let mut rng = Rng(11);
        let dims = [0u64, 1, 4, 8, 16, 24, 32, 40, 48, 64, 80, 96, 128, 256, u32::MAX as u64, 1 << 40];
        let mut ok = 0;
        // Fewer under Miri (scripts/miri.sh), which interprets every instruction.
        let iters = if cfg!(miri) { 200 } else { 3000 };
        for _ in 0..iters {
            let ty = [I2_S, TL1, TL2, 2, 35][rng.below(5) as usize];
            let pick = |r: &mut Rng| dims[r.below(dims.len() as u64) as usize];
            let ne = [pick(&mut rng), pick(&mut rng), 1 + rng.below(2), 1];
            let mut c = TensorCodec::new(ty, ne);
            if rng.below(4) != 0 {
                let v = |r: &mut Rng| [0usize, 8, 16, 24, 32, 48, 64, 96, 128][r.below(9) as usize];
                c.tl = Some(TlConfig { bm_tile: v(&mut rng), bk: v(&mut rng), bm: v(&mut rng) });
            }
            c.i2s = if rng.below(2) == 0 { I2sLayout::Group128 } else { I2sLayout::Group64 };
            let len = match c.nbytes() {
                Ok(n) if n <= 1 << 16 && rng.below(8) != 0 => n as usize,
                _ => rng.below(300) as usize,
            };
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 32 && rng.below(2) == 0 {
                let s = [0.0f32, 1.0, -1.0, f32::NAN, 0.5][rng.below(5) as usize];
                bytes[len - 32..len - 28].copy_from_slice(&s.to_le_bytes());
            }
            let rows = c.n_rows().unwrap_or(0);
            let (a, b) = (rng.below(rows.clamp(1, 64) + 1), rng.below(rows.clamp(1, 64) + 2));
            let mut dst = vec![0x5au8; 1 << 14];
            match c.decode_rows(&bytes, a..b, OutType::F32, &mut dst) {
                Ok(()) => ok += 1,
                Err(_) => assert!(dst.iter().all(|&x| x == 0x5a), "{c:?}"),
            }
            let _ = c.scale(&bytes);
            let _ = c.decoded_size(OutType::F16);
        }
        assert!(ok > iters / 60, "some inputs decode: {ok} of {iters}");
    }
}
