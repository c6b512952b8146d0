"""GPT-2 byte-level BPE from ``vocab.json`` + ``merges.txt``, built on the ``tokenizers`` engine.

Byte-level means every input is representable (no unknown token) and decoding gives the text back
byte for byte. GPT-2 adds no special token around a sequence.
"""
import json
import logging
from pathlib import Path
from typing import Dict, List, Tuple

from flagai_lite.errors import TokenizerError

logger = logging.getLogger(__name__)


def read_vocab_json(data: bytes, path: Path) -> Dict[str, int]:
    """Parse vocab.json (token -> id).

    Raises:
        TokenizerError: not JSON, or not a mapping of strings to integers.
    """
    try:
        vocab = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise TokenizerError(f"{path} is not a JSON file ({err})") from None
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        raise TokenizerError(f"{path} must map tokens to integer ids, like GPT-2's vocab.json")
    return vocab


def read_merges_txt(data: bytes, path: Path) -> List[Tuple[str, str]]:
    """Parse merges.txt: an optional ``#version`` line, then one ``left right`` pair per line.

    Raises:
        TokenizerError: a line is not two space-separated tokens.
    """
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path} is not UTF-8 (byte {err.start})") from None
    merges = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise TokenizerError(f"{path} line {number} is not a merge 'left right': {line!r}")
        merges.append((parts[0], parts[1]))
    return merges


def build_byte_level_bpe(vocab: Dict[str, int], merges: List[Tuple[str, str]], *,
                         add_prefix_space: bool = False):
    """Build the ``tokenizers.Tokenizer`` for a GPT-2 style vocab.

    Offsets are trimmed to the visible characters: the space GPT-2 folds into ``Ġword`` is not part
    of that token's span, so NER spans map to words (ids are unchanged by this).

    Args:
        vocab: token -> id, from :func:`read_vocab_json`.
        merges: merge rules in priority order, from :func:`read_merges_txt`.
        add_prefix_space: treat the first word as if a space preceded it (GPT-2 default: False).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    try:
        model = models.BPE(vocab, merges, fuse_unk=False)
    except Exception as err:  # the Rust side names the bad merge
        raise TokenizerError(f"vocab.json and merges.txt do not fit together: {err}") from None
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=True)
    return tokenizer
