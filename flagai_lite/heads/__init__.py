"""Task heads composed with backbones, and the registry that maps FlagAI task names to them.

A head is a small module plus the task's loss, input layout (``collate``) and inference methods.
It never owns the backbone: :class:`~flagai_lite.task_model.TaskModel` passes it in, so weights
stay under ``backbone.`` / ``head.`` and a backbone checkpoint fits every head.
"""
from .base import TaskHead, TaskSpec, get_task, register_task, task_names, tasks_for_architecture
from . import classification, embedding, language_model, seq2seq, token_classification  # noqa: F401  (register)

__all__ = ["TaskHead", "TaskSpec", "get_task", "register_task", "task_names", "tasks_for_architecture"]
