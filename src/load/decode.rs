//! Materializing one tensor's bytes as the plan says: packed as they are, or decoded to
//! f32/f16/bf16 through `quant::tensor::TensorCodec` (the model's codec for the tensor: the
//! upstream block types via `quant::output::decode_into`, I2_S/TL1/TL2 with their per-tensor
//! scale and context).

use crate::device::Materialize;
use crate::error::{Error, Result, Status};
use crate::gguf::TensorInfo;
use crate::model::Model;
use crate::types::{I2_S, TL1, TL2};

/// Bytes `info` occupies once materialized as `m`.
pub fn out_bytes(info: &TensorInfo<'_>, m: Materialize) -> Result<usize> {
    let n = crate::placement::summary::resident_bytes(m, info.n_bytes, info.n_elements);
    usize::try_from(n)
        .map_err(|_| Error::new(Status::OutOfMemory, format!("tensor '{}': {n} bytes do not fit in memory", info.name)))
}

/// Write tensor `i` of `model` (packed bytes `src`) into `dst` (exactly [`out_bytes`]) as `m`.
pub fn materialize_into(model: &Model, i: usize, src: &[u8], m: Materialize, dst: &mut [u8]) -> Result<()> {
    let info = model.tensor(i).expect("index in range").info;
    let ctx = |e: Error| e.context(format!("tensor '{}'", info.name));
    match m {
        Materialize::Packed => {
            if src.len() != dst.len() {
                return Err(ctx(Error::new(
                    Status::InvalidParameter,
                    format!("{} packed bytes for a {}-byte destination", src.len(), dst.len()),
                )));
            }
            dst.copy_from_slice(src);
            Ok(())
        }
        Materialize::Decoded(out) => model.codec(i)?.decode(src, out, dst),
    }
}

/// Check a tensor's bytes as read: the length the layout promised (a short read or a file
/// that changed under us would differ), and for the BitNet types the per-tensor scale (finite,
/// not negative: `TensorCodec::scale`).
pub fn validate(model: &Model, i: usize, info: &TensorInfo<'_>, src: &[u8]) -> Result<()> {
    if src.len() as u64 != info.n_bytes {
        return Err(Error::new(
            Status::Io,
            format!(
                "tensor '{}' (tensor info at byte {}): {} bytes available, {} expected",
                info.name,
                info.info_pos,
                src.len(),
                info.n_bytes
            ),
        ));
    }
    if matches!(info.ty.id, I2_S | TL1 | TL2) {
        model.codec(i)?.scale(src).map_err(|e| e.context(format!("tensor '{}'", info.name)))?;
    }
    Ok(())
}
