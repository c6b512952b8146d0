"""TaskHead base class and the task registry."""
import difflib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, FrozenSet, List, Mapping, Tuple, Type

import torch
from torch import nn

from ..errors import TaskError

ARCHITECTURES = ("encoder", "decoder", "encoder-decoder", "glm")


class TaskHead(nn.Module):
    """A task on top of a backbone.

    Subclasses implement ``forward(backbone, **batch) -> dict`` (``logits``, ``hidden_states`` and
    ``loss`` when labels are in the batch), ``collate(tokenizer, examples, max_length)`` (training
    batches), and the inference methods named by ``capabilities``:
    ``generate`` -> ``generate_text``; ``classify`` -> ``classify``; ``ner`` -> ``extract_entities``;
    ``masklm`` -> ``fill_mask``; ``embed`` -> ``embed``.

    Args:
        architecture: the backbone's ``architecture``.
        hidden_size: the backbone's hidden size.
        task: the registered task name this head serves.
    """

    capabilities: ClassVar[FrozenSet[str]] = frozenset()

    def __init__(self, *, architecture: str, hidden_size: int, task: str):
        super().__init__()
        self.architecture, self.hidden_size, self.task = architecture, hidden_size, task

    def options(self) -> Dict[str, Any]:
        """JSON-able keyword options that rebuild this head (stored in task.json)."""
        return {}

    def collate(self, tokenizer: Any, examples: List[Mapping[str, Any]], max_length: int = 512) -> Dict[str, torch.Tensor]:
        """Tensors for a training batch of raw examples (see each head for the example fields)."""
        raise NotImplementedError


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its head class, the backbone architectures it fits and default options."""

    name: str
    head: Type[TaskHead]
    architectures: Tuple[str, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    aliases: Tuple[str, ...] = ()
    description: str = ""

    def build(self, backbone: nn.Module, **options: Any) -> TaskHead:
        """A fresh head for ``backbone``; TaskError when the backbone's architecture does not fit."""
        check_supported(self, backbone.architecture, type(backbone).__name__)
        return self.head(architecture=backbone.architecture, hidden_size=backbone.hidden_size, task=self.name,
                         **{**self.defaults, **options})


_TASKS: Dict[str, TaskSpec] = {}
_ALIASES: Dict[str, str] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add a task (and its aliases); refuses a name that is already taken."""
    for name in (spec.name, *spec.aliases):
        if name in _ALIASES:
            raise TaskError(f"task name {name!r} is already registered (to {_ALIASES[name]!r})")
    bad = [a for a in spec.architectures if a not in ARCHITECTURES]
    if bad:
        raise TaskError(f"task {spec.name!r} names unknown architectures {bad}; use {ARCHITECTURES}")
    _TASKS[spec.name] = spec
    for name in (spec.name, *spec.aliases):
        _ALIASES[name] = spec.name
    return spec


def task_names() -> List[str]:
    """Every task name and alias, sorted."""
    return sorted(_ALIASES)


def get_task(name: str) -> TaskSpec:
    """The spec of ``name`` (case-insensitive, '_' = '-'); TaskError listing the valid names otherwise."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in _ALIASES:
        close = difflib.get_close_matches(key, task_names(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise TaskError(f"unknown task {name!r}.{hint} Valid tasks: {', '.join(task_names())}")
    return _TASKS[_ALIASES[key]]


def tasks_for_architecture(architecture: str) -> List[str]:
    """Task names (not aliases) a backbone of ``architecture`` supports."""
    return sorted(n for n, spec in _TASKS.items() if architecture in spec.architectures)


def check_supported(spec: TaskSpec, architecture: str, model_label: str) -> None:
    """TaskError naming the tasks ``model_label`` can do when ``spec`` does not fit it."""
    if architecture not in spec.architectures:
        raise TaskError(
            f"task {spec.name!r} is not available for {model_label} ({architecture or 'unknown'} architecture); "
            f"it can do: {', '.join(tasks_for_architecture(architecture)) or 'nothing'}"
        )
