//! `bitgguf demo`: the showcase, with no arguments and no network, in a few seconds:
//! 1. synthesize the `tiny` BitNet model in I2_S (`bitgguf::synth`, seed 42) into a temp file;
//! 2. load it with the progressive loader and automatic placement (the GPU strategy: GPUs when
//!    the tool is built with feature `gpu` and one is present, else the CPU, and the plan says
//!    why), and print the per-device summary;
//! 3. cross-validate it against the C++ reference cpp_ref (feature `crossval`);
//! 4. transcode it losslessly to TQ2_0 (`bitgguf::convert`), reload the result the same way and
//!    check that every tensor decodes to the same f32 values, bit for bit;
//! 5. print a report. Exit 0 only if every step succeeded, 4 if a check failed.
//!
//! The temp files are removed at the end, also when a step fails.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bitgguf::convert::{convert_file, Action, ConvertOptions};
use bitgguf::load::{LoadConfig, LoadedModel, StrategyChoice};
use bitgguf::placement::GpuOptimized;
use bitgguf::quant::output::OutType;
use bitgguf::synth::{self, Preset, SynthOptions};
use bitgguf::types::{self, TypeId};
use bitgguf::{Error, Model};

use crate::load::{loader, mb, write_devices};
use crate::{out_err, CliError};

/// The demo's seed (the synth default, fixed here so the demo ignores `BITNET_SEED`).
const SEED: u64 = 42;

/// Exit code when a check fails (as `bitgguf crossval` / `validate`).
const EXIT_CHECK: u8 = crate::EXIT_CHECK;

/// Removes the file when dropped, so the demo leaves nothing behind even when it fails.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp(suffix: &str) -> TempFile {
    TempFile(std::env::temp_dir().join(format!("bitgguf-demo-{}.{suffix}.gguf", std::process::id())))
}

fn ms_f(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn type_name(id: TypeId) -> &'static str {
    types::info(id).map_or("?", |t| t.name)
}

/// Bits per weight of the tensors of type `ty`.
fn bits_per_weight(m: &Model, ty: TypeId) -> f64 {
    let (bytes, n) = m
        .tensors()
        .filter(|t| t.info.ty.id == ty)
        .fold((0u64, 0u64), |(b, n), t| (b + t.info.n_bytes, n + t.info.n_elements));
    bytes as f64 * 8.0 / n.max(1) as f64
}

/// Load `path` with the progressive loader, automatic placement.
fn load(path: &Path) -> Result<LoadedModel, CliError> {
    let cfg = LoadConfig {
        strategy: StrategyChoice::Gpu(GpuOptimized { tensor_split: None, gpu_only: false }),
        ..LoadConfig::default()
    };
    loader(cfg).load(path, &mut |_| true).map_err(|e| CliError::Lib(e.context(path.display())))
}

/// Tensor `i` of `m` decoded to f32 (little-endian bytes), from the model's own bytes.
fn decoded(m: &Model, i: usize) -> Result<Vec<u8>, Error> {
    let t = m.tensor(i).expect("index in range").info;
    let rows = t.n_elements / t.ne[0].max(1);
    let mut dst = vec![0u8; t.n_elements as usize * 4];
    m.decode_rows(i, 0..rows, OutType::F32, &mut dst)?;
    Ok(dst)
}

/// The first tensor of `a` whose name, shape or decoded values differ in `b` (`None`: all equal).
fn first_difference(a: &Model, b: &Model) -> Result<Option<String>, Error> {
    if a.tensor_count() != b.tensor_count() {
        return Ok(Some(format!("{} tensors vs {}", a.tensor_count(), b.tensor_count())));
    }
    for i in 0..a.tensor_count() {
        let (ta, tb) = (a.tensor(i).expect("in range").info, b.tensor(i).expect("in range").info);
        if ta.name != tb.name || ta.ne != tb.ne {
            return Ok(Some(format!("tensor #{i}: '{}' {:?} vs '{}' {:?}", ta.name, ta.ne, tb.name, tb.ne)));
        }
        let (va, vb) = (decoded(a, i)?, decoded(b, i)?);
        if let Some(j) = va.chunks_exact(4).zip(vb.chunks_exact(4)).position(|(x, y)| x != y) {
            return Ok(Some(format!("tensor '{}': element {j} differs", ta.name)));
        }
    }
    Ok(None)
}

/// Step 3: `(passed, line)`.
#[cfg(feature = "crossval")]
fn crossval(m: &Model) -> (bool, String) {
    use bitgguf::crossval::{CrossvalOptions, GgufCrossValidator};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = CrossvalOptions { threads, ..CrossvalOptions::default() };
    let r = GgufCrossValidator::new(m, opts).check_all();
    let pass = r.passes(false);
    (pass, format!("crossval: {} against cpp_ref, every element: {}", r.summary(), if pass { "PASS" } else { "FAIL" }))
}

#[cfg(not(feature = "crossval"))]
fn crossval(_m: &Model) -> (bool, String) {
    (true, "crossval: not compiled (build with --features crossval)".to_string())
}

/// Run the demo: `Ok(0)` when every step succeeded, `Ok(4)` when a check failed. With `json`,
/// the report is one JSON object on stdout instead of the text: {"seed", "synth", "load",
/// "crossval", "transcode", "files", "ms", "ok"}.
pub fn run(json: bool) -> Result<u8, CliError> {
    let (i2s, tq2) = (temp("i2_s"), temp("tq2_0"));
    let tq2_0 = types::from_name("tq2_0").expect("tq2_0 is in the type table").id;
    let mut out = io::stdout().lock();
    let mut w = |s: String| if json { Ok(()) } else { writeln!(out, "{s}").map_err(out_err) };
    w(format!("bitgguf demo: the synthetic BitNet model 'tiny', seed {SEED}, no network"))?;

    // 1. Synthesize.
    let t = Instant::now();
    let opts = SynthOptions { seed: SEED, ..SynthOptions::new(Preset::Tiny, types::I2_S) };
    let s = synth::synthesize_to_path(&opts, &i2s.0, &mut |_, _| {})?;
    let t_synth = t.elapsed();
    w(format!(
        "[1/4] synth: {} tensors, {} bytes, i2_s linear weights ({})",
        s.tensors.len(),
        s.file_size,
        ms(t_synth)
    ))?;

    // 2. Load with automatic placement.
    let t = Instant::now();
    let a = load(&i2s.0)?;
    let t_load = t.elapsed();
    let gpus = a.plan().gpu_tensors();
    let (n_tensors, n_layers, strategy) =
        (a.model().tensor_count(), a.config().n_layers, a.plan().strategy.to_string());
    let a_devices: Vec<(String, usize, u64)> = a
        .plan()
        .devices
        .iter()
        .map(|d| (bitgguf::placement::dev_name(d.info.id), d.tensors, d.used + d.mapped))
        .collect();
    w(format!(
        "[2/4] load: {} tensors, {} layers, strategy {} ({} on GPUs) ({})",
        a.model().tensor_count(),
        a.config().n_layers,
        a.plan().strategy,
        gpus,
        ms(t_load)
    ))?;
    if !json {
        write_devices(&mut io::stdout().lock(), &a).map_err(out_err)?;
    }

    // 3. Cross-validate.
    let t = Instant::now();
    let (crossval_ok, line) = crossval(a.model());
    let t_crossval = t.elapsed();
    w(format!("[3/4] {line} ({})", ms(t_crossval)))?;

    // 4. Transcode to TQ2_0, reload, compare every value.
    let t = Instant::now();
    let r = convert_file(&i2s.0, &tq2.0, &ConvertOptions::new(tq2_0), &mut |_| true)?;
    let b = load(&tq2.0)?;
    let diff = first_difference(a.model(), b.model())?;
    let t_transcode = t.elapsed();
    let transcoded = r.tensors.iter().filter(|t| t.action == Action::Transcoded).count();
    let exact = r.exact() && diff.is_none() && transcoded > 0;
    w(format!(
        "[4/4] transcode: i2_s -> {}: {transcoded} tensors transcoded, reloaded: {} of {} tensors decode to the \
         same f32 values: {} ({})",
        type_name(tq2_0),
        if diff.is_none() { b.model().tensor_count() } else { 0 },
        a.model().tensor_count(),
        if exact { "exact".to_string() } else { format!("NOT EXACT: {}", diff.as_deref().unwrap_or("lossy")) },
        ms(t_transcode)
    ))?;

    // 5. Report.
    w("report:".into())?;
    let bpw = [bits_per_weight(a.model(), types::I2_S), bits_per_weight(b.model(), tq2_0)];
    for ((ty, size), bits) in [(types::I2_S, s.file_size), (tq2_0, r.file_bytes)].into_iter().zip(bpw) {
        w(format!("  {:<6} file {:>9} ({size} bytes), linear weights {bits:.4} bits/weight", type_name(ty), mb(size)))?;
    }
    let total = t_synth + t_load + t_crossval + t_transcode;
    w(format!(
        "  time: synth {}, load {}, crossval {}, transcode+reload+compare {}; total {}",
        ms(t_synth),
        ms(t_load),
        ms(t_crossval),
        ms(t_transcode),
        ms(total)
    ))?;
    drop((a, b));
    let shown = format!("{} and {}", i2s.0.display(), tq2.0.display());
    drop((i2s, tq2));
    w(format!("removed {shown}"))?;
    let ok = crossval_ok && exact;
    w(format!("result: {}", if ok { "every step succeeded" } else { "a check FAILED" }))?;
    if json {
        let devices: Vec<_> = a_devices
            .iter()
            .map(|(d, n, bytes)| serde_json::json!({"device": d, "tensors": n, "bytes": bytes}))
            .collect();
        let j = serde_json::json!({
            "seed": SEED,
            "synth": {"tensors": s.tensors.len(), "file_bytes": s.file_size, "type": "i2_s"},
            "load": {"tensors": n_tensors, "layers": n_layers, "strategy": strategy, "gpu_tensors": gpus,
                     "devices": devices},
            "crossval": {"compiled": cfg!(feature = "crossval"), "passed": crossval_ok, "summary": line},
            "transcode": {"to": type_name(tq2_0), "transcoded": transcoded, "exact": exact,
                          "difference": diff, "file_bytes": r.file_bytes},
            "files": [
                {"type": "i2_s", "bytes": s.file_size, "bits_per_weight": bpw[0]},
                {"type": type_name(tq2_0), "bytes": r.file_bytes, "bits_per_weight": bpw[1]},
            ],
            "ms": {"synth": ms_f(t_synth), "load": ms_f(t_load), "crossval": ms_f(t_crossval),
                   "transcode": ms_f(t_transcode), "total": ms_f(total)},
            "ok": ok,
        });
        writeln!(out, "{j}").map_err(out_err)?;
    }
    Ok(if ok { 0 } else { EXIT_CHECK })
}
