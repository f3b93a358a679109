//! The CUDA backend (feature `gpu`): [`CudaBackend`] implements [`DeviceBackend`] with cudarc's
//! driver API, loaded at run time (a build with `gpu` runs on machines without CUDA: every entry
//! point then returns `NoDevice`, never aborts — see [`driver::guarded`]).
//!
//! - Dequantization runs on the GPU (kernels in `kernels/dequant.cu`, compiled by NVRTC for the
//!   device's compute capability and cached in memory and on disk, see [`kernels`]) for I2_S,
//!   TQ1_0, TQ2_0, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K…Q6_K, IQ4_NL, IQ4_XS, MXFP4, F32, F16,
//!   BF16, and TL1 / TL2 / I2_S GROUP_64 given their codec context (`TensorUpload::tl` or
//!   [`CudaBackend::materialize_codec`]), into f32, f16 or bf16, bit-for-bit what the CPU codecs give (NaN payloads aside:
//!   the GPU's NaN results are canonical). Other types: `can_decode` is false and the loader
//!   decodes on the CPU, then [`DeviceBackend::upload`]s.
//! - Packed bytes go host → device through a ring of reused pinned staging buffers
//!   ([`stage`]), overlapping host copies, DMA and kernels. `Materialize::Packed` keeps the
//!   on-disk bytes (ternary weights stay packed for engines with their own kernels).
//! - Device memory is plain `cuMemAlloc`; a failed allocation is `OutOfMemory` (the loader's
//!   fallback), never a crash.
//! - `materialize` and `upload` are asynchronous with respect to the device: they return once
//!   the host bytes have been staged; [`DeviceBackend::synchronize`] waits until every tensor
//!   handed out is complete.

pub mod driver;
pub mod kernels;
pub mod stage;

use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use driver::{guarded, Ctx, DeviceBuffer};
use stage::{Sink, Stager};

use super::{DeviceBackend, DeviceId, DeviceMemoryInfo, DeviceTensor, Materialize, TensorUpload};
use crate::error::{Error, Result, Status};
use crate::quant::bitnet::tiles::all_tiles;
use crate::quant::bitnet::{read_f32, tl1, tl1_validate, tl2, tl2_geometry, I2sLayout, TlConfig};
use crate::quant::tensor::TensorCodec;
use crate::types::{self, TypeId, I2_S, TL1, TL2};

/// Default fraction of a GPU's free memory the planner may use.
pub const GPU_BUDGET_FRACTION: f64 = 0.8;

/// What `bg_cuda_device_info` reports about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaDeviceInfo {
    /// Ordinal.
    pub ordinal: u32,
    /// Name ("NVIDIA H100 80GB HBM3").
    pub name: String,
    /// Total memory in bytes.
    pub total: u64,
    /// Free memory in bytes now.
    pub free: u64,
    /// Compute capability major.
    pub cc_major: i32,
    /// Compute capability minor.
    pub cc_minor: i32,
}

/// Whether the CUDA driver library loads and initializes here (never panics).
pub fn driver_available() -> bool {
    driver::driver_state().is_ok()
}

/// Number of CUDA devices: `Ok(0)` when there is no driver or no device (not an error).
pub fn device_count() -> Result<usize> {
    if driver::driver_state().is_err() {
        return Ok(0);
    }
    guarded("cuda device count", driver::device_count)
}

/// Name, memory and compute capability of device `ordinal` (`NoDevice` without a driver or
/// for an ordinal past the last device).
pub fn device_info(ordinal: u32) -> Result<CudaDeviceInfo> {
    guarded("cuda device info", || {
        let ctx = Ctx::retain(ordinal)?;
        let (free, total) = ctx.mem_info()?;
        let (cc_major, cc_minor) = ctx.compute_capability()?;
        Ok(CudaDeviceInfo { ordinal, name: ctx.name()?, total, free, cc_major, cc_minor })
    })
}

/// A tensor in CUDA device memory (freed on drop).
#[derive(Debug)]
pub struct CudaTensor {
    buf: DeviceBuffer,
    ordinal: u32,
}

impl CudaTensor {
    /// Copy the tensor back to the host (waits for the copy; call
    /// [`DeviceBackend::synchronize`] first so that its bytes are complete).
    pub fn to_host(&self) -> Result<Vec<u8>> {
        guarded("cuda tensor to host", || self.buf.to_host())
    }
}

impl DeviceTensor for CudaTensor {
    fn device(&self) -> DeviceId {
        DeviceId::Cuda(self.ordinal)
    }
    fn device_ptr(&self) -> u64 {
        self.buf.ptr()
    }
    fn len(&self) -> u64 {
        self.buf.len()
    }
}

/// Per-device state, created on first use.
struct DeviceState {
    stager: Mutex<Stager>,
}

/// The CUDA backend. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct CudaBackend {
    devices: Arc<Vec<Mutex<Option<Arc<DeviceState>>>>>,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend").field("devices", &self.devices.len()).finish()
    }
}

/// Whether any nibble of the 16 in `x` exceeds 8 (its bit 3 and any of bits 0..2 set; the
/// per-nibble sum `(x & 7) + 7` never carries into the next nibble).
#[inline]
fn nibble_above_8(x: u64) -> bool {
    const H: u64 = 0x8888_8888_8888_8888;
    const L: u64 = 0x7777_7777_7777_7777;
    x & H & ((x & L) + L) != 0
}

/// Whether any nibble of the 16 in `x` exceeds 13 (bits 3, 2 and 1 all set).
#[inline]
fn nibble_above_13(x: u64) -> bool {
    x & (x << 1) & (x << 2) & 0x8888_8888_8888_8888 != 0
}

/// Offset of the first byte of `b` with a nibble above `max` (8 or 13): 8 bytes at a time,
/// then the byte in the first word that has one.
fn first_nibble_above(b: &[u8], max: u8) -> Option<usize> {
    let word_bad = if max == 8 { nibble_above_8 } else { nibble_above_13 };
    let byte_bad = |y: &u8| y >> 4 > max || y & 15 > max;
    let (words, _) = b.split_at(b.len() / 8 * 8);
    for (w, c) in words.chunks_exact(8).enumerate() {
        if word_bad(u64::from_le_bytes(c.try_into().expect("8 bytes"))) {
            if let Some(p) = c.iter().position(byte_bad) {
                return Some(w * 8 + p);
            }
        }
    }
    b[words.len()..].iter().position(byte_bad).map(|p| words.len() + p)
}

/// The TL1 host check: offset of the first byte with an index (nibble) above 8.
fn tl1_bad(b: &[u8]) -> Option<usize> {
    first_nibble_above(b, 8)
}

/// The I2_S host check: offset of the first byte holding code 3.
fn i2s_code3(b: &[u8]) -> Option<usize> {
    let (words, _) = b.split_at(b.len() / 8 * 8);
    for (w, c) in words.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        if x & (x >> 1) & 0x5555_5555_5555_5555 != 0 {
            return c.iter().position(|&y| y & (y >> 1) & 0x55 != 0).map(|p| w * 8 + p);
        }
    }
    b[words.len()..].iter().position(|&y| y & (y >> 1) & 0x55 != 0).map(|p| words.len() + p)
}

/// A TL2 tensor's payload regrouped by row tile for the GPU kernel (per tile: its section-A,
/// then section-B, then section-C bytes; each is contiguous in the file), with every index
/// checked (a bad one: the CPU decoder's error, which names the byte, row and columns), and its
/// scale.
fn tl2_regroup(packed: &[u8], m: usize, k: usize, cfg: &TlConfig) -> Result<(Vec<u8>, f32)> {
    let g = tl2_geometry(m, k, cfg)?;
    if packed.len() != g.nbytes {
        return Err(Error::new(
            Status::InvalidParameter,
            format!("a {m} x {k} TL2 tensor needs {} bytes, {} given", g.nbytes, packed.len()),
        ));
    }
    // One unit per row tile, built and checked in parallel (three indices <= 13 in section A,
    // two indices <= 8 in section C).
    let tiles = m / cfg.bm_tile;
    let (wa, wb, wc) =
        (g.sign_offset / tiles, (g.two_offset - g.sign_offset) / tiles, (g.payload - g.two_offset) / tiles);
    let mut out = vec![0u8; g.payload];
    let bad = out.par_chunks_mut(wa + wb + wc).enumerate().any(|(t, u)| {
        let (a, rest) = u.split_at_mut(wa);
        let (b, c) = rest.split_at_mut(wb);
        a.copy_from_slice(&packed[t * wa..(t + 1) * wa]);
        b.copy_from_slice(&packed[g.sign_offset + t * wb..g.sign_offset + (t + 1) * wb]);
        c.copy_from_slice(&packed[g.two_offset + t * wc..g.two_offset + (t + 1) * wc]);
        first_nibble_above(a, 13).is_some() || first_nibble_above(c, 8).is_some()
    });
    if bad {
        tl2::validate(packed, m, k, cfg, None, None)?;
        return Err(Error::new(Status::InvalidCode, format!("a {m} x {k} TL2 tensor holds an invalid index")));
    }
    Ok((out, read_f32(packed, g.scale_offset)))
}

impl CudaBackend {
    /// The backend over every device the driver reports (`NoDevice` when there is no driver or
    /// no device).
    pub fn new() -> Result<CudaBackend> {
        guarded("cuda backend", || {
            let n = driver::device_count()?;
            if n == 0 {
                return Err(Error::new(Status::NoDevice, "the CUDA driver reports no device"));
            }
            Ok(CudaBackend { devices: Arc::new((0..n).map(|_| Mutex::new(None)).collect()) })
        })
    }

    /// Number of devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    fn state(&self, device: DeviceId) -> Result<Arc<DeviceState>> {
        let ordinal = match device {
            DeviceId::Cuda(o) => o,
            DeviceId::Cpu => {
                return Err(Error::new(Status::InvalidParameter, "the CUDA backend does not hold host tensors"))
            }
        };
        let slot = self.devices.get(ordinal as usize).ok_or_else(|| {
            Error::new(
                Status::NoDevice,
                format!("CUDA device {ordinal} does not exist ({} device(s) present)", self.devices.len()),
            )
        })?;
        let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = g.as_ref() {
            return Ok(s.clone());
        }
        let ctx = Ctx::retain(ordinal)?;
        let s = Arc::new(DeviceState { stager: Mutex::new(Stager::new(ctx)?) });
        *g = Some(s.clone());
        Ok(s)
    }

    /// Make sure device `ordinal` is initialized (context, kernels, staging ring): benches call
    /// it to keep start-up out of their timings. Returns where the kernels came from and the
    /// seconds spent loading them.
    pub fn warm_up(&self, ordinal: u32) -> Result<(kernels::ImageSource, f64)> {
        guarded("cuda warm up", || {
            let s = self.state(DeviceId::Cuda(ordinal))?;
            let st = s.stager.lock().unwrap_or_else(|p| p.into_inner());
            Ok((st.module.source, st.module.load_seconds))
        })
    }

    /// Run `f` with device `ordinal`'s staging state (benches and tests: streams, module).
    pub fn with_stager<R>(&self, ordinal: u32, f: impl FnOnce(&mut Stager) -> Result<R>) -> Result<R> {
        guarded("cuda", || {
            let s = self.state(DeviceId::Cuda(ordinal))?;
            let mut st = s.stager.lock().unwrap_or_else(|p| p.into_inner());
            st.ctx.bind()?;
            f(&mut st)
        })
    }

    /// A plain device allocation on `ordinal` (benches).
    pub fn alloc(&self, ordinal: u32, len: u64) -> Result<CudaTensor> {
        self.with_stager(ordinal, |st| Ok(CudaTensor { buf: DeviceBuffer::alloc(&st.ctx, len)?, ordinal }))
    }

    fn materialize_inner(&self, device: DeviceId, t: &TensorUpload<'_>, out: Materialize) -> Result<CudaTensor> {
        let ti = types::info(t.ty).ok_or_else(|| {
            Error::new(Status::InvalidParameter, format!("tensor '{}': unknown type id {}", t.name, t.ty))
        })?;
        let need = ti.nbytes(&t.ne).map_err(|e| {
            Error::new(
                Status::BadShapeForType,
                format!("tensor '{}': shape {:?} is not valid for {}: {e:?}", t.name, t.ne, ti.name),
            )
        })?;
        if t.packed.len() as u64 != need {
            return Err(Error::new(
                Status::InvalidParameter,
                format!("tensor '{}': {} {:?} needs {need} bytes, {} given", t.name, ti.name, t.ne, t.packed.len()),
            ));
        }
        let n = types::element_count(&t.ne)
            .ok_or_else(|| Error::new(Status::ElementCountOverflow, format!("tensor '{}': {:?}", t.name, t.ne)))?;
        let s = self.state(device)?;
        let mut st = s.stager.lock().unwrap_or_else(|p| p.into_inner());
        match out {
            Materialize::Packed => {
                let buf = DeviceBuffer::alloc(&st.ctx, need)?;
                st.stream(t.packed, 1, 1, Sink::Packed { dst: buf.ptr() }, None, t.name)?;
                Ok(CudaTensor { buf, ordinal: st.ctx.ordinal })
            }
            Materialize::Decoded(ot) => {
                let spec = kernels::spec(t.ty).ok_or_else(|| {
                    Error::new(
                        Status::UnsupportedType,
                        format!(
                            "tensor '{}': {} is not decoded on the GPU (decode on the CPU and upload)",
                            t.name, ti.name
                        ),
                    )
                })?;
                let bytes = n.checked_mul(ot.size()).ok_or_else(|| {
                    Error::new(Status::ByteSizeOverflow, format!("tensor '{}': {n} elements as {}", t.name, ot.name()))
                })?;
                let buf = DeviceBuffer::alloc(&st.ctx, bytes)?;
                let (payload, aux, check) = if t.ty == I2_S {
                    let p = (n / 4) as usize;
                    (&t.packed[..p], read_f32(t.packed, p), Some(i2s_code3 as stage::Check))
                } else {
                    (t.packed, 0.0, None)
                };
                let sink = Sink::Decode { spec: &spec, dst: buf.ptr(), out: ot, aux };
                st.stream(payload, spec.unit_bytes as usize, spec.unit_elems, sink, check, t.name)?;
                Ok(CudaTensor { buf, ordinal: st.ctx.ordinal })
            }
        }
    }

    /// Materialize a tensor described by a [`TensorCodec`] (what `Model::codec` gives: the
    /// type, shape, TL1/TL2 tile configuration and I2_S layout), so that TL1, TL2 and I2_S
    /// GROUP_64 are decoded on the GPU too; every other case is [`CudaBackend::materialize_cuda`].
    pub fn materialize_codec(
        &self,
        device: DeviceId,
        codec: &TensorCodec,
        name: &str,
        packed: &[u8],
        out: Materialize,
    ) -> Result<CudaTensor> {
        let special = codec.ty == TL1 || codec.ty == TL2 || (codec.ty == I2_S && codec.i2s == I2sLayout::Group64);
        let Materialize::Decoded(ot) = out else {
            let t = TensorUpload { name, ty: codec.ty, ne: codec.ne, packed, tl: codec.tl };
            return self.materialize_cuda(device, &t, out);
        };
        if !special {
            let t = TensorUpload { name, ty: codec.ty, ne: codec.ne, packed, tl: codec.tl };
            return self.materialize_cuda(device, &t, out);
        }
        guarded("cuda materialize", || {
            let n = codec.n_elements()?;
            let ctx = |e: Error| e.context(format!("tensor '{name}'"));
            let tl_shape = || -> Result<(TlConfig, usize, usize)> {
                let cfg = codec.tl.ok_or_else(|| {
                    Error::new(
                        Status::InvalidParameter,
                        format!(
                            "tensor '{name}': {} needs its tile configuration",
                            types::info(codec.ty).map_or("?", |t| t.name)
                        ),
                    )
                })?;
                if codec.ne[2] != 1 || codec.ne[3] != 1 {
                    return Err(Error::new(
                        Status::BadShapeForType,
                        format!(
                            "tensor '{name}': {} tensors are 2-D, not {:?}",
                            types::info(codec.ty).map_or("?", |t| t.name),
                            codec.ne
                        ),
                    ));
                }
                Ok((cfg, codec.ne[0] as usize, codec.ne[1] as usize))
            };
            // (spec, payload as streamed, scale, per-chunk check)
            let regrouped;
            // TL1: the shape and tiles, to name an invalid index as the CPU decoder does.
            let mut tl1_shape = None;
            let (spec, payload, aux, check): (_, &[u8], f32, Option<stage::Check>) = if codec.ty == TL2 {
                let (cfg, k, m) = tl_shape()?;
                let (bytes, scale) = tl2_regroup(packed, m, k, &cfg).map_err(ctx)?;
                regrouped = bytes;
                (kernels::tl2_spec(k, &cfg), &regrouped, scale, None)
            } else {
                let spec = if codec.ty == TL1 {
                    let (cfg, k, m) = tl_shape()?;
                    tl1_validate(m, k, &cfg).map_err(ctx)?;
                    tl1_shape = Some((cfg, k, m));
                    kernels::tl1_spec(k, &cfg)
                } else {
                    kernels::i2s_group64_spec()
                };
                let check: stage::Check = if codec.ty == TL1 { tl1_bad } else { i2s_code3 };
                let payload_len = n / 4;
                if packed.len() as u64 != payload_len + 32 || n % spec.unit_elems != 0 {
                    return Err(Error::new(
                        Status::InvalidParameter,
                        format!(
                            "tensor '{name}': {:?} needs {} bytes in whole units of {} elements, {} given",
                            codec.ne,
                            payload_len + 32,
                            spec.unit_elems,
                            packed.len()
                        ),
                    ));
                }
                let p = payload_len as usize;
                (spec, &packed[..p], read_f32(packed, p), Some(check))
            };
            let s = self.state(device)?;
            let mut st = s.stager.lock().unwrap_or_else(|p| p.into_inner());
            let bytes =
                n.checked_mul(ot.size()).ok_or_else(|| Error::new(Status::ByteSizeOverflow, name.to_string()))?;
            let buf = DeviceBuffer::alloc(&st.ctx, bytes)?;
            if spec.unit_bytes as usize > st.chunk_bytes() {
                st.set_chunk_bytes((spec.unit_bytes as usize).next_power_of_two())?;
            }
            let sink = Sink::Decode { spec: &spec, dst: buf.ptr(), out: ot, aux };
            if let Err(e) = st.stream(payload, spec.unit_bytes as usize, spec.unit_elems, sink, check, name) {
                // An invalid TL1 index: the CPU decoder's message (byte, row, columns).
                if let Some((cfg, k, m)) = tl1_shape {
                    tl1::validate(packed, m, k, &cfg, all_tiles(m, &cfg), None).map_err(ctx)?;
                }
                return Err(e);
            }
            Ok(CudaTensor { buf, ordinal: st.ctx.ordinal })
        })
    }

    /// [`DeviceBackend::materialize`] returning the concrete tensor type.
    pub fn materialize_cuda(&self, device: DeviceId, t: &TensorUpload<'_>, out: Materialize) -> Result<CudaTensor> {
        guarded("cuda materialize", || self.materialize_inner(device, t, out))
    }

    /// [`DeviceBackend::upload`] returning the concrete tensor type.
    pub fn upload_cuda(&self, device: DeviceId, bytes: &[u8]) -> Result<CudaTensor> {
        guarded("cuda upload", || {
            let s = self.state(device)?;
            let mut st = s.stager.lock().unwrap_or_else(|p| p.into_inner());
            let buf = DeviceBuffer::alloc(&st.ctx, bytes.len() as u64)?;
            st.stream(bytes, 1, 1, Sink::Packed { dst: buf.ptr() }, None, "upload")?;
            Ok(CudaTensor { buf, ordinal: st.ctx.ordinal })
        })
    }
}

/// Whether the GPU decodes `ty` (without asking any device).
pub fn gpu_decodes(ty: TypeId) -> bool {
    kernels::spec(ty).is_some()
}

impl DeviceBackend for CudaBackend {
    fn devices(&self) -> Result<Vec<DeviceMemoryInfo>> {
        (0..self.devices.len() as u32)
            .map(|o| {
                let i = device_info(o)?;
                Ok(DeviceMemoryInfo {
                    id: DeviceId::Cuda(o),
                    name: i.name,
                    total: i.total,
                    free: i.free,
                    budget_fraction: GPU_BUDGET_FRACTION,
                })
            })
            .collect()
    }

    fn can_decode(&self, ty: TypeId, out: Materialize) -> bool {
        match out {
            Materialize::Packed => types::info(ty).is_some(),
            // TL1 / TL2: given their tile configuration (`TensorUpload::tl`).
            Materialize::Decoded(_) => gpu_decodes(ty) || matches!(ty, TL1 | TL2),
        }
    }

    fn materialize(&self, device: DeviceId, t: &TensorUpload<'_>, out: Materialize) -> Result<Box<dyn DeviceTensor>> {
        if matches!(t.ty, TL1 | TL2) && matches!(out, Materialize::Decoded(_)) {
            // The tile configuration decides the layout: through the codec path.
            let mut codec = TensorCodec::new(t.ty, t.ne);
            codec.tl = t.tl;
            return Ok(Box::new(self.materialize_codec(device, &codec, t.name, t.packed, out)?));
        }
        Ok(Box::new(self.materialize_cuda(device, t, out)?))
    }

    fn upload(&self, device: DeviceId, bytes: &[u8]) -> Result<Box<dyn DeviceTensor>> {
        Ok(Box::new(self.upload_cuda(device, bytes)?))
    }

    fn synchronize(&self) -> Result<()> {
        guarded("cuda synchronize", || {
            for slot in self.devices.iter() {
                let s = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(s) = s {
                    let st = s.stager.lock().unwrap_or_else(|p| p.into_inner());
                    st.ctx.bind()?;
                    st.sync()?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i2s_code3_finds_the_first_bad_byte() {
        let mut b = vec![0b1001_0100u8; 37];
        assert_eq!(i2s_code3(&b), None);
        b[21] = 0b0000_0011;
        b[30] = 0b1100_0000;
        assert_eq!(i2s_code3(&b), Some(21));
        b[21] = 0;
        assert_eq!(i2s_code3(&b), Some(30));
        b[30] = 0;
        b[36] = 0b0011_0000;
        assert_eq!(i2s_code3(&b), Some(36));
    }

    #[test]
    fn nibble_checks_find_the_first_bad_byte() {
        // Every byte value at every position of a word and of the tail, against the byte rule.
        for max in [8u8, 13] {
            for len in [1usize, 7, 8, 9, 16, 23] {
                for at in 0..len {
                    for v in 0..=255u8 {
                        let ok = (max << 4) | max;
                        let mut b = vec![ok; len];
                        b[at] = v;
                        let want = (v >> 4 > max || v & 15 > max).then_some(at);
                        assert_eq!(first_nibble_above(&b, max), want, "max {max} len {len} at {at} byte {v:#04x}");
                    }
                }
            }
        }
        let mut b = vec![0x88u8; 40];
        b[17] = 0x19;
        b[33] = 0x90;
        assert_eq!(tl1_bad(&b), Some(17));
    }

    #[test]
    fn tl2_regroup_is_tiles_of_a_b_c_and_names_a_bad_index() {
        use crate::quant::bitnet::encode_tl2;
        let (m, k, cfg) = (128, 352, TlConfig { bm_tile: 64, bk: 96, bm: 32 });
        let g = tl2_geometry(m, k, &cfg).unwrap();
        let trits: Vec<i8> = (0..m * k).map(|i| ((i * 7 + i / 5) % 3) as i8 - 1).collect();
        let packed = encode_tl2(&trits, 0.5, m, k, &cfg).unwrap();
        let (out, scale) = tl2_regroup(&packed, m, k, &cfg).unwrap();
        assert_eq!(scale, 0.5);
        let tiles = m / cfg.bm_tile;
        let (wa, wb, wc) =
            (g.sign_offset / tiles, (g.two_offset - g.sign_offset) / tiles, (g.payload - g.two_offset) / tiles);
        let mut want = Vec::new();
        for t in 0..tiles {
            want.extend_from_slice(&packed[t * wa..(t + 1) * wa]);
            want.extend_from_slice(&packed[g.sign_offset + t * wb..g.sign_offset + (t + 1) * wb]);
            want.extend_from_slice(&packed[g.two_offset + t * wc..g.two_offset + (t + 1) * wc]);
        }
        assert_eq!(out, want);
        for (at, v) in [(wa + 3, 0xe0u8), (g.two_offset + wc + 1, 0x09)] {
            let mut bad = packed.clone();
            bad[at] = v;
            let e = tl2_regroup(&bad, m, k, &cfg).unwrap_err();
            let cpu = tl2::validate(&bad, m, k, &cfg, None, None).unwrap_err();
            assert_eq!((e.status(), e.message()), (cpu.status(), cpu.message()));
        }
        // Sign bytes are not indices: any value passes.
        let mut signs = packed.clone();
        signs[g.sign_offset..g.two_offset].fill(0xff);
        assert!(tl2_regroup(&signs, m, k, &cfg).is_ok());
    }

    #[test]
    fn specs_cut_at_block_boundaries_and_groups_of_eight() {
        for ty in types::all().map(|t| t.id) {
            if let Some(s) = kernels::spec(ty) {
                assert_eq!(s.unit_elems % 8, 0, "type {ty}");
                assert!(s.unit_bytes > 0);
            }
        }
        assert!(gpu_decodes(I2_S) && gpu_decodes(12) && !gpu_decodes(16));
    }
}
