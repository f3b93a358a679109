//! The README's "Supported types" table agrees with the library: the same types (every type
//! with a CPU decoder, plus I2_S / TL1 / TL2), their block sizes and bits per weight from the
//! type table, the quantize column from the encoders (and the ternary converter), and — in a
//! build with the feature `gpu` — the GPU column from the kernels.

use bitgguf::types::{self, Layout, I2_S, TL1, TL2};

struct Row {
    name: String,
    bits: String,
    block: String,
    quantize: bool,
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))] // checked in a build with the feature gpu
    gpu: bool,
}

fn rows() -> Vec<Row> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- types:begin -->").expect("README has <!-- types:begin -->");
    let end = readme.find("<!-- types:end -->").expect("README has <!-- types:end -->");
    let yes = |s: &str| match s {
        "yes" => true,
        "no" => false,
        other => panic!("README types table: '{other}' is neither yes nor no"),
    };
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| type") && !l.starts_with("|---"))
        .map(|l| {
            let c: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(c.len(), 5, "README types table row: {l}");
            Row { name: c[0].into(), bits: c[1].into(), block: c[2].into(), quantize: yes(c[3]), gpu: yes(c[4]) }
        })
        .collect()
}

fn fmt_bits(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[test]
fn readme_types_table_matches_the_library() {
    let rows = rows();
    let mut expected: Vec<&str> = types::UPSTREAM
        .iter()
        .filter(|t| t.layout == Layout::Blocks && bitgguf::quant::decoder(t.id).is_some())
        .map(|t| t.name)
        .collect();
    expected.extend(["i2_s", "tl1", "tl2"]);
    let mut listed: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    expected.sort_unstable();
    listed.sort_unstable();
    assert_eq!(listed, expected, "the README lists other types than the library decodes");
    for r in &rows {
        let t = types::from_name(&r.name).unwrap();
        let ternary = [I2_S, TL1, TL2].contains(&t.id);
        if !ternary {
            assert_eq!(r.bits, fmt_bits(t.tsize as f64 * 8.0 / t.blck as f64), "{} bits/weight", r.name);
            assert_eq!(r.block, format!("{} / {}", t.blck, t.tsize), "{} block", r.name);
            assert_eq!(r.quantize, bitgguf::quant::encoder(t.id).is_some(), "{} quantize column", r.name);
        } else {
            // The ternary formats are written by the converter (absmean / sign-max).
            assert!(r.quantize && bitgguf::convert::decode::is_ternary(t.id), "{}", r.name);
            let bits = if t.id == TL2 { 5.0 / 3.0 } else { 2.0 };
            assert_eq!(r.bits, fmt_bits(bits), "{} bits/weight", r.name);
        }
    }
}

#[cfg(feature = "gpu")]
#[test]
fn readme_gpu_column_matches_the_kernels() {
    for r in rows() {
        let t = types::from_name(&r.name).unwrap();
        // TL1 / TL2 have their own staged kernels (the row tiles), outside the per-block table.
        let gpu = bitgguf::device::cuda::gpu_decodes(t.id) || [TL1, TL2].contains(&t.id);
        assert_eq!(r.gpu, gpu, "{}: README GPU column", r.name);
    }
}
