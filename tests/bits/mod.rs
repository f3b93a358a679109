//! Bit-for-bit comparison of decoded outputs, shared by the tests that check a fast path (SIMD,
//! GPU) against the scalar oracle: the oracle's f32 values stored as the output type with the
//! CPU's own roundings, and element-wise bit equality where a NaN equals any NaN.
#![allow(dead_code)]

use bitgguf::quant::float;
use bitgguf::quant::output::OutType;

/// `vals` stored as `out`, little-endian, with the CPU's f32 -> f16 / bf16 roundings.
pub fn store(vals: &[f32], out: OutType) -> Vec<u8> {
    let mut b = Vec::with_capacity(vals.len() * out.size() as usize);
    for &v in vals {
        match out {
            OutType::F32 => b.extend(v.to_le_bytes()),
            OutType::F16 => b.extend(float::f32_to_f16(v).to_le_bytes()),
            OutType::Bf16 => b.extend(float::f32_to_bf16(v).to_le_bytes()),
        }
    }
    b
}

/// True when the element `e` (little-endian bytes of `out`) is a NaN.
pub fn is_nan(out: OutType, e: &[u8]) -> bool {
    match out {
        OutType::F32 => f32::from_le_bytes(e.try_into().unwrap()).is_nan(),
        OutType::F16 => {
            let h = u16::from_le_bytes(e.try_into().unwrap());
            h & 0x7c00 == 0x7c00 && h & 0x3ff != 0
        }
        OutType::Bf16 => f32::from_bits((u16::from_le_bytes(e.try_into().unwrap()) as u32) << 16).is_nan(),
    }
}

/// Bit equality per element, where a NaN equals any NaN (payloads of NaN results are not
/// specified: the order of the operands of a commutative f32 operation, which a compiler or a
/// GPU may swap, decides which NaN comes out when both are NaN). Returns the number of NaN
/// elements whose bits differ (for reporting); panics on any other difference, naming the
/// element and both values (`fast` is the path under test, `oracle` the scalar reference).
pub fn same_bits(what: &str, out: OutType, fast: &[u8], oracle: &[u8]) -> usize {
    assert_eq!(fast.len(), oracle.len(), "{what}: lengths");
    let es = out.size() as usize;
    let mut nan_payload_diffs = 0;
    for (i, (a, b)) in fast.chunks_exact(es).zip(oracle.chunks_exact(es)).enumerate() {
        if a == b {
            continue;
        }
        if is_nan(out, a) && is_nan(out, b) {
            nan_payload_diffs += 1;
            continue;
        }
        panic!("{what}: element {i}: fast {a:02x?}, oracle {b:02x?}");
    }
    nan_payload_diffs
}
