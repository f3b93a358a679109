//! What a tensor is for, from its name (llama.cpp's naming: `token_embd.weight`,
//! `blk.N.attn_q.weight`, `blk.N.ffn_down.weight`, `output_norm.weight`, `output.weight`, ...).
//!
//! Placement and the progressive loader group tensors by [`TensorRole`] and layer: embeddings,
//! the output head and the final norm are "critical" (needed first, and kept on the host by the
//! hybrid strategy), layer tensors move in layer batches.

/// The role of a tensor in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TensorRole {
    /// Token (or position / token-type) embeddings: `token_embd`, `position_embd`, `token_types`.
    Embedding,
    /// Attention weights of a layer: `blk.N.attn_*` (not the norms).
    Attention,
    /// Feed-forward weights of a layer: `blk.N.ffn_*` (not the norms), including MoE experts.
    FeedForward,
    /// A normalization weight or bias: `*_norm*` in a layer or `output_norm`.
    Norm,
    /// The output head: `output.weight` (or `output.bias`).
    Output,
    /// Anything else (`rope_freqs`, `cls`, vision towers, ...).
    Other,
}

impl TensorRole {
    /// Lower-case name ("embedding", "attention", "ffn", "norm", "output", "other").
    pub fn name(self) -> &'static str {
        match self {
            TensorRole::Embedding => "embedding",
            TensorRole::Attention => "attention",
            TensorRole::FeedForward => "ffn",
            TensorRole::Norm => "norm",
            TensorRole::Output => "output",
            TensorRole::Other => "other",
        }
    }

    /// Every role, in a fixed order (the C API numbers them in this order from 0).
    pub const ALL: [TensorRole; 6] = [
        TensorRole::Embedding,
        TensorRole::Attention,
        TensorRole::FeedForward,
        TensorRole::Norm,
        TensorRole::Output,
        TensorRole::Other,
    ];

    /// The role's index in [`TensorRole::ALL`].
    pub fn index(self) -> usize {
        TensorRole::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// A tensor's role and layer, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleInfo {
    /// The role.
    pub role: TensorRole,
    /// The layer index N of `blk.N.*` names; `None` for tensors outside the layers.
    pub layer: Option<u32>,
}

impl RoleInfo {
    /// True for the tensors the loader brings in first: token embeddings, the output head and
    /// the final norm (any embedding, output or norm outside the layers).
    pub fn is_critical(&self) -> bool {
        self.layer.is_none() && matches!(self.role, TensorRole::Embedding | TensorRole::Output | TensorRole::Norm)
    }
}

/// The layer index of a `blk.N.` name (N a decimal number without sign; at most u32).
pub fn layer_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("blk.")?;
    let end = rest.find('.')?;
    let digits = &rest[..end];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Classify a tensor by name.
pub fn classify(name: &str) -> RoleInfo {
    let layer = layer_of(name);
    // The part after `blk.N.`, or the whole name.
    let local = match layer {
        Some(_) => name.splitn(3, '.').nth(2).unwrap_or(""),
        None => name,
    };
    let base = local.split('.').next().unwrap_or("");
    let role = if base.contains("norm") {
        TensorRole::Norm
    } else if layer.is_some() {
        if base.starts_with("attn") || base.starts_with("ssm") || base.starts_with("time_mix") {
            TensorRole::Attention
        } else if base.starts_with("ffn") || base.starts_with("channel_mix") {
            TensorRole::FeedForward
        } else {
            TensorRole::Other
        }
    } else {
        match base {
            "token_embd" | "position_embd" | "token_types" | "tok_embeddings" => TensorRole::Embedding,
            "output" => TensorRole::Output,
            _ => TensorRole::Other,
        }
    };
    RoleInfo { role, layer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_names() {
        let c = |n| classify(n);
        assert_eq!(c("token_embd.weight"), RoleInfo { role: TensorRole::Embedding, layer: None });
        assert_eq!(c("output.weight"), RoleInfo { role: TensorRole::Output, layer: None });
        assert_eq!(c("output_norm.weight"), RoleInfo { role: TensorRole::Norm, layer: None });
        assert_eq!(c("blk.0.attn_q.weight"), RoleInfo { role: TensorRole::Attention, layer: Some(0) });
        assert_eq!(c("blk.31.attn_output.weight"), RoleInfo { role: TensorRole::Attention, layer: Some(31) });
        assert_eq!(c("blk.7.attn_norm.weight"), RoleInfo { role: TensorRole::Norm, layer: Some(7) });
        assert_eq!(c("blk.7.attn_sub_norm.weight"), RoleInfo { role: TensorRole::Norm, layer: Some(7) });
        assert_eq!(c("blk.12.ffn_down.weight"), RoleInfo { role: TensorRole::FeedForward, layer: Some(12) });
        assert_eq!(c("blk.12.ffn_gate_exps.weight"), RoleInfo { role: TensorRole::FeedForward, layer: Some(12) });
        assert_eq!(c("blk.12.ffn_norm.weight"), RoleInfo { role: TensorRole::Norm, layer: Some(12) });
        assert_eq!(c("rope_freqs.weight"), RoleInfo { role: TensorRole::Other, layer: None });
        assert!(c("token_embd.weight").is_critical());
        assert!(c("output_norm.weight").is_critical());
        assert!(!c("blk.0.attn_norm.weight").is_critical());
    }

    #[test]
    fn odd_layer_names_are_not_layers() {
        assert_eq!(layer_of("blk.x.attn_q.weight"), None);
        assert_eq!(layer_of("blk.-1.attn_q.weight"), None);
        assert_eq!(layer_of("blk..attn_q.weight"), None);
        assert_eq!(layer_of("blk.99999999999.attn_q.weight"), None);
        assert_eq!(layer_of("blk.3"), None);
        assert_eq!(layer_of("xblk.3.a"), None);
        assert_eq!(layer_of("blk.4294967295.a"), Some(u32::MAX));
    }
}
