"""The Tokenizer: one API over every engine (FlagAI method names, Hugging Face-like outputs)."""
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from flagai_lite.errors import TokenizerError
from flagai_lite.tokenizer.batch import PADDING_CHOICES, PADDING_SIDES, pad_batch, to_tensors
from flagai_lite.tokenizer.engine import EncodedBatch, Engine, write_files
from flagai_lite.tokenizer.inputs import check_batch, check_text
from flagai_lite.tokenizer.special_tokens import SPECIAL_NAMES, CommandToken, canonical_command_name

logger = logging.getLogger(__name__)

TextInput = Union[str, bytes]
SPECIAL_KEYS = frozenset(f"{name}_token" for name in SPECIAL_NAMES)


class Tokenizer:
    """Text to ids and back for one model, with the special tokens its checkpoint expects.

    Build one with :meth:`from_pretrained`; the constructor is for the loader.

    Behaviour on awkward input (documented in docs/tokenizer.md):
        * empty or whitespace-only text: only the kind's special tokens (BERT ``[CLS] [SEP]``,
          T5 ``</s>``, GPT-2 nothing; GPT-2 keeps whitespace as tokens, it is lossless);
        * control characters: dropped by BERT and SentencePiece normalization, kept as bytes by
          GPT-2;
        * lone surrogates: replaced by U+FFFD (offsets unchanged); bytes: decoded as UTF-8,
          invalid UTF-8 raises TokenizerError; non-text input raises TokenizerError;
        * longer than ``max_length`` (default ``model_max_length``): truncated when
          ``truncation=True`` (pairs longest-first); otherwise kept whole with one warning.
    """

    def __init__(self, engine: Engine, *, kind: str, commands: Dict[str, CommandToken],
                 added_tokens: Dict[str, int], config: Dict[str, Any],
                 model_max_length: Optional[int], padding_side: str = "right") -> None:
        if padding_side not in PADDING_SIDES:
            raise TokenizerError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        self._engine = engine
        self.kind = kind
        self._commands = commands
        self._added_tokens = added_tokens
        self._config = config
        self.model_max_length = model_max_length
        self.padding_side = padding_side
        self._warned_long = False

    # --- construction and saving ------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, download_path: Union[str, Path], model_name: Optional[str] = None, *,
                        kind: Optional[str] = None, engine: Optional[str] = None,
                        **options: Any) -> "Tokenizer":
        """Load the tokenizer of ``download_path/model_name`` (or of the directory ``download_path``).

        The engine follows the files present (see :mod:`flagai_lite.tokenizer.detect` for the
        precedence); when ``model_name`` is given and its directory has no vocabulary, the files are
        fetched with ``flagai_lite.hub.download``.

        Args:
            download_path: a model directory, or the folder holding ``model_name``.
            model_name: the model's folder (and hub) name, e.g. "GLM-large-ch".
            kind: "bert", "gpt2", "t5", "glm" or "plain"; default: detected.
            engine: "tokenizer.json", "bpe", "wordpiece" or "sentencepiece"; default: detected.
            **options: tokenizer_config.json overrides, e.g. ``do_lower_case=False``,
                ``padding_side="left"``, ``model_max_length=512``, ``eos_token="</s>"``.

        Raises:
            TokenizerError: no known vocabulary (the message lists the files looked for), malformed
                files, or an unknown option.
        """
        from flagai_lite.tokenizer.detect import detect_kind, locate
        from flagai_lite.tokenizer.loader import build

        files = locate(download_path, model_name, engine)
        return build(cls, files, detect_kind(files, model_name, kind), **options)

    def save_pretrained(self, directory: Union[str, Path]) -> List[Path]:
        """Write the vocabulary files and configs that :meth:`from_pretrained` reads back.

        Returns:
            The paths written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = write_files(self._engine.files, directory)
        specials = {f"{c.name}_token": c.token for c in self._commands.values()
                    if c.name in SPECIAL_NAMES}
        config = {**self._config, **specials, "flagai_lite_kind": self.kind,
                  "padding_side": self.padding_side}
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        special_map = {key: value for key, value in config.items()
                       if key in SPECIAL_KEYS or key == "additional_special_tokens"}
        for name, data in (("tokenizer_config.json", config),
                           ("special_tokens_map.json", special_map),
                           ("added_tokens.json", self._added_tokens)):
            if data or name != "added_tokens.json":
                path = directory / name
                path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                encoding="utf-8")
                written.append(path)
        return written

    # --- encoding ----------------------------------------------------------------------------------

    def tokenize(self, text: TextInput) -> List[str]:
        """The tokens of ``text``, without special tokens and without truncation."""
        return self._engine.tokenize(check_text(text))

    def encode(self, text: TextInput, text_pair: Optional[TextInput] = None,
               add_special_tokens: bool = True) -> List[int]:
        """Ids of ``text`` (and ``text_pair``) with the kind's special tokens; never truncated.

        BERT: ``[CLS] x [SEP] (y [SEP])``; T5: ``x </s> (y </s>)``; GPT-2 and GLM: ``x (y)``.
        """
        pairs = None if text_pair is None else [check_text(text_pair, "text_pair")]
        encoded = self._engine.encode_batch([check_text(text)], pairs,
                                            add_special_tokens=add_special_tokens, max_length=None,
                                            offsets=False)
        self._warn_if_long(encoded, self.model_max_length)
        return encoded.ids[0]

    def encode_plus(self, text: TextInput, text_pair: Optional[TextInput] = None,
                    max_length: Optional[int] = None, truncation: bool = True,
                    padding: Union[bool, str] = False, return_offsets_mapping: bool = False,
                    add_special_tokens: bool = True,
                    return_tensors: Optional[str] = None) -> Dict[str, Any]:
        """Encode one text (or pair) into model inputs.

        Args:
            text, text_pair: the text and optional second text.
            max_length: length limit incl. special tokens; default ``model_max_length``.
            truncation: cut to ``max_length`` (pairs longest-first); False keeps all tokens.
            padding: "max_length" pads to ``max_length``; other values leave one text as is.
            return_offsets_mapping: add ``offset_mapping``, (start, end) character spans of each
                token in the original text; (0, 0) for special and padding tokens.
            add_special_tokens: add the kind's special tokens.
            return_tensors: "pt" for ``[1, L]`` torch tensors.

        Returns:
            dict with ``input_ids``, ``attention_mask``, ``token_type_ids`` (and ``offset_mapping``).

        Raises:
            TokenizerError: bad input, or ``max_length`` smaller than the special tokens need.
        """
        pairs = None if text_pair is None else [check_text(text_pair, "text_pair")]
        batch = self._encode(([check_text(text)], pairs),
                             max_length=max_length, truncation=truncation, padding=padding,
                             padding_side=None, return_offsets_mapping=return_offsets_mapping,
                             add_special_tokens=add_special_tokens)
        if return_tensors is not None:
            return to_tensors(batch, return_tensors)
        return {key: rows[0] for key, rows in batch.items()}

    def batch_encode_plus(self, batch_text_or_text_pairs: Sequence[Any],
                          text_pairs: Optional[Sequence[TextInput]] = None,
                          max_length: Optional[int] = None, truncation: bool = True,
                          padding: Union[bool, str] = True, padding_side: Optional[str] = None,
                          return_tensors: Optional[str] = None,
                          return_offsets_mapping: bool = False,
                          add_special_tokens: bool = True) -> Dict[str, Any]:
        """Encode a batch of texts or ``(text, text_pair)`` tuples, padded to the longest.

        Args:
            batch_text_or_text_pairs: list of texts, or of (text, text_pair) tuples.
            text_pairs: optional list of second texts, one per text.
            max_length, truncation, return_offsets_mapping, add_special_tokens: as encode_plus.
            padding: True/"longest" pads to the longest sequence, "max_length" to ``max_length``,
                False leaves sequences ragged.
            padding_side: "right" (default: the tokenizer's ``padding_side``) or "left"
                (decoder-only generation).
            return_tensors: "pt" for ``[B, L]`` torch tensors (``[B, L, 2]`` offsets).

        Returns:
            dict of per-sequence lists (or tensors): ``input_ids``, ``attention_mask``,
            ``token_type_ids`` and, when asked, ``offset_mapping``.

        Raises:
            TokenizerError: a bad batch or text, bad options, or no pad token when padding.
        """
        batch = self._encode(check_batch(batch_text_or_text_pairs, text_pairs),
                             max_length=max_length, truncation=truncation, padding=padding,
                             padding_side=padding_side,
                             return_offsets_mapping=return_offsets_mapping,
                             add_special_tokens=add_special_tokens)
        return to_tensors(batch, return_tensors)

    def __call__(self, text: Union[TextInput, Sequence[Any]], text_pair: Any = None,
                 **kwargs: Any) -> Dict[str, Any]:
        """``encode_plus`` for one text, ``batch_encode_plus`` for a list of texts or pairs."""
        if isinstance(text, (list, tuple)):
            return self.batch_encode_plus(text, text_pair, **kwargs)
        return self.encode_plus(text, text_pair, **kwargs)

    def _encode(self, texts, *, max_length, truncation, padding, padding_side,
                return_offsets_mapping, add_special_tokens) -> Dict[str, List[Any]]:
        firsts, seconds = texts
        if padding not in PADDING_CHOICES:
            raise TokenizerError(f"padding must be one of {PADDING_CHOICES}, got {padding!r}")
        side = padding_side or self.padding_side
        if side not in PADDING_SIDES:
            raise TokenizerError(f"padding_side must be 'right' or 'left', got {side!r}")
        limit = self._limit(max_length, seconds is not None, add_special_tokens)
        if padding == "max_length" and limit is None:
            raise TokenizerError("padding='max_length' needs max_length (the tokenizer has no "
                                 "model_max_length)")
        encoded = self._engine.encode_batch(firsts, seconds, add_special_tokens=add_special_tokens,
                                            max_length=limit if truncation else None,
                                            offsets=return_offsets_mapping)
        if not truncation:
            self._warn_if_long(encoded, limit)
        pad_id = self._commands["pad"].id if "pad" in self._commands else None
        return pad_batch(encoded, pad=padding not in (False, "do_not_pad"), pad_id=pad_id, side=side,
                         length=limit if padding == "max_length" else None)

    def _limit(self, max_length: Optional[int], pair: bool, add_special_tokens: bool) -> Optional[int]:
        if max_length is None:
            return self.model_max_length
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise TokenizerError(f"max_length must be a positive int, got {max_length!r}")
        needed = self._engine.num_special_tokens_to_add(pair) if add_special_tokens else 0
        if max_length < needed:
            raise TokenizerError(f"max_length={max_length} is below the {needed} special tokens "
                                 f"every {'pair' if pair else 'sequence'} needs")
        return max_length

    def _warn_if_long(self, encoded: EncodedBatch, limit: Optional[int]) -> None:
        if limit is None or self._warned_long:
            return
        longest = max((len(ids) for ids in encoded.ids), default=0)
        if longest > limit:
            self._warned_long = True
            logger.warning("a sequence has %d tokens, more than the limit of %d; the model may fail "
                           "on it (encode_plus / batch_encode_plus with truncation=True cut it)",
                           longest, limit)

    # --- decoding and lookups ----------------------------------------------------------------------

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """The text of ``ids`` (a list, or a 1-D tensor/array).

        Raises:
            TokenizerError: an id that is not an int in ``[0, vocab_size)``.
        """
        return self._engine.decode_batch([self._check_ids(ids)], skip_special_tokens)[0]

    def batch_decode(self, sequences: Sequence[Sequence[int]],
                     skip_special_tokens: bool = True) -> List[str]:
        """``decode`` for each sequence (a list of lists, or a 2-D tensor)."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return self._engine.decode_batch([self._check_ids(row) for row in sequences],
                                         skip_special_tokens)

    def _check_ids(self, ids: Any) -> List[int]:
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if isinstance(ids, int) and not isinstance(ids, bool):
            ids = [ids]
        if not isinstance(ids, (list, tuple)) or not all(type(i) is int for i in ids):
            raise TokenizerError(f"ids must be a flat sequence of ints (batch_decode takes a batch), "
                                 f"got {str(ids)[:60]}")
        if ids and (min(ids) < 0 or max(ids) >= self.vocab_size):
            bad = next(i for i in ids if i < 0 or i >= self.vocab_size)
            raise TokenizerError(f"id {bad} is outside the vocabulary [0, {self.vocab_size})")
        return list(ids)

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Union[int, List[int]]:
        """Id of a token, or ids of a list of tokens; unknown tokens give the unk id.

        Raises:
            TokenizerError: an unknown token and no unk token.
        """
        if isinstance(tokens, str):
            return self._token_id(tokens)
        return [self._token_id(token) for token in tokens]

    def _token_id(self, token: str) -> int:
        token_id = self._engine.token_to_id(check_text(token, "token"))
        if token_id is not None:
            return token_id
        if "unk" in self._commands:
            return self._commands["unk"].id
        raise TokenizerError(f"token {token!r} is not in the vocabulary and there is no unk token")

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]]) -> Union[str, List[str]]:
        """Token of an id, or tokens of a list of ids.

        Raises:
            TokenizerError: an id outside the vocabulary.
        """
        if isinstance(ids, int) and not isinstance(ids, bool):
            return self._id_token(ids)
        return [self._id_token(token_id) for token_id in self._check_ids(ids)]

    def _id_token(self, token_id: int) -> str:
        token = self._engine.id_to_token(token_id)
        if token is None:
            raise TokenizerError(f"id {token_id} is outside the vocabulary [0, {self.vocab_size})")
        return token

    def get_command_id(self, name: str) -> int:
        """Id of a command token: pad, unk, cls, sep, mask, bos, eos, and for GLM sop, eop, gMASK,
        sMASK (names are case-insensitive; FlagAI's "MASK" and "ENC" work too).

        Raises:
            TokenizerError: the name is unknown or this tokenizer has no such token; the message
                lists the valid names.
        """
        return self.get_command(name).id

    @property
    def chat_template(self) -> Optional[str]:
        """The Jinja chat template of tokenizer_config.json / chat_template.jinja (None when absent)."""
        template = self._config.get("chat_template")
        if isinstance(template, list):  # several named templates: the "default" one
            template = next((t.get("template") for t in template if t.get("name") == "default"), None)
        return template

    def special_token_strings(self) -> Dict[str, str]:
        """``{"bos_token": "<s>", "eos_token": ...}`` for every special command token (chat templates use them)."""
        return {f"{c.name}_token": c.token for c in self._commands.values() if c.name in SPECIAL_NAMES}

    def get_command(self, name: str) -> CommandToken:
        """The :class:`CommandToken` (name, token, id) of ``name``; see :meth:`get_command_id`."""
        command = self._commands.get(canonical_command_name(name) or "")
        if command is None:
            raise TokenizerError(f"no command token {name!r} in this {self.kind} tokenizer; valid "
                                 f"names: {', '.join(self.command_names)}")
        return command

    @property
    def command_names(self) -> List[str]:
        """Names :meth:`get_command_id` accepts."""
        return list(self._commands)

    @property
    def pad_token_id(self) -> Optional[int]:
        """Id used for padding, or None."""
        return self._commands["pad"].id if "pad" in self._commands else None

    @property
    def eos_token_id(self) -> Optional[int]:
        """End-of-sequence id, or None."""
        return self._commands["eos"].id if "eos" in self._commands else None

    @property
    def engine(self) -> Engine:
        """The engine (its ``name`` says which: "wordpiece", "bpe", "sentencepiece", ...)."""
        return self._engine

    @property
    def vocab_size(self) -> int:
        """Number of ids, including added and command tokens (the embedding rows needed)."""
        return self._engine.vocab_size

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (f"Tokenizer(kind={self.kind!r}, engine={self._engine.name!r}, "
                f"vocab_size={self.vocab_size}, padding_side={self.padding_side!r})")
