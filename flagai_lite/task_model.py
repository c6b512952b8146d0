"""TaskModel: a backbone with a task head; saving and loading fine-tuned model directories.

A fine-tuned directory is a backbone directory plus ``task.json`` (task name and head options)
and the head's weights stored under ``head.`` beside the backbone's own keys, so the same
directory also loads as a plain backbone (``BertModel.from_pretrain``) for another task.
"""
import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch import nn

from .checkpoint import load_model_state, save_model_state
from .errors import CapabilityError, CheckpointError, ConfigError
from .heads import TaskHead, get_task
from .model.base import BaseModel
from .model.config import read_json_config
from .model.loading import resolve_dtype
from .model.registry import model_class_for_dir

logger = logging.getLogger(__name__)
TASK_FILE = "task.json"
HEAD_PREFIX = "head."


class TaskModel(nn.Module):
    """``head(backbone, **batch)``: the model the AutoLoader returns.

    ``forward(**batch)`` takes what the head's ``collate`` builds and returns a dict with ``logits``,
    ``hidden_states`` and ``loss`` when labels are given.
    """

    def __init__(self, backbone: BaseModel, head: TaskHead):
        super().__init__()
        self.backbone, self.head = backbone, head

    @property
    def task(self) -> str:
        return self.head.task

    @property
    def config(self):
        return self.backbone.config

    @property
    def capabilities(self) -> frozenset:
        return self.head.capabilities

    def forward(self, **batch: Any) -> Dict[str, Any]:
        return self.head(self.backbone, **batch)

    def generate(self, **kwargs: Any) -> torch.Tensor:
        """The backbone's ``generate`` (for generation tasks)."""
        if "generate" not in self.capabilities:
            raise CapabilityError(f"task {self.task!r} does not generate text")
        return self.backbone.generate(**kwargs)

    def chat(self, tokenizer: Any, query: str, history: Any = None, **generate_kwargs: Any):
        """The backbone's ``chat`` (decoder models with a chat template): ``(response, history)``."""
        if "chat" not in self.capabilities and "generate" not in self.capabilities:
            raise CapabilityError(f"task {self.task!r} cannot chat")
        return self.backbone.chat(tokenizer, query, history, **generate_kwargs)

    def stream_chat(self, tokenizer: Any, query: str, history: Any = None, **generate_kwargs: Any):
        """The backbone's ``stream_chat``: yields ``(response so far, history)``."""
        if "chat" not in self.capabilities and "generate" not in self.capabilities:
            raise CapabilityError(f"task {self.task!r} cannot chat")
        return self.backbone.stream_chat(tokenizer, query, history, **generate_kwargs)

    def save_pretrained(self, save_directory: Union[str, "os.PathLike[str]"], *,
                        max_shard_size: Union[int, str] = "5GB", safe_serialization: bool = True) -> None:
        """Write config.json, task.json and the weights (backbone keys as is, head keys under ``head.``)."""
        directory = Path(save_directory)
        tied = self.backbone.tied_weights
        state = {k: v for k, v in self.backbone.state_dict().items() if k not in tied}
        state.update({HEAD_PREFIX + k: v for k, v in self.head.state_dict().items()})
        save_model_state(state, directory, max_shard_size=max_shard_size, safe_serialization=safe_serialization)
        self.backbone.config.save(directory / "config.json")
        from . import __version__

        task = {"task": self.task, "head": self.head.options(), "flagai_lite_version": __version__}
        tmp = directory / f".{TASK_FILE}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(task, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, directory / TASK_FILE)

    def load_pretrained_weights(self, directory: Union[str, "os.PathLike[str]"]) -> None:
        """Copy the weights of a :meth:`save_pretrained` directory into this model (e.g. to resume training)."""
        from .model.base import copy_saved_weights

        saved = load_model_state(directory).tensors
        tensors = {k if k.startswith(HEAD_PREFIX) else "backbone." + k: v for k, v in saved.items()}
        tied = {"backbone." + a: "backbone." + s for a, s in self.backbone.tied_weights.items()}
        copy_saved_weights(self, tensors, tied=tied, where=str(directory))

    @classmethod
    def from_pretrain(cls, download_path: Union[str, "os.PathLike[str]"], model_name: Optional[str] = None, *,
                      task: Optional[str] = None, device: Union[str, torch.device] = "cpu", torch_dtype: Any = None,
                      hub_options: Optional[Dict[str, Any]] = None, **head_options: Any) -> "TaskModel":
        """Load a fine-tuned directory (its task.json names the task) or attach ``task``'s head to a backbone."""
        from .model.base import resolve_model_dir

        model_dir = resolve_model_dir(download_path, model_name, **(hub_options or {}))
        return load_task_model(model_dir, task, device=device, torch_dtype=torch_dtype, **head_options)


def read_task_file(model_dir: Path) -> Optional[Dict[str, Any]]:
    """The directory's task.json, or None when it has none."""
    path = Path(model_dir) / TASK_FILE
    if not path.is_file():
        return None
    data = read_json_config(path)
    if not isinstance(data.get("task"), str) or not isinstance(data.get("head", {}), dict):
        raise ConfigError(f"{path}: needs a 'task' name and a 'head' object of options")
    return data


def load_task_model(model_dir: Union[str, Path], task: Optional[str] = None, *, device: Union[str, torch.device] = "cpu",
                    torch_dtype: Any = None, seed: Optional[int] = None, **head_options: Any) -> TaskModel:
    """Build backbone + head from ``model_dir``; the head's weights load when the directory was fine-tuned for ``task``.

    ``seed`` makes the initialisation of a new head reproducible (without touching the global RNG).

    Raises:
        TaskError: unknown task, or one the backbone cannot do.
        CheckpointError: head weights that do not fit the head built from the options.
    """
    model_dir = Path(model_dir)
    stored = read_task_file(model_dir)
    if task is None:
        if stored is None:
            raise ConfigError(f"{model_dir} has no {TASK_FILE}; name the task (e.g. task='classification')")
        task = stored["task"]
    spec = get_task(task)
    same_task = stored is not None and get_task(stored["task"]).name == spec.name
    options = {**(stored.get("head", {}) if same_task else {}), **head_options}

    backbone_cls = model_class_for_dir(model_dir)
    raw = read_json_config(model_dir / "config.json")
    native = "flagai_lite_version" in raw
    config = backbone_cls.config_class.from_dict(raw if native else backbone_cls.config_from_foreign(raw),
                                                 source=str(model_dir / "config.json"))
    state = load_model_state(model_dir)
    head_tensors = {k[len(HEAD_PREFIX):]: state.tensors.pop(k) for k in list(state.tensors)
                    if native and k.startswith(HEAD_PREFIX)}
    if head_tensors and not same_task:
        logger.info("%s: ignoring the head weights of task %r; building a new %r head", model_dir,
                    stored["task"] if stored else "?", spec.name)
        head_tensors = {}
    backbone = backbone_cls.from_state(config, state, native=native, torch_dtype=torch_dtype)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        head = spec.build(backbone, **options)
    _fill_head(head, head_tensors, model_dir)
    dtype = resolve_dtype(torch_dtype)
    if dtype is not None:
        head.to(dtype)
    return TaskModel(backbone, head).to(device).eval()


def _fill_head(head: TaskHead, tensors: Dict[str, torch.Tensor], model_dir: Path) -> None:
    expected = head.state_dict()
    if not tensors:
        if expected:
            logger.warning("%s: task head %r is new: %d weight(s) initialised randomly and need training: %s",
                           model_dir, head.task, len(expected), ", ".join(sorted(expected)))
        return
    unexpected, missing = sorted(set(tensors) - set(expected)), sorted(set(expected) - set(tensors))
    if unexpected or missing:
        raise CheckpointError(f"{model_dir}: head weights do not fit the {head.task!r} head: "
                              f"unexpected {[HEAD_PREFIX + k for k in unexpected]}, missing {[HEAD_PREFIX + k for k in missing]}")
    for key, tensor in tensors.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(f"{model_dir}: shape mismatch for {HEAD_PREFIX + key}: checkpoint has "
                                  f"{tuple(tensor.shape)}, the head expects {tuple(expected[key].shape)}; check task.json")
    head.load_state_dict(tensors, strict=True)
