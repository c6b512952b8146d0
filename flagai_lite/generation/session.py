"""Decoding sessions: a model's prompt pass plus one cached step per new token.

A session owns the KV cache and whatever a model needs between steps (padding mask, next
position ids, encoder states). Generation loops only see three things: ``logits`` (next-token
scores ``[N, V]``), ``step(tokens)`` and ``reorder(index)``.
"""
from typing import Optional

import torch

from ..layer import KVCache

Tensor = torch.Tensor


class CausalLMSession:
    """Decoder-only models (GPT-2, LLaMA family) with left-padded prompts.

    The model must provide ``decode(*, input_ids, attention_mask, position_ids, cache) -> hidden``,
    ``lm_logits(hidden) -> logits`` and ``num_cache_layers``.
    """

    def __init__(self, model, input_ids: Tensor, attention_mask: Optional[Tensor], capacity: int):
        self.model = model
        batch, length = input_ids.shape
        self.cache = KVCache(model.num_cache_layers, capacity)
        self.mask: Optional[Tensor] = None
        positions = None
        if attention_mask is not None and not bool(attention_mask.all()):
            # Preallocated: every generated position is real, so the tail is ones from the start.
            self.mask = attention_mask.new_ones(batch, capacity)
            self.mask[:, :length] = attention_mask
            positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
            self.next_position = positions[:, -1:] + 1
        self.length = length
        hidden = model.decode(input_ids=input_ids, attention_mask=self._mask(), position_ids=positions, cache=self.cache)
        self.logits = model.lm_logits(hidden[:, -1])  # (N, V)

    def _mask(self) -> Optional[Tensor]:
        return None if self.mask is None else self.mask[:, : self.length]

    def step(self, tokens: Tensor) -> Tensor:
        """Feed one token per row; returns the next-token logits ``[N, V]``."""
        positions = None
        self.length += 1
        if self.mask is not None:
            positions = self.next_position
            self.next_position = positions + 1
        hidden = self.model.decode(
            input_ids=tokens[:, None], attention_mask=self._mask(), position_ids=positions, cache=self.cache
        )
        self.logits = self.model.lm_logits(hidden[:, -1])
        return self.logits

    def reorder(self, index: Tensor) -> None:
        """Keep rows ``index`` (beam search moves rows only within a batch item, whose masks are equal)."""
        self.cache.reorder(index)


class Seq2SeqSession:
    """Encoder-decoder models (T5): the encoder runs once, the decoder one token per step.

    The model must provide ``encode``, ``decode(*, decoder_input_ids, encoder_hidden_states,
    attention_mask, cache)``, ``lm_logits`` and ``num_cache_layers``.
    """

    def __init__(self, model, input_ids: Tensor, attention_mask: Optional[Tensor], decoder_input_ids: Tensor,
                 capacity: int):
        self.model = model
        self.attention_mask = attention_mask
        self.encoder_states = model.encode(input_ids=input_ids, attention_mask=attention_mask)
        self.cache = KVCache(model.num_cache_layers, capacity)
        self.logits = self._run(decoder_input_ids)

    def _run(self, decoder_input_ids: Tensor) -> Tensor:
        hidden = self.model.decode(
            decoder_input_ids=decoder_input_ids, encoder_hidden_states=self.encoder_states,
            attention_mask=self.attention_mask, cache=self.cache,
        )
        return self.model.lm_logits(hidden[:, -1])

    def step(self, tokens: Tensor) -> Tensor:
        """Feed one token per row; returns the next-token logits ``[N, V]``."""
        self.logits = self._run(tokens[:, None])
        return self.logits

    def reorder(self, index: Tensor) -> None:
        """Keep rows ``index`` (beam search moves rows only within a batch item: encoder states are equal)."""
        self.cache.reorder(index)


class GLMSession:
    """GLM blank infilling: a bidirectional context pass, then ``sop`` and one token per step.

    Every generated token takes its mask's position id and block positions 1, 2, ... (FlagAI's
    ``glm_generate_sample``). Prompts may be left-padded; padding keys are then masked explicitly.
    """

    def __init__(self, model, input_ids: Tensor, attention_mask: Optional[Tensor], mask_positions: Tensor,
                 sop_token_id: int, capacity: int):
        self.model = model
        batch, length = input_ids.shape
        self.cache = KVCache(model.num_cache_layers, capacity)
        padded = attention_mask is not None and not bool(attention_mask.all())
        if padded:
            positions = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
            self.keys: Optional[Tensor] = attention_mask.new_ones(batch, 1, 1, capacity)
            self.keys[:, 0, 0, :length] = attention_mask
            context_mask = self.keys[:, :, :, :length].expand(batch, 1, length, length)
        else:
            positions = torch.arange(length, device=input_ids.device).expand(batch, length)
            self.keys, context_mask = None, torch.full((batch,), length, device=input_ids.device)
        position_ids = torch.stack([positions, torch.zeros_like(positions)], 1)  # (B, 2, L)
        model.decode(input_ids=input_ids, position_ids=position_ids, attention_mask=context_mask, cache=self.cache)
        self.mask_positions = mask_positions.reshape(-1).expand(batch) if mask_positions.numel() == 1 else mask_positions
        self.length, self.block = length, 0
        self.logits = self.step(input_ids.new_full((batch,), sop_token_id))

    def step(self, tokens: Tensor) -> Tensor:
        """Feed one token per row at (mask position, next block position); returns next-token logits."""
        self.block += 1
        self.length += 1
        position_ids = torch.stack([self.mask_positions, torch.full_like(self.mask_positions, self.block)], 1)
        mask = None if self.keys is None else self.keys[:, :, :, : self.length]
        hidden = self.model.decode(
            input_ids=tokens[:, None], position_ids=position_ids[:, :, None], attention_mask=mask, cache=self.cache
        )
        self.logits = self.model.lm_logits(hidden[:, -1])
        return self.logits

    def reorder(self, index: Tensor) -> None:
        """Keep rows ``index`` (beam search moves rows only within a batch item)."""
        self.cache.reorder(index)
