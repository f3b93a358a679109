//! Codecs: decode (dequantize) and encode (quantize) tensor bytes, one file per family.
//!
//! Each family module exposes `decoder(id) -> Option<Decoder>`: a scalar function that is the
//! oracle for that type, bit-exact with ggml's `dequantize_row_*` (same f32 operation order, no
//! FMA contraction — Rust never contracts). `quant` knows nothing about files: it works on byte
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
pub mod ternary;

use crate::error::{Error, Result, Status};
use crate::types::{self, Layout, TypeId, TypeInfo};

/// A scalar decoder: `src` holds exactly `dst.len() / blck` whole blocks.
pub type Decoder = fn(src: &[u8], dst: &mut [f32]);

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
    if n % ti.blck != 0 {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("{n} elements are not a whole number of {}-element {} blocks", ti.blck, ti.name),
        ));
    }
    (n / ti.blck).checked_mul(ti.tsize).ok_or_else(|| {
        Error::new(Status::InvalidParameter, format!("{n} elements of {} overflow the byte size", ti.name))
    })
}

/// Decode `dst.len()` elements of type `id` from `src` (exactly their bytes) into f32.
pub fn dequantize_f32(id: TypeId, src: &[u8], dst: &mut [f32]) -> Result<()> {
    let ti = types::info(id).ok_or_else(|| Error::new(Status::InvalidParameter, format!("unknown type id {id}")))?;
    let need = row_bytes(ti, dst.len() as u64)?;
    if src.len() as u64 != need {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("{} {} elements need {need} bytes, {} given", dst.len(), ti.name, src.len()),
        ));
    }
    let dec = decoder(id)
        .ok_or_else(|| Error::new(Status::UnsupportedType, format!("no decoder for {} in this build", ti.name)))?;
    dec(src, dst);
    Ok(())
}
