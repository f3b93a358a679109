//! The architectures `synth` can write: the published BitNet b1.58 2B-4T file's layout
//! (shared/reference/bitnet-formats.md §3.9, §7), the bitnet.cpp preset models whose TL tile
//! tables ship with microsoft/BitNet (§4.2, §5.2), and a tiny model for tests.

/// A model architecture to synthesize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// A few-MB model with the 2B-4T layout (`bitnet-b1.58`), every dimension valid for every
    /// ternary format and every upstream block type (multiples of 256).
    Tiny,
    /// microsoft/bitnet-b1.58-2B-4T: 30 layers, 2560 / 6912, 20 heads (5 KV), vocab 128256,
    /// 332 tensors, no `output.weight` (tied embeddings) — §3.9, §7.
    Bitnet2b4t,
    /// 1bitLLM/bitnet_b1_58-large (arch `bitnet`): 24 layers, 1536 / 4096, vocab 32002.
    BitnetLarge,
    /// 1bitLLM/bitnet_b1_58-3B (arch `bitnet`): 26 layers, 3200 / 8640, vocab 32002.
    Bitnet3b,
    /// HF1BitLLM/Llama3-8B-1.58-100B-tokens (arch `llama`): 32 layers, 4096 / 14336, 8 KV
    /// heads, vocab 128256, an untied `output.weight`; 291 tensors (§7).
    Llama3_8b158,
}

/// The dimensions and metadata of a preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arch {
    /// `general.architecture` (also the prefix of the model keys).
    pub architecture: &'static str,
    /// `general.name`.
    pub name: &'static str,
    /// `embedding_length`.
    pub n_embd: u64,
    /// `feed_forward_length`.
    pub n_ff: u64,
    /// `block_count`.
    pub n_layer: u64,
    /// `attention.head_count`.
    pub n_head: u64,
    /// `attention.head_count_kv`.
    pub n_head_kv: u64,
    /// `vocab_size` (rows of `token_embd.weight`).
    pub n_vocab: u64,
    /// `context_length`.
    pub n_ctx: u64,
    /// `rope.freq_base`.
    pub rope_base: f32,
    /// `attention.layer_norm_rms_epsilon`.
    pub rms_eps: f32,
    /// Whether the blocks have `attn_sub_norm` / `ffn_sub_norm` (the BitNet architectures).
    pub sub_norms: bool,
    /// Whether there is an untied `output.weight`.
    pub output: bool,
    /// `tokenizer.ggml.model`: `"gpt2"` (Llama-3 BPE) or `"llama"` (SentencePiece).
    pub tokenizer: &'static str,
    /// The `preset_kernels/` model whose TL tile tables apply, if any.
    pub tl_model: Option<&'static str>,
}

impl Arch {
    /// Dimensions of one attention head.
    pub fn head_dim(&self) -> u64 {
        self.n_embd / self.n_head
    }

    /// Rows of `attn_k` / `attn_v`.
    pub fn n_embd_kv(&self) -> u64 {
        self.head_dim() * self.n_head_kv
    }
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 5] =
        [Preset::Tiny, Preset::Bitnet2b4t, Preset::BitnetLarge, Preset::Bitnet3b, Preset::Llama3_8b158];

    /// The preset's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Bitnet2b4t => "bitnet-2b-4t",
            Preset::BitnetLarge => "bitnet-large",
            Preset::Bitnet3b => "bitnet-3b",
            Preset::Llama3_8b158 => "llama3-8b-1.58",
        }
    }

    /// The preset with this name (as [`Preset::name`], case-insensitive).
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The architecture.
    pub fn arch(self) -> Arch {
        const B158: &str = "bitnet-b1.58";
        match self {
            Preset::Tiny => Arch {
                architecture: B158,
                name: "bitgguf-synth-tiny",
                n_embd: 256,
                n_ff: 512,
                n_layer: 2,
                n_head: 4,
                n_head_kv: 2,
                n_vocab: 512,
                n_ctx: 256,
                rope_base: 500000.0,
                rms_eps: 1e-5,
                sub_norms: true,
                output: false,
                tokenizer: "gpt2",
                tl_model: None,
            },
            Preset::Bitnet2b4t => Arch {
                architecture: B158,
                name: "bitnet2b",
                n_embd: 2560,
                n_ff: 6912,
                n_layer: 30,
                n_head: 20,
                n_head_kv: 5,
                n_vocab: 128256,
                n_ctx: 4096,
                rope_base: 500000.0,
                rms_eps: 1e-5,
                sub_norms: true,
                output: false,
                tokenizer: "gpt2",
                tl_model: None,
            },
            Preset::BitnetLarge => Arch {
                architecture: "bitnet",
                name: "bitnet_b1_58-large",
                n_embd: 1536,
                n_ff: 4096,
                n_layer: 24,
                n_head: 16,
                n_head_kv: 16,
                n_vocab: 32002,
                n_ctx: 2048,
                rope_base: 10000.0,
                rms_eps: 1e-5,
                sub_norms: true,
                output: false,
                tokenizer: "llama",
                tl_model: Some("bitnet_b1_58-large"),
            },
            Preset::Bitnet3b => Arch {
                architecture: "bitnet",
                name: "bitnet_b1_58-3B",
                n_embd: 3200,
                n_ff: 8640,
                n_layer: 26,
                n_head: 32,
                n_head_kv: 32,
                n_vocab: 32002,
                n_ctx: 2048,
                rope_base: 10000.0,
                rms_eps: 1e-5,
                sub_norms: true,
                output: false,
                tokenizer: "llama",
                tl_model: Some("bitnet_b1_58-3B"),
            },
            Preset::Llama3_8b158 => Arch {
                architecture: "llama",
                name: "Llama3-8B-1.58-100B-tokens",
                n_embd: 4096,
                n_ff: 14336,
                n_layer: 32,
                n_head: 32,
                n_head_kv: 8,
                n_vocab: 128256,
                n_ctx: 8192,
                rope_base: 500000.0,
                rms_eps: 1e-5,
                sub_norms: false,
                output: true,
                tokenizer: "gpt2",
                tl_model: Some("Llama3-8B-1.58-100B-tokens"),
            },
        }
    }
}
