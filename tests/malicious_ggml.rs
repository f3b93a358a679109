//! What real ggml does with the malicious corpus (tests/common/malicious.rs), next to what
//! bitgguf does: each case's first file goes through `gguf_init_from_file` of libggml-base.so
//! (`BG_GGML_LIB`, libggml-python 0.20.2.post1) with `no_alloc = true` and a ggml context, as
//! llama.cpp calls it, **in a child process** (ggml may abort or crash). The child also applies
//! llama-model-loader's per-tensor bounds check (`offs + nbytes` must not wrap and must be
//! within the file) and compares `ggml_nbytes` with the size the shape needs
//! (`nelements / blck * type_size`, in 128-bit arithmetic).
//!
//! The test prints the table (`cargo test --test malicious_ggml -- --nocapture`; docs/SECURITY.md
//! has a copy) and fails when ggml's behaviour differs from the one recorded for the case, so
//! the "where bitgguf is stricter" column stays true for the pinned ggml.

mod common;

use std::ffi::{c_char, c_void, CString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::malicious::{cases, Ggml};

/// The start of `struct ggml_tensor` (ggml.h 0.20.2): type, buffer, ne[4].
#[repr(C)]
struct TensorHead {
    ty: i32,
    buffer: *mut c_void,
    ne: [i64; 4],
}

#[repr(C)]
struct GgufInitParams {
    no_alloc: bool,
    ctx: *mut *mut c_void,
}

/// The child: parse `BG_GGML_CHILD_FILE` with ggml and print one `GGML_RESULT` line.
#[test]
#[ignore = "the child process of ggml_behaviour_on_the_malicious_corpus (run by it)"]
fn ggml_child() {
    let Some(file) = std::env::var_os("BG_GGML_CHILD_FILE") else {
        panic!("ggml_child is run by ggml_behaviour_on_the_malicious_corpus with BG_GGML_CHILD_FILE set");
    };
    let lib_path = std::env::var("BG_GGML_LIB").expect("BG_GGML_LIB");
    let file_len = std::fs::metadata(&file).unwrap().len();
    // SAFETY: the signatures are those of ggml's gguf.h / ggml.h (0.20.2).
    unsafe {
        let lib = libloading::Library::new(&lib_path).unwrap();
        type Init = unsafe extern "C" fn(*const c_char, GgufInitParams) -> *mut c_void;
        let init: libloading::Symbol<Init> = lib.get(b"gguf_init_from_file").unwrap();
        let n_tensors: libloading::Symbol<unsafe extern "C" fn(*const c_void) -> i64> =
            lib.get(b"gguf_get_n_tensors").unwrap();
        let data_offset: libloading::Symbol<unsafe extern "C" fn(*const c_void) -> usize> =
            lib.get(b"gguf_get_data_offset").unwrap();
        let t_offset: libloading::Symbol<unsafe extern "C" fn(*const c_void, i64) -> usize> =
            lib.get(b"gguf_get_tensor_offset").unwrap();
        let t_size: libloading::Symbol<unsafe extern "C" fn(*const c_void, i64) -> usize> =
            lib.get(b"gguf_get_tensor_size").unwrap();
        let t_type: libloading::Symbol<unsafe extern "C" fn(*const c_void, i64) -> i32> =
            lib.get(b"gguf_get_tensor_type").unwrap();
        let first: libloading::Symbol<unsafe extern "C" fn(*const c_void) -> *mut c_void> =
            lib.get(b"ggml_get_first_tensor").unwrap();
        let next: libloading::Symbol<unsafe extern "C" fn(*const c_void, *mut c_void) -> *mut c_void> =
            lib.get(b"ggml_get_next_tensor").unwrap();
        let blck: libloading::Symbol<unsafe extern "C" fn(i32) -> i64> = lib.get(b"ggml_blck_size").unwrap();
        let tsize: libloading::Symbol<unsafe extern "C" fn(i32) -> usize> = lib.get(b"ggml_type_size").unwrap();
        let gguf_free: libloading::Symbol<unsafe extern "C" fn(*mut c_void)> = lib.get(b"gguf_free").unwrap();
        let ggml_free: libloading::Symbol<unsafe extern "C" fn(*mut c_void)> = lib.get(b"ggml_free").unwrap();

        let cpath = CString::new(file.to_str().unwrap()).unwrap();
        let mut meta: *mut c_void = std::ptr::null_mut();
        let g = init(cpath.as_ptr(), GgufInitParams { no_alloc: true, ctx: &mut meta });
        if g.is_null() {
            println!("GGML_RESULT reject");
            return;
        }
        let n = n_tensors(g);
        let doff = data_offset(g) as u64;
        let (mut out_of_bounds, mut wrong_size) = (Vec::new(), Vec::new());
        let mut t = if meta.is_null() { std::ptr::null_mut() } else { first(meta) };
        for i in 0..n {
            let (off, size, ty) = (t_offset(g, i) as u64, t_size(g, i) as u64, t_type(g, i));
            // llama-model-loader: offs = data offset + tensor offset; offs + nbytes must not wrap
            // and must be <= the file size.
            let in_bounds = doff.checked_add(off).and_then(|o| o.checked_add(size)).is_some_and(|e| e <= file_len);
            if !in_bounds {
                out_of_bounds.push(i);
            }
            if !t.is_null() {
                // The size the shape needs, divide first, in 128-bit arithmetic (None: > 2^128).
                let ne = (*(t as *const TensorHead)).ne;
                let need = ne[1..]
                    .iter()
                    .try_fold(ne[0] as u128 / blck(ty) as u128 * tsize(ty) as u128, |n, &d| n.checked_mul(d as u128));
                if need != Some(size as u128) {
                    let need = need.map_or("more than 2^128".to_string(), |n| n.to_string());
                    wrong_size.push(format!("#{i} {ne:?}: ggml_nbytes {size}, the shape needs {need}"));
                }
                t = next(meta, t);
            }
        }
        println!(
            "GGML_RESULT accept tensors={n} out_of_bounds={out_of_bounds:?} wrong_size={}",
            if wrong_size.is_empty() { "-".to_string() } else { wrong_size.join("; ") }
        );
        gguf_free(g);
        if !meta.is_null() {
            ggml_free(meta);
        }
    }
}

/// Run the child on `file`: (verdict, detail).
fn ggml_on(file: &Path) -> (Result<Ggml, String>, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["ggml_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("BG_GGML_CHILD_FILE", file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    // ggml's own message: its first "gguf_" line on stderr.
    let msg = err.lines().find(|l| l.contains("gguf_")).unwrap_or("").trim().to_string();
    let Some(status) = status else { return (Err("hangs (killed after 60 s)".into()), msg) };
    let Some(line) = out.lines().find_map(|l| l.find("GGML_RESULT ").map(|i| &l[i + 12..])) else {
        use std::os::unix::process::ExitStatusExt;
        let why = match status.signal() {
            Some(sig) => format!("crashes (signal {sig})"),
            None => format!("child failed ({status}): {}", err.lines().last().unwrap_or("")),
        };
        return (Err(why), msg);
    };
    let verdict = if line == "reject" {
        Ggml::Rejects
    } else if !line.contains("wrong_size=-") {
        Ggml::AcceptsWrongSize
    } else if !line.contains("out_of_bounds=[]") {
        Ggml::AcceptsLoaderRejects
    } else {
        Ggml::Accepts
    };
    let detail = if verdict == Ggml::Rejects { msg } else { line.to_string() };
    (Ok(verdict), detail)
}

fn ggml_lib() -> Option<PathBuf> {
    let why = match std::env::var_os("BG_GGML_LIB") {
        Some(p) if Path::new(&p).is_file() => return Some(PathBuf::from(p)),
        Some(p) => format!("BG_GGML_LIB={} does not exist", p.to_string_lossy()),
        None => "BG_GGML_LIB is not set (libggml-base.so from libggml-python)".to_string(),
    };
    if std::env::var("BG_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("BG_REQUIRE_ORACLES=1 but real ggml is unavailable: {why}");
    }
    eprintln!("SKIPPED: ggml_behaviour_on_the_malicious_corpus: {why}");
    None
}

#[test]
fn ggml_behaviour_on_the_malicious_corpus() {
    if ggml_lib().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut table = String::from(
        "| case | bitgguf | real ggml (gguf_init_from_file, no_alloc, + llama loader bounds) | detail |\n|---|---|---|---|\n",
    );
    let mut mismatches = Vec::new();
    for c in cases() {
        let d = dir.path().join(c.name);
        std::fs::create_dir_all(&d).unwrap();
        for (name, bytes) in &c.files {
            std::fs::write(d.join(name), bytes).unwrap();
        }
        let (got, detail) = ggml_on(&d.join(&c.files[0].0));
        let shown = match &got {
            Ok(v) => format!("{v:?}"),
            Err(e) => e.clone(),
        };
        let detail: String = detail.replace('|', "/").chars().take(140).collect();
        table.push_str(&format!("| {} | {:?} | {shown} | {detail} |\n", c.name, c.expect));
        if got != Ok(c.ggml) {
            mismatches.push(format!("{}: recorded {:?}, observed {shown} ({detail})", c.name, c.ggml));
        }
    }
    println!("{table}");
    assert!(mismatches.is_empty(), "real ggml behaves differently than recorded:\n{}", mismatches.join("\n"));
}
