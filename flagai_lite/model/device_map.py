"""Big-model placement: whole blocks across GPUs, then CPU (``from_pretrain(device_map=...)``).

A model is cut into *units*: every block of a ``nn.ModuleList`` (``layers.0``, ``encoder.layers.3``)
and every other top-level module with weights (``embeddings``, ``final_norm``, ``lm_head``). A
device map assigns each unit a device, written as Hugging Face writes ``hf_device_map``: a GPU
index (``0``) or ``"cpu"``. Keys may also name a parent of several units (``"layers"``, or ``""``
for the whole model); the most specific key wins.

When units end up on several devices, each gets a forward pre-hook that moves its tensor inputs
(positional, keyword, inside tuples) to its own device; a model on one device gets no hooks.
"""
import functools
import logging
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import torch
from torch import nn

from ..checkpoint import parse_size
from ..errors import CheckpointError, ConfigError

logger = logging.getLogger(__name__)

Device = Union[int, str]  # 0, 1, ... for CUDA devices; "cpu"
DeviceMapSpec = Union[str, Mapping[str, Union[int, str, torch.device]]]
STRATEGIES = ("auto", "balanced", "sequential")
# Share of free GPU memory planned for weights when max_memory is not given (activations need the rest).
_GPU_HEADROOM = 0.9


def placement_units(model: nn.Module) -> List[str]:
    """Names of the modules placed whole, in registration order (blocks of every ModuleList, other children)."""
    units: List[str] = []

    def visit(module: nn.Module, prefix: str) -> None:
        if prefix and _has_own_weights(module):
            raise ConfigError(f"module {prefix[:-1]!r} holds weights next to its blocks; it cannot be split by a device_map")
        for name, child in module.named_children():
            full = prefix + name
            if not _has_weights(child):
                continue
            if isinstance(child, nn.ModuleList):
                units.extend(f"{full}.{i}" for i, block in enumerate(child) if _has_weights(block))
            elif any(isinstance(m, nn.ModuleList) for m in child.modules()):
                visit(child, full + ".")
            else:
                units.append(full)

    if _has_own_weights(model):
        raise ConfigError(f"{type(model).__name__} holds weights outside its modules; it cannot take a device_map")
    visit(model, "")
    return units


def _has_weights(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _has_own_weights(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


def unit_sizes(model: nn.Module, dtype: Optional[torch.dtype] = None) -> Dict[str, int]:
    """Bytes of each unit, floating tensors counted in ``dtype`` (tied weights once, with their first unit)."""
    seen = set()
    sizes = {}
    for unit in placement_units(model):
        module = model.get_submodule(unit)
        total = 0
        for tensor in list(module.parameters()) + list(module.buffers()):
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            itemsize = dtype.itemsize if dtype is not None and tensor.is_floating_point() else tensor.element_size()
            total += tensor.numel() * itemsize
        sizes[unit] = total
    return sizes


# ---------------------------------------------------------------------------------------- resolving
def resolve_device_map(
    model: nn.Module,
    device_map: DeviceMapSpec,
    *,
    max_memory: Optional[Mapping[Union[int, str], Union[int, str]]] = None,
    dtype: Optional[torch.dtype] = None,
) -> Dict[str, Device]:
    """Unit -> device for ``device_map`` ("auto", "balanced", "sequential" or a dict).

    Args:
        model: the model (on the meta device is fine: only shapes are read).
        device_map: a strategy name, or a dict of module name (unit or parent) -> device.
        max_memory: per-device budget for weights, e.g. ``{0: "10GiB", "cpu": "30GiB"}``;
            devices left out get nothing. Default: 90% of each GPU's free memory, then
            the available RAM. Only strategies read it.
        dtype: dtype the floating weights will have (sizes are counted in it).

    Raises:
        ConfigError: an unknown strategy, module or device; unplaced modules; tied weights split
            across devices; or weights that do not fit in ``max_memory``.
    """
    if isinstance(device_map, str):
        if device_map not in STRATEGIES:
            raise ConfigError(f"device_map {device_map!r} is not a strategy; use one of {list(STRATEGIES)} or a dict")
        return infer_device_map(model, max_memory=max_memory, strategy=device_map, dtype=dtype)
    if isinstance(device_map, Mapping):
        if max_memory is not None:
            logger.warning("max_memory is ignored when device_map is a dict")
        return check_device_map(model, device_map)
    raise ConfigError(f"device_map must be None, a strategy name or a dict, got {type(device_map).__name__}")


def check_device_map(model: nn.Module, device_map: Mapping[str, Any]) -> Dict[str, Device]:
    """Expand a user's dict to one device per unit (most specific key wins), checking every key."""
    units = placement_units(model)
    modules = {name for name, _ in model.named_modules()}
    normalized = {}
    for key, device in device_map.items():
        inside = next((u for u in units if key.startswith(u + ".")), None)
        if inside is not None:
            raise ConfigError(f"device_map key {key!r} is inside block {inside!r}; place whole blocks")
        if key not in modules:
            raise ConfigError(f"device_map names unknown module {key!r}; {type(model).__name__} places {units}")
        normalized[key] = normalize_device(device, what=f"device_map[{key!r}]")
    placement: Dict[str, Device] = {}
    unplaced = []
    for unit in units:
        owners = [k for k in normalized if k == "" or k == unit or unit.startswith(k + ".")]
        if not owners:
            unplaced.append(unit)
            continue
        placement[unit] = normalized[max(owners, key=len)]
    if unplaced:
        raise ConfigError(
            f"device_map leaves module(s) {unplaced} unplaced; give each a device (or a parent such as '' or 'layers')"
        )
    _check_tied(model, placement)
    return placement


def _check_tied(model: nn.Module, placement: Mapping[str, Device]) -> None:
    for alias, source in getattr(model, "tied_weights", {}).items():
        a, s = unit_of(alias, placement), unit_of(source, placement)
        if a is not None and s is not None and placement[a] != placement[s]:
            raise ConfigError(
                f"device_map puts {a!r} on {placement[a]!r} and {s!r} on {placement[s]!r}, but {alias} is tied to "
                f"{source}; place both on one device"
            )


def unit_of(key: str, placement: Mapping[str, Any]) -> Optional[str]:
    """The unit of ``placement`` that holds the parameter/module ``key``, if any."""
    return next((u for u in placement if key == u or key.startswith(u + ".")), None)


def normalize_device(device: Any, *, what: str = "device") -> Device:
    """``0`` / ``"cuda:0"`` / ``torch.device("cuda", 0)`` -> ``0``; ``"cpu"`` -> ``"cpu"``; checks it exists."""
    if isinstance(device, torch.device):
        device = "cpu" if device.type == "cpu" else f"{device.type}:{device.index or 0}"
    if isinstance(device, str) and device.startswith("cuda"):
        index = device.partition(":")[2] or "0"
        device = int(index) if index.isdigit() else device
    if isinstance(device, bool) or not isinstance(device, (int, str)):
        raise ConfigError(f"{what} = {device!r} is not a device; use a GPU index, 'cuda:N' or 'cpu'")
    if isinstance(device, int):
        count = torch.cuda.device_count()
        if not 0 <= device < count:
            raise ConfigError(f"{what} = {device!r}: there are {count} CUDA device(s) here")
        return device
    if device == "disk":
        raise ConfigError(f"{what} = 'disk': offloading to disk is not supported; give the CPU more max_memory")
    if device != "cpu":
        try:
            torch.empty(0, device=device)
        except (RuntimeError, ValueError):
            raise ConfigError(f"{what} = {device!r} is not an available device") from None
    return device


def torch_device(device: Device) -> torch.device:
    """A device-map value as a torch.device."""
    return torch.device("cuda", device) if isinstance(device, int) else torch.device(device)


# ---------------------------------------------------------------------------------------- planning
def infer_device_map(
    model: nn.Module,
    *,
    max_memory: Optional[Mapping[Union[int, str], Union[int, str]]] = None,
    strategy: str = "auto",
    dtype: Optional[torch.dtype] = None,
) -> Dict[str, Device]:
    """Fill devices in order (GPU 0, 1, ..., then CPU) with whole units, never going back.

    "sequential" fills each GPU up to its budget. "auto" and "balanced" aim every GPU but the last
    at an even share of the model: a unit moves on to the next GPU once its midpoint would pass
    the share. Budgets are hard limits in both cases; what no GPU holds goes to the CPU.
    """
    sizes = unit_sizes(model, dtype)
    budgets = memory_budgets(max_memory)
    total = sum(sizes.values())
    gpus = [d for d in budgets if d != "cpu"]
    shares = {d: total / len(gpus) for d in gpus[:-1]} if strategy != "sequential" and len(gpus) > 1 else {}
    devices = list(budgets)
    used = {d: 0 for d in devices}
    placement: Dict[str, Device] = {}
    current = 0
    for unit, size in sizes.items():
        partner = _tied_partner(model, unit, placement)
        if partner is not None:  # tied weights live with their partner
            placement[unit] = placement[partner]
            used[placement[unit]] += size
            continue
        while current < len(devices) and not _fits(devices[current], size, used, budgets, shares):
            current += 1
        if current == len(devices):
            raise ConfigError(
                f"the model does not fit in max_memory: {unit!r} needs {_fmt(size)} and no device has room left "
                f"(the weights need {_fmt(total)} in {dtype or 'their dtype'}; budgets "
                f"{ {d: _fmt(b) for d, b in budgets.items()} }); raise max_memory or choose a smaller torch_dtype"
            )
        placement[unit] = devices[current]
        used[devices[current]] += size
    return placement


def _fits(device: Device, size: int, used: Mapping[Device, int], budgets: Mapping[Device, int],
          shares: Mapping[Device, float]) -> bool:
    if used[device] + size > budgets[device]:
        return False
    return device not in shares or used[device] == 0 or used[device] + size / 2 <= shares[device]


def _tied_partner(model: nn.Module, unit: str, placement: Mapping[str, Device]) -> Optional[str]:
    for alias, source in getattr(model, "tied_weights", {}).items():
        for mine, other in ((alias, source), (source, alias)):
            if mine == unit or mine.startswith(unit + "."):
                partner = unit_of(other, placement)
                if partner is not None:
                    return partner
    return None


def memory_budgets(max_memory: Optional[Mapping[Union[int, str], Union[int, str]]] = None) -> Dict[Device, int]:
    """Device -> bytes for weights, GPUs first; from ``max_memory`` or what the machine has free."""
    if max_memory is None:
        budgets: Dict[Device, int] = {}
        for index in range(torch.cuda.device_count()):
            free, _ = torch.cuda.mem_get_info(index)
            budgets[index] = int(free * _GPU_HEADROOM)
        budgets["cpu"] = _available_ram()
        return budgets
    parsed = {}
    for key, value in max_memory.items():
        device = normalize_device(key, what=f"max_memory key {key!r}")
        try:
            parsed[device] = parse_size(value)
        except CheckpointError:
            raise ConfigError(f"max_memory[{key!r}] = {value!r} is not a size; write it like '10GiB' or a byte count") from None
    gpus = sorted(d for d in parsed if isinstance(d, int))
    return {**{d: parsed[d] for d in gpus}, **{d: b for d, b in parsed.items() if not isinstance(d, int)}}


def _available_ram() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _fmt(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


# ---------------------------------------------------------------------------------------- dispatch
def device_for_key(placement: Mapping[str, Device]) -> Callable[[str], torch.device]:
    """``state-dict key -> torch.device`` under ``placement`` (for placing tensors while loading)."""
    devices = {unit: torch_device(d) for unit, d in placement.items()}
    first = next(iter(devices.values()), torch.device("cpu"))

    def device_of(key: str) -> torch.device:
        unit = unit_of(key, devices)
        return devices[unit] if unit is not None else first

    return device_of


def dispatch_model(model: nn.Module, placement: Mapping[str, Device]) -> nn.Module:
    """Move every unit to its device, add input-moving hooks when devices differ, set ``model.device_map``."""
    devices = {unit: torch_device(d) for unit, d in placement.items()}
    for unit, device in devices.items():
        model.get_submodule(unit).to(device)
    handles = []
    if len(set(devices.values())) > 1:
        for unit, device in devices.items():
            hook = functools.partial(_move_inputs, device=device)
            handles.append(model.get_submodule(unit).register_forward_pre_hook(hook, with_kwargs=True))
    model.device_map = dict(placement)
    model._device_map_hooks = handles
    return model


def _move_inputs(module: nn.Module, args: tuple, kwargs: dict, *, device: torch.device):
    return _to(args, device), _to(kwargs, device)


def _to(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj
