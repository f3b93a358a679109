//! `synth`: determinism (runs, thread counts, in-memory vs streamed), the 2B-4T layout of
//! bitnet-formats.md §3.9 / §7, every ternary type of `tiny` decoding to the same values, and the
//! file re-parsing with our reader and with gguf-py (scripts/gguf_py_dump.py, BG_PYTHON).

use std::path::Path;
use std::process::Command;

use bitgguf::gguf::Value;
use bitgguf::quant::bitnet::TlConfig;
use bitgguf::quant::output::OutType;
use bitgguf::synth::{self, plan_tensors, synthesize, synthesize_to_path, Preset, SynthOptions, SynthRole};
use bitgguf::types::{self, I2_S, TL1, TL2};
use bitgguf::{LoadOptions, Model, Status};

const TQ1_0: u32 = 34;
const TQ2_0: u32 = 35;

fn tiny(ty: u32) -> SynthOptions {
    SynthOptions::new(Preset::Tiny, ty)
}

#[test]
fn same_seed_same_bytes_across_runs_threads_and_sinks() {
    for ty in [I2_S, TL1, TL2, TQ2_0, 8 /* q8_0 */] {
        let a = synthesize(&tiny(ty)).unwrap();
        let b = synthesize(&tiny(ty)).unwrap();
        assert_eq!(a, b, "{ty}: two runs");
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        assert_eq!(one.install(|| synthesize(&tiny(ty)).unwrap()), a, "{ty}: 1 thread");
        assert_eq!(three.install(|| synthesize(&tiny(ty)).unwrap()), a, "{ty}: 3 threads");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.gguf");
        let mut calls = Vec::new();
        let s = synthesize_to_path(&tiny(ty), &p, &mut |d, t| calls.push((d, t))).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), a, "{ty}: streamed to a file");
        assert_eq!(s.file_size, a.len() as u64);
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "progress is monotonic");
        assert_eq!(calls.last(), Some(&(s.file_size, s.file_size)));
        let mut other = tiny(ty);
        other.seed = 43;
        assert_ne!(synthesize(&other).unwrap(), a, "{ty}: another seed");
        assert!(a.len() < 4 << 20, "tiny stays small: {} bytes", a.len());
    }
}

#[test]
fn bitnet_2b_4t_layout_matches_the_published_file() {
    // bitnet-formats.md §3.9 and §7.
    let plan = plan_tensors(&SynthOptions::new(Preset::Bitnet2b4t, I2_S)).unwrap();
    assert_eq!(plan.len(), 332);
    let count = |ty: u32| plan.iter().filter(|t| t.ty == ty).count();
    assert_eq!((count(I2_S), count(0), count(1)), (210, 121, 1));
    assert!(plan.iter().all(|t| t.name != "output.weight"), "tied LM head");
    let size = |name: &str| plan.iter().find(|t| t.name == name).unwrap().nbytes;
    let shape = |name: &str| plan.iter().find(|t| t.name == name).unwrap().ne.clone();
    assert_eq!(shape("token_embd.weight"), vec![2560, 128256]);
    assert_eq!(size("token_embd.weight"), 656_670_720);
    for (n, ne, bytes) in [
        ("attn_q", [2560, 2560], 1_638_432),
        ("attn_output", [2560, 2560], 1_638_432),
        ("attn_k", [2560, 640], 409_632),
        ("attn_v", [2560, 640], 409_632),
        ("ffn_gate", [2560, 6912], 4_423_712),
        ("ffn_up", [2560, 6912], 4_423_712),
        ("ffn_down", [6912, 2560], 4_423_712),
    ] {
        for l in [0, 29] {
            let name = format!("blk.{l}.{n}.weight");
            assert_eq!(shape(&name), ne.to_vec(), "{name}");
            assert_eq!(size(&name), bytes, "{name}");
        }
    }
    let layer: u64 = plan.iter().filter(|t| t.name.starts_with("blk.0.") && t.ty == I2_S).map(|t| t.nbytes).sum();
    assert_eq!(layer, 17_367_264);
    let i2s: u64 = plan.iter().filter(|t| t.ty == I2_S).map(|t| t.nbytes).sum();
    assert_eq!(i2s, 521_017_920);
    let norms: u64 = plan.iter().filter(|t| t.role == SynthRole::Norm).map(|t| t.nbytes).sum();
    assert_eq!(norms, 1_751_040 + 10_240);
    assert_eq!(shape("blk.3.ffn_sub_norm.weight"), vec![6912]);
    assert_eq!(shape("blk.3.attn_sub_norm.weight"), vec![2560]);
    let total: u64 = plan.iter().map(|t| t.nbytes).sum();
    assert_eq!(total, 1_179_449_920, "tensor data total of §3.9");
    let a = Preset::Bitnet2b4t.arch();
    assert_eq!(
        (a.architecture, a.n_embd, a.n_ff, a.n_layer, a.n_head, a.n_head_kv, a.n_vocab, a.n_ctx, a.head_dim()),
        ("bitnet-b1.58", 2560, 6912, 30, 20, 5, 128256, 4096, 128)
    );
    // Llama3-8B-1.58: 291 tensors, an untied output.weight (§7).
    let l8 = plan_tensors(&SynthOptions::new(Preset::Llama3_8b158, I2_S)).unwrap();
    assert_eq!(l8.len(), 291);
    assert_eq!(l8.iter().find(|t| t.name == "output.weight").unwrap().ne, vec![4096, 128256]);
    assert!(l8.iter().map(|t| t.nbytes).sum::<u64>() > 2 << 30, "> 2 GB: needs streaming");
}

#[test]
fn tl_presets_use_the_shipped_tables_and_unfit_types_name_the_tensor() {
    let plan = plan_tensors(&SynthOptions::new(Preset::Bitnet3b, TL1)).unwrap();
    let cfg = |n: &str| plan.iter().find(|t| t.name == n).unwrap().tl.unwrap();
    // bitnet_b1_58-3B, kernel_config_tl1.ini / setup_env.py: (3200,8640)->160,64,32.
    assert_eq!(cfg("blk.0.ffn_down.weight"), TlConfig { bm_tile: 160, bk: 64, bm: 32 });
    assert_eq!(cfg("blk.0.attn_q.weight"), TlConfig { bm_tile: 320, bk: 128, bm: 64 });
    let plan = plan_tensors(&SynthOptions::new(Preset::Bitnet3b, TL2)).unwrap();
    assert_eq!(
        plan.iter().find(|t| t.name == "blk.0.ffn_up.weight").unwrap().tl,
        Some(TlConfig { bm_tile: 320, bk: 96, bm: 32 })
    );
    // 8640 is not a multiple of 128: the 3B model's ffn_down cannot be canonical I2_S.
    let e = plan_tensors(&SynthOptions::new(Preset::Bitnet3b, I2_S)).unwrap_err();
    assert_eq!(e.status(), Status::BadShapeForType);
    assert!(e.message().contains("blk.0.ffn_down.weight") && e.message().contains("8640"), "{e}");
    // An explicit config that does not fit names the tensor.
    let mut o = tiny(TL2);
    o.tl = Some(TlConfig { bm_tile: 32, bk: 100, bm: 32 });
    let e = plan_tensors(&o).unwrap_err();
    assert!(e.message().contains("blk.0.attn_q.weight") && e.message().contains("BK"), "{e}");
    // Types without an encoder are refused up front.
    let e = plan_tensors(&tiny(types::from_name("iq2_xxs").unwrap().id)).unwrap_err();
    assert_eq!(e.status(), Status::UnsupportedType);
}

#[test]
fn every_ternary_type_of_tiny_holds_the_same_values() {
    // Through the whole load + decode path: TL configurations come from the file's keys.
    let decode_all = |ty: u32| {
        let bytes = synthesize(&tiny(ty)).unwrap();
        let model = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
        let mut out = Vec::new();
        for i in 0..model.tensor_count() {
            let info = model.tensor(i).unwrap().info;
            if !info.name.contains("attn_") && !info.name.contains("ffn_") || info.name.contains("norm") {
                continue;
            }
            assert_eq!(info.ty.id, ty, "{}", info.name);
            let c = model.codec(i).unwrap();
            assert_eq!(c.tl.is_some(), matches!(ty, TL1 | TL2), "{}", info.name);
            let mut buf = vec![0u8; c.decoded_size(OutType::F32).unwrap() as usize];
            model.decode_rows(i, 0..c.n_rows().unwrap(), OutType::F32, &mut buf).unwrap();
            let v: Vec<f32> = buf.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            let scale = synth::ternary_scale(42, i as u64);
            if matches!(ty, I2_S | TL1 | TL2) {
                assert_eq!(c.scale(model.tensor_data(i).unwrap()).unwrap(), Some(scale), "{}", info.name);
            }
            assert!(v.iter().all(|&x| x == 0.0 || x.abs() == scale), "{}: ternary x scale", info.name);
            out.push((info.name.to_string(), v));
        }
        out
    };
    let reference = decode_all(I2_S);
    assert_eq!(reference.len(), 14);
    for ty in [TL1, TL2, TQ1_0, TQ2_0] {
        let got = decode_all(ty);
        for ((n, a), (_, b)) in reference.iter().zip(&got) {
            let (a, b): (Vec<u32>, Vec<u32>) =
                (a.iter().map(|x| x.to_bits()).collect(), b.iter().map(|x| x.to_bits()).collect());
            assert!(a == b, "{n}: type {ty} differs from I2_S");
        }
    }
    // Upstream types quantize the same ternary x scale values: q8_0 holds them exactly.
    let bytes = synthesize(&tiny(8)).unwrap();
    let model = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
    let i = model.find_tensor(&reference[0].0).unwrap();
    let n = reference[0].1.len();
    let mut v = vec![0f32; n];
    bitgguf::quant::dequantize_f32(8, model.tensor_data(i).unwrap(), &mut v).unwrap();
    let scale = synth::ternary_scale(42, i as u64);
    for (x, y) in v.iter().zip(&reference[0].1) {
        assert!((x - y).abs() <= scale / 127.0, "{x} vs {y}");
    }
}

#[test]
fn tiny_metadata_and_reader_agree() {
    let bytes = synthesize(&tiny(I2_S)).unwrap();
    let model = Model::from_bytes(&bytes, &LoadOptions::default()).unwrap();
    let md = model.metadata();
    let s = |k: &str| String::from_utf8(md.get(k).unwrap().as_str_bytes().unwrap().to_vec()).unwrap();
    let u = |k: &str| md.get(k).unwrap().as_u64().unwrap();
    assert_eq!(s("general.architecture"), "bitnet-b1.58");
    assert_eq!(u("general.file_type"), 40);
    assert_eq!(u("bitnet-b1.58.block_count"), 2);
    assert_eq!(u("bitnet-b1.58.embedding_length"), 256);
    assert_eq!(u("bitnet-b1.58.attention.head_count_kv"), 2);
    assert_eq!(s("tokenizer.ggml.model"), "gpt2");
    let Some(Value::Array(tok)) = md.get("tokenizer.ggml.tokens") else { panic!() };
    assert_eq!(tok.len(), 512);
    assert_eq!(model.tensor_count(), 1 + 2 * 11 + 1);
    let plan = plan_tensors(&tiny(I2_S)).unwrap();
    for (i, p) in plan.iter().enumerate() {
        let t = model.tensor(i).unwrap().info;
        assert_eq!((t.name, t.ty.id, t.n_bytes), (p.name.as_str(), p.ty, p.nbytes));
        assert_eq!(&t.ne[..p.ne.len()], &p.ne[..]);
    }
}

#[test]
fn gguf_py_reads_tiny_like_we_do() {
    let python = std::env::var("BG_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gguf_py_dump.py");
    match Command::new(&python).arg(&script).arg("--check").output() {
        Ok(o) if o.status.success() => {}
        other => {
            let why = format!("the Python oracle is unavailable with '{python}' (set BG_PYTHON): {other:?}");
            assert!(std::env::var("BG_REQUIRE_ORACLES").as_deref() != Ok("1"), "{why}");
            eprintln!("SKIP: {why}");
            return;
        }
    }
    // gguf-py knows the upstream ternary types (not the fork's 36-39).
    for ty in [TQ1_0, TQ2_0, 1, 8] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.gguf");
        synthesize_to_path(&tiny(ty), &p, &mut |_, _| {}).unwrap();
        let out = Command::new(&python).arg(&script).arg(&p).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let dump: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let model = Model::open(&p, &LoadOptions::default()).unwrap();
        let md = model.metadata();
        assert_eq!(dump["data_offset"].as_u64(), Some(md.index().data_offset()));
        let kvs = dump["kvs"].as_array().unwrap();
        assert_eq!(kvs.len(), md.kv_count());
        for (i, jk) in kvs.iter().enumerate() {
            assert_eq!(jk["key"].as_str(), Some(md.kv(i).key));
            assert_eq!(jk["type"].as_u64(), Some(md.kv(i).value.value_type() as u64));
        }
        let ts = dump["tensors"].as_array().unwrap();
        assert_eq!(ts.len(), model.tensor_count());
        for (i, jt) in ts.iter().enumerate() {
            let t = model.tensor(i).unwrap().info;
            assert_eq!(jt["name"].as_str(), Some(t.name));
            assert_eq!(jt["type"].as_u64(), Some(t.disk_type as u64));
            assert_eq!(jt["offset"].as_u64(), Some(md.index().data_offset() + t.offset), "{}", t.name);
            assert_eq!(jt["n_bytes"].as_u64(), Some(t.n_bytes), "{}", t.name);
            let d = model.tensor_data(i).unwrap();
            let sum: u64 = d.iter().map(|&b| b as u64).sum();
            assert_eq!(jt["byte_sum"].as_u64(), Some(sum), "{}", t.name);
        }
    }
}

#[test]
fn i2s_tail_zero_and_replicated_byte_check_and_decode_identically() {
    // bitnet-formats.md §3.4: the tail after an I2_S payload is the f32 LE scale then 28 zero
    // bytes (our default, the Python converter's) or the scale 8 times (Microsoft's published
    // file). Readers use tail bytes 0..4 only.
    use bitgguf::quant::bitnet::TailFill;
    let mut rep = tiny(I2_S);
    rep.i2s_tail = TailFill::Replicate;
    rep.embed_ty = Some(I2_S); // the embedding's tail too
    let mut zero = rep;
    zero.i2s_tail = TailFill::Zero;
    assert_eq!(tiny(I2_S).i2s_tail, TailFill::Zero, "the default");
    let (zb, rb) = (synthesize(&zero).unwrap(), synthesize(&rep).unwrap());
    assert_eq!(zb.len(), rb.len());
    let (zm, rm) = (
        Model::from_bytes(&zb, &LoadOptions::default()).unwrap(),
        Model::from_bytes(&rb, &LoadOptions::default()).unwrap(),
    );
    let mut differing = 0;
    let mut checked = 0;
    for i in 0..zm.tensor_count() {
        let (zt, rt) = (zm.tensor(i).unwrap().info, rm.tensor(i).unwrap().info);
        assert_eq!((zt.name, zt.ty.id, zt.offset, zt.n_bytes), (rt.name, rt.ty.id, rt.offset, rt.n_bytes));
        let (zd, rd) = (zm.tensor_data(i).unwrap(), rm.tensor_data(i).unwrap());
        if zt.ty.id != I2_S {
            assert_eq!(zd, rd, "{}: only I2_S tails differ", zt.name);
            continue;
        }
        checked += 1;
        let n4 = zd.len() - 32;
        assert_eq!(zd[..n4], rd[..n4], "{}: same payload", zt.name);
        let scale = synth::ternary_scale(42, i as u64).to_le_bytes();
        assert_eq!(zd[n4..n4 + 4], scale, "{}", zt.name);
        assert!(zd[n4 + 4..].iter().all(|&b| b == 0), "{}: zero tail", zt.name);
        for c in rd[n4..].chunks_exact(4) {
            assert_eq!(c, scale, "{}: replicated tail", zt.name);
        }
        differing += 1;
        // Both load and decode to the same values.
        let (zc, rc) = (zm.codec(i).unwrap(), rm.codec(i).unwrap());
        assert_eq!(zc.scale(zd).unwrap(), Some(f32::from_le_bytes(scale)));
        assert_eq!(rc.scale(rd).unwrap(), Some(f32::from_le_bytes(scale)));
        let size = zc.decoded_size(OutType::F32).unwrap() as usize;
        let (mut a, mut b) = (vec![0u8; size], vec![1u8; size]);
        zm.decode_rows(i, 0..zc.n_rows().unwrap(), OutType::F32, &mut a).unwrap();
        rm.decode_rows(i, 0..rc.n_rows().unwrap(), OutType::F32, &mut b).unwrap();
        assert!(a == b, "{}: decodes differ", zt.name);
        assert!(a.chunks_exact(4).any(|v| v == scale), "{}: real ternary x scale values", zt.name);
    }
    assert_eq!(checked, 1 + 2 * 7, "token_embd + 7 linear weights per block");
    assert_eq!(differing, checked);
    // Streamed to a file: the same bytes as in memory.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.gguf");
    synthesize_to_path(&rep, &p, &mut |_, _| {}).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), rb);
}
