//! BitNet tensors decoded from files, through the whole load + dequantize path (the C API
//! `bg_load_from_memory` + `bg_tensor_dequantize(_rows)` and `Model::decode_rows`):
//! - the test vectors of bitnet-formats.md §9 byte for byte (I2_S §9.1 incl. GROUP_64, TL1
//!   §9.4, TL2 §9.5);
//! - TL tile configurations from `bitgguf.tl.<name>` keys, load options and presets, and the
//!   errors when they are missing, malformed or conflicting;
//! - rejections (I2_S code 3, TL indices, bad scales, shapes) naming the tensor and the file
//!   byte offset.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use bitgguf::error::Status;
use bitgguf::ffi::bg_model;
use bitgguf::ffi::dequant::*;
use bitgguf::ffi::load::*;
use bitgguf::ffi::status::bg_last_error_message;
use bitgguf::ffi::types::BG_TYPE_F32;
use bitgguf::gguf::{GgufWriter, OwnedValue, ValueType};
use bitgguf::model::codec::{CodecOptions, TlPresetName};
use bitgguf::quant::bitnet::{encode_tl1, encode_tl2, I2sLayout, TlConfig};
use bitgguf::quant::output::OutType;
use bitgguf::types::{I2_S, TL1, TL2};
use bitgguf::{LoadOptions, Model};

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|t| u8::from_str_radix(t, 16).unwrap()).collect()
}

fn last_error() -> String {
    let mut n = 0usize;
    unsafe { bg_last_error_message(ptr::null_mut(), 0, &mut n) };
    let mut buf = vec![0 as c_char; n + 1];
    let mut n2 = 0usize;
    assert_eq!(unsafe { bg_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n2) }, Status::Ok);
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string()
}

/// Options for the C API.
#[derive(Default, Clone)]
struct Opts {
    tl: Option<(u32, u32, u32)>,
    preset: Option<&'static str>,
    layout: Option<u32>,
}

struct CModel(*mut bg_model);

impl Drop for CModel {
    fn drop(&mut self) {
        unsafe { bitgguf::ffi::load::bg_free(self.0) };
    }
}

fn load(bytes: &[u8], o: &Opts) -> CModel {
    unsafe {
        let opts = bg_load_options_new();
        if let Some((a, b, c)) = o.tl {
            assert_eq!(bg_load_options_set_tl_config(opts, a, b, c), Status::Ok);
        }
        if let Some(p) = o.preset {
            let c = CString::new(p).unwrap();
            assert_eq!(bg_load_options_set_tl_preset(opts, c.as_ptr()), Status::Ok, "{}", last_error());
        }
        if let Some(l) = o.layout {
            assert_eq!(bg_load_options_set_i2s_layout(opts, l), Status::Ok);
        }
        let mut m = ptr::null_mut();
        let s = bg_load_from_memory(bytes.as_ptr(), bytes.len(), opts, &mut m);
        bg_load_options_free(opts);
        assert_eq!(s, Status::Ok, "{}", last_error());
        CModel(m)
    }
}

/// Decode tensor `index` as f32 through the C API: values, or (status, message).
fn dequant(m: &CModel, index: usize) -> Result<Vec<f32>, (Status, String)> {
    let mut size = 0usize;
    assert_eq!(unsafe { bg_tensor_dequantized_size(m.0, index, BG_TYPE_F32, &mut size) }, Status::Ok);
    let mut buf = vec![0xa5u8; size];
    let s = unsafe { bg_tensor_dequantize(m.0, index, BG_TYPE_F32, buf.as_mut_ptr().cast(), buf.len()) };
    if s != Status::Ok {
        assert!(buf.iter().all(|&b| b == 0xa5), "nothing written on error");
        return Err((s, last_error()));
    }
    Ok(buf.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
}

fn rows(m: &CModel, index: usize, r0: u64, n: u64, ne0: usize) -> Vec<f32> {
    let mut buf = vec![0u8; n as usize * ne0 * 4];
    let s = unsafe { bg_tensor_dequantize_rows(m.0, index, r0, n, BG_TYPE_F32, buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(s, Status::Ok, "{}", last_error());
    buf.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn scaled(t: &[i8], s: f32) -> Vec<f32> {
    t.iter().map(|&x| s * x as f32).collect()
}

/// A one-tensor BitNet file (plus an F32 tensor first, so the data does not start at 0).
fn file(name: &str, ty: u32, ne: &[u64], data: Vec<u8>, kvs: &[(&str, OwnedValue)]) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    for (k, v) in kvs {
        w.kv(*k, v.clone());
    }
    w.tensor("pad", 0, &[8], vec![0u8; 32]);
    w.tensor(name, ty, ne, data);
    w.to_bytes().unwrap()
}

fn u32s(v: &[u32]) -> OwnedValue {
    OwnedValue::Array(ValueType::U32, v.iter().map(|&x| OwnedValue::U32(x)).collect())
}

/// The absolute file offset of tensor 1's data.
fn data_at(bytes: &[u8]) -> u64 {
    let m = Model::from_bytes(bytes, &LoadOptions::default()).unwrap();
    m.tensor_file_offset(1).unwrap()
}

// ---- §9.1 I2_S ---------------------------------------------------------------------------

const WHOLE_9_1: &str = "
    92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92
    92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92
    24 49 92 24 49 92 24 49 92 24 49 92 24 49 92 24
    49 92 24 49 92 24 49 92 24 49 92 24 49 92 24 49
    f0 85 49 3c 00 00 00 00 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

fn vector_a() -> Vec<i8> {
    (0..128).map(|j| [1, 0, -1, 1][j / 32]).collect()
}

fn vector_b() -> Vec<i8> {
    (0..128).map(|j| (j % 3) as i8 - 1).collect()
}

#[test]
fn i2s_vector_9_1_from_a_file() {
    let s = 0.0123f32;
    assert_eq!(s.to_le_bytes(), [0xf0, 0x85, 0x49, 0x3c]);
    let mut want = scaled(&vector_a(), s);
    want.extend(scaled(&vector_b(), s));
    for tail in ["zero", "replicated"] {
        let mut data = unhex(WHOLE_9_1);
        if tail == "replicated" {
            // The official file's convention (§3.4): the scale 8x; readers use bytes 0..3 only.
            for c in data[64..].chunks_exact_mut(4) {
                c.copy_from_slice(&s.to_le_bytes());
            }
        }
        let bytes = file("w", I2_S, &[128, 2], data, &[]);
        let m = load(&bytes, &Opts::default());
        assert_eq!(bits(&dequant(&m, 1).unwrap()), bits(&want), "{tail}");
        assert_eq!(bits(&rows(&m, 1, 1, 1, 128)), bits(&want[128..]), "row 1 = vector B");
        assert_eq!(bits(&rows(&m, 1, 0, 1, 128)), bits(&want[..128]), "row 0 = vector A");
        // Row 0 of §9.1: [0.0123 x32, 0 x32, -0.0123 x32, 0.0123 x32].
        assert_eq!(want[0], 0.0123f32);
        assert_eq!(want[64], -0.0123f32);
        // The Rust path and f16 output agree.
        let model = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
        let mut h = vec![0u8; 256 * 2];
        model.decode_rows(1, 0..2, OutType::F16, &mut h).unwrap();
        for (i, c) in h.chunks_exact(2).enumerate() {
            assert_eq!(u16::from_le_bytes([c[0], c[1]]), bitgguf::quant::float::f32_to_f16(want[i]));
        }
    }
}

#[test]
fn i2s_group_64_only_when_asked() {
    // §9.1: vector B in the ARM GROUP_64 flavour is 18 61 86 ... (period 3, 32 bytes).
    let mut data: Vec<u8> = (0..32).map(|p| [0x18, 0x61, 0x86][p % 3]).collect();
    data.extend(2.0f32.to_le_bytes());
    data.extend([0u8; 28]);
    let bytes = file("w", I2_S, &[128, 1], data, &[]);
    let g64 = load(&bytes, &Opts { layout: Some(BG_I2S_LAYOUT_GROUP_64), ..Opts::default() });
    assert_eq!(dequant(&g64, 1).unwrap(), scaled(&vector_b(), 2.0));
    // The default (canonical) reading is different: the layout is never guessed.
    let canon = load(&bytes, &Opts::default());
    let v = dequant(&canon, 1).unwrap();
    assert_ne!(v, scaled(&vector_b(), 2.0));
    // Canonical byte p holds elements p, p+32, p+64, p+96: 0x18 = codes 0,1,2,0 at byte 0.
    assert_eq!((v[0], v[32], v[64], v[96]), (-2.0, 0.0, 2.0, -2.0));
    let same = load(&bytes, &Opts { layout: Some(BG_I2S_LAYOUT_GROUP_128), ..Opts::default() });
    assert_eq!(dequant(&same, 1).unwrap(), v);
    // Unknown layouts are refused.
    unsafe {
        let o = bg_load_options_new();
        assert_eq!(bg_load_options_set_i2s_layout(o, 2), Status::InvalidParameter);
        assert!(last_error().contains("unknown I2_S layout 2"));
        bg_load_options_free(o);
    }
}

// ---- §9.4 TL1 ----------------------------------------------------------------------------

const TL1_9_4: &str = "
    16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
    51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51
    51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51
    65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65
    65 16 51 65 16 51 65 16 51 65 16 51 65 16 51 65
    16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
    16 51 65 16 51 65 16 51 65 16 51 65 16 51 65 16
    51 65 16 51 65 16 51 65 16 51 65 16 51 65 16 51";

fn tl1_9_4(scale: f32) -> (Vec<u8>, Vec<f32>) {
    let mut data = unhex(TL1_9_4);
    data.extend(scale.to_le_bytes());
    data.extend([0u8; 28]);
    let want: Vec<f32> = (0..32 * 16).map(|e| scale * (((e / 16 + e % 16) % 3) as f32 - 1.0)).collect();
    (data, want)
}

#[test]
fn tl1_vector_9_4_with_key_option_and_errors() {
    let (data, want) = tl1_9_4(0.5);
    // §9.4: M = 32 rows, K = 16, BM = 32, BK = 16, bm = 32; GGUF shape [K, M].
    let keyed = file("t", TL1, &[16, 32], data.clone(), &[("bitgguf.tl.t", u32s(&[32, 16, 32]))]);
    assert_eq!(dequant(&load(&keyed, &Opts::default()), 1).unwrap(), want);
    // Rows of a tile-interleaved tensor.
    assert_eq!(rows(&load(&keyed, &Opts::default()), 1, 5, 3, 16), want[5 * 16..8 * 16].to_vec());
    // The same option as the key is fine.
    assert_eq!(dequant(&load(&keyed, &Opts { tl: Some((32, 16, 32)), ..Opts::default() }), 1).unwrap(), want);

    let bare = file("t", TL1, &[16, 32], data.clone(), &[]);
    let (s, msg) = dequant(&load(&bare, &Opts::default()), 1).unwrap_err();
    assert_eq!(s, Status::TileConfigMissing);
    assert!(msg.contains("tensor 't'") && msg.contains("bitgguf.tl.t") && msg.contains("M=32, K=16"), "{msg}");
    assert_eq!(dequant(&load(&bare, &Opts { tl: Some((32, 16, 32)), ..Opts::default() }), 1).unwrap(), want);
    // A config that does not fit the shape.
    let (s, msg) = dequant(&load(&bare, &Opts { tl: Some((32, 12, 32)), ..Opts::default() }), 1).unwrap_err();
    assert_eq!(s, Status::TileConfigInvalid);
    assert!(msg.contains("tensor 't'") && msg.contains("K % BK"), "{msg}");
    // A preset without this shape.
    let (s, msg) = dequant(&load(&bare, &Opts { preset: Some("bitnet_b1_58-3B"), ..Opts::default() }), 1).unwrap_err();
    assert_eq!(s, Status::TileConfigMissing);
    assert!(msg.contains("bitnet_b1_58-3B") && msg.contains("M=32, K=16"), "{msg}");

    // Key vs option conflict.
    let (s, msg) = dequant(&load(&keyed, &Opts { tl: Some((32, 16, 64)), ..Opts::default() }), 1).unwrap_err();
    assert_eq!(s, Status::TileConfigInvalid);
    assert!(msg.contains("[BM=32, BK=16, bm=32]") && msg.contains("[BM=32, BK=16, bm=64]"), "{msg}");
    // Malformed keys.
    for bad in [u32s(&[32, 16]), OwnedValue::U32(32), OwnedValue::Array(ValueType::I32, vec![OwnedValue::I32(32); 3])] {
        let f = file("t", TL1, &[16, 32], data.clone(), &[("bitgguf.tl.t", bad)]);
        let (s, msg) = dequant(&load(&f, &Opts::default()), 1).unwrap_err();
        assert_eq!(s, Status::TileConfigInvalid);
        assert!(msg.contains("'bitgguf.tl.t'") && msg.contains("expected an array of 3 uint32"), "{msg}");
    }
}

#[test]
fn tl1_presets_by_name() {
    // bitnet_b1_58-large (1536, 1536) -> BM 128, BK 64, bm 64 (kernel_config_tl1.ini and setup_env.py).
    let (m, k) = (1536usize, 1536usize);
    let cfg = TlConfig { bm_tile: 128, bk: 64, bm: 64 };
    let trits: Vec<i8> = (0..m * k).map(|e| ((e * 7 + e / k) % 3) as i8 - 1).collect();
    let data = encode_tl1(&trits, 0.25, m, k, &cfg).unwrap();
    let bytes = file("blk.0.attn_q.weight", TL1, &[k as u64, m as u64], data, &[]);
    for name in ["bitnet_b1_58-large", "BITNET-LARGE", "bitnet-large:ini", "bitnet_b1_58-large:setup_env"] {
        let v = dequant(&load(&bytes, &Opts { preset: Some(name), ..Opts::default() }), 1).unwrap();
        assert!(v == scaled(&trits, 0.25), "{name}");
    }
    assert_eq!(
        TlPresetName::parse("llama3-8b-1.58").unwrap().lookup(TL1, 4096, 4096),
        Some(TlConfig { bm_tile: 128, bk: 64, bm: 64 })
    );
    assert_eq!(
        TlPresetName::parse("llama3-8b-1.58:ini").unwrap().lookup(TL1, 4096, 4096),
        Some(TlConfig { bm_tile: 128, bk: 64, bm: 32 })
    );
    unsafe {
        let o = bg_load_options_new();
        let c = CString::new("gpt-2").unwrap();
        assert_eq!(bg_load_options_set_tl_preset(o, c.as_ptr()), Status::InvalidParameter);
        assert!(last_error().contains("unknown TL preset 'gpt-2'"));
        let c = CString::new("bitnet-3b:foo").unwrap();
        assert_eq!(bg_load_options_set_tl_preset(o, c.as_ptr()), Status::InvalidParameter);
        assert_eq!(bg_load_options_set_tl_preset(o, ptr::null()), Status::Ok, "NULL clears");
        assert_eq!(bg_load_options_set_tl_config(o, 0, 64, 32), Status::InvalidParameter);
        bg_load_options_free(o);
    }
}

// ---- §9.5 TL2 ----------------------------------------------------------------------------

#[test]
fn tl2_vector_9_5_from_a_file() {
    // M = 32, K = 80, BM = 32, BK = 48, bm = 32; t[m][k] = ((5m + 7k) mod 3) - 1.
    let (m, k) = (32usize, 80usize);
    let cfg = TlConfig { bm_tile: 32, bk: 48, bm: 32 };
    let trits: Vec<i8> = (0..m * k).map(|e| ((5 * (e / k) + 7 * (e % k)) % 3) as i8 - 1).collect();
    let data = encode_tl2(&trits, 1.5, m, k, &cfg).unwrap();
    assert_eq!(data.len(), 928, "ggml_nbytes of §9.5");
    let three = "88 66 22 88 66 22 88 66 66 22 88 66 22 88 66 22 22 88 66 22 88 66 22 88 88 66 22 88 66 22 88 66";
    let sign = "aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa 00 00 55 55 aa aa";
    let two = "16 65 51 16 65 51 16 65 65 51 16 65 51 16 65 51 51 16 65 51 16 65 51 16 16 65 51 16 65 51 16 65";
    assert_eq!(&data[..32], &unhex(three)[..]);
    assert_eq!(&data[256..288], &unhex(sign)[..]);
    assert_eq!(&data[320..352], &unhex(two)[..]);
    assert!(data[576..896].iter().all(|&b| b == 0), "zero padding to roundup32(F = 875)");
    assert_eq!(&data[896..900], &1.5f32.to_le_bytes(), "scale record at roundup32(F)");
    let bytes = file("w", TL2, &[80, 32], data.clone(), &[("bitgguf.tl.w", u32s(&[32, 48, 32]))]);
    let c = load(&bytes, &Opts::default());
    assert_eq!(dequant(&c, 1).unwrap(), scaled(&trits, 1.5));
    assert_eq!(rows(&c, 1, 16, 8, 80), scaled(&trits[16 * 80..24 * 80], 1.5), "rows 16..24 (permuted group)");
    // An invalid three-index names the tensor and the file byte.
    let mut bad = data.clone();
    bad[40] = 0x0e;
    let f = file("w", TL2, &[80, 32], bad, &[("bitgguf.tl.w", u32s(&[32, 48, 32]))]);
    let (s, msg) = dequant(&load(&f, &Opts::default()), 1).unwrap_err();
    assert_eq!(s, Status::InvalidCode);
    let at = data_at(&f) + 40;
    assert!(msg.contains("tensor 'w'") && msg.contains(&format!("byte 40 (file byte {at})")), "{msg}");
    assert!(msg.contains("expected 0..=13"), "{msg}");
    // A shape no TL2 tile configuration can hold (K = 40 = 8 + 32).
    let n = bitgguf::types::info(TL2).unwrap().nbytes(&[40, 32, 1, 1]).unwrap() as usize;
    let f = file("w", TL2, &[40, 32], vec![0u8; n], &[("bitgguf.tl.w", u32s(&[32, 24, 32]))]);
    let (s, msg) = dequant(&load(&f, &Opts::default()), 1).unwrap_err();
    assert_eq!(s, Status::BadShapeForType);
    assert!(msg.contains("tensor 'w'") && msg.contains("K3 + K2"), "{msg}");
}

// ---- Rejections --------------------------------------------------------------------------

fn i2s_file(payload_byte: u8, scale_bits: u32) -> Vec<u8> {
    let mut data = vec![payload_byte; 64];
    data.extend(scale_bits.to_le_bytes());
    data.extend([0u8; 28]);
    file("blk.0.attn_q.weight", I2_S, &[128, 2], data, &[])
}

#[test]
fn i2s_code_3_names_tensor_and_file_byte() {
    let mut data = unhex(WHOLE_9_1);
    data[37] |= 0b0000_1100; // block 1, p = 5, field 2: element 128 + 64 + 5
    let bytes = file("blk.0.attn_q.weight", I2_S, &[128, 2], data, &[]);
    let at = data_at(&bytes) + 37;
    let (s, msg) = dequant(&load(&bytes, &Opts::default()), 1).unwrap_err();
    assert_eq!(s, Status::InvalidCode);
    for want in ["tensor 'blk.0.attn_q.weight'", "element 197", &format!("byte 37 (file byte {at})"), "code 3"] {
        assert!(msg.contains(want), "{want}: {msg}");
    }
    // Row 0 does not contain the bad byte; row 1 does.
    let c = load(&bytes, &Opts::default());
    assert_eq!(rows(&c, 1, 0, 1, 128), scaled(&vector_a(), 0.0123));
    let mut buf = vec![0u8; 512];
    let s = unsafe { bg_tensor_dequantize_rows(c.0, 1, 1, 1, BG_TYPE_F32, buf.as_mut_ptr().cast(), 512) };
    assert_eq!(s, Status::InvalidCode);
}

#[test]
fn bad_scales_are_rejected_and_zero_is_allowed_only_when_all_zero() {
    for (bits, what) in [
        (f32::NAN.to_bits(), "NaN"),
        (f32::INFINITY.to_bits(), "inf"),
        (f32::NEG_INFINITY.to_bits(), "-inf"),
        ((-0.5f32).to_bits(), "-0.5"),
        (0, "0"),
    ] {
        let bytes = i2s_file(0x92, bits); // nonzero codes
        let at = data_at(&bytes) + 64;
        let (s, msg) = dequant(&load(&bytes, &Opts::default()), 1).unwrap_err();
        assert_eq!(s, Status::BadScale, "{what}");
        assert!(
            msg.contains("tensor 'blk.0.attn_q.weight'") && msg.contains(&format!("byte 64 (file byte {at})")),
            "{what}: {msg}"
        );
        assert!(msg.contains(&format!("{bits:#010x}")), "{what}: {msg}");
    }
    // An all-zero tensor (0x55 = four zero codes) legitimately has scale max|W| = 0 (§3.7, §9.1).
    for zero in [0u32, 0x8000_0000] {
        let v = dequant(&load(&i2s_file(0x55, zero), &Opts::default()), 1).unwrap();
        assert!(v.iter().all(|&x| x == 0.0));
    }
    // Subnormal and ordinary positive scales decode.
    let v = dequant(&load(&i2s_file(0xaa, 1), &Opts::default()), 1).unwrap();
    assert!(v.iter().all(|&x| x == f32::from_bits(1)));
    // TL1 too: the scale record after the payload.
    let (mut data, _) = tl1_9_4(0.5);
    data[128..132].copy_from_slice(&f32::NAN.to_le_bytes());
    let f = file("t", TL1, &[16, 32], data, &[("bitgguf.tl.t", u32s(&[32, 16, 32]))]);
    let (s, msg) = dequant(&load(&f, &Opts::default()), 1).unwrap_err();
    assert_eq!(s, Status::BadScale);
    assert!(msg.contains("tensor 't'") && msg.contains("the tl1 per-tensor scale at byte 128"), "{msg}");
}

#[test]
fn codec_api_for_other_helpers() {
    // Model::codec resolves everything; TensorCodec decodes row ranges of any type.
    let (data, want) = tl1_9_4(0.5);
    let bytes = file("t", TL1, &[16, 32], data, &[("bitgguf.tl.t", u32s(&[32, 16, 32]))]);
    let model = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
    let c = model.codec(1).unwrap();
    assert_eq!((c.ty, c.tl, c.i2s), (TL1, Some(TlConfig { bm_tile: 32, bk: 16, bm: 32 }), I2sLayout::Group128));
    assert_eq!(c.file_offset, Some(data_at(&bytes)));
    assert_eq!(c.n_rows().unwrap(), 32);
    assert_eq!(c.decoded_size(OutType::Bf16).unwrap(), 32 * 16 * 2);
    assert_eq!(c.scale(model.tensor_data(1).unwrap()).unwrap(), Some(0.5));
    let mut out = vec![0u8; 2 * 16 * 4];
    c.decode_rows(model.tensor_data(1).unwrap(), 30..32, OutType::F32, &mut out).unwrap();
    let v: Vec<f32> = out.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(v, want[30 * 16..].to_vec());
    // An upstream tensor: the F32 "pad".
    let c0 = model.codec(0).unwrap();
    assert_eq!((c0.ty, c0.tl, c0.scale(model.tensor_data(0).unwrap()).unwrap()), (0, None, None));
    assert_eq!(model.codec(2).unwrap_err().status(), Status::IndexOutOfRange);
    // Options flow from LoadOptions.
    let lo = LoadOptions {
        codec: CodecOptions { i2s_layout: I2sLayout::Group64, ..CodecOptions::default() },
        ..LoadOptions::default()
    };
    let model = Model::from_bytes(&bytes, &lo).unwrap();
    assert_eq!(model.codec(1).unwrap().i2s, I2sLayout::Group64);
}

#[test]
fn wrong_sizes_name_the_tensor() {
    // I2_S rows must be whole 128-element blocks (§3.11 A5).
    let mut w = GgufWriter::new();
    w.tensor("blk.0.ffn_down.weight", I2_S, &[8640, 1], vec![0u8; 8640 / 4 + 32]);
    let e = w.to_bytes().unwrap_err();
    assert!(e.message().contains("blk.0.ffn_down.weight") && e.message().contains("ne[0]=8640"), "{e}");
    // A truncated file: the last tensor's data runs past the end.
    let bytes = file("w", I2_S, &[128, 2], unhex(WHOLE_9_1), &[]);
    let cut = &bytes[..bytes.len() - 10];
    let mut m = ptr::null_mut();
    let s = unsafe { bg_load_from_memory(cut.as_ptr(), cut.len(), ptr::null(), &mut m) };
    assert_eq!(s, Status::DataOutOfBounds);
    let msg = last_error();
    assert!(msg.contains("tensor 'w'") && msg.contains("96"), "{msg}");
    // TL1 with a tile configuration whose rows do not divide M.
    let (data, _) = tl1_9_4(0.5);
    let f = file("t", TL1, &[16, 32], data, &[("bitgguf.tl.t", u32s(&[64, 16, 32]))]);
    let (s, msg) = dequant(&load(&f, &Opts::default()), 1).unwrap_err();
    assert_eq!(s, Status::TileConfigInvalid);
    assert!(msg.contains("tensor 't'") && msg.contains("M % BM = 32"), "{msg}");
}
