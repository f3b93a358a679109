//! The model's shape from its metadata: architecture, number of layers, dimensions.
//!
//! Keys are llama.cpp's: `general.architecture` and `{arch}.block_count`,
//! `{arch}.embedding_length`, `{arch}.feed_forward_length`, `{arch}.attention.head_count`,
//! `{arch}.attention.head_count_kv`, `{arch}.context_length`, `{arch}.vocab_size`. Every field
//! is optional: a file without them still loads, and placement then counts layers from the
//! tensor names.

use super::roles::{classify, TensorRole};
use super::Model;
use crate::gguf::{Gguf, Value};

/// The model's configuration as far as its metadata (and tensor names) tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelConfig {
    /// `general.architecture` ("llama", "bitnet-b1.58", ...), if present and UTF-8.
    pub architecture: Option<String>,
    /// Number of transformer layers: `{arch}.block_count`, else 1 + the largest `blk.N` index.
    pub n_layers: u32,
    /// `{arch}.embedding_length`.
    pub n_embd: Option<u64>,
    /// `{arch}.feed_forward_length` (the first element when it is an array).
    pub n_ff: Option<u64>,
    /// `{arch}.attention.head_count` (the first element when it is an array).
    pub n_head: Option<u64>,
    /// `{arch}.attention.head_count_kv` (the first element when it is an array).
    pub n_head_kv: Option<u64>,
    /// `{arch}.context_length`.
    pub n_ctx_train: Option<u64>,
    /// `{arch}.vocab_size`, else the length of `tokenizer.ggml.tokens`, else `ne[1]` of
    /// `token_embd.weight`.
    pub n_vocab: Option<u64>,
}

fn uint(g: &Gguf<'_>, key: &str) -> Option<u64> {
    match g.get(key)? {
        Value::Array(a) => a.get(0).and_then(|v| v.as_u64()),
        v => v.as_u64(),
    }
}

impl ModelConfig {
    /// Read the configuration of a model.
    pub fn from_model(model: &Model) -> ModelConfig {
        let g = model.metadata();
        let architecture = g
            .get("general.architecture")
            .and_then(|v| v.as_str_bytes())
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_string);
        let key = |k: &str| architecture.as_ref().and_then(|a| uint(&g, &format!("{a}.{k}")));
        let max_layer = model.tensors().filter_map(|t| classify(t.info.name).layer).max();
        let n_layers = key("block_count")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or_else(|| max_layer.map_or(0, |l| l.saturating_add(1)));
        let n_vocab = key("vocab_size")
            .or_else(|| match g.get("tokenizer.ggml.tokens") {
                Some(Value::Array(a)) => Some(a.len()),
                _ => None,
            })
            .or_else(|| {
                model
                    .tensors()
                    .find(|t| {
                        classify(t.info.name).role == TensorRole::Embedding && t.info.name.starts_with("token_embd")
                    })
                    .map(|t| t.info.ne[1])
            });
        ModelConfig {
            n_layers,
            n_embd: key("embedding_length"),
            n_ff: key("feed_forward_length"),
            n_head: key("attention.head_count"),
            n_head_kv: key("attention.head_count_kv"),
            n_ctx_train: key("context_length"),
            n_vocab,
            architecture,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgufWriter, OwnedValue};
    use crate::LoadOptions;

    #[test]
    fn reads_llama_keys_and_falls_back_to_names() {
        let mut w = GgufWriter::new();
        w.kv("general.architecture", OwnedValue::str("llama"));
        w.kv("llama.block_count", OwnedValue::U32(2));
        w.kv("llama.embedding_length", OwnedValue::U32(64));
        w.kv("llama.feed_forward_length", OwnedValue::U64(128));
        w.kv("llama.attention.head_count", OwnedValue::U32(4));
        w.tensor("token_embd.weight", 0, &[64, 10], vec![0u8; 64 * 10 * 4]);
        w.tensor("blk.0.attn_q.weight", 0, &[64, 64], vec![0u8; 64 * 64 * 4]);
        let m = Model::from_bytes(&w.to_bytes().unwrap(), &LoadOptions::default()).unwrap();
        let c = ModelConfig::from_model(&m);
        assert_eq!(c.architecture.as_deref(), Some("llama"));
        assert_eq!(c.n_layers, 2);
        assert_eq!(c.n_embd, Some(64));
        assert_eq!(c.n_ff, Some(128));
        assert_eq!(c.n_head, Some(4));
        assert_eq!(c.n_head_kv, None);
        assert_eq!(c.n_vocab, Some(10));

        let mut w = GgufWriter::new();
        w.tensor("blk.5.ffn_up.weight", 0, &[4, 4], vec![0u8; 64]);
        let m = Model::from_bytes(&w.to_bytes().unwrap(), &LoadOptions::default()).unwrap();
        let c = ModelConfig::from_model(&m);
        assert_eq!(c.architecture, None);
        assert_eq!(c.n_layers, 6);
    }
}
