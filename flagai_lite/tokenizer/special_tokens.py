"""Special tokens and command tokens: names, per-kind defaults, and how config files name them.

A *special token* is a string such as ``[CLS]`` or ``</s>``; a *command token* is the FlagAI view of
the same thing: a name (``cls``, ``eos``, ``gMASK``) bound to a token string and an id.
"""
import logging
from typing import Any, Dict, List, Mapping, NamedTuple, Optional

logger = logging.getLogger(__name__)

# The special-token slots every kind may fill, in FlagAI's naming.
SPECIAL_NAMES = ("pad", "unk", "cls", "sep", "mask", "bos", "eos")

# Token conventions ("kinds"): they decide default special tokens and what encode() adds.
KINDS = ("bert", "gpt2", "t5", "glm", "plain")

# Defaults per kind; a default that is not in the vocabulary is silently left out.
KIND_DEFAULTS: Dict[str, Dict[str, str]] = {
    # BERT / RoBERTa-Chinese vocab.txt
    "bert": {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"},
    # GPT-2 has one special token; FlagAI pads with it too (attention_mask hides the padding).
    "gpt2": {"pad": "<|endoftext|>", "unk": "<|endoftext|>", "bos": "<|endoftext|>",
             "eos": "<|endoftext|>"},
    # T5's spiece.model reserves <pad>=0, </s>=1, <unk>=2.
    "t5": {"pad": "<pad>", "eos": "</s>", "unk": "<unk>"},
    "glm": {},
    "plain": {},
}

# Command names FlagAI code uses, lower-cased, mapped to our canonical names.
COMMAND_ALIASES: Dict[str, str] = {
    **{name: name for name in SPECIAL_NAMES},
    "enc": "cls",  # FlagAI's GLM-large-en calls [CLS] "ENC"
    "sop": "sop",
    "eop": "eop",
    "gmask": "gMASK",
    "smask": "sMASK",
    "dblock": "dBLOCK",
}


class CommandToken(NamedTuple):
    """A named special token with its id, e.g. ``CommandToken("sop", "<|startofpiece|>", 50006)``."""

    name: str
    token: str
    id: int


def canonical_command_name(name: str) -> Optional[str]:
    """The canonical command name for ``name`` (case-insensitive, FlagAI aliases), or None."""
    if not isinstance(name, str):
        return None
    return COMMAND_ALIASES.get(name.lower())


def token_content(value: Any) -> Optional[str]:
    """The token string of a config value: a plain string or an AddedToken dict with ``content``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def configured_special_tokens(*configs: Mapping[str, Any]) -> Dict[str, str]:
    """Read ``<name>_token`` entries from config dicts; later configs win; null entries are skipped."""
    found: Dict[str, str] = {}
    for config in configs:
        for name in SPECIAL_NAMES:
            content = token_content(config.get(f"{name}_token"))
            if content is not None:
                found[name] = content
    return found


def additional_special_tokens(*configs: Mapping[str, Any]) -> List[str]:
    """The ``additional_special_tokens`` lists of the configs, merged in order without repeats."""
    tokens: List[str] = []
    for config in configs:
        for value in config.get("additional_special_tokens") or []:
            content = token_content(value)
            if content is not None and content not in tokens:
                tokens.append(content)
    return tokens
