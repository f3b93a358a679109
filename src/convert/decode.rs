//! Tensors as f32 values through [`TensorCodec`] (every type with a decoder, I2_S, TL1 and TL2
//! with their checks), and the tile-parameter choices of conversions.

use crate::error::{Error, Result, Status};
use crate::model::codec::{CodecOptions, TlPresetName};
use crate::quant::bitnet::{I2sLayout, TernaryFormat, TlConfig};
use crate::quant::output::OutType;
use crate::quant::tensor::TensorCodec;
use crate::types::{self, TypeId, I2_S, TL1, TL2};

pub use crate::model::tl_keys::{tl_key, tl_value};

/// Where TL1 / TL2 tile parameters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlChoice {
    /// These parameters for every TL tensor.
    Config(TlConfig),
    /// A shipped preset, looked up by each tensor's shape.
    Preset(TlPresetName),
}

impl TlChoice {
    /// Parse `BM,BK,bm`.
    pub fn parse_config(s: &str) -> Result<TlChoice> {
        let nums: Option<Vec<usize>> = s.split(',').map(|x| x.trim().parse().ok()).collect();
        match nums.as_deref() {
            Some(&[bm_tile, bk, bm]) => Ok(TlChoice::Config(TlConfig { bm_tile, bk, bm })),
            _ => Err(Error::new(
                Status::InvalidParameter,
                format!("tile config '{s}': expected three positive integers BM,BK,bm (e.g. 256,128,32)"),
            )),
        }
    }

    /// Parse a preset name ([`TlPresetName::parse`]: `MODEL[:setup_env|:ini]`).
    pub fn parse_preset(s: &str) -> Result<TlChoice> {
        Ok(TlChoice::Preset(TlPresetName::parse(s)?))
    }

    /// The codec options that decode TL tensors with this choice.
    pub fn codec_options(&self) -> CodecOptions {
        match *self {
            TlChoice::Config(c) => CodecOptions { tl_config: Some(c), ..CodecOptions::default() },
            TlChoice::Preset(p) => CodecOptions { tl_preset: Some(p), ..CodecOptions::default() },
        }
    }

    /// The parameters for an `m x k` tensor of type `ty` (TL1 or TL2), naming the tensor when
    /// the preset has no such shape.
    pub fn resolve(&self, ty: TypeId, m: usize, k: usize, tensor: &str) -> Result<TlConfig> {
        match self {
            TlChoice::Config(c) => Ok(*c),
            TlChoice::Preset(p) => p.lookup(ty, m, k).ok_or_else(|| {
                Error::new(
                    Status::TileConfigMissing,
                    format!(
                        "tensor '{tensor}': the {} preset '{}' ({:?}) has no configuration for M={m}, K={k}; pass \
                         explicit tile parameters",
                        types::info(ty).map_or("?", |t| t.name),
                        p.model,
                        p.source
                    ),
                )
            }),
        }
    }
}

/// Whether `id` is one of the ternary types I2_S, TL1, TL2, TQ1_0, TQ2_0.
pub fn is_ternary(id: TypeId) -> bool {
    matches!(id, I2_S | TL1 | TL2 | 34 | 35)
}

/// The ternary format of a type (with its tile parameters for TL1 / TL2).
pub fn ternary_format(id: TypeId, tl: Option<TlConfig>, i2s: I2sLayout) -> Option<TernaryFormat> {
    match id {
        I2_S => Some(TernaryFormat::I2s(i2s)),
        TL1 => tl.map(TernaryFormat::Tl1),
        TL2 => tl.map(TernaryFormat::Tl2),
        34 => Some(TernaryFormat::Tq1_0),
        35 => Some(TernaryFormat::Tq2_0),
        _ => None,
    }
}

/// `(m, k)` = (rows, ne0) of a tensor shape with `n` elements.
pub fn rows_cols(ne: &[u64; 4], n: u64) -> (usize, usize) {
    let k = ne[0] as usize;
    let m = if k == 0 { 0 } else { (n / ne[0]) as usize };
    (m, k)
}

/// Decode a whole tensor (`data`, described by `codec`) to f32; errors name `name`.
pub fn decode_f32(codec: &TensorCodec, data: &[u8], name: &str) -> Result<Vec<f32>> {
    let n = usize::try_from(codec.n_elements()?)
        .map_err(|_| Error::new(Status::ElementCountOverflow, format!("tensor '{name}' is too large")))?;
    let mut bytes = vec![0u8; n * 4];
    codec.decode(data, OutType::F32, &mut bytes).map_err(|e| e.context(format!("tensor '{name}'")))?;
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
