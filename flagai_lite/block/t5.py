"""T5 blocks: pre-RMSNorm encoder (self-attention) and decoder (self- then cross-attention) blocks."""
from typing import Optional

import torch
from torch import nn

from ..layer import Attention, FeedForward, GatedFeedForward, KVCache, RMSNorm


def _t5_mlp(hidden_size: int, intermediate_size: int, activation: str, gated: bool) -> nn.Module:
    cls = GatedFeedForward if gated else FeedForward
    return cls(hidden_size=hidden_size, intermediate_size=intermediate_size, activation=activation, bias=False)


def _t5_attention(hidden_size: int, num_heads: int, head_dim: int, dropout: float, cross: bool) -> Attention:
    # T5 folds the scale into its initialisation: scores are q.k plus the relative bias, unscaled.
    return Attention(
        hidden_size=hidden_size,
        num_heads=num_heads,
        head_dim=head_dim,
        bias=False,
        cross_attention=cross,
        scale=1.0,
        dropout=dropout,
    )


class T5EncoderBlock(nn.Module):
    """``x = x + attn(norm1(x), bias); x = x + mlp(norm2(x))`` (Raffel et al. 2020)."""

    def __init__(
        self,
        *,
        hidden_size: int,
        num_heads: int,
        head_dim: int,
        intermediate_size: int,
        activation: str,
        gated: bool,
        norm_eps: float,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = RMSNorm(hidden_size, eps=norm_eps)
        self.attn = _t5_attention(hidden_size, num_heads, head_dim, dropout, cross=False)
        self.norm2 = RMSNorm(hidden_size, eps=norm_eps)
        self.mlp = _t5_mlp(hidden_size, intermediate_size, activation, gated)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), attn_bias=attn_bias))
        return x + self.dropout(self.mlp(self.norm2(x)))


class T5DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention over the encoder, then feed-forward; all pre-norm."""

    def __init__(
        self,
        *,
        hidden_size: int,
        num_heads: int,
        head_dim: int,
        intermediate_size: int,
        activation: str,
        gated: bool,
        norm_eps: float,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = RMSNorm(hidden_size, eps=norm_eps)
        self.self_attn = _t5_attention(hidden_size, num_heads, head_dim, dropout, cross=False)
        self.norm2 = RMSNorm(hidden_size, eps=norm_eps)
        self.cross_attn = _t5_attention(hidden_size, num_heads, head_dim, dropout, cross=True)
        self.norm3 = RMSNorm(hidden_size, eps=norm_eps)
        self.mlp = _t5_mlp(hidden_size, intermediate_size, activation, gated)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        *,
        self_bias: torch.Tensor,
        encoder_states: torch.Tensor,
        cross_bias: Optional[torch.Tensor],
        cache: Optional[KVCache] = None,
        layer_idx: int = 0,
    ) -> torch.Tensor:
        h = self.self_attn(self.norm1(x), attn_bias=self_bias, cache=cache, layer_idx=layer_idx)
        x = x + self.dropout(h)
        h = self.cross_attn(
            self.norm2(x), attn_bias=cross_bias, kv_input=encoder_states, cache=cache, layer_idx=layer_idx
        )
        x = x + self.dropout(h)
        return x + self.dropout(self.mlp(self.norm3(x)))
