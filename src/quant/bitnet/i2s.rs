//! I2_S: 2-bit ternary codes with one f32 per-tensor scale in a 32-byte tail
//! (shared/reference/bitnet-formats.md §3).
//!
//! Canonical layout ([`I2sLayout::Group128`], §3.3): the flattened tensor is cut into 128-element
//! blocks of 32 bytes; byte `p` of a block holds elements `p, p+32, p+64, p+96` in bits 7-6, 5-4,
//! 3-2, 1-0 (MSB first); the code is `t + 1` (0 → −1, 1 → 0, 2 → +1; 3 is invalid). After the
//! `n/4` payload bytes comes the tail: the f32 LE scale at `tail[0..4]`, `tail[4..32]` undefined
//! (ignored on read). The ARM "GROUP_64" flavour (§3.8 item 2, bitnet.cpp `quantize_i2_s` under
//! `__ARM_NEON` since `112f853`) uses 64-element blocks of 16 bytes, byte `p` holding elements
//! `p, p+16, p+32, p+48`. The two cannot be told apart from the bytes, so the layout is always an
//! explicit argument.

use super::{
    byte_at, check_dst, check_src, check_trits, invalid, read_f32, scale_record, value_lut, Ternarizer, Ternary,
};
use crate::error::{Error, Result, Status};

/// The I2_S byte layout (bitnet-formats.md §3.8). Never guessed: the caller says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum I2sLayout {
    /// Canonical x86 layout: 128-element blocks of 32 bytes, byte `p` = elements
    /// `p, p+32, p+64, p+96`. The published files and every converter use it.
    #[default]
    Group128,
    /// ARM layout of bitnet.cpp since 2025-11: 64-element blocks of 16 bytes, byte `p` =
    /// elements `p, p+16, p+32, p+48`.
    Group64,
}

impl I2sLayout {
    /// Elements per block (128 or 64); `n` must be a multiple of it.
    pub const fn block_elems(self) -> usize {
        4 * self.group()
    }

    /// Bytes per block, which is also the element stride between the four fields of a byte.
    pub const fn group(self) -> usize {
        match self {
            I2sLayout::Group128 => 32,
            I2sLayout::Group64 => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            I2sLayout::Group128 => "I2_S",
            I2sLayout::Group64 => "I2_S (GROUP_64)",
        }
    }
}

/// What an encoder writes into `tail[4..32]` (bitnet-formats.md §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TailFill {
    /// Zeros, as the Python converters (`quantize_to_i2_s`) and the hidden TL scale record.
    #[default]
    Zero,
    /// The scale repeated 8 times, as reported for the official microsoft/bitnet-b1.58-2B-4T file.
    Replicate,
}

/// Bytes of the tail after the payload.
pub const I2S_TAIL_BYTES: usize = 32;

/// Bytes of an `n`-element I2_S tensor: `n/4 + 32` (ggml_nbytes). `n` must be a whole number of
/// blocks of the layout (128, or 64 for [`I2sLayout::Group64`]); bitnet.cpp's kernels silently
/// drop a remainder, so it is rejected here (§3.11 A5).
pub fn i2s_nbytes(n: usize, layout: I2sLayout) -> Result<usize> {
    let b = layout.block_elems();
    if !n.is_multiple_of(b) {
        return Err(invalid(format!(
            "{n} elements are not a whole number of {b}-element {} blocks (n % {b} = {})",
            layout.name(),
            n % b
        )));
    }
    Ok(n / 4 + I2S_TAIL_BYTES)
}

/// The per-tensor scale: the f32 LE at byte `n/4` (`tail[0..4]`).
pub fn i2s_scale(src: &[u8], n: usize, layout: I2sLayout) -> Result<f32> {
    let need = i2s_nbytes(n, layout)?;
    check_src(&format!("an {n}-element {} tensor", layout.name()), src.len(), need)?;
    Ok(read_f32(src, n / 4))
}

/// Whether a byte holds code 3 in any of its four fields.
#[inline]
fn has_code3(b: u8) -> bool {
    b & (b >> 1) & 0x55 != 0
}

/// Check that no code of `payload` is 3 (`first_byte`: the payload's offset in the tensor;
/// `file_base`: the tensor's offset in its file, if known; both for the message).
pub(crate) fn check_codes(payload: &[u8], first_byte: usize, layout: I2sLayout, file_base: Option<u64>) -> Result<()> {
    let g = layout.group();
    if let Some(i) = payload.iter().position(|&b| has_code3(b)) {
        let (b, at) = (payload[i], first_byte + i);
        let field = (0..4).find(|j| (b >> (6 - 2 * j)) & 3 == 3).unwrap_or(0);
        let e = (at / g) * 4 * g + field * g + at % g;
        return Err(Error::new(
            Status::InvalidCode,
            format!(
                "element {e} at {} has the invalid I2_S code 3 (byte {b:#04x}; expected codes 0, 1, 2)",
                byte_at(at, file_base)
            ),
        ));
    }
    Ok(())
}

/// Check the length and that no code is 3; returns the scale.
fn validate(src: &[u8], n: usize, layout: I2sLayout) -> Result<f32> {
    let scale = i2s_scale(src, n, layout)?;
    check_codes(&src[..n / 4], 0, layout, None)?;
    Ok(scale)
}

/// Decode part of an I2_S payload with a known per-tensor scale (e.g. a range of rows, whose
/// blocks start at byte `first_byte` of the tensor): `payload.len() * 4 == dst.len()`, a whole
/// number of blocks of `layout`. Code 3 is an error naming the element and its byte.
pub fn decode_i2s_payload(
    payload: &[u8],
    first_byte: usize,
    scale: f32,
    layout: I2sLayout,
    dst: &mut [f32],
) -> Result<()> {
    decode_i2s_payload_at(payload, first_byte, scale, layout, None, dst)
}

/// [`decode_i2s_payload`], with the tensor's file offset for messages.
pub(crate) fn decode_i2s_payload_at(
    payload: &[u8],
    first_byte: usize,
    scale: f32,
    layout: I2sLayout,
    file_base: Option<u64>,
    dst: &mut [f32],
) -> Result<()> {
    check_dst(dst.len(), payload.len() * 4)?;
    if !payload.len().is_multiple_of(layout.group()) || !first_byte.is_multiple_of(layout.group()) {
        return Err(invalid(format!(
            "bytes {first_byte}..{} are not whole {} blocks",
            first_byte + payload.len(),
            layout.name()
        )));
    }
    check_codes(payload, first_byte, layout, file_base)?;
    let lut = value_lut(scale);
    for_each_code(payload, layout, |e, c| dst[e] = lut[c as usize]);
    Ok(())
}

/// Call `put(e, code)` for every element, byte by byte (the input was validated).
#[inline]
fn for_each_code(payload: &[u8], layout: I2sLayout, mut put: impl FnMut(usize, u8)) {
    let g = layout.group();
    for (blk, chunk) in payload.chunks_exact(g).enumerate() {
        let base = blk * 4 * g;
        for (p, &b) in chunk.iter().enumerate() {
            put(base + p, b >> 6);
            put(base + g + p, (b >> 4) & 3);
            put(base + 2 * g + p, (b >> 2) & 3);
            put(base + 3 * g + p, b & 3);
        }
    }
}

/// Decode a whole canonical ([`I2sLayout::Group128`]) I2_S tensor of `n` elements: `src` is
/// exactly `n/4 + 32` bytes, `dst` exactly `n` elements; `dst[e] = scale * (code_e - 1)`.
/// Code 3 is an error naming the element and its byte; `n % 128 != 0` is rejected.
pub fn decode_i2s(src: &[u8], n: usize, dst: &mut [f32]) -> Result<()> {
    decode_i2s_layout(src, n, I2sLayout::Group128, dst)
}

/// [`decode_i2s`] for an explicit layout.
pub fn decode_i2s_layout(src: &[u8], n: usize, layout: I2sLayout, dst: &mut [f32]) -> Result<()> {
    check_dst(dst.len(), n)?;
    let scale = i2s_scale(src, n, layout)?;
    decode_i2s_payload(&src[..n / 4], 0, scale, layout, dst)
}

/// Decode an I2_S tensor to its trits and scale.
pub fn decode_i2s_trits(src: &[u8], n: usize, layout: I2sLayout) -> Result<Ternary> {
    let scale = validate(src, n, layout)?;
    let mut trits = vec![0i8; n];
    for_each_code(&src[..n / 4], layout, |e, c| trits[e] = c as i8 - 1);
    Ok(Ternary { trits, scale })
}

/// Encode trits (flattened row-major, each −1, 0 or +1) and a per-tensor scale as I2_S:
/// `n/4` payload bytes in `layout`, then the scale and the tail fill. Never emits code 3.
pub fn encode_i2s(trits: &[i8], scale: f32, layout: I2sLayout, tail: TailFill) -> Result<Vec<u8>> {
    let n = trits.len();
    let mut out = vec![0u8; i2s_nbytes(n, layout)?];
    encode_i2s_payload(trits, layout, &mut out[..n / 4])?;
    out[n / 4..].copy_from_slice(&i2s_tail(scale, tail));
    Ok(out)
}

/// Encode whole blocks of trits as I2_S payload bytes (no tail): `dst.len() * 4 ==
/// trits.len()`, a whole number of blocks of `layout`. A range of rows of a tensor whose rows
/// are whole blocks encodes independently of the others (used to write big tensors in pieces).
pub fn encode_i2s_payload(trits: &[i8], layout: I2sLayout, dst: &mut [u8]) -> Result<()> {
    check_src("the I2_S payload for these trits", dst.len() * 4, trits.len())?;
    i2s_nbytes(trits.len(), layout)?;
    check_trits(trits)?;
    let g = layout.group();
    for (blk, chunk) in dst.chunks_exact_mut(g).enumerate() {
        let t = &trits[blk * 4 * g..(blk + 1) * 4 * g];
        for (p, b) in chunk.iter_mut().enumerate() {
            let c = |j: usize| (t[j * g + p] + 1) as u8;
            *b = c(0) << 6 | c(1) << 4 | c(2) << 2 | c(3);
        }
    }
    Ok(())
}

/// The 32-byte I2_S tail for a scale: the f32 LE scale, then zeros or 7 more copies.
pub fn i2s_tail(scale: f32, tail: TailFill) -> [u8; I2S_TAIL_BYTES] {
    scale_record(scale, tail == TailFill::Replicate)
}

/// Quantize f32 weights to I2_S: ternarize with `how` ([`super::sign_max`] reproduces
/// bitnet.cpp's `quantize_i2_s` byte for byte on tail[0..4] and the payload), then
/// [`encode_i2s`].
pub fn quantize_i2s(w: &[f32], how: Ternarizer, layout: I2sLayout, tail: TailFill) -> Result<Vec<u8>> {
    i2s_nbytes(w.len(), layout)?;
    let t = how.ternarize(w)?;
    encode_i2s(&t.trits, t.scale, layout, tail)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{sign_max, Ternary};
    use super::*;
    use crate::error::Status;

    /// §9.1 vector A: +1 ×32, 0 ×32, −1 ×32, +1 ×32.
    fn vector_a() -> Vec<i8> {
        (0..128).map(|j| [1, 0, -1, 1][j / 32]).collect()
    }

    /// §9.1 vector B: t[j] = (j mod 3) − 1.
    fn vector_b() -> Vec<i8> {
        (0..128).map(|j| (j % 3) as i8 - 1).collect()
    }

    /// The whole-tensor vector of §9.1: shape [128, 2], row 0 = A, row 1 = B, scale 0.0123.
    const WHOLE: &str = "
        92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92
        92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92
        24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24
        49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49
        f0 85 49 3c 00 00 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

    #[test]
    fn vector_a_and_b_blocks() {
        let a = encode_i2s(&vector_a(), 1.0, I2sLayout::Group128, TailFill::Zero).unwrap();
        assert_eq!(&a[..32], &[0x92; 32]);
        let b = encode_i2s(&vector_b(), 1.0, I2sLayout::Group128, TailFill::Zero).unwrap();
        assert_eq!(
            &b[..32],
            unhex("24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49")
        );
        for (p, &byte) in b[..32].iter().enumerate() {
            // Byte p holds codes (p%3, (p+2)%3, (p+1)%3, p%3).
            let c = [p % 3, (p + 2) % 3, (p + 1) % 3, p % 3].map(|x| x as u8);
            assert_eq!(byte, c[0] << 6 | c[1] << 4 | c[2] << 2 | c[3]);
        }
        assert_eq!(decode_i2s_trits(&a, 128, I2sLayout::Group128).unwrap().trits, vector_a());
        assert_eq!(decode_i2s_trits(&b, 128, I2sLayout::Group128).unwrap().trits, vector_b());
    }

    #[test]
    fn whole_tensor_vector() {
        let scale = 0.0123f32;
        assert_eq!(scale.to_le_bytes(), [0xf0, 0x85, 0x49, 0x3c]);
        assert_eq!(scale as f64, 0.012299999594688416);
        let mut t = vector_a();
        t.extend(vector_b());
        let want = unhex(WHOLE);
        assert_eq!(i2s_nbytes(256, I2sLayout::Group128).unwrap(), 96);
        let got = encode_i2s(&t, scale, I2sLayout::Group128, TailFill::Zero).unwrap();
        assert_eq!(got, want);
        let digest = hex(&sha256(&got));
        assert!(digest.starts_with("734ec45b") && digest.ends_with("0f44ca9d"), "{digest}");
        // The official-file convention: the scale replicated 8x across the tail.
        let rep = encode_i2s(&t, scale, I2sLayout::Group128, TailFill::Replicate).unwrap();
        assert_eq!(&rep[..64], &want[..64]);
        for c in rep[64..].chunks_exact(4) {
            assert_eq!(c, [0xf0, 0x85, 0x49, 0x3c]);
        }
        // Decode: row 0 = [s x32, 0 x32, -s x32, s x32].
        let mut out = vec![7.0f32; 256];
        decode_i2s(&want, 256, &mut out).unwrap();
        let row0: Vec<f32> = (0..128).map(|j| [scale, 0.0, -scale, scale][j / 32]).collect();
        assert_eq!(&out[..128], &row0[..]);
        let row1: Vec<f32> = vector_b().iter().map(|&t| scale * t as f32).collect();
        assert_eq!(&out[128..], &row1[..]);
        // tail[4..32] is don't-care on read.
        let mut out2 = vec![0.0f32; 256];
        decode_i2s(&rep, 256, &mut out2).unwrap();
        assert_eq!(out, out2);
        let mut junk = want.clone();
        junk[68..].fill(0xff);
        decode_i2s(&junk, 256, &mut out2).unwrap();
        assert_eq!(out, out2);
        assert_eq!(i2s_scale(&junk, 256, I2sLayout::Group128).unwrap(), scale);
    }

    #[test]
    fn group64_vector_b() {
        let b = encode_i2s(&vector_b(), 1.0, I2sLayout::Group64, TailFill::Zero).unwrap();
        let want: Vec<u8> = (0..32).map(|p| [0x18, 0x61, 0x86][p % 3]).collect();
        assert_eq!(&b[..32], &want[..]);
        assert_eq!(decode_i2s_trits(&b, 128, I2sLayout::Group64).unwrap().trits, vector_b());
        // The same bytes read with the canonical layout give valid but wrong values: the layout
        // cannot be detected from the data.
        let wrong = decode_i2s_trits(&b, 128, I2sLayout::Group128).unwrap().trits;
        assert_ne!(wrong, vector_b());
        // Group64 accepts 64-element tensors, Group128 does not.
        assert_eq!(i2s_nbytes(64, I2sLayout::Group64).unwrap(), 48);
        assert!(i2s_nbytes(64, I2sLayout::Group128).is_err());
    }

    #[test]
    fn hand_checkable_bytes() {
        let one_byte = |b: u8| {
            let mut src = vec![0x55u8; 32];
            src[5] = b;
            src.extend(scale_record(2.0, false));
            let mut out = vec![0.0f32; 128];
            decode_i2s(&src, 128, &mut out).unwrap();
            [out[5], out[37], out[69], out[101]]
        };
        assert_eq!(one_byte(0x92), [2.0, 0.0, -2.0, 2.0]);
        assert_eq!(one_byte(0x55), [0.0; 4]);
        assert_eq!(one_byte(0x00), [-2.0; 4]);
        assert_eq!(one_byte(0xaa), [2.0; 4]);
        // A zero-weight tensor is all 0x55.
        let z = encode_i2s(&[0; 256], 1.0, I2sLayout::Group128, TailFill::Zero).unwrap();
        assert!(z[..64].iter().all(|&b| b == 0x55));
    }

    #[test]
    fn round_trips_random_tensors() {
        let mut rng = Rng(42);
        for layout in [I2sLayout::Group128, I2sLayout::Group64] {
            for tail in [TailFill::Zero, TailFill::Replicate] {
                for blocks in [0usize, 1, 2, 7, 40] {
                    let n = blocks * layout.block_elems();
                    let trits = rng.trits(n);
                    let scale = f32::from_bits(rng.next() as u32 & 0x3fff_ffff);
                    let bytes = encode_i2s(&trits, scale, layout, tail).unwrap();
                    assert_eq!(bytes.len(), n / 4 + 32);
                    assert!(bytes[..n / 4].iter().all(|&b| !has_code3(b)));
                    let back = decode_i2s_trits(&bytes, n, layout).unwrap();
                    assert_eq!(back, Ternary { trits: trits.clone(), scale });
                    let mut out = vec![0.0; n];
                    decode_i2s_layout(&bytes, n, layout, &mut out).unwrap();
                    assert_eq!(out, back.to_f32().unwrap());
                    // Closed form of §3.3 / §3.8: byte = G*blk + pos%G, shift = 6 - 2*(pos/G).
                    let g = layout.group();
                    for (e, &t) in trits.iter().enumerate() {
                        let (blk, pos) = (e / (4 * g), e % (4 * g));
                        let code = (bytes[g * blk + pos % g] >> (6 - 2 * (pos / g))) & 3;
                        assert_eq!(code as i8 - 1, t);
                    }
                }
            }
        }
    }

    #[test]
    fn quantize_matches_the_reference_quantizer() {
        // sign_max: codes by sign with the 1e-6 threshold, scale = max |x| at tail[0..4].
        let mut w: Vec<f32> = (0..256)
            .map(|i| {
                if i % 3 == 0 {
                    0.0
                } else if i % 3 == 1 {
                    0.7
                } else {
                    -0.7
                }
            })
            .collect();
        w[10] = 1e-6;
        w[11] = f32::NAN;
        w[12] = -0.0;
        let bytes = quantize_i2s(&w, Ternarizer::SignMax, I2sLayout::Group128, TailFill::Zero).unwrap();
        let t = decode_i2s_trits(&bytes, 256, I2sLayout::Group128).unwrap();
        assert_eq!(t, sign_max(&w));
        assert_eq!((t.trits[10], t.trits[11], t.trits[12]), (0, -1, 0));
        assert_eq!(&bytes[64..68], &0.7f32.to_le_bytes());
        // absmean on raw weights.
        let w: Vec<f32> = (0..128).map(|i| ((i as f32) * 0.37).sin()).collect();
        let bytes = quantize_i2s(&w, Ternarizer::Absmean, I2sLayout::Group64, TailFill::Replicate).unwrap();
        let t = decode_i2s_trits(&bytes, 128, I2sLayout::Group64).unwrap();
        assert_eq!(t, super::super::absmean(&w).unwrap());
        assert!(quantize_i2s(&w[..100], Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).is_err());
    }

    #[test]
    fn code_3_is_an_error_naming_element_and_byte() {
        let mut t = vector_a();
        t.extend(vector_b());
        let mut bytes = encode_i2s(&t, 1.0, I2sLayout::Group128, TailFill::Zero).unwrap();
        // Byte 37 = block 1, p = 5; set field 2 (bits 3-2) to 3: element 128 + 64 + 5 = 197.
        bytes[37] |= 0b0000_1100;
        let mut out = vec![9.0f32; 256];
        let e = decode_i2s(&bytes, 256, &mut out).unwrap_err();
        assert_eq!(e.status(), Status::InvalidCode);
        assert!(e.message().contains("element 197 at byte 37 has the invalid I2_S code 3"), "{e}");
        assert!(out.iter().all(|&v| v == 9.0), "output untouched on error");
        assert!(decode_i2s_trits(&bytes, 256, I2sLayout::Group128).is_err());
        // GROUP_64: byte 20 = block 1 (elements 64..127), p = 4, field 0 -> element 68.
        let mut bytes = encode_i2s(&t, 1.0, I2sLayout::Group64, TailFill::Zero).unwrap();
        bytes[20] |= 0xc0;
        let e = decode_i2s_layout(&bytes, 256, I2sLayout::Group64, &mut out).unwrap_err();
        assert!(e.message().contains("element 68 at byte 20 has the invalid I2_S code 3"), "{e}");
        // 0xff: the first field is reported.
        let mut bytes = vec![0x55u8; 32];
        bytes[0] = 0xff;
        bytes.extend([0; 32]);
        let e = decode_i2s(&bytes, 128, &mut out[..128]).unwrap_err();
        assert!(e.message().contains("element 0 at byte 0"), "{e}");
    }

    #[test]
    fn bad_shapes_and_lengths() {
        let mut out = vec![0.0f32; 192];
        let e = decode_i2s(&[0x55; 80], 192, &mut out).unwrap_err();
        assert_eq!(e.status(), Status::InvalidParameter);
        assert!(e.message().contains("128"), "{e}");
        assert!(encode_i2s(&[0; 192], 1.0, I2sLayout::Group128, TailFill::Zero).is_err());
        assert!(encode_i2s(&[0; 192], 1.0, I2sLayout::Group64, TailFill::Zero).is_ok());
        assert!(encode_i2s(&[0; 100], 1.0, I2sLayout::Group64, TailFill::Zero).is_err());
        // Wrong source length (missing tail, one byte too many), wrong output length.
        assert!(decode_i2s(&[0x55; 32], 128, &mut out[..128]).is_err());
        assert!(decode_i2s(&[0x55; 65], 128, &mut out[..128]).is_err());
        assert!(decode_i2s(&[0x55; 64], 128, &mut out[..127]).is_err());
        assert!(decode_i2s(&[0x55; 64], 128, &mut out[..128]).is_ok());
        // Trits out of range.
        let mut t = vec![0i8; 128];
        t[77] = -2;
        let e = encode_i2s(&t, 1.0, I2sLayout::Group128, TailFill::Zero).unwrap_err();
        assert!(e.message().contains("element 77"), "{e}");
    }
}
