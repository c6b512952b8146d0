"""GPT-2: config, presets, decoder-only model with a KV cache, and the Hugging Face key map."""
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import nn

from ..block import GPT2Block
from ..checkpoint import IGNORE, Target
from ..errors import ConfigError
from ..chat import ChatMixin
from ..generation.mixins import CausalLMGenerationMixin
from ..layer import KVCache, TextEmbeddings, build_attn_bias, check_cached_mask, default_position_ids, get_activation
from .base import BaseModel
from .config import ModelConfig

Tensor = torch.Tensor


@dataclass
class GPT2Config(ModelConfig):
    """GPT-2 hyper-parameters, named as in Hugging Face's and FlagAI's config.json."""

    family = "gpt2"
    model_types = ("gpt2",)

    # sizes
    vocab_size: int
    n_positions: int
    n_embd: int
    n_layer: int
    n_head: int
    n_inner: Optional[int] = None  # feed-forward width; None means 4 * n_embd
    # behaviour
    activation_function: str = "gelu_new"
    layer_norm_epsilon: float = 1e-5
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    reorder_and_upcast_attn: bool = False
    tie_word_embeddings: bool = True
    bos_token_id: Optional[int] = 50256
    eos_token_id: Optional[int] = 50256
    pad_token_id: Optional[int] = None
    # training
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    initializer_range: float = 0.02

    def validate(self) -> None:
        self.require_positive("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner")
        self.require_divides("n_head", "n_embd")
        get_activation(self.activation_function)
        if self.scale_attn_by_inverse_layer_idx:
            raise ConfigError("field 'scale_attn_by_inverse_layer_idx' = true is not supported")

    @property
    def intermediate_size(self) -> int:
        return self.n_inner or 4 * self.n_embd


GPT2Config.presets = {
    # openai-community/gpt2 (Radford et al. 2019).
    "GPT2-small": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    # openai-community/gpt2-medium.
    "GPT2-medium": dict(vocab_size=50257, n_positions=1024, n_embd=1024, n_layer=24, n_head=16),
    # FlagAI's GPT2-base-ch (uer/gpt2-chinese-cluecorpussmall): BERT-Chinese vocab, 12 x 768.
    "GPT2-base-ch": dict(vocab_size=21128, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                         bos_token_id=101, eos_token_id=102, pad_token_id=0),
}


class GPT2Model(BaseModel, CausalLMGenerationMixin, ChatMixin):
    """GPT-2 decoder with a language-model head tied to the token embeddings.

    ``forward`` returns ``logits`` ``[B, L, V]``, ``hidden_states`` (after the final norm),
    ``loss`` (next-token cross-entropy, labels shifted inside, -100 ignored) and, when caching,
    ``past_key_values`` (a :class:`~flagai_lite.layer.KVCache` to pass back for the next step).
    """

    config_class = GPT2Config
    architecture = "decoder"
    checkpoint_prefixes = ("transformer.", "module.", "model.")
    head_prefixes = ("lm_head.",)

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.embeddings = TextEmbeddings(
            vocab_size=config.vocab_size,
            hidden_size=config.n_embd,
            max_positions=config.n_positions,
            dropout=config.embd_pdrop,
        )
        self.layers = nn.ModuleList(
            GPT2Block(
                hidden_size=config.n_embd,
                num_heads=config.n_head,
                intermediate_size=config.intermediate_size,
                activation=config.activation_function,
                norm_eps=config.layer_norm_epsilon,
                dropout=config.resid_pdrop,
                attention_dropout=config.attn_pdrop,
                attention_scale=None if config.scale_attn_weights else 1.0,
            )
            for _ in range(config.n_layer)
        )
        self.final_norm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.tied_weights = {"lm_head.weight": "embeddings.word.weight"}
        self.tie_weights()

    def decode(
        self,
        *,
        input_ids: Tensor,
        attention_mask: Optional[Tensor] = None,
        position_ids: Optional[Tensor] = None,
        cache: Optional[KVCache] = None,
    ) -> Tensor:
        """Final hidden states ``[B, L, H]``; appends this step's keys/values to ``cache``."""
        batch, length = input_ids.shape
        past = cache.seq_length if cache is not None else 0
        check_cached_mask(attention_mask, batch, past, length)
        if position_ids is None:
            position_ids = default_position_ids(batch, length, past, input_ids.device)
        x = self.embeddings(input_ids, position_ids)  # (B, L, H)
        bias, is_causal = build_attn_bias(
            attention_mask=attention_mask, query_length=length, key_length=past + length,
            causal=True, dtype=x.dtype, device=x.device,
        )
        for i, layer in enumerate(self.layers):
            x = layer(x, attn_bias=bias, is_causal=is_causal, cache=cache, layer_idx=i)
        return self.final_norm(x)

    @property
    def hidden_size(self) -> int:
        return self.config.n_embd

    def features(self, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 token_type_ids: Optional[Tensor] = None) -> Tensor:
        return self.decode(input_ids=input_ids, attention_mask=attention_mask)

    def forward(
        self,
        *,
        input_ids: Tensor,
        attention_mask: Optional[Tensor] = None,
        position_ids: Optional[Tensor] = None,
        past_key_values: Optional[KVCache] = None,
        use_cache: bool = False,
        labels: Optional[Tensor] = None,
    ) -> Dict[str, Tensor]:
        """Next-token logits; pass ``past_key_values`` back (with ``attention_mask`` over all tokens) to continue."""
        return self.causal_lm_forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                      past_key_values=past_key_values, use_cache=use_cache, labels=labels)


# Hugging Face names (after the "transformer." prefix) -> ours. Conv1D stores [in, out]: transpose.
GPT2Model.key_map = {
    "wte.weight": "embeddings.word.weight",
    "wpe.weight": "embeddings.position.weight",
    "h.{}.ln_1.weight": "layers.{}.norm1.weight",
    "h.{}.ln_1.bias": "layers.{}.norm1.bias",
    "h.{}.attn.c_attn.weight": Target("layers.{}.attn.qkv_proj.weight", transpose=True),
    "h.{}.attn.c_attn.bias": "layers.{}.attn.qkv_proj.bias",
    "h.{}.attn.c_proj.weight": Target("layers.{}.attn.out_proj.weight", transpose=True),
    "h.{}.attn.c_proj.bias": "layers.{}.attn.out_proj.bias",
    "h.{}.ln_2.weight": "layers.{}.norm2.weight",
    "h.{}.ln_2.bias": "layers.{}.norm2.bias",
    "h.{}.mlp.c_fc.weight": Target("layers.{}.mlp.up_proj.weight", transpose=True),
    "h.{}.mlp.c_fc.bias": "layers.{}.mlp.up_proj.bias",
    "h.{}.mlp.c_proj.weight": Target("layers.{}.mlp.down_proj.weight", transpose=True),
    "h.{}.mlp.c_proj.bias": "layers.{}.mlp.down_proj.bias",
    "h.{}.attn.bias": IGNORE,  # causal-mask buffer of old checkpoints
    "h.{}.attn.masked_bias": IGNORE,
    "ln_f.weight": "final_norm.weight",
    "ln_f.bias": "final_norm.bias",
    "lm_head.weight": "lm_head.weight",  # dropped again when tied to the embeddings
}
