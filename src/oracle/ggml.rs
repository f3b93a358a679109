//! Real ggml as an oracle: its `to_float` (`dequantize_row_*`), `ggml_quantize_chunk` (the
//! reference quantizers) and fp16/bf16 conversions, from `libggml-base.so` of the Python package
//! `libggml-python`, loaded at run time (shared/DESIGN.md §5). Nothing of ggml is linked or
//! copied: the library is opened with `dlopen` (libloading) from the path in `BG_GGML_LIB`, one
//! found through `BG_PYTHON` ([`find`]), or one given explicitly. The one binding of ggml in the
//! repository: crossval's third leg, `bitgguf bench`, and the tests and benches use it.
//!
//! `ggml_get_type_traits` returns a pointer to a `struct ggml_type_traits` whose layout is that
//! of the package's `include/ggml.h` (0.20.x): name, block size, interleave, type size,
//! is_quantized, `to_float`, `from_float_ref`. Before any use, [`GgmlLib::open`] checks that the
//! library's name, block size and type size of F32 and Q4_0 agree with bitgguf's type table, and
//! each type's again before its `to_float` is used, so a library with another layout is refused
//! instead of misread.
//!
//! F32 has no `to_float` in ggml (its tensors hold f32 as they are): the leg takes the bytes as
//! little-endian f32, which is what ggml computes with.

use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result, Status};
use crate::types::{self, Availability, Layout, TypeId};

type ToFloat = unsafe extern "C" fn(x: *const c_void, y: *mut f32, k: i64);
type QuantizeChunk = unsafe extern "C" fn(
    t: i32,
    src: *const f32,
    dst: *mut c_void,
    start: i64,
    nrows: i64,
    n_per_row: i64,
    imatrix: *const f32,
) -> usize;

/// `struct ggml_type_traits` (ggml.h of libggml-python 0.20.x).
#[repr(C)]
struct TypeTraits {
    type_name: *const c_char,
    blck_size: i64,
    blck_size_interleave: i64,
    type_size: usize,
    is_quantized: bool,
    to_float: Option<ToFloat>,
    from_float_ref: Option<unsafe extern "C" fn(x: *const f32, y: *mut c_void, k: i64)>,
}

/// Number of upstream type ids this binding may query (`GGML_TYPE_COUNT` of ggml HEAD 2026-08,
/// reference/gguf-ggml.md §2.1): ggml asserts (aborts) on larger ids, so none is ever passed.
const GGML_TYPE_COUNT: TypeId = 43;

/// `GGML_TYPE_F32`.
const GGML_F32: TypeId = 0;

/// A loaded `libggml-base`.
pub struct GgmlLib {
    path: PathBuf,
    _lib: libloading::Library,
    traits: unsafe extern "C" fn(t: i32) -> *const TypeTraits,
    quantize_chunk: QuantizeChunk,
    requires_imatrix: unsafe extern "C" fn(t: i32) -> bool,
    fp32_to_fp16: unsafe extern "C" fn(f: f32) -> u16,
    fp32_to_bf16: unsafe extern "C" fn(f: f32) -> u16,
    /// Per upstream id: the verified `to_float`, if ggml has one that agrees with our table.
    to_float: Vec<Option<ToFloat>>,
}

impl std::fmt::Debug for GgmlLib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgmlLib").field("path", &self.path).finish_non_exhaustive()
    }
}

// SAFETY: ggml's to_float and conversion functions are pure functions of their arguments (no
// shared state), ggml documents ggml_quantize_chunk as thread-safe, and the traits table is static
// and read-only.
unsafe impl Send for GgmlLib {}
// SAFETY: as above.
unsafe impl Sync for GgmlLib {}

impl GgmlLib {
    /// Load the library at `path` and verify its type table against bitgguf's.
    pub fn open(path: &Path) -> Result<GgmlLib> {
        let fail = |why: String| Error::new(Status::Io, format!("real ggml ({}): {why}", path.display()));
        // SAFETY: loading a shared library runs its initializers; libggml-base has no unusual ones.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| fail(format!("cannot load it: {e}")))?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: each symbol is used with its signature in the package's include/ggml.h.
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| fail(format!("no {}: {e}", $name)))?
            };
        }
        let mut me = GgmlLib {
            path: path.to_path_buf(),
            traits: sym!("ggml_get_type_traits"),
            quantize_chunk: sym!("ggml_quantize_chunk"),
            requires_imatrix: sym!("ggml_quantize_requires_imatrix"),
            fp32_to_fp16: sym!("ggml_fp32_to_fp16"),
            fp32_to_bf16: sym!("ggml_fp32_to_bf16"),
            _lib: lib,
            to_float: Vec::new(),
        };
        for (id, name, blck, tsize) in [(0u32, "f32", 1u64, 4u64), (2, "q4_0", 32, 18)] {
            let got = me.describe(id);
            if got != Some((name.to_string(), blck, tsize)) {
                return Err(fail(format!(
                    "type {id} should be ({name}, {blck}, {tsize}) but the library says {got:?}: not the \
                     libggml-python 0.20.x layout of struct ggml_type_traits"
                )));
            }
        }
        me.to_float = (0..GGML_TYPE_COUNT).map(|id| me.verified_to_float(id)).collect();
        Ok(me)
    }

    /// The library named by `BG_GGML_LIB`, loaded once per process: `Ok(None)` when the variable
    /// is not set, an error when it is set but the library cannot be used.
    pub fn from_env() -> Result<Option<&'static GgmlLib>> {
        static LIB: OnceLock<std::result::Result<Option<GgmlLib>, Error>> = OnceLock::new();
        let r = LIB.get_or_init(|| match std::env::var_os("BG_GGML_LIB") {
            None => Ok(None),
            Some(p) => GgmlLib::open(Path::new(&p)).map(Some),
        });
        match r {
            Ok(lib) => Ok(lib.as_ref()),
            Err(e) => Err(e.clone()),
        }
    }

    /// The library's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// ggml's (name, block size, type size) of an upstream id; `None` past ggml's type count.
    pub fn describe(&self, id: TypeId) -> Option<(String, u64, u64)> {
        if id >= GGML_TYPE_COUNT {
            return None;
        }
        // SAFETY: id < GGML_TYPE_COUNT: ggml returns a pointer into its static table.
        let t = unsafe { (self.traits)(id as i32).as_ref()? };
        if t.type_name.is_null() || t.blck_size < 0 {
            return None;
        }
        // SAFETY: a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(t.type_name) }.to_string_lossy().into_owned();
        Some((name, t.blck_size as u64, t.type_size as u64))
    }

    fn verified_to_float(&self, id: TypeId) -> Option<ToFloat> {
        let ours = types::info(id)?;
        if ours.availability != Availability::Live || ours.layout != Layout::Blocks {
            return None;
        }
        let (_, blck, tsize) = self.describe(id)?;
        if blck != ours.blck || tsize != ours.tsize {
            return None;
        }
        // SAFETY: as in describe.
        unsafe { (self.traits)(id as i32).as_ref()?.to_float }
    }

    /// Whether ggml has its own `to_float` for `id` that agrees with our table (F32 has none).
    pub fn has_to_float(&self, id: TypeId) -> bool {
        self.to_float.get(id as usize).is_some_and(Option::is_some)
    }

    /// Whether ggml decodes the (upstream) type `id` (F32: as it is).
    pub fn supports(&self, id: TypeId) -> bool {
        id == GGML_F32 || self.to_float.get(id as usize).is_some_and(Option::is_some)
    }

    /// ggml's `to_float` of `dst.len()` elements from exactly their bytes `src`. `None` when
    /// ggml has no decoder for the type or the sizes do not fit (checked: never an out-of-bounds
    /// call into ggml).
    pub fn to_float(&self, id: TypeId, src: &[u8], dst: &mut [f32]) -> Option<()> {
        if id == GGML_F32 && self.to_float.first().is_some_and(Option::is_none) {
            if src.len() != dst.len() * 4 {
                return None;
            }
            for (d, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            return Some(());
        }
        let f = (*self.to_float.get(id as usize)?)?;
        let t = types::info(id)?;
        let n = dst.len() as u64;
        if !n.is_multiple_of(t.blck) || (n / t.blck).checked_mul(t.tsize) != Some(src.len() as u64) {
            return None;
        }
        // SAFETY: src holds exactly n/blck whole blocks and dst n floats (checked above).
        unsafe { f(src.as_ptr().cast(), dst.as_mut_ptr(), n as i64) };
        Some(())
    }
    /// Whether ggml needs an importance matrix to quantize to `id` (false past its type count).
    pub fn requires_imatrix(&self, id: TypeId) -> bool {
        // SAFETY: a plain query; ids are below GGML_TYPE_COUNT (ggml asserts on larger ones).
        id < GGML_TYPE_COUNT && unsafe { (self.requires_imatrix)(id as i32) }
    }

    /// `ggml_quantize_chunk(id, src, out, 0, nrows, n_per_row, imatrix)`: ggml's reference
    /// quantizer of whole rows of `n_per_row` values into exactly their bytes `out` (`imatrix`:
    /// `n_per_row` weights). `None` when ggml's table disagrees with ours for the type, the sizes
    /// do not fit, or the type needs an importance matrix that is not given — checked, so ggml is
    /// never called out of bounds or into one of its asserts.
    pub fn quantize_chunk(
        &self,
        id: TypeId,
        src: &[f32],
        n_per_row: usize,
        imatrix: Option<&[f32]>,
        out: &mut [u8],
    ) -> Option<()> {
        let t = types::info(id)?;
        let (_, blck, tsize) = self.describe(id)?;
        if blck != t.blck || tsize != t.tsize || t.blck == 0 {
            return None;
        }
        let (n, row) = (src.len() as u64, n_per_row as u64);
        if row == 0 || n % row != 0 || row % t.blck != 0 || (n / t.blck).checked_mul(t.tsize)? != out.len() as u64 {
            return None;
        }
        if imatrix.is_some_and(|m| m.len() != n_per_row) || (imatrix.is_none() && self.requires_imatrix(id)) {
            return None;
        }
        let im = imatrix.map_or(std::ptr::null(), |m| m.as_ptr());
        // SAFETY: src holds nrows whole rows, out exactly their bytes, imatrix n_per_row weights
        // (all checked above).
        let written = unsafe {
            (self.quantize_chunk)(id as i32, src.as_ptr(), out.as_mut_ptr().cast(), 0, (n / row) as i64, row as i64, im)
        };
        (written == out.len()).then_some(())
    }

    /// `ggml_fp32_to_fp16`.
    pub fn fp32_to_fp16(&self, f: f32) -> u16 {
        // SAFETY: a pure function.
        unsafe { (self.fp32_to_fp16)(f) }
    }

    /// `ggml_fp32_to_bf16`.
    pub fn fp32_to_bf16(&self, f: f32) -> u16 {
        // SAFETY: a pure function.
        unsafe { (self.fp32_to_bf16)(f) }
    }
}

/// Where `libggml-base.so` is: `$BG_GGML_LIB`, else the `lib64/` or `lib/` folder of the Python
/// package `libggml` as `$BG_PYTHON` (default `python3`) imports it. The error says how to
/// install or point at it.
pub fn find() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("BG_GGML_LIB") {
        return Ok(PathBuf::from(p));
    }
    let python = std::env::var("BG_PYTHON").unwrap_or_else(|_| "python3".into());
    let not_found = |why: String| Error::new(Status::NotFound, format!("real ggml (libggml-base.so) not found: {why}"));
    let out = std::process::Command::new(&python)
        .args(["-c", "import libggml,os;print(os.path.dirname(libggml.__file__))"])
        .output()
        .map_err(|e| not_found(format!("cannot run {python}: {e} (set BG_GGML_LIB or BG_PYTHON)")))?;
    if !out.status.success() {
        return Err(not_found(format!(
            "{python} cannot import libggml (pip install libggml-python, or set BG_GGML_LIB / BG_PYTHON): {}",
            String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("")
        )));
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    ["lib64/libggml-base.so", "lib/libggml-base.so"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| not_found(format!("no libggml-base.so under {}/lib64 or /lib", dir.display())))
}
