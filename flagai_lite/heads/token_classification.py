"""Named-entity recognition: softmax tagging, CRF tagging and GlobalPointer span scoring."""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import TaskError
from .base import TaskHead, TaskSpec, register_task
from .crf import CRF
from .entities import bio_to_spans, entity_types_and_tags, spans_to_bio, token_spans
from .global_pointer import GlobalPointer, spans_to_char_offsets
from .inputs import encode_for_features, feature_inputs, pad_rows, to_device

Tensor = torch.Tensor


class _EntityHead(TaskHead):
    """Shared input layout and entity decoding of the NER heads.

    Options:
        labels: entity types (``["LOC", "PER"]``) or a full BIO tag list starting with "O".
        dropout: before the output layer.

    Example fields for :meth:`collate`: ``text`` and ``entities``, a list of ``{"start", "end",
    "type"}`` character spans of the text.
    """

    capabilities = frozenset({"ner"})

    def __init__(self, *, architecture: str, hidden_size: int, task: str, labels: Optional[Sequence[str]] = None,
                 class_num: Optional[int] = None, dropout: float = 0.1):
        super().__init__(architecture=architecture, hidden_size=hidden_size, task=task)
        if not labels:
            raise TaskError(f"task {task!r} needs labels=[entity types] (e.g. ['LOC', 'PER']) or a BIO tag list")
        self.types, self.tags = entity_types_and_tags(labels)
        if class_num is not None and class_num not in (len(self.tags), len(self.types)):
            raise TaskError(f"class_num={class_num} fits neither the {len(self.tags)} tags nor {len(self.types)} types")
        self.given_labels = list(labels)
        self.dropout = nn.Dropout(dropout)

    def options(self) -> Dict[str, Any]:
        return {"labels": self.given_labels, "dropout": self.dropout.p}

    def _encode(self, tokenizer: Any, texts: Sequence[str], max_length: int) -> Dict[str, Any]:
        return encode_for_features(tokenizer, self.architecture, texts, max_length=max_length, offsets=True)

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        batch = self._encode(tokenizer, [e["text"] for e in examples], max_length)
        offsets = batch.pop("offset_mapping")
        spans = [token_spans(e.get("entities", []), row, self.types) for e, row in zip(examples, offsets)]
        batch["labels"] = self.span_labels(spans, batch["attention_mask"])
        return batch

    @torch.inference_mode()
    def extract_entities(self, backbone: nn.Module, tokenizer: Any, texts: Sequence[str],
                         max_length: int = 512) -> List[List[Dict[str, Any]]]:
        """Per text, its entities ``{"type", "start", "end", "text"}`` in characters of the text."""
        batch = self._encode(tokenizer, texts, max_length)
        offsets = batch.pop("offset_mapping")
        device = next(backbone.parameters()).device
        spans = self.decode_spans(backbone, to_device(feature_inputs(batch), device))
        return [spans_to_char_offsets(sorted(s, key=lambda x: (x[1], x[2], x[0])), row, text, type_names=self.types)
                for s, row, text in zip(spans, offsets, texts)]


class TokenClassificationHead(_EntityHead):
    """Softmax tagging: ``classifier(dropout(h))`` -> BIO tag logits ``[B, L, tags]``; loss ignores -100."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.classifier = nn.Linear(self.hidden_size, len(self.tags))

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        hidden = backbone.features(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.classifier(self.dropout(hidden))  # (B, L, tags)
        out = {"logits": logits, "hidden_states": hidden}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return out

    def span_labels(self, spans: List[List[tuple]], attention_mask: Tensor) -> Tensor:
        rows = [spans_to_bio(s, attention_mask.shape[1], self.tags, self.types) for s in spans]
        labels = pad_rows(rows, 0)
        return labels.masked_fill(attention_mask == 0, -100)

    def decode_spans(self, backbone: nn.Module, batch: Dict[str, Tensor]) -> List[List[tuple]]:
        tag_ids = self(backbone, **batch)["logits"].argmax(-1)
        return [bio_to_spans(row.tolist(), self.tags, self.types) for row in tag_ids]


class CRFTaggingHead(_EntityHead):
    """Emissions ``classifier(dropout(h))`` scored by a linear-chain CRF; Viterbi decoding."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.classifier = nn.Linear(self.hidden_size, len(self.tags))
        self.crf = CRF(len(self.tags))

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        hidden = backbone.features(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        emissions = self.classifier(self.dropout(hidden))  # (B, L, tags)
        out = {"logits": emissions, "hidden_states": hidden}
        if labels is not None:
            mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
            out["loss"] = self.crf.nll(emissions.float(), labels, mask)
        return out

    def span_labels(self, spans: List[List[tuple]], attention_mask: Tensor) -> Tensor:
        # Special tokens are tagged "O": the CRF needs a tag at every unmasked position.
        return pad_rows([spans_to_bio(s, attention_mask.shape[1], self.tags, self.types) for s in spans], 0)

    def decode_spans(self, backbone: nn.Module, batch: Dict[str, Tensor]) -> List[List[tuple]]:
        emissions = self(backbone, **batch)["logits"]
        paths = self.crf.decode(emissions.float(), batch.get("attention_mask"))
        return [bio_to_spans(path, self.tags, self.types) for path in paths]


class GlobalPointerHead(_EntityHead):
    """GlobalPointer span scores ``[B, types, L, L]`` (Su 2021); nested entities allowed.

    Options:
        inner_dim: query/key width per type (64 in FlagAI).
    """

    def __init__(self, *, inner_dim: int = 64, **kwargs: Any):
        super().__init__(**kwargs)
        self.inner_dim = inner_dim
        self.pointer = GlobalPointer(hidden_size=self.hidden_size, num_types=len(self.types), inner_dim=inner_dim)

    def options(self) -> Dict[str, Any]:
        return {**super().options(), "inner_dim": self.inner_dim}

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        hidden = backbone.features(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        scores = self.pointer(self.dropout(hidden), attention_mask)  # (B, types, L, L)
        out = {"logits": scores, "hidden_states": hidden}
        if labels is not None:
            out["loss"] = self.pointer.loss(scores.float(), labels)
        return out

    def span_labels(self, spans: List[List[tuple]], attention_mask: Tensor) -> Tensor:
        batch, length = attention_mask.shape
        grid = torch.zeros(batch, len(self.types), length, length, dtype=torch.long)
        for row, row_spans in enumerate(spans):
            for type_index, first, last in row_spans:
                grid[row, type_index, first, last] = 1
        return grid

    def decode_spans(self, backbone: nn.Module, batch: Dict[str, Tensor]) -> List[List[tuple]]:
        return self.pointer.decode(self(backbone, **batch)["logits"])


NER_BACKBONES = ("encoder", "encoder-decoder", "glm")
register_task(TaskSpec("ner", TokenClassificationHead, NER_BACKBONES, aliases=("sequence-labeling",),
                       description="named entities, softmax over BIO tags"))
register_task(TaskSpec("ner-crf", CRFTaggingHead, NER_BACKBONES, aliases=("sequence-labeling-crf",),
                       description="named entities, BIO tags with a CRF and Viterbi decoding"))
register_task(TaskSpec("ner-gp", GlobalPointerHead, NER_BACKBONES, aliases=("sequence-labeling-gp",),
                       description="named entities as GlobalPointer span scores (nested entities allowed)"))
