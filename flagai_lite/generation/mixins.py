"""Mixins giving models ``generate()``: the generic one, decoder-only and encoder-decoder flavours."""
from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..errors import GenerationError
from ..layer.kv_cache import KVCache
from .api import generate
from .session import CausalLMSession, Seq2SeqSession

Tensor = torch.Tensor


class GenerationMixin:
    """Adds ``generate`` (see :func:`flagai_lite.generation.generate`) to a model that provides:

    - ``start_generation(*, input_ids, attention_mask, capacity, **inputs) -> (session, start_ids)``
    - ``generation_prompt_length(input_ids) -> int``: prompt columns of the returned sequences
    - ``generation_eos_ids() -> int | list | None``: default stop tokens
    """

    generate: Callable[..., Tensor] = generate

    def generation_eos_ids(self) -> Any:
        return getattr(self.config, "eos_token_id", None)


class CausalLMGenerationMixin(GenerationMixin):
    """Decoder-only models with ``decode(...)``, ``lm_head`` and a ``layers`` ModuleList."""

    def causal_lm_forward(
        self,
        *,
        input_ids: Tensor,
        attention_mask: Optional[Tensor] = None,
        position_ids: Optional[Tensor] = None,
        past_key_values: Optional[KVCache] = None,
        use_cache: bool = False,
        labels: Optional[Tensor] = None,
    ) -> Dict[str, Any]:
        """The shared ``forward`` of decoder-only models: logits, hidden states, cache and next-token loss."""
        cache = past_key_values
        if cache is None and use_cache:
            cache = KVCache(self.num_cache_layers)
        hidden = self.decode(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=cache)
        logits = self.lm_logits(hidden)  # (B, L, V)
        out: Dict[str, Any] = {"logits": logits, "hidden_states": hidden}
        if cache is not None:
            out["past_key_values"] = cache
        if labels is not None:  # position i predicts token i + 1; -100 is ignored
            labels = labels.to(logits.device)
            out["loss"] = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(),
                                          ignore_index=-100)
        return out

    @property
    def num_cache_layers(self) -> int:
        return len(self.layers)

    def lm_logits(self, hidden: Tensor) -> Tensor:
        """Vocabulary logits of hidden states."""
        return self.lm_head(hidden)

    def generation_prompt_length(self, input_ids: Tensor) -> int:
        return input_ids.shape[1]

    def start_generation(
        self, *, input_ids: Tensor, attention_mask: Optional[Tensor], capacity: int
    ) -> Tuple[CausalLMSession, Tensor]:
        if attention_mask is not None and not bool(attention_mask[:, -1].all()):
            raise GenerationError(
                "decoder-only generation needs left-padded prompts (the last column of attention_mask is 0); "
                "pad on the left, e.g. tokenizer padding_side='left'"
            )
        return CausalLMSession(self, input_ids, attention_mask, capacity), input_ids


class Seq2SeqGenerationMixin(GenerationMixin):
    """Encoder-decoder models with ``encode``, ``decode``, ``lm_logits`` and ``config.decoder_start_token_id``."""

    def generation_prompt_length(self, input_ids: Tensor) -> int:
        return 1

    def start_generation(
        self, *, input_ids: Tensor, attention_mask: Optional[Tensor], capacity: int
    ) -> Tuple[Seq2SeqSession, Tensor]:
        start = input_ids.new_full((input_ids.shape[0], 1), self.config.decoder_start_token_id)
        return Seq2SeqSession(self, input_ids, attention_mask, start, capacity), start
