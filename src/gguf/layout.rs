//! The data-section layout: alignment, data start, type resolution (including the contested
//! ids 36–39), byte sizes, offsets and bounds (reference/gguf-ggml.md §1.5, §1.8 rules 19–25;
//! reference/bitnet-formats.md §2.1).
//!
//! Like gguf.cpp, each tensor's offset must equal the running sum of the padded sizes of the
//! tensors before it (no gaps, no reordering, no overlap). Unlike gguf.cpp (with `no_alloc`),
//! every tensor's bytes must also lie inside the file.

use super::tensor_info::TensorEntry;
use crate::error::{Error, Result, Status};
use crate::types::{self, Availability, SizeError, TypeInfo, TypePolicy};

/// `align_up(v, a)` for a power-of-two `a`, or `None` on overflow.
pub fn align_up(v: u64, a: u64) -> Option<u64> {
    debug_assert!(a.is_power_of_two());
    v.checked_add(a - 1).map(|x| x & !(a - 1))
}

/// What the file's metadata says about its producer, for the `auto` type policy.
#[derive(Debug, Clone, Default)]
pub struct ProducerHints {
    /// `general.architecture` contains "bitnet" (case-insensitive).
    pub bitnet_architecture: bool,
    /// `general.architecture`, for messages.
    pub architecture: Option<String>,
    /// `general.file_type`, if present and an integer.
    pub file_type: Option<u64>,
}

/// Which numbering the metadata points to, for id 39.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Producer {
    Upstream,
    Bitnet,
}

/// The producer the metadata points to, strongest evidence first: a BitNet architecture; other
/// tensors of BitNet-only types (36 = I2_S, 38 = TL1); `general.file_type` 39 (the fork's
/// MOSTLY_TL2; upstream 39 is NVFP4, whose tensors are id 40) or 38 (upstream MXFP4_MOE; the
/// fork's 38 is TL1, whose tensors are id 38); any other architecture (upstream).
fn producer_preference(hints: &ProducerHints, has_bitnet_only_types: bool) -> Option<Producer> {
    if hints.bitnet_architecture || has_bitnet_only_types {
        return Some(Producer::Bitnet);
    }
    match hints.file_type {
        Some(39) => return Some(Producer::Bitnet),
        Some(38) => return Some(Producer::Upstream),
        _ => {}
    }
    hints.architecture.is_some().then_some(Producer::Upstream)
}

fn tensor_ctx(name: &str, t: &TensorEntry) -> String {
    format!("tensor '{name}' (tensor info at byte {})", t.info_pos)
}

fn size_of(ti: &TypeInfo, t: &TensorEntry, name: &str) -> Result<u64> {
    ti.nbytes(&t.ne).map_err(|e| match e {
        SizeError::Shape(why) => Error::new(Status::BadShapeForType, format!("{}: {why}", tensor_ctx(name, t))),
        SizeError::Overflow => Error::new(
            Status::ByteSizeOverflow,
            format!(
                "{}: the byte size of a {} tensor of shape {:?} overflows 64 bits",
                tensor_ctx(name, t),
                ti.name,
                t.ne
            ),
        ),
        SizeError::NoLayout => Error::new(
            Status::TypeNotStorable,
            format!("{}: type {} cannot be stored in a file", tensor_ctx(name, t), ti.name),
        ),
    })
}

/// Check that a type can be stored, with an actionable message otherwise.
fn storable(ti: &'static TypeInfo, t: &TensorEntry, name: &str, via: &str) -> Result<&'static TypeInfo> {
    match ti.availability {
        Availability::Live => Ok(ti),
        Availability::Removed(why) => Err(Error::new(
            Status::RemovedType,
            format!("{}: type id {} ({}){via}: {why}", tensor_ctx(name, t), t.disk_type, ti.name),
        )),
        Availability::NotStorable => Err(Error::new(
            Status::TypeNotStorable,
            format!(
                "{}: type id {} ({}){via} is an activation type that never appears in model files",
                tensor_ctx(name, t),
                t.disk_type,
                ti.name
            ),
        )),
    }
}

/// Resolve every tensor's type and size, compute the data start and check offsets and bounds.
///
/// `infos_end` is the absolute offset right after the tensor infos; `file_len` the input length.
/// Returns the absolute data-section offset.
pub fn resolve(
    tensors: &mut [TensorEntry],
    arena: &str,
    alignment: u64,
    infos_end: u64,
    file_len: u64,
    policy: TypePolicy,
    hints: &ProducerHints,
) -> Result<u64> {
    let name = |t: &TensorEntry| &arena[t.name.0..t.name.0 + t.name.1];
    // Data start: aligned only when there are tensors (gguf.cpp).
    let data_offset = if tensors.is_empty() {
        infos_end
    } else {
        align_up(infos_end, alignment).ok_or_else(|| {
            Error::new(
                Status::DataSizeOverflow,
                format!("aligning the data start {infos_end} to {alignment} overflows"),
            )
        })?
    };
    if data_offset > file_len {
        return Err(Error::new(
            Status::Truncated,
            format!(
                "truncated: the data section starts at byte {data_offset} (tensor infos end at {infos_end}, alignment \
                 {alignment}), but the input ends at byte {file_len}"
            ),
        ));
    }
    let data_len = file_len - data_offset;

    // Pass 1: unambiguous types.
    for t in tensors.iter_mut() {
        let disk = t.disk_type;
        let ti: Option<&'static TypeInfo> = if types::is_contested(disk) {
            match policy {
                TypePolicy::Upstream => {
                    Some(storable(&types::UPSTREAM[disk as usize], t, name(t), " under the upstream type policy")?)
                }
                TypePolicy::Bitnet => Some(storable(
                    types::bitnet_for_disk(disk).expect("contested"),
                    t,
                    name(t),
                    " under the bitnet type policy",
                )?),
                TypePolicy::Auto => match disk {
                    // Retired upstream, so the BitNet meaning is the only live one.
                    36 | 38 => Some(types::bitnet_for_disk(disk).expect("contested")),
                    37 => {
                        Some(storable(types::bitnet_for_disk(disk).expect("contested"), t, name(t), " (BitNet I8_S)")?)
                    }
                    _ => None, // 39: decided in pass 2
                },
            }
        } else {
            let ti = types::UPSTREAM.get(disk as usize).ok_or_else(|| {
                Error::new(
                    Status::UnknownType,
                    format!(
                        "{}: type id {disk} (as i32: {}) is not a known ggml type (0..=42, or 36..=39 of the BitNet fork)",
                        tensor_ctx(name(t), t),
                        disk as i32
                    ),
                )
            })?;
            Some(storable(ti, t, name(t), "")?)
        };
        if let Some(ti) = ti {
            t.nbytes = size_of(ti, t, name(t))?;
            t.ty = ti.id;
        }
    }

    // Pass 2: id 39 under the auto policy — MXFP4 or TL2? Decide from which byte size the
    // layout implies (each offset is the running sum of padded sizes; the last tensor should end,
    // padded, at the end of the file), then from the producer.
    let has_bitnet_only_types = tensors.iter().any(|t| t.ty == types::I2_S || t.ty == types::TL1);
    for i in 0..tensors.len() {
        if tensors[i].ty != u32::MAX {
            continue;
        }
        let t = &tensors[i];
        let next_offset = tensors.get(i + 1).map(|n| n.offset);
        // (exact fit, loose fit) of a candidate type, with its size.
        let fits = |ti: &TypeInfo| -> (Option<u64>, Option<u64>) {
            let Ok(n) = ti.nbytes(&t.ne) else { return (None, None) };
            let Some(end) = t.offset.checked_add(n) else { return (None, None) };
            match next_offset {
                Some(next) => {
                    let ok = align_up(end, alignment) == Some(next);
                    (ok.then_some(n), ok.then_some(n))
                }
                None => {
                    let exact = end == data_len || align_up(end, alignment) == Some(data_len);
                    (exact.then_some(n), (end <= data_len).then_some(n))
                }
            }
        };
        let mx = &types::UPSTREAM[39];
        let tl2 = types::bitnet_for_disk(39).expect("tl2");
        let ((mx_exact, mx_loose), (tl_exact, tl_loose)) = (fits(mx), fits(tl2));
        let hint = producer_preference(hints, has_bitnet_only_types);
        let choice = match (mx_exact, tl_exact) {
            (Some(n), None) => Some((mx, n)),
            (None, Some(n)) => Some((tl2, n)),
            _ => match (hint, mx_loose, tl_loose) {
                (_, Some(n), None) => Some((mx, n)),
                (_, None, Some(n)) => Some((tl2, n)),
                (Some(Producer::Upstream), Some(n), Some(_)) => Some((mx, n)),
                (Some(Producer::Bitnet), Some(_), Some(n)) => Some((tl2, n)),
                _ => None,
            },
        };
        let Some(choice) = choice else {
            return Err(Error::new(
                Status::ContestedType,
                format!(
                    "{}: type id 39 is MXFP4 in upstream ggml and TL2 in the BitNet fork, and neither the layout ({}) \
                     nor the metadata (general.architecture = {:?}, general.file_type = {:?}) decides it; load with \
                     the type policy 'upstream' or 'bitnet'",
                    tensor_ctx(name(t), t),
                    if mx_loose.is_some() { "both sizes fit" } else { "neither size fits" },
                    hints.architecture,
                    hints.file_type
                ),
            ));
        };
        let t = &mut tensors[i];
        t.ty = choice.0.id;
        t.nbytes = choice.1;
    }

    // Offsets: exactly the running sum of padded sizes; data inside the file.
    let mut expected: u64 = 0;
    for t in tensors.iter() {
        if t.offset != expected {
            return Err(Error::new(
                Status::BadTensorOffset,
                format!(
                    "{}: offset is {}, expected {expected} (each tensor must start where the previous one ends, \
                     padded to the alignment {alignment})",
                    tensor_ctx(name(t), t),
                    t.offset
                ),
            ));
        }
        let end = t.offset.checked_add(t.nbytes).ok_or_else(|| {
            Error::new(Status::DataSizeOverflow, format!("{}: offset + size overflows", tensor_ctx(name(t), t)))
        })?;
        if end > data_len {
            return Err(Error::new(
                Status::DataOutOfBounds,
                format!(
                    "{}: data spans bytes {}..{} of the file ({} bytes of {}), but the file ends at byte {file_len}; \
                     the file is truncated or corrupt",
                    tensor_ctx(name(t), t),
                    data_offset + t.offset,
                    data_offset as u128 + end as u128,
                    t.nbytes,
                    types::info(t.ty).map(|x| x.name).unwrap_or("?"),
                ),
            ));
        }
        expected = align_up(end, alignment).ok_or_else(|| {
            Error::new(
                Status::DataSizeOverflow,
                format!("{}: padding the end {end} to the alignment {alignment} overflows", tensor_ctx(name(t), t)),
            )
        })?;
    }
    Ok(data_offset)
}
