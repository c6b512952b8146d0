"""Position encodings: position-id helpers for learned absolute positions, T5 relative bias."""
import math

import torch
import torch.nn.functional as F
from torch import nn


def default_position_ids(batch: int, length: int, past_length: int, device: torch.device) -> torch.Tensor:
    """Positions ``past_length .. past_length + length - 1`` for every row: ``[B, L]``."""
    return torch.arange(past_length, past_length + length, device=device).expand(batch, length)


def roberta_position_ids(input_ids: torch.Tensor, padding_idx: int, past_length: int = 0) -> torch.Tensor:
    """RoBERTa positions: count non-padding tokens from ``padding_idx + 1``; padding keeps ``padding_idx``."""
    not_pad = input_ids.ne(padding_idx).long()
    return (torch.cumsum(not_pad, dim=1) + past_length) * not_pad + padding_idx


def relative_position_bucket(
    relative_position: torch.Tensor, *, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Map ``key_pos - query_pos`` to T5's buckets: exact for small distances, log-spaced up to ``max_distance``."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp_min(0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    log_ratio = torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = large.clamp_max(num_buckets - 1)
    return buckets + torch.where(is_small, distance, large)


class RelativePositionBias(nn.Module):
    """T5's learned, bucketed relative position bias, added to the attention scores.

    Args:
        num_buckets: number of distance buckets (``relative_attention_num_buckets``).
        max_distance: distance beyond which all positions share a bucket.
        num_heads: one bias per head.
        bidirectional: True for the encoder, False for the causal decoder.
    """

    def __init__(self, *, num_buckets: int, max_distance: int, num_heads: int, bidirectional: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_buckets, num_heads))
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.weight.shape[1] ** -0.5)

    def forward(self, query_length: int, key_length: int, past_length: int = 0) -> torch.Tensor:
        """Bias ``[1, heads, Lq, Lk]`` for queries at ``past_length ..`` against keys ``0 .. Lk-1``."""
        device = self.weight.device
        query_pos = torch.arange(past_length, past_length + query_length, device=device)[:, None]
        key_pos = torch.arange(key_length, device=device)[None, :]
        bucket = relative_position_bucket(
            key_pos - query_pos,
            bidirectional=self.bidirectional,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
        )  # (Lq, Lk)
        bias = F.embedding(bucket, self.weight)  # (Lq, Lk, heads)
        return bias.permute(2, 0, 1)[None]  # (1, heads, Lq, Lk)
