//! The dequantization kernels: which kernel decodes which type, compiling them with NVRTC for
//! the device's compute capability, and caching the result so that compilation is not on every
//! load's path:
//! - in memory, per process and compute capability (the compiled image), and per device (the
//!   loaded module, in the backend's device state);
//! - on disk, `<dir>/<hash>-sm_XY.cubin`, where `<dir>` is `$BG_KERNEL_CACHE_DIR`, else
//!   `$XDG_CACHE_HOME/bitgguf/kernels`, else `$HOME/.cache/bitgguf/kernels`; `<hash>` covers the
//!   kernel source and the compiler options, so an edited kernel never loads a stale image. A
//!   cache file that fails to load is recompiled and replaced; a cache that cannot be written
//!   is skipped (compilation then happens once per process).

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::result as cu;
use cudarc::driver::sys;
use cudarc::nvrtc::{result as nvrtc, sys as nvrtc_sys};

use super::driver::{Check, Ctx, Stream};
use crate::error::{Error, Result, Status};
use crate::quant;
use crate::quant::bitnet::TlConfig;
use crate::quant::fp4::KVALUES_MXFP4;
use crate::quant::output::OutType;
use crate::types::{self, TypeId, I2_S};

/// The kernel source.
pub const SOURCE: &str = include_str!("kernels/dequant.cu");

/// NVRTC options (part of the cache key). `--fmad=false`: no multiply-add contraction anywhere.
const OPTIONS: &[&str] = &["--fmad=false", "--std=c++14"];

/// Threads per block of every launch.
const THREADS: u32 = 256;

/// Default grid cap, see [`Module::blocks_per_sm`]: chosen per output type from the grid sweeps
/// of bench_gpu on an H100 (f32 outputs: no cap, except 32 blocks per multiprocessor for the
/// kernels with a shared-memory table; f16/bf16: 128 blocks per multiprocessor).
pub const BLOCKS_AUTO: u32 = u32::MAX;
const BLOCKS_PER_SM: u32 = BLOCKS_AUTO;

/// Every kernel of the module.
pub const KERNEL_NAMES: &[&str] = &[
    "dq_q4_0",
    "dq_q4_1",
    "dq_q5_0",
    "dq_q5_1",
    "dq_q8_0",
    "dq_iq4_nl",
    "dq_mxfp4",
    "dq_q2_k",
    "dq_q3_k",
    "dq_q4_k",
    "dq_q5_k",
    "dq_q6_k",
    "dq_iq4_xs",
    "dq_tq1_0",
    "dq_tq2_0",
    "dq_i2_s",
    "dq_float",
    "dq_tl1",
    "dq_tl2",
];

/// The 16-entry value table a kernel gets by value.
pub type Tab16 = [i8; 16];

/// How a type is decoded on the GPU: kernel name, per-launch table, and the unit of a launch's
/// split (bytes in, elements out) such that every unit boundary is a block boundary and a
/// multiple of 8 output elements.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Kernel name.
    pub kernel: &'static str,
    /// Table argument.
    pub tab: Tab16,
    /// Bytes of one unit.
    pub unit_bytes: u64,
    /// Elements of one unit.
    pub unit_elems: u64,
    /// True for kernels that stage a value table in shared memory (once per block: they want
    /// a capped grid even for f32 outputs).
    pub table: bool,
    /// Grid size in blocks per multiprocessor for this kernel (0: by output type, see
    /// [`Module::blocks_per_sm`]): the TL kernels loop over their items with the next item's
    /// bytes in flight, so they want a grid of a few waves of resident blocks.
    pub per_sm: u32,
}

/// IQ4_NL's value table, read back from the CPU decoder (so it is the CPU codec's own table, not
/// a copy): a block with d = 1.0 and nibbles 0..16 decodes to the table itself.
fn iq4nl_table() -> Tab16 {
    static T: OnceLock<Tab16> = OnceLock::new();
    *T.get_or_init(|| {
        let mut blk = [0u8; 18];
        blk[..2].copy_from_slice(&0x3C00u16.to_le_bytes());
        for j in 0..16u8 {
            blk[2 + j as usize] = j | (j << 4);
        }
        let mut y = [0f32; 32];
        if let Some(dec) = quant::decoder(20) {
            dec(&blk, &mut y);
        }
        let mut t = [0i8; 16];
        for (t, v) in t.iter_mut().zip(&y) {
            *t = *v as i8;
        }
        t
    })
}

fn tab0(v: i8) -> Tab16 {
    let mut t = [0i8; 16];
    t[0] = v;
    t
}

/// The GPU decoding of `ty`, if there is one.
pub fn spec(ty: TypeId) -> Option<Spec> {
    let (kernel, tab) = match ty {
        0 => ("dq_float", tab0(0)),
        1 => ("dq_float", tab0(1)),
        30 => ("dq_float", tab0(2)),
        2 => ("dq_q4_0", [0; 16]),
        3 => ("dq_q4_1", [0; 16]),
        6 => ("dq_q5_0", [0; 16]),
        7 => ("dq_q5_1", [0; 16]),
        8 => ("dq_q8_0", [0; 16]),
        10 => ("dq_q2_k", [0; 16]),
        11 => ("dq_q3_k", [0; 16]),
        12 => ("dq_q4_k", [0; 16]),
        13 => ("dq_q5_k", [0; 16]),
        14 => ("dq_q6_k", [0; 16]),
        20 => ("dq_iq4_nl", iq4nl_table()),
        23 => ("dq_iq4_xs", iq4nl_table()),
        34 => ("dq_tq1_0", [0; 16]),
        35 => ("dq_tq2_0", [0; 16]),
        39 => ("dq_mxfp4", KVALUES_MXFP4),
        I2_S => ("dq_i2_s", tab0(0)),
        _ => return None,
    };
    let (unit_bytes, unit_elems) = if ty == I2_S {
        (32, 128)
    } else {
        let ti = types::info(ty)?;
        if ti.blck == 1 {
            (8 * ti.tsize, 8)
        } else {
            (ti.tsize, ti.blck)
        }
    };
    let table = matches!(ty, 20 | 23 | 39);
    Some(Spec { kernel, tab, unit_bytes, unit_elems, table, per_sm: 0 })
}

/// Default grid of `dq_tl1` / `dq_tl2`, blocks per multiprocessor: from bench_gpu's grid sweep
/// on an H100 (8 and 4 blocks stay resident, see the `__launch_bounds__` minimums in
/// dequant.cu; a few waves of them do better than one).
const TL1_PER_SM: u32 = 64;
const TL2_PER_SM: u32 = 32;

/// The GPU decoding of a TL1 tensor with `k` columns and tile configuration `cfg` (validated by
/// the caller): one launch unit is one row tile (`BM` rows, `BM*K/4` bytes).
pub fn tl1_spec(k: usize, cfg: &TlConfig) -> Spec {
    let mut tab = [0i8; 16];
    for (at, v) in [(0, k), (4, cfg.bm_tile), (8, cfg.bk), (12, cfg.bm)] {
        for (t, b) in tab[at..at + 4].iter_mut().zip((v as u32).to_le_bytes()) {
            *t = b as i8;
        }
    }
    Spec {
        kernel: "dq_tl1",
        tab,
        unit_bytes: (cfg.bm_tile * k / 4) as u64,
        unit_elems: (cfg.bm_tile * k) as u64,
        table: false,
        per_sm: TL1_PER_SM,
    }
}

/// The GPU decoding of a TL2 tensor with `k` columns and tile configuration `cfg` (validated by
/// the caller with `tl2_geometry`): one launch unit is one row tile (`BM` rows) with its
/// sections regrouped by the host (A, then B, then C bytes of that tile).
pub fn tl2_spec(k: usize, cfg: &TlConfig) -> Spec {
    let mut tab = [0i8; 16];
    for (at, v) in [(0, k), (4, cfg.bm_tile), (8, cfg.bk)] {
        for (t, b) in tab[at..at + 4].iter_mut().zip((v as u32).to_le_bytes()) {
            *t = b as i8;
        }
    }
    let k3 = k / cfg.bk * cfg.bk;
    let bm = cfg.bm_tile;
    Spec {
        kernel: "dq_tl2",
        tab,
        unit_bytes: (bm * k3 / 6 + bm * k3 / 24 + bm * (k - k3) / 4) as u64,
        unit_elems: (bm * k) as u64,
        table: false,
        per_sm: TL2_PER_SM,
    }
}

/// The GPU decoding of the I2_S GROUP_64 layout (64-element blocks of 16 bytes).
pub fn i2s_group64_spec() -> Spec {
    Spec { kernel: "dq_i2_s", tab: tab0(1), unit_bytes: 16, unit_elems: 64, table: false, per_sm: 0 }
}

/// FNV-1a 64 of the source and options: the cache key.
fn source_hash() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in SOURCE.bytes().chain(OPTIONS.iter().flat_map(|o| o.bytes().chain([0]))) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The on-disk cache directory, if any can be named.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BG_KERNEL_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("bitgguf").join("kernels"))
}

/// The cache file of compute capability `cc`.
pub fn cache_file(cc: (i32, i32)) -> Option<PathBuf> {
    Some(cache_dir()?.join(format!("{}-sm_{}{}.cubin", source_hash(), cc.0, cc.1)))
}

/// Where an image came from (reported by benches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSource {
    /// Compiled now by NVRTC.
    Compiled,
    /// Read from the disk cache.
    Disk,
    /// Already in this process.
    Memory,
}

fn nvrtc_compile(cc: (i32, i32)) -> Result<Vec<u8>> {
    let fail = |msg: String| Error::new(Status::KernelCompile, msg);
    // SAFETY: only tries to dlopen the candidate names.
    let present = std::panic::catch_unwind(|| unsafe { nvrtc_sys::is_culib_present() }).unwrap_or(false);
    if !present {
        return Err(fail(format!(
            "the NVRTC library (libnvrtc.so) is not installed or cannot be loaded: it is needed once to compile the \
             kernels for sm_{}{} (then cached in {:?})",
            cc.0,
            cc.1,
            cache_dir()
        )));
    }
    let src = CString::new(SOURCE).map_err(|_| fail("the kernel source contains a NUL byte".into()))?;
    let prog =
        nvrtc::create_program(&src, Some(c"dequant.cu")).map_err(|e| fail(format!("nvrtcCreateProgram: {e:?}")))?;
    let mut opts: Vec<String> = OPTIONS.iter().map(|s| s.to_string()).collect();
    opts.push(format!("--gpu-architecture=sm_{}{}", cc.0, cc.1));
    // SAFETY: prog is live until destroyed below.
    let compiled = unsafe { nvrtc::compile_program(prog, &opts) };
    let out = (|| {
        if let Err(e) = compiled {
            // SAFETY: prog is live.
            let log = unsafe { nvrtc::get_program_log(prog) }
                .map(|l| l.iter().map(|&c| c as u8 as char).collect::<String>())
                .unwrap_or_default();
            return Err(fail(format!("NVRTC failed to compile the kernels for sm_{}{}: {e:?}\n{log}", cc.0, cc.1)));
        }
        let mut size = 0usize;
        // SAFETY: prog compiled; size is writable.
        let r = unsafe { nvrtc_sys::nvrtcGetCUBINSize(prog, &mut size) };
        if r != nvrtc_sys::nvrtcResult::NVRTC_SUCCESS || size == 0 {
            return Err(fail(format!("nvrtcGetCUBINSize: {r:?}")));
        }
        let mut image = vec![0u8; size];
        // SAFETY: image holds size bytes.
        let r = unsafe { nvrtc_sys::nvrtcGetCUBIN(prog, image.as_mut_ptr().cast()) };
        if r != nvrtc_sys::nvrtcResult::NVRTC_SUCCESS {
            return Err(fail(format!("nvrtcGetCUBIN: {r:?}")));
        }
        Ok(image)
    })();
    // SAFETY: destroyed once.
    let _ = unsafe { nvrtc::destroy_program(prog) };
    out
}

/// Compiled images by compute capability.
type ImageCache = Mutex<HashMap<(i32, i32), Arc<Vec<u8>>>>;

fn memory_cache() -> &'static ImageCache {
    static M: OnceLock<ImageCache> = OnceLock::new();
    M.get_or_init(Default::default)
}

/// The compiled image for compute capability `cc`: from memory, disk, or NVRTC (then cached).
/// `fresh` skips the caches' content (after a cached image failed to load).
pub fn image(cc: (i32, i32), fresh: bool) -> Result<(Arc<Vec<u8>>, ImageSource)> {
    let mut mem = memory_cache().lock().unwrap_or_else(|p| p.into_inner());
    if !fresh {
        if let Some(img) = mem.get(&cc) {
            return Ok((img.clone(), ImageSource::Memory));
        }
        if let Some(bytes) = cache_file(cc).and_then(|p| std::fs::read(p).ok()).filter(|b| !b.is_empty()) {
            let img = Arc::new(bytes);
            mem.insert(cc, img.clone());
            return Ok((img, ImageSource::Disk));
        }
    }
    let img = Arc::new(nvrtc_compile(cc)?);
    if let Some(path) = cache_file(cc) {
        // Best effort: write to a temporary name, then rename (atomic for concurrent loaders).
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
            let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), path.file_name().unwrap().to_string_lossy()));
            if std::fs::write(&tmp, img.as_slice()).is_ok() && std::fs::rename(&tmp, &path).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
    }
    mem.insert(cc, img.clone());
    Ok((img, ImageSource::Compiled))
}

/// The kernels loaded into one device's context.
#[derive(Debug)]
pub struct Module {
    module: sys::CUmodule,
    funcs: HashMap<&'static str, sys::CUfunction>,
    /// Where the image came from.
    pub source: ImageSource,
    /// Seconds spent getting and loading the image.
    pub load_seconds: f64,
    /// Grid size cap: blocks per multiprocessor (the kernels loop over the rest); 0 = no cap
    /// (one work item per thread); [`BLOCKS_AUTO`] = the kernel's `Spec::per_sm`, else by output type.
    pub blocks_per_sm: u32,
}

// SAFETY: module and function handles may be used from any thread with the context bound.
unsafe impl Send for Module {}
// SAFETY: as above.
unsafe impl Sync for Module {}

fn load_image(img: &[u8]) -> std::result::Result<sys::CUmodule, cu::DriverError> {
    // SAFETY: img is a CUBIN image kept alive for the call (cuModuleLoadData copies it).
    unsafe { cu::module::load_data(img.as_ptr() as *const c_void) }
}

impl Module {
    /// Load the kernels into `ctx` (compiling or reading the caches as needed).
    pub fn load(ctx: &Ctx) -> Result<Module> {
        let t0 = std::time::Instant::now();
        ctx.bind()?;
        let cc = ctx.compute_capability()?;
        let (img, mut source) = image(cc, false)?;
        let module = match load_image(&img) {
            Ok(m) => m,
            Err(e) if source != ImageSource::Compiled => {
                // A stale or corrupt cache entry: compile again and replace it.
                let _ = e;
                let (img, s) = image(cc, true)?;
                source = s;
                load_image(&img).map_err(|e| {
                    Error::new(Status::KernelCompile, format!("cuModuleLoadData: {}", super::driver::describe(e)))
                })?
            }
            Err(e) => {
                return Err(Error::new(
                    Status::KernelCompile,
                    format!("cuModuleLoadData: {}", super::driver::describe(e)),
                ))
            }
        };
        let mut funcs = HashMap::new();
        for &name in KERNEL_NAMES {
            let cname = CString::new(name).expect("no NUL");
            // SAFETY: module is loaded.
            let f = unsafe { cu::module::get_function(module, cname) }
                .map_err(|e| Error::new(Status::KernelCompile, format!("cuModuleGetFunction({name}): {e:?}")))?;
            funcs.insert(name, f);
        }
        Ok(Module { module, funcs, source, load_seconds: t0.elapsed().as_secs_f64(), blocks_per_sm: BLOCKS_PER_SM })
    }

    /// Launch `spec`'s kernel over `n` elements from device `src` into device `dst` as `out`,
    /// on `stream`. `src` holds whole units (`n` a multiple of `spec.unit_elems`, except for
    /// plain floats); `dst` is 16-byte aligned.
    #[allow(clippy::too_many_arguments)]
    pub fn launch(
        &self,
        stream: &Stream,
        spec: &Spec,
        src: u64,
        dst: u64,
        n: u64,
        out: OutType,
        aux: f32,
        sm_count: i32,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let f = *self.funcs.get(spec.kernel).ok_or_else(|| {
            Error::new(Status::KernelCompile, format!("kernel {} missing from the module", spec.kernel))
        })?;
        let groups = n.div_ceil(8);
        // Enough blocks to fill the chip several times over; the kernels loop over the rest.
        let bps = match (self.blocks_per_sm, out) {
            (BLOCKS_AUTO, _) if spec.per_sm != 0 => spec.per_sm,
            (BLOCKS_AUTO, OutType::F32) if !spec.table => 0,
            (BLOCKS_AUTO, OutType::F32) => 32,
            (BLOCKS_AUTO, _) => 128,
            (b, _) => b,
        };
        let max_blocks = if bps == 0 { u32::MAX as u64 } else { (sm_count.max(1) as u64) * bps as u64 };
        let blocks = groups.div_ceil(THREADS as u64).clamp(1, max_blocks.min(u32::MAX as u64)) as u32;
        let mut a_src = src;
        let mut a_dst = dst;
        let mut a_n = n;
        let mut a_out: i32 = match out {
            OutType::F32 => 0,
            OutType::F16 => 1,
            OutType::Bf16 => 2,
        };
        let mut a_aux = aux;
        let mut a_tab = spec.tab;
        let mut params: [*mut c_void; 6] = [
            (&mut a_src as *mut u64).cast(),
            (&mut a_dst as *mut u64).cast(),
            (&mut a_n as *mut u64).cast(),
            (&mut a_out as *mut i32).cast(),
            (&mut a_aux as *mut f32).cast(),
            (&mut a_tab as *mut Tab16).cast(),
        ];
        // SAFETY: the parameters match the kernel signature (const u8*, void*, u64, int, float,
        // Tab16); src/dst are device memory of the sizes the caller checked.
        unsafe { cu::launch_kernel(f, (blocks, 1, 1), (THREADS, 1, 1), 0, stream.s, &mut params) }
            .check(format_args!("cuLaunchKernel({})", spec.kernel))
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let m = self.module as usize;
        let _ = std::panic::catch_unwind(move || {
            // SAFETY: unloaded once.
            let _ = unsafe { cu::module::unload(m as sys::CUmodule) };
        });
    }
}
