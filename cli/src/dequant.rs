//! `bitgguf dequant FILE --tensor NAME [--to f32|f16|bf16] -o OUT`: decode one tensor and write
//! its values as raw little-endian numbers (row-major, ne0 fastest).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use bitgguf::quant::output::{decode_into, OutType};
use bitgguf::quant::row_bytes;
use bitgguf::{Error, LoadOptions, Model, Status, TypePolicy};

use crate::CliError;

/// Decode about this many elements at a time, so huge tensors need little memory.
const CHUNK_ELEMENTS: u64 = 1 << 20;

pub fn run(
    file: &Path,
    tensor: &str,
    to: OutType,
    out: &Path,
    use_mmap: bool,
    policy: TypePolicy,
) -> Result<(), CliError> {
    let mut opts = LoadOptions { use_mmap, ..LoadOptions::default() };
    opts.parse.type_policy = policy;
    let model = Model::open(file, &opts)?;
    let index = model
        .find_tensor(tensor)
        .ok_or_else(|| Error::new(Status::NotFound, format!("{}: no tensor named '{tensor}'", file.display())))?;
    let info = model.tensor(index).expect("found").info;
    let data = model.tensor_data(index).expect("found");
    let ne0 = info.ne[0];
    let rows = info.n_elements.checked_div(ne0).unwrap_or(0);
    let rb = row_bytes(info.ty, ne0).map_err(|e| e.context(format!("tensor '{tensor}'")))?;
    let rows_per_chunk = (CHUNK_ELEMENTS / ne0.max(1)).max(1);
    let f = File::create(out).map_err(|e| CliError::Io(format!("cannot create {}", out.display()), e))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut buf = Vec::new();
    let mut row = 0;
    while row < rows {
        let n_rows = rows_per_chunk.min(rows - row);
        let src = &data[(row * rb) as usize..((row + n_rows) * rb) as usize];
        let n = n_rows * ne0;
        buf.resize((n * to.size()) as usize, 0);
        decode_into(info.ty.id, src, n, to, &mut buf).map_err(|e| e.context(format!("tensor '{tensor}'")))?;
        w.write_all(&buf).map_err(|e| CliError::Io(format!("cannot write {}", out.display()), e))?;
        row += n_rows;
    }
    w.flush().map_err(|e| CliError::Io(format!("cannot write {}", out.display()), e))?;
    eprintln!(
        "{tensor}: {} {:?} -> {} values of {} ({} bytes) written to {}",
        info.ty.name,
        &info.ne[..info.n_dims.max(1) as usize],
        info.n_elements,
        to.name(),
        info.n_elements * to.size(),
        out.display()
    );
    Ok(())
}
