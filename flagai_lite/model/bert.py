"""BERT and RoBERTa: config, presets, model and the Hugging Face key map."""
from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..block import BertBlock, BertPooler, MaskedLMHead
from ..checkpoint import IGNORE, Target
from ..errors import ConfigError
from ..layer.unpad import Unpadded
from ..layer import TextEmbeddings, build_attn_bias, default_position_ids, get_activation, roberta_position_ids
from .base import BaseModel
from .config import ModelConfig

Tensor = torch.Tensor


@dataclass
class BertConfig(ModelConfig):
    """BERT / RoBERTa hyper-parameters, named as in Hugging Face's and FlagAI's config.json."""

    family = "bert"
    model_types = ("bert", "roberta")

    # sizes
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    # behaviour
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    model_type: str = "bert"  # "roberta": positions count from pad_token_id + 1, skipping padding
    position_embedding_type: str = "absolute"
    # training
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    initializer_range: float = 0.02

    def validate(self) -> None:
        self.require_positive(
            "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings",
        )
        self.require_divides("num_attention_heads", "hidden_size")
        get_activation(self.hidden_act)
        if self.model_type not in self.model_types:
            raise ConfigError(f"field 'model_type' must be one of {list(self.model_types)}, got {self.model_type!r}")
        if self.position_embedding_type != "absolute":
            raise ConfigError(
                f"field 'position_embedding_type' {self.position_embedding_type!r} is not supported; only 'absolute'"
            )


BertConfig.presets = {
    # bert-base-uncased (Devlin et al. 2018), FlagAI's BERT-base-en.
    "BERT-base-en": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072),
    # hfl/chinese-roberta-wwm-ext, FlagAI's RoBERTa-base-ch: a BERT architecture with the Chinese vocab.
    "RoBERTa-base-ch": dict(vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=3072),
    # bert-base-chinese.
    "BERT-base-ch": dict(vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072),
}


class BertModel(BaseModel):
    """BERT encoder with its masked-LM head (tied to the word embeddings) and [CLS] pooler.

    ``forward`` returns ``logits`` (masked-LM, ``[B, L, V]``), ``hidden_states`` (last layer,
    ``[B, L, H]``) and ``loss`` (cross-entropy over labels != -100) when ``labels`` are given.
    """

    config_class = BertConfig
    architecture = "encoder"
    checkpoint_prefixes = ("bert.", "roberta.", "module.", "model.")
    head_prefixes = ("pooler.", "lm_head.")

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.embeddings = TextEmbeddings(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            max_positions=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            padding_idx=config.pad_token_id,
            norm_eps=config.layer_norm_eps,
            dropout=config.hidden_dropout_prob,
        )
        self.layers = nn.ModuleList(
            BertBlock(
                hidden_size=config.hidden_size,
                num_heads=config.num_attention_heads,
                intermediate_size=config.intermediate_size,
                activation=config.hidden_act,
                norm_eps=config.layer_norm_eps,
                dropout=config.hidden_dropout_prob,
                attention_dropout=config.attention_probs_dropout_prob,
            )
            for _ in range(config.num_hidden_layers)
        )
        self.pooler = BertPooler(config.hidden_size)
        self.lm_head = MaskedLMHead(
            hidden_size=config.hidden_size,
            vocab_size=config.vocab_size,
            activation=config.hidden_act,
            norm_eps=config.layer_norm_eps,
        )
        self.tied_weights = {"lm_head.decoder.weight": "embeddings.word.weight"}
        self.tie_weights()

    def encode(
        self,
        *,
        input_ids: Tensor,
        attention_mask: Optional[Tensor] = None,
        token_type_ids: Optional[Tensor] = None,
        position_ids: Optional[Tensor] = None,
    ) -> Tensor:
        """Final hidden states ``[B, L, H]``.

        ``attention_mask`` is a 0/1 padding mask ``[B, L]`` or an explicit 0/1 matrix ``[B, 1, L, L]``
        (query row, key column), e.g. the UniLM seq2seq mask. With padding, only real tokens are
        computed; the hidden states at padding positions are zeros.
        """
        batch, length = input_ids.shape
        if position_ids is None:
            if self.config.model_type == "roberta":
                position_ids = roberta_position_ids(input_ids, self.config.pad_token_id)
            else:
                position_ids = default_position_ids(batch, length, 0, input_ids.device)
        x = self.embeddings(input_ids, position_ids, token_type_ids)  # (B, L, H)
        if attention_mask is not None and attention_mask.dim() == 4:  # explicit 0/1 [B, 1, L, L] (UniLM)
            bias = torch.zeros((), dtype=x.dtype, device=x.device).masked_fill(
                attention_mask == 0, torch.finfo(x.dtype).min
            )
        else:
            bias, _ = build_attn_bias(
                attention_mask=attention_mask, query_length=length, key_length=length,
                causal=False, dtype=x.dtype, device=x.device,
            )
        if bias is not None and attention_mask.dim() == 2:
            # Padding: position-wise work (projections, feed-forward, norms) on real tokens only.
            unpadded = Unpadded.from_mask(attention_mask)
            x = unpadded.unpad(x)  # (T, H)
            for layer in self.layers:
                x = layer(x, attn_bias=bias, unpadded=unpadded)
            return unpadded.pad(x)  # (B, L, H), zeros at padding
        for layer in self.layers:
            x = layer(x, attn_bias=bias)
        return x

    def forward(
        self,
        *,
        input_ids: Tensor,
        attention_mask: Optional[Tensor] = None,
        token_type_ids: Optional[Tensor] = None,
        position_ids: Optional[Tensor] = None,
        labels: Optional[Tensor] = None,
    ) -> Dict[str, Tensor]:
        """Masked-LM logits and final hidden states; ``loss`` when ``labels`` (-100 = ignore) are given."""
        hidden = self.encode(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids
        )
        logits = self.lm_head(hidden)  # (B, L, V)
        out = {"logits": logits, "hidden_states": hidden}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return out

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def features(self, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 token_type_ids: Optional[Tensor] = None) -> Tensor:
        return self.encode(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)

    def pool(self, hidden_states: Tensor) -> Tensor:
        """The [CLS] pooler output ``[B, H]``."""
        return self.pooler(hidden_states)


def _qkv(part: int, kind: str) -> Target:
    return Target(f"layers.{{}}.attn.qkv_proj.{kind}", part=part, parts=3)


# Hugging Face names (after the "bert." / "roberta." prefix) -> ours.
BertModel.key_map = {
    "embeddings.word_embeddings.weight": "embeddings.word.weight",
    "embeddings.position_embeddings.weight": "embeddings.position.weight",
    "embeddings.token_type_embeddings.weight": "embeddings.token_type.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
    "embeddings.position_ids": IGNORE,
    "embeddings.token_type_ids": IGNORE,
    "encoder.layer.{}.attention.self.query.weight": _qkv(0, "weight"),
    "encoder.layer.{}.attention.self.query.bias": _qkv(0, "bias"),
    "encoder.layer.{}.attention.self.key.weight": _qkv(1, "weight"),
    "encoder.layer.{}.attention.self.key.bias": _qkv(1, "bias"),
    "encoder.layer.{}.attention.self.value.weight": _qkv(2, "weight"),
    "encoder.layer.{}.attention.self.value.bias": _qkv(2, "bias"),
    "encoder.layer.{}.attention.output.dense.weight": "layers.{}.attn.out_proj.weight",
    "encoder.layer.{}.attention.output.dense.bias": "layers.{}.attn.out_proj.bias",
    "encoder.layer.{}.attention.output.LayerNorm.weight": "layers.{}.norm1.weight",
    "encoder.layer.{}.attention.output.LayerNorm.bias": "layers.{}.norm1.bias",
    "encoder.layer.{}.intermediate.dense.weight": "layers.{}.mlp.up_proj.weight",
    "encoder.layer.{}.intermediate.dense.bias": "layers.{}.mlp.up_proj.bias",
    "encoder.layer.{}.output.dense.weight": "layers.{}.mlp.down_proj.weight",
    "encoder.layer.{}.output.dense.bias": "layers.{}.mlp.down_proj.bias",
    "encoder.layer.{}.output.LayerNorm.weight": "layers.{}.norm2.weight",
    "encoder.layer.{}.output.LayerNorm.bias": "layers.{}.norm2.bias",
    "pooler.dense.weight": "pooler.dense.weight",
    "pooler.dense.bias": "pooler.dense.bias",
    # BERT masked-LM head
    "cls.predictions.transform.dense.weight": "lm_head.dense.weight",
    "cls.predictions.transform.dense.bias": "lm_head.dense.bias",
    "cls.predictions.transform.LayerNorm.weight": "lm_head.norm.weight",
    "cls.predictions.transform.LayerNorm.bias": "lm_head.norm.bias",
    "cls.predictions.bias": "lm_head.bias",
    "cls.predictions.decoder.bias": Target("lm_head.bias", alias=True),
    "cls.predictions.decoder.weight": IGNORE,  # tied to the word embeddings
    "cls.seq_relationship.weight": IGNORE,  # next-sentence head of BertForPreTraining
    "cls.seq_relationship.bias": IGNORE,
    # RoBERTa masked-LM head
    "lm_head.dense.weight": "lm_head.dense.weight",
    "lm_head.dense.bias": "lm_head.dense.bias",
    "lm_head.layer_norm.weight": "lm_head.norm.weight",
    "lm_head.layer_norm.bias": "lm_head.norm.bias",
    "lm_head.bias": "lm_head.bias",
    "lm_head.decoder.bias": Target("lm_head.bias", alias=True),
    "lm_head.decoder.weight": IGNORE,  # tied to the word embeddings
}
