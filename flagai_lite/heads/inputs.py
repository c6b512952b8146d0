"""Turning texts into backbone inputs, the way each architecture expects them."""
from typing import Any, Dict, Optional, Sequence

import torch

from ..errors import TaskError

Tensor = torch.Tensor


def command_id(tokenizer: Any, *names: str) -> Optional[int]:
    """The id of the first command token the tokenizer has among ``names`` (None if none)."""
    for name in names:
        try:
            return tokenizer.get_command_id(name)
        except Exception:  # tokenizers raise TokenizerError (or KeyError in duck-typed fakes) for unknown names
            continue
    return None


def required_id(tokenizer: Any, *names: str) -> int:
    """Like :func:`command_id`, but a TaskError when the tokenizer has none of ``names``."""
    found = command_id(tokenizer, *names)
    if found is None:
        raise TaskError(f"the tokenizer has no {' / '.join(names)} token, which this task needs")
    return found


def pad_rows(rows: Sequence[Sequence[Any]], value: Any, *, left: bool = False, dtype=torch.long) -> Tensor:
    """Stack ragged rows into ``[B, max_len]``, padding with ``value`` on the right (or left)."""
    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), width), value, dtype=dtype)
    for i, row in enumerate(rows):
        if len(row):
            if left:
                out[i, width - len(row):] = torch.as_tensor(row, dtype=dtype)
            else:
                out[i, : len(row)] = torch.as_tensor(row, dtype=dtype)
    return out


def encode_for_features(
    tokenizer: Any,
    architecture: str,
    texts: Sequence[str],
    pairs: Optional[Sequence[str]] = None,
    *,
    max_length: int = 512,
    offsets: bool = False,
) -> Dict[str, Any]:
    """Right-padded inputs for heads that read :meth:`BaseModel.features`.

    BERT / T5 / GPT-2 tokenizers add their own special tokens; GLM inputs are laid out as FlagAI's
    GLM tasks do: ``[CLS] text ([SEP] pair) [EOS]``.

    Returns:
        ``input_ids``, ``attention_mask``, ``token_type_ids`` tensors ``[B, L]`` and, with
        ``offsets``, ``offset_mapping``: per row a list of (char_start, char_end), (0, 0) for specials.
    """
    if architecture != "glm":
        batch = tokenizer.batch_encode_plus(
            list(texts), list(pairs) if pairs is not None else None, max_length=max_length, truncation=True,
            padding=True, return_tensors="pt", return_offsets_mapping=offsets,
        )
        if offsets:
            batch["offset_mapping"] = [[tuple(p) for p in row.tolist()] for row in batch["offset_mapping"]]
        return batch
    return _encode_glm(tokenizer, texts, pairs, max_length=max_length, offsets=offsets)


def _encode_glm(tokenizer: Any, texts, pairs, *, max_length: int, offsets: bool) -> Dict[str, Any]:
    cls, eos = required_id(tokenizer, "cls"), required_id(tokenizer, "eos")
    sep = command_id(tokenizer, "sep") or eos
    pad = command_id(tokenizer, "pad") or 0
    ids, spans, types = [], [], []
    for i, text in enumerate(texts):
        first = tokenizer.encode_plus(text, add_special_tokens=False, truncation=False, return_offsets_mapping=True)
        row_ids, row_spans, row_types = [cls] + first["input_ids"], [(0, 0)] + list(first["offset_mapping"]), [0]
        row_types += [0] * len(first["input_ids"])
        if pairs is not None:
            second = tokenizer.encode_plus(pairs[i], add_special_tokens=False, truncation=False)
            row_ids += [sep] + second["input_ids"]
            row_spans += [(0, 0)] * (len(second["input_ids"]) + 1)
            row_types += [1] * (len(second["input_ids"]) + 1)
        row_ids, row_spans, row_types = row_ids[: max_length - 1], row_spans[: max_length - 1], row_types[: max_length - 1]
        ids.append(row_ids + [eos])
        spans.append(row_spans + [(0, 0)])
        types.append(row_types + [row_types[-1]])
    input_ids = pad_rows(ids, pad)
    out: Dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": pad_rows([[1] * len(r) for r in ids], 0),
        "token_type_ids": pad_rows(types, 0),
    }
    if offsets:
        width = input_ids.shape[1]
        out["offset_mapping"] = [[tuple(p) for p in row] + [(0, 0)] * (width - len(row)) for row in spans]
    return out


def feature_inputs(batch: Dict[str, Any]) -> Dict[str, Tensor]:
    """The keys of ``batch`` that :meth:`BaseModel.features` takes."""
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if batch.get(k) is not None}


def to_device(batch: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
    """Move every tensor of ``batch`` to ``device``."""
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
