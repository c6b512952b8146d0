"""GLM blank infilling: inputs laid out the way FlagAI's GLM tokenizer, collate and generation do.

Context (part A): ``[cls] + text``, positions ``0..n-1``, block positions 0, separator ``sep = n``
(every context token sees the whole context). FlagAI's ``glm_generate_sample`` appends ``" [gMASK]"``
when the text holds no mask and ``[eos]`` unless the text ends with ``[gMASK]``.

Generated span (part B) for a mask at position p: ``[sop] t1 t2 ...`` with position p for every token
and block positions ``1, 2, ...``; each token sees the context and the span so far. Step s (s = 0
feeds ``sop``) therefore uses position ids ``(p, s + 1)``: :func:`step_position_ids`.

The helpers take any tokenizer with ``encode(text) -> ids`` (no special tokens added; an
``add_special_tokens`` keyword is set to False when ``encode`` has one) and ``get_command_id(name)``
for "cls", "eos", "sop", "eop", "MASK", "sMASK" and "gMASK".
"""
import inspect
import re
from typing import Any, Dict, List, Mapping, Sequence, Union

import torch

from ..errors import InputError

Tensor = torch.Tensor

# Mask literals in text and the command names FlagAI gives them.
MASK_COMMANDS = {"[MASK]": "MASK", "[sMASK]": "sMASK", "[gMASK]": "gMASK"}
_MASK_SPLIT = re.compile(r"(\[MASK\]|\[sMASK\]|\[gMASK\])")


def mask_ids(tokenizer: Any) -> List[int]:
    """Ids of the three GLM mask tokens (MASK, sMASK, gMASK)."""
    return [tokenizer.get_command_id(name) for name in MASK_COMMANDS.values()]


def encode_blank_text(tokenizer: Any, text: str) -> List[int]:
    """``text`` as ids, each ``[MASK]`` / ``[sMASK]`` / ``[gMASK]`` becoming its command id.

    As FlagAI's GLM tokenizers: the text is split on the mask literals, the piece before a mask loses
    its trailing spaces (the mask tokens are ``lstrip``), empty pieces are dropped, and every other
    piece is encoded on its own.
    """
    parts = _MASK_SPLIT.split(text)  # text, mask, text, mask, ..., text
    ids: List[int] = []
    for i, part in enumerate(parts):
        if part in MASK_COMMANDS:
            ids.append(tokenizer.get_command_id(MASK_COMMANDS[part]))
            continue
        if i + 1 < len(parts):  # followed by a mask literal
            part = part.rstrip()
        if part:
            ids.extend(_encode_piece(tokenizer, part))
    return ids


def _encode_piece(tokenizer: Any, text: str) -> List[int]:
    try:
        takes_flag = "add_special_tokens" in inspect.signature(tokenizer.encode).parameters
    except (TypeError, ValueError):
        takes_flag = False
    ids = tokenizer.encode(text, add_special_tokens=False) if takes_flag else tokenizer.encode(text)
    if isinstance(ids, Mapping):
        ids = ids["input_ids"]
    return [int(i) for i in ids]


def build_blank_infilling_inputs(
    tokenizer: Any, text: str, *, device: Union[str, torch.device, None] = None
) -> Dict[str, Any]:
    """The context pass of GLM generation for one text (FlagAI's ``glm_generate_sample``).

    Args:
        tokenizer: see the module docstring.
        text: text with ``[MASK]`` (a word or phrase), ``[sMASK]`` (a sentence) or ``[gMASK]`` (the
            rest of a document) blanks; " [gMASK]" is appended when it has none.
        device: where the tensors are made.

    Returns:
        ``input_ids [1, n]``, ``position_ids [1, 2, n]``, ``attention_mask [1]`` (the separator n),
        ``mask_positions`` (every blank, in text order: FlagAI fills them in this order) and
        ``mask_position`` (the first one).
    """
    if "MASK]" not in text:
        text = text + " [gMASK]"
    ids = [tokenizer.get_command_id("cls")] + encode_blank_text(tokenizer, text)
    if not text.endswith("[gMASK]"):
        ids.append(tokenizer.get_command_id("eos"))
    blanks = set(mask_ids(tokenizer))
    positions = [i for i, token in enumerate(ids) if token in blanks]
    if not positions:
        raise InputError(f"no mask token found after encoding {text!r}; check the tokenizer's mask command ids")
    length = len(ids)
    position_ids = torch.stack([torch.arange(length), torch.zeros(length, dtype=torch.long)])  # (2, n)
    return {
        "input_ids": torch.tensor([ids], dtype=torch.long, device=device),  # (1, n)
        "position_ids": position_ids[None].to(device),  # (1, 2, n)
        "attention_mask": torch.tensor([length], dtype=torch.long, device=device),  # (1,) separator
        "mask_positions": positions,
        "mask_position": positions[0],
    }


def step_position_ids(
    mask_position: Union[int, Tensor],
    step: int,
    *,
    batch_size: int = 1,
    device: Union[str, torch.device, None] = None,
) -> Tensor:
    """Position ids ``[B, 2, 1]`` of the token fed at generation step ``step`` (0 feeds ``sop``).

    Row 0 is the mask's position, row 1 the block position ``step + 1``. ``mask_position`` is one
    int or one per sample ``[B]``. Concatenate successive results along the last axis to rebuild
    the position ids of a whole span (for a forward without cache).
    """
    mask = torch.as_tensor(mask_position, dtype=torch.long, device=device).reshape(-1)
    mask = mask.expand(batch_size) if mask.numel() == 1 else mask
    return torch.stack([mask, torch.full_like(mask, step + 1)], dim=1)[:, :, None]  # (B, 2, 1)


def build_seq2seq_inputs(
    tokenizer: Any,
    source_ids: Sequence[int],
    targets: Union[Sequence[int], Sequence[Sequence[int]]],
    *,
    block_position: bool = True,
) -> Dict[str, Tensor]:
    """One training sample as FlagAI's seq2seq collate (one blank) and ``make_block_data`` (several) lay it out.

    For the k-th mask token of ``source_ids`` (at position p) and its target span t, the sample gets
    ``[sop] + t`` as inputs, ``t + [eop]`` as targets, position p and block positions ``1..len(t)+1``.

    Args:
        tokenizer: gives the ids of sop, eop and the mask tokens.
        source_ids: the context, e.g. ``[cls] + text with a mask + [eos]`` (see :func:`encode_blank_text`).
        targets: the span ids for each mask token of the source, in order (one flat list for one mask).
        block_position: False gives every span token block position 1 (FlagAI's ``no_block_position``).

    Returns:
        Per-sample tensors (stack them to batch; ``attention_mask`` becomes ``[B]``): ``input_ids [L]``,
        ``position_ids [2, L]``, ``attention_mask`` (the separator, 0-dim), ``target_ids [L]`` (0 over
        the source) and ``loss_mask [L]``.

    Raises:
        InputError: the number of spans differs from the number of mask tokens in the source.
    """
    spans = [list(targets)] if targets and isinstance(targets[0], int) else [list(t) for t in targets]
    blanks = set(mask_ids(tokenizer))
    masks = [i for i, token in enumerate(source_ids) if token in blanks]
    if len(masks) != len(spans):
        raise InputError(f"source has {len(masks)} mask token(s) but {len(spans)} target span(s) were given")
    sop, eop = tokenizer.get_command_id("sop"), tokenizer.get_command_id("eop")
    sep = len(source_ids)
    tokens, positions, blocks = list(source_ids), list(range(sep)), [0] * sep
    target_ids, loss_mask = [0] * sep, [0] * sep
    for mask_position, span in zip(masks, spans):
        target = span + [eop]
        tokens += [sop] + target[:-1]
        target_ids += target
        loss_mask += [1] * len(target)
        positions += [mask_position] * len(target)
        blocks += list(range(1, len(target) + 1)) if block_position else [1] * len(target)
    return {
        "input_ids": torch.tensor(tokens, dtype=torch.long),
        "position_ids": torch.tensor([positions, blocks], dtype=torch.long),  # (2, L)
        "attention_mask": torch.tensor(sep, dtype=torch.long),
        "target_ids": torch.tensor(target_ids, dtype=torch.long),
        "loss_mask": torch.tensor(loss_mask, dtype=torch.long),
    }
