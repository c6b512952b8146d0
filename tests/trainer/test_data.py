"""Data order: a function of (seed, epoch, rank, world), DistributedSampler's, resumable mid-epoch."""
import pytest
from torch.utils.data import DistributedSampler

from flagai_lite.trainer.data import ShardSampler


@pytest.mark.parametrize("length, world", [(10, 1), (10, 3), (2, 4)])
def test_same_order_as_distributed_sampler(length, world):
    data = list(range(length))
    for rank in range(world):
        ours = ShardSampler(length, num_replicas=world, rank=rank, seed=7)
        theirs = DistributedSampler(data, num_replicas=world, rank=rank, seed=7)
        for epoch in (0, 3):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_start_skips_into_the_epoch_and_epochs_differ():
    sampler = ShardSampler(20, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=6)
    assert list(sampler) == full[6:] and len(sampler) == 14
    sampler.set_epoch(3)
    assert list(sampler) != full


def test_evaluation_shards_cover_every_example_once():
    shards = [list(ShardSampler(11, num_replicas=3, rank=r, shuffle=False, pad=False)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(11)) and shards[0] == [0, 3, 6, 9]
