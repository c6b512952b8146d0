"""Rotary position embeddings (Su et al. 2021, RoFormer) with the usual context-extension variants.

Queries and keys are rotated pairwise by an angle ``position * inv_freq[i]``. Two pairings exist:
"half" (GPT-NeoX / LLaMA: dimension ``i`` pairs with ``i + rot/2``) and "interleaved" (GPT-J /
GLM-4: ``2i`` pairs with ``2i + 1``). A partial rotary (GLM-4 rotates half of each head) rotates
the first ``rot`` dimensions and passes the rest through.

Scaling variants follow the ``rope_type`` values of Hugging Face's ``rope_parameters``
(``rope_scaling`` before transformers 5): default, linear, dynamic (NTK), yarn and llama3.
"""
import math
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import nn

from ..errors import ConfigError

Tensor = torch.Tensor

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "llama3")
# Keys each rope_type needs in its parameters (besides rope_type and rope_theta).
_REQUIRED = {
    "default": (),
    "linear": ("factor",),
    "dynamic": ("factor",),
    "yarn": ("factor", "original_max_position_embeddings"),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}


def check_rope_scaling(scaling: Optional[Mapping[str, Any]]) -> None:
    """Raise ConfigError unless ``scaling`` (``rope_parameters``-style) names a supported type with its keys."""
    if not scaling:
        return
    rope_type = scaling.get("rope_type", "default")
    if rope_type not in ROPE_TYPES:
        raise ConfigError(f"rope_parameters.rope_type {rope_type!r} is not supported; use one of {list(ROPE_TYPES)}")
    missing = [key for key in _REQUIRED[rope_type] if scaling.get(key) is None]
    if missing:
        raise ConfigError(f"rope_parameters of rope_type {rope_type!r} needs {missing}")


def rope_frequencies(
    *,
    dim: int,
    base: float,
    scaling: Optional[Mapping[str, Any]] = None,
    max_position_embeddings: Optional[int] = None,
    seq_len: Optional[int] = None,
) -> Tuple[Tensor, float]:
    """Inverse frequencies ``[dim // 2]`` (float32, CPU) and the factor applied to cos and sin.

    Args:
        dim: rotated dimensions per head (``head_dim * partial_rotary_factor``).
        base: ``rope_theta``.
        scaling: ``rope_parameters`` (``rope_type``, ``factor``, ...); None for plain RoPE.
        max_position_embeddings: the model's context length (dynamic NTK scales beyond it).
        seq_len: longest position + 1 of the current call (dynamic NTK only).
    """
    scaling = scaling or {}
    rope_type = scaling.get("rope_type", "default")
    exponents = torch.arange(0, dim, 2, dtype=torch.int64, device="cpu").float() / dim
    if rope_type == "dynamic" and seq_len is not None and max_position_embeddings and seq_len > max_position_embeddings:
        # NTK-aware: grow the base with the sequence (bloc97 / emozilla; transformers' "dynamic").
        factor = scaling["factor"]
        base = base * ((factor * seq_len / max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
    inv_freq = 1.0 / (base**exponents)
    if rope_type == "linear":
        return inv_freq / scaling["factor"], 1.0  # position interpolation (Chen et al. 2023)
    if rope_type == "llama3":
        return _llama3(inv_freq, scaling), 1.0
    if rope_type == "yarn":
        return _yarn(dim, base, scaling)
    return inv_freq, 1.0


def _llama3(inv_freq: Tensor, p: Mapping[str, Any]) -> Tensor:
    """Llama 3.1: keep high frequencies, divide low ones by ``factor``, blend in between."""
    factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old_context = p["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def _yarn(dim: int, base: float, p: Mapping[str, Any]) -> Tuple[Tensor, float]:
    """YaRN (Peng et al. 2023): interpolate low frequencies, extrapolate high ones, scale attention."""
    factor, original = p["factor"], p["original_max_position_embeddings"]

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention_factor = p.get("attention_factor")
    if attention_factor is None:
        if p.get("mscale") and p.get("mscale_all_dim"):
            attention_factor = float(mscale(factor, p["mscale"]) / mscale(factor, p["mscale_all_dim"]))
        else:
            attention_factor = mscale(factor)
    beta_fast, beta_slow = p.get("beta_fast") or 32, p.get("beta_slow") or 1

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if p.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid a zero-width ramp
    ramp = ((torch.arange(dim // 2, dtype=torch.float32, device="cpu") - low) / (high - low)).clamp(0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2, device="cpu").float() / dim)
    extrapolation = 1 - ramp
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation
    return inv_freq, attention_factor


class RotaryEmbedding(nn.Module):
    """Cos and sin of the rotation angles for given positions (no parameters, no buffers).

    The inverse frequencies live in float32 outside the state dict (a model built on the meta
    device gets real values); a copy is kept per device.

    Args:
        dim: rotated dimensions per head (even).
        base: ``rope_theta``.
        scaling: ``rope_parameters``-style dict (``rope_type``, ``factor``, ...) or None.
        max_position_embeddings: context length (dynamic NTK and yarn read it).

    Raises:
        ConfigError: odd ``dim`` or an unsupported / incomplete ``scaling``.
    """

    def __init__(
        self,
        *,
        dim: int,
        base: float = 10000.0,
        scaling: Optional[Mapping[str, Any]] = None,
        max_position_embeddings: Optional[int] = None,
    ):
        super().__init__()
        if dim <= 0 or dim % 2:
            raise ConfigError(f"rotary dimension ({dim}) must be positive and even")
        check_rope_scaling(scaling)
        self.dim, self.base = dim, base
        self.scaling = dict(scaling or {})
        self.max_position_embeddings = max_position_embeddings
        self.dynamic = self.scaling.get("rope_type") == "dynamic"
        inv_freq, self.attention_scaling = rope_frequencies(
            dim=dim, base=base, scaling=self.scaling, max_position_embeddings=max_position_embeddings
        )
        self._inv_freq: Dict[torch.device, Tensor] = {inv_freq.device: inv_freq}

    def inv_freq(self, device: torch.device, seq_len: Optional[int] = None) -> Tensor:
        """Inverse frequencies on ``device`` (recomputed for ``seq_len`` under dynamic NTK)."""
        if self.dynamic and seq_len is not None and seq_len > (self.max_position_embeddings or seq_len):
            inv_freq, _ = rope_frequencies(
                dim=self.dim, base=self.base, scaling=self.scaling,
                max_position_embeddings=self.max_position_embeddings, seq_len=seq_len,
            )
            return inv_freq.to(device)
        if device not in self._inv_freq:
            self._inv_freq[device] = next(iter(self._inv_freq.values())).to(device)
        return self._inv_freq[device]

    def forward(self, position_ids: Tensor, dtype: torch.dtype = torch.float32) -> Tuple[Tensor, Tensor]:
        """``(cos, sin)``, each ``[B, 1, L, dim // 2]`` in ``dtype``, for positions ``[B, L]``."""
        seq_len = int(position_ids.max()) + 1 if self.dynamic else None
        inv_freq = self.inv_freq(position_ids.device, seq_len)
        angles = position_ids[:, None, :, None].float() * inv_freq  # (B, 1, L, dim/2)
        cos, sin = angles.cos(), angles.sin()
        if self.attention_scaling != 1.0:
            cos, sin = cos * self.attention_scaling, sin * self.attention_scaling
        return cos.to(dtype), sin.to(dtype)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base}, rope_type={self.scaling.get('rope_type', 'default')!r}"


def _rotate(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool) -> Tensor:
    rot = 2 * cos.shape[-1]
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    if interleaved:
        x1, x2 = x_rot[..., 0::2], x_rot[..., 1::2]  # (B, H, L, rot/2) each
        out = torch.stack((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).flatten(-2)
    else:
        x1, x2 = x_rot.chunk(2, dim=-1)  # (B, H, L, rot/2) each
        out = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    return out if x_pass.shape[-1] == 0 else torch.cat((out, x_pass), dim=-1)


def apply_rotary(q: Tensor, k: Tensor, *, cos: Tensor, sin: Tensor, interleaved: bool = False) -> Tuple[Tensor, Tensor]:
    """Rotate queries and keys ``[B, H, L, D]`` by ``cos``/``sin`` ``[B, 1, L, rot/2]``.

    Usable as Attention's ``qk_transform`` through ``functools.partial(apply_rotary, cos=cos, sin=sin)``.
    Dimensions past ``rot`` (partial rotary) are passed through unchanged.

    Args:
        interleaved: pair dimensions ``(2i, 2i+1)`` (GPT-J, GLM-4) instead of ``(i, i + rot/2)`` (LLaMA).
    """
    return _rotate(q, cos, sin, interleaved), _rotate(k, cos, sin, interleaved)
