//! Deterministic synthetic models with the BitNet b1.58 layouts (`bitgguf synth`).
//!
//! [`plan_tensors`] lists a preset's tensors (names, shapes, types, roles, byte sizes) without
//! writing anything; [`synthesize_to_path`] streams the file to disk, one tensor at a time, so a
//! multi-GB model never sits in memory; [`synthesize`] builds small models in memory.
//!
//! What is written (shared/reference/bitnet-formats.md §3.9, §7):
//! - tensor names and shapes of the preset ([`Preset::arch`]): `token_embd.weight`, per block
//!   `attn_norm`, `attn_q/k/v`, `attn_output`, `attn_sub_norm` (BitNet), `ffn_norm`,
//!   `ffn_gate/up/down`, `ffn_sub_norm` (BitNet), then `output_norm` and (Llama) `output`;
//! - the linear weights are ternary × one per-tensor scale (an f16-exact value in
//!   [1/32, 1/16)), so every ternary format (I2_S, TL1, TL2, TQ1_0, TQ2_0) holds them exactly
//!   and upstream types (`q4_0`, ...) quantize the same values;
//! - norms are F32 (f16-exact values in [0.5, 1.5)); embeddings (and `output.weight`) are F16
//!   unless [`SynthOptions::embed_ty`] says otherwise (values `k/16384`, |k| ≤ 1024, f16-exact;
//!   a ternary embedding type gets ternary × scale values instead);
//! - metadata: `general.*`, the architecture's dimensions, a minimal but valid tokenizer
//!   (synthetic token strings), `bitgguf.synth.preset` / `bitgguf.synth.seed`, and for TL1 /
//!   TL2 tensors the tile configuration key [`crate::model::tl_keys::tl_key`].
//!
//! Determinism: every value depends only on (seed, tensor index, row) through its own
//! SplitMix64 stream ([`rng::SplitMix64::stream`]); rows are generated in parallel with rayon,
//! and the bytes do not depend on the number of threads.

pub mod preset;
pub mod rng;

use std::io::{BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;

pub use preset::{Arch, Preset};
use rng::{mix64, SplitMix64};

use crate::error::{Error, Result, Status};
use crate::gguf::writer::{GgufStream, TensorSpec};
use crate::gguf::{GgufWriter, OwnedValue, ValueType};
use crate::model::tl_keys::{tl_key, tl_value};
use crate::outfile::OutFile;
use crate::quant;
use crate::quant::bitnet::{
    encode_i2s_payload, encode_tl1, encode_tl2, i2s_tail, tl1_preset, tl1_validate, tl2_geometry, tl2_preset,
    I2sLayout, PresetSource, TailFill, TlConfig,
};
use crate::types::{self, TypeId, I2_S, TL1, TL2};

/// The seed when none is given (and `BITNET_SEED` is unset).
pub const DEFAULT_SEED: u64 = 42;

/// What a tensor is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SynthRole {
    /// `token_embd.weight`.
    TokenEmbedding,
    /// `output.weight` (untied LM head).
    Output,
    /// An RMS norm weight (always F32).
    Norm,
    /// A linear layer's weight (attention or FFN projection): ternary × scale.
    Linear,
}

/// One tensor of a synthetic model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthTensor {
    /// Tensor name.
    pub name: String,
    /// Shape, ne0 first.
    pub ne: Vec<u64>,
    /// API type id.
    pub ty: TypeId,
    /// Role.
    pub role: SynthRole,
    /// Byte size in the file (without alignment padding).
    pub nbytes: u64,
    /// TL1 / TL2 tile configuration (recorded under `bitgguf.tl.<name>`).
    pub tl: Option<TlConfig>,
}

/// What to synthesize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthOptions {
    /// The architecture.
    pub preset: Preset,
    /// Type of the linear weights (any ternary type, or any type with an encoder).
    pub ty: TypeId,
    /// Seed of every random choice.
    pub seed: u64,
    /// Tile configuration for every TL1 / TL2 tensor. `None`: the preset's shipped
    /// configuration for the shape (setup_env.py's, then kernel_config.ini's), else the first
    /// valid one of a fixed candidate list.
    pub tl: Option<TlConfig>,
    /// Type of `token_embd.weight` and `output.weight` (default F16).
    pub embed_ty: Option<TypeId>,
    /// What every I2_S tensor's 32-byte tail holds after the f32 scale (bitnet-formats.md §3.4):
    /// zeros ([`TailFill::Zero`], the default, the Python converter's convention) or the scale
    /// 8 times ([`TailFill::Replicate`], like Microsoft's published 2B-4T file). Readers use
    /// tail bytes 0..4 only, so both decode identically.
    pub i2s_tail: TailFill,
}

impl SynthOptions {
    /// `preset` with linear weights of type `ty`, seed [`DEFAULT_SEED`], default tiles, F16
    /// embeddings and zero-filled I2_S tails.
    pub fn new(preset: Preset, ty: TypeId) -> SynthOptions {
        SynthOptions { preset, ty, seed: DEFAULT_SEED, tl: None, embed_ty: None, i2s_tail: TailFill::Zero }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthSummary {
    /// Bytes of the file.
    pub file_size: u64,
    /// Bytes of the data section.
    pub data_size: u64,
    /// The tensors, in file order.
    pub tensors: Vec<SynthTensor>,
}

/// `general.file_type` (llama.cpp's `llama_ftype`, the BitNet fork's for I2_S / TL1 / TL2:
/// bitnet-formats.md §2.2) for a model whose linear weights have type `ty`; `None` where
/// llama.cpp has no "mostly `ty`" file type.
pub fn file_type_for(ty: TypeId) -> Option<u32> {
    Some(match ty {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        8 => 7,
        6 => 8,
        7 => 9,
        10 => 10,
        11 => 12,
        12 => 15,
        13 => 17,
        14 => 18,
        16 => 19,
        17 => 20,
        18 => 23,
        19 => 24,
        20 => 25,
        21 => 26,
        22 => 28,
        23 => 30,
        29 => 31,
        30 => 32,
        34 => 36,
        35 => 37,
        39 => 38,
        I2_S => 40,
        TL1 => 38,
        TL2 => 39,
        _ => return None,
    })
}

fn is_ternary_family(ty: TypeId) -> bool {
    matches!(ty, I2_S | TL1 | TL2 | 34 | 35)
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidParameter, msg)
}

/// Whether synth can write type `ty` at all.
fn check_writable(ty: TypeId, what: &str) -> Result<()> {
    let ti = types::info(ty).ok_or_else(|| bad(format!("{what}: unknown type id {ty}")))?;
    if matches!(ty, I2_S | TL1 | TL2) || quant::encoder(ty).is_some() {
        return Ok(());
    }
    Err(Error::new(Status::UnsupportedType, format!("{what}: synth cannot write {} (no encoder)", ti.name)))
}

/// Candidate tile configurations tried, in order, when no preset covers a shape.
const TL1_CANDIDATES_BK: [usize; 4] = [128, 64, 32, 16];
const TL2_CANDIDATES_BK: [usize; 4] = [96, 192, 48, 24];
const CANDIDATES_BM: [usize; 6] = [256, 320, 160, 128, 64, 32];

/// The tile configuration of an `m x k` tensor of type `ty` (TL1 or TL2).
fn tl_config_for(ty: TypeId, m: usize, k: usize, opts: &SynthOptions, name: &str) -> Result<TlConfig> {
    let valid = |c: &TlConfig| if ty == TL1 { tl1_validate(m, k, c).is_ok() } else { tl2_geometry(m, k, c).is_ok() };
    if let Some(c) = opts.tl {
        if ty == TL1 {
            tl1_validate(m, k, &c).map_err(|e| e.context(format!("tensor '{name}'")))?;
        } else {
            tl2_geometry(m, k, &c).map_err(|e| e.context(format!("tensor '{name}'")))?;
        }
        return Ok(c);
    }
    if let Some(model) = opts.preset.arch().tl_model {
        for src in [PresetSource::SetupEnv, PresetSource::KernelConfigIni] {
            let c = if ty == TL1 { tl1_preset(model, src, m, k) } else { tl2_preset(model, src, m, k) };
            if let Some(c) = c.filter(|c| valid(c)) {
                return Ok(c);
            }
        }
    }
    let (bks, bms): (&[usize], &[usize]) =
        if ty == TL1 { (&TL1_CANDIDATES_BK, &[32, 64]) } else { (&TL2_CANDIDATES_BK, &[32]) };
    for &bm in bms {
        for &bk in bks {
            for &bm_tile in &CANDIDATES_BM {
                let c = TlConfig { bm_tile, bk, bm };
                if valid(&c) {
                    return Ok(c);
                }
            }
        }
    }
    Err(bad(format!(
        "tensor '{name}': no TL tile configuration fits M={m}, K={k} (give one with --tl-config BM,BK,bm)"
    )))
}

/// The tensors of a synthetic model, in file order, with their byte sizes. Fails when a type
/// cannot be written or cannot hold a shape (naming the tensor).
pub fn plan_tensors(opts: &SynthOptions) -> Result<Vec<SynthTensor>> {
    check_writable(opts.ty, "--type")?;
    let embed_ty = opts.embed_ty.unwrap_or(1);
    check_writable(embed_ty, "--embed-type")?;
    let a = opts.preset.arch();
    let (e, f, kv, v) = (a.n_embd, a.n_ff, a.n_embd_kv(), a.n_vocab);
    let mut list: Vec<(String, Vec<u64>, TypeId, SynthRole)> = Vec::new();
    list.push(("token_embd.weight".into(), vec![e, v], embed_ty, SynthRole::TokenEmbedding));
    for l in 0..a.n_layer {
        let b = |s: &str| format!("blk.{l}.{s}.weight");
        list.push((b("attn_norm"), vec![e], 0, SynthRole::Norm));
        list.push((b("attn_q"), vec![e, e], opts.ty, SynthRole::Linear));
        list.push((b("attn_k"), vec![e, kv], opts.ty, SynthRole::Linear));
        list.push((b("attn_v"), vec![e, kv], opts.ty, SynthRole::Linear));
        list.push((b("attn_output"), vec![e, e], opts.ty, SynthRole::Linear));
        if a.sub_norms {
            list.push((b("attn_sub_norm"), vec![e], 0, SynthRole::Norm));
        }
        list.push((b("ffn_norm"), vec![e], 0, SynthRole::Norm));
        list.push((b("ffn_gate"), vec![e, f], opts.ty, SynthRole::Linear));
        list.push((b("ffn_up"), vec![e, f], opts.ty, SynthRole::Linear));
        list.push((b("ffn_down"), vec![f, e], opts.ty, SynthRole::Linear));
        if a.sub_norms {
            list.push((b("ffn_sub_norm"), vec![f], 0, SynthRole::Norm));
        }
    }
    list.push(("output_norm.weight".into(), vec![e], 0, SynthRole::Norm));
    if a.output {
        list.push(("output.weight".into(), vec![e, v], embed_ty, SynthRole::Output));
    }
    list.into_iter()
        .map(|(name, ne, ty, role)| {
            let tl = if matches!(ty, TL1 | TL2) {
                Some(tl_config_for(ty, ne[1] as usize, ne[0] as usize, opts, &name)?)
            } else {
                None
            };
            let spec = TensorSpec { name, ty, ne };
            let nbytes = spec.nbytes().map_err(|err| {
                Error::new(
                    err.status(),
                    format!(
                        "preset {}: {} cannot hold this tensor: {}",
                        opts.preset.name(),
                        type_name(ty),
                        err.message()
                    ),
                )
            })?;
            Ok(SynthTensor { name: spec.name, ne: spec.ne, ty, role, nbytes, tl })
        })
        .collect()
}

fn type_name(ty: TypeId) -> &'static str {
    types::info(ty).map_or("?", |t| t.name)
}

/// The metadata of the model.
fn metadata(opts: &SynthOptions, tensors: &[SynthTensor]) -> GgufWriter {
    let a = opts.preset.arch();
    let mut w = GgufWriter::new();
    let arch = a.architecture;
    let k = |s: &str| format!("{arch}.{s}");
    w.kv("general.architecture", OwnedValue::str(arch));
    w.kv("general.name", OwnedValue::str(a.name));
    if let Some(ft) = file_type_for(opts.ty) {
        w.kv("general.file_type", OwnedValue::U32(ft));
    }
    w.kv("general.quantization_version", OwnedValue::U32(2));
    w.kv(k("vocab_size"), OwnedValue::U32(a.n_vocab as u32));
    w.kv(k("context_length"), OwnedValue::U32(a.n_ctx as u32));
    w.kv(k("embedding_length"), OwnedValue::U32(a.n_embd as u32));
    w.kv(k("block_count"), OwnedValue::U32(a.n_layer as u32));
    w.kv(k("feed_forward_length"), OwnedValue::U32(a.n_ff as u32));
    w.kv(k("rope.dimension_count"), OwnedValue::U32(a.head_dim() as u32));
    w.kv(k("attention.head_count"), OwnedValue::U32(a.n_head as u32));
    w.kv(k("attention.head_count_kv"), OwnedValue::U32(a.n_head_kv as u32));
    w.kv(k("attention.layer_norm_rms_epsilon"), OwnedValue::F32(a.rms_eps));
    w.kv(k("rope.freq_base"), OwnedValue::F32(a.rope_base));
    tokenizer(&mut w, &a);
    w.kv("bitgguf.synth.preset", OwnedValue::str(opts.preset.name()));
    w.kv("bitgguf.synth.seed", OwnedValue::U64(opts.seed));
    for t in tensors {
        if let Some(c) = &t.tl {
            w.kv(tl_key(&t.name), tl_value(c));
        }
    }
    w
}

/// A minimal valid tokenizer: synthetic token strings, the special ids, and (BPE) an empty
/// merge list.
fn tokenizer(w: &mut GgufWriter, a: &Arch) {
    let n = a.n_vocab as u32;
    let gpt2 = a.tokenizer == "gpt2";
    let (bos, eos) = if gpt2 { (n - 256, n - 255) } else { (1, 2) };
    let special = |i: u32| if gpt2 { i >= n - 256 } else { i < 3 };
    let tokens = (0..n)
        .map(|i| match (gpt2, i) {
            (false, 0) => OwnedValue::str("<unk>"),
            (false, 1) => OwnedValue::str("<s>"),
            (false, 2) => OwnedValue::str("</s>"),
            _ if special(i) => OwnedValue::str(&format!("<|special_{i}|>")),
            _ => OwnedValue::str(&format!("tok{i}")),
        })
        .collect();
    let types = (0..n).map(|i| OwnedValue::I32(if special(i) { 3 } else { 1 })).collect();
    w.kv("tokenizer.ggml.model", OwnedValue::str(a.tokenizer));
    if gpt2 {
        w.kv("tokenizer.ggml.pre", OwnedValue::str("llama-bpe"));
    }
    w.kv("tokenizer.ggml.tokens", OwnedValue::Array(ValueType::String, tokens));
    if !gpt2 {
        w.kv(
            "tokenizer.ggml.scores",
            OwnedValue::Array(ValueType::F32, (0..n).map(|_| OwnedValue::F32(0.0)).collect()),
        );
    }
    w.kv("tokenizer.ggml.token_type", OwnedValue::Array(ValueType::I32, types));
    if gpt2 {
        w.kv("tokenizer.ggml.merges", OwnedValue::Array(ValueType::String, Vec::new()));
    }
    w.kv("tokenizer.ggml.bos_token_id", OwnedValue::U32(bos));
    w.kv("tokenizer.ggml.eos_token_id", OwnedValue::U32(eos));
    w.kv("tokenizer.ggml.add_bos_token", OwnedValue::Bool(true));
}

/// The per-tensor scale of ternary tensor `index`: an f16-exact value in [1/32, 1/16).
pub fn ternary_scale(seed: u64, index: u64) -> f32 {
    let h = mix64(mix64(seed ^ 0x5ca1e) ^ index);
    (1024 + (h % 1024)) as f32 / (1024.0 * 32.0)
}

/// Whether tensor `t` holds ternary × scale values.
fn holds_ternary(t: &SynthTensor) -> bool {
    t.role == SynthRole::Linear || (t.role != SynthRole::Norm && is_ternary_family(t.ty))
}

/// The trits of row `row` of tensor `index`.
fn row_trits(seed: u64, index: u64, row: u64, dst: &mut [i8]) {
    SplitMix64::stream(seed, index, row).fill_trits(dst);
}

/// The f32 values of row `row` of tensor `t` (`index` in the plan).
fn row_values(seed: u64, index: u64, t: &SynthTensor, row: u64, dst: &mut [f32]) {
    if holds_ternary(t) {
        let s = ternary_scale(seed, index);
        let mut tr = vec![0i8; dst.len()];
        row_trits(seed, index, row, &mut tr);
        for (d, &x) in dst.iter_mut().zip(&tr) {
            *d = s * x as f32;
        }
        return;
    }
    let mut r = SplitMix64::stream(seed, index, row);
    for d in dst.iter_mut() {
        let u = r.next_u64();
        *d = if t.role == SynthRole::Norm {
            0.5 + (u % 1024) as f32 / 1024.0
        } else {
            ((u % 2049) as f32 - 1024.0) / 16384.0
        };
    }
}

/// Elements generated per parallel task.
const TASK_ELEMS: u64 = 1 << 18;
/// Elements generated per write (bounds the memory in flight).
const WAVE_ELEMS: u64 = 1 << 25;

/// Generate tensor `index` and hand its bytes to `out` in order, in pieces.
fn generate(
    seed: u64,
    index: u64,
    t: &SynthTensor,
    tail: TailFill,
    out: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let ne0 = t.ne[0];
    let rows = t.ne[1..].iter().product::<u64>();
    match t.ty {
        TL1 | TL2 => {
            let (m, k) = (rows as usize, ne0 as usize);
            let mut trits = vec![0i8; m * k];
            trits.par_chunks_mut(k).enumerate().for_each(|(r, d)| row_trits(seed, index, r as u64, d));
            let cfg = t.tl.expect("planned with a config");
            let s = ternary_scale(seed, index);
            let bytes =
                if t.ty == TL1 { encode_tl1(&trits, s, m, k, &cfg)? } else { encode_tl2(&trits, s, m, k, &cfg)? };
            out(&bytes)
        }
        _ => {
            let rows_per_task = (TASK_ELEMS / ne0).max(1);
            let rows_per_wave = (WAVE_ELEMS / ne0).max(rows_per_task);
            let mut r0 = 0;
            while r0 < rows {
                let r1 = (r0 + rows_per_wave).min(rows);
                let tasks: Vec<(u64, u64)> =
                    (r0..r1).step_by(rows_per_task as usize).map(|a| (a, (a + rows_per_task).min(r1))).collect();
                let pieces: Vec<Vec<u8>> =
                    tasks.par_iter().map(|&(a, b)| encode_rows(seed, index, t, a, b)).collect::<Result<_>>()?;
                for p in &pieces {
                    out(p)?;
                }
                r0 = r1;
            }
            if t.ty == I2_S {
                out(&i2s_tail(ternary_scale(seed, index), tail))?;
            }
            Ok(())
        }
    }
}

/// Rows `a..b` of a row-splittable tensor, encoded.
fn encode_rows(seed: u64, index: u64, t: &SynthTensor, a: u64, b: u64) -> Result<Vec<u8>> {
    let ne0 = t.ne[0] as usize;
    let n = (b - a) as usize * ne0;
    if t.ty == I2_S {
        let mut trits = vec![0i8; n];
        for (i, d) in trits.chunks_exact_mut(ne0).enumerate() {
            row_trits(seed, index, a + i as u64, d);
        }
        let mut bytes = vec![0u8; n / 4];
        encode_i2s_payload(&trits, I2sLayout::Group128, &mut bytes)?;
        return Ok(bytes);
    }
    let mut vals = vec![0f32; n];
    for (i, d) in vals.chunks_exact_mut(ne0).enumerate() {
        row_values(seed, index, t, a + i as u64, d);
    }
    let (need, _) = quant::quantized_size(t.ty, n as u64, ne0 as u64)?;
    let mut bytes = vec![0u8; need];
    quant::quantize(t.ty, &vals, ne0 as u64, &mut bytes)?;
    Ok(bytes)
}

/// Write the model to any writer.
fn synthesize_into<W: Write>(
    opts: &SynthOptions,
    w: W,
    progress: &mut dyn FnMut(u64, u64),
    max_size: Option<u64>,
) -> Result<(W, SynthSummary)> {
    let tensors = plan_tensors(opts)?;
    let specs: Vec<TensorSpec> =
        tensors.iter().map(|t| TensorSpec { name: t.name.clone(), ty: t.ty, ne: t.ne.clone() }).collect();
    let plan = metadata(opts, &tensors).plan(&specs)?;
    let (file_size, data_size) = (plan.file_size, plan.data_size);
    if let Some(max) = max_size.filter(|&m| file_size > m) {
        return Err(bad(format!(
            "preset {} as {} is {file_size} bytes, more than the {max} bytes synthesize() builds in memory; use \
             synthesize_to_path",
            opts.preset.name(),
            type_name(opts.ty)
        )));
    }
    let mut s = GgufStream::new(w, plan)?;
    progress(s.position(), file_size);
    for (i, t) in tensors.iter().enumerate() {
        generate(opts.seed, i as u64, t, opts.i2s_tail, &mut |b| {
            s.write(b)?;
            progress(s.position(), file_size);
            Ok(())
        })
        .map_err(|e| e.context(format!("synth: tensor '{}'", t.name)))?;
    }
    let w = s.finish()?;
    progress(file_size, file_size);
    Ok((w, SynthSummary { file_size, data_size, tensors }))
}

/// The largest model [`synthesize`] builds in memory.
pub const MAX_IN_MEMORY: u64 = 1 << 30;

/// Build a (small) synthetic model in memory; fails above [`MAX_IN_MEMORY`] bytes.
pub fn synthesize(opts: &SynthOptions) -> Result<Vec<u8>> {
    Ok(synthesize_into(opts, Vec::new(), &mut |_, _| {}, Some(MAX_IN_MEMORY))?.0)
}

/// Stream a synthetic model to `path`, calling `progress(done_bytes, total_bytes)` as it goes.
/// Memory stays bounded (one tensor's trits for TL1 / TL2, a few tens of MB otherwise) whatever
/// the model's size. Written through [`OutFile`]: on error the partial file is removed and an
/// existing file at `path` is left as it was.
pub fn synthesize_to_path(
    opts: &SynthOptions,
    path: impl AsRef<Path>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SynthSummary> {
    let path = path.as_ref();
    // Check everything that does not need the file before creating it.
    plan_tensors(opts)?;
    let (out, f) = OutFile::create(path)?;
    let (w, s) = synthesize_into(opts, BufWriter::with_capacity(8 << 20, f), progress, None)
        .map_err(|e| e.context(out.writing_path().display()))?;
    let f = w.into_inner().map_err(|e| Error::from(e.into_error()).context(out.writing_path().display()))?;
    out.commit(f)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(Preset::from_name(p.name()), Some(p));
        }
        assert_eq!(Preset::from_name("TINY"), Some(Preset::Tiny));
        assert_eq!(Preset::from_name("nope"), None);
    }

    #[test]
    fn scales_are_f16_exact() {
        for i in 0..100 {
            let s = ternary_scale(7, i);
            assert!((1.0 / 32.0..1.0 / 16.0).contains(&s));
            assert_eq!(quant::float::f16_to_f32(quant::float::f32_to_f16(s)), s);
        }
    }
}
