"""T5 / mT5: config, presets, encoder-decoder model with a KV cache, and the Hugging Face key map."""
from dataclasses import dataclass
from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..block import T5DecoderBlock, T5EncoderBlock
from ..checkpoint import Target
from ..errors import ConfigError, InputError
from ..generation.mixins import Seq2SeqGenerationMixin
from ..layer import KVCache, RMSNorm, RelativePositionBias, build_attn_bias, causal_bias, get_activation
from .base import BaseModel
from .config import ModelConfig

Tensor = torch.Tensor


@dataclass
class T5Config(ModelConfig):
    """T5 / mT5 hyper-parameters, named as in Hugging Face's config.json."""

    family = "t5"
    model_types = ("t5", "mt5")

    # sizes
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_heads: int
    num_decoder_layers: Optional[int] = None  # None: as many as the encoder
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    # behaviour
    feed_forward_proj: str = "relu"  # "relu", "gated-gelu" (T5 v1.1 / mT5), "gated-silu", ...
    layer_norm_epsilon: float = 1e-6
    tie_word_embeddings: bool = True
    # Scale decoder outputs by d_model ** -0.5 before the LM head (original T5 with tied embeddings).
    scale_decoder_outputs: Optional[bool] = None
    pad_token_id: int = 0
    eos_token_id: Optional[int] = 1
    decoder_start_token_id: int = 0
    model_type: str = "t5"
    # training
    dropout_rate: float = 0.1
    initializer_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        if self.scale_decoder_outputs is None:
            self.scale_decoder_outputs = self.model_type == "t5" and self.tie_word_embeddings
        super().__post_init__()

    def validate(self) -> None:
        self.require_positive(
            "vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads", "num_decoder_layers",
            "relative_attention_num_buckets", "relative_attention_max_distance",
        )
        parts = self.feed_forward_proj.split("-")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
            raise ConfigError(
                f"field 'feed_forward_proj' must be 'ACT' or 'gated-ACT', got {self.feed_forward_proj!r}"
            )
        get_activation(self.activation)

    @property
    def gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def activation(self) -> str:
        act = self.feed_forward_proj.split("-")[-1]
        # "gated-gelu" has always meant the tanh approximation (T5 v1.1 checkpoints).
        return "gelu_new" if self.feed_forward_proj == "gated-gelu" else act


T5Config.presets = {
    # google-t5/t5-small (Raffel et al. 2020).
    "T5-small": dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8),
    # google-t5/t5-base, FlagAI's T5-base-en.
    "T5-base-en": dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12),
    # FlagAI's T5-base-ch (a T5 v1.1-style Chinese model with a 50000-piece vocab).
    "T5-base-ch": dict(vocab_size=50000, d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_heads=12,
                       feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}


class T5Stack(nn.Module):
    """Encoder or decoder stack: relative bias shared by all blocks, blocks, final norm."""

    def __init__(self, config: T5Config, *, decoder: bool):
        super().__init__()
        block = T5DecoderBlock if decoder else T5EncoderBlock
        num_layers = config.num_decoder_layers if decoder else config.num_layers
        self.relative_bias = RelativePositionBias(
            num_buckets=config.relative_attention_num_buckets,
            max_distance=config.relative_attention_max_distance,
            num_heads=config.num_heads,
            bidirectional=not decoder,
        )
        self.layers = nn.ModuleList(
            block(
                hidden_size=config.d_model,
                num_heads=config.num_heads,
                head_dim=config.d_kv,
                intermediate_size=config.d_ff,
                activation=config.activation,
                gated=config.gated,
                norm_eps=config.layer_norm_epsilon,
                dropout=config.dropout_rate,
            )
            for _ in range(num_layers)
        )
        self.final_norm = RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)


class T5Model(BaseModel, Seq2SeqGenerationMixin):
    """T5 encoder-decoder with its language-model head.

    ``forward`` returns ``logits`` ``[B, Ldec, V]``, ``hidden_states`` (decoder, after the final
    norm), ``encoder_hidden_states``, ``loss`` when ``labels`` are given (decoder inputs are then
    the labels shifted right) and ``past_key_values`` when caching.
    """

    config_class = T5Config
    architecture = "encoder-decoder"
    checkpoint_prefixes = ("module.", "model.")
    head_prefixes = ("lm_head.",)

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, decoder=False)
        self.decoder = T5Stack(config, decoder=True)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.tied_weights = {"lm_head.weight": "shared.weight"}
        self.tie_weights()

    @classmethod
    def config_from_foreign(cls, raw: Dict[str, Any]) -> Dict[str, Any]:
        # mT5 never scales its decoder outputs, whatever its tie flag says.
        if raw.get("model_type") == "mt5":
            return {**raw, "scale_decoder_outputs": False}
        return raw

    @property
    def hidden_size(self) -> int:
        return self.config.d_model

    def features(self, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 token_type_ids: Optional[Tensor] = None) -> Tensor:
        """Encoder states: sentence-level and token-level heads read T5's encoder."""
        return self.encode(input_ids=input_ids, attention_mask=attention_mask)

    def encode(self, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None) -> Tensor:
        """Encoder hidden states ``[B, S, H]``."""
        stack = self.encoder
        length = input_ids.shape[1]
        x = stack.dropout(self.shared(input_ids))  # (B, S, H)
        bias = stack.relative_bias(length, length)  # (1, heads, S, S)
        mask, _ = build_attn_bias(
            attention_mask=attention_mask, query_length=length, key_length=length,
            causal=False, dtype=x.dtype, device=x.device,
        )
        bias = bias.to(x.dtype) if mask is None else bias + mask
        for layer in stack.layers:
            x = layer(x, attn_bias=bias)
        return stack.dropout(stack.final_norm(x))

    def decode(
        self,
        *,
        decoder_input_ids: Tensor,
        encoder_hidden_states: Tensor,
        attention_mask: Optional[Tensor] = None,
        decoder_attention_mask: Optional[Tensor] = None,
        cache: Optional[KVCache] = None,
    ) -> Tensor:
        """Decoder hidden states ``[B, L, H]`` attending to ``encoder_hidden_states``."""
        stack = self.decoder
        length = decoder_input_ids.shape[1]
        past = cache.seq_length if cache is not None else 0
        x = stack.dropout(self.shared(decoder_input_ids))  # (B, L, H)
        self_bias = stack.relative_bias(length, past + length, past)  # (1, heads, L, past + L)
        mask, is_causal = build_attn_bias(
            attention_mask=decoder_attention_mask, query_length=length, key_length=past + length,
            causal=True, dtype=x.dtype, device=x.device,
        )
        if is_causal:
            mask = causal_bias(length, past + length, dtype=x.dtype, device=x.device)
        self_bias = self_bias.to(x.dtype) if mask is None else self_bias + mask
        cross_bias, _ = build_attn_bias(
            attention_mask=attention_mask, query_length=length, key_length=encoder_hidden_states.shape[1],
            causal=False, dtype=x.dtype, device=x.device,
        )
        for i, layer in enumerate(stack.layers):
            x = layer(
                x, self_bias=self_bias, encoder_states=encoder_hidden_states, cross_bias=cross_bias,
                cache=cache, layer_idx=i,
            )
        return stack.dropout(stack.final_norm(x))

    def forward(
        self,
        *,
        input_ids: Optional[Tensor] = None,
        attention_mask: Optional[Tensor] = None,
        decoder_input_ids: Optional[Tensor] = None,
        decoder_attention_mask: Optional[Tensor] = None,
        encoder_hidden_states: Optional[Tensor] = None,
        past_key_values: Optional[KVCache] = None,
        use_cache: bool = False,
        labels: Optional[Tensor] = None,
    ) -> Dict[str, Tensor]:
        """LM logits over the decoder positions; pass ``encoder_hidden_states`` to skip the encoder."""
        if encoder_hidden_states is None:
            if input_ids is None:
                raise InputError("T5Model.forward needs input_ids or encoder_hidden_states")
            encoder_hidden_states = self.encode(input_ids=input_ids, attention_mask=attention_mask)
        if decoder_input_ids is None:
            if labels is None:
                raise InputError("T5Model.forward needs decoder_input_ids or labels (shifted right into decoder inputs)")
            decoder_input_ids = self.shift_right(labels)
        cache = past_key_values
        if cache is None and use_cache:
            cache = KVCache(len(self.decoder.layers))
        hidden = self.decode(
            decoder_input_ids=decoder_input_ids, encoder_hidden_states=encoder_hidden_states,
            attention_mask=attention_mask, decoder_attention_mask=decoder_attention_mask, cache=cache,
        )
        logits = self.lm_logits(hidden)  # (B, L, V)
        out = {"logits": logits, "hidden_states": hidden, "encoder_hidden_states": encoder_hidden_states}
        if cache is not None:
            out["past_key_values"] = cache
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return out

    @property
    def num_cache_layers(self) -> int:
        return len(self.decoder.layers)

    def lm_logits(self, hidden: Tensor) -> Tensor:
        """Vocabulary logits of decoder states (scaled by d_model ** -0.5 first when the config says so)."""
        if self.config.scale_decoder_outputs:
            hidden = hidden * self.config.d_model ** -0.5
        return self.lm_head(hidden)

    def shift_right(self, labels: Tensor) -> Tensor:
        """Decoder inputs for ``labels``: start token first, labels shifted right, -100 -> pad."""
        shifted = labels.new_full(labels.shape, self.config.decoder_start_token_id)
        shifted[:, 1:] = labels[:, :-1]
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def _init_weights(self, module: nn.Module) -> None:
        """T5's initialisation (Mesh TensorFlow): normal with std scaled by fan-in."""
        factor, d_model = self.config.initializer_factor, self.config.d_model
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=factor)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=factor * module.in_features ** -0.5)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)
        elif isinstance(module, RelativePositionBias):
            nn.init.normal_(module.weight, std=factor * d_model ** -0.5)


def _t5_key_map() -> Dict[str, Any]:
    """Hugging Face T5 names -> ours. Each stack's relative bias lives in its block 0 there."""
    key_map: Dict[str, Any] = {
        "shared.weight": "shared.weight",
        "encoder.embed_tokens.weight": Target("shared.weight", alias=True),
        "decoder.embed_tokens.weight": Target("shared.weight", alias=True),
        "lm_head.weight": "lm_head.weight",  # dropped again when tied to the shared embedding
    }
    for stack, attn, ff_index in (("encoder", "attn", 1), ("decoder", "self_attn", 2)):
        src, dst = f"{stack}.block.{{}}.layer", f"{stack}.layers.{{}}"
        key_map.update({
            f"{src}.0.SelfAttention.q.weight": Target(f"{dst}.{attn}.qkv_proj.weight", part=0, parts=3),
            f"{src}.0.SelfAttention.k.weight": Target(f"{dst}.{attn}.qkv_proj.weight", part=1, parts=3),
            f"{src}.0.SelfAttention.v.weight": Target(f"{dst}.{attn}.qkv_proj.weight", part=2, parts=3),
            f"{src}.0.SelfAttention.o.weight": f"{dst}.{attn}.out_proj.weight",
            f"{src}.0.SelfAttention.relative_attention_bias.weight": f"{stack}.relative_bias.weight",
            f"{src}.0.layer_norm.weight": f"{dst}.norm1.weight",
            f"{src}.{ff_index}.DenseReluDense.wi.weight": f"{dst}.mlp.up_proj.weight",
            f"{src}.{ff_index}.DenseReluDense.wi_0.weight": Target(f"{dst}.mlp.gate_up_proj.weight", part=0, parts=2),
            f"{src}.{ff_index}.DenseReluDense.wi_1.weight": Target(f"{dst}.mlp.gate_up_proj.weight", part=1, parts=2),
            f"{src}.{ff_index}.DenseReluDense.wo.weight": f"{dst}.mlp.down_proj.weight",
            f"{src}.{ff_index}.layer_norm.weight": f"{dst}.norm{ff_index + 1}.weight",
            f"{stack}.final_layer_norm.weight": f"{stack}.final_norm.weight",
        })
    src, dst = "decoder.block.{}.layer.1", "decoder.layers.{}"
    key_map.update({
        f"{src}.EncDecAttention.q.weight": f"{dst}.cross_attn.q_proj.weight",
        f"{src}.EncDecAttention.k.weight": Target(f"{dst}.cross_attn.kv_proj.weight", part=0, parts=2),
        f"{src}.EncDecAttention.v.weight": Target(f"{dst}.cross_attn.kv_proj.weight", part=1, parts=2),
        f"{src}.EncDecAttention.o.weight": f"{dst}.cross_attn.out_proj.weight",
        f"{src}.layer_norm.weight": f"{dst}.norm2.weight",
    })
    return key_map


T5Model.key_map = _t5_key_map()
