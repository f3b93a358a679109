//! A loaded model: the bytes of its file(s) (mapped or owned), the parsed index of each, and one
//! tensor list over all shards of a split model. Read-only after load; every query is `&self`,
//! so a `Model` behind an `Arc` can be queried from any thread.

pub mod codec;
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

fn load_path(path: &Path, opts: &LoadOptions) -> Result<Shard> {
    let source = if opts.use_mmap { Source::map(path)? } else { Source::read(path)? };
    parse_source(source, Some(path.to_path_buf()), opts).map_err(|e| e.context(path.display()))
}

impl Model {
    /// Open a GGUF file. When it is the first shard of a split model (`split.count > 1`), the
    /// other shards are found by name (`<prefix>-NNNNN-of-MMMMM.gguf`) and loaded as one model.
    pub fn open(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Model> {
        let path = path.as_ref();
        let first = load_path(path, opts)?;
        let info = split::split_info(&first.index.view(first.source.bytes())).map_err(|e| e.context(path.display()))?;
        let model = match info {
            None => Model::from_shards(vec![first]),
            Some(info) => Model::open_split(path, first, info, opts),
        };
        model.map(|m| Model { codec: opts.codec, ..m })
    }

    /// Parse a GGUF file held in memory (the bytes are copied into aligned storage). A shard
    /// of a split model loads as just that shard.
    pub fn from_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Model> {
        let shard = parse_source(Source::copy_of(bytes), None, opts)?;
        Ok(Model { codec: opts.codec, ..Model::from_shards(vec![shard])? })
    }

    fn open_split(path: &Path, first: Shard, info: SplitInfo, opts: &LoadOptions) -> Result<Model> {
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
            let shard = load_path(&p, opts)?;
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
