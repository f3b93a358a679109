//! Writer → reader: whatever the parser accepts, rewritten by the writer (metadata, tensor
//! infos, bytes), parses back to the same thing.
#![no_main]

use bitgguf::gguf::{self, GgufWriter, OwnedValue, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = ParseOptions::default();
    let Ok(index) = gguf::parse(data, &opts) else { return };
    let g = index.view(data);
    let mut w = GgufWriter::new();
    let mut kvs = Vec::new();
    for kv in g.kvs() {
        let v = OwnedValue::from_value(&kv.value);
        if kv.key == "general.alignment" {
            if let OwnedValue::U32(a) = v {
                w.alignment(a);
            }
        } else {
            w.kv(kv.key, v.clone());
        }
        kvs.push((kv.key.to_string(), v));
    }
    for i in 0..g.tensor_count() {
        let t = g.tensor(i);
        w.tensor(t.name, t.ty.id, &t.ne[..t.n_dims.max(1) as usize], g.tensor_data(i).to_vec());
    }
    let Ok(bytes) = w.to_bytes() else { return };
    let index2 = gguf::parse(&bytes, &opts).expect("the writer's output parses");
    let g2 = index2.view(&bytes);
    assert_eq!(g.tensor_count(), g2.tensor_count());
    for i in 0..g.tensor_count() {
        let (a, b) = (g.tensor(i), g2.tensor(i));
        assert_eq!((a.name, a.ty.id, a.ne, a.offset, a.n_bytes), (b.name, b.ty.id, b.ne, b.offset, b.n_bytes));
        assert_eq!(g.tensor_data(i), g2.tensor_data(i));
    }
    let mut kvs2: Vec<_> = g2.kvs().map(|kv| (kv.key.to_string(), OwnedValue::from_value(&kv.value))).collect();
    let mut kvs = kvs;
    kvs.sort_by(|a, b| a.0.cmp(&b.0));
    kvs2.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(kvs.len(), kvs2.len());
    for (a, b) in kvs.iter().zip(&kvs2) {
        assert_eq!(a.0, b.0);
        // NaN floats compare unequal; compare their debug forms.
        assert_eq!(format!("{:?}", a.1), format!("{:?}", b.1));
    }
});
