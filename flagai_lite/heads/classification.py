"""Sentence classification and semantic matching (text pairs) on any backbone."""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import TaskError
from .base import TaskHead, TaskSpec, register_task
from .inputs import encode_for_features, feature_inputs, to_device

Tensor = torch.Tensor


class SequenceClassificationHead(TaskHead):
    """``classifier(dropout(pool(features)))`` with the pooling each architecture calls for.

    Pooling: BERT's pretrained [CLS] pooler (encoder); FlagAI GLM's ``tanh(pool_proj(h[CLS]))``
    (glm); the last real token (decoder, as GPT2ForSequenceClassification); the masked mean of the
    encoder states (encoder-decoder).

    Options:
        class_num: number of classes (or give ``labels``).
        labels: class names; their count sets ``class_num``.
        pair: inputs are (text_a, text_b) pairs (semantic matching).
        dropout: before the classifier.

    Example fields for :meth:`collate`: ``text`` (or ``text_a`` + ``text_b``) and ``label`` (int or name).
    """

    capabilities = frozenset({"classify"})

    def __init__(self, *, architecture: str, hidden_size: int, task: str, class_num: Optional[int] = None,
                 labels: Optional[Sequence[str]] = None, pair: bool = False, dropout: float = 0.1):
        super().__init__(architecture=architecture, hidden_size=hidden_size, task=task)
        if class_num is None and labels is None and pair:
            class_num = 2  # semantic matching: match / no match
        if labels is not None:
            class_num = class_num or len(labels)
            if class_num != len(labels):
                raise TaskError(f"class_num ({class_num}) differs from the {len(labels)} labels given")
        if not class_num or class_num < 1:
            raise TaskError(f"task {task!r} needs class_num=N or labels=[...] (the classes to predict)")
        self.class_num, self.labels, self.pair = class_num, list(labels) if labels else None, pair
        self.pool_proj = nn.Linear(hidden_size, hidden_size) if architecture == "glm" else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, class_num)

    def options(self) -> Dict[str, Any]:
        return {"class_num": self.class_num, "labels": self.labels, "pair": self.pair, "dropout": self.dropout.p}

    def pool(self, backbone: nn.Module, hidden: Tensor, attention_mask: Optional[Tensor]) -> Tensor:
        """Sentence vector ``[B, H]``."""
        if self.architecture == "encoder":
            return backbone.pool(hidden)
        if self.architecture == "glm":
            return torch.tanh(self.pool_proj(hidden[:, 0]))
        if attention_mask is None:
            attention_mask = hidden.new_ones(hidden.shape[:2])
        if self.architecture == "decoder":
            last = attention_mask.long().sum(-1) - 1  # right padding: the last real token
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        weights = attention_mask.to(hidden.dtype)[..., None]  # (B, L, 1)
        return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1)

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        hidden = backbone.features(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.classifier(self.dropout(self.pool(backbone, hidden, attention_mask)))  # (B, C)
        out = {"logits": logits, "hidden_states": hidden}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.float(), labels.long())
        return out

    def _label_index(self, label: Union[int, str]) -> int:
        if isinstance(label, str):
            if not self.labels or label not in self.labels:
                raise TaskError(f"label {label!r} is not one of {self.labels}")
            return self.labels.index(label)
        if not 0 <= int(label) < self.class_num:
            raise TaskError(f"label {label} is out of range for class_num={self.class_num}")
        return int(label)

    def _texts(self, examples: List[Mapping[str, Any]]):
        if self.pair:
            return [e["text_a"] for e in examples], [e["text_b"] for e in examples]
        return [e["text"] for e in examples], None

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        texts, pairs = self._texts(examples)
        batch = encode_for_features(tokenizer, self.architecture, texts, pairs, max_length=max_length)
        batch["labels"] = torch.tensor([self._label_index(e["label"]) for e in examples])
        return batch

    @torch.inference_mode()
    def classify(self, backbone: nn.Module, tokenizer: Any, texts: Sequence[Any], max_length: int = 512) -> List[Dict[str, Any]]:
        """Per input: ``label`` (index), ``name`` (when labels are known) and ``probs``."""
        firsts = [t[0] if isinstance(t, (tuple, list)) else t for t in texts]
        seconds = [t[1] for t in texts] if self.pair else None
        batch = encode_for_features(tokenizer, self.architecture, firsts, seconds, max_length=max_length)
        logits = self(backbone, **to_device(feature_inputs(batch), _device(backbone)))["logits"]
        probs = logits.float().softmax(-1)
        results = []
        for row in probs:
            index = int(row.argmax())
            results.append({"label": index, "name": self.labels[index] if self.labels else None,
                            "probs": row.tolist()})
        return results


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


ALL = ("encoder", "decoder", "encoder-decoder", "glm")
register_task(TaskSpec("classification", SequenceClassificationHead, ALL, aliases=("cls", "text-classification"),
                       description="sentence classification: text -> one of class_num labels"))
register_task(TaskSpec("semantic-matching", SequenceClassificationHead, ALL, defaults={"pair": True},
                       description="text pair -> match / no match (class_num=2 by default)"))
