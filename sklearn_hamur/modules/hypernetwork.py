"""The domain-shared hyper-network that writes each row's instance matrices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from .._docstrings import fill_doc
from .mlp import MLP


@fill_doc
class HyperNetwork(nn.Module):
    """Map each row's input representation to ``n_matrices`` matrices of size ``k x k``.

    ``S = reshape(HyperMLP(e), k x k)`` in the HAMUR paper [1]_ (Section 3.3): the matrix
    that, between the domain-specific factors ``U`` and ``V``, turns them into
    instance-specific adapter weights. One hyper-network serves every adapter and
    every domain, and runs once per batch; ``n_matrices`` is the number of adapters
    (each gets its own matrix from a shared hidden representation).

    Parameters
    ----------
    d_in : int
        Width of the input representation (the concatenated embeddings).
    d_hidden : sequence of int
        Hidden widths of the Linear-BatchNorm-ReLU blocks (reference: ``[64]``).
    rank : int
        ``k``, the side of each instance matrix.
    n_matrices : int
        How many matrices to write per row.

    See Also
    --------
    sklearn_hamur.modules.HyperAdapter : The adapter cell that uses each matrix.

    Notes
    -----
    At initialisation every matrix is the identity plus a small row-dependent term, so
    an adapter starts as an ordinary low-rank bottleneck ``U @ V`` that the
    hyper-network then modulates.

    %(hamur_references)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import HyperNetwork
    >>> net = HyperNetwork(d_in=10, d_hidden=[8], rank=3, n_matrices=2)
    >>> [s.shape for s in net(torch.randn(5, 10))]
    [torch.Size([5, 3, 3]), torch.Size([5, 3, 3])]
    """

    def __init__(self, *, d_in: int, d_hidden: Sequence[int], rank: int, n_matrices: int) -> None:
        super().__init__()
        self.rank = rank
        self.n_matrices = n_matrices
        self.body = MLP(d_in=d_in, d_hidden=d_hidden, d_out=None, dropout=0.0)
        # NOTE[DIFF]: with several adapters, one shared hidden representation feeds one
        # linear head per adapter, so the hyper-network still runs once per batch.
        # One head per matrix (together: one linear layer with n_matrices * k^2 outputs):
        # separate outputs avoid slicing a large tensor whose backward would copy it.
        self.heads = nn.ModuleList(
            nn.Linear(self.body.d_hidden_out, rank * rank) for _ in range(n_matrices)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Start every head at the identity matrix plus a small random term."""
        # NOTE[DIFF]: the reference starts U and V as all ones, so every generated weight
        # starts constant. Here S starts as the identity plus a small instance-dependent
        # term (per-entry std about 0.5 / sqrt(k)), so at initialisation the adapter is an
        # ordinary low-rank bottleneck U @ V that the hyper-network then modulates.
        for head in self._heads():
            nn.init.normal_(head.weight, std=0.5 / math.sqrt(self.rank * head.in_features))
            with torch.no_grad():
                head.bias.copy_(torch.eye(self.rank).flatten())

    def forward(self, e: torch.Tensor) -> list[torch.Tensor]:
        """Write the instance matrices of every row.

        Parameters
        ----------
        e : torch.Tensor of shape (n, d_in)
            The input representation of each row (the concatenated embeddings).

        Returns
        -------
        list of torch.Tensor
            ``n_matrices`` tensors of shape ``(n, rank, rank)``, one per adapter.
        """
        hidden = self.body(e)
        return [head(hidden).view(-1, self.rank, self.rank) for head in self._heads()]

    def _heads(self) -> list[nn.Linear]:
        return [cast(nn.Linear, head) for head in self.heads]
