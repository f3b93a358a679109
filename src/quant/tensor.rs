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
use super::bitnet::tiles::{decode_tl_rows, TlKind};
use super::bitnet::tl1::decode_tl1_trits;
use super::bitnet::tl2::{decode_tl2_trits, tl2_geometry};
use super::bitnet::{byte_at, i2s_nbytes, read_f32, tl1_validate, I2sLayout, TlConfig};
use super::output::{decode_into, store_scalar, OutType};
use super::row_bytes;
use crate::error::{Error, Result, Status};
use crate::types::{self, TypeId, TypeInfo, I2_S, TL1, TL2};

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
        Ok(self.ne[1] * self.ne[2] * self.ne[3])
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
                if self.ne[0] % self.i2s.block_elems() as u64 != 0 {
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
        let rows_per_step = (STEP_ELEMS as usize / ne0).max(1);
        let mut scratch = vec![0f32; rows_per_step.min((rows.end - rows.start) as usize) * ne0];
        // Check every code of the range before writing anything.
        let (b0, b1) = (rows.start as usize * ne0 / 4, rows.end as usize * ne0 / 4);
        super::bitnet::i2s::check_codes(&bytes[b0..b1], b0, self.i2s, self.file_offset)?;
        let esize = out.size() as usize;
        let mut r = rows.start as usize;
        for d in dst.chunks_mut(rows_per_step * ne0 * esize) {
            let k = d.len() / esize / ne0;
            let vals = &mut scratch[..k * ne0];
            let first = r * ne0 / 4;
            decode_i2s_payload_at(&bytes[first..first + k * ne0 / 4], first, scale, self.i2s, self.file_offset, vals)?;
            store_scalar(out, vals, d);
            r += k;
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
        let mut vals = vec![0f32; (r1 - r0) * k];
        let kind = if self.ty == TL1 { TlKind::Tl1 } else { TlKind::Tl2 };
        decode_tl_rows(kind, bytes, m, k, &cfg, r0..r1, self.file_offset, &mut vals)?;
        store_scalar(out, &vals, dst);
        Ok(())
    }
}
