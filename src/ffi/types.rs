//! Type ids and names.
//!
//! `BG_TYPE_*` are API type ids: upstream ggml ids as they are (retired ids 4, 5, 31–33 and
//! 36–38 have no constant), and the BitNet fork's types at 1000 + their fork id, because on
//! disk 36–39 mean different things to different producers.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::boundary::{boundary, run};
use super::handles::{c_str, check_out, out};
use crate::error::{Error, Status};
use crate::types;
/// ggml type f32 (id 0).
pub const BG_TYPE_F32: u32 = 0;
/// ggml type f16 (id 1).
pub const BG_TYPE_F16: u32 = 1;
/// ggml type q4_0 (id 2).
pub const BG_TYPE_Q4_0: u32 = 2;
/// ggml type q4_1 (id 3).
pub const BG_TYPE_Q4_1: u32 = 3;
/// ggml type q5_0 (id 6).
pub const BG_TYPE_Q5_0: u32 = 6;
/// ggml type q5_1 (id 7).
pub const BG_TYPE_Q5_1: u32 = 7;
/// ggml type q8_0 (id 8).
pub const BG_TYPE_Q8_0: u32 = 8;
/// ggml type q8_1 (id 9).
pub const BG_TYPE_Q8_1: u32 = 9;
/// ggml type q2_k (id 10).
pub const BG_TYPE_Q2_K: u32 = 10;
/// ggml type q3_k (id 11).
pub const BG_TYPE_Q3_K: u32 = 11;
/// ggml type q4_k (id 12).
pub const BG_TYPE_Q4_K: u32 = 12;
/// ggml type q5_k (id 13).
pub const BG_TYPE_Q5_K: u32 = 13;
/// ggml type q6_k (id 14).
pub const BG_TYPE_Q6_K: u32 = 14;
/// ggml type q8_k (id 15).
pub const BG_TYPE_Q8_K: u32 = 15;
/// ggml type iq2_xxs (id 16).
pub const BG_TYPE_IQ2_XXS: u32 = 16;
/// ggml type iq2_xs (id 17).
pub const BG_TYPE_IQ2_XS: u32 = 17;
/// ggml type iq3_xxs (id 18).
pub const BG_TYPE_IQ3_XXS: u32 = 18;
/// ggml type iq1_s (id 19).
pub const BG_TYPE_IQ1_S: u32 = 19;
/// ggml type iq4_nl (id 20).
pub const BG_TYPE_IQ4_NL: u32 = 20;
/// ggml type iq3_s (id 21).
pub const BG_TYPE_IQ3_S: u32 = 21;
/// ggml type iq2_s (id 22).
pub const BG_TYPE_IQ2_S: u32 = 22;
/// ggml type iq4_xs (id 23).
pub const BG_TYPE_IQ4_XS: u32 = 23;
/// ggml type i8 (id 24).
pub const BG_TYPE_I8: u32 = 24;
/// ggml type i16 (id 25).
pub const BG_TYPE_I16: u32 = 25;
/// ggml type i32 (id 26).
pub const BG_TYPE_I32: u32 = 26;
/// ggml type i64 (id 27).
pub const BG_TYPE_I64: u32 = 27;
/// ggml type f64 (id 28).
pub const BG_TYPE_F64: u32 = 28;
/// ggml type iq1_m (id 29).
pub const BG_TYPE_IQ1_M: u32 = 29;
/// ggml type bf16 (id 30).
pub const BG_TYPE_BF16: u32 = 30;
/// ggml type tq1_0 (id 34).
pub const BG_TYPE_TQ1_0: u32 = 34;
/// ggml type tq2_0 (id 35).
pub const BG_TYPE_TQ2_0: u32 = 35;
/// ggml type mxfp4 (id 39).
pub const BG_TYPE_MXFP4: u32 = 39;
/// ggml type nvfp4 (id 40).
pub const BG_TYPE_NVFP4: u32 = 40;
/// ggml type q1_0 (id 41).
pub const BG_TYPE_Q1_0: u32 = 41;
/// ggml type q2_0 (id 42).
pub const BG_TYPE_Q2_0: u32 = 42;
/// BitNet I2_S (on disk: 36 in the BitNet fork): 2-bit ternary, 128-element blocks of 32
/// bytes, one f32 scale per tensor in a 32-byte tail.
pub const BG_TYPE_I2_S: u32 = 1036;
/// BitNet TL1 (on disk: 38 in the BitNet fork): ARM LUT layout, tile parameters not in the file.
pub const BG_TYPE_TL1: u32 = 1038;
/// BitNet TL2 (on disk: 39 in the BitNet fork, MXFP4 upstream): x86 LUT layout.
pub const BG_TYPE_TL2: u32 = 1039;

/// Metadata value type uint8.
pub const BG_META_U8: u32 = 0;
/// Metadata value type int8.
pub const BG_META_I8: u32 = 1;
/// Metadata value type uint16.
pub const BG_META_U16: u32 = 2;
/// Metadata value type int16.
pub const BG_META_I16: u32 = 3;
/// Metadata value type uint32.
pub const BG_META_U32: u32 = 4;
/// Metadata value type int32.
pub const BG_META_I32: u32 = 5;
/// Metadata value type float32.
pub const BG_META_F32: u32 = 6;
/// Metadata value type bool.
pub const BG_META_BOOL: u32 = 7;
/// Metadata value type string.
pub const BG_META_STRING: u32 = 8;
/// Metadata value type array.
pub const BG_META_ARRAY: u32 = 9;
/// Metadata value type uint64.
pub const BG_META_U64: u32 = 10;
/// Metadata value type int64.
pub const BG_META_I64: u32 = 11;
/// Metadata value type float64.
pub const BG_META_F64: u32 = 12;

fn names() -> &'static Vec<(u32, CString)> {
    static N: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    N.get_or_init(|| types::all().map(|t| (t.id, CString::new(t.name).expect("no NUL"))).collect())
}

/// The canonical lower-case name of a type id (`"q4_k"`, `"i2_s"`; retired ids give their old
/// names such as `"q4_0_4_4"`), or NULL for an unknown id. Static; never free it.
#[no_mangle]
pub extern "C" fn bg_type_name(type_id: u32) -> *const c_char {
    boundary("bg_type_name", || {
        names().iter().find(|(id, _)| *id == type_id).map(|(_, n)| n.as_ptr()).unwrap_or(std::ptr::null())
    })
}

/// The type id for a name, case-insensitively (`"q4_K"`, `"Q4_K"` and `"q4_k"` all work;
/// retired types are not found).
///
/// Returns `BG_STATUS_OK`, `BG_STATUS_NULL_PARAMETER`, `BG_STATUS_INVALID_PARAMETER` (not
/// UTF-8) or `BG_STATUS_NOT_FOUND`.
///
/// # Safety
/// `name` NULL or NUL-terminated; `type_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bg_type_from_name(name: *const c_char, type_out: *mut u32) -> Status {
    run("bg_type_from_name", || {
        // SAFETY: per the contract.
        let name = unsafe { c_str(name, "name") }?;
        check_out(type_out, "type_out")?;
        let t =
            types::from_name(name).ok_or_else(|| Error::new(Status::NotFound, format!("no type named '{name}'")))?;
        // SAFETY: checked non-NULL.
        unsafe { out(type_out, t.id) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_table() {
        assert_eq!(types::info(BG_TYPE_F32).unwrap().name, "f32");
        assert_eq!(types::info(BG_TYPE_F16).unwrap().name, "f16");
        assert_eq!(types::info(BG_TYPE_Q4_0).unwrap().name, "q4_0");
        assert_eq!(types::info(BG_TYPE_Q4_1).unwrap().name, "q4_1");
        assert_eq!(types::info(BG_TYPE_Q5_0).unwrap().name, "q5_0");
        assert_eq!(types::info(BG_TYPE_Q5_1).unwrap().name, "q5_1");
        assert_eq!(types::info(BG_TYPE_Q8_0).unwrap().name, "q8_0");
        assert_eq!(types::info(BG_TYPE_Q8_1).unwrap().name, "q8_1");
        assert_eq!(types::info(BG_TYPE_Q2_K).unwrap().name, "q2_k");
        assert_eq!(types::info(BG_TYPE_Q3_K).unwrap().name, "q3_k");
        assert_eq!(types::info(BG_TYPE_Q4_K).unwrap().name, "q4_k");
        assert_eq!(types::info(BG_TYPE_Q5_K).unwrap().name, "q5_k");
        assert_eq!(types::info(BG_TYPE_Q6_K).unwrap().name, "q6_k");
        assert_eq!(types::info(BG_TYPE_Q8_K).unwrap().name, "q8_k");
        assert_eq!(types::info(BG_TYPE_IQ2_XXS).unwrap().name, "iq2_xxs");
        assert_eq!(types::info(BG_TYPE_IQ2_XS).unwrap().name, "iq2_xs");
        assert_eq!(types::info(BG_TYPE_IQ3_XXS).unwrap().name, "iq3_xxs");
        assert_eq!(types::info(BG_TYPE_IQ1_S).unwrap().name, "iq1_s");
        assert_eq!(types::info(BG_TYPE_IQ4_NL).unwrap().name, "iq4_nl");
        assert_eq!(types::info(BG_TYPE_IQ3_S).unwrap().name, "iq3_s");
        assert_eq!(types::info(BG_TYPE_IQ2_S).unwrap().name, "iq2_s");
        assert_eq!(types::info(BG_TYPE_IQ4_XS).unwrap().name, "iq4_xs");
        assert_eq!(types::info(BG_TYPE_I8).unwrap().name, "i8");
        assert_eq!(types::info(BG_TYPE_I16).unwrap().name, "i16");
        assert_eq!(types::info(BG_TYPE_I32).unwrap().name, "i32");
        assert_eq!(types::info(BG_TYPE_I64).unwrap().name, "i64");
        assert_eq!(types::info(BG_TYPE_F64).unwrap().name, "f64");
        assert_eq!(types::info(BG_TYPE_IQ1_M).unwrap().name, "iq1_m");
        assert_eq!(types::info(BG_TYPE_BF16).unwrap().name, "bf16");
        assert_eq!(types::info(BG_TYPE_TQ1_0).unwrap().name, "tq1_0");
        assert_eq!(types::info(BG_TYPE_TQ2_0).unwrap().name, "tq2_0");
        assert_eq!(types::info(BG_TYPE_MXFP4).unwrap().name, "mxfp4");
        assert_eq!(types::info(BG_TYPE_NVFP4).unwrap().name, "nvfp4");
        assert_eq!(types::info(BG_TYPE_Q1_0).unwrap().name, "q1_0");
        assert_eq!(types::info(BG_TYPE_Q2_0).unwrap().name, "q2_0");
        assert_eq!((BG_TYPE_I2_S, BG_TYPE_TL1, BG_TYPE_TL2), (types::I2_S, types::TL1, types::TL2));
        assert_eq!(types::info(BG_TYPE_I2_S).unwrap().name, "i2_s");
        assert_eq!(types::info(BG_TYPE_TL1).unwrap().name, "tl1");
        assert_eq!(types::info(BG_TYPE_TL2).unwrap().name, "tl2");
        for v in 0..13u32 {
            assert_eq!(crate::gguf::ValueType::from_u32(v).unwrap() as u32, v);
        }
        assert_eq!(BG_META_F64, crate::gguf::ValueType::F64 as u32);
    }
}
