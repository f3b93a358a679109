//! The whole C path on arbitrary bytes: bg_load_from_memory, then every query and
//! bg_tensor_dequantize on whatever loads. No call may return BG_STATUS_PANIC.
#![no_main]

use std::ptr;

use bitgguf::error::Status;
use bitgguf::ffi::dequant::*;
use bitgguf::ffi::load::*;
use bitgguf::ffi::meta::*;
use bitgguf::ffi::tensor::*;
use bitgguf::ffi::types::*;
use libfuzzer_sys::fuzz_target;

fn ok(s: Status) {
    assert_ne!(s, Status::Panic, "an FFI call panicked");
}

fuzz_target!(|data: &[u8]| {
    unsafe {
        let mut m = ptr::null_mut();
        let s = bg_load_from_memory(data.as_ptr(), data.len(), ptr::null(), &mut m);
        ok(s);
        if s != Status::Ok {
            return;
        }
        for i in 0..bg_meta_count(m) + 1 {
            let mut d = std::mem::zeroed::<bg_meta_desc>();
            ok(bg_meta_info(m, i, &mut d));
            let (mut u, mut p, mut n) = (0u64, ptr::null(), 0usize);
            ok(bg_meta_get_uint(m, i, u64::MAX, &mut u));
            ok(bg_meta_get_str(m, i, &mut p, &mut n));
            ok(bg_meta_get_arr_str(m, i, 0, &mut p, &mut n));
            let mut b = ptr::null();
            ok(bg_meta_get_arr_data(m, i, BG_META_F32, &mut b, &mut n));
            let mut f = 0f32;
            ok(bg_meta_get_f32(m, i, &mut f));
        }
        for i in 0..bg_tensor_count(m) + 1 {
            let mut d = std::mem::zeroed::<bg_tensor_desc>();
            ok(bg_tensor_info(m, i, &mut d));
            let (mut p, mut n) = (ptr::null(), 0usize);
            ok(bg_tensor_data(m, i, &mut p, &mut n));
            let mut size = 0usize;
            if bg_tensor_dequantized_size(m, i, BG_TYPE_F32, &mut size) == Status::Ok && size <= 1 << 22 {
                let mut out = vec![0u8; size];
                ok(bg_tensor_dequantize(m, i, BG_TYPE_F32, out.as_mut_ptr().cast(), out.len()));
                ok(bg_tensor_dequantize(m, i, BG_TYPE_BF16, out.as_mut_ptr().cast(), out.len()));
                ok(bg_tensor_dequantize_rows(m, i, 1, 1, BG_TYPE_F16, out.as_mut_ptr().cast(), out.len()));
            }
        }
        bg_free(m);
    }
});
