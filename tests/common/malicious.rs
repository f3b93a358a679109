//! The malicious-input corpus: one GGUF file (or one set of shard files) per case of
//! reference/gguf-ggml.md §3.3, each with the status bitgguf must return and what real ggml's
//! `gguf_init_from_file` (libggml-python 0.20.2.post1) was observed to do with it.
//!
//! Every case is built at test time with the byte-builder of `common` (nothing is committed);
//! `tests/malicious.rs` writes each to a file, loads it every way bitgguf can (by path mapped or
//! read, from memory, through `bg_load`) and checks the status; `tests/malicious_ggml.rs` runs each first
//! file through real ggml in a child process and prints the comparison table.
//!
//! Cases are grouped by the headings of §3.3. Where a case documents a hole in ggml, its
//! `what` says so.
#![allow(dead_code)]

use bitgguf::gguf::{GgufWriter, Limits, OwnedValue};
use bitgguf::{LoadOptions, Status, TypePolicy};

use super::*;

/// What real ggml (`gguf_init_from_file` with `no_alloc = true` and a context, as llama.cpp
/// calls it) does with a case's first file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ggml {
    /// Returns NULL (rejects).
    Rejects,
    /// Accepts, and every tensor's `[data_offset + offset, + gguf_get_tensor_size)` lies inside
    /// the file (llama-model-loader's bounds check passes too).
    Accepts,
    /// Accepts, but llama-model-loader's per-tensor bounds check (`offs + nbytes` overflows or
    /// exceeds the file size) would reject it.
    AcceptsLoaderRejects,
    /// Accepts and computes a tensor size that is wrong (smaller than the shape needs), so the
    /// loader's bounds check passes too: a consumer reads out of bounds.
    AcceptsWrongSize,
}

/// One malicious (or deliberately borderline) input.
pub struct Case {
    /// File stem, unique.
    pub name: &'static str,
    /// §3.3 heading.
    pub group: &'static str,
    /// What the case does.
    pub what: &'static str,
    /// The files (name, bytes); the first one is opened. One file unless a split case.
    pub files: Vec<(String, Vec<u8>)>,
    /// Load options (limits, type policy).
    pub opts: LoadOptions,
    /// bitgguf's status.
    pub expect: Status,
    /// Real ggml's observed behaviour on the first file.
    pub ggml: Ggml,
}

impl Case {
    fn one(
        name: &'static str,
        group: &'static str,
        what: &'static str,
        bytes: Vec<u8>,
        expect: Status,
        ggml: Ggml,
    ) -> Case {
        Case {
            name,
            group,
            what,
            files: vec![(format!("{name}.gguf"), bytes)],
            opts: LoadOptions::default(),
            expect,
            ggml,
        }
    }
    fn with_limits(mut self, f: impl FnOnce(&mut Limits)) -> Case {
        f(&mut self.opts.parse.limits);
        self
    }
    fn with_policy(mut self, p: TypePolicy) -> Case {
        self.opts.parse.type_policy = p;
        self
    }
    /// True when the case is a single file (also loadable from memory).
    pub fn single(&self) -> bool {
        self.files.len() == 1
    }
}

fn base() -> Spec {
    Spec::new().kv(kv_str("general.architecture", "llama")).tensor(t("w", F32, &[8]))
}

fn with_kv(entry: Vec<u8>) -> Vec<u8> {
    Spec::new().kv(kv_str("general.architecture", "llama")).kv(entry).tensor(t("w", F32, &[8])).bytes()
}

fn with_tensor(ts: TensorSpec) -> Vec<u8> {
    Spec::new().kv(kv_str("general.architecture", "llama")).tensor(ts).bytes()
}

/// The inverse of 9 modulo 2^58 (Newton's iteration modulo 2^64, then masked).
fn inv9_mod_2_58() -> u64 {
    let mut x: u64 = 9;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(9u64.wrapping_mul(x)));
    }
    let m = x & ((1 << 58) - 1);
    assert_eq!(9u64.wrapping_mul(m) & ((1 << 58) - 1), 1);
    m
}

/// `ne[0]` of a q4_0 row for which ggml's `ggml_nbytes` (`ne0 * 18 / 32`, multiply first)
/// wraps to exactly 2 bytes, while the true size `(ne0 / 32) * 18` is about 2^62 bytes.
pub fn q4_0_ne0_whose_ggml_nbytes_wraps_to_2() -> u64 {
    let ne0 = 32 * inv9_mod_2_58();
    assert!(ne0 < 1 << 63);
    assert_eq!(ne0.wrapping_mul(18) / 32, 2);
    ne0
}

/// A split model of `n` shards named `m-0000i-of-0000n.gguf`, one f32 tensor each, with
/// `edit(shard, writer)` applied before the tensors are added. `keys(shard)` gives the split
/// keys (no, count, tensors.count).
fn split_files(
    n: usize,
    keys: impl Fn(usize) -> Vec<(&'static str, OwnedValue)>,
    tensor_name: impl Fn(usize) -> String,
) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let mut w = GgufWriter::new();
            if i == 0 {
                w.kv("general.architecture", OwnedValue::str("llama"));
            }
            for (k, v) in keys(i) {
                w.kv(k, v);
            }
            w.tensor(tensor_name(i), F32, &[4], (0..16u8).map(|b| b + i as u8).collect());
            (format!("m-{:05}-of-{n:05}.gguf", i + 1), w.to_bytes().expect("serialize a shard"))
        })
        .collect()
}

fn std_split(i: usize, n: usize) -> Vec<(&'static str, OwnedValue)> {
    vec![
        ("split.no", OwnedValue::U16(i as u16)),
        ("split.count", OwnedValue::U16(n as u16)),
        ("split.tensors.count", OwnedValue::I32(n as i32)),
    ]
}

fn split_case(name: &'static str, what: &'static str, files: Vec<(String, Vec<u8>)>, expect: Status) -> Case {
    Case { name, group: "splits", what, files, opts: LoadOptions::default(), expect, ggml: Ggml::Accepts }
}

/// Every case.
pub fn cases() -> Vec<Case> {
    use Ggml::*;
    use Status as S;
    let h = "header and counts";
    let s = "strings and keys";
    let v = "values";
    let ti = "tensor infos";
    let mut c = Vec::new();

    // ---- header and counts ---------------------------------------------------------------
    let mut b = base().bytes();
    b[..4].copy_from_slice(b"FUGG");
    c.push(Case::one(
        "magic_fugg",
        h,
        "magic 'FUGG' (test-gguf BAD_MAGIC; big-endian proposals)",
        b,
        S::BadMagic,
        Rejects,
    ));
    let mut b = base().bytes();
    b[..4].copy_from_slice(&[0, 0, 0, 0]);
    c.push(Case::one("magic_zero", h, "magic of four NUL bytes", b, S::BadMagic, Rejects));
    c.push(Case::one("empty_file", h, "a 0-byte file", Vec::new(), S::Truncated, Rejects));
    let b = header(b"GGUF", 3, 0, 0);
    c.push(Case::one(
        "header_23_bytes",
        h,
        "fewer than 24 bytes: the KV count is cut",
        b[..23].to_vec(),
        S::Truncated,
        Rejects,
    ));
    c.push(Case::one("version_0", h, "version 0", base().version(0).bytes(), S::UnsupportedVersion, Rejects));
    c.push(Case::one(
        "version_1",
        h,
        "version 1 (u32 counts)",
        base().version(1).bytes(),
        S::VersionOneUnsupported,
        Rejects,
    ));
    c.push(Case::one("version_4", h, "version 4 (future)", base().version(4).bytes(), S::UnsupportedVersion, Rejects));
    c.push(Case::one(
        "version_byteswapped",
        h,
        "version 3 written big-endian (low 16 bits zero)",
        base().version(3u32.swap_bytes()).bytes(),
        S::BigEndian,
        Rejects,
    ));
    let mut sp = base();
    sp.n_tensors = Some(1 << 63);
    c.push(Case::one(
        "n_tensors_2_63",
        h,
        "tensor count 2^63 (negative as int64)",
        sp.bytes(),
        S::TensorCountTooLarge,
        Rejects,
    ));
    let mut sp = base();
    sp.n_tensors = Some(u64::MAX);
    c.push(Case::one(
        "n_tensors_minus_1",
        h,
        "tensor count -1 (test-gguf BAD_N_TENSORS)",
        sp.bytes(),
        S::TensorCountTooLarge,
        Rejects,
    ));
    let mut sp = base();
    sp.n_tensors = Some(1_000_000);
    c.push(Case::one(
        "n_tensors_above_remaining",
        h,
        "1e6 tensors declared in a file that cannot hold 1e6 * 24 bytes: rejected before any allocation",
        sp.bytes(),
        S::TensorCountTooLarge,
        Rejects,
    ));
    let mut sp = base();
    sp.n_kv = Some(1 << 63);
    c.push(Case::one("n_kv_2_63", h, "KV count 2^63", sp.bytes(), S::KvCountTooLarge, Rejects));
    let mut sp = base();
    sp.n_kv = Some(u64::MAX);
    c.push(Case::one("n_kv_minus_1", h, "KV count -1 (test-gguf BAD_N_KV)", sp.bytes(), S::KvCountTooLarge, Rejects));
    let mut sp = base();
    sp.n_kv = Some(1_000_000);
    c.push(Case::one(
        "n_kv_above_remaining",
        h,
        "1e6 KV pairs declared in a file that cannot hold 1e6 * 14 bytes",
        sp.bytes(),
        S::KvCountTooLarge,
        Rejects,
    ));
    c.push(
        Case::one(
            "n_tensors_above_limit",
            h,
            "3 tensors with the limit max_tensors = 2 (the cap is configurable; default 2^20)",
            base().tensor(t("x", F32, &[1])).tensor(t("y", F32, &[1])).bytes(),
            S::TensorCountTooLarge,
            Accepts,
        )
        .with_limits(|l| l.max_tensors = 2),
    );
    c.push(
        Case::one(
            "n_kv_above_limit",
            h,
            "2 KV pairs with the limit max_kv = 1 (configurable; default 2^20)",
            base().kv(kv_u32("a.b", 1)).bytes(),
            S::KvCountTooLarge,
            Accepts,
        )
        .with_limits(|l| l.max_kv = 1),
    );

    // ---- strings and keys ----------------------------------------------------------------
    let mut b = header(b"GGUF", 3, 0, 1);
    b.extend(enc_str_len(u64::MAX, b"general.architecture"));
    c.push(Case::one(
        "key_len_u64_max",
        s,
        "key length u64::MAX (len + 1 wraps: TALOS-2024-1913)",
        b,
        S::StringTooLong,
        Rejects,
    ));
    let mut b = header(b"GGUF", 3, 0, 1);
    b.extend(enc_str_len(1000, b"general.architecture"));
    c.push(Case::one("key_len_past_eof", s, "key length 1000 with 20 bytes left", b, S::Truncated, Rejects));
    let mut b = header(b"GGUF", 3, 0, 1);
    b.extend(enc_str(b"k"));
    b.extend(T_STRING.to_le_bytes());
    b.extend(enc_str_len((64 << 20) + 1, b"short"));
    c.push(Case::one(
        "string_above_cap",
        s,
        "a string value of declared length 64 MiB + 1 (cap; ggml allows 1 GiB), not allocated",
        b,
        S::StringTooLong,
        Rejects,
    ));
    c.push(Case::one(
        "key_invalid_utf8",
        s,
        "key bytes ff fe",
        with_kv(kv_raw(&[0xff, 0xfe], T_U32, &1u32.to_le_bytes())),
        S::InvalidKey,
        Accepts,
    ));
    c.push(Case::one(
        "key_interior_nul",
        s,
        "key 'a\\0b' (ggml's C strings would truncate it)",
        with_kv(kv_raw(b"a\0b", T_U32, &1u32.to_le_bytes())),
        S::InvalidKey,
        Accepts,
    ));
    c.push(Case::one(
        "key_empty",
        s,
        "empty key",
        with_kv(kv_raw(b"", T_U32, &1u32.to_le_bytes())),
        S::EmptyKey,
        Rejects,
    ));
    c.push(Case::one(
        "key_duplicate",
        s,
        "the same key twice (test-gguf KV_DUPLICATE_KEY)",
        base().kv(kv_str("general.architecture", "gemma3")).bytes(),
        S::DuplicateKey,
        Rejects,
    ));
    c.push(Case::one(
        "key_70000_bytes",
        s,
        "a 70000-byte key (spec: at most 65535); accepted like gguf.cpp",
        with_kv(kv_u32(&"k".repeat(70_000), 1)),
        S::Ok,
        Accepts,
    ));
    c.push(Case::one(
        "value_invalid_utf8",
        s,
        "a string value that is not UTF-8: accepted, exposed as raw bytes",
        with_kv(kv_raw(b"general.name", T_STRING, &enc_str(&[0xc3, 0x28, 0xff]))),
        S::Ok,
        Accepts,
    ));

    // ---- values ----------------------------------------------------------------------------
    c.push(Case::one(
        "value_type_13",
        v,
        "value type 13 = GGUF_TYPE_COUNT (test-gguf KV_BAD_TYPE)",
        with_kv(kv_raw(b"a.b", 13, &[0; 8])),
        S::BadValueType,
        Rejects,
    ));
    c.push(Case::one(
        "value_type_minus_1",
        v,
        "value type 0xffffffff (negative as int32)",
        with_kv(kv_raw(b"a.b", u32::MAX, &[0; 8])),
        S::BadValueType,
        Rejects,
    ));
    c.push(Case::one(
        "array_of_arrays",
        v,
        "an array whose element type is ARRAY",
        with_kv(kv_raw(b"a.b", T_ARRAY, &array_payload(T_ARRAY, 1, &array_payload(T_U8, 1, &[7])))),
        S::NestedArray,
        Rejects,
    ));
    c.push(Case::one(
        "array_elem_type_13",
        v,
        "an array of element type 13",
        with_kv(kv_raw(b"a.b", T_ARRAY, &array_payload(13, 1, &[0; 8]))),
        S::BadValueType,
        Rejects,
    ));
    c.push(Case::one(
        "array_count_times_size_overflows",
        v,
        "a u64 array of 2^61 elements (count * 8 = 2^64 wraps to 0)",
        with_kv(kv_raw(b"a.b", T_ARRAY, &array_payload(T_U64, 1 << 61, &[]))),
        S::ArrayTooLong,
        Rejects,
    ));
    c.push(Case::one(
        "array_past_eof",
        v,
        "a u32 array of 1000 elements (under the cap) with 40 bytes left",
        with_kv(kv_raw(b"a.b", T_ARRAY, &array_payload(T_U32, 1000, &[]))),
        S::Truncated,
        Rejects,
    ));
    c.push(Case::one(
        "array_above_cap",
        v,
        "a u8 array of 2^30 + 1 elements (the default cap, like ggml's)",
        with_kv(kv_raw(b"a.b", T_ARRAY, &array_payload(T_U8, (1 << 30) + 1, &[]))),
        S::ArrayTooLong,
        Rejects,
    ));
    c.push(Case::one(
        "string_array_count_past_eof",
        v,
        "a string array of 10^6 elements (under the cap): count * 8 > remaining, rejected before reserving offsets",
        with_kv(kv_raw(b"a.b", T_ARRAY, &array_payload(T_STRING, 1_000_000, &[]))),
        S::Truncated,
        Rejects,
    ));
    let strs: Vec<u8> = (0..5).flat_map(|_| enc_str(b"tok")).collect();
    c.push(
        Case::one(
            "string_arrays_above_total_cap",
            v,
            "two string arrays of 5 strings with max_total_strings = 8 (default 2^26)",
            Spec::new()
                .kv(kv_raw(b"a", T_ARRAY, &array_payload(T_STRING, 5, &strs)))
                .kv(kv_raw(b"b", T_ARRAY, &array_payload(T_STRING, 5, &strs)))
                .bytes(),
            S::MetadataTooLarge,
            Accepts,
        )
        .with_limits(|l| l.max_total_strings = 8),
    );
    c.push(Case::one(
        "bool_byte_2",
        v,
        "a BOOL byte of 2: accepted like gguf.cpp (reads as true)",
        with_kv(kv_raw(b"a.flag", T_BOOL, &[2])),
        S::Ok,
        Accepts,
    ));
    c.push(Case::one(
        "alignment_u64",
        v,
        "general.alignment of type u64",
        Spec::new().kv(kv("general.alignment", &OwnedValue::U64(32))).tensor(t("w", F32, &[8])).bytes(),
        S::AlignmentType,
        Rejects,
    ));
    c.push(Case::one(
        "alignment_string",
        v,
        "general.alignment of type string",
        Spec::new().kv(kv_str("general.alignment", "32")).tensor(t("w", F32, &[8])).bytes(),
        S::AlignmentType,
        Rejects,
    ));
    c.push(Case::one(
        "alignment_0",
        v,
        "general.alignment = 0",
        Spec::new().kv(kv_u32("general.alignment", 0)).tensor(t("w", F32, &[8])).bytes(),
        S::AlignmentNotPowerOfTwo,
        Rejects,
    ));
    c.push(Case::one(
        "alignment_13",
        v,
        "general.alignment = 13 (test-gguf KV_BAD_ALIGN)",
        Spec::new().kv(kv_u32("general.alignment", 13)).tensor(t("w", F32, &[8])).bytes(),
        S::AlignmentNotPowerOfTwo,
        Rejects,
    ));
    c.push(Case::one(
        "alignment_2_31_no_tensors",
        v,
        "general.alignment = 2^31 in a file without tensors: ggml has no upper bound (oss-sec 2026 V-01)",
        Spec::new().kv(kv_u32("general.alignment", 1 << 31)).bytes(),
        S::AlignmentTooLarge,
        Accepts,
    ));
    c.push(Case::one(
        "alignment_2_31_with_tensor",
        v,
        "general.alignment = 2^31 with a tensor: ggml seeks past the end",
        Spec::new().kv(kv_u32("general.alignment", 1 << 31)).tensor(t("w", F32, &[8])).bytes(),
        S::AlignmentTooLarge,
        Rejects,
    ));
    c.push(Case::one(
        "alignment_2_21",
        v,
        "general.alignment = 2 MiB (above the 1 MiB default cap) in a file without tensors",
        Spec::new().kv(kv_u32("general.alignment", 1 << 21)).bytes(),
        S::AlignmentTooLarge,
        Accepts,
    ));
    c.push(Case::one(
        "alignment_1",
        v,
        "general.alignment = 1 (not a multiple of 8, but ggml accepts it: test-gguf CUSTOM_ALIGN)",
        Spec::new().alignment(1).tensor(t("a", I8, &[3])).tensor(t("b", F32, &[1])).bytes(),
        S::Ok,
        Accepts,
    ));

    // ---- tensor infos ---------------------------------------------------------------------
    c.push(Case::one(
        "tensor_name_64_bytes",
        ti,
        "a 64-byte tensor name (test-gguf TENSORS_BAD_NAME_SIZE)",
        with_tensor(t(&"n".repeat(64), F32, &[8])),
        S::TensorNameTooLong,
        Rejects,
    ));
    c.push(Case::one(
        "tensor_name_len_u64_max",
        ti,
        "tensor name length u64::MAX",
        {
            let mut b = header(b"GGUF", 3, 1, 0);
            b.extend(enc_str_len(u64::MAX, b"w"));
            b.extend([0u8; 40]);
            b
        },
        S::StringTooLong,
        Rejects,
    ));
    c.push(Case::one(
        "tensor_name_empty",
        ti,
        "an empty tensor name: accepted like gguf.cpp",
        with_tensor(t("", F32, &[8])),
        S::Ok,
        Accepts,
    ));
    c.push(Case::one(
        "tensor_name_nul",
        ti,
        "tensor name 'a\\0b'",
        with_tensor(t("x", F32, &[8]).name_bytes(b"a\0b")),
        S::InvalidTensorName,
        Accepts,
    ));
    c.push(Case::one(
        "tensor_name_invalid_utf8",
        ti,
        "tensor name bytes ff 41",
        with_tensor(t("x", F32, &[8]).name_bytes(&[0xff, 0x41])),
        S::InvalidTensorName,
        Accepts,
    ));
    c.push(Case::one(
        "tensor_duplicate",
        ti,
        "two tensors named 'w' (test-gguf DUPLICATE_NAME)",
        base().tensor(t("w", F32, &[8])).bytes(),
        S::DuplicateTensor,
        Rejects,
    ));
    c.push(Case::one(
        "tensor_duplicate_after_nul",
        ti,
        "tensors 'w' and 'w\\0x': ggml's C-string names make them equal",
        base().tensor(t("x", F32, &[8]).name_bytes(b"w\0x")).bytes(),
        S::InvalidTensorName,
        Rejects,
    ));
    c.push(Case::one(
        "n_dims_5",
        ti,
        "n_dims = 5 (test-gguf BAD_N_DIMS; TALOS-2024-1914 wrote past ne[4])",
        with_tensor(t("w", F32, &[8, 1, 1, 1, 1])),
        S::BadDimCount,
        Rejects,
    ));
    c.push(Case::one(
        "n_dims_u32_max",
        ti,
        "n_dims = 0xffffffff (gguf-py OOM PoC)",
        with_tensor(t("w", F32, &[8]).n_dims(u32::MAX)),
        S::BadDimCount,
        Rejects,
    ));
    c.push(Case::one(
        "dim_negative",
        ti,
        "ne[1] = -1 (test-gguf BAD_SHAPE)",
        with_tensor(t("w", F32, &[8, u64::MAX])),
        S::BadDimension,
        Rejects,
    ));
    c.push(Case::one(
        "dims_4_int32_max",
        ti,
        "4 dims of 4 * INT32_MAX each (test-gguf NE_TOO_BIG)",
        with_tensor(t("w", F32, &[4 * i32::MAX as u64; 4])),
        S::ElementCountOverflow,
        Rejects,
    ));
    c.push(Case::one(
        "element_count_2_64",
        ti,
        "i8 [2^32, 2^32]: the element count 2^64 overflows int64; ggml 0.20.2 accepts it with ggml_nbytes = 0",
        with_tensor(t("w", I8, &[1 << 32, 1 << 32])),
        S::ElementCountOverflow,
        AcceptsWrongSize,
    ));
    c.push(Case::one(
        "zero_dim_with_huge_dims",
        ti,
        "dims [0, 2^62, 2^62, 2^62]: 0 elements and 0 bytes (older ggml divided by the zero: SIGFPE)",
        with_tensor(t("w", F32, &[0, 1 << 62, 1 << 62, 1 << 62])),
        S::Ok,
        Accepts,
    ));
    c.push(Case::one(
        "type_43",
        ti,
        "ggml type 43 = GGML_TYPE_COUNT (test-gguf BAD_TYPE)",
        with_tensor(t("w", 43, &[8])),
        S::UnknownType,
        Rejects,
    ));
    c.push(Case::one("type_minus_1", ti, "ggml type -1", with_tensor(t("w", u32::MAX, &[8])), S::UnknownType, Rejects));
    c.push(Case::one(
        "type_removed_4",
        ti,
        "removed type id 4 (Q4_2)",
        with_tensor(t("w", 4, &[32])),
        S::RemovedType,
        Rejects,
    ));
    c.push(Case::one(
        "type_removed_31",
        ti,
        "removed type id 31 (Q4_0_4_4)",
        with_tensor(t("w", 31, &[32])),
        S::RemovedType,
        Rejects,
    ));
    c.push(
        Case::one(
            "type_36_upstream_policy",
            ti,
            "type id 36 under the upstream policy (removed upstream; I2_S in the BitNet fork)",
            with_tensor(t("w", 36, &[128]).nbytes(64)),
            S::RemovedType,
            Rejects,
        )
        .with_policy(TypePolicy::Upstream),
    );
    c.push(Case::one(
        "row_not_multiple_of_block",
        ti,
        "q4_0 with ne[0] = 33",
        with_tensor(t("w", Q4_0, &[33]).nbytes(18)),
        S::BadShapeForType,
        Rejects,
    ));
    let ne0 = q4_0_ne0_whose_ggml_nbytes_wraps_to_2();
    c.push(Case::one(
        "nbytes_multiply_before_divide",
        ti,
        "q4_0 row of ne0 = 32 * (9^-1 mod 2^58) elements: ggml_nbytes computes ne0 * 18 / 32 and wraps to 2 bytes; \
         the true size (ne0 / 32) * 18 is ~2^62 bytes",
        with_tensor(t("w", Q4_0, &[ne0]).nbytes(2)),
        S::DataOutOfBounds,
        AcceptsWrongSize,
    ));
    c.push(Case::one(
        "byte_size_overflows_u64",
        ti,
        "f32 [2^32, 2^30]: 2^62 elements (fits int64) of 4 bytes = 2^64",
        with_tensor(t("w", F32, &[1 << 32, 1 << 30]).nbytes(0)),
        S::ByteSizeOverflow,
        Rejects,
    ));
    let huge = (1u64 << 61) - 1;
    c.push(Case::one(
        "padding_wraps_near_u64_max",
        ti,
        "f64 [2^61 - 1] = 2^64 - 8 bytes: GGML_PAD(size, 32) wraps to 0 in ggml",
        with_tensor(t("w", F64, &[huge])),
        S::DataOutOfBounds,
        AcceptsLoaderRejects,
    ));
    c.push(Case::one(
        "offset_plus_size_wraps",
        ti,
        "a second tensor at offset 32 whose 2^64 - 8 bytes make offset + size wrap",
        Spec::new().tensor(t("a", I8, &[1])).tensor(t("huge", F64, &[huge])).bytes(),
        S::DataSizeOverflow,
        AcceptsLoaderRejects,
    ));
    c.push(Case::one(
        "offset_minus_1",
        ti,
        "tensor offset -1 (test-gguf BAD_OFFSET)",
        with_tensor(t("w", F32, &[8]).offset(u64::MAX)),
        S::BadTensorOffset,
        Rejects,
    ));
    c.push(Case::one(
        "offset_gap",
        ti,
        "the second tensor at 64 instead of 32 (a gap)",
        base().tensor(t("x", F32, &[8]).offset(64)).bytes(),
        S::BadTensorOffset,
        Rejects,
    ));
    c.push(Case::one(
        "offset_overlap",
        ti,
        "the second tensor at offset 0, overlapping the first",
        base().tensor(t("x", F32, &[8]).offset(0)).bytes(),
        S::BadTensorOffset,
        Rejects,
    ));
    c.push(Case::one(
        "offset_inconsistent_align",
        ti,
        "offsets computed with alignment 1 in a 32-aligned file (test-gguf INCONSISTENT_ALIGN)",
        {
            let mut sp = base().tensor(t("x", F32, &[3])).tensor(t("y", F32, &[1]));
            sp.offset_align = Some(1);
            sp.bytes()
        },
        S::BadTensorOffset,
        Rejects,
    ));
    c.push(Case::one(
        "data_one_byte_short",
        ti,
        "the last tensor's data is one byte short (test-gguf DATA_NOT_ENOUGH_DATA)",
        {
            let b = base().build();
            let end = (b.data_offset + b.offsets[0] + b.sizes[0]) as usize;
            b.bytes[..end - 1].to_vec()
        },
        S::DataOutOfBounds,
        AcceptsLoaderRejects,
    ));
    c.push(Case::one(
        "data_offset_past_eof",
        ti,
        "a tensor of 1 MiB in a file of a few hundred bytes",
        with_tensor(t("w", F32, &[1 << 18]).nbytes(0)),
        S::DataOutOfBounds,
        AcceptsLoaderRejects,
    ));
    c.push(Case::one(
        "eof_inside_data_padding",
        ti,
        "n_tensors > 0 and the file ends inside the padding before the data section",
        {
            let b = base().build();
            b.bytes[..b.infos_end as usize + 1].to_vec()
        },
        S::Truncated,
        Rejects,
    ));
    c.push(Case::one(
        "eof_right_after_infos",
        ti,
        "n_tensors > 0 and the file ends right after the tensor infos",
        {
            let b = base().build();
            b.bytes[..b.infos_end as usize].to_vec()
        },
        S::Truncated,
        Rejects,
    ));

    // ---- splits ---------------------------------------------------------------------------
    c.push(split_case(
        "split_valid",
        "a valid 2-shard model (the control case)",
        split_files(2, |i| std_split(i, 2), |i| format!("t{i}")),
        S::Ok,
    ));
    c.push(split_case(
        "split_no_wrong_type",
        "split.no is a string",
        split_files(
            2,
            |i| {
                let mut k = std_split(i, 2);
                k[0].1 = OwnedValue::str("0");
                k
            },
            |i| format!("t{i}"),
        ),
        S::SplitMismatch,
    ));
    c.push(split_case(
        "split_no_wrong_position",
        "the second shard says split.no = 0",
        split_files(
            2,
            |i| {
                let mut k = std_split(i, 2);
                k[0].1 = OwnedValue::U16(0);
                k
            },
            |i| format!("t{i}"),
        ),
        S::SplitMismatch,
    ));
    c.push(split_case(
        "split_count_differs",
        "the second shard says split.count = 3",
        split_files(
            2,
            |i| {
                let mut k = std_split(i, 2);
                if i == 1 {
                    k[1].1 = OwnedValue::U16(3);
                }
                k
            },
            |i| format!("t{i}"),
        ),
        S::SplitMismatch,
    ));
    c.push(split_case(
        "split_missing_shard",
        "split.count = 3 but only 2 files exist",
        {
            let mut f = split_files(3, |i| std_split(i, 3), |i| format!("t{i}"));
            f.pop();
            f
        },
        S::SplitMismatch,
    ));
    c.push(split_case(
        "split_tensors_count_wrong",
        "split.tensors.count = 5 but the shards hold 2 tensors",
        split_files(
            2,
            |i| {
                let mut k = std_split(i, 2);
                k[2].1 = OwnedValue::I32(5);
                k
            },
            |i| format!("t{i}"),
        ),
        S::SplitMismatch,
    ));
    c.push(split_case(
        "split_duplicate_tensor",
        "both shards hold a tensor named 'w'",
        split_files(2, |i| std_split(i, 2), |_| "w".to_string()),
        S::DuplicateTensor,
    ));
    c.push(split_case(
        "split_open_second_shard",
        "the caller opens shard 2 of 2",
        {
            let mut f = split_files(2, |i| std_split(i, 2), |i| format!("t{i}"));
            f.swap(0, 1);
            f
        },
        S::SplitMismatch,
    ));
    c.push(split_case(
        "split_no_not_below_count",
        "split.no = 2 with split.count = 2",
        split_files(
            1,
            |_| vec![("split.no", OwnedValue::U16(2)), ("split.count", OwnedValue::U16(2))],
            |_| "w".to_string(),
        ),
        S::SplitMismatch,
    ));
    c
}
