//! The metadata scheme bitgguf uses to record TL1 / TL2 tile parameters in files it writes
//! (docs/FORMATS.md): key `bitgguf.tl.<tensor name>`, value a GGUF array of three UINT32
//! `[BM, BK, bm]` (kernel_config.ini's `bm`, `bk`, `bmm`). bitnet.cpp's converter records
//! nothing (bitnet-formats.md §4.9, §5.9), so files from it need the parameters from the caller.

use crate::gguf::{OwnedValue, ValueType};
use crate::quant::bitnet::TlConfig;

/// The prefix of the per-tensor tile-configuration keys.
pub const TL_KEY_PREFIX: &str = "bitgguf.tl.";

/// The key recording tensor `name`'s tile configuration.
pub fn tl_key(name: &str) -> String {
    format!("{TL_KEY_PREFIX}{name}")
}

/// The value recording a tile configuration: UINT32 array `[BM, BK, bm]`.
pub fn tl_value(cfg: &TlConfig) -> OwnedValue {
    OwnedValue::Array(
        ValueType::U32,
        [cfg.bm_tile, cfg.bk, cfg.bm].iter().map(|&v| OwnedValue::U32(v as u32)).collect(),
    )
}
