"""Skip padding: run position-wise layers on real tokens only, re-pad just around attention.

With half a batch padded, linear layers and feed-forward networks (most of an encoder's work)
then do only the real tokens' share of the arithmetic (the idea of "unpadding" in FasterTransformer
and FlashAttention's varlen kernels, here with plain SDPA on the padded layout).
"""
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass
class Unpadded:
    """Where the real tokens of a ``[B, L]`` batch sit in its flattened ``[B * L]`` positions."""

    index: Tensor  # (T,) flat positions of real tokens
    batch: int
    length: int

    @classmethod
    def from_mask(cls, attention_mask: Tensor) -> "Unpadded":
        batch, length = attention_mask.shape
        return cls(attention_mask.reshape(-1).nonzero().squeeze(1), batch, length)

    def unpad(self, x: Tensor) -> Tensor:
        """``[B, L, D]`` -> ``[T, D]`` (real tokens only)."""
        return x.reshape(self.batch * self.length, -1).index_select(0, self.index)

    def pad(self, x: Tensor) -> Tensor:
        """``[T, D]`` -> ``[B, L, D]`` with zeros at padding positions."""
        out = x.new_zeros(self.batch * self.length, x.shape[-1])
        out.index_copy_(0, self.index, x)
        return out.view(self.batch, self.length, x.shape[-1])
