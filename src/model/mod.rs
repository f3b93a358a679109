//! A loaded model: the bytes of its file(s) (mapped or owned), the parsed index of each, and one
//! tensor list over all shards of a split model. Read-only after load; every query is `&self`,
//! so a `Model` behind an `Arc` can be queried from any thread.

pub mod codec;
pub mod config;
pub mod roles;
pub mod source;
pub mod tl_keys;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Status};
use crate::gguf::split::{self, SplitInfo};
use crate::gguf::{self, Gguf, GgufIndex, ParseOptions, TensorInfo};
use source::Source;

/// How to load a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Parser limits and the type-id policy.
    pub parse: ParseOptions,
    /// Map the file (default) or read it into memory (safe against the file changing while
    /// loaded, see [`source`]).
    pub use_mmap: bool,
    /// Decoding context of BitNet tensors: TL tile configuration, I2_S layout ([`codec`]).
    pub codec: codec::CodecOptions,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions { parse: ParseOptions::default(), use_mmap: true, codec: codec::CodecOptions::default() }
    }
}

#[derive(Debug)]
struct Shard {
    path: Option<PathBuf>,
    source: Source,
    index: GgufIndex,
}

/// A tensor of a model: its description, and which shard holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelTensor<'a> {
    /// The description (offset relative to its shard's data section).
    pub info: TensorInfo<'a>,
    /// 0-based shard index (0 for single-file models).
    pub shard: usize,
}

/// A loaded GGUF model (one file or all shards of a split model).
#[derive(Debug)]
pub struct Model {
    shards: Vec<Shard>,
    /// (shard, index within the shard) for every tensor, in shard order.
    tensors: Vec<(u32, u32)>,
    by_name: HashMap<Box<str>, u32>,
    /// The load options' decoding context ([`codec`]).
    codec: codec::CodecOptions,
}

fn parse_source(source: Source, path: Option<PathBuf>, opts: &LoadOptions) -> Result<Shard> {
    let index = gguf::parse(source.bytes(), &opts.parse)?;
    Ok(Shard { path, source, index })
}

/// How the bytes of a file are brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `LoadOptions::use_mmap`: map, or read all of it.
    Options,
    /// The progressive loader's read mode: only the header at open (see [`Model::open_sparse`]).
    Sparse,
}

/// The first bytes the read mode reads to parse a header (grown ×4 while the header is longer).
const SPARSE_PREFIX: usize = 1 << 20;

fn load_path(path: &Path, opts: &LoadOptions, mode: Mode) -> Result<Shard> {
    let source = match mode {
        Mode::Sparse => return load_sparse(path, opts),
        Mode::Options if opts.use_mmap => Source::map(path)?,
        Mode::Options => Source::read(path)?,
    };
    parse_source(source, Some(path.to_path_buf()), opts).map_err(|e| e.context(path.display()))
}

/// Parse a file of which only a prefix is read: the rest of the sparse source is zeros. A parse
/// whose data section starts inside the prefix saw only real bytes; otherwise (or when the
/// prefix alone ends inside the header) read 4× more and parse again.
fn load_sparse(path: &Path, opts: &LoadOptions) -> Result<Shard> {
    let mut source = Source::sparse(path, SPARSE_PREFIX)?;
    loop {
        let have = source.prefix_len();
        let all = have >= source.bytes().len();
        let full = gguf::parse(source.bytes(), &opts.parse);
        let done = all
            || match &full {
                Ok(ix) => ix.data_offset() <= have as u64,
                Err(_) => {
                    gguf::parse(&source.bytes()[..have], &opts.parse).err().map(|e| e.status())
                        != Some(Status::Truncated)
                }
            };
        if done {
            let index = full.map_err(|e| e.context(path.display()))?;
            return Ok(Shard { path: Some(path.to_path_buf()), source, index });
        }
        source.read_prefix(have.saturating_mul(4), path)?;
    }
}

impl Model {
    /// Open a GGUF file. When it is the first shard of a split model (`split.count > 1`), the
    /// other shards are found by name (`<prefix>-NNNNN-of-MMMMM.gguf`) and loaded as one model.
    pub fn open(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Model> {
        Model::open_with(path.as_ref(), opts, Mode::Options)
    }

    /// Open a GGUF file (or split model) for the progressive loader's read mode: only the
    /// headers are read (by `read`, never mapped); tensor bytes are zeros until
    /// [`Model::fill_tensor`] reads them with `pread`. `opts.use_mmap` is ignored. Safe against
    /// the file changing while loaded (no SIGBUS): a file that shrank gives `Status::Io`.
    pub fn open_sparse(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Model> {
        Model::open_with(path.as_ref(), opts, Mode::Sparse)
    }

    fn open_with(path: &Path, opts: &LoadOptions, mode: Mode) -> Result<Model> {
        let first = load_path(path, opts, mode)?;
        let info = split::split_info(&first.index.view(first.source.bytes())).map_err(|e| e.context(path.display()))?;
        let model = match info {
            None => Model::from_shards(vec![first]),
            Some(info) => Model::open_split(path, first, info, opts, mode),
        };
        model.map(|m| Model { codec: opts.codec, ..m })
    }

    /// Read tensor `i`'s bytes into place (models from [`Model::open_sparse`]; a no-op for the
    /// others, which hold every byte already). `Status::Io` when the file shrank.
    pub fn fill_tensor(&mut self, i: usize) -> Result<()> {
        let &(s, t) = self.tensors.get(i).ok_or_else(|| {
            Error::new(Status::IndexOutOfRange, format!("tensor index {i} is out of range ({})", self.tensors.len()))
        })?;
        let shard = &mut self.shards[s as usize];
        let info = shard.index.tensor(t as usize);
        let start = (shard.index.data_offset() + info.offset) as usize;
        let (name, n) = (info.name.to_string(), info.n_bytes as usize);
        let path = shard.path.clone();
        shard.source.fill(start, n).map_err(|e| {
            let e = e.context(format!("tensor '{name}' (bytes {start}..{})", start + n));
            match &path {
                Some(p) => e.context(p.display()),
                None => e,
            }
        })
    }

    /// True when the model's files are mapped (pages of tensor data can be released with
    /// `madvise(MADV_DONTNEED)` and come back from the file).
    pub fn is_mapped(&self) -> bool {
        self.shards.iter().all(|s| s.source.is_mapped())
    }

    /// True when the model was opened with [`Model::open_sparse`].
    pub fn is_sparse(&self) -> bool {
        self.shards.iter().any(|s| s.source.is_sparse())
    }

    /// Parse a GGUF file held in memory (the bytes are copied into aligned storage). A shard
    /// of a split model loads as just that shard.
    pub fn from_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Model> {
        let shard = parse_source(Source::copy_of(bytes), None, opts)?;
        Ok(Model { codec: opts.codec, ..Model::from_shards(vec![shard])? })
    }

    fn open_split(path: &Path, first: Shard, info: SplitInfo, opts: &LoadOptions, mode: Mode) -> Result<Model> {
        let ctx = path.display();
        if info.no != 0 {
            return Err(Error::new(
                Status::SplitMismatch,
                format!(
                    "{ctx}: this is shard {} (split.no = {}) of {}; open the first shard (split.no = 0)",
                    info.no + 1,
                    info.no,
                    info.count
                ),
            ));
        }
        let (prefix, no1, count) = split::parse_shard_name(path).ok_or_else(|| {
            Error::new(
                Status::SplitMismatch,
                format!(
                    "{ctx}: split.count = {} but the file name does not follow '<prefix>-00001-of-{:05}.gguf', so the \
                     other shards cannot be found",
                    info.count, info.count
                ),
            )
        })?;
        if no1 != 1 || count != info.count as u32 {
            return Err(Error::new(
                Status::SplitMismatch,
                format!(
                    "{ctx}: the name says shard {no1} of {count}, the metadata says shard 1 of {} (split.no = 0)",
                    info.count
                ),
            ));
        }
        let mut shards = vec![first];
        for no in 1..info.count as u32 {
            let p = split::shard_path(&prefix, no, count);
            if !p.exists() {
                return Err(Error::new(
                    Status::SplitMismatch,
                    format!("{ctx}: shard {} of {count} is missing: {} does not exist", no + 1, p.display()),
                ));
            }
            let shard = load_path(&p, opts, mode)?;
            let si = split::split_info(&shard.index.view(shard.source.bytes())).map_err(|e| e.context(p.display()))?;
            match si {
                Some(si) if si.no as u32 == no && si.count == info.count => {}
                other => {
                    return Err(Error::new(
                        Status::SplitMismatch,
                        format!(
                            "{}: expected split.no = {no} and split.count = {}, found {:?}",
                            p.display(),
                            info.count,
                            other.map(|s| (s.no, s.count))
                        ),
                    ))
                }
            }
            shards.push(shard);
        }
        let model = Model::from_shards(shards).map_err(|e| e.context(ctx.to_string()))?;
        if let Some(expected) = info.tensors_count {
            if expected != model.tensor_count() as u64 {
                return Err(Error::new(
                    Status::SplitMismatch,
                    format!(
                        "{ctx}: split.tensors.count = {expected}, but the {} shards hold {} tensors",
                        info.count,
                        model.tensor_count()
                    ),
                ));
            }
        }
        Ok(model)
    }

    fn from_shards(shards: Vec<Shard>) -> Result<Model> {
        let total: usize = shards.iter().map(|s| s.index.tensor_count()).sum();
        let mut tensors = Vec::with_capacity(total);
        let mut by_name: HashMap<Box<str>, u32> = HashMap::with_capacity(total);
        for (si, s) in shards.iter().enumerate() {
            for ti in 0..s.index.tensor_count() {
                let t = s.index.tensor(ti);
                if let Some(&prev) = by_name.get(t.name) {
                    let (ps, _) = tensors[prev as usize];
                    return Err(Error::new(
                        Status::DuplicateTensor,
                        format!(
                            "tensor '{}' of shard {} (tensor info at byte {}) duplicates the one in shard {}",
                            t.name,
                            si + 1,
                            t.info_pos,
                            ps + 1
                        ),
                    ));
                }
                by_name.insert(t.name.into(), tensors.len() as u32);
                tensors.push((si as u32, ti as u32));
            }
        }
        Ok(Model { shards, tensors, by_name, codec: codec::CodecOptions::default() })
    }

    /// Number of files (1 unless split).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Shard `i` as a parsed file (panics when out of range).
    pub fn shard(&self, i: usize) -> Gguf<'_> {
        let s = &self.shards[i];
        s.index.view(s.source.bytes())
    }

    /// The path shard `i` was loaded from, if any.
    pub fn shard_path(&self, i: usize) -> Option<&Path> {
        self.shards.get(i).and_then(|s| s.path.as_deref())
    }

    /// The model's metadata: that of the first shard.
    pub fn metadata(&self) -> Gguf<'_> {
        self.shard(0)
    }

    /// Number of tensors over all shards.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }

    /// Index of the tensor with this name.
    pub fn find_tensor(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).map(|&i| i as usize)
    }

    /// Tensor `i`, or `None` when out of range.
    pub fn tensor(&self, i: usize) -> Option<ModelTensor<'_>> {
        let &(s, t) = self.tensors.get(i)?;
        Some(ModelTensor { info: self.shards[s as usize].index.tensor(t as usize), shard: s as usize })
    }

    /// Tensor `i`'s bytes (borrowed from the mapping), or `None` when out of range.
    pub fn tensor_data(&self, i: usize) -> Option<&[u8]> {
        let &(s, t) = self.tensors.get(i)?;
        Some(self.shard(s as usize).tensor_data(t as usize))
    }

    /// Iterate over all tensors.
    pub fn tensors(&self) -> impl Iterator<Item = ModelTensor<'_>> + '_ {
        (0..self.tensor_count()).filter_map(move |i| self.tensor(i))
    }
}
