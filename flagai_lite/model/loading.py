"""Fill a model built on the meta device from checkpoint tensors, checking every key and shape."""
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch
from torch import nn

from ..errors import CheckpointError

logger = logging.getLogger(__name__)

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float64": torch.float64, "double": torch.float64,
}


@dataclass
class LoadReport:
    """What a load did: kept for the caller as ``model.load_report`` and logged.

    Attributes:
        source_format: "flagai_lite" (our own save) or "huggingface" (converted by the key map).
        files: weight files read.
        initialized: head weights the checkpoint lacked, freshly initialised.
        ignored: checkpoint keys dropped as ignorable buffers by the key map.
    """

    source_format: str
    files: List[str] = field(default_factory=list)
    initialized: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)

    @property
    def missing(self) -> List[str]:
        """Alias of ``initialized`` (the keys missing from the checkpoint)."""
        return self.initialized


_INIT_FUNCTIONS = (
    "normal_", "uniform_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
    "xavier_normal_", "zeros_", "ones_", "constant_",
)


@contextlib.contextmanager
def skip_init():
    """Make ``torch.nn.init`` functions no-ops while a model is built on the meta device.

    Random init of meta tensors is wasted work, and ``normal_`` on meta pulls in torch's Python
    decompositions (~800 modules, ~70 MB of RSS) for nothing.
    """
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS}
    try:
        for name in _INIT_FUNCTIONS:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


def resolve_dtype(torch_dtype) -> Optional[torch.dtype]:
    """``None``/``"auto"`` -> None (keep the checkpoint's dtype); names and torch dtypes -> torch dtype."""
    if torch_dtype is None or torch_dtype == "auto" or isinstance(torch_dtype, torch.dtype):
        return None if torch_dtype in (None, "auto") else torch_dtype
    try:
        return _DTYPES[str(torch_dtype).replace("torch.", "")]
    except KeyError:
        from ..errors import ConfigError

        raise ConfigError(f"unknown torch_dtype {torch_dtype!r}; use 'auto' or one of {sorted(_DTYPES)}") from None


def fill_from_tensors(
    model: nn.Module,
    tensors: Dict[str, torch.Tensor],
    *,
    file_of: Mapping[str, str],
    tied: Mapping[str, str],
    head_prefixes: Sequence[str],
    init_module: Callable[[nn.Module], None],
    dtype: Optional[torch.dtype],
    where: str,
    device_of: Optional[Callable[[str], torch.device]] = None,
) -> List[str]:
    """Assign ``tensors`` to ``model`` (built on meta) without copying; return the initialised head keys.

    With ``dtype`` and/or ``device_of`` (key -> device) each tensor is converted and moved on its
    own, so at most one tensor is in flight: a bf16 model never passes through a float32 copy.

    Raises:
        CheckpointError: an unexpected key, a shape mismatch, or a missing backbone weight; the
            message names the key, the file and (for shapes) both shapes.
    """
    expected = {k: v for k, v in model.state_dict(keep_vars=True).items() if k not in tied}
    for alias in tied:
        tensors.pop(alias, None)
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise CheckpointError(
            f"unexpected key(s) {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''} in "
            f"{file_of.get(unexpected[0], where)}: {type(model).__name__} has no such weights"
        )
    for key, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"shape mismatch for {key!r} in {file_of.get(key, where)}: checkpoint has {tuple(tensor.shape)}, "
                f"{type(model).__name__} expects {tuple(expected[key].shape)}; check that config.json matches the weights"
            )
    missing = sorted(set(expected) - set(tensors))
    backbone_missing = [k for k in missing if not k.startswith(tuple(head_prefixes))]
    if backbone_missing:
        raise CheckpointError(
            f"{len(backbone_missing)} backbone weight(s) missing from {where}: {backbone_missing[:5]}"
            f"{' ...' if len(backbone_missing) > 5 else ''}; the checkpoint is incomplete or of another model"
        )
    target_dtype = dtype or next((t.dtype for t in tensors.values() if t.is_floating_point()), torch.float32)
    if dtype is not None or device_of is not None:
        tensors = {k: _place(k, t, dtype, device_of) for k, t in tensors.items()}
    tensors.update(_materialize(model, missing, init_module, target_dtype))
    if missing:
        logger.warning(
            "%s: %d head weight(s) not in the checkpoint were initialised randomly and need training: %s",
            where, len(missing), ", ".join(missing),
        )
    tensors.update({alias: tensors[source] for alias, source in tied.items()})
    model.load_state_dict(tensors, strict=True, assign=True)
    return missing


def _place(key: str, tensor: torch.Tensor, dtype: Optional[torch.dtype], device_of) -> torch.Tensor:
    """``tensor`` in ``dtype`` (floating tensors only) on ``device_of(key)``; itself when nothing changes."""
    device = device_of(key) if device_of is not None else None
    return tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else None)


def _materialize(model: nn.Module, keys: List[str], init_module, dtype: torch.dtype) -> Dict[str, torch.Tensor]:
    """Create and initialise the modules owning ``keys`` (on CPU, in ``dtype``)."""
    owners = {key.rpartition(".")[0] for key in keys}
    for name in sorted(owners):
        module = model.get_submodule(name)
        module.to_empty(device="cpu", recurse=False)
        init_module(module)
        for tensor in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
            if tensor.is_floating_point():
                tensor.data = tensor.data.to(dtype)
    state = model.state_dict(keep_vars=True)
    return {key: state[key] for key in keys}
