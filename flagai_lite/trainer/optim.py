"""AdamW with weight-decay groups, and the warm-up + decay learning-rate schedule."""
import math
from typing import Callable, Dict, List

import torch
from torch import nn

from .config import TrainerConfig


def param_groups(model: nn.Module, weight_decay: float) -> List[Dict]:
    """Two AdamW groups: weight matrices (decayed) and everything with < 2 dims (biases, norm weights).

    Embedding tables are matrices and are decayed, as in Hugging Face's Trainer and nanoGPT: GPT-2
    and T5 tie the token embeddings to the output projection, which is a weight matrix like any other.
    Frozen parameters (``requires_grad=False``) are left out; a tied parameter appears once.
    """
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` with the config's lr, betas and eps."""
    return torch.optim.AdamW(
        param_groups(model, config.weight_decay),
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
    )


def warm_up_steps(config: TrainerConfig, total_steps: int) -> int:
    """Warm-up length in optimizer steps (``warm_up_iters``, or ``warm_up`` x total)."""
    return config.warm_up_iters or int(config.warm_up * total_steps)


def lr_lambda(schedule: str, warm_up: int, total_steps: int, min_ratio: float = 0.0) -> Callable[[int], float]:
    """Multiplier of the peak lr for the optimizer step after ``step`` completed ones.

    Warm-up rises linearly to 1 over ``warm_up`` steps ((s + 1) / warm_up); then "linear" and
    "cosine" fall from 1 towards ``min_ratio`` at ``total_steps``, "constant" stays at 1. A plain
    function (not an object), so LambdaLR's state_dict does not freeze it: the schedule always
    comes from the current config.
    """

    def factor(step: int) -> float:
        if step < warm_up:
            return (step + 1) / warm_up
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warm_up) / max(1, total_steps - warm_up))
        shape = 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return min_ratio + (1.0 - min_ratio) * shape

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainerConfig,
                    total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over :func:`lr_lambda`, stepped once per optimizer step."""
    factor = lr_lambda(config.lr_schedule, warm_up_steps(config, total_steps), total_steps, config.min_lr_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
