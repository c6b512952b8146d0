"""GPT-2 block: pre-LayerNorm causal self-attention and feed-forward."""
from typing import Optional

import torch
from torch import nn

from ..layer import Attention, FeedForward, KVCache


class GPT2Block(nn.Module):
    """``x = x + attn(norm1(x)); x = x + mlp(norm2(x))`` (Radford et al. 2019, pre-LN)."""

    def __init__(
        self,
        *,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        activation: str,
        norm_eps: float,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        attention_scale: Optional[float] = None,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, eps=norm_eps)
        self.attn = Attention(
            hidden_size=hidden_size, num_heads=num_heads, dropout=attention_dropout, scale=attention_scale
        )
        self.norm2 = nn.LayerNorm(hidden_size, eps=norm_eps)
        self.mlp = FeedForward(hidden_size=hidden_size, intermediate_size=intermediate_size, activation=activation)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        *,
        attn_bias: Optional[torch.Tensor] = None,
        is_causal: bool = False,
        cache: Optional[KVCache] = None,
        layer_idx: int = 0,
    ) -> torch.Tensor:
        h = self.attn(self.norm1(x), attn_bias=attn_bias, is_causal=is_causal, cache=cache, layer_idx=layer_idx)
        x = x + self.dropout(h)
        return x + self.dropout(self.mlp(self.norm2(x)))
