"""Multi-head attention (self and cross) through ``scaled_dot_product_attention``, with a KV cache."""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .kv_cache import KVCache
from .unpad import Unpadded

Tensor = torch.Tensor
# Applies a position transform (e.g. rotary) to queries and keys ``[B, H, L, D]``.
QKTransform = Callable[[Tensor, Tensor], Tuple[Tensor, Tensor]]


class Attention(nn.Module):
    """Multi-head (or grouped-query) attention.

    Self-attention projects queries, keys and values with one fused ``qkv_proj`` whose rows are
    ``[Q; K; V]``; cross-attention uses ``q_proj`` on the queries and a fused ``kv_proj`` on the
    encoder states.

    Args:
        hidden_size: model width (input and output).
        num_heads: query heads.
        head_dim: width of one head; defaults to ``hidden_size // num_heads``.
        num_kv_heads: key/value heads (grouped-query attention); defaults to ``num_heads``.
        bias: bias on the input projections.
        out_bias: bias on ``out_proj``; defaults to ``bias``.
        cross_attention: keys and values come from ``kv_input`` rather than ``x``.
        scale: score scale; None means ``head_dim ** -0.5`` (T5 uses 1.0).
        dropout: attention-probability dropout in training.

    Raises:
        ConfigError: ``num_heads`` is not a multiple of ``num_kv_heads`` or sizes do not divide.
    """

    def __init__(
        self,
        *,
        hidden_size: int,
        num_heads: int,
        head_dim: Optional[int] = None,
        num_kv_heads: Optional[int] = None,
        bias: bool = True,
        out_bias: Optional[bool] = None,
        cross_attention: bool = False,
        scale: Optional[float] = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        if head_dim is None:
            if hidden_size % num_heads:
                raise ConfigError(f"num_heads ({num_heads}) must divide hidden_size ({hidden_size})")
            head_dim = hidden_size // num_heads
        num_kv_heads = num_kv_heads or num_heads
        if num_heads % num_kv_heads:
            raise ConfigError(f"num_kv_heads ({num_kv_heads}) must divide num_heads ({num_heads})")
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.scale, self.dropout = scale, dropout
        self.cross_attention = cross_attention
        q_size, kv_size = num_heads * head_dim, num_kv_heads * head_dim
        if cross_attention:
            self.q_proj = nn.Linear(hidden_size, q_size, bias=bias)
            self.kv_proj = nn.Linear(hidden_size, 2 * kv_size, bias=bias)
        else:
            self.qkv_proj = nn.Linear(hidden_size, q_size + 2 * kv_size, bias=bias)
        self.out_proj = nn.Linear(q_size, hidden_size, bias=bias if out_bias is None else out_bias)

    def forward(
        self,
        x: Tensor,
        *,
        attn_bias: Optional[Tensor] = None,
        is_causal: bool = False,
        kv_input: Optional[Tensor] = None,
        cache: Optional[KVCache] = None,
        layer_idx: int = 0,
        qk_transform: Optional[QKTransform] = None,
        unpadded: Optional[Unpadded] = None,
    ) -> Tensor:
        """Attend from ``x`` ``[B, L, hidden]``; returns ``[B, L, hidden]``.

        Args:
            attn_bias: additive bias broadcastable to ``[B, heads, L, keys]`` (mask, position bias).
            is_causal: let SDPA apply a causal mask (only when queries and keys align).
            kv_input: encoder states ``[B, S, hidden]`` for cross-attention.
            cache: KV cache; self-attention appends to it, cross-attention stores its keys once.
            layer_idx: this layer's slot in ``cache``.
            qk_transform: applied to queries and new keys before caching (rotary positions).
            unpadded: ``x`` holds only the real tokens ``[T, hidden]`` of this padded batch; the
                projections run on them and the result is ``[T, hidden]`` too.
        """
        if unpadded is not None:
            return self._forward_unpadded(x, attn_bias, unpadded)
        batch, length, _ = x.shape
        if self.cross_attention:
            q = self.q_proj(x)
            k, v = self._cross_kv(kv_input, cache, layer_idx)
        else:
            q, k, v = self.qkv_proj(x).split(
                [self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim, self.num_kv_heads * self.head_dim],
                dim=-1,
            )
            k = k.view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, kvh, L, D)
            v = v.view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, kvh, L, D)
        q = q.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, D)
        if qk_transform is not None:
            q, k = qk_transform(q, k)
        if cache is not None and not self.cross_attention:
            k, v = cache.update(layer_idx, k, v)  # (B, kvh, past + L, D)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_bias,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal and attn_bias is None,
            scale=self.scale,
            enable_gqa=self.num_kv_heads != self.num_heads,
        )  # (B, h, L, D)
        out = out.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.out_proj(out)

    def _forward_unpadded(self, x: Tensor, attn_bias: Optional[Tensor], unpadded: Unpadded) -> Tensor:
        """Self-attention over real tokens ``[T, hidden]``: project, re-pad for SDPA, drop the padding again."""
        qkv = unpadded.pad(self.qkv_proj(x))  # (B, L, (h + 2 kvh) * D)
        batch, length = unpadded.batch, unpadded.length
        q, k, v = qkv.split(
            [self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim, self.num_kv_heads * self.head_dim],
            dim=-1,
        )
        q = q.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, D)
        k = k.view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, kvh, L, D)
        v = v.view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, kvh, L, D)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_bias, dropout_p=self.dropout if self.training else 0.0, scale=self.scale,
            enable_gqa=self.num_kv_heads != self.num_heads,
        )  # (B, h, L, D)
        out = out.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.out_proj(unpadded.unpad(out))  # (T, hidden)

    def _cross_kv(self, kv_input: Optional[Tensor], cache: Optional[KVCache], layer_idx: int) -> Tuple[Tensor, Tensor]:
        if cache is not None and cache.cross[layer_idx] is not None:
            return cache.cross[layer_idx]
        batch, source_length, _ = kv_input.shape
        k, v = self.kv_proj(kv_input).chunk(2, dim=-1)
        k = k.view(batch, source_length, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, kvh, S, D)
        v = v.view(batch, source_length, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, kvh, S, D)
        if cache is not None:
            cache.cross[layer_idx] = (k, v)
        return k, v
