"""Position-wise feed-forward networks: plain (BERT, GPT-2, T5 v1.0) and gated (T5 v1.1, LLaMA)."""
import torch
from torch import nn

from .activation import get_activation


class FeedForward(nn.Module):
    """``down_proj(act(up_proj(x)))``.

    Args:
        hidden_size: model width.
        intermediate_size: inner width.
        activation: an activation name understood by :func:`get_activation`.
        bias: whether both projections carry a bias.
    """

    def __init__(self, *, hidden_size: int, intermediate_size: int, activation: str, bias: bool = True):
        super().__init__()
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.up_proj(x)))


class GatedFeedForward(nn.Module):
    """``down_proj(act(gate) * up)`` with gate and up computed by one fused projection.

    ``gate_up_proj.weight`` stacks the gate rows above the up rows: ``[2 * intermediate, hidden]``.
    """

    def __init__(self, *, hidden_size: int, intermediate_size: int, activation: str, bias: bool = False):
        super().__init__()
        self.gate_up_proj = nn.Linear(hidden_size, 2 * intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)  # 2 x (..., intermediate)
        return self.down_proj(self.act(gate) * up)
