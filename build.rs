//! Build script. The default build needs nothing but rustc; feature `crossval` will compile
//! `cpp_ref/` here (see shared/DESIGN.md §5) once the reference exists.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cpp_ref");
}
