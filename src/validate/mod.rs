//! Model validation (`bitgguf validate`): structural checks, then per-tensor accuracy against a
//! reference model (DESIGN §4).
//!
//! Structural: the file loaded (every parser and layout check of [`crate::gguf`] passed), and
//! every tensor decodes through [`Model::codec`] — invalid codes (I2_S code 3, TL indices out
//! of range), bad per-tensor scales, TL tensors without tile parameters (neither a
//! `bitgguf.tl.*` key nor load options) and the like are failures naming the tensor. Types without
//! a decoder (integer tensors, q8_1, q8_k) are reported as not decodable, which is not a failure.
//!
//! Accuracy: for every tensor of the file and the tensor of the same name in the reference, the
//! dequantized weights are compared ([`metrics`]: cosine similarity, relative RMSE, max abs
//! error, exactness), and for tensors of 2 or more dimensions also `y = W·x` with the seeded
//! `x` of [`metrics::seeded_input`] (rows of `ne0`, f64). A tensor passes when both cosines are
//! at least the gate (default [`COSINE_GATE`] = 0.99, the seed's "≥ 99 % accuracy"). Missing
//! or mis-shaped counterparts fail.

pub mod metrics;

use crate::convert::decode::{decode_f32, is_ternary};
use crate::error::Result;
use crate::model::Model;
use crate::quant;
use crate::types::TypeId;
use metrics::{compare, compare_gemv, seeded_input, Accuracy};

/// The default accuracy gate: cosine similarity ≥ 0.99.
pub const COSINE_GATE: f64 = 0.99;

/// How [`validate`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidateOptions {
    /// The minimum cosine similarity (weights and GEMV).
    pub gate: f64,
    /// Seed of the GEMV input.
    pub seed: u64,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions { gate: COSINE_GATE, seed: 42 }
    }
}

/// The accuracy of one tensor against its reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorAccuracy {
    /// The reference tensor's type.
    pub reference_type: TypeId,
    /// Dequantized weights.
    pub weights: Accuracy,
    /// `W·x` (tensors of 2+ dimensions).
    pub gemv: Option<Accuracy>,
}

impl TensorAccuracy {
    /// Whether both cosines reach `gate` (NaN fails).
    pub fn passes(&self, gate: f64) -> bool {
        self.weights.cosine >= gate && self.gemv.is_none_or(|g| g.cosine >= gate)
    }

    /// Whether the weights (and so the GEMV) are exact.
    pub fn exact(&self) -> bool {
        self.weights.exact
    }
}

/// The result for one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorCheck {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: TypeId,
    /// Dimensions (n_dims of them).
    pub ne: Vec<u64>,
    /// `None`: decoded; `Some(message)`: the structural failure.
    pub decode_error: Option<String>,
    /// The type has no decoder (not a failure).
    pub not_decodable: bool,
    /// Against the reference, when one was given and the tensor decoded.
    pub accuracy: Option<TensorAccuracy>,
    /// Why the accuracy could not be measured (missing in the reference, shape mismatch, the
    /// reference tensor does not decode): a failure.
    pub accuracy_error: Option<String>,
}

/// The result of [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationReport {
    /// Every tensor of the file, in order.
    pub tensors: Vec<TensorCheck>,
    /// Reference tensors that the file lacks.
    pub missing: Vec<String>,
    /// The gate used.
    pub gate: f64,
    /// Whether a reference was given.
    pub with_reference: bool,
}

impl ValidationReport {
    /// Every tensor decodes.
    pub fn structural_ok(&self) -> bool {
        self.tensors.iter().all(|t| t.decode_error.is_none())
    }

    /// Every tensor was measured and passes the gate, and no reference tensor is missing
    /// (true without a reference).
    pub fn accuracy_ok(&self) -> bool {
        if !self.with_reference {
            return true;
        }
        self.missing.is_empty()
            && self.tensors.iter().all(|t| {
                t.not_decodable || (t.accuracy_error.is_none() && t.accuracy.is_some_and(|a| a.passes(self.gate)))
            })
    }

    /// The lowest weight cosine over the measured tensors.
    pub fn min_cosine(&self) -> Option<f64> {
        self.tensors.iter().filter_map(|t| t.accuracy.map(|a| a.weights.cosine)).reduce(f64::min)
    }
}

/// A tensor of a model decoded to f32 with the model's codec (TL tile parameters from the file
/// or the load options, I2_S layout, scale and code checks), or `Ok(None)`: no decoder for its
/// type.
fn decode_tensor(model: &Model, i: usize) -> Result<Option<Vec<f32>>> {
    let t = model.tensor(i).expect("index in range").info;
    if !is_ternary(t.ty.id) && quant::decoder(t.ty.id).is_none() {
        return Ok(None);
    }
    let codec = model.codec(i)?;
    decode_f32(&codec, model.tensor_data(i).expect("index in range"), t.name).map(Some)
}

/// Validate `model`, against `reference` when given (see the module docs). `progress(done,
/// total, name)` is called before each tensor.
pub fn validate(
    model: &Model,
    reference: Option<&Model>,
    opts: &ValidateOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> ValidationReport {
    let total = model.tensor_count();
    let mut tensors = Vec::with_capacity(total);
    for i in 0..total {
        let t = model.tensor(i).expect("index in range").info;
        progress(i, total, t.name);
        let mut check = TensorCheck {
            name: t.name.into(),
            ty: t.ty.id,
            ne: t.ne[..t.n_dims.max(1) as usize].to_vec(),
            decode_error: None,
            not_decodable: false,
            accuracy: None,
            accuracy_error: None,
        };
        let values = match decode_tensor(model, i) {
            Ok(Some(v)) => v,
            Ok(None) => {
                check.not_decodable = true;
                tensors.push(check);
                continue;
            }
            Err(e) => {
                check.decode_error = Some(e.message().to_string());
                tensors.push(check);
                continue;
            }
        };
        if let Some(r) = reference {
            match r.find_tensor(t.name) {
                None => check.accuracy_error = Some("no tensor of this name in the reference".into()),
                Some(j) => {
                    let rt = r.tensor(j).expect("found").info;
                    if rt.ne != t.ne {
                        check.accuracy_error = Some(format!(
                            "shape {:?} differs from the reference's {:?}",
                            check.ne,
                            &rt.ne[..rt.n_dims.max(1) as usize]
                        ));
                    } else {
                        match decode_tensor(r, j) {
                            Ok(Some(rv)) => {
                                let weights = compare(&values, &rv);
                                let gemv = (t.n_dims >= 2 && t.ne[0] > 0).then(|| {
                                    let x = seeded_input(t.ne[0] as usize, opts.seed);
                                    compare_gemv(&values, &rv, &x)
                                });
                                check.accuracy = Some(TensorAccuracy { reference_type: rt.ty.id, weights, gemv });
                            }
                            Ok(None) => {
                                check.accuracy_error =
                                    Some(format!("the reference tensor's type {} has no decoder", rt.ty.name))
                            }
                            Err(e) => {
                                check.accuracy_error =
                                    Some(format!("the reference tensor does not decode: {}", e.message()))
                            }
                        }
                    }
                }
            }
        }
        tensors.push(check);
    }
    let missing = match reference {
        Some(r) => {
            r.tensors().filter(|t| model.find_tensor(t.info.name).is_none()).map(|t| t.info.name.into()).collect()
        }
        None => Vec::new(),
    };
    ValidationReport { tensors, missing, gate: opts.gate, with_reference: reference.is_some() }
}
