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
