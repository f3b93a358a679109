//! Thin owned wrappers over the CUDA driver API (cudarc's `driver::result` layer): presence
//! check, the panic guard, error mapping, contexts, device and pinned host memory, streams and
//! events. Everything above this file works with these types only.
//!
//! cudarc loads `libcuda` lazily and *panics* when it is missing, so every entry point of the
//! backend goes through [`guarded`]: it first checks (once per process) that the driver library
//! loads, then runs the body under `catch_unwind`; a panic becomes `NoDevice` with its message.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use cudarc::driver::result::{self as cu, DriverError};
use cudarc::driver::sys;

use crate::error::{Error, Result, Status};

/// Set `BG_CUDA_DISABLE=1` to make the backend behave as if no driver were installed (tests of
/// the no-device paths on a machine with a GPU).
pub const DISABLE_ENV: &str = "BG_CUDA_DISABLE";

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Whether the CUDA driver library can be loaded and initialized (`cuInit(0)` succeeds).
/// Checked once per process; never panics.
pub fn driver_state() -> &'static std::result::Result<(), String> {
    static STATE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    STATE.get_or_init(|| {
        if std::env::var_os(DISABLE_ENV).is_some_and(|v| v != "0") {
            return Err(format!("the CUDA backend is disabled by {DISABLE_ENV}"));
        }
        // SAFETY: only tries to dlopen the candidate names (libcuda.so, libcuda.so.1, ...).
        let present = catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false);
        if !present {
            return Err("the CUDA driver library (libcuda.so.1) is not installed or cannot be loaded".into());
        }
        match catch_unwind(cu::init) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("cuInit failed: {}", describe(e))),
            Err(p) => Err(format!("the CUDA driver library could not be used: {}", panic_text(&*p))),
        }
    })
}

/// Run a GPU entry point: `NoDevice` when the driver is missing, a panic (from cudarc or below)
/// becomes `NoDevice` with the panic's message, never an abort.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if let Err(why) = driver_state() {
        return Err(Error::new(Status::NoDevice, format!("{what}: {why}")));
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(Error::new(
            Status::NoDevice,
            format!("{what}: the CUDA driver could not be used (panic in the binding: {})", panic_text(&*p)),
        )),
    }
}

/// "CUDA_ERROR_X (text)".
pub fn describe(e: DriverError) -> String {
    let name = e.error_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e.error_string().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if text.is_empty() {
        name
    } else {
        format!("{name} ({text})")
    }
}

/// Map a driver error: out of memory → `OutOfMemory`, no device → `NoDevice`, else
/// `DeviceFailure`; the message says which call failed and why.
pub fn err(what: impl std::fmt::Display, e: DriverError) -> Error {
    let status = match e.0 {
        sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => Status::OutOfMemory,
        sys::CUresult::CUDA_ERROR_NO_DEVICE | sys::CUresult::CUDA_ERROR_INVALID_DEVICE => Status::NoDevice,
        _ => Status::DeviceFailure,
    };
    Error::new(status, format!("{what}: {}", describe(e)))
}

/// Shorthand: map a driver result's error with [`err`].
pub trait Check<T> {
    /// Map the error, naming `what` failed.
    fn check(self, what: impl std::fmt::Display) -> Result<T>;
}

impl<T> Check<T> for std::result::Result<T, DriverError> {
    fn check(self, what: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| err(what, e))
    }
}

/// Number of CUDA devices (0 when the driver reports none).
pub fn device_count() -> Result<usize> {
    match cu::device::get_count() {
        Ok(n) => Ok(n.max(0) as usize),
        Err(e) if e.0 == sys::CUresult::CUDA_ERROR_NO_DEVICE => Ok(0),
        Err(e) => Err(err("cuDeviceGetCount", e)),
    }
}

/// A device's retained primary context. Primary contexts are process-wide and may be made
/// current on any thread.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub(crate) ctx: sys::CUcontext,
    pub(crate) dev: sys::CUdevice,
    pub(crate) ordinal: u32,
}

// SAFETY: a CUcontext handle may be used from any thread (cuCtxSetCurrent binds it).
unsafe impl Send for Ctx {}
// SAFETY: as above; the handle itself is immutable.
unsafe impl Sync for Ctx {}

impl Ctx {
    /// Retain the primary context of device `ordinal` (kept for the life of the process).
    pub fn retain(ordinal: u32) -> Result<Ctx> {
        let n = device_count()?;
        if ordinal as usize >= n {
            return Err(Error::new(
                Status::NoDevice,
                format!("CUDA device {ordinal} does not exist ({n} device(s) present)"),
            ));
        }
        let dev = cu::device::get(ordinal as i32).check(format_args!("cuDeviceGet({ordinal})"))?;
        // SAFETY: dev is a valid device handle.
        let ctx = unsafe { cu::primary_ctx::retain(dev) }.check(format_args!("cuDevicePrimaryCtxRetain({ordinal})"))?;
        let c = Ctx { ctx, dev, ordinal };
        c.bind()?;
        Ok(c)
    }

    /// Make this context current on the calling thread.
    pub fn bind(&self) -> Result<()> {
        // SAFETY: ctx is a retained primary context.
        unsafe { cu::ctx::set_current(self.ctx) }.check("cuCtxSetCurrent")
    }

    /// Device name.
    pub fn name(&self) -> Result<String> {
        cu::device::get_name(self.dev).check("cuDeviceGetName")
    }

    /// (free, total) bytes.
    pub fn mem_info(&self) -> Result<(u64, u64)> {
        self.bind()?;
        let (free, total) = cu::mem_get_info().check("cuMemGetInfo")?;
        Ok((free as u64, total as u64))
    }

    /// Compute capability (major, minor).
    pub fn compute_capability(&self) -> Result<(i32, i32)> {
        use sys::CUdevice_attribute::*;
        // SAFETY: dev is valid; the attributes exist on every driver.
        let major = unsafe { cu::device::get_attribute(self.dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) }
            .check("cuDeviceGetAttribute(major)")?;
        // SAFETY: as above.
        let minor = unsafe { cu::device::get_attribute(self.dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) }
            .check("cuDeviceGetAttribute(minor)")?;
        Ok((major, minor))
    }

    /// Number of multiprocessors.
    pub fn sm_count(&self) -> Result<i32> {
        // SAFETY: dev is valid.
        unsafe {
            cu::device::get_attribute(self.dev, sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        }
        .check("cuDeviceGetAttribute(multiprocessors)")
    }
}

/// Plain device memory (`cuMemAlloc`), freed on drop.
#[derive(Debug)]
pub struct DeviceBuffer {
    ptr: sys::CUdeviceptr,
    len: u64,
    ctx: Ctx,
}

impl DeviceBuffer {
    /// Allocate `len` bytes on `ctx`'s device (`OutOfMemory` when it does not fit).
    pub fn alloc(ctx: &Ctx, len: u64) -> Result<DeviceBuffer> {
        ctx.bind()?;
        let ptr = if len == 0 {
            0
        } else {
            let n = usize::try_from(len).map_err(|_| Error::new(Status::OutOfMemory, format!("{len} bytes")))?;
            // SAFETY: plain allocation on the current context.
            unsafe { cu::malloc_sync(n) }
                .check(format_args!("cuMemAlloc({len} bytes) on CUDA device {}", ctx.ordinal))?
        };
        Ok(DeviceBuffer { ptr, len, ctx: *ctx })
    }

    /// The device address.
    pub fn ptr(&self) -> u64 {
        self.ptr
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The owning context.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Copy the whole buffer to the host (synchronous; tests and benches).
    pub fn to_host(&self) -> Result<Vec<u8>> {
        self.ctx.bind()?;
        let mut v = vec![0u8; self.len as usize];
        if self.len > 0 {
            // SAFETY: ptr holds len bytes; v is writable for len bytes.
            unsafe { cu::memcpy_dtoh_sync(&mut v, self.ptr) }.check("cuMemcpyDtoH")?;
        }
        Ok(v)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if self.ptr == 0 {
            return;
        }
        let (ptr, ctx) = (self.ptr, self.ctx);
        // Never unwind out of a drop: errors while freeing are ignored (the context is gone).
        let _ = catch_unwind(move || {
            if ctx.bind().is_ok() {
                // SAFETY: ptr came from cuMemAlloc on this context and is freed once.
                let _ = unsafe { cu::free_sync(ptr) };
            }
        });
    }
}

/// Page-locked host memory (`cuMemHostAlloc`), freed on drop.
#[derive(Debug)]
pub struct PinnedBuffer {
    ptr: *mut u8,
    len: usize,
    ctx: Ctx,
}

// SAFETY: plain host memory owned by this value.
unsafe impl Send for PinnedBuffer {}
// SAFETY: shared access is read-only through &self.
unsafe impl Sync for PinnedBuffer {}

impl PinnedBuffer {
    /// Allocate `len` pinned bytes.
    pub fn alloc(ctx: &Ctx, len: usize) -> Result<PinnedBuffer> {
        ctx.bind()?;
        // SAFETY: plain allocation; flags 0.
        let ptr = unsafe { cu::malloc_host(len.max(1), 0) }.check(format_args!("cuMemHostAlloc({len} bytes)"))?;
        Ok(PinnedBuffer { ptr: ptr.cast(), len, ctx: *ctx })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for len bytes for the life of self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        let (ptr, ctx) = (self.ptr as usize, self.ctx);
        let _ = catch_unwind(move || {
            if ctx.bind().is_ok() {
                // SAFETY: ptr came from cuMemHostAlloc and is freed once.
                let _ = unsafe { cu::free_host(ptr as *mut c_void) };
            }
        });
    }
}

/// A non-blocking stream, destroyed on drop.
#[derive(Debug)]
pub struct Stream {
    pub(crate) s: sys::CUstream,
    ctx: Ctx,
}

// SAFETY: stream handles may be used from any thread with the context bound.
unsafe impl Send for Stream {}
// SAFETY: as above.
unsafe impl Sync for Stream {}

impl Stream {
    /// A new non-blocking stream on `ctx`.
    pub fn new(ctx: &Ctx) -> Result<Stream> {
        ctx.bind()?;
        let s = cu::stream::create(cu::stream::StreamKind::NonBlocking).check("cuStreamCreate")?;
        Ok(Stream { s, ctx: *ctx })
    }

    /// Wait for all work on the stream.
    pub fn sync(&self) -> Result<()> {
        self.ctx.bind()?;
        // SAFETY: valid stream.
        unsafe { cu::stream::synchronize(self.s) }.check("cuStreamSynchronize")
    }

    /// Make later work on this stream wait for `e`.
    pub fn wait(&self, e: &Event) -> Result<()> {
        // SAFETY: valid stream and event.
        unsafe { cu::stream::wait_event(self.s, e.e, sys::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT) }
            .check("cuStreamWaitEvent")
    }

    /// Asynchronous host → device copy of `src` (pinned for true asynchrony) to `dst`.
    ///
    /// # Safety
    /// `dst` must hold `src.len()` bytes and `src` must stay valid and unchanged until the copy
    /// has completed (an event recorded after it).
    pub unsafe fn htod(&self, dst: u64, src: &[u8]) -> Result<()> {
        // SAFETY: per the contract.
        unsafe { cu::memcpy_htod_async(dst, src, self.s) }.check("cuMemcpyHtoDAsync")
    }

    /// Asynchronous device → device copy.
    ///
    /// # Safety
    /// Both ranges must be valid device memory of `len` bytes.
    pub unsafe fn dtod(&self, dst: u64, src: u64, len: usize) -> Result<()> {
        // SAFETY: per the contract.
        unsafe { cu::memcpy_dtod_async(dst, src, len, self.s) }.check("cuMemcpyDtoDAsync")
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let (s, ctx) = (self.s as usize, self.ctx);
        let _ = catch_unwind(move || {
            if ctx.bind().is_ok() {
                // SAFETY: destroyed once.
                let _ = unsafe { cu::stream::destroy(s as sys::CUstream) };
            }
        });
    }
}

/// An event, destroyed on drop.
#[derive(Debug)]
pub struct Event {
    pub(crate) e: sys::CUevent,
}

// SAFETY: event handles may be used from any thread.
unsafe impl Send for Event {}
// SAFETY: as above.
unsafe impl Sync for Event {}

impl Event {
    /// A new event; `timing` enables `elapsed_ms`.
    pub fn new(ctx: &Ctx, timing: bool) -> Result<Event> {
        ctx.bind()?;
        let flags =
            if timing { sys::CUevent_flags::CU_EVENT_DEFAULT } else { sys::CUevent_flags::CU_EVENT_DISABLE_TIMING };
        Ok(Event { e: cu::event::create(flags).check("cuEventCreate")? })
    }

    /// Record on `s`.
    pub fn record(&self, s: &Stream) -> Result<()> {
        // SAFETY: valid event and stream.
        unsafe { cu::event::record(self.e, s.s) }.check("cuEventRecord")
    }

    /// Block the host until the event has completed.
    pub fn sync(&self) -> Result<()> {
        // SAFETY: valid event.
        unsafe { cu::event::synchronize(self.e) }.check("cuEventSynchronize")
    }

    /// Milliseconds from `self` to `end` (both recorded, timing events).
    pub fn elapsed_ms(&self, end: &Event) -> Result<f32> {
        // SAFETY: valid events.
        unsafe { cu::event::elapsed(self.e, end.e) }.check("cuEventElapsedTime")
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let e = self.e as usize;
        let _ = catch_unwind(move || {
            // SAFETY: destroyed once.
            let _ = unsafe { cu::event::destroy(e as sys::CUevent) };
        });
    }
}
