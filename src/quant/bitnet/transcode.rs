//! Lossless transcoding between the ternary formats I2_S, TL1, TL2, TQ1_0 and TQ2_0
//! (shared/reference/bitnet-formats.md §6).
//!
//! Every format stores trits plus scales, and every reference dequantizer computes an element as
//! `trit * scale` in f32, so re-packing the same trits under the same scale reproduces every
//! value bit for bit. What can differ is the scale's granularity and precision:
//! - I2_S, TL1, TL2 carry one f32 per tensor; TQ1_0 / TQ2_0 one f16 `d` per 256-element block.
//! - Per tensor → per block: every block gets `d = f16(scale)`. If the f32 scale is not exactly
//!   an f16, that is an error unless [`TranscodeOptions::allow_lossy_scale`] is set, in which case
//!   the result says what was lost ([`ScaleLoss`]).
//! - Per block → per tensor: if every block has the same `d` (bit for bit), the trits are copied
//!   and `scale = d` (exact, NaN and infinities included). Otherwise, with finite `d`s, the
//!   tensor scale `s` is the `d` of the first block holding a nonzero value; blocks with
//!   `d == −s` get their trits negated, blocks whose values are all zero (`d == 0` or all trits
//!   0) become trits 0, and any other block is an error naming it. Values then compare equal
//!   (`==`); only the sign of a zero can change.
//! - Per block → per block (TQ1_0 ↔ TQ2_0): the `d`s are copied.
//!
//! TQ2_0 (66-byte blocks: `qs[64]`, `d` f16 LE): byte `qs[32h + m]`, bits `2l..2l+1`, holds
//! element `128h + 32l + m`, code `t + 1`, LSB first — the I2_S 128-block grouping with the four
//! fields of each byte in reverse order. TQ1_0 (54-byte blocks: `qs[48]`, `qh[4]`, `d`): base-3
//! packing, 5 trits per byte stored as `ceil(q * 256 / 243)` (§6). The TQ trits are read and
//! written here only for transcoding; their f32 decoders are in [`crate::quant::ternary`].

use super::i2s::{decode_i2s_trits, encode_i2s, i2s_nbytes, I2sLayout, TailFill};
use super::tl1::{decode_tl1_trits, encode_tl1, tl1_nbytes, tl1_validate};
use super::tl2::{decode_tl2_trits, encode_tl2, tl2_geometry};
use super::{check_src, check_trits, elements, invalid, Ternary, TlConfig};
use crate::error::Result;
use crate::quant::float::{f16_to_f32, f32_to_f16};

/// A ternary storage format, with the parameters its layout needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TernaryFormat {
    /// I2_S in the given layout.
    I2s(I2sLayout),
    /// TL1 with its tile parameters.
    Tl1(TlConfig),
    /// TL2 with its tile parameters.
    Tl2(TlConfig),
    /// ggml TQ1_0 (type 34).
    Tq1_0,
    /// ggml TQ2_0 (type 35).
    Tq2_0,
}

impl TernaryFormat {
    /// The format's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            TernaryFormat::I2s(I2sLayout::Group128) => "I2_S",
            TernaryFormat::I2s(I2sLayout::Group64) => "I2_S (GROUP_64)",
            TernaryFormat::Tl1(_) => "TL1",
            TernaryFormat::Tl2(_) => "TL2",
            TernaryFormat::Tq1_0 => "TQ1_0",
            TernaryFormat::Tq2_0 => "TQ2_0",
        }
    }

    /// The byte size of an `m x k` tensor in this format, checking the shape (and the tile
    /// parameters for TL1 / TL2).
    pub fn nbytes(&self, m: usize, k: usize) -> Result<usize> {
        let n = elements(m, k)?;
        match self {
            TernaryFormat::I2s(layout) => i2s_nbytes(n, *layout),
            TernaryFormat::Tl1(cfg) => {
                tl1_validate(m, k, cfg)?;
                tl1_nbytes(m, k)
            }
            TernaryFormat::Tl2(cfg) => Ok(tl2_geometry(m, k, cfg)?.nbytes),
            TernaryFormat::Tq1_0 => Ok(tq_blocks(n, "TQ1_0")? * TQ1_BYTES),
            TernaryFormat::Tq2_0 => Ok(tq_blocks(n, "TQ2_0")? * TQ2_BYTES),
        }
    }

    fn per_block(&self) -> bool {
        matches!(self, TernaryFormat::Tq1_0 | TernaryFormat::Tq2_0)
    }
}

/// Options of [`transcode`] and [`encode_ternary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TranscodeOptions {
    /// Accept a per-tensor f32 scale that f16 cannot represent exactly when writing TQ1_0 /
    /// TQ2_0 (the nearest f16 is stored and reported in [`Transcoded::scale_loss`]).
    pub allow_lossy_scale: bool,
    /// What I2_S output writes into `tail[4..32]`.
    pub tail: TailFill,
}

/// A per-tensor scale that had to be rounded to f16.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleLoss {
    /// The f32 scale of the input.
    pub original: f32,
    /// The f16 value stored instead (as f32).
    pub stored: f32,
}

impl ScaleLoss {
    /// `|stored − original|`: the largest change of any element's magnitude per unit trit.
    pub fn abs_error(&self) -> f64 {
        (self.stored as f64 - self.original as f64).abs()
    }

    /// `|stored − original| / |original|`: the relative change of every nonzero element.
    pub fn rel_error(&self) -> f64 {
        self.abs_error() / (self.original as f64).abs()
    }
}

/// The result of [`transcode`] / [`encode_ternary`].
#[derive(Debug, Clone, PartialEq)]
pub struct Transcoded {
    /// The tensor's bytes in the target format.
    pub bytes: Vec<u8>,
    /// `Some` when the scale was rounded to f16 (only with `allow_lossy_scale`); `None` when
    /// every value is preserved.
    pub scale_loss: Option<ScaleLoss>,
}

const QK: usize = 256;
const TQ2_BYTES: usize = 66;
const TQ1_BYTES: usize = 54;

fn tq_blocks(n: usize, name: &str) -> Result<usize> {
    if !n.is_multiple_of(QK) {
        return Err(invalid(format!(
            "{n} elements are not a whole number of 256-element {name} blocks (n % 256 = {})",
            n % QK
        )));
    }
    Ok(n / QK)
}

/// Trits plus scales, per tensor or per 256-element block (f16 bits).
enum Scales {
    Tensor(f32),
    Blocks(Vec<u16>),
}

struct Decoded {
    trits: Vec<i8>,
    scales: Scales,
    /// Bytes per block of the source, for error messages about a block's `d`.
    block_bytes: usize,
}

fn decode_any(src: &[u8], m: usize, k: usize, from: TernaryFormat) -> Result<Decoded> {
    let n = elements(m, k)?;
    let tensor = |t: Ternary| Decoded { trits: t.trits, scales: Scales::Tensor(t.scale), block_bytes: 0 };
    Ok(match from {
        TernaryFormat::I2s(layout) => tensor(decode_i2s_trits(src, n, layout)?),
        TernaryFormat::Tl1(cfg) => tensor(decode_tl1_trits(src, m, k, &cfg)?),
        TernaryFormat::Tl2(cfg) => tensor(decode_tl2_trits(src, m, k, &cfg)?),
        TernaryFormat::Tq2_0 => {
            let (trits, d) = tq2_0_trits(src, n)?;
            Decoded { trits, scales: Scales::Blocks(d), block_bytes: TQ2_BYTES }
        }
        TernaryFormat::Tq1_0 => {
            let (trits, d) = tq1_0_trits(src, n)?;
            Decoded { trits, scales: Scales::Blocks(d), block_bytes: TQ1_BYTES }
        }
    })
}

/// One per-tensor scale for per-block scales, adjusting trits (see the module docs).
fn unify(trits: &mut [i8], d: &[u16], block_bytes: usize, name: &str) -> Result<f32> {
    let Some(&d0) = d.first() else {
        return Ok(0.0);
    };
    if d.iter().all(|&x| x == d0) {
        return Ok(f16_to_f32(d0));
    }
    let at = |b: usize| b * block_bytes + block_bytes - 2;
    if let Some(b) = d.iter().position(|&x| !f16_to_f32(x).is_finite()) {
        return Err(invalid(format!(
            "{name} block {b} has the non-finite scale d = {} (byte {}) while other blocks differ: \
             one per-tensor scale cannot reproduce its values",
            f16_to_f32(d[b]),
            at(b)
        )));
    }
    let nonzero =
        |b: usize, trits: &[i8]| f16_to_f32(d[b]) != 0.0 && trits[b * QK..(b + 1) * QK].iter().any(|&t| t != 0);
    let reference = (0..d.len()).find(|&b| nonzero(b, trits));
    let Some(r) = reference else {
        trits.fill(0);
        return Ok(f16_to_f32(d0));
    };
    let s = f16_to_f32(d[r]);
    for (b, &db) in d.iter().enumerate() {
        let block = &mut trits[b * QK..(b + 1) * QK];
        let v = f16_to_f32(db);
        if db == d[r] {
            continue;
        }
        if v == -s {
            block.iter_mut().for_each(|t| *t = -*t);
        } else if v == 0.0 || block.iter().all(|&t| t == 0) {
            block.fill(0);
        } else {
            return Err(invalid(format!(
                "{name} block {b} has the scale d = {v} (byte {}), block {r} has {s}: the values need more than \
                 one per-tensor scale, so they cannot be stored losslessly in a per-tensor format",
                at(b)
            )));
        }
    }
    Ok(s)
}

/// The f16 of a per-tensor scale, exact or (if allowed) rounded and reported.
fn f16_scale(scale: f32, to: &str, allow_lossy: bool) -> Result<(u16, Option<ScaleLoss>)> {
    let h = f32_to_f16(scale);
    let stored = f16_to_f32(h);
    if stored.to_bits() == scale.to_bits() {
        return Ok((h, None));
    }
    let loss = ScaleLoss { original: scale, stored };
    if !allow_lossy {
        return Err(invalid(format!(
            "the per-tensor scale {scale:e} is not exactly representable as the f16 block scale of {to} \
             (nearest f16: {stored:e}, relative error {:.3e}); set allow_lossy_scale to accept that",
            loss.rel_error()
        )));
    }
    Ok((h, Some(loss)))
}

fn encode_any(
    trits: &[i8],
    scales: &Scales,
    m: usize,
    k: usize,
    to: TernaryFormat,
    opts: &TranscodeOptions,
) -> Result<Transcoded> {
    let n = elements(m, k)?;
    if trits.len() != n {
        return Err(invalid(format!("{} trits given for an {m} x {k} tensor", trits.len())));
    }
    to.nbytes(m, k)?;
    let mut scale_loss = None;
    let bytes = match (scales, to) {
        // TQ -> TQ: the block scales are copied.
        (Scales::Blocks(d), TernaryFormat::Tq1_0) => tq1_0_pack(trits, d),
        (Scales::Blocks(d), TernaryFormat::Tq2_0) => tq2_0_pack(trits, d),
        (Scales::Blocks(_), _) => {
            return Err(invalid(format!("per-block scales must be unified before writing {}", to.name())))
        }
        (Scales::Tensor(scale), TernaryFormat::Tq1_0 | TernaryFormat::Tq2_0) => {
            let (h, loss) = f16_scale(*scale, to.name(), opts.allow_lossy_scale)?;
            scale_loss = loss;
            let d = vec![h; n / QK];
            if to == TernaryFormat::Tq1_0 {
                tq1_0_pack(trits, &d)
            } else {
                tq2_0_pack(trits, &d)
            }
        }
        (Scales::Tensor(scale), TernaryFormat::I2s(layout)) => encode_i2s(trits, *scale, layout, opts.tail)?,
        (Scales::Tensor(scale), TernaryFormat::Tl1(cfg)) => encode_tl1(trits, *scale, m, k, &cfg)?,
        (Scales::Tensor(scale), TernaryFormat::Tl2(cfg)) => encode_tl2(trits, *scale, m, k, &cfg)?,
    };
    Ok(Transcoded { bytes, scale_loss })
}

/// Transcode an `m x k` ternary tensor (`m` rows = ggml ne1, `k` = ne0; for I2_S and TQ only
/// `m*k` matters) from one format to another, preserving every value (see the module docs for
/// the scale rules). Invalid codes in the source (I2_S / TQ2_0 code 3, TL indices out of range)
/// are errors naming their byte.
pub fn transcode(
    src: &[u8],
    m: usize,
    k: usize,
    from: TernaryFormat,
    to: TernaryFormat,
    opts: &TranscodeOptions,
) -> Result<Transcoded> {
    to.nbytes(m, k)?;
    let mut d = decode_any(src, m, k, from)?;
    if let Scales::Blocks(bs) = &d.scales {
        if !to.per_block() {
            let s = unify(&mut d.trits, bs, d.block_bytes, from.name())?;
            d.scales = Scales::Tensor(s);
        }
    }
    encode_any(&d.trits, &d.scales, m, k, to, opts)
}

/// Read any ternary format as trits and one per-tensor scale (TQ1_0 / TQ2_0 block scales are
/// unified as described in the module docs, or rejected).
pub fn decode_ternary(src: &[u8], m: usize, k: usize, from: TernaryFormat) -> Result<Ternary> {
    let mut d = decode_any(src, m, k, from)?;
    let scale = match &d.scales {
        Scales::Tensor(s) => *s,
        Scales::Blocks(bs) => unify(&mut d.trits, bs, d.block_bytes, from.name())?,
    };
    Ok(Ternary { trits: d.trits, scale })
}

/// Write a ternary tensor in any format (TQ1_0 / TQ2_0: every block gets `d = f16(scale)`,
/// exact or reported as [`ScaleLoss`] under `allow_lossy_scale`).
pub fn encode_ternary(
    t: &Ternary,
    m: usize,
    k: usize,
    to: TernaryFormat,
    opts: &TranscodeOptions,
) -> Result<Transcoded> {
    check_trits(&t.trits)?;
    encode_any(&t.trits, &Scales::Tensor(t.scale), m, k, to, opts)
}

/// TQ2_0 trits and block scales (f16 bits); code 3 is an error naming the element and byte.
fn tq2_0_trits(src: &[u8], n: usize) -> Result<(Vec<i8>, Vec<u16>)> {
    let nb = tq_blocks(n, "TQ2_0")?;
    check_src(&format!("an {n}-element TQ2_0 tensor"), src.len(), nb * TQ2_BYTES)?;
    for (b, blk) in src.chunks_exact(TQ2_BYTES).enumerate() {
        for (i, &byte) in blk[..64].iter().enumerate() {
            if byte & (byte >> 1) & 0x55 != 0 {
                let l = (0..4).find(|l| (byte >> (2 * l)) & 3 == 3).unwrap_or(0);
                let e = b * QK + 128 * (i / 32) + 32 * l + i % 32;
                return Err(invalid(format!(
                    "element {e} at byte {} has the TQ2_0 code 3, which is not ternary (byte {byte:#04x})",
                    b * TQ2_BYTES + i
                )));
            }
        }
    }
    let mut trits = vec![0i8; n];
    let mut d = Vec::with_capacity(nb);
    for (b, blk) in src.chunks_exact(TQ2_BYTES).enumerate() {
        let out = &mut trits[b * QK..(b + 1) * QK];
        for (i, &byte) in blk[..64].iter().enumerate() {
            let base = 128 * (i / 32) + i % 32;
            for l in 0..4 {
                out[base + 32 * l] = ((byte >> (2 * l)) & 3) as i8 - 1;
            }
        }
        d.push(u16::from_le_bytes([blk[64], blk[65]]));
    }
    Ok((trits, d))
}

/// TQ2_0 bytes of trits (validated) and block scales.
fn tq2_0_pack(trits: &[i8], d: &[u16]) -> Vec<u8> {
    let mut out = vec![0u8; d.len() * TQ2_BYTES];
    for ((blk, t), &db) in out.chunks_exact_mut(TQ2_BYTES).zip(trits.chunks_exact(QK)).zip(d) {
        for (i, q) in blk[..64].iter_mut().enumerate() {
            let base = 128 * (i / 32) + i % 32;
            *q = (0..4).fold(0u8, |acc, l| acc | (((t[base + 32 * l] + 1) as u8) << (2 * l)));
        }
        blk[64..].copy_from_slice(&db.to_le_bytes());
    }
    out
}

/// Trit `n` (0 = most significant) of a TQ1_0 byte: `((u8)(b * 3^n) * 3) >> 8`, as ggml's
/// `dequantize_row_tq1_0`.
#[inline]
fn tq1_trit(b: u8, n: u32) -> i8 {
    let x = b.wrapping_mul(3u8.pow(n));
    ((x as u16 * 3) >> 8) as i8 - 1
}

/// A TQ1_0 byte of base-3 digits `xi` (most significant first, each `t + 1`), padded to 5
/// digits: `ceil(q * 256 / 243)` (`quantize_row_tq1_0_ref`).
#[inline]
fn tq1_byte(t: impl Iterator<Item = i8>, digits: u32) -> u8 {
    let mut q = t.fold(0u16, |q, t| q * 3 + (t + 1) as u16);
    q *= 3u16.pow(5 - digits);
    (q * 256).div_ceil(243) as u8
}

/// The element each TQ1_0 trit feeds, in decode order: `(byte index, trit n, element)`.
fn tq1_map() -> impl Iterator<Item = (usize, u32, usize)> {
    let a = (0..5u32).flat_map(|n| (0..32).map(move |m| (m, n, m + 32 * n as usize)));
    let b = (0..5u32).flat_map(|n| (0..16).map(move |m| (32 + m, n, 160 + 16 * n as usize + m)));
    let c = (0..4u32).flat_map(|n| (0..4).map(move |j| (48 + j, n, 240 + 4 * n as usize + j)));
    a.chain(b).chain(c)
}

/// TQ1_0 trits and block scales. Every byte decodes to valid trits (ggml's arithmetic).
fn tq1_0_trits(src: &[u8], n: usize) -> Result<(Vec<i8>, Vec<u16>)> {
    let nb = tq_blocks(n, "TQ1_0")?;
    check_src(&format!("an {n}-element TQ1_0 tensor"), src.len(), nb * TQ1_BYTES)?;
    let mut trits = vec![0i8; n];
    let mut d = Vec::with_capacity(nb);
    for (b, blk) in src.chunks_exact(TQ1_BYTES).enumerate() {
        let out = &mut trits[b * QK..(b + 1) * QK];
        for (byte, tn, e) in tq1_map() {
            out[e] = tq1_trit(blk[byte], tn);
        }
        d.push(u16::from_le_bytes([blk[52], blk[53]]));
    }
    Ok((trits, d))
}

/// TQ1_0 bytes of trits (validated) and block scales.
fn tq1_0_pack(trits: &[i8], d: &[u16]) -> Vec<u8> {
    let mut out = vec![0u8; d.len() * TQ1_BYTES];
    for ((blk, t), &db) in out.chunks_exact_mut(TQ1_BYTES).zip(trits.chunks_exact(QK)).zip(d) {
        for m in 0..32 {
            blk[m] = tq1_byte((0..5).map(|n| t[m + 32 * n]), 5);
        }
        for m in 0..16 {
            blk[32 + m] = tq1_byte((0..5).map(|n| t[160 + m + 16 * n]), 5);
        }
        for j in 0..4 {
            blk[48 + j] = tq1_byte((0..4).map(|n| t[240 + j + 4 * n]), 4);
        }
        blk[52..].copy_from_slice(&db.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{decode_i2s_layout, decode_tl1, decode_tl2};
    use super::*;
    use crate::error::Status;

    const G128: TernaryFormat = TernaryFormat::I2s(I2sLayout::Group128);
    const G64: TernaryFormat = TernaryFormat::I2s(I2sLayout::Group64);
    const EXACT: TranscodeOptions = TranscodeOptions { allow_lossy_scale: false, tail: TailFill::Zero };
    const LOSSY: TranscodeOptions = TranscodeOptions { allow_lossy_scale: true, tail: TailFill::Zero };

    /// f32 values of any format, computed as each reference dequantizer does.
    fn values(src: &[u8], m: usize, k: usize, fmt: TernaryFormat) -> Vec<f32> {
        let n = m * k;
        let mut out = vec![0.0f32; n];
        match fmt {
            TernaryFormat::I2s(layout) => decode_i2s_layout(src, n, layout, &mut out).unwrap(),
            TernaryFormat::Tl1(cfg) => decode_tl1(src, m, k, &cfg, &mut out).unwrap(),
            TernaryFormat::Tl2(cfg) => decode_tl2(src, m, k, &cfg, &mut out).unwrap(),
            TernaryFormat::Tq1_0 | TernaryFormat::Tq2_0 => {
                let (t, d) =
                    if fmt == TernaryFormat::Tq1_0 { tq1_0_trits(src, n) } else { tq2_0_trits(src, n) }.unwrap();
                for (e, o) in out.iter_mut().enumerate() {
                    // ggml: (float)(q - 1) * d
                    *o = t[e] as f32 * f16_to_f32(d[e / QK]);
                }
            }
        }
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// ggml's `quantize_row_tq2_0_ref`: per-block absmax d, `xi = lroundf(x * (1/d)) + 1`.
    fn tq2_0_quantize_ref(x: &[f32]) -> Vec<u8> {
        let mut out = vec![];
        for blk in x.chunks_exact(QK) {
            let amax = blk.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
            let id = if amax != 0.0 { 1.0 / amax } else { 0.0 };
            let t: Vec<i8> = blk.iter().map(|&v| (v * id).round() as i8).collect();
            out.extend(tq2_0_pack(&t, &[f32_to_f16(amax)]));
        }
        out
    }

    fn whole_tensor_i2s() -> (Vec<i8>, Vec<u8>) {
        let mut t: Vec<i8> = (0..128).map(|j| [1, 0, -1, 1][j / 32]).collect();
        t.extend((0..128).map(|j| (j % 3) as i8 - 1));
        let bytes = encode_i2s(&t, 0.0123, I2sLayout::Group128, TailFill::Zero).unwrap();
        (t, bytes)
    }

    fn reverse_fields(b: u8) -> u8 {
        (b >> 6) | ((b >> 2) & 0x0c) | ((b << 2) & 0x30) | (b << 6)
    }

    #[test]
    fn vector_9_2_tq2_0_view() {
        let (_, i2s) = whole_tensor_i2s();
        // 0.0123 is not an f16: refused unless lossy scales are allowed.
        let e = transcode(&i2s, 2, 128, G128, TernaryFormat::Tq2_0, &EXACT).unwrap_err();
        assert_eq!(e.status(), Status::InvalidParameter);
        assert!(e.message().contains("not exactly representable"), "{e}");
        let r = transcode(&i2s, 2, 128, G128, TernaryFormat::Tq2_0, &LOSSY).unwrap();
        let mut want = vec![0x86u8; 32];
        want.extend((0..32).map(|p| [0x18u8, 0x61, 0x86][p % 3]));
        want.extend([0x4c, 0x22]);
        assert_eq!(r.bytes, want);
        let loss = r.scale_loss.unwrap();
        assert_eq!(loss.original, 0.0123f32);
        assert_eq!(loss.stored as f64, 0.012298583984375);
        assert!((loss.rel_error() - 1.15e-4).abs() < 1e-5, "{}", loss.rel_error());
        // Bit-pair reversal of every I2_S byte.
        assert_eq!(reverse_fields(0x92), 0x86);
        for (&tq, &i2) in r.bytes[..64].iter().zip(&i2s[..64]) {
            assert_eq!(tq, reverse_fields(i2));
        }
        // Equal to a direct TQ2_0 quantization of the same values.
        assert_eq!(tq2_0_quantize_ref(&values(&i2s, 2, 128, G128)), r.bytes);
        // And back: the same trits under the f16 scale.
        let back = transcode(&r.bytes, 2, 128, TernaryFormat::Tq2_0, G128, &EXACT).unwrap();
        assert_eq!(&back.bytes[..64], &i2s[..64]);
        assert_eq!(&back.bytes[64..68], &f16_to_f32(0x224c).to_le_bytes());
        assert_eq!(back.scale_loss, None);
    }

    #[test]
    fn vector_9_3_tq1_0() {
        // All-(+1) block, d = 1.0.
        let t = Ternary { trits: vec![1; 256], scale: 1.0 };
        let r = encode_ternary(&t, 1, 256, TernaryFormat::Tq1_0, &EXACT).unwrap();
        let mut want = vec![0xffu8; 48];
        want.extend([0xfd; 4]);
        want.extend([0x00, 0x3c]);
        assert_eq!(r.bytes, want);
        assert_eq!(r.scale_loss, None);
        assert_eq!(decode_ternary(&r.bytes, 1, 256, TernaryFormat::Tq1_0).unwrap(), t);
        // Single byte: trits (+1, 0, -1, +1, +1) -> q = 197 -> 0xD0.
        assert_eq!(tq1_byte([1i8, 0, -1, 1, 1].into_iter(), 5), 0xd0);
        let got: Vec<i8> = (0..5).map(|n| tq1_trit(0xd0, n)).collect();
        assert_eq!(got, vec![1, 0, -1, 1, 1]);
        // Those trits at elements 0, 32, 64, 96, 128 land in qs[0].
        let mut trits = vec![0i8; 256];
        for (n, &v) in [1i8, 0, -1, 1, 1].iter().enumerate() {
            trits[32 * n] = v;
        }
        let r = encode_ternary(&Ternary { trits, scale: 1.0 }, 1, 256, TernaryFormat::Tq1_0, &EXACT).unwrap();
        assert_eq!(r.bytes[0], 0xd0);
        // Every 5-trit and 4-trit group survives the ceil(q*256/243) scaling.
        for q in 0..243u16 {
            let digits: Vec<i8> = (0..5).rev().map(|i| ((q / 3u16.pow(i)) % 3) as i8 - 1).collect();
            let b = tq1_byte(digits.iter().copied(), 5);
            assert_eq!((0..5).map(|n| tq1_trit(b, n)).collect::<Vec<_>>(), digits, "q = {q}");
            if q < 81 {
                let b = tq1_byte(digits[1..].iter().copied(), 4);
                assert_eq!((0..4).map(|n| tq1_trit(b, n)).collect::<Vec<_>>(), &digits[1..]);
            }
        }
        // The decode map covers each of the 256 elements once.
        let mut seen = [0u8; 256];
        tq1_map().for_each(|(_, _, e)| seen[e] += 1);
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn chain_i2s_tq2_i2s_tl1_tl2_i2s_is_value_exact() {
        let mut rng = Rng(2024);
        let shapes = [
            (64, 320, TlConfig { bm_tile: 64, bk: 64, bm: 32 }, TlConfig { bm_tile: 64, bk: 96, bm: 32 }),
            (32, 80, TlConfig { bm_tile: 32, bk: 16, bm: 32 }, TlConfig { bm_tile: 32, bk: 48, bm: 32 }),
            (128, 384, TlConfig { bm_tile: 128, bk: 128, bm: 64 }, TlConfig { bm_tile: 64, bk: 192, bm: 32 }),
        ];
        for (m, k, c1, c2) in shapes {
            for layout in [I2sLayout::Group128, I2sLayout::Group64] {
                let t = rng.trits(m * k);
                // A scale f16 can hold exactly, so the TQ2_0 hop is lossless too.
                let scale = f16_to_f32(0x2000 + rng.below(0x3000) as u16);
                let start = encode_i2s(&t, scale, layout, TailFill::Zero).unwrap();
                let want = bits(&Ternary { trits: t.clone(), scale }.to_f32().unwrap());
                let i2s = TernaryFormat::I2s(layout);
                let chain = [
                    TernaryFormat::Tq2_0,
                    i2s,
                    TernaryFormat::Tl1(c1),
                    TernaryFormat::Tl2(c2),
                    TernaryFormat::Tq1_0,
                    i2s,
                ];
                let (mut cur, mut fmt) = (start.clone(), i2s);
                for next in chain {
                    let r = transcode(&cur, m, k, fmt, next, &EXACT).unwrap();
                    assert_eq!(r.scale_loss, None);
                    assert_eq!(r.bytes.len(), next.nbytes(m, k).unwrap());
                    assert_eq!(bits(&values(&r.bytes, m, k, next)), want, "{} -> {}", fmt.name(), next.name());
                    (cur, fmt) = (r.bytes, next);
                }
                assert_eq!(cur, start, "byte-exact after the full chain");
            }
        }
    }

    #[test]
    fn every_pair_of_formats_round_trips() {
        let mut rng = Rng(99);
        let (m, k) = (64, 320);
        let formats = [
            G128,
            G64,
            TernaryFormat::Tl1(TlConfig { bm_tile: 64, bk: 32, bm: 64 }),
            TernaryFormat::Tl1(TlConfig { bm_tile: 64, bk: 320, bm: 32 }),
            TernaryFormat::Tl2(TlConfig { bm_tile: 32, bk: 96, bm: 32 }),
            TernaryFormat::Tl2(TlConfig { bm_tile: 64, bk: 144, bm: 32 }),
            TernaryFormat::Tq1_0,
            TernaryFormat::Tq2_0,
        ];
        for from in formats {
            for to in formats {
                let t = Ternary { trits: rng.trits(m * k), scale: -f16_to_f32(rng.below(0x7c00) as u16) };
                let src = encode_ternary(&t, m, k, from, &EXACT).unwrap().bytes;
                let r = transcode(&src, m, k, from, to, &EXACT).unwrap();
                assert_eq!(bits(&values(&r.bytes, m, k, to)), bits(&values(&src, m, k, from)), "{from:?} -> {to:?}");
                assert_eq!(decode_ternary(&r.bytes, m, k, to).unwrap(), t);
                let back = transcode(&r.bytes, m, k, to, from, &EXACT).unwrap();
                assert_eq!(back.bytes, src, "{from:?} -> {to:?} -> back");
            }
        }
    }

    #[test]
    fn lossy_scale_is_reported() {
        let t = Ternary { trits: [1, -1, 0, 1].repeat(64), scale: 0.1 };
        assert!(encode_ternary(&t, 1, 256, TernaryFormat::Tq1_0, &EXACT).is_err());
        let r = encode_ternary(&t, 1, 256, TernaryFormat::Tq1_0, &LOSSY).unwrap();
        let loss = r.scale_loss.unwrap();
        assert_eq!(loss.original, 0.1);
        assert_eq!(loss.stored, f16_to_f32(f32_to_f16(0.1)));
        assert!(loss.abs_error() > 0.0 && loss.rel_error() < 1e-3);
        let back = decode_ternary(&r.bytes, 1, 256, TernaryFormat::Tq1_0).unwrap();
        assert_eq!(back.trits, t.trits, "the trits are never lost");
        assert_eq!(back.scale, loss.stored);
        // Scales beyond f16's range round to infinity: still only with allow_lossy_scale.
        let big = Ternary { trits: vec![0; 256], scale: 1e6 };
        assert!(encode_ternary(&big, 1, 256, TernaryFormat::Tq2_0, &EXACT).is_err());
        assert_eq!(
            encode_ternary(&big, 1, 256, TernaryFormat::Tq2_0, &LOSSY).unwrap().scale_loss.unwrap().stored,
            f32::INFINITY
        );
    }

    /// A TQ2_0 tensor of 4 blocks with the given f16 scales and trits.
    fn tq2(trits: &[i8], d: &[u16]) -> Vec<u8> {
        tq2_0_pack(trits, d)
    }

    #[test]
    fn block_scales_unify_or_fail() {
        let mut rng = Rng(5);
        let s = 0x2e66u16; // 0.1 as f16
        let neg = s | 0x8000;
        let mut trits = rng.trits(1024);
        trits[512..768].fill(0); // block 2: all zero
        let d = [s, neg, 0x4400, 0x0000];
        let src = tq2(&trits, &d);
        let want = values(&src, 4, 256, TernaryFormat::Tq2_0);
        let r = transcode(&src, 4, 256, TernaryFormat::Tq2_0, G128, &EXACT).unwrap();
        let got = values(&r.bytes, 4, 256, G128);
        assert_eq!(got, want, "values compare equal (the sign of a zero may change)");
        let t = decode_i2s_trits(&r.bytes, 1024, I2sLayout::Group128).unwrap();
        assert_eq!(t.scale, f16_to_f32(s));
        assert_eq!(&t.trits[..256], &trits[..256]);
        assert!(t.trits[256..512].iter().zip(&trits[256..512]).all(|(a, b)| *a == -*b), "block 1 negated");
        assert!(t.trits[512..].iter().all(|&x| x == 0), "blocks 2 (all zero) and 3 (d = 0) zeroed");
        // The reference block is the first with a nonzero value: here block 1.
        let d = [0x0000, neg, s, s];
        let src = tq2(&trits, &d);
        let t = decode_ternary(&src, 4, 256, TernaryFormat::Tq2_0).unwrap();
        assert_eq!(t.scale, -f16_to_f32(s));
        assert_eq!(
            values(&encode_i2s(&t.trits, t.scale, I2sLayout::Group128, TailFill::Zero).unwrap(), 4, 256, G128),
            values(&src, 4, 256, TernaryFormat::Tq2_0)
        );
        // A block with another magnitude cannot share one scale: error naming block and byte.
        let d = [s, s, s, 0x3c00];
        let mut tr = trits.clone();
        tr[800] = 1;
        let e = transcode(&tq2(&tr, &d), 4, 256, TernaryFormat::Tq2_0, G128, &EXACT).unwrap_err();
        assert_eq!(e.status(), Status::InvalidParameter);
        assert!(e.message().contains("TQ2_0 block 3 has the scale d = 1 (byte 262)"), "{e}");
        // TQ -> TQ keeps per-block scales, even differing ones, bit for bit.
        let r = transcode(&tq2(&tr, &d), 4, 256, TernaryFormat::Tq2_0, TernaryFormat::Tq1_0, &EXACT).unwrap();
        assert_eq!(
            bits(&values(&r.bytes, 4, 256, TernaryFormat::Tq1_0)),
            bits(&values(&tq2(&tr, &d), 4, 256, TernaryFormat::Tq2_0))
        );
        // Identical non-finite scales are copied (same formula, same NaNs / infinities).
        let d = [0x7c00u16; 4];
        let src = tq2(&tr, &d);
        let r = transcode(&src, 4, 256, TernaryFormat::Tq2_0, G128, &EXACT).unwrap();
        assert_eq!(bits(&values(&r.bytes, 4, 256, G128)), bits(&values(&src, 4, 256, TernaryFormat::Tq2_0)));
        // Differing ones with a non-finite among them are refused.
        let d = [s, s, 0x7e00, s];
        let e = transcode(&tq2(&tr, &d), 4, 256, TernaryFormat::Tq2_0, G128, &EXACT).unwrap_err();
        assert!(e.message().contains("block 2 has the non-finite scale"), "{e}");
        // All blocks zero with differing scales: trits 0, scale of block 0.
        let z = vec![0i8; 512];
        let t = decode_ternary(&tq2(&z, &[s, 0x3c00]), 2, 256, TernaryFormat::Tq2_0).unwrap();
        assert_eq!((t.trits, t.scale), (z, f16_to_f32(s)));
    }

    #[test]
    fn invalid_sources_name_the_byte() {
        let mut src = tq2(&vec![0; 512], &[0x3c00, 0x3c00]);
        // Block 1, byte 40 (h = 1, m = 8), field l = 2 -> element 256 + 128 + 64 + 8 = 456.
        src[66 + 40] |= 0b0011_0000;
        let e = transcode(&src, 2, 256, TernaryFormat::Tq2_0, G128, &EXACT).unwrap_err();
        assert!(e.message().contains("element 456 at byte 106 has the TQ2_0 code 3"), "{e}");
        let (_, mut i2s) = whole_tensor_i2s();
        i2s[3] = 0xff;
        let e = transcode(&i2s, 2, 128, G128, TernaryFormat::Tq2_0, &LOSSY).unwrap_err();
        assert!(e.message().contains("element 3 at byte 3 has the invalid I2_S code 3"), "{e}");
        // Shapes: TQ needs whole 256-element blocks; lengths must match.
        let i2s = encode_i2s(&[0; 384], 1.0, I2sLayout::Group128, TailFill::Zero).unwrap();
        let e = transcode(&i2s, 3, 128, G128, TernaryFormat::Tq2_0, &EXACT).unwrap_err();
        assert!(e.message().contains("256-element TQ2_0 blocks"), "{e}");
        assert!(transcode(&i2s[1..], 3, 128, G128, G64, &EXACT).is_err());
        assert!(transcode(&[0u8; 53], 1, 256, TernaryFormat::Tq1_0, G128, &EXACT).is_err());
        let bad_tl1 = TernaryFormat::Tl1(TlConfig { bm_tile: 3, bk: 16, bm: 32 });
        assert!(transcode(&i2s, 3, 128, G128, bad_tl1, &EXACT).is_err());
        assert!(bad_tl1.nbytes(3, 128).is_err());
        assert!(encode_ternary(&Ternary { trits: vec![0; 10], scale: 1.0 }, 1, 256, G128, &EXACT).is_err());
        assert!(
            encode_ternary(&Ternary { trits: vec![2; 256], scale: 1.0 }, 1, 256, TernaryFormat::Tq2_0, &EXACT).is_err()
        );
    }

    #[test]
    fn i2s_tail_fill_is_an_option() {
        let t = Ternary { trits: vec![1; 256], scale: 0.5 };
        let opts = TranscodeOptions { allow_lossy_scale: false, tail: TailFill::Replicate };
        let r = encode_ternary(&t, 1, 256, G128, &opts).unwrap();
        assert!(r.bytes[64..].chunks_exact(4).all(|c| c == 0.5f32.to_le_bytes()));
    }
}
