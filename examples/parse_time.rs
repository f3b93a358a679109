//! Times opening a GGUF file (parse + validate; tensor data untouched): `cargo run --release --example parse_time FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_time FILE");
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let m = bitgguf::Model::open(&path, &bitgguf::LoadOptions::default()).expect("load");
        let dt = t.elapsed().as_secs_f64() * 1e3;
        best = best.min(dt);
        std::hint::black_box(m.tensor_count());
    }
    println!("best of 20: {best:.3} ms");
}
