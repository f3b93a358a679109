//! What a cross-validation found: one [`TensorReport`] per tensor, file-level checks, and a
//! [`ModelReport`] with its [`Summary`]. `Display` gives one readable line per tensor.

use std::fmt;
use std::path::PathBuf;

use super::compare::ValueStats;

/// The outcome for one tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Name, type, shape, offset, byte length, bytes and every compared value agree (0 ulp).
    Match,
    /// Something differs (see the report's `meta_diffs`, hashes and values).
    Mismatch,
    /// The values were not compared because one side (or both) cannot decode the type. Never
    /// counted as a match.
    Skipped,
    /// The tensor could not be compared for another reason (the reference rejected the file,
    /// both sides rejected the data, ...).
    Error,
}

impl Verdict {
    /// Upper-case label.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Match => "MATCH",
            Verdict::Mismatch => "MISMATCH",
            Verdict::Skipped => "SKIPPED",
            Verdict::Error => "ERROR",
        }
    }
}

/// One field that the two readers see differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// Which field (`"name"`, `"type"`, `"shape"`, `"offset"`, `"n_bytes"`, `"bytes"`, ...).
    pub field: &'static str,
    /// What the Rust loader says.
    pub rust: String,
    /// What cpp_ref says.
    pub reference: String,
}

impl fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: rust {}, reference {}", self.field, self.rust, self.reference)
    }
}

/// What happened to the values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Both sides decoded; the comparison's statistics.
    Compared(ValueStats),
    /// At least one side cannot decode the type.
    Unsupported {
        /// The Rust codecs have no decoder for it.
        rust: bool,
        /// cpp_ref has no decoder for it.
        reference: bool,
    },
    /// Not compared: why (metadata differs, a side rejected the data, ...).
    NotCompared(String),
}

/// The cross-validation of one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    /// Index in the model (over all shards).
    pub index: usize,
    /// The shard holding it (0 for single files).
    pub shard: usize,
    /// Name (as the Rust loader read it).
    pub name: String,
    /// API type id (Rust's reading).
    pub type_id: u32,
    /// Type name (Rust's reading).
    pub type_name: &'static str,
    /// Dimensions (Rust's reading).
    pub ne: [u64; 4],
    /// Element count.
    pub n_elements: u64,
    /// Byte length (Rust's reading).
    pub n_bytes: u64,
    /// Fields that differ, hashes included.
    pub diffs: Vec<FieldDiff>,
    /// FNV-1a 64 of the tensor's bytes as the Rust loader located them.
    pub hash_rust: u64,
    /// The same for cpp_ref's bytes (None when cpp_ref has no such tensor).
    pub hash_reference: Option<u64>,
    /// The values, Rust against cpp_ref.
    pub values: Values,
    /// The third leg, Rust against real ggml's `to_float` (same elements as `values`); `None`
    /// when the leg is off. A ggml mismatch makes the verdict [`Verdict::Mismatch`]; types ggml
    /// does not decode (the BitNet types) are [`Values::NotCompared`] there and do not count.
    pub ggml: Option<Values>,
    /// TL1 / TL2: the tile configuration `[BM, BK, bm]` the Rust loader read from the file.
    pub tile: Option<[u32; 3]>,
    /// The outcome.
    pub verdict: Verdict,
}

impl TensorReport {
    /// "skipped: unsupported by rust" (or "by cpp_ref", or "by rust and cpp_ref"), for skipped
    /// tensors.
    pub fn skip_reason(&self) -> Option<String> {
        match self.values {
            Values::Unsupported { rust, reference } => Some(format!(
                "skipped: unsupported by {}",
                match (rust, reference) {
                    (true, true) => "rust and cpp_ref",
                    (true, false) => "rust",
                    _ => "cpp_ref",
                }
            )),
            _ => None,
        }
    }
}

fn short(v: f32) -> String {
    if v.is_nan() {
        format!("NaN(0x{:08x})", v.to_bits())
    } else {
        format!("{v:e} (0x{:08x})", v.to_bits())
    }
}

impl fmt::Display for TensorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.ne.iter().map(|d| d.to_string()).collect();
        write!(
            f,
            "[{}] #{} {} {} [{}] {} bytes",
            self.verdict.label(),
            self.index,
            self.name,
            self.type_name,
            dims.join(", "),
            self.n_bytes
        )?;
        for d in &self.diffs {
            write!(f, "; {d}")?;
        }
        if let Some(c) = self.tile {
            write!(f, "; tile [BM, BK, bm] = {c:?}")?;
        }
        match &self.values {
            Values::Compared(s) => write_stats(f, "; ", s)?,
            Values::Unsupported { .. } => write!(f, "; {}", self.skip_reason().unwrap_or_default())?,
            Values::NotCompared(why) => write!(f, "; values not compared: {why}")?,
        }
        match &self.ggml {
            None => {}
            Some(Values::Compared(s)) => write_stats(f, " | ggml: ", s)?,
            Some(Values::NotCompared(why)) if why.is_empty() => {}
            Some(Values::NotCompared(why)) => write!(f, " | ggml: {why}")?,
            Some(Values::Unsupported { .. }) => write!(f, " | ggml: unsupported")?,
        }
        Ok(())
    }
}

/// "<lead>N values compared, all bit-exact" or the differences with the first differing element.
fn write_stats(f: &mut fmt::Formatter<'_>, lead: &str, s: &ValueStats) -> fmt::Result {
    match s.sampled_blocks {
        Some(b) => write!(f, "{lead}{} of {} values compared ({b} sampled blocks)", s.compared, s.total)?,
        None => write!(f, "{lead}{} values compared", s.compared)?,
    }
    if s.mismatched == 0 {
        return write!(f, ", all bit-exact");
    }
    write!(f, ", {} differ: max |Δ| {:e}, max ", s.mismatched, s.max_abs_diff)?;
    if s.max_ulp == u64::MAX {
        write!(f, "ulp ∞ (NaN vs number)")?;
    } else {
        write!(f, "{} ulp", s.max_ulp)?;
    }
    if let Some(d) = s.first_diff {
        write!(f, "; first at element {}: rust {}, reference {}", d.index, short(d.rust), short(d.reference))?;
    }
    Ok(())
}

/// File-level checks of one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The shard (0 for single files).
    pub shard: usize,
    /// Its path, when loaded from a file.
    pub path: Option<PathBuf>,
    /// cpp_ref's error when it could not open or rejected the file.
    pub reference_error: Option<String>,
    /// Header facts that differ (version, key/value count, alignment, data offset, tensors).
    pub diffs: Vec<FieldDiff>,
}

impl FileCheck {
    /// Whether both readers agree on the file.
    pub fn ok(&self) -> bool {
        self.reference_error.is_none() && self.diffs.is_empty()
    }
}

/// Counts over a [`ModelReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Tensors.
    pub tensors: usize,
    /// Verdict [`Verdict::Match`].
    pub matched: usize,
    /// Verdict [`Verdict::Mismatch`].
    pub mismatched: usize,
    /// Verdict [`Verdict::Skipped`] (unsupported by a side).
    pub skipped: usize,
    /// Verdict [`Verdict::Error`].
    pub errors: usize,
    /// Shards whose file-level checks failed.
    pub file_failures: usize,
    /// Tensors whose values were compared with real ggml too (third leg).
    pub ggml_compared: usize,
    /// Of those, tensors where ggml's values differ from the Rust loader's.
    pub ggml_mismatched: usize,
}

/// The cross-validation of a whole model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReport {
    /// One per shard.
    pub files: Vec<FileCheck>,
    /// One per tensor, in model order.
    pub tensors: Vec<TensorReport>,
    /// The sampling seed used (reproduce with `BITNET_DETERMINISTIC=1 BITNET_SEED=<seed>`).
    pub seed: u64,
    /// Blocks compared per tensor, when sampling.
    pub sample: Option<u64>,
    /// The third leg's library (real ggml), when it was used.
    pub ggml: Option<PathBuf>,
}

impl ModelReport {
    /// The counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary { tensors: self.tensors.len(), ..Summary::default() };
        for t in &self.tensors {
            match t.verdict {
                Verdict::Match => s.matched += 1,
                Verdict::Mismatch => s.mismatched += 1,
                Verdict::Skipped => s.skipped += 1,
                Verdict::Error => s.errors += 1,
            }
            if let Some(Values::Compared(g)) = &t.ggml {
                s.ggml_compared += 1;
                if g.mismatched > 0 {
                    s.ggml_mismatched += 1;
                }
            }
        }
        s.file_failures = self.files.iter().filter(|f| !f.ok()).count();
        s
    }

    /// Every file check passes and every tensor matches (skipped tensors are not matches).
    pub fn all_match(&self) -> bool {
        self.passes(false)
    }

    /// As [`Self::all_match`], but tensors skipped as unsupported are tolerated when
    /// `allow_unsupported` (mismatches and errors never are).
    pub fn passes(&self, allow_unsupported: bool) -> bool {
        let s = self.summary();
        s.file_failures == 0 && s.mismatched == 0 && s.errors == 0 && (allow_unsupported || s.skipped == 0)
    }

    /// The first tensor that did not match, if any.
    pub fn first_failure(&self) -> Option<&TensorReport> {
        self.tensors.iter().find(|t| t.verdict != Verdict::Match)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tensors: {} match, {} mismatch, {} skipped (unsupported), {} error; {} file-level failure(s)",
            self.tensors, self.matched, self.mismatched, self.skipped, self.errors, self.file_failures
        )?;
        if self.ggml_compared > 0 {
            write!(f, "; ggml leg: {} tensors compared, {} differ", self.ggml_compared, self.ggml_mismatched)?;
        }
        Ok(())
    }
}
