//! Real ggml as an oracle: `libggml-base.so` from the pip package `libggml-python`, loaded at
//! run time (env `BG_GGML_LIB`). Used for `to_float` (ggml's `dequantize_row_*`) and
//! `ggml_quantize_chunk` (its reference quantizers). The one copy of ggml's type-traits layout
//! and symbol loading: the benches include this file too (`#[path]`, with [`Ggml::load_from`]).
//!
//! When the library is unavailable, [`Ggml::get`] prints `SKIPPED: <test>: <reason>` and returns
//! `None` — or panics when `BG_REQUIRE_ORACLES=1` (as in CI), so a skip never passes there.
#![allow(dead_code)]

use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

use bitgguf::types::{self, TypeId};

type ToFloat = unsafe extern "C" fn(x: *const c_void, y: *mut f32, k: i64);
type FromFloat = unsafe extern "C" fn(x: *const f32, y: *mut c_void, k: i64);

/// `struct ggml_type_traits` of the package's include/ggml.h (0.20.2).
#[repr(C)]
struct TypeTraits {
    type_name: *const c_char,
    blck_size: i64,
    blck_size_interleave: i64,
    type_size: usize,
    is_quantized: bool,
    to_float: Option<ToFloat>,
    from_float_ref: Option<FromFloat>,
}

/// The loaded library.
pub struct Ggml {
    _lib: libloading::Library,
    traits: unsafe extern "C" fn(t: i32) -> *const TypeTraits,
    quantize_chunk: unsafe extern "C" fn(
        t: i32,
        src: *const f32,
        dst: *mut c_void,
        start: i64,
        nrows: i64,
        n_per_row: i64,
        imatrix: *const f32,
    ) -> usize,
    requires_imatrix: unsafe extern "C" fn(t: i32) -> bool,
    fp32_to_fp16: unsafe extern "C" fn(f: f32) -> u16,
    fp32_to_bf16: unsafe extern "C" fn(f: f32) -> u16,
}

// SAFETY: the functions used are thread-safe (ggml documents quantize as thread-safe; to_float
// is pure).
unsafe impl Sync for Ggml {}
unsafe impl Send for Ggml {}

fn load() -> Result<Ggml, String> {
    let path = std::env::var("BG_GGML_LIB")
        .map_err(|_| "BG_GGML_LIB is not set (libggml-base.so from libggml-python)".to_string())?;
    Ggml::load_from(std::path::Path::new(&path))
}

impl Ggml {
    /// Load `libggml-base.so` from `path`.
    pub fn load_from(path: &std::path::Path) -> Result<Ggml, String> {
        let path = path.display();
        // SAFETY: loading a shared library runs its initializers; libggml-base has no unusual
        // ones. The symbols are used with the signatures of the package's include/ggml.h.
        let lib =
            unsafe { libloading::Library::new(path.to_string()) }.map_err(|e| format!("cannot load {path}: {e}"))?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: as above.
                *unsafe { lib.get($name) }.map_err(|e| format!("{path}: {}: {e}", String::from_utf8_lossy($name)))?
            };
        }
        Ok(Ggml {
            traits: sym!(b"ggml_get_type_traits"),
            quantize_chunk: sym!(b"ggml_quantize_chunk"),
            requires_imatrix: sym!(b"ggml_quantize_requires_imatrix"),
            fp32_to_fp16: sym!(b"ggml_fp32_to_fp16"),
            fp32_to_bf16: sym!(b"ggml_fp32_to_bf16"),
            _lib: lib,
        })
    }
}

impl Ggml {
    /// The library, or `None` after printing why the calling test skips.
    pub fn get(test: &str) -> Option<&'static Ggml> {
        static G: OnceLock<Result<Ggml, String>> = OnceLock::new();
        match G.get_or_init(load) {
            Ok(g) => Some(g),
            Err(why) => {
                if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
                    panic!("BG_REQUIRE_ORACLES=1 but real ggml is unavailable: {why}");
                }
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
                None
            }
        }
    }

    fn traits(&self, t: u32) -> &TypeTraits {
        // SAFETY: ggml returns a pointer into its static table for any id < GGML_TYPE_COUNT.
        unsafe { &*(self.traits)(t as i32) }
    }

    /// ggml's name, block size and type size of a type.
    pub fn type_info(&self, t: u32) -> (String, u64, u64) {
        let tr = self.traits(t);
        // SAFETY: type_name is a static C string.
        let name = unsafe { CStr::from_ptr(tr.type_name) }.to_string_lossy().into_owned();
        (name, tr.blck_size as u64, tr.type_size as u64)
    }

    /// Whether ggml has a `to_float` for the type.
    pub fn has_to_float(&self, t: u32) -> bool {
        self.traits(t).to_float.is_some()
    }

    /// ggml's `to_float` of `n` elements from `src` (exactly their bytes).
    pub fn to_float(&self, t: u32, src: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        self.to_float_into(t, src, &mut out);
        out
    }

    /// ggml's `to_float` of `dst.len()` elements from `src` (exactly their bytes) into `dst`.
    pub fn to_float_into(&self, t: u32, src: &[u8], dst: &mut [f32]) {
        let (_, blck, tsize) = self.type_info(t);
        assert_eq!(src.len() as u64, dst.len() as u64 / blck * tsize, "byte length for ggml to_float");
        assert_eq!(dst.len() as u64 % blck, 0, "whole blocks for ggml to_float");
        let f = self.traits(t).to_float.expect("type has to_float");
        // SAFETY: src holds dst.len()/blck whole blocks (checked), dst that many floats.
        unsafe { f(src.as_ptr().cast(), dst.as_mut_ptr(), dst.len() as i64) };
    }

    /// Whether quantizing to the type needs an importance matrix.
    pub fn requires_imatrix(&self, t: u32) -> bool {
        // SAFETY: plain query.
        unsafe { (self.requires_imatrix)(t as i32) }
    }

    /// `ggml_quantize_chunk(t, src, nrows, n_per_row, imatrix = NULL)`.
    pub fn quantize(&self, t: u32, src: &[f32], n_per_row: usize) -> Vec<u8> {
        let (_, blck, tsize) = self.type_info(t);
        let mut out = vec![0u8; (src.len() as u64 / blck * tsize) as usize];
        self.quantize_into(t, src, n_per_row, None, &mut out);
        out
    }

    /// `ggml_quantize_chunk(t, src, dst, 0, nrows, n_per_row, imatrix)` into `dst` (exactly the
    /// result's bytes); `imatrix` holds `n_per_row` weights.
    pub fn quantize_into(&self, t: u32, src: &[f32], n_per_row: usize, imatrix: Option<&[f32]>, out: &mut [u8]) {
        let (_, blck, tsize) = self.type_info(t);
        assert_eq!(src.len() % n_per_row, 0);
        assert_eq!(out.len() as u64, src.len() as u64 / blck * tsize, "quantize output length");
        if let Some(m) = imatrix {
            assert_eq!(m.len(), n_per_row, "imatrix length");
        }
        let im = imatrix.map_or(std::ptr::null(), |m| m.as_ptr());
        let nrows = src.len() / n_per_row;
        // SAFETY: buffers sized as ggml requires.
        let written = unsafe {
            (self.quantize_chunk)(
                t as i32,
                src.as_ptr(),
                out.as_mut_ptr().cast(),
                0,
                nrows as i64,
                n_per_row as i64,
                im,
            )
        };
        assert_eq!(written, out.len());
    }

    /// `ggml_fp32_to_fp16`.
    pub fn fp32_to_fp16(&self, f: f32) -> u16 {
        // SAFETY: pure function.
        unsafe { (self.fp32_to_fp16)(f) }
    }

    /// `ggml_fp32_to_bf16`.
    pub fn fp32_to_bf16(&self, f: f32) -> u16 {
        // SAFETY: pure function.
        unsafe { (self.fp32_to_bf16)(f) }
    }
}

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
        if rng.next_u64() % 4 != 0 {
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

/// A small seeded xorshift64* generator (no extra dependencies).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
    /// Approximately normal values (sum of uniforms), mean 0, sd ~1.
    pub fn normal(&mut self) -> f32 {
        let s: f64 = (0..4).map(|_| (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64).sum();
        ((s - 2.0) * 1.732) as f32
    }
}

/// Bitwise equality of two f32 slices where NaN equals any NaN; panics with the first
/// difference (index, both values and bits).
pub fn assert_same_f32(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(same, "{what}: element {i}: ours {a:e} ({:#010x}), ggml {b:e} ({:#010x})", a.to_bits(), b.to_bits());
    }
}
