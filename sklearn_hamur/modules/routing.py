"""Group a batch's rows by domain so each domain's layers see only their own rows."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import torch

#: Domain index the encoder gives rows of a domain unseen in training when they are to be
#: averaged over every domain's path (``handle_unknown_domain="average"``).
UNKNOWN_DOMAIN = -1

_FORMULATION = threading.local()


@contextlib.contextmanager
def export_formulation() -> Iterator[None]:
    """Compute the per-domain layers in a form that needs rows in no particular order.

    Inside this context (in the calling thread), a :class:`DomainGroups` built from the
    domain indices alone leaves the rows where they are (``rows_sorted`` is False), and
    :func:`~sklearn_hamur.modules.segment_matmul` multiplies each row by every domain's
    matrix and keeps its own domain's product. Nothing is sorted, no grouped matrix
    multiply runs, the host never waits for the device and no shape depends on the data:
    the form that ``torch.onnx.export`` traces into a graph (see
    ``HAMURClassifier.export``). The results equal the sorted computation's to float
    rounding, in training and evaluation; the per-domain products cost ``n_domains``
    times as much.

    Yields
    ------
    None
        The formulation holds until the block ends (nested blocks are allowed).

    See Also
    --------
    sklearn_hamur.modules.segment_matmul : Computes every domain's product inside it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, export_formulation
    >>> with export_formulation():
    ...     groups = DomainGroups(torch.tensor([1, 0, 1]), n_domains=2)
    >>> groups.rows_sorted, groups.domain.tolist()
    (False, [1, 0, 1])
    """
    previous = getattr(_FORMULATION, "export", False)
    _FORMULATION.export = True
    try:
        yield
    finally:
        _FORMULATION.export = previous


def _export_formulation_active() -> bool:
    return getattr(_FORMULATION, "export", False)


def is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing the current call (False on a torch without it)."""
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and compiler.is_compiling())


class DomainGroups:
    """The rows of a batch grouped by domain: one sort, then segments of consecutive rows.

    Inputs are sorted by domain once (a stable argsort, :meth:`sort`); every layer then
    works on the whole sorted batch, and a layer with one parameter set per domain
    (:class:`~sklearn_hamur.modules.GroupedLinear`,
    :class:`~sklearn_hamur.modules.GroupedBatchNorm`) computes all domains in a fixed
    number of kernels from the segments' ``offsets`` and each row's ``domain``, whatever
    the number of domains. :meth:`restore` puts the final output back in the original
    row order.

    Parameters
    ----------
    domain : Tensor of shape (n,)
        Domain index of each row, in ``0..n_domains-1``.
    n_domains : int
        Number of domains.
    counts : list of int or None, default=None
        Rows per domain when the rows are already sorted by domain (then nothing is
        sorted and no host-device synchronisation happens).

    Attributes
    ----------
    domain : torch.Tensor of shape (n,)
        Each row's domain, in sorted order (non-decreasing).
    counts : torch.Tensor of shape (n_domains,)
        Rows per domain (int64, on the rows' device).
    offsets : torch.Tensor of shape (n_domains,)
        End of each domain's segment of rows (int32 cumulative counts, on the rows'
        device), as ``torch.nn.functional.grouped_mm`` takes them.
    n_domains : int
        Number of domains.
    rows_sorted : bool
        Whether the rows are sorted by domain: False only inside
        :func:`export_formulation`, where ``domain`` is in the batch's order and
        ``offsets`` do not delimit segments.
    single : int or None
        The one domain of every row, when that is known without waiting on a device
        (host counts, a CPU batch, a one-row batch; never while exporting or compiling):
        per-domain layers then use that domain's parameters as plain layers would.

    See Also
    --------
    sklearn_hamur.modules.segment_matmul : One matrix per domain, every domain at once.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups
    >>> groups = DomainGroups(torch.tensor([1, 0, 1]), n_domains=2)
    >>> x = groups.sort(torch.tensor([10.0, 20.0, 30.0]))
    >>> x.tolist(), groups.domain.tolist(), groups.offsets.tolist()
    ([20.0, 10.0, 30.0], [0, 1, 1], [1, 3])
    >>> groups.restore(x).tolist()
    [10.0, 20.0, 30.0]
    """

    def __init__(
        self, domain: torch.Tensor, *, n_domains: int, counts: list[int] | None = None
    ) -> None:
        self.n_domains = n_domains
        self.rows_sorted = True
        if counts is None and _export_formulation_active():
            # Rows left in their order (export_formulation): no sort, no bincount.
            self.rows_sorted = False
            self.order: torch.Tensor | None = None
            self.domain = domain
            every = torch.arange(n_domains, device=domain.device)
            self.counts = (domain.unsqueeze(1) == every).sum(0)
        elif counts is not None:
            # Rows already sorted by domain on the host, with their counts: no sort, no
            # host-device synchronisation (training batches on a GPU).
            if len(counts) != n_domains:
                raise ValueError(
                    f"domain_counts must have one entry per domain ({n_domains}), "
                    f"got {len(counts)}."
                )
            self.order = None
            self.domain = domain
            self.counts = torch.as_tensor(counts, dtype=torch.int64).to(
                domain.device, non_blocking=True
            )
        else:
            self.order = torch.argsort(domain, stable=True)
            self.domain = domain.index_select(0, self.order)
            self.counts = torch.bincount(domain, minlength=n_domains)
            if self.counts.shape[0] > n_domains:
                raise ValueError(f"Domain index out of range: expected < {n_domains}.")
        self.offsets = torch.cumsum(self.counts, 0).to(torch.int32)
        self.single = self._single_domain(domain, counts) if self.rows_sorted else None

    @staticmethod
    def _single_domain(domain: torch.Tensor, counts: list[int] | None) -> int | None:
        """The batch's one domain, where finding it costs no device synchronisation."""
        if counts is not None:
            present = [d for d, c in enumerate(counts) if c]
            return present[0] if len(present) == 1 else None
        if is_compiling():
            return None
        if domain.numel() == 0 or (domain.device.type != "cpu" and domain.numel() > 1):
            return None
        first = int(domain[0])
        return first if domain.numel() == 1 or bool((domain == first).all()) else None

    def sort(self, x: torch.Tensor) -> torch.Tensor:
        """Put the rows of ``x`` in domain order (stable within a domain).

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...)
            Rows in the batch's original order.

        Returns
        -------
        torch.Tensor of shape (n, ...)
            The same rows sorted by domain; ``x`` itself when ``counts`` were given.
        """
        return x if self.order is None else x.index_select(0, self.order)

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """Put a sorted output back in the original row order.

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...)
            Rows sorted by domain.

        Returns
        -------
        torch.Tensor of shape (n, ...)
            The rows in the batch's original order; ``x`` itself when ``counts`` were
            given.
        """
        if self.order is None:
            return x
        return x.new_empty(x.shape).index_copy(0, self.order, x)


def average_unknown_domains(
    forward: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    x_cat: torch.Tensor,
    x_num: torch.Tensor,
    domain: torch.Tensor,
    *,
    n_domains: int,
) -> torch.Tensor:
    """Compute logits, giving rows of ``UNKNOWN_DOMAIN`` the mean probability of all domains.

    Known rows go through ``forward`` as they are. Each unknown row goes through every
    domain's path; its logit is the logit of the mean of those probabilities. Only used
    at prediction time, for ``handle_unknown_domain="average"``.

    Parameters
    ----------
    forward : callable
        ``forward(x_cat, x_num, domain) -> logits`` for rows of known domains.
    x_cat : torch.Tensor of shape (n, n_categorical)
        Categorical indices, passed on to ``forward``.
    x_num : torch.Tensor of shape (n, n_numeric)
        Numeric values, passed on to ``forward``.
    domain : torch.Tensor of shape (n,)
        Domain index of each row; ``UNKNOWN_DOMAIN`` (-1) for an unknown domain.
    n_domains : int
        Number of domains whose paths an unknown row goes through.

    Returns
    -------
    torch.Tensor of shape (n,)
        The logits, float32, in the order of the input rows.

    See Also
    --------
    sklearn_hamur.modules.MultiDomainMLP : Calls it when a batch holds unknown domains.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import average_unknown_domains
    >>> def forward(x_cat, x_num, domain):  # domain d predicts the logit d
    ...     return domain.float()
    >>> x_cat, x_num = torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 0)
    >>> logits = average_unknown_domains(
    ...     forward, x_cat, x_num, torch.tensor([1, -1]), n_domains=2
    ... )
    >>> [round(p, 4) for p in torch.sigmoid(logits).tolist()]
    [0.7311, 0.6155]
    """
    unknown = domain == UNKNOWN_DOMAIN
    known_idx = torch.nonzero(~unknown).squeeze(1)
    unknown_idx = torch.nonzero(unknown).squeeze(1)
    logits = torch.empty(domain.shape[0], dtype=torch.float32, device=domain.device)
    if known_idx.numel():
        logits[known_idx] = forward(x_cat[known_idx], x_num[known_idx], domain[known_idx]).float()
    # Every unknown row once per domain, in one batch: a fixed number of kernels however
    # many domains there are.
    n_unknown = unknown_idx.numel()
    repeated = unknown_idx.repeat(n_domains)
    every_domain = torch.arange(n_domains, device=domain.device).repeat_interleave(n_unknown)
    probabilities = torch.sigmoid(forward(x_cat[repeated], x_num[repeated], every_domain))
    mean = probabilities.view(n_domains, n_unknown).mean(0)
    logits[unknown_idx] = torch.logit(mean, eps=1e-7).float()
    return logits
