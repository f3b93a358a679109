//! Dequantization speed side by side, in one process: bitgguf's `decode_into` on one thread and
//! on all threads against real ggml's `to_float` (when [`crate::oracle::ggml`] is available),
//! with the physical ceiling measured in the same rounds: streaming (non-temporal) stores of a
//! constant over the same destination, on one thread and on all threads. Every case of a type
//! runs once per round, interleaved, so a noisy neighbour slows all of them alike; the figures
//! are medians over the rounds. Used by `bitgguf bench` and `benches/dequant_vs_ggml.rs`.
//!
//! Steady state: every timed run follows an untimed run of the *same* case. A pass with
//! ordinary stores leaves up to a cache's worth (L2 + L3, 34 MiB on the development machine) of
//! dirty destination lines behind, and whatever runs next pays for writing them back: on the
//! development machine a streaming fill right after an ordinary-store pass measured 19.6–22.5
//! GB/s against 24.7–26.1 GB/s after another streaming fill (128 MiB, one thread). Without the
//! untimed run, each case would pay for its predecessor's write-backs (ggml's `to_float`, with
//! ordinary stores, ran just before our one-thread case), and the ratios would be biased.
//!
//! Data: up to 1 Mi normal values (fixed seed) quantized by ggml's `ggml_quantize_chunk` (an
//! all-ones importance matrix for the types that require one) — or by bitgguf's own quantizer,
//! byte-identical with ggml's reference quantizer, when ggml is absent — tiled to the element
//! count. Before timing, our output is checked against ggml's, bit for bit (NaN equals NaN): a
//! difference is an error, never a row. Outputs go into 64-byte-aligned, pre-touched buffers
//! that are reused, so page faults are not timed.
//!
//! BitNet tensors (I2_S, TL1, TL2: the absmean ternarization of the same values in rows of
//! 4096, or 2048 for a few sizes; TL tiles BM = 256, or the largest of 128, 64, 32 dividing the
//! rows, BK = 128 / 96, bm = 32) decode through the loading path, [`TensorCodec`], on a
//! one-thread pool and on rayon's pool. ggml has no decoder for them: their output is checked
//! against our scalar oracle, and their ggml column is ggml's `to_float` of the upstream ternary
//! type with the same bits per weight on as many elements (TQ2_0 for I2_S and TL1, TQ1_0 for
//! TL2), as in `benches/bitnet.rs` (issue 4's comparison).
//!
//! The floors of issue 3 ([`Row::floor_1t_met`], [`Row::floor_all_met`]), f32 out: one thread
//! ≥ 1.5× ggml or, where that is above what the memory takes, ≥ 90% of the one-thread
//! streaming-store bandwidth; all threads ≥ 70% of the all-thread streaming-store bandwidth.

use std::hint::black_box;
use std::time::Instant;

use crate::error::{Error, Result, Status};
use crate::oracle::ggml::GgmlLib;
use crate::quant::bitnet::{self, TailFill, TernaryFormat, TlConfig, TranscodeOptions};
use crate::quant::output::{decode_into_with, share_pieces, DecodeOptions, OutType, Streaming, PIECE_BYTES};
use crate::quant::tensor::TensorCodec;
use crate::quant::{self, simd};
use crate::synth::rng::SplitMix64;
use crate::types::{self, TypeId};

/// Wall-clock samples of one case, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// The median (NaN when empty).
    pub fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
}

/// Run `f` once; its wall-clock time in milliseconds.
pub fn time_ms(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

/// A pre-touched byte buffer of `len` bytes inside a larger allocation, 64-byte aligned (or a
/// chosen offset past a 64-byte boundary, [`AlignedBuf::with_offset`]).
pub struct AlignedBuf {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl AlignedBuf {
    /// Allocate and touch every page now, so no page fault is timed later.
    pub fn new(len: usize) -> AlignedBuf {
        AlignedBuf::with_offset(len, 0)
    }

    /// [`AlignedBuf::new`], the bytes starting `at % 64` bytes past a 64-byte boundary.
    pub fn with_offset(len: usize, at: usize) -> AlignedBuf {
        let mut v = vec![0u8; len + 128];
        let off = (64 - v.as_ptr() as usize % 64) % 64 + at % 64;
        v.fill(1);
        AlignedBuf { v, off, len }
    }

    /// The buffer's bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + self.len]
    }
}

/// Streaming (non-temporal) stores of a constant over `dst`, `threads` ways (split exactly as
/// `decode_into` splits a decode: pieces of [`PIECE_BYTES`] shared by the calling thread and
/// rayon's pool, so no thread start is timed): the write bandwidth the decoders are measured
/// against.
pub fn nt_fill(dst: &mut [u8], threads: usize) {
    if threads <= 1 {
        return nt_fill_one(dst);
    }
    let pieces = (dst.len() / PIECE_BYTES).max(threads);
    let piece = dst.len().div_ceil(pieces).div_ceil(64) * 64;
    share_pieces(dst.chunks_mut(piece.max(64)).collect(), threads, nt_fill_one);
}

/// The fastest streaming fill this CPU has: 32-byte `vmovntps` with AVX (about 25% faster than
/// 16-byte stores on the development machine), else 16-byte `movntdq`.
#[cfg(target_arch = "x86_64")]
fn nt_fill_one(d: &mut [u8]) {
    use std::arch::x86_64::*;
    let head = d.as_ptr().align_offset(32).min(d.len());
    let (a, rest) = d.split_at_mut(head);
    a.fill(0);
    let n = rest.len() / 32;
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: AVX was detected; `rest` is 32-byte aligned (split above) and `n * 32` bytes
        // of it are in bounds.
        unsafe { nt_fill_avx(rest.as_mut_ptr(), n) };
    } else {
        let p = rest.as_mut_ptr().cast::<__m128i>();
        // SAFETY: SSE2 is part of x86_64; `p` is 16-byte aligned and `2 * n * 16` bytes of
        // `rest` are in bounds; the fence orders the streaming stores before the thread ends.
        unsafe {
            let v = _mm_set1_epi32(0x3f80_0000);
            for i in 0..2 * n {
                _mm_stream_si128(p.add(i), v);
            }
            _mm_sfence();
        }
    }
    rest[n * 32..].fill(0);
}

/// `n` 32-byte streaming stores from 32-byte-aligned `p`, then a fence.
///
/// # Safety
/// The CPU has AVX; `p` is 32-byte aligned and valid for `n * 32` bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn nt_fill_avx(p: *mut u8, n: usize) {
    use std::arch::x86_64::*;
    let v = _mm256_set1_ps(1.0);
    for i in 0..n {
        // SAFETY: per the contract.
        unsafe { _mm256_stream_ps(p.add(32 * i).cast(), v) };
    }
    _mm_sfence();
}

#[cfg(not(target_arch = "x86_64"))]
fn nt_fill_one(d: &mut [u8]) {
    d.fill(1);
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct DecodeBenchConfig {
    /// Elements per type (rounded down to a multiple of 65536, at least 65536).
    pub elements: usize,
    /// Timed rounds per case, after one warm-up round.
    pub rounds: usize,
    /// Types to run (default: every upstream block type we decode and ggml decodes, or that we
    /// can quantize when ggml is absent; then I2_S, TL1 and TL2). A type asked for that cannot
    /// be measured is listed in [`DecodeTable::skipped`] with the reason.
    pub types: Option<Vec<TypeId>>,
    /// Output types.
    pub outs: Vec<OutType>,
    /// Also time our scalar oracle (one thread, f32 out).
    pub scalar: bool,
    /// Where the output starts: this many bytes past a 64-byte boundary (a multiple of 4 below
    /// 64). 0 by default; 16 is where glibc's `malloc` puts large blocks (16 bytes past a page).
    pub dst_offset: usize,
}

impl Default for DecodeBenchConfig {
    fn default() -> Self {
        DecodeBenchConfig {
            elements: 32 << 20,
            rounds: 5,
            types: None,
            outs: vec![OutType::F32],
            scalar: false,
            dst_offset: 0,
        }
    }
}

/// One row of the table: a type and output type, rates in Gelem/s (medians).
#[derive(Debug, Clone)]
pub struct Row {
    /// Type name.
    pub name: &'static str,
    /// Output type.
    pub out: OutType,
    /// The type whose `to_float` the ggml column times: this row's type, or for I2_S / TL1 /
    /// TL2 (which ggml lacks) the upstream ternary type of the same bits per weight (tq2_0 /
    /// tq2_0 / tq1_0) on as many elements.
    pub ggml_type: &'static str,
    /// ggml `to_float` (f32 out, one thread); `None` without ggml.
    pub ggml: Option<f64>,
    /// Ours, one thread (streaming stores for large outputs).
    pub ours_1t: f64,
    /// Ours, one thread, ordinary stores (upstream types; `None` for BitNet tensors, whose
    /// loading path makes its own choice).
    pub ours_1t_plain: Option<f64>,
    /// Streaming stores of the same output bytes, one thread, in Gelem/s of this output type.
    pub nt_1t: f64,
    /// Ours, all threads.
    pub ours_all: f64,
    /// Streaming stores of the same output bytes, all threads.
    pub nt_all: f64,
    /// Our scalar oracle, one thread, when asked.
    pub scalar_1t: Option<f64>,
}

impl Row {
    /// Ours / ggml on one thread.
    pub fn ratio_1t(&self) -> Option<f64> {
        self.ggml.map(|g| self.ours_1t / g)
    }
    /// Ours (all threads) / ggml (one thread: ggml's `to_float` is single-threaded).
    pub fn ratio_all(&self) -> Option<f64> {
        self.ggml.map(|g| self.ours_all / g)
    }
    /// Our one-thread output bandwidth as a percentage of one-thread streaming stores.
    pub fn pct_bw_1t(&self) -> f64 {
        self.ours_1t / self.nt_1t * 100.0
    }
    /// Our all-thread output bandwidth as a percentage of all-thread streaming stores.
    pub fn pct_bw_all(&self) -> f64 {
        self.ours_all / self.nt_all * 100.0
    }
    /// Issue 3's one-thread floor (f32 rows): ≥ 1.5× ggml, or ≥ 90% of the 1T streaming bw.
    pub fn floor_1t_met(&self) -> Option<bool> {
        Some(self.ratio_1t()? >= 1.5 || self.pct_bw_1t() >= 90.0)
    }
    /// Issue 3's all-thread floor: ≥ 70% of the all-thread streaming bw.
    pub fn floor_all_met(&self) -> bool {
        self.pct_bw_all() >= 70.0
    }
}

/// The machine's reference bandwidths for the f32 output size, GB/s of destination bytes.
#[derive(Debug, Clone)]
pub struct Bandwidth {
    /// Destination size in bytes.
    pub bytes: usize,
    /// `copy_from_slice`, one thread.
    pub memcpy_1t: f64,
    /// Streaming stores, one thread.
    pub nt_1t: f64,
    /// Streaming stores, all threads.
    pub nt_all: f64,
}

/// The result of [`run_decode_bench`].
#[derive(Debug, Clone)]
pub struct DecodeTable {
    /// Elements per type.
    pub elements: usize,
    /// Timed rounds per case.
    pub rounds: usize,
    /// Bytes past a 64-byte boundary where the outputs start.
    pub dst_offset: usize,
    /// rayon threads of the all-thread cases.
    pub threads: usize,
    /// The SIMD level the decoders dispatch to.
    pub simd: &'static str,
    /// Whether the data came from ggml's quantizer and ggml was timed.
    pub with_ggml: bool,
    /// Reference bandwidths.
    pub bandwidth: Bandwidth,
    /// One row per type and output type.
    pub rows: Vec<Row>,
    /// Types left out, with the reason.
    pub skipped: Vec<(&'static str, String)>,
}

/// Whether our f32 output equals `theirs` (from `who`) bit for bit, NaN equal to NaN; the first
/// difference otherwise.
fn same(ours: &[u8], theirs: &[f32], who: &str) -> std::result::Result<(), String> {
    for (i, (a, b)) in ours.chunks_exact(4).zip(theirs).enumerate() {
        let a = f32::from_le_bytes([a[0], a[1], a[2], a[3]]);
        if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
            return Err(format!(
                "element {i}: ours {a:e} ({:#010x}), {who} {b:e} ({:#010x})",
                a.to_bits(),
                b.to_bits()
            ));
        }
    }
    Ok(())
}

/// Normal values from a fixed seed.
fn normal_values(n: usize) -> Vec<f32> {
    let mut r = SplitMix64::new(0x5eed_d00d);
    (0..n).map(|_| r.normal() as f32).collect()
}

/// What one type's rows decode: an upstream type through `decode_into_with`, or a BitNet
/// tensor (I2_S, TL1, TL2; [`bitnet_shape`]) through the loading path, [`TensorCodec`], with its
/// format (layout or tiles) for the scalar oracle.
enum Subject {
    Upstream(TypeId),
    BitNet(TensorCodec, TernaryFormat),
}

/// How one case of ours decodes.
#[derive(Clone, Copy)]
enum How {
    /// The fast decoders on one thread, with this streaming choice (upstream types; BitNet
    /// tensors always take the codec's own choice).
    One(Streaming),
    /// The fast decoders on every thread of rayon's pool.
    All,
    /// The scalar oracle, one thread, f32 out.
    Scalar,
}

impl Subject {
    /// Decode `n` elements of `src` as `out` into `dst` (exactly `n * out.size()` bytes).
    fn decode(
        &self,
        src: &[u8],
        n: usize,
        out: OutType,
        dst: &mut [u8],
        how: How,
        one: &rayon::ThreadPool,
    ) -> Result<()> {
        match self {
            Subject::Upstream(id) => {
                let opts = match how {
                    How::One(streaming) => DecodeOptions { threads: 1, streaming, ..DecodeOptions::default() },
                    How::All => DecodeOptions::default(),
                    How::Scalar => {
                        DecodeOptions { threads: 1, simd: false, streaming: Streaming::Off, ..DecodeOptions::default() }
                    }
                };
                decode_into_with(*id, src, n as u64, out, dst, &opts)
            }
            Subject::BitNet(codec, format) => match how {
                How::One(_) => one.install(|| codec.decode(src, out, dst)),
                How::All => codec.decode(src, out, dst),
                How::Scalar => {
                    let f =
                        simd::f32_view_mut(dst).filter(|f| f.len() == n && out == OutType::F32).ok_or_else(|| {
                            Error::new(Status::InvalidParameter, "the scalar oracle writes an aligned f32 output")
                        })?;
                    let (m, k) = (codec.ne[1] as usize, codec.ne[0] as usize);
                    match *format {
                        TernaryFormat::I2s(layout) => bitnet::decode_i2s_layout(src, n, layout, f),
                        TernaryFormat::Tl1(cfg) => bitnet::decode_tl1(src, m, k, &cfg, f),
                        TernaryFormat::Tl2(cfg) => bitnet::decode_tl2(src, m, k, &cfg, f),
                        TernaryFormat::Tq1_0 | TernaryFormat::Tq2_0 => {
                            Err(Error::new(Status::InvalidParameter, "bench: TQ types decode as upstream types"))
                        }
                    }
                }
            },
        }
    }
}

/// The tile configuration the bench gives a TL1 / TL2 tensor of `m` rows: the largest BM of
/// 256, 128, 64, 32 that divides `m`, BK 128 (TL1) or 96 (TL2), bm 32.
fn bench_tl_config(ty: TypeId, m: usize) -> TlConfig {
    let bm_tile = [256, 128, 64, 32].into_iter().find(|b| m.is_multiple_of(*b)).unwrap_or(32);
    TlConfig { bm_tile, bk: if ty == types::TL1 { 128 } else { 96 }, bm: 32 }
}

/// The shape `(M, K)` of the BitNet tensors of `n` elements (a multiple of 65536): rows of
/// 4096, or of 2048 where that leaves a row count that is not a multiple of 32 (TL tiles hold
/// 32 rows at least).
fn bitnet_shape(n: usize) -> (usize, usize) {
    let k = if (n / 4096).is_multiple_of(32) { 4096 } else { 2048 };
    (n / k, k)
}

/// ggml has no I2_S, TL1 or TL2: their ggml column is ggml's `to_float` of the upstream ternary
/// type with the same bits per weight, on as many elements (as in `benches/bitnet.rs`).
fn ggml_stand_in(ty: TypeId) -> TypeId {
    if ty == types::TL2 {
        34 // tq1_0, 1.69 bits/weight (TL2: 1.67)
    } else {
        35 // tq2_0, 2.06 bits/weight (I2_S, TL1: 2)
    }
}

/// One tile of `vals` quantized as `id`: by ggml's `ggml_quantize_chunk` when ggml is there (an
/// all-ones importance matrix where the type requires one), else by bitgguf's quantizer
/// (byte-identical with ggml's reference quantizer); the reason when neither can.
fn quantize_tile(id: TypeId, vals: &[f32], ggml: Option<&GgmlLib>) -> std::result::Result<Vec<u8>, String> {
    let t = types::info(id).ok_or_else(|| format!("unknown type id {id}"))?;
    let mut one = vec![0u8; vals.len() / t.blck as usize * t.tsize as usize];
    match ggml {
        Some(g) if g.has_to_float(id) => {
            let ones = vec![1f32; 4096];
            let im = g.requires_imatrix(id).then_some(&ones[..]);
            g.quantize_chunk(id, vals, 4096, im, &mut one)
                .ok_or_else(|| "ggml_quantize_chunk refused it".to_string())?
        }
        Some(_) => return Err(format!("ggml has no to_float for {}", t.name)),
        None => quant::quantize(id, vals, 4096, &mut one).map(|_| ()).map_err(|e| e.to_string())?,
    }
    Ok(one)
}

/// `tile` repeated up to exactly `len` bytes.
fn tiled(tile: &[u8], len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        v.extend_from_slice(&tile[..tile.len().min(len - v.len())]);
    }
    v
}

/// A BitNet tensor of `n` elements ([`bitnet_shape`]): the absmean ternarization of `vals` (its
/// scale, its trits repeated to `n`), encoded by [`bitnet::encode_ternary`]; its codec and format.
fn bitnet_subject(ty: TypeId, vals: &[f32], n: usize) -> Result<(Vec<u8>, Subject)> {
    let mut t = bitnet::absmean(vals)?;
    t.trits = t.trits.iter().copied().cycle().take(n).collect();
    let (m, k) = bitnet_shape(n);
    let mut codec = TensorCodec::new(ty, [k as u64, m as u64, 1, 1]);
    let format = match ty {
        types::I2_S => TernaryFormat::I2s(codec.i2s),
        types::TL1 => TernaryFormat::Tl1(bench_tl_config(ty, m)),
        _ => TernaryFormat::Tl2(bench_tl_config(ty, m)),
    };
    if let TernaryFormat::Tl1(cfg) | TernaryFormat::Tl2(cfg) = format {
        codec.tl = Some(cfg);
    }
    let opts = TranscodeOptions { allow_lossy_scale: false, tail: TailFill::Zero };
    let src = bitnet::encode_ternary(&t, m, k, format, &opts)?.bytes;
    Ok((src, Subject::BitNet(codec, format)))
}

/// One measured case of a round.
enum Case {
    Ggml,
    Ours(How),
    Nt(usize),
}

/// Run the comparison; `progress(type_name, done, total)` is called before each type.
pub fn run_decode_bench(
    cfg: &DecodeBenchConfig,
    ggml: Option<&GgmlLib>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<DecodeTable> {
    let elems = cfg.elements.max(1 << 16) >> 16 << 16;
    let rounds = cfg.rounds.max(1);
    let threads = rayon::current_num_threads();
    let out_len = elems * 4;
    if !cfg.dst_offset.is_multiple_of(4) || cfg.dst_offset >= 64 {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("destination offset {} must be a multiple of 4 below 64", cfg.dst_offset),
        ));
    }
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::new(Status::Io, format!("bench: cannot start a one-thread pool: {e}")))?;
    let mut dst = AlignedBuf::with_offset(out_len, cfg.dst_offset);

    // Reference bandwidths for the f32 output size.
    let mut src_copy = AlignedBuf::new(out_len);
    let mut refs = [Samples::default(), Samples::default(), Samples::default()];
    for _ in 0..rounds {
        for (k, s) in refs.iter_mut().enumerate() {
            for timed in [false, true] {
                let ms = match k {
                    0 => time_ms(|| dst.bytes().copy_from_slice(black_box(src_copy.bytes()))),
                    1 => time_ms(|| nt_fill(dst.bytes(), 1)),
                    _ => time_ms(|| nt_fill(dst.bytes(), threads)),
                };
                if timed {
                    s.0.push(ms);
                }
            }
        }
    }
    drop(src_copy);
    let gbs = |s: &Samples| out_len as f64 / s.median() / 1e6;
    let bandwidth = Bandwidth { bytes: out_len, memcpy_1t: gbs(&refs[0]), nt_1t: gbs(&refs[1]), nt_all: gbs(&refs[2]) };

    let base_n = elems.min(1 << 20);
    let vals = normal_values(base_n);
    // Every upstream block type we decode, then I2_S, TL1 and TL2 (or the types asked for, in
    // that order; one we cannot decode is listed as skipped, with the reason).
    let bitnet_ids = [types::I2_S, types::TL1, types::TL2];
    let wanted = |id: TypeId| cfg.types.as_ref().is_none_or(|only| only.contains(&id));
    let candidates: Vec<&'static types::TypeInfo> = types::UPSTREAM
        .iter()
        .filter(|t| t.blck != 0 && quant::decoder(t.id).is_some())
        .chain(bitnet_ids.iter().filter_map(|&id| types::info(id)))
        .filter(|t| wanted(t.id))
        .collect();
    let mut skipped = Vec::new();
    for &id in cfg.types.iter().flatten() {
        if !candidates.iter().any(|t| t.id == id) {
            let name = types::info(id).map_or("?", |t| t.name);
            skipped.push((name, "not a dequantizable type (served as stored, or no longer decodable)".to_string()));
        }
    }
    let mut rows = Vec::new();
    for (k, t) in candidates.iter().enumerate() {
        let id = t.id;
        progress(t.name, k, candidates.len());
        let (blck, tsize) = (t.blck as usize, t.tsize as usize);
        if !elems.is_multiple_of(blck) || !base_n.is_multiple_of(4096) {
            skipped.push((t.name, format!("{elems} elements are not whole rows of 4096 in blocks of {blck}")));
            continue;
        }
        let n = elems;
        let bitnet = bitnet_ids.contains(&id);
        // The data: upstream types quantized by ggml (or, without ggml, by us) and tiled;
        // BitNet tensors encoded by our scalar encoders, ggml's data of the stand-in type beside.
        let ggml_id = if bitnet { ggml_stand_in(id) } else { id };
        let ggml_info = types::info(ggml_id).unwrap_or(t);
        let mut theirs = None;
        if let Some(g) = ggml {
            match quantize_tile(ggml_id, &vals, Some(g)) {
                Ok(tile) => theirs = Some(tiled(&tile, n / ggml_info.blck as usize * ggml_info.tsize as usize)),
                Err(why) => {
                    skipped.push((t.name, why));
                    continue;
                }
            }
        }
        let made = if bitnet {
            bitnet_subject(id, &vals, n).map_err(|e| e.to_string())
        } else if let Some(v) = theirs.take() {
            Ok((v, Subject::Upstream(id)))
        } else {
            quantize_tile(id, &vals, None).map(|tile| (tiled(&tile, n / blck * tsize), Subject::Upstream(id)))
        };
        let (src, subject) = match made {
            Ok(m) => m,
            Err(why) => {
                skipped.push((t.name, why));
                continue;
            }
        };
        let ggml_src: &[u8] = theirs.as_deref().unwrap_or(&src);

        // Correctness first: our f32 output must equal ggml's (upstream types) or our scalar
        // oracle's (BitNet: ggml has no decoder for them), bit for bit.
        subject.decode(&src, n, OutType::F32, dst.bytes(), How::All, &one)?;
        if bitnet || ggml.is_some() {
            let mut want = AlignedBuf::new(n * 4);
            let who = if bitnet {
                subject.decode(&src, n, OutType::F32, want.bytes(), How::Scalar, &one)?;
                "the scalar oracle"
            } else {
                let f = simd::f32_view_mut(want.bytes()).expect("64-byte aligned buffer");
                ggml.and_then(|g| g.to_float(id, &src, f)).ok_or_else(|| {
                    Error::new(Status::ReferenceMismatch, format!("ggml to_float refused {}", t.name))
                })?;
                "ggml"
            };
            let f = simd::f32_view_mut(want.bytes()).expect("64-byte aligned buffer");
            same(dst.bytes(), f, who).map_err(|e| {
                Error::new(
                    Status::ReferenceMismatch,
                    format!("bench: {}: our output differs from {who}'s: {e}", t.name),
                )
            })?;
        }

        for &out in &cfg.outs {
            let len = n * out.size() as usize;
            let mut cases = vec![Case::Ours(How::One(Streaming::Auto))];
            let plain_at = (!bitnet).then(|| {
                cases.push(Case::Ours(How::One(Streaming::Off)));
                cases.len() - 1
            });
            let fixed = cases.len();
            cases.extend([Case::Nt(1), Case::Ours(How::All), Case::Nt(threads)]);
            // Where the optional cases land, so the rates are read by position, not by guess.
            let ggml_at = ggml.map(|_| {
                cases.push(Case::Ggml);
                cases.len() - 1
            });
            let scalar_at = (cfg.scalar && out == OutType::F32).then(|| {
                cases.push(Case::Ours(How::Scalar));
                cases.len() - 1
            });
            let mut times: Vec<Samples> = cases.iter().map(|_| Samples::default()).collect();
            for _ in 0..rounds {
                for (c, case) in cases.iter().enumerate() {
                    // Steady state: each timed run follows an untimed run of the same case, so
                    // it pays for the write-backs of its own kind's dirty lines, never for
                    // another case's (the module docs).
                    for timed in [false, true] {
                        let ms = match case {
                            Case::Ggml => {
                                // ggml writes f32 whatever `out` is: the full-size buffer.
                                let f = simd::f32_view_mut(dst.bytes()).expect("64-byte aligned buffer");
                                let g = ggml.expect("ggml case only with ggml");
                                time_ms(|| {
                                    g.to_float(ggml_id, black_box(ggml_src), f);
                                })
                            }
                            Case::Ours(how) => {
                                let d = &mut dst.bytes()[..len];
                                let mut r = Ok(());
                                let ms = time_ms(|| r = subject.decode(black_box(&src), n, out, d, *how, &one));
                                r?;
                                ms
                            }
                            Case::Nt(th) => time_ms(|| nt_fill(&mut dst.bytes()[..len], *th)),
                        };
                        if timed {
                            times[c].0.push(ms);
                        }
                    }
                }
            }
            let rate: Vec<f64> = times.iter().map(|s| n as f64 / s.median() / 1e6).collect();
            rows.push(Row {
                name: t.name,
                out,
                ggml_type: types::info(ggml_id).map_or("?", |g| g.name),
                ggml: ggml_at.map(|i| rate[i]),
                ours_1t: rate[0],
                ours_1t_plain: plain_at.map(|i| rate[i]),
                nt_1t: rate[fixed],
                ours_all: rate[fixed + 1],
                nt_all: rate[fixed + 2],
                scalar_1t: scalar_at.map(|i| rate[i]),
            });
        }
    }
    Ok(DecodeTable {
        elements: elems,
        rounds,
        dst_offset: cfg.dst_offset,
        threads,
        simd: simd::isa_name(),
        with_ggml: ggml.is_some(),
        bandwidth,
        rows,
        skipped,
    })
}

impl DecodeTable {
    /// The rows that miss a floor, described.
    pub fn unmet_floors(&self) -> Vec<String> {
        let mut v = Vec::new();
        for r in &self.rows {
            if r.out == OutType::F32 && r.floor_1t_met() == Some(false) {
                v.push(format!(
                    "{} 1T ({:.2}x ggml, {:.0}% of 1T streaming bw)",
                    r.name,
                    r.ratio_1t().unwrap_or(f64::NAN),
                    r.pct_bw_1t()
                ));
            }
            if !r.floor_all_met() {
                v.push(format!("{} {} all threads ({:.0}% of streaming bw)", r.name, r.out.name(), r.pct_bw_all()));
            }
        }
        v
    }
}

impl std::fmt::Display for DecodeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.bandwidth;
        writeln!(
            f,
            "{} elements per type ({} MiB of f32 out, starting {} bytes past a 64-byte boundary), {} rounds (median), each timed run after an untimed run of the same case; {} threads; simd {}",
            self.elements,
            b.bytes >> 20,
            self.dst_offset,
            self.rounds,
            self.threads,
            self.simd
        )?;
        writeln!(
            f,
            "bandwidth (GB/s of destination bytes): memcpy 1T {:.2}, streaming stores 1T {:.2}, all threads {:.2}",
            b.memcpy_1t, b.nt_1t, b.nt_all
        )?;
        writeln!(
            f,
            "Gelem/s. ggml = to_float (f32 out, 1 thread); 1T = bitgguf on one thread; all = on {} threads;",
            self.threads
        )?;
        writeln!(f, "%bw = our output GB/s / streaming-store GB/s of the same bytes and thread count.")?;
        writeln!(
            f,
            "{:<8} {:>4} | {:>6} | {:>6} {:>7} {:>6} | {:>6} {:>7} {:>6}{}",
            "type",
            "out",
            "ggml",
            "1T",
            "1T/ggml",
            "%bw1T",
            "all",
            "all/ggm",
            "%bwAll",
            if self.rows.iter().any(|r| r.scalar_1t.is_some()) { "  scalar1" } else { "" }
        )?;
        let num = |x: Option<f64>, w: usize, suffix: &str| match x {
            Some(v) => format!("{v:>w$.2}{suffix}", w = w),
            None => format!("{:>w$}{}", "-", " ".repeat(suffix.len()), w = w),
        };
        for r in &self.rows {
            let stand_in = r.ggml_type != r.name;
            writeln!(
                f,
                "{:<8} {:>4} | {} | {:>6.2} {} {:>5.0}% | {:>6.2} {} {:>5.0}%{}",
                if stand_in { format!("{}*", r.name) } else { r.name.to_string() },
                r.out.name(),
                num(r.ggml, 6, ""),
                r.ours_1t,
                num(r.ratio_1t(), 6, "x"),
                r.pct_bw_1t(),
                r.ours_all,
                num(r.ratio_all(), 6, "x"),
                r.pct_bw_all(),
                r.scalar_1t.map_or(String::new(), |s| format!("  {s:>7.2}"))
            )?;
        }
        let mut stand_ins: Vec<String> = Vec::new();
        for r in self.rows.iter().filter(|r| r.ggml_type != r.name) {
            let s = format!("{} vs {}", r.name, r.ggml_type);
            if !stand_ins.contains(&s) {
                stand_ins.push(s);
            }
        }
        if !stand_ins.is_empty() {
            writeln!(
                f,
                "* ggml has no decoder for this type: its ggml column is ggml's to_float of the upstream ternary \
                 type with the same bits per weight, on as many elements ({}); our output was checked against our \
                 scalar oracle instead",
                stand_ins.join(", ")
            )?;
        }
        for (name, why) in &self.skipped {
            writeln!(f, "{name:<8} skipped: {why}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore)] // streaming stores are inline assembly to Miri
    fn median_and_streaming_fill() {
        assert_eq!(Samples(vec![3.0, 1.0, 2.0]).median(), 2.0);
        assert_eq!(Samples(vec![4.0, 1.0, 2.0, 3.0]).median(), 2.5);
        assert!(Samples(vec![]).median().is_nan());
        // Every byte written, whatever the alignment and length.
        let mut b = AlignedBuf::new(4096 + 64);
        for (start, len) in [(0, 4096), (1, 1000), (3, 17), (5, 0)] {
            let d = &mut b.bytes()[start..start + len];
            d.fill(0xee);
            nt_fill(d, 1);
            assert!(d.iter().all(|&x| x != 0xee), "start {start} len {len}");
            d.fill(0xee);
            nt_fill(d, 3);
            assert!(d.iter().all(|&x| x != 0xee), "3 threads, start {start} len {len}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)] // timing loops over the SIMD decoders: out of Miri's scope
    fn without_ggml_rows_come_from_our_quantizer_and_floors_are_computed() {
        let cfg = DecodeBenchConfig {
            elements: 1 << 16,
            rounds: 1,
            types: Some(vec![2, 8]),
            outs: vec![OutType::F32, OutType::F16],
            scalar: true,
            dst_offset: 16,
        };
        let mut seen = Vec::new();
        let t = run_decode_bench(&cfg, None, &mut |n, _, _| seen.push(n.to_string())).unwrap();
        assert_eq!(seen, ["q4_0", "q8_0"]);
        assert_eq!(t.rows.len(), 4);
        assert!(t.rows.iter().all(|r| r.ggml.is_none() && r.ours_1t > 0.0 && r.nt_all > 0.0));
        assert!(t.rows[0].scalar_1t.is_some() && t.rows[1].scalar_1t.is_none());
        assert_eq!(t.rows[0].floor_1t_met(), None);
        let text = t.to_string();
        assert!(text.contains("q4_0") && text.contains("q8_0"), "{text}");
    }

    #[test]
    #[cfg_attr(miri, ignore)] // timing loops over the SIMD decoders: out of Miri's scope
    fn bitnet_rows_decode_through_the_codec_and_name_their_stand_in() {
        // 65536 elements: rows of 2048 (32 rows, one TL tile); 131072: 4096 x 32.
        for elements in [1 << 16, 1 << 17] {
            let cfg = DecodeBenchConfig {
                elements,
                rounds: 1,
                types: Some(vec![types::TL2, types::I2_S, types::TL1, 26]),
                outs: vec![OutType::F32, OutType::Bf16],
                scalar: true,
                dst_offset: 0,
            };
            let t = run_decode_bench(&cfg, None, &mut |_, _, _| {}).unwrap();
            let got: Vec<_> = t.rows.iter().map(|r| (r.name, r.out, r.ggml_type)).collect();
            assert_eq!(
                got,
                [
                    ("i2_s", OutType::F32, "tq2_0"),
                    ("i2_s", OutType::Bf16, "tq2_0"),
                    ("tl1", OutType::F32, "tq2_0"),
                    ("tl1", OutType::Bf16, "tq2_0"),
                    ("tl2", OutType::F32, "tq1_0"),
                    ("tl2", OutType::Bf16, "tq1_0"),
                ],
                "{elements}"
            );
            for r in &t.rows {
                assert!(r.ours_1t > 0.0 && r.ours_all > 0.0 && r.ours_1t_plain.is_none() && r.ggml.is_none());
                assert_eq!(r.scalar_1t.is_some(), r.out == OutType::F32);
            }
            assert_eq!(t.skipped.len(), 1);
            assert_eq!(t.skipped[0].0, "i32"); // id 26: served as stored, no decoder
            let text = t.to_string();
            assert!(text.contains("i2_s*") && text.contains("tl2 vs tq1_0"), "{text}");
        }
        assert_eq!(bitnet_shape(1 << 16), (32, 2048));
        assert_eq!(bitnet_shape(32 << 20), (8192, 4096));
    }
}
