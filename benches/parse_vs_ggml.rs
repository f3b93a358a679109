//! Side by side, in one process: ggml's `gguf_init_from_file` (the real `libggml-base.so` of the
//! Python package `libggml-python`, loaded at run time) against bitgguf's `Model::open` on the
//! same file, interleaved, a fresh open (and free) every time.
//!
//! `cargo bench --bench parse_vs_ggml` (or `scripts/bench_parse.sh`). Environment:
//! - `BG_GEMMA_PATH`: the GGUF file (default: the Gemma 3 270M Q4_K_M cache path);
//! - `BG_GGML_LIB`: path of `libggml-base.so`; otherwise it is found through
//!   `$BG_PYTHON -c 'import libggml,os;print(os.path.dirname(libggml.__file__))'`
//!   (`BG_PYTHON` defaults to `python3`), in its `lib64/` or `lib/`;
//! - `BG_ROUNDS`: timed rounds (default 30 under `cargo bench`, 3 when run as a test), after 3
//!   warm-up rounds.
//!
//! Prints "SKIPPED: ..." and exits 0 when the file or the library is absent.
//!
//! The ggml call is `gguf_init_from_file(path, { .no_alloc = true, .ctx = NULL })` then
//! `gguf_free`: metadata and tensor infos only, no ggml context, no tensor data — the same work
//! `Model::open` does (it maps the file; the parser touches only the header pages).

mod common;

use common::{time_ms, Stats};

use std::ffi::{c_char, c_void, CString};
use std::hint::black_box;
use std::path::Path;

use bitgguf::gguf::{self, ParseOptions};
use bitgguf::{LoadOptions, Model};

/// `struct gguf_init_params` of ggml's `include/gguf.h` (libggml-python 0.20.2):
/// `{ bool no_alloc; struct ggml_context ** ctx; }`, passed by value.
#[repr(C)]
#[derive(Clone, Copy)]
struct GgufInitParams {
    no_alloc: bool,
    ctx: *mut *mut c_void,
}

type InitFromFile = unsafe extern "C" fn(*const c_char, GgufInitParams) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void);
type GetCount = unsafe extern "C" fn(*const c_void) -> i64;
type GetVersion = unsafe extern "C" fn(*const c_void) -> u32;

struct Ggml {
    _lib: libloading::Library,
    init: InitFromFile,
    free: Free,
    n_kv: GetCount,
    n_tensors: GetCount,
    version: GetVersion,
}

impl Ggml {
    fn load(path: &Path) -> Result<Ggml, String> {
        // SAFETY: loading ggml runs its (trivial) initializers; the symbols are used with the
        // signatures of the package's own include/gguf.h.
        unsafe {
            let lib = libloading::Library::new(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
            let sym = |name: &[u8]| -> Result<*const c_void, String> {
                lib.get::<*const c_void>(name)
                    .map(|s| *s)
                    .map_err(|e| format!("{}: no symbol {}: {e}", path.display(), String::from_utf8_lossy(name)))
            };
            let init = std::mem::transmute::<*const c_void, InitFromFile>(sym(b"gguf_init_from_file\0")?);
            let free = std::mem::transmute::<*const c_void, Free>(sym(b"gguf_free\0")?);
            let n_kv = std::mem::transmute::<*const c_void, GetCount>(sym(b"gguf_get_n_kv\0")?);
            let n_tensors = std::mem::transmute::<*const c_void, GetCount>(sym(b"gguf_get_n_tensors\0")?);
            let version = std::mem::transmute::<*const c_void, GetVersion>(sym(b"gguf_get_version\0")?);
            Ok(Ggml { _lib: lib, init, free, n_kv, n_tensors, version })
        }
    }

    /// Open and free once; returns (version, n_kv, n_tensors).
    fn open(&self, path: &CString) -> Result<(u32, i64, i64), String> {
        let params = GgufInitParams { no_alloc: true, ctx: std::ptr::null_mut() };
        // SAFETY: a valid C string and params as gguf.h declares them; the context is freed
        // once, after the queries.
        unsafe {
            let ctx = (self.init)(path.as_ptr(), params);
            if ctx.is_null() {
                return Err(format!("gguf_init_from_file({path:?}) failed"));
            }
            let r = ((self.version)(ctx), (self.n_kv)(ctx), (self.n_tensors)(ctx));
            (self.free)(ctx);
            Ok(r)
        }
    }
}

fn main() {
    let Some(path) = common::or_skip(common::gemma_path()) else { return };
    let Some(lib) = common::or_skip(common::find_ggml().map_err(|why| format!("ggml not found: {why}"))) else {
        return;
    };
    let Some(ggml) = common::or_skip(Ggml::load(&lib)) else { return };
    let rounds: usize = std::env::var("BG_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        // `cargo bench` passes --bench; `cargo test --all-targets` does not: a quick smoke run.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") { 30 } else { 3 })
        .max(1);
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).expect("path without NUL");
    let opts = LoadOptions::default();
    let popts = ParseOptions::default();

    // Both must see the same file the same way.
    let (gv, gkv, gt) = ggml.open(&cpath).expect("ggml opens the file");
    let m = Model::open(&path, &opts).expect("bitgguf opens the file");
    let idx = m.metadata().index();
    assert_eq!(
        (gv, gkv, gt),
        (idx.version(), idx.kv_count() as i64, m.tensor_count() as i64),
        "ggml and bitgguf disagree on (version, n_kv, n_tensors)"
    );
    let file_len = idx.file_len();
    let data_offset = idx.data_offset();
    // The parser alone, on bytes mapped once (kept mapped for the whole run).
    let mapped = m;
    let bytes = mapped.metadata().bytes();

    let mut ggml_t = Stats::new("ggml gguf_init_from_file + gguf_free");
    let mut ours_t = Stats::new("bitgguf Model::open (mmap) + drop");
    let mut parse_t = Stats::new("bitgguf gguf::parse (bytes already mapped)");
    let warmup = 3;
    for round in 0..warmup + rounds {
        let run_ggml = |s: &mut Stats| {
            let (ms, r) = time_ms(|| ggml.open(&cpath).expect("ggml opens"));
            black_box(r);
            s.ms.push(ms);
        };
        let run_ours = |s: &mut Stats| {
            let (ms, n) = time_ms(|| {
                let m = Model::open(black_box(&path), &opts).expect("bitgguf opens");
                let n = m.tensor_count();
                drop(m);
                n
            });
            black_box(n);
            s.ms.push(ms);
        };
        // Alternate the order so neither always runs right after the other.
        if round % 2 == 0 {
            run_ggml(&mut ggml_t);
            run_ours(&mut ours_t);
        } else {
            run_ours(&mut ours_t);
            run_ggml(&mut ggml_t);
        }
        let (ms, idx) = time_ms(|| gguf::parse(black_box(bytes), &popts).expect("parses"));
        black_box(idx.tensor_count());
        drop(idx);
        parse_t.ms.push(ms);
        if round + 1 == warmup {
            ggml_t.ms.clear();
            ours_t.ms.clear();
            parse_t.ms.clear();
        }
    }

    println!();
    println!("file:    {} ({} bytes, metadata + tensor infos {} bytes)", path.display(), file_len, data_offset);
    println!(
        "ggml:    {} (gguf.h: gguf_init_params {{ bool no_alloc = true; ggml_context **ctx = NULL }})",
        lib.display()
    );
    println!("checked: both read version {gv}, {gkv} metadata pairs, {gt} tensors");
    println!("rounds:  {rounds} interleaved (after {warmup} warm-up), fresh open each time, warm page cache");
    println!();
    println!("{:<46} {:>10} {:>10} {:>10} {:>10} {:>10}", "case", "median ms", "min ms", "mean ms", "p90 ms", "max ms");
    for s in [&ggml_t, &ours_t, &parse_t] {
        println!(
            "{:<46} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            s.name,
            s.median(),
            s.min(),
            s.mean(),
            s.p90(),
            s.max()
        );
    }
    println!();
    let ratio_med = ggml_t.median() / ours_t.median();
    let ratio_min = ggml_t.min() / ours_t.min();
    println!("ratio ggml / bitgguf Model::open: {ratio_med:.1}x (medians), {ratio_min:.1}x (minima)");
    println!(
        "ratio ggml / bitgguf gguf::parse: {:.1}x (medians), {:.1}x (minima)",
        ggml_t.median() / parse_t.median(),
        ggml_t.min() / parse_t.min()
    );
    let verdict = if cfg!(debug_assertions) {
        "not judged: this is an unoptimized (test) build, run `cargo bench --bench parse_vs_ggml`"
    } else if ratio_med >= 10.0 {
        "meets the 10x goal"
    } else if ratio_med >= 5.0 {
        "meets the 5x floor, below the 10x goal"
    } else {
        "BELOW the 5x floor"
    };
    println!("target: >= 5x (floor), 10x (goal): {verdict}");
    println!(
        "RESULT ggml_median_ms={:.3} ours_median_ms={:.3} parse_median_ms={:.3} ratio_median={:.2} ratio_min={:.2}",
        ggml_t.median(),
        ours_t.median(),
        parse_t.median(),
        ratio_med,
        ratio_min
    );
}
