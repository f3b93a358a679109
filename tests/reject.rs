//! One test per reject status the parser produces (and the accept cases next to them), built
//! byte by byte with `common::Spec` / the field encoders. Each reject asserts the exact
//! [`Status`] from `gguf::parse` and `Model::from_bytes`, and that the message names the field
//! or tensor and its absolute byte offset. Cases follow reference/gguf-ggml.md §1.8 and §3.3,
//! and upstream test-gguf.cpp's handcrafted variants (named in comments).

mod common;

use bitgguf::gguf::{Limits, OwnedValue, Value, ValueType};
use bitgguf::{Status, TypePolicy};
use common::*;

/// A valid file: two KVs and two tensors (q8_0 then f32), 32-byte alignment.
fn valid() -> Spec {
    Spec::new()
        .kv(kv_str("general.name", "tiny"))
        .kv(kv_u32("general.quantization_version", 2))
        .tensor(t("blk.0.w", Q8_0, &[64, 2]))
        .tensor(t("blk.0.norm", F32, &[5]))
}

fn limits(f: impl FnOnce(&mut Limits)) -> bitgguf::ParseOptions {
    let mut l = Limits::default();
    f(&mut l);
    opts(l, TypePolicy::Auto)
}

fn policy(p: TypePolicy) -> bitgguf::ParseOptions {
    opts(Limits::default(), p)
}

#[test]
fn the_valid_base_file_parses_with_the_expected_layout() {
    let b = valid().build();
    let idx = ok(&b.bytes);
    assert_eq!(idx.version(), 3);
    assert_eq!(idx.kv_count(), 2);
    assert_eq!(idx.tensor_count(), 2);
    assert_eq!(idx.alignment(), 32);
    assert_eq!(idx.data_offset(), b.data_offset);
    assert_eq!(b.data_offset % 32, 0);
    let v = idx.view(&b.bytes);
    let t0 = v.tensor(0);
    assert_eq!((t0.name, t0.disk_type, t0.ne, t0.n_bytes, t0.offset), ("blk.0.w", 8, [64, 2, 1, 1], 136, 0));
    let t1 = v.tensor(1);
    assert_eq!((t1.name, t1.ne, t1.n_bytes, t1.offset), ("blk.0.norm", [5, 1, 1, 1], 20, 160));
    assert_eq!(t1.info_pos, b.info_pos[1]);
    assert_eq!(v.tensor_data(0), b.tensor_bytes(0));
    assert_eq!(v.tensor_data(1), b.tensor_bytes(1));
}

// ---- 1xx: header ---------------------------------------------------------------------------------

#[test]
fn truncated_header_every_field() {
    let full = header(b"GGUF", 3, 0, 0);
    // gguf.cpp: "failed to read magic" for fewer than 4 bytes.
    for n in 0..4 {
        reject(&full[..n], Status::Truncated, &["the magic", "at byte 0", &format!("ends at byte {n}")]);
    }
    for n in 4..8 {
        reject(&full[..n], Status::Truncated, &["the version", "at byte 4"]);
    }
    for n in 8..16 {
        reject(&full[..n], Status::Truncated, &["the tensor count", "at byte 8"]);
    }
    for n in 16..24 {
        reject(&full[..n], Status::Truncated, &["the key/value count", "at byte 16"]);
    }
    // The complete 24-byte header of an empty file is a valid file.
    assert_eq!(ok(&full).kv_count(), 0);
}

#[test]
fn truncated_in_kv_and_tensor_info_fields_names_the_field() {
    // A u32 value with only 2 of its 4 bytes.
    let mut b = header(b"GGUF", 3, 0, 1);
    b.extend(kv_raw(b"a.b", T_U32, &[1, 2]));
    reject(&b, Status::Truncated, &["uint32 value of key 'a.b'", "at byte 39", "needed 4 bytes"]);

    // A tensor info cut inside ne[1].
    let full = Spec::new().tensor(t("w", F32, &[4, 4])).build();
    let cut = (full.info_pos[0] + 8 + 1 + 4 + 8 + 3) as usize;
    reject(&full.bytes[..cut], Status::Truncated, &["ne[1] of tensor 'w'", &format!("at byte {}", cut - 3)]);

    // A string value whose length runs past the end (but is under the limit).
    let mut b = header(b"GGUF", 3, 0, 1);
    b.extend(kv_raw(b"k", T_STRING, &enc_str_len(100, b"short")));
    reject(&b, Status::Truncated, &["the value of key 'k'", "at byte 45", "needed 100 bytes"]);
}

#[test]
fn truncated_inside_the_padding_before_the_data_section() {
    // n_tensors > 0 and the file ends between the tensor infos and the aligned data start
    // (gguf.cpp: "failed to seek to beginning of data section").
    let b = Spec::new().tensor(t("w", F32, &[0])).build();
    assert!(b.data_offset > b.infos_end, "the test needs padding");
    let bytes = &b.bytes[..b.infos_end as usize + 1];
    reject(
        bytes,
        Status::Truncated,
        &[&format!("data section starts at byte {}", b.data_offset), &format!("tensor infos end at {}", b.infos_end)],
    );
}

#[test]
fn bad_magic() {
    // test-gguf's BAD_MAGIC uses "FUGG" (the byte-swapped magic): say so.
    let mut b = header(b"FUGG", 3, 0, 0);
    reject(&b, Status::BadMagic, &["at byte 0", "'FUGG'", "big-endian", "expected 'GGUF'"]);
    b[..4].copy_from_slice(b"gguf");
    reject(&b, Status::BadMagic, &["at byte 0", "'gguf'"]);
    b[..4].copy_from_slice(&[0x00, 0x47, 0xff, 0x46]);
    reject(&b, Status::BadMagic, &["at byte 0", "'?G?F'", "00 47 ff 46"]);
}

#[test]
fn unsupported_version_zero_and_four() {
    reject(&header(b"GGUF", 0, 0, 0), Status::UnsupportedVersion, &["version at byte 4 is 0"]);
    // test-gguf's BAD_VERSION_FUTURE.
    reject(&header(b"GGUF", 4, 0, 0), Status::UnsupportedVersion, &["version at byte 4 is 4"]);
    reject(&header(b"GGUF", 0x7fff_0001, 0, 0), Status::UnsupportedVersion, &["version at byte 4"]);
}

#[test]
fn version_one_unsupported() {
    // test-gguf's BAD_VERSION_1. A v1 file has u32 counts; the version check comes first.
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    reject(&b, Status::VersionOneUnsupported, &["version at byte 4 is 1"]);
}

#[test]
fn big_endian_version() {
    // A big-endian v3 file has the version 3 written big-endian: low 16 bits zero when read LE.
    for v in [2u32, 3] {
        reject(
            &header(b"GGUF", v.swap_bytes(), 0, 0),
            Status::BigEndian,
            &["version at byte 4", &format!("(= {v} byte-swapped)")],
        );
    }
}

#[test]
fn tensor_count_too_large() {
    // test-gguf's BAD_N_TENSORS (-1), and 2^63.
    for n in [u64::MAX, 1 << 63] {
        let b = Spec { n_tensors: Some(n), ..valid() }.bytes();
        reject(&b, Status::TensorCountTooLarge, &[&format!("tensor count at byte 8 is {n}")]);
    }
    // More than the rest of the file could hold (each info at least 24 bytes): no allocation
    // is made for such a count.
    let mut b = header(b"GGUF", 3, 5, 0);
    b.extend(vec![0u8; 119]);
    reject(&b, Status::TensorCountTooLarge, &["tensor count at byte 8 is 5", "at most 4 fit", "119 bytes left"]);
    // The configured limit.
    let b = valid().bytes();
    reject_with(
        &b,
        &limits(|l| l.max_tensors = 1),
        Status::TensorCountTooLarge,
        &["tensor count at byte 8 is 2", "limit 1"],
    );
    ok_with(&b, &limits(|l| l.max_tensors = 2));
}

#[test]
fn kv_count_too_large() {
    // test-gguf's BAD_N_KV (-1), and 2^63.
    for n in [u64::MAX, 1 << 63] {
        let b = Spec { n_kv: Some(n), ..valid() }.bytes();
        reject(&b, Status::KvCountTooLarge, &[&format!("key/value count at byte 16 is {n}")]);
    }
    let mut b = header(b"GGUF", 3, 0, 3);
    b.extend(vec![0u8; 41]);
    reject(&b, Status::KvCountTooLarge, &["key/value count at byte 16 is 3", "at most 2 fit"]);
    let b = valid().bytes();
    reject_with(&b, &limits(|l| l.max_kv = 1), Status::KvCountTooLarge, &["is 2", "limit 1"]);
    ok_with(&b, &limits(|l| l.max_kv = 2));
}

// ---- 2xx: metadata ----------------------------------------------------------------------------------

#[test]
fn empty_key() {
    let b = Spec::new().kv(kv_u32("a", 1)).kv(kv_raw(b"", T_U32, &7u32.to_le_bytes())).build();
    reject(&b.bytes, Status::EmptyKey, &[&format!("key #1 at byte {} is empty", b.kv_pos[1])]);
}

#[test]
fn duplicate_key() {
    // test-gguf's KV_DUPLICATE_KEY; also with a different type the second time.
    let b = Spec::new().kv(kv_u32("x.y", 1)).kv(kv_u32("other", 1)).kv(kv_str("x.y", "again")).build();
    reject(
        &b.bytes,
        Status::DuplicateKey,
        &[&format!("key #2 'x.y' at byte {}", b.kv_pos[2]), "duplicates key #0 at byte 24"],
    );
}

#[test]
fn invalid_key_bad_utf8_and_nul() {
    let b = Spec::new().kv(kv_raw(b"bad\xffkey", T_U8, &[1])).build();
    reject(&b.bytes, Status::InvalidKey, &["key #0 at byte 24", "not valid UTF-8"]);
    // Overlong encoding of '/' and a lone surrogate are invalid too.
    for key in [&b"a\xc0\xafb"[..], b"\xed\xa0\x80"] {
        let b = Spec::new().kv(kv_raw(key, T_U8, &[1])).build();
        reject(&b.bytes, Status::InvalidKey, &["key #0 at byte 24"]);
    }
    let b = Spec::new().kv(kv_u32("ok", 1)).kv(kv_raw(b"a\0b", T_U8, &[1])).build();
    reject(&b.bytes, Status::InvalidKey, &[&format!("key #1 at byte {}", b.kv_pos[1]), "NUL", "a\\u{0}b"]);
    // Non-ASCII but valid UTF-8 keys are accepted (gguf.cpp does not check key syntax).
    let b = Spec::new().kv(kv_u32("général.ß", 5)).bytes();
    let idx = ok(&b);
    assert_eq!(idx.view(&b).get("général.ß"), Some(Value::U32(5)));
}

#[test]
fn bad_value_type() {
    // test-gguf's KV_BAD_TYPE (= GGUF_TYPE_COUNT) and a type that is negative as i32.
    for (ty, as_i32) in [(13u32, "13"), (u32::MAX, "-1"), (0x8000_0000, "-2147483648")] {
        let b = Spec::new().kv(kv_raw(b"k", ty, &[0; 8])).bytes();
        reject(&b, Status::BadValueType, &["key 'k'", &format!("value type at byte 33 is {ty} (as i32: {as_i32})")]);
    }
    // An array whose element type is out of range.
    let b = Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(13, 0, &[]))).bytes();
    reject(&b, Status::BadValueType, &["key 'k'", "array element type at byte 37 is 13"]);
}

#[test]
fn nested_array() {
    let inner = array_payload(T_U8, 1, &[7]);
    let b = Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(T_ARRAY, 1, &inner))).bytes();
    reject(&b, Status::NestedArray, &["key 'k'", "array at byte 37 has arrays as elements"]);
    // Even an empty array of arrays.
    let b = Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(T_ARRAY, 0, &[]))).bytes();
    reject(&b, Status::NestedArray, &["array at byte 37"]);
}

#[test]
fn string_too_long() {
    let o = limits(|l| l.max_string_len = 8);
    // A value of 9 bytes is rejected, 8 accepted.
    let b = Spec::new().kv(kv_str("k", "123456789")).bytes();
    reject_with(&b, &o, Status::StringTooLong, &["the value of key 'k' at byte 37 has length 9", "limit of 8 bytes"]);
    ok_with(&Spec::new().kv(kv_str("k", "12345678")).bytes(), &o);
    // A key, a string-array element and a tensor name are capped too.
    let b = Spec::new().kv(kv_u32("123456789", 1)).bytes();
    reject_with(&b, &o, Status::StringTooLong, &["key #0 at byte 24 has length 9"]);
    let arr = OwnedValue::Array(ValueType::String, vec![OwnedValue::str("ok"), OwnedValue::str("123456789")]);
    let b = Spec::new().kv(kv("k", &arr)).bytes();
    reject_with(&b, &o, Status::StringTooLong, &["string #1 of key 'k' at byte 59 has length 9"]);
    let b = Spec::new().tensor(t("123456789", F32, &[1])).build();
    reject_with(&b.bytes, &o, Status::StringTooLong, &[&format!("the name of tensor #0 at byte {}", b.info_pos[0])]);
    // test-gguf's KV_BAD_KEY_SIZE: a key length of -1 (u64::MAX, the len+1 wrap) under the
    // default limit.
    let mut b = header(b"GGUF", 3, 0, 1);
    b.extend(enc_str_len(u64::MAX, b"k"));
    b.extend(T_U8.to_le_bytes());
    b.push(0);
    reject(&b, Status::StringTooLong, &["key #0 at byte 24 has length 18446744073709551615"]);
}

#[test]
fn array_too_long() {
    let o = limits(|l| l.max_array_len = 4);
    let five = OwnedValue::Array(ValueType::U8, (0..5).map(OwnedValue::U8).collect());
    reject_with(
        &Spec::new().kv(kv("k", &five)).bytes(),
        &o,
        Status::ArrayTooLong,
        &["key 'k': array at byte 41 has 5 elements, above the limit of 4"],
    );
    let four = OwnedValue::Array(ValueType::U8, (0..4).map(OwnedValue::U8).collect());
    ok_with(&Spec::new().kv(kv("k", &four)).bytes(), &o);
    // A count of u64::MAX (count * size would wrap) under the default limits.
    let b = Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(T_U64, u64::MAX, &[0; 16]))).bytes();
    reject(&b, Status::ArrayTooLong, &["array at byte 41 has 18446744073709551615 elements"]);
}

#[test]
fn array_larger_than_the_input_is_truncated_before_allocating() {
    // 1000 u32 elements declared, 8 bytes present.
    let b = Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(T_U32, 1000, &[0; 8]))).bytes();
    reject(&b, Status::Truncated, &["the 1000 uint32 elements of key 'k'", "at byte 49", "needed 4000 bytes"]);
    // A string array whose count * 8 exceeds what remains (checked before reserving offsets).
    let b = Spec::new().kv(kv_raw(b"k", T_ARRAY, &array_payload(T_STRING, 1000, &[0; 64]))).bytes();
    reject(&b, Status::Truncated, &["key 'k' declares 1000 strings at byte 41", "only 64 bytes remain"]);
}

#[test]
fn alignment_of_the_wrong_type() {
    for (v, name) in
        [(OwnedValue::U64(32), "uint64"), (OwnedValue::I32(32), "int32"), (OwnedValue::str("32"), "string")]
    {
        let b = Spec::new().kv(kv("general.alignment", &v)).bytes();
        reject(
            &b,
            Status::AlignmentType,
            &[&format!("key 'general.alignment' at byte 24 must be of type uint32 but is {name}")],
        );
    }
}

#[test]
fn alignment_not_a_power_of_two_zero_and_thirteen() {
    // test-gguf's KV_BAD_ALIGN (13) and BAD_ALIGN.
    for a in [0u32, 13, 3, 48, u32::MAX] {
        let b = Spec::new().alignment(a).bytes();
        reject(&b, Status::AlignmentNotPowerOfTwo, &[&format!("general.alignment at byte 53 is {a}")]);
    }
}

#[test]
fn alignment_too_large() {
    // 2^31: accepted by every other implementation, abused by public PoCs (gguf-ggml.md §3.1).
    let b = Spec::new().alignment(1 << 31).bytes();
    reject(&b, Status::AlignmentTooLarge, &["general.alignment at byte 53 is 2147483648", "limit of 1048576"]);
    // The limit itself is accepted, and the limit is configurable.
    ok(&Spec::new().alignment(1 << 20).bytes());
    let idx = ok_with(&b, &limits(|l| l.max_alignment = 1 << 31));
    assert_eq!(idx.alignment(), 1 << 31);
    reject_with(
        &Spec::new().alignment(64).bytes(),
        &limits(|l| l.max_alignment = 32),
        Status::AlignmentTooLarge,
        &["is 64, above the limit of 32"],
    );
}

#[test]
fn metadata_too_large() {
    let o = limits(|l| l.max_total_strings = 5);
    let three = OwnedValue::Array(ValueType::String, vec![OwnedValue::str("a"); 3]);
    let b = Spec::new().kv(kv("a", &three)).kv(kv("b", &three)).build();
    reject_with(
        &b.bytes,
        &o,
        Status::MetadataTooLarge,
        &[&format!("key 'b' at byte {}", b.kv_pos[1]), "number of array strings to 6", "limit of 5"],
    );
    // 5 in total is fine.
    let two = OwnedValue::Array(ValueType::String, vec![OwnedValue::str("a"); 2]);
    ok_with(&Spec::new().kv(kv("a", &three)).kv(kv("b", &two)).bytes(), &o);
}

// ---- 3xx: tensor infos --------------------------------------------------------------------------------

#[test]
fn tensor_name_of_64_bytes_rejected_63_accepted() {
    // test-gguf's TENSORS_BAD_NAME_SIZE; gguf.cpp requires name.length() < GGML_MAX_NAME.
    let n64 = "n".repeat(64);
    let b = Spec::new().tensor(t("first", F32, &[1])).tensor(t(&n64, F32, &[1])).build();
    reject(&b.bytes, Status::TensorNameTooLong, &[&format!("tensor #1 at byte {}", b.info_pos[1]), "is 64 bytes"]);
    let n63 = "n".repeat(63);
    let bytes = Spec::new().tensor(t(&n63, F32, &[1])).bytes();
    let idx = ok(&bytes);
    assert_eq!(idx.tensor(0).name, n63);
    assert_eq!(idx.find_tensor(&n63), Some(0));
    // Multi-byte UTF-8 counts bytes, not characters: 32 'é' are 64 bytes.
    let e64 = "é".repeat(32);
    reject(&Spec::new().tensor(t(&e64, F32, &[1])).bytes(), Status::TensorNameTooLong, &["tensor #0 at byte 24"]);
}

#[test]
fn invalid_tensor_name_bad_utf8_and_nul() {
    let b = Spec::new().tensor(t("x", F32, &[1]).name_bytes(b"w\xfe")).build();
    reject(&b.bytes, Status::InvalidTensorName, &["tensor #0 at byte 24", "not valid UTF-8"]);
    // An interior NUL would truncate the name in gguf.cpp's C string; we reject it.
    let b = Spec::new().tensor(t("a", F32, &[1])).tensor(t("x", F32, &[1]).name_bytes(b"a\0b")).build();
    reject(&b.bytes, Status::InvalidTensorName, &[&format!("tensor #1 at byte {}", b.info_pos[1]), "NUL"]);
    // A trailing NUL too (it would make "a\0" and "a" collide in C).
    let b = Spec::new().tensor(t("x", F32, &[1]).name_bytes(b"a\0")).build();
    reject(&b.bytes, Status::InvalidTensorName, &["tensor #0 at byte 24", "NUL"]);
}

#[test]
fn empty_tensor_name_is_accepted_like_gguf_cpp() {
    // gguf.cpp does not reject empty tensor names (gguf-ggml.md §1.4); neither does bitgguf.
    // (§3.3 lists "empty" among names to reject: a policy decision for the lead, see report.)
    let b = Spec::new().tensor(t("", F32, &[2])).bytes();
    let idx = ok(&b);
    assert_eq!(idx.tensor(0).name, "");
    assert_eq!(idx.tensor(0).name_c, b"\0");
}

#[test]
fn keys_longer_than_the_spec_limit_are_accepted_like_gguf_cpp() {
    // The spec caps keys at 65535 bytes; gguf.cpp (and bitgguf) only apply the string limit.
    let key = format!("k.{}", "x".repeat(70_000));
    let b = Spec::new().kv(kv_u32(&key, 9)).bytes();
    assert_eq!(ok(&b).view(&b).get(&key), Some(Value::U32(9)));
    let o = limits(|l| l.max_string_len = 65_535);
    reject_with(&b, &o, Status::StringTooLong, &["key #0 at byte 24 has length 70002"]);
}

#[test]
fn duplicate_tensor() {
    // test-gguf's DUPLICATE_NAME.
    let b = Spec::new().tensor(t("a", F32, &[1])).tensor(t("b", F32, &[1])).tensor(t("a", F16, &[2])).build();
    reject(
        &b.bytes,
        Status::DuplicateTensor,
        &[
            &format!("tensor #2 at byte {}", b.info_pos[2]),
            "name 'a' duplicates tensor #0",
            &format!("at byte {}", b.info_pos[0]),
        ],
    );
}

#[test]
fn bad_dim_count_five() {
    // test-gguf's BAD_N_DIMS.
    let b = Spec::new().tensor(t("w", F32, &[1, 1, 1, 1, 1])).build();
    let nd = b.info_pos[0] + 8 + 1;
    reject(
        &b.bytes,
        Status::BadDimCount,
        &["tensor 'w' (tensor info at byte 24)", &format!("n_dims at byte {nd} is 5"), "at most 4"],
    );
    // n_dims = 0xFFFFFFFF (a gguf-py DoS PoC) with no dims following.
    let b = Spec::new().tensor(t("w", F32, &[]).n_dims(u32::MAX)).build();
    reject(&b.bytes, Status::BadDimCount, &["n_dims at byte 33 is 4294967295"]);
}

#[test]
fn bad_dimension_negative() {
    // test-gguf's BAD_SHAPE (-1), and any dimension with the high bit set.
    for (v, shown) in [(u64::MAX, "-1"), (1u64 << 63, "-9223372036854775808")] {
        let b = Spec::new().tensor(t("w", F32, &[4, v])).build();
        let at = b.info_pos[0] + 8 + 1 + 4 + 8;
        reject(
            &b.bytes,
            Status::BadDimension,
            &["tensor 'w' (tensor info at byte 24)", &format!("ne[1] at byte {at} is {shown}")],
        );
    }
}

#[test]
fn element_count_overflow() {
    // test-gguf's NE_TOO_BIG: 4 * INT32_MAX in every dimension.
    let big = 4 * i32::MAX as u64;
    let b = Spec::new().tensor(t("a", F32, &[1])).tensor(t("w", F32, &[big, big, big, big])).build();
    reject(
        &b.bytes,
        Status::ElementCountOverflow,
        &[&format!("tensor 'w' (tensor info at byte {})", b.info_pos[1]), "2^63-1"],
    );
    // 2^32 * 2^32 wraps u64 to 0; 2^62 * 2 = 2^63 fits u64 but not i64.
    for dims in [[1u64 << 32, 1 << 32], [1 << 62, 2]] {
        reject(
            &Spec::new().tensor(t("w", I8, &dims)).bytes(),
            Status::ElementCountOverflow,
            &["tensor 'w' (tensor info at byte 24)"],
        );
    }
}

#[test]
fn unknown_type() {
    // test-gguf's BAD_TYPE (= GGML_TYPE_COUNT = 43), a negative id, and our API ids (not disk ids).
    for (ty, as_i32) in [(43u32, "43"), (u32::MAX, "-1"), (1036, "1036"), (1000, "1000")] {
        let b = Spec::new().tensor(t("a", F32, &[1])).tensor(t("w", ty, &[32]).nbytes(32)).build();
        reject(
            &b.bytes,
            Status::UnknownType,
            &[
                &format!("tensor 'w' (tensor info at byte {})", b.info_pos[1]),
                &format!("type id {ty} (as i32: {as_i32})"),
            ],
        );
    }
}

#[test]
fn removed_types() {
    for (ty, name) in [(4u32, "q4_2"), (5, "q4_3"), (31, "q4_0_4_4"), (32, "q4_0_4_8"), (33, "q4_0_8_8")] {
        for p in [TypePolicy::Auto, TypePolicy::Upstream, TypePolicy::Bitnet] {
            let b = Spec::new().tensor(t("w", ty, &[256]).nbytes(144)).bytes();
            reject_with(
                &b,
                &policy(p),
                Status::RemovedType,
                &["tensor 'w' (tensor info at byte 24)", &format!("type id {ty} ({name})"), "removed"],
            );
        }
    }
    // 36-38 are removed upstream: rejected under the upstream policy.
    for (ty, name) in [(36u32, "iq4_nl_4_4"), (37, "iq4_nl_4_8"), (38, "iq4_nl_8_8")] {
        let b = Spec::new().tensor(t("w", ty, &[128]).nbytes(64)).bytes();
        reject_with(
            &b,
            &policy(TypePolicy::Upstream),
            Status::RemovedType,
            &["tensor 'w' (tensor info at byte 24)", &format!("type id {ty} ({name}) under the upstream type policy")],
        );
    }
}

#[test]
fn bad_shape_for_type() {
    let b = Spec::new().tensor(t("w", Q4_0, &[33, 2]).nbytes(36)).build();
    reject(
        &b.bytes,
        Status::BadShapeForType,
        &["tensor 'w' (tensor info at byte 24)", "ne[0]=33 is not a multiple of the block size 32 of q4_0"],
    );
    // K-quants: 256-element blocks; the other dimensions do not matter.
    let b = Spec::new().tensor(t("a", F32, &[3])).tensor(t("k", Q4_K, &[128, 2]).nbytes(144)).build();
    reject(
        &b.bytes,
        Status::BadShapeForType,
        &[&format!("tensor 'k' (tensor info at byte {})", b.info_pos[1]), "block size 256 of q4_k"],
    );
    // ne0 = 0 is a multiple of every block size.
    ok(&Spec::new().tensor(t("z", Q4_K, &[0, 7])).bytes());
}

#[test]
fn byte_size_overflow() {
    // 2^62 f64 elements: the element count fits i64, the byte size (2^65) does not fit u64.
    let b = Spec::new().tensor(t("w", F64, &[1 << 62])).build();
    reject(&b.bytes, Status::ByteSizeOverflow, &["tensor 'w' (tensor info at byte 24)", "f64", "overflows 64 bits"]);
    // Divide before multiply: ne0 * tsize would overflow for this q4_k shape although the real
    // size does not (CVE-2026-33298); the real size is then simply out of bounds.
    let ne0 = (u64::MAX / 256 / 4) * 256;
    let b = Spec::new().tensor(t("q", Q4_K, &[ne0])).bytes();
    reject(&b, Status::DataOutOfBounds, &["tensor 'q'"]);
}

#[test]
fn contested_type_39_undecidable_under_auto() {
    // [256, 1]: MXFP4 = 8*17 = 136 bytes, TL2 = roundup32(0 + 64) + 32 = 96 bytes; with the
    // alignment 256 both pad to 256, exactly where the next tensor starts: the layout cannot
    // tell them apart, and without general.architecture nothing else can.
    assert_eq!((ggml_nbytes(MXFP4, &[256, 1]).unwrap(), tl2_nbytes(256, 1)), (136, 96));
    let b = Spec::new().alignment(256).tensor(t("w", 39, &[256, 1])).tensor(t("n", F32, &[8])).build();
    assert_eq!(b.offsets, vec![0, 256]);
    let e = reject(
        &b.bytes,
        Status::ContestedType,
        &[&format!("tensor 'w' (tensor info at byte {})", b.info_pos[0]), "type id 39", "both sizes fit"],
    );
    assert_msg(&e, &["MXFP4", "TL2", "general.architecture = None", "general.file_type = None"]);
    // [512, 4]: MXFP4 = 1088, TL2 = roundup32(469) + 32 = 512. As the last tensor followed by
    // 64 trailing bytes neither ends exactly at the end of the file, both fit inside it.
    let (mx, tl2) = (ggml_nbytes(MXFP4, &[512, 4]).unwrap(), tl2_nbytes(512, 4));
    assert_eq!((mx, tl2), (1088, 512));
    let b = Spec { extra: 64, ..Spec::new() }.tensor(t("w", 39, &[512, 4])).build();
    reject(&b.bytes, Status::ContestedType, &["tensor 'w' (tensor info at byte 24)", "both sizes fit"]);
    // Neither size matches the layout: the next tensor starts at 64.
    let b = Spec::new().tensor(t("w", 39, &[512, 4]).nbytes(64)).tensor(t("n", F32, &[4])).build();
    assert_eq!(b.offsets[1], 64);
    reject(&b.bytes, Status::ContestedType, &["tensor 'w'", "neither size fits"]);
}

#[test]
fn type_not_storable_i8_s() {
    // 37 is BitNet's I8_S activation type: never in files.
    for p in [TypePolicy::Bitnet, TypePolicy::Auto] {
        let b = Spec::new().tensor(t("w", 37, &[128]).nbytes(128)).bytes();
        reject_with(
            &b,
            &policy(p),
            Status::TypeNotStorable,
            &["tensor 'w' (tensor info at byte 24)", "type id 37 (i8_s)"],
        );
    }
}

// ---- 4xx: layout and data ---------------------------------------------------------------------------

#[test]
fn bad_tensor_offset_gap() {
    // Expected offset of tensor 1 is 160 (136 padded to 32); 192 leaves a gap.
    let mut s = valid();
    s.tensors[1].offset = Some(192);
    let b = s.build();
    reject(
        &b.bytes,
        Status::BadTensorOffset,
        &[&format!("tensor 'blk.0.norm' (tensor info at byte {})", b.info_pos[1]), "offset is 192, expected 160"],
    );
    // The first tensor must start at 0.
    let mut s = valid();
    s.tensors[0].offset = Some(32);
    reject(&s.bytes(), Status::BadTensorOffset, &["tensor 'blk.0.w'", "offset is 32, expected 0"]);
}

#[test]
fn bad_tensor_offset_overlap_reorder_and_minus_one() {
    let mut s = valid();
    s.tensors[1].offset = Some(128);
    reject(&s.bytes(), Status::BadTensorOffset, &["tensor 'blk.0.norm'", "offset is 128, expected 160"]);
    // Both tensors at 0 (complete overlap).
    let mut s = valid();
    s.tensors[1].offset = Some(0);
    reject(&s.bytes(), Status::BadTensorOffset, &["offset is 0, expected 160"]);
    // test-gguf's BAD_OFFSET (-1).
    let mut s = valid();
    s.tensors[1].offset = Some(u64::MAX);
    reject(&s.bytes(), Status::BadTensorOffset, &["offset is 18446744073709551615, expected 160"]);
    // Aligned but unpadded offset (136 is a multiple of 8 but not of the alignment 32).
    let mut s = valid();
    s.tensors[1].offset = Some(136);
    reject(&s.bytes(), Status::BadTensorOffset, &["offset is 136, expected 160"]);
}

#[test]
fn bad_tensor_offset_inconsistent_align() {
    // test-gguf's INCONSISTENT_ALIGN: offsets computed with alignment 1 in a 32-aligned file.
    let s = Spec { offset_align: Some(1), ..Spec::new() }
        .tensor(t("a", F32, &[3]))
        .tensor(t("b", F32, &[3]))
        .tensor(t("c", F16, &[2]));
    let b = s.build();
    assert_eq!(b.offsets, vec![0, 12, 24]);
    reject(
        &b.bytes,
        Status::BadTensorOffset,
        &[&format!("tensor 'b' (tensor info at byte {})", b.info_pos[1]), "offset is 12, expected 32", "alignment 32"],
    );
}

#[test]
fn data_size_overflow_near_u64_max() {
    // Tensor 1 sits at offset 32 (correct) and its size is 2^64 - 8 (2^61-1 f64 elements; the
    // element count fits i64): offset + size wraps u64.
    let n = (1u64 << 61) - 1;
    let b = Spec::new().tensor(t("a", I8, &[1])).tensor(t("huge", F64, &[n])).build();
    assert_eq!(b.offsets[1], 32);
    reject(
        &b.bytes,
        Status::DataSizeOverflow,
        &[&format!("tensor 'huge' (tensor info at byte {})", b.info_pos[1]), "offset + size overflows"],
    );
}

#[test]
fn size_whose_padding_would_wrap_is_out_of_bounds() {
    // GGML_PAD(2^64 - 8, 32) wraps to 0 in ggml (gguf-ggml.md §3.1); here the tensor's bytes
    // are checked against the file before any padding is computed.
    let n = (1u64 << 61) - 1;
    let b = Spec::new().tensor(t("huge", F64, &[n])).build();
    reject(
        &b.bytes,
        Status::DataOutOfBounds,
        &["tensor 'huge' (tensor info at byte 24)", "18446744073709551608 bytes"],
    );
}

#[test]
fn data_out_of_bounds_one_byte_short() {
    // test-gguf's DATA_NOT_ENOUGH_DATA: the last tensor's data is one byte short.
    let b = valid().build();
    let end = (b.data_offset + b.offsets[1] + b.sizes[1]) as usize;
    ok(&b.bytes[..end]); // trailing padding after the last tensor is not required
    let e = reject(
        &b.bytes[..end - 1],
        Status::DataOutOfBounds,
        &[
            &format!("tensor 'blk.0.norm' (tensor info at byte {})", b.info_pos[1]),
            &format!("data spans bytes {}..{end}", end - 20),
            &format!("the file ends at byte {}", end - 1),
        ],
    );
    assert_msg(&e, &["truncated or corrupt"]);
    // The first tensor out of bounds: data section present but too short.
    let cut = b.data_offset as usize + 100;
    reject(&b.bytes[..cut], Status::DataOutOfBounds, &["tensor 'blk.0.w'", &format!("ends at byte {cut}")]);
}

// ---- accept cases -------------------------------------------------------------------------------------

#[test]
fn custom_alignment_one_and_small_powers_of_two() {
    // test-gguf's CUSTOM_ALIGN: alignment 1 is valid; so are 2 and 4 (not multiples of 8).
    for a in [1u32, 2, 4, 8, 64] {
        let b = Spec::new()
            .alignment(a)
            .tensor(t("a", F32, &[3]))
            .tensor(t("b", Q8_0, &[32]))
            .tensor(t("c", F16, &[3]))
            .build();
        let idx = ok(&b.bytes);
        assert_eq!(idx.alignment(), a as u64);
        assert_eq!(idx.data_offset(), align_up(b.infos_end, a as u64));
        let a = a as u64;
        assert_eq!(b.offsets, vec![0, align_up(12, a), align_up(align_up(12, a) + 34, a)]);
        let v = idx.view(&b.bytes);
        for i in 0..3 {
            assert_eq!(v.tensor(i).offset, b.offsets[i]);
            assert_eq!(v.tensor_data(i), b.tensor_bytes(i), "alignment {a}, tensor {i}");
        }
    }
    // With alignment 1, blocks start at odd addresses: offsets 0, 12, 46.
    let b = Spec::new()
        .alignment(1)
        .tensor(t("a", F32, &[3]))
        .tensor(t("b", Q8_0, &[32]))
        .tensor(t("c", F16, &[3]))
        .build();
    assert_eq!(b.offsets, vec![0, 12, 46]);
}

#[test]
fn zero_tensors_means_no_data_padding() {
    // The data offset of a file without tensors is not aligned (gguf.cpp), so a file that ends
    // right after its metadata is complete.
    let b = Spec::new().kv(kv_str("general.architecture", "x")).build();
    assert_eq!(b.bytes.len() as u64, b.infos_end);
    assert_ne!(b.infos_end % 32, 0);
    let idx = ok(&b.bytes);
    assert_eq!(idx.tensor_count(), 0);
    assert_eq!(idx.data_offset(), b.infos_end);
    // Also with a declared alignment.
    let b = Spec::new().alignment(64).bytes();
    assert_eq!(ok(&b).data_offset(), b.len() as u64);
}

#[test]
fn scalar_tensor_with_zero_dims() {
    let b = Spec::new().tensor(t("s", F32, &[])).tensor(t("v", F32, &[2])).build();
    assert_eq!(b.sizes, vec![4, 8]);
    let idx = ok(&b.bytes);
    let v = idx.view(&b.bytes);
    let s = v.tensor(0);
    assert_eq!((s.n_dims, s.ne, s.n_elements, s.n_bytes), (0, [1, 1, 1, 1], 1, 4));
    assert_eq!(v.tensor_data(0), b.tensor_bytes(0));
    assert_eq!(v.tensor(1).offset, 32);
}

#[test]
fn zero_size_dimension_gives_zero_bytes() {
    let b =
        Spec::new().tensor(t("z", F32, &[0, 5])).tensor(t("q", Q4_0, &[32, 3, 0])).tensor(t("a", F32, &[2])).build();
    assert_eq!(b.offsets, vec![0, 0, 0]);
    let idx = ok(&b.bytes);
    let v = idx.view(&b.bytes);
    let z = v.tensor(0);
    assert_eq!((z.n_dims, z.ne, z.n_elements, z.n_bytes), (2, [0, 5, 1, 1], 0, 0));
    let q = v.tensor(1);
    assert_eq!((q.ne, q.n_elements, q.n_bytes, q.offset), ([32, 3, 0, 1], 0, 0, 0));
    assert!(v.tensor_data(0).is_empty());
    assert_eq!(v.tensor_data(2), b.tensor_bytes(2));
    // A zero dimension next to a huge one is not an overflow (gguf.cpp's "> 0" guard).
    let idx = ok(&Spec::new().tensor(t("z", F32, &[0, i64::MAX as u64])).bytes());
    assert_eq!(idx.tensor(0).n_bytes, 0);
}

#[test]
fn bool_bytes_other_than_zero_and_one_read_as_true() {
    let b = Spec::new()
        .kv(kv_raw(b"f", T_BOOL, &[0]))
        .kv(kv_raw(b"t", T_BOOL, &[1]))
        .kv(kv_raw(b"two", T_BOOL, &[2]))
        .kv(kv_raw(b"ff", T_BOOL, &[0xff]))
        .kv(kv_raw(b"arr", T_ARRAY, &array_payload(T_BOOL, 3, &[0, 2, 1])))
        .bytes();
    let idx = ok(&b);
    let v = idx.view(&b);
    assert_eq!(v.get("f"), Some(Value::Bool(false)));
    assert_eq!(v.get("t"), Some(Value::Bool(true)));
    assert_eq!(v.get("two"), Some(Value::Bool(true)));
    assert_eq!(v.get("ff"), Some(Value::Bool(true)));
    let Some(Value::Array(a)) = v.get("arr") else { panic!("array") };
    assert_eq!(a.iter().collect::<Vec<_>>(), vec![Value::Bool(false), Value::Bool(true), Value::Bool(true)]);
}

#[test]
fn version_two_files_are_accepted() {
    let b = valid().version(2).build();
    let idx = ok(&b.bytes);
    assert_eq!(idx.version(), 2);
    assert_eq!(idx.tensor_count(), 2);
    assert_eq!(idx.view(&b.bytes).tensor_data(1), b.tensor_bytes(1));
}

#[test]
fn every_value_type_reads_back() {
    use OwnedValue as V;
    let values: Vec<(&str, V)> = vec![
        ("u8", V::U8(0xfe)),
        ("i8", V::I8(-128)),
        ("u16", V::U16(0xbeef)),
        ("i16", V::I16(-12345)),
        ("u32", V::U32(0xdead_beef)),
        ("i32", V::I32(i32::MIN)),
        ("f32", V::F32(f32::from_bits(0x7fc0_1234))), // a NaN with a payload
        ("bool", V::Bool(true)),
        ("string", V::String(b"h\xc3\xa9llo \xff raw".to_vec())), // invalid UTF-8 is kept as bytes
        ("u64", V::U64(u64::MAX - 1)),
        ("i64", V::I64(i64::MIN + 7)),
        ("f64", V::F64(-0.0)),
        ("empty_string", V::String(Vec::new())),
        ("arr.u8", V::Array(ValueType::U8, vec![V::U8(1), V::U8(255)])),
        ("arr.i8", V::Array(ValueType::I8, vec![V::I8(-1)])),
        ("arr.u16", V::Array(ValueType::U16, vec![V::U16(1), V::U16(65535)])),
        ("arr.i16", V::Array(ValueType::I16, vec![V::I16(-2)])),
        ("arr.u32", V::Array(ValueType::U32, vec![V::U32(7); 3])),
        ("arr.i32", V::Array(ValueType::I32, vec![V::I32(-7), V::I32(i32::MAX)])),
        ("arr.f32", V::Array(ValueType::F32, vec![V::F32(1.5), V::F32(f32::NEG_INFINITY), V::F32(f32::NAN)])),
        ("arr.bool", V::Array(ValueType::Bool, vec![V::Bool(false), V::Bool(true)])),
        ("arr.string", V::Array(ValueType::String, vec![V::str("a"), V::String(vec![]), V::String(vec![0, 0xff])])),
        ("arr.u64", V::Array(ValueType::U64, vec![V::U64(u64::MAX)])),
        ("arr.i64", V::Array(ValueType::I64, vec![V::I64(i64::MIN)])),
        ("arr.f64", V::Array(ValueType::F64, vec![V::F64(std::f64::consts::PI), V::F64(f64::MIN_POSITIVE / 2.0)])),
        ("arr.empty", V::Array(ValueType::F32, vec![])),
        ("arr.empty_strings", V::Array(ValueType::String, vec![])),
    ];
    let mut s = Spec::new();
    for (k, v) in &values {
        s = s.kv(kv(k, v));
    }
    let b = s.build();
    let idx = ok(&b.bytes);
    let view = idx.view(&b.bytes);
    assert_eq!(view.kv_count(), values.len());
    let mut seen_types = std::collections::HashSet::new();
    for (i, (k, v)) in values.iter().enumerate() {
        let got = view.kv(i);
        assert_eq!(got.key, *k);
        assert_eq!(got.key_c, format!("{k}\0").as_bytes());
        assert_eq!(got.pos, b.kv_pos[i]);
        assert_eq!(got.value.value_type(), v.value_type(), "{k}");
        let owned = OwnedValue::from_value(&got.value);
        assert!(same_value(&owned, v), "{k}: read {owned:?}, wrote {v:?}");
        assert_eq!(view.find_kv(k), Some(i));
        seen_types.insert(got.value.value_type() as u32);
    }
    assert_eq!(seen_types.len(), 13, "all 13 value types covered");
    // Direct accessors.
    assert_eq!(view.get("u64").unwrap().as_u64(), Some(u64::MAX - 1));
    assert_eq!(view.get("i8").unwrap().as_u64(), None);
    assert_eq!(view.get("string").unwrap().as_str_bytes(), Some(&b"h\xc3\xa9llo \xff raw"[..]));
    let Some(Value::Array(a)) = view.get("arr.string") else { panic!() };
    assert_eq!((a.elem_type(), a.len()), (ValueType::String, 3));
    assert_eq!(a.get_str(2), Some(&[0u8, 0xff][..]));
    assert_eq!(a.get(3), None);
    let Some(Value::Array(a)) = view.get("arr.u16") else { panic!() };
    assert_eq!(a.raw_bytes(), &[1, 0, 255, 255]);
}

#[test]
fn trailing_bytes_after_the_data_are_ignored() {
    // Nobody checks trailing data (gguf-ggml.md §1.5).
    let b = Spec { extra: 1000, ..valid() }.build();
    let idx = ok(&b.bytes);
    assert_eq!(idx.file_len(), b.bytes.len() as u64);
    assert_eq!(idx.view(&b.bytes).tensor_data(0), b.tensor_bytes(0));
}

#[test]
fn all_ggml_storage_types_accepted_with_their_sizes() {
    // Every live upstream id (except the contested 39 under auto) parses with ggml's byte size.
    let mut s = Spec::new();
    let mut ids = Vec::new();
    for id in 0..43u32 {
        if GGML_SIZES[id as usize].0 == 0 || id == 39 {
            continue;
        }
        let blck = GGML_SIZES[id as usize].0;
        s = s.tensor(t(&format!("t{id}"), id, &[blck * 2, 3]));
        ids.push(id);
    }
    let b = s.build();
    let idx = ok(&b.bytes);
    for (i, id) in ids.iter().enumerate() {
        let ti = idx.tensor(i);
        assert_eq!((ti.disk_type, ti.ty.id), (*id, *id));
        assert_eq!(ti.n_bytes, b.sizes[i], "type {id}");
        assert_eq!(ti.offset, b.offsets[i], "type {id}");
    }
    // And 39 as MXFP4 under the upstream policy.
    let b = Spec::new().tensor(t("m", MXFP4, &[64, 3])).build();
    let idx = ok_with(&b.bytes, &policy(TypePolicy::Upstream));
    assert_eq!((idx.tensor(0).ty.id, idx.tensor(0).n_bytes), (39, 2 * 17 * 3));
}
