//! Model conversion (`bitgguf quantize`): quantize the linear-layer weights of a model to a
//! ternary type (I2_S, TL1, TL2, TQ1_0, TQ2_0) or an upstream quant type, keep everything else,
//! and stream the result to a new GGUF file.
//!
//! Which tensors change ([`TensorClass`]):
//! - **linear weights**: 2-D tensors named `*.weight` whose name does not contain `norm`, other
//!   than the embeddings → the target type;
//! - **embeddings**: `token_embd.weight` and `output.weight` (the LM head, tied to the
//!   embeddings in BitNet b1.58) → [`ConvertOptions::embeddings`], or unchanged when `None`;
//! - everything else (norms, biases, 1-D and 3-D+ tensors) is copied byte for byte.
//!
//! How a tensor changes:
//! - same type (and for TL1/TL2 the same tile parameters) → copied;
//! - ternary → ternary → transcoded losslessly ([`crate::quant::bitnet::transcode()`]); a
//!   per-tensor f32 scale that the per-block f16 of TQ1_0/TQ2_0 cannot hold exactly is an error
//!   unless [`ConvertOptions::allow_lossy_scale`] (then reported as [`TensorReport::scale_loss`]);
//!   TQ inputs whose blocks have unrelated scales cannot be unified into one per-tensor scale
//!   and are re-quantized from their values instead (reported lossy, with the reason);
//! - otherwise the tensor is decoded to f32 and quantized: ternary targets with
//!   [`ConvertOptions::mode`] (absmean or bitnet.cpp's sign-max), other types with the
//!   reference quantizers of [`crate::quant::quantize`]. The result is decoded again and compared
//!   with the input to report `exact`.
//!
//! Metadata: every key is kept in order, except `general.file_type` (set from the target,
//! [`ftype_of`]), `split.*` (the output is one file) and `bitgguf.tl.*` (rewritten for the
//! output's TL tensors: `bitgguf.tl.<name>` = UINT32 `[BM, BK, bm]`).

pub mod decode;
pub mod output;

use std::borrow::Cow;
use std::path::Path;

use crate::error::{Error, Result, Status};
use crate::gguf::writer::TensorSpec;
use crate::gguf::{OwnedValue, Value};
use crate::model::{LoadOptions, Model};
use crate::quant::bitnet::i2s_fast::quantize_i2s_fast;
use crate::quant::bitnet::{
    encode_ternary, transcode, I2sLayout, ScaleLoss, TailFill, Ternarizer, TlConfig, TranscodeOptions, I2S_TAIL_BYTES,
};
use crate::quant::tensor::TensorCodec;
use crate::types::{self, TypeId, I2_S, TL1, TL2};
use decode::{decode_f32, is_ternary, rows_cols, ternary_format, tl_key, tl_value, TlChoice};
use output::StreamingGguf;

/// What [`convert_file`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertOptions {
    /// The type of the linear-layer weights.
    pub to: TypeId,
    /// How float weights become ternary (absmean by default).
    pub mode: Ternarizer,
    /// Tile parameters of TL1 / TL2 output (required for those targets).
    pub tl: Option<TlChoice>,
    /// Tile parameters of TL1 / TL2 *input* tensors that the file does not record (used by
    /// [`convert_file`] to open the model; [`convert_model`] takes the model's own).
    pub input_tl: Option<TlChoice>,
    /// The type of `token_embd.weight` / `output.weight`; `None` keeps them.
    pub embeddings: Option<TypeId>,
    /// Accept per-tensor scales rounded to f16 for TQ1_0 / TQ2_0 output.
    pub allow_lossy_scale: bool,
    /// What I2_S output writes into `tail[4..32]`.
    pub tail: TailFill,
    /// Also give I2_S tensors that are copied unchanged (I2_S in, canonical I2_S out) the tail
    /// fill [`ConvertOptions::tail`] (their scale bytes `tail[0..4]` are kept as they are). Off
    /// by default: copies keep their bytes. `bitgguf quantize --i2s-tail` sets it.
    pub retail_copies: bool,
}

impl ConvertOptions {
    /// Options for target `to` with the defaults (absmean, embeddings kept, exact scales only).
    pub fn new(to: TypeId) -> ConvertOptions {
        ConvertOptions {
            to,
            mode: Ternarizer::Absmean,
            tl: None,
            input_tl: None,
            embeddings: None,
            allow_lossy_scale: false,
            tail: TailFill::Zero,
            retail_copies: false,
        }
    }
}

/// The role of a tensor for conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorClass {
    /// A linear layer's weight matrix.
    Linear,
    /// Token embeddings or the output head.
    Embedding,
    /// Anything else (kept as is).
    Other,
}

/// Classify a tensor by name and dimension count (see the module docs).
pub fn classify(name: &str, n_dims: u32) -> TensorClass {
    if name == "token_embd.weight" || name == "output.weight" {
        TensorClass::Embedding
    } else if n_dims == 2 && name.ends_with(".weight") && !name.contains("norm") {
        TensorClass::Linear
    } else {
        TensorClass::Other
    }
}

/// The `general.file_type` (llama ftype) of a model whose main type is `id`, where one exists:
/// upstream `LLAMA_FTYPE_MOSTLY_*` (the `_S` variant for k-quants), and the BitNet fork's
/// TL1 = 38, TL2 = 39, I2_S = 40 (bitnet-formats.md §2.2).
pub fn ftype_of(id: TypeId) -> Option<u32> {
    Some(match id {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        8 => 7,
        6 => 8,
        7 => 9,
        10 => 10,
        11 => 11,
        12 => 14,
        13 => 16,
        14 => 18,
        20 => 25,
        23 => 30,
        30 => 32,
        34 => 36,
        35 => 37,
        39 => 38,
        TL1 => 38,
        TL2 => 39,
        I2_S => 40,
        _ => return None,
    })
}

/// How a tensor was produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Bytes copied unchanged.
    Copied,
    /// Re-packed from one ternary format into another.
    Transcoded,
    /// Decoded to f32 and quantized.
    Quantized,
    /// A ternary input that could not be transcoded losslessly, re-quantized from its values.
    Requantized(String),
}

/// One tensor of a [`ConvertReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    /// Name.
    pub name: String,
    /// Input type.
    pub from: TypeId,
    /// Output type.
    pub to: TypeId,
    /// What was done.
    pub action: Action,
    /// Whether every output value equals the input value (f32 `==`, NaN equal to NaN).
    pub exact: bool,
    /// The per-tensor scale rounded to f16 (TQ output under `allow_lossy_scale`).
    pub scale_loss: Option<ScaleLoss>,
    /// The tile parameters of TL1 / TL2 output.
    pub tl: Option<TlConfig>,
    /// Input bytes and output bytes.
    pub bytes: (u64, u64),
}

/// What [`convert_file`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertReport {
    /// Every tensor, in file order.
    pub tensors: Vec<TensorReport>,
    /// The `general.file_type` written, if the target has one.
    pub file_type: Option<u32>,
    /// Size of the output file.
    pub file_bytes: u64,
}

impl ConvertReport {
    /// Whether every tensor is value-exact.
    pub fn exact(&self) -> bool {
        self.tensors.iter().all(|t| t.exact)
    }
}

/// Progress of a conversion, given to the callback before each tensor and once at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// Tensors done.
    pub done: usize,
    /// Tensors in all.
    pub total: usize,
    /// The tensor about to be converted (empty at the end).
    pub tensor: &'a str,
    /// Input bytes of the tensors done.
    pub bytes_done: u64,
    /// Input bytes of all tensors.
    pub bytes_total: u64,
}

/// Convert the model at `input` into `output` (see the module docs). `progress` returns `false`
/// to cancel ([`Status::Cancelled`]; no output file is left behind).
pub fn convert_file(
    input: &Path,
    output: &Path,
    opts: &ConvertOptions,
    progress: &mut dyn FnMut(&Progress<'_>) -> bool,
) -> Result<ConvertReport> {
    let mut load = LoadOptions::default();
    if let Some(tl) = &opts.input_tl {
        load.codec = tl.codec_options();
    }
    let model = Model::open(input, &load)?;
    convert_model(&model, output, opts, progress).map_err(|e| e.context(input.display()))
}

/// What happens to one tensor: its output type and TL parameters.
struct Job {
    index: usize,
    to: TypeId,
    in_tl: Option<TlConfig>,
    out_tl: Option<TlConfig>,
    /// The input's I2_S layout (from the model's codec options).
    in_i2s: I2sLayout,
}

fn check_target(id: TypeId, what: &str) -> Result<()> {
    let ti =
        types::info(id).ok_or_else(|| Error::new(Status::InvalidParameter, format!("{what}: unknown type id {id}")))?;
    if is_ternary(id) || crate::quant::encoder(id).is_some() {
        return Ok(());
    }
    Err(Error::new(Status::UnsupportedType, format!("{what}: quantizing to {} is not supported", ti.name)))
}

/// [`convert_file`] for a loaded model.
pub fn convert_model(
    model: &Model,
    output: &Path,
    opts: &ConvertOptions,
    progress: &mut dyn FnMut(&Progress<'_>) -> bool,
) -> Result<ConvertReport> {
    check_target(opts.to, "the target type")?;
    if let Some(e) = opts.embeddings {
        check_target(e, "the embeddings type")?;
    }
    let mut jobs = Vec::with_capacity(model.tensor_count());
    let mut planned = Vec::with_capacity(model.tensor_count());
    for (index, t) in model.tensors().enumerate() {
        let info = t.info;
        let from = info.ty.id;
        let to = match classify(info.name, info.n_dims) {
            TensorClass::Linear => opts.to,
            TensorClass::Embedding => opts.embeddings.unwrap_or(from),
            TensorClass::Other => from,
        };
        let (m, k) = rows_cols(&info.ne, info.n_elements);
        // The input's context (TL tile parameters from the file's key or the load options). A TL
        // tensor without any is fine as long as it is only copied.
        let in_tl = match model.codec(index) {
            Ok(c) => c.tl,
            Err(e) if e.status() == Status::TileConfigMissing => None,
            Err(e) => return Err(e),
        };
        let out_tl = if to == TL1 || to == TL2 {
            if to == from && opts.tl.is_none() {
                in_tl
            } else {
                let choice = opts.tl.as_ref().ok_or_else(|| {
                    Error::new(
                        Status::InvalidParameter,
                        format!(
                            "tensor '{}' becomes {} but no tile parameters were given (BM,BK,bm or a preset)",
                            info.name,
                            types::info(to).map_or("?", |t| t.name)
                        ),
                    )
                })?;
                Some(choice.resolve(to, m, k, info.name)?)
            }
        } else {
            None
        };
        if let (Some(cfg), Some(fmt)) = (out_tl, ternary_format(to, out_tl, I2sLayout::Group128)) {
            fmt.nbytes(m, k).map_err(|e| e.context(format!("tensor '{}' with {cfg:?}", info.name)))?;
        }
        let spec = TensorSpec { name: info.name.into(), ty: to, ne: info.ne[..info.n_dims.max(1) as usize].to_vec() };
        spec.nbytes()?;
        planned.push(spec);
        jobs.push(Job { index, to, in_tl, out_tl, in_i2s: model.codec_options().i2s_layout });
    }

    let file_type = ftype_of(opts.to);
    let kvs = output_metadata(model, &jobs, &planned, file_type);
    let alignment = model.metadata().index().alignment();
    let mut out = StreamingGguf::create(output, &kvs, &planned, alignment)?;

    let bytes_total: u64 = model.tensors().map(|t| t.info.n_bytes).sum();
    let mut bytes_done = 0;
    let mut reports = Vec::with_capacity(jobs.len());
    let total = jobs.len();
    for (done, job) in jobs.iter().enumerate() {
        let t = model.tensor(job.index).expect("planned from the model");
        let p = Progress { done, total, tensor: t.info.name, bytes_done, bytes_total };
        if !progress(&p) {
            return Err(Error::new(Status::Cancelled, format!("cancelled before tensor '{}'", t.info.name)));
        }
        let data = model.tensor_data(job.index).expect("planned from the model");
        let codec = model.codec(job.index);
        let (bytes, report) = convert_tensor(&t.info, data, job, codec, opts)?;
        out.write_tensor(&bytes)?;
        bytes_done += t.info.n_bytes;
        reports.push(report);
    }
    progress(&Progress { done: total, total, tensor: "", bytes_done, bytes_total });
    let file_bytes = out.finish()?;
    Ok(ConvertReport { tensors: reports, file_type, file_bytes })
}

/// The input's metadata with `general.file_type`, `split.*` and `bitgguf.tl.*` updated.
fn output_metadata(
    model: &Model,
    jobs: &[Job],
    planned: &[TensorSpec],
    file_type: Option<u32>,
) -> Vec<(String, OwnedValue)> {
    let meta = model.metadata();
    let mut kvs: Vec<(String, OwnedValue)> = Vec::with_capacity(meta.kv_count() + jobs.len());
    let mut have_ftype = false;
    for kv in meta.kvs() {
        if kv.key.starts_with("split.") || kv.key.starts_with("bitgguf.tl.") {
            continue;
        }
        if kv.key == "general.file_type" {
            have_ftype = true;
            if let Some(ft) = file_type {
                // Keep the input's integer type (llama.cpp writes u32).
                let v = match kv.value {
                    Value::I32(_) => OwnedValue::I32(ft as i32),
                    _ => OwnedValue::U32(ft),
                };
                kvs.push((kv.key.into(), v));
            }
            continue;
        }
        kvs.push((kv.key.into(), OwnedValue::from_value(&kv.value)));
    }
    if !have_ftype {
        if let Some(ft) = file_type {
            kvs.push(("general.file_type".into(), OwnedValue::U32(ft)));
        }
    }
    for (job, p) in jobs.iter().zip(planned) {
        if let Some(cfg) = &job.out_tl {
            kvs.push((tl_key(&p.name), tl_value(cfg)));
        }
    }
    kvs
}

/// Values equal (NaN equal to NaN, −0 equal to +0).
fn same_values(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

fn convert_tensor<'a>(
    info: &crate::gguf::TensorInfo<'_>,
    data: &'a [u8],
    job: &Job,
    codec: Result<TensorCodec>,
    opts: &ConvertOptions,
) -> Result<(Cow<'a, [u8]>, TensorReport)> {
    let from = info.ty.id;
    let name = info.name;
    let (m, k) = rows_cols(&info.ne, info.n_elements);
    let mut report = TensorReport {
        name: name.into(),
        from,
        to: job.to,
        action: Action::Copied,
        exact: true,
        scale_loss: None,
        tl: job.out_tl,
        bytes: (data.len() as u64, 0),
    };
    let ctx = |e: Error| e.context(format!("tensor '{name}'"));
    let tropts = TranscodeOptions { allow_lossy_scale: opts.allow_lossy_scale, tail: opts.tail };

    if from == job.to && job.in_tl == job.out_tl && (from != I2_S || job.in_i2s == I2sLayout::Group128) {
        report.bytes.1 = data.len() as u64;
        if from == I2_S && opts.retail_copies && data.len() >= I2S_TAIL_BYTES {
            let at = data.len() - I2S_TAIL_BYTES;
            let mut tail = [0u8; I2S_TAIL_BYTES];
            for (c, rep) in tail.chunks_exact_mut(4).zip(0..) {
                if rep == 0 || opts.tail == TailFill::Replicate {
                    c.copy_from_slice(&data[at..at + 4]);
                }
            }
            if data[at..] != tail {
                let mut owned = data.to_vec();
                owned[at..].copy_from_slice(&tail);
                return Ok((Cow::Owned(owned), report));
            }
        }
        return Ok((Cow::Borrowed(data), report));
    }
    let mut requant_reason = None;
    if is_ternary(from) && is_ternary(job.to) {
        let src_fmt = ternary_format(from, job.in_tl, job.in_i2s).ok_or_else(|| missing_tl(name, from))?;
        let dst_fmt = ternary_format(job.to, job.out_tl, I2sLayout::Group128).expect("planned");
        match transcode(data, m, k, src_fmt, dst_fmt, &tropts) {
            Ok(t) => {
                report.action = Action::Transcoded;
                report.exact = t.scale_loss.is_none();
                report.scale_loss = t.scale_loss;
                report.bytes.1 = t.bytes.len() as u64;
                return Ok((Cow::Owned(t.bytes), report));
            }
            // Per-block scales that one per-tensor scale cannot reproduce: fall back to the
            // values. Any other failure (invalid codes, a lossy scale without permission) stops.
            Err(e) if matches!(from, 34 | 35) && e.message().contains("per-tensor") => {
                requant_reason = Some(e.message().to_string());
            }
            Err(e) => return Err(ctx(e)),
        }
    }

    let w = decode_f32(&codec?, data, name)?;
    let bytes = if job.to == I2_S {
        quantize_i2s_fast(&w, opts.mode, I2sLayout::Group128, opts.tail).map_err(ctx)?
    } else if let Some(fmt) = ternary_format(job.to, job.out_tl, I2sLayout::Group128) {
        let t = opts.mode.ternarize(&w).map_err(ctx)?;
        let out = encode_ternary(&t, m, k, fmt, &tropts).map_err(ctx)?;
        report.scale_loss = out.scale_loss;
        out.bytes
    } else {
        let spec = TensorSpec { name: name.into(), ty: job.to, ne: info.ne[..info.n_dims.max(1) as usize].to_vec() };
        let mut out = vec![0u8; spec.nbytes()? as usize];
        crate::quant::quantize(job.to, &w, info.ne[0], &mut out).map_err(ctx)?;
        out
    };
    // Decode the result as a loader will (scale and code checks included) and compare.
    let mut out_codec = TensorCodec::new(job.to, info.ne);
    out_codec.tl = job.out_tl;
    let back = decode_f32(&out_codec, &bytes, name)?;
    report.exact = same_values(&w, &back);
    report.action = match requant_reason {
        Some(r) => Action::Requantized(r),
        None => Action::Quantized,
    };
    report.bytes.1 = bytes.len() as u64;
    Ok((Cow::Owned(bytes), report))
}

fn missing_tl(name: &str, ty: TypeId) -> Error {
    Error::new(
        Status::InvalidParameter,
        format!(
            "tensor '{name}' is {} but its tile parameters are unknown: the file has no '{}' key; pass them \
             explicitly (they are never guessed)",
            types::info(ty).map_or("?", |t| t.name),
            tl_key(name)
        ),
    )
}
