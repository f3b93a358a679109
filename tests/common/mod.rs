//! Shared helpers for the parser integration tests: a byte-level builder for well-formed and
//! malformed GGUF files, an independent ggml size table (from reference/gguf-ggml.md §2.1, not
//! from `bitgguf::types`), and assertion helpers for statuses and messages.
//!
//! Two levels:
//! - free functions (`enc_str`, `kv_raw`, `kv`, `tensor_info_raw`, ...) that encode one field
//!   exactly as given, with any type id, count or length, and [`Bytes`] to concatenate them;
//! - [`Spec`], a whole file (magic, version, counts, raw KV entries, tensor infos, padding, data)
//!   where every field has a sensible default computed from the others but can be overridden,
//!   and [`Built`], the bytes plus the absolute positions of everything (for message checks).
#![allow(dead_code)]

mod xorshift;

#[cfg(feature = "crossval")]
pub mod cref_parity;

use bitgguf::gguf::{self, GgufIndex, Limits, OwnedValue, ParseOptions, ValueType};

pub mod malicious;
use bitgguf::{Error, LoadOptions, Model, Status, TypePolicy};

// ---- value type ids (enum gguf_type) ---------------------------------------------------------
pub const T_U8: u32 = 0;
pub const T_I8: u32 = 1;
pub const T_U16: u32 = 2;
pub const T_I16: u32 = 3;
pub const T_U32: u32 = 4;
pub const T_I32: u32 = 5;
pub const T_F32: u32 = 6;
pub const T_BOOL: u32 = 7;
pub const T_STRING: u32 = 8;
pub const T_ARRAY: u32 = 9;
pub const T_U64: u32 = 10;
pub const T_I64: u32 = 11;
pub const T_F64: u32 = 12;

// ---- a few ggml type ids -----------------------------------------------------------------------
pub const F32: u32 = 0;
pub const F16: u32 = 1;
pub const Q4_0: u32 = 2;
pub const Q8_0: u32 = 8;
pub const Q4_K: u32 = 12;
pub const I8: u32 = 24;
pub const F64: u32 = 28;
pub const MXFP4: u32 = 39;

/// (blck, tsize) for upstream ggml ids 0..=42, copied from the table in
/// reference/gguf-ggml.md §2.1 (removed ids are (0, 0)). Independent of `bitgguf::types`.
pub const GGML_SIZES: [(u64, u64); 43] = [
    (1, 4),    // 0 f32
    (1, 2),    // 1 f16
    (32, 18),  // 2 q4_0
    (32, 20),  // 3 q4_1
    (0, 0),    // 4 removed
    (0, 0),    // 5 removed
    (32, 22),  // 6 q5_0
    (32, 24),  // 7 q5_1
    (32, 34),  // 8 q8_0
    (32, 36),  // 9 q8_1
    (256, 84), // 10 q2_k
    (256, 110),
    (256, 144),
    (256, 176),
    (256, 210),
    (256, 292), // 15 q8_k
    (256, 66),
    (256, 74),
    (256, 98),
    (256, 50),
    (32, 18), // 20 iq4_nl
    (256, 110),
    (256, 82),
    (256, 136),
    (1, 1), // 24 i8
    (1, 2),
    (1, 4),
    (1, 8),
    (1, 8), // 28 f64
    (256, 56),
    (1, 2), // 30 bf16
    (0, 0),
    (0, 0),
    (0, 0),
    (256, 54), // 34 tq1_0
    (256, 66), // 35 tq2_0
    (0, 0),
    (0, 0),
    (0, 0),
    (32, 17),  // 39 mxfp4
    (64, 36),  // 40 nvfp4
    (128, 18), // 41 q1_0
    (64, 18),  // 42 q2_0
];

/// Byte size of an upstream ggml tensor, `(ne0/blck)*tsize*ne1*ne2*ne3`, or `None` for removed /
/// unknown ids, a bad row length or overflow.
pub fn ggml_nbytes(ty: u32, ne: &[u64]) -> Option<u64> {
    let &(blck, tsize) = GGML_SIZES.get(ty as usize)?;
    if blck == 0 {
        return None;
    }
    let ne0 = ne.first().copied().unwrap_or(1);
    if ne0 % blck != 0 {
        return None;
    }
    let mut n = (ne0 / blck).checked_mul(tsize)?;
    for &d in ne.iter().skip(1) {
        n = n.checked_mul(d)?;
    }
    Some(n)
}

/// I2_S / TL1 size: `n/4 + 32` (reference/bitnet-formats.md §3.9).
pub fn i2s_nbytes(ne: &[u64]) -> u64 {
    ne.iter().product::<u64>() / 4 + 32
}

/// TL2 size: `roundup32(F) + 32`, `F(M,K) = (K-256)*M/3*5/8 + 256*M/2*4/8` in C integer
/// arithmetic, left to right (reference/bitnet-formats.md §5.7); K = ne0, M = ne1.
pub fn tl2_nbytes(k: u64, m: u64) -> u64 {
    let f = (k - 256) * m / 3 * 5 / 8 + 256 * m / 2 * 4 / 8;
    f.div_ceil(32) * 32 + 32
}

/// `v` rounded up to a multiple of `a`, saturating at `u64::MAX` (for overflow tests).
pub fn align_up(v: u64, a: u64) -> u64 {
    v.checked_next_multiple_of(a).unwrap_or(u64::MAX)
}

// ---- field encoders ----------------------------------------------------------------------------

/// A GGUF string: u64 length + bytes.
pub fn enc_str(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// A string whose length field says `len` whatever the bytes are.
pub fn enc_str_len(len: u64, b: &[u8]) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// The payload of a value (without its type id), written independently of the crate's writer.
pub fn enc_value(v: &OwnedValue) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        OwnedValue::U8(x) => out.push(*x),
        OwnedValue::I8(x) => out.push(*x as u8),
        OwnedValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::F32(x) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
        OwnedValue::Bool(x) => out.push(*x as u8),
        OwnedValue::String(s) => out.extend(enc_str(s)),
        OwnedValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        OwnedValue::F64(x) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
        OwnedValue::Array(elem, items) => {
            out.extend_from_slice(&(*elem as u32).to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for it in items {
                out.extend(enc_value(it));
            }
        }
    }
    out
}

/// A KV entry with any key bytes, any value type id and any payload bytes.
pub fn kv_raw(key: &[u8], type_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = enc_str(key);
    v.extend_from_slice(&type_id.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// A well-formed KV entry.
pub fn kv(key: &str, v: &OwnedValue) -> Vec<u8> {
    kv_raw(key.as_bytes(), v.value_type() as u32, &enc_value(v))
}

pub fn kv_u32(key: &str, v: u32) -> Vec<u8> {
    kv(key, &OwnedValue::U32(v))
}

pub fn kv_str(key: &str, s: &str) -> Vec<u8> {
    kv(key, &OwnedValue::str(s))
}

/// An array payload header (element type id, count) followed by raw element bytes.
pub fn array_payload(elem: u32, count: u64, elems: &[u8]) -> Vec<u8> {
    let mut v = elem.to_le_bytes().to_vec();
    v.extend_from_slice(&count.to_le_bytes());
    v.extend_from_slice(elems);
    v
}

/// A tensor info with `n_dims` as given and exactly the `dims` given (which may disagree).
pub fn tensor_info_nd(name: &[u8], n_dims: u32, dims: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    let mut v = enc_str(name);
    v.extend_from_slice(&n_dims.to_le_bytes());
    for d in dims {
        v.extend_from_slice(&d.to_le_bytes());
    }
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(&offset.to_le_bytes());
    v
}

/// A tensor info with `n_dims = dims.len()`.
pub fn tensor_info_raw(name: &[u8], dims: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    tensor_info_nd(name, dims.len() as u32, dims, ty, offset)
}

/// A 24-byte header.
pub fn header(magic: &[u8; 4], version: u32, n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&n_tensors.to_le_bytes());
    v.extend_from_slice(&n_kv.to_le_bytes());
    v
}

/// A raw byte concatenator.
#[derive(Debug, Clone, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    pub fn new() -> Bytes {
        Bytes(Vec::new())
    }
    pub fn pos(&self) -> u64 {
        self.0.len() as u64
    }
    pub fn raw(&mut self, b: &[u8]) -> &mut Bytes {
        self.0.extend_from_slice(b);
        self
    }
    pub fn u8(&mut self, v: u8) -> &mut Bytes {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Bytes {
        self.raw(&v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> &mut Bytes {
        self.raw(&v.to_le_bytes())
    }
    pub fn str(&mut self, s: &[u8]) -> &mut Bytes {
        self.raw(&enc_str(s))
    }
    pub fn zeros(&mut self, n: u64) -> &mut Bytes {
        self.0.resize(self.0.len() + n as usize, 0);
        self
    }
    pub fn pad_to(&mut self, align: u64) -> &mut Bytes {
        let n = align_up(self.pos(), align);
        self.0.resize(n as usize, 0);
        self
    }
    pub fn build(&self) -> Vec<u8> {
        self.0.clone()
    }
}

// ---- whole files ---------------------------------------------------------------------------------

/// One tensor of a [`Spec`].
#[derive(Debug, Clone)]
pub struct TensorSpec {
    pub name: Vec<u8>,
    /// `n_dims` to write; default `dims.len()`.
    pub n_dims: Option<u32>,
    pub dims: Vec<u64>,
    pub ty: u32,
    /// Offset to write; default the running sum of padded sizes.
    pub offset: Option<u64>,
    /// Byte size used for the layout and the data; default [`ggml_nbytes`] (0 if unknown).
    pub nbytes: Option<u64>,
}

/// A tensor spec of type `ty` and shape `dims`.
pub fn t(name: &str, ty: u32, dims: &[u64]) -> TensorSpec {
    TensorSpec { name: name.as_bytes().to_vec(), n_dims: None, dims: dims.to_vec(), ty, offset: None, nbytes: None }
}

impl TensorSpec {
    pub fn offset(mut self, o: u64) -> TensorSpec {
        self.offset = Some(o);
        self
    }
    pub fn nbytes(mut self, n: u64) -> TensorSpec {
        self.nbytes = Some(n);
        self
    }
    pub fn n_dims(mut self, n: u32) -> TensorSpec {
        self.n_dims = Some(n);
        self
    }
    pub fn name_bytes(mut self, b: &[u8]) -> TensorSpec {
        self.name = b.to_vec();
        self
    }
    fn size(&self) -> u64 {
        self.nbytes.or_else(|| ggml_nbytes(self.ty, &self.dims)).unwrap_or(0)
    }
}

/// A whole GGUF file; every field can be overridden.
#[derive(Debug, Clone)]
pub struct Spec {
    pub magic: [u8; 4],
    pub version: u32,
    /// Tensor count to write; default `tensors.len()`.
    pub n_tensors: Option<u64>,
    /// KV count to write; default `kvs.len()`.
    pub n_kv: Option<u64>,
    /// Encoded KV entries, written in order.
    pub kvs: Vec<Vec<u8>>,
    pub tensors: Vec<TensorSpec>,
    /// Alignment for the data start and the default offsets (write `general.alignment` yourself,
    /// or use [`Spec::alignment`]).
    pub align: u64,
    /// Alignment used only to compute default offsets (test-gguf's INCONSISTENT_ALIGN); default
    /// `align`.
    pub offset_align: Option<u64>,
    /// Pad to `align` before the data section; default: when there is at least one tensor.
    pub pad_data_start: Option<bool>,
    /// Bytes to drop from the end of the finished file.
    pub cut: u64,
    /// Zero bytes to append to the finished file.
    pub extra: u64,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            magic: *b"GGUF",
            version: 3,
            n_tensors: None,
            n_kv: None,
            kvs: Vec::new(),
            tensors: Vec::new(),
            align: 32,
            offset_align: None,
            pad_data_start: None,
            cut: 0,
            extra: 0,
        }
    }
}

/// A built file and where everything is in it.
#[derive(Debug, Clone)]
pub struct Built {
    pub bytes: Vec<u8>,
    /// Absolute offset of each KV entry.
    pub kv_pos: Vec<u64>,
    /// Absolute offset of each tensor info.
    pub info_pos: Vec<u64>,
    /// End of the tensor infos.
    pub infos_end: u64,
    /// Absolute start of the data section.
    pub data_offset: u64,
    /// The offsets written (relative to the data section).
    pub offsets: Vec<u64>,
    /// Each tensor's byte size.
    pub sizes: Vec<u64>,
}

impl Built {
    /// Tensor `i`'s bytes as written (its data pattern).
    pub fn tensor_bytes(&self, i: usize) -> &[u8] {
        let s = (self.data_offset + self.offsets[i]) as usize;
        &self.bytes[s..s + self.sizes[i] as usize]
    }
    /// Absolute offset of the value of KV entry `i` whose key has `key_len` bytes.
    pub fn kv_value_pos(&self, i: usize, key_len: usize) -> u64 {
        self.kv_pos[i] + 8 + key_len as u64 + 4
    }
}

/// Data pattern: byte `k` of tensor `i`.
pub fn pattern(i: usize, k: u64) -> u8 {
    ((k.wrapping_mul(131) ^ (k >> 8).wrapping_mul(7)) as u8).wrapping_add((i as u8).wrapping_mul(29)).wrapping_add(1)
}

impl Spec {
    pub fn new() -> Spec {
        Spec::default()
    }
    pub fn kv(mut self, entry: Vec<u8>) -> Spec {
        self.kvs.push(entry);
        self
    }
    pub fn tensor(mut self, t: TensorSpec) -> Spec {
        self.tensors.push(t);
        self
    }
    /// Set the alignment and write `general.alignment` (u32) as the next KV.
    pub fn alignment(mut self, a: u32) -> Spec {
        self.align = a as u64;
        self.kvs.push(kv_u32("general.alignment", a));
        self
    }
    pub fn version(mut self, v: u32) -> Spec {
        self.version = v;
        self
    }
    pub fn cut(mut self, n: u64) -> Spec {
        self.cut = n;
        self
    }

    pub fn build(&self) -> Built {
        let mut b = Bytes::new();
        b.raw(&self.magic);
        b.u32(self.version);
        b.u64(self.n_tensors.unwrap_or(self.tensors.len() as u64));
        b.u64(self.n_kv.unwrap_or(self.kvs.len() as u64));
        let mut kv_pos = Vec::new();
        for e in &self.kvs {
            kv_pos.push(b.pos());
            b.raw(e);
        }
        let oalign = self.offset_align.unwrap_or(self.align);
        let mut info_pos = Vec::new();
        let mut offsets = Vec::new();
        let mut sizes = Vec::new();
        let mut running = 0u64;
        for t in &self.tensors {
            let size = t.size();
            let off = t.offset.unwrap_or(running);
            running = align_up(running.saturating_add(size), oalign);
            info_pos.push(b.pos());
            b.raw(&tensor_info_nd(&t.name, t.n_dims.unwrap_or(t.dims.len() as u32), &t.dims, t.ty, off));
            offsets.push(off);
            sizes.push(size);
        }
        let infos_end = b.pos();
        let pad = self.pad_data_start.unwrap_or(!self.tensors.is_empty());
        if pad {
            b.pad_to(self.align);
        }
        let data_offset = b.pos();
        // Data: each tensor's pattern at its offset, zero padding, the end padded to `align`.
        let mut data: Vec<u8> = Vec::new();
        for (i, (&off, &size)) in offsets.iter().zip(&sizes).enumerate() {
            let end = off.checked_add(size);
            // Absurd sizes and offsets (overflow tests) get no data.
            let Some(end) = end.filter(|&e| e <= 1 << 28) else { continue };
            if data.len() < end as usize {
                data.resize(end as usize, 0);
            }
            for k in 0..size {
                data[(off + k) as usize] = pattern(i, k);
            }
        }
        if !self.tensors.is_empty() {
            let n = align_up(data.len() as u64, self.align) as usize;
            data.resize(n, 0);
        }
        b.raw(&data);
        b.zeros(self.extra);
        let mut bytes = b.build();
        bytes.truncate(bytes.len().saturating_sub(self.cut as usize));
        Built { bytes, kv_pos, info_pos, infos_end, data_offset, offsets, sizes }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.build().bytes
    }
}

// ---- parsing and assertions -----------------------------------------------------------------------

pub fn opts(limits: Limits, policy: TypePolicy) -> ParseOptions {
    ParseOptions { limits, type_policy: policy }
}

pub fn parse(bytes: &[u8]) -> Result<GgufIndex, Error> {
    gguf::parse(bytes, &ParseOptions::default())
}

pub fn parse_with(bytes: &[u8], o: &ParseOptions) -> Result<GgufIndex, Error> {
    gguf::parse(bytes, o)
}

/// Parse, expecting success (with the error in the panic message otherwise).
pub fn ok(bytes: &[u8]) -> GgufIndex {
    ok_with(bytes, &ParseOptions::default())
}

pub fn ok_with(bytes: &[u8], o: &ParseOptions) -> GgufIndex {
    match gguf::parse(bytes, o) {
        Ok(i) => i,
        Err(e) => panic!("expected the file to parse, got {:?}: {}", e.status(), e.message()),
    }
}

/// Expect a reject with `status` from both the parser and `Model::from_bytes`, and a message
/// containing every one of `needles`. Returns the parser's error.
pub fn reject_with(bytes: &[u8], o: &ParseOptions, status: Status, needles: &[&str]) -> Error {
    let e = match gguf::parse(bytes, o) {
        Ok(_) => panic!("expected {status:?}, but the file parsed"),
        Err(e) => e,
    };
    assert_eq!(e.status(), status, "wrong status; message: {}", e.message());
    assert_msg(&e, needles);
    let lo = LoadOptions { parse: *o, use_mmap: true, ..LoadOptions::default() };
    match Model::from_bytes(bytes, &lo) {
        Ok(_) => panic!("Model::from_bytes accepted what the parser rejected"),
        Err(m) => assert_eq!(m.status(), status, "Model::from_bytes: {}", m.message()),
    }
    #[cfg(feature = "crossval")]
    if cref_parity::enabled() {
        cref_parity::check(bytes, o, status);
    }
    e
}

pub fn reject(bytes: &[u8], status: Status, needles: &[&str]) -> Error {
    reject_with(bytes, &ParseOptions::default(), status, needles)
}

/// Assert the message contains every needle.
pub fn assert_msg(e: &Error, needles: &[&str]) {
    for n in needles {
        assert!(e.message().contains(n), "message {:?} does not contain {:?}", e.message(), n);
    }
}

/// Compare two owned values; floats by bit pattern (so NaN payloads and -0.0 count).
pub fn same_value(a: &OwnedValue, b: &OwnedValue) -> bool {
    use OwnedValue as V;
    match (a, b) {
        (V::F32(x), V::F32(y)) => x.to_bits() == y.to_bits(),
        (V::F64(x), V::F64(y)) => x.to_bits() == y.to_bits(),
        (V::Array(ea, xa), V::Array(eb, xb)) => {
            ea == eb && xa.len() == xb.len() && xa.iter().zip(xb).all(|(p, q)| same_value(p, q))
        }
        _ => a == b,
    }
}

/// The value type of id `id`.
pub fn vtype(id: u32) -> ValueType {
    ValueType::from_u32(id).expect("value type id")
}

#[allow(unused_imports)]
pub use xorshift::XorShift;
