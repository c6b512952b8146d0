"""Process-group context: rank and world size from the environment torchrun sets, device, collectives.

There is no launcher here: ``torchrun --nproc_per_node N script.py`` starts the processes and sets
RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; this module reads them.
"""
import logging
import os
from dataclasses import dataclass
from typing import Any, List

import torch
import torch.distributed as dist

from ..errors import TrainerError

logger = logging.getLogger(__name__)

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class DistContext:
    """Where this process sits in the job.

    Attributes:
        rank / local_rank / world_size: as torchrun sets them (0 / 0 / 1 for one process).
        device: the device this process trains on.
        backend: the torch.distributed backend, or None for one process.
    """

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    backend: Any = None
    owns_group: bool = False

    @classmethod
    def from_env(cls, env_type: str, pytorch_device: str, ddp_backend: str) -> "DistContext":
        """Read the environment and check it fits ``env_type``; starts nothing.

        Raises:
            TrainerError: DDP without torchrun's variables, several processes without DDP, or a CUDA
                device asked for where there is none.
        """
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if env_type == "pytorch":
            if world_size > 1:
                raise TrainerError(
                    f"WORLD_SIZE={world_size} (launched by torchrun?) but env_type is 'pytorch': every process "
                    "would train alone; set env_type: pytorchDDP"
                )
            return cls(rank=0, local_rank=0, world_size=1, device=_resolve_device(pytorch_device, 0, False))
        missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
        if missing:
            raise TrainerError(
                f"env_type 'pytorchDDP' needs the environment torchrun sets ({', '.join(missing)} missing); "
                "launch with: torchrun --nproc_per_node N your_script.py ..."
            )
        local_rank = int(os.environ["LOCAL_RANK"])
        device = _resolve_device(pytorch_device, local_rank, True)
        backend = ddp_backend if ddp_backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
        if backend == "nccl" and device.type != "cuda":
            raise TrainerError("ddp_backend 'nccl' needs CUDA devices; use gloo (or 'auto') on CPU")
        return cls(rank=int(os.environ["RANK"]), local_rank=local_rank, world_size=world_size, device=device,
                   backend=backend)

    # ------------------------------------------------------------------ life cycle
    @property
    def distributed(self) -> bool:
        """True under env_type pytorchDDP (even with one process)."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """True on rank 0: the one process that logs and writes checkpoints."""
        return self.rank == 0

    def init(self) -> None:
        """Join the process group (unless the caller already did)."""
        if not self.distributed or dist.is_initialized():
            return
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            dist.init_process_group(self.backend, device_id=self.device)
        else:
            dist.init_process_group(self.backend)
        self.owns_group = True
        logger.debug("rank %d/%d joined the %s process group", self.rank, self.world_size, self.backend)

    def shutdown(self) -> None:
        """Leave the process group if :meth:`init` created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        self.owns_group = False

    # ------------------------------------------------------------------ collectives (no-ops alone)
    def barrier(self) -> None:
        """Wait for every process."""
        if self.distributed and self.world_size > 1:
            dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over processes, in place; returns it."""
        if self.distributed and self.world_size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def all_gather_object(self, obj: Any) -> List[Any]:
        """Every process's ``obj``, indexed by rank."""
        if not (self.distributed and self.world_size > 1):
            return [obj]
        gathered: List[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered


def _resolve_device(name: str, local_rank: int, distributed: bool) -> torch.device:
    cuda = torch.cuda.is_available()
    if name == "auto":
        name = "cuda" if cuda else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not cuda:
            raise TrainerError(f"pytorch_device {name!r} asked for, but CUDA is not available; use 'cpu' or 'auto'")
        if distributed:
            if device.index not in (None, local_rank):
                raise TrainerError(
                    f"pytorch_device {name!r} under DDP: each process uses cuda:LOCAL_RANK; set 'cuda' or 'auto'"
                )
            return torch.device("cuda", local_rank)
        return torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
    if device.type != "cpu":
        raise TrainerError(f"pytorch_device {name!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return device
