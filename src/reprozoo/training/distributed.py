"""Data-parallel training under torchrun: one process per device, each taking its shard of every batch.

Every rank draws the same seeded permutation, so the batches are the same on all of them;
rank r trains on batch[r::world] and DistributedDataParallel averages the gradients, which for
equal shards is the gradient of the whole batch. Only rank 0 logs to MLflow and writes files.
Outside torchrun (no WORLD_SIZE) every function here is a no-op.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from reprozoo.config.errors import ReprozooError


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) in a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def setup(device: torch.device) -> torch.device:
    """Join the process group (nccl on CUDA, gloo on CPU); returns this rank's device."""
    rank, size, local = world()
    if size == 1:
        return device
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ReprozooError(f"torchrun: local rank {local} but only {torch.cuda.device_count()} CUDA devices; "
                                "lower --nproc_per_node")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def is_main() -> bool:
    """True in the process that logs and writes outputs (rank 0, or the only process)."""
    return world()[0] == 0


def active() -> bool:
    """True when running data-parallel in a process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model in DistributedDataParallel when data-parallel, else the model itself."""
    if not active():
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's part of a batch of indices (all of it outside torchrun)."""
    if not active():
        return batch
    return batch[dist.get_rank()::dist.get_world_size()]


def sum_over_ranks(*tensors: torch.Tensor) -> None:
    """Add each tensor up across ranks, in place (per-epoch totals of loss and correct answers)."""
    if active():
        for t in tensors:
            dist.all_reduce(t)


def barrier() -> None:
    """Wait for every rank (e.g. until rank 0 has written a checkpoint)."""
    if active():
        dist.barrier()


def teardown() -> None:
    """Leave the process group."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
