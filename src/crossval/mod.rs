//! Cross-validation against cpp_ref, the independent C++17 reference (feature `crossval`,
//! shared/DESIGN.md §5).
//!
//! [`GgufCrossValidator`] compares, in the same process and tensor by tensor, what the Rust
//! loader made of a GGUF file with what cpp_ref made of it: name, type (API id and on-disk id),
//! number of dimensions, shape, offset, byte length, an FNV-1a 64 hash of the raw bytes each
//! side located, and the values each side's dequantizer produced. The values must be bit-exact
//! (0 ulp; NaN equals NaN whatever its payload); the report still gives the maximum |Δ|, the
//! maximum ulp distance and the first differing element (index, both values) so that a failure
//! is actionable. The seed's tolerance (< 1e-5 absolute) is only a documented ceiling: no
//! difference is ever accepted.
//!
//! A type that one side cannot decode is reported as `skipped: unsupported by <side>`
//! ([`Verdict::Skipped`]) and is never counted as a match; [`ModelReport::passes`] decides
//! whether skips fail a run.
//!
//! Sampling: with [`CrossvalOptions::sample`] = `Some(n)`, at most `n` blocks per tensor are
//! decoded and compared (all of them when the tensor has fewer). Which blocks is a function of
//! the seed and the tensor's name only, so results do not depend on the thread count or order;
//! [`seed_from_env`] reads `BITNET_DETERMINISTIC=1` / `BITNET_SEED` to fix the seed. Types whose
//! scale is per tensor (I2_S, TL1, TL2) are always compared whole.
//!
//! The Rust leg is the production path: [`crate::quant::output::decode_into`] to f32 for the
//! block types, and for I2_S, TL1 and TL2 (one scale per tensor) the model's own
//! [`Model::codec`] over the whole tensor (the I2_S layout and TL tile configuration the model was
//! loaded with, the per-tensor scale rule). Tests can replace it with
//! [`GgufCrossValidator::with_decoder_lookup`] (for example a deliberately mutated decoder, which
//! must be caught).
//!
//! TL1 and TL2 need their tile parameters `[BM, BK, bm]`, which bitgguf records in the metadata
//! key `bitgguf.tl.<tensor name>` (UINT32[3]). Each side reads the key itself (the Rust loader's
//! [`Model::recorded_tl_config`], cpp_ref's own reader), the two readings are compared (field
//! `tile`), and each side decodes the whole tensor with its own reading. Without a key, the
//! configuration the model was loaded with (`--tl-config` / `--tl-preset`, load options) is
//! passed to cpp_ref explicitly; with neither, the tensor is an error, never a guess. The I2_S
//! layout (`GROUP_128` or `GROUP_64`) is likewise the model's load option, passed to cpp_ref.
//!
//! The third leg, real ggml's `to_float` ([`ggml::GgmlLib`], `BG_GGML_LIB`), is added with
//! [`GgufCrossValidator::with_ggml`]: for every upstream block type ggml decodes, the Rust values
//! must equal ggml's bit for bit too ([`TensorReport::ggml`]), on the same sampled blocks.

pub mod compare;
pub mod cref;
pub use crate::oracle::ggml;
pub mod report;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result, Status};
use crate::model::Model;
use crate::quant::output::{decode_into, OutType};
use crate::quant::tensor::TensorCodec;
use crate::quant::{self, row_bytes, Decoder};
use crate::types::{self, Layout, TypeId, TypeInfo, TypePolicy};

pub use compare::{FirstDiff, ValueStats};
pub use cref::{CrefCode, CrefError, CrefFile};
pub use ggml::GgmlLib;
pub use report::{FieldDiff, FileCheck, ModelReport, Summary, TensorReport, Values, Verdict};

/// Where cpp_ref gets the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReferenceInput {
    /// cpp_ref reads the file itself with C++ I/O when the model came from a path (the most
    /// independent check); otherwise it parses the model's bytes.
    #[default]
    ReadFile,
    /// cpp_ref parses the very bytes the Rust loader holds (no second read; cheap).
    SharedBytes,
}

/// How to cross-validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrossvalOptions {
    /// Compare at most this many blocks per tensor (chosen by `seed`); `None`: every element.
    pub sample: Option<u64>,
    /// The sampling seed.
    pub seed: u64,
    /// Worker threads (tensors are spread over them); results do not depend on it.
    pub threads: usize,
    /// How cpp_ref resolves the contested type ids 36–39 (use the model's load policy).
    pub type_policy: TypePolicy,
    /// Where cpp_ref reads the file from.
    pub reference_input: ReferenceInput,
}

impl Default for CrossvalOptions {
    fn default() -> CrossvalOptions {
        CrossvalOptions {
            sample: None,
            seed: DEFAULT_SEED,
            threads: 1,
            type_policy: TypePolicy::Auto,
            reference_input: ReferenceInput::ReadFile,
        }
    }
}

/// The seed used when `BITNET_DETERMINISTIC=1` and `BITNET_SEED` is not set.
pub const DEFAULT_SEED: u64 = 42;

/// The sampling seed from the environment: `BITNET_SEED` when set (a decimal u64, else an
/// error); 42 when only `BITNET_DETERMINISTIC=1` is set; otherwise a fresh random seed (printed
/// in reports, so a run can be repeated with `BITNET_SEED`).
pub fn seed_from_env() -> Result<u64> {
    if let Some(s) = std::env::var_os("BITNET_SEED") {
        let s = s.to_string_lossy();
        return s.trim().parse::<u64>().map_err(|_| {
            Error::new(Status::InvalidParameter, format!("BITNET_SEED={s:?} is not an unsigned 64-bit integer"))
        });
    }
    if std::env::var("BITNET_DETERMINISTIC").as_deref() == Ok("1") {
        return Ok(DEFAULT_SEED);
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    Ok(h.finish())
}

impl CrossvalOptions {
    /// Defaults, with the seed from [`seed_from_env`] and one thread per available core.
    pub fn from_env() -> Result<CrossvalOptions> {
        Ok(CrossvalOptions {
            seed: seed_from_env()?,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            ..CrossvalOptions::default()
        })
    }
}

/// Looks up the Rust decoder of a type (tests: a mutated one).
pub type DecoderLookup = fn(TypeId) -> Option<Decoder>;

/// Elements decoded per chunk when comparing whole tensors (a multiple of every block size).
const CHUNK: u64 = 1 << 16;

/// Compares the Rust loader's view of a model with cpp_ref's. See the module documentation.
#[derive(Debug)]
pub struct GgufCrossValidator<'m> {
    model: &'m Model,
    opts: CrossvalOptions,
    /// cpp_ref's reading of each shard.
    shards: Vec<std::result::Result<CrefFile<'m>, CrefError>>,
    /// Model index of each shard's first tensor.
    shard_start: Vec<usize>,
    lookup: Option<DecoderLookup>,
    ggml: Option<&'m GgmlLib>,
}

/// What one decode attempt gave.
enum Leg {
    Ok,
    Unsupported,
    Failed(String),
}

impl<'m> GgufCrossValidator<'m> {
    /// Open cpp_ref on every shard of `model`. A file cpp_ref rejects is not an error here: it
    /// is reported by [`Self::check_files`] and makes every tensor of that shard an
    /// [`Verdict::Error`].
    pub fn new(model: &'m Model, opts: CrossvalOptions) -> GgufCrossValidator<'m> {
        let mut shards = Vec::with_capacity(model.shard_count());
        let mut shard_start = Vec::with_capacity(model.shard_count());
        let mut start = 0;
        for s in 0..model.shard_count() {
            shard_start.push(start);
            start += model.shard(s).tensor_count();
            let f = match (opts.reference_input, model.shard_path(s)) {
                (ReferenceInput::ReadFile, Some(p)) => CrefFile::open(p, opts.type_policy),
                _ => CrefFile::from_bytes(model.shard(s).bytes(), opts.type_policy),
            };
            shards.push(f);
        }
        GgufCrossValidator { model, opts, shards, shard_start, lookup: None, ggml: None }
    }

    /// Add the third leg: real ggml's `to_float` for every upstream type it decodes.
    pub fn with_ggml(mut self, lib: &'m GgmlLib) -> GgufCrossValidator<'m> {
        self.ggml = Some(lib);
        self
    }

    /// The ggml leg, when enabled.
    pub fn ggml(&self) -> Option<&'m GgmlLib> {
        self.ggml
    }

    /// The Rust loader's reading of tensor `name`'s tile key: `Ok(None)` when absent, `Err`
    /// when present but not a UINT32[3].
    fn rust_tile(&self, name: &str) -> std::result::Result<Option<[u32; 3]>, String> {
        match self.model.recorded_tl_config(name) {
            Ok(c) => Ok(c.map(|c| [c.bm_tile as u32, c.bk as u32, c.bm as u32])),
            Err(e) => Err(e.message().to_string()),
        }
    }

    /// Decode the Rust leg with `lookup(type)` instead of the production path (for tests: a
    /// deliberately wrong decoder must be caught and reported).
    pub fn with_decoder_lookup(mut self, lookup: DecoderLookup) -> GgufCrossValidator<'m> {
        self.lookup = Some(lookup);
        self
    }

    /// The options.
    pub fn options(&self) -> &CrossvalOptions {
        &self.opts
    }

    /// The model.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// File-level checks, one per shard: cpp_ref opened it, and both agree on the version,
    /// key/value count, alignment, data-section offset and tensor count.
    pub fn check_files(&self) -> Vec<FileCheck> {
        (0..self.model.shard_count())
            .map(|s| {
                let rust = self.model.shard(s).index();
                let mut check = FileCheck {
                    shard: s,
                    path: self.model.shard_path(s).map(Path::to_path_buf),
                    reference_error: None,
                    diffs: Vec::new(),
                };
                match &self.shards[s] {
                    Err(e) => check.reference_error = Some(e.to_string()),
                    Ok(f) => {
                        let r = f.info();
                        let mut diff = |field: &'static str, a: u64, b: u64| {
                            if a != b {
                                check.diffs.push(FieldDiff { field, rust: a.to_string(), reference: b.to_string() });
                            }
                        };
                        diff("version", rust.version() as u64, r.version as u64);
                        diff("kv_count", rust.kv_count() as u64, r.n_kv);
                        diff("alignment", rust.alignment(), r.alignment);
                        diff("data_offset", rust.data_offset(), r.data_offset);
                        diff("tensor_count", rust.tensor_count() as u64, f.tensor_count() as u64);
                    }
                }
                check
            })
            .collect()
    }

    /// Cross-validate tensor `index`.
    pub fn check_tensor(&self, index: usize) -> Result<TensorReport> {
        let t = self.model.tensor(index).ok_or_else(|| {
            Error::new(
                Status::IndexOutOfRange,
                format!("tensor index {index} is out of range (the model has {})", self.model.tensor_count()),
            )
        })?;
        let info = t.info;
        let rust_bytes = self.model.tensor_data(index).expect("index checked");
        let mut rep = TensorReport {
            index,
            shard: t.shard,
            name: info.name.to_string(),
            type_id: info.ty.id,
            type_name: info.ty.name,
            ne: info.ne,
            n_elements: info.n_elements,
            n_bytes: info.n_bytes,
            diffs: Vec::new(),
            hash_rust: compare::fnv1a64(rust_bytes),
            hash_reference: None,
            values: Values::NotCompared(String::new()),
            ggml: None,
            tile: None,
            verdict: Verdict::Error,
        };
        let f = match &self.shards[t.shard] {
            Ok(f) => f,
            Err(e) => {
                rep.values = Values::NotCompared(format!("cpp_ref could not read the file: {e}"));
                return Ok(rep);
            }
        };
        let local = index - self.shard_start[t.shard];
        let (r, ref_bytes) = match f.tensor(local).and_then(|r| Ok((r, f.tensor_data(local)?))) {
            Ok(x) => x,
            Err(e) => {
                rep.diffs.push(FieldDiff {
                    field: "tensor",
                    rust: "present".into(),
                    reference: format!("absent: {e}"),
                });
                rep.values = Values::NotCompared("cpp_ref has no such tensor".into());
                rep.verdict = Verdict::Mismatch;
                return Ok(rep);
            }
        };
        rep.hash_reference = Some(compare::fnv1a64(ref_bytes));

        let mut diff = |field: &'static str, same: bool, rust: String, reference: String| {
            if !same {
                rep.diffs.push(FieldDiff { field, rust, reference });
            }
        };
        let type_str = |id: TypeId| format!("{} ({id})", types::info(id).map(|t| t.name).unwrap_or("?"));
        diff(
            "name",
            info.name.as_bytes() == r.name,
            format!("{:?}", info.name),
            format!("{:?}", String::from_utf8_lossy(r.name)),
        );
        diff("type", info.ty.id == r.ty, type_str(info.ty.id), type_str(r.ty));
        diff("disk_type", info.disk_type == r.disk_type, info.disk_type.to_string(), r.disk_type.to_string());
        diff("n_dims", info.n_dims == r.n_dims, info.n_dims.to_string(), r.n_dims.to_string());
        diff("shape", info.ne == r.ne, format!("{:?}", info.ne), format!("{:?}", r.ne));
        diff("offset", info.offset == r.offset, info.offset.to_string(), r.offset.to_string());
        diff("n_bytes", info.n_bytes == r.n_bytes, info.n_bytes.to_string(), r.n_bytes.to_string());
        let (hr, hc) = (rep.hash_rust, compare::fnv1a64(ref_bytes));
        diff("bytes", hr == hc, format!("fnv1a64 {hr:#018x}"), format!("fnv1a64 {hc:#018x}"));

        let comparable = info.ty.id == r.ty && info.ne == r.ne && rust_bytes.len() == ref_bytes.len();
        let tl = info.ty.id == types::TL1 || info.ty.id == types::TL2;
        let mut ref_tile = None;
        if tl {
            let rust_key = self.rust_tile(info.name);
            let ref_key = match f.tensor_tile(local) {
                Ok(c) => Ok(Some(c)),
                Err(e) if e.code == CrefCode::NoTile && e.message.contains("has no key") => Ok(None),
                Err(e) => Err(e.message),
            };
            let shown = |x: &std::result::Result<Option<[u32; 3]>, String>| match x {
                Ok(Some(c)) => format!("{c:?}"),
                Ok(None) => "absent".to_string(),
                Err(e) => e.clone(),
            };
            // Both readings agree when they give the same configuration, both find no key, or both
            // find a malformed one (their messages differ).
            let same = match (&rust_key, &ref_key) {
                (Err(_), Err(_)) => true,
                (a, b) => a == b,
            };
            diff("tile", same, shown(&rust_key), shown(&ref_key));
            ref_tile = Some(ref_key);
        }
        let (values, ggml, verdict) = if !comparable {
            (Values::NotCompared("the type, shape or byte length differs".into()), None, Verdict::Mismatch)
        } else if info.ty.layout != Layout::Blocks {
            let codec = self.model.codec(index);
            if let Ok(c) = &codec {
                rep.tile = c.tl.map(|c| [c.bm_tile as u32, c.bk as u32, c.bm as u32]);
            }
            let (v, verdict) = self.compare_whole(info.ty, rust_bytes, ref_bytes, codec, ref_tile);
            (v, self.ggml.map(|_| Values::NotCompared("not an upstream ggml type".into())), verdict)
        } else {
            self.compare_values(info.ty, info.name.as_bytes(), info.n_elements, rust_bytes, ref_bytes)
        };
        rep.values = values;
        rep.ggml = ggml;
        rep.verdict = if rep.diffs.is_empty() { verdict } else { Verdict::Mismatch };
        Ok(rep)
    }

    /// Cross-validate every tensor (on `threads` workers; the report is in model order and does
    /// not depend on the thread count).
    pub fn check_all(&self) -> ModelReport {
        self.check_all_with_progress(&|_, _| {})
    }

    /// As [`Self::check_all`], calling `progress(done, total)` after each tensor (from the
    /// worker threads).
    pub fn check_all_with_progress(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> ModelReport {
        let n = self.model.tensor_count();
        let threads = self.opts.threads.clamp(1, n.max(1));
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let work = || {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                out.push(self.check_tensor(i).expect("index in range"));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, n);
            }
            out
        };
        let mut tensors: Vec<TensorReport> = if threads == 1 {
            work()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
                handles.into_iter().flat_map(|h| h.join().expect("crossval worker panicked")).collect()
            })
        };
        tensors.sort_by_key(|t| t.index);
        ModelReport {
            files: self.check_files(),
            tensors,
            seed: self.opts.seed,
            sample: self.opts.sample,
            ggml: self.ggml.map(|g| g.path().to_path_buf()),
        }
    }

    /// Whether the Rust leg has a block decoder for `id`.
    fn rust_block_decoder(&self, id: TypeId) -> Option<Decoder> {
        match self.lookup {
            Some(f) => f(id),
            None => quant::decoder(id),
        }
    }

    /// Decode with the Rust leg: `src` holds exactly the bytes of `dst.len()` elements (for
    /// per-tensor-scale types: the whole tensor).
    fn rust_decode(&self, ti: &TypeInfo, src: &[u8], dst: &mut [f32]) -> Leg {
        let n = dst.len() as u64;
        if let Some(lookup) = self.lookup {
            let Some(dec) = lookup(ti.id) else { return Leg::Unsupported };
            if ti.layout == Layout::Blocks && row_bytes(ti, n).ok() != Some(src.len() as u64) {
                return Leg::Failed(format!("{n} {} elements are not {} bytes", ti.name, src.len()));
            }
            dec(src, dst);
            return Leg::Ok;
        }
        let mut bytes = vec![0u8; dst.len() * 4];
        match decode_into(ti.id, src, n, OutType::F32, &mut bytes) {
            Ok(()) => {
                for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
                    *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                Leg::Ok
            }
            Err(e) if e.status() == Status::UnsupportedType => Leg::Unsupported,
            Err(e) => Leg::Failed(e.message().to_string()),
        }
    }

    fn ref_decode(&self, ti: &TypeInfo, src: &[u8], dst: &mut [f32]) -> Leg {
        match cref::dequantize(ti.id, src, dst) {
            Ok(()) => Leg::Ok,
            Err(e) if e.code == CrefCode::Unsupported => Leg::Unsupported,
            Err(e) => Leg::Failed(e.to_string()),
        }
    }

    /// Decode `n` elements on both sides (and with ggml when `gstats` is given) and compare them
    /// (element `base` first).
    #[allow(clippy::too_many_arguments)]
    fn compare_chunk(
        &self,
        ti: &TypeInfo,
        base: u64,
        rust_src: &[u8],
        ref_src: &[u8],
        n: usize,
        stats: &mut ValueStats,
        gstats: Option<&mut ValueStats>,
    ) -> std::result::Result<(), (Values, Verdict)> {
        let mut a = vec![0f32; n];
        let mut b = vec![0f32; n];
        let ra = self.rust_decode(ti, rust_src, &mut a);
        let rb = self.ref_decode(ti, ref_src, &mut b);
        Self::judge(ra, rb, base, &a, &b, stats)?;
        if let (Some(g), Some(lib)) = (gstats, self.ggml) {
            // ggml decodes the Rust loader's bytes (the hashes say whether they equal cpp_ref's).
            if lib.to_float(ti.id, rust_src, &mut b).is_some() {
                g.add(base, &a, &b);
            }
        }
        Ok(())
    }

    /// Compare two decode attempts (values in `a`, `b`) into `stats`.
    fn judge(
        ra: Leg,
        rb: Leg,
        base: u64,
        a: &[f32],
        b: &[f32],
        stats: &mut ValueStats,
    ) -> std::result::Result<(), (Values, Verdict)> {
        let (rust_unsupported, ref_unsupported) = (matches!(ra, Leg::Unsupported), matches!(rb, Leg::Unsupported));
        if rust_unsupported || ref_unsupported {
            return Err((Values::Unsupported { rust: rust_unsupported, reference: ref_unsupported }, Verdict::Skipped));
        }
        match (ra, rb) {
            (Leg::Ok, Leg::Ok) => {
                stats.add(base, a, b);
                Ok(())
            }
            (Leg::Failed(e), Leg::Ok) => Err((
                Values::NotCompared(format!("the Rust decoder rejected the data ({e}); cpp_ref decoded it")),
                Verdict::Mismatch,
            )),
            (Leg::Ok, Leg::Failed(e)) => Err((
                Values::NotCompared(format!("cpp_ref rejected the data ({e}); the Rust decoder decoded it")),
                Verdict::Mismatch,
            )),
            (Leg::Failed(x), Leg::Failed(y)) => Err((
                Values::NotCompared(format!("both sides rejected the data: rust: {x}; cpp_ref: {y}")),
                Verdict::Error,
            )),
            _ => unreachable!("unsupported legs returned above"),
        }
    }

    /// I2_S, TL1, TL2 (one scale per tensor): both sides decode the whole tensor. The Rust leg
    /// is the model's codec (`codec`: its I2_S layout, its tile configuration, the scale rule);
    /// cpp_ref gets the same I2_S layout, and for TL its own reading of the tile key (`ref_tile`)
    /// or, without a key, the configuration the model was loaded with, passed explicitly.
    fn compare_whole(
        &self,
        ti: &TypeInfo,
        rust: &[u8],
        reference: &[u8],
        codec: Result<TensorCodec>,
        ref_tile: Option<std::result::Result<Option<[u32; 3]>, String>>,
    ) -> (Values, Verdict) {
        let n = match &codec {
            Ok(c) => c.n_elements().unwrap_or(0),
            Err(_) => 0,
        };
        let mut stats = ValueStats { total: n, ..ValueStats::default() };
        let mut a = vec![0f32; n as usize];
        let mut b = vec![0f32; n as usize];
        let ra = match (&codec, self.lookup) {
            (Err(e), _) => {
                // Without a codec (a TL tensor without a tile configuration, ...) nothing can be
                // decoded on either side: an error naming what is missing.
                return (Values::NotCompared(e.message().to_string()), Verdict::Error);
            }
            // A test's lookup may replace these decoders too (given the whole tensor's bytes).
            (Ok(_), Some(f)) => match f(ti.id) {
                Some(dec) => {
                    dec(rust, &mut a);
                    Leg::Ok
                }
                None => Leg::Unsupported,
            },
            (Ok(c), None) => {
                let mut bytes = vec![0u8; a.len() * 4];
                match c.decode(rust, OutType::F32, &mut bytes) {
                    Ok(()) => {
                        for (d, x) in a.iter_mut().zip(bytes.chunks_exact(4)) {
                            *d = f32::from_le_bytes([x[0], x[1], x[2], x[3]]);
                        }
                        Leg::Ok
                    }
                    Err(e) => Leg::Failed(e.message().to_string()),
                }
            }
        };
        let c = codec.as_ref().expect("returned above");
        let rb = if ti.id == types::I2_S {
            cref::dequantize_i2s(reference, c.i2s.group() as u32, &mut b)
        } else {
            let explicit = c.tl.map(|t| [t.bm_tile as u32, t.bk as u32, t.bm as u32]);
            let cfg = match ref_tile {
                Some(Ok(Some(cfg))) => Ok(cfg),
                Some(Ok(None)) => explicit.ok_or_else(|| "no tile configuration".to_string()),
                Some(Err(e)) => Err(e),
                None => Err("no tile configuration".to_string()),
            };
            match cfg {
                Ok(cfg) => cref::dequantize_tl(ti.id, reference, c.ne[0], c.ne[1] * c.ne[2] * c.ne[3], cfg, &mut b),
                Err(e) => Err(CrefError { code: CrefCode::NoTile, message: e }),
            }
        };
        let rb = match rb {
            Ok(()) => Leg::Ok,
            Err(e) if e.code == CrefCode::Unsupported => Leg::Unsupported,
            Err(e) => Leg::Failed(e.to_string()),
        };
        if let Err(e) = Self::judge(ra, rb, 0, &a, &b, &mut stats) {
            return e;
        }
        let v = Verdict::Match.or_mismatch(&stats);
        (Values::Compared(stats), v)
    }

    /// The ggml leg's statistics for a type: `Some(empty stats)` when ggml will decode it,
    /// otherwise the reason it is not compared.
    fn ggml_leg(&self, ti: &TypeInfo, n: u64) -> Option<std::result::Result<ValueStats, Values>> {
        let lib = self.ggml?;
        if ti.id >= types::BITNET_ID_BASE {
            return Some(Err(Values::NotCompared("not an upstream ggml type".into())));
        }
        if !lib.supports(ti.id) {
            return Some(Err(Values::NotCompared(format!("ggml has no to_float for {}", ti.name))));
        }
        Some(Ok(ValueStats { total: n, ..ValueStats::default() }))
    }

    fn compare_values(
        &self,
        ti: &TypeInfo,
        name: &[u8],
        n: u64,
        rust: &[u8],
        reference: &[u8],
    ) -> (Values, Option<Values>, Verdict) {
        let mut stats = ValueStats { total: n, ..ValueStats::default() };
        let mut gleg = self.ggml_leg(ti, n);
        let rust_ok = self.rust_block_decoder(ti.id).is_some();
        let ref_ok = cref::type_supported(ti.id);
        if !rust_ok || !ref_ok {
            let g = gleg.map(|_| Values::NotCompared("not compared: a side cannot decode the type".into()));
            return (Values::Unsupported { rust: !rust_ok, reference: !ref_ok }, g, Verdict::Skipped);
        }
        let (blck, tsize) = (ti.blck, ti.tsize);
        let units = n / blck;
        let blocks: Box<dyn Iterator<Item = (u64, u64)>> = match self.opts.sample {
            Some(k) if k < units => {
                stats.sampled_blocks = Some(k);
                if let Some(Ok(g)) = gleg.as_mut() {
                    g.sampled_blocks = Some(k);
                }
                let picked = compare::sample_indices(units, k, compare::tensor_seed(self.opts.seed, name));
                Box::new(picked.into_iter().map(|b| (b, 1)))
            }
            _ => {
                let per = (CHUNK / blck).max(1);
                Box::new((0..units).step_by(per as usize).map(move |b| (b, per.min(units - b))))
            }
        };
        for (first, count) in blocks {
            let (a, z) = ((first * tsize) as usize, ((first + count) * tsize) as usize);
            let r = self.compare_chunk(
                ti,
                first * blck,
                &rust[a..z],
                &reference[a..z],
                (count * blck) as usize,
                &mut stats,
                gleg.as_mut().and_then(|g| g.as_mut().ok()),
            );
            if let Err((v, verdict)) = r {
                let g = gleg.map(|_| Values::NotCompared("not compared: the Rust or cpp_ref leg failed".into()));
                return (v, g, verdict);
            }
        }
        let mut v = Verdict::Match.or_mismatch(&stats);
        let g = gleg.map(|g| match g {
            Ok(g) => {
                if g.mismatched > 0 {
                    v = Verdict::Mismatch;
                }
                Values::Compared(g)
            }
            Err(why) => why,
        });
        (Values::Compared(stats), g, v)
    }
}

impl Verdict {
    fn or_mismatch(self, s: &ValueStats) -> Verdict {
        if s.mismatched == 0 {
            self
        } else {
            Verdict::Mismatch
        }
    }
}

/// Open `path` with the Rust loader (`opts.type_policy`, mapped) and cross-validate it whole.
pub fn crossval_file(path: &Path, opts: &CrossvalOptions) -> Result<ModelReport> {
    let mut load = crate::LoadOptions::default();
    load.parse.type_policy = opts.type_policy;
    let model = Model::open(path, &load)?;
    let report = GgufCrossValidator::new(&model, *opts).check_all();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_supports_every_type_the_rust_side_decodes() {
        // Every storable type of the table with a Rust decoder (block decoders, I2_S, TL1, TL2).
        let expected: Vec<TypeId> = vec![
            0,
            1,
            2,
            3,
            6,
            7,
            8,
            10,
            11,
            12,
            13,
            14,
            16,
            17,
            18,
            19,
            20,
            21,
            22,
            23,
            29,
            30,
            34,
            35,
            39,
            40,
            41,
            42,
            types::I2_S,
            types::TL1,
            types::TL2,
        ];
        let got: Vec<TypeId> = types::all().map(|t| t.id).filter(|&id| cref::type_supported(id)).collect();
        assert_eq!(got, expected);
        for id in got.iter().filter(|&&id| id < types::BITNET_ID_BASE) {
            assert!(quant::decoder(*id).is_some(), "type {id}: cpp_ref decodes it, Rust has no decoder");
        }
        // And the converse, from the Rust side's own registry (not the list above): every type
        // the Rust side decodes, a block decoder or a per-tensor codec (I2_S, TL1, TL2), has its
        // cpp_ref twin (issue 5: "a dequantizer to f32 for every type the Rust side supports").
        // A new Rust decoder without one fails here.
        let rust: Vec<TypeId> = types::all()
            .map(|t| t.id)
            .filter(|&id| quant::decoder(id).is_some() || matches!(id, types::I2_S | types::TL1 | types::TL2))
            .collect();
        for id in &rust {
            assert!(cref::type_supported(*id), "type {id}: the Rust side decodes it, cpp_ref has no decoder");
        }
        assert_eq!(rust, got, "the Rust and cpp_ref decodable sets differ");
    }
}
