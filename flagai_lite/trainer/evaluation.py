"""Evaluation: mean loss plus user metrics over a whole validation set, sharded across processes.

Metric contract: ``metric_methods=[("acc", fn), ...]`` where ``fn(predictions, labels) -> float`` is
called once per evaluation with two lists holding one entry per validation example, in dataset order,
gathered from every process (so each process computes the same value). By default an example's
prediction is its row of ``outputs["logits"]`` and its label its row of ``batch["labels"]`` (CPU
tensors); ``predict_fn(outputs, batch) -> (predictions, labels)`` replaces that, returning anything
indexable by example (a tensor with a batch dimension, or a list: decoded strings, spans...). Reduce
there (argmax, decode) to keep memory small on large outputs.
"""
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from ..errors import TrainerError
from .data import ShardSampler, batch_size_of, make_loader, move_to_device
from .distributed import DistContext
from .state import preserved_rng

MetricFn = Callable[[List[Any], List[Any]], float]
PredictFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Tuple[Sequence[Any], Sequence[Any]]]


def default_predict(outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> Tuple[Sequence[Any], Sequence[Any]]:
    """``(outputs["logits"], batch["labels"])``: the default per-example predictions and labels."""
    if "logits" not in outputs or "labels" not in batch:
        raise TrainerError(
            "metric_methods need predictions and labels: the default takes outputs['logits'] and batch['labels'] "
            f"(outputs have {list(outputs)}, batch has {list(batch)}); pass predict_fn(outputs, batch)"
        )
    return outputs["logits"], batch["labels"]


def check_metric_methods(metric_methods: Optional[Sequence[Any]]) -> List[Tuple[str, MetricFn]]:
    """Validated ``[(name, fn)]``; TrainerError naming the bad entry."""
    checked: List[Tuple[str, MetricFn]] = []
    for entry in metric_methods or ():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str)
                and callable(entry[1])):
            raise TrainerError(f"metric_methods entries must be (name, fn(predictions, labels) -> float); got {entry!r}")
        if entry[0] == "loss" or entry[0] in dict(checked):
            raise TrainerError(f"metric name {entry[0]!r} is used twice (the model's own loss is reported as 'loss')")
        checked.append((entry[0], entry[1]))
    return checked


def evaluate(
    model: nn.Module,
    dataset: Any,
    *,
    dist_ctx: DistContext,
    batch_size: int,
    collate_fn: Optional[Callable],
    num_workers: int,
    autocast: Callable[[], Any],
    metric_methods: Sequence[Tuple[str, MetricFn]] = (),
    predict_fn: Optional[PredictFn] = None,
) -> Dict[str, float]:
    """``{"loss": mean loss (when the model returns one), name: fn(...) for each metric}``.

    Runs ``model`` (unwrapped, in eval mode, without gradients) over this process's share of
    ``dataset``; leaves every RNG and the model's train/eval mode as they were.
    """
    sampler = ShardSampler(len(dataset), num_replicas=dist_ctx.world_size, rank=dist_ctx.rank, shuffle=False,
                           pad=False)
    loader = make_loader(dataset, sampler, batch_size=batch_size, collate_fn=collate_fn, num_workers=num_workers,
                         seed=0)
    predict = predict_fn or default_predict
    loss_total = torch.zeros(2, dtype=torch.float64, device=dist_ctx.device)  # (sum of loss * n, n)
    predictions: List[Any] = []
    labels: List[Any] = []
    was_training = model.training
    model.eval()
    try:
        with preserved_rng(), torch.no_grad():
            for batch in loader:
                batch = move_to_device(batch, dist_ctx.device)
                with autocast():
                    outputs = model(**batch)
                if outputs.get("loss") is not None:
                    n = batch_size_of(batch)
                    loss_total += torch.stack([outputs["loss"].detach().double() * n,
                                               torch.tensor(float(n), dtype=torch.float64, device=dist_ctx.device)])
                if metric_methods:
                    preds, labs = predict(outputs, batch)
                    predictions.extend(_examples(preds))
                    labels.extend(_examples(labs))
    finally:
        model.train(was_training)
    results: Dict[str, float] = {}
    loss_sum, count = dist_ctx.all_reduce_sum(loss_total).tolist()
    if count > 0:
        results["loss"] = loss_sum / count
    if metric_methods:
        predictions, labels = _gather_in_order(dist_ctx, predictions), _gather_in_order(dist_ctx, labels)
        for name, fn in metric_methods:
            results[name] = float(fn(predictions, labels))
    return results


def _examples(values: Any) -> List[Any]:
    """One entry per example: rows of a tensor (on CPU), or the items of a sequence."""
    if isinstance(values, torch.Tensor):
        return list(values.detach().cpu().unbind(0))
    return list(values)


def _gather_in_order(dist_ctx: DistContext, local: List[Any]) -> List[Any]:
    """Every process's examples, back in dataset order (rank r holds examples r, r + W, r + 2W...)."""
    shards = dist_ctx.all_gather_object(local)
    if len(shards) == 1:
        return shards[0]
    ordered: List[Any] = []
    for j in range(max(len(s) for s in shards)):
        ordered.extend(s[j] for s in shards if j < len(s))
    return ordered


def accuracy(predictions: List[Any], labels: List[Any]) -> float:
    """Share of correct predictions; logits are reduced by argmax over the last dim, label -100 is ignored.

    Works for sequence classification (logits ``[C]``, label ``[]``) and token classification
    (logits ``[L, C]``, labels ``[L]``) alike.
    """
    correct = total = 0
    for pred, label in zip(predictions, labels):
        pred, label = torch.as_tensor(pred), torch.as_tensor(label)
        if pred.dim() > label.dim():
            pred = pred.argmax(-1)
        keep = label != -100
        correct += int((pred[keep] == label[keep]).sum())
        total += int(keep.sum())
    return correct / total if total else 0.0
