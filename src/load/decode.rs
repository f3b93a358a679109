//! Materializing one tensor's bytes as the plan says: packed as they are, or decoded to
//! f32/f16/bf16 through `quant` (the upstream block types via `quant::output::decode_into`).

use crate::device::Materialize;
use crate::error::{Error, Result, Status};
use crate::gguf::TensorInfo;
use crate::quant::output::decode_into;

/// Bytes `info` occupies once materialized as `m`.
pub fn out_bytes(info: &TensorInfo<'_>, m: Materialize) -> Result<usize> {
    let n = crate::placement::summary::resident_bytes(m, info.n_bytes, info.n_elements);
    usize::try_from(n)
        .map_err(|_| Error::new(Status::OutOfMemory, format!("tensor '{}': {n} bytes do not fit in memory", info.name)))
}

/// Write tensor `info` (packed bytes `src`) into `dst` (exactly [`out_bytes`]) as `m`.
pub fn materialize_into(info: &TensorInfo<'_>, src: &[u8], m: Materialize, dst: &mut [u8]) -> Result<()> {
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
        Materialize::Decoded(out) => decode_into(info.ty.id, src, info.n_elements, out, dst).map_err(ctx),
    }
}

/// Check a tensor's bytes as read: the length the layout promised (a short read or a file
/// that changed under us would differ).
pub fn validate(info: &TensorInfo<'_>, src: &[u8]) -> Result<()> {
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
    Ok(())
}
