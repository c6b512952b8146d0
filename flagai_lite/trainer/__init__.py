"""Trainer, its typed config and YAML loader (lazy: ``load_train_config`` does not import torch's optimizers).

    from flagai_lite.trainer import Trainer, load_train_config
    config, example = load_train_config("configs/base.yaml")   # + command-line overrides
    Trainer(config).train(model, train_dataset, valid_dataset, metric_methods=[("acc", accuracy)])
"""
import importlib
from typing import Any

_LAZY = {
    "Trainer": "flagai_lite.trainer.trainer",
    "TrainerCallback": "flagai_lite.trainer.trainer",
    "TrainerState": "flagai_lite.trainer.state",
    "TrainerConfig": "flagai_lite.trainer.config",
    "load_train_config": "flagai_lite.trainer.config",
    "accuracy": "flagai_lite.trainer.evaluation",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flagai_lite.trainer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
