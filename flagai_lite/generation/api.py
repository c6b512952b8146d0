"""``generate()``: validate arguments, open the model's decoding session, run the chosen search."""
import logging
from typing import Any, List, Optional, Sequence, Union

import torch

from ..errors import GenerationError
from .processors import LogitsPipeline
from .search import beam_search_loop, sample_loop
from .streamer import CallbackStreamer

logger = logging.getLogger(__name__)
Tensor = torch.Tensor
TokenIds = Union[int, Sequence[int], None]


@torch.inference_mode()
def generate(
    model: Any,
    *,
    input_ids: Tensor,
    attention_mask: Optional[Tensor] = None,
    max_new_tokens: Optional[int] = None,
    max_length: Optional[int] = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    num_beams: int = 1,
    length_penalty: float = 1.0,
    no_repeat_ngram_size: int = 0,
    early_stopping: bool = False,
    eos_token_id: TokenIds = None,
    pad_token_id: Optional[int] = None,
    streamer: Any = None,
    generator: Optional[torch.Generator] = None,
    **model_inputs: Any,
) -> Tensor:
    """Generate token ids with the model's KV-cached decoding session.

    Decoder-only models return ``[B, prompt + new]`` (prompts must be left-padded); encoder-decoder
    models return the decoder sequence ``[B, 1 + new]`` starting with the decoder start token.
    Rows that reach EOS are padded with ``pad_token_id`` until every row is done.

    Args:
        model: a model with ``start_generation`` (GPT2Model, T5Model, GLMModel, LlamaModel...).
        input_ids: prompts ``[B, L]``.
        attention_mask: 0/1 ``[B, L]``; needed when prompts are padded.
        max_new_tokens: tokens to add; wins over ``max_length`` (total length). Default 20.
        do_sample, temperature, top_k, top_p: multinomial sampling and its filters.
        repetition_penalty, no_repeat_ngram_size: repetition control (also in greedy and beam search).
        num_beams, length_penalty, early_stopping: beam search.
        eos_token_id: one id or several; defaults to the model config's.
        pad_token_id: fills finished rows; defaults to the config's, else the first EOS id.
        streamer: object with ``put(ids)``/``end()`` or a callable, given each step's new ids.
        generator: a ``torch.Generator`` for reproducible sampling.
        **model_inputs: model-specific inputs (e.g. GLM's ``position_ids``).

    Raises:
        GenerationError: invalid argument combinations, a right-padded decoder-only prompt.
    """
    if input_ids.dim() != 2:
        raise GenerationError(f"input_ids must be [batch, length], got shape {tuple(input_ids.shape)}")
    if num_beams < 1:
        raise GenerationError(f"num_beams must be >= 1, got {num_beams}")
    if streamer is not None and num_beams > 1:
        raise GenerationError("streaming is not supported with beam search (num_beams > 1)")
    if streamer is not None and not hasattr(streamer, "put"):
        streamer = CallbackStreamer(streamer)
    eos = _eos_tensor(eos_token_id, model, input_ids.device)
    pad = pad_token_id if pad_token_id is not None else _config_id(model, "pad_token_id")
    if pad is None:
        pad = int(eos[0]) if eos is not None else 0

    prompt_length = model.generation_prompt_length(input_ids)
    new_tokens = _new_token_budget(max_new_tokens, max_length, prompt_length)
    total = prompt_length + new_tokens
    processors = LogitsPipeline(
        repetition_penalty=repetition_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size,
        do_sample=do_sample,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        min_keep=1 if num_beams == 1 else (1 if eos is None else eos.numel()) + 1,
    )
    if num_beams > 1:
        input_ids, attention_mask, model_inputs = _expand(num_beams, input_ids, attention_mask, model_inputs)
    session, start_ids = model.start_generation(
        input_ids=input_ids, attention_mask=attention_mask, capacity=total, **model_inputs
    )
    if num_beams > 1:
        return beam_search_loop(
            session, start_ids, num_beams, total, processors, eos=eos, fill_value=pad,
            length_penalty=length_penalty, early_stopping=early_stopping, do_sample=do_sample, generator=generator,
        )
    sequences = start_ids.new_full((start_ids.shape[0], total), pad)
    sequences[:, :prompt_length] = start_ids
    out = sample_loop(
        session, sequences, prompt_length, total, processors, do_sample=do_sample, eos=eos,
        pad_token_id=pad, streamer=streamer, generator=generator,
    )
    if streamer is not None:
        streamer.end()
    return out


def _new_token_budget(max_new_tokens: Optional[int], max_length: Optional[int], prompt_length: int) -> int:
    if max_new_tokens is not None:
        if max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        return max_new_tokens
    if max_length is not None:
        if max_length <= prompt_length:
            raise GenerationError(
                f"max_length ({max_length}) leaves no room after the {prompt_length}-token prompt; "
                "use max_new_tokens"
            )
        return max_length - prompt_length
    return 20


def _config_id(model: Any, name: str) -> Optional[int]:
    value = getattr(model.config, name, None)
    return value if isinstance(value, int) else None


def _eos_tensor(eos_token_id: TokenIds, model: Any, device: torch.device) -> Optional[Tensor]:
    if eos_token_id is None:
        eos_token_id = model.generation_eos_ids() if hasattr(model, "generation_eos_ids") else None
    if eos_token_id is None:
        return None
    ids: List[int] = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    return torch.tensor(ids, dtype=torch.long, device=device)


def _expand(n: int, input_ids: Tensor, attention_mask: Optional[Tensor], extra: dict):
    """Repeat every prompt ``n`` times along the batch (beam search)."""
    def rep(t: Any) -> Any:
        return t.repeat_interleave(n, dim=0) if isinstance(t, Tensor) else t

    return rep(input_ids), rep(attention_mask), {k: rep(v) for k, v in extra.items()}
