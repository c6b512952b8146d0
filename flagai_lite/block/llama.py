"""LLaMA-family block (Llama, Qwen2, Mistral, GLM-4, Aquila): pre-RMSNorm rotary attention and gated MLP."""
from functools import partial
from typing import Optional, Tuple

import torch
from torch import nn

from ..layer import Attention, GatedFeedForward, KVCache, RMSNorm
from ..layer.rotary import apply_rotary


class LlamaBlock(nn.Module):
    """``x = x + attn(norm1(x)); x = x + mlp(norm2(x))`` (Touvron et al. 2023).

    Attention is grouped-query with rotary positions on queries and keys; the MLP is
    ``down(act(gate(x)) * up(x))`` (SwiGLU, Shazeer 2020).

    Args:
        hidden_size: model width.
        num_heads: query heads.
        num_kv_heads: key/value heads (grouped-query attention).
        head_dim: width of one head (GLM-4 and some Llama sizes set it explicitly).
        intermediate_size: MLP inner width.
        activation: MLP gate activation ("silu").
        norm_eps: RMSNorm epsilon.
        qkv_bias: bias on the query/key/value projections (Qwen2, GLM-4).
        out_bias: bias on the output projection (Llama's ``attention_bias`` covers it).
        mlp_bias: bias on the MLP projections (Llama's ``mlp_bias``).
        interleaved_rotary: rotate pairs ``(2i, 2i+1)`` (GLM-4) instead of ``(i, i + rot/2)``.
        attention_dropout: attention-probability dropout in training.
    """

    def __init__(
        self,
        *,
        hidden_size: int,
        num_heads: int,
        num_kv_heads: int,
        head_dim: int,
        intermediate_size: int,
        activation: str,
        norm_eps: float,
        qkv_bias: bool = False,
        out_bias: bool = False,
        mlp_bias: bool = False,
        interleaved_rotary: bool = False,
        attention_dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = RMSNorm(hidden_size, eps=norm_eps)
        self.attn = Attention(
            hidden_size=hidden_size, num_heads=num_heads, head_dim=head_dim, num_kv_heads=num_kv_heads,
            bias=qkv_bias, out_bias=out_bias, dropout=attention_dropout,
        )
        self.norm2 = RMSNorm(hidden_size, eps=norm_eps)
        self.mlp = GatedFeedForward(
            hidden_size=hidden_size, intermediate_size=intermediate_size, activation=activation, bias=mlp_bias
        )
        self.interleaved_rotary = interleaved_rotary

    def forward(
        self,
        x: torch.Tensor,
        *,
        rope: Tuple[torch.Tensor, torch.Tensor],
        attn_bias: Optional[torch.Tensor] = None,
        is_causal: bool = False,
        cache: Optional[KVCache] = None,
        layer_idx: int = 0,
    ) -> torch.Tensor:
        """``x`` ``[B, L, H]`` -> ``[B, L, H]``; ``rope`` is ``(cos, sin)`` from :class:`RotaryEmbedding`."""
        cos, sin = rope
        rotate = partial(apply_rotary, cos=cos, sin=sin, interleaved=self.interleaved_rotary)
        h = self.attn(
            self.norm1(x), attn_bias=attn_bias, is_causal=is_causal, cache=cache, layer_idx=layer_idx,
            qk_transform=rotate,
        )
        x = x + h
        return x + self.mlp(self.norm2(x))
