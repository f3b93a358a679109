//! Real ggml as an oracle for the tests and benches: a thin layer over the library's one
//! binding, [`bitgguf::oracle::ggml::GgmlLib`] (`libggml-base.so` from the pip package
//! `libggml-python`, loaded at run time from `BG_GGML_LIB`), that panics on misuse instead of
//! returning `None`, plus test data helpers. The benches include this file too (`#[path]`, with
//! [`Ggml::load_from`]).
//!
//! When the library is unavailable, [`Ggml::get`] prints `SKIPPED: <test>: <reason>` and returns
//! `None` — or panics when `BG_REQUIRE_ORACLES=1` (as in CI), so a skip never passes there.
#![allow(dead_code)]

use std::sync::OnceLock;

use bitgguf::oracle::ggml::GgmlLib;
use bitgguf::types::{self, TypeId};

/// The loaded library.
pub struct Ggml(GgmlLib);

fn load() -> Result<Ggml, String> {
    let path = std::env::var("BG_GGML_LIB")
        .map_err(|_| "BG_GGML_LIB is not set (libggml-base.so from libggml-python)".to_string())?;
    Ggml::load_from(std::path::Path::new(&path))
}

impl Ggml {
    /// Load `libggml-base.so` from `path` (its type table checked against ours).
    pub fn load_from(path: &std::path::Path) -> Result<Ggml, String> {
        GgmlLib::open(path).map(Ggml).map_err(|e| e.to_string())
    }

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

    /// The binding itself.
    pub fn lib(&self) -> &GgmlLib {
        &self.0
    }

    /// ggml's name, block size and type size of a type.
    pub fn type_info(&self, t: u32) -> (String, u64, u64) {
        self.0.describe(t).unwrap_or_else(|| panic!("ggml has no type {t}"))
    }

    /// Whether ggml has its own `to_float` for the type (F32 has none), agreeing with our table.
    pub fn has_to_float(&self, t: u32) -> bool {
        self.0.has_to_float(t)
    }

    /// ggml's `to_float` of `n` elements from `src` (exactly their bytes).
    pub fn to_float(&self, t: u32, src: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        self.to_float_into(t, src, &mut out);
        out
    }

    /// ggml's `to_float` of `dst.len()` elements from `src` (exactly their bytes) into `dst`.
    pub fn to_float_into(&self, t: u32, src: &[u8], dst: &mut [f32]) {
        self.0.to_float(t, src, dst).unwrap_or_else(|| {
            panic!("ggml to_float of type {t}: no decoder, or {} bytes for {} values", src.len(), dst.len())
        })
    }

    /// Whether quantizing to the type needs an importance matrix.
    pub fn requires_imatrix(&self, t: u32) -> bool {
        self.0.requires_imatrix(t)
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
        self.0.quantize_chunk(t, src, n_per_row, imatrix, out).unwrap_or_else(|| {
            panic!(
                "ggml_quantize_chunk of type {t}: {} values, rows of {n_per_row}, {} output bytes",
                src.len(),
                out.len()
            )
        })
    }

    /// `ggml_fp32_to_fp16`.
    pub fn fp32_to_fp16(&self, f: f32) -> u16 {
        self.0.fp32_to_fp16(f)
    }

    /// `ggml_fp32_to_bf16`.
    pub fn fp32_to_bf16(&self, f: f32) -> u16 {
        self.0.fp32_to_bf16(f)
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
