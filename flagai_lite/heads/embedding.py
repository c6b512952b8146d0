"""Sentence embeddings: masked mean pooling, an optional projection, L2 normalisation."""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import TaskHead, TaskSpec, register_task
from .inputs import encode_for_features, feature_inputs, to_device

Tensor = torch.Tensor


class EmbeddingHead(TaskHead):
    """``normalize(proj(mean(h over real tokens)))`` (sentence-transformers style pooling).

    With ``labels`` (a group id per text) the loss is the supervised in-batch contrastive loss:
    texts of one group are positives of each other, all other texts in the batch negatives.

    Options:
        embedding_dim: size of a linear projection after pooling; None keeps the hidden size.
        temperature: softmax temperature of the contrastive loss.

    Example fields for :meth:`collate`: ``text`` and ``label`` (group id).
    """

    capabilities = frozenset({"embed"})

    def __init__(self, *, architecture: str, hidden_size: int, task: str, embedding_dim: Optional[int] = None,
                 temperature: float = 0.05):
        super().__init__(architecture=architecture, hidden_size=hidden_size, task=task)
        self.embedding_dim, self.temperature = embedding_dim, temperature
        self.proj = nn.Linear(hidden_size, embedding_dim) if embedding_dim else None

    def options(self) -> Dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "temperature": self.temperature}

    def forward(self, backbone: nn.Module, *, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Dict[str, Tensor]:
        hidden = backbone.features(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        mask = (attention_mask if attention_mask is not None else torch.ones_like(input_ids)).to(hidden.dtype)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)  # (B, H)
        if self.proj is not None:
            pooled = self.proj(pooled)
        embeddings = F.normalize(pooled.float(), dim=-1)
        out = {"logits": embeddings, "embeddings": embeddings, "hidden_states": hidden}
        if labels is not None:
            out["loss"] = contrastive_loss(embeddings, labels, self.temperature)
        return out

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, Tensor]:
        batch = encode_for_features(tokenizer, self.architecture, [e["text"] for e in examples], max_length=max_length)
        if all("label" in e for e in examples):
            batch["labels"] = torch.tensor([int(e["label"]) for e in examples])
        return batch

    @torch.inference_mode()
    def embed(self, backbone: nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 512) -> Tensor:
        """Unit-length embeddings ``[N, D]``."""
        batch = encode_for_features(tokenizer, self.architecture, list(texts), max_length=max_length)
        return self(backbone, **to_device(feature_inputs(batch), next(backbone.parameters()).device))["embeddings"]


def contrastive_loss(embeddings: Tensor, labels: Tensor, temperature: float) -> Tensor:
    """Supervised InfoNCE over the batch; anchors without a positive are skipped (0 if none has one)."""
    sims = embeddings @ embeddings.T / temperature  # (B, B)
    self_mask = torch.eye(len(labels), dtype=torch.bool, device=sims.device)
    sims = sims.masked_fill(self_mask, float("-inf"))
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    has_positive = positives.any(1)
    if not bool(has_positive.any()):
        return sims.new_zeros(()) + 0.0 * embeddings.sum()
    log_probs = sims.log_softmax(-1)
    per_anchor = -(log_probs.masked_fill(~positives, 0).sum(1) / positives.sum(1).clamp_min(1))
    return per_anchor[has_positive].mean()


register_task(TaskSpec("embedding", EmbeddingHead, ("encoder", "encoder-decoder", "glm"),
                       aliases=("sentence-embedding",), description="text -> unit vector"))
