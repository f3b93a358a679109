//! Decoding into a caller's buffer as f32, f16 or bf16 (little-endian, any alignment).
//!
//! Blocks are decoded to f32 in chunks through a small scratch buffer and then stored in the
//! requested type; f16 and bf16 use ggml's roundings ([`super::float`]).

use super::float::{f32_to_bf16, f32_to_f16};
use super::{decoder, row_bytes, Decoder};
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

/// Elements decoded per chunk (a multiple of every block size).
const CHUNK: usize = 4096;

fn store(out: OutType, vals: &[f32], dst: &mut [u8]) {
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

/// Look up a type and its decoder, with errors that name what is missing.
pub fn decodable(id: TypeId) -> Result<(&'static TypeInfo, Decoder)> {
    let ti = types::info(id).ok_or_else(|| Error::new(Status::InvalidParameter, format!("unknown type id {id}")))?;
    let dec = decoder(id).ok_or_else(|| {
        Error::new(Status::UnsupportedType, format!("decoding {} is not supported by this build", ti.name))
    })?;
    Ok((ti, dec))
}

/// Decode `n` elements of type `id` from `src` (exactly their bytes) into `dst` as `out`
/// (exactly `n * out.size()` bytes). Nothing is written unless every check passes.
pub fn decode_into(id: TypeId, src: &[u8], n: u64, out: OutType, dst: &mut [u8]) -> Result<()> {
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
    let blck = ti.blck as usize;
    let chunk = CHUNK / blck * blck;
    let src_chunk = chunk / blck * ti.tsize as usize;
    let mut scratch = vec![0f32; chunk.min(n as usize)];
    let dst = &mut dst[..need_dst as usize];
    let esize = out.size() as usize;
    for (s, d) in src.chunks(src_chunk).zip(dst.chunks_mut(chunk * esize)) {
        let m = d.len() / esize;
        let vals = &mut scratch[..m];
        dec(s, vals);
        store(out, vals, d);
    }
    Ok(())
}
