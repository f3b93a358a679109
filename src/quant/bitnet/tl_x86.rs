//! AVX2 and AVX-512 kernels of [`super::tl_fast`]: TL1 and TL2 tile blocks, bit-exact with the
//! scalar tile walk ([`super::decode_tl1`] / [`super::decode_tl2`], through `tl_fast`'s tests
//! and tests/bitnet_tl_simd.rs, which run both kernel sets).
//!
//! Every kernel works in two passes per tile block:
//! 1. **staging** (AVX2 in both sets): the block's bytes (and TL2 sign words) become, per row,
//!    32-bit words of 2-bit value codes, 8 to 16 consecutive columns per word (`pshufb` from the
//!    pair / triple index, byte and word unpacks, `pmaddubsw` / `pmaddwd` to pack), in a small
//!    buffer that stays in L1. For f32 outputs both decoders are software-pipelined: the next
//!    chunk is staged into a second buffer a step at a time between the rows of the current
//!    chunk's expansion, so the streaming stores do not pause for a whole chunk's staging;
//! 2. **expansion**: each row is written contiguously: a word is broadcast from the buffer
//!    (`vpbroadcastd`, a load), shifted per lane (`vpsrlvd`) and looked up in the value table
//!    (`vpermps`), streaming `vmovntps` for large outputs; for f16 / bf16 outputs the table
//!    holds the values' 16-bit patterns (`bitnet::out_values`: the scalar conversions of the
//!    same f32), and two looked-up vectors are packed (`vpackusdw` + `vpermq`) into one store.
//!    - AVX2 (`tl1_impl` / `tl2_impl` loops, [`Run`]): eight values per vector from the 8-entry
//!      table, 32-byte stores realigned to 32 bytes ([`Seq`]).
//!    - AVX-512 (`tl1_row512`, `tl2_row512`, `tl2c_row512`, [`Run512`]; where
//!      `simd::avx512()` allows it, `tl_fast::TlKernels`): sixteen values per `zmm` from the
//!      16-entry table, so one staged word of 16 columns is one vector, and every cache line of
//!      a row run is written by one store ([`Seq512`]: a 64-byte streaming store per whole line,
//!      consecutive vectors realigned to the lines with `vpermt2ps`, the partial lines at the
//!      run's ends stored ordinarily in 16-byte quarters). TL2 stages word A' (columns 0..16 of
//!      a group) beside M (columns 8..24), so two groups (48 columns) are three vectors, the
//!      middle one from two words (a merge-masked broadcast). Session 7 (docs/PERFORMANCE.md):
//!      one thread, 16 Mi elements, 16-bit outputs gained most; f32 is at the one-thread
//!      streaming line's ~90% either way.
//!
//! The value tables repeat their 4 entries (codes 0..3) to 8 (`vpermps ymm` reads 3 index bits)
//! or 16 (`zmm`, 4 bits): the index bits above a code's two are the next codes', so no mask is
//! needed. The tables hold the oracle's own products (`value_lut(scale)`) or their 16-bit
//! conversions, so every output has the scalar path's bits.
//!
//! Every function is `unsafe` with `#[target_feature(enable = "avx2")]` (the AVX-512 ones
//! `"avx2,avx512f,avx512bw,avx512vl,avx512dq"`): the caller must have checked at run time that
//! the CPU has those features. Lengths are asserted; loads and stores stay inside the slices
//! given (the AVX-512 partial-line stores write only the run's own bytes).

// The bodies are intrinsics over pointers derived from the slices in bounds; the contract is
// the one above (raw-pointer loads and stores are `unsafe` operations).
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

use super::simd_x86::{read_ahead, Seq, Seq512};
use super::tl2::{rowperm, TRIPLES};

mod vbmi;

/// Which expansion [`tl1_rows`] / [`tl2_rows`] run (the values and stores are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expand {
    /// AVX2: eight values per vector (`tl1_impl` / `tl2_impl`'s loops, [`Run`]).
    Avx2,
    /// AVX-512: sixteen values per vector (`tl1_row512`, `tl2_row512`, `tl2c_row512`); the
    /// caller checked `simd::avx512()`.
    Avx512,
    /// [`Expand::Avx512`], and for 16-bit outputs the VBMI expansion (`vbmi`: 32 values per
    /// store from one multishift and one lookup); the caller also checked AVX-512 VBMI.
    Vbmi,
}

/// Whether any nibble of `bytes` is above `max` (≤ 15).
#[target_feature(enable = "avx2")]
pub unsafe fn any_nibble_above(bytes: &[u8], max: u8) -> bool {
    let m0f = _mm256_set1_epi8(0x0f);
    let (mut hi, mut lo) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let chunks = bytes.len() / 32;
    let p = bytes.as_ptr();
    for c in 0..chunks {
        if c % 2 == 0 {
            read_ahead(p.add(32 * c).cast()); // 4 KiB ahead, a line per two steps
        }
        let b = _mm256_loadu_si256(p.add(32 * c).cast());
        hi = _mm256_max_epu8(hi, b);
        lo = _mm256_max_epu8(lo, _mm256_and_si256(b, m0f));
    }
    let (mut h, mut l) = ([0u8; 32], [0u8; 32]);
    _mm256_storeu_si256(h.as_mut_ptr().cast(), hi);
    _mm256_storeu_si256(l.as_mut_ptr().cast(), lo);
    let (h, l) = (h.into_iter().max().unwrap_or(0), l.into_iter().max().unwrap_or(0));
    (h >> 4) > max || l > max || bytes[32 * chunks..].iter().any(|&b| (b >> 4) > max || (b & 15) > max)
}

/// `T4[nib] = (nib / 3) | (nib % 3) << 2`: the two codes (trit + 1) of a TL1 pair index.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn pair_codes() -> __m128i {
    _mm_setr_epi8(0, 4, 8, 1, 5, 9, 2, 6, 10, 0, 0, 0, 0, 0, 0, 0)
}

/// An 8-entry `vpermps` table of output bit patterns (f32 bits, or a 16-bit pattern in the low
/// half of each lane), entries `idx` taken from the value table `v` (`v[t + 1]`).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn table8(v: [u32; 3], idx: [usize; 8]) -> __m256 {
    let e = |i: usize| v[idx[i]] as i32;
    _mm256_castsi256_ps(_mm256_setr_epi32(e(0), e(1), e(2), e(3), e(4), e(5), e(6), e(7)))
}

/// The value table for codes `trit + 1` (TL1 pairs, TL2 section C); entry 3 (never read) is
/// the zero.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn pair_table(v: [u32; 3]) -> __m256 {
    table8(v, [0, 1, 2, 1, 0, 1, 2, 1])
}

/// Lane shifts for the low (`LO`) and high (`HI`) eight 2-bit fields of a word, and fields
/// 4..12 (`MID`).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn shifts() -> (__m256i, __m256i, __m256i) {
    (
        _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14),
        _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30),
        _mm256_setr_epi32(8, 10, 12, 14, 16, 18, 20, 22),
    )
}

/// Eight values from the word at `w` (broadcast), shifted by `sh`, looked up in `table`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn expand8(w: *const u32, sh: __m256i, table: __m256) -> __m256 {
    let v = _mm256_set1_epi32(w.read() as i32);
    _mm256_permutevar8x32_ps(table, _mm256_srlv_epi32(v, sh))
}

/// Bytes per output element: 2 for 16-bit outputs (`H`), 4 for f32.
const fn esize(half: bool) -> usize {
    if half {
        2
    } else {
        4
    }
}

/// Writes one row run, eight values at a time, through a [`Seq`] (stores in address order,
/// 32-byte aligned wherever the destination is 16-byte aligned; with `NT` streaming stores
/// for the run's whole cache lines, ordinary ones for the partial lines at its ends, which are
/// shared with runs written at other times): f32, or (`H`) 16-bit patterns, which arrive in the
/// low halves of the 32-bit lanes and are packed two vectors (16 values, 32 bytes) per store.
struct Run<const NT: bool, const H: bool> {
    seq: Seq<NT>,
    /// `H`: the previous eight values, not stored yet.
    prev: __m256,
    /// `H`: whether `prev` holds a vector.
    started: bool,
}

impl<const NT: bool, const H: bool> Run<NT, H> {
    /// A run of `len` values at `p`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn new(p: *mut u8, len: usize) -> Run<NT, H> {
        Run { seq: Seq::new(p, esize(H) * len), prev: _mm256_setzero_ps(), started: false }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn push(&mut self, v: __m256) {
        if !H {
            return self.seq.push(v);
        }
        if self.started {
            // The 16-bit patterns (< 2^16, so no saturation) of prev and v, in order.
            let w = _mm256_packus_epi32(_mm256_castps_si256(self.prev), _mm256_castps_si256(v));
            self.seq.push(_mm256_castsi256_ps(_mm256_permute4x64_epi64::<0xd8>(w)));
            self.started = false;
        } else {
            self.prev = v;
            self.started = true;
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn finish(mut self) {
        if H && self.started {
            let v = _mm256_castps_si256(self.prev);
            let w = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            self.seq.push_last16(_mm_castsi128_ps(w));
        }
        self.seq.finish();
    }
}

/// The 4-entry value table `v[idx[i]]` as f32 / 16-bit bit patterns, for the wide kernels (the
/// 16-entry `vpermps zmm` table is it four times: an index's bits 2..3 are the next codes').
fn table4(v: [u32; 3], idx: [usize; 4]) -> [u32; 4] {
    idx.map(|i| v[i])
}

/// [`table4`] broadcast to the 16 entries of a `vpermps zmm` table.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn table16(t: &[u32; 4]) -> __m512 {
    _mm512_castsi512_ps(_mm512_broadcast_i32x4(_mm_loadu_si128(t.as_ptr().cast())))
}

/// Lane shifts of the sixteen 2-bit fields of a word in order.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn shifts16() -> __m512i {
    _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
}

/// Sixteen values from the word at `w` (broadcast), shifted by `sh`, looked up in `table`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn expand16(w: *const u32, sh: __m512i, table: __m512) -> __m512 {
    let v = _mm512_set1_epi32(w.read() as i32);
    _mm512_permutexvar_ps(_mm512_srlv_epi32(v, sh), table)
}

/// [`Run`] for the wide kernels: sixteen values per push, through a [`Seq512`] (one store per
/// cache line; with `NT` streaming for the whole lines, masked ordinary stores for the partial
/// lines at the ends). 16-bit patterns (`H`) are packed two vectors (32 values, 64 bytes) per
/// store (`vpackusdw` + `vpermq`).
struct Run512<const NT: bool, const H: bool> {
    seq: Seq512<NT>,
    /// `H`: the previous sixteen values, not stored yet.
    prev: __m512,
    /// `H`: whether `prev` holds a vector.
    started: bool,
    /// The first store is still to be skipped ([`Ends::skip`]).
    skip: bool,
    /// The skipped first store's vector.
    head: __m512,
}

impl<const NT: bool, const H: bool> Run512<NT, H> {
    /// A run at `p`, or with `ends.resume` the next part of one, skipping its first line with
    /// `ends.skip` ([`Ends`]).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn new(p: *mut u8, ends: &Ends) -> Run512<NT, H> {
        let seq = match ends.resume {
            Some(carry) => Seq512::resume(p, carry.read()),
            None => Seq512::new(p),
        };
        let zero = _mm512_setzero_ps();
        Run512 { seq, prev: zero, started: false, skip: ends.skip, head: zero }
    }

    /// The 16-bit patterns of `a` then `b` (< 2^16: no saturation), in order.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn pack(a: __m512, b: __m512) -> __m512 {
        let w = _mm512_packus_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b));
        _mm512_castsi512_ps(_mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), w))
    }

    /// The 16-bit patterns of `a`'s lanes in the low 32 bytes.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn narrow(a: __m512) -> __m512 {
        _mm512_castsi512_ps(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(_mm512_castps_si512(a))))
    }

    /// The next 64 bytes to the sequence (the first skipped with `skip`).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn store(&mut self, w: __m512) {
        if self.skip {
            (self.skip, self.head) = (false, w);
            self.seq.skip_first(w);
        } else {
            self.seq.push(w);
        }
    }

    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn push(&mut self, v: __m512) {
        if !H {
            return self.store(v);
        }
        if self.started {
            self.store(Self::pack(self.prev, v));
            self.started = false;
        } else {
            self.prev = v;
            self.started = true;
        }
    }

    /// `H`: the next 64 bytes (32 values), already packed (between pairs of [`Run512::push`]).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn push_whole(&mut self, w: __m512) {
        debug_assert!(H && !self.started);
        self.store(w);
    }

    /// The first `n` values of `v` (`n` even, ≤ 16) end the run (a run of its own:
    /// [`Ends::PLAIN`]).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn push_last(self, v: __m512, n: usize) {
        debug_assert!(!self.skip);
        if !H {
            self.seq.push_last(v, n);
        } else if self.started {
            self.seq.push_last(Self::pack(self.prev, v), (16 + n) / 2);
        } else {
            self.seq.push_last(Self::narrow(v), n / 2);
        }
    }

    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn finish(self) {
        if H && self.started {
            self.seq.push_last(Self::narrow(self.prev), 8);
        } else {
            self.seq.finish();
        }
    }

    /// Ends the run as `tail` says: (the skipped first store's vector, the pending lanes with
    /// [`Tail::Suspend`]). Suspending or closing needs whole stores pushed (16 values, `H` 32).
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn end(self, tail: Tail) -> (__m512, __m512) {
        let head = self.head;
        let carry = match tail {
            Tail::Suspend => {
                debug_assert!(!self.started && !self.skip);
                self.seq.suspend()
            }
            Tail::Close(next) => {
                debug_assert!(!self.started && !self.skip);
                self.seq.close(next.read());
                _mm512_setzero_ps()
            }
            Tail::Finish => {
                self.finish();
                _mm512_setzero_ps()
            }
        };
        (head, carry)
    }
}

/// How one wide streaming row run (f32 or 16-bit) begins and ends when each row of a row group
/// is written in several parts (chunks) into a destination that is not 64-byte aligned: every
/// line is then written by one streaming store ([`Seq512::resume`] and the rest), except the
/// two shared with the neighbouring row groups. [`Ends::PLAIN`]: a run of its own (partial
/// lines at its ends stored ordinarily), as for aligned destinations and odd shapes.
///
/// The vectors a run resumes from, closes with and leaves behind stay in a [`RowParts`]: only
/// the AVX-512 row runs read and write them (whole 64-byte loads and stores). Copied through
/// the AVX2 callers, as before, they were stored in 32-byte halves and loaded whole (or the
/// other way), which no store forwards: each such load waited for the streaming stores queued
/// before it to leave (two threads, 16 Mi elements, TL1 / TL2 f16 +11% / +4%).
#[derive(Clone, Copy)]
struct Ends {
    /// Continue the same row's previous part, whose pending lanes are here.
    resume: Option<*const __m512>,
    /// Skip the first line (shared with the end of the row above, which stores it whole given
    /// this run's first vector, the head).
    skip: bool,
    /// How the run ends.
    tail: Tail,
    /// Where the run leaves its head (a row's first part) and its pending lanes.
    head: Option<*mut __m512>,
    carry: Option<*mut __m512>,
}

/// The end of a row run ([`Ends`]).
#[derive(Clone, Copy)]
enum Tail {
    /// Store the partial last line ordinarily.
    Finish,
    /// Keep the pending lanes for the row's next part.
    Suspend,
    /// Store the last line whole with the first vector of the row below (its head, here).
    Close(*const __m512),
}

impl Ends {
    const PLAIN: Ends = Ends { resume: None, skip: false, tail: Tail::Finish, head: None, carry: None };

    /// Leave what the run ended with ([`Run512::end`]: head, carry) where `self` says.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
    #[inline]
    unsafe fn keep(&self, (head, carry): (__m512, __m512)) {
        if let Some(h) = self.head {
            h.write(head);
        }
        if let Some(c) = self.carry {
            c.write(carry);
        }
    }
}

/// The [`Ends`] state of a group of `R` rows written in parts: per row, the pending lanes of
/// its last part (the carry) and its first vector (the head).
struct RowParts<const R: usize> {
    carry: [__m512; R],
    heads: [__m512; R],
}

impl<const R: usize> RowParts<R> {
    fn new() -> RowParts<R> {
        // SAFETY: an all-zero bit pattern is a valid `__m512`.
        let zero = || unsafe { std::mem::zeroed() };
        RowParts { carry: zero(), heads: zero() }
    }

    /// The ends of a part of row `row` (< `R`): resuming from row `from`'s carry (the row's own
    /// previous part, or the row above's last), skipping its first line with `skip`; ending
    /// with `more` to be resumed (a later part of the bytes after it), else closing the line it
    /// shares with row `row + 1`'s head, else (the group's last row) finishing ordinarily;
    /// keeping its carry, and its head if it is the row's `first` part. The pointers are valid
    /// while `self` is neither moved nor otherwise used.
    fn ends(&mut self, row: usize, from: Option<usize>, skip: bool, more: bool, first: bool) -> Ends {
        assert!(row < R && from.is_none_or(|f| f < R));
        let (carry, heads) = (self.carry.as_mut_ptr(), self.heads.as_mut_ptr());
        // SAFETY: every index below is < R (asserted).
        unsafe {
            let tail = if more {
                Tail::Suspend
            } else if row + 1 < R {
                Tail::Close(heads.add(row + 1))
            } else {
                Tail::Finish
            };
            Ends {
                resume: from.map(|f| carry.add(f).cast_const()),
                skip,
                tail,
                head: first.then(|| heads.add(row)),
                carry: Some(carry.add(row)),
            }
        }
    }
}

/// Items `0..n` in `pieces` consecutive runs, `step(i)` after run `i` (but the last): a row's
/// expansion with the next chunk's staging steps between its pieces ([`tl1_impl`]).
#[inline(always)]
fn in_pieces(n: usize, pieces: usize, mut step: impl FnMut(usize), mut item: impl FnMut(usize)) {
    for i in 0..pieces {
        (n * i / pieces..n * (i + 1) / pieces).for_each(&mut item);
        if i + 1 < pieces {
            step(i);
        }
    }
}

/// The lane shifts of a staged TL1 word: [`tl1_impl`]'s `sh_a` then `sh_b` fields. Constants,
/// so that `vpsrlvd` needs no mask for counts the compiler could not prove below 32.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn tl1_shifts<const Q: usize>() -> __m512i {
    if Q == 2 {
        _mm512_setr_epi32(0, 2, 4, 6, 16, 18, 20, 22, 8, 10, 12, 14, 24, 26, 28, 30)
    } else {
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
    }
}

/// One TL1 row run with AVX-512 (the expansion of [`tl1_impl`]'s row loop): the `nw` staged
/// words at `words` (16 u32 apart), sixteen values each (`Q`: as `tl1_impl`'s), then
/// with `odd` the first eight of word `nw`, into `out`; `step(i)` runs after piece `i` of
/// `pieces` (but the last). `ends`: how the run begins and ends, and where it keeps its head
/// and carry ([`Ends`]).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn tl1_row512<const Q: usize, const NT: bool, const H: bool>(
    words: *const u32,
    nw: usize,
    odd: bool,
    table: &[u32; 4],
    out: *mut u8,
    pieces: usize,
    step: impl FnMut(usize),
    ends: Ends,
) {
    let sh = tl1_shifts::<Q>();
    let tab = table16(table);
    let mut run = Run512::<NT, H>::new(out, &ends);
    in_pieces(nw, pieces, step, |t| run.push(expand16(words.add(16 * t), sh, tab)));
    tl1_tail512::<Q, NT, H>(run, words.add(16 * nw), 0, odd, table, ends)
}

/// The end of a TL1 row run: the `nw` words at `words` (16 u32 apart), then with `odd` the
/// first eight values of the word after them, through `run` ([`tl1_row512`]).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn tl1_tail512<const Q: usize, const NT: bool, const H: bool>(
    mut run: Run512<NT, H>,
    words: *const u32,
    nw: usize,
    odd: bool,
    table: &[u32; 4],
    ends: Ends,
) {
    let (sh, table) = (tl1_shifts::<Q>(), table16(table));
    for t in 0..nw {
        run.push(expand16(words.add(16 * t), sh, table));
    }
    if odd {
        // Half a word at the end: not whole stores, so only a run of its own.
        debug_assert!(ends.resume.is_none() && !ends.skip && matches!(ends.tail, Tail::Finish));
        run.push_last(expand16(words.add(16 * nw), sh, table), 8);
        return;
    }
    ends.keep(run.end(ends.tail))
}

/// One TL2 section-A row run with AVX-512: groups `0..n` of `stage` (`[A', M, B]` words, lane
/// `si`: A' = columns 0..16 of the group, M = columns 8..24), 24 values each, into `out`. Two
/// groups are three vectors: A'(g0); M(g0) >> 16.. beside A'(g1) (one broadcast merged into the
/// other); M(g1). `ends`: how the run begins and ends, and where it keeps its head and carry
/// ([`Ends`]).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn tl2_row512<const NT: bool, const H: bool>(
    stage: &[[[u32; 32]; 3]],
    n: usize,
    si: usize,
    table: &[u32; 4],
    out: *mut u8,
    ends: Ends,
) {
    tl2_tail512::<NT, H>(Run512::<NT, H>::new(out, &ends), &stage[..n], si, table, ends)
}

/// The groups `stage` (lane `si`) to the end of a TL2 section-A row run, through `run`
/// ([`tl2_row512`]).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn tl2_tail512<const NT: bool, const H: bool>(
    mut run: Run512<NT, H>,
    stage: &[[[u32; 32]; 3]],
    si: usize,
    table: &[u32; 4],
    ends: Ends,
) {
    let (full, table) = (shifts16(), table16(table));
    let mixed = _mm512_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30, 0, 2, 4, 6, 8, 10, 12, 14);
    for pair in stage.chunks_exact(2) {
        let [a0, m0, _] = &pair[0];
        let [a1, m1, _] = &pair[1];
        run.push(expand16(a0.as_ptr().add(si), full, table));
        let v = _mm512_mask_set1_epi32(_mm512_set1_epi32(m0[si] as i32), 0xff00, a1[si] as i32);
        run.push(_mm512_permutexvar_ps(_mm512_srlv_epi32(v, mixed), table));
        run.push(expand16(m1.as_ptr().add(si), full, table));
    }
    if let [.., [a, m, _]] = stage.chunks_exact(2).remainder() {
        // 24 values past the last pair: not whole vectors, so only a run of its own.
        debug_assert!(ends.resume.is_none() && !ends.skip && matches!(ends.tail, Tail::Finish));
        run.push(expand16(a.as_ptr().add(si), full, table));
        run.push_last(expand16(m.as_ptr().add(si), mixed, table), 8);
        return;
    }
    ends.keep(run.end(ends.tail))
}

/// One TL2 section-C row run with AVX-512: blocks `0..n` of `stage` (two words of 16 columns
/// each, lane `si`) into `out`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn tl2c_row512<const NT: bool, const H: bool>(
    stage: &[[[u32; 32]; 2]],
    n: usize,
    si: usize,
    table: &[u32; 4],
    out: *mut u8,
    ends: Ends,
) {
    debug_assert!(!ends.skip);
    let (full, table) = (shifts16(), table16(table));
    let mut run = Run512::<NT, H>::new(out, &ends);
    for st in &stage[..n] {
        for w in st {
            run.push(expand16(w.as_ptr().add(si), full, table));
        }
    }
    ends.keep(run.end(ends.tail))
}

/// Columns staged at once by [`tl1_rows`] (bounds each of its two buffers: 128 words x 16 rows,
/// 8 KiB). Whole rows (4096 columns, one run per sub-group in address order) measured worse:
/// f32 82% vs 89% of the one-thread line, 16-bit 62% vs 79% (session 6, shared machine).
const TL1_CHUNK: usize = 2048;

/// Slots (64 bytes, 16 row words) of one [`tl1_rows`] staging buffer: a chunk's words plus 64
/// slots to place its window in (see [`stage_window`]).
const TL1_STAGE: usize = TL1_CHUNK / 16 + 64;

/// Staging buffers of [`tl1_rows`], allocated once per tensor (zeroing them per row group
/// measured as 10% of a cache-resident decode). The staged words of a chunk (`TL1_CHUNK` words
/// of 16 rows) sit at a 64-byte-aligned window of `stage` chosen per chunk (see
/// [`stage_window`]), hence the 4 KiB of slack.
pub struct Tl1Scratch {
    /// Two buffers of [`TL1_STAGE`] slots (f32: consecutive chunks alternate between them).
    stage: Box<[[u32; 16]; 2 * TL1_STAGE]>,
    pairs: Box<[usize; TL1_CHUNK / 8]>,
    /// The first chunk of a row group staged ahead by the call before (f32): its key
    /// ([`tl1_rows`]'s source, block layout and output shape) and its slot in `stage`.
    pre: Option<([usize; 6], usize)>,
}

impl Tl1Scratch {
    /// Fresh buffers.
    pub fn new() -> Tl1Scratch {
        Tl1Scratch { stage: Box::new([[0; 16]; 2 * TL1_STAGE]), pairs: Box::new([0; TL1_CHUNK / 8]), pre: None }
    }
}

/// The first of the staging slots (64 bytes each, 64 to choose from) at which word `t` of a row lies about 1 KiB
/// past the row's own word `t` output, modulo 4 KiB: the expansion reads word `t` (at
/// `window + 64t`) while it stores 64 bytes per word (at `row + 64t`), in lockstep, and a load
/// whose address matches a pending store's in bits 0..12 waits for it (4K aliasing). With row
/// strides of a multiple of 4 KiB (K = 1024, 4096, ...) every row would alias at once for a
/// whole tensor, or not at all, depending on where the allocator put the buffers: TL1 at 16 Mi
/// elements measured 2.0 or 4.5 Gelem/s from one process run to the next.
fn stage_window(stage: *const [u32; 16], row: *const u8) -> usize {
    let want = (row as usize + 1024) % 4096;
    let have = stage as usize % 4096;
    ((want + 4096 - have) % 4096) / 64
}

/// Prefetch the lines of `bytes` bytes at `p` into all cache levels, or with `l2` into L2 (not
/// L1): a hint, so `p` need not be in bounds.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn prefetch(p: *const u8, bytes: usize, l2: bool) {
    let (a, end) = (p as usize & !63, p as usize + bytes);
    let mut at = a;
    while at < end {
        if l2 {
            _mm_prefetch::<_MM_HINT_T1>(at as *const i8);
        } else {
            _mm_prefetch::<_MM_HINT_T0>(at as *const i8);
        }
        at += 64;
    }
}

/// Prefetch into L2 (not L1, which holds the staging buffer) the lines of blocks `j0..j1` of
/// `blocks` (`len` bytes each) of `src`, skipping any block not inside `src` (a hint: `blocks`
/// may describe a row group past the end).
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn prefetch_blocks(src: &[u8], blocks: &Blocks, len: usize, j0: usize, j1: usize) {
    for j in j0..j1.min(blocks.nj) {
        let at = blocks.first + j * blocks.jstride;
        if at + len <= src.len() {
            let mut a = (src.as_ptr().add(at) as usize) & !63;
            let end = src.as_ptr().add(at + len) as usize;
            while a < end {
                _mm_prefetch::<_MM_HINT_T1>(a as *const i8);
                a += 64;
            }
        }
    }
}

/// Staging buffers of [`tl2_rows`], allocated once per tensor.
pub struct Tl2Scratch {
    /// f32: two halves of `TL2_CHUNK / 2` groups (consecutive chunks alternate between them).
    three: Box<[[[u32; 32]; 3]; TL2_CHUNK]>,
    two: Box<[[[u32; 32]; 2]; TL2_CHUNK_C]>,
    /// 16-bit outputs with VBMI: a chunk's groups as [`vbmi::tl2_stage_packed`] stages them.
    packed: Box<[vbmi::Packed; TL2_CHUNK]>,
    /// The first chunk of a row group staged ahead by the call before (f32): its key (source,
    /// section A / B blocks, shape) and the half of `three` it is in.
    pre: Option<([usize; 8], usize)>,
}

impl Tl2Scratch {
    /// Fresh buffers.
    pub fn new() -> Tl2Scratch {
        Tl2Scratch {
            three: Box::new([[[0; 32]; 3]; TL2_CHUNK]),
            two: Box::new([[[0; 32]; 2]; TL2_CHUNK_C]),
            packed: Box::new([[0; 32]; TL2_CHUNK]),
            pre: None,
        }
    }
}

/// Where the blocks of one TL1 / TL2 row group lie in the tensor's bytes: block `j` (of `nj`,
/// consecutive k-blocks of the same rows) starts at `first + j * jstride`.
#[derive(Debug, Clone, Copy)]
pub struct Blocks {
    /// Offset of block 0.
    pub first: usize,
    /// Distance between consecutive k-blocks.
    pub jstride: usize,
    /// Number of k-blocks.
    pub nj: usize,
}

impl Blocks {
    /// Assert that every block of `len` bytes lies inside `src_len` bytes.
    fn check(&self, len: usize, src_len: usize) {
        assert!(self.nj > 0 && self.first + (self.nj - 1) * self.jstride + len <= src_len);
    }
}

/// One TL1 row group: `bm` rows (`bm` = 32 or 64) x all `nj * bk` columns (`bk % 8 == 0`), the
/// `nj` blocks of `bm*bk/4` bytes at `blocks` in `src`, validated (every nibble ≤ 8), into
/// `dst` (`bm` rows of `k = nj * bk` values, row-major: `values[t + 1]` for trit `t`, f32 bits,
/// or with `half` 16-bit patterns stored as 2 bytes each). Rows are written contiguously across the
/// k-blocks, up to [`TL1_CHUNK`] columns at a time. With `streaming`, non-temporal stores
/// (`dst` 16-byte aligned; the caller issues the [`sfence`]). `expand`: which expansion runs
/// ([`Expand`]; [`Expand::Avx512`]: [`tl1_row512`], sixteen values and one 64-byte store per
/// staged word; the caller must have checked the CPU features it names). `next`: where the next row group's
/// blocks lie (a hint: they are prefetched, and f32 outputs stage their first chunk ahead into
/// `scratch`, used only by a later call for exactly those blocks; blocks outside `src` are
/// skipped).
///
/// Source prefetch: the blocks of one row group are `jstride` apart (8 KiB for the shipped
/// presets), beyond the hardware prefetchers, and a staging load that misses holds up the
/// streaming stores queued behind its staging store. While each chunk is expanded, a share of
/// the next row group's blocks (`next`) is prefetched into L2, a slice per expanded row.
///
/// Per 16-row sub-group `g`, the 16 bytes of rows `s = 0..16` for one column quad are
/// contiguous (§4.4); `pshufb` turns each nibble (pair index) into two 2-bit codes, and four
/// quads (16 columns) become one word per row.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub unsafe fn tl1_rows(
    src: &[u8],
    blocks: Blocks,
    next: Option<Blocks>,
    bm: usize,
    bk: usize,
    values: [u32; 3],
    half: bool,
    dst: &mut [u8],
    streaming: bool,
    expand: Expand,
    scratch: &mut Tl1Scratch,
) {
    assert!((bm == 32 || bm == 64) && bk.is_multiple_of(8) && bk > 0);
    blocks.check(bm * bk / 4, src.len());
    let k = blocks.nj * bk;
    assert!(dst.len() == bm * k * esize(half));
    assert!(!streaming || (dst.as_ptr() as usize).is_multiple_of(16));
    let out = dst.as_mut_ptr();
    let v = values;
    macro_rules! go {
        ($q:literal, $nt:literal, $h:literal) => {
            tl1_impl::<$q, $nt, $h>(src, blocks, next, bm, bk, v, out, k, expand, scratch)
        };
    }
    match (bm, streaming, half) {
        (32, true, false) => go!(2, true, false),
        (32, false, false) => go!(2, false, false),
        (_, true, false) => go!(1, true, false),
        (_, false, false) => go!(1, false, false),
        (32, true, true) => go!(2, true, true),
        (32, false, true) => go!(2, false, true),
        (_, true, true) => go!(1, true, true),
        (_, false, true) => go!(1, false, true),
    }
}

/// `Q`: column quads per 16-byte run, `256 / bm / 4`: 2 (bm = 32) or 1 (bm = 64).
///
/// f32 outputs are software-pipelined: the chunks (sub-group `g`, columns `c0..`) are staged
/// into two alternating buffers, chunk `x + 1` a few staging steps at a time between the stores
/// of chunk `x`'s expansion, so the streaming stores do not pause for a whole chunk's staging
/// (at one thread the memory's write bandwidth is only reached with stores issued evenly), and
/// the next row group's blocks are prefetched into L2 meanwhile, a share per chunk; the last
/// chunk's expansion stages the next row group's first chunk (kept in the scratch for the next
/// call). One thread, 16 Mi elements: 84% -> 87% of the streaming line within a row group
/// (medians of 29 alternated runs, session 6), 87% -> 89% across row groups (8 runs).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn tl1_impl<const Q: usize, const NT: bool, const H: bool>(
    src: &[u8],
    blocks: Blocks,
    next: Option<Blocks>,
    bm: usize,
    bk: usize,
    values: [u32; 3],
    out: *mut u8,
    k: usize,
    expand: Expand,
    scratch: &mut Tl1Scratch,
) {
    let table = pair_table(values);
    let es = esize(H);
    let (wide, vbmi) = (expand != Expand::Avx2, H && expand == Expand::Vbmi);
    // VBMI: the slots hold the file's pair indices ([`vbmi::tl1_stage_nib`], one byte permute
    // per slot), expanded by [`vbmi::tl1_row512n`] (its tables built here once). Against the
    // codes' staging ([`tl1_stage`]) and their VBMI expansion (removed since), bm = 32, 16 Mi
    // elements, five alternated runs: one thread f16 / bf16 68 / 70% -> 72 / 72% of the line,
    // two threads 66 / 62% -> 68 / 66% (docs/PERFORMANCE.md, session 11).
    let nib_tables = vbmi.then(|| vbmi::NibTables::new(&table4(values, [0, 1, 2, 1])));
    let nib = nib_tables.is_some();
    // Q = 2: the two quads of a pair (8 columns) are 32 contiguous bytes, staged 256 bits at a
    // time; a word then holds its quads' codes in byte order (0, 2, 1, 3) and row s sits in
    // slot `s` with bits 2 and 3 swapped. Q = 1: 128 bits at a time, natural order.
    let (sh_a, sh_b) = if Q == 2 {
        (_mm256_setr_epi32(0, 2, 4, 6, 16, 18, 20, 22), _mm256_setr_epi32(8, 10, 12, 14, 24, 26, 28, 30))
    } else {
        let (lo, hi, _) = shifts();
        (lo, hi)
    };
    // The wide kernels' table.
    let tab4 = table4(values, [0, 1, 2, 1]);
    let slot = |s: usize| if Q == 2 { (s & 3) | ((s & 4) << 1) | ((s & 8) >> 1) } else { s };
    let Tl1Scratch { stage, pairs, pre } = scratch;
    let (bufs, pairs) = (stage.as_mut_ptr(), &mut **pairs);
    let pairs_per_block = bk / 8;
    let p = src.as_ptr();
    let chunks = k.div_ceil(TL1_CHUNK);
    let nchunks = bm / 16 * chunks;
    // Chunk `x`: sub-group `x / chunks`, columns `c0..c0 + cols` (a multiple of 8).
    let chunk = |x: usize| {
        let c0 = x % chunks * TL1_CHUNK;
        (x / chunks, c0, (k - c0).min(TL1_CHUNK))
    };
    // Offset of each pair (8 columns, quads 2u and 2u + 1) of chunk `x`, row 0 of its
    // sub-group: block j, pair v of the block: `first + j*jstride + g*Q*16 + off(2v)`,
    // `off(x) = (x/Q)*64 + (x%Q)*16`.
    let fill_pairs = |pairs: &mut [usize; TL1_CHUNK / 8], blocks: &Blocks, x: usize| {
        let (g, c0, cols) = chunk(x);
        let gbase = g * Q * 16;
        let (mut j, mut v) = (c0 / 8 / pairs_per_block, c0 / 8 % pairs_per_block);
        for a in pairs.iter_mut().take(cols / 8) {
            *a = blocks.first + j * blocks.jstride + gbase + (2 * v / Q) * 64 + (2 * v % Q) * 16;
            v += 1;
            if v == pairs_per_block {
                (j, v) = (j + 1, 0);
            }
        }
    };
    // (The pipelined staging steps are f32's: never `nib`.)
    let stage_step =
        |pairs: &[usize; TL1_CHUNK / 8], np: usize, w: *mut [u32; 16], t: usize| tl1_stage::<Q>(p, pairs, np, w, t);
    // Buffer `b`'s slot at which chunk `x` (of the row group written at `out` + `skip` bytes)
    // is staged (see [`stage_window`]).
    let window = |b: usize, x: usize, skip: usize| {
        let (g, c0, _) = chunk(x);
        let buf = bufs.add(b * TL1_STAGE);
        buf.add(stage_window(buf, (out as usize + skip + (g * 16 * k + c0) * es) as *const u8))
    };
    // f32 only: 16-bit outputs (half the stores per staged word) stage each chunk whole
    // before expanding it (two-thread bf16 measured 77% -> 72% of the line pipelined, pooled
    // over 19 alternated runs on the Zen 4 host; on the Xeon of session 10 pipelining was no
    // better either). Both prefetch the next row group's blocks while expanding: for 16-bit
    // outputs that measured, on the Xeon (5 alternated runs, TensorCodec, 16 Mi elements), one
    // thread f16 50% -> 57% and bf16 50% -> 65% of the line, two threads f16 42% -> 56%, bf16
    // 54% -> 56%.
    let pipe = !H;
    debug_assert!(!(pipe && nib), "the pipelined staging steps stage codes");
    let block_len = bm * bk / 4;
    // With `pipe`, the last chunk's expansion also stages the first chunk of the next row group
    // (`next`, if its blocks lie in `src`), which the next call takes from `pre` when it is
    // that row group: then no chunk is staged between two expansions.
    let key = |b: &Blocks| [src.as_ptr() as usize, b.first, b.jstride, b.nj, k, bm];
    let ahead = next.filter(|n| {
        pipe && n.nj == blocks.nj
            && n.first.checked_add((n.nj - 1) * n.jstride + block_len).is_some_and(|e| e <= src.len())
    });
    let (mut cur, mut cur_b) = (window(0, 0, 0), 0);
    let staged = match pre.take() {
        Some((kb, slot)) if pipe && kb == key(&blocks) => {
            (cur, cur_b) = (bufs.add(slot), slot / TL1_STAGE);
            true
        }
        _ => false,
    };
    // Wide streaming (f32 or 16-bit) into a destination that is not 64-byte aligned: each
    // row's parts (chunks) carry their last line's pending lanes over to the next part, or to
    // the next row's first part where that comes next in time (one chunk per row; the last row
    // of a sub-group to the first of the next); otherwise a row's first line (shared with the
    // end of the row above, written later) is stored whole by that row's last part ([`Ends`],
    // as in [`tl2_impl`]). Needs rows of whole lines (so every part is whole stores too:
    // chunks are 2048 columns).
    let split = NT && wide && !(out as usize).is_multiple_of(64) && (k * es).is_multiple_of(64);
    let mut parts = RowParts::<16>::new();
    let last_g = bm / 16 - 1;
    for x in 0..nchunks {
        let (g, c0, cols) = chunk(x);
        let np = cols / 8;
        let (nw, odd) = (np / 2, np % 2 == 1);
        if (x == 0 && !staged) || !pipe {
            // Chunk x, staged whole.
            (cur, cur_b) = (window(0, x, 0), 0);
            if nib {
                let (j, v) = (c0 / 8 / pairs_per_block, c0 / 8 % pairs_per_block);
                let block = p.add(blocks.first + j * blocks.jstride + g * Q * 16);
                let walk = vbmi::Walk { block, v, per_block: pairs_per_block, size: 128 / Q, jstride: blocks.jstride };
                vbmi::tl1_stage_nib::<Q>(walk, np, cur);
            } else {
                fill_pairs(pairs, &blocks, x);
                for t in 0..np.div_ceil(2) {
                    stage_step(pairs, np, cur, t);
                }
            }
        }
        // With `pipe`, chunk x + 1 (or the next row group's chunk 0), staged in 16 slices (one
        // per row), `steps` staging steps in all, into the other buffer.
        let (nxt, nnp, steps) = if pipe && x + 1 < nchunks {
            fill_pairs(pairs, &blocks, x + 1);
            let nnp = chunk(x + 1).2 / 8;
            (window(cur_b ^ 1, x + 1, 0), nnp, nnp.div_ceil(2))
        } else if let Some(n) = ahead.filter(|_| x + 1 == nchunks) {
            fill_pairs(pairs, &n, 0);
            let nnp = chunk(0).2 / 8;
            let w = window(cur_b ^ 1, 0, bm * k * es);
            *pre = Some((key(&n), w.offset_from(bufs) as usize));
            (w, nnp, nnp.div_ceil(2))
        } else {
            (cur, 0, 0)
        };
        let (pj0, pj1) = (blocks.nj * x / nchunks, blocks.nj * (x + 1) / nchunks);
        let words = cur.cast::<u32>();
        for s in 0..16 {
            if let Some(next) = next.as_ref() {
                prefetch_blocks(src, next, block_len, pj0 + (pj1 - pj0) * s / 16, pj0 + (pj1 - pj0) * (s + 1) / 16);
            }
            let (t0, t1) = (steps * s / 16, steps * (s + 1) / 16);
            let words = words.add(slot(s));
            let row_out = out.add(((g * 16 + s) * k + c0) * es);
            // The row's words in `t1 - t0 + 1` pieces, a staging step after each but the last.
            let pieces = t1 - t0 + 1;
            if wide {
                let step = |i: usize| stage_step(pairs, nnp, nxt, t0 + i);
                let ends = if split {
                    let (first, last) = (c0 == 0, c0 + cols == k);
                    // The run before this one in memory: this row's previous part, or the
                    // row above's last part (row 0: the previous sub-group's row 15).
                    let (from, skip) = if !first {
                        (Some(s), false)
                    } else if s == 0 {
                        ((g > 0).then_some(15), false)
                    } else if chunks == 1 {
                        (Some(s - 1), false)
                    } else {
                        (None, true)
                    };
                    let more = !last || (s == 15 && g < last_g) || (chunks == 1 && s < 15);
                    parts.ends(s, from, skip, more, first)
                } else {
                    Ends::PLAIN
                };
                if let Some(tables) = &nib_tables {
                    vbmi::tl1_row512n::<NT>(words, nw, odd, tables, row_out, pieces, step, ends)
                } else {
                    tl1_row512::<Q, NT, H>(words, nw, odd, &tab4, row_out, pieces, step, ends)
                }
                continue;
            }
            let mut run = Run::<NT, H>::new(row_out, cols);
            in_pieces(
                nw,
                pieces,
                |i| stage_step(pairs, nnp, nxt, t0 + i),
                |t| {
                    let w = words.add(16 * t);
                    run.push(expand8(w, sh_a, table));
                    run.push(expand8(w, sh_b, table));
                },
            );
            if odd {
                run.push(expand8(words.add(16 * nw), sh_a, table));
            }
            run.finish();
        }
        (cur, cur_b) = (nxt, cur_b ^ 1);
    }
}

/// TL1 staging step `t` of a chunk of `np` pairs whose source offsets (in `p`) are `pairs`: the
/// 16 row words of columns 16t..16t + 16, at slot `t` of `w` (see [`tl1_impl`]'s `Q`).
///
/// A function of its own, its constants built here, rather than a closure over [`tl1_impl`]'s:
/// the step runs inside [`tl1_row512`] (not inlined into `tl1_impl`, having other target
/// features), which reached a closure's captured vectors through a pointer and, the staging
/// stores possibly aliasing them as far as the compiler knew, reloaded them on every step.
// SAFETY: `p` valid for 32 bytes (Q = 2) / 16 bytes and 16 more 64 bytes on (Q = 1) at
// `pairs[u]` for every `u < np` read below; `w` valid for slots `t..t + 1`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tl1_stage<const Q: usize>(
    p: *const u8,
    pairs: &[usize; TL1_CHUNK / 8],
    np: usize,
    w: *mut [u32; 16],
    t: usize,
) {
    let t4 = pair_codes();
    let m0f = _mm_set1_epi8(0x0f);
    let (t4y, m0fy) = (_mm256_broadcastsi128_si256(t4), _mm256_set1_epi8(0x0f));
    let w = w.add(t).cast::<u32>();
    if Q == 2 {
        let codes = |u: usize| {
            let b = _mm256_loadu_si256(p.add(pairs[u]).cast());
            let hi = _mm256_shuffle_epi8(t4y, _mm256_and_si256(_mm256_srli_epi16::<4>(b), m0fy));
            let lo = _mm256_shuffle_epi8(t4y, _mm256_and_si256(b, m0fy));
            _mm256_or_si256(hi, _mm256_slli_epi16::<4>(lo))
        };
        let c01 = codes(2 * t);
        let c23 = if 2 * t + 1 < np {
            codes(2 * t + 1)
        } else {
            c01 /* unused */
        };
        let (x, y) = (_mm256_unpacklo_epi8(c01, c23), _mm256_unpackhi_epi8(c01, c23));
        let (lo, hi) = (_mm256_permute2x128_si256::<0x20>(x, y), _mm256_permute2x128_si256::<0x31>(x, y));
        _mm256_storeu_si256(w.cast(), _mm256_unpacklo_epi16(lo, hi));
        _mm256_storeu_si256(w.add(8).cast(), _mm256_unpackhi_epi16(lo, hi));
    } else {
        // Quads 2u and 2u + 1 are 64 bytes apart.
        let codes = |at: usize| {
            let b = _mm_loadu_si128(p.add(at).cast());
            let hi = _mm_shuffle_epi8(t4, _mm_and_si128(_mm_srli_epi16::<4>(b), m0f));
            let lo = _mm_shuffle_epi8(t4, _mm_and_si128(b, m0f));
            _mm_or_si128(hi, _mm_slli_epi16::<4>(lo))
        };
        let (a0, a1) = (codes(pairs[2 * t]), codes(pairs[2 * t] + 64));
        let (a2, a3) = if 2 * t + 1 < np {
            (codes(pairs[2 * t + 1]), codes(pairs[2 * t + 1] + 64))
        } else {
            (a0, a1) /* unused */
        };
        let (l01, h01) = (_mm_unpacklo_epi8(a0, a1), _mm_unpackhi_epi8(a0, a1));
        let (l23, h23) = (_mm_unpacklo_epi8(a2, a3), _mm_unpackhi_epi8(a2, a3));
        _mm_storeu_si128(w.cast(), _mm_unpacklo_epi16(l01, l23));
        _mm_storeu_si128(w.add(4).cast(), _mm_unpackhi_epi16(l01, l23));
        _mm_storeu_si128(w.add(8).cast(), _mm_unpacklo_epi16(h01, h23));
        _mm_storeu_si128(w.add(12).cast(), _mm_unpackhi_epi16(h01, h23));
    }
}

/// After streaming stores.
#[target_feature(enable = "avx2")]
pub unsafe fn sfence() {
    _mm_sfence();
}

/// TL2 three-part codes: trit 0 → 0, −1 → 1, +1 → 2, so that negating a triple is `code ^ 3`
/// on each of its codes (0 becomes 3, which the table also maps to zero).
const fn code3(t: i8) -> u8 {
    match t {
        -1 => 1,
        1 => 2,
        _ => 0,
    }
}

/// `P[idx]`: the three codes of triple `idx` in bits 0-1, 2-3, 4-5 (column order); 14, 15 unused.
const TRIPLE_CODES: [u8; 16] = {
    let mut p = [0u8; 16];
    let mut i = 0;
    while i < 14 {
        let t = TRIPLES[i];
        p[i] = code3(t[0]) | code3(t[1]) << 2 | code3(t[2]) << 4;
        i += 1;
    }
    p
};

/// Groups (24 columns) staged at once by [`tl2_rows`] for 16-bit outputs, half as many for f32
/// (row runs of 3 KiB either way); bounds its buffer: 64 x 384 bytes. 16-bit outputs with 32
/// groups (1.5 KiB runs) measured 68–71% of the two-thread streaming line at 16 Mi, with 64
/// 75–78% (medians of 9 alternated runs, shared machine); f32 with 64: no gain.
const TL2_CHUNK: usize = 64;
/// Section-C blocks (32 columns) staged at once by [`tl2_rows`].
const TL2_CHUNK_C: usize = 16;

/// Staging index of each row of a 32-row block: the kernels' 32-bit lanes come out in the order
/// `index = 8v + 4L + i` for byte position `p = 16L + 4v + i`, and position `p` holds row
/// `rowperm(p)` (an involution).
fn stage_index() -> [usize; 32] {
    let mut idx = [0; 32];
    for (rw, e) in idx.iter_mut().enumerate() {
        let p = rowperm(rw);
        *e = 8 * ((p >> 2) & 3) + 4 * (p >> 4) + (p & 3);
    }
    idx
}

/// Where the parts of one TL2 row group (32 rows) lie in the tensor's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Tl2Rows {
    /// Section-A blocks (`32*BK/6` bytes each), `None` if `K3 = 0`.
    pub a: Option<Blocks>,
    /// Section-B blocks (`32*BK/24` bytes each), one per section-A block.
    pub signs: Option<Blocks>,
    /// Section-C blocks (256 bytes, 32 columns each), `None` if `K2 = 0`.
    pub c: Option<Blocks>,
    /// `BK`.
    pub bk: usize,
    /// Columns of the tensor, `K3 + K2`.
    pub k: usize,
}

/// One TL2 row group: 32 rows x all `K` columns into `dst` (32 rows of `k` values, row-major,
/// as in [`tl1_rows`]),
/// validated (three indices ≤ 13, two indices ≤ 8). Section A / B blocks (`BK % 24 == 0`):
/// step `Y` = 32 bytes, byte `rowperm(row)` holds triples 2Y, 2Y+1 of that row; per group of 8
/// triples (24 columns), 16 little-endian sign words, bit `15 - (2q + h)` of word `c` the sign
/// of triple `q` of row `16h + c`. Section C blocks: 8 steps of 32 bytes, byte `rowperm(row)`
/// of step `y` holds pairs `2y`, `2y + 1`. Rows are written contiguously, up to [`TL2_CHUNK`]
/// groups at a time. `streaming` and `expand` as in [`tl1_rows`]; `next`: where the next row
/// group lies (a hint, as in [`tl1_rows`]: f32 outputs stage its first chunk ahead into
/// `scratch` if its section A / B blocks lie in `src`).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub unsafe fn tl2_rows(
    src: &[u8],
    parts: Tl2Rows,
    next: Option<Tl2Rows>,
    values: [u32; 3],
    half: bool,
    dst: &mut [u8],
    streaming: bool,
    expand: Expand,
    scratch: &mut Tl2Scratch,
) {
    let Tl2Rows { a, signs, c, bk, k } = parts;
    assert!(bk % 24 == 0 && bk > 0 && dst.len() == 32 * k * esize(half));
    assert!(!streaming || (dst.as_ptr() as usize).is_multiple_of(16));
    let k3 = match (a, signs) {
        (Some(a), Some(s)) => {
            a.check(32 * bk / 6, src.len());
            s.check(32 * bk / 24, src.len());
            assert!(a.nj == s.nj);
            a.nj * bk
        }
        (None, None) => 0,
        _ => panic!("section A and B blocks come together"),
    };
    if let Some(c) = c {
        c.check(256, src.len());
        assert!(k3 + 32 * c.nj == k);
    } else {
        assert!(k3 == k);
    }
    let out = dst.as_mut_ptr();
    let v = values;
    match (streaming, half) {
        (true, false) => tl2_impl::<true, false>(src, parts, next, v, out, expand, scratch),
        (false, false) => tl2_impl::<false, false>(src, parts, next, v, out, expand, scratch),
        (true, true) => tl2_impl::<true, true>(src, parts, next, v, out, expand, scratch),
        (false, true) => tl2_impl::<false, true>(src, parts, next, v, out, expand, scratch),
    }
}

#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn tl2_impl<const NT: bool, const H: bool>(
    src: &[u8],
    parts: Tl2Rows,
    next: Option<Tl2Rows>,
    values: [u32; 3],
    out: *mut u8,
    expand: Expand,
    scratch: &mut Tl2Scratch,
) {
    let Tl2Rows { a, signs, c, bk, k } = parts;
    let Tl2Scratch { three, two, packed, pre } = scratch;
    let es = esize(H);
    let (wide, vbmi) = (expand != Expand::Avx2, H && expand == Expand::Vbmi);
    let index = stage_index();
    let p = src.as_ptr();
    // Wide streaming (f32 or 16-bit) into a destination that is not 64-byte aligned: each row
    // is written in parts (the chunks of the three part, then section C) that carry the
    // pending lanes of their last line over to the next part, and each row's first line
    // (shared with the end of the row above) is stored whole by that row's last part
    // ([`Ends`]). Needs whole stores per part (16 f32 or 32 16-bit values: groups a multiple
    // of 2 / 4, so the last chunk's too), rows of whole lines (so every row starts at the same
    // offset in its line), and at least two parts per row (the heads are taken by the first).
    let groups = a.map_or(0, |a| a.nj * (bk / 24));
    // Groups per chunk: row runs of 3 KiB (768 f32 or 1536 16-bit values).
    let chunk = if H { TL2_CHUNK } else { TL2_CHUNK / 2 };
    // (16-bit: 32 values per store, so a multiple of 4 groups.)
    let split = NT
        && wide
        && !(out as usize).is_multiple_of(64)
        && (k * es).is_multiple_of(64)
        && groups > 0
        && groups.is_multiple_of(if H { 4 } else { 2 })
        && (groups > chunk || c.is_some());
    let mut parts = RowParts::<32>::new();
    // The ends of row `rw`'s part of the three part from group `g0` to `g1` (`split`).
    let three_ends = |parts: &mut RowParts<32>, g0: usize, g1: usize, rw: usize| {
        if !split {
            return Ends::PLAIN;
        }
        parts.ends(rw, (g0 > 0).then_some(rw), g0 == 0 && rw > 0, g1 < groups || c.is_some(), g0 == 0)
    };
    if let (Some(a), Some(signs)) = (a, signs) {
        let pt = _mm256_broadcastsi128_si256(_mm_loadu_si128(TRIPLE_CODES.as_ptr().cast()));
        let pn = _mm256_xor_si256(pt, _mm256_set1_epi8(0x3f));
        let m0f = _mm256_set1_epi8(0x0f);
        // Per 128-bit half: positions 0..8 hold rows c = 0..8 (h = 0), 8..16 rows 16 + c
        // (h = 1), with c counted from 8 in the upper half; word c is bytes 2c, 2c + 1 of the
        // same half.
        let ctrl_hi = _mm256_setr_epi8(
            1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15,
        );
        let ctrl_lo = _mm256_setr_epi8(
            0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14,
        );
        // h = 1 positions: their bits sit one lower (bit 14 - 2q), doubled to line up with h = 0.
        let h1 = _mm256_setr_epi8(
            0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1,
            -1,
        );
        let k_1_64 = _mm256_set1_epi16(0x4001); // bytes (1, 64)
        let k_1_4096 = _mm256_set1_epi32(0x1000_0001); // words (1, 4096)
        let table = table8(values, [1, 0, 2, 1, 1, 0, 2, 1]);
        let tab4 = table4(values, [1, 0, 2, 1]);
        let (sh_lo, _, sh_mid) = shifts();
        // [group][A', M, B][lane], 2 bits per column of the group: A' = columns 0..16 (A =
        // columns 0..12 with B's first four on top), M = columns 8..24, B = columns 12..24.
        // The AVX2 expansion reads columns 0..8 from A', 8..16 from M, 16..24 from B; the
        // wide one A' and M (`tl2_row512`).
        let stage = &mut **three;
        let groups_per_block = bk / 24;
        // Prefetch group `x`'s section-A bytes and sign words, or for `x >= groups` the first
        // section-C blocks: the blocks of one row group are 4 KiB and more apart (one per
        // k-block), beyond the hardware prefetchers, and a miss while staging leaves the
        // memory's write bandwidth unused. Into L2 only for the packed staging (16-bit, VBMI),
        // whose prefetches into L1 waited for line fill buffers held by the streaming stores:
        // two threads, 16 Mi elements, TL2 f16 11.1 -> 12.0, bf16 10.5 -> 12.3 Gelem/s (probe,
        // best of 5 x 20 calls, medians of 5-6 alternated runs); one thread 6.7 -> 6.9.
        let l2 = vbmi;
        // Where group `(jx, gx)` (k-block, group in the block) of the row group whose section A /
        // B blocks are `ab` lies: its 128 section-A bytes and its 32 sign bytes.
        let group_at = |(a, signs): (Blocks, Blocks), (jx, gx): (usize, usize)| {
            (a.first + jx * a.jstride + 128 * gx, signs.first + jx * signs.jstride + 32 * gx)
        };
        // `pf_in` for the section A / B blocks `ab` (this row group's or the next one's).
        let pf_in = |ab: (Blocks, Blocks), x: usize| {
            if x < groups {
                let (a_at, s_at) = group_at(ab, (x / groups_per_block, x % groups_per_block));
                prefetch(p.add(a_at), 128, l2);
                prefetch(p.add(s_at), 32, l2);
            }
        };
        let pf = |x: usize| {
            if x < groups {
                pf_in((a, signs), x);
            } else if let Some(c) = c.filter(|c| x - groups < c.nj.min(TL2_CHUNK_C)) {
                prefetch(p.add(c.first + (x - groups) * c.jstride), 256, l2);
            }
        };
        // Group `x` as (k-block, group in the block), and the group after `at` (the staging
        // loops step through the groups, no division per group: the 16-bit path stages each
        // chunk whole, and two divisions per group measured there).
        let pos = |x: usize| (x / groups_per_block, x % groups_per_block);
        let step = |(j, g): (usize, usize)| if g + 1 == groups_per_block { (j + 1, 0) } else { (j, g + 1) };
        // Stage group `(jx, gx)` of the row group whose section A / B blocks are `ab` into `st`.
        let stage_in = |st: &mut [[u32; 32]; 3], ab: (Blocks, Blocks), at: (usize, usize)| {
            let (a_at, s_at) = group_at(ab, at);
            let sb = _mm256_loadu_si256(p.add(s_at).cast());
            let (hv, lv) = (_mm256_shuffle_epi8(sb, ctrl_hi), _mm256_shuffle_epi8(sb, ctrl_lo));
            // Bit 7 - 2q' of `hs` (q' = q < 4) / `ls` (q' = q - 4) is the sign of triple q.
            let hs = _mm256_add_epi8(hv, _mm256_and_si256(hv, h1));
            let ls = _mm256_add_epi8(lv, _mm256_and_si256(lv, h1));
            let sel = [
                (hs, _mm256_slli_epi16::<2>(hs)),
                (_mm256_slli_epi16::<4>(hs), _mm256_slli_epi16::<6>(hs)),
                (ls, _mm256_slli_epi16::<2>(ls)),
                (_mm256_slli_epi16::<4>(ls), _mm256_slli_epi16::<6>(ls)),
            ];
            let mut u = [(_mm256_setzero_si256(), _mm256_setzero_si256()); 4];
            for (y, (uy, (s_hi, s_lo))) in u.iter_mut().zip(sel).enumerate() {
                let b = _mm256_loadu_si256(p.add(a_at + 32 * y).cast());
                let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(b), m0f);
                let lo = _mm256_and_si256(b, m0f);
                let th = _mm256_blendv_epi8(_mm256_shuffle_epi8(pt, hi), _mm256_shuffle_epi8(pn, hi), s_hi);
                let tl = _mm256_blendv_epi8(_mm256_shuffle_epi8(pt, lo), _mm256_shuffle_epi8(pn, lo), s_lo);
                // 12 bits per position: triple 2y in bits 0..6, 2y + 1 in 6..12.
                *uy = (
                    _mm256_maddubs_epi16(_mm256_unpacklo_epi8(th, tl), k_1_64),
                    _mm256_maddubs_epi16(_mm256_unpackhi_epi8(th, tl), k_1_64),
                );
            }
            let [sa, sm, sbw] = st;
            for (x, (u0, u1, u2, u3)) in
                [(u[0].0, u[1].0, u[2].0, u[3].0), (u[0].1, u[1].1, u[2].1, u[3].1)].into_iter().enumerate()
            {
                for (v, (lo01, lo23)) in [
                    (_mm256_unpacklo_epi16(u0, u1), _mm256_unpacklo_epi16(u2, u3)),
                    (_mm256_unpackhi_epi16(u0, u1), _mm256_unpackhi_epi16(u2, u3)),
                ]
                .into_iter()
                .enumerate()
                {
                    let av = _mm256_madd_epi16(lo01, k_1_4096);
                    let bv = _mm256_madd_epi16(lo23, k_1_4096);
                    let mv = _mm256_or_si256(_mm256_srli_epi32::<16>(av), _mm256_slli_epi32::<8>(bv));
                    // A' = A (< 2^24) with B's first four columns on top: columns 0..16.
                    let av = _mm256_or_si256(av, _mm256_slli_epi32::<24>(bv));
                    let at = 8 * (2 * x + v);
                    _mm256_storeu_si256(sa.as_mut_ptr().add(at).cast(), av);
                    _mm256_storeu_si256(sm.as_mut_ptr().add(at).cast(), mv);
                    _mm256_storeu_si256(sbw.as_mut_ptr().add(at).cast(), bv);
                }
            }
        };
        let stage_group = |st: &mut [[u32; 32]; 3], at: (usize, usize)| stage_in(st, (a, signs), at);
        // Row `rw` (staging lane `si`) of the `n` groups staged in `st`, from group `g0` on.
        // With `split` (wide only), `ends` as [`tl2_row512`]'s.
        let expand_row = |st: &[[[u32; 32]; 3]], n: usize, g0: usize, rw: usize, si: usize, ends: Ends| {
            let row_out = out.add((rw * k + 24 * g0) * es);
            if wide {
                return tl2_row512::<NT, H>(st, n, si, &tab4, row_out, ends);
            }
            let mut run = Run::<NT, H>::new(row_out, 24 * n);
            for [sa, sm, sb] in st.iter().take(n) {
                run.push(expand8(sa.as_ptr().add(si), sh_lo, table));
                run.push(expand8(sm.as_ptr().add(si), sh_lo, table));
                run.push(expand8(sb.as_ptr().add(si), sh_mid, table));
            }
            run.finish();
        };
        if !H {
            // f32: software-pipelined, as TL1 — chunk x + 1 is staged into the other half of
            // `stage` a group per expanded row of chunk x, so the streaming stores do not pause
            // for a whole chunk's staging (one thread, 16 Mi: staging only the first chunk of
            // each row group, a diagnostic, measured 84% -> 90% of the line), and the source is
            // prefetched 8 groups ahead of the staging.
            // The last chunk's expansion stages the next row group's first chunk (`next`, if
            // its blocks lie in `src` with this shape), which the next call takes from `pre`
            // when it is that row group: then no chunk is staged between two expansions.
            let key = |(x, y): (Blocks, Blocks)| [p as usize, x.first, x.jstride, x.nj, y.first, y.jstride, bk, k];
            let fits = |b: &Blocks, len: usize| {
                b.nj == a.nj && b.first.checked_add((b.nj - 1) * b.jstride + len).is_some_and(|e| e <= src.len())
            };
            let ahead = next.and_then(|n| match (n.a, n.signs) {
                (Some(na), Some(ns)) if n.bk == bk && fits(&na, 32 * bk / 6) && fits(&ns, 32 * bk / 24) => {
                    Some((na, ns))
                }
                _ => None,
            });
            let mut b = match pre.take() {
                Some((kk, half)) if kk == key((a, signs)) => half,
                _ => {
                    (0..8).for_each(pf);
                    let mut at = (0, 0);
                    for (x, st) in stage.iter_mut().enumerate().take(groups.min(chunk)) {
                        pf(x + 8);
                        stage_group(st, at);
                        at = step(at);
                    }
                    0
                }
            };
            let mut g0 = 0;
            while g0 < groups {
                let n = (groups - g0).min(chunk);
                let g1 = g0 + n;
                // What to stage meanwhile: the next chunk, or the next row group's first.
                let (nn, nab, nbase) = if g1 < groups {
                    ((groups - g1).min(chunk), (a, signs), g1)
                } else if let Some(ab) = ahead {
                    *pre = Some((key(ab), b ^ 1));
                    (groups..groups + TL2_CHUNK_C).for_each(pf); // this row group's section C
                    (0..8).for_each(|x| pf_in(ab, x));
                    (groups.min(chunk), ab, 0)
                } else {
                    (0, (a, signs), 0)
                };
                let (h0, h1) = stage.split_at_mut(chunk);
                let (cur, nxt) = if b == 0 { (h0, h1) } else { (h1, h0) };
                let mut at = pos(nbase);
                for (rw, &si) in index.iter().enumerate() {
                    expand_row(cur, n, g0, rw, si, three_ends(&mut parts, g0, g1, rw));
                    let (x0, x1) = (nn * rw / 32, nn * (rw + 1) / 32);
                    for (x, st) in nxt[x0..x1].iter_mut().enumerate() {
                        let gx = nbase + x0 + x;
                        if nbase == g1 {
                            pf(gx + 8);
                        } else {
                            pf_in(nab, gx + 8);
                        }
                        stage_in(st, nab, at);
                        at = step(at);
                    }
                }
                (g0, b) = (g1, b ^ 1);
            }
        } else {
            // 16-bit: each chunk staged whole, then expanded row by row. With VBMI each group
            // becomes one word of codes per row ([`vbmi::tl2_stage_chunk`], into `packed`),
            // else it is staged as the f32 path stages it.
            let packed = &mut **packed;
            let mut g0 = 0;
            while g0 < groups {
                let n = (groups - g0).min(chunk);
                if vbmi {
                    // One loop over the chunk's groups, the first chunk's source prefetched 8
                    // groups ahead as it goes (later chunks are prefetched while the one
                    // before is expanded, below).
                    let (j, g) = pos(g0);
                    let (a_at, s_at) = group_at((a, signs), (j, 0));
                    let walk = |at: usize, size: usize, jstride: usize| vbmi::Walk {
                        block: p.add(at),
                        v: g,
                        per_block: groups_per_block,
                        size,
                        jstride,
                    };
                    let (wa, ws) = (walk(a_at, 128, a.jstride), walk(s_at, 32, signs.jstride));
                    vbmi::tl2_stage_chunk(wa, ws, &mut packed[..n], g0 == 0);
                } else {
                    let mut at = pos(g0);
                    for (x, st) in stage.iter_mut().enumerate().take(n) {
                        // As above, the first chunk's source 8 groups ahead.
                        if g0 == 0 && x + 8 < n {
                            pf(x + 8);
                        }
                        stage_group(st, at);
                        at = step(at);
                    }
                }
                for (rw, &si) in index.iter().enumerate() {
                    // The next chunk's source, `chunk / 32` groups per row (32 rows), or the
                    // first section-C blocks after the last chunk.
                    ((g0 + n + rw * (chunk / 32))..(g0 + n + (rw + 1) * (chunk / 32))).for_each(pf);
                    let ends = three_ends(&mut parts, g0, g0 + n, rw);
                    if vbmi {
                        let row_out = out.add((rw * k + 24 * g0) * es);
                        vbmi::tl2_row512p::<NT>(packed, n, rw, &tab4, row_out, ends);
                    } else {
                        expand_row(stage, n, g0, rw, si, ends);
                    }
                }
                g0 += n;
            }
        }
    }
    if let Some(c) = c {
        let k3 = k - 32 * c.nj;
        let t4 = _mm256_broadcastsi128_si256(pair_codes());
        let m0f = _mm256_set1_epi8(0x0f);
        let table = pair_table(values);
        let tab4c = table4(values, [0, 1, 2, 1]);
        let (sh_lo, sh_hi, _) = shifts();
        // [block][half][lane]: columns 16*half..16*half + 16 of the block.
        let stage = &mut **two;
        let mut j0 = 0;
        while j0 < c.nj {
            let n = (c.nj - j0).min(TL2_CHUNK_C);
            for (jj, st) in stage.iter_mut().enumerate().take(n) {
                let at = c.first + (j0 + jj) * c.jstride;
                for (half, w) in st.iter_mut().enumerate() {
                    let codes = |y: usize| {
                        let b = _mm256_loadu_si256(p.add(at + 32 * (4 * half + y)).cast());
                        let hi = _mm256_shuffle_epi8(t4, _mm256_and_si256(_mm256_srli_epi16::<4>(b), m0f));
                        let lo = _mm256_shuffle_epi8(t4, _mm256_and_si256(b, m0f));
                        _mm256_or_si256(hi, _mm256_slli_epi16::<4>(lo))
                    };
                    let (c0, c1, c2, c3) = (codes(0), codes(1), codes(2), codes(3));
                    let (l01, h01) = (_mm256_unpacklo_epi8(c0, c1), _mm256_unpackhi_epi8(c0, c1));
                    let (l23, h23) = (_mm256_unpacklo_epi8(c2, c3), _mm256_unpackhi_epi8(c2, c3));
                    let w = w.as_mut_ptr();
                    _mm256_storeu_si256(w.cast(), _mm256_unpacklo_epi16(l01, l23));
                    _mm256_storeu_si256(w.add(8).cast(), _mm256_unpackhi_epi16(l01, l23));
                    _mm256_storeu_si256(w.add(16).cast(), _mm256_unpacklo_epi16(h01, h23));
                    _mm256_storeu_si256(w.add(24).cast(), _mm256_unpackhi_epi16(h01, h23));
                }
            }
            for (rw, &si) in index.iter().enumerate() {
                let row_out = out.add((rw * k + k3 + 32 * j0) * es);
                if wide {
                    let ends = if split { parts.ends(rw, Some(rw), false, j0 + n < c.nj, false) } else { Ends::PLAIN };
                    if vbmi {
                        vbmi::tl2c_row512v::<NT>(stage, n, si, &tab4c, row_out, ends)
                    } else {
                        tl2c_row512::<NT, H>(stage, n, si, &tab4c, row_out, ends)
                    }
                    continue;
                }
                let mut run = Run::<NT, H>::new(row_out, 32 * n);
                for st in stage.iter().take(n) {
                    for w in st {
                        let w = w.as_ptr().add(si);
                        run.push(expand8(w, sh_lo, table));
                        run.push(expand8(w, sh_hi, table));
                    }
                }
                run.finish();
            }
            j0 += n;
        }
    }
}
