"""Decoding loops over a session: greedy / sampling, and beam search.

Both loops mirror the semantics of transformers' ``generate`` (stopping, EOS handling, beam
bookkeeping, length penalty, early-stop heuristic) so that outputs are token-identical.
"""
from typing import Any, Optional

import torch

from .processors import LogitsPipeline

Tensor = torch.Tensor
_NEG = -1.0e9


def sample_loop(
    session: Any,
    sequences: Tensor,
    prompt_length: int,
    max_length: int,
    processors: LogitsPipeline,
    *,
    do_sample: bool,
    eos: Optional[Tensor],
    pad_token_id: int,
    streamer: Any = None,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Greedy (argmax) or multinomial decoding; rows stop at EOS and are padded after it.

    Args:
        sequences: preallocated ``[N, max_length]`` whose first ``prompt_length`` columns hold the prompt.

    Returns:
        ``sequences[:, :length]`` where ``length`` is where the last row stopped.
    """
    length = prompt_length
    unfinished = torch.ones(sequences.shape[0], dtype=torch.bool, device=sequences.device)
    logits = session.logits
    while True:
        scores = logits.float()
        if processors:
            scores = processors(sequences[:, :length], scores)
        if do_sample:
            tokens = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)
        else:
            tokens = scores.argmax(-1)
        if eos is not None:
            tokens = torch.where(unfinished, tokens, pad_token_id)
        sequences[:, length] = tokens
        length += 1
        if streamer is not None:
            streamer.put(tokens)
        if eos is not None:
            unfinished &= ~torch.isin(tokens, eos)
        if length >= max_length or not bool(unfinished.any()):
            return sequences[:, :length]
        logits = session.step(tokens)


def beam_search_loop(
    session: Any,
    input_ids: Tensor,
    num_beams: int,
    max_length: int,
    processors: LogitsPipeline,
    *,
    eos: Optional[Tensor],
    fill_value: int,
    length_penalty: float = 1.0,
    early_stopping: bool = False,
    do_sample: bool = False,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Beam search over ``input_ids`` ``[B * K, T]`` (each prompt repeated ``K = num_beams`` times).

    Keeps ``max(2, 1 + n_eos) * K`` candidates per step so that ``K`` unfinished beams always
    survive; finished hypotheses are scored ``sum log p / generated_length ** length_penalty``.

    Returns:
        The best hypothesis per prompt, ``[B, T + longest generated length]``, padded with ``fill_value``.
    """
    flat, prompt_length = input_ids.shape
    batch, beams, device = flat // num_beams, num_beams, input_ids.device
    keep = max(2, 1 + (0 if eos is None else eos.numel())) * beams
    first_k = torch.arange(keep, device=device) < beams  # candidates that may finish a hypothesis

    running = input_ids.new_full((batch, beams, max_length), fill_value)
    running[:, :, :prompt_length] = input_ids.view(batch, beams, prompt_length)
    finished = running.clone()
    running_scores = torch.zeros(batch, beams, device=device)
    running_scores[:, 1:] = _NEG  # only the first copy of each prompt starts a beam
    finished_scores = torch.full((batch, beams), _NEG, device=device)
    finished_lengths = torch.zeros(batch, beams, dtype=torch.long, device=device)
    is_finished = torch.zeros(batch, beams, dtype=torch.bool, device=device)
    improvable = torch.ones(batch, 1, dtype=torch.bool, device=device)
    offsets = torch.arange(batch, device=device)[:, None] * beams  # (B, 1)
    length, logits = prompt_length, session.logits

    while True:
        log_probs = logits.float().log_softmax(-1)  # (B*K, V)
        if processors:
            log_probs = processors(running.view(flat, max_length)[:, :length], log_probs)
        vocab = log_probs.shape[-1]
        totals = (log_probs.view(batch, beams, vocab) + running_scores[..., None]).view(batch, beams * vocab)
        if do_sample:
            top_index = torch.multinomial(totals.softmax(-1), keep, generator=generator)
            top_scores = totals.gather(1, top_index)
        else:
            top_scores, top_index = totals.topk(keep)  # (B, keep)
        source_beam, tokens = top_index // vocab, top_index % vocab
        candidates = _gather(running, source_beam)  # (B, keep, max_length)
        candidates[:, :, length] = tokens
        hits = torch.zeros_like(tokens, dtype=torch.bool) if eos is None else torch.isin(tokens, eos)
        hits |= length + 1 >= max_length

        # Next running beams: the best K candidates that did not just stop.
        live_scores = top_scores + hits.float() * _NEG
        pick = live_scores.topk(beams).indices  # (B, K)
        running = _gather(candidates, pick)
        running_scores = live_scores.gather(1, pick)
        parent = source_beam.gather(1, pick)

        # Finished hypotheses: merge candidates that stopped among the first K with the old best.
        done_now = hits & first_k
        scored = top_scores / float(length + 1 - prompt_length) ** length_penalty
        if early_stopping:
            scored = scored + is_finished.all(-1, keepdim=True).float() * _NEG
        scored = scored + (~improvable).float() * _NEG + (~done_now).float() * _NEG
        merged_scores = torch.cat([finished_scores, scored], 1)
        best = merged_scores.topk(beams).indices
        finished = _gather(torch.cat([finished, candidates], 1), best)
        finished_scores = merged_scores.gather(1, best)
        new_lengths = torch.full_like(tokens, length + 1 - prompt_length)
        finished_lengths = torch.cat([finished_lengths, new_lengths], 1).gather(1, best)
        is_finished = torch.cat([is_finished, done_now], 1).gather(1, best)

        length += 1
        # Can a running beam still beat the worst finished one? (transformers' early_stopping=False heuristic)
        best_possible = running_scores[:, :1] / float(length - prompt_length) ** length_penalty
        worst = torch.where(is_finished, finished_scores.min(1, keepdim=True).values, _NEG)
        improvable = improvable & (best_possible > worst).any(-1, keepdim=True)
        all_closed = early_stopping and bool(is_finished.all())
        if not bool(improvable.any()) or all_closed or bool(hits.all()):
            break
        session.reorder((parent + offsets).view(-1))
        logits = session.step(running[:, :, length - 1].reshape(-1))

    out_length = prompt_length + int(finished_lengths[:, 0].max())
    return finished[:, 0, :out_length]


def _gather(tensor: Tensor, index: Tensor) -> Tensor:
    """``tensor[b, index[b, j]]`` for a ``[B, K, ...]`` tensor and ``[B, J]`` index."""
    while index.dim() < tensor.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(tensor, index, dim=1)
