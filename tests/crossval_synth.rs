//! Crossval over the synthetic models of `bitgguf::synth` (feature `crossval`): the `tiny` preset
//! in every type synth can write (the ternary family I2_S, TL1, TL2, TQ1_0, TQ2_0, and every
//! upstream type with an encoder), each file compared tensor by tensor and bit for bit on every
//! leg: rust vs cpp_ref (names, types, shapes, offsets, bytes, TL tile keys, values) and, when
//! `BG_GGML_LIB` is set, rust vs real ggml's `to_float` for the upstream types (skipped with a
//! printed reason otherwise; a failure under `BG_REQUIRE_ORACLES=1`).
#![cfg(feature = "crossval")]

use bitgguf::crossval::{CrossvalOptions, GgmlLib, GgufCrossValidator, ReferenceInput, Values, Verdict};
use bitgguf::synth::{synthesize, Preset, SynthOptions};
use bitgguf::types::{self, Availability, Layout, I2_S, TL1, TL2};
use bitgguf::{LoadOptions, Model, Status};

fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn ggml() -> Option<&'static GgmlLib> {
    let why = match GgmlLib::from_env() {
        Ok(Some(lib)) => return Some(lib),
        Ok(None) => "BG_GGML_LIB is not set".to_string(),
        Err(e) => e.message().to_string(),
    };
    if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("BG_REQUIRE_ORACLES=1 but real ggml is unavailable: {why}");
    }
    say(&format!("SKIPPED (third leg): tiny_preset_in_every_type_synth_writes_matches_on_every_leg: {why}"));
    None
}

#[test]
fn tiny_preset_in_every_type_synth_writes_matches_on_every_leg() {
    let lib = ggml();
    let mut written = Vec::new();
    let mut refused = Vec::new();
    for t in types::all().filter(|t| t.availability == Availability::Live && t.layout != Layout::None) {
        let bytes = match synthesize(&SynthOptions::new(Preset::Tiny, t.id)) {
            Ok(b) => b,
            Err(e) if e.status() == Status::UnsupportedType => {
                refused.push(t.name);
                continue;
            }
            Err(e) => panic!("synth tiny {}: {}", t.name, e.message()),
        };
        let model = Model::from_bytes(&bytes, &LoadOptions::default()).expect("synth output loads");
        let opts = CrossvalOptions { threads: 2, reference_input: ReferenceInput::SharedBytes, ..Default::default() };
        let mut v = GgufCrossValidator::new(&model, opts);
        if let Some(lib) = lib {
            v = v.with_ggml(lib);
        }
        let rep = v.check_all();
        let s = rep.summary();
        if !rep.all_match() {
            for f in rep.tensors.iter().filter(|t| t.verdict != Verdict::Match).take(5) {
                say(&format!("  {f}"));
            }
            panic!("tiny {}: {s}", t.name);
        }
        // Every tensor's values were compared whole; the upstream ones with ggml too.
        let mut of_type = 0;
        for r in &rep.tensors {
            let Values::Compared(c) = &r.values else { panic!("{r}") };
            assert_eq!((c.compared, c.mismatched), (r.n_elements, 0), "{r}");
            if r.type_id == t.id {
                of_type += 1;
            }
            if lib.is_some() && r.type_id < types::BITNET_ID_BASE {
                let Some(Values::Compared(g)) = &r.ggml else { panic!("ggml leg missing: {r}") };
                assert_eq!((g.compared, g.mismatched), (r.n_elements, 0), "{r}");
            }
            if matches!(r.type_id, TL1 | TL2) {
                assert!(r.tile.is_some(), "{r}");
            }
        }
        assert!(of_type > 0, "tiny {} has no tensor of that type", t.name);
        written.push(format!("{} ({} tensors, {of_type} of the type)", t.name, s.tensors));
    }
    say(&format!("crossval of synth tiny, all legs bit-exact: {written:?}"));
    say(&format!("  types synth does not write (no encoder): {refused:?}"));
    // The whole ternary family, and the upstream types with encoders, must be among them.
    for name in ["i2_s", "tl1", "tl2", "tq1_0", "tq2_0", "f16", "bf16", "q4_0", "q8_0", "q4_k", "q6_k", "iq4_nl"] {
        assert!(written.iter().any(|w| w.starts_with(&format!("{name} "))), "{name} not covered: {refused:?}");
    }
    assert!(written.iter().any(|w| w.starts_with("i2_s ")) && I2_S > 0);
}

#[test]
fn replicated_i2s_tail_matches_cpp_ref_bit_for_bit() {
    // bitnet-formats.md §3.4: Microsoft's published file replicates the scale 8x in the tail;
    // the reference reads tail bytes 0..4 like we do, so the file must cross-validate exactly,
    // and its bytes (tails included) must be what cpp_ref sees.
    use bitgguf::quant::bitnet::TailFill;
    let mut o = SynthOptions::new(Preset::Tiny, I2_S);
    o.i2s_tail = TailFill::Replicate;
    o.embed_ty = Some(I2_S);
    let bytes = synthesize(&o).unwrap();
    let model = Model::from_bytes(&bytes, &LoadOptions::default()).expect("replicated-tail file loads");
    let mut replicated = 0;
    for i in 0..model.tensor_count() {
        let t = model.tensor(i).unwrap().info;
        if t.ty.id == I2_S {
            let d = model.tensor_data(i).unwrap();
            let tail = &d[d.len() - 32..];
            assert!(tail.chunks_exact(4).all(|c| c == &tail[..4]) && tail[..4] != [0; 4], "{}", t.name);
            replicated += 1;
        }
    }
    assert_eq!(replicated, 15);
    let opts = CrossvalOptions { threads: 2, reference_input: ReferenceInput::SharedBytes, ..Default::default() };
    let rep = GgufCrossValidator::new(&model, opts).check_all();
    for r in &rep.tensors {
        assert_eq!(r.verdict, Verdict::Match, "{r}");
        let Values::Compared(c) = &r.values else { panic!("{r}") };
        assert_eq!((c.compared, c.mismatched), (r.n_elements, 0), "{r}");
    }
    assert!(rep.all_match(), "{}", rep.summary());
    say(&format!("crossval of synth tiny i2_s with replicated tails: {}", rep.summary()));
}
