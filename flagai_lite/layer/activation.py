"""Activation functions by the names found in config.json files."""
from functools import partial
from typing import Callable, Dict

import torch
import torch.nn.functional as F

from ..errors import ConfigError


def _quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


# Names as Hugging Face and FlagAI configs spell them. "gelu" is the exact erf form; the
# "new"/"tanh"/"fast" names are the tanh approximation used by GPT-2, T5 v1.1 and GLM.
_ACTIVATIONS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_new": partial(F.gelu, approximate="tanh"),
    "gelu_tanh": partial(F.gelu, approximate="tanh"),
    "gelu_pytorch_tanh": partial(F.gelu, approximate="tanh"),
    "gelu_fast": partial(F.gelu, approximate="tanh"),
    "quick_gelu": _quick_gelu,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


def activation_names() -> list:
    """The activation names :func:`get_activation` accepts."""
    return sorted(_ACTIVATIONS)


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the activation function called ``name``.

    Raises:
        ConfigError: the name is unknown; the message lists the known names.
    """
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; choose one of {', '.join(activation_names())}"
        ) from None
