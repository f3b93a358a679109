//! The third leg: real ggml's `to_float` (its `dequantize_row_*`), from `libggml-base.so` of the
//! Python package `libggml-python`, loaded at run time (shared/DESIGN.md §5). Nothing of ggml is
//! linked or copied: the library is opened with `dlopen` (libloading) from the path in
//! `BG_GGML_LIB`, or one given explicitly.
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
    /// Per upstream id: the verified `to_float`, if ggml has one that agrees with our table.
    to_float: Vec<Option<ToFloat>>,
}

impl std::fmt::Debug for GgmlLib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgmlLib").field("path", &self.path).finish_non_exhaustive()
    }
}

// SAFETY: ggml's to_float functions are pure functions of their arguments (no shared state), and
// the traits table is static and read-only.
unsafe impl Send for GgmlLib {}
// SAFETY: as above.
unsafe impl Sync for GgmlLib {}

impl GgmlLib {
    /// Load the library at `path` and verify its type table against bitgguf's.
    pub fn open(path: &Path) -> Result<GgmlLib> {
        let fail = |why: String| Error::new(Status::Io, format!("real ggml ({}): {why}", path.display()));
        // SAFETY: loading a shared library runs its initializers; libggml-base has no unusual ones.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| fail(format!("cannot load it: {e}")))?;
        // SAFETY: the symbol has this signature in ggml.h.
        let traits: unsafe extern "C" fn(t: i32) -> *const TypeTraits =
            unsafe { *lib.get(b"ggml_get_type_traits\0").map_err(|e| fail(format!("no ggml_get_type_traits: {e}")))? };
        let mut me = GgmlLib { path: path.to_path_buf(), _lib: lib, traits, to_float: Vec::new() };
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

    /// ggml's (name, block size, type size) of an upstream id.
    fn describe(&self, id: TypeId) -> Option<(String, u64, u64)> {
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
        if n % t.blck != 0 || (n / t.blck).checked_mul(t.tsize) != Some(src.len() as u64) {
            return None;
        }
        // SAFETY: src holds exactly n/blck whole blocks and dst n floats (checked above).
        unsafe { f(src.as_ptr().cast(), dst.as_mut_ptr(), n as i64) };
        Some(())
    }
}
