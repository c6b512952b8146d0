"""Padding encoded sequences into a batch, and turning the batch into tensors."""
from typing import Any, Dict, List, Optional

from flagai_lite.errors import TokenizerError
from flagai_lite.tokenizer.engine import EncodedBatch

PADDING_CHOICES = (False, True, "do_not_pad", "longest", "max_length")
PADDING_SIDES = ("right", "left")


def pad_batch(encoded: EncodedBatch, *, pad: bool, pad_id: Optional[int], side: str = "right",
              length: Optional[int] = None) -> Dict[str, List[Any]]:
    """Pad every sequence to ``length`` or to the longest one (whichever is longer) on ``side``.

    Args:
        encoded: the engine's encodings.
        pad: False returns the sequences as they are (attention_mask all ones).
        pad_id: the padding id (None: the tokenizer cannot pad).
        side: "right" or "left" (decoder-only generation).
        length: pad at least to this length (padding="max_length").

    Returns:
        ``input_ids``, ``attention_mask`` (1 = real token), ``token_type_ids`` (padding: 0) and,
        when the encodings carry them, ``offset_mapping`` (padding: (0, 0)).

    Raises:
        TokenizerError: padding is needed but the tokenizer has no pad token.
    """
    lengths = [len(row) for row in encoded.ids]
    target = max([length or 0, *lengths])
    if not pad or all(n == target for n in lengths):
        out = {"input_ids": encoded.ids, "attention_mask": [[1] * n for n in lengths],
               "token_type_ids": encoded.type_ids}
        if encoded.offsets is not None:
            out["offset_mapping"] = encoded.offsets
        return out
    if pad_id is None:
        raise TokenizerError("this tokenizer has no pad token, so it cannot pad; pass pad_token= to "
                             "Tokenizer.from_pretrained or encode without padding")
    right = side == "right"
    out = {
        "input_ids": _pad(encoded.ids, pad_id, target, right),
        "attention_mask": [[1] * n + [0] * (target - n) if right else [0] * (target - n) + [1] * n
                           for n in lengths],
        "token_type_ids": _pad(encoded.type_ids, 0, target, right),
    }
    if encoded.offsets is not None:
        out["offset_mapping"] = _pad(encoded.offsets, (0, 0), target, right)
    return out


def _pad(rows: List[List[Any]], value: Any, target: int, right: bool) -> List[List[Any]]:
    if right:
        return [row + [value] * (target - len(row)) for row in rows]
    return [[value] * (target - len(row)) + row for row in rows]


def to_tensors(features: Dict[str, List[Any]], return_tensors: Optional[str]) -> Dict[str, Any]:
    """Turn padded lists into ``torch.long`` tensors when ``return_tensors == "pt"``.

    Raises:
        TokenizerError: an unknown ``return_tensors``, or ragged sequences (padding was off).
    """
    if return_tensors is None:
        return features
    if return_tensors != "pt":
        raise TokenizerError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or None")
    lengths = {len(row) for row in features["input_ids"]}
    if len(lengths) > 1:
        raise TokenizerError("sequences have different lengths; pass padding=True to get tensors")
    import torch

    tensors = {}
    for key, rows in features.items():
        tensor = torch.tensor(rows, dtype=torch.long)
        if key == "offset_mapping" and tensor.dim() == 2:  # every sequence empty
            tensor = tensor.reshape(len(rows), 0, 2)
        tensors[key] = tensor
    return tensors
