"""Normalisation layers: LayerNorm (re-exported from torch) and RMSNorm (T5 / LLaMA style)."""
import torch
import torch.nn.functional as F
from torch import nn

LayerNorm = nn.LayerNorm


class RMSNorm(nn.Module):
    """Root-mean-square norm without mean subtraction or bias (T5's "LayerNorm", LLaMA's RMSNorm).

    The statistic is computed in float32 whatever the input dtype, then cast back, as the
    reference implementations do for half-precision inputs.

    Args:
        dim: size of the last dimension.
        eps: added to the mean square before the reciprocal square root.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 and self.weight.dtype == torch.float32:
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"
