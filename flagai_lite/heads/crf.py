"""Linear-chain conditional random field (Lafferty et al., 2001) for sequence labelling heads.

Batch-first throughout: emissions ``[B, L, T]``, tags and mask ``[B, L]``. The mask marks the real
tokens of each row and must be left-aligned (a prefix of ones), so every row has at least one token.
"""
from typing import List, Optional

import torch
from torch import nn

from flagai_lite.errors import ConfigError, InputError

_REDUCTIONS = ("mean", "sum", "none")


class CRF(nn.Module):
    """Linear-chain CRF with learned start, end and transition scores.

    The score of a tag path ``y`` is
    ``start[y_0] + sum_t emissions[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_last]``.
    There is no ``forward``: call :meth:`nll` for training and :meth:`decode` for inference.

    Args:
        num_tags: number of tags ``T``.

    Raises:
        ConfigError: if ``num_tags`` is not a positive integer.
    """

    def __init__(self, num_tags: int):
        super().__init__()
        if not isinstance(num_tags, int) or num_tags < 1:
            raise ConfigError(f"CRF num_tags must be a positive integer, got {num_tags!r}")
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags))  # [T]
        self.end_transitions = nn.Parameter(torch.empty(num_tags))  # [T]
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # [T, T], from i to j
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every score from uniform(-0.1, 0.1), the convention of pytorch-crf
        (kmkurn/pytorch-crf, ``torchcrf.CRF.reset_parameters``)."""
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def nll(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: Optional[torch.Tensor] = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """Negative log-likelihood ``log Z - score(tags)`` of the gold paths (forward algorithm).

        Args:
            emissions: per-token tag scores ``[B, L, T]``.
            tags: gold tags ``[B, L]`` (integer); values at masked positions are ignored
                (``-100`` or anything else).
            mask: ``[B, L]`` bool or 0/1, left-aligned, first column all ones; None means all ones.
            reduction: ``"mean"`` (default: mean over the batch rows, not over tokens),
                ``"sum"`` (sum over rows) or ``"none"`` (per-row ``[B]``).

        Returns:
            A scalar tensor, or ``[B]`` for ``reduction="none"``.

        Raises:
            InputError: on shape mismatches, a bad mask, a gold tag outside ``[0, T)`` at an
                unmasked position, or an unknown ``reduction``.
        """
        if reduction not in _REDUCTIONS:
            raise InputError(f"CRF.nll reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        mask = self._check_inputs(emissions, mask)
        if tags.shape != emissions.shape[:2]:
            raise InputError(f"CRF tags shape {tuple(tags.shape)} != emissions [B, L] {tuple(emissions.shape[:2])}")
        if tags.dtype.is_floating_point or tags.dtype == torch.bool:
            raise InputError(f"CRF tags must be an integer tensor, got {tags.dtype}")
        bad = mask & ((tags < 0) | (tags >= self.num_tags))
        if bad.any():
            raise InputError(
                f"CRF gold tags must lie in [0, {self.num_tags}) at unmasked positions, "
                f"got {tags[bad].unique().tolist()}"
            )
        tags = tags.long().masked_fill(~mask, 0)  # padding may hold -100: make it a valid index
        nll = self._log_partition(emissions, mask) - self._path_score(emissions, tags, mask)  # [B]
        if reduction == "mean":
            return nll.mean()
        if reduction == "sum":
            return nll.sum()
        return nll

    def decode(self, emissions: torch.Tensor, mask: Optional[torch.Tensor] = None) -> List[List[int]]:
        """Viterbi best path of every row.

        Args:
            emissions: per-token tag scores ``[B, L, T]``.
            mask: ``[B, L]`` bool or 0/1, left-aligned, first column all ones; None means all ones.

        Returns:
            One list of tag ids per row, of length ``mask[b].sum()``.

        Raises:
            InputError: on a shape mismatch or a bad mask.
        """
        mask = self._check_inputs(emissions, mask)
        paths = self._viterbi(emissions, mask).tolist()
        lengths = mask.sum(dim=1).tolist()
        return [path[:n] for path, n in zip(paths, lengths)]

    def decode_tensor(self, emissions: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Viterbi best paths as one tensor ``[B, L]`` (long), padded with ``-1`` where mask is 0.

        Args and Raises as :meth:`decode`.
        """
        return self._viterbi(emissions, self._check_inputs(emissions, mask))

    @torch.no_grad()
    def _viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best paths ``[B, L]`` for a validated bool mask, ``-1`` at padding."""
        batch, length, num_tags = emissions.shape
        score = self.start_transitions + emissions[:, 0]  # [B, T]: best path ending in each tag
        identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)  # [B, T]
        backpointers = []
        for t in range(1, length):
            # [B, T, 1] + [T, T] + [B, 1, T] -> [B, T_prev, T_next]; best previous tag per next tag
            best, prev = (score.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1)).max(dim=1)
            step = mask[:, t].unsqueeze(1)  # [B, 1]
            score = torch.where(step, best, score)
            # Past a row's end the pointer is the identity, so backtracking carries the last tag through.
            backpointers.append(torch.where(step, prev, identity))  # [B, T]
        last = (score + self.end_transitions).argmax(dim=1)  # [B]
        path = [last]
        for pointers in reversed(backpointers):
            path.append(pointers.gather(1, path[-1].unsqueeze(1)).squeeze(1))  # [B]
        path = torch.stack(path[::-1], dim=1)  # [B, L]
        return path.masked_fill(~mask, -1)

    def _check_inputs(self, emissions: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Validate emissions and mask; return the mask as bool ``[B, L]``."""
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise InputError(f"CRF emissions must be [B, L, {self.num_tags}], got {tuple(emissions.shape)}")
        if emissions.shape[1] == 0:
            raise InputError("CRF emissions have zero length (L == 0); every row needs at least one token")
        if mask is None:
            return torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        if mask.shape != emissions.shape[:2]:
            raise InputError(f"CRF mask shape {tuple(mask.shape)} != emissions [B, L] {tuple(emissions.shape[:2])}")
        mask = mask.bool()
        if not mask[:, 0].all():
            rows = (~mask[:, 0]).nonzero().flatten().tolist()
            raise InputError(f"CRF mask must start with 1 in every row; rows {rows} start with 0")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            rows = (mask[:, 1:] & ~mask[:, :-1]).any(dim=1).nonzero().flatten().tolist()
            raise InputError(f"CRF mask must be left-aligned (ones then zeros); rows {rows} have a 0 before a 1")
        return mask

    def _path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the given paths ``[B]``; masked steps contribute nothing."""
        weights = mask.to(emissions.dtype)  # [B, L]
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, L]
        moved = self.transitions[tags[:, :-1], tags[:, 1:]]  # [B, L-1]
        last = tags.gather(1, mask.sum(dim=1, keepdim=True) - 1).squeeze(1)  # [B]
        return (
            self.start_transitions[tags[:, 0]]
            + (emitted * weights).sum(dim=1)
            + (moved * weights[:, 1:]).sum(dim=1)  # left-aligned mask: step t counts iff token t is real
            + self.end_transitions[last]
        )

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log Z`` per row ``[B]`` by the forward algorithm in log space."""
        alpha = self.start_transitions + emissions[:, 0]  # [B, T]
        for t in range(1, emissions.shape[1]):
            # [B, T, 1] + [T, T] + [B, 1, T] -> [B, T_prev, T_next], summed out over T_prev
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # [B, T]
        return torch.logsumexp(alpha + self.end_transitions, dim=1)
