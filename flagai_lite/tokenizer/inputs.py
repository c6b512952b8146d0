"""Input checks at the tokenizer boundary: what text the engines are given, and what is refused.

Policy (also in docs/tokenizer.md):

* ``str`` is tokenized as is. Lone surrogates (``"\\ud800"``, e.g. from ``errors="surrogateescape"``)
  cannot reach the engines, so each is replaced by U+FFFD, one character for one character:
  offsets still index the caller's string.
* ``bytes`` / ``bytearray`` must be UTF-8; they are decoded strictly and offsets index the decoded
  string. Invalid UTF-8 raises :class:`TokenizerError` naming the byte position.
* Anything else (None, numbers, lists where one text is expected) raises :class:`TokenizerError`.
"""
import re
from typing import Any, List, Optional, Sequence, Tuple

from flagai_lite.errors import TokenizerError

_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: Any, what: str = "text") -> str:
    """Return ``text`` as a str the engines accept (see the module policy).

    Raises:
        TokenizerError: ``text`` is not str / UTF-8 bytes, or the bytes are not valid UTF-8.
    """
    if isinstance(text, str):
        if not text.isascii() and _SURROGATE.search(text):
            return _SURROGATE.sub("\ufffd", text)
        return text
    if isinstance(text, (bytes, bytearray)):
        data = bytes(text)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise TokenizerError(
                f"{what} is bytes but not valid UTF-8 (byte {err.start}: "
                f"{data[err.start:err.start + 4]!r}); decode it first, e.g. "
                "data.decode('utf-8', errors='replace')"
            ) from None
    shown = repr(text)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise TokenizerError(f"{what} must be a str (or UTF-8 bytes), got {type(text).__name__}: {shown}")


def check_batch(
    batch: Any, text_pairs: Optional[Sequence[Any]] = None
) -> Tuple[List[str], Optional[List[str]]]:
    """Split a batch into checked first texts and (optional) second texts.

    ``batch`` is a list of texts or of ``(text, text_pair)`` tuples; ``text_pairs`` is an optional
    parallel list of second texts. Mixing single texts and pairs in one batch is refused.

    Raises:
        TokenizerError: the batch is not a list/tuple, is ragged, or holds a bad text.
    """
    if isinstance(batch, (str, bytes, bytearray)) or not isinstance(batch, (list, tuple)):
        raise TokenizerError(
            f"a batch must be a list of texts or (text, text_pair) tuples, got {type(batch).__name__}"
        )
    if text_pairs is not None:
        if not isinstance(text_pairs, (list, tuple)) or len(text_pairs) != len(batch):
            raise TokenizerError(
                f"text_pairs must be a list as long as the batch ({len(batch)} texts)"
            )
        return _check_all(batch, "batch"), _check_all(text_pairs, "text_pairs")
    if batch and isinstance(batch[0], (list, tuple)):
        firsts, seconds = [], []
        for i, item in enumerate(batch):
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise TokenizerError(f"batch[{i}] must be a (text, text_pair) pair like batch[0]")
            firsts.append(check_text(item[0], f"batch[{i}][0]"))
            seconds.append(check_text(item[1], f"batch[{i}][1]"))
        return firsts, seconds
    return _check_all(batch, "batch"), None


def _check_all(texts: Sequence[Any], label: str) -> List[str]:
    # Fast path for clean str; the error label is only built for the texts that need it.
    out = []
    for i, text in enumerate(texts):
        if type(text) is str and (text.isascii() or _SURROGATE.search(text) is None):
            out.append(text)
        else:
            out.append(check_text(text, f"{label}[{i}]"))
    return out
