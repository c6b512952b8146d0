"""Language modelling on the backbone's own tied output head: causal LM and masked LM."""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from torch import nn

from ..errors import TaskError
from .base import TaskHead, TaskSpec, register_task
from .inputs import command_id, pad_rows, required_id, to_device

Tensor = torch.Tensor


class CausalLMHead(TaskHead):
    """Next-token prediction with the decoder's tied LM head (no extra weights).

    Example fields for :meth:`collate`: ``text``; an EOS token (or [SEP]) is appended to every text.
    """

    capabilities = frozenset({"generate"})

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                labels: Optional[Tensor] = None, **kwargs: Any) -> Dict[str, Tensor]:
        return backbone(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        eos = required_id(tokenizer, "eos", "sep")  # BERT-vocab GPT-2 (GPT2-base-ch) ends texts with [SEP]
        rows = [tokenizer.encode(e["text"], add_special_tokens=False)[: max_length - 1] + [eos] for e in examples]
        pad = command_id(tokenizer, "pad")
        input_ids = pad_rows(rows, eos if pad is None else pad)
        attention_mask = pad_rows([[1] * len(r) for r in rows], 0)
        return {"input_ids": input_ids, "attention_mask": attention_mask,
                "labels": input_ids.masked_fill(attention_mask == 0, -100)}

    @torch.inference_mode()
    def generate_text(self, backbone: nn.Module, tokenizer: Any, texts: Sequence[str], **generate_kwargs: Any) -> List[str]:
        """Continuations of ``texts`` (prompts left-padded, only the new text returned)."""
        batch = tokenizer.batch_encode_plus(list(texts), padding=True, padding_side="left", return_tensors="pt",
                                            add_special_tokens=False)
        device = next(backbone.parameters()).device
        generate_kwargs.setdefault("eos_token_id", command_id(tokenizer, "eos", "sep"))
        generate_kwargs.setdefault("pad_token_id", command_id(tokenizer, "pad", "eos"))
        out = backbone.generate(input_ids=batch["input_ids"].to(device),
                                attention_mask=batch["attention_mask"].to(device), **generate_kwargs)
        return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:].tolist(), skip_special_tokens=True)


class ChatHead(CausalLMHead):
    """Chat fine-tuning and inference with the checkpoint's chat template.

    Example fields for :meth:`collate`: ``messages``, a conversation ending with the assistant turn
    to learn; the loss covers that last turn only (the prompt before it is masked with -100).
    """

    capabilities = frozenset({"generate", "chat"})

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        from ..chat import chat_prompt_ids

        rows, labels = [], []
        for example in examples:
            messages = list(example["messages"])
            if not messages or messages[-1].get("role") != "assistant":
                raise TaskError("a chat example's messages must end with the assistant turn to learn")
            prompt = chat_prompt_ids(tokenizer, messages[:-1], add_generation_prompt=True)
            full = chat_prompt_ids(tokenizer, messages, add_generation_prompt=False)[:max_length]
            rows.append(full)
            labels.append([-100] * min(len(prompt), len(full)) + full[len(prompt):])
        pad = command_id(tokenizer, "pad", "eos")
        return {"input_ids": pad_rows(rows, pad), "attention_mask": pad_rows([[1] * len(r) for r in rows], 0),
                "labels": pad_rows(labels, -100)}

    def chat(self, backbone: nn.Module, tokenizer: Any, query: str, history: Any = None, **generate_kwargs: Any):
        """``backbone.chat``: (response, history)."""
        return backbone.chat(tokenizer, query, history, **generate_kwargs)


class MaskedLMHead(TaskHead):
    """Masked-token prediction with the encoder's pretrained MLM head (no extra weights).

    Options:
        mask_probability: share of tokens :meth:`collate` selects (80% -> [MASK], 10% random, 10% kept).

    Example fields for :meth:`collate`: ``text``.
    """

    capabilities = frozenset({"masklm"})

    def __init__(self, *, mask_probability: float = 0.15, **kwargs: Any):
        super().__init__(**kwargs)
        self.mask_probability = mask_probability

    def options(self) -> Dict[str, Any]:
        return {"mask_probability": self.mask_probability}

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        return backbone(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        labels=labels)

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        batch = tokenizer.batch_encode_plus([e["text"] for e in examples], max_length=max_length, truncation=True,
                                            padding=True, return_tensors="pt")
        ids = batch["input_ids"]
        specials = torch.tensor([command_id(tokenizer, n) for n in ("cls", "sep", "pad")
                                 if command_id(tokenizer, n) is not None])
        candidates = (batch["attention_mask"] == 1) & ~torch.isin(ids, specials)
        chosen = candidates & (torch.rand(ids.shape) < self.mask_probability)
        # Every row predicts at least one token, so a short text never gives an empty (NaN) loss.
        empty = ~chosen.any(1) & candidates.any(1)
        if bool(empty.any()):
            pick = torch.multinomial(candidates[empty].float(), 1).squeeze(1)
            chosen[empty.nonzero().squeeze(1), pick] = True
        labels = ids.masked_fill(~chosen, -100)
        roll = torch.rand(ids.shape)
        masked = ids.masked_fill(chosen & (roll < 0.8), required_id(tokenizer, "mask"))
        random_ids = torch.randint(0, tokenizer.vocab_size, ids.shape)
        batch["input_ids"] = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, masked)
        batch["labels"] = labels
        return batch

    @torch.inference_mode()
    def fill_mask(self, backbone: nn.Module, tokenizer: Any, text: str, max_length: int = 512) -> str:
        """``text`` with every mask token replaced by the most likely token."""
        mask_id = required_id(tokenizer, "mask")
        batch = tokenizer.encode_plus(text, max_length=max_length, truncation=True, return_tensors="pt")
        if not bool((batch["input_ids"] == mask_id).any()):
            raise TaskError(f"no mask token in {text!r}; write the blanks as the tokenizer's mask token")
        device = next(backbone.parameters()).device
        logits = self(backbone, **to_device({k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")
                                             if k in batch}, device))["logits"]
        ids = batch["input_ids"][0].to(device)
        filled = torch.where(ids == mask_id, logits[0].argmax(-1), ids)
        return tokenizer.decode(filled.tolist(), skip_special_tokens=True)


register_task(TaskSpec("lm", CausalLMHead, ("decoder",), aliases=("causal-lm", "text-generation"),
                       description="next-token language modelling and free generation"))
register_task(TaskSpec("chat", ChatHead, ("decoder",), description="chat with the checkpoint's chat template"))
register_task(TaskSpec("masklm", MaskedLMHead, ("encoder",), aliases=("mlm", "fill-mask"),
                       description="masked-token prediction"))
