//! Test data shared by the oracle tests (tests/ggml), the SIMD tests and the GPU tests: a
//! small deterministic generator and random blocks of any type with special f16 scales (zeros,
//! subnormals, the largest, infinities, NaNs) written where the block layout keeps them.
#![allow(dead_code)]

use bitgguf::types::{self, TypeId};

/// Byte offsets of the f16 scales in a block (E8M0 / UE4M3 scale bytes listed separately).
pub fn f16_scale_offsets(id: TypeId) -> &'static [usize] {
    match id {
        2 | 6 | 8 | 16..=23 | 41 | 42 => &[0],
        3 | 7 | 12 | 13 => &[0, 2],
        10 => &[80, 82],
        11 => &[108],
        14 => &[208],
        34 => &[52],
        35 => &[64],
        _ => &[],
    }
}

/// f16 scales worth testing: zeros, subnormals, the largest, infinities, quiet and signalling
/// NaNs of both signs.
pub const SPECIAL_F16: [u16; 14] =
    [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7c01, 0xfd55];

/// `blocks` random blocks of `id`, about a quarter of them with a special scale.
pub fn random_blocks(rng: &mut Rng, id: TypeId, blocks: usize) -> Vec<u8> {
    let ti = types::info(id).unwrap();
    let ts = ti.tsize as usize;
    let mut src = rng.bytes(blocks * ts);
    for b in 0..blocks {
        if !rng.next_u64().is_multiple_of(4) {
            continue;
        }
        let blk = &mut src[b * ts..(b + 1) * ts];
        for &at in f16_scale_offsets(id) {
            let h = SPECIAL_F16[(rng.next_u64() % SPECIAL_F16.len() as u64) as usize];
            blk[at..at + 2].copy_from_slice(&h.to_le_bytes());
        }
        match id {
            39 => blk[0] = [0u8, 1, 2, 0xfe, 0xff][(rng.next_u64() % 5) as usize],
            // IQ1_M: the f16 scale is the top nibbles of the four u16 words at 48..56.
            29 => {
                let h = SPECIAL_F16[(rng.next_u64() % SPECIAL_F16.len() as u64) as usize];
                for k in 0..4 {
                    let at = 48 + 2 * k;
                    let w = u16::from_le_bytes([blk[at], blk[at + 1]]) & 0x0fff | ((h >> (4 * k)) & 0xf) << 12;
                    blk[at..at + 2].copy_from_slice(&w.to_le_bytes());
                }
            }
            40 => {
                for s in &mut blk[..4] {
                    *s = [0u8, 0x7f, 0xff, 0x80, 0x01][(rng.next_u64() % 5) as usize];
                }
            }
            _ => {}
        }
    }
    src
}

/// The tests' seeded xorshift64* generator (tests/common/xorshift.rs), named `Rng` here.
#[path = "../common/xorshift.rs"]
mod xorshift;
#[allow(unused_imports)]
pub use xorshift::XorShift as Rng;
