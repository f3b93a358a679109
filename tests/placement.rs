//! Planner tests with made-up devices: 1, 2 and 4 GPUs, tiny budgets, tensor_split, a tensor
//! larger than every budget, the hybrid and CPU strategies, and the fallback chain.

use bitgguf::device::{DeviceId, DeviceMemoryInfo, Materialize};
use bitgguf::model::roles::{classify, TensorRole};
use bitgguf::placement::*;
use bitgguf::Status;

const MB: u64 = 1 << 20;

fn gpu(i: u32, free: u64) -> DeviceMemoryInfo {
    DeviceMemoryInfo { id: DeviceId::Cuda(i), name: format!("fake{i}"), total: free, free, budget_fraction: 1.0 }
}

fn host(free: u64) -> DeviceMemoryInfo {
    DeviceMemoryInfo { id: DeviceId::Cpu, name: "host".into(), total: free, free, budget_fraction: 1.0 }
}

fn t(name: &str, bytes: u64, zero_copy: bool) -> TensorSummary {
    let r = classify(name);
    TensorSummary {
        name: name.into(),
        role: r.role,
        layer: r.layer,
        materialize: Materialize::Packed,
        bytes,
        zero_copy,
    }
}

/// A llama-like model: embeddings 8 MB, output 8 MB, output norm, `layers` layers of 4 MB
/// attention + 6 MB ffn + 2 small norms.
fn model(layers: u32, zero_copy: bool) -> ModelSummary {
    let mut v = vec![t("token_embd.weight", 8 * MB, zero_copy)];
    for l in 0..layers {
        v.push(t(&format!("blk.{l}.attn_norm.weight"), 4096, zero_copy));
        v.push(t(&format!("blk.{l}.attn_q.weight"), 4 * MB, zero_copy));
        v.push(t(&format!("blk.{l}.ffn_norm.weight"), 4096, zero_copy));
        v.push(t(&format!("blk.{l}.ffn_down.weight"), 6 * MB, zero_copy));
    }
    v.push(t("output_norm.weight", 4096, zero_copy));
    v.push(t("output.weight", 8 * MB, zero_copy));
    ModelSummary { tensors: v, n_layers: layers }
}

fn layer_bytes() -> u64 {
    10 * MB + 2 * 4096
}

/// The device of each layer (all tensors of a layer on one device), asserting it is unique.
fn layer_devices(m: &ModelSummary, p: &Plan) -> Vec<DeviceId> {
    (0..m.n_layers)
        .map(|l| {
            let devs: Vec<DeviceId> =
                m.tensors.iter().zip(&p.tensors).filter(|(t, _)| t.layer == Some(l)).map(|(_, p)| p.device).collect();
            assert!(devs.windows(2).all(|w| w[0] == w[1]), "layer {l} is split: {devs:?}");
            devs[0]
        })
        .collect()
}

fn check_totals(m: &ModelSummary, p: &Plan) {
    for d in &p.devices {
        let (mut used, mut mapped, mut n) = (0, 0, 0);
        for (t, tp) in m.tensors.iter().zip(&p.tensors) {
            if tp.device == d.info.id {
                n += 1;
                if tp.zero_copy() {
                    mapped += t.bytes;
                } else {
                    used += t.bytes;
                }
            }
        }
        assert_eq!((d.used, d.mapped, d.tensors), (used, mapped, n), "{:?}", d.info.id);
        if let Some(b) = d.budget {
            assert!(d.used <= b, "{:?} over budget: {} > {b}", d.info.id, d.used);
        }
    }
}

#[test]
fn one_gpu_that_fits_everything() {
    let m = model(4, false);
    let p = make_plan(&GpuOptimized::default(), &m, &[gpu(0, 1 << 30)]).unwrap();
    check_totals(&m, &p);
    assert!(p.tensors.iter().all(|t| t.device == DeviceId::Cuda(0)));
    assert!(p.fallbacks.is_empty());
    assert_eq!(p.bytes_on(DeviceId::Cuda(0)), m.total_bytes());
}

#[test]
fn one_small_gpu_fills_layers_in_order_and_the_rest_goes_to_the_cpu() {
    let m = model(8, true);
    // Room for 3 layers (and a bit): layers 0..3 on the GPU, the rest on the CPU.
    let p = make_plan(&GpuOptimized::default(), &m, &[gpu(0, 3 * layer_bytes() + MB)]).unwrap();
    check_totals(&m, &p);
    let ld = layer_devices(&m, &p);
    assert_eq!(&ld[..3], &[DeviceId::Cuda(0); 3]);
    // Later layers stay whole on the CPU.
    assert_eq!(&ld[3..], &[DeviceId::Cpu; 5]);
    // Every fallback is GPU -> CPU over budget, and the CPU ones are zero-copy.
    assert!(!p.fallbacks.is_empty());
    for f in &p.fallbacks {
        assert_eq!((f.from, f.to), (DeviceId::Cuda(0), DeviceId::Cpu));
        assert!(matches!(f.reason, FallbackReason::OverBudget { .. }), "{f}");
    }
    assert!(p.tensors.iter().filter(|t| t.device == DeviceId::Cpu).all(|t| t.zero_copy()));
}

#[test]
fn two_gpus_proportional_split() {
    let m = model(8, false);
    // Budget ratio 1:3 with room for everything: about 2 layers on GPU 0 and 6 on GPU 1.
    let total = m.total_bytes();
    let p = make_plan(&GpuOptimized::default(), &m, &[gpu(0, total / 2), gpu(1, 3 * total / 2)]).unwrap();
    check_totals(&m, &p);
    let ld = layer_devices(&m, &p);
    let on0 = ld.iter().filter(|d| **d == DeviceId::Cuda(0)).count();
    assert!((1..=3).contains(&on0), "{ld:?}");
    // Layers are contiguous: GPU 0 takes the first ones.
    assert!(ld.windows(2).all(|w| w[0] <= w[1]), "{ld:?}");
    assert!(p.tensors.iter().all(|t| t.device != DeviceId::Cpu));
}

#[test]
fn explicit_tensor_split_across_four_gpus() {
    let m = model(8, false);
    let big = 1 << 34;
    let s = GpuOptimized { tensor_split: Some(vec![1.0, 1.0, 1.0, 1.0]), gpu_only: false };
    let p = make_plan(&s, &m, &[gpu(0, big), gpu(1, big), gpu(2, big), gpu(3, big)]).unwrap();
    check_totals(&m, &p);
    let ld = layer_devices(&m, &p);
    // 8 layers, an even split: each GPU gets about two layers; the embeddings' share makes
    // GPU 0 take one fewer.
    for g in 0..4 {
        let n = ld.iter().filter(|d| **d == DeviceId::Cuda(g)).count();
        assert!((1..=3).contains(&n), "GPU {g} got {n} layers: {ld:?}");
    }
    assert!(ld.windows(2).all(|w| w[0] <= w[1]), "{ld:?}");

    // All on GPU 2: split [0, 0, 1, 0].
    let s = GpuOptimized { tensor_split: Some(vec![0.0, 0.0, 1.0, 0.0]), gpu_only: false };
    let p = make_plan(&s, &m, &[gpu(0, big), gpu(1, big), gpu(2, big), gpu(3, big)]).unwrap();
    assert!(layer_devices(&m, &p).iter().all(|d| *d == DeviceId::Cuda(2)), "{:?}", layer_devices(&m, &p));

    // A split with the wrong number of entries is an invalid parameter.
    let s = GpuOptimized { tensor_split: Some(vec![1.0, 1.0]), gpu_only: false };
    let e = make_plan(&s, &m, &[gpu(0, big), gpu(1, big), gpu(2, big)]).unwrap_err();
    assert_eq!(e.status(), Status::InvalidParameter, "{e}");
    let s = GpuOptimized { tensor_split: Some(vec![f64::NAN, 1.0]), gpu_only: false };
    assert_eq!(make_plan(&s, &m, &[gpu(0, big), gpu(1, big)]).unwrap_err().status(), Status::InvalidParameter);
}

#[test]
fn fallback_chain_goes_to_the_next_gpu_then_the_cpu() {
    let m = model(6, false);
    // GPU 0 holds 2 layers, GPU 1 2 layers and the embeddings; the split wants all on GPU 0.
    let s = GpuOptimized { tensor_split: Some(vec![1.0, 0.0]), gpu_only: false };
    let room = 2 * layer_bytes() + 1024;
    let p = make_plan(&s, &m, &[host(1 << 34), gpu(0, room), gpu(1, room + 8 * MB)]).unwrap();
    check_totals(&m, &p);
    let ld = layer_devices(&m, &p);
    assert_eq!(
        ld,
        [DeviceId::Cuda(0), DeviceId::Cuda(0), DeviceId::Cuda(1), DeviceId::Cuda(1), DeviceId::Cpu, DeviceId::Cpu]
    );
    let chain: Vec<(Option<usize>, DeviceId, DeviceId)> =
        p.fallbacks.iter().map(|f| (f.tensor, f.from, f.to)).collect();
    // The embeddings (tensor 0) wanted GPU 0, which was full: the next GPU took them.
    assert!(chain.contains(&(Some(0), DeviceId::Cuda(0), DeviceId::Cuda(1))), "{chain:?}");
    // The output head wanted the last layer's GPU: full, GPU 0 full, so the CPU.
    let out = m.tensors.len() - 1;
    assert!(chain.contains(&(Some(out), DeviceId::Cuda(1), DeviceId::Cpu)), "{chain:?}");
    assert_eq!(p.tensors[out].device, DeviceId::Cpu);
    let on = |d| p.tensors.iter().filter(|t| t.device == d).count();
    assert!(on(DeviceId::Cuda(0)) > 0 && on(DeviceId::Cuda(1)) > 0 && on(DeviceId::Cpu) > 0);
}

#[test]
fn tiny_budgets_put_everything_on_the_cpu() {
    let m = model(3, true);
    let p = make_plan(&GpuOptimized::default(), &m, &[gpu(0, 1000), gpu(1, 2000)]).unwrap();
    check_totals(&m, &p);
    assert!(p.tensors.iter().all(|t| t.device == DeviceId::Cpu && t.zero_copy()));
    assert_eq!(p.fallbacks.len(), m.tensors.len());
    assert_eq!(p.bytes_on(DeviceId::Cpu), m.total_bytes());
}

#[test]
fn budget_fraction_limits_the_gpu() {
    let m = model(4, true);
    let mut g = gpu(0, 10 * layer_bytes());
    g.budget_fraction = 0.25; // room for 2.5 layers
    let p = make_plan(&GpuOptimized::default(), &m, &[g]).unwrap();
    check_totals(&m, &p);
    assert_eq!(p.device(DeviceId::Cuda(0)).unwrap().budget, Some((10 * layer_bytes()) / 4));
    assert_eq!(&layer_devices(&m, &p)[..2], &[DeviceId::Cuda(0); 2]);
}

#[test]
fn a_tensor_larger_than_every_budget() {
    // Decoded tensors (not zero-copy) with a host budget: the embedding fits nowhere.
    let mut m = model(2, false);
    m.tensors[0].bytes = 100 * MB;
    for s in [&GpuOptimized::default() as &dyn DevicePlacementStrategy, &Hybrid::default(), &CpuOptimized] {
        let e = make_plan(s, &m, &[host(64 * MB), gpu(0, 32 * MB), gpu(1, 32 * MB)]).unwrap_err();
        assert_eq!(e.status(), Status::TensorTooLarge, "{}: {e}", s.name());
        assert!(e.message().contains("token_embd.weight") && e.message().contains("104857600"), "{e}");
    }
    // gpu_only refuses the CPU even when the host could take it.
    let s = GpuOptimized { tensor_split: None, gpu_only: true };
    let e = make_plan(&s, &m, &[host(1 << 34), gpu(0, 32 * MB)]).unwrap_err();
    assert_eq!(e.status(), Status::TensorTooLarge, "{e}");
    // Zero-copy on the CPU: a mapped tensor always fits the host.
    let mut m = model(2, true);
    m.tensors[0].bytes = 100 * MB;
    let p = make_plan(&GpuOptimized::default(), &m, &[host(MB), gpu(0, 32 * MB)]).unwrap();
    assert_eq!(p.tensors[0].device, DeviceId::Cpu);
}

#[test]
fn budgets_that_run_out_fail_with_budget_exceeded() {
    let m = model(4, false); // ~56 MB, every tensor at most 8 MB
    let e = make_plan(&GpuOptimized::default(), &m, &[host(20 * MB), gpu(0, 20 * MB)]).unwrap_err();
    assert_eq!(e.status(), Status::BudgetExceeded, "{e}");
    assert!(e.message().contains("fallback chain"), "{e}");
}

#[test]
fn hybrid_keeps_embeddings_norms_and_output_on_the_cpu() {
    let m = model(6, true);
    let big = 1 << 34;
    let p = make_plan(&Hybrid::default(), &m, &[gpu(0, big), gpu(1, big)]).unwrap();
    check_totals(&m, &p);
    for (t, tp) in m.tensors.iter().zip(&p.tensors) {
        let cpu = matches!(t.role, TensorRole::Embedding | TensorRole::Norm | TensorRole::Output);
        assert_eq!(tp.device == DeviceId::Cpu, cpu, "{} on {:?}", t.name, tp.device);
    }
    assert!(p.fallbacks.is_empty());
    // n_gpu_layers = 2: only the last two layers' weights go to GPUs.
    let h = Hybrid { n_gpu_layers: Some(2), tensor_split: None };
    let p = make_plan(&h, &m, &[gpu(0, big)]).unwrap();
    for (t, tp) in m.tensors.iter().zip(&p.tensors) {
        let gpu = t.layer.is_some_and(|l| l >= 4) && !matches!(t.role, TensorRole::Norm);
        assert_eq!(tp.device == DeviceId::Cuda(0), gpu, "{}", t.name);
    }
}

#[test]
fn cpu_strategy_and_no_gpu() {
    let m = model(2, true);
    let p = make_plan(&CpuOptimized, &m, &[gpu(0, 1 << 34)]).unwrap();
    assert!(p.tensors.iter().all(|t| t.device == DeviceId::Cpu && t.zero_copy()));
    assert!(p.fallbacks.is_empty());
    assert_eq!(p.device(DeviceId::Cpu).unwrap().used, 0);
    // GPU strategies without GPUs: everything on the CPU, one plan-wide NoDevice fallback.
    for s in [&GpuOptimized::default() as &dyn DevicePlacementStrategy, &Hybrid::default()] {
        let p = make_plan(s, &m, &[]).unwrap();
        assert!(p.tensors.iter().all(|t| t.device == DeviceId::Cpu));
        assert_eq!(p.fallbacks.len(), 1);
        assert_eq!(p.fallbacks[0].reason, FallbackReason::NoDevice);
        assert_eq!(p.fallbacks[0].tensor, None);
    }
}

#[test]
fn reassign_after_an_allocation_failure() {
    let m = model(4, true);
    let big = 1 << 34;
    let mut p = make_plan(&GpuOptimized::default(), &m, &[gpu(0, big), gpu(1, big)]).unwrap();
    let i = m.tensors.iter().position(|t| t.name == "blk.0.attn_q.weight").unwrap();
    let from = p.tensors[i].device;
    let next = p.reassign(i, FallbackReason::AllocationFailed("fake OOM".into())).unwrap();
    assert_ne!(next, from);
    assert!(p.device(from).unwrap().exhausted);
    assert_eq!(p.fallbacks.last().unwrap().reason, FallbackReason::AllocationFailed("fake OOM".into()));
    check_totals(&m, &p);
    // Both GPUs exhausted: the CPU (zero-copy) takes it.
    let j = m.tensors.iter().position(|t| t.name == "blk.1.attn_q.weight").unwrap();
    p.tensors[j].device = next; // pretend it was planned on the second GPU
    let d = p.reassign(j, FallbackReason::AllocationFailed("again".into()));
    assert_eq!(d, Some(DeviceId::Cpu));
}
