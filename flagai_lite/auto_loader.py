"""AutoLoader: ``(task, model name) -> model with its task head + tokenizer``, as FlagAI users write it.

    loader = AutoLoader("title-generation", model_name="GLM-large-ch", model_dir="./checkpoints")
    model, tokenizer = loader.get_model(), loader.get_tokenizer()
"""
import logging
import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch

from .errors import HubError, TaskError
from .heads import get_task
from .heads.base import check_supported
from .model.registry import find_preset, model_class_for_dir, preset_names
from .task_model import TaskModel, load_task_model

logger = logging.getLogger(__name__)


class AutoLoader:
    """Resolve a model for a task, fetch what is missing through the hub, and build it.

    Args:
        task_name: a FlagAI task (``heads.task_names()``), e.g. "title-generation", "ner-crf".
        model_name: a FlagAI model name (case-insensitive, e.g. "GLM-large-ch"), any name on the hub,
            or a path to a local model directory. A fine-tuned ``<model_name>-<task>`` is preferred
            when it is in ``model_dir`` or on the hub.
        model_dir: where models live (FlagAI's ``model_dir``): ``model_dir/<name>/``.
        device: where the model ends up.
        torch_dtype: None/"auto" keep the checkpoint's dtype; or a dtype to convert to.
        hub_options: keyword arguments for :func:`flagai_lite.hub.download` (endpoint, offline, ...).
        seed: seeds the initialisation of a new task head, so fine-tuning runs repeat exactly.
        **model_kwargs: head options (``class_num``, ``labels``, ``inner_dim``, ...).

    Raises:
        TaskError: unknown task, unknown model, a task the backbone cannot do, missing head options.
    """

    def __init__(self, task_name: str, model_name: str, model_dir: Union[str, "os.PathLike[str]"] = "./checkpoints",
                 *, device: Union[str, torch.device] = "cpu", torch_dtype: Any = None,
                 hub_options: Optional[Dict[str, Any]] = None, seed: Optional[int] = None, **model_kwargs: Any):
        self.spec = get_task(task_name)
        self.device, self.torch_dtype, self.model_kwargs, self.seed = device, torch_dtype, model_kwargs, seed
        self.hub_options = dict(hub_options or {})
        self.model_dir = Path(model_dir).expanduser()
        self.model_path = self._resolve(model_name)
        backbone_cls = model_class_for_dir(self.model_path)
        check_supported(self.spec, backbone_cls.architecture, f"{backbone_cls.__name__} ({self.model_path.name})")
        self._model: Optional[TaskModel] = None
        self._tokenizer = None

    def _resolve(self, model_name: str) -> Path:
        path = Path(model_name).expanduser()
        if (path / "config.json").is_file():
            return path
        preset = find_preset(model_name)
        name = preset[0] if preset else str(model_name)
        if preset is not None:  # fail before downloading gigabytes
            check_supported(self.spec, preset[1].architecture, f"{name} ({preset[1].__name__})")
        from .hub import download

        finetuned = f"{name}-{self.spec.name}"
        # A probe: one attempt, so an unreachable hub does not delay a model that is already local.
        probe_options = {**self.hub_options, "retries": 0}
        try:
            return download(finetuned, self.model_dir, **probe_options)
        except HubError as err:
            logger.debug("no fine-tuned %s (%s); using %s", finetuned, err, name)
        try:
            return download(name, self.model_dir, **self.hub_options)
        except HubError as err:
            raise TaskError(
                f"unknown model {model_name!r}: not a model directory, not in {self.model_dir}, and the hub could not "
                f"provide it ({err}). FlagAI names: {', '.join(preset_names())}; or pass a path to a model directory."
            ) from err

    def get_model(self) -> TaskModel:
        """The backbone with the task head, weights loaded, in eval mode (built once)."""
        if self._model is None:
            self._model = load_task_model(self.model_path, self.spec.name, device=self.device,
                                          torch_dtype=self.torch_dtype, seed=self.seed, **self.model_kwargs)
        return self._model

    def get_tokenizer(self):
        """The tokenizer stored with the model."""
        if self._tokenizer is None:
            from .tokenizer import Tokenizer

            self._tokenizer = Tokenizer.from_pretrained(self.model_path)
        return self._tokenizer
