//! Non-temporal (streaming) stores, shared by the upstream kernels ([`super::x86_64`]) and the
//! BitNet decoders (`quant::bitnet::simd_x86`). Compiled for AVX only, so they inline into
//! callers compiled for AVX2 (+ F16C).
//!
//! On the development machine, timed in steady state (each fill after a fill of its own kind),
//! 16-byte and 32-byte streaming stores fill memory equally fast (27.4–28.1 GB/s, one thread,
//! 128 MiB); session 4's "32-byte ones are 25% faster" was a measurement that paid for another
//! case's dirty-line write-backs (docs/PERFORMANCE.md, "What is compared").

use std::arch::x86_64::*;

/// A 16-byte non-temporal store to 16-byte-aligned `dst`, VEX-encoded (`vmovntps xmm`). std's
/// `_mm_stream_ps` / `_mm_stream_si128` are legacy-SSE `movntps` / `movntdq`, which cost an
/// SSE/AVX state transition on some Intel cores when mixed with AVX code.
///
/// # Safety
/// The CPU has AVX; `dst` is 16-byte aligned and valid for 16 bytes.
#[target_feature(enable = "avx")]
#[inline]
pub(crate) unsafe fn stream16(dst: *mut u8, v: __m128) {
    // SAFETY: per the contract.
    unsafe {
        std::arch::asm!("vmovntps [{p}], {v}", p = in(reg) dst, v = in(xmm_reg) v, options(nostack, preserves_flags))
    };
}

/// A 32-byte non-temporal store to 32-byte-aligned `dst` (`vmovntps ymm`).
///
/// # Safety
/// The CPU has AVX; `dst` is 32-byte aligned and valid for 32 bytes.
#[target_feature(enable = "avx")]
#[inline]
pub(crate) unsafe fn stream32(dst: *mut u8, v: __m256) {
    // SAFETY: per the contract.
    unsafe { _mm256_stream_ps(dst.cast(), v) };
}
