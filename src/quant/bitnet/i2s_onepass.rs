//! Absmean I2_S quantization in one read of a large input: the same bytes as the two-pass path
//! of [`super::i2s_fast`] (the sum, then the codes), with the second pass over the input
//! replaced by a small patch.
//!
//! Absmean's code of `x` is `sign(x)` when `|x| > h` and 0 otherwise, with `h` half the scale,
//! the mean magnitude of the whole tensor: unknown until every element has been read. The two-pass
//! path reads the input twice; at one thread on a 64 MiB tensor both reads run at the memory's
//! read rate, which on the Xeon dev VM of session 10 put absmean at 0.9–1.0 Gelem/s.
//!
//! Here the mean of a sample (the first [`sample_len`] elements, which are summed first) gives an
//! estimate `h'` of `h`, and the bracket `[lo, hi] = h' · (1 ∓ BRACKET)`. Then, piece by piece
//! (each piece's sum and codes while it is in the cache): elements with `|x| > hi` get their
//! sign's code and `|x| ≤ lo` code 0 — both right for any `h` in the bracket — and the few with
//! `lo < |x| ≤ hi` get code 0 for now, their index and bits recorded. Once the sum is complete
//! (in the same fixed order as [`super::i2s_fast::abs_sum`], so the scale is the same f32): if
//! `lo ≤ h ≤ hi`, only the recorded elements are coded again, exactly; otherwise (a sample far
//! from the whole, or too many recorded elements) every code is written again by the two-pass
//! path's packer, so the bytes are the same whatever the data.
//!
//! Magnitudes compare as the non-negative f32 bit patterns they are (the packers' order);
//! non-finite inputs make the sum non-finite and end in absmean's error.

use super::i2s::I2sLayout;
use super::i2s_fast::{abs_sum_lanes, code_of, combine_lanes, half_to_f32, pack, CodeRule, Half, SUM_LANES};
use super::ABSMEAN_MIN_SCALE;
#[cfg(target_arch = "x86_64")]
use crate::quant::simd::f32_bytes;

/// Relative half-width of the bracket around the sample's half scale. For Gaussian weights
/// about 0.6 · BRACKET of the elements fall inside it (the density of `|x|` at half the mean
/// magnitude); the sample mean of 2^18 such elements is within 0.15% of the whole's (one
/// standard deviation).
const BRACKET: f32 = 0.03;

/// Inputs of at least this many elements take the one-pass path (smaller ones stay in the
/// caches between the two passes).
pub(super) const ONE_PASS_MIN: usize = 1 << 20;

/// Whether `n` elements take the one-pass path: at least [`ONE_PASS_MIN`], indices below 2^32,
/// and AVX-512 for the recording (elsewhere the two-pass path, unchanged).
pub(super) fn one_pass(n: usize) -> bool {
    n >= ONE_PASS_MIN && n <= u32::MAX as usize && crate::quant::simd::avx512()
}

/// Elements summed and coded at a time (a multiple of 256, so of every layout's block; 32 KiB
/// of f32).
pub(super) const PIECE: usize = 8192;

/// The sample: the first `n / 16` elements, at least 2^18, whole pieces, never all of `n`
/// beyond [`ONE_PASS_MIN`].
pub(super) fn sample_len(n: usize) -> usize {
    ((n / 16).max(1 << 18) / PIECE * PIECE).min(n / PIECE * PIECE)
}

/// Recorded elements beyond this share of `n` end the recording (the bracket is then of no
/// use: the full second pass runs).
const RECORD_SHARE: usize = 16;

/// The elements of a tensor recorded for the patch: their indices and bits, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Element indices (the one pass runs on fewer than 2^32 elements).
    pub idx: Vec<u32>,
    /// Their f32 bits.
    pub bits: Vec<u32>,
}

impl Recorded {
    /// Room for `cap` entries.
    pub fn with_capacity(cap: usize) -> Recorded {
        Recorded { idx: Vec::with_capacity(cap), bits: Vec::with_capacity(cap) }
    }

    /// Entries so far.
    pub fn len(&self) -> usize {
        self.idx.len()
    }

    /// Whether none were recorded.
    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }
}

/// Records (index `base` + position, bits) of the elements of `w` with `lo < |x| ≤ hi` (on the
/// bits, `|x|` as `bits & 0x7fffffff`), in order (scalar oracle of the AVX-512
/// `simd_x86::collect_between`).
pub fn collect_between_scalar(w: &[f32], lo: u32, hi: u32, base: u32, out: &mut Recorded) {
    for (i, &x) in w.iter().enumerate() {
        let a = x.to_bits() & 0x7fff_ffff;
        if a > lo && a <= hi {
            out.idx.push(base + i as u32);
            out.bits.push(x.to_bits());
        }
    }
}

/// Overwrite the 2-bit code of element `e` in the packed payload `out` (`layout`).
fn set_code(out: &mut [u8], layout: I2sLayout, e: usize, code: u8) {
    let g = layout.group();
    let (blk, j) = (e / (4 * g), e % (4 * g));
    let shift = 6 - 2 * (j / g);
    let b = &mut out[blk * g + j % g];
    *b = (*b & !(3 << shift)) | code << shift;
}

/// A piece of input to the fused kernel.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Src<'a> {
    F32(&'a [f32]),
    Half(&'a [u8], Half),
}

/// The state of one one-pass quantization: feed it the pieces in order, then [`OnePass::finish`].
pub(super) struct OnePass {
    /// The partial sums ([`abs_sum_lanes`]), the sample's included from the start.
    lanes: [f64; SUM_LANES],
    /// Elements summed (the sample's first, so pieces before `summed` are not summed again).
    summed: usize,
    /// The bracket, as bits; `None` when the sample's mean is not finite (the full pass runs).
    bracket: Option<(u32, u32)>,
    /// The recorded elements.
    amb: Recorded,
    /// More than `n / RECORD_SHARE` were met: recording stopped.
    overflow: bool,
    /// Elements in all.
    n: usize,
    layout: I2sLayout,
}

impl OnePass {
    /// Start from the sample's partial sums (its first `summed` elements, a multiple of
    /// [`PIECE`]) for a tensor of `n` elements.
    pub(super) fn new(sample: [f64; SUM_LANES], summed: usize, n: usize, layout: I2sLayout) -> OnePass {
        let mean = combine_lanes(sample) / summed.max(1) as f64;
        let bracket = mean.is_finite().then(|| {
            let half = mean.max(ABSMEAN_MIN_SCALE) as f32 * 0.5;
            ((half * (1.0 - BRACKET)).to_bits(), (half * (1.0 + BRACKET)).to_bits())
        });
        OnePass {
            lanes: sample,
            summed,
            bracket,
            amb: Recorded::with_capacity(n / RECORD_SHARE + PIECE + 16),
            overflow: false,
            n,
            layout,
        }
    }

    /// Piece `w` (elements `at..at + w.len()`, `at` a multiple of [`PIECE`], pieces in order)
    /// into its payload bytes `out`: summed (unless the sample held it), then coded against the
    /// bracket, its in-between elements recorded.
    pub(super) fn feed(&mut self, w: &[f32], at: usize, out: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(bracket) = self.fused_bracket() {
            return self.feed_fused(Src::F32(w), bracket, at, out);
        }
        if self.count(at, w.len()) {
            self.lanes = abs_sum_lanes(w, self.lanes);
        }
        let Some((lo, hi)) = self.bracket else { return };
        pack(w, CodeRule::Threshold { half: f32::from_bits(hi) }, self.layout, out);
        if !self.overflow {
            collect_between_scalar(w, lo, hi, at as u32, &mut self.amb);
            self.overflow = self.amb.len() > self.n / RECORD_SHARE;
        }
    }

    /// [`OnePass::feed`] for a piece of f16 / bf16 weights (`src`: little-endian halves),
    /// widened as `i2s_fast::half_to_f32` does (inside the fused kernel, or into `buf` and fed
    /// as f32 where it does not run).
    pub(super) fn feed_half(&mut self, src: &[u8], kind: Half, at: usize, out: &mut [u8], buf: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(bracket) = self.fused_bracket() {
            return self.feed_fused(Src::Half(src, kind), bracket, at, out);
        }
        let w = &mut buf[..src.len() / 2];
        half_to_f32(src, kind, w);
        self.feed(w, at, out)
    }

    /// Count a piece of `len` elements at `at` as fed; whether it is to be summed (the sample's
    /// elements were summed before).
    fn count(&mut self, at: usize, len: usize) -> bool {
        let sum = at >= self.summed;
        if sum {
            debug_assert_eq!(at, self.summed);
            self.summed += len;
        }
        sum
    }

    /// The bracket, where the fused AVX-512 kernel runs (canonical layout, a bracket: without
    /// one the pieces are only summed).
    #[cfg(target_arch = "x86_64")]
    fn fused_bracket(&self) -> Option<(u32, u32)> {
        self.bracket.filter(|_| self.layout == I2sLayout::Group128 && crate::quant::simd::avx512())
    }

    /// [`OnePass::feed`] / [`OnePass::feed_half`] through the fused kernel, under `(lo, hi)`
    /// ([`OnePass::fused_bracket`]).
    #[cfg(target_arch = "x86_64")]
    fn feed_fused(&mut self, src: Src, (lo, hi): (u32, u32), at: usize, out: &mut [u8]) {
        use super::simd_x86::{onepass_group128, ONEPASS_BF16, ONEPASS_F16, ONEPASS_F32};
        let len = match src {
            Src::F32(w) => w.len(),
            Src::Half(b, _) => b.len() / 2,
        };
        let sum = self.count(at, len);
        let record = !self.overflow;
        let amb = &mut self.amb;
        let had = amb.len();
        // The kernel stores whole vectors: room for every element and 16 more.
        amb.idx.reserve(len + 16);
        amb.bits.reserve(len + 16);
        let (lanes, idx, bits) = (sum.then_some(&mut self.lanes), amb.idx.as_mut_ptr(), amb.bits.as_mut_ptr());
        // SAFETY: AVX-512 detected (`fused_bracket`); whole blocks (pieces are, and I2_S tensors
        // are whole blocks); `hi` is a finite non-negative float; both vectors have room for
        // `had + len + 16` entries, and the kernel returns how many it wrote (initialized u32s).
        // Without `record` the entries written are dropped again.
        let n = unsafe {
            match src {
                Src::F32(w) => {
                    onepass_group128::<ONEPASS_F32>(f32_bytes(w), lanes, lo, hi, at as u32, out, idx, bits, had)
                }
                Src::Half(b, Half::F16) => {
                    onepass_group128::<ONEPASS_F16>(b, lanes, lo, hi, at as u32, out, idx, bits, had)
                }
                Src::Half(b, Half::Bf16) => {
                    onepass_group128::<ONEPASS_BF16>(b, lanes, lo, hi, at as u32, out, idx, bits, had)
                }
            }
        };
        let n = if record { n } else { had };
        // SAFETY: `n` entries of both are initialized (above), within their capacity.
        unsafe {
            amb.idx.set_len(n);
            amb.bits.set_len(n);
        }
        self.overflow = amb.len() > self.n / RECORD_SHARE;
    }

    /// The sum of every element (fed whole), in [`super::i2s_fast::abs_sum`]'s order.
    pub(super) fn sum(&self) -> f64 {
        debug_assert_eq!(self.summed, self.n);
        combine_lanes(self.lanes)
    }

    /// Finish `out` (the whole payload) for the final rule (`half`, from [`OnePass::sum`]):
    /// `true` when the recorded elements were enough (now coded), `false` when the caller must
    /// pack every element again.
    pub(super) fn finish(self, half: f32, out: &mut [u8]) -> bool {
        let Some((lo, hi)) = self.bracket else { return false };
        let h = half.to_bits();
        if std::env::var_os("BG_X_DBG").is_some() {
            eprintln!(
                "finish: overflow {} lo {} h {} hi {} amb {}",
                self.overflow,
                f32::from_bits(lo),
                half,
                f32::from_bits(hi),
                self.amb.len()
            );
        }
        if self.overflow || !(lo <= h && h <= hi) {
            return false;
        }
        let rule = CodeRule::Threshold { half };
        for (&e, &bits) in self.amb.idx.iter().zip(&self.amb.bits) {
            set_code(out, self.layout, e as usize, code_of(f32::from_bits(bits), rule));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::bitnet::i2s::{i2s_nbytes, TailFill};
    use crate::quant::bitnet::i2s_fast::{quantize_i2s_fast, quantize_i2s_half, Half};
    use crate::quant::bitnet::testutil::Rng;
    use crate::quant::bitnet::{quantize_i2s, Ternarizer};

    fn gaussian(rng: &mut Rng, n: usize, sigma: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 + 1e-12;
                let v = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32 * sigma
            })
            .collect()
    }

    /// `w` rounded to `kind`, as little-endian bytes.
    fn half_bytes(w: &[f32], kind: Half) -> Vec<u8> {
        w.iter()
            .flat_map(|&x| match kind {
                Half::F16 => crate::quant::float::f32_to_f16(x).to_le_bytes(),
                Half::Bf16 => crate::quant::float::f32_to_bf16(x).to_le_bytes(),
            })
            .collect()
    }

    /// `set_code` writes exactly the element's two bits, in both layouts.
    #[test]
    fn set_code_touches_one_element() {
        for layout in [I2sLayout::Group128, I2sLayout::Group64] {
            let n = 4 * 4 * layout.group();
            let w: Vec<f32> = (0..n).map(|i| [0.0, 1.0, -1.0][i % 3]).collect();
            let want = quantize_i2s(&w, Ternarizer::SignMax, layout, TailFill::Zero).unwrap();
            for e in [0, 1, layout.group(), 2 * layout.group() + 5, n - 1] {
                let mut w2 = w.clone();
                w2[e] = if w[e] > 0.0 { -1.0 } else { 1.0 };
                let mut got = want.clone();
                let code = if w2[e] > 0.0 { 2 } else { 0 };
                set_code(&mut got, layout, e, code);
                assert_eq!(got, quantize_i2s(&w2, Ternarizer::SignMax, layout, TailFill::Zero).unwrap(), "{e}");
            }
        }
    }

    /// The fused AVX-512 piece kernel equals the scalar composition (sum lanes, packed codes,
    /// recorded elements in order), bracket edges, signs, NaN and infinities included, with and
    /// without the sum, appending after earlier entries.
    #[test]
    fn fused_piece_kernel_equals_the_scalar_oracles() {
        #[cfg(target_arch = "x86_64")]
        {
            if !crate::quant::simd::avx512() {
                eprintln!(
                    "fused one-pass kernel: skipped (no AVX-512 on this CPU or BG_NO_AVX512 / BG_FORCE_SCALAR set)"
                );
                return;
            }
            let mut rng = Rng(7);
            let mut w = gaussian(&mut rng, 128 * 40, 1.0);
            let (lo, hi) = (0.38f32, 0.42f32);
            for (i, x) in [
                lo,
                -hi,
                f32::from_bits(lo.to_bits() + 1),
                f32::from_bits(hi.to_bits() + 1),
                -0.0,
                f32::NAN,
                f32::INFINITY,
                -f32::INFINITY,
            ]
            .into_iter()
            .enumerate()
            {
                w[3 + 37 * i] = x;
            }
            for sum in [true, false] {
                let start = [0.5f64; SUM_LANES];
                let mut want_lanes = start;
                if sum {
                    want_lanes = super::super::i2s_fast::abs_sum_lanes_scalar(&w, start);
                }
                let mut want_out = vec![0u8; w.len() / 4];
                crate::quant::bitnet::i2s_fast::pack_group128_scalar(
                    &w,
                    CodeRule::Threshold { half: hi },
                    &mut want_out,
                );
                let mut want = Recorded { idx: vec![9], bits: vec![9] };
                collect_between_scalar(&w, lo.to_bits(), hi.to_bits(), 1000, &mut want);
                let (mut lanes, mut out) = (start, vec![0u8; w.len() / 4]);
                let mut got = Recorded { idx: vec![9], bits: vec![9] };
                got.idx.reserve(w.len() + 16);
                got.bits.reserve(w.len() + 16);
                // SAFETY: AVX-512 checked; whole blocks; room for 1 + w.len() + 16 entries.
                let n = unsafe {
                    super::super::simd_x86::onepass_group128::<{ super::super::simd_x86::ONEPASS_F32 }>(
                        f32_bytes(&w),
                        sum.then_some(&mut lanes),
                        lo.to_bits(),
                        hi.to_bits(),
                        1000,
                        &mut out,
                        got.idx.as_mut_ptr(),
                        got.bits.as_mut_ptr(),
                        1,
                    )
                };
                // SAFETY: the kernel wrote the first `n` entries, within capacity.
                unsafe {
                    got.idx.set_len(n);
                    got.bits.set_len(n);
                }
                assert_eq!(got, want, "recorded (sum {sum})");
                assert_eq!(out, want_out, "codes (sum {sum})");
                assert_eq!(lanes.map(f64::to_bits), want_lanes.map(f64::to_bits), "sums (sum {sum})");
                let has = |e: u32, x: f32| want.idx.iter().zip(&want.bits).any(|(&i, &v)| i == e && v == x.to_bits());
                assert!(!has(1003, lo) && has(1040, -hi) && has(1077, f32::from_bits(lo.to_bits() + 1)));
                assert!(want.len() > 100, "{} recorded", want.len());
            }
        }
    }

    /// One pass gives the scalar quantizer's bytes: Gaussian weights (the bracket holds); a
    /// sample far smaller or larger than the rest (the bracket misses: the full pass); ternary
    /// weights; both layouts; f32, f16 and bf16 inputs. (Ties at exactly half the scale are
    /// `code_of`'s, which the patch calls: the quantizer tests cover them.)
    #[test]
    fn one_pass_equals_the_two_pass_quantizer() {
        let mut rng = Rng(11);
        let n = ONE_PASS_MIN + 3 * PIECE + 256;
        let base = gaussian(&mut rng, n, 0.02);
        let s = sample_len(n);
        let mut cases: Vec<(&str, Vec<f32>)> = vec![("gaussian", base.clone())];
        let mut small_sample = base.clone();
        small_sample[..s].iter_mut().for_each(|x| *x *= 0.5);
        cases.push(("sample half the size", small_sample));
        let mut big_sample = base.clone();
        big_sample[..s].iter_mut().for_each(|x| *x *= 3.0);
        cases.push(("sample three times the size", big_sample));
        // Ternary weights ±a and 0 (none near half the scale: nothing recorded).
        let a = 0.25f32;
        cases.push(("ternary", (0..n).map(|i| [a, 0.0, -a][(i * 7 + i / 3) % 3]).collect()));
        for (what, w) in &cases {
            for layout in [I2sLayout::Group128, I2sLayout::Group64] {
                let want = quantize_i2s(w, Ternarizer::Absmean, layout, TailFill::Zero).unwrap();
                let got = quantize_i2s_fast(w, Ternarizer::Absmean, layout, TailFill::Zero).unwrap();
                assert_eq!(got.len(), i2s_nbytes(n, layout).unwrap());
                assert!(got == want, "{what}, {layout:?}: one pass differs from the scalar quantizer");
            }
            for kind in [Half::F16, Half::Bf16] {
                let bytes = half_bytes(w, kind);
                let wide: Vec<f32> = bytes
                    .chunks_exact(2)
                    .map(|c| {
                        let h = u16::from_le_bytes([c[0], c[1]]);
                        match kind {
                            Half::F16 => crate::quant::float::f16_to_f32(h),
                            Half::Bf16 => crate::quant::float::bf16_to_f32(h),
                        }
                    })
                    .collect();
                let want = quantize_i2s(&wide, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap();
                let got =
                    quantize_i2s_half(&bytes, kind, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap();
                assert!(got == want, "{what}, {kind:?}: one pass differs from the scalar quantizer");
            }
        }
    }

    /// A non-finite weight inside the sample (no bracket: the one pass only sums) ends in
    /// absmean's error, naming the element, for f32, f16 and bf16 inputs, as the scalar
    /// quantizer's does; never a panic.
    #[test]
    fn a_non_finite_sample_ends_in_the_scalar_error() {
        let mut rng = Rng(3);
        let n = ONE_PASS_MIN;
        let mut w = gaussian(&mut rng, n, 0.02);
        for bad in [f32::NAN, f32::INFINITY] {
            w[5] = bad;
            let want = quantize_i2s(&w, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap_err();
            let got = quantize_i2s_fast(&w, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero).unwrap_err();
            assert_eq!(got.to_string(), want.to_string());
            for kind in [Half::F16, Half::Bf16] {
                let bytes = half_bytes(&w, kind);
                let got = quantize_i2s_half(&bytes, kind, Ternarizer::Absmean, I2sLayout::Group128, TailFill::Zero)
                    .unwrap_err();
                assert_eq!(got.to_string(), want.to_string(), "{kind:?}");
            }
        }
    }

    /// Which path ran: the bracket holds for Gaussian weights (only the recorded elements are
    /// coded again) and misses for a sample three times the rest's size.
    #[test]
    fn the_bracket_holds_for_a_representative_sample_only() {
        let mut rng = Rng(5);
        let n = ONE_PASS_MIN;
        let run = |w: &[f32]| {
            let s = sample_len(n);
            let mut out = vec![0u8; n / 4];
            let mut one = OnePass::new(abs_sum_lanes(&w[..s], [0.0; SUM_LANES]), s, n, I2sLayout::Group128);
            for (i, (piece, o)) in w.chunks(PIECE).zip(out.chunks_mut(PIECE / 4)).enumerate() {
                one.feed(piece, i * PIECE, o);
            }
            let recorded = one.amb.len();
            let scale = (one.sum() / n as f64).max(ABSMEAN_MIN_SCALE) as f32;
            (one.finish(scale * 0.5, &mut out), recorded)
        };
        let w = gaussian(&mut rng, n, 1.0);
        let (held, recorded) = run(&w);
        assert!(held, "the bracket should hold for Gaussian weights");
        // About 0.6 * BRACKET of the elements.
        assert!(recorded > n / 100 && recorded < n / 30, "{recorded} recorded");
        let mut skewed = w.clone();
        skewed[..sample_len(n)].iter_mut().for_each(|x| *x *= 3.0);
        assert!(!run(&skewed).0, "a skewed sample should miss");
    }
}
