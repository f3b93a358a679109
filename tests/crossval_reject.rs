//! Reader parity on every malformed file of tests/reject.rs (feature `crossval`): this binary
//! compiles reject.rs again, and here `common::reject_with` also feeds each file to cpp_ref's
//! independent reader, which must reject it in the corresponding category
//! (tests/common/cref_parity.rs), except where bitgguf is deliberately stricter than gguf.cpp
//! (UTF-8/NUL in keys and names, the alignment cap, configurable limits: docs/CROSSVAL.md).
//! The malicious corpus goes through cpp_ref in tests/crossval_malicious.rs.
#![cfg(feature = "crossval")]

#[path = "reject.rs"]
mod reject_cases;
