"""Data-parallel training with PyTorch DistributedDataParallel, launched by ``torchrun``.

A script that calls ``fit`` becomes data-parallel when it is started by ``torchrun``
(which sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the rendezvous variables): each
process trains on its own shard of the training rows, on GPUs on its own GPU
(``cuda:LOCAL_RANK``), with ``batch_size / world_size`` rows per step, DDP averages the
gradients, every process evaluates the full validation set with the same weights (so
early stopping decides the same everywhere) and only rank 0 writes checkpoints. After
``fit`` the module is unwrapped, so the estimator predicts, saves and pickles like one
trained in a single process.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is available, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def plain_module(net) -> torch.nn.Module:
    """The net's module, unwrapped from DDP and ``torch.compile`` (whose keys differ)."""
    module = net.module_
    if isinstance(module, DistributedDataParallel):
        module = module.module
    return getattr(module, "_orig_mod", module)


def process_device(device: str) -> str:
    """This process's device: under torchrun, ``"cuda"`` becomes ``cuda:LOCAL_RANK``.

    Without it every process of a node would train on GPU 0. The CUDA device (also an
    explicit ``"cuda:N"``, kept as given) is made the current one, which NCCL needs
    before the process group is created. Outside torchrun, and on the CPU, ``device``
    is returned unchanged.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 or not dist.is_available() or torch.device(device).type != "cuda":
        return device
    if torch.device(device).index is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"torchrun started local rank {local_rank}, but this process sees "
                f"{torch.cuda.device_count()} GPU(s): device={device!r} gives each process "
                "its own GPU. Start at most one process per GPU (--nproc_per_node), or name "
                "the GPU of each process with device='cuda:N'."
            )
        device = f"cuda:{local_rank}"
    torch.cuda.set_device(device)
    return device


def world(device: str = "cpu") -> tuple[int, int]:
    """``(rank, world_size)``; joins the process group when launched by torchrun.

    The backend follows the device this process trains on: NCCL for CUDA, gloo for the
    CPU (also on a machine with GPUs, where ``device="cpu"`` asks for CPU training).
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def shard(n_rows: int, rank: int, world_size: int) -> np.ndarray:
    """Rows of this process: every ``world_size``-th row, all shards of equal size.

    Equal sizes give every process the same number of steps, which DDP needs (a process
    that runs out of batches first would wait forever for the others' gradients). At most
    ``world_size - 1`` rows are left out.
    """
    per_rank = n_rows // world_size
    return np.arange(rank, n_rows, world_size)[:per_rank]


def wrap(module: torch.nn.Module, device: str) -> DistributedDataParallel:
    # Domains absent from a batch leave their towers without gradients in that step.
    device_ids = [torch.device(device)] if torch.device(device).type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=True)
