//! The tile walk shared by TL1 and TL2 (bitnet-formats.md §4.4, §5.4): both emit bytes row tile
//! by row tile (`I`, BM rows), then k-block by k-block (`J`), SIMD row group by row group (`R`),
//! k-step by k-step (`Y`), each step being a fixed number of bytes whose inner order is the
//! format's own.

use std::ops::Range;

/// The outer loops of a TL byte stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileWalk {
    /// k-blocks per tile (`J`).
    pub nj: usize,
    /// Row groups per tile (`R`).
    pub ng: usize,
    /// k-steps per k-block (`Y`).
    pub ny: usize,
    /// Bytes per step.
    pub step_bytes: usize,
}

impl TileWalk {
    /// Bytes of one row tile (tiles are contiguous).
    pub fn tile_bytes(&self) -> usize {
        self.nj * self.ng * self.ny * self.step_bytes
    }

    /// Call `f(o, i, j, r, y)` for every step of the row tiles `tiles`, in stream order, with `o`
    /// the offset of the step's first byte in a stream that starts at `start` with tile 0.
    #[inline]
    pub fn run(&self, start: usize, tiles: Range<usize>, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
        let mut o = start + tiles.start * self.tile_bytes();
        for i in tiles {
            for j in 0..self.nj {
                for r in 0..self.ng {
                    for y in 0..self.ny {
                        f(o, i, j, r, y);
                        o += self.step_bytes;
                    }
                }
            }
        }
    }
}
