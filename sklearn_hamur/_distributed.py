"""Data-parallel training with PyTorch DistributedDataParallel, launched by ``torchrun``.

A script that calls ``fit`` becomes data-parallel when it is started by ``torchrun``
(which sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the rendezvous variables): each
process trains on its own shard of the training rows, on GPUs on its own GPU
(``cuda:LOCAL_RANK``), with ``batch_size / world_size`` rows per step, DDP averages the
gradients, every process evaluates the full validation set with the same weights (so
early stopping decides the same everywhere) and only rank 0 writes checkpoints. After
``fit`` the module is unwrapped, so the estimator predicts, saves and pickles like one
trained in a single process.

Out-of-core (``partial_fit``), no process holds the whole data set: each reads its own
files or row groups (:func:`rank_shard`), the encoders are merged once
(``MultiDomainEncoder.all_reduce``), and each ``partial_fit`` call trains on this
process's chunk as it is, the processes agreeing on the number of steps
(:class:`StepPlan`), with :func:`even_chunks` making every process call it equally often.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ._data import BatchIterator


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
    if launched_world_size() <= 1 or not dist.is_available() or torch.device(device).type != "cuda":
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


def launched_world_size() -> int:
    """The number of processes torchrun started (``WORLD_SIZE``; 1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def world(device: str | None = "cpu") -> tuple[int, int]:
    """``(rank, world_size)``; joins the process group when launched by torchrun.

    The backend follows the device this process trains on: NCCL for CUDA, gloo for the
    CPU (also on a machine with GPUs, where ``device="cpu"`` asks for CPU training).
    ``device=None`` joins with torch's default backends (gloo for CPU tensors, and NCCL
    for CUDA ones where there is a GPU), so that a later ``fit`` or ``partial_fit`` on
    either device can use the same group; object collectives then run over gloo.
    """
    if launched_world_size() <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        if device is None:
            dist.init_process_group()
        else:
            dist.init_process_group(
                backend="nccl" if torch.device(device).type == "cuda" else "gloo"
            )
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


# -- out-of-core: each process streams its own data ---------------------------------------


def gather_objects(obj) -> list:
    """Every process's ``obj``, in rank order (``[obj]`` outside torchrun)."""
    _, size = world(None)
    if size <= 1:
        return [obj]
    gathered = [None] * size
    dist.all_gather_object(gathered, obj)
    return gathered


def rank_shard(items: Iterable) -> list:
    """The items of this torchrun process: every ``world_size``-th, from its rank on.

    Give every process the same items in the same order (e.g. ``sorted(glob(...))``):
    process ``r`` of ``n`` takes items ``r, r + n, r + 2n, ...``, so each item goes to
    exactly one process. Outside torchrun (``WORLD_SIZE`` unset or 1) it returns all the
    items. It reads ``RANK`` and ``WORLD_SIZE`` only: no process group is needed.

    Parameters
    ----------
    items : iterable
        File paths, row-group numbers (``range(ParquetFile(path).num_row_groups)``) or
        any other pieces of the data set, the same on every process.

    Returns
    -------
    list
        The items this process reads.

    See Also
    --------
    even_chunks : Equal numbers of ``partial_fit`` calls on every process.
    sklearn_hamur.MultiDomainEncoder.all_reduce : Merge the processes' encoders.

    Examples
    --------
    >>> from sklearn_hamur import rank_shard
    >>> rank_shard(["a.parquet", "b.parquet", "c.parquet"])  # outside torchrun: all
    ['a.parquet', 'b.parquet', 'c.parquet']

    Under ``torchrun --nproc_per_node=2`` the first process gets ``['a.parquet',
    'c.parquet']``, the second ``['b.parquet']``.
    """
    items = list(items)
    size = launched_world_size()
    if size <= 1:
        return items
    return items[int(os.environ.get("RANK", "0")) :: size]


def even_chunks(chunks: Iterable) -> Iterator:
    """Yield this process's chunks, then empty ones until every torchrun process is done.

    Under torchrun, ``partial_fit`` is a collective call: every process must make as
    many calls as the others, or a process would wait forever for a call that never
    comes. Processes that read different numbers of chunks (files of different sizes)
    iterate their chunks through ``even_chunks``: once this process's chunks are
    exhausted it yields empty chunks (the last chunk sliced to no rows, ``part[:0]`` of
    each part of a tuple ``(X, y)``) for as long as another process still has one, and
    ``partial_fit`` on an empty chunk takes part in the other processes' steps without
    rows of its own. Outside torchrun it yields the chunks unchanged.

    Parameters
    ----------
    chunks : iterable
        This process's chunks: ``(X, y)`` tuples (or anything that slices with
        ``[:0]``: pandas, polars and pyarrow frames, numpy arrays).

    Yields
    ------
    chunk
        This process's chunks, then empty ones.

    Raises
    ------
    ValueError
        On every process when one of them has no chunk at all (more processes than
        files or row groups to share out).

    See Also
    --------
    rank_shard : This process's files or row groups.

    Notes
    -----
    Each chunk costs one small collective (an ``all_gather_object`` of two flags) on
    every process.

    Examples
    --------
    >>> from sklearn_hamur import even_chunks
    >>> [len(X) for X, y in even_chunks([([1, 2], [0, 1]), ([3], [1])])]  # one process
    [2, 1]
    """
    _, size = world(None)
    if size <= 1:
        yield from chunks
        return
    iterator = iter(chunks)
    last = None
    while True:
        chunk = next(iterator, None)
        flags = gather_objects((chunk is not None, last is not None or chunk is not None))
        if not all(had for _, had in flags):
            idle = [rank for rank, (_, had) in enumerate(flags) if not had]
            raise ValueError(
                f"even_chunks: torchrun process(es) {idle} of {size} have no chunk at all: "
                "rank_shard gave them no file or row group. Start fewer processes "
                "(--nproc_per_node) than there are files or row groups, or split the data "
                "into more of them."
            )
        if not any(has for has, _ in flags):
            return
        if chunk is not None:
            last = chunk
            yield chunk
        else:
            yield _empty_like(last)


def _empty_like(chunk):
    """``chunk`` with no rows: each part of a tuple sliced with ``[:0]``."""
    if isinstance(chunk, tuple):
        return tuple(part[:0] for part in chunk)
    return chunk[:0]


@dataclass(frozen=True)
class StepPlan:
    """The steps of one data-parallel ``partial_fit`` call, agreed by all processes.

    Process ``r`` trains on its ``rows[r]`` rows in batches of ``batch_size``; all run
    as many steps as the process with the most batches. In step ``s``, process ``r``
    scales its batch's mean loss by ``world_size * rows_r(s) / total(s)``, so that
    DDP's average of the gradients is the gradient of the mean loss over every row of
    the step (with equal batches the scale is 1). A process whose batches have run out
    steps on padding rows with scale 0: no gradient of its own, the same optimizer
    step as the others, so every process keeps the same weights and optimizer state.
    """

    rows: tuple[int, ...]
    rank: int
    batch_size: int

    def batch_rows(self, rank: int) -> np.ndarray:
        """The rows of each of process ``rank``'s batches, zero-padded to ``n_steps``."""
        full, rest = divmod(self.rows[rank], self.batch_size)
        sizes = np.zeros(self.n_steps, dtype=np.int64)
        sizes[:full] = self.batch_size
        if rest:
            sizes[full] = rest
        return sizes

    @property
    def n_steps(self) -> int:
        return max(math.ceil(n / self.batch_size) for n in self.rows)

    def loss_scales(self) -> np.ndarray:
        """This process's loss scale in each step (0 in its padding steps)."""
        sizes = np.stack([self.batch_rows(rank) for rank in range(len(self.rows))])
        return len(self.rows) * sizes[self.rank] / sizes.sum(axis=0)


class DataParallelBatchIterator(BatchIterator):
    """:class:`BatchIterator` of one process of a :class:`StepPlan`: its own batches
    with their loss scales, then (:meth:`padding_batches`) its padding steps."""

    def __init__(self, dataset, *, plan: StepPlan, padding, **kwargs) -> None:
        super().__init__(dataset, **kwargs)
        self.plan, self.padding = plan, padding
        self.scales = plan.loss_scales()

    def __iter__(self):
        for step, (X, y) in enumerate(super().__iter__()):
            X["loss_scale"] = float(self.scales[step])
            yield X, y

    def padding_batches(self):
        """One batch of padding rows (scale 0) for each step this process has no rows for."""
        n_own = math.ceil(len(self.dataset) / self.batch_size)
        for _ in range(self.plan.n_steps - n_own):
            X, y = self.padding.take(slice(None))
            if self.presort_domains:  # the padding rows are all of domain 0
                X["domain_counts"] = torch.bincount(X["domain"], minlength=self.n_domains)
            X, y = self._to_device(X, y)
            X["loss_scale"] = 0.0
            yield X, y


@contextlib.contextmanager
def data_parallel(net, plan: StepPlan, padding) -> Iterator[None]:
    """Train ``net`` for one data-parallel ``partial_fit`` call, then give it back as it was.

    The module is wrapped in DDP (which broadcasts rank 0's weights and buffers, so
    every process starts the call alike) and the training batches follow ``plan``,
    ``padding`` (a dataset of padding rows) giving the steps this process has no rows
    for. Afterwards every process holds rank 0's buffers, and the module is unwrapped,
    so the net predicts, saves and pickles like a single-process one.
    """
    saved = {name: vars(net)[name] for name in ITERATOR_SETTINGS if name in vars(net)}
    net.module_ = wrap(net.module_, net.device)
    net.iterator_train = DataParallelBatchIterator
    net.iterator_train__plan, net.iterator_train__padding = plan, padding
    net.iterator_train__batch_size = plan.batch_size
    try:
        yield
        # DDP gives every forward rank 0's buffers (batch-norm statistics); the last
        # step's updates are each process's own: end the call with rank 0's too.
        for buffer in net.module_.module.buffers():
            dist.broadcast(buffer, src=0)
    finally:
        net.module_ = net.module_.module
        for name in ITERATOR_SETTINGS:
            vars(net).pop(name, None)
        vars(net).update(saved)


#: The net's attributes :func:`data_parallel` sets for one call.
ITERATOR_SETTINGS = (
    "iterator_train",
    "iterator_train__plan",
    "iterator_train__padding",
    "iterator_train__batch_size",
)
