"""Streamers receive tokens as they are produced.

``generate(streamer=...)`` accepts any object with ``put(token_ids)`` and ``end()``, or a plain
callable that is called with each step's new token ids (a ``[batch]`` tensor).
"""
import sys
from typing import Any, Callable, List, Optional, TextIO

import torch


class CallbackStreamer:
    """Adapts a callable ``fn(token_ids: Tensor[batch])`` to the streamer protocol."""

    def __init__(self, fn: Callable[[torch.Tensor], Any]):
        self.fn = fn

    def put(self, token_ids: torch.Tensor) -> None:
        self.fn(token_ids)

    def end(self) -> None:
        """Nothing to flush."""


class TextStreamer:
    """Decode the tokens of a batch-of-one generation and write the text as it grows.

    Args:
        tokenizer: anything with ``decode(ids, skip_special_tokens=...)``.
        stream: where text goes (stdout by default); ``on_text`` receives each new piece as well.
    """

    def __init__(self, tokenizer: Any, *, stream: Optional[TextIO] = None,
                 on_text: Optional[Callable[[str], Any]] = None, skip_special_tokens: bool = True):
        self.tokenizer, self.stream, self.on_text = tokenizer, stream, on_text
        self.skip_special_tokens = skip_special_tokens
        self.ids: List[int] = []
        self.printed = 0
        self.text = ""

    def put(self, token_ids: torch.Tensor) -> None:
        self.ids.extend(int(t) for t in token_ids.reshape(-1)[:1])
        text = self.tokenizer.decode(self.ids, skip_special_tokens=self.skip_special_tokens)
        # Hold back an incomplete multi-byte character (decoders show it as U+FFFD) until it completes.
        if text.endswith("\ufffd"):
            return
        self._emit(text[self.printed:])
        self.text, self.printed = text, len(text)

    def end(self) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=self.skip_special_tokens)
        self._emit(text[self.printed:])
        self.text, self.printed = text, len(text)

    def _emit(self, piece: str) -> None:
        if not piece:
            return
        if self.on_text is not None:
            self.on_text(piece)
        if self.stream is not None or self.on_text is None:
            (self.stream or sys.stdout).write(piece)
            (self.stream or sys.stdout).flush()
