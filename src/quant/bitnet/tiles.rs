//! The tile walk shared by TL1 and TL2 (bitnet-formats.md §4.4, §5.4): both emit bytes row tile
//! by row tile (`I`, BM rows), then k-block by k-block (`J`), SIMD row group by row group (`R`),
//! k-step by k-step (`Y`), each step being a fixed number of bytes whose inner order is the
//! format's own.

use std::ops::Range;

use super::{check_dst, invalid, tl1, tl2, value_lut, TlConfig};
use crate::error::Result;

/// Which LUT format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlKind {
    /// TL1 (§4).
    Tl1,
    /// TL2 (§5).
    Tl2,
}

/// Decode rows `rows` of an `M x K` TL1 / TL2 tensor (`src` is the whole tensor) into `dst`
/// (`rows.len() * K` elements): only the row tiles holding them are validated (every index;
/// `file_base`, the tensor's file offset, is for messages) and read. Returns the per-tensor
/// scale used. Nothing is written on error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_tl_rows(
    kind: TlKind,
    src: &[u8],
    m: usize,
    k: usize,
    cfg: &TlConfig,
    rows: Range<usize>,
    file_base: Option<u64>,
    dst: &mut [f32],
) -> Result<f32> {
    match kind {
        TlKind::Tl1 => tl1::tl1_validate(m, k, cfg)?,
        TlKind::Tl2 => drop(tl2::tl2_geometry(m, k, cfg)?),
    }
    let tiles = row_tiles(m, k, cfg, &rows, dst.len())?;
    let store = |scale: f32| {
        let lut = value_lut(scale);
        let rows = rows.clone();
        move |row: usize, col: usize, t: i8| {
            if rows.contains(&row) {
                dst[(row - rows.start) * k + col] = lut[(t + 1) as usize];
            }
        }
    };
    match kind {
        TlKind::Tl1 => {
            let scale = tl1::validate(src, m, k, cfg, tiles.clone(), file_base)?;
            tl1::for_each_trit(src, k, cfg, tiles, store(scale));
            Ok(scale)
        }
        TlKind::Tl2 => {
            let (g, scale) = tl2::validate(src, m, k, cfg, Some(tiles.clone()), file_base)?;
            tl2::for_each_trit(src, &g, cfg, tiles, store(scale));
            Ok(scale)
        }
    }
}

/// All row tiles of an `m`-row tensor.
pub(crate) fn all_tiles(m: usize, cfg: &TlConfig) -> Range<usize> {
    0..m / cfg.bm_tile
}

/// The row tiles holding `rows` of an `m x k` tensor, checking the range and that `dst_len`
/// is `rows.len() * k` elements.
pub(crate) fn row_tiles(
    m: usize,
    k: usize,
    cfg: &TlConfig,
    rows: &Range<usize>,
    dst_len: usize,
) -> Result<Range<usize>> {
    if rows.start > rows.end || rows.end > m {
        return Err(invalid(format!("rows {}..{} of a {m}-row tensor", rows.start, rows.end)));
    }
    check_dst(dst_len, (rows.end - rows.start) * k)?;
    Ok(rows.start / cfg.bm_tile..rows.end.div_ceil(cfg.bm_tile))
}

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
