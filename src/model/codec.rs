//! Per-tensor decoding context: [`Model::codec`] resolves what a tensor's bytes need beyond its
//! type and shape (docs/FORMATS.md):
//! - TL1 / TL2 tile parameters, from the file's `bitgguf.tl.<name>` key (files bitgguf wrote),
//!   or from the load options ([`CodecOptions::tl_config`] / [`CodecOptions::tl_preset`]) for
//!   files from bitnet.cpp, which records nothing. Neither → [`Status::TileConfigMissing`];
//!   key and option disagreeing → [`Status::TileConfigInvalid`]. Never guessed.
//! - the I2_S layout flavour ([`CodecOptions::i2s_layout`]): canonical GROUP_128 unless the
//!   caller says GROUP_64 (the bytes cannot tell, bitnet-formats.md §3.8).

use std::ops::Range;

use super::tl_keys::{tl_key, TL_KEY_PREFIX};
use super::Model;
use crate::error::{Error, Result, Status};
use crate::gguf::{Value, ValueType};
use crate::quant::bitnet::{tl1_preset, tl2_preset, I2sLayout, PresetSource, TlConfig};
use crate::quant::output::OutType;
use crate::quant::tensor::TensorCodec;
use crate::types::{TL1, TL2};

/// A shipped TL tile table: a `preset_kernels/` model and which of its tables
/// (bitnet-formats.md §4.2, §5.2; [`crate::quant::bitnet::tl1_presets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlPresetName {
    /// `bitnet_b1_58-large`, `bitnet_b1_58-3B` or `Llama3-8B-1.58-100B-tokens`.
    pub model: &'static str,
    /// `setup_env.py`'s lists (what files converted through it use) or the preset ini.
    pub source: PresetSource,
}

const TL_MODELS: [(&str, &str); 3] = [
    ("bitnet_b1_58-large", "bitnet-large"),
    ("bitnet_b1_58-3B", "bitnet-3b"),
    ("Llama3-8B-1.58-100B-tokens", "llama3-8b-1.58"),
];

impl TlPresetName {
    /// Parse `MODEL[:setup_env|:ini]`: MODEL is a `preset_kernels/` directory name
    /// (`bitnet_b1_58-large`, `bitnet_b1_58-3B`, `Llama3-8B-1.58-100B-tokens`) or the matching
    /// synth preset name (`bitnet-large`, `bitnet-3b`, `llama3-8b-1.58`), case-insensitive. The
    /// table defaults to `setup_env` (setup_env.py always regenerates the kernel config the
    /// converter reads); `:ini` selects `preset_kernels/<model>/kernel_config_tl{1,2}.ini`.
    pub fn parse(name: &str) -> Result<TlPresetName> {
        let (model, source) = match name.rsplit_once(':') {
            Some((m, s)) if s.eq_ignore_ascii_case("ini") => (m, PresetSource::KernelConfigIni),
            Some((m, s)) if s.eq_ignore_ascii_case("setup_env") => (m, PresetSource::SetupEnv),
            Some((_, s)) => {
                return Err(Error::new(
                    Status::InvalidParameter,
                    format!("TL preset '{name}': unknown table ':{s}' (expected ':setup_env' or ':ini')"),
                ))
            }
            None => (name, PresetSource::SetupEnv),
        };
        TL_MODELS
            .iter()
            .find(|(dir, alias)| dir.eq_ignore_ascii_case(model) || alias.eq_ignore_ascii_case(model))
            .map(|(dir, _)| TlPresetName { model: dir, source })
            .ok_or_else(|| {
                let names: Vec<String> = TL_MODELS.iter().map(|(d, a)| format!("{d} ({a})")).collect();
                Error::new(
                    Status::InvalidParameter,
                    format!("unknown TL preset '{model}'; the shipped ones are {}", names.join(", ")),
                )
            })
    }

    /// The preset's configuration for an `m x k` tensor of type `ty`, if it has one.
    pub fn lookup(&self, ty: u32, m: usize, k: usize) -> Option<TlConfig> {
        match ty {
            TL1 => tl1_preset(self.model, self.source, m, k),
            TL2 => tl2_preset(self.model, self.source, m, k),
            _ => None,
        }
    }
}

/// Decoding context a caller gives for a model's BitNet tensors (part of
/// [`super::LoadOptions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodecOptions {
    /// One tile configuration for every TL1 / TL2 tensor without a `bitgguf.tl.*` key.
    pub tl_config: Option<TlConfig>,
    /// A shipped tile table, looked up per tensor shape.
    pub tl_preset: Option<TlPresetName>,
    /// The I2_S layout of every I2_S tensor.
    pub i2s_layout: I2sLayout,
}

fn show(c: &TlConfig) -> String {
    format!("[BM={}, BK={}, bm={}]", c.bm_tile, c.bk, c.bm)
}

impl Model {
    /// The codec options the model was loaded with.
    pub fn codec_options(&self) -> &CodecOptions {
        &self.codec
    }

    /// The tile configuration recorded for tensor `name` in the file (`bitgguf.tl.<name>`), if
    /// any; a malformed key is an error naming it.
    pub fn recorded_tl_config(&self, name: &str) -> Result<Option<TlConfig>> {
        let key = tl_key(name);
        let Some(v) = self.metadata().get(&key) else { return Ok(None) };
        let bad = |found: String| {
            Error::new(
                Status::TileConfigInvalid,
                format!("metadata key '{key}': expected an array of 3 uint32 [BM, BK, bm], found {found}"),
            )
        };
        let Value::Array(a) = v else { return Err(bad(format!("a {}", v.value_type().name()))) };
        if a.elem_type() != ValueType::U32 || a.len() != 3 {
            return Err(bad(format!("an array of {} {}", a.len(), a.elem_type().name())));
        }
        let v: Vec<usize> = a.iter().map(|x| x.as_u64().unwrap_or(0) as usize).collect();
        Ok(Some(TlConfig { bm_tile: v[0], bk: v[1], bm: v[2] }))
    }

    /// The tile configuration of TL tensor `name` (`m x k`, type `ty`): see the module docs.
    fn resolve_tl(&self, name: &str, ty: u32, m: usize, k: usize) -> Result<TlConfig> {
        let recorded = self.recorded_tl_config(name)?;
        let opt = &self.codec;
        let from_preset = opt.tl_preset.map(|p| (p, p.lookup(ty, m, k)));
        if let Some(r) = recorded {
            if let Some(c) = opt.tl_config.filter(|c| *c != r) {
                return Err(Error::new(
                    Status::TileConfigInvalid,
                    format!(
                        "the file records {} under '{}{name}', the load options say {}; remove one",
                        show(&r),
                        TL_KEY_PREFIX,
                        show(&c)
                    ),
                ));
            }
            if let Some((p, Some(c))) = from_preset.filter(|(_, c)| c.is_some_and(|c| c != r)) {
                return Err(Error::new(
                    Status::TileConfigInvalid,
                    format!(
                        "the file records {} under '{}{name}', the TL preset {} ({:?}) says {} for M={m}, K={k}",
                        show(&r),
                        TL_KEY_PREFIX,
                        p.model,
                        p.source,
                        show(&c)
                    ),
                ));
            }
            return Ok(r);
        }
        if let Some(c) = opt.tl_config {
            return Ok(c);
        }
        match from_preset {
            Some((_, Some(c))) => Ok(c),
            Some((p, None)) => Err(Error::new(
                Status::TileConfigMissing,
                format!(
                    "the TL preset {} ({:?}) has no {} configuration for M={m}, K={k}; give the tile configuration \
                     explicitly",
                    p.model,
                    p.source,
                    if ty == TL1 { "TL1" } else { "TL2" }
                ),
            )),
            None => Err(Error::new(
                Status::TileConfigMissing,
                format!(
                    "M={m}, K={k}: no '{}{name}' key in the file and no tile configuration or TL preset in the load \
                     options; bitnet.cpp does not record (BM, BK, bm), so give them (or the preset the file was \
                     converted with)",
                    TL_KEY_PREFIX
                ),
            )),
        }
    }

    /// Where tensor `index`'s first byte is in its file.
    pub fn tensor_file_offset(&self, index: usize) -> Option<u64> {
        let t = self.tensor(index)?;
        Some(self.shard(t.shard).index().data_offset() + t.info.offset)
    }

    fn tensor_context(&self, index: usize) -> String {
        let Some(t) = self.tensor(index) else { return format!("tensor #{index}") };
        let at = self.tensor_file_offset(index).unwrap_or(0);
        let file = self.shard_path(t.shard).map(|p| format!("{}: ", p.display())).unwrap_or_default();
        format!("{file}tensor '{}' ({}, data at file byte {at})", t.info.name, t.info.ty.name)
    }

    /// The codec of tensor `index`: its type and shape, the file offset of its data, and for
    /// BitNet tensors the context resolved from the file and the load options. Errors name the
    /// tensor.
    pub fn codec(&self, index: usize) -> Result<TensorCodec> {
        let t = self.tensor(index).ok_or_else(|| {
            Error::new(Status::IndexOutOfRange, format!("tensor index {index} (the model has {})", self.tensor_count()))
        })?;
        let info = t.info;
        let mut c = TensorCodec::new(info.ty.id, info.ne);
        c.file_offset = self.tensor_file_offset(index);
        c.i2s = self.codec.i2s_layout;
        if matches!(info.ty.id, TL1 | TL2) {
            let (m, k) = (info.ne[1] as usize, info.ne[0] as usize);
            let cfg =
                self.resolve_tl(info.name, info.ty.id, m, k).map_err(|e| e.context(self.tensor_context(index)))?;
            c.tl = Some(cfg);
        }
        c.nbytes().map_err(|e| e.context(self.tensor_context(index)))?;
        Ok(c)
    }

    /// Decode rows `rows` of tensor `index` into `dst` as `out` (see
    /// [`TensorCodec::decode_rows`]); errors name the file, the tensor and the file offset.
    pub fn decode_rows(&self, index: usize, rows: Range<u64>, out: OutType, dst: &mut [u8]) -> Result<()> {
        let c = self.codec(index)?;
        let data = self.tensor_data(index).expect("codec checked the index");
        c.decode_rows(data, rows, out, dst).map_err(|e| e.context(self.tensor_context(index)))
    }
}
