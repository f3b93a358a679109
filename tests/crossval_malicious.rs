//! The malicious corpus of tests/common/malicious.rs (reference/gguf-ggml.md §3.3) through
//! cpp_ref's independent reader (feature `crossval`): every file bitgguf rejects, cpp_ref rejects
//! in the corresponding category, except where bitgguf is deliberately stricter than gguf.cpp
//! (tests/common/cref_parity.rs, docs/CROSSVAL.md); every file bitgguf accepts, cpp_ref accepts
//! and crossvalidates tensor by tensor.
#![cfg(feature = "crossval")]

use bitgguf::crossval::cref::CrefFile;
use bitgguf::crossval::{CrossvalOptions, GgufCrossValidator, ReferenceInput};
use bitgguf::{Model, Status};

mod common;

use common::cref_parity;

#[test]
fn the_malicious_corpus_is_rejected_by_cpp_ref_too() {
    let (mut rejected, mut accepted, mut stricter, mut split) = (0, 0, Vec::new(), 0);
    for c in common::malicious::cases() {
        if !c.single() {
            split += 1; // split sets: cpp_ref reads one file at a time
            continue;
        }
        let bytes = &c.files[0].1;
        if c.expect == Status::Ok {
            // What bitgguf accepts, cpp_ref accepts too, and every tensor crossvalidates.
            let model = Model::from_bytes(bytes, &c.opts).unwrap_or_else(|e| panic!("{}: {}", c.name, e.message()));
            let opts = CrossvalOptions {
                type_policy: c.opts.parse.type_policy,
                reference_input: ReferenceInput::SharedBytes,
                ..Default::default()
            };
            let rep = GgufCrossValidator::new(&model, opts).check_all();
            assert!(rep.passes(true), "{}: {:?}", c.name, rep.first_failure());
            accepted += 1;
            continue;
        }
        if let Some(why) = cref_parity::rust_only(c.expect, &c.opts.parse) {
            if CrefFile::from_bytes(bytes, c.opts.parse.type_policy).is_ok() {
                stricter.push(format!("{} ({why})", c.name));
            }
            continue;
        }
        let e = CrefFile::from_bytes(bytes, c.opts.parse.type_policy).err().unwrap_or_else(|| {
            panic!("{}: cpp_ref accepted what bitgguf rejects with {:?} ({})", c.name, c.expect, c.what)
        });
        assert!(
            cref_parity::categories(c.expect).is_none_or(|k| k.contains(&e.code)),
            "{}: bitgguf {:?}, cpp_ref {:?}: {}",
            c.name,
            c.expect,
            e.code,
            e.message
        );
        rejected += 1;
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "malicious corpus through cpp_ref: {rejected} rejected alike, {accepted} accepted alike (and crossvalidated), \
         {} accepted only by cpp_ref as documented: {stricter:?}; {split} split sets not applicable",
        stricter.len()
    );
    assert!(rejected > 10);
}
