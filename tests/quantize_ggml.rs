//! Every encoder byte-identical with real ggml's `ggml_quantize_chunk(type, src, dst, 0, nrows,
//! n_per_row, NULL)` (libggml-base.so from libggml-python): seeded normal data with edge rows
//! (zeros, huge values, tiny and subnormal values, constants, ±0, exact ties), several row
//! lengths. Also decode(encode(x)) sanity, and the C entry point `bg_quantize`.

mod ggml;

use std::ffi::c_void;

use bitgguf::error::Status;
use bitgguf::ffi::quantize::bg_quantize;
use bitgguf::quant;
use bitgguf::types;
use ggml::{Ggml, Rng};

/// The types the issue asks for, each of which must have an encoder.
const REQUIRED: [u32; 21] = [0, 1, 30, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 34, 35, 39, 20, 23, 40, 41, 42];

fn encodable() -> Vec<u32> {
    types::UPSTREAM.iter().map(|t| t.id).filter(|&id| quant::encoder(id).is_some()).collect()
}

fn name(id: u32) -> &'static str {
    types::info(id).unwrap().name
}

/// Rows of test data, `n` elements each: the edge cases first, then seeded normal rows.
fn rows(rng: &mut Rng, n: usize) -> Vec<Vec<f32>> {
    let normal =
        |rng: &mut Rng, scale: f64| -> Vec<f32> { (0..n).map(|_| (rng.normal() as f64 * scale) as f32).collect() };
    let mut out = vec![
        vec![0.0; n],       // all zero (row 0 zeroed, as gguf-py's test does)
        normal(rng, 1.0),   // plain
        normal(rng, 1e30),  // huge: squares overflow to inf in the scale searches
        normal(rng, 1e37),  // huger: near f32::MAX
        normal(rng, 1e-20), // tiny: squares are subnormal
        normal(rng, 1e-30), // tinier: squares underflow to 0
        normal(rng, 1e-41), // subnormal values
        vec![0.75; n],      // constant
        vec![-3.5; n],      // negative constant
        (0..n).map(|i| if i % 2 == 0 { 0.0 } else { -0.0 }).collect(), // ±0
        // exact halves and integers: rounding ties everywhere
        (0..n).map(|_| ((rng.next_u64() % 33) as i32 - 16) as f32 * 0.5).collect(),
        // sparse with an outlier per 64
        (0..n)
            .map(|i| {
                if i % 64 == 7 {
                    40.0
                } else if rng.next_u64().is_multiple_of(4) {
                    rng.normal()
                } else {
                    0.0
                }
            })
            .collect(),
        // one sign: all positive, then all negative
        (0..n).map(|_| rng.normal().abs() + 0.01).collect(),
        (0..n).map(|_| -rng.normal().abs() - 0.01).collect(),
        // ternary-like
        (0..n).map(|_| [-1.0, 0.0, 1.0][(rng.next_u64() % 3) as usize] * 0.37).collect(),
    ];
    for s in [0.01, 3.0, 250.0] {
        out.push(normal(rng, s));
    }
    out
}

fn first_difference(id: u32, ours: &[u8], theirs: &[u8]) -> Option<String> {
    let tsize = types::info(id).unwrap().tsize as usize;
    let i = ours.iter().zip(theirs).position(|(a, b)| a != b)?;
    let blk = i / tsize;
    let r = blk * tsize..(blk + 1) * tsize;
    Some(format!(
        "byte {i} (block {blk}, offset {}):\n  ours {:02x?}\n  ggml {:02x?}",
        i % tsize,
        &ours[r.clone()],
        &theirs[r]
    ))
}

fn compare(g: &Ggml, id: u32, src: &[f32], n_per_row: usize, what: &str) {
    let theirs = g.quantize(id, src, n_per_row);
    let mut ours = vec![0xa5u8; theirs.len() + 3];
    let written = quant::quantize(id, src, n_per_row as u64, &mut ours).unwrap();
    assert_eq!(written, theirs.len(), "{} {what}: size", name(id));
    assert!(ours[written..].iter().all(|&b| b == 0xa5), "{} {what}: wrote past the result", name(id));
    if let Some(d) = first_difference(id, &ours[..written], &theirs) {
        panic!("{} {what}, n_per_row {n_per_row}: differs from ggml at {d}", name(id));
    }
}

#[test]
fn encoders_cover_the_required_types() {
    let have = encodable();
    for id in REQUIRED {
        assert!(have.contains(&id), "no encoder for {}", name(id));
    }
}

#[test]
fn ggml_quantizes_the_required_types_without_an_imatrix() {
    let Some(g) = Ggml::get("ggml_quantizes_the_required_types_without_an_imatrix") else { return };
    for id in REQUIRED {
        assert!(!g.requires_imatrix(id), "{} needs an imatrix in ggml", name(id));
    }
}

#[test]
fn edge_rows_quantize_like_ggml() {
    let Some(g) = Ggml::get("edge_rows_quantize_like_ggml") else { return };
    let mut rng = Rng(0x9a17_0001);
    for id in encodable() {
        let blck = types::info(id).unwrap().blck as usize;
        for n_per_row in [blck, 2 * blck, 256, 512, 768, 4096] {
            if n_per_row % blck != 0 {
                continue;
            }
            let rows = rows(&mut rng, n_per_row);
            // Each row on its own (so a failure names its row), then all together.
            for (r, row) in rows.iter().enumerate() {
                compare(g, id, row, n_per_row, &format!("row {r}"));
            }
            let all: Vec<f32> = rows.concat();
            compare(g, id, &all, n_per_row, "all rows");
        }
    }
}

#[test]
fn odd_row_lengths_for_element_types() {
    let Some(g) = Ggml::get("odd_row_lengths_for_element_types") else { return };
    let mut rng = Rng(0x9a17_0002);
    let mut src: Vec<f32> = (0..7 * 13).map(|_| rng.normal()).collect();
    src.extend([65504.0, 65520.0, -65536.0, 1e-8, 5.9604645e-8, 2.9802322e-8, f32::MIN_POSITIVE]);
    src.extend([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, f32::from_bits(0x7f81_2345)]);
    src.extend((0..2000).map(|_| f32::from_bits(rng.next_u64() as u32)));
    for id in [0, 1, 30] {
        for n_per_row in [1, 7, src.len()] {
            if src.len().is_multiple_of(n_per_row) {
                compare(g, id, &src, n_per_row, "odd lengths");
            }
        }
    }
}

#[test]
fn large_normal_tensor_quantizes_like_ggml() {
    // The gguf-py pattern: 8 rows of 4096 seeded normals, row 0 zeroed.
    let Some(g) = Ggml::get("large_normal_tensor_quantizes_like_ggml") else { return };
    let mut rng = Rng(0x9a17_0003);
    let n_per_row = 4096;
    let mut src: Vec<f32> = (0..8 * n_per_row).map(|_| rng.normal()).collect();
    src[..n_per_row].fill(0.0);
    for id in encodable() {
        compare(g, id, &src, n_per_row, "8x4096 normal");
    }
}

#[test]
fn random_scales_quantize_like_ggml() {
    // Blocks of normals with a random scale each (2^-60 .. 2^60): many exponent ranges.
    let Some(g) = Ggml::get("random_scales_quantize_like_ggml") else { return };
    let mut rng = Rng(0x9a17_0004);
    let n_per_row = 256;
    let src: Vec<f32> = (0..64)
        .flat_map(|_| {
            let s = 2f64.powi((rng.next_u64() % 121) as i32 - 60);
            (0..n_per_row).map(|_| (rng.normal() as f64 * s) as f32).collect::<Vec<_>>()
        })
        .collect();
    for id in encodable() {
        compare(g, id, &src, n_per_row, "random scales");
    }
}

/// Random blocks over the whole f32 range: each 256-element block is one of several patterns
/// (normals, small integers, sparse, one-signed, random bit patterns, near-constant) at a random
/// scale 2^-140..2^130, with an occasional ±inf, NaN or ±FLT_MAX element.
#[test]
fn random_blocks_with_special_values_quantize_like_ggml() {
    let Some(g) = Ggml::get("random_blocks_with_special_values_quantize_like_ggml") else { return };
    let mut rng = Rng(0x9a17_0008);
    let n_per_row = 256;
    let ids = encodable();
    for _ in 0..150 {
        let mut src = Vec::with_capacity(16 * n_per_row);
        for _ in 0..16 {
            let s = 2f64.powi((rng.next_u64() % 270) as i32 - 140);
            let c = rng.normal() as f64 * s;
            let k = (rng.next_u64() % 5 + 1) as f64;
            let mode = rng.next_u64() % 10;
            let special = rng.next_u64().is_multiple_of(2);
            for _ in 0..n_per_row {
                let v = match mode {
                    0 => rng.normal() as f64 * s,
                    1 => ((rng.next_u64() % 17) as f64 - 8.0) * s,
                    2 => {
                        if rng.next_u64().is_multiple_of(8) {
                            rng.normal() as f64 * s
                        } else {
                            0.0
                        }
                    }
                    3 => (rng.normal() as f64).abs() * s,
                    4 => f32::from_bits(rng.next_u64() as u32 & 0xff7f_ffff) as f64,
                    5 => ((rng.next_u64() % (2 * k as u64 + 1)) as f64 - k) * s,
                    6 => {
                        if rng.next_u64().is_multiple_of(50) {
                            c * 3.0
                        } else {
                            c
                        }
                    }
                    7 => c * (1.0 + (rng.next_u64() % 3) as f64 * 1e-7),
                    8 => ((rng.next_u64() % 64) as f64 - 32.0) * 0.25 * s,
                    _ => rng.normal() as f64 * s * if rng.next_u64().is_multiple_of(32) { 1e6 } else { 1.0 },
                };
                let mut v = v as f32;
                if special && rng.next_u64().is_multiple_of(200) {
                    v = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX, -f32::MAX]
                        [(rng.next_u64() % 5) as usize];
                }
                src.push(v);
            }
        }
        for &id in &ids {
            compare(g, id, &src, n_per_row, "random blocks");
        }
    }
}

/// ggml's MXFP4 exponent `(uint8_t)(floor(log2(amax)) - 2 + 127)` wraps for amax < 2^-125: a
/// block with amax in [2^-126, 2^-125) gets e = 0xFF (NaN in OCP MX, which
/// `ggml_validate_row_data` rejects). We reproduce it byte for byte.
#[test]
fn mxfp4_tiny_blocks_wrap_like_ggml() {
    let x: Vec<f32> =
        (0..32).map(|j| f32::MIN_POSITIVE * (1.0 + j as f32 / 64.0) * if j % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let mut b = [0u8; 17];
    quant::quantize(39, &x, 32, &mut b).unwrap();
    assert_eq!(b[0], 0xff);
    if let Some(g) = Ggml::get("mxfp4_tiny_blocks_wrap_like_ggml") {
        compare(g, 39, &x, 32, "tiny block");
    }
}

/// decode(encode(x)): the relative RMS error on normal data stays within what the format can
/// do (a loose bound: it catches a broken layout, not a slightly worse search).
#[test]
fn round_trip_error_is_small() {
    let mut rng = Rng(0x9a17_0005);
    let n = 4096;
    let src: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
    let bound = |id: u32| match id {
        0 => 0.0,
        1 => 1e-3,
        30 => 5e-3,
        8 => 0.01,
        14 => 0.02,
        6 | 7 | 13 => 0.05,
        2 | 3 | 12 | 20 | 23 => 0.1,
        39 | 40 => 0.15,
        11 => 0.2,
        10 => 0.4,
        _ => 1.0, // ternary and 1/2-bit types: only "not broken"
    };
    for id in encodable() {
        let ti = types::info(id).unwrap();
        let mut q = vec![0u8; (n as u64 / ti.blck * ti.tsize) as usize];
        quant::quantize(id, &src, n as u64, &mut q).unwrap();
        let mut back = vec![0f32; n];
        quant::dequantize_f32(id, &q, &mut back).unwrap();
        let err: f64 = src.iter().zip(&back).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
        let norm: f64 = src.iter().map(|&a| (a as f64).powi(2)).sum();
        let rel = (err / norm).sqrt();
        assert!(rel <= bound(id), "{}: relative RMS error {rel:.4} > {}", ti.name, bound(id));
    }
}

/// Inputs each format represents exactly come back exactly.
#[test]
fn representable_inputs_round_trip_exactly() {
    let mut rng = Rng(0x9a17_0006);
    let d = 0.375f32; // exact in f16
    let ternary: Vec<f32> = (0..1024).map(|_| [-d, 0.0, d][(rng.next_u64() % 3) as usize]).collect();
    let signs: Vec<f32> = (0..1024).map(|_| if rng.next_u64().is_multiple_of(2) { -d } else { d }).collect();
    let q8: Vec<f32> =
        (0..1024).map(|i| if i % 32 == 0 { 127.0 } else { ((rng.next_u64() % 255) as i32 - 127) as f32 }).collect();
    let cases: [(u32, &[f32]); 6] =
        [(34, &ternary), (35, &ternary), (42, &ternary), (41, &signs), (8, &q8), (1, &ternary)];
    for (id, src) in cases {
        let ti = types::info(id).unwrap();
        let mut q = vec![0u8; (src.len() as u64 / ti.blck * ti.tsize) as usize];
        quant::quantize(id, src, src.len() as u64, &mut q).unwrap();
        let mut back = vec![0f32; src.len()];
        quant::dequantize_f32(id, &q, &mut back).unwrap();
        assert_eq!(back, src, "{} round trip", ti.name);
    }
}

#[test]
fn quantize_checks_its_arguments() {
    let src = vec![1.0f32; 512];
    let mut dst = vec![0u8; 1000];
    let st = |r: bitgguf::error::Result<usize>| r.map_err(|e| e.status()).err();
    assert_eq!(st(quant::quantize(12, &src, 256, &mut dst)), None);
    assert_eq!(st(quant::quantize(12, &src, 100, &mut dst)), Some(Status::InvalidParameter), "row not whole blocks");
    assert_eq!(st(quant::quantize(12, &src[..300], 256, &mut dst)), Some(Status::InvalidParameter), "not whole rows");
    assert_eq!(st(quant::quantize(12, &src, 0, &mut dst)), Some(Status::InvalidParameter), "row length 0");
    assert_eq!(st(quant::quantize(12, &src, 256, &mut dst[..287])), Some(Status::InsufficientSize));
    assert_eq!(st(quant::quantize(4, &src, 256, &mut dst)), Some(Status::UnsupportedType), "removed Q4_2");
    assert_eq!(st(quant::quantize(16, &src, 256, &mut dst)), Some(Status::UnsupportedType), "IQ2_XXS");
    assert_eq!(st(quant::quantize(types::I2_S, &src, 256, &mut dst)), Some(Status::UnsupportedType));
    assert_eq!(st(quant::quantize(77, &src, 256, &mut dst)), Some(Status::InvalidParameter), "unknown id");
    assert_eq!(quant::quantize(12, &[], 256, &mut []).unwrap(), 0);
}

// ---- C API -------------------------------------------------------------------------------------

/// Call `bg_quantize` on a fresh 0xEE-filled buffer of `dst_len` bytes (NULL when `None`).
fn c_quantize(ty: u32, src: &[f32], n: u64, row: u64, dst_len: Option<usize>) -> (Status, usize, Vec<u8>) {
    let mut dst = vec![0xeeu8; dst_len.unwrap_or(0)];
    let mut written = usize::MAX;
    let p: *mut c_void = if dst_len.is_some() { dst.as_mut_ptr().cast() } else { std::ptr::null_mut() };
    let s = if src.is_empty() { std::ptr::null() } else { src.as_ptr() };
    // SAFETY: src holds n floats (the tests pass n <= src.len() or a NULL src with n checked by
    // the callee), dst is NULL or dst_len writable bytes.
    let st = unsafe { bg_quantize(ty, s, n, row, p, dst_len.unwrap_or(0), &mut written) };
    (st, written, dst)
}

#[test]
fn bg_quantize_writes_exactly_the_result() {
    let mut rng = Rng(0x9a17_0007);
    let src: Vec<f32> = (0..1024).map(|_| rng.normal()).collect();
    for id in encodable() {
        let ti = types::info(id).unwrap();
        let row = 512u64.max(ti.blck);
        let need = (1024 / row * (row / ti.blck * ti.tsize)) as usize;
        let mut want = vec![0u8; need];
        quant::quantize(id, &src, row, &mut want).unwrap();
        let (st, written, dst) = c_quantize(id, &src, 1024, row, Some(need + 5));
        assert_eq!(st, Status::Ok, "{}", ti.name);
        assert_eq!(written, need, "{}", ti.name);
        assert_eq!(&dst[..need], &want[..], "{}", ti.name);
        assert!(dst[need..].iter().all(|&b| b == 0xee), "{}: wrote past the result", ti.name);
    }
}

#[test]
fn bg_quantize_reports_the_size_needed() {
    let src = vec![0.5f32; 512];
    // Q4_K: 2 rows of 256 → 2 × 144 bytes.
    let (st, written, _) = c_quantize(12, &src, 512, 256, None);
    assert_eq!((st, written), (Status::InsufficientSize, 288));
    let (st, written, dst) = c_quantize(12, &src, 512, 256, Some(287));
    assert_eq!((st, written), (Status::InsufficientSize, 288));
    assert!(dst.iter().all(|&b| b == 0xee), "nothing written on error");
    let (st, written, _) = c_quantize(12, &src, 512, 256, Some(288));
    assert_eq!((st, written), (Status::Ok, 288));
    // Nothing to do.
    let (st, written, _) = c_quantize(12, &[], 0, 256, None);
    assert_eq!((st, written), (Status::Ok, 0));
}

#[test]
fn bg_quantize_errors_write_nothing() {
    let src = vec![0.5f32; 512];
    let cases: [(u32, u64, u64, Status); 8] = [
        (12, 512, 100, Status::InvalidParameter), // row not whole blocks
        (12, 500, 256, Status::InvalidParameter), // not whole rows
        (12, 512, 0, Status::InvalidParameter),   // row length 0
        (77, 512, 256, Status::InvalidParameter), // unknown type
        (4, 512, 256, Status::UnsupportedType),   // removed
        (19, 512, 256, Status::UnsupportedType),  // IQ1_S
        (types::TL2, 512, 256, Status::UnsupportedType),
        (u32::MAX, 512, 256, Status::InvalidParameter),
    ];
    for (ty, n, row, want) in cases {
        let (st, written, dst) = c_quantize(ty, &src, n, row, Some(4096));
        assert_eq!(st, want, "type {ty}, n {n}, row {row}");
        assert_eq!(written, usize::MAX, "type {ty}: written_out untouched");
        assert!(dst.iter().all(|&b| b == 0xee), "type {ty}: dst untouched");
    }
    // NULL pointers.
    let mut dst = vec![0xeeu8; 64];
    let mut written = usize::MAX;
    // SAFETY: NULL arguments are what is being tested; dst is writable for 64 bytes.
    unsafe {
        let d: *mut c_void = dst.as_mut_ptr().cast();
        assert_eq!(bg_quantize(8, src.as_ptr(), 32, 32, d, 64, std::ptr::null_mut()), Status::NullParameter);
        assert_eq!(bg_quantize(8, std::ptr::null(), 32, 32, d, 64, &mut written), Status::NullParameter);
        assert_eq!(bg_quantize(8, src.as_ptr(), 32, 32, std::ptr::null_mut(), 64, &mut written), Status::NullParameter);
        // Misaligned source.
        let floats = [0f32; 33];
        let p = floats.as_ptr().cast::<u8>().add(1).cast::<f32>();
        assert_eq!(bg_quantize(8, p, 32, 32, d, 64, &mut written), Status::InvalidParameter);
    }
    assert_eq!(written, usize::MAX);
    assert!(dst.iter().all(|&b| b == 0xee));
}
