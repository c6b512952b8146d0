"""Deterministic data order: each process's share of an epoch is a function of (seed, epoch, rank, world)."""
import math
from typing import Any, Callable, Iterator, List, Mapping, Optional

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from ..errors import TrainerError


class ShardSampler(Sampler[int]):
    """One process's indices for one epoch, from a start position (to resume mid-epoch).

    The order is DistributedSampler's: a permutation drawn from ``seed + epoch`` (or 0..n-1 without
    shuffling), padded by wrapping around to a multiple of ``num_replicas`` (unless ``pad`` is False),
    then every ``num_replicas``-th index from ``rank``. So with W processes and per-process batch b,
    the k-th batches of all ranks together hold the same samples as the k-th batch of size W*b of one
    process.

    Args:
        length: dataset size.
        num_replicas / rank: the process's place in the job.
        shuffle: permute each epoch.
        seed: permutation seed (plus the epoch).
        pad: repeat samples so every rank gets as many (training); off for evaluation.
    """

    def __init__(self, length: int, *, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: int = 0, pad: bool = True):
        self.length, self.num_replicas, self.rank = length, num_replicas, rank
        self.shuffle, self.seed, self.pad = shuffle, seed, pad
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch and skip its first ``start`` indices of this rank's share."""
        self.epoch, self.start = epoch, start

    @property
    def shard_length(self) -> int:
        """Indices this rank gets in a whole epoch."""
        if self.pad:
            return math.ceil(self.length / self.num_replicas)
        return len(range(self.rank, self.length, self.num_replicas))

    def shard(self) -> List[int]:
        """This rank's indices for the current epoch, from the beginning."""
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        if self.pad:
            total = self.shard_length * self.num_replicas
            while len(order) < total:
                order += order[: total - len(order)]
        return order[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.shard()[self.start:])

    def __len__(self) -> int:
        return max(0, self.shard_length - self.start)


def make_loader(dataset: Dataset, sampler: ShardSampler, *, batch_size: int, collate_fn: Optional[Callable],
                num_workers: int, seed: int) -> DataLoader:
    """A DataLoader over ``sampler`` that never draws from the global RNG.

    DataLoader seeds its iterator (and its workers) from ``generator``, or from the global torch RNG
    when none is given; a dedicated generator keeps dropout masks independent of data loading, which
    exact resume needs.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn,
                      num_workers=num_workers, generator=generator)


def check_dataset(dataset: Any, name: str) -> int:
    """The length of a map-style dataset; TrainerError for iterable or empty ones."""
    if isinstance(dataset, IterableDataset) or not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TrainerError(
            f"{name} must be a map-style dataset (with __len__ and __getitem__): exact resume needs to "
            f"know each sample's position; got {type(dataset).__name__}"
        )
    length = len(dataset)
    if length == 0:
        raise TrainerError(f"{name} is empty")
    return length


def move_to_device(batch: Any, device: torch.device) -> Mapping[str, Any]:
    """The batch's tensors on ``device``; TrainerError unless the batch is a dict of model keywords."""
    if not isinstance(batch, Mapping):
        raise TrainerError(
            f"a batch must be a dict of keyword arguments for model.forward (input_ids, labels, ...); got "
            f"{type(batch).__name__}: return a dict from your dataset items or from collate_fn"
        )
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def batch_size_of(batch: Mapping[str, Any]) -> int:
    """Examples in a batch: the first dimension of its first tensor."""
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return value.shape[0]
    raise TrainerError(f"cannot tell the batch size: no tensor among the batch keys {list(batch)}")
