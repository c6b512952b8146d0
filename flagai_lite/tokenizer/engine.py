"""The engine interface, and the engine over a Hugging Face ``tokenizers.Tokenizer`` (Rust).

An engine turns texts into ids and back; the :class:`~flagai_lite.tokenizer.base.Tokenizer` above it
owns the API, input checks, padding and special-token names. Two engines exist: :class:`RustEngine`
(WordPiece, byte-level BPE, tokenizer.json) and ``SentencePieceEngine``.
"""
import logging
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Protocol, Sequence, Tuple

from flagai_lite.errors import TokenizerError

logger = logging.getLogger(__name__)

Offsets = List[Tuple[int, int]]


class EncodedBatch(NamedTuple):
    """Column-wise encodings of a batch: one list per sequence in each field, not padded."""

    ids: List[List[int]]
    type_ids: List[List[int]]
    offsets: Optional[List[Offsets]]  # character spans in the input texts; (0, 0) for specials


class Engine(Protocol):
    """What the Tokenizer needs from an engine."""

    name: str  # "wordpiece", "bpe", "tokenizer.json" or "sentencepiece"
    files: Dict[str, bytes]  # file name -> content, written verbatim by save()

    def encode_batch(self, texts: List[str], pairs: Optional[List[str]], *, add_special_tokens: bool,
                     max_length: Optional[int], offsets: bool) -> EncodedBatch: ...
    def tokenize(self, text: str) -> List[str]: ...
    def decode_batch(self, ids: List[List[int]], skip_special_tokens: bool) -> List[str]: ...
    def token_to_id(self, token: str) -> Optional[int]: ...
    def id_to_token(self, token_id: int) -> Optional[str]: ...
    def num_special_tokens_to_add(self, pair: bool) -> int: ...
    def add_tokens(self, tokens: Sequence[Tuple[str, int, bool]]) -> None: ...
    @property
    def base_vocab_size(self) -> int: ...
    @property
    def vocab_size(self) -> int: ...


def write_files(files: Dict[str, bytes], directory: Path) -> List[Path]:
    """Write ``files`` (name -> bytes) into ``directory``; return the paths written."""
    written = []
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


class RustEngine:
    """An engine over a ``tokenizers.Tokenizer``; truncation is set per call, padding is ours.

    Not safe to share across threads when threads call with different ``max_length`` (the Rust
    tokenizer holds its truncation setting).
    """

    def __init__(self, tokenizer, name: str, files: Dict[str, bytes]) -> None:
        self._tok = tokenizer
        # tokenizer.json files may carry fixed padding/truncation (e.g. pad to 128): the Tokenizer
        # above decides those per call, so the engine starts without either.
        self._tok.no_padding()
        self._tok.no_truncation()
        self._max_length: Optional[int] = None
        self.name = name
        self.files = files

    @property
    def backend(self):
        """The underlying ``tokenizers.Tokenizer``."""
        return self._tok

    def _truncate_to(self, max_length: Optional[int]) -> None:
        if max_length == self._max_length:
            return
        if max_length is None:
            self._tok.no_truncation()
        else:
            self._tok.enable_truncation(max_length, strategy="longest_first")
        self._max_length = max_length

    def encode_batch(self, texts: List[str], pairs: Optional[List[str]], *, add_special_tokens: bool,
                     max_length: Optional[int], offsets: bool) -> EncodedBatch:
        """Encode texts (and optional second texts) in Rust, in parallel."""
        self._truncate_to(max_length)
        inputs = texts if pairs is None else list(zip(texts, pairs))
        if len(inputs) == 1:
            first, second = (inputs[0], None) if pairs is None else inputs[0]
            encodings = [self._tok.encode(first, second, add_special_tokens=add_special_tokens)]
        elif offsets:
            encodings = self._tok.encode_batch(inputs, add_special_tokens=add_special_tokens)
        else:  # encode_batch_fast (tokenizers >= 0.20) skips offset tracking in Rust
            encode = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)
            encodings = encode(inputs, add_special_tokens=add_special_tokens)
        return EncodedBatch(
            [e.ids for e in encodings],
            [e.type_ids for e in encodings],
            [e.offsets for e in encodings] if offsets else None,
        )

    def tokenize(self, text: str) -> List[str]:
        """Tokens of ``text`` without special tokens and without truncation."""
        self._truncate_to(None)
        return self._tok.encode(text, add_special_tokens=False).tokens

    def decode_batch(self, ids: List[List[int]], skip_special_tokens: bool) -> List[str]:
        """Decode id lists to texts."""
        return self._tok.decode_batch(ids, skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of ``token``, or None when it is not in the vocabulary."""
        return self._tok.token_to_id(token)

    def id_to_token(self, token_id: int) -> Optional[str]:
        """The token of ``token_id``, or None when out of range."""
        return self._tok.id_to_token(token_id)

    def num_special_tokens_to_add(self, pair: bool) -> int:
        """How many special tokens the post-processor adds to one sequence or a pair."""
        return self._tok.num_special_tokens_to_add(pair)

    def add_tokens(self, tokens: Sequence[Tuple[str, int, bool]]) -> None:
        """Register ``(content, id, special)`` tokens; ids past the vocabulary must be contiguous.

        A token already in the vocabulary at that id is only marked (special tokens are matched in
        raw text, skipped by ``decode(skip_special_tokens=True)``).

        Raises:
            TokenizerError: a token's id clashes with the vocabulary or leaves a gap.
        """
        from tokenizers import AddedToken

        for content, token_id, special in sorted(tokens, key=lambda t: t[1]):
            current = self._tok.token_to_id(content)
            if current is not None and current != token_id:
                raise TokenizerError(
                    f"token {content!r} should have id {token_id} but the vocabulary has it at {current}"
                )
            if current is None and token_id != self._tok.get_vocab_size(with_added_tokens=True):
                raise TokenizerError(
                    f"cannot add token {content!r} at id {token_id}: the next free id is "
                    f"{self._tok.get_vocab_size(with_added_tokens=True)} (ids must be contiguous)"
                )
            added = AddedToken(content, special=special, normalized=not special)
            if special:
                self._tok.add_special_tokens([added])
            else:
                self._tok.add_tokens([added])

    @property
    def base_vocab_size(self) -> int:
        """Size of the model's own vocabulary (without added tokens)."""
        return self._tok.get_vocab_size(with_added_tokens=False)

    @property
    def vocab_size(self) -> int:
        """Number of ids, added tokens included."""
        return self._tok.get_vocab_size(with_added_tokens=True)
