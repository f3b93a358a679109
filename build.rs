//! Build script. The default build needs nothing but rustc. With feature `crossval`
//! (`CARGO_FEATURE_CROSSVAL`), it compiles the independent C++17 reference in `cpp_ref/` with the
//! `cc` crate (shared/DESIGN.md §5): warnings are errors, `-O2` whatever the profile, no
//! `-ffast-math`, and `-ffp-contract=off` so that no multiply-add is fused (a fused `x*d + m`
//! would differ from ggml's by an ulp, reference/gguf-ggml.md §2.7).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cpp_ref");
    if std::env::var_os("CARGO_FEATURE_CROSSVAL").is_some() {
        build_cpp_ref();
    }
    set_soname();
}

/// The shared library's SONAME is `libbitgguf.so.<ABI major>` (ELF targets), the major being
/// `BG_ABI_VERSION` of src/ffi/version.rs: a host linked against ABI 1 needs `libbitgguf.so.1`
/// and never silently gets an incompatible library. CMake installs the symlinks.
fn set_soname() {
    println!("cargo:rerun-if-changed=src/ffi/version.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if !matches!(os.as_str(), "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
        return;
    }
    let src = std::fs::read_to_string("src/ffi/version.rs").expect("build.rs: cannot read src/ffi/version.rs");
    let abi = src
        .lines()
        .find_map(|l| l.trim().strip_prefix("pub const BG_ABI_VERSION: u32 = ")?.strip_suffix(';')?.parse::<u32>().ok())
        .expect("build.rs: no `pub const BG_ABI_VERSION: u32 = N;` in src/ffi/version.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbitgguf.so.{abi}");
}

#[cfg(feature = "crossval")]
fn build_cpp_ref() {
    const SOURCES: [&str; 5] = [
        "cpp_ref/gguf_reader.cpp",
        "cpp_ref/dequant.cpp",
        "cpp_ref/dequant_iq.cpp",
        "cpp_ref/dequant_tl.cpp",
        "cpp_ref/cref.cpp",
    ];
    for f in SOURCES.iter().chain(&["cpp_ref/common.hpp", "cpp_ref/cref.h", "cpp_ref/iq_tables.hpp"]) {
        println!("cargo:rerun-if-changed={f}");
    }
    cc::Build::new()
        .cpp(true)
        .files(SOURCES)
        .include("cpp_ref")
        .opt_level(2)
        .flag("-std=c++17")
        .flag("-O2")
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .flag("-ffp-contract=off")
        .compile("bitgguf_cpp_ref");
}

#[cfg(not(feature = "crossval"))]
fn build_cpp_ref() {
    // CARGO_FEATURE_CROSSVAL without the feature's cfg cannot happen under cargo.
}
