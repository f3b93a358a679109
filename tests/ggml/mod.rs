//! Real ggml as an oracle for the tests and benches: a thin layer over the library's one
//! binding, [`bitgguf::oracle::ggml::GgmlLib`] (`libggml-base.so` from the pip package
//! `libggml-python`, loaded at run time from `BG_GGML_LIB`), that panics on misuse instead of
//! returning `None`, plus test data helpers. The benches include this file too (`#[path]`, with
//! [`Ggml::load_from`]).
//!
//! When the library is unavailable, [`Ggml::get`] prints `SKIPPED: <test>: <reason>` and returns
//! `None` — or panics when `BG_REQUIRE_ORACLES=1` (as in CI), so a skip never passes there.
#![allow(dead_code, unused_imports)]

use std::sync::OnceLock;

use bitgguf::oracle::ggml::GgmlLib;

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

#[path = "../blocks/mod.rs"]
mod blocks;
pub use blocks::{f16_scale_offsets, random_blocks, Rng, SPECIAL_F16};

/// Bitwise equality of two f32 slices where NaN equals any NaN; panics with the first
/// difference (index, both values and bits).
pub fn assert_same_f32(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(same, "{what}: element {i}: ours {a:e} ({:#010x}), ggml {b:e} ({:#010x})", a.to_bits(), b.to_bits());
    }
}
