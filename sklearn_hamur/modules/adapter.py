"""The HAMUR adapter cell: a bottleneck whose weights are generated per row."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._docstrings import fill_doc
from .norm import BatchNorm
from .routing import DomainGroups


def apply_instance_matrix(z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Row-wise ``z[i] @ s[i]`` for ``z`` of shape ``(n, k)`` and ``s`` of shape ``(n, k, k)``."""
    # bmm over n (1 x k) @ (k x k) products. A broadcast multiply-and-sum is as fast in
    # isolation but allocates (n, k, k) temporaries forward and backward (more page faults
    # and memory); inside the model bmm measured as fast or faster (benchmarks/speed.py).
    return torch.bmm(z.unsqueeze(1), s).squeeze(1)


@fill_doc
class HyperAdapter(nn.Module):
    """One domain's adapter cell of HAMUR, with weights from the hyper-network.

    The adapter cell of HAMUR [1]_ (Section 3.2):
    ``h + DomainNorm(up(sigmoid(down(h))))`` where ``down`` uses ``W = U_down S V_down``
    (``d_in -> d_bottleneck``) and ``up`` uses ``W = U_up S V_up``
    (``d_bottleneck -> d_in``); ``S`` is the row's instance matrix from
    :class:`~sklearn_hamur.modules.HyperNetwork`. The factors, biases and the norm are
    this module's own, so one instance per domain makes them domain-specific (the
    paper); one instance for all domains shares them (the reference implementation).

    Parameters
    ----------
    d_in : int
        ``m``, width of the hidden representation the adapter is applied to.
    d_bottleneck : int
        ``s``, the bottleneck width (the reference hard-codes 32).
    rank : int
        ``k``, the side of the instance matrix.
    identity_init : bool, default=True
        Start the domain norm's scale at 0, so the cell is the identity at
        initialisation (the model starts as its backbone). ``False`` starts it at 1, as
        the reference does.

    See Also
    --------
    sklearn_hamur.modules.HyperNetwork : Writes the instance matrices ``S``.
    sklearn_hamur.modules.backbones.apply_adapters : Applies every domain's adapter to
        its rows at once.
    sklearn_hamur.HAMURClassifier : The estimator built on these cells.

    Notes
    -----
    The generated weight ``U @ S @ V`` is never formed: ``forward`` computes
    ``((h @ U) @ S) @ V``, ``O(m k + k^2 + k s)`` per row instead of ``O(m k s)``. The
    ``project_*`` methods expose the steps, so a multi-domain model can multiply every
    domain's rows by ``S`` in one batched call.

    %(hamur_references)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import HyperAdapter
    >>> adapter = HyperAdapter(d_in=16, d_bottleneck=4, rank=3)
    >>> adapter(torch.randn(2, 16), torch.eye(3).expand(2, 3, 3)).shape
    torch.Size([2, 16])
    """

    def __init__(
        self, *, d_in: int, d_bottleneck: int, rank: int, identity_init: bool = True
    ) -> None:
        super().__init__()
        self.identity_init = identity_init
        # NOTE[DIFF]: the bottleneck width is a parameter (the reference hard-codes 32).
        self.u_down = nn.Parameter(torch.empty(d_in, rank))
        self.v_down = nn.Parameter(torch.empty(rank, d_bottleneck))
        self.bias_down = nn.Parameter(torch.empty(d_bottleneck))
        self.u_up = nn.Parameter(torch.empty(d_bottleneck, rank))
        self.v_up = nn.Parameter(torch.empty(rank, d_in))
        self.bias_up = nn.Parameter(torch.empty(d_in))
        # NOTE[DIFF]: batch normalization with running statistics, one per adapter instance
        # (so per domain); the reference normalizes with the whole mixed-domain batch's
        # statistics and keeps none, so its predictions depend on the batch.
        self.domain_norm = BatchNorm(d_in)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new factors ``U``, ``V`` and zero biases, and reset the norm.

        With ``identity_init`` the norm's scale restarts at 0 (the cell is the identity).
        """
        # NOTE[DIFF]: the reference starts U and V as all ones. Variance-preserving
        # Gaussian factors make U @ I @ V behave like a freshly initialised linear layer.
        for u, v in ((self.u_down, self.v_down), (self.u_up, self.v_up)):
            nn.init.normal_(u, std=1.0 / math.sqrt(u.shape[0]))
            nn.init.normal_(v, std=1.0 / math.sqrt(v.shape[0]))
        nn.init.zeros_(self.bias_down)
        nn.init.zeros_(self.bias_up)
        self.domain_norm.reset_parameters()
        if self.identity_init:
            # NOTE[DIFF]: the domain norm's scale starts at 0, so the adapter's residual
            # branch outputs 0 and the cell is the identity at initialisation (as LoRA's
            # zero-initialised up-projection, or a zero-init residual block). The
            # reference starts it at 1: the adapter then adds a unit-variance term to h
            # from the first step, which cost 0.003 to 0.012 test AUC in this project's
            # measurements (3 seeds, MovieLens-100K).
            nn.init.zeros_(self.domain_norm.weight)

    # The generated weight ``U @ S @ V`` is applied as ``((h @ U) @ S) @ V``: O(m k + k^2 + k s)
    # per row instead of the O(m k s) of forming it. The steps are exposed separately so
    # a multi-domain model can multiply every domain's rows by S in one batched call.
    # NOTE[DIFF]: the reference materialises a (batch, m, s) weight tensor with einsum.

    def project_down_in(self, h: torch.Tensor) -> torch.Tensor:
        """Project the input onto the ``k`` dimensions of ``S``: ``h @ U_down``.

        Parameters
        ----------
        h : torch.Tensor of shape (n, d_in)
            The hidden representation the adapter is applied to.

        Returns
        -------
        torch.Tensor of shape (n, rank)
            ``h @ U_down``.
        """
        return h @ self.u_down

    def project_down_out(self, z: torch.Tensor) -> torch.Tensor:
        """Finish the down-projection: ``sigmoid(z @ V_down + b_down)``.

        Parameters
        ----------
        z : torch.Tensor of shape (n, rank)
            ``h @ U_down @ S``, row by row.

        Returns
        -------
        torch.Tensor of shape (n, d_bottleneck)
            The bottleneck activations.
        """
        return torch.sigmoid(torch.addmm(self.bias_down, z, self.v_down))

    def project_up_in(self, z: torch.Tensor) -> torch.Tensor:
        """Project the bottleneck onto the ``k`` dimensions of ``S``: ``z @ U_up``.

        Parameters
        ----------
        z : torch.Tensor of shape (n, d_bottleneck)
            The bottleneck activations.

        Returns
        -------
        torch.Tensor of shape (n, rank)
            ``z @ U_up``.
        """
        return z @ self.u_up

    def project_up_out(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Finish the up-projection and add the skip connection.

        Parameters
        ----------
        z : torch.Tensor of shape (n, rank)
            The bottleneck's ``z @ U_up @ S``, row by row.
        h : torch.Tensor of shape (n, d_in)
            The adapter's input.

        Returns
        -------
        torch.Tensor of shape (n, d_in)
            ``h + DomainNorm(z @ V_up + b_up)``.
        """
        return h + self.domain_norm(torch.addmm(self.bias_up, z, self.v_up))

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Apply the adapter to the rows of one domain.

        Parameters
        ----------
        h : torch.Tensor of shape (n, d_in)
            The hidden representation of ``n`` rows.
        s : torch.Tensor of shape (n, rank, rank)
            Each row's instance matrix ``S``.

        Returns
        -------
        torch.Tensor of shape (n, d_in)
            ``h`` plus the adapter's normalized output.
        """
        z = self.project_down_out(apply_instance_matrix(self.project_down_in(h), s))
        z = apply_instance_matrix(self.project_up_in(z), s)
        return self.project_up_out(z, h)


def apply_adapters(
    adapters: Sequence[HyperAdapter],
    hs: list[tuple[int, torch.Tensor]],
    s: torch.Tensor,
    groups: DomainGroups,
) -> list[tuple[int, torch.Tensor]]:
    """Apply ``adapters[i]`` to the rows ``hs[i]``, multiplying by ``S`` once for the batch.

    ``hs`` holds every present domain's rows in sorted order (as
    :meth:`~sklearn_hamur.modules.DomainGroups.split` gives them), so joining them lines
    up with the rows of ``s``, the instance matrices of the whole sorted batch. Only the
    k-wide projections are joined and split per domain; splitting the instance matrices
    instead would copy them again in the backward pass.

    Parameters
    ----------
    adapters : sequence of HyperAdapter
        One :class:`~sklearn_hamur.modules.HyperAdapter` per entry of ``hs``: the
        adapter of that entry's domain.
    hs : list of tuple of (int, torch.Tensor)
        ``(d, rows_of_d)`` for every domain present in the batch, in domain order; each
        tensor has shape ``(n_d, d_in)``.
    s : torch.Tensor of shape (n, rank, rank)
        The instance matrices of the whole batch, rows sorted by domain.
    groups : DomainGroups
        The batch's :class:`~sklearn_hamur.modules.DomainGroups`.

    Returns
    -------
    list of tuple of (int, torch.Tensor)
        ``(d, adapted_rows_of_d)``, in the order of ``hs``, shapes unchanged.

    See Also
    --------
    sklearn_hamur.modules.HyperAdapter : One adapter applied to one domain's rows.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, HyperAdapter
    >>> from sklearn_hamur.modules.backbones import apply_adapters
    >>> _ = torch.manual_seed(0)
    >>> adapters = [HyperAdapter(d_in=4, d_bottleneck=2, rank=3) for _ in range(2)]
    >>> groups = DomainGroups(torch.tensor([1, 0, 1]), n_domains=2)
    >>> h = groups.sort(torch.randn(3, 4))
    >>> s = torch.eye(3).expand(3, 3, 3)
    >>> out = apply_adapters(adapters, groups.split(h), s, groups)
    >>> [(d, tuple(rows.shape)) for d, rows in out]
    [(0, (1, 4)), (1, (2, 4))]
    """
    z = groups.concat([a.project_down_in(h) for a, (_, h) in zip(adapters, hs)])
    z_down = groups.split(apply_instance_matrix(z, s))
    z_mid = [a.project_down_out(zd) for a, (_, zd) in zip(adapters, z_down)]
    z = groups.concat([a.project_up_in(zm) for a, zm in zip(adapters, z_mid)])
    z_up = groups.split(apply_instance_matrix(z, s))
    return [(d, a.project_up_out(zu, h)) for a, (d, h), (_, zu) in zip(adapters, hs, z_up)]
