//! Codecs: decode (dequantize) and encode (quantize) tensor bytes, one file per family.
//!
//! Each family module exposes `decoder(id) -> Option<Decoder>`: a scalar function that is the
//! oracle for that type, bit-exact with ggml's `dequantize_row_*` (same f32 operation order, no
//! FMA contraction — Rust never contracts); and `encoder(id) -> Option<Encoder>`: a quantizer
//! from f32 byte-identical with ggml's reference quantizer (see [`quantize`]). `quant` knows nothing about files: it works on byte
//! slices of whole blocks and element counts.
//!
//! Output types: f32 directly; f16 and bf16 by decoding to f32 and rounding as ggml's CPU code
//! does ([`float::f32_to_f16`], [`float::f32_to_bf16`]).

pub mod bitnet;
pub mod float;
pub mod fp4;
pub mod iquants;
pub mod kquants;
pub mod legacy;
pub mod lowbit;
pub mod output;
pub mod simd;
pub mod tensor;
pub mod ternary;

use crate::error::{Error, Result, Status};
use crate::types::{self, Layout, TypeId, TypeInfo};

/// A scalar decoder: `src` holds exactly `dst.len() / blck` whole blocks.
pub type Decoder = fn(src: &[u8], dst: &mut [f32]);

/// A scalar encoder (quantizer from f32): `src` holds whole blocks, `dst` exactly their bytes.
/// Byte-identical with ggml's `ggml_quantize_chunk` without an importance matrix.
pub type Encoder = fn(src: &[f32], dst: &mut [u8]);

/// The scalar decoder of a type, if this build has one.
pub fn decoder(id: TypeId) -> Option<Decoder> {
    float::decoder(id)
        .or_else(|| legacy::decoder(id))
        .or_else(|| kquants::decoder(id))
        .or_else(|| iquants::decoder(id))
        .or_else(|| ternary::decoder(id))
        .or_else(|| fp4::decoder(id))
        .or_else(|| lowbit::decoder(id))
}

/// The scalar encoder of a type, if this build has one (see [`Encoder`]).
pub fn encoder(id: TypeId) -> Option<Encoder> {
    float::encoder(id)
        .or_else(|| legacy::encoder(id))
        .or_else(|| kquants::encoder(id))
        .or_else(|| iquants::encoder(id))
        .or_else(|| ternary::encoder(id))
        .or_else(|| fp4::encoder(id))
        .or_else(|| lowbit::encoder(id))
}

/// Quantize rows of `n_per_row` f32 values (`src`, a whole number of rows) to type `id` into
/// the start of `dst`, byte-identical with ggml's
/// `ggml_quantize_chunk(id, src, dst, 0, src.len() / n_per_row, n_per_row, NULL)`.
/// Returns the number of bytes written; nothing is written on error.
///
/// Errors: unknown `id`, `n_per_row` 0 or not a multiple of the block size, `src.len()` not a
/// multiple of `n_per_row`, or a size overflow → `InvalidParameter`; no encoder for the type →
/// `UnsupportedType`; `dst` shorter than the result → `InsufficientSize` (the message gives the
/// size needed).
pub fn quantize(id: TypeId, src: &[f32], n_per_row: u64, dst: &mut [u8]) -> Result<usize> {
    let (need, enc) = quantized_size(id, src.len() as u64, n_per_row)?;
    if dst.len() < need {
        let name = types::info(id).map_or("?", |ti| ti.name);
        let n = src.len();
        return Err(Error::new(
            Status::InsufficientSize,
            format!("{n} elements as {name} need {need} bytes, the buffer has {}", dst.len()),
        ));
    }
    enc(src, &mut dst[..need]);
    Ok(need)
}

/// The bytes [`quantize`] writes for `n_elements` values in rows of `n_per_row` as type `id`,
/// and the type's encoder; the same errors as [`quantize`] except `InsufficientSize`.
pub fn quantized_size(id: TypeId, n_elements: u64, n_per_row: u64) -> Result<(usize, Encoder)> {
    let ti = types::info(id).ok_or_else(|| Error::new(Status::InvalidParameter, format!("unknown type id {id}")))?;
    let enc = encoder(id)
        .ok_or_else(|| Error::new(Status::UnsupportedType, format!("quantizing to {} is not supported", ti.name)))?;
    if n_per_row == 0 {
        return Err(Error::new(Status::InvalidParameter, "the row length is 0"));
    }
    let row = row_bytes(ti, n_per_row)?;
    if !n_elements.is_multiple_of(n_per_row) {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("{n_elements} elements are not a whole number of {n_per_row}-element rows"),
        ));
    }
    let need = (n_elements / n_per_row).checked_mul(row).and_then(|v| usize::try_from(v).ok()).ok_or_else(|| {
        Error::new(Status::InvalidParameter, format!("{n_elements} elements of {} overflow the size", ti.name))
    })?;
    Ok((need, enc))
}

/// The number of bytes `n` elements of type `ti` occupy, checking that `n` is a whole number of
/// blocks (block-layout types only).
pub fn row_bytes(ti: &TypeInfo, n: u64) -> Result<u64> {
    match ti.layout {
        Layout::Blocks => {}
        Layout::None => {
            return Err(Error::new(
                Status::UnsupportedType,
                format!("{} has no data layout (removed or never stored)", ti.name),
            ))
        }
        Layout::TernaryTail | Layout::Tl2 => {
            return Err(Error::new(
                Status::UnsupportedType,
                format!("{} keeps one scale per tensor: it is decoded per tensor, not per block", ti.name),
            ))
        }
    }
    if !n.is_multiple_of(ti.blck) {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("{n} elements are not a whole number of {}-element {} blocks", ti.blck, ti.name),
        ));
    }
    (n / ti.blck).checked_mul(ti.tsize).ok_or_else(|| {
        Error::new(Status::InvalidParameter, format!("{n} elements of {} overflow the byte size", ti.name))
    })
}

/// Decode `dst.len()` elements of type `id` from `src` (exactly their bytes) into f32, through
/// [`output::decode_into`]: the fast kernels and threads where available, the same bits as the
/// scalar oracle [`decoder`].
pub fn dequantize_f32(id: TypeId, src: &[u8], dst: &mut [f32]) -> Result<()> {
    let n = dst.len() as u64;
    if cfg!(target_endian = "big") {
        let mut tmp = vec![0u8; 4 * dst.len()];
        output::decode_into(id, src, n, output::OutType::F32, &mut tmp)?;
        for (d, c) in dst.iter_mut().zip(tmp.chunks_exact(4)) {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        return Ok(());
    }
    output::decode_into(id, src, n, output::OutType::F32, simd::f32_bytes_mut(dst))
}
