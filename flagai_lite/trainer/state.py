"""Training state, RNG capture, and checkpoint directories written atomically.

``save_dir/latest`` and ``save_dir/best`` are model directories (the model's own ``save_pretrained``),
so ``Model.from_pretrain`` loads them directly. ``latest`` also holds ``trainer_state.pt`` (optimizer,
scheduler, grad scaler, RNG states, data position; tensors and plain types only, read back with
``torch.load(weights_only=True)``); both hold ``trainer_state.json``, a readable summary.
"""
import dataclasses
import json
import logging
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch
from torch import nn

from ..errors import CheckpointError, TrainerError
from ..hub.fsutil import fsync_dir

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"
SUMMARY_FILE = "trainer_state.json"
FORMAT_VERSION = 1


@dataclasses.dataclass
class TrainerState:
    """Where training stands; what callbacks see and what a checkpoint restores.

    Attributes:
        step: optimizer steps done.
        epoch / batch_in_epoch: the data position (micro-batches of this epoch already consumed).
        total_steps: optimizer steps the run will make.
        lr: learning rate of the last optimizer step.
        loss: mean training loss over the last logging window (None before the first log).
        metrics: the last evaluation's results.
        best_metric / best_step: best value of ``config.best_metric`` so far and where it was reached.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    total_steps: int = 0
    lr: float = 0.0
    loss: Optional[float] = None
    metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
    best_metric: Optional[float] = None
    best_step: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (JSON-able, weights_only-loadable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TrainerState":
        """Inverse of :meth:`to_dict` (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ------------------------------------------------------------------------------------------ RNG
def seed_everything(seed: int) -> None:
    """Seed python's, numpy's (when installed) and torch's (CPU and CUDA) generators."""
    random.seed(seed)
    torch.manual_seed(seed)
    np = _numpy()
    if np is not None:
        np.random.seed(seed % 2**32)


def capture_rng() -> Dict[str, Any]:
    """This process's RNG states as tensors and plain types."""
    state: Dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    np = _numpy()
    if np is not None:
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        state["numpy"] = {"kind": kind, "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                          "has_gauss": int(has_gauss), "cached": float(cached)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    np = _numpy()
    if np is not None and "numpy" in state:
        s = state["numpy"]
        np.random.set_state((s["kind"], s["keys"].numpy().astype("uint32"), s["pos"], s["has_gauss"], s["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class preserved_rng:
    """Context manager: every RNG (python, numpy, torch CPU/CUDA) is as before on exit.

    Evaluation runs inside it, so evaluating (or not) never changes the training run.
    """

    def __enter__(self) -> "preserved_rng":
        self._state = capture_rng()
        return self

    def __exit__(self, *exc: Any) -> None:
        restore_rng(self._state)


def _numpy():
    try:
        import numpy
    except ImportError:  # numpy is optional
        return None
    return numpy


# ------------------------------------------------------------------------------ directories
def write_dir_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Fill a fresh temporary directory with ``write(tmp)``, then swap it in as ``target``.

    The old ``target`` is moved to ``.<name>.old`` before the new one is renamed into place and
    removed after, so at every instant either ``target`` or ``.<name>.old`` is a complete directory
    (:func:`recover_dir` puts the old one back after a kill between the two renames). Files are
    fsynced before the swap so a power loss does not leave a renamed but empty directory.
    """
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # (not mkdtemp: its 0700 mode would make checkpoints private to the user)
    try:
        write(tmp)
        _fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = parent / f".{target.name}.old"
    if target.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(tmp, target)
    fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(target: Path) -> None:
    """Repair what a kill during :func:`write_dir_atomically` left: restore ``.old``, drop temporaries."""
    old = target.parent / f".{target.name}.old"
    if old.exists():
        if target.exists():
            shutil.rmtree(old)
        else:
            logger.warning("%s is missing after an interrupted save; restoring the previous one", target)
            os.replace(old, target)
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(directory)


# ------------------------------------------------------------------------------ checkpoints
def save_checkpoint(target: Path, model: nn.Module, summary: Dict[str, Any],
                    training_state: Optional[Dict[str, Any]] = None) -> None:
    """Atomically write ``model.save_pretrained`` + ``trainer_state.json`` (+ ``trainer_state.pt``)."""

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        if training_state is not None:
            torch.save(training_state, tmp / STATE_FILE)
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    write_dir_atomically(target, write)


def load_training_state(directory: Path) -> Dict[str, Any]:
    """``trainer_state.pt`` of a checkpoint, loaded with ``weights_only=True``."""
    path = directory / STATE_FILE
    if not path.is_file():
        raise TrainerError(f"{path} not found: {directory} is not a resumable checkpoint (save_dir/latest is)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors of every kind: report the file
        raise TrainerError(f"{path}: cannot read the training state ({err})") from err
    if state.get("format") != FORMAT_VERSION:
        raise TrainerError(f"{path}: training-state format {state.get('format')!r}, expected {FORMAT_VERSION}")
    return state


def load_model_weights(model: nn.Module, directory: Path) -> None:
    """Copy the weights of the checkpoint ``directory`` into ``model`` (tied aliases may be absent).

    Raises:
        TrainerError: the checkpoint lacks weights of the model or holds unknown ones.
    """
    from ..checkpoint import load_model_state
    from ..model.base import copy_saved_weights

    try:
        if callable(getattr(model, "load_pretrained_weights", None)):  # our models know their saved key layout
            model.load_pretrained_weights(directory)
        else:  # any other module: every key checked before anything is copied
            tied = getattr(model, "tied_weights", {}) or {}
            copy_saved_weights(model, load_model_state(directory).tensors, tied=tied, where=str(directory))
    except CheckpointError as err:
        raise TrainerError(f"{err}; resume with the model the run was started with") from err
