//! Accuracy metrics of a tensor against a reference, accumulated in f64:
//! - cosine similarity `Σ a·b / sqrt(Σ a² · Σ b²)` (1 when both are all zero, 0 when only one
//!   is);
//! - relative RMSE `sqrt(Σ (a − b)² / Σ b²)` (`b` = reference; 0 or +∞ when `Σ b² = 0`);
//! - the largest absolute difference `max |a − b|`;
//! - exactness: every value equal (`==`, so −0 equals +0; NaN equals NaN).
//!
//! And the GEMV `y = W·x` with a deterministic pseudo-random `x` ([`seeded_input`]), computed
//! in f64, whose outputs are compared the same way.

/// The metrics of one comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Cosine similarity.
    pub cosine: f64,
    /// Relative RMSE.
    pub rel_rmse: f64,
    /// Largest absolute difference.
    pub max_abs: f64,
    /// Every value equal.
    pub exact: bool,
    /// Values compared.
    pub n: u64,
}

/// Running sums of an [`Accuracy`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accumulator {
    dot: f64,
    aa: f64,
    bb: f64,
    dd: f64,
    max_abs: f64,
    exact: bool,
    n: u64,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator { dot: 0.0, aa: 0.0, bb: 0.0, dd: 0.0, max_abs: 0.0, exact: true, n: 0 }
    }
}

impl Accumulator {
    /// Add one pair (`a` tested, `b` reference).
    #[inline]
    pub fn add(&mut self, a: f64, b: f64) {
        let same = a == b || (a.is_nan() && b.is_nan());
        self.exact &= same;
        self.dot += a * b;
        self.aa += a * a;
        self.bb += b * b;
        let d = if same { 0.0 } else { a - b };
        self.dd += d * d;
        let ad = d.abs();
        // NaN differences (one side NaN) make max_abs NaN.
        if ad > self.max_abs || ad.is_nan() {
            self.max_abs = ad;
        }
        self.n += 1;
    }

    /// Add slices of f32 pairwise (equal lengths).
    pub fn add_f32(&mut self, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "compared slices must have equal lengths");
        for (&x, &y) in a.iter().zip(b) {
            self.add(x as f64, y as f64);
        }
    }

    /// The metrics.
    pub fn finish(&self) -> Accuracy {
        let cosine = if self.aa == 0.0 && self.bb == 0.0 {
            1.0
        } else if self.aa == 0.0 || self.bb == 0.0 {
            0.0
        } else {
            self.dot / (self.aa.sqrt() * self.bb.sqrt())
        };
        let rel_rmse = if self.bb == 0.0 {
            if self.dd == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (self.dd / self.bb).sqrt()
        };
        let (cosine, rel_rmse) = if self.exact { (1.0, 0.0) } else { (cosine, rel_rmse) };
        Accuracy { cosine, rel_rmse, max_abs: self.max_abs, exact: self.exact, n: self.n }
    }
}

/// Compare two f32 slices.
pub fn compare(a: &[f32], b: &[f32]) -> Accuracy {
    let mut acc = Accumulator::default();
    acc.add_f32(a, b);
    acc.finish()
}

/// `k` pseudo-random inputs in [−1, 1), a function of `seed` only: SplitMix64 from `seed`,
/// value `(u >> 11) / 2^53 * 2 − 1` (exact in f64).
pub fn seeded_input(k: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..k)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// `y[r] = Σ_j w[r*k + j] · x[j]` in f64, in increasing `j` (rows of `k = x.len()` elements;
/// `w.len()` a multiple of `k`).
pub fn gemv(w: &[f32], x: &[f64]) -> Vec<f64> {
    let k = x.len();
    if k == 0 {
        return Vec::new();
    }
    w.chunks_exact(k).map(|row| row.iter().zip(x).fold(0.0f64, |s, (&a, &b)| s + a as f64 * b)).collect()
}

/// Compare the GEMV outputs of two weight matrices of rows of `x.len()` elements.
pub fn compare_gemv(a: &[f32], b: &[f32], x: &[f64]) -> Accuracy {
    let (ya, yb) = (gemv(a, x), gemv(b, x));
    let mut acc = Accumulator::default();
    for (&p, &q) in ya.iter().zip(&yb) {
        acc.add(p, q);
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // a = (1, 2, 2), b = (1, 2, 3): dot = 11, |a| = 3, |b| = sqrt(14).
        let r = compare(&[1.0, 2.0, 2.0], &[1.0, 2.0, 3.0]);
        assert_eq!(r.cosine, 11.0 / (3.0 * 14f64.sqrt()));
        assert_eq!(r.rel_rmse, (1.0f64 / 14.0).sqrt());
        assert_eq!(r.max_abs, 1.0);
        assert!(!r.exact);
        assert_eq!(r.n, 3);
        let r = compare(&[0.5, -0.0, f32::NAN], &[0.5, 0.0, f32::NAN]);
        assert!(r.exact);
        assert_eq!((r.cosine, r.rel_rmse, r.max_abs), (1.0, 0.0, 0.0));
        let r = compare(&[0.0; 4], &[0.0; 4]);
        assert_eq!((r.cosine, r.rel_rmse), (1.0, 0.0));
        let r = compare(&[1.0, 0.0], &[0.0, 0.0]);
        assert_eq!((r.cosine, r.rel_rmse, r.max_abs), (0.0, f64::INFINITY, 1.0));
        let r = compare(&[-1.0, -2.0], &[1.0, 2.0]);
        assert_eq!(r.cosine, -5.0 / (5f64.sqrt() * 5f64.sqrt())); // -1 up to the rounding of the norms
        assert_eq!(r.rel_rmse, 2.0);
        let r = compare(&[f32::NAN], &[1.0]);
        assert!(r.cosine.is_nan() && r.max_abs.is_nan() && !r.exact);
    }

    #[test]
    fn seeded_input_and_gemv() {
        let x = seeded_input(1000, 42);
        assert_eq!(x, seeded_input(1000, 42));
        assert_ne!(x, seeded_input(1000, 43));
        assert!(x.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = x.iter().sum::<f64>() / 1000.0;
        assert!(mean.abs() < 0.1, "{mean}");
        // y = W x by hand.
        let w = [1.0f32, 2.0, 3.0, -1.0, 0.5, 0.0];
        let x = [0.5, -1.0, 0.25];
        assert_eq!(gemv(&w, &x), vec![0.5 - 2.0 + 0.75, -0.5 - 0.5]);
        let r = compare_gemv(&w, &w, &x);
        assert!(r.exact && r.n == 2);
    }
}
