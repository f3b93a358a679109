//! GGUF metadata values: the 13 value types, borrowed views of values and arrays (zero-copy,
//! straight out of the file bytes), and owned values for the writer.

use super::reader::{le_u16, le_u32, le_u64};

/// A GGUF metadata value type (`enum gguf_type`, reference/gguf-ggml.md §1.3).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// u8
    U8 = 0,
    /// i8
    I8 = 1,
    /// u16
    U16 = 2,
    /// i16
    I16 = 3,
    /// u32
    U32 = 4,
    /// i32
    I32 = 5,
    /// f32
    F32 = 6,
    /// bool (one byte; gguf.cpp treats any non-zero byte as true, and so do we)
    Bool = 7,
    /// u64 length + bytes (UTF-8 by the spec, not NUL-terminated)
    String = 8,
    /// u32 element type + u64 count + elements
    Array = 9,
    /// u64
    U64 = 10,
    /// i64
    I64 = 11,
    /// f64
    F64 = 12,
}

impl ValueType {
    /// The value type with this id.
    pub fn from_u32(v: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match v {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Size in bytes of a fixed-size value; `None` for strings and arrays.
    pub fn fixed_size(self) -> Option<u64> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }

    /// Lower-case name as gguf-py spells it (`"uint32"`, `"string"`, ...).
    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "uint8",
            I8 => "int8",
            U16 => "uint16",
            I16 => "int16",
            U32 => "uint32",
            I32 => "int32",
            F32 => "float32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "uint64",
            I64 => "int64",
            F64 => "float64",
        }
    }
}

/// A metadata value, borrowed from the file bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// u8
    U8(u8),
    /// i8
    I8(i8),
    /// u16
    U16(u16),
    /// i16
    I16(i16),
    /// u32
    U32(u32),
    /// i32
    I32(i32),
    /// f32
    F32(f32),
    /// bool
    Bool(bool),
    /// the raw string bytes (not validated as UTF-8; see [`lossy`])
    String(&'a [u8]),
    /// an array
    Array(ArrayView<'a>),
    /// u64
    U64(u64),
    /// i64
    I64(i64),
    /// f64
    F64(f64),
}

impl<'a> Value<'a> {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// Decode a scalar (not string, not array) of type `ty` from exactly its bytes.
    pub(crate) fn scalar(ty: ValueType, b: &[u8]) -> Value<'a> {
        match ty {
            ValueType::U8 => Value::U8(b[0]),
            ValueType::I8 => Value::I8(b[0] as i8),
            ValueType::Bool => Value::Bool(b[0] != 0),
            ValueType::U16 => Value::U16(le_u16(b, 0)),
            ValueType::I16 => Value::I16(le_u16(b, 0) as i16),
            ValueType::U32 => Value::U32(le_u32(b, 0)),
            ValueType::I32 => Value::I32(le_u32(b, 0) as i32),
            ValueType::F32 => Value::F32(f32::from_bits(le_u32(b, 0))),
            ValueType::U64 => Value::U64(le_u64(b, 0)),
            ValueType::I64 => Value::I64(le_u64(b, 0) as i64),
            ValueType::F64 => Value::F64(f64::from_bits(le_u64(b, 0))),
            ValueType::String | ValueType::Array => unreachable!("not a scalar type"),
        }
    }

    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v as u64),
            Value::U16(v) => Some(v as u64),
            Value::U32(v) => Some(v as u64),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The string's bytes, if the value is a string.
    pub fn as_str_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A string as UTF-8, replacing invalid sequences (GGUF strings are not validated at open).
pub fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// An array, borrowed from the file bytes. Numeric elements are read on demand from the packed
/// little-endian bytes (which may be unaligned); string elements through an offset table built
/// once at parse time (one allocation per file, never one per string).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayView<'a> {
    pub(crate) elem: ValueType,
    pub(crate) len: u64,
    /// For fixed-size elements: exactly `len * size` bytes. For strings: the array's bytes
    /// from the first length prefix to the end of the last string.
    pub(crate) data: &'a [u8],
    /// For strings: the offset of each element's length prefix, relative to `data`.
    pub(crate) str_offsets: &'a [u64],
}

impl<'a> ArrayView<'a> {
    /// The element type.
    pub fn elem_type(&self) -> ValueType {
        self.elem
    }

    /// The number of elements.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The packed element bytes of a fixed-size array (`len * size` bytes, little-endian,
    /// possibly unaligned); for string arrays the raw serialized strings.
    pub fn raw_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Element `i`, or `None` when out of range.
    pub fn get(&self, i: u64) -> Option<Value<'a>> {
        if i >= self.len {
            return None;
        }
        match self.elem {
            ValueType::String => {
                let off = self.str_offsets[i as usize] as usize;
                let n = le_u64(self.data, off) as usize;
                Some(Value::String(&self.data[off + 8..off + 8 + n]))
            }
            ValueType::Array => None,
            ty => {
                let size = ty.fixed_size().expect("fixed") as usize;
                let off = i as usize * size;
                Some(Value::scalar(ty, &self.data[off..off + size]))
            }
        }
    }

    /// The string element `i` as bytes.
    pub fn get_str(&self, i: u64) -> Option<&'a [u8]> {
        self.get(i).and_then(|v| v.as_str_bytes())
    }

    /// Iterate over the elements.
    pub fn iter(&self) -> impl Iterator<Item = Value<'a>> + '_ {
        (0..self.len).filter_map(move |i| self.get(i))
    }
}

/// An owned metadata value, for the writer.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    /// u8
    U8(u8),
    /// i8
    I8(i8),
    /// u16
    U16(u16),
    /// i16
    I16(i16),
    /// u32
    U32(u32),
    /// i32
    I32(i32),
    /// f32
    F32(f32),
    /// bool
    Bool(bool),
    /// string (any bytes)
    String(Vec<u8>),
    /// array of values of one type (`elem` must match every element; arrays of arrays are not
    /// representable in files we accept)
    Array(ValueType, Vec<OwnedValue>),
    /// u64
    U64(u64),
    /// i64
    I64(i64),
    /// f64
    F64(f64),
}

impl OwnedValue {
    /// A string value.
    pub fn str(s: &str) -> OwnedValue {
        OwnedValue::String(s.as_bytes().to_vec())
    }

    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            OwnedValue::U8(_) => ValueType::U8,
            OwnedValue::I8(_) => ValueType::I8,
            OwnedValue::U16(_) => ValueType::U16,
            OwnedValue::I16(_) => ValueType::I16,
            OwnedValue::U32(_) => ValueType::U32,
            OwnedValue::I32(_) => ValueType::I32,
            OwnedValue::F32(_) => ValueType::F32,
            OwnedValue::Bool(_) => ValueType::Bool,
            OwnedValue::String(_) => ValueType::String,
            OwnedValue::Array(..) => ValueType::Array,
            OwnedValue::U64(_) => ValueType::U64,
            OwnedValue::I64(_) => ValueType::I64,
            OwnedValue::F64(_) => ValueType::F64,
        }
    }

    /// Copy a borrowed value into an owned one.
    pub fn from_value(v: &Value<'_>) -> OwnedValue {
        match *v {
            Value::U8(x) => OwnedValue::U8(x),
            Value::I8(x) => OwnedValue::I8(x),
            Value::U16(x) => OwnedValue::U16(x),
            Value::I16(x) => OwnedValue::I16(x),
            Value::U32(x) => OwnedValue::U32(x),
            Value::I32(x) => OwnedValue::I32(x),
            Value::F32(x) => OwnedValue::F32(x),
            Value::Bool(x) => OwnedValue::Bool(x),
            Value::String(s) => OwnedValue::String(s.to_vec()),
            Value::Array(a) => OwnedValue::Array(a.elem_type(), a.iter().map(|e| OwnedValue::from_value(&e)).collect()),
            Value::U64(x) => OwnedValue::U64(x),
            Value::I64(x) => OwnedValue::I64(x),
            Value::F64(x) => OwnedValue::F64(x),
        }
    }
}
