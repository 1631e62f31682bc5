"""Group a batch's rows by domain so each domain's layers see only their own rows."""

from __future__ import annotations

from collections.abc import Callable

import torch

#: Domain index the encoder gives rows of a domain unseen in training when they are to be
#: averaged over every domain's path (``handle_unknown_domain="average"``).
UNKNOWN_DOMAIN = -1


class DomainGroups:
    """The rows of a batch grouped by domain: one sort, contiguous per-domain views.

    Inputs are sorted by domain once (a stable argsort, :meth:`sort`), the shared layers
    run on the whole sorted batch, :meth:`split` hands each domain a contiguous view of
    its own rows (no copy), :meth:`concat` joins the per-domain outputs and
    :meth:`restore` puts the final output back in the original row order. Every
    domain-specific computation touches only its own rows, so the cost of a batch does
    not grow with the number of domains.

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
    counts : list of int
        Rows per domain, for every domain ``0 .. n_domains - 1``.
    present : list of int
        The domains with at least one row, in order.

    See Also
    --------
    sklearn_hamur.modules.MultiDomainMLP : Routes each domain's rows to its tower.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups
    >>> groups = DomainGroups(torch.tensor([1, 0, 1]), n_domains=2)
    >>> x = groups.sort(torch.tensor([10.0, 20.0, 30.0]))
    >>> [(d, rows.tolist()) for d, rows in groups.split(x)]
    [(0, [20.0]), (1, [10.0, 30.0])]
    >>> groups.restore(x).tolist()
    [10.0, 20.0, 30.0]
    """

    def __init__(
        self, domain: torch.Tensor, *, n_domains: int, counts: list[int] | None = None
    ) -> None:
        if counts is not None:
            # Rows already sorted by domain on the host, with their counts: no sort, no
            # host-device synchronisation (training batches on a GPU).
            self.order: torch.Tensor | None = None
            self.counts = list(counts)
            self.present = [d for d, c in enumerate(self.counts) if c]
            return
        self.order = torch.argsort(domain, stable=True)
        # One host synchronisation per batch: split sizes must be known on the host.
        counts = torch.bincount(domain, minlength=n_domains).tolist()
        if len(counts) > n_domains:
            raise ValueError(f"Domain index out of range: expected < {n_domains}.")
        self.counts = counts
        self.present = [d for d, c in enumerate(counts) if c]

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

    def split(self, x: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
        """Cut a tensor in sorted order into per-domain views ``(d, rows_of_d)``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...)
            Rows sorted by domain, as :meth:`sort` returns them.

        Returns
        -------
        list of tuple of (int, torch.Tensor)
            ``(d, rows_of_d)`` for every domain present, in domain order; the tensors
            are views of ``x``, not copies.
        """
        chunks = x.split(self.counts)
        return [(d, chunks[d]) for d in self.present]

    @staticmethod
    def concat(chunks: list[torch.Tensor]) -> torch.Tensor:
        """Join per-domain outputs back into one tensor in sorted order.

        Parameters
        ----------
        chunks : list of torch.Tensor
            One tensor per present domain, in domain order.

        Returns
        -------
        torch.Tensor
            The chunks concatenated along the rows (the single chunk itself, uncopied).
        """
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

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
    xc, xn = x_cat[unknown_idx], x_num[unknown_idx]
    probabilities = torch.stack(
        [torch.sigmoid(forward(xc, xn, torch.full_like(unknown_idx, d))) for d in range(n_domains)]
    )
    logits[unknown_idx] = torch.logit(probabilities.mean(0), eps=1e-7).float()
    return logits
