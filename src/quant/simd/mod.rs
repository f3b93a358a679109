//! Runtime-dispatched fast decoders (AVX2 + F16C on x86_64, NEON on aarch64), each bit-exact with
//! its scalar oracle in the family files (`legacy`, `kquants`, …): the same f32 products and sums
//! in the same order, no FMA, f16 scales converted exactly. The one bit-level difference the
//! hardware would introduce — `vcvtph2ps` quiets a signalling-NaN f16 — is undone where the
//! converted value is output directly (F16 decoding); where it is a block scale it is multiplied,
//! and the multiplication quiets the NaN on the scalar path too.
//!
//! Stores: f32 as is; f16 through F16C `vcvtps2ph` with round-to-nearest-even, which equals
//! [`super::float::f32_to_f16`] for every one of the 2^32 inputs, NaNs included (checked
//! exhaustively by `tests/simd_vs_scalar.rs`, ignored test `f16_store_exhaustive`); bf16 as
//! [`super::float::f32_to_bf16`] (NaN → `(bits >> 16) | 64`, else round to nearest even): with
//! integer arithmetic, or — on CPUs with AVX512-BF16, for the kernels whose values are never
//! subnormal — with `vcvtneps2bf16`, which rounds the same way except that it flushes
//! subnormals ([`native_bf16`]; checked on all 2^32 inputs by an ignored test in `x86_64`).
//! Optional streaming (non-temporal) stores for large outputs; they need a 16-byte-aligned
//! destination (32-byte stores where the address allows, 16-byte ones otherwise: malloc's large
//! blocks start 16 bytes past a page) and fall back to ordinary stores otherwise.
//!
//! The level is detected once. `BG_FORCE_SCALAR=1` (any value but empty or `0`), read once at
//! the first use, disables every fast path: [`kernel`] returns `None` and [`store`] declines.
//!
//! `unsafe` lives only in this module: the kernels are `#[target_feature]` functions reached
//! through [`Kernel`], which can only be obtained after the runtime check, and which checks the
//! buffer lengths before calling them.

use std::sync::OnceLock;

use super::output::OutType;
use crate::types::{self, TypeId};

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
pub(crate) mod nt;
#[cfg(target_arch = "x86_64")]
mod x86_64;

/// The instruction-set level the decoders use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Scalar code only: no supported SIMD extension on this CPU or target.
    Scalar,
    /// Scalar code only, because `BG_FORCE_SCALAR` asked for it.
    ForcedScalar,
    /// x86_64 AVX2 and F16C.
    Avx2F16c,
    /// aarch64 NEON.
    Neon,
}

impl Level {
    /// The name `bg_version()` reports: `"avx2+f16c"`, `"neon"`, `"scalar"` or
    /// `"scalar (forced)"`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::ForcedScalar => "scalar (forced)",
            Level::Avx2F16c => "avx2+f16c",
            Level::Neon => "neon",
        }
    }

    /// Whether fast paths are in use.
    pub fn is_simd(self) -> bool {
        matches!(self, Level::Avx2F16c | Level::Neon)
    }
}

/// Whether `BG_FORCE_SCALAR` is set to something other than empty or `0`.
fn force_scalar_requested() -> bool {
    std::env::var_os("BG_FORCE_SCALAR").is_some_and(|v| !v.is_empty() && v != "0")
}

fn detect() -> Level {
    if force_scalar_requested() {
        return Level::ForcedScalar;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("f16c") {
            return Level::Avx2F16c;
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return Level::Neon;
        }
    }
    Level::Scalar
}

/// The level in use, detected (and `BG_FORCE_SCALAR` read) once per process.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

/// A kernel: decode `nb` blocks from `src` into `dst` (`nb * blck` elements in the kernel's
/// output format).
type KernelFn = unsafe fn(src: *const u8, nb: usize, dst: *mut u8);

/// One kernel: its eight variants — f32, f16, bf16 (portable rounding), bf16 (the CPU's
/// conversion instruction, where it is exact for this kernel) with ordinary stores, then the
/// same with streaming stores (16-byte-aligned destination) — and when `Streaming::Auto`
/// streams its f16 and bf16 outputs ([`Stream2`]; f32 outputs stream by size alone).
struct KernelSet {
    fns: [KernelFn; 8],
    /// For f16, then bf16 outputs.
    stream2: [Stream2; 2],
    /// AVX-512 variants, in `fns` order, used instead of those where [`avx512`] allows (`None`:
    /// the `fns` one); bit-exact with them.
    avx512: [Option<KernelFn>; 8],
}

/// When `Streaming::Auto` uses streaming stores for one kernel's 2-byte (f16 / bf16) outputs
/// of at least `output::STREAM_MIN_BYTES`, chosen per kernel and output type from measurements
/// (`examples/stream_ab.rs`; docs/PERFORMANCE.md, section 0g).
///
/// Why it depends on the thread count: a streaming store skips the read-for-ownership, which
/// matters where memory bandwidth is the limit — on all threads, where ordinary stores make
/// every output line cross the memory bus twice. On one thread the kernel's own instruction
/// stream is the limit for most kernels, and there streaming stores measured slower for most
/// of them (by 5–40% on the development machine: the core seems to overlap its loads and
/// arithmetic less well with streaming stores in flight than with ordinary ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream2 {
    /// Ordinary stores: streaming measured slower on all threads too.
    Never,
    /// Streaming stores when the decode is split across threads, ordinary ones on one thread.
    Split,
    /// Streaming stores on one thread too (they measured faster there, or as fast for the
    /// NaN-quieting F16 / BF16 copies: kernels that are memory-bound even on one thread — the
    /// F32 / F16 / BF16 conversions, q8_0 — and kernels whose lookup tables ordinary stores
    /// would push out of the L1 cache — iq1_s, iq1_m).
    Always,
}

fn variant(out: OutType, streaming: bool, native_bf16: bool) -> usize {
    let o = match out {
        OutType::F32 => 0,
        OutType::F16 => 1,
        OutType::Bf16 if native_bf16 => 3,
        OutType::Bf16 => 2,
    };
    o + if streaming { 4 } else { 0 }
}

/// Whether the bf16 stores may use the CPU's f32 → bf16 instruction (x86_64: AVX512-BF16
/// `vcvtneps2bf16`, detected once), which gives the same bits as the portable rounding for the
/// kernels that use it. Never with `BG_FORCE_SCALAR` (no fast path at all then).
pub fn native_bf16() -> bool {
    static NATIVE: OnceLock<bool> = OnceLock::new();
    *NATIVE.get_or_init(|| match level() {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2F16c => x86_64::has_native_bf16(),
        _ => false,
    })
}

/// Whether the kernels that have AVX-512 variants use them (x86_64: AVX512F, BW, VL and DQ,
/// detected once — the detection includes the OS's AVX-512 state check — and not turned off
/// with `BG_NO_AVX512`, any value but empty or `0`). Those variants compute sixteen values per
/// vector where the AVX2 kernels compute eight (f32 lines written with one 64-byte store), and
/// are bit-exact with them (the same operations per value, only wider). Upstream kernels here
/// (`x86_64/avx512.rs`), the BitNet ones in `quant::bitnet` (`tl_fast::TlKernels`, `i2s_fast`). Never with `BG_FORCE_SCALAR` (no fast path at all then).
pub fn avx512() -> bool {
    static AVX512: OnceLock<bool> = OnceLock::new();
    *AVX512.get_or_init(|| match level() {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2F16c => {
            let off = std::env::var_os("BG_NO_AVX512").is_some_and(|v| !v.is_empty() && v != "0");
            !off && x86_64::has_avx512()
        }
        _ => false,
    })
}

/// Whether the AVX-512 kernels may also use AVX-512 VBMI (`vpmultishiftqb`, `vpermb`): [`avx512`]
/// and the CPU has it.
pub fn avx512_vbmi() -> bool {
    static VBMI: OnceLock<bool> = OnceLock::new();
    *VBMI.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            avx512() && std::is_x86_feature_detected!("avx512vbmi")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// The instruction set `bg_version()` reports: [`Level::name`], plus `+avx512` when [`avx512`]
/// kernels are in use and `+avx512bf16` when [`native_bf16`] is.
pub fn isa_name() -> &'static str {
    match (level(), avx512(), native_bf16()) {
        (Level::Avx2F16c, true, true) => "avx2+f16c+avx512+avx512bf16",
        (Level::Avx2F16c, true, false) => "avx2+f16c+avx512",
        (Level::Avx2F16c, false, true) => "avx2+f16c+avx512bf16",
        (l, _, _) => l.name(),
    }
}

/// A fast decoder for one type, usable on this CPU (only [`kernel`] makes one, after the
/// runtime check).
#[derive(Clone, Copy)]
pub struct Kernel {
    blck: usize,
    tsize: usize,
    set: &'static KernelSet,
    native_bf16: bool,
    avx512: bool,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("blck", &self.blck)
            .field("tsize", &self.tsize)
            .field("native_bf16", &self.native_bf16)
            .field("avx512", &self.uses_avx512())
            .finish()
    }
}

/// The fast decoder of type `id` at the current [`level`], if there is one.
pub fn kernel(id: TypeId) -> Option<Kernel> {
    let set: &'static KernelSet = match level() {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2F16c => x86_64::kernels(id)?,
        #[cfg(target_arch = "aarch64")]
        Level::Neon => aarch64::kernels(id)?,
        _ => return None,
    };
    let ti = types::info(id)?;
    Some(Kernel { blck: ti.blck as usize, tsize: ti.tsize as usize, set, native_bf16: native_bf16(), avx512: avx512() })
}

/// Type ids that have a fast decoder at the current level (empty when scalar).
pub fn fast_types() -> Vec<TypeId> {
    (0..types::UPSTREAM.len() as TypeId).filter(|&id| kernel(id).is_some()).collect()
}

impl Kernel {
    /// When `Streaming::Auto` streams this kernel's `out` outputs (f32: [`Stream2::Always`];
    /// `output` adds the size threshold).
    pub fn stream2(&self, out: OutType) -> Stream2 {
        match out {
            OutType::F32 => Stream2::Always,
            OutType::F16 => self.set.stream2[0],
            OutType::Bf16 => self.set.stream2[1],
        }
    }

    /// The same kernel with the portable bf16 rounding even where the CPU's instruction would be
    /// used (for tests and benchmarks of that path; the bits are the same).
    pub fn portable_bf16(self) -> Kernel {
        Kernel { native_bf16: false, ..self }
    }

    /// The same kernel without its AVX-512 variants (the AVX2 ones), for tests and benchmarks
    /// of that path; the bits are the same.
    pub fn avx2_only(self) -> Kernel {
        Kernel { avx512: false, ..self }
    }

    /// Whether this kernel has AVX-512 variants and uses them (for some outputs).
    pub fn uses_avx512(&self) -> bool {
        self.avx512 && self.set.avx512.iter().any(Option::is_some)
    }

    /// Whether this kernel uses an AVX-512 variant for `out` outputs.
    pub fn uses_avx512_for(&self, out: OutType) -> bool {
        self.avx512 && self.set.avx512[variant(out, false, self.native_bf16)].is_some()
    }

    /// Decode the whole blocks of `src` into `dst`, which must hold exactly their elements as
    /// `out` (`src.len() / tsize * blck * out.size()` bytes, any alignment). With `streaming`,
    /// uses non-temporal stores when `dst` is 16-byte aligned (ordinary stores otherwise).
    ///
    /// # Panics
    /// When `src` is not a whole number of blocks or `dst` has the wrong length.
    pub fn decode(&self, src: &[u8], out: OutType, dst: &mut [u8], streaming: bool) {
        assert_eq!(src.len() % self.tsize, 0, "fast decode: source is not whole blocks");
        let nb = src.len() / self.tsize;
        let n = nb * self.blck;
        assert_eq!(dst.len(), n * out.size() as usize, "fast decode: destination length");
        if nb == 0 {
            return;
        }
        let streaming = streaming && (dst.as_ptr() as usize).is_multiple_of(16);
        let v = variant(out, streaming, self.native_bf16);
        let f = match self.set.avx512[v] {
            Some(wide) if self.avx512 => wide,
            _ => self.set.fns[v],
        };
        // SAFETY: `self.set` comes from `kernel`, which returns it only when `level()` found the
        // instruction-set extensions the kernels are compiled for (the AVX-512 variants only
        // where `avx512()` found theirs). Every kernel reads exactly
        // `nb * tsize` bytes from `src` and writes exactly `nb * blck` elements of `out`'s size
        // to `dst`, with unaligned loads and stores (streaming variants: stores 16-byte aligned
        // relative to a 16-byte-aligned `dst`, checked just above; 32- and 64-byte ones only where
        // the address is 32- / 64-byte aligned); both lengths were checked above.
        unsafe { f(src.as_ptr(), nb, dst.as_mut_ptr()) }
    }
}

/// Store `vals` as `out` into `dst` (exactly `vals.len() * out.size()` bytes) with the fast
/// conversions. Returns `false`, writing nothing, when there is no fast path at this level.
pub fn store(out: OutType, vals: &[f32], dst: &mut [u8], streaming: bool) -> bool {
    match kernel(0) {
        Some(k) => {
            k.decode(f32_bytes(vals), out, dst, streaming);
            true
        }
        None => false,
    }
}

/// Run `f` compiled for this CPU's vector extensions (AVX2 + F16C on x86_64 where [`level`]
/// found them; as is elsewhere, or with `BG_FORCE_SCALAR`). For the scalar quantizers: the
/// same source, so the same IEEE operations in the same order and the same bits (Rust never
/// contracts to FMA, and FMA is not enabled), only auto-vectorized with wider vectors. `f` and
/// what it calls are compiled that way where they are inlined into it.
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if level() == Level::Avx2F16c {
        // SAFETY: `level()` checked at run time that the CPU has AVX2 and F16C.
        return unsafe { x86_64::wide(f) };
    }
    f()
}

/// The bytes of an f32 slice (native endianness: little-endian on every supported target).
pub fn f32_bytes(vals: &[f32]) -> &[u8] {
    // SAFETY: any initialized f32 is 4 initialized bytes; u8 has alignment 1 and the length is
    // the same memory region.
    unsafe { std::slice::from_raw_parts(vals.as_ptr().cast::<u8>(), std::mem::size_of_val(vals)) }
}

/// The bytes of a mutable f32 slice (native endianness), for decoding into it.
pub fn f32_bytes_mut(vals: &mut [f32]) -> &mut [u8] {
    // SAFETY: every bit pattern is a valid f32 and a valid u8; the byte view covers exactly the
    // memory of `vals`, borrowed mutably for the view's whole lifetime.
    unsafe { std::slice::from_raw_parts_mut(vals.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(vals)) }
}

/// `dst` viewed as f32 values when it is 4-byte aligned and a multiple of 4 bytes long
/// (little-endian targets only), so a decoder can write into it directly.
pub fn f32_view_mut(dst: &mut [u8]) -> Option<&mut [f32]> {
    if cfg!(target_endian = "big") || !dst.len().is_multiple_of(4) {
        return None;
    }
    // SAFETY: every bit pattern is a valid f32 and a valid u8, so reinterpreting initialized
    // bytes is sound; `align_to_mut` only yields the properly aligned middle part.
    let (head, mid, tail) = unsafe { dst.align_to_mut::<f32>() };
    if head.is_empty() && tail.is_empty() {
        Some(mid)
    } else {
        None
    }
}
