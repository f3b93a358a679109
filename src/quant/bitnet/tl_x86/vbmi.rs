//! The 16-bit expansion of the wide TL kernels with AVX-512 VBMI ([`super::Expand::Vbmi`]): 32
//! values, one 64-byte store, from one `vpmultishiftqb` and one `vpermd`, where the AVX-512
//! expansion ([`super::tl1_row512`] / [`super::tl2_row512`] / [`super::tl2c_row512`]) looks up
//! two vectors of sixteen 32-bit lanes and packs them (`vpackusdw` + `vpermq`): half the
//! shuffle-port work per store.
//!
//! A store's 32 values are 16 pairs, one per 32-bit lane: lane `i` holds values `2i`, `2i + 1`.
//! The staged words are broadcast so that each 64-bit element of the source holds the word with
//! the lane's two values; `vpmultishiftqb` brings their 4-bit field to the lane's bits 0..4,
//! and `vpermd`, which reads only those four bits, looks the pair up in a 16-entry table of
//! two 16-bit patterns, the same patterns the other kernels store. Values that do not fill
//! whole stores are looked up one per lane, in the same run.
//!
//! - TL1 ([`tl1_stage_nib`], [`tl1_row512n`]): one `vpermt2b` per 16 rows x 16 columns moves
//!   the file's bytes into the row words, so each 4-bit field is a pair index (0..=8), looked
//!   up whole in a table of the nine pairs' patterns.
//! - TL2's three part ([`tl2_stage_chunk`], [`tl2_row512p`]): each group (24 columns, 32 rows)
//!   becomes one 64-bit word per row, a byte of three 2-bit codes per triple (byte permutes
//!   gather each row's eight (index, sign) keys, one `vpermb` turns them into codes), where
//!   the AVX2 staging builds three words per row and group in about a hundred 256-bit
//!   operations; the expansion's `vpmultishiftqb` brings each value's code to its 16-bit lane
//!   and a `vpermw` looks it up (one value per lane: a triple's codes do not split into the
//!   4-bit pairs the other kernels look up).
//! - TL2's two part ([`tl2c_row512v`]): the AVX2 staging's code words, as the pairs.

use std::arch::x86_64::*;

use super::{in_pieces, Ends, Run512, Tail};
use crate::quant::bitnet::tl1::pair;
use crate::quant::bitnet::tl2::rowperm;

/// The pair table of the 4-entry table `t` (16-bit patterns in the low halves): entry
/// `c0 | c1 << 2` is `t[c0] | t[c1] << 16`.
fn pairs16(t: &[u32; 4]) -> [u32; 16] {
    std::array::from_fn(|e| (t[e & 3] & 0xffff) | (t[e >> 2] & 0xffff) << 16)
}

/// The multishift control whose lane `i` brings bits `at(i)..at(i) + 4` of its 64-bit element
/// (of its first `bits` bits: 32 where the element holds a 32-bit word twice) to bits 0..4
/// (only byte 0 of each lane matters to the lookup).
fn control(bits: usize, at: impl Fn(usize) -> usize) -> [u32; 16] {
    std::array::from_fn(|i| {
        let a = at(i);
        debug_assert!(a + 4 <= bits);
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

/// Items of the source laid out in k-blocks, walked in order without a division per item: item
/// `v` of the block at `block` is `v * size` bytes into it, a block holds `per_block` items, and
/// the next block starts `jstride` bytes on. A TL1 chunk's pairs (8 columns, two column quads,
/// 16 rows; `size = 128 / Q`, `Q` as [`super::tl1_impl`]'s) for [`tl1_stage_nib`]; a TL2
/// chunk's groups for [`tl2_stage_chunk`] (one walk through the section-A bytes, `size` 128,
/// and one through the sign bytes, 32).
#[derive(Clone, Copy)]
pub(super) struct Walk {
    pub(super) block: *const u8,
    pub(super) v: usize,
    pub(super) per_block: usize,
    pub(super) size: usize,
    pub(super) jstride: usize,
}

impl Walk {
    /// The address of the current item (computed wrapping: a walk may be stepped past the
    /// source, for prefetch hints), then on to the next.
    #[inline]
    pub(super) fn next(&mut self) -> *const u8 {
        let at = self.block.wrapping_add(self.v * self.size);
        self.v += 1;
        if self.v == self.per_block {
            (self.block, self.v) = (self.block.wrapping_add(self.jstride), 0);
        }
        at
    }
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
pub(super) unsafe fn tl1_stage_nib<const Q: usize>(mut walk: Walk, np: usize, w: *mut [u32; 16]) {
    let index = const { [nib_index(1), nib_index(2)] };
    let idx = _mm512_loadu_si512(index[Q - 1].as_ptr().cast());
    debug_assert!(walk.v < walk.per_block && walk.size == 128 / Q);
    // The two quads of the pair at `at` for rows 0..16: contiguous (Q = 2), or 64 bytes apart
    // (Q = 1).
    let quads = |at: *const u8| {
        if Q == 2 {
            _mm256_loadu_si256(at.cast())
        } else {
            _mm256_loadu2_m128i(at.add(64).cast(), at.cast())
        }
    };
    for t in 0..np / 2 {
        let (a, b) = (quads(walk.next()), quads(walk.next()));
        let v = _mm512_permutex2var_epi8(_mm512_castsi256_si512(a), idx, _mm512_castsi256_si512(b));
        _mm512_storeu_si512(w.add(t).cast(), v);
    }
    if np % 2 == 1 {
        let a = _mm512_castsi256_si512(quads(walk.next()));
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
            ctl: control(32, |i| 8 * ((i % 8) / 2) + 4 * (1 - i % 2)),
            pairs: std::array::from_fn(|e| value(trits(e).0) | value(trits(e).1) << 16),
            ctl1: control(32, |i| 8 * (i / 4) + 4 * (1 - (i % 4) / 2)),
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
) {
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
        return;
    }
    ends.keep(run.end(ends.tail))
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
) {
    debug_assert!(!ends.skip);
    let ctl = load16(&control(32, |i| 2 * (2 * i % 16)));
    let pairs = load16(&pairs16(table));
    let mut run = Run512::<NT, true>::new(out, &ends);
    for [w0, w1] in &stage[..n] {
        run.push_whole(lookup(words2(w0.as_ptr().add(si), 0xff00, w1.as_ptr().add(si)), ctl, pairs));
    }
    ends.keep(run.end(ends.tail))
}

/// TL2 groups staged by [`tl2_stage_packed`]: per row (of 32, in natural order), the codes of
/// the group's 8 triples, byte `q` for triple `q` (columns `3q..3q + 3` at bits 0..2, 2..4,
/// 4..6): column `c`'s code at bit [`code_at`]`(c)`.
pub(super) type Packed = [u64; 32];

/// Where column `c` (0..24) of a group's row word ([`Packed`]) has its code.
const fn code_at(c: usize) -> usize {
    8 * (c / 3) + 2 * (c % 3)
}

/// [`tl2_stage_packed`]'s code table: entry `idx | neg << 4` (bit 5 ignored, so the table is
/// repeated) is triple `idx`'s codes ([`super::TRIPLE_CODES`]), negated (each code ^ 3) with
/// `neg`.
const fn key_codes() -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut e = 0;
    while e < 64 {
        t[e] = super::TRIPLE_CODES[e & 15] ^ if e & 16 != 0 { 0x3f } else { 0 };
        e += 1;
    }
    t
}

/// [`tl2_stage_packed`]'s byte permutes for the eight rows `8k..8k + 8` (qword `i`: row
/// `8k + i`; byte `q`: triple `q`): from the group's 128 section-A bytes, the byte holding the
/// row's triple `q` (`32 * (q / 2) + rowperm(row)`, §5.4); from its sign bytes (twice over),
/// the two bytes of the row's sign word (`row % 16`) in every byte pair.
const fn packed_index(k: usize) -> ([u8; 64], [u8; 64]) {
    let (mut a, mut s) = ([0u8; 64], [0u8; 64]);
    let mut b = 0;
    while b < 64 {
        let (row, q) = (8 * k + b / 8, b % 8);
        a[b] = (32 * (q / 2) + rowperm(row)) as u8;
        s[b] = (2 * (row % 16) + b % 2) as u8;
        b += 1;
    }
    (a, s)
}

/// [`tl2_stage_packed`]'s multishift controls for rows `8k..8k + 8`: byte `q` of a row's qword
/// takes triple `q`'s nibble to bits 0..4 (the high nibble of byte `q` for even `q`, the low
/// one for odd), and from the sign word (repeated every 16 bits) its sign bit to bit 4: bit
/// `15 - (2q + h)` for rows `16h..16h + 16` (§5.4).
const fn packed_shifts(k: usize) -> ([u8; 64], [u8; 64]) {
    let (mut nib, mut sign) = ([0u8; 64], [0u8; 64]);
    let mut b = 0;
    while b < 64 {
        let (h, q) = (k / 2, b % 8);
        nib[b] = (8 * q + if q % 2 == 0 { 4 } else { 0 }) as u8;
        sign[b] = (16 + 15 - (2 * q + h) - 4) as u8;
        b += 1;
    }
    (nib, sign)
}

/// Stage one TL2 group (24 columns, 32 rows) for [`tl2_row512p`]: its 128 section-A bytes at
/// `a` and 32 sign bytes at `s` (§5.4; every index ≤ 13, checked before) into `out`, row `r`'s
/// codes in `out[r]` ([`Packed`]). Per eight rows: a `vpermt2b` gathers each row's four index
/// bytes (one per triple pair), a `vpermb` its sign word, two `vpmultishiftqb` bring each
/// triple's index and sign bit together (`vpternlogd`), and a `vpermb` looks the key's codes
/// up: six operations per eight rows (packing the codes into 48 bits, as session 12 did, took
/// four more).
// SAFETY: `a` valid for 128 bytes, `s` for 32.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
#[inline]
pub(super) unsafe fn tl2_stage_packed(a: *const u8, s: *const u8, out: &mut Packed) {
    const IDX: [([u8; 64], [u8; 64]); 4] = [packed_index(0), packed_index(1), packed_index(2), packed_index(3)];
    const SH: [([u8; 64], [u8; 64]); 2] = [packed_shifts(0), packed_shifts(2)];
    const CODES: [u8; 64] = key_codes();
    let ld = |t: &[u8; 64]| _mm512_loadu_si512(t.as_ptr().cast());
    let (a0, a1) = (_mm512_loadu_si512(a.cast()), _mm512_loadu_si512(a.add(64).cast()));
    let signs = _mm512_broadcast_i64x4(_mm256_loadu_si256(s.cast()));
    let codes = ld(&CODES);
    for (k, (ia, is)) in IDX.iter().enumerate() {
        let (nib_sh, sign_sh) = &SH[k / 2];
        let nib = _mm512_multishift_epi64_epi8(ld(nib_sh), _mm512_permutex2var_epi8(a0, ld(ia), a1));
        let sign = _mm512_multishift_epi64_epi8(ld(sign_sh), _mm512_permutexvar_epi8(ld(is), signs));
        // Bits 0..4 from the nibble, 4.. from the sign (bit 4; bit 5, also the sign byte's, is
        // ignored by the lookup).
        let key = _mm512_ternarylogic_epi32::<0xE4>(nib, sign, _mm512_set1_epi8(0x0f));
        _mm512_storeu_si512(out.as_mut_ptr().add(8 * k).cast(), _mm512_permutexvar_epi8(key, codes));
    }
}

/// [`tl2_stage_packed`] for the `out.len()` groups of a chunk, their section-A bytes and sign
/// bytes walked by `a` and `s` ([`Walk`]), in one loop (its tables stay in registers); with
/// `ahead`, group `x + 8`'s source is prefetched into L2 while group `x` is staged (for a row
/// group's first chunk, whose source nothing fetched before).
// SAFETY: every group the walks name (`out.len()` of them) lies in the source; prefetches are
// hints.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl2_stage_chunk(mut a: Walk, mut s: Walk, out: &mut [Packed], ahead: bool) {
    debug_assert!(a.size == 128 && s.size == 32 && a.v == s.v && a.per_block == s.per_block);
    let n = out.len();
    // The walks 8 groups on, for the prefetches.
    let (mut pa, mut ps) = (a, s);
    if ahead {
        for _ in 0..8 {
            pa.next();
            ps.next();
        }
    }
    for (x, o) in out.iter_mut().enumerate() {
        if ahead && x + 8 < n {
            let (at, st) = (pa.next(), ps.next());
            _mm_prefetch::<_MM_HINT_T1>(at.cast());
            _mm_prefetch::<_MM_HINT_T1>(at.wrapping_add(64).cast());
            _mm_prefetch::<_MM_HINT_T1>(st.cast());
        }
        tl2_stage_packed(a.next(), s.next(), o);
    }
}

/// The multishift control of 32 16-bit values: the low byte of lane `i` takes bits
/// `at(i)..at(i) + 8` of its 64-bit element (lanes `4e..4e + 4` are element `e`).
fn control16(at: impl Fn(usize) -> usize) -> [u32; 16] {
    std::array::from_fn(|i| {
        let (a, b) = (at(2 * i), at(2 * i + 1));
        debug_assert!(a < 64 && b < 64);
        (a | b << 16) as u32
    })
}

/// [`super::tl2_row512`] for 16-bit outputs with VBMI from [`tl2_stage_packed`]'s groups (the
/// same values and stores): row `row` of groups `0..n` of `stage`, four groups (96 columns) per
/// three stores, each a `vpmultishiftqb` (each value's code to the low bits of its 16-bit lane)
/// and a `vpermw` over the two row words it takes from.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
pub(super) unsafe fn tl2_row512p<const NT: bool>(
    stage: &[Packed],
    n: usize,
    row: usize,
    table: &[u32; 4],
    out: *mut u8,
    ends: Ends,
) {
    // Value i of a store: store 1 holds group 0's 24 columns | group 1's first 8; store 2 group
    // 1's last 16 | group 2's first 16; store 3 group 2's last 8 | group 3's 24.
    let c1 = load16(&control16(|i| code_at(if i < 24 { i } else { i - 24 })));
    let c2 = load16(&control16(|i| code_at(if i < 16 { 8 + i } else { i - 16 })));
    let c3 = load16(&control16(|i| code_at(if i < 8 { 16 + i } else { i - 8 })));
    // 32 16-bit patterns, entry `e` for code `e & 3` (`vpermw` reads five index bits: the
    // code's two and three above them, which the repetition ignores).
    let table32 =
        load16(&std::array::from_fn(|i| (table[(2 * i) & 3] & 0xffff) | (table[(2 * i + 1) & 3] & 0xffff) << 16));
    // Group `g`'s word in every qword, then group `h`'s in the qwords of `mask`.
    let two = |g: &Packed, mask: __mmask8, h: &Packed| {
        _mm512_mask_set1_epi64(_mm512_set1_epi64(g[row] as i64), mask, h[row] as i64)
    };
    let look = |src: __m512i, ctl: __m512i| {
        _mm512_castsi512_ps(_mm512_permutexvar_epi16(_mm512_multishift_epi64_epi8(ctl, src), table32))
    };
    let mut run = Run512::<NT, true>::new(out, &ends);
    let nq = n / 4;
    for quad in stage[..4 * nq].chunks_exact(4) {
        run.push_whole(look(two(&quad[0], 0xc0, &quad[1]), c1));
        run.push_whole(look(two(&quad[1], 0xf0, &quad[2]), c2));
        run.push_whole(look(two(&quad[2], 0xfc, &quad[3]), c3));
    }
    let rest = &stage[4 * nq..n];
    if !rest.is_empty() {
        // One to three groups left (`n % 4`): not whole stores, so only a run of its own, 16
        // values at a time (one value per 32-bit lane: code `e & 3` of entry `e`).
        debug_assert!(ends.resume.is_none() && !ends.skip && matches!(ends.tail, Tail::Finish));
        let single = load16(&std::array::from_fn(|e| table[e & 3] & 0xffff));
        let values = |src: __m512i, at: fn(usize) -> usize| {
            _mm512_castsi512_ps(_mm512_permutexvar_epi32(
                _mm512_multishift_epi64_epi8(load16(&control(64, at)), src),
                single,
            ))
        };
        for pair in rest.chunks_exact(2) {
            let (g, h) = (&pair[0], &pair[1]);
            run.push(values(two(g, 0, g), code_at));
            run.push(values(two(g, 0xf0, h), |i| code_at(if i < 8 { 16 + i } else { i - 8 })));
            run.push(values(two(h, 0, h), |i| code_at(8 + i)));
        }
        if let [.., g] = rest.chunks_exact(2).remainder() {
            run.push(values(two(g, 0, g), code_at));
            run.push_last(values(two(g, 0, g), |i| code_at(16 + i % 8)), 8);
            return;
        }
    }
    ends.keep(run.end(ends.tail))
}
