"""BERT block: post-LayerNorm self-attention and feed-forward (also RoBERTa)."""
from typing import Optional

import torch
from torch import nn

from ..layer import Attention, FeedForward, get_activation
from ..layer.unpad import Unpadded


class BertBlock(nn.Module):
    """``x = norm1(x + attn(x)); x = norm2(x + mlp(x))`` (Devlin et al. 2018, post-LN)."""

    def __init__(
        self,
        *,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        activation: str,
        norm_eps: float,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ):
        super().__init__()
        self.attn = Attention(hidden_size=hidden_size, num_heads=num_heads, dropout=attention_dropout)
        self.norm1 = nn.LayerNorm(hidden_size, eps=norm_eps)
        self.mlp = FeedForward(hidden_size=hidden_size, intermediate_size=intermediate_size, activation=activation)
        self.norm2 = nn.LayerNorm(hidden_size, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_bias: Optional[torch.Tensor] = None,
                unpadded: Optional[Unpadded] = None) -> torch.Tensor:
        """``x`` is ``[B, L, H]``, or the real tokens ``[T, H]`` of a padded batch when ``unpadded`` is given."""
        x = self.norm1(x + self.dropout(self.attn(x, attn_bias=attn_bias, unpadded=unpadded)))
        return self.norm2(x + self.dropout(self.mlp(x)))


class BertPooler(nn.Module):
    """``tanh(dense(h[:, 0]))``: the [CLS] summary used by sentence-level heads."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))


class MaskedLMHead(nn.Module):
    """``decoder(norm(act(dense(h)))) + bias`` with the decoder weight tied to the word embeddings."""

    def __init__(self, *, hidden_size: int, vocab_size: int, activation: str, norm_eps: float):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.act = get_activation(activation)
        self.norm = nn.LayerNorm(hidden_size, eps=norm_eps)
        self.decoder = nn.Linear(hidden_size, vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.act(self.dense(hidden_states)))
        return torch.nn.functional.linear(h, self.decoder.weight, self.bias)
