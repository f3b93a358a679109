//! Errors and status codes.
//!
//! [`Error`] is what every fallible function in the crate returns: a [`Status`] (the stable,
//! numbered code that crosses the C boundary as `bg_status`) plus a message that says what went
//! wrong, where (file, tensor, byte offset) and what was expected versus what was found.
//! [`Error::status`] is the one mapping from an error to a status code.
//!
//! Status codes are grouped by pipeline stage and never renumbered: 1xx header, 2xx metadata
//! (key/value), 3xx tensor infos, 4xx layout and data, 5xx quantization, 6xx placement and
//! devices, 9xx the boundary (arguments, buffers, I/O, panics).

use std::fmt;

/// Stable status codes. In C this is `bg_status` with constants `BG_STATUS_*`.
///
/// `Ok` is 0; every other value is an error. Values are grouped by the stage that detects them
/// and are never renumbered; retired values stay reserved.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,

    // ---- 1xx: header -------------------------------------------------------------------
    /// The input ended before a field could be read completely (header, key, value, tensor
    /// info, or the padding before the data section).
    Truncated = 100,
    /// The first four bytes are not "GGUF".
    BadMagic = 101,
    /// The version is 0 or greater than 3.
    UnsupportedVersion = 102,
    /// GGUF version 1 (u32 counts) is no longer supported, as in llama.cpp.
    VersionOneUnsupported = 103,
    /// The version field reads as a byte-swapped small number: a big-endian GGUF file.
    BigEndian = 104,
    /// The tensor count is larger than the file could hold or than the configured limit.
    TensorCountTooLarge = 105,
    /// The key/value count is larger than the file could hold or than the configured limit.
    KvCountTooLarge = 106,

    // ---- 2xx: metadata (key/value) -------------------------------------------------------
    /// A metadata key is empty.
    EmptyKey = 200,
    /// A metadata key appears twice.
    DuplicateKey = 201,
    /// A metadata key is not valid UTF-8 or contains a NUL byte.
    InvalidKey = 202,
    /// A value type id is not one of the 13 GGUF value types.
    BadValueType = 203,
    /// An array whose elements are arrays (rejected, as gguf.cpp does).
    NestedArray = 204,
    /// A string is longer than the configured limit.
    StringTooLong = 205,
    /// An array has more elements than the configured limit.
    ArrayTooLong = 206,
    /// `general.alignment` is present but is not of type u32.
    AlignmentType = 207,
    /// `general.alignment` is 0 or not a power of two.
    AlignmentNotPowerOfTwo = 208,
    /// `general.alignment` is larger than the configured limit.
    AlignmentTooLarge = 209,
    /// The metadata as a whole (all array elements together) exceeds the configured limit.
    MetadataTooLarge = 210,

    // ---- 3xx: tensor infos -----------------------------------------------------------------
    /// A tensor name is 64 bytes or longer.
    TensorNameTooLong = 300,
    /// A tensor name is not valid UTF-8 or contains a NUL byte.
    InvalidTensorName = 301,
    /// Two tensors have the same name (also across the shards of a split model).
    DuplicateTensor = 302,
    /// `n_dims` is greater than 4.
    BadDimCount = 303,
    /// A dimension is negative when read as a signed 64-bit integer.
    BadDimension = 304,
    /// The element count overflows a signed 64-bit integer.
    ElementCountOverflow = 305,
    /// The type id is not a known ggml type.
    UnknownType = 306,
    /// The type id is one that ggml removed (4, 5, 31–33, 36–38 upstream).
    RemovedType = 307,
    /// The row length (`ne[0]`) is not a multiple of the type's block size, or the shape is not
    /// one the type can represent.
    BadShapeForType = 308,
    /// The tensor's byte size overflows a 64-bit integer.
    ByteSizeOverflow = 309,
    /// A contested on-disk type id (36–39: BitNet fork versus upstream ggml) could not be
    /// resolved by the type-id policy.
    ContestedType = 310,
    /// The type id is valid but never appears in model files (e.g. BitNet's I8_S).
    TypeNotStorable = 311,

    // ---- 4xx: layout and data ---------------------------------------------------------------
    /// A tensor's offset is not the running sum of the padded sizes of the tensors before it.
    BadTensorOffset = 400,
    /// Summing the padded tensor sizes overflows.
    DataSizeOverflow = 401,
    /// A tensor's data (or the start of the data section) lies beyond the end of the file.
    DataOutOfBounds = 402,
    /// The shards of a split model are inconsistent (numbering, counts, missing files).
    SplitMismatch = 403,

    // ---- 5xx: quantization ------------------------------------------------------------------
    /// The operation is not supported for this type.
    UnsupportedType = 500,
    /// Ternary tensor data holds an invalid code: I2_S code 3, a TL1 index > 8, a TL2
    /// three-index > 13 or two-index > 8 (the message names the tensor and the byte).
    InvalidCode = 510,
    /// A BitNet per-tensor scale is NaN, infinite, negative, or zero for a tensor that is not
    /// all zeros (bitnet.cpp only writes max|W| >= 0).
    BadScale = 511,
    /// A TL1 / TL2 tensor has no tile configuration: neither a `bitgguf.tl.<name>` key nor a
    /// load option (tile config or preset) gives one. The parameters are never guessed.
    TileConfigMissing = 512,
    /// The tile configuration of a TL1 / TL2 tensor is invalid for its shape, malformed in the
    /// file's `bitgguf.tl.<name>` key, or the key and the load options disagree.
    TileConfigInvalid = 513,

    // ---- 6xx: placement and devices ---------------------------------------------------------
    /// The feature this function needs was not compiled into this build.
    NotCompiled = 600,
    /// No usable device (e.g. no CUDA driver).
    NoDevice = 601,
    /// A device or host allocation failed.
    OutOfMemory = 602,
    /// The tensor lives on another device (a GPU): its bytes are not in host memory. Use
    /// `bg_tensor_device_ptr`, or load with the CPU strategy.
    WrongDevice = 603,
    /// A tensor is larger than every device budget it may use.
    TensorTooLarge = 604,
    /// The placement plan runs out of device budgets: a tensor fits on no device left in the
    /// fallback chain.
    BudgetExceeded = 605,
    /// The GPU kernels could not be compiled (NVRTC missing or failing) or loaded for this
    /// device.
    KernelCompile = 630,
    /// A CUDA driver call failed (other than out of memory or no device): the message names
    /// the call and the driver's error.
    DeviceFailure = 631,

    // ---- 9xx: the boundary ------------------------------------------------------------------
    /// A required pointer argument was NULL.
    NullParameter = 900,
    /// An argument has an invalid value (unknown enum value, bad UTF-8 path, ...).
    InvalidParameter = 901,
    /// An output buffer is too small; the required size was reported.
    InsufficientSize = 902,
    /// An index is out of range.
    IndexOutOfRange = 903,
    /// A name or key was not found.
    NotFound = 904,
    /// A metadata value was requested as a type it does not have.
    TypeMismatch = 905,
    /// An operating-system I/O error (open, stat, map, read).
    Io = 906,
    /// The operation was cancelled by the caller.
    Cancelled = 907,
    /// bitgguf's result differs from a reference it is checked against at run time (real
    /// ggml in `bitgguf bench`): always a bug, the message says where.
    ReferenceMismatch = 908,
    /// An internal error (a caught panic). Always a bug: please report it.
    Panic = 999,
}

impl Status {
    /// Every status, in numeric order.
    pub const ALL: &'static [Status] = &[
        Status::Ok,
        Status::Truncated,
        Status::BadMagic,
        Status::UnsupportedVersion,
        Status::VersionOneUnsupported,
        Status::BigEndian,
        Status::TensorCountTooLarge,
        Status::KvCountTooLarge,
        Status::EmptyKey,
        Status::DuplicateKey,
        Status::InvalidKey,
        Status::BadValueType,
        Status::NestedArray,
        Status::StringTooLong,
        Status::ArrayTooLong,
        Status::AlignmentType,
        Status::AlignmentNotPowerOfTwo,
        Status::AlignmentTooLarge,
        Status::MetadataTooLarge,
        Status::TensorNameTooLong,
        Status::InvalidTensorName,
        Status::DuplicateTensor,
        Status::BadDimCount,
        Status::BadDimension,
        Status::ElementCountOverflow,
        Status::UnknownType,
        Status::RemovedType,
        Status::BadShapeForType,
        Status::ByteSizeOverflow,
        Status::ContestedType,
        Status::TypeNotStorable,
        Status::BadTensorOffset,
        Status::DataSizeOverflow,
        Status::DataOutOfBounds,
        Status::SplitMismatch,
        Status::UnsupportedType,
        Status::InvalidCode,
        Status::BadScale,
        Status::TileConfigMissing,
        Status::TileConfigInvalid,
        Status::NotCompiled,
        Status::NoDevice,
        Status::OutOfMemory,
        Status::WrongDevice,
        Status::TensorTooLarge,
        Status::BudgetExceeded,
        Status::KernelCompile,
        Status::DeviceFailure,
        Status::NullParameter,
        Status::InvalidParameter,
        Status::InsufficientSize,
        Status::IndexOutOfRange,
        Status::NotFound,
        Status::TypeMismatch,
        Status::Io,
        Status::Cancelled,
        Status::ReferenceMismatch,
        Status::Panic,
    ];

    /// The status with this numeric code, if any.
    pub fn from_code(code: u32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// A short, static, lower-case description (`bg_status_str`).
    pub fn description(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Truncated => "input truncated: a field extends past the end of the data",
            Status::BadMagic => "bad magic: not a GGUF file",
            Status::UnsupportedVersion => "unsupported GGUF version",
            Status::VersionOneUnsupported => "GGUF version 1 is no longer supported",
            Status::BigEndian => "big-endian GGUF files are not supported",
            Status::TensorCountTooLarge => "tensor count too large",
            Status::KvCountTooLarge => "metadata key/value count too large",
            Status::EmptyKey => "empty metadata key",
            Status::DuplicateKey => "duplicate metadata key",
            Status::InvalidKey => "metadata key is not valid UTF-8 or contains NUL",
            Status::BadValueType => "invalid metadata value type",
            Status::NestedArray => "arrays of arrays are not supported",
            Status::StringTooLong => "string longer than the limit",
            Status::ArrayTooLong => "array longer than the limit",
            Status::AlignmentType => "general.alignment is not of type u32",
            Status::AlignmentNotPowerOfTwo => "general.alignment is not a non-zero power of two",
            Status::AlignmentTooLarge => "general.alignment exceeds the limit",
            Status::MetadataTooLarge => "metadata exceeds the size limit",
            Status::TensorNameTooLong => "tensor name is 64 bytes or longer",
            Status::InvalidTensorName => "tensor name is not valid UTF-8 or contains NUL",
            Status::DuplicateTensor => "duplicate tensor name",
            Status::BadDimCount => "tensor has more than 4 dimensions",
            Status::BadDimension => "tensor dimension is negative",
            Status::ElementCountOverflow => "tensor element count overflows",
            Status::UnknownType => "unknown tensor type",
            Status::RemovedType => "tensor type was removed from ggml",
            Status::BadShapeForType => "tensor shape is not valid for its type",
            Status::ByteSizeOverflow => "tensor byte size overflows",
            Status::ContestedType => "contested type id could not be resolved (BitNet vs upstream)",
            Status::TypeNotStorable => "tensor type cannot appear in a model file",
            Status::BadTensorOffset => "tensor offset is not where the layout requires",
            Status::DataSizeOverflow => "data section size overflows",
            Status::DataOutOfBounds => "tensor data lies beyond the end of the file",
            Status::SplitMismatch => "split model shards are inconsistent",
            Status::UnsupportedType => "operation not supported for this type",
            Status::InvalidCode => "ternary tensor data holds an invalid code",
            Status::BadScale => "BitNet per-tensor scale is NaN, infinite, negative or zero",
            Status::TileConfigMissing => "TL1/TL2 tensor has no tile configuration (give one or a preset)",
            Status::TileConfigInvalid => "TL1/TL2 tile configuration invalid or conflicting",
            Status::NotCompiled => "feature not compiled into this build",
            Status::NoDevice => "no usable device",
            Status::OutOfMemory => "out of memory",
            Status::WrongDevice => "the tensor is on another device (use bg_tensor_device_ptr)",
            Status::TensorTooLarge => "a tensor is larger than every device budget",
            Status::BudgetExceeded => "the placement plan exceeds the device budgets",
            Status::KernelCompile => "GPU kernels could not be compiled or loaded",
            Status::DeviceFailure => "a CUDA driver call failed",
            Status::NullParameter => "a required pointer argument was NULL",
            Status::InvalidParameter => "invalid argument",
            Status::InsufficientSize => "output buffer too small",
            Status::IndexOutOfRange => "index out of range",
            Status::NotFound => "not found",
            Status::TypeMismatch => "value has a different type than requested",
            Status::Io => "I/O error",
            Status::Cancelled => "cancelled",
            Status::ReferenceMismatch => "result differs from the reference implementation: please report this bug",
            Status::Panic => "internal error (panic): please report this bug",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// An error: a status code plus a detailed, human-readable message.
///
/// The message names what failed, where (file, tensor, key, absolute byte offset) and what was
/// expected versus found, e.g. `model.gguf: tensor 'blk.0.attn_q.weight' (tensor info at byte
/// 1234): ne[0]=2561 is not a multiple of the block size 256 of q4_k`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// A new error with this status and message.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    /// The status code: the one mapping from an error to `bg_status`.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The detailed message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefix the message with a location (typically a file path): `"{prefix}: {message}"`.
    pub fn context(mut self, prefix: impl fmt::Display) -> Error {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(Status::Io, e.to_string())
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_round_trip() {
        let mut prev = None;
        for s in Status::ALL {
            let code = *s as u32;
            if let Some(p) = prev {
                assert!(code > p, "{s:?} out of order");
            }
            prev = Some(code);
            assert_eq!(Status::from_code(code), Some(*s));
            assert!(!s.description().is_empty());
        }
        assert_eq!(Status::from_code(1), None);
        assert_eq!(Status::Ok as u32, 0);
    }
}
