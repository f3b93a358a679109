//! `bitgguf inspect`.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use bitgguf::{LoadOptions, Model, TypePolicy};

use crate::{json, out_err, text, CliError};

/// Load `file` and print it as text or JSON on stdout.
pub fn run(file: &Path, as_json: bool, use_mmap: bool, type_policy: TypePolicy) -> Result<(), CliError> {
    let mut opts = LoadOptions { use_mmap, ..LoadOptions::default() };
    opts.parse.type_policy = type_policy;
    let model = Model::open(file, &opts)?;
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    if as_json {
        json::model(&mut w, &model).map_err(out_err)?;
    } else {
        writeln!(w, "file:          {}", file.display()).map_err(out_err)?;
        text::model(&mut w, &model).map_err(out_err)?;
    }
    w.flush().map_err(out_err)
}
