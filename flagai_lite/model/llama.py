"""LLaMA family: one decoder for Llama, Aquila, Qwen2, Mistral and GLM-4 checkpoints (Hugging Face layout).

The variants differ only in config values: biases on the attention projections (Qwen2, GLM-4),
a sliding attention window (Mistral, optionally Qwen2), partial interleaved rotary (GLM-4),
RoPE scaling (Llama 3.1's "llama3", linear, dynamic NTK, yarn) and tied embeddings.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from ..block.llama import LlamaBlock
from ..checkpoint import IGNORE, Target
from ..errors import ConfigError
from ..layer import (
    KVCache, RMSNorm, TextEmbeddings, build_attn_bias, check_cached_mask, default_position_ids, get_activation,
    padding_bias,
)
from ..layer.rotary import RotaryEmbedding, check_rope_scaling
from ..chat import ChatMixin
from ..generation.mixins import CausalLMGenerationMixin
from .base import BaseModel
from .config import ModelConfig

Tensor = torch.Tensor

FULL, SLIDING = "full_attention", "sliding_attention"
# Families whose q/k/v projections carry a bias when config.json does not say (Qwen2 always does).
_QKV_BIAS_TYPES = ("qwen2", "glm")
# Families whose output projection follows ``attention_bias`` (elsewhere it never has a bias).
_OUT_BIAS_TYPES = ("llama", "aquila")


@dataclass
class LlamaConfig(ModelConfig):
    """LLaMA-family hyper-parameters, named as in Hugging Face's config.json (transformers 5).

    Older files (``rope_theta`` / ``rope_scaling`` / ``partial_rotary_factor`` at the top level,
    Qwen2's ``use_sliding_window`` + ``max_window_layers``) are translated by :meth:`from_dict`.
    """

    family = "llama"
    model_types = ("llama", "aquila", "qwen2", "mistral", "glm")

    # sizes
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: Optional[int] = None  # None: as many as query heads (no grouping)
    head_dim: Optional[int] = None  # None: hidden_size // num_attention_heads
    max_position_embeddings: int = 2048
    # which checkpoint family; decides the defaults of the bias flags below
    model_type: str = "llama"
    # behaviour
    hidden_act: str = "silu"
    rms_norm_eps: float = 1e-6
    # {"rope_type": "default" | "linear" | "dynamic" | "yarn" | "llama3", "rope_theta": ...,
    #  "partial_rotary_factor": ..., "factor": ..., ...}
    rope_parameters: Optional[Dict[str, Any]] = None
    attention_bias: Optional[bool] = None  # q/k/v bias; None: True for qwen2 and glm
    attention_out_bias: Optional[bool] = None  # o_proj bias; None: attention_bias for llama, else False
    mlp_bias: bool = False
    sliding_window: Optional[int] = None  # Mistral: keys at most this many positions back
    layer_types: Optional[List[str]] = None  # per layer "full_attention" | "sliding_attention"
    tie_word_embeddings: bool = False
    bos_token_id: Optional[int] = None
    eos_token_id: Optional[Union[int, List[int]]] = None
    pad_token_id: Optional[int] = None
    # training
    attention_dropout: float = 0.0
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        self._check_types()
        self._fill_defaults()
        self.validate()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>", **overrides: Any) -> "LlamaConfig":
        """As :meth:`ModelConfig.from_dict`, after translating pre-transformers-5 field names."""
        return super().from_dict(_translate_legacy(dict(data)), source=source, **overrides)

    def _fill_defaults(self) -> None:
        self.require_positive("num_attention_heads", "hidden_size")
        if self.head_dim is None:
            self.require_divides("num_attention_heads", "hidden_size")
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.attention_bias is None:
            self.attention_bias = self.model_type in _QKV_BIAS_TYPES
        if self.attention_out_bias is None:
            self.attention_out_bias = self.attention_bias and self.model_type in _OUT_BIAS_TYPES
        rope = dict(self.rope_parameters or {})
        rope.setdefault("rope_type", "default")
        rope.setdefault("rope_theta", 10000.0)
        if self.model_type == "glm":
            rope.setdefault("partial_rotary_factor", 0.5)  # GLM-4 rotates half of each head
        if rope["rope_type"] in ("llama3", "yarn"):
            rope.setdefault("original_max_position_embeddings", self.max_position_embeddings)
        self.rope_parameters = rope
        if self.layer_types is None:
            self.layer_types = [SLIDING if self.sliding_window else FULL] * self.num_hidden_layers

    def validate(self) -> None:
        self.require_positive(
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "max_position_embeddings", "sliding_window",
        )
        self.require_divides("num_key_value_heads", "num_attention_heads")
        if self.model_type not in self.model_types:
            raise ConfigError(f"field 'model_type' must be one of {list(self.model_types)}, got {self.model_type!r}")
        get_activation(self.hidden_act)
        if any(isinstance(v, dict) for v in self.rope_parameters.values()):
            raise ConfigError("field 'rope_parameters': per-layer-type RoPE parameters are not supported")
        check_rope_scaling(self.rope_parameters)
        factor = self.rope_parameters.get("partial_rotary_factor", 1.0)
        if not 0 < factor <= 1 or self.rotary_dim % 2:
            raise ConfigError(
                f"field 'rope_parameters.partial_rotary_factor' ({factor}) must be in (0, 1] and give an even "
                f"number of rotated dimensions (head_dim {self.head_dim} -> {self.rotary_dim})"
            )
        if len(self.layer_types) != self.num_hidden_layers or not set(self.layer_types) <= {FULL, SLIDING}:
            raise ConfigError(
                f"field 'layer_types' must list {self.num_hidden_layers} of {FULL!r} / {SLIDING!r}, got {self.layer_types}"
            )
        if SLIDING in self.layer_types and self.sliding_window is None:
            raise ConfigError("field 'layer_types' names sliding_attention layers but 'sliding_window' is null")

    @property
    def rotary_dim(self) -> int:
        """Rotated dimensions per head (GLM-4: half of ``head_dim``)."""
        return int(self.head_dim * self.rope_parameters.get("partial_rotary_factor", 1.0))


def _translate_legacy(data: Dict[str, Any]) -> Dict[str, Any]:
    """transformers-4 field names -> ours: rope_scaling / rope_theta / partial_rotary_factor, Qwen2's window."""
    rope = dict(data.get("rope_parameters") or data.get("rope_scaling") or {})
    if "type" in rope:
        rope.setdefault("rope_type", rope.pop("type"))
    for key in ("rope_theta", "partial_rotary_factor"):
        if data.get(key) is not None:
            rope.setdefault(key, data[key])
    if rope:
        data["rope_parameters"] = rope
    if data.get("use_sliding_window") is False:  # Qwen2 writes a window it does not use
        data["sliding_window"] = None
    if data.get("layer_types") is None and data.get("sliding_window") and "max_window_layers" in data:
        # Qwen2: layers from max_window_layers on use the window.
        data["layer_types"] = [
            SLIDING if i >= data["max_window_layers"] else FULL for i in range(data["num_hidden_layers"])
        ]
    return data


LlamaConfig.presets = {
    # meta-llama/Llama-2-7b-hf config.json (Touvron et al. 2023b).
    "Llama-2-7b": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, max_position_embeddings=4096, rms_norm_eps=1e-5,
                       bos_token_id=1, eos_token_id=2),
    # BAAI Aquila-7B: AquilaConfig defaults in FlagAI's examples/Aquila/Aquila-chat-hf/configuration_aquila.py
    # (Llama layout, 100008-token bilingual vocabulary; special token ids come with its tokenizer).
    "Aquila-7b": dict(model_type="aquila", vocab_size=100008, hidden_size=4096, intermediate_size=11008,
                      num_hidden_layers=32, num_attention_heads=32, max_position_embeddings=2048,
                      rms_norm_eps=1e-6),
    # Qwen/Qwen2-0.5B config.json: GQA 14/2, q/k/v bias, tied embeddings, window unused.
    "Qwen2-0.5B": dict(model_type="qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864,
                       num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                       max_position_embeddings=131072, rms_norm_eps=1e-6, tie_word_embeddings=True,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                       bos_token_id=151643, eos_token_id=151643),
    # mistralai/Mistral-7B-v0.1 config.json: GQA 32/8, 4096-token sliding window.
    "Mistral-7B-v0.1": dict(model_type="mistral", vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                            num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                            max_position_embeddings=32768, sliding_window=4096, rms_norm_eps=1e-5,
                            bos_token_id=1, eos_token_id=2),
    # GLM-4-9B-chat: transformers 5.23 GlmConfig defaults (documented as THUDM/glm-4-9b-chat).
    "GLM-4-9b-chat": dict(model_type="glm", vocab_size=151552, hidden_size=4096, intermediate_size=13696,
                          num_hidden_layers=40, num_attention_heads=32, num_key_value_heads=2, head_dim=128,
                          max_position_embeddings=131072, rms_norm_eps=1.5625e-07,
                          rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                           "partial_rotary_factor": 0.5},
                          pad_token_id=151329, eos_token_id=[151329, 151336, 151338]),
}


def sliding_window_bias(
    query_length: int, key_length: int, window: int, *, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """Additive bias ``[1, 1, Lq, Lk]``: query ``i`` (the last ``Lq`` of ``Lk``) sees keys ``(i - window, i]``."""
    past = key_length - query_length
    query_pos = torch.arange(past, key_length, device=device)[:, None]  # (Lq, 1)
    key_pos = torch.arange(key_length, device=device)[None, :]  # (1, Lk)
    blocked = (key_pos > query_pos) | (key_pos <= query_pos - window)
    bias = torch.zeros(query_length, key_length, dtype=dtype, device=device)
    return bias.masked_fill_(blocked, torch.finfo(dtype).min)[None, None]


class LlamaModel(BaseModel, CausalLMGenerationMixin, ChatMixin):
    """Decoder-only LLaMA-family model with a language-model head (tied or not).

    ``forward`` returns ``logits`` ``[B, L, V]``, ``hidden_states`` (after the final norm),
    ``loss`` (next-token cross-entropy, labels shifted inside, -100 ignored) and, when caching,
    ``past_key_values`` (a :class:`~flagai_lite.layer.KVCache` to pass back for the next step).
    Loaded with ``device_map``, its blocks may sit on several devices (``model.device_map``).
    """

    config_class = LlamaConfig
    architecture = "decoder"
    checkpoint_prefixes = ("model.", "module.")
    head_prefixes = ("lm_head.",)

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.embeddings = TextEmbeddings(vocab_size=config.vocab_size, hidden_size=config.hidden_size)
        self.rotary = RotaryEmbedding(
            dim=config.rotary_dim,
            base=config.rope_parameters["rope_theta"],
            scaling=config.rope_parameters,
            max_position_embeddings=config.max_position_embeddings,
        )
        self.layers = nn.ModuleList(
            LlamaBlock(
                hidden_size=config.hidden_size,
                num_heads=config.num_attention_heads,
                num_kv_heads=config.num_key_value_heads,
                head_dim=config.head_dim,
                intermediate_size=config.intermediate_size,
                activation=config.hidden_act,
                norm_eps=config.rms_norm_eps,
                qkv_bias=config.attention_bias,
                out_bias=config.attention_out_bias,
                mlp_bias=config.mlp_bias,
                interleaved_rotary=config.model_type == "glm",
                attention_dropout=config.attention_dropout,
            )
            for _ in range(config.num_hidden_layers)
        )
        self.final_norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.tied_weights = {"lm_head.weight": "embeddings.word.weight"}
        self.tie_weights()

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def features(self, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 token_type_ids: Optional[Tensor] = None) -> Tensor:
        """Final hidden states ``[B, L, H]`` for task heads (``token_type_ids`` is not used)."""
        return self.decode(input_ids=input_ids, attention_mask=attention_mask)

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
        x = self.embeddings(input_ids)  # (B, L, H)
        if position_ids is None:
            position_ids = default_position_ids(batch, length, past, x.device)
        rope = self.rotary(position_ids.to(x.device), dtype=x.dtype)  # 2 x (B, 1, L, rot/2)
        masks = self._attn_biases(attention_mask, length, past + length, x)
        for i, layer in enumerate(self.layers):
            bias, is_causal = masks[self.config.layer_types[i]]
            x = layer(x, rope=rope, attn_bias=bias, is_causal=is_causal, cache=cache, layer_idx=i)
        return self.final_norm(x)

    def _attn_biases(
        self, attention_mask: Optional[Tensor], query_length: int, key_length: int, x: Tensor
    ) -> Dict[str, Tuple[Optional[Tensor], bool]]:
        """``layer type -> (bias, is_causal)``; the window only matters once keys outnumber it."""
        if attention_mask is not None:
            attention_mask = attention_mask.to(x.device)
        full = build_attn_bias(
            attention_mask=attention_mask, query_length=query_length, key_length=key_length,
            causal=True, dtype=x.dtype, device=x.device,
        )
        window = self.config.sliding_window
        if window is None or key_length <= window or SLIDING not in self.config.layer_types:
            return {FULL: full, SLIDING: full}
        bias = sliding_window_bias(query_length, key_length, window, dtype=x.dtype, device=x.device)
        if attention_mask is not None and not bool(attention_mask.all()):
            bias = (bias + padding_bias(attention_mask, x.dtype)).clamp_min(torch.finfo(x.dtype).min)
        return {FULL: full, SLIDING: (bias, False)}

    def forward(
        self,
        *,
        input_ids: Tensor,
        attention_mask: Optional[Tensor] = None,
        position_ids: Optional[Tensor] = None,
        past_key_values: Optional[KVCache] = None,
        use_cache: bool = False,
        labels: Optional[Tensor] = None,
    ) -> Dict[str, Any]:
        """Next-token logits; pass ``past_key_values`` back (with ``attention_mask`` over all tokens) to continue."""
        return self.causal_lm_forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                      past_key_values=past_key_values, use_cache=use_cache, labels=labels)


def _attention_and_mlp_map() -> Dict[str, Any]:
    """Hugging Face names (after the "model." prefix) -> ours; q/k/v and gate/up are fused."""
    key_map: Dict[str, Any] = {}
    for kind in ("weight", "bias"):
        for part, name in enumerate(("q_proj", "k_proj", "v_proj")):
            key_map[f"layers.{{}}.self_attn.{name}.{kind}"] = Target(f"layers.{{}}.attn.qkv_proj.{kind}", part=part, parts=3)
        key_map[f"layers.{{}}.self_attn.o_proj.{kind}"] = f"layers.{{}}.attn.out_proj.{kind}"
        for part, name in enumerate(("gate_proj", "up_proj")):
            key_map[f"layers.{{}}.mlp.{name}.{kind}"] = Target(f"layers.{{}}.mlp.gate_up_proj.{kind}", part=part, parts=2)
        key_map[f"layers.{{}}.mlp.gate_up_proj.{kind}"] = f"layers.{{}}.mlp.gate_up_proj.{kind}"  # GLM-4: fused
        key_map[f"layers.{{}}.mlp.down_proj.{kind}"] = f"layers.{{}}.mlp.down_proj.{kind}"
    return key_map


LlamaModel.key_map = {
    "embed_tokens.weight": "embeddings.word.weight",
    "layers.{}.input_layernorm.weight": "layers.{}.norm1.weight",
    "layers.{}.post_attention_layernorm.weight": "layers.{}.norm2.weight",
    **_attention_and_mlp_map(),
    "layers.{}.self_attn.rotary_emb.inv_freq": IGNORE,  # buffer saved by transformers < 4.31
    "rotary_emb.inv_freq": IGNORE,
    "norm.weight": "final_norm.weight",
    "lm_head.weight": "lm_head.weight",  # dropped again when tied to the embeddings
}
