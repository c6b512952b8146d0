"""Reading and writing weight files: safetensors, pytorch_model.bin, and their sharded indexes.

Reads are zero-copy where the format allows: safetensors tensors are views of a private
memory map, and zip-format ``.bin`` files are memory-mapped by torch's loader. Pickles are only
ever opened with ``weights_only=True``. Writes go to a temporary name and are renamed into
place, so a crash never leaves a half-written file under a real name.
"""
import json
import logging
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping

import torch

from ..errors import CheckpointError, UnsafeCheckpointError

logger = logging.getLogger(__name__)

SAFE_SINGLE, SAFE_INDEX = "model.safetensors", "model.safetensors.index.json"
BIN_SINGLE, BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
# Search order: an index wins over a single file of the same format, safetensors over pickle.
WEIGHT_NAMES = (SAFE_INDEX, SAFE_SINGLE, BIN_INDEX, BIN_SINGLE)
# Files are created with the mode the umask allows (safetensors alone would make them 0600).
_UMASK = os.umask(0)
os.umask(_UMASK)
_SHARD_RE = re.compile(r"^(model|pytorch_model)-\d{5}-of-\d{5}\.(safetensors|bin)$")
# Wrappers found around real state dicts (FlagAI saves {"module": state_dict}).
_WRAPPER_KEYS = ("module", "state_dict", "model")


@dataclass
class LoadedState:
    """Tensors of a checkpoint directory and, for error messages, the file each key came from."""

    tensors: Dict[str, torch.Tensor]
    file_of: Dict[str, str] = field(default_factory=dict)
    files: List[str] = field(default_factory=list)


def parse_size(size: "int | str") -> int:
    """``"5GB"`` / ``"500MB"`` / ``"10KiB"`` / ``1024`` -> bytes."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*", str(size), flags=re.IGNORECASE)
    if not match:
        raise CheckpointError(f"cannot read max_shard_size {size!r}; write it like '5GB', '500MB' or a byte count")
    number, unit, binary = float(match.group(1)), match.group(2).upper(), match.group(3)
    base = 1024 if binary else 1000
    return int(number * base ** "KMGT".find(unit) * base) if unit else int(number)


def find_weight_files(model_dir: "os.PathLike[str] | str") -> List[Path]:
    """The weight files of ``model_dir`` in load order (shards listed by the index).

    Raises:
        CheckpointError: no weight file, or an index naming a shard that is not there.
    """
    model_dir = Path(model_dir)
    for name in WEIGHT_NAMES:
        path = model_dir / name
        if not path.is_file():
            continue
        if not name.endswith(".index.json"):
            return [path]
        weight_map = _read_index(path)
        shards = sorted(set(weight_map.values()))
        missing = [s for s in shards if not (model_dir / s).is_file()]
        if missing:
            raise CheckpointError(f"{path} lists shard(s) {missing} that are not in {model_dir}; download them again")
        return [model_dir / s for s in shards]
    raise CheckpointError(
        f"no weight file in {model_dir}: looked for {', '.join(WEIGHT_NAMES)}"
    )


def _read_index(path: Path) -> Dict[str, str]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        weight_map = index["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not a valid shard index ({err!r}); it needs a 'weight_map' object") from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(f"{path}: 'weight_map' must map tensor names to shard file names")
    for shard in weight_map.values():
        if Path(shard).name != shard:
            raise CheckpointError(f"{path}: shard name {shard!r} must be a plain file name inside the directory")
    return weight_map


def load_weight_file(path: "os.PathLike[str] | str") -> Dict[str, torch.Tensor]:
    """Tensors of one ``.safetensors`` or ``.bin`` file (memory-mapped where possible).

    Raises:
        UnsafeCheckpointError: a pickle holds objects other than tensors (it could run code).
        CheckpointError: the file is truncated, corrupt or of an unknown kind.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    if path.suffix in (".bin", ".pt", ".pth"):
        return _load_pickle(path)
    raise CheckpointError(f"{path}: unknown weight file kind; expected .safetensors or .bin")


def _load_safetensors(path: Path) -> Dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # safetensors raises its own Rust-side error type
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({err}); it may be truncated or corrupt, download it again"
        ) from None


def _load_pickle(path: Path) -> Dict[str, torch.Tensor]:
    try:
        obj = _torch_load(path)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path}: refused to load: the pickle holds objects other than tensors and could run code "
            f"({str(err).splitlines()[0]}). Re-save it as safetensors from a trusted environment."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err}); it may be truncated") from None
    return _unwrap_state_dict(obj, path)


def _torch_load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err) and "zip" not in str(err).lower():
            raise
        # Legacy (pre-zip) files cannot be memory-mapped; they are read whole.
        return torch.load(path, map_location="cpu", weights_only=True)


def _unwrap_state_dict(obj, path: Path) -> Dict[str, torch.Tensor]:
    while isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) == len(obj):
            return tensors
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    raise CheckpointError(f"{path}: does not hold a state dict (a mapping of names to tensors)")


def load_model_state(model_dir: "os.PathLike[str] | str") -> LoadedState:
    """Every tensor of ``model_dir``'s checkpoint, merged across shards."""
    state = LoadedState(tensors={})
    for path in find_weight_files(model_dir):
        tensors = load_weight_file(path)
        state.files.append(str(path))
        for key, tensor in tensors.items():
            if key in state.tensors:
                raise CheckpointError(f"key {key!r} appears in both {state.file_of[key]} and {path}")
            state.tensors[key] = tensor
            state.file_of[key] = str(path)
    return state


# ---------------------------------------------------------------------------------------- writing
def save_model_state(
    tensors: Mapping[str, torch.Tensor],
    directory: "os.PathLike[str] | str",
    *,
    max_shard_size: "int | str" = "5GB",
    safe_serialization: bool = True,
) -> List[Path]:
    """Write ``tensors`` to ``directory`` as one file or size-bounded shards plus an index.

    Tensors must not share memory (store tied weights once). Weight files of an earlier save that
    this save does not rewrite are removed, so the directory never mixes two checkpoints.

    Returns:
        The weight and index files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shards = _plan_shards(tensors, parse_size(max_shard_size))
    single, index_name = (SAFE_SINGLE, SAFE_INDEX) if safe_serialization else (BIN_SINGLE, BIN_INDEX)
    stem, suffix = single.rsplit(".", 1)
    written: List[Path] = []
    weight_map: Dict[str, str] = {}
    for i, keys in enumerate(shards, start=1):
        name = single if len(shards) == 1 else f"{stem}-{i:05d}-of-{len(shards):05d}.{suffix}"
        shard = {k: _standalone(tensors[k]) for k in keys}
        _write_atomically(directory / name, shard, safe_serialization)
        written.append(directory / name)
        weight_map.update({k: name for k in keys})
    if len(shards) > 1:
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        _write_text_atomically(directory / index_name, json.dumps(index, indent=2) + "\n")
        written.append(directory / index_name)
    _remove_stale(directory, keep={p.name for p in written})
    return written


def _plan_shards(tensors: Mapping[str, torch.Tensor], limit: int) -> List[List[str]]:
    shards: List[List[str]] = [[]]
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += nbytes
    return shards


def _standalone(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor that owns exactly its bytes (pickling a view would save its whole storage)."""
    tensor = tensor.detach()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    owns = tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
    return tensor.contiguous() if owns and tensor.storage_offset() == 0 else tensor.clone(memory_format=torch.contiguous_format)


def _write_atomically(path: Path, tensors: Dict[str, torch.Tensor], safe: bool) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if safe:
            from safetensors.torch import save_file

            save_file(tensors, str(tmp), metadata={"format": "pt"})
        else:
            torch.save(tensors, tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _remove_stale(directory: Path, keep: set) -> None:
    for path in directory.iterdir():
        is_weight = path.name in WEIGHT_NAMES or _SHARD_RE.match(path.name)
        if is_weight and path.name not in keep:
            logger.info("removing %s left by an earlier save", path)
            path.unlink()
