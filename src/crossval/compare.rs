//! The comparison primitives: a 64-bit FNV-1a hash of raw bytes, the bit-exact value comparison
//! (0 ulp, NaN equals NaN) with its statistics, and the seeded sampling of blocks.

/// 64-bit FNV-1a of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Whether two decoded values agree: the same bits, or both NaN (NaN payloads are not compared:
/// reference/gguf-ggml.md §2.7).
pub fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Map an f32 onto a line where adjacent floats are adjacent integers (both zeros map to 0).
fn ordered(x: f32) -> i64 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        -((b & 0x7fff_ffff) as i64)
    } else {
        b as i64
    }
}

/// Distance in units in the last place: 0 for equal values (and for two NaNs, and for +0 vs
/// -0, which [`same`] still tells apart), `u64::MAX` when exactly one is NaN.
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => 0,
        (false, false) => ordered(a).abs_diff(ordered(b)),
        _ => u64::MAX,
    }
}

/// The first element where the two decodes differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirstDiff {
    /// Element index within the tensor (row-major, `ne[0]` fastest).
    pub index: u64,
    /// The Rust decode's value.
    pub rust: f32,
    /// cpp_ref's value.
    pub reference: f32,
}

/// What comparing the decoded values found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueStats {
    /// Elements compared.
    pub compared: u64,
    /// Elements of the tensor.
    pub total: u64,
    /// When sampling: the number of blocks compared (chosen by the seed).
    pub sampled_blocks: Option<u64>,
    /// Elements that differ (bits differ and not both NaN).
    pub mismatched: u64,
    /// Largest |rust - reference| over the differing elements (infinite when a NaN or an
    /// infinity meets a finite value).
    pub max_abs_diff: f64,
    /// Largest ulp distance ([`ulp_distance`]).
    pub max_ulp: u64,
    /// The lowest-index difference.
    pub first_diff: Option<FirstDiff>,
}

impl ValueStats {
    /// Compare `rust` and `reference` (same length), whose first element is element `base` of
    /// the tensor. Chunks must be added in increasing `base` order for `first_diff` to be the
    /// lowest index.
    pub fn add(&mut self, base: u64, rust: &[f32], reference: &[f32]) {
        debug_assert_eq!(rust.len(), reference.len());
        self.compared += rust.len() as u64;
        for (k, (&a, &b)) in rust.iter().zip(reference).enumerate() {
            if same(a, b) {
                continue;
            }
            self.mismatched += 1;
            let diff = if a.is_nan() || b.is_nan() { f64::INFINITY } else { (a as f64 - b as f64).abs() };
            let diff = if diff.is_nan() { f64::INFINITY } else { diff }; // inf - inf
            if diff > self.max_abs_diff {
                self.max_abs_diff = diff;
            }
            self.max_ulp = self.max_ulp.max(ulp_distance(a, b));
            if self.first_diff.is_none() {
                self.first_diff = Some(FirstDiff { index: base + k as u64, rust: a, reference: b });
            }
        }
    }
}

/// SplitMix64: a tiny, well-mixed, seedable generator (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator with this seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by the multiply-high method (bias below 2^-64·n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// The seed of one tensor's sample: a function of the run's seed and the tensor's name only, so
/// the choice does not depend on the thread count, the order of work or the tensor's index.
pub fn tensor_seed(seed: u64, name: &[u8]) -> u64 {
    SplitMix64::new(seed ^ fnv1a64(name)).next_u64()
}

/// `k` distinct numbers of `0..total`, ascending (Floyd's algorithm; all of them when
/// `k >= total`).
pub fn sample_indices(total: u64, k: u64, seed: u64) -> Vec<u64> {
    if k >= total {
        return (0..total).collect();
    }
    let mut rng = SplitMix64::new(seed);
    let mut chosen = std::collections::BTreeSet::new();
    for j in (total - k)..total {
        let t = rng.below(j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn sameness_and_ulps() {
        assert!(same(f32::NAN, -f32::NAN));
        assert!(same(f32::from_bits(0x7fc0_0001), f32::from_bits(0x7f80_0001)));
        assert!(!same(0.0, -0.0));
        assert_eq!(ulp_distance(0.0, -0.0), 0);
        assert_eq!(ulp_distance(1.0, f32::from_bits(1.0f32.to_bits() + 3)), 3);
        assert_eq!(ulp_distance(-f32::from_bits(1), f32::from_bits(1)), 2);
        assert_eq!(ulp_distance(1.0, f32::NAN), u64::MAX);
        assert_eq!(ulp_distance(f32::MAX, f32::INFINITY), 1);
    }

    #[test]
    fn stats_record_the_first_difference() {
        let mut s = ValueStats::default();
        s.add(0, &[1.0, 2.0], &[1.0, 2.0]);
        s.add(2, &[3.0, 4.0, f32::NAN], &[3.5, 4.0, 1.0]);
        assert_eq!(s.compared, 5);
        assert_eq!(s.mismatched, 2);
        assert_eq!(s.first_diff, Some(FirstDiff { index: 2, rust: 3.0, reference: 3.5 }));
        assert_eq!(s.max_abs_diff, f64::INFINITY);
        assert_eq!(s.max_ulp, u64::MAX);
    }

    #[test]
    fn sampling_is_distinct_sorted_and_seeded() {
        for (total, k) in [(10u64, 3u64), (1000, 999), (5, 5), (5, 9), (1 << 40, 7)] {
            let a = sample_indices(total, k, 42);
            assert_eq!(a.len() as u64, k.min(total));
            assert!(a.windows(2).all(|w| w[0] < w[1]));
            assert!(a.iter().all(|&x| x < total));
            assert_eq!(a, sample_indices(total, k, 42));
        }
        assert_ne!(sample_indices(1 << 20, 8, 1), sample_indices(1 << 20, 8, 2));
        assert_ne!(tensor_seed(42, b"a"), tensor_seed(42, b"b"));
    }
}
