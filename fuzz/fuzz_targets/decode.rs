//! Every decoder on arbitrary bytes (the type id is chosen by the first input byte): never a
//! panic; an accepted input decodes to exactly n values in each output type.
#![no_main]

use bitgguf::quant::output::{decode_into, OutType};
use bitgguf::types;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let all: Vec<_> = types::all().collect();
    let ti = all[sel as usize % all.len()];
    if ti.layout != types::Layout::Blocks || ti.tsize == 0 {
        return;
    }
    let blocks = rest.len() as u64 / ti.tsize;
    let src = &rest[..(blocks * ti.tsize) as usize];
    let n = blocks * ti.blck;
    for out in [OutType::F32, OutType::F16, OutType::Bf16] {
        let mut dst = vec![0u8; (n * out.size()) as usize];
        let _ = decode_into(ti.id, src, n, out, &mut dst);
    }
});
