"""Token embeddings summed with optional learned positions and token types."""
from typing import Optional

import torch
from torch import nn


class TextEmbeddings(nn.Module):
    """``word[ids] + position[pos] + token_type[types]``, then an optional LayerNorm and dropout.

    Args:
        vocab_size: rows of the word table.
        hidden_size: embedding width.
        max_positions: rows of the learned position table; 0 for none (T5, rotary models).
        type_vocab_size: rows of the token-type table; 0 for none.
        padding_idx: word row that gets no gradient.
        norm_eps: epsilon of a LayerNorm after the sum; None for no norm (GPT-2).
        dropout: dropout probability after the sum (and norm).
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        hidden_size: int,
        max_positions: int = 0,
        type_vocab_size: int = 0,
        padding_idx: Optional[int] = None,
        norm_eps: Optional[float] = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.word = nn.Embedding(vocab_size, hidden_size, padding_idx=padding_idx)
        self.position = nn.Embedding(max_positions, hidden_size) if max_positions else None
        self.token_type = nn.Embedding(type_vocab_size, hidden_size) if type_vocab_size else None
        self.norm = nn.LayerNorm(hidden_size, eps=norm_eps) if norm_eps is not None else None
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        x = self.word(input_ids)  # (B, L, H)
        if self.position is not None:
            x = x + self.position(position_ids)
        if self.token_type is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = x + self.token_type(token_type_ids)
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)
