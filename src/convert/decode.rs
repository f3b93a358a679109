//! Whole tensors of a model as f32 values or ternary formats: every ggml type with a decoder,
//! I2_S (canonical layout), and TL1 / TL2 with their tile parameters from the file's
//! `bitgguf.tl.<tensor name>` key or from the caller.

use crate::error::{Error, Result, Status};
use crate::gguf::{Gguf, OwnedValue, Value, ValueType};
use crate::quant::bitnet::i2s_fast::decode_i2s_fast;
use crate::quant::bitnet::tl_fast::{decode_tl1_fast, decode_tl2_fast};
use crate::quant::bitnet::{tl1_preset, tl2_preset, I2sLayout, PresetSource, TernaryFormat, TlConfig};
use crate::quant::output::{decode_into, OutType};
use crate::types::{self, TypeId, I2_S, TL1, TL2};

/// The metadata key recording a TL1 / TL2 tensor's tile parameters in files bitgguf writes:
/// `bitgguf.tl.<tensor name>` = UINT32 array `[BM, BK, bm]`.
pub fn tl_key(tensor: &str) -> String {
    format!("bitgguf.tl.{tensor}")
}

/// The value of [`tl_key`] for a tile configuration.
pub fn tl_value(cfg: &TlConfig) -> OwnedValue {
    OwnedValue::Array(
        ValueType::U32,
        [cfg.bm_tile, cfg.bk, cfg.bm].iter().map(|&v| OwnedValue::U32(v as u32)).collect(),
    )
}

/// The tile parameters recorded for `tensor` in `meta`, if any; a malformed value is an error.
pub fn tl_from_metadata(meta: &Gguf<'_>, tensor: &str) -> Result<Option<TlConfig>> {
    let key = tl_key(tensor);
    let Some(i) = meta.find_kv(&key) else {
        return Ok(None);
    };
    let kv = meta.kv(i);
    let bad = |why: &str| {
        Error::new(
            Status::TypeMismatch,
            format!("key '{key}' at byte {}: {why}; expected a UINT32 array [BM, BK, bm]", kv.pos),
        )
    };
    let Value::Array(a) = kv.value else {
        return Err(bad(&format!("the value is a {}", kv.value.value_type().name())));
    };
    if a.elem_type() != ValueType::U32 || a.len() != 3 {
        return Err(bad(&format!("the value is an array of {} {}", a.len(), a.elem_type().name())));
    }
    let v: Vec<usize> = a.iter().filter_map(|x| x.as_u64()).map(|x| x as usize).collect();
    Ok(Some(TlConfig { bm_tile: v[0], bk: v[1], bm: v[2] }))
}

/// Where TL1 / TL2 tile parameters come from when the file does not record them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlChoice {
    /// These parameters for every TL tensor.
    Config(TlConfig),
    /// A shipped preset (`tl1_presets()` / `tl2_presets()`), looked up by each tensor's shape.
    Preset {
        /// The `preset_kernels/` model name (`bitnet_b1_58-3B`, ...).
        model: String,
        /// Which table.
        source: PresetSource,
    },
}

impl TlChoice {
    /// Parse `BM,BK,bm`.
    pub fn parse_config(s: &str) -> Result<TlChoice> {
        let v: Vec<&str> = s.split(',').map(str::trim).collect();
        let nums: Option<Vec<usize>> = v.iter().map(|x| x.parse().ok()).collect();
        match nums.as_deref() {
            Some(&[bm_tile, bk, bm]) => Ok(TlChoice::Config(TlConfig { bm_tile, bk, bm })),
            _ => Err(Error::new(
                Status::InvalidParameter,
                format!("tile config '{s}': expected three positive integers BM,BK,bm (e.g. 256,128,32)"),
            )),
        }
    }

    /// Parse a preset name: `MODEL` (the setup_env.py table) or `MODEL:ini` (the
    /// kernel_config_tl{1,2}.ini table).
    pub fn parse_preset(s: &str) -> TlChoice {
        match s.strip_suffix(":ini") {
            Some(model) => TlChoice::Preset { model: model.into(), source: PresetSource::KernelConfigIni },
            None => TlChoice::Preset {
                model: s.strip_suffix(":setup-env").unwrap_or(s).into(),
                source: PresetSource::SetupEnv,
            },
        }
    }

    /// The parameters for an `m x k` tensor of type `ty` (TL1 or TL2), naming the tensor when
    /// the preset has no such shape.
    pub fn resolve(&self, ty: TypeId, m: usize, k: usize, tensor: &str) -> Result<TlConfig> {
        match self {
            TlChoice::Config(c) => Ok(*c),
            TlChoice::Preset { model, source } => {
                let found = if ty == TL1 { tl1_preset(model, *source, m, k) } else { tl2_preset(model, *source, m, k) };
                found.ok_or_else(|| {
                    Error::new(
                        Status::NotFound,
                        format!(
                            "tensor '{tensor}': the {} preset '{model}' ({source:?}) has no configuration for M={m}, \
                             K={k}; pass explicit tile parameters",
                            types::info(ty).map_or("?", |t| t.name)
                        ),
                    )
                })
            }
        }
    }
}

/// Whether `id` is one of the ternary types I2_S, TL1, TL2, TQ1_0, TQ2_0.
pub fn is_ternary(id: TypeId) -> bool {
    matches!(id, I2_S | TL1 | TL2 | 34 | 35)
}

/// The ternary format of a type (with its tile parameters for TL1 / TL2).
pub fn ternary_format(id: TypeId, tl: Option<TlConfig>) -> Option<TernaryFormat> {
    match id {
        I2_S => Some(TernaryFormat::I2s(I2sLayout::Group128)),
        TL1 => tl.map(TernaryFormat::Tl1),
        TL2 => tl.map(TernaryFormat::Tl2),
        34 => Some(TernaryFormat::Tq1_0),
        35 => Some(TernaryFormat::Tq2_0),
        _ => None,
    }
}

/// `(m, k)` = (rows, ne0) of a tensor shape.
pub fn rows_cols(ne: &[u64; 4], n: u64) -> (usize, usize) {
    let k = ne[0] as usize;
    let m = if k == 0 { 0 } else { (n / ne[0]) as usize };
    (m, k)
}

/// Decode a tensor's bytes (`data`, type `id`, shape `ne`) to f32. TL1 / TL2 need `tl`.
pub fn decode_f32(id: TypeId, data: &[u8], ne: &[u64; 4], tl: Option<TlConfig>, name: &str) -> Result<Vec<f32>> {
    let n = types::element_count(ne)
        .ok_or_else(|| Error::new(Status::ElementCountOverflow, format!("tensor '{name}': shape {ne:?} overflows")))?;
    let (m, k) = rows_cols(ne, n);
    let n = n as usize;
    let mut out = vec![0.0f32; n];
    let ctx = |e: Error| e.context(format!("tensor '{name}'"));
    match id {
        I2_S => decode_i2s_fast(data, n, I2sLayout::Group128, &mut out).map_err(ctx)?,
        TL1 | TL2 => {
            let cfg = tl.ok_or_else(|| {
                Error::new(
                    Status::InvalidParameter,
                    format!(
                        "tensor '{name}' is {} but its tile parameters (BM, BK, bm) are unknown: the file has no \
                         '{}' key; pass them explicitly (they are never guessed)",
                        if id == TL1 { "TL1" } else { "TL2" },
                        tl_key(name)
                    ),
                )
            })?;
            if id == TL1 {
                decode_tl1_fast(data, m, k, &cfg, &mut out).map_err(ctx)?
            } else {
                decode_tl2_fast(data, m, k, &cfg, &mut out).map_err(ctx)?
            }
        }
        _ => {
            let mut bytes = vec![0u8; n * 4];
            decode_into(id, data, n as u64, OutType::F32, &mut bytes).map_err(ctx)?;
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }
    Ok(out)
}
