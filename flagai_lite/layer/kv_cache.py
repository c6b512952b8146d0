"""A preallocated key/value cache for incremental decoding.

Each layer owns one buffer pair ``[batch, capacity, kv_heads, head_dim]`` (time-major). New keys
and values are copied into the next free slots and attention reads ``buffer[:, :filled]`` as a
``[B, heads, filled, D]`` view, so a decoding step never concatenates. The time-major layout is
the one CPU flash attention reads fastest from a partly filled buffer (a head-major buffer's
prefix view gets copied on every step). When a step would overflow, the buffers grow by doubling.
"""
from typing import List, Optional, Tuple

import torch

Tensor = torch.Tensor


class KVCache:
    """Key/value buffers for every layer of a decoder (plus cross-attention keys/values).

    Args:
        num_layers: number of attention layers that write to the cache.
        capacity: slots to reserve on first use (e.g. prompt + max_new_tokens); 0 = exact fit.
    """

    def __init__(self, num_layers: int, capacity: int = 0):
        self.num_layers = num_layers
        self.capacity = capacity
        self.keys: List[Optional[Tensor]] = [None] * num_layers  # each (B, capacity, kv_heads, D)
        self.values: List[Optional[Tensor]] = [None] * num_layers
        self.lengths = [0] * num_layers
        # Second buffers for beam search: rows are gathered into them and the pair swapped.
        self._spare: List[Optional[Tuple[Tensor, Tensor]]] = [None] * num_layers
        # Cross-attention keys/values of an encoder-decoder model, computed once per sequence.
        self.cross: List[Optional[Tuple[Tensor, Tensor]]] = [None] * num_layers

    @property
    def seq_length(self) -> int:
        """Number of positions already cached (those of layer 0)."""
        return self.lengths[0]

    def __len__(self) -> int:
        return self.num_layers

    def update(self, layer: int, key: Tensor, value: Tensor) -> Tuple[Tensor, Tensor]:
        """Append ``key``/``value`` ``[B, H, L, D]`` to ``layer``; return all cached ``[B, H, past + L, D]``."""
        start = self.lengths[layer]
        end = start + key.shape[2]
        if self.keys[layer] is None or end > self.keys[layer].shape[1]:
            self._grow(layer, key, value, end)
        k_buf, v_buf = self.keys[layer], self.values[layer]
        k_buf[:, start:end].copy_(key.transpose(1, 2))  # (B, L, H, D)
        v_buf[:, start:end].copy_(value.transpose(1, 2))
        self.lengths[layer] = end
        return k_buf[:, :end].transpose(1, 2), v_buf[:, :end].transpose(1, 2)  # (B, H, end, D) views

    def _grow(self, layer: int, key: Tensor, value: Tensor, needed: int) -> None:
        old_k, old_v = self.keys[layer], self.values[layer]
        size = max(needed, self.capacity, 2 * old_k.shape[1] if old_k is not None else 0)
        batch, heads, _, dim = key.shape
        self._spare[layer] = None
        self.keys[layer] = key.new_empty(batch, size, heads, dim)
        self.values[layer] = value.new_empty(batch, size, heads, value.shape[-1])
        filled = self.lengths[layer]
        if old_k is not None and filled:
            self.keys[layer][:, :filled].copy_(old_k[:, :filled])
            self.values[layer][:, :filled].copy_(old_v[:, :filled])

    def reorder(self, index: Tensor) -> None:
        """Select batch rows ``index`` of the self-attention buffers (beam search keeps the surviving beams).

        Cross-attention entries are left alone: beam search only moves rows within one batch item,
        whose encoder states are identical.
        """
        for layer in range(self.num_layers):
            k_buf, v_buf = self.keys[layer], self.values[layer]
            if k_buf is None:
                continue
            if self._spare[layer] is None or self._spare[layer][0].shape != k_buf.shape:
                self._spare[layer] = (torch.empty_like(k_buf), torch.empty_like(v_buf))
            k_new, v_new = self._spare[layer]
            rows = index.to(k_buf.device)
            # Whole contiguous rows gather fastest (a strided prefix gather is ~20x slower on CPU).
            torch.index_select(k_buf.view(k_buf.shape[0], -1), 0, rows, out=k_new.view(k_new.shape[0], -1))
            torch.index_select(v_buf.view(v_buf.shape[0], -1), 0, rows, out=v_new.view(v_new.shape[0], -1))
            self.keys[layer], self.values[layer] = k_new, v_new
            self._spare[layer] = (k_buf, v_buf)

    def crop(self, length: int) -> None:
        """Forget every position at or after ``length``."""
        self.lengths = [min(n, length) for n in self.lengths]
