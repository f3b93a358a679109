//! The synthetic models' random numbers: SplitMix64 streams, one per (seed, tensor, row), so
//! every value depends only on its coordinates, never on how rows are spread over threads.

/// SplitMix64's output function: a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 generator (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `state`.
    pub fn new(state: u64) -> SplitMix64 {
        SplitMix64(state)
    }

    /// The stream of row `row` of tensor `tensor` under `seed`: independent of every other
    /// (seed, tensor, row) for practical purposes.
    pub fn stream(seed: u64, tensor: u64, row: u64) -> SplitMix64 {
        let a = mix64(seed ^ GOLDEN);
        let b = mix64(a ^ tensor.wrapping_mul(0xd1b5_4a32_d192_ed03));
        SplitMix64(mix64(b ^ row.wrapping_mul(0x8cb9_2ba7_2f3d_8dd7)))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// A uniform value in [0, 1) (the top 53 bits).
    #[inline]
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal value (Box-Muller on two uniform values), for test and bench data.
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.next_unit().max(1e-300), self.next_unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fill `dst` with trits in {−1, 0, +1}: one byte of randomness each, `byte % 3 − 1`
    /// (a bias of 1/256 towards −1 is irrelevant for synthetic weights).
    pub fn fill_trits(&mut self, dst: &mut [i8]) {
        for chunk in dst.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            for (d, b) in chunk.iter_mut().zip(r) {
                *d = (b % 3) as i8 - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // SplitMix64 from state 0 (the first outputs of the reference implementation).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| SplitMix64::stream(42, 1, 2).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let x = SplitMix64::stream(42, 1, 2).next_u64();
        assert_ne!(x, SplitMix64::stream(42, 1, 3).next_u64());
        assert_ne!(x, SplitMix64::stream(42, 2, 2).next_u64());
        assert_ne!(x, SplitMix64::stream(43, 1, 2).next_u64());
        let mut t = vec![9i8; 1000];
        SplitMix64::stream(1, 2, 3).fill_trits(&mut t);
        let counts: Vec<usize> = (-1..=1).map(|v| t.iter().filter(|&&x| x == v).count()).collect();
        assert!(counts.iter().all(|&c| c > 250), "{counts:?}");
    }
}
