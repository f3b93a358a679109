//! The GGUF parser on arbitrary bytes: it must return (Ok or Err), never panic, and everything
//! an accepted file exposes must be readable.
#![no_main]

use bitgguf::gguf::{self, ParseOptions, Value};
use bitgguf::TypePolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for policy in [TypePolicy::Auto, TypePolicy::Upstream, TypePolicy::Bitnet] {
        let opts = ParseOptions { type_policy: policy, ..ParseOptions::default() };
        let Ok(index) = gguf::parse(data, &opts) else { continue };
        let g = index.view(data);
        for kv in g.kvs() {
            if let Value::Array(a) = kv.value {
                for v in a.iter() {
                    std::hint::black_box(v);
                }
            }
        }
        for i in 0..g.tensor_count() {
            let t = g.tensor(i);
            assert_eq!(g.tensor_data(i).len() as u64, t.n_bytes);
        }
    }
});
