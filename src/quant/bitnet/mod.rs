//! BitNet b1.58 ternary formats: I2_S ([`i2s`]), TL1 ([`tl1`]) and TL2 ([`tl2`]), the
//! f32 → ternary quantizers, and lossless transcoding between every ternary format, TQ1_0 and
//! TQ2_0 included ([`transcode`](mod@transcode)). Byte layouts: shared/reference/bitnet-formats.md §3–§6.
//!
//! Conventions shared by every function here:
//! - A ternary tensor is a [`Ternary`]: `trits` in {−1, 0, +1}, in the flattened row-major
//!   element order of the ggml tensor (`e = row*ne0 + col`), plus one f32 per-tensor `scale`.
//!   Element `e` decodes to `scale * trits[e] as f32`. That is the reference's
//!   `scale * (code − 1)` for I2_S, TL1 and TL2 alike, and `(q − 1) * d` for TQ1_0 / TQ2_0, so
//!   the same trits and the same scale give bit-identical f32 in every format: transcoding is
//!   value-exact, not only code-exact.
//! - TL1 / TL2 shapes are `(m, k)`: `m` rows = output features = ggml `ne1`, `k` columns =
//!   input features = ggml `ne0` (bitnet-formats.md §4.2). Their tile parameters ([`TlConfig`])
//!   are not stored in GGUF files: they always come from the caller, never from a guess.
//! - Byte offsets in error messages are relative to the first byte of the tensor's data.
//! - Decoders validate the whole input before writing anything, so on error the output buffer is
//!   untouched.
//! - Everything is scalar and safe; the fast paths live elsewhere and are checked against these.

pub mod i2s;
pub mod i2s_fast;
pub mod i2s_onepass;
#[cfg(target_arch = "x86_64")]
mod simd_x86;
pub(crate) mod tiles;
pub mod tl1;
pub mod tl2;
pub mod tl_fast;
#[cfg(target_arch = "x86_64")]
mod tl_x86;
pub mod transcode;

pub use i2s::{
    decode_i2s, decode_i2s_layout, decode_i2s_trits, encode_i2s, encode_i2s_payload, i2s_nbytes, i2s_scale, i2s_tail,
    quantize_i2s, I2sLayout, TailFill, I2S_TAIL_BYTES,
};
pub use tl1::{
    decode_tl1, decode_tl1_trits, encode_tl1, quantize_tl1, tl1_nbytes, tl1_preset, tl1_presets, tl1_validate,
};
pub use tl2::{
    decode_tl2, decode_tl2_trits, encode_tl2, quantize_tl2, tl2_f, tl2_geometry, tl2_nbytes, tl2_preset, tl2_presets,
    Tl2Geometry,
};
pub use transcode::{
    decode_ternary, encode_ternary, transcode, ScaleLoss, TernaryFormat, TranscodeOptions, Transcoded,
};

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result, Status};
use crate::quant::output::{share_pieces, OutType};

/// A ternary tensor: trits in {−1, 0, +1} (flattened row-major) and one per-tensor scale.
/// Element `e` has the value `scale * trits[e] as f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ternary {
    /// The ternary values, one per element.
    pub trits: Vec<i8>,
    /// The per-tensor multiplier.
    pub scale: f32,
}

impl Ternary {
    /// A ternary tensor, checking that every trit is −1, 0 or +1.
    pub fn new(trits: Vec<i8>, scale: f32) -> Result<Ternary> {
        check_trits(&trits)?;
        Ok(Ternary { trits, scale })
    }

    /// The values `scale * t` into `dst` (exactly `trits.len()` elements).
    pub fn dequantize_into(&self, dst: &mut [f32]) -> Result<()> {
        check_dst(dst.len(), self.trits.len())?;
        check_trits(&self.trits)?;
        let lut = value_lut(self.scale);
        for (d, &t) in dst.iter_mut().zip(&self.trits) {
            *d = lut[(t + 1) as usize];
        }
        Ok(())
    }

    /// The values `scale * t` as a new vector.
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        let mut v = vec![0.0; self.trits.len()];
        self.dequantize_into(&mut v)?;
        Ok(v)
    }
}

/// How f32 weights become a [`Ternary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ternarizer {
    /// [`absmean`]: the BitNet b1.58 training-time quantizer, for raw (not yet ternary) weights.
    Absmean,
    /// [`sign_max`]: bitnet.cpp's `quantize_i2_s` exactly, for weights that are already
    /// ternarized (every nonzero has the same magnitude).
    SignMax,
}

impl Ternarizer {
    /// Ternarize `w` with this method.
    pub fn ternarize(self, w: &[f32]) -> Result<Ternary> {
        match self {
            Ternarizer::Absmean => absmean(w),
            Ternarizer::SignMax => Ok(sign_max(w)),
        }
    }
}

/// The smallest absmean scale, as in the converters' `mean(|W|).clamp(min=1e-5)`
/// (`BitnetModel.weight_quant`, `preprocess-huggingface-bitnet.py:quant_weight_fp16`).
pub const ABSMEAN_MIN_SCALE: f64 = 1e-5;

/// Absmean ternarization (bitnet-formats.md §3.7, "recommended independent quantizer"),
/// defined precisely as:
/// 1. `sum = Σ |w_e|`, each `|w_e|` widened to f64 and summed in f64 in the fixed order of
///    [`i2s_fast::abs_sum`] (16 interleaved partial sums, then a fixed tree), which SIMD follows
///    bit for bit;
/// 2. `s = max(sum / n, 1e-5)` in f64 (the converters' clamp), then rounded once to f32: that
///    f32 is the returned scale (an empty input gives `s = 1e-5` as f32);
/// 3. `t_e = clamp(round_half_even(w_e / s), −1, 1)`, with the division done in f64 on the
///    widened `w_e` and the stored f32 scale, so the trit is the exact rounding of `w / scale`.
///
/// For weights that are already ternary (`±a` and 0) this returns trits that reproduce them
/// exactly when `a` is the mean magnitude. Non-finite inputs are rejected (their mean is
/// meaningless): the error names the first such element.
pub fn absmean(w: &[f32]) -> Result<Ternary> {
    if let Some(e) = w.iter().position(|x| !x.is_finite()) {
        return Err(invalid(format!("absmean: element {e} is {}; only finite weights can be ternarized", w[e])));
    }
    let sum = i2s_fast::abs_sum(w);
    let mean = if w.is_empty() { 0.0 } else { sum / w.len() as f64 };
    let scale = mean.max(ABSMEAN_MIN_SCALE) as f32;
    let s = scale as f64;
    let trits = w.iter().map(|&x| ((x as f64) / s).round_ties_even().clamp(-1.0, 1.0) as i8).collect();
    Ok(Ternary { trits, scale })
}

/// bitnet.cpp's `quantize_i2_s` ternarization, exactly (bitnet-formats.md §3.7):
/// - `scale = max |x|` over the whole tensor, computed in f64 (`fmax`, so NaNs are skipped) and
///   stored as f32 (exact: it is one of the inputs);
/// - per element, in f64: `|x| < 1e-6` (the f64 literal) → 0; else `x * scale > 0` → +1;
///   else −1.
///
/// Consequences: `1e-6f32` (9.99999997e−7 as f64) and `−0.0` become 0, NaN becomes −1, and
/// every nonzero keeps only its sign (no rounding against the scale). TL1 and TL2 ternarize
/// the same way (`preprocess_weights_tl1/tl2`: sign with the 1e-6 threshold, scale `max|W|`).
pub fn sign_max(w: &[f32]) -> Ternary {
    let max = w.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
    let trits = w
        .iter()
        .map(|&x| {
            let x = x as f64;
            if x.abs() < 1e-6 {
                0
            } else if x * max > 0.0 {
                1
            } else {
                -1
            }
        })
        .collect();
    Ternary { trits, scale: max as f32 }
}

/// TL1 / TL2 tile parameters (bitnet-formats.md §4.2, §5.2), as in `kernel_config.ini`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlConfig {
    /// `BM` (ini `bm`): rows per tile; `M % BM == 0`.
    pub bm_tile: usize,
    /// `BK` (ini `bk`, `BY` in the converter): columns per k-block (TL2: of the "three" part).
    pub bk: usize,
    /// `bm` (ini `bmm`): rows per SIMD group; 32 or 64 for TL1, always 32 for TL2.
    pub bm: usize,
}

/// Where a preset tile configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresetSource {
    /// `preset_kernels/<model>/kernel_config_tl{1,2}.ini` as shipped in microsoft/BitNet.
    KernelConfigIni,
    /// The `--BM/--BK/--bm` lists `setup_env.py::gen_code` passes to `utils/codegen_tl{1,2}.py`.
    /// `setup_env.py` always runs codegen, which rewrites `include/kernel_config.ini` (the file
    /// the converter reads), after copying any preset, so files converted through `setup_env.py`
    /// were tiled with these values. They differ from the ini for Llama3-8B TL1 and for
    /// bitnet_b1_58-large TL2 (4096, 1536).
    SetupEnv,
}

/// The helpers both shipped tile tables ([`tl1_presets`], [`tl2_presets`]) are written with.
mod preset_table {
    use super::{PresetSource, TlConfig, TlPreset};

    /// One table row.
    pub(super) const fn row(
        model: &'static str,
        source: PresetSource,
        m: usize,
        k: usize,
        bm_tile: usize,
        bk: usize,
        bm: usize,
    ) -> TlPreset {
        TlPreset { model, source, m, k, config: TlConfig { bm_tile, bk, bm } }
    }

    /// The `preset_kernels/` directory names of microsoft/BitNet.
    pub(super) const LARGE: &str = "bitnet_b1_58-large";
    pub(super) const B3: &str = "bitnet_b1_58-3B";
    pub(super) const L8: &str = "Llama3-8B-1.58-100B-tokens";
    pub(super) const INI: PresetSource = PresetSource::KernelConfigIni;
    pub(super) const ENV: PresetSource = PresetSource::SetupEnv;
}

/// One row of a shipped TL1 / TL2 configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlPreset {
    /// The `preset_kernels/` directory name (`bitnet_b1_58-large`, `bitnet_b1_58-3B`,
    /// `Llama3-8B-1.58-100B-tokens`).
    pub model: &'static str,
    /// Which table the row comes from.
    pub source: PresetSource,
    /// Rows (output features, ggml ne1).
    pub m: usize,
    /// Columns (input features, ggml ne0).
    pub k: usize,
    /// The tile parameters.
    pub config: TlConfig,
}

/// The `(scale * −1, scale * 0, scale * 1)` table indexed by `t + 1`: the same products the
/// reference computes per element.
#[inline]
#[allow(clippy::neg_multiply)] // a product, not a negation: NaN scales keep the reference's bits
pub(crate) fn value_lut(scale: f32) -> [f32; 3] {
    [scale * -1.0, scale * 0.0, scale * 1.0]
}

/// The output bit patterns of a value table (from [`value_lut`]) as `out`: f32 bits, or the
/// f16 / bf16 of each value by the scalar conversions the scalar path stores with
/// (`output::store_scalar`: [`f32_to_f16`](crate::quant::float::f32_to_f16),
/// [`f32_to_bf16`](crate::quant::float::f32_to_bf16)). Every output of a BitNet decode is one of
/// the three table values, so looking these up gives the scalar path's bits by construction
/// (NaN, infinite, negative, zero and subnormal scales included).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // used by the AVX2 paths
pub(crate) fn out_values(lut: [f32; 3], out: OutType) -> [u32; 3] {
    lut.map(|v| match out {
        OutType::F32 => v.to_bits(),
        OutType::F16 => crate::quant::float::f32_to_f16(v) as u32,
        OutType::Bf16 => crate::quant::float::f32_to_bf16(v) as u32,
    })
}

/// Store decoded f32 values as `out` into `dst` (exactly `vals.len() * out.size()` bytes): the
/// fast conversions where there are some (`simd::store`), else the scalar oracle
/// (`output::store_scalar`, also under `BG_FORCE_SCALAR`). The same bits either way.
pub(crate) fn store_values(out: OutType, vals: &[f32], dst: &mut [u8]) {
    if !crate::quant::simd::store(out, vals, dst, false) {
        crate::quant::output::store_scalar(out, vals, dst);
    }
}

/// Run `decode` (which fills `n` f32) and leave its values in `dst` as `out`: straight into
/// `dst` for an f32 output that is 4-byte aligned, else through a temporary f32 buffer and
/// [`store_values`]. Nothing is written to `dst` when `decode` fails.
pub(crate) fn with_f32(
    out: OutType,
    dst: &mut [u8],
    n: usize,
    decode: impl FnOnce(&mut [f32]) -> Result<()>,
) -> Result<()> {
    if out == OutType::F32 {
        if let Some(view) = crate::quant::simd::f32_view_mut(dst) {
            return decode(view);
        }
    }
    let mut vals = vec![0f32; n];
    decode(&mut vals)?;
    store_values(out, &vals, dst);
    Ok(())
}

/// The output holds exactly `n` elements as `out`.
pub(crate) fn check_out(have: usize, n: usize, out: OutType) -> Result<()> {
    let need = n.checked_mul(out.size() as usize);
    if need != Some(have) {
        return Err(invalid(format!(
            "the output holds {have} bytes; the tensor's {n} elements as {} need {}",
            out.name(),
            need.map_or("more than usize::MAX".to_string(), |b| b.to_string())
        )));
    }
    Ok(())
}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidParameter, msg)
}

/// Every trit is −1, 0 or +1.
pub(crate) fn check_trits(trits: &[i8]) -> Result<()> {
    match trits.iter().position(|t| !(-1..=1).contains(t)) {
        None => Ok(()),
        Some(e) => Err(invalid(format!("element {e} has the trit {}; trits must be -1, 0 or +1", trits[e]))),
    }
}

pub(crate) fn check_dst(have: usize, need: usize) -> Result<()> {
    if have != need {
        return Err(invalid(format!("the output holds {have} elements, the tensor has {need}")));
    }
    Ok(())
}

pub(crate) fn check_src(what: &str, have: usize, need: usize) -> Result<()> {
    if have != need {
        return Err(invalid(format!("{what} needs exactly {need} bytes, {have} given")));
    }
    Ok(())
}

/// `m * k` with overflow checked.
pub(crate) fn elements(m: usize, k: usize) -> Result<usize> {
    m.checked_mul(k).ok_or_else(|| invalid(format!("{m} x {k} elements overflow")))
}

/// Bytes per piece of the parallel index scans ([`scan_any`]).
pub(crate) const SCAN_PIECE: usize = 512 << 10;

/// Whether `bad` holds for any piece of `bytes`: pieces of [`SCAN_PIECE`] bytes shared by the
/// calling thread and rayon's pool ([`share_pieces`]; the pieces after a bad one are skipped)
/// for large inputs, else `bad(bytes)` on the calling thread. For the index scans that run
/// before a decode writes anything (I2_S codes in `TensorCodec`, TL1 / TL2 nibbles in
/// `tl_fast`): on one thread they held up the whole decode (TL2 at 16 Mi elements reads
/// 3.5 MiB, ~0.6 ms at one thread's read rate on the session-9 Xeon, a fifth of a two-thread
/// decode); the calling thread starts at once rather than waiting for the pool to take the job
/// (`tl_fast::for_row_groups` has the figures). `bad` must be a property of each byte, so that
/// the pieces decide it alone.
pub(crate) fn scan_any(bytes: &[u8], bad: impl Fn(&[u8]) -> bool + Sync + Send) -> bool {
    let threads = rayon::current_num_threads();
    if bytes.len() < 2 * SCAN_PIECE || threads == 1 {
        return bad(bytes);
    }
    let found = AtomicBool::new(false);
    share_pieces(bytes.chunks(SCAN_PIECE).collect(), threads, |piece| {
        if !found.load(Ordering::Relaxed) && bad(piece) {
            found.store(true, Ordering::Relaxed);
        }
    });
    found.into_inner()
}

/// `"byte N"`, or `"byte N (file byte B+N)"` when the tensor's first byte is at file offset `B`.
pub(crate) fn byte_at(rel: usize, file_base: Option<u64>) -> String {
    match file_base {
        Some(b) => format!("byte {rel} (file byte {})", b.saturating_add(rel as u64)),
        None => format!("byte {rel}"),
    }
}

/// The f32 LE at `src[at..at + 4]` (the caller checked the length).
pub(crate) fn read_f32(src: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([src[at], src[at + 1], src[at + 2], src[at + 3]])
}

/// The hidden TL scale record / I2_S tail: f32 LE scale, then 28 zero bytes or 7 more copies.
pub(crate) fn scale_record(scale: f32, replicate: bool) -> [u8; 32] {
    let mut rec = [0u8; 32];
    let b = scale.to_le_bytes();
    let copies = if replicate { 8 } else { 1 };
    for c in rec.chunks_exact_mut(4).take(copies) {
        c.copy_from_slice(&b);
    }
    rec
}

/// Test helpers shared by the format modules.
#[cfg(test)]
pub(crate) mod testutil {
    /// A small deterministic generator (SplitMix64).
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        pub fn trits(&mut self, n: usize) -> Vec<i8> {
            (0..n).map(|_| self.below(3) as i8 - 1).collect()
        }
    }

    /// Pseudo-random trits reproducible outside Rust: `h = (m*2654435761 + k*40503 + m*k*97) mod 2^32`,
    /// `t = ((h >> 13) mod 3) - 1`.
    pub fn hashed_trits(m: usize, k: usize) -> Vec<f32> {
        (0..m * k)
            .map(|e| {
                let (r, c) = ((e / k) as u64, (e % k) as u64);
                let h = (r * 2_654_435_761 + c * 40_503 + r * c * 97) & 0xffff_ffff;
                ((h >> 13) % 3) as f32 - 1.0
            })
            .collect()
    }

    /// SHA-256 (FIPS 180-4), for the digests quoted in bitnet-formats.md §9.
    pub fn sha256(data: &[u8]) -> [u8; 32] {
        const K: [u32; 64] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
            0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
            0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
            0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
            0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
            0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
            0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2,
        ];
        let mut h: [u32; 8] =
            [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
        let mut msg = data.to_vec();
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
        for chunk in msg.chunks_exact(64) {
            let mut w = [0u32; 64];
            for i in 0..16 {
                w[i] = u32::from_be_bytes([chunk[4 * i], chunk[4 * i + 1], chunk[4 * i + 2], chunk[4 * i + 3]]);
            }
            for i in 16..64 {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
            }
            let mut v = h;
            for i in 0..64 {
                let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
                let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
                let t1 = v[7].wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
                let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
                let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
                let t2 = s0.wrapping_add(maj);
                v = [t1.wrapping_add(t2), v[0], v[1], v[2], v[3].wrapping_add(t1), v[4], v[5], v[6]];
            }
            for (a, b) in h.iter_mut().zip(v) {
                *a = a.wrapping_add(b);
            }
        }
        let mut out = [0u8; 32];
        for (o, x) in out.chunks_exact_mut(4).zip(h) {
            o.copy_from_slice(&x.to_be_bytes());
        }
        out
    }

    pub fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Bytes from a whitespace-separated hex string.
    pub fn unhex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|t| u8::from_str_radix(t, 16).unwrap()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn sha256_known_answers() {
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let long = vec![0x61u8; 1000];
        assert_eq!(hex(&sha256(&long)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    }

    #[test]
    fn sign_max_edge_cases() {
        let one_e6 = 1e-6f32;
        let above = f32::from_bits(one_e6.to_bits() + 1);
        // 1e-6f as f64 is 9.99999997e-7 < 1e-6: zero in the reference's double comparison,
        // which a comparison in f32 (1e-6f < 1e-6f is false) would get wrong.
        assert!((one_e6 as f64) < 1e-6);
        assert!(one_e6.abs() >= 1e-6f32, "in f32 the comparison would keep it");
        let w = [one_e6, -one_e6, above, -above, f32::NAN, -0.0, 0.0, 0.5, -0.25, 5e-7];
        let t = sign_max(&w);
        assert_eq!(t.trits, vec![0, 0, 1, -1, -1, 0, 0, 1, -1, 0]);
        assert_eq!(t.scale, 0.5, "max |x| ignores NaN (fmax)");
        // Infinity: the scale becomes inf and signs survive.
        let t = sign_max(&[f32::NEG_INFINITY, 2.0, -3.0, 0.0]);
        assert_eq!(t.trits, vec![-1, 1, -1, 0]);
        assert_eq!(t.scale, f32::INFINITY);
        // All NaN / tiny: scale 0 (or the tiny max), NaN still -1.
        let t = sign_max(&[f32::NAN, 5e-7, -0.0]);
        assert_eq!(t.trits, vec![-1, 0, 0]);
        assert_eq!(t.scale, 5e-7);
        let t = sign_max(&[]);
        assert!(t.trits.is_empty());
        assert_eq!(t.scale, 0.0);
        // The scale is stored as f32 exactly (it is one of the inputs).
        let w = [0.1f32, -0.3, 0.2];
        assert_eq!(sign_max(&w).scale.to_bits(), 0.3f32.to_bits());
    }

    #[test]
    fn absmean_definition() {
        // mean |w| = (0.5 + 1.5 + 0.25 + 3.75 + 0 + 0) / 6 = 1.0.
        let w = [0.5f32, -1.5, 0.25, 3.75, 0.0, -0.0];
        let t = absmean(&w).unwrap();
        assert_eq!(t.scale, 1.0);
        // 0.5 -> 0 (half to even), -1.5 -> -2 -> -1, 0.25 -> 0, 3.75 -> 4 -> 1.
        assert_eq!(t.trits, vec![0, -1, 0, 1, 0, 0]);
        // Half to even both ways: 2.5/2.5... use scale 2: w/s = 0.5, 1.5, -0.5, -2.5.
        let w = [1.0f32, 3.0, -1.0, -5.0, 2.0, 2.0];
        let t = absmean(&w).unwrap();
        assert_eq!(t.scale, 14.0 / 6.0);
        let s = t.scale as f64;
        let want: Vec<i8> = w.iter().map(|&x| ((x as f64 / s).round_ties_even().clamp(-1.0, 1.0)) as i8).collect();
        assert_eq!(t.trits, want);
        let t = absmean(&[1.0, 3.0, -1.0, -3.0]).unwrap(); // s = 2: 0.5, 1.5, -0.5, -1.5
        assert_eq!(t.scale, 2.0);
        assert_eq!(t.trits, vec![0, 1, 0, -1]);
        // Already-ternary weights (±a, 0) with a = mean|w| come back exactly.
        let w = [0.75f32, -0.75, 0.75, -0.75];
        let t = absmean(&w).unwrap();
        assert_eq!(t.scale, 0.75);
        assert_eq!(t.to_f32().unwrap(), w.to_vec());
        // The 1e-5 clamp; all zero and empty inputs.
        let t = absmean(&[0.0; 8]).unwrap();
        assert_eq!((t.scale, t.trits), (1e-5, vec![0; 8]));
        let t = absmean(&[1e-7, -2e-5, 0.0, 0.0]).unwrap();
        assert_eq!(t.scale, 1e-5);
        assert_eq!(t.trits, vec![0, -1, 0, 0]);
        assert_eq!(absmean(&[]).unwrap().scale, 1e-5);
        // The f64 sum: many small values next to a big one are not absorbed as in f32.
        let mut w = vec![1.0f32; 1 << 20];
        w[0] = 1e8;
        let exact = (1e8f64 + ((1 << 20) - 1) as f64) / (1 << 20) as f64;
        assert_eq!(absmean(&w).unwrap().scale, exact as f32);
        // Non-finite inputs are rejected, naming the element.
        let e = absmean(&[0.0, 1.0, f32::NAN]).unwrap_err();
        assert_eq!(e.status(), Status::InvalidParameter);
        assert!(e.message().contains("element 2"), "{e}");
        assert!(absmean(&[f32::INFINITY]).is_err());
        assert_eq!(Ternarizer::Absmean.ternarize(&[0.75, -0.75]).unwrap().trits, vec![1, -1]);
        assert_eq!(Ternarizer::SignMax.ternarize(&[0.1, -0.7]).unwrap().scale, 0.7);
    }

    #[test]
    fn ternary_values_and_validation() {
        let t = Ternary::new(vec![-1, 0, 1], 0.5).unwrap();
        assert_eq!(t.to_f32().unwrap(), vec![-0.5, 0.0, 0.5]);
        assert!(Ternary::new(vec![0, 2], 1.0).unwrap_err().message().contains("element 1"));
        let mut dst = [0.0f32; 2];
        assert!(t.dequantize_into(&mut dst).is_err());
        // Negative and non-finite scales multiply as the reference does.
        let t = Ternary { trits: vec![-1, 0, 1], scale: -2.0 };
        let v = t.to_f32().unwrap();
        assert_eq!(v, vec![2.0, 0.0, -2.0]);
        assert!(v[1].is_sign_negative(), "-2 * 0 = -0");
        let v = Ternary { trits: vec![0], scale: f32::INFINITY }.to_f32().unwrap();
        assert!(v[0].is_nan(), "inf * 0 = NaN, as in the reference");
    }
}
