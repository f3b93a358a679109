//! Streaming JSON output for `inspect --json`.
//!
//! Values are written straight from the borrowed file bytes into a buffered writer; no
//! `serde_json::Value` tree is built (a 262k-entry vocabulary would be 262k heap strings).
//! `serde_json` is used only for what it does best: escaping strings and formatting floats.

use std::io::{self, Write};

use bitgguf::gguf::value::lossy;
use bitgguf::gguf::{ArrayView, Value, ValueType};
use bitgguf::Model;

/// Write a JSON string (UTF-8 lossy from GGUF bytes).
pub fn string<W: Write>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    // `from_utf8` (fast for the common, valid case) before the slower lossy conversion.
    let r = match std::str::from_utf8(bytes) {
        Ok(s) => serde_json::to_writer(&mut *w, s),
        Err(_) => serde_json::to_writer(&mut *w, lossy(bytes).as_ref()),
    };
    r.map_err(io::Error::from)
}

/// Write a float; NaN and the infinities become the strings "nan", "inf", "-inf".
fn float<W: Write>(w: &mut W, v: f64, single: Option<f32>) -> io::Result<()> {
    if v.is_nan() {
        w.write_all(b"\"nan\"")
    } else if v.is_infinite() {
        w.write_all(if v > 0.0 { b"\"inf\"" } else { b"\"-inf\"" })
    } else {
        // serde_json prints the shortest representation that round-trips (f32 printed as f32,
        // so 0.1f32 is 0.1, not 0.10000000149011612).
        match single {
            Some(f) => serde_json::to_writer(&mut *w, &f),
            None => serde_json::to_writer(&mut *w, &v),
        }
        .map_err(io::Error::from)
    }
}

/// Write one metadata value.
pub fn value<W: Write>(w: &mut W, v: &Value<'_>) -> io::Result<()> {
    match *v {
        Value::U8(x) => write!(w, "{x}"),
        Value::I8(x) => write!(w, "{x}"),
        Value::U16(x) => write!(w, "{x}"),
        Value::I16(x) => write!(w, "{x}"),
        Value::U32(x) => write!(w, "{x}"),
        Value::I32(x) => write!(w, "{x}"),
        Value::U64(x) => write!(w, "{x}"),
        Value::I64(x) => write!(w, "{x}"),
        Value::F32(x) => float(w, x as f64, Some(x)),
        Value::F64(x) => float(w, x, None),
        Value::Bool(x) => w.write_all(if x { b"true" } else { b"false" }),
        Value::String(s) => string(w, s),
        Value::Array(a) => array(w, &a),
    }
}

fn array<W: Write>(w: &mut W, a: &ArrayView<'_>) -> io::Result<()> {
    w.write_all(b"[")?;
    if a.elem_type() == ValueType::String {
        for i in 0..a.len() {
            if i > 0 {
                w.write_all(b",")?;
            }
            string(w, a.get_str(i).unwrap_or_default())?;
        }
    } else {
        for (i, e) in a.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            value(w, &e)?;
        }
    }
    w.write_all(b"]")
}

/// Write the whole model description.
pub fn model<W: Write>(w: &mut W, m: &Model) -> io::Result<()> {
    let meta = m.metadata();
    let idx = meta.index();
    write!(
        w,
        "{{\"version\":{},\"alignment\":{},\"data_offset\":{},\"metadata\":{{",
        idx.version(),
        idx.alignment(),
        idx.data_offset()
    )?;
    for (i, kv) in meta.kvs().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n")?;
        string(w, kv.key.as_bytes())?;
        w.write_all(b":")?;
        value(w, &kv.value)?;
    }
    w.write_all(b"\n},\"tensors\":[")?;
    let split = m.shard_count() > 1;
    for (i, t) in m.tensors().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let info = &t.info;
        w.write_all(b"\n{\"name\":")?;
        string(w, info.name.as_bytes())?;
        write!(w, ",\"type\":\"{}\",\"shape\":[", info.ty.name)?;
        for (j, d) in info.ne.iter().take(info.n_dims as usize).enumerate() {
            if j > 0 {
                w.write_all(b",")?;
            }
            write!(w, "{d}")?;
        }
        write!(w, "],\"offset\":{},\"n_bytes\":{}", info.offset, info.n_bytes)?;
        if split {
            write!(w, ",\"shard\":{}", t.shard)?;
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"\n]")?;
    if split {
        w.write_all(b",\"shards\":[")?;
        for s in 0..m.shard_count() {
            if s > 0 {
                w.write_all(b",")?;
            }
            let g = m.shard(s);
            let gi = g.index();
            w.write_all(b"\n{\"path\":")?;
            match m.shard_path(s) {
                Some(p) => string(w, p.to_string_lossy().as_bytes())?,
                None => w.write_all(b"null")?,
            }
            write!(
                w,
                ",\"version\":{},\"alignment\":{},\"data_offset\":{},\"file_size\":{},\"n_kv\":{},\"n_tensors\":{}}}",
                gi.version(),
                gi.alignment(),
                gi.data_offset(),
                gi.file_len(),
                gi.kv_count(),
                gi.tensor_count()
            )?;
        }
        w.write_all(b"\n]")?;
    }
    w.write_all(b"}\n")
}
