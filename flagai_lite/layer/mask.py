"""Attention-mask helpers.

Masks are additive float biases broadcast to ``[batch, heads, query, key]``: 0 where attention is
allowed and the dtype's most negative finite value where it is not. A finite value (not -inf)
keeps fully masked rows (left padding under a causal mask) finite instead of NaN.
"""
from typing import Optional, Tuple

import torch

from ..errors import InputError


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a 0/1 key mask ``[B, Lk]`` into an additive bias ``[B, 1, 1, Lk]``."""
    keep = attention_mask[:, None, None, :].to(torch.bool)  # (B, 1, 1, Lk)
    zero = torch.zeros((), dtype=dtype, device=attention_mask.device)
    return torch.where(keep, zero, torch.finfo(dtype).min)


def causal_bias(
    query_length: int, key_length: int, *, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Additive causal bias ``[1, 1, Lq, Lk]`` for queries that are the last ``Lq`` of ``Lk`` positions."""
    past = key_length - query_length
    query_pos = torch.arange(past, key_length, device=device)[:, None]  # (Lq, 1)
    key_pos = torch.arange(key_length, device=device)[None, :]  # (1, Lk)
    bias = torch.zeros(query_length, key_length, dtype=dtype, device=device)
    bias.masked_fill_(key_pos > query_pos, torch.finfo(dtype).min)
    return bias[None, None]


def build_attn_bias(
    *,
    attention_mask: Optional[torch.Tensor],
    query_length: int,
    key_length: int,
    causal: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> Tuple[Optional[torch.Tensor], bool]:
    """Combine key padding and causality into what ``scaled_dot_product_attention`` wants.

    Args:
        attention_mask: 0/1 mask over all ``key_length`` keys ``[B, Lk]``, or None (no padding).
        query_length: number of queries (new tokens).
        key_length: number of keys (cached + new tokens).
        causal: whether query i may only see keys up to its own position.

    Returns:
        ``(bias, is_causal)``: an additive bias or None, and whether SDPA's own causal flag
        should be set (only when no explicit bias is needed and queries and keys align).
    """
    has_padding = attention_mask is not None and not bool(attention_mask.all())
    if not has_padding:
        if not causal or query_length == 1:
            return None, False
        if query_length == key_length:
            return None, True
        return causal_bias(query_length, key_length, dtype=dtype, device=device), False
    bias = padding_bias(attention_mask, dtype)
    if causal:
        bias = bias + causal_bias(query_length, key_length, dtype=dtype, device=device)
        bias = bias.clamp_min(torch.finfo(dtype).min)
    return bias, False


def check_cached_mask(attention_mask: Optional[torch.Tensor], batch: int, past: int, length: int) -> None:
    """InputError unless a decoder's padding mask covers the cached and the new tokens: ``[B, past + L]``."""
    if attention_mask is not None and tuple(attention_mask.shape) != (batch, past + length):
        raise InputError(
            f"attention_mask has shape {tuple(attention_mask.shape)}; it must cover cached and new tokens: "
            f"({batch}, {past + length})"
        )
