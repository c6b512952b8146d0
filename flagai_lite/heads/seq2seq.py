"""Sequence-to-sequence tasks (seq2seq, title generation, poetry) on every architecture.

Each architecture lays a (source, target) pair out its own way:

- encoder-decoder (T5): source -> encoder, target -> decoder labels;
- decoder (GPT-2): ``source [SEP] target [EOS]``, loss on the target only;
- glm: ``[CLS] source [gMASK]`` then ``[sop] target``, FlagAI's blank-infilling layout;
- encoder (BERT/RoBERTa, UniLM): ``[CLS] source [SEP] target [SEP]`` with a mask that keeps the
  source bidirectional and the target causal (Dong et al. 2019), loss on the target only.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from ..generation import generate
from ..model.glm_blank import build_blank_infilling_inputs, build_seq2seq_inputs, encode_blank_text
from .base import TaskHead, TaskSpec, register_task
from .inputs import command_id, pad_rows, required_id

Tensor = torch.Tensor


class Seq2SeqHead(TaskHead):
    """Conditional generation with the backbone's own LM head (no extra weights).

    Options:
        max_target_length: longest target kept in training (tokens).

    Example fields for :meth:`collate`: ``source`` and ``target`` texts.
    """

    capabilities = frozenset({"generate"})

    def __init__(self, *, max_target_length: int = 128, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_target_length = max_target_length

    def options(self) -> Dict[str, Any]:
        return {"max_target_length": self.max_target_length}

    # ------------------------------------------------------------------------ training
    def forward(self, backbone: nn.Module, **batch: Any) -> Dict[str, Tensor]:
        """The backbone's own forward on the layout :meth:`collate` built (UniLM: mask matrix, shifted labels)."""
        return backbone(**batch)

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        sources = [e["source"] for e in examples]
        targets = [e["target"] for e in examples]
        layout = {"encoder-decoder": self._collate_t5, "decoder": self._collate_decoder,
                  "glm": self._collate_glm, "encoder": self._collate_unilm}[self.architecture]
        return layout(tokenizer, sources, targets, max_length)

    def _collate_t5(self, tokenizer, sources, targets, max_length) -> Dict[str, Tensor]:
        batch = tokenizer.batch_encode_plus(sources, max_length=max_length, truncation=True, padding=True,
                                            return_tensors="pt")
        target = tokenizer.batch_encode_plus(targets, max_length=self.max_target_length, truncation=True,
                                             padding=True, return_tensors="pt")
        labels = target["input_ids"].masked_fill(target["attention_mask"] == 0, -100)
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "labels": labels}

    def _collate_decoder(self, tokenizer, sources, targets, max_length) -> Dict[str, Tensor]:
        sep, eos = _decoder_separators(tokenizer)
        rows, labels = [], []
        for source, target in zip(sources, targets):
            tgt = tokenizer.encode(target, add_special_tokens=False)[: self.max_target_length - 1] + [eos]
            src = tokenizer.encode(source, add_special_tokens=False)[: max(1, max_length - len(tgt) - 1)]
            rows.append(src + [sep] + tgt)
            labels.append([-100] * (len(src) + 1) + tgt)
        pad = command_id(tokenizer, "pad")
        return {"input_ids": pad_rows(rows, eos if pad is None else pad),
                "attention_mask": pad_rows([[1] * len(r) for r in rows], 0),
                "labels": pad_rows(labels, -100)}

    def _collate_glm(self, tokenizer, sources, targets, max_length) -> Dict[str, Tensor]:
        samples = []
        for source, target in zip(sources, targets):
            tgt = tokenizer.encode(target, add_special_tokens=False)[: self.max_target_length - 1]
            src = _glm_context(tokenizer, source, max_length - len(tgt) - 1)
            samples.append(build_seq2seq_inputs(tokenizer, src, tgt))
        pad = command_id(tokenizer, "pad") or 0
        return {
            "input_ids": pad_rows([s["input_ids"].tolist() for s in samples], pad),
            "position_ids": _stack_positions([s["position_ids"] for s in samples]),  # (B, 2, L)
            "attention_mask": torch.stack([s["attention_mask"] for s in samples]),  # separators [B]
            "labels": pad_rows([s["target_ids"].tolist() for s in samples], 0),
            "loss_mask": pad_rows([s["loss_mask"].tolist() for s in samples], 0),
        }

    def _collate_unilm(self, tokenizer, sources, targets, max_length) -> Dict[str, Tensor]:
        rows, types = [], []
        for source, target in zip(sources, targets):
            pair = tokenizer.encode_plus(source, target, max_length=max_length, truncation=True)
            rows.append(pair["input_ids"])
            types.append(pair["token_type_ids"])
        input_ids, token_type_ids = pad_rows(rows, command_id(tokenizer, "pad") or 0), pad_rows(types, 0)
        real = pad_rows([[1] * len(r) for r in rows], 0)
        # Position i predicts token i + 1 wherever that token is part of the target.
        next_is_target = torch.zeros_like(real, dtype=torch.bool)
        next_is_target[:, :-1] = (token_type_ids[:, 1:] == 1) & (real[:, 1:] == 1)
        labels = torch.full_like(input_ids, -100)
        labels[:, :-1] = input_ids[:, 1:]
        return {"input_ids": input_ids, "token_type_ids": token_type_ids,
                "attention_mask": unilm_mask(token_type_ids, real), "labels": labels.masked_fill(~next_is_target, -100)}

    # ------------------------------------------------------------------------ inference
    @torch.inference_mode()
    def generate_text(self, backbone: nn.Module, tokenizer: Any, texts: Sequence[str], **generate_kwargs: Any) -> List[str]:
        """The generated target for each source text."""
        device = next(backbone.parameters()).device
        if self.architecture == "encoder":
            return [self._generate_unilm(backbone, tokenizer, text, device, **generate_kwargs) for text in texts]
        if self.architecture == "encoder-decoder":
            batch = tokenizer.batch_encode_plus(list(texts), padding=True, truncation=True, return_tensors="pt")
            out = backbone.generate(input_ids=batch["input_ids"].to(device),
                                    attention_mask=batch["attention_mask"].to(device), **generate_kwargs)
            return tokenizer.batch_decode(out[:, 1:].tolist(), skip_special_tokens=True)
        if self.architecture == "glm":
            inputs, prompt = _glm_generation_inputs(tokenizer, texts, device)
            generate_kwargs.setdefault("eos_token_id", required_id(tokenizer, "eop"))
        else:
            inputs, prompt = _decoder_generation_inputs(tokenizer, texts, device)
            generate_kwargs.setdefault("eos_token_id", _decoder_separators(tokenizer)[1])
        generate_kwargs.setdefault("pad_token_id", command_id(tokenizer, "pad") or 0)
        out = backbone.generate(**inputs, **generate_kwargs)
        return tokenizer.batch_decode(out[:, prompt:].tolist(), skip_special_tokens=True)

    def _generate_unilm(self, backbone, tokenizer, text, device, **generate_kwargs) -> str:
        source = tokenizer.encode_plus(text, truncation=True)["input_ids"]  # [CLS] source [SEP]
        generate_kwargs.setdefault("eos_token_id", required_id(tokenizer, "sep"))
        generate_kwargs.setdefault("pad_token_id", command_id(tokenizer, "pad") or 0)
        out = generate(UniLMGenerator(backbone), input_ids=torch.tensor([source], device=device), **generate_kwargs)
        return tokenizer.decode(out[0, len(source):].tolist(), skip_special_tokens=True)


def unilm_mask(token_type_ids: Tensor, real: Optional[Tensor] = None) -> Tensor:
    """UniLM seq2seq mask ``[B, 1, L, L]``: source queries see the source; target queries see all keys up to themselves."""
    length = token_type_ids.shape[1]
    key_is_source = token_type_ids[:, None, :] == 0  # (B, 1, L)
    query_is_target = token_type_ids[:, :, None] == 1  # (B, L, 1)
    causal = torch.ones(length, length, dtype=torch.bool, device=token_type_ids.device).tril()
    allowed = torch.where(query_is_target, causal, key_is_source)  # (B, L, L)
    if real is not None:
        allowed = allowed & (real[:, None, :] == 1)
    return allowed[:, None].long()


class UniLMSession:
    """Generation with a BERT-family encoder: the whole sequence is re-encoded every step (no cache)."""

    def __init__(self, backbone: nn.Module, input_ids: Tensor):
        self.backbone, self.ids = backbone, input_ids
        self.types = torch.zeros_like(input_ids)
        self.logits = self._run()

    def _run(self) -> Tensor:
        hidden = self.backbone.encode(input_ids=self.ids, token_type_ids=self.types,
                                      attention_mask=unilm_mask(self.types))
        return self.backbone.lm_head(hidden[:, -1])

    def step(self, tokens: Tensor) -> Tensor:
        self.ids = torch.cat([self.ids, tokens[:, None]], 1)
        self.types = torch.cat([self.types, torch.ones_like(tokens[:, None])], 1)
        self.logits = self._run()
        return self.logits

    def reorder(self, index: Tensor) -> None:
        self.ids, self.types = self.ids.index_select(0, index), self.types.index_select(0, index)


class UniLMGenerator:
    """Lets :func:`flagai_lite.generation.generate` drive a BERT-family encoder through :class:`UniLMSession`."""

    def __init__(self, backbone: nn.Module):
        self.backbone, self.config = backbone, backbone.config

    def generation_prompt_length(self, input_ids: Tensor) -> int:
        return input_ids.shape[1]

    def start_generation(self, *, input_ids: Tensor, attention_mask: Optional[Tensor], capacity: int):
        return UniLMSession(self.backbone, input_ids), input_ids


def _decoder_separators(tokenizer: Any) -> Tuple[int, int]:
    """(separator between source and target, end of target) for decoder-only seq2seq."""
    eos = command_id(tokenizer, "eos", "sep")
    sep = command_id(tokenizer, "sep", "eos")
    if eos is None or sep is None:
        required_id(tokenizer, "eos", "sep")
    return sep, eos


def _decoder_generation_inputs(tokenizer: Any, texts: Sequence[str], device) -> Tuple[Dict[str, Tensor], int]:
    sep, _ = _decoder_separators(tokenizer)
    rows = [tokenizer.encode(t, add_special_tokens=False) + [sep] for t in texts]
    pad = command_id(tokenizer, "pad", "eos")
    inputs = {"input_ids": pad_rows(rows, pad, left=True).to(device),
              "attention_mask": pad_rows([[1] * len(r) for r in rows], 0, left=True).to(device)}
    return inputs, inputs["input_ids"].shape[1]


def _glm_context(tokenizer: Any, source: str, budget: int) -> List[int]:
    """``[CLS] source [gMASK]`` cut to ``budget`` tokens (the mask token is kept)."""
    text = source if "MASK]" in source else source + " [gMASK]"
    ids = [required_id(tokenizer, "cls")] + encode_blank_text(tokenizer, text)
    if len(ids) > budget:
        ids = ids[: max(2, budget) - 1] + [ids[-1]]
    return ids


def _glm_generation_inputs(tokenizer: Any, texts: Sequence[str], device) -> Tuple[Dict[str, Any], int]:
    contexts = [build_blank_infilling_inputs(tokenizer, t) for t in texts]
    rows = [c["input_ids"][0].tolist() for c in contexts]
    pad = command_id(tokenizer, "pad") or 0
    input_ids = pad_rows(rows, pad, left=True)
    inputs = {
        "input_ids": input_ids.to(device),
        "attention_mask": pad_rows([[1] * len(r) for r in rows], 0, left=True).to(device),
        "mask_positions": torch.tensor([c["mask_position"] for c in contexts], device=device),
        "sop_token_id": required_id(tokenizer, "sop"),
    }
    return inputs, input_ids.shape[1] + 1


def _stack_positions(position_ids: List[Tensor]) -> Tensor:
    """Right-pad per-sample ``[2, L]`` GLM position ids to ``[B, 2, max_L]`` with zeros."""
    width = max(p.shape[1] for p in position_ids)
    out = torch.zeros(len(position_ids), 2, width, dtype=torch.long)
    for i, p in enumerate(position_ids):
        out[i, :, : p.shape[1]] = p
    return out


GENERATION_BACKBONES = ("encoder", "decoder", "encoder-decoder", "glm")
register_task(TaskSpec("seq2seq", Seq2SeqHead, GENERATION_BACKBONES,
                       description="source text -> target text"))
register_task(TaskSpec("title-generation", Seq2SeqHead, GENERATION_BACKBONES, defaults={"max_target_length": 64},
                       description="article -> title"))
register_task(TaskSpec("poetry-generation", Seq2SeqHead, GENERATION_BACKBONES, defaults={"max_target_length": 128},
                       description="title / first line -> poem"))
