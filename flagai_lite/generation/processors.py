"""Logits processors: repetition penalty, n-gram blocking, temperature, top-k and top-p.

Each is a pure function of ``(sequences [N, T], scores [N, V])`` with the semantics of the
processors in Hugging Face transformers (same order, same tie handling), so that sampling and
beam search see the same distributions.
"""
from typing import Callable, List, Sequence

import torch

from ..errors import GenerationError

Tensor = torch.Tensor
Processor = Callable[[Tensor, Tensor], Tensor]


def apply_repetition_penalty(scores: Tensor, sequences: Tensor, penalty: float) -> Tensor:
    """Divide positive / multiply negative scores of every token already in the sequence (CTRL, Keskar et al. 2019)."""
    seen = torch.gather(scores, 1, sequences)  # (N, T)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, sequences, seen)


def apply_no_repeat_ngram(scores: Tensor, sequences: Tensor, size: int) -> Tensor:
    """Forbid every token that would complete an n-gram already present in the sequence."""
    length = sequences.shape[1]
    if length < size:
        return scores
    prefix = sequences[:, length + 1 - size :]  # (N, size - 1)
    windows = sequences.unfold(1, size, 1)  # (N, T - size + 1, size)
    matches = (windows[..., :-1] == prefix[:, None]).all(-1)  # (N, windows)
    vocab = scores.shape[1]
    banned = scores.new_zeros(scores.shape[0], vocab + 1, dtype=torch.bool)
    banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab), vocab), True)
    return scores.masked_fill(banned[:, :vocab], float("-inf"))


def apply_top_k(scores: Tensor, k: int, min_keep: int = 1) -> Tensor:
    """Keep the ``k`` best scores (ties with the k-th kept too); the rest become -inf."""
    k = min(max(k, min_keep), scores.shape[-1])
    kth = torch.topk(scores, k).values[..., -1:]
    return scores.masked_fill(scores < kth, float("-inf"))


def apply_top_p(scores: Tensor, p: float, min_keep: int = 1) -> Tensor:
    """Nucleus filtering: keep the smallest set of tokens whose probability reaches ``p``."""
    sorted_scores, order = torch.sort(scores, descending=False)
    cumulative = sorted_scores.softmax(-1).cumsum(-1)
    drop = cumulative <= 1 - p
    drop[..., -min_keep:] = False
    return scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))


class LogitsPipeline:
    """The processors a generation call asked for, applied in transformers' order.

    Args:
        repetition_penalty: > 1 discourages repeats; 1.0 disables.
        no_repeat_ngram_size: forbid repeating n-grams of this size; 0 disables.
        temperature, top_k, top_p: sampling warpers, only used when ``do_sample``.
        min_keep: tokens top-k/top-p always keep (beam sampling keeps one more than the EOS count).
    """

    def __init__(
        self,
        *,
        repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        min_keep: int = 1,
    ):
        _check(repetition_penalty > 0, f"repetition_penalty must be > 0, got {repetition_penalty}")
        _check(no_repeat_ngram_size >= 0, f"no_repeat_ngram_size must be >= 0, got {no_repeat_ngram_size}")
        _check(temperature > 0, f"temperature must be > 0, got {temperature}")
        _check(top_k >= 0, f"top_k must be >= 0, got {top_k}")
        _check(0 < top_p <= 1, f"top_p must be in (0, 1], got {top_p}")
        steps: List[Processor] = []
        if repetition_penalty != 1.0:
            steps.append(lambda seq, s: apply_repetition_penalty(s, seq, repetition_penalty))
        if no_repeat_ngram_size:
            steps.append(lambda seq, s: apply_no_repeat_ngram(s, seq, no_repeat_ngram_size))
        if do_sample:
            if temperature != 1.0:
                steps.append(lambda seq, s: s / temperature)
            if top_k:
                steps.append(lambda seq, s: apply_top_k(s, top_k, min_keep))
            if top_p < 1.0:
                steps.append(lambda seq, s: apply_top_p(s, top_p, min_keep))
        self.steps: Sequence[Processor] = steps

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __call__(self, sequences: Tensor, scores: Tensor) -> Tensor:
        for step in self.steps:
            scores = step(sequences, scores)
        return scores



def _check(ok: bool, message: str) -> None:
    if not ok:
        raise GenerationError(message)
