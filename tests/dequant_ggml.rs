//! Every decoder bit-exact with real ggml's `to_float` (libggml-base.so from libggml-python):
//! on data ggml itself quantized from seeded normal values (row 0 zeroed, as gguf-py's test
//! does), and on random bytes reinterpreted as blocks (NaN/Inf/subnormal scales included; NaN
//! compares equal to NaN). Also the f32 → f16/bf16 roundings against ggml's. Each input goes
//! through both the scalar oracle (`quant::decoder`) and `quant::dequantize_f32` (the fast
//! kernels and threads where available).

mod ggml;

use bitgguf::quant;
use bitgguf::types;
use ggml::{assert_same_f32, Ggml, Rng};

/// Types with a decoder in this build and a `to_float` in ggml.
fn decodable(g: &Ggml) -> Vec<u32> {
    types::UPSTREAM.iter().map(|t| t.id).filter(|&id| quant::decoder(id).is_some() && g.has_to_float(id)).collect()
}

/// The scalar oracle and `dequantize_f32` of `n` elements of `id` from `src`, each against ggml.
fn both_like_ggml(g: &Ggml, id: u32, src: &[u8], n: usize, what: &str) {
    let name = types::info(id).unwrap().name;
    let want = g.to_float(id, src, n);
    let mut ours = vec![0f32; n];
    quant::decoder(id).unwrap()(src, &mut ours);
    assert_same_f32(&format!("{name} {what} (scalar oracle)"), &ours, &want);
    ours.fill(0.0);
    quant::dequantize_f32(id, src, &mut ours).unwrap();
    assert_same_f32(&format!("{name} {what} (dequantize_f32)"), &ours, &want);
}

#[test]
fn table_matches_ggml() {
    let Some(g) = Ggml::get("table_matches_ggml") else { return };
    for t in types::UPSTREAM.iter() {
        let (name, blck, tsize) = g.type_info(t.id);
        if matches!(t.availability, types::Availability::Removed(_)) {
            assert_eq!(blck, 0, "{}: ggml says {name} has blocks of {blck}", t.name);
            continue;
        }
        assert_eq!((t.name, t.blck, t.tsize), (name.to_ascii_lowercase().as_str(), blck, tsize), "type {}", t.id);
        assert_eq!(t.has_to_float, g.has_to_float(t.id), "to_float presence of {}", t.name);
    }
}

#[test]
fn random_bytes_decode_like_ggml() {
    let Some(g) = Ggml::get("random_bytes_decode_like_ggml") else { return };
    let ids = decodable(g);
    assert!(ids.contains(&1) && ids.contains(&30), "f16 and bf16 decoders present: {ids:?}");
    let mut rng = Rng(0x5eed_0001);
    for id in ids {
        let ti = types::info(id).unwrap();
        let blocks = 4096 / ti.blck.max(1) as usize + 64;
        let n = blocks * ti.blck as usize;
        let src = rng.bytes(blocks * ti.tsize as usize);
        both_like_ggml(g, id, &src, n, "random bytes");
    }
}

#[test]
fn f32_decodes_as_identity() {
    let mut rng = Rng(0x5eed_0004);
    let src = rng.bytes(4 * 1000);
    let mut ours = vec![0f32; 1000];
    quant::dequantize_f32(types::UPSTREAM[0].id, &src, &mut ours).unwrap();
    for (i, v) in ours.iter().enumerate() {
        assert_eq!(v.to_bits().to_le_bytes(), src[4 * i..4 * i + 4], "element {i}");
    }
}

#[test]
fn quantized_data_decodes_like_ggml() {
    let Some(g) = Ggml::get("quantized_data_decodes_like_ggml") else { return };
    let mut rng = Rng(0x5eed_0002);
    let n_per_row = 1024;
    let mut src: Vec<f32> = (0..8 * n_per_row).map(|_| rng.normal()).collect();
    src[..n_per_row].fill(0.0);
    for id in decodable(g) {
        if g.requires_imatrix(id) {
            continue;
        }
        let ti = types::info(id).unwrap();
        if !(n_per_row as u64).is_multiple_of(ti.blck) {
            continue;
        }
        let bytes = g.quantize(id, &src, n_per_row);
        both_like_ggml(g, id, &bytes, src.len(), "quantized by ggml");
    }
}

#[test]
fn f16_and_bf16_rounding_like_ggml() {
    let Some(g) = Ggml::get("f16_and_bf16_rounding_like_ggml") else { return };
    let mut rng = Rng(0x5eed_0003);
    let special = [
        0.0f32,
        -0.0,
        1.0,
        65504.0,
        65519.0,
        65520.0,
        1e-8,
        5.9604645e-8,
        2.9802322e-8,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
    ];
    let randoms = (0..1_000_000).map(|_| f32::from_bits(rng.next_u64() as u32));
    for f in special.into_iter().chain(randoms) {
        if f.is_nan() {
            // NaN payload handling is not specified bit for bit; both must give NaN.
            assert_eq!(quant::float::f32_to_f16(f) & 0x7c00, 0x7c00);
            assert_ne!(quant::float::f32_to_f16(f) & 0x3ff, 0);
            assert_eq!(quant::float::f32_to_bf16(f), g.fp32_to_bf16(f), "bf16 of NaN {:#x}", f.to_bits());
            continue;
        }
        assert_eq!(quant::float::f32_to_f16(f), g.fp32_to_fp16(f), "f16 of {f:e} ({:#x})", f.to_bits());
        assert_eq!(quant::float::f32_to_bf16(f), g.fp32_to_bf16(f), "bf16 of {f:e} ({:#x})", f.to_bits());
    }
}
