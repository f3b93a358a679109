//! Versions and build information.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::boundary::boundary;

/// Major version of the library (from Cargo.toml; a unit test checks they agree).
pub const BG_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const BG_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const BG_VERSION_PATCH: u32 = 0;
/// Version of the C ABI. Incremented on every incompatible change of the header; additions keep
/// it. A host can compare `bg_abi_version()` with the `BG_ABI_VERSION` it was compiled against.
pub const BG_ABI_VERSION: u32 = 1;

/// The instruction set the decoders actually use (`quant::simd::isa_name`): `"avx2+f16c"`, with
/// `"+avx512"` where some decoders use AVX-512 (off with `BG_NO_AVX512=1`) and
/// `"+avx512bf16"` where bf16 outputs use `vcvtneps2bf16`; `"neon"`, `"scalar"`, or
/// `"scalar (forced)"` under `BG_FORCE_SCALAR=1`.
pub fn simd_level() -> &'static str {
    crate::quant::simd::isa_name()
}

/// Features compiled into this build.
pub fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "cpu") {
        f.push("cpu");
    }
    if cfg!(feature = "gpu") {
        f.push("gpu");
    }
    if cfg!(feature = "crossval") {
        f.push("crossval");
    }
    f
}

/// `"<version> (features: <list>; simd: <level>)"`.
pub fn version_string() -> String {
    format!("{} (features: {}; simd: {})", env!("CARGO_PKG_VERSION"), features().join(","), simd_level())
}

/// The library version with its features and detected SIMD level, e.g.
/// `"0.1.0 (features: cpu; simd: avx2+f16c)"`. Static; never free it.
#[no_mangle]
pub extern "C" fn bg_version() -> *const c_char {
    static V: OnceLock<CString> = OnceLock::new();
    boundary("bg_version", || V.get_or_init(|| CString::new(version_string()).expect("no NUL")).as_ptr())
}

/// The C ABI version of the loaded library (`BG_ABI_VERSION` when it was built).
#[no_mangle]
pub extern "C" fn bg_abi_version() -> u32 {
    BG_ABI_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constants_match_cargo_toml() {
        assert_eq!(BG_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(BG_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(BG_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
        assert!(version_string().starts_with(env!("CARGO_PKG_VERSION")));
    }
}
