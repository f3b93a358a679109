//! The planner's view of a model: per tensor its role, layer and the bytes it will occupy once
//! loaded in the chosen output type.

use crate::device::Materialize;
use crate::model::roles::{classify, TensorRole};
use crate::model::Model;
use crate::quant::output::OutType;

/// One tensor as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSummary {
    /// The tensor's name.
    pub name: String,
    /// Its role.
    pub role: TensorRole,
    /// Its layer (`blk.N.`), if any.
    pub layer: Option<u32>,
    /// What it becomes once loaded.
    pub materialize: Materialize,
    /// Bytes resident after load (packed size, or elements × output size).
    pub bytes: u64,
    /// True when, on the CPU, it can stay in the file mapping (packed output from a mapped
    /// file): it then costs no host allocation.
    pub zero_copy: bool,
}

/// The planner's input: every tensor, in the model's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelSummary {
    /// The tensors, indexed like the model's.
    pub tensors: Vec<TensorSummary>,
    /// Number of layers (1 + the largest layer index, or the metadata's block count).
    pub n_layers: u32,
}

/// The output type chosen per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputTypes {
    /// Indexed by [`TensorRole::index`].
    pub per_role: [Materialize; 6],
}

impl Default for OutputTypes {
    fn default() -> Self {
        OutputTypes::all(Materialize::Packed)
    }
}

impl OutputTypes {
    /// The same output for every role.
    pub fn all(m: Materialize) -> OutputTypes {
        OutputTypes { per_role: [m; 6] }
    }
    /// The output for a role.
    pub fn get(&self, role: TensorRole) -> Materialize {
        self.per_role[role.index()]
    }
    /// Set the output for a role.
    pub fn set(&mut self, role: TensorRole, m: Materialize) {
        self.per_role[role.index()] = m;
    }
}

/// True when this build can decode type `ty` at load time (upstream block types with a
/// decoder; the BitNet per-tensor-scale types once `quant` offers a tensor-level codec).
pub fn can_decode(ty: &crate::types::TypeInfo) -> bool {
    ty.layout == crate::types::Layout::Blocks && crate::quant::decoder(ty.id).is_some()
}

impl ModelSummary {
    /// Summarize a model for the planner. `mapped` says whether the model's bytes are a file
    /// mapping (packed tensors on the CPU then stay zero-copy). A tensor whose type cannot be
    /// decoded by this build keeps its packed bytes (the loader reports it).
    pub fn from_model(model: &Model, outputs: &OutputTypes, mapped: bool, n_layers_hint: u32) -> ModelSummary {
        let mut max_layer = None;
        let tensors = model
            .tensors()
            .map(|t| {
                let ri = classify(t.info.name);
                if let Some(l) = ri.layer {
                    max_layer = max_layer.max(Some(l));
                }
                let mut m = outputs.get(ri.role);
                if matches!(m, Materialize::Decoded(_)) && !can_decode(t.info.ty) {
                    m = Materialize::Packed;
                }
                let bytes = resident_bytes(m, t.info.n_bytes, t.info.n_elements);
                TensorSummary {
                    name: t.info.name.to_string(),
                    role: ri.role,
                    layer: ri.layer,
                    materialize: m,
                    bytes,
                    zero_copy: mapped && m == Materialize::Packed,
                }
            })
            .collect();
        let n_layers = n_layers_hint.max(max_layer.map_or(0, |l: u32| l.saturating_add(1)));
        ModelSummary { tensors, n_layers }
    }

    /// Sum of all tensors' resident bytes.
    pub fn total_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.bytes).sum()
    }
}

/// Bytes a tensor occupies once materialized.
pub fn resident_bytes(m: Materialize, packed: u64, n_elements: u64) -> u64 {
    match m {
        Materialize::Packed => packed,
        Materialize::Decoded(o) => n_elements.saturating_mul(OutType::size(o)),
    }
}
