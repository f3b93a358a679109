//! Human-readable output: header, metadata (long arrays and strings summarized), tensor table.

use std::io::{self, Write};

use bitgguf::gguf::value::lossy;
use bitgguf::gguf::{ArrayView, Value};
use bitgguf::Model;

/// Arrays longer than this are summarized (type, length, first elements).
const ARRAY_SHOWN: u64 = 8;
/// Strings longer than this (in characters) are cut.
const STRING_SHOWN: usize = 96;

/// A string value, quoted and escaped, cut after `STRING_SHOWN` characters.
pub fn short_string(b: &[u8]) -> String {
    let s = lossy(b);
    let n = s.chars().count();
    if n <= STRING_SHOWN {
        format!("\"{}\"", s.escape_debug())
    } else {
        let head: String = s.chars().take(STRING_SHOWN).collect();
        format!("\"{}\"... ({} bytes)", head.escape_debug(), b.len())
    }
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// One value, summarized.
pub fn short_value(v: &Value<'_>) -> String {
    match *v {
        Value::U8(x) => x.to_string(),
        Value::I8(x) => x.to_string(),
        Value::U16(x) => x.to_string(),
        Value::I16(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F32(x) => {
            if x.is_finite() {
                format!("{x}")
            } else {
                float(x as f64)
            }
        }
        Value::F64(x) => float(x),
        Value::Bool(x) => x.to_string(),
        Value::String(s) => short_string(s),
        Value::Array(a) => short_array(&a),
    }
}

fn short_array(a: &ArrayView<'_>) -> String {
    let shown = a.len().min(ARRAY_SHOWN);
    let items: Vec<String> = (0..shown)
        .filter_map(|i| a.get(i))
        .map(|e| match e {
            Value::String(s) if s.len() > 24 => short_string(&s[..24]) + "..",
            e => short_value(&e),
        })
        .collect();
    let more = if a.len() > shown { ", ..." } else { "" };
    format!("[{}; {}] [{}{}]", a.elem_type().name(), a.len(), items.join(", "), more)
}

/// The type name of a value (`array[string]` for arrays).
pub fn type_name(v: &Value<'_>) -> String {
    match v {
        Value::Array(a) => format!("array[{}]", a.elem_type().name()),
        v => v.value_type().name().to_string(),
    }
}

/// Human-readable byte count.
pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < U.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", U[u])
    }
}

/// Header lines.
pub fn header<W: Write>(w: &mut W, m: &Model) -> io::Result<()> {
    let meta = m.metadata();
    let idx = meta.index();
    writeln!(w, "GGUF version:  {}", idx.version())?;
    writeln!(w, "alignment:     {}", idx.alignment())?;
    writeln!(w, "data_offset:   {}", idx.data_offset())?;
    writeln!(w, "file size:     {} ({})", idx.file_len(), bytes(idx.file_len()))?;
    writeln!(w, "shards:        {}", m.shard_count())?;
    if m.shard_count() > 1 {
        for s in 0..m.shard_count() {
            let g = m.shard(s).index();
            let p = m.shard_path(s).map(|p| p.display().to_string()).unwrap_or_default();
            writeln!(
                w,
                "  shard {}: {p} ({} tensors, data_offset {}, {})",
                s + 1,
                g.tensor_count(),
                g.data_offset(),
                bytes(g.file_len())
            )?;
        }
    }
    writeln!(w, "metadata keys: {}", idx.kv_count())?;
    writeln!(w, "tensors:       {}", m.tensor_count())
}

/// The metadata, one key per line.
pub fn metadata<W: Write>(w: &mut W, m: &Model) -> io::Result<()> {
    let meta = m.metadata();
    let kw = meta.kvs().map(|kv| kv.key.len()).max().unwrap_or(0);
    let tw = meta.kvs().map(|kv| type_name(&kv.value).len()).max().unwrap_or(0);
    for kv in meta.kvs() {
        writeln!(w, "  {:kw$}  {:tw$}  {}", kv.key, type_name(&kv.value), short_value(&kv.value))?;
    }
    Ok(())
}

/// The tensor table.
pub fn tensors<W: Write>(w: &mut W, m: &Model) -> io::Result<()> {
    let split = m.shard_count() > 1;
    let nw = m.tensors().map(|t| t.info.name.len()).max().unwrap_or(4).max(4);
    let shape = |t: &bitgguf::gguf::TensorInfo<'_>| {
        let d: Vec<String> = t.ne.iter().take(t.n_dims as usize).map(|d| d.to_string()).collect();
        format!("[{}]", d.join(", "))
    };
    let sw = m.tensors().map(|t| shape(&t.info).len()).max().unwrap_or(5).max(5);
    if split {
        write!(w, "  {:>5} ", "shard")?;
    }
    writeln!(w, "  {:nw$}  {:8}  {:sw$}  {:>12}  {:>12}", "name", "type", "shape", "offset", "n_bytes")?;
    let mut total = 0u64;
    for t in m.tensors() {
        let i = &t.info;
        if split {
            write!(w, "  {:>5} ", t.shard + 1)?;
        }
        writeln!(w, "  {:nw$}  {:8}  {:sw$}  {:>12}  {:>12}", i.name, i.ty.name, shape(i), i.offset, i.n_bytes)?;
        total += i.n_bytes;
    }
    writeln!(w, "  total tensor bytes: {total} ({})", bytes(total))?;
    Ok(())
}

/// Everything: header, metadata, tensors.
pub fn model<W: Write>(w: &mut W, m: &Model) -> io::Result<()> {
    header(w, m)?;
    writeln!(w)?;
    writeln!(w, "metadata:")?;
    metadata(w, m)?;
    writeln!(w)?;
    writeln!(w, "tensors:")?;
    tensors(w, m)
}
