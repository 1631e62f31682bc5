"""Batch-level data feeding: whole batches are sliced out of tensors, never collated row by row."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset


class MultiDomainDataset(Dataset):
    """Encoded inputs (a mapping of row-aligned arrays), targets and sample weights.

    The arrays are wrapped as tensors without copying; :meth:`take` gathers a whole batch
    with one indexing operation per array. Sample weights travel inside the input mapping
    under ``"sample_weight"`` (the net removes them before calling the module).

    Parameters
    ----------
    X : mapping of str to array of shape (n, ...)
    y : array of shape (n,) or None
    sample_weight : array of shape (n,) or None
    """

    def __init__(self, X: Mapping, y=None, sample_weight=None) -> None:
        self.X = {key: torch.as_tensor(np.asarray(value)) for key, value in X.items()}
        if sample_weight is not None:
            self.X["sample_weight"] = torch.as_tensor(np.asarray(sample_weight, dtype=np.float32))
        self.y = None if y is None else torch.as_tensor(np.asarray(y, dtype=np.float32))
        self._length = len(next(iter(self.X.values())))

    def __len__(self) -> int:
        return self._length

    def take(self, index: torch.Tensor | slice) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The batch of rows ``index`` as ``(X_batch, y_batch)``."""
        X = {key: value[index] for key, value in self.X.items()}
        # skorch expects a target even at prediction time; a zero-size placeholder will do.
        y = self.y[index] if self.y is not None else torch.empty(0)
        return X, y

    def __getitem__(self, i):
        return self.take(slice(i, i + 1) if isinstance(i, int) else i)

    def subset(self, index: np.ndarray) -> MultiDomainDataset:
        """A dataset of the rows ``index`` (copied once, so batches slice contiguous memory)."""
        out = MultiDomainDataset.__new__(MultiDomainDataset)
        idx = torch.as_tensor(index, dtype=torch.int64)
        out.X = {key: value[idx] for key, value in self.X.items()}
        out.y = None if self.y is None else self.y[idx]
        out._length = len(idx)
        return out


class BatchIterator:
    """Iterate over a :class:`MultiDomainDataset` in whole batches.

    Replaces skorch's default ``DataLoader``, which fetches rows one at a time and
    collates them; here a batch is one gather (shuffled) or one slice (in order), so the
    model, not the loader, sets the speed. Each pass over the data draws a new
    permutation from a generator seeded once, so training is reproducible.

    Parameters
    ----------
    dataset : MultiDomainDataset
    batch_size : int
    shuffle : bool, default=False
    seed : int or None, default=None
        Seed of the shuffling generator.
    device : str or None, default=None
        When a CUDA device, each batch is copied to pinned memory and sent with a
        non-blocking copy, so the transfer overlaps the previous step.
    presort_domains : bool, default=False
        Order each batch's rows by domain on the host and pass the per-domain row counts
        (``X["domain_counts"]``, a CPU tensor), so the model can split the batch by
        domain without a host-device synchronisation. Only for training batches, whose
        row order does not matter.
    n_domains : int or None, default=None
        The number of domains the counts cover (the module's); None: those of the
        dataset, up to its largest domain.
    """

    def __init__(
        self,
        dataset: MultiDomainDataset,
        *,
        batch_size: int,
        shuffle: bool = False,
        seed=None,
        device=None,
        presort_domains: bool = False,
        n_domains: int | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = None if device is None else torch.device(device)
        self.presort_domains = presort_domains
        domain = dataset.X["domain"]
        if n_domains is None:
            n_domains = int(domain.max()) + 1 if presort_domains and len(domain) else 0
        self.n_domains = n_domains
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(int(seed))
        elif shuffle:  # (seeding from the OS costs a prediction's iterator more than it uses)
            self.generator.seed()

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        n = len(self.dataset)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            index = slice(start, stop) if order is None else order[start:stop]
            if self.presort_domains:
                yield self._to_device(*self._presorted(torch.arange(n)[index]))
            else:
                yield self._to_device(*self.dataset.take(index))

    def _presorted(self, index: torch.Tensor):
        domain = self.dataset.X["domain"][index]
        by_domain = torch.argsort(domain, stable=True)
        X, y = self.dataset.take(index[by_domain])
        X["domain_counts"] = torch.bincount(domain, minlength=self.n_domains)
        return X, y

    def _to_device(self, X: dict, y: torch.Tensor):
        if self.device is None or self.device.type != "cuda":
            return X, y

        def send(t: torch.Tensor) -> torch.Tensor:
            return t.pin_memory().to(self.device, non_blocking=True)

        X = {k: v if k == "domain_counts" else send(v) for k, v in X.items()}
        return X, send(y) if y.numel() else y
