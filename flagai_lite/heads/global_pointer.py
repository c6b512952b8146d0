"""GlobalPointer span scorer for nested / flat NER (Su Jianlin, https://kexue.fm/archives/8373).

Every (type, start, end) span gets a score ``q_start · k_end / sqrt(d)``; rotary position
embeddings on q and k make the score depend on the relative position ``end - start``. Training
uses the multi-label categorical cross-entropy (https://kexue.fm/archives/7359).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from flagai_lite.errors import ConfigError, InputError

# Score given to padding rows/columns and to spans that end before they start. Far below any real
# score, yet finite so that ``-score`` in the loss cannot overflow.
_MASKED_SCORE = -1e12


def _masked_score(dtype: torch.dtype) -> float:
    return max(_MASKED_SCORE, torch.finfo(dtype).min)  # float16 cannot hold -1e12


def _rope_interleaved(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Apply RoPE over positions ``0 .. L-1`` to ``x [B, L, ..., D]``, rotating interleaved pairs.

    Pair ``(x[2i], x[2i+1])`` at position ``p`` is rotated by the angle ``p * base ** (-2i / D)``
    (GlobalPointer's pairing, unlike the half-split pairing of GPT-NeoX / LLaMA). Kept local until
    ``flagai_lite.layer.rotary`` (``apply_rotary(..., interleaved=True)``) is committed.
    """
    length, dim = x.shape[1], x.shape[-1]
    work = torch.promote_types(x.dtype, torch.float32)  # angles in at least float32
    positions = torch.arange(length, device=x.device, dtype=work)  # [L]
    inv_freq = base ** (-torch.arange(0, dim, 2, device=x.device, dtype=work) / dim)  # [D/2]
    angles = torch.outer(positions, inv_freq).repeat_interleave(2, dim=-1)  # [L, D]: each angle twice
    angles = angles.view(length, *([1] * (x.dim() - 3)), dim)  # [L, 1.., D] to broadcast over middle dims
    # (x0, x1, x2, x3, ..) -> (-x1, x0, -x3, x2, ..): the 90-degree turn of every pair
    turned = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)  # [B, L, .., D]
    return (x * angles.cos() + turned * angles.sin()).to(x.dtype)


class GlobalPointer(nn.Module):
    """Scores every (type, start, end) token span.

    Args:
        hidden_size: width ``H`` of the backbone's hidden states.
        num_types: number of entity types ``C``.
        inner_dim: width ``D`` of the per-type query / key vectors.
        rope: apply rotary position embeddings to q and k (needs an even ``inner_dim``).

    Raises:
        ConfigError: on a non-positive size, or an odd ``inner_dim`` with ``rope=True``.
    """

    def __init__(self, *, hidden_size: int, num_types: int, inner_dim: int = 64, rope: bool = True):
        super().__init__()
        for name, value in (("hidden_size", hidden_size), ("num_types", num_types), ("inner_dim", inner_dim)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"GlobalPointer {name} must be a positive integer, got {value!r}")
        if rope and inner_dim % 2:
            raise ConfigError(f"GlobalPointer inner_dim ({inner_dim}) must be even when rope=True")
        self.hidden_size = hidden_size
        self.num_types = num_types
        self.inner_dim = inner_dim
        self.rope = rope
        self.qk_proj = nn.Linear(hidden_size, num_types * inner_dim * 2)

    def extra_repr(self) -> str:
        return f"num_types={self.num_types}, inner_dim={self.inner_dim}, rope={self.rope}"

    def forward(self, hidden: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Span scores.

        Args:
            hidden: backbone output ``[B, L, H]``.
            mask: ``[B, L]`` bool or 0/1 marking real tokens; None means all real.

        Returns:
            ``[B, C, L, L]`` scores, ``[b, c, start, end]``; padding rows/columns and ``end < start``
            hold -1e12 (the dtype's minimum for float16).

        Raises:
            InputError: if ``hidden`` or ``mask`` has the wrong shape.
        """
        if hidden.dim() != 3 or hidden.shape[2] != self.hidden_size:
            raise InputError(f"GlobalPointer hidden must be [B, L, {self.hidden_size}], got {tuple(hidden.shape)}")
        batch, length, _ = hidden.shape
        if mask is not None and mask.shape != (batch, length):
            raise InputError(f"GlobalPointer mask shape {tuple(mask.shape)} != hidden [B, L] {(batch, length)}")
        qk = self.qk_proj(hidden).view(batch, length, self.num_types, 2 * self.inner_dim)  # [B, L, C, 2D]
        q, k = qk.chunk(2, dim=-1)  # [B, L, C, D] each
        if self.rope:
            q, k = _rope_interleaved(q), _rope_interleaved(k)
        scores = torch.einsum("bmcd,bncd->bcmn", q, k) / math.sqrt(self.inner_dim)  # [B, C, L, L]
        invalid = torch.ones(length, length, dtype=torch.bool, device=hidden.device).tril(-1)  # [L, L]: end < start
        if mask is not None:
            real = mask.bool()
            pad = ~(real.unsqueeze(2) & real.unsqueeze(1))  # [B, L, L]: start or end is padding
            invalid = invalid | pad
        invalid = invalid.unsqueeze(-3)  # [B or 1, 1, L, L], broadcast over types
        return scores.masked_fill(invalid, _masked_score(scores.dtype))

    def loss(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Multi-label categorical cross-entropy, averaged over batch x types.

        For each (b, c) over the ``L*L`` spans: ``log(1 + sum_neg exp(s)) + log(1 + sum_pos exp(-s))``,
        computed as a logsumexp with an extra zero logit.

        Args:
            scores: ``[B, C, L, L]`` from :meth:`forward`.
            labels: ``[B, C, L, L]``, 1 (or True) for gold spans and 0 elsewhere.

        Returns:
            A scalar tensor.

        Raises:
            InputError: if the shapes differ.
        """
        if labels.shape != scores.shape:
            raise InputError(f"GlobalPointer labels shape {tuple(labels.shape)} != scores {tuple(scores.shape)}")
        flat = scores.flatten(2)  # [B, C, L*L]
        gold = labels.flatten(2).bool()  # [B, C, L*L]
        neg = flat.masked_fill(gold, float("-inf"))  # scores of the non-entity spans
        pos = (-flat).masked_fill(~gold, float("-inf"))  # negated scores of the entity spans
        zero = flat.new_zeros(flat.shape[:-1] + (1,))  # [B, C, 1]: the "1 +" inside each log
        loss = torch.logsumexp(torch.cat([neg, zero], -1), -1) + torch.logsumexp(torch.cat([pos, zero], -1), -1)
        return loss.mean()

    @staticmethod
    def decode(scores: torch.Tensor, threshold: float = 0.0) -> List[List[Tuple[int, int, int]]]:
        """Spans scoring above ``threshold``.

        Args:
            scores: ``[B, C, L, L]`` from :meth:`forward` (masked spans hold -1e12 and never pass
                a threshold above that).
            threshold: keep spans with ``score > threshold``.

        Returns:
            Per row a list of ``(type, start_token, end_token)``, sorted.

        Raises:
            InputError: if ``scores`` is not 4-D.
        """
        if scores.dim() != 4:
            raise InputError(f"GlobalPointer scores must be [B, C, L, L], got {tuple(scores.shape)}")
        spans: List[List[Tuple[int, int, int]]] = [[] for _ in range(scores.shape[0])]
        # nonzero() lists indices in row-major order, so each row's spans come out sorted.
        for b, c, start, end in (scores > threshold).nonzero().tolist():
            spans[b].append((c, start, end))
        return spans


def spans_to_char_offsets(
    spans: Sequence[Tuple[int, int, int]],
    offset_mapping: Sequence[Tuple[int, int]],
    text: str,
    *,
    type_names: Optional[Sequence[str]] = None,
) -> List[Dict[str, Union[int, str]]]:
    """Map one row's token spans to character spans of the original text.

    Args:
        spans: ``(type, start_token, end_token)`` triples (one row of :meth:`GlobalPointer.decode`).
        offset_mapping: ``(char_start, char_end)`` per token, as fast tokenizers return it; special
            and padding tokens have an empty range such as ``(0, 0)``.
        text: the text that was tokenized.
        type_names: optional names to report instead of type ids.

    Returns:
        ``{"type", "start", "end", "text"}`` dicts with ``text[start:end] == entity``, in the order of
        ``spans``; spans that start or end on a special token, or end before they start, are dropped.

    Raises:
        InputError: if a token index or type id is out of range, or an offset lies outside ``text``.
    """
    entities: List[Dict[str, Union[int, str]]] = []
    for type_id, start_token, end_token in spans:
        for token in (start_token, end_token):
            if not 0 <= token < len(offset_mapping):
                raise InputError(f"span token {token} outside offset_mapping of length {len(offset_mapping)}")
        if type_names is not None and not 0 <= type_id < len(type_names):
            raise InputError(f"span type {type_id} outside type_names of length {len(type_names)}")
        char_start, start_end = offset_mapping[start_token]
        end_start, char_end = offset_mapping[end_token]
        if start_end <= char_start or char_end <= end_start or end_token < start_token:
            continue  # special token at an edge, or an impossible span
        if not 0 <= char_start < char_end <= len(text):
            raise InputError(f"offsets ({char_start}, {char_end}) outside text of length {len(text)}")
        entities.append(
            {
                "type": type_names[type_id] if type_names is not None else type_id,
                "start": char_start,
                "end": char_end,
                "text": text[char_start:char_end],
            }
        )
    return entities
