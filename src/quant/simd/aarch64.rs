//! NEON kernels (aarch64): a small set — F32, BF16, Q8_0, Q4_0 — that compiles and mirrors the
//! scalar oracles operation by operation (a multiply per element, no fused multiply-add). f16
//! and bf16 outputs use the scalar roundings per lane; there are no streaming stores (the
//! streaming variants are the ordinary ones). Not run on aarch64 hardware by this repository's
//! CI: `tests/simd_vs_scalar.rs` checks them against the scalar oracles wherever it runs.
//!
//! Every function here is `unsafe` with `#[target_feature(enable = "neon")]`: callers must have
//! checked NEON at run time (`super::level()`) and pass pointers valid for the block counts.

// The kernels are `unsafe fn`s whose bodies are nothing but raw-pointer loads and stores and
// intrinsics; the safety contract is the one above, per function (`// SAFETY:` on each kernel
// says what it reads and writes), so the bodies are not split into many `unsafe` blocks.
// (Raw-pointer loads and stores are `unsafe` operations.)
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::aarch64::*;

use super::{KernelSet, Stream2};
use crate::quant::float::{f32_to_bf16, f32_to_f16};
use crate::types::TypeId;

/// Bytes per output element in mode `m` (bits 0–1: 0 f32, 1 f16, 2 bf16).
#[inline(always)]
const fn es(m: u8) -> usize {
    if m & 3 == 0 {
        4
    } else {
        2
    }
}

/// Store four values at `dst` (unaligned) in mode `m`.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn put4(m: u8, dst: *mut u8, v: float32x4_t) {
    match m & 3 {
        0 => std::ptr::write_unaligned(dst.cast::<float32x4_t>(), v),
        o => {
            let lanes: [f32; 4] = std::mem::transmute(v);
            for (i, f) in lanes.into_iter().enumerate() {
                let h = if o == 1 { f32_to_f16(f) } else { f32_to_bf16(f) };
                std::ptr::write_unaligned(dst.add(2 * i).cast::<[u8; 2]>(), h.to_le_bytes());
            }
        }
    }
}

#[target_feature(enable = "neon")]
#[inline]
unsafe fn load16(p: *const u8) -> uint8x16_t {
    std::ptr::read_unaligned(p.cast::<uint8x16_t>())
}

/// Sixteen signed bytes × `d` → sixteen outputs at `y`.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn put16_i8_mul<const M: u8>(y: *mut u8, q: int8x16_t, d: float32x4_t) {
    let lo = vmovl_s8(vget_low_s8(q));
    let hi = vmovl_s8(vget_high_s8(q));
    let parts = [
        vmovl_s16(vget_low_s16(lo)),
        vmovl_s16(vget_high_s16(lo)),
        vmovl_s16(vget_low_s16(hi)),
        vmovl_s16(vget_high_s16(hi)),
    ];
    for (k, p) in parts.into_iter().enumerate() {
        put4(M, y.add(4 * k * es(M)), vmulq_f32(vcvtq_f32_s32(p), d));
    }
}

/// The f16 at `p` as f32 (scalar, exact).
#[inline]
unsafe fn half(p: *const u8) -> f32 {
    crate::quant::float::f16_to_f32(std::ptr::read_unaligned(p.cast::<u16>()))
}

// SAFETY: caller contract (module doc): `src` valid for n * 4 bytes, `dst` for n * es(M) bytes;
// the vector loop touches elements i..i+4 <= n, then the rest one at a time.
#[target_feature(enable = "neon")]
unsafe fn k_f32<const M: u8>(src: *const u8, n: usize, dst: *mut u8) {
    let mut i = 0;
    while i + 4 <= n {
        put4(M, dst.add(i * es(M)), std::ptr::read_unaligned(src.add(4 * i).cast::<float32x4_t>()));
        i += 4;
    }
    while i < n {
        let f = f32::from_le_bytes(std::ptr::read_unaligned(src.add(4 * i).cast::<[u8; 4]>()));
        let y = dst.add(i * es(M));
        match M & 3 {
            0 => std::ptr::write_unaligned(y.cast::<[u8; 4]>(), f.to_le_bytes()),
            1 => std::ptr::write_unaligned(y.cast::<[u8; 2]>(), f32_to_f16(f).to_le_bytes()),
            _ => std::ptr::write_unaligned(y.cast::<[u8; 2]>(), f32_to_bf16(f).to_le_bytes()),
        }
        i += 1;
    }
}

// SAFETY: caller contract (module doc): `src` valid for n * 2 bytes, `dst` for n * es(M) bytes;
// the vector loop touches elements i..i+4 <= n, then the rest one at a time.
#[target_feature(enable = "neon")]
unsafe fn k_bf16<const M: u8>(src: *const u8, n: usize, dst: *mut u8) {
    let mut i = 0;
    while i + 4 <= n {
        let h = std::ptr::read_unaligned(src.add(2 * i).cast::<uint16x4_t>());
        let f = vreinterpretq_f32_u32(vshlq_n_u32::<16>(vmovl_u16(h)));
        put4(M, dst.add(i * es(M)), f);
        i += 4;
    }
    while i < n {
        let h = u16::from_le_bytes(std::ptr::read_unaligned(src.add(2 * i).cast::<[u8; 2]>()));
        let f = f32::from_bits((h as u32) << 16);
        let y = dst.add(i * es(M));
        match M & 3 {
            0 => std::ptr::write_unaligned(y.cast::<[u8; 4]>(), f.to_le_bytes()),
            1 => std::ptr::write_unaligned(y.cast::<[u8; 2]>(), f32_to_f16(f).to_le_bytes()),
            _ => std::ptr::write_unaligned(y.cast::<[u8; 2]>(), f32_to_bf16(f).to_le_bytes()),
        }
        i += 1;
    }
}

/// Q8_0 (34 bytes): `q * d`.
// SAFETY: caller contract (module doc): `src` valid for nb * 34 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "neon")]
unsafe fn k_q8_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    for b in 0..nb {
        let x = src.add(34 * b);
        let y = dst.add(32 * es(M) * b);
        let d = vdupq_n_f32(half(x));
        put16_i8_mul::<M>(y, vreinterpretq_s8_u8(load16(x.add(2))), d);
        put16_i8_mul::<M>(y.add(16 * es(M)), vreinterpretq_s8_u8(load16(x.add(18))), d);
    }
}

/// Q4_0 (18 bytes): `(nibble - 8) * d`, low nibbles first.
// SAFETY: caller contract (module doc): `src` valid for nb * 18 bytes, `dst` for nb * 32 * es(M) bytes;
// every load and store below stays inside block `b` (< nb) of both, or in local buffers.
#[target_feature(enable = "neon")]
unsafe fn k_q4_0<const M: u8>(src: *const u8, nb: usize, dst: *mut u8) {
    let m4 = vdupq_n_u8(0x0f);
    let e8 = vdupq_n_s8(8);
    for b in 0..nb {
        let x = src.add(18 * b);
        let y = dst.add(32 * es(M) * b);
        let d = vdupq_n_f32(half(x));
        let q = load16(x.add(2));
        let lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), e8);
        let hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8::<4>(q)), e8);
        put16_i8_mul::<M>(y, lo, d);
        put16_i8_mul::<M>(y.add(16 * es(M)), hi, d);
    }
}

/// [`KernelSet`] order: f32, f16, bf16, bf16 "native" (none here: the portable one), then the
/// same streaming (no streaming stores here: the ordinary ones, so the [`Stream2`] flags change
/// nothing).
macro_rules! set {
    ($k:ident) => {{
        static SET: KernelSet = KernelSet {
            fns: [$k::<0>, $k::<1>, $k::<2>, $k::<2>, $k::<0>, $k::<1>, $k::<2>, $k::<2>],
            stream2: [Stream2::Never; 2],
            avx512: [None; 8],
        };
        &SET
    }};
}

/// The kernels of type `id`, if it has NEON ones. Only call them after checking NEON.
pub(super) fn kernels(id: TypeId) -> Option<&'static KernelSet> {
    Some(match id {
        0 => set!(k_f32),
        2 => set!(k_q4_0),
        8 => set!(k_q8_0),
        30 => set!(k_bf16),
        _ => return None,
    })
}
