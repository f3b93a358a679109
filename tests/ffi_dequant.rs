//! `bg_dequantize`, `bg_tensor_dequantize`, `bg_tensor_dequantize_rows` and
//! `bg_tensor_dequantized_size`: values, output types, sizes and error statuses (nothing is
//! written on error).

use std::ffi::c_void;
use std::ptr;

use bitgguf::error::Status;
use bitgguf::ffi::bg_model;
use bitgguf::ffi::dequant::*;
use bitgguf::ffi::load::*;
use bitgguf::ffi::types::*;
use bitgguf::gguf::GgufWriter;
use bitgguf::quant::float::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};

/// f16 values 0..n as bit patterns spread over the whole range (NaNs, infinities, subnormals).
fn f16_bits(n: usize) -> Vec<u16> {
    (0..n).map(|i| (i as u32 * 40503 % 65536) as u16).collect()
}

fn model() -> (*mut bg_model, Vec<u16>) {
    let bits = f16_bits(6 * 8);
    let mut w = GgufWriter::new();
    w.tensor("h", BG_TYPE_F16, &[8, 6], bits.iter().flat_map(|b| b.to_le_bytes()).collect());
    w.tensor("q", BG_TYPE_Q8_1, &[32], vec![0u8; 36]);
    let bytes = w.to_bytes().unwrap();
    let mut m = ptr::null_mut();
    assert_eq!(unsafe { bg_load_from_memory(bytes.as_ptr(), bytes.len(), ptr::null(), &mut m) }, Status::Ok);
    (m, bits)
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn tensor_to_each_output_type() {
    let (m, bits) = model();
    unsafe {
        let mut size = 0usize;
        assert_eq!(bg_tensor_dequantized_size(m, 0, BG_TYPE_F32, &mut size), Status::Ok);
        assert_eq!(size, 48 * 4);
        assert_eq!(bg_tensor_dequantized_size(m, 0, BG_TYPE_BF16, &mut size), Status::Ok);
        assert_eq!(size, 48 * 2);

        let mut f = vec![0u8; 48 * 4];
        assert_eq!(bg_tensor_dequantize(m, 0, BG_TYPE_F32, f.as_mut_ptr().cast(), f.len()), Status::Ok);
        for (i, b) in bits.iter().enumerate() {
            let v = f32::from_le_bytes(f[4 * i..4 * i + 4].try_into().unwrap());
            assert!(same(v, f16_to_f32(*b)), "element {i}");
        }
        let mut h = vec![0u8; 48 * 2];
        assert_eq!(bg_tensor_dequantize(m, 0, BG_TYPE_F16, h.as_mut_ptr().cast(), h.len()), Status::Ok);
        for (i, b) in bits.iter().enumerate() {
            let v = u16::from_le_bytes([h[2 * i], h[2 * i + 1]]);
            assert!(same(f16_to_f32(v), f16_to_f32(*b)), "f16 round trip of element {i}");
            assert_eq!(v, f32_to_f16(f16_to_f32(*b)));
        }
        assert_eq!(bg_tensor_dequantize(m, 0, BG_TYPE_BF16, h.as_mut_ptr().cast(), h.len()), Status::Ok);
        for (i, b) in bits.iter().enumerate() {
            let v = u16::from_le_bytes([h[2 * i], h[2 * i + 1]]);
            assert_eq!(v, f32_to_bf16(f16_to_f32(*b)), "element {i}");
            assert!(same(bf16_to_f32(v), bf16_to_f32(f32_to_bf16(f16_to_f32(*b)))));
        }

        // Rows 2..5 (3 rows of 8), into an unaligned buffer.
        let mut r = [0u8; 3 * 8 * 4 + 1];
        assert_eq!(bg_tensor_dequantize_rows(m, 0, 2, 3, BG_TYPE_F32, r[1..].as_mut_ptr().cast(), 96), Status::Ok);
        for i in 0..24 {
            let v = f32::from_le_bytes(r[1 + 4 * i..5 + 4 * i].try_into().unwrap());
            assert!(same(v, f16_to_f32(bits[16 + i])), "row element {i}");
        }
        bitgguf::ffi::load::bg_free(m);
    }
}

#[test]
fn errors_write_nothing() {
    let (m, _) = model();
    unsafe {
        let mut f = vec![0xAAu8; 48 * 4];
        let p = f.as_mut_ptr().cast::<c_void>();
        assert_eq!(bg_tensor_dequantize(m, 0, BG_TYPE_F32, p, 48 * 4 - 1), Status::InsufficientSize);
        assert_eq!(bg_tensor_dequantize(m, 0, BG_TYPE_Q4_0, p, f.len()), Status::InvalidParameter);
        assert_eq!(bg_tensor_dequantize(m, 2, BG_TYPE_F32, p, f.len()), Status::IndexOutOfRange);
        assert_eq!(bg_tensor_dequantize(m, 1, BG_TYPE_F32, p, f.len()), Status::UnsupportedType, "q8_1 has no decoder");
        assert_eq!(bg_tensor_dequantize(ptr::null(), 0, BG_TYPE_F32, p, f.len()), Status::NullParameter);
        assert_eq!(bg_tensor_dequantize(m, 0, BG_TYPE_F32, ptr::null_mut(), 16), Status::NullParameter);
        assert_eq!(bg_tensor_dequantize_rows(m, 0, 5, 2, BG_TYPE_F32, p, f.len()), Status::IndexOutOfRange);
        assert_eq!(bg_tensor_dequantize_rows(m, 0, u64::MAX, 2, BG_TYPE_F32, p, f.len()), Status::IndexOutOfRange);
        assert!(f.iter().all(|&b| b == 0xAA), "nothing written on error");
        let mut size = 7usize;
        assert_eq!(bg_tensor_dequantized_size(m, 9, BG_TYPE_F32, &mut size), Status::IndexOutOfRange);
        assert_eq!(bg_tensor_dequantized_size(m, 0, 99, &mut size), Status::InvalidParameter);
        assert_eq!(size, 7);
        bitgguf::ffi::load::bg_free(m);

        // bg_dequantize on raw blocks.
        let src: Vec<u8> = [1.0f32, -2.5, 3.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = [0u8; 6];
        assert_eq!(
            bg_dequantize(BG_TYPE_F32, src.as_ptr(), 12, 3, BG_TYPE_F16, out.as_mut_ptr().cast(), 6),
            Status::Ok
        );
        assert_eq!(out, [0x00, 0x3c, 0x00, 0xc1, 0x80, 0x42]);
        let mut out2 = [0x55u8; 6];
        let o = out2.as_mut_ptr().cast();
        assert_eq!(bg_dequantize(BG_TYPE_F32, src.as_ptr(), 11, 3, BG_TYPE_F16, o, 6), Status::InvalidParameter);
        assert_eq!(
            bg_dequantize(BG_TYPE_Q4_0, src.as_ptr(), 12, 3, BG_TYPE_F16, o, 6),
            Status::InvalidParameter,
            "3 is not a multiple of 32"
        );
        assert_eq!(bg_dequantize(4, src.as_ptr(), 12, 3, BG_TYPE_F16, o, 6), Status::UnsupportedType, "removed type");
        assert_eq!(bg_dequantize(77, src.as_ptr(), 12, 3, BG_TYPE_F16, o, 6), Status::InvalidParameter, "unknown type");
        assert_eq!(bg_dequantize(BG_TYPE_F32, ptr::null(), 12, 3, BG_TYPE_F16, o, 6), Status::NullParameter);
        assert_eq!(bg_dequantize(BG_TYPE_F32, src.as_ptr(), 12, 3, BG_TYPE_F32, o, 6), Status::InsufficientSize);
        assert_eq!(out2, [0x55; 6]);
        assert_eq!(bg_dequantize(BG_TYPE_F32, ptr::null(), 0, 0, BG_TYPE_F32, ptr::null_mut(), 0), Status::Ok);
    }
}
