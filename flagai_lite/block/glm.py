"""GLM-1 block (Du et al. 2022, "GLM: General Language Model Pretraining with Autoregressive Blank Infilling")
and the small classification head of FlagAI's ``GLMForSequenceClassification``.

A GLM block is the pre-LayerNorm block GPT-2 already has (fused ``[Q; K; V]`` projection, tanh GeLU,
4x feed-forward, LayerNorm eps 1e-5), so it reuses :class:`GPT2Block` and adds only what GLM needs:
keys/values computed from FlagAI "mems" (the inputs of a layer at earlier positions).
"""
from typing import Optional, Tuple

import torch
from torch import nn

from ..errors import ConfigError, InputError
from .gpt2 import GPT2Block

Tensor = torch.Tensor

# FlagAI / THUDM GLM hard-code the LayerNorm epsilon; it is not a config.json key.
GLM_NORM_EPS = 1e-5
POOL_TOKENS = ("cls", "start", "pad")


class GLMBlock(GPT2Block):
    """``x = x + attn(norm1(x)); x = x + mlp(norm2(x))`` with GLM's fixed choices.

    FlagAI names: ``input_layernorm`` = norm1, ``attention.query_key_value`` = attn.qkv_proj,
    ``attention.dense`` = attn.out_proj, ``post_attention_layernorm`` = norm2,
    ``mlp.dense_h_to_4h`` / ``dense_4h_to_h`` = mlp.up_proj / down_proj.

    Args:
        hidden_size: model width.
        num_heads: attention heads (they must divide ``hidden_size``).
        dropout: ``output_dropout_prob``, on the attention and feed-forward outputs.
        attention_dropout: ``attention_dropout_prob``, on the attention probabilities.
    """

    def __init__(self, *, hidden_size: int, num_heads: int, dropout: float = 0.0, attention_dropout: float = 0.0):
        super().__init__(
            hidden_size=hidden_size,
            num_heads=num_heads,
            intermediate_size=4 * hidden_size,
            activation="gelu_tanh",  # 0.5x(1 + tanh(0.79788456 x (1 + 0.044715 x^2))), as FlagAI's gelu
            norm_eps=GLM_NORM_EPS,
            dropout=dropout,
            attention_dropout=attention_dropout,
        )

    def memory_kv(self, memory: Tensor) -> Tuple[Tensor, Tensor]:
        """Keys and values ``[B, heads, M, head_dim]`` of FlagAI mems ``[B, M, hidden]`` (this layer's inputs)."""
        attn = self.attn
        batch, length, _ = memory.shape
        size = attn.num_heads * attn.head_dim
        _, k, v = attn.qkv_proj(self.norm1(memory)).split([size, size, size], dim=-1)
        k = k.view(batch, length, attn.num_heads, attn.head_dim).transpose(1, 2)  # (B, h, M, D)
        v = v.view(batch, length, attn.num_heads, attn.head_dim).transpose(1, 2)  # (B, h, M, D)
        return k, v


class GLMClassificationHead(nn.Module):
    """FlagAI's GLMForSequenceClassification head: ``classifier(dropout(tanh(pool_proj(h[pool]))))``.

    FlagAI names: ``pool_layer`` = pool_proj, ``multichoice_head`` = classifier.

    Args:
        hidden_size: backbone width.
        num_classes: outputs per sequence (1 for multiple-choice scoring).
        dropout: dropout before the classifier.
        pool_token: which position is pooled: "cls" (position 0), "start" (the separator index, i.e.
            the first token after the context) or "pad" (the last context token, separator - 1).

    Raises:
        ConfigError: an unknown ``pool_token`` or a non-positive ``num_classes``.
    """

    def __init__(self, *, hidden_size: int, num_classes: int, dropout: float = 0.1, pool_token: str = "cls"):
        super().__init__()
        if pool_token not in POOL_TOKENS:
            raise ConfigError(f"field 'pool_token' must be one of {list(POOL_TOKENS)}, got {pool_token!r}")
        if num_classes <= 0:
            raise ConfigError(f"field 'class_num' must be positive, got {num_classes}")
        self.pool_token = pool_token
        self.pool_proj = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, hidden_states: Tensor, sep: Optional[Tensor] = None) -> Tensor:
        """Class logits ``[B, num_classes]`` from final hidden states ``[B, L, H]``.

        Args:
            sep: separator index per sample ``[B]`` (or ``[1]``); needed for "start" and "pad" pooling.
        """
        batch = hidden_states.shape[0]
        if self.pool_token == "cls":
            pooled = hidden_states[:, 0]  # (B, H)
        else:
            if sep is None or sep.dim() > 1:
                raise InputError(f"pool_token {self.pool_token!r} needs attention_mask as separator indexes [B]")
            index = sep.to(hidden_states.device).long().expand(batch)
            if self.pool_token == "pad":
                index = index - 1
            pooled = hidden_states[torch.arange(batch, device=hidden_states.device), index]  # (B, H)
        return self.classifier(self.dropout(torch.tanh(self.pool_proj(pooled))))
