//! The ggml type table.
//!
//! Every type of upstream ggml (`enum ggml_type`, ggml HEAD 2026-08, `GGML_TYPE_COUNT = 43`, see
//! shared/reference/gguf-ggml.md §2.1) plus the BitNet fork's I2_S, TL1 and TL2
//! (reference/bitnet-formats.md §2).
//!
//! API type ids: upstream ggml ids are used as they are (0..=42). The BitNet types get ids of
//! their own, `1000 + their id in the BitNet fork` (I2_S = 1036, I8_S = 1037, TL1 = 1038,
//! TL2 = 1039), because on disk the ids 36–39 mean different things to different producers
//! (36–38 are retired upstream ids, 39 is MXFP4 upstream and TL2 in the fork). Which meaning a
//! file's 36–39 have is decided by [`TypePolicy`] when the file is opened.

/// An API type id (`BG_TYPE_*` in C).
pub type TypeId = u32;

/// How a type's byte size is computed from its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `(ne0 / blck) * tsize * ne1 * ne2 * ne3`, with `ne0 % blck == 0`.
    Blocks,
    /// I2_S / TL1: 2 bits per element plus a 32-byte tail holding the f32 per-tensor scale:
    /// `n/4 + 32` (reference/bitnet-formats.md §3.9, §4.1).
    TernaryTail,
    /// TL2: `roundup32(F(M, K)) + 32` with `F(M,K) = (K-256)*M/3*5/8 + 256*M/2*4/8` in C integer
    /// arithmetic (reference/bitnet-formats.md §5.7).
    Tl2,
    /// The id exists but has no storage layout: removed upstream ids, and types that never
    /// appear in files.
    None,
}

/// Whether a type can be stored in a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// A live storage type.
    Live,
    /// An id that ggml removed; files using it cannot be loaded (gguf-ggml.md §2.2).
    Removed(&'static str),
    /// A valid type that is never stored in model files (BitNet's I8_S activation type).
    NotStorable,
}

/// One row of the type table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    /// The API id (`BG_TYPE_*`).
    pub id: TypeId,
    /// The on-disk ggml id in the producer's numbering.
    pub disk_id: u32,
    /// Canonical lower-case name (`"q4_k"`, `"i2_s"`).
    pub name: &'static str,
    /// Elements per block (1 for scalar types; for I2_S the 128-element packing group).
    pub blck: u64,
    /// Bytes per block (0 where the layout is not block-based).
    pub tsize: u64,
    /// How the byte size is computed.
    pub layout: Layout,
    /// Whether the type can be stored in a file.
    pub availability: Availability,
    /// Whether ggml has a reference dequantizer (`to_float`) for it.
    pub has_to_float: bool,
}

/// The BitNet fork's ids are mapped to `BITNET_ID_BASE + fork id`.
pub const BITNET_ID_BASE: u32 = 1000;

/// API id of I2_S.
pub const I2_S: TypeId = BITNET_ID_BASE + 36;
/// API id of I8_S (BitNet activation type, never in files).
pub const I8_S: TypeId = BITNET_ID_BASE + 37;
/// API id of TL1.
pub const TL1: TypeId = BITNET_ID_BASE + 38;
/// API id of TL2.
pub const TL2: TypeId = BITNET_ID_BASE + 39;
/// API id of MXFP4 (upstream 39).
pub const MXFP4: TypeId = 39;

const fn blocks(id: u32, name: &'static str, blck: u64, tsize: u64, to_float: bool) -> TypeInfo {
    TypeInfo {
        id,
        disk_id: id,
        name,
        blck,
        tsize,
        layout: Layout::Blocks,
        availability: Availability::Live,
        has_to_float: to_float,
    }
}

const fn removed(id: u32, name: &'static str, why: &'static str) -> TypeInfo {
    TypeInfo {
        id,
        disk_id: id,
        name,
        blck: 0,
        tsize: 0,
        layout: Layout::None,
        availability: Availability::Removed(why),
        has_to_float: false,
    }
}

/// The upstream table, indexed by id (0..=42). Block sizes and byte sizes are ggml's
/// `type_traits[]` (gguf-ggml.md §2.1).
pub static UPSTREAM: [TypeInfo; 43] = [
    blocks(0, "f32", 1, 4, false), // identity: ggml has no to_float for f32
    blocks(1, "f16", 1, 2, true),
    blocks(2, "q4_0", 32, 18, true),
    blocks(3, "q4_1", 32, 20, true),
    removed(4, "q4_2", "Q4_2 was removed from ggml in 2023"),
    removed(5, "q4_3", "Q4_3 was removed from ggml in 2023"),
    blocks(6, "q5_0", 32, 22, true),
    blocks(7, "q5_1", 32, 24, true),
    blocks(8, "q8_0", 32, 34, true),
    blocks(9, "q8_1", 32, 36, false),
    blocks(10, "q2_k", 256, 84, true),
    blocks(11, "q3_k", 256, 110, true),
    blocks(12, "q4_k", 256, 144, true),
    blocks(13, "q5_k", 256, 176, true),
    blocks(14, "q6_k", 256, 210, true),
    blocks(15, "q8_k", 256, 292, false),
    blocks(16, "iq2_xxs", 256, 66, true),
    blocks(17, "iq2_xs", 256, 74, true),
    blocks(18, "iq3_xxs", 256, 98, true),
    blocks(19, "iq1_s", 256, 50, true),
    blocks(20, "iq4_nl", 32, 18, true),
    blocks(21, "iq3_s", 256, 110, true),
    blocks(22, "iq2_s", 256, 82, true),
    blocks(23, "iq4_xs", 256, 136, true),
    blocks(24, "i8", 1, 1, false),
    blocks(25, "i16", 1, 2, false),
    blocks(26, "i32", 1, 4, false),
    blocks(27, "i64", 1, 8, false),
    blocks(28, "f64", 1, 8, false),
    blocks(29, "iq1_m", 256, 56, true),
    blocks(30, "bf16", 1, 2, true),
    removed(31, "q4_0_4_4", "Q4_0_4_4 was removed: use Q4_0 with runtime repacking"),
    removed(32, "q4_0_4_8", "Q4_0_4_8 was removed: use Q4_0 with runtime repacking"),
    removed(33, "q4_0_8_8", "Q4_0_8_8 was removed: use Q4_0 with runtime repacking"),
    blocks(34, "tq1_0", 256, 54, true),
    blocks(35, "tq2_0", 256, 66, true),
    removed(36, "iq4_nl_4_4", "IQ4_NL_4_4 was removed: use IQ4_NL with runtime repacking"),
    removed(37, "iq4_nl_4_8", "IQ4_NL_4_8 was removed: use IQ4_NL with runtime repacking"),
    removed(38, "iq4_nl_8_8", "IQ4_NL_8_8 was removed: use IQ4_NL with runtime repacking"),
    blocks(39, "mxfp4", 32, 17, true),
    blocks(40, "nvfp4", 64, 36, true),
    blocks(41, "q1_0", 128, 18, true),
    blocks(42, "q2_0", 64, 18, true),
];

/// The BitNet fork's own types (fork ids 36–39), with their API ids.
pub static BITNET: [TypeInfo; 4] = [
    TypeInfo {
        id: I2_S,
        disk_id: 36,
        name: "i2_s",
        blck: 128,
        tsize: 32,
        layout: Layout::TernaryTail,
        availability: Availability::Live,
        has_to_float: false,
    },
    TypeInfo {
        id: I8_S,
        disk_id: 37,
        name: "i8_s",
        blck: 1,
        tsize: 1,
        layout: Layout::None,
        availability: Availability::NotStorable,
        has_to_float: false,
    },
    TypeInfo {
        id: TL1,
        disk_id: 38,
        name: "tl1",
        blck: 4,
        tsize: 1,
        layout: Layout::TernaryTail,
        availability: Availability::Live,
        has_to_float: false,
    },
    TypeInfo {
        id: TL2,
        disk_id: 39,
        name: "tl2",
        blck: 32,
        tsize: 0,
        layout: Layout::Tl2,
        availability: Availability::Live,
        has_to_float: false,
    },
];

/// The `general.file_type` of a model whose linear weights have type `ty`, where one exists:
/// llama.cpp's `LLAMA_FTYPE_MOSTLY_*` (the `_S` variant for the k-quants: every weight of that
/// type) and the BitNet fork's TL1 = 38, TL2 = 39, I2_S = 40 (bitnet-formats.md §2.2; 38 is
/// also upstream's MXFP4_MOE). Informational metadata only, never used to decode
/// (gguf-ggml.md §1). The converter and the synthesizer both write it from here.
pub fn llama_ftype(ty: TypeId) -> Option<u32> {
    Some(match ty {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        8 => 7,
        6 => 8,
        7 => 9,
        10 => 10,
        11 => 11,
        12 => 14,
        13 => 16,
        14 => 18,
        16 => 19,
        17 => 20,
        18 => 23,
        19 => 24,
        20 => 25,
        21 => 26,
        22 => 28,
        23 => 30,
        29 => 31,
        30 => 32,
        34 => 36,
        35 => 37,
        39 => 38,
        TL1 => 38,
        TL2 => 39,
        I2_S => 40,
        _ => return None,
    })
}

/// The table row for an API type id.
pub fn info(id: TypeId) -> Option<&'static TypeInfo> {
    if (id as usize) < UPSTREAM.len() {
        Some(&UPSTREAM[id as usize])
    } else {
        BITNET.iter().find(|t| t.id == id)
    }
}

/// The type with this name. Case-insensitive, so ggml's own spellings (`"q4_K"`, `"IQ2_XXS"`)
/// work too. Removed ids are not found by name.
pub fn from_name(name: &str) -> Option<&'static TypeInfo> {
    UPSTREAM
        .iter()
        .chain(BITNET.iter())
        .filter(|t| !matches!(t.availability, Availability::Removed(_)))
        .find(|t| t.name.eq_ignore_ascii_case(name))
}

/// Every type of the table (upstream first, then BitNet).
pub fn all() -> impl Iterator<Item = &'static TypeInfo> {
    UPSTREAM.iter().chain(BITNET.iter())
}

/// How the contested on-disk ids 36–39 are read (reference/bitnet-formats.md §2.1).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypePolicy {
    /// Decide per tensor: 36 and 38 can only be I2_S / TL1 (upstream retired them); 37 (I8_S)
    /// is rejected. 39 is MXFP4 or TL2: first by which byte size the file's layout implies (the
    /// next tensor's offset, or the end of the file for the last tensor); when both fit, by the
    /// producer: a `general.architecture` containing "bitnet", other I2_S/TL1 tensors, or
    /// `general.file_type` 39 mean TL2; `general.file_type` 38 or any other architecture mean
    /// MXFP4. Undecidable tensors fail with [`crate::Status::ContestedType`], never a guess.
    #[default]
    Auto = 0,
    /// Upstream ggml numbering: 36–38 are removed types, 39 is MXFP4.
    Upstream = 1,
    /// BitNet fork numbering: 36 = I2_S, 37 = I8_S (rejected), 38 = TL1, 39 = TL2.
    Bitnet = 2,
}

impl TypePolicy {
    /// The policy with this numeric value.
    pub fn from_u32(v: u32) -> Option<TypePolicy> {
        match v {
            0 => Some(TypePolicy::Auto),
            1 => Some(TypePolicy::Upstream),
            2 => Some(TypePolicy::Bitnet),
            _ => None,
        }
    }
}

/// Whether an on-disk id is one of the contested ids 36–39.
pub fn is_contested(disk_id: u32) -> bool {
    (36..=39).contains(&disk_id)
}

/// The BitNet-fork meaning of a contested on-disk id.
pub fn bitnet_for_disk(disk_id: u32) -> Option<&'static TypeInfo> {
    BITNET.iter().find(|t| t.disk_id == disk_id)
}

/// The element count `ne0*ne1*ne2*ne3`, or `None` when it overflows `i64` (gguf.cpp's limit).
pub fn element_count(ne: &[u64; 4]) -> Option<u64> {
    let mut n: u64 = 1;
    for &d in ne {
        n = n.checked_mul(d)?;
    }
    if n > i64::MAX as u64 {
        return None;
    }
    Some(n)
}

/// Why a shape is not valid for a type, or why its size overflows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    /// The shape does not fit the type (row not a multiple of the block, ...): the reason.
    Shape(String),
    /// The byte size overflows u64.
    Overflow,
    /// The type has no storage layout.
    NoLayout,
}

impl TypeInfo {
    /// Bytes per element in bits (for display): `tsize*8/blck`, or the BitNet payload rate.
    pub fn bits_per_weight(&self) -> f64 {
        match self.layout {
            Layout::Blocks => self.tsize as f64 * 8.0 / self.blck as f64,
            Layout::TernaryTail => 2.0,
            Layout::Tl2 => 5.0 / 3.0,
            Layout::None => 0.0,
        }
    }

    /// The exact byte size of a tensor of this type and shape, computed with checked u64
    /// arithmetic, dividing before multiplying (never ggml's `ne0*tsize/blck`).
    pub fn nbytes(&self, ne: &[u64; 4]) -> Result<u64, SizeError> {
        match self.layout {
            Layout::None => Err(SizeError::NoLayout),
            Layout::Blocks => {
                if !ne[0].is_multiple_of(self.blck) {
                    return Err(SizeError::Shape(format!(
                        "ne[0]={} is not a multiple of the block size {} of {}",
                        ne[0], self.blck, self.name
                    )));
                }
                (ne[0] / self.blck)
                    .checked_mul(self.tsize)
                    .and_then(|v| v.checked_mul(ne[1]))
                    .and_then(|v| v.checked_mul(ne[2]))
                    .and_then(|v| v.checked_mul(ne[3]))
                    .ok_or(SizeError::Overflow)
            }
            Layout::TernaryTail => {
                if !ne[0].is_multiple_of(self.blck) {
                    let why = if self.id == I2_S {
                        "the canonical I2_S layout packs whole 128-element blocks"
                    } else {
                        "TL1 packs 4 elements per byte"
                    };
                    return Err(SizeError::Shape(format!(
                        "ne[0]={} is not a multiple of {} for {} ({why})",
                        ne[0], self.blck, self.name
                    )));
                }
                let n = element_count(ne).ok_or(SizeError::Overflow)?;
                (n / 4).checked_add(32).ok_or(SizeError::Overflow)
            }
            Layout::Tl2 => {
                if ne[2] != 1 || ne[3] != 1 {
                    return Err(SizeError::Shape(format!("tl2 tensors are 2-D but ne[2]={}, ne[3]={}", ne[2], ne[3])));
                }
                let f = tl2_payload_bound(ne[1], ne[0]).ok_or_else(|| {
                    SizeError::Shape(format!(
                        "F(M={}, K={}) = (K-256)*M/3*5/8 + 256*M/2*4/8 (C integer arithmetic) is negative or overflows",
                        ne[1], ne[0]
                    ))
                })?;
                f.checked_add(31).map(|v| v & !31).and_then(|v| v.checked_add(32)).ok_or(SizeError::Overflow)
            }
        }
    }

    /// The shape rules a TL1 / TL2 tensor must meet to be decodable with *some* tile
    /// configuration (bitnet-formats.md §4.2, §5.2), beyond what its byte size needs (checked
    /// by [`TypeInfo::nbytes`], which mirrors `ggml_nbytes` and so accepts more). Other types: Ok.
    /// - both: 2-D (`ne0 = K` input features, `ne1 = M` rows); `M % BM == 0` with `BM` a
    ///   multiple of `bm` ∈ {32, 64} (TL1) or of 32 (TL2), so `M % 32 == 0`;
    /// - TL1: `K % BK == 0` with `BK % by == 0`, `by = 256/bm` ∈ {8, 4}, so `K % 4 == 0`;
    /// - TL2: `K = K3 + K2` with `K3 = floor(K/BK)*BK`, `BK % 24 == 0`, `K2 % 32 == 0`, so
    ///   `K % 8 == 0`; and `K2 <= 256` (else the payload overruns `F(M, K)` and the scale record
    ///   would overlap it), so `K` must have such a split: `K = 24a + 32b`, `32b <= 256`.
    ///
    /// Which split applies depends on `BK`, checked with the tile configuration
    /// ([`crate::quant::bitnet::tl1_validate`], [`crate::quant::bitnet::tl2_geometry`]).
    pub fn tl_shape_rule(&self, ne: &[u64; 4]) -> Result<(), SizeError> {
        if self.id != TL1 && self.id != TL2 {
            return Ok(());
        }
        let name = self.name;
        if ne[2] != 1 || ne[3] != 1 {
            return Err(SizeError::Shape(format!("{name} tensors are 2-D but ne[2]={}, ne[3]={}", ne[2], ne[3])));
        }
        if !ne[1].is_multiple_of(32) {
            return Err(SizeError::Shape(format!(
                "ne[1]={} (M, rows) is not a multiple of 32 for {name} (M % BM == 0, BM a multiple of 32)",
                ne[1]
            )));
        }
        if self.id == TL1 {
            if !ne[0].is_multiple_of(4) {
                return Err(SizeError::Shape(format!(
                    "ne[0]={} (K) is not a multiple of 4 for tl1 (K % BK == 0, BK % (256/bm) == 0)",
                    ne[0]
                )));
            }
            return Ok(());
        }
        // Some b in 0..=8 with K - 32b a non-negative multiple of 24.
        let k = ne[0];
        if !(0..=8u64).any(|b| k >= 32 * b && (k - 32 * b).is_multiple_of(24)) {
            return Err(SizeError::Shape(format!(
                "ne[0]={k} (K) cannot be split as K3 + K2 with K3 % 24 == 0 and K2 % 32 == 0, K2 <= 256 (tl2)"
            )));
        }
        Ok(())
    }
}

/// TL2's `F(M, K) = (K-256)*M/3*5/8 + 256*M/2*4/8`, evaluated left to right with C's signed
/// 64-bit semantics (division truncates toward zero), exactly as `ggml_nbytes` in the BitNet fork
/// computes it (bitnet-formats.md §5.7; for `K < 256` the first term is negative: the §9.5
/// vector gives C 875 where Python's floor gives 874). `None` on overflow or a negative result.
pub fn tl2_payload_bound(m: u64, k: u64) -> Option<u64> {
    let m = i64::try_from(m).ok()?;
    let k = i64::try_from(k).ok()?;
    let a = (k - 256).checked_mul(m)? / 3;
    let a = a.checked_mul(5)? / 8;
    let b = 256i64.checked_mul(m)? / 2;
    let b = b.checked_mul(4)? / 8;
    u64::try_from(a.checked_add(b)?).ok()
}

#[cfg(test)]
mod tests {

    #[test]
    fn llama_ftypes_of_the_fork_and_upstream() {
        // bitnet-formats.md §2.2 (the fork's llama.h) and upstream llama.h.
        assert_eq!((llama_ftype(TL1), llama_ftype(TL2), llama_ftype(I2_S)), (Some(38), Some(39), Some(40)));
        assert_eq!(
            (llama_ftype(8), llama_ftype(12), llama_ftype(30), llama_ftype(35)),
            (Some(7), Some(14), Some(32), Some(37))
        );
        assert_eq!(llama_ftype(24), None); // i8: no "mostly i8" file type
    }

    use super::*;

    #[test]
    fn table_is_indexed_by_id() {
        for (i, t) in UPSTREAM.iter().enumerate() {
            assert_eq!(t.id as usize, i);
            assert_eq!(t.disk_id as usize, i);
        }
        for t in &BITNET {
            assert_eq!(t.id, BITNET_ID_BASE + t.disk_id);
            assert!(info(t.id).is_some());
        }
        assert!(info(43).is_none());
        assert!(info(999).is_none());
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for t in all().filter(|t| !matches!(t.availability, Availability::Removed(_))) {
            assert_eq!(from_name(t.name).unwrap().id, t.id);
            assert_eq!(from_name(&t.name.to_ascii_uppercase()).unwrap().id, t.id);
        }
        assert_eq!(from_name("q4_K").unwrap().id, 12);
        assert!(from_name("q4_2").is_none());
        assert!(from_name("nope").is_none());
    }

    #[test]
    fn byte_sizes_match_the_reference() {
        let q4k = info(12).unwrap();
        assert_eq!(q4k.nbytes(&[512, 3, 1, 1]), Ok(2 * 144 * 3));
        assert!(matches!(q4k.nbytes(&[100, 1, 1, 1]), Err(SizeError::Shape(_))));
        // Divide before multiply: ne0*tsize would overflow, (ne0/blck)*tsize does not.
        let big = u64::MAX / 256 * 256;
        assert_eq!(q4k.nbytes(&[big, 1, 1, 1]), Ok(big / 256 * 144));
        assert_eq!(q4k.nbytes(&[big, 2, 1, 1]), Err(SizeError::Overflow));
        // I2_S: n/4 + 32 (bitnet-formats.md §3.9).
        let i2s = info(I2_S).unwrap();
        assert_eq!(i2s.nbytes(&[2560, 2560, 1, 1]), Ok(1_638_432));
        assert_eq!(i2s.nbytes(&[2560, 640, 1, 1]), Ok(409_632));
        assert_eq!(i2s.nbytes(&[6912, 2560, 1, 1]), Ok(4_423_712));
        assert!(matches!(i2s.nbytes(&[100, 2, 1, 1]), Err(SizeError::Shape(_))));
        // TL2: F(M,K) left to right, roundup32 + 32.
        let tl2 = info(TL2).unwrap();
        let f = (4096u64 - 256) * 1536 / 3 * 5 / 8 + 256 * 1536 / 2 * 4 / 8;
        assert_eq!(tl2.nbytes(&[4096, 1536, 1, 1]), Ok(f.div_ceil(32) * 32 + 32));
        assert!(matches!(tl2.nbytes(&[256, 32, 2, 1]), Err(SizeError::Shape(_))), "2-D");
        // §9.5: M = 32, K = 80 (K3 = 48, K2 = 32): F = 875 in C, roundup32 = 896, 928 bytes.
        assert_eq!(tl2_payload_bound(32, 80), Some(875));
        assert_eq!(tl2.nbytes(&[80, 32, 1, 1]), Ok(928));
        // C truncation toward zero: (8-256)*32/3 = -2645 (floor: -2646), *5/8 = -1653; + 2048.
        assert_eq!(tl2_payload_bound(32, 8), Some(395));
        assert_eq!(tl2_payload_bound(0, 8), Some(0));
        assert_eq!(tl2_payload_bound(u64::MAX, 1), None, "overflow");
    }

    #[test]
    fn tl_shape_rules() {
        // bitnet-formats.md §4.2 / §5.2: M % 32; TL1 K % 4; TL2 K = K3 + K2, K3 % 24, K2 % 32 <= 256.
        let (tl1, tl2) = (info(TL1).unwrap(), info(TL2).unwrap());
        for ne in [[16u64, 32, 1, 1], [4096, 1536, 1, 1], [14336, 4096, 1, 1]] {
            assert_eq!(tl1.tl_shape_rule(&ne), Ok(()));
        }
        assert!(matches!(tl1.tl_shape_rule(&[16, 48, 1, 1]), Err(SizeError::Shape(m)) if m.contains("ne[1]=48")));
        assert!(matches!(tl1.tl_shape_rule(&[18, 32, 1, 1]), Err(SizeError::Shape(m)) if m.contains("ne[0]=18")));
        assert!(matches!(tl1.tl_shape_rule(&[16, 32, 1, 2]), Err(SizeError::Shape(m)) if m.contains("2-D")));
        // K = 80 = 48 + 32 (§9.5); 2560 = 2496 + 64 (BK 96); 8640 = 90*96; 24; 32 (K3 = 0).
        for k in [80u64, 2560, 8640, 6912, 24, 32, 56, 1536] {
            assert_eq!(tl2.tl_shape_rule(&[k, 64, 1, 1]), Ok(()), "K={k}");
        }
        // Not a multiple of 8; 8 and 16 have no split; 40 = 8 + 32: 8 is not a multiple of 24.
        for k in [12u64, 8, 16, 40, 100] {
            assert!(matches!(tl2.tl_shape_rule(&[k, 64, 1, 1]), Err(SizeError::Shape(_))), "K={k}");
        }
        assert!(matches!(tl2.tl_shape_rule(&[96, 40, 1, 1]), Err(SizeError::Shape(m)) if m.contains("ne[1]=40")));
        assert_eq!(info(I2_S).unwrap().tl_shape_rule(&[128, 3, 1, 1]), Ok(()));
        assert_eq!(info(4).unwrap().nbytes(&[1, 1, 1, 1]), Err(SizeError::NoLayout));
    }
}
