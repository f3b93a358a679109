//! The 16-bit expansion of the wide TL kernels with AVX-512 VBMI ([`super::Expand::Vbmi`]): 32
//! values, one 64-byte store, from one `vpmultishiftqb` and one `vpermd`, where the AVX-512
//! expansion ([`super::tl1_row512`] / [`super::tl2_row512`] / [`super::tl2c_row512`]) looks up
//! two vectors of sixteen 32-bit lanes and packs them (`vpackusdw` + `vpermq`): half the
//! shuffle-port work per store.
//!
//! A store's 32 values are 16 pairs, one per 32-bit lane: lane `i` holds values `2i`, `2i + 1`.
//! The staged words (2-bit codes) are broadcast so that each 64-bit element of the source holds,
//! in its low half, the word with the codes of its four values; `vpmultishiftqb` brings the two
//! codes of lane `i` (adjacent fields of that word) to the lane's bits 0..4, and `vpermd`, which
//! reads only those four bits, looks the pair up in a 16-entry table whose entry `c0 | c1 << 2`
//! holds the 16-bit patterns of codes `c0` (low half) and `c1` ([`pairs16`]), the same patterns
//! the other kernels store. Groups that do not fill whole stores go through the AVX-512
//! expansion, in the same run.
//!
//! TL1 skips the codes: its staging ([`tl1_stage_nib`]) moves the file's bytes into the row
//! words with one `vpermt2b` per 16 rows x 16 columns, so each 4-bit field of a
//! word is a pair index (0..=8), and [`tl1_row512n`] looks each lane's index up whole in a table
//! of the nine pairs' patterns.

use std::arch::x86_64::*;

use super::{in_pieces, tl1_tail512, tl2_tail512, Ends, Run512, Tail};
use crate::quant::bitnet::tl1::pair;

/// The pair table of the 4-entry table `t` (16-bit patterns in the low halves): entry
/// `c0 | c1 << 2` is `t[c0] | t[c1] << 16`.
fn pairs16(t: &[u32; 4]) -> [u32; 16] {
    std::array::from_fn(|e| (t[e & 3] & 0xffff) | (t[e >> 2] & 0xffff) << 16)
}

/// The multishift control whose lane `i` brings bits `at(i)..at(i) + 4` of the low half of its
/// 64-bit element to bits 0..4 (only byte 0 of each lane matters to the lookup).
fn control(at: impl Fn(usize) -> usize) -> [u32; 16] {
    std::array::from_fn(|i| {
        let a = at(i);
        debug_assert!(a + 4 <= 32);
        a as u32
    })
}

#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
#[inline]
unsafe fn load16(t: &[u32; 16]) -> __m512i {
    _mm512_loadu_si512(t.as_ptr().cast())
}

/// The 32 values (16-bit patterns) of `src` under `ctl`, looked up in `pairs` ([`pairs16`]).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
#[inline]
unsafe fn lookup(src: __m512i, ctl: __m512i, pairs: __m512i) -> __m512 {
    _mm512_castsi512_ps(_mm512_permutexvar_epi32(_mm512_multishift_epi64_epi8(ctl, src), pairs))
}

/// The word at `w` in every lane, then the word at `x` in the lanes of `mask`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
#[inline]
unsafe fn words2(w: *const u32, mask: __mmask16, x: *const u32) -> __m512i {
    _mm512_mask_set1_epi32(_mm512_set1_epi32(w.read() as i32), mask, x.read() as i32)
}

/// [`super::tl1_row512`] for 16-bit outputs with VBMI (the same arguments, values and stores):
/// two staged words (32 columns) per store.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl1_row512v<const Q: usize, const NT: bool>(
    words: *const u32,
    nw: usize,
    odd: bool,
    table: &[u32; 4],
    out: *mut u8,
    pieces: usize,
    step: impl FnMut(usize),
    ends: Ends,
) -> (__m512, __m512) {
    // Column `o` of a word is field `o` (Q = 1), or with Q = 2 its quads in byte order
    // (0, 2, 1, 3): columns 4..8 are fields 8..12 and 8..12 fields 4..8.
    let field = |o: usize| if Q == 2 { [0, 8, 4, 12][o / 4] + o % 4 } else { o };
    let ctl = load16(&control(|i| 2 * field(2 * i % 16)));
    let pairs = load16(&pairs16(table));
    let mut run = Run512::<NT, true>::new(out, &ends);
    let np = nw / 2;
    in_pieces(np, pieces, step, |u| {
        let w = words.add(32 * u);
        run.push_whole(lookup(words2(w, 0xff00, w.add(16)), ctl, pairs));
    });
    tl1_tail512::<Q, NT, true>(run, words.add(32 * np), nw % 2, odd, table, ends)
}

/// [`tl1_stage_nib`]'s `vpermt2b` indices for `Q` ([`super::tl1_impl`]'s): byte `4L + x` of a
/// slot is quad `x` of the row in lane `L` (`Q = 2`: row `L` with bits 2 and 3 swapped, the
/// lanes [`super::tl1_stage`] uses; `Q = 1`: row `L`). Each of the two sources holds two quads
/// for rows 0..16 (16 bytes each): quads 0, 1 in the first, 2, 3 in the second (index bit 6).
const fn nib_index(q: usize) -> [u8; 64] {
    let mut idx = [0u8; 64];
    let mut b = 0;
    while b < 64 {
        let (l, x) = (b / 4, b % 4);
        let s = if q == 2 { (l & 3) | ((l & 4) << 1) | ((l & 8) >> 1) } else { l };
        idx[b] = ((x / 2) * 64 + (x % 2) * 16 + s) as u8;
        b += 1;
    }
    idx
}

/// Where the pairs (8 columns, two column quads) of a TL1 chunk lie for [`tl1_stage_nib`]
/// (16 rows): the chunk starts at pair `v0` of the k-block whose pair 0 is at `block`; the
/// pairs of a block are `128 / Q` bytes apart (`Q` as [`super::tl1_impl`]'s), a block holds
/// `ppb` of them, and the next block's pair 0 is `jstride` bytes on.
pub(super) struct PairWalk {
    pub(super) block: *const u8,
    pub(super) v0: usize,
    pub(super) ppb: usize,
    pub(super) jstride: usize,
}

/// TL1 staging of a chunk of `np` pairs laid out as `walk` says, for [`tl1_row512n`]: slot `t`
/// of `w` gets, in each lane (the rows in [`super::tl1_stage`]'s lanes), the four bytes of
/// columns `16t..16t + 16` of that row as they are in the file: byte `x` is column quad
/// `4t + x`, its high nibble the pair index of the quad's first two columns. One `vpermt2b` per
/// slot where `tl1_stage` turns each nibble into two codes and interleaves them in ten
/// shuffles. The pairs' addresses are walked as they are loaded: a table of them filled first
/// (as [`super::tl1_stage`] has) cost 3% of the one-thread decode and 6% of the two-thread one.
// SAFETY: the source is valid for 32 bytes (Q = 2) / 16 bytes and 16 more 64 bytes on (Q = 1)
// at each of the `np` pairs `walk` names; `w` valid for `np.div_ceil(2)` slots.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl1_stage_nib<const Q: usize>(walk: PairWalk, np: usize, w: *mut [u32; 16]) {
    let index = const { [nib_index(1), nib_index(2)] };
    let idx = _mm512_loadu_si512(index[Q - 1].as_ptr().cast());
    let PairWalk { mut block, v0: mut v, ppb, jstride } = walk;
    debug_assert!(v < ppb);
    // The two quads of the pair at `at` for rows 0..16: contiguous (Q = 2), or 64 bytes apart
    // (Q = 1).
    let quads = |at: *const u8| {
        if Q == 2 {
            _mm256_loadu_si256(at.cast())
        } else {
            _mm256_loadu2_m128i(at.add(64).cast(), at.cast())
        }
    };
    // The next pair: pair `v` of `block`.
    let mut next = || {
        let a = block.wrapping_add(v * (128 / Q));
        v += 1;
        if v == ppb {
            (block, v) = (block.wrapping_add(jstride), 0);
        }
        a
    };
    for t in 0..np / 2 {
        let (a, b) = (quads(next()), quads(next()));
        let v = _mm512_permutex2var_epi8(_mm512_castsi256_si512(a), idx, _mm512_castsi256_si512(b));
        _mm512_storeu_si512(w.add(t).cast(), v);
    }
    if np % 2 == 1 {
        let a = _mm512_castsi256_si512(quads(next()));
        _mm512_storeu_si512(w.add(np / 2).cast(), _mm512_permutex2var_epi8(a, idx, a));
    }
}

/// The tables of [`tl1_row512n`], built once per row group from the 4-entry table of 16-bit
/// patterns (codes trit + 1).
pub(super) struct NibTables {
    /// Multishift control of a store: lane `i` (columns `2i`, `2i + 1`) takes pair
    /// `(i % 8) % 2` of quad `(i % 8) / 2` of the first word (lanes 0..8) or the second, the
    /// high nibble first.
    ctl: [u32; 16],
    /// Entry `e` (a pair index ≤ 8): the patterns of its two trits.
    pairs: [u32; 16],
    /// Multishift control of single values: lane `i` (column `i`) is trit `i % 2` of pair
    /// `(i % 4) / 2` of quad `i / 4`.
    ctl1: [u32; 16],
    /// The patterns of the first / second trit of each pair index.
    trits: [[u32; 16]; 2],
}

impl NibTables {
    pub(super) fn new(table: &[u32; 4]) -> NibTables {
        let value = |t: i8| table[(t + 1) as usize] & 0xffff;
        let trits = |e: usize| pair(e.min(8) as u8);
        NibTables {
            ctl: control(|i| 8 * ((i % 8) / 2) + 4 * (1 - i % 2)),
            pairs: std::array::from_fn(|e| value(trits(e).0) | value(trits(e).1) << 16),
            ctl1: control(|i| 8 * (i / 4) + 4 * (1 - (i % 4) / 2)),
            trits: [std::array::from_fn(|e| value(trits(e).0)), std::array::from_fn(|e| value(trits(e).1))],
        }
    }
}

/// [`super::tl1_row512`] for 16-bit outputs with VBMI from [`tl1_stage_nib`]'s slots (pair
/// indices rather than codes; the same values and stores): two words (32 columns) per store,
/// each lane's pair index looked up whole in the nine pairs' patterns; the word and half word
/// that do not fill a store through the single values' tables (index nibble | trit << 4).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl1_row512n<const NT: bool>(
    words: *const u32,
    nw: usize,
    odd: bool,
    tables: &NibTables,
    out: *mut u8,
    pieces: usize,
    step: impl FnMut(usize),
    ends: Ends,
) -> (__m512, __m512) {
    let (ctl, pairs) = (load16(&tables.ctl), load16(&tables.pairs));
    let mut run = Run512::<NT, true>::new(out, &ends);
    let np = nw / 2;
    in_pieces(np, pieces, step, |u| {
        let w = words.add(32 * u);
        run.push_whole(lookup(words2(w, 0xff00, w.add(16)), ctl, pairs));
    });
    let single = |w: *const u32| {
        let codes = _mm512_multishift_epi64_epi8(load16(&tables.ctl1), _mm512_set1_epi32(w.read() as i32));
        let half = _mm512_setr_epi32(0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16);
        let at = _mm512_or_si512(_mm512_and_si512(codes, _mm512_set1_epi32(15)), half);
        _mm512_castsi512_ps(_mm512_permutex2var_epi32(load16(&tables.trits[0]), at, load16(&tables.trits[1])))
    };
    let w = words.add(32 * np);
    if nw % 2 == 1 {
        run.push(single(w));
    }
    if odd {
        // Half a word at the end: not whole stores, so only a run of its own.
        debug_assert!(ends.resume.is_none() && !ends.skip && matches!(ends.tail, Tail::Finish));
        run.push_last(single(w.add(16 * (nw % 2))), 8);
        return (_mm512_setzero_ps(), _mm512_setzero_ps());
    }
    run.end(ends.tail)
}

/// [`super::tl2_row512`] for 16-bit outputs with VBMI (the same arguments, values and stores):
/// four groups (96 columns, words A' and M of each) per three stores.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl2_row512v<const NT: bool>(
    stage: &[[[u32; 32]; 3]],
    n: usize,
    si: usize,
    table: &[u32; 4],
    out: *mut u8,
    ends: Ends,
) -> (__m512, __m512) {
    // Per group: columns 0..16 are fields 0..16 of A', 16..24 fields 8..16 of M; M's fields
    // 0..16 are columns 8..24. Store 1: A'(g0) | M(g0) 8.. | A'(g1) ..8; store 2: M(g1) |
    // A'(g2); store 3: M(g2) 8.. | A'(g3) | M(g3) 8.. (lane i: values 2i, 2i + 1).
    let c1 = load16(&control(|i| {
        2 * match i {
            0..8 => 2 * i,
            8..12 => 2 * i - 8,
            _ => 2 * i - 24,
        }
    }));
    let c2 = load16(&control(|i| 2 * if i < 8 { 2 * i } else { 2 * i - 16 }));
    let c3 = load16(&control(|i| {
        2 * match i {
            0..4 => 8 + 2 * i,
            4..12 => 2 * i - 8,
            _ => 2 * i - 16,
        }
    }));
    let pairs = load16(&pairs16(table));
    let mut run = Run512::<NT, true>::new(out, &ends);
    let nq = n / 4;
    for quad in stage[..4 * nq].chunks_exact(4) {
        let w = |g: usize, x: usize| quad[g][x].as_ptr().add(si);
        let (a0, m0, a1, m1, a2, m2, a3, m3) = (w(0, 0), w(0, 1), w(1, 0), w(1, 1), w(2, 0), w(2, 1), w(3, 0), w(3, 1));
        let s1 = _mm512_mask_set1_epi32(words2(a0, 0x0f00, m0), 0xf000, a1.read() as i32);
        run.push_whole(lookup(s1, c1, pairs));
        run.push_whole(lookup(words2(m1, 0xff00, a2), c2, pairs));
        let s3 = _mm512_mask_set1_epi32(words2(m2, 0x0ff0, a3), 0xf000, m3.read() as i32);
        run.push_whole(lookup(s3, c3, pairs));
    }
    tl2_tail512::<NT, true>(run, &stage[4 * nq..n], si, table, ends)
}

/// [`super::tl2c_row512`] for 16-bit outputs with VBMI (the same arguments, values and
/// stores): one store per block (two words of 16 columns).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl2c_row512v<const NT: bool>(
    stage: &[[[u32; 32]; 2]],
    n: usize,
    si: usize,
    table: &[u32; 4],
    out: *mut u8,
    ends: Ends,
) -> __m512 {
    debug_assert!(!ends.skip);
    let ctl = load16(&control(|i| 2 * (2 * i % 16)));
    let pairs = load16(&pairs16(table));
    let mut run = Run512::<NT, true>::new(out, &ends);
    for [w0, w1] in &stage[..n] {
        run.push_whole(lookup(words2(w0.as_ptr().add(si), 0xff00, w1.as_ptr().add(si)), ctl, pairs));
    }
    run.end(ends.tail).1
}
