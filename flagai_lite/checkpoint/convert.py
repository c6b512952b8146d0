"""Key-map engine: rename a foreign checkpoint's tensors to our names, fusing and transposing.

A family's key map is a literal dict from foreign names to ours, with ``{}`` standing for the
layer index (the first all-digit component of a key)::

    {"h.{}.attn.c_attn.weight": Target("layers.{}.attn.qkv_proj.weight", transpose=True),
     "encoder.layer.{}.attention.self.query.weight": Target("layers.{}.attn.qkv_proj.weight", part=0, parts=3),
     "h.{}.attn.masked_bias": IGNORE}

A key the map does not list is an error; ``IGNORE`` marks buffers that are safe to drop.
"""
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..errors import CheckpointError


@dataclass(frozen=True)
class Target:
    """Where a foreign tensor goes.

    Attributes:
        key: our key; ``{}`` is replaced by the layer index of the source key.
        part: position of this tensor among ``parts`` tensors concatenated along dim 0 (fused
            projections such as ``[Q; K; V]``).
        parts: how many source tensors form the target.
        transpose: store the transpose (GPT-2's Conv1D keeps weights as ``[in, out]``).
        alias: another name for a tensor the checkpoint may also store under its main name
            (tied embeddings); the first one seen is used.
    """

    key: str
    part: int = 0
    parts: int = 1
    transpose: bool = False
    alias: bool = False


IGNORE = None
KeyMap = Mapping[str, Union[str, Target, None]]
_LAYER_INDEX = re.compile(r"(?:^|(?<=\.))(\d+)(?=\.|$)")


def _pattern_of(key: str) -> Tuple[str, Optional[str]]:
    """Replace the first numeric component of ``key`` by ``{}``; return the pattern and the index."""
    match = _LAYER_INDEX.search(key)
    if match is None:
        return key, None
    return key[: match.start()] + "{}" + key[match.end():], match.group(1)


def _lookup(key: str, key_map: KeyMap, prefixes: Sequence[str]) -> Tuple[bool, Optional[Target], str]:
    """Find ``key`` (or ``key`` without known wrapper prefixes) in the map."""
    candidates = [key]
    seen = set()
    while candidates:
        candidate = candidates.pop(0)
        if candidate in seen:
            continue
        seen.add(candidate)
        pattern, index = _pattern_of(candidate)
        for probe, idx in ((candidate, None), (pattern, index)):
            if probe in key_map:
                rule = key_map[probe]
                if rule is None:
                    return True, None, ""
                target = rule if isinstance(rule, Target) else Target(rule)
                return True, target, target.key.replace("{}", idx) if idx is not None else target.key
        candidates.extend(candidate[len(p):] for p in prefixes if candidate.startswith(p))
    return False, None, ""


def convert_state_dict(
    tensors: Mapping[str, torch.Tensor],
    key_map: KeyMap,
    *,
    file_of: Optional[Mapping[str, str]] = None,
    prefixes: Sequence[str] = (),
    family: str = "",
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename ``tensors`` with ``key_map``.

    Args:
        tensors: the foreign state dict.
        key_map: foreign pattern -> our pattern / Target / IGNORE.
        file_of: key -> file, for error messages.
        prefixes: wrapper prefixes that may precede the mapped names (``"bert."``, ``"module."``).
        family: model family, for error messages.

    Returns:
        ``(converted, ignored)``: our state dict and the foreign keys dropped as ignorable.

    Raises:
        CheckpointError: a key is not in the map, or a fused tensor lacks some of its parts.
    """
    file_of = file_of or {}
    out: Dict[str, torch.Tensor] = {}
    pending: Dict[str, List[Optional[torch.Tensor]]] = {}
    sources: Dict[str, List[str]] = {}
    ignored: List[str] = []
    from_alias = set()
    for key, tensor in tensors.items():
        found, target, our_key = _lookup(key, key_map, prefixes)
        if not found:
            raise CheckpointError(
                f"unexpected key {key!r} in {file_of.get(key, 'the checkpoint')}: the {family} key map does not "
                "know it. The checkpoint may belong to another architecture; load it with the matching model class."
            )
        if target is None:
            ignored.append(key)
            continue
        if target.transpose:
            tensor = tensor.t()
        if target.parts == 1:
            if our_key in out and target.alias:
                continue
            if our_key in out and our_key not in from_alias:
                raise CheckpointError(f"two checkpoint keys map to {our_key!r} (second: {key!r})")
            out[our_key] = tensor
            (from_alias.add if target.alias else from_alias.discard)(our_key)
            continue
        slots = pending.setdefault(our_key, [None] * target.parts)
        slots[target.part] = tensor
        sources.setdefault(our_key, []).append(key)
    for our_key, slots in pending.items():
        if any(s is None for s in slots):
            raise CheckpointError(
                f"fused tensor {our_key!r} needs {len(slots)} parts but the checkpoint has only "
                f"{sources[our_key]} in {file_of.get(sources[our_key][0], 'the checkpoint')}"
            )
        out[our_key] = torch.cat(slots, dim=0)
    return out, ignored
