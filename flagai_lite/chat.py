"""Chat with decoder models: the checkpoint's own Jinja chat template, generation_config defaults.

    response, history = model.chat(tokenizer, "浙江的省会在哪里？", history=None)
    for partial, history in model.stream_chat(tokenizer, "And Jiangsu?", history=history):
        show(partial)  # the response so far

Templates come from tokenizer_config.json (``chat_template``) or chat_template.jinja, and are
rendered with ``jinja2`` in a sandbox, as transformers' ``apply_chat_template`` renders them.
"""
import json
import queue
import threading
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch

from .errors import CapabilityError, ConfigError

Message = Dict[str, str]
History = Union[List[Message], List[Tuple[str, str]]]
# generation_config.json keys that generate() understands
_GENERATION_KEYS = ("do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens",
                    "max_length", "num_beams", "length_penalty", "no_repeat_ngram_size", "eos_token_id",
                    "pad_token_id")


def render_chat(template: str, messages: Sequence[Message], *, add_generation_prompt: bool = True,
                **variables: Any) -> str:
    """Render ``messages`` with a Hugging Face-style chat template.

    Raises:
        ConfigError: jinja2 is missing (install the ``chat`` extra) or the template raises.
    """
    try:
        from jinja2 import TemplateError
    except ImportError:
        raise ConfigError("chat templates need jinja2: pip install 'flagai_lite[chat]'") from None
    try:
        return _compile(template).render(messages=list(messages), add_generation_prompt=add_generation_prompt,
                                         **variables)
    except TemplateError as err:
        raise ConfigError(f"chat template failed: {err}") from None


_COMPILED: Dict[str, Any] = {}


def _compile(template: str):
    if template not in _COMPILED:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str):
            from jinja2 import TemplateError

            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        # transformers' tojson: no HTML escaping, unicode kept
        env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
        env.globals.update(raise_exception=raise_exception, strftime_now=lambda f: datetime.now().strftime(f))
        _COMPILED[template] = env.from_string(template)
    return _COMPILED[template]


def chat_prompt_ids(tokenizer: Any, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> List[int]:
    """Token ids of the rendered conversation (the template writes its own special tokens)."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise CapabilityError("the tokenizer has no chat template (tokenizer_config.json 'chat_template' or "
                              "chat_template.jinja); chat needs one")
    text = render_chat(template, messages, add_generation_prompt=add_generation_prompt,
                       **tokenizer.special_token_strings())
    return tokenizer.encode(text, add_special_tokens=False)


def _as_messages(history: Optional[History]) -> Tuple[List[Message], bool]:
    """Messages of ``history`` and whether it was given as (query, response) pairs."""
    if not history:
        return [], False
    if isinstance(history[0], (tuple, list)):
        return [m for q, r in history for m in ({"role": "user", "content": q},
                                                {"role": "assistant", "content": r})], True
    return [dict(m) for m in history], False


def _extend(history: Optional[History], pairs: bool, query: str, response: str) -> History:
    if pairs:
        return [*history, (query, response)]
    return [*(history or []), {"role": "user", "content": query}, {"role": "assistant", "content": response}]


class ChatMixin:
    """``chat`` and ``stream_chat`` for models with ``generate`` (decoder-only)."""

    def _chat_inputs(self, tokenizer: Any, query: str, history: Optional[History], generate_kwargs: Dict[str, Any]):
        messages, pairs = _as_messages(history)
        ids = chat_prompt_ids(tokenizer, [*messages, {"role": "user", "content": query}])
        defaults = {k: v for k, v in (getattr(self, "generation_config", None) or {}).items() if k in _GENERATION_KEYS}
        options = {**defaults, **generate_kwargs}
        if options.get("eos_token_id") is None:
            options["eos_token_id"] = tokenizer.eos_token_id
        input_ids = torch.tensor([ids], device=self.device)
        return input_ids, options, pairs

    def chat(self, tokenizer: Any, query: str, history: Optional[History] = None,
             **generate_kwargs: Any) -> Tuple[str, History]:
        """Answer ``query`` after ``history`` (messages, or (query, response) pairs); returns (response, new history).

        Generation follows the checkpoint's generation_config.json; keyword arguments win.
        """
        input_ids, options, pairs = self._chat_inputs(tokenizer, query, history, generate_kwargs)
        out = self.generate(input_ids=input_ids, **options)
        response = tokenizer.decode(out[0, input_ids.shape[1]:].tolist(), skip_special_tokens=True)
        return response, _extend(history, pairs, query, response)

    def stream_chat(self, tokenizer: Any, query: str, history: Optional[History] = None,
                    **generate_kwargs: Any) -> Iterator[Tuple[str, History]]:
        """Like :meth:`chat`, yielding ``(response so far, history)`` as tokens arrive."""
        from .generation.streamer import TextStreamer

        input_ids, options, pairs = self._chat_inputs(tokenizer, query, history, generate_kwargs)
        pieces: "queue.Queue[Any]" = queue.Queue()
        done = object()
        streamer = TextStreamer(tokenizer, on_text=pieces.put)

        def run() -> None:
            try:
                self.generate(input_ids=input_ids, streamer=streamer, **options)
            except BaseException as err:  # handed to the caller's thread below
                pieces.put(err)
            finally:
                pieces.put(done)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        response = ""
        while True:
            piece = pieces.get()
            if piece is done:
                break
            if isinstance(piece, BaseException):
                raise piece
            response += piece
            yield response, _extend(history, pairs, query, response)
        worker.join()
