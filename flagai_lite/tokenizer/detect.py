"""Which files make the tokenizer: engine detection, kind detection and the model directory.

Precedence when a directory holds several vocabularies (the first one present wins):

1. ``tokenizer.json``: the most faithful, it records normalizer, pre-tokenizer, post-processor and
   added tokens exactly as the checkpoint's authors serialized them.
2. ``vocab.json`` + ``merges.txt``: GPT-2 byte-level BPE (both files are needed).
3. ``vocab.txt``: WordPiece (BERT, RoBERTa-Chinese).
4. A SentencePiece model: ``spiece.model``, ``sentencepiece.bpe.model``, ``tokenizer.model``,
   ``cog-pretrain.model``, else the only other ``*.model`` file.

``engine=`` of ``Tokenizer.from_pretrained`` overrides the order. Config files beside the vocab
(``tokenizer_config.json``, ``special_tokens_map.json``, ``added_tokens.json``) are read for
every engine.
"""
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

from flagai_lite.errors import TokenizerError
from flagai_lite.tokenizer.special_tokens import KINDS

logger = logging.getLogger(__name__)

TOKENIZER_JSON = "tokenizer.json"
VOCAB_TXT = "vocab.txt"
VOCAB_JSON = "vocab.json"
MERGES_TXT = "merges.txt"
SENTENCEPIECE_NAMES = ("spiece.model", "sentencepiece.bpe.model", "tokenizer.model",
                       "cog-pretrain.model")
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ADDED_TOKENS = "added_tokens.json"

ENGINES = ("tokenizer.json", "bpe", "wordpiece", "sentencepiece")  # precedence order
LOOKED_FOR = ("tokenizer.json, vocab.json + merges.txt, vocab.txt, "
              f"{', '.join(SENTENCEPIECE_NAMES)} or another *.model")


@dataclass
class TokenizerFiles:
    """The files one tokenizer is read from."""

    directory: Path
    engine: str  # one of ENGINES
    vocab_files: Dict[str, Path]  # file name -> path, in the order the engine reads them
    config: Dict[str, Any] = field(default_factory=dict)  # tokenizer_config.json
    special_tokens_map: Dict[str, Any] = field(default_factory=dict)
    added_tokens: Dict[str, int] = field(default_factory=dict)  # added_tokens.json


def _engine_files(directory: Path, engine: Optional[str]) -> Dict[str, Dict[str, Path]]:
    """The engines whose files are present in ``directory`` (SentencePiece only when no other
    vocabulary is there or it is requested), with those files."""
    found: Dict[str, Dict[str, Path]] = {}
    if (directory / TOKENIZER_JSON).is_file():
        found["tokenizer.json"] = {TOKENIZER_JSON: directory / TOKENIZER_JSON}
    if (directory / VOCAB_JSON).is_file() and (directory / MERGES_TXT).is_file():
        found["bpe"] = {VOCAB_JSON: directory / VOCAB_JSON, MERGES_TXT: directory / MERGES_TXT}
    if (directory / VOCAB_TXT).is_file():
        found["wordpiece"] = {VOCAB_TXT: directory / VOCAB_TXT}
    if not found or engine == "sentencepiece":  # several stray *.model files only matter here
        model = _sentencepiece_file(directory)
        if model is not None:
            found["sentencepiece"] = {model.name: model}
    return found


def _sentencepiece_file(directory: Path) -> Optional[Path]:
    for name in SENTENCEPIECE_NAMES:
        if (directory / name).is_file():
            return directory / name
    others = sorted(p for p in directory.glob("*.model") if p.is_file())
    if len(others) > 1:
        raise TokenizerError(
            f"{directory} holds several SentencePiece candidates ({', '.join(p.name for p in others)}); "
            f"rename the tokenizer's to one of {', '.join(SENTENCEPIECE_NAMES)}"
        )
    return others[0] if others else None


def read_json(path: Path) -> Dict[str, Any]:
    """Read a JSON object file; a missing file reads as {}.

    Raises:
        TokenizerError: the file is not a JSON object.
    """
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise TokenizerError(f"{path} is not valid JSON ({err}); fix or remove it") from None
    if not isinstance(data, dict):
        raise TokenizerError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def find_tokenizer_files(directory: Path, engine: Optional[str] = None) -> Optional[TokenizerFiles]:
    """The tokenizer files in ``directory``, or None when it holds no known vocabulary.

    Args:
        directory: the model directory.
        engine: force one of ``ENGINES`` instead of the precedence order.

    Raises:
        TokenizerError: unknown ``engine``, its files are missing, or a config file is malformed.
    """
    if engine is not None and engine not in ENGINES:
        raise TokenizerError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if not directory.is_dir():
        return None
    present = _engine_files(directory, engine)
    if engine is not None and engine not in present:
        raise TokenizerError(f"engine {engine!r} was requested but its files are not in {directory} "
                             f"(found engines: {', '.join(present) or 'none'})")
    chosen = engine or next((name for name in ENGINES if name in present), None)
    if chosen is None:
        return None
    if len(present) > 1:
        logger.info("%s holds files for %s; using %s", directory, ", ".join(present), chosen)
    added = read_json(directory / ADDED_TOKENS)
    if not all(isinstance(v, int) for v in added.values()):
        raise TokenizerError(f"{directory / ADDED_TOKENS} must map tokens to integer ids")
    return TokenizerFiles(
        directory=directory,
        engine=chosen,
        vocab_files=present[chosen],
        config=read_json(directory / TOKENIZER_CONFIG),
        special_tokens_map=read_json(directory / SPECIAL_TOKENS_MAP),
        added_tokens=added,
    )


def locate(download_path: Union[str, Path], model_name: Optional[str] = None,
           engine: Optional[str] = None) -> TokenizerFiles:
    """Find the tokenizer files of ``download_path/model_name`` (or of ``download_path`` alone).

    Local files win; only when the model directory lacks a vocabulary is the hub asked for it.

    Raises:
        TokenizerError: no known vocabulary locally and (without a model name) no hub to ask.
    """
    if not isinstance(download_path, (str, Path)):
        raise TokenizerError(f"download_path must be a path, got {type(download_path).__name__}")
    directory = Path(download_path) / model_name if model_name else Path(download_path)
    files = find_tokenizer_files(directory, engine)
    if files is not None:
        return files
    missing = (f"no tokenizer files in {directory} (looked for {LOOKED_FOR})"
               if directory.is_dir() else f"tokenizer directory {directory} does not exist")
    if not model_name:
        raise TokenizerError(f"{missing}; pass a model directory, or download_path and model_name "
                             "to fetch it from the hub")
    try:
        from flagai_lite.hub import download
    except ImportError as err:
        raise TokenizerError(f"{missing}, and the hub client cannot be imported ({err})") from None
    logger.info("%s; asking the hub for %s", missing, model_name)
    model_dir = Path(download(model_name, download_path))
    files = find_tokenizer_files(model_dir, engine)
    if files is None:
        raise TokenizerError(f"the hub's {model_name} has no tokenizer files in {model_dir} "
                             f"(looked for {LOOKED_FOR})")
    return files


def detect_kind(files: TokenizerFiles, model_name: Optional[str], kind: Optional[str]) -> str:
    """The token convention: explicit ``kind``, else the one our saved config records, else "glm"
    for a GLM model name, else what tokenizer_class says, else the engine's usual kind.

    Raises:
        TokenizerError: ``kind`` is not one of ``KINDS``.
    """
    if kind is not None:
        if kind not in KINDS:
            raise TokenizerError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        return kind
    saved = files.config.get("flagai_lite_kind")
    if saved in KINDS:
        return saved
    names = [model_name or "", files.directory.name]
    if any(name.lower().startswith("glm") for name in names):
        return "glm"
    tokenizer_class = str(files.config.get("tokenizer_class") or "").lower()
    for prefix, guess in (("glm", "glm"), ("t5", "t5"), ("mt5", "t5"), ("bert", "bert"),
                          ("gpt2", "gpt2")):
        if tokenizer_class.startswith(prefix):
            return guess
    if files.engine == "wordpiece":
        return "bert"
    if files.engine == "bpe":
        return "gpt2"
    if files.engine == "sentencepiece":
        name = next(iter(files.vocab_files))
        return {"spiece.model": "t5", "cog-pretrain.model": "glm"}.get(name, "plain")
    return _tokenizer_json_kind(files.vocab_files[TOKENIZER_JSON])


def _tokenizer_json_kind(path: Path) -> str:
    # Only sets default special-token names; the file's own post-processor stays in charge.
    try:
        model_type = json.loads(path.read_text(encoding="utf-8")).get("model", {}).get("type")
    except (UnicodeDecodeError, ValueError, AttributeError) as err:
        raise TokenizerError(f"{path} is not a valid tokenizer.json ({err})") from None
    return "bert" if model_type == "WordPiece" else "plain"
