//! `bitgguf dequant FILE --tensor NAME [--to f32|f16|bf16] [--tl-config BM,BK,bm | --tl-preset
//! NAME] [--i2s-layout group128|group64] -o OUT`: decode one tensor (any type, the BitNet ones
//! included, through the model's tensor codec) and write its values as raw little-endian
//! numbers (row-major, ne0 fastest).

use std::io::{BufWriter, Write};
use std::path::Path;

use bitgguf::model::codec::CodecOptions;
use bitgguf::outfile::OutFile;
use bitgguf::quant::output::OutType;
use bitgguf::{Error, LoadOptions, Model, Status, TypePolicy};

use crate::CliError;

/// Decode about this many elements at a time, so huge tensors need little memory (TL1 / TL2
/// tensors are decoded whole: their rows are interleaved in tiles).
const CHUNK_ELEMENTS: u64 = 1 << 20;

/// How `dequant` reports: a progress bar unless `quiet` or `json`; the summary as JSON on
/// stdout with `json`, else as a line on stderr.
pub struct Show {
    pub quiet: bool,
    pub json: bool,
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    file: &Path,
    tensor: &str,
    to: OutType,
    out: &Path,
    use_mmap: bool,
    policy: TypePolicy,
    codec: CodecOptions,
    show: Show,
) -> Result<(), CliError> {
    let mut opts = LoadOptions { use_mmap, codec, ..LoadOptions::default() };
    opts.parse.type_policy = policy;
    let model = Model::open(file, &opts)?;
    let index = model
        .find_tensor(tensor)
        .ok_or_else(|| Error::new(Status::NotFound, format!("{}: no tensor named '{tensor}'", file.display())))?;
    let info = model.tensor(index).expect("found").info;
    let codec = model.codec(index)?;
    let ne0 = info.ne[0];
    let rows = codec.n_rows()?;
    let rows_per_chunk = if codec.tl.is_some() { rows.max(1) } else { (CHUNK_ELEMENTS / ne0.max(1)).max(1) };
    // Written as OUT.partial and renamed over OUT when complete (a device such as /dev/null is
    // written in place); a failure leaves no partial file and an existing OUT as it was.
    let (guard, f) = OutFile::create(out)?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let mut buf = Vec::new();
    let mut row = 0;
    let bar =
        crate::progress::bar(rows, "dequant {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})", show.quiet || show.json);
    let result = (|| {
        while row < rows {
            let n_rows = rows_per_chunk.min(rows - row);
            buf.resize((n_rows * ne0 * to.size()) as usize, 0);
            model.decode_rows(index, row..row + n_rows, to, &mut buf)?;
            w.write_all(&buf).map_err(|e| CliError::Io(format!("cannot write {}", out.display()), e))?;
            row += n_rows;
            bar.set_position(row);
        }
        w.into_inner().map_err(|e| CliError::Io(format!("cannot write {}", out.display()), e.into_error()))
    })();
    bar.finish_and_clear();
    guard.commit(result?)?;
    let shape = &info.ne[..info.n_dims.max(1) as usize];
    if show.json {
        let j = serde_json::json!({
            "tensor": tensor, "type": info.ty.name, "shape": shape, "elements": info.n_elements,
            "to": to.name(), "bytes": info.n_elements * to.size(), "output": out.display().to_string(),
        });
        let mut o = std::io::stdout().lock();
        return writeln!(o, "{j}").map_err(crate::out_err);
    }
    eprintln!(
        "{tensor}: {} {:?} -> {} values of {} ({} bytes) written to {}",
        info.ty.name,
        shape,
        info.n_elements,
        to.name(),
        info.n_elements * to.size(),
        out.display()
    );
    Ok(())
}
