//! The tests' one small seeded generator (xorshift64*), so tests need no extra dependencies.
//! `tests/common` and `tests/blocks` both use it (the latter under the name `Rng`).
#![allow(dead_code)]

/// xorshift64*: `XorShift(seed)` or `XorShift::new(seed)` (which avoids the all-zero state).
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Fill `buf` with the low bytes of successive draws.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u64() as u8;
        }
    }
    /// `n` bytes, each the top byte of a draw.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
    /// Approximately normal values (sum of uniforms), mean 0, sd ~1.
    pub fn normal(&mut self) -> f32 {
        let s: f64 = (0..4).map(|_| (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64).sum();
        ((s - 2.0) * 1.732) as f32
    }
}
