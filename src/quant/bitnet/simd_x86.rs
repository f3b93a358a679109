//! AVX2 kernels of [`super::i2s_fast`], each bit-exact with the scalar oracle named on it.
//!
//! Every function is `unsafe` with `#[target_feature(enable = "avx2")]`: the caller must have
//! checked at run time that the CPU has AVX2 (`crate::quant::simd::level()`). Loads and stores
//! are unaligned and stay inside the slices they are given (lengths are asserted or derived from
//! the slices).

// The bodies are intrinsics over pointers derived from the slices in bounds; the contract is
// the one above (raw-pointer loads and stores are `unsafe` operations).
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

use crate::quant::simd::nt::{stream16, stream32};

use super::i2s_fast::{CodeRule, INF_BITS, SIGN_MAX_TINY_BITS, SUM_LANES};

/// How far ahead (in f32 elements: 4 KiB) the quantizer's input passes and the index scans
/// prefetch.
const READ_AHEAD: usize = 1024;

/// Prefetch the line `READ_AHEAD` elements past `p` (a hint: any address). The quantizer's
/// passes read 64 MiB and more at one thread; on a Xeon (Emerald Rapids) dev VM the hardware
/// prefetchers alone read 5-6 GB/s there, with this 8-9 GB/s (absmean's sum 1.4-1.5 ->
/// 2.1-2.2 Gelem/s at 16 Mi, 1-4 KiB ahead alike; docs/PERFORMANCE.md, session 9).
#[inline(always)]
pub(super) fn read_ahead(p: *const f32) {
    // SAFETY: a prefetch never faults, whatever the address (`wrapping_add`: no provenance
    // claim past the slice).
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(READ_AHEAD).cast()) }
}

/// `i2s_fast::abs_sum_lanes_scalar` continued from `lanes`: lane `e % 16` gets `|w_e|` in
/// order.
#[target_feature(enable = "avx2")]
pub unsafe fn abs_sum_lanes(w: &[f32], mut lanes: [f64; SUM_LANES]) -> [f64; SUM_LANES] {
    let mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff));
    let mut acc = [_mm256_setzero_pd(); 4];
    for (k, a) in acc.iter_mut().enumerate() {
        *a = _mm256_loadu_pd(lanes.as_ptr().add(4 * k));
    }
    let chunks = w.len() / 16;
    let p = w.as_ptr();
    for c in 0..chunks {
        let base = p.add(16 * c);
        read_ahead(base);
        for (k, a) in acc.iter_mut().enumerate() {
            let v = _mm_and_ps(_mm_loadu_ps(base.add(4 * k)), mask);
            *a = _mm256_add_pd(*a, _mm256_cvtps_pd(v));
        }
    }
    for (k, a) in acc.iter().enumerate() {
        _mm256_storeu_pd(lanes.as_mut_ptr().add(4 * k), *a);
    }
    for (e, &x) in w.iter().enumerate().skip(16 * chunks) {
        lanes[e % SUM_LANES] += (x as f64).abs();
    }
    lanes
}

/// `i2s_fast::max_abs_bits_scalar`: the largest non-NaN `bits & 0x7fffffff` (0 if none).
#[target_feature(enable = "avx2")]
pub unsafe fn max_abs_bits(w: &[f32]) -> u32 {
    let mask = _mm256_set1_epi32(0x7fff_ffff);
    let inf = _mm256_set1_epi32(INF_BITS as i32);
    let mut m = [_mm256_setzero_si256(); 2];
    let chunks = w.len() / 16;
    let p = w.as_ptr();
    for c in 0..chunks {
        read_ahead(p.add(16 * c));
        for (k, mk) in m.iter_mut().enumerate() {
            let a = _mm256_and_si256(_mm256_loadu_si256(p.add(16 * c + 8 * k).cast()), mask);
            // NaN (a > inf, as signed ints since a >= 0) -> 0.
            let nan = _mm256_cmpgt_epi32(a, inf);
            *mk = _mm256_max_epi32(*mk, _mm256_andnot_si256(nan, a));
        }
    }
    let mut lanes = [0u32; 8];
    _mm256_storeu_si256(lanes.as_mut_ptr().cast(), _mm256_max_epi32(m[0], m[1]));
    let mut best = lanes.into_iter().max().unwrap_or(0);
    for &x in &w[16 * chunks..] {
        let a = x.to_bits() & 0x7fff_ffff;
        if a <= INF_BITS && a > best {
            best = a;
        }
    }
    best
}

/// [`onepass_group128`]'s input: little-endian f32.
pub(super) const ONEPASS_F32: u8 = 0;
/// [`onepass_group128`]'s input: f16.
pub(super) const ONEPASS_F16: u8 = 1;
/// [`onepass_group128`]'s input: bf16.
pub(super) const ONEPASS_BF16: u8 = 2;

/// One piece of `i2s_onepass::OnePass::feed` in the canonical layout with AVX-512, in one read
/// of each element of `src` (`K`: f32, or f16 / bf16 widened exactly as [`half_to_f32`]): with
/// `lanes`, its magnitudes added to the partial sums (as [`abs_sum_lanes`]: lane `e % 16`,
/// f64); its codes under the threshold `hi` packed into `out` (as [`pack_group128`],
/// `CodeRule::Threshold`); and the offsets (`base` + position) and bits of the elements with
/// `lo < |x| <= hi` recorded at `idx` / `bits` + `len` (as
/// `i2s_onepass::collect_between_scalar`), branch-free: per 16 elements they are compressed to
/// the front of a vector (`vpcompressd`) stored whole, and the count grows by theirs. Returns the
/// new count. `src` is `n` elements in whole 128-element blocks, `out.len() == n / 4`, `hi` a
/// non-negative finite float's bits, `idx` / `bits` with room for `len + n + 16` entries.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,popcnt")]
pub unsafe fn onepass_group128<const K: u8>(
    src: &[u8],
    lanes: Option<&mut [f64; SUM_LANES]>,
    lo: u32,
    hi: u32,
    base: u32,
    out: &mut [u8],
    idx: *mut u32,
    bits: *mut u32,
    mut len: usize,
) -> usize {
    // Bytes per element of the input: f32, or halves widened as `half_to_f32` does.
    let es = if K == ONEPASS_F32 { 4 } else { 2 };
    let n = src.len() / es;
    assert!(src.len().is_multiple_of(es) && n.is_multiple_of(128) && out.len() == n / 4 && hi <= INF_BITS);
    let mask = _mm512_set1_epi32(0x7fff_ffff);
    let (vlo, vhi, inf) =
        (_mm512_set1_epi32(lo as i32), _mm512_set1_epi32(hi as i32), _mm512_set1_epi32(INF_BITS as i32));
    let (one, two) = (_mm512_set1_epi32(1), _mm512_set1_epi32(2));
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let sum = lanes.is_some();
    let mut acc = [_mm512_setzero_pd(); 2];
    if let Some(l) = &lanes {
        acc = [_mm512_loadu_pd(l.as_ptr()), _mm512_loadu_pd(l.as_ptr().add(8))];
    }
    let p = src.as_ptr();
    let o = out.as_mut_ptr();
    for blk in 0..n / 128 {
        let mut cs = [_mm_setzero_si128(); 8];
        for (l, c) in cs.iter_mut().enumerate() {
            let at = 128 * blk + 16 * l;
            let q = p.add(es * at);
            read_ahead(q.cast());
            let v = match K {
                ONEPASS_F32 => _mm512_loadu_si512(q.cast()),
                ONEPASS_F16 => _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256(q.cast()))),
                _ => _mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(q.cast()))),
            };
            let a = _mm512_and_si512(v, mask);
            if sum {
                let af = _mm512_castsi512_ps(a);
                acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(_mm512_castps512_ps256(af)));
                acc[1] = _mm512_add_pd(
                    acc[1],
                    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(af)))),
                );
            }
            // Code 2 (sign clear) or 0 (set) where |x| > hi and x is not NaN, else 1.
            let big = _mm512_cmpgt_epu32_mask(a, vhi) & _mm512_cmple_epu32_mask(a, inf);
            let neg = _mm512_movepi32_mask(v);
            let code =
                _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(one, big & !neg, two), big & neg, _mm512_setzero_si512());
            *c = _mm512_cvtepi32_epi8(code);
            let k = _mm512_cmpgt_epu32_mask(a, vlo) & _mm512_cmple_epu32_mask(a, vhi);
            let e = _mm512_add_epi32(iota, _mm512_set1_epi32(base.wrapping_add(at as u32) as i32));
            _mm512_storeu_si512(idx.add(len).cast(), _mm512_maskz_compress_epi32(k, e));
            _mm512_storeu_si512(bits.add(len).cast(), _mm512_maskz_compress_epi32(k, v));
            len += k.count_ones() as usize;
        }
        // Byte p of the block: codes of elements p, p + 32, p + 64, p + 96, MSB first (codes are
        // 0..=2, so 16-bit shifts never carry into the neighbouring byte).
        let q = |i: usize| _mm256_set_m128i(cs[2 * i + 1], cs[2 * i]);
        let b = _mm256_or_si256(
            _mm256_or_si256(_mm256_slli_epi16::<6>(q(0)), _mm256_slli_epi16::<4>(q(1))),
            _mm256_or_si256(_mm256_slli_epi16::<2>(q(2)), q(3)),
        );
        _mm256_storeu_si256(o.add(32 * blk).cast(), b);
    }
    if let Some(l) = lanes {
        _mm512_storeu_pd(l.as_mut_ptr(), acc[0]);
        _mm512_storeu_pd(l.as_mut_ptr().add(8), acc[1]);
    }
    len
}

/// Eight codes (i32 lanes, 0..=2) of eight elements under `rule`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn codes8(p: *const f32, rule: &Rule) -> __m256i {
    let v = _mm256_loadu_si256(p.cast());
    let a = _mm256_and_si256(v, _mm256_set1_epi32(0x7fff_ffff));
    // `big`: the element is not rounded / thresholded to zero; `z`: it gets code 0 (negative,
    // or NaN under sign-max) rather than 2.
    let (big, z) = match *rule {
        // `|x| > half` is false for NaN (a > inf as integers).
        Rule::Threshold(half) => (
            _mm256_andnot_si256(_mm256_cmpgt_epi32(a, _mm256_set1_epi32(INF_BITS as i32)), _mm256_cmpgt_epi32(a, half)),
            _mm256_srai_epi32::<31>(v),
        ),
        Rule::SignMax(tiny, inf) => {
            (_mm256_cmpgt_epi32(a, tiny), _mm256_or_si256(_mm256_srai_epi32::<31>(v), _mm256_cmpgt_epi32(a, inf)))
        }
    };
    let pos = _mm256_andnot_si256(z, big); // -1 where code 2
    let neg = _mm256_and_si256(z, big); // -1 where code 0
    _mm256_add_epi32(_mm256_sub_epi32(_mm256_set1_epi32(1), pos), neg)
}

/// The comparison constants of a [`CodeRule`], as integer bit patterns (magnitudes compare as
/// non-negative integers exactly as the floats do).
enum Rule {
    Threshold(__m256i),
    SignMax(__m256i, __m256i),
}

/// 32 codes of elements `p[0..32]` as 32 bytes, in element order.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn codes32(p: *const f32, rule: &Rule) -> __m256i {
    let c0 = codes8(p, rule);
    let c1 = codes8(p.add(8), rule);
    let c2 = codes8(p.add(16), rule);
    let c3 = codes8(p.add(24), rule);
    // packs work per 128-bit lane: bytes come out as c0[0..4] c1[0..4] c2[0..4] c3[0..4] |
    // c0[4..8] c1[4..8] c2[4..8] c3[4..8]; the dword permutation restores element order.
    let b = _mm256_packs_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
    _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// `i2s_fast::pack_group128_scalar`: whole 128-element blocks of `w` into `out`
/// (`out.len() == w.len() / 4`, `w.len() % 128 == 0`).
#[target_feature(enable = "avx2")]
pub unsafe fn pack_group128(w: &[f32], rule: CodeRule, out: &mut [u8]) {
    assert!(w.len().is_multiple_of(128) && out.len() == w.len() / 4);
    let rule = match rule {
        // |x| > half on non-negative f32 bit patterns; half >= 0 (a negative or NaN half
        // cannot come from absmean, whose scale is >= 1e-5, but compare as the scalar does).
        CodeRule::Threshold { half } if half >= 0.0 => Rule::Threshold(_mm256_set1_epi32(half.to_bits() as i32)),
        CodeRule::Threshold { .. } => {
            return super::i2s_fast::pack_group128_scalar(w, rule, out);
        }
        CodeRule::SignMax => {
            Rule::SignMax(_mm256_set1_epi32(SIGN_MAX_TINY_BITS as i32), _mm256_set1_epi32(INF_BITS as i32))
        }
    };
    let p = w.as_ptr();
    let o = out.as_mut_ptr();
    for blk in 0..w.len() / 128 {
        let x = p.add(128 * blk);
        for l in 0..8 {
            read_ahead(x.add(16 * l));
        }
        let r0 = codes32(x, &rule);
        let r1 = codes32(x.add(32), &rule);
        let r2 = codes32(x.add(64), &rule);
        let r3 = codes32(x.add(96), &rule);
        // Codes are 0..=2, so 16-bit shifts never carry into the neighbouring byte.
        let b = _mm256_or_si256(
            _mm256_or_si256(_mm256_slli_epi16::<6>(r0), _mm256_slli_epi16::<4>(r1)),
            _mm256_or_si256(_mm256_slli_epi16::<2>(r2), r3),
        );
        _mm256_storeu_si256(o.add(32 * blk).cast(), b);
    }
}

/// Consecutive 32-byte vectors stored from `p` on, every store 32-byte aligned where `p` is
/// 16-byte aligned: for `p % 32 == 16` (malloc's usual alignment for large buffers) the halves of
/// consecutive vectors are realigned (`vperm2f128`), with a 16-byte store at each end, so no
/// 32-byte store straddles two cache lines and streaming stores stay 32 bytes wide. (The
/// upstream kernels write two 16-byte streaming stores there instead, `simd::x86_64::put_mode`:
/// in steady state the two fill memory equally fast, see `simd::nt`; this realignment came
/// from a session-5 A/B on the TL decoders against ordinary stores.) With `NT`, stores inside the whole cache lines of
/// the run (`[lo, hi)`) are streaming (`vmovntps`); the partial lines at its ends may be shared
/// with data written at other times (a neighbouring run) and are stored ordinarily. Stores are
/// issued in address order, so each line's write-combining buffer fills and leaves at once.
pub(super) struct Seq<const NT: bool> {
    /// Where the next vector's first byte goes.
    p: *mut u8,
    /// The previous vector, whose upper half is not stored yet (`shift` only).
    prev: __m256,
    /// `p % 32 == 16`: realign.
    shift: bool,
    /// Whether `prev` holds a vector.
    started: bool,
    /// `NT`: the whole cache lines `[lo, hi)` of the run (byte addresses).
    lo: usize,
    hi: usize,
}

impl<const NT: bool> Seq<NT> {
    /// A run of `bytes` bytes at `p` (16-byte aligned with `NT`).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn new(p: *mut u8, bytes: usize) -> Seq<NT> {
        let a = p as usize;
        let (lo, hi) = if NT { ((a + 63) & !63, (a + bytes) & !63) } else { (0, 0) };
        Seq { p, prev: _mm256_setzero_ps(), shift: a % 32 == 16, started: false, lo, hi }
    }

    /// 32 bytes at `a`: streamed inside the whole lines (32-byte aligned there), else ordinary.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn put32(&self, a: *mut u8, v: __m256) {
        if NT && (self.lo..self.hi).contains(&(a as usize)) {
            stream32(a, v);
        } else {
            _mm256_storeu_ps(a.cast(), v);
        }
    }

    /// 16 bytes at `a`, as [`Seq::put32`].
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn put16(&self, a: *mut u8, v: __m128) {
        if NT && (self.lo..self.hi).contains(&(a as usize)) {
            stream16(a, v);
        } else {
            _mm_storeu_ps(a.cast(), v);
        }
    }

    /// The next 32 bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn push(&mut self, v: __m256) {
        if !self.shift {
            self.put32(self.p, v);
        } else if self.started {
            // [prev.hi, v.lo] at p - 16, 32-byte aligned.
            self.put32(self.p.sub(16), _mm256_permute2f128_ps::<0x21>(self.prev, v));
        } else {
            self.put16(self.p, _mm256_castps256_ps128(v));
            self.started = true;
        }
        self.prev = v;
        self.p = self.p.add(32);
    }

    /// The last 16 bytes of the run (nothing is pushed after them).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn push_last16(&mut self, v: __m128) {
        if self.shift && self.started {
            self.put32(
                self.p.sub(16),
                _mm256_insertf128_ps::<1>(_mm256_permute2f128_ps::<0x11>(self.prev, self.prev), v),
            );
            self.started = false;
        } else {
            self.put16(self.p, v);
        }
        self.p = self.p.add(16);
    }

    /// Stores what is pending (the last vector's upper half).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn finish(self) {
        if self.shift && self.started {
            self.put16(self.p.sub(16), _mm256_extractf128_ps::<1>(self.prev));
        }
    }
}

/// Consecutive 64-byte vectors (16 dword lanes) stored from `p` on with AVX-512, the
/// counterpart of [`Seq`] for the wide TL kernels: with `NT` (`p` 16-byte aligned) every cache
/// line of the run is written by ONE store, in address order — a 64-byte streaming store
/// (`vmovntps zmm`) for each whole line, a masked ordinary store for the partial lines at the
/// ends (shared with data written at other times). For `p % 64 != 0` consecutive vectors are
/// realigned to the lines with one `vpermt2ps` each. Without `NT`, plain unaligned stores at
/// `p` (any alignment). Session 7: one 64-byte streaming store per line instead of two 32-byte
/// ones drains faster on this Zen 4 host (docs/PERFORMANCE.md).
pub(super) struct Seq512<const NT: bool> {
    /// `NT`: the line the next store goes to (64-byte aligned); else the next byte.
    p: *mut u8,
    /// `NT`: the previous vector, whose last `o4` lanes are not stored yet.
    prev: __m512,
    /// `NT`: the run's offset in its first line, in dwords (0, 4, 8 or 12).
    o4: usize,
    /// `NT`: lanes `i < o4` take `prev[16 - o4 + i]`, the others `v[i - o4]`.
    idx: __m512i,
    /// `NT`: no vector pushed yet.
    first: bool,
}

/// Lanes `a..b` of `w` (multiples of 4: whole 16-byte quarters) to the same lanes at `p`, with
/// ordinary 16-byte stores (masked 64-byte stores measured slower at the ends of the TL2 row runs).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn quarters(p: *mut u8, w: __m512, a: usize, b: usize) {
    debug_assert!(a.is_multiple_of(4) && b.is_multiple_of(4) && b <= 16);
    for q in a / 4..b / 4 {
        let x = match q {
            0 => _mm512_castps512_ps128(w),
            1 => _mm512_extractf32x4_ps::<1>(w),
            2 => _mm512_extractf32x4_ps::<2>(w),
            _ => _mm512_extractf32x4_ps::<3>(w),
        };
        _mm_storeu_ps(p.wrapping_add(16 * q).cast(), x);
    }
}

impl<const NT: bool> Seq512<NT> {
    /// A run at `p` (16-byte aligned with `NT`).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn new(p: *mut u8) -> Seq512<NT> {
        let o = p as usize % 64;
        debug_assert!(!NT || o.is_multiple_of(16));
        let o4 = o / 4;
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        // i < o4: 16 - o4 + i (from `prev`); else 16 + (i - o4) (from `v`, bit 4 set): both are
        // i + 16 - o4 modulo 32.
        let idx = _mm512_and_si512(_mm512_add_epi32(lane, _mm512_set1_epi32(16 - o4 as i32)), _mm512_set1_epi32(31));
        let p = if NT { p.wrapping_sub(o) } else { p };
        Seq512 { p, prev: _mm512_setzero_ps(), o4, idx, first: true }
    }

    /// Lanes `a..b` of `w` into the line at `self.p`: one streaming store for a whole line,
    /// else a masked ordinary store (nothing outside the lanes is written).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn line(&self, w: __m512, a: usize, b: usize) {
        if a == 0 && b == 16 {
            _mm512_stream_ps(self.p.cast(), w);
        } else {
            quarters(self.p, w, a, b);
        }
    }

    /// The next 64 bytes.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn push(&mut self, v: __m512) {
        if !NT {
            _mm512_storeu_ps(self.p.cast(), v);
        } else if self.o4 == 0 {
            self.line(v, 0, 16);
        } else {
            let w = _mm512_permutex2var_ps(self.prev, self.idx, v);
            self.line(w, if self.first { self.o4 } else { 0 }, 16);
            self.prev = v;
            self.first = false;
        }
        self.p = self.p.wrapping_add(64);
    }

    /// The last `n` lanes (`n <= 16`, a multiple of 4: the first `n` of `v`) of the run; nothing
    /// is pushed after.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn push_last(mut self, v: __m512, n: usize) {
        debug_assert!(n <= 16);
        if !NT {
            quarters(self.p, v, 0, n);
        } else if self.o4 == 0 {
            self.line(v, 0, n);
        } else {
            let o4 = self.o4;
            let w = _mm512_permutex2var_ps(self.prev, self.idx, v);
            self.line(w, if self.first { o4 } else { 0 }, (o4 + n).min(16));
            if o4 + n > 16 {
                self.p = self.p.wrapping_add(64);
                self.line(_mm512_permutex2var_ps(v, self.idx, v), 0, o4 + n - 16);
            }
        }
    }

    /// Stores what is pending (the last vector's lanes past the last whole line).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn finish(self) {
        if NT && self.o4 != 0 && !self.first {
            self.line(_mm512_permutex2var_ps(self.prev, self.idx, self.prev), 0, self.o4);
        }
    }

    // Runs written in parts, so that a misaligned run (`NT`, `p % 64 != 0`) still writes each
    // line with one streaming store: a run of whole lines' worth of values (multiples of 16)
    // ends with [`Seq512::suspend`] instead of `finish`, and the next part of the same bytes
    // starts with [`Seq512::resume`]; a run that starts where another (written later) ends
    // skips its first, shared line ([`Seq512::skip_first`]) and that other run stores it whole
    // at its end ([`Seq512::close`]). Ordinary stores to such shared lines, written twice far
    // apart in time, each wait for the line to be read from memory: the TL2 decoder with
    // 3 KiB row runs ran at ~50% of the streaming line on a Xeon (Emerald Rapids) with a
    // destination 16 bytes past a line, ~85% 64-byte aligned (docs/PERFORMANCE.md, session 9).

    /// The next part of a run at `p` (`NT`, `p % 64` as that run's start): `carry` is what
    /// [`Seq512::suspend`] returned at its end, exactly at `p`.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn resume(p: *mut u8, carry: __m512) -> Seq512<NT> {
        let mut s = Seq512::new(p);
        s.prev = carry;
        s.first = false;
        s
    }

    /// The first 64 bytes, whose line is not stored (it is shared with the run that ends at
    /// this run's start and stores it with [`Seq512::close`], given `v`).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn skip_first(&mut self, v: __m512) {
        debug_assert!(NT && self.first && self.o4 != 0);
        self.prev = v;
        self.first = false;
        self.p = self.p.wrapping_add(64);
    }

    /// Ends a part of a run (whole vectors pushed since `new` / `resume`) without storing the
    /// pending lanes: they are returned, for [`Seq512::resume`].
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn suspend(self) -> __m512 {
        self.prev
    }

    /// Ends the run at the start of another whose first vector was `next` (given to its
    /// [`Seq512::skip_first`]; the same `p % 64`): their shared line in one streaming store.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    pub(super) unsafe fn close(self, next: __m512) {
        debug_assert!(NT && !self.first && self.o4 != 0);
        self.line(_mm512_permutex2var_ps(self.prev, self.idx, next), 0, 16);
    }
}

/// `i2s_fast::unpack_group128_scalar`: `dst[e] = lut[code_e]` for whole 32-byte blocks
/// (`dst.len() == 4 * payload.len()`); the payload holds no code 3. With `streaming` and a
/// 16-byte-aligned `dst`, non-temporal stores (then an `sfence`).
/// `wide`: the AVX-512 unpacker (the caller checked `simd::avx512()`).
#[target_feature(enable = "avx2")]
pub unsafe fn unpack_group128(payload: &[u8], lut: [f32; 3], dst: &mut [f32], streaming: bool, wide: bool) {
    let bits = [lut[0].to_bits(), lut[1].to_bits(), lut[2].to_bits()];
    unpack_group128_bits(payload, bits, false, crate::quant::simd::f32_bytes_mut(dst), streaming, wide)
}

/// [`unpack_group128`] into bytes: element `e` is `values[code_e]`, as f32 bits (4 bytes LE)
/// or, with `half`, as a 16-bit pattern (2 bytes LE; `values` < 2^16). `dst` (any alignment)
/// holds `4 * payload.len()` elements of that size; streaming as [`unpack_group128`]. Stores go
/// through [`Seq`]: in address order, 32-byte aligned wherever `dst` is 16-byte aligned; with
/// `wide` (the caller checked `simd::avx512()`), [`unpack512`] through [`Seq512`] instead.
#[target_feature(enable = "avx2")]
pub unsafe fn unpack_group128_bits(
    payload: &[u8],
    values: [u32; 3],
    half: bool,
    dst: &mut [u8],
    streaming: bool,
    wide: bool,
) {
    assert!(payload.len().is_multiple_of(32) && dst.len() == 4 * payload.len() * if half { 2 } else { 4 });
    assert!(!half || values.iter().all(|&v| v <= 0xffff));
    let nt = streaming && (dst.as_ptr() as usize).is_multiple_of(16);
    match (wide, nt, half) {
        (false, true, false) => unpack::<true, false>(payload, values, dst),
        (false, false, false) => unpack::<false, false>(payload, values, dst),
        (false, true, true) => unpack::<true, true>(payload, values, dst),
        (false, false, true) => unpack::<false, true>(payload, values, dst),
        (true, true, false) => unpack512::<true, false>(payload, values, dst),
        (true, false, false) => unpack512::<false, false>(payload, values, dst),
        (true, true, true) => unpack512::<true, true>(payload, values, dst),
        (true, false, true) => unpack512::<false, true>(payload, values, dst),
    }
    if nt {
        _mm_sfence();
    }
}

#[target_feature(enable = "avx2")]
unsafe fn unpack<const NT: bool, const H: bool>(payload: &[u8], values: [u32; 3], dst: &mut [u8]) {
    // `vpermps` reads the low 3 bits of each index; bit 2 is the neighbouring code's low bit, so
    // the table repeats itself in entries 4..7 and the codes need no mask.
    let [a, b, c] = values.map(|v| v as i32);
    let table = _mm256_castsi256_ps(_mm256_setr_epi32(a, b, c, 0, a, b, c, 0));
    let s = payload.as_ptr();
    let mut out = Seq::<NT>::new(dst.as_mut_ptr(), dst.len());
    let shifts = [6, 4, 2, 0].map(|n| _mm_cvtsi32_si128(n));
    for blk in 0..payload.len() / 32 {
        let src = s.add(32 * blk);
        // Byte p of the block holds elements p, 32 + p, 64 + p, 96 + p (fields f = 0..4): the
        // 32 bytes widened to eight lanes at a time, then field by field, so the stores run in
        // address order.
        let q = [0, 1, 2, 3].map(|q| _mm256_cvtepu8_epi32(_mm_loadl_epi64(src.add(8 * q).cast())));
        for &sh in &shifts {
            let v = q.map(|b| _mm256_permutevar8x32_ps(table, _mm256_srl_epi32(b, sh)));
            if H {
                // 16 values per 32-byte store; the patterns are < 2^16 (no saturation) and the
                // qword permute restores order.
                for h in 0..2 {
                    let (v0, v1) = (_mm256_castps_si256(v[2 * h]), _mm256_castps_si256(v[2 * h + 1]));
                    let w = _mm256_permute4x64_epi64::<0xd8>(_mm256_packus_epi32(v0, v1));
                    out.push(_mm256_castsi256_ps(w));
                }
            } else {
                for x in v {
                    out.push(x);
                }
            }
        }
    }
    out.finish();
}

/// [`unpack`] with AVX-512: sixteen values per vector (`vpermps` zmm into the three values
/// repeated four times: the index's bits 2..3 are the next code, as in the AVX2 table), and
/// each cache line written by one store through [`Seq512`]; 16-bit patterns packed with
/// `vpmovdw`, 32 values per store. The same values in the same order, so the same bytes.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn unpack512<const NT: bool, const H: bool>(payload: &[u8], values: [u32; 3], dst: &mut [u8]) {
    let [a, b, c] = values.map(|v| v as i32);
    let table = _mm512_castsi512_ps(_mm512_setr_epi32(a, b, c, 0, a, b, c, 0, a, b, c, 0, a, b, c, 0));
    let s = payload.as_ptr();
    let mut out = Seq512::<NT>::new(dst.as_mut_ptr());
    let shifts = [6, 4, 2, 0].map(|n| _mm_cvtsi32_si128(n));
    for blk in 0..payload.len() / 32 {
        let src = s.add(32 * blk);
        // Byte p of the block holds elements p, 32 + p, 64 + p, 96 + p: field by field, 32
        // values (two vectors) each, in address order.
        let q = [0, 1].map(|h| _mm512_cvtepu8_epi32(_mm_loadu_si128(src.add(16 * h).cast())));
        for &sh in &shifts {
            let v = q.map(|b| _mm512_permutexvar_ps(_mm512_srl_epi32(b, sh), table));
            if H {
                let lo = _mm512_cvtepi32_epi16(_mm512_castps_si512(v[0]));
                let hi = _mm512_cvtepi32_epi16(_mm512_castps_si512(v[1]));
                out.push(_mm512_castsi512_ps(_mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)));
            } else {
                out.push(v[0]);
                out.push(v[1]);
            }
        }
    }
    out.finish();
}

/// Whether any byte of `payload` holds code 3 in one of its four fields.
#[target_feature(enable = "avx2")]
pub unsafe fn any_code3(payload: &[u8]) -> bool {
    let m55 = _mm256_set1_epi8(0x55);
    let mut acc = _mm256_setzero_si256();
    let chunks = payload.len() / 32;
    let p = payload.as_ptr();
    for c in 0..chunks {
        if c % 2 == 0 {
            read_ahead(p.add(32 * c).cast()); // 4 KiB ahead, a line per two steps
        }
        let b = _mm256_loadu_si256(p.add(32 * c).cast());
        // b & (b >> 1) & 0x55 per byte (the 16-bit shift's carried bit lands on an odd bit,
        // which the 0x55 mask drops).
        acc = _mm256_or_si256(acc, _mm256_and_si256(_mm256_and_si256(b, _mm256_srli_epi16::<1>(b)), m55));
    }
    _mm256_testz_si256(acc, acc) == 0 || payload[32 * chunks..].iter().any(|&b| b & (b >> 1) & 0x55 != 0)
}

/// `i2s_fast::half_to_f32_scalar` for f16 (`bf16 == false`) or bf16: `src` holds
/// `dst.len()` little-endian halves. F16C's conversion equals `float::f16_to_f32` except that a
/// signalling NaN comes out quiet, which no quantizer distinguishes (NaN is rejected by absmean
/// and is code 0 under sign-max either way).
#[target_feature(enable = "avx2,f16c")]
pub unsafe fn half_to_f32(src: &[u8], bf16: bool, dst: &mut [f32]) {
    assert_eq!(src.len(), 2 * dst.len());
    let n8 = dst.len() / 8;
    let s = src.as_ptr();
    let d = dst.as_mut_ptr();
    for i in 0..n8 {
        if i % 4 == 0 {
            read_ahead(s.add(16 * i).cast()); // 4 KiB ahead, a line per four steps
        }
        let h = _mm_loadu_si128(s.add(16 * i).cast());
        let v = if bf16 {
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
        } else {
            _mm256_cvtph_ps(h)
        };
        _mm256_storeu_ps(d.add(8 * i), v);
    }
    super::i2s_fast::half_to_f32_scalar(&src[16 * n8..], bf16, &mut dst[8 * n8..]);
}
