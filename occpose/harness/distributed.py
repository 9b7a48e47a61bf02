"""``torchrun`` support: process group from the environment, rank-0-only side effects.

``torchrun --nproc-per-node N -m occpose.cli train ...`` sets ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_from_env` then joins the group
(gloo on CPU, nccl on CUDA, each process on GPU ``LOCAL_RANK``). Without them (or with
``WORLD_SIZE=1``) everything runs in one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_from_env", "broadcast_buffers", "all_reduce_sum", "barrier", "shutdown"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, and whether it started the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group described by the environment (if ``WORLD_SIZE > 1``).

    Returns:
        (info, device): on CUDA the device becomes ``cuda:LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), device
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world)
        owns = True
    return DistInfo(rank=rank, world_size=world, local_rank=local, owns_group=owns), device


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank."""
    if info.enabled:
        for b in module.buffers():
            dist.broadcast(b, src=0)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> None:
    """Sum a tensor over all ranks in place (no-op in one process)."""
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group if :func:`init_from_env` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()
