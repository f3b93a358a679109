//! The progressive loader: materialization in every read mode and output type against the
//! codecs, progress reports, cancellation at every phase (nothing leaked), and a fake GPU
//! backend (host memory pretending to be GPUs) with an injected out-of-memory mid-load.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bitgguf::device::cpu::thread_net_host_buffers;
use bitgguf::device::{DeviceBackend, DeviceId, DeviceMemoryInfo, DeviceTensor, Materialize, TensorUpload};
use bitgguf::gguf::{GgufWriter, OwnedValue};
use bitgguf::load::*;
use bitgguf::model::roles::TensorRole;
use bitgguf::placement::{FallbackReason, GpuOptimized, Hybrid, OutputTypes};
use bitgguf::quant::float::f32_to_f16;
use bitgguf::quant::output::{decode_into, OutType};
use bitgguf::types::TypeId;
use bitgguf::{Error, Result, Status};

const F32: TypeId = 0;
const Q4_0: TypeId = 2;
const Q8_0: TypeId = 8;
const I2_S: TypeId = bitgguf::types::I2_S;

/// Deterministic values in [-1, 1).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn quantized(ty: TypeId, v: &[f32], row: u64) -> Vec<u8> {
    let (n, _) = bitgguf::quant::quantized_size(ty, v.len() as u64, row).unwrap();
    let mut out = vec![0u8; n];
    bitgguf::quant::quantize(ty, v, row, &mut out).unwrap();
    out
}

/// A small llama-shaped model: f32 norms, q8_0 embeddings/attention/output, q4_0 ffn.
fn write_model(path: &Path, layers: u32) -> Vec<(String, TypeId, Vec<u64>, Vec<f32>)> {
    let (e, ff, vocab) = (64u64, 128u64, 40u64);
    let mut specs: Vec<(String, TypeId, Vec<u64>)> = vec![("token_embd.weight".into(), Q8_0, vec![e, vocab])];
    for l in 0..layers {
        specs.push((format!("blk.{l}.attn_norm.weight"), F32, vec![e]));
        specs.push((format!("blk.{l}.attn_q.weight"), Q8_0, vec![e, e]));
        specs.push((format!("blk.{l}.attn_k.weight"), I2_S, vec![2 * e, e / 2]));
        specs.push((format!("blk.{l}.ffn_norm.weight"), F32, vec![e]));
        specs.push((format!("blk.{l}.ffn_up.weight"), Q4_0, vec![e, ff]));
        specs.push((format!("blk.{l}.ffn_down.weight"), Q4_0, vec![ff, e]));
    }
    specs.push(("output_norm.weight".into(), F32, vec![e]));
    specs.push(("rope_freqs.weight".into(), F32, vec![e / 2]));
    specs.push(("output.weight".into(), Q8_0, vec![e, vocab]));
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"));
    w.kv("llama.block_count", OwnedValue::U32(layers));
    w.kv("llama.embedding_length", OwnedValue::U32(e as u32));
    let mut out = Vec::new();
    for (k, (name, ty, ne)) in specs.into_iter().enumerate() {
        let n: u64 = ne.iter().product();
        let v = values(k as u64 + 1, n as usize);
        use bitgguf::quant::bitnet::{i2s, Ternarizer};
        let bytes = match ty {
            F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            I2_S => i2s::quantize_i2s(&v, Ternarizer::Absmean, i2s::I2sLayout::Group128, i2s::TailFill::Zero).unwrap(),
            _ => quantized(ty, &v, ne[0]),
        };
        w.tensor(name.clone(), ty, &ne, bytes);
        out.push((name, ty, ne, v));
    }
    let mut f = std::fs::File::create(path).unwrap();
    w.write_to(&mut f).unwrap();
    out
}

/// Tensor `i` of `m` decoded by the model's codec (upstream types: `decode_into`, checked
/// against it; I2_S: the tensor codec, whose values the §9 vectors and cpp_ref check).
fn decoded(m: &bitgguf::Model, i: usize, out: OutType) -> Vec<u8> {
    let t = m.tensor(i).unwrap().info;
    let mut d = vec![0u8; (t.n_elements * out.size()) as usize];
    m.codec(i).unwrap().decode(m.tensor_data(i).unwrap(), out, &mut d).unwrap();
    if t.ty.id != I2_S {
        let mut e = vec![0u8; d.len()];
        decode_into(t.ty.id, m.tensor_data(i).unwrap(), t.n_elements, out, &mut e).unwrap();
        assert_eq!(d, e);
    }
    d
}

fn config(strategy: StrategyChoice, out: Materialize, mode: ReadMode) -> LoadConfig {
    LoadConfig {
        strategy,
        outputs: OutputTypes::all(out),
        read_mode: mode,
        devices: Some(vec![]),
        ..LoadConfig::default()
    }
}

#[test]
fn cpu_loads_in_every_mode_and_output_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let specs = write_model(&path, 3);
    let reference = bitgguf::Model::open(&path, &Default::default()).unwrap();
    for mode in [ReadMode::Mmap, ReadMode::Pread] {
        for out in [
            Materialize::Packed,
            Materialize::Decoded(OutType::F32),
            Materialize::Decoded(OutType::F16),
            Materialize::Decoded(OutType::Bf16),
        ] {
            let l = ProgressiveGgufLoader::new(config(StrategyChoice::Cpu, out, mode));
            let m = l.load(&path, &mut |_| true).unwrap();
            assert_eq!(m.model().tensor_count(), specs.len());
            assert_eq!(m.config().n_layers, 3);
            for (i, (name, ty, ne, v)) in specs.iter().enumerate() {
                let t = m.model().tensor(i).unwrap();
                assert_eq!(t.info.name, name);
                let packed = reference.tensor_data(i).unwrap();
                let got = m.host_bytes(i).unwrap();
                let n: u64 = ne.iter().product();
                let want = match out {
                    Materialize::Packed => packed.to_vec(),
                    Materialize::Decoded(o) => decoded(&reference, i, o),
                };
                assert_eq!(n, t.info.n_elements);
                assert!(got == want.as_slice(), "{mode:?} {out:?} {name}");
                // f32 sources decoded to f16 round as ggml does.
                if *ty == F32 && out == Materialize::Decoded(OutType::F16) {
                    let exp: Vec<u8> = v.iter().flat_map(|x| f32_to_f16(*x).to_le_bytes()).collect();
                    assert_eq!(got, exp.as_slice(), "{name}");
                }
                let placed = m.plan().tensors[i];
                assert_eq!(placed.device, DeviceId::Cpu);
                assert_eq!(placed.zero_copy(), mode == ReadMode::Mmap && out == Materialize::Packed);
                assert!(matches!(
                    (m.resident(i).unwrap(), out),
                    (Resident::InModel, Materialize::Packed) | (Resident::Host(_), Materialize::Decoded(_))
                ));
                // The packed bytes stay readable through the model in every mode.
                assert_eq!(m.model().tensor_data(i).unwrap(), packed, "{mode:?} {out:?} {name}");
            }
            let stats = m.stats();
            if let Materialize::Decoded(o) = out {
                let total: u64 = specs.iter().map(|s| s.2.iter().product::<u64>() * o.size()).sum();
                assert_eq!(stats.host_allocated, total);
                assert_eq!(m.plan().device(DeviceId::Cpu).unwrap().used, total);
                if mode == ReadMode::Mmap {
                    assert_eq!(stats.released, reference.tensors().map(|t| t.info.n_bytes).sum::<u64>());
                }
            }
        }
    }
}

#[test]
fn output_type_per_role() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 2);
    let mut outputs = OutputTypes::all(Materialize::Packed);
    outputs.set(TensorRole::Norm, Materialize::Decoded(OutType::F32));
    outputs.set(TensorRole::FeedForward, Materialize::Decoded(OutType::F16));
    let cfg = LoadConfig { outputs, devices: Some(vec![]), ..LoadConfig::default() };
    let m = ProgressiveGgufLoader::new(cfg).load(&path, &mut |_| true).unwrap();
    for (i, t) in m.model().tensors().enumerate() {
        let want = if t.info.name.contains("norm") {
            Materialize::Decoded(OutType::F32)
        } else if t.info.name.contains("ffn_up") || t.info.name.contains("ffn_down") {
            Materialize::Decoded(OutType::F16)
        } else {
            Materialize::Packed
        };
        assert_eq!(m.plan().tensors[i].materialize, want, "{}", t.info.name);
    }
}

#[test]
fn progress_is_monotonic_complete_and_in_phase_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let specs = write_model(&path, 4);
    for mode in [ReadMode::Mmap, ReadMode::Pread] {
        let mut seen: Vec<Progress> = Vec::new();
        let l = ProgressiveGgufLoader::new(config(StrategyChoice::Cpu, Materialize::Decoded(OutType::F16), mode));
        let m = l
            .load(&path, &mut |p| {
                seen.push(*p);
                true
            })
            .unwrap();
        let total_bytes: u64 = m.model().tensors().map(|t| t.info.n_bytes).sum();
        assert!(seen.windows(2).all(|w| w[0].phase <= w[1].phase
            && w[0].tensors_done <= w[1].tensors_done
            && w[0].bytes_done <= w[1].bytes_done));
        let last = seen.last().unwrap();
        assert_eq!((last.tensors_done, last.tensors_total), (specs.len(), specs.len()));
        assert_eq!((last.bytes_done, last.bytes_total), (total_bytes, total_bytes));
        assert_eq!(
            seen[0],
            Progress {
                phase: Phase::Critical,
                tensors_done: 0,
                tensors_total: specs.len(),
                bytes_done: 0,
                bytes_total: total_bytes
            }
        );
        // Phase 1 holds exactly the embeddings, the output head and the output norm; phase 3
        // the rope frequencies (outside the layers, not critical).
        let p1 = seen.iter().filter(|p| p.phase == Phase::Critical).map(|p| p.tensors_done).max().unwrap();
        assert_eq!(p1, 3);
        let p2 = seen.iter().filter(|p| p.phase == Phase::Layers).map(|p| p.tensors_done).max().unwrap();
        assert_eq!(p2, 3 + 4 * 6);
        // Layer batches in order: the loader's batches are layer 0, 1, 2, 3.
        let b = batches(m.model());
        let layers: Vec<u32> = b
            .iter()
            .filter(|(p, _)| *p == Phase::Layers)
            .map(|(_, v)| bitgguf::model::roles::layer_of(m.model().tensor(v[0]).unwrap().info.name).unwrap())
            .collect();
        assert_eq!(layers, vec![0, 1, 2, 3]);
    }
}

#[test]
fn cancel_at_every_callback_frees_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 2);
    let backend = Arc::new(FakeGpus::new(&[1 << 30], usize::MAX));
    // Count the callbacks of a full load.
    let cfg = LoadConfig {
        strategy: StrategyChoice::Gpu(GpuOptimized::default()),
        outputs: OutputTypes::all(Materialize::Decoded(OutType::F16)),
        devices: None,
        ..LoadConfig::default()
    };
    let mut calls = 0usize;
    let full = ProgressiveGgufLoader::new(cfg.clone())
        .with_backend(backend.clone())
        .load(&path, &mut |_| {
            calls += 1;
            true
        })
        .unwrap();
    drop(full);
    assert_eq!(backend.live.load(Ordering::SeqCst), 0);
    let mut phases_cancelled = std::collections::BTreeSet::new();
    for mode in [ReadMode::Mmap, ReadMode::Pread] {
        for (strategy, out) in [
            (StrategyChoice::Cpu, Materialize::Decoded(OutType::F32)),
            (StrategyChoice::Gpu(GpuOptimized::default()), Materialize::Decoded(OutType::F16)),
            (StrategyChoice::Hybrid(Hybrid::default()), Materialize::Packed),
        ] {
            let cfg = LoadConfig { strategy, outputs: OutputTypes::all(out), read_mode: mode, ..cfg.clone() };
            for k in 0..calls {
                let before = thread_net_host_buffers();
                let mut n = 0usize;
                let r = ProgressiveGgufLoader::new(cfg.clone()).with_backend(backend.clone()).load(&path, &mut |p| {
                    n += 1;
                    if n == k + 1 {
                        phases_cancelled.insert(p.phase);
                        return false;
                    }
                    true
                });
                let e = r.unwrap_err();
                assert_eq!(e.status(), Status::Cancelled, "{e}");
                assert_eq!(backend.live.load(Ordering::SeqCst), 0, "device tensors leaked (cancel at call {k})");
                // Every host buffer this thread allocated was freed.
                assert_eq!(thread_net_host_buffers(), before, "host buffers leaked (cancel at call {k})");
            }
        }
    }
    assert_eq!(phases_cancelled.into_iter().collect::<Vec<_>>(), vec![Phase::Critical, Phase::Layers, Phase::Rest]);
}

// ---- a fake GPU backend ------------------------------------------------------------------

/// Host memory pretending to be GPUs: each has a capacity; allocation number `fail_at`
/// (0-based, over all devices) fails with OutOfMemory, and so does any past the capacity.
struct FakeGpus {
    caps: Vec<u64>,
    used: Mutex<HashMap<DeviceId, u64>>,
    allocs: AtomicUsize,
    fail_at: usize,
    live: Arc<AtomicUsize>,
    uploaded: AtomicU64,
}

impl FakeGpus {
    fn new(caps: &[u64], fail_at: usize) -> FakeGpus {
        FakeGpus {
            caps: caps.to_vec(),
            used: Mutex::new(HashMap::new()),
            allocs: AtomicUsize::new(0),
            fail_at,
            live: Arc::new(AtomicUsize::new(0)),
            uploaded: AtomicU64::new(0),
        }
    }

    fn alloc(&self, device: DeviceId, bytes: &[u8]) -> Result<Box<dyn DeviceTensor>> {
        let DeviceId::Cuda(g) = device else { panic!("the loader asked the GPU backend for the CPU") };
        let k = self.allocs.fetch_add(1, Ordering::SeqCst);
        let mut used = self.used.lock().unwrap();
        let u = used.entry(device).or_default();
        if k == self.fail_at || *u + bytes.len() as u64 > self.caps[g as usize] {
            return Err(Error::new(Status::OutOfMemory, format!("fake cuda:{g}: out of memory (allocation #{k})")));
        }
        *u += bytes.len() as u64;
        self.live.fetch_add(1, Ordering::SeqCst);
        self.uploaded.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Ok(Box::new(FakeTensor { device, data: bytes.to_vec(), live: self.live.clone() }))
    }
}

#[derive(Debug)]
struct FakeTensor {
    device: DeviceId,
    data: Vec<u8>,
    live: Arc<AtomicUsize>,
}

impl Drop for FakeTensor {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl DeviceTensor for FakeTensor {
    fn device(&self) -> DeviceId {
        self.device
    }
    fn device_ptr(&self) -> u64 {
        self.data.as_ptr() as u64
    }
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
}

impl DeviceBackend for FakeGpus {
    fn devices(&self) -> Result<Vec<DeviceMemoryInfo>> {
        Ok(self
            .caps
            .iter()
            .enumerate()
            .map(|(i, &c)| DeviceMemoryInfo {
                id: DeviceId::Cuda(i as u32),
                name: format!("fake{i}"),
                total: c,
                free: c,
                budget_fraction: 1.0,
            })
            .collect())
    }
    fn can_decode(&self, _ty: TypeId, out: Materialize) -> bool {
        out == Materialize::Packed
    }
    fn materialize(&self, device: DeviceId, t: &TensorUpload<'_>, out: Materialize) -> Result<Box<dyn DeviceTensor>> {
        assert_eq!(out, Materialize::Packed, "can_decode said no");
        self.alloc(device, t.packed)
    }
    fn upload(&self, device: DeviceId, bytes: &[u8]) -> Result<Box<dyn DeviceTensor>> {
        self.alloc(device, bytes)
    }
}

/// The bytes a fake device tensor holds.
fn fake_bytes(t: &dyn DeviceTensor) -> &[u8] {
    // SAFETY: FakeTensor's device pointer is the address of its own Vec, alive as long as `t`.
    unsafe { std::slice::from_raw_parts(t.device_ptr() as *const u8, t.len() as usize) }
}

#[test]
fn fake_gpus_hold_the_right_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 4);
    let reference = bitgguf::Model::open(&path, &Default::default()).unwrap();
    let backend = Arc::new(FakeGpus::new(&[1 << 30, 1 << 30], usize::MAX));
    for out in [Materialize::Packed, Materialize::Decoded(OutType::F16)] {
        let cfg = LoadConfig {
            strategy: StrategyChoice::Gpu(GpuOptimized::default()),
            outputs: OutputTypes::all(out),
            ..LoadConfig::default()
        };
        let m = ProgressiveGgufLoader::new(cfg).with_backend(backend.clone()).load(&path, &mut |_| true).unwrap();
        assert!(m.plan().fallbacks.is_empty(), "{:?}", m.plan().fallbacks);
        let mut on = [0usize; 2];
        for (i, t) in reference.tensors().enumerate() {
            let d = m.device_tensor(i).unwrap();
            let DeviceId::Cuda(g) = d.device() else { panic!() };
            on[g as usize] += 1;
            let want = match out {
                Materialize::Packed => reference.tensor_data(i).unwrap().to_vec(),
                Materialize::Decoded(o) => decoded(&reference, i, o),
            };
            assert_eq!(fake_bytes(d), want.as_slice(), "{}", t.info.name);
            assert_eq!(m.host_bytes(i).unwrap_err().status(), Status::WrongDevice);
        }
        // Equal budgets: the 4 layers (6 tensors each) split 2 / 2; the embeddings and
        // rope_freqs on GPU 0, the output head and its norm next to the last layer on GPU 1.
        assert_eq!(on, [14, 14]);
        drop(m);
        assert_eq!(backend.live.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn oom_mid_load_falls_back_to_the_next_gpu_then_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 4);
    let reference = bitgguf::Model::open(&path, &Default::default()).unwrap();
    let n = reference.tensor_count();
    // GPU 0's 5th allocation fails: it and everything after that was planned on GPU 0 moves
    // to GPU 1 (or the CPU where GPU 1 is out of room).
    for (fail_at, caps) in [(4usize, [1u64 << 30, 1 << 30]), (2, [1 << 30, 20_000])] {
        let backend = Arc::new(FakeGpus::new(&caps, fail_at));
        let cfg = LoadConfig {
            strategy: StrategyChoice::Gpu(GpuOptimized { tensor_split: Some(vec![1.0, 0.0]), gpu_only: false }),
            outputs: OutputTypes::all(Materialize::Packed),
            ..LoadConfig::default()
        };
        let m = ProgressiveGgufLoader::new(cfg).with_backend(backend.clone()).load(&path, &mut |_| true).unwrap();
        let fb = &m.plan().fallbacks;
        assert!(!fb.is_empty());
        let first = &fb[0];
        assert_eq!(first.from, DeviceId::Cuda(0));
        assert!(
            matches!(&first.reason, FallbackReason::AllocationFailed(msg) if msg.contains("out of memory")),
            "{first}"
        );
        assert!(m.plan().device(DeviceId::Cuda(0)).unwrap().exhausted);
        // Every tensor is where the plan now says, with the right bytes.
        for i in 0..n {
            let want = reference.tensor_data(i).unwrap();
            match m.plan().tensors[i].device {
                DeviceId::Cpu => assert_eq!(m.host_bytes(i).unwrap(), want),
                d => {
                    let t = m.device_tensor(i).unwrap();
                    assert_eq!(t.device(), d);
                    assert_eq!(fake_bytes(t), want);
                }
            }
        }
        if caps[1] < 1 << 20 {
            assert!(fb.iter().any(|f| f.to == DeviceId::Cpu), "{fb:?}");
        }
        // The totals follow the moves.
        for d in &m.plan().devices {
            let n_on = m.plan().tensors.iter().filter(|t| t.device == d.info.id).count();
            assert_eq!(d.tensors, n_on, "{:?}", d.info.id);
        }
    }
}

#[test]
fn without_a_backend_gpu_strategies_fall_back_to_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 2);
    let cfg = LoadConfig { strategy: StrategyChoice::Gpu(GpuOptimized::default()), ..LoadConfig::default() };
    let m = ProgressiveGgufLoader::new(cfg).load(&path, &mut |_| true).unwrap();
    assert_eq!(m.plan().fallbacks.len(), 1);
    assert_eq!(m.plan().fallbacks[0].reason, FallbackReason::NoDevice);
    assert!(m.plan().tensors.iter().all(|t| t.device == DeviceId::Cpu && t.zero_copy()));
}

#[test]
fn a_file_truncated_after_open_is_an_io_error_in_read_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 2);
    let model = bitgguf::Model::open_sparse(&path, &Default::default()).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 100).unwrap();
    let cfg = LoadConfig { read_mode: ReadMode::Pread, devices: Some(vec![]), ..LoadConfig::default() };
    let e = ProgressiveGgufLoader::new(cfg).load_model(model, &mut |_| true).unwrap_err();
    assert_eq!(e.status(), Status::Io, "{e}");
    assert!(e.message().contains("truncated") && e.message().contains("output.weight"), "{e}");
}

#[test]
fn read_mode_parses_headers_longer_than_the_first_read() {
    // A 3 MB metadata string pushes the data section past the 1 MiB first read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big_header.gguf");
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("llama"));
    w.kv("x.blob", OwnedValue::String(vec![b'a'; 3 << 20]));
    let v = values(9, 256);
    w.tensor("token_embd.weight", F32, &[256], v.iter().flat_map(|x| x.to_le_bytes()).collect());
    std::fs::write(&path, w.to_bytes().unwrap()).unwrap();
    let mapped = bitgguf::Model::open(&path, &Default::default()).unwrap();
    let mut sparse = bitgguf::Model::open_sparse(&path, &Default::default()).unwrap();
    assert_eq!(mapped.metadata().index().data_offset(), sparse.metadata().index().data_offset());
    sparse.fill_tensor(0).unwrap();
    assert_eq!(sparse.tensor_data(0), mapped.tensor_data(0));
    // An invalid file fails the same way in both modes.
    let mut bad = std::fs::read(&path).unwrap();
    bad[0] = b'X';
    std::fs::write(&path, &bad).unwrap();
    let a = bitgguf::Model::open(&path, &Default::default()).unwrap_err();
    let b = bitgguf::Model::open_sparse(&path, &Default::default()).unwrap_err();
    assert_eq!(a.status(), Status::BadMagic);
    assert_eq!(b.status(), Status::BadMagic);
}

#[test]
fn a_bitnet_tensor_with_a_negative_scale_fails_validation_in_every_mode() {
    use bitgguf::quant::bitnet::{i2s, Ternarizer};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("neg.gguf");
    let v = values(3, 256);
    let mut b = i2s::quantize_i2s(&v, Ternarizer::Absmean, i2s::I2sLayout::Group128, i2s::TailFill::Zero).unwrap();
    b[64..68].copy_from_slice(&(-1.0f32).to_le_bytes()); // the scale, right after the 64-byte payload
    let mut w = GgufWriter::new();
    w.kv("general.architecture", OwnedValue::str("bitnet-b1.58"));
    w.tensor("blk.0.ffn_up.weight", I2_S, &[128, 2], b);
    std::fs::write(&path, w.to_bytes().unwrap()).unwrap();
    for mode in [ReadMode::Mmap, ReadMode::Pread] {
        for out in [Materialize::Packed, Materialize::Decoded(OutType::F32)] {
            let e = ProgressiveGgufLoader::new(config(StrategyChoice::Cpu, out, mode))
                .load(&path, &mut |_| true)
                .unwrap_err();
            assert!(e.message().contains("blk.0.ffn_up.weight") && e.message().contains("scale"), "{e}");
        }
    }
}

#[test]
fn discovered_gpus_get_80_percent_of_their_free_memory_and_staging_stays_bounded() {
    // The defaults the issue names: GPU budgets 80 % of free VRAM, 256 MiB of staging.
    assert_eq!(LoadConfig::default().gpu_budget_fraction, 0.8);
    assert_eq!((LoadConfig::default().staging_bytes, DEFAULT_STAGING_BYTES), (256 << 20, 256 << 20));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_model(&path, 4);
    let reference = bitgguf::Model::open(&path, &Default::default()).unwrap();
    // The fake backend reports fraction 1.0: discovery replaces it with the configured one.
    let caps = [1000u64 << 20, 300 << 20];
    let backend = Arc::new(FakeGpus::new(&caps, usize::MAX));
    let cfg = LoadConfig {
        strategy: StrategyChoice::Gpu(GpuOptimized::default()),
        outputs: OutputTypes::all(Materialize::Decoded(OutType::F16)),
        devices: None,
        ..LoadConfig::default()
    };
    let l = ProgressiveGgufLoader::new(cfg.clone()).with_backend(backend.clone());
    let devs = l.devices().unwrap();
    assert_eq!(devs.iter().map(|d| d.id).collect::<Vec<_>>(), [DeviceId::Cpu, DeviceId::Cuda(0), DeviceId::Cuda(1)]);
    assert_eq!(devs[0].budget_fraction, DEFAULT_HOST_BUDGET_FRACTION);
    for (g, cap) in devs[1..].iter().zip(caps) {
        assert_eq!((g.free, g.budget_fraction), (cap, 0.8), "{g:?}");
    }
    let plan = l.plan(&reference).unwrap();
    for (k, cap) in caps.iter().enumerate() {
        let want = (*cap as f64 * 0.8) as u64;
        assert_eq!(plan.device(DeviceId::Cuda(k as u32)).unwrap().budget, Some(want));
    }
    // A configured fraction replaces the default; the CPU strategy asks the backend for nothing.
    let half = LoadConfig { gpu_budget_fraction: 0.5, ..cfg.clone() };
    let devs = ProgressiveGgufLoader::new(half).with_backend(backend.clone()).devices().unwrap();
    assert!(devs[1..].iter().all(|g| g.budget_fraction == 0.5), "{devs:?}");
    let cpu = LoadConfig { strategy: StrategyChoice::Cpu, ..cfg.clone() };
    assert_eq!(ProgressiveGgufLoader::new(cpu).with_backend(backend.clone()).devices().unwrap().len(), 1);

    // Staging: the fake GPUs cannot decode, so every decoded tensor passes through host
    // staging. With the default budget one buffer is reused, grown to the next power of two of
    // the largest tensor; with a budget smaller than some tensors, those get a buffer of their
    // own size and the reused one never exceeds the budget.
    let needs: Vec<usize> = reference.tensors().map(|t| (t.info.n_elements * 2) as usize).collect();
    let largest = *needs.iter().max().unwrap();
    let small_budget = 4096usize;
    assert!(needs.iter().any(|&n| n > small_budget) && needs.iter().any(|&n| n <= small_budget));
    for (budget, peak) in [(DEFAULT_STAGING_BYTES, largest.next_power_of_two()), (small_budget, largest)] {
        let before = thread_net_host_buffers();
        let c = LoadConfig { staging_bytes: budget, ..cfg.clone() };
        let m = ProgressiveGgufLoader::new(c).with_backend(backend.clone()).load(&path, &mut |_| true).unwrap();
        assert_eq!(m.stats().staging_peak, peak, "staging budget {budget}");
        assert!(m.stats().staging_peak <= budget.max(largest));
        // Staging is not kept: only the device tensors stay (no host buffer survives the load).
        assert_eq!(m.stats().host_allocated, 0);
        assert_eq!(thread_net_host_buffers(), before, "staging leaked (budget {budget})");
        for (i, &n) in needs.iter().enumerate() {
            let t = m.device_tensor(i).unwrap();
            assert_eq!(fake_bytes(t), decoded(&reference, i, OutType::F16).as_slice());
            assert_eq!(t.len(), n as u64);
        }
    }
}
