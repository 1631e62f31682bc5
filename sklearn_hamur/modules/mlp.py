"""Multi-layer perceptron built from Linear-BatchNorm-ReLU-Dropout blocks."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from .grouped import GroupedLinear
from .norm import BatchNorm, GroupedBatchNorm
from .routing import DomainGroups


def make_block(*, d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    """One hidden block: ``Linear -> BatchNorm -> ReLU -> Dropout`` (the reference's order)."""
    return nn.Sequential(
        OrderedDict(
            linear=nn.Linear(d_in, d_out),
            norm=BatchNorm(d_out),
            activation=nn.ReLU(),
            dropout=nn.Dropout(dropout),
        )
    )


class MLP(nn.Module):
    """A stack of hidden blocks with an optional linear head.

    Parameters
    ----------
    d_in : int
        Input width.
    d_hidden : sequence of int
        Width of each hidden block; its length is the depth.
    d_out : int or None
        Width of the linear head; ``None`` makes the MLP headless (it returns the last
        hidden block's output).
    dropout : float
        Dropout rate after each block's activation.

    Attributes
    ----------
    blocks : torch.nn.ModuleList
        The hidden blocks, each a :class:`torch.nn.Sequential` of ``linear``, ``norm``
        (a :class:`~sklearn_hamur.modules.BatchNorm`), ``activation`` (ReLU) and
        ``dropout``.
    d_hidden_out : int
        Width of the last hidden block's output (``d_in`` without hidden blocks).
    head : torch.nn.Linear or None
        The linear head; ``None`` when headless.

    See Also
    --------
    sklearn_hamur.modules.MultiDomainMLP : One MLP tower per domain.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import MLP
    >>> mlp = MLP(d_in=8, d_hidden=[16, 4], d_out=1, dropout=0.0)
    >>> mlp(torch.randn(3, 8)).shape
    torch.Size([3, 1])
    >>> [name for name, _ in mlp.blocks[0].named_children()]
    ['linear', 'norm', 'activation', 'dropout']
    """

    def __init__(
        self, *, d_in: int, d_hidden: Sequence[int], d_out: int | None, dropout: float
    ) -> None:
        super().__init__()
        widths = [d_in, *d_hidden]
        self.blocks = nn.ModuleList(
            make_block(d_in=a, d_out=b, dropout=dropout) for a, b in zip(widths, widths[1:])
        )
        self.d_hidden_out = widths[-1]
        self.head = None if d_out is None else nn.Linear(widths[-1], d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the hidden blocks, then the head if there is one.

        Parameters
        ----------
        x : torch.Tensor of shape (n, d_in)
            The input rows.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_out)``, or ``(n, d_hidden[-1])`` when headless.
        """
        for block in self.blocks:
            x = block(x)
        return x if self.head is None else self.head(x)


class GroupedBlock(nn.Module):
    """One hidden block per domain: ``GroupedLinear -> GroupedBatchNorm -> ReLU -> Dropout``."""

    def __init__(self, *, n_groups: int, d_in: int, d_out: int, dropout: float) -> None:
        super().__init__()
        self.linear = GroupedLinear(n_groups=n_groups, d_in=d_in, d_out=d_out)
        self.norm = GroupedBatchNorm(n_groups=n_groups, d=d_out)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, groups: DomainGroups) -> torch.Tensor:
        return self.dropout(self.activation(self.norm(self.linear(x, groups), groups)))


class GroupedMLP(nn.Module):
    """One MLP per domain (same widths), every domain's rows computed at once.

    Equals one :class:`MLP` per domain, each applied to its own domain's rows: the
    blocks' linear layers and batch norms hold one parameter set per domain
    (:class:`~sklearn_hamur.modules.GroupedLinear`,
    :class:`~sklearn_hamur.modules.GroupedBatchNorm`), activation and dropout run on the
    whole batch. Domain ``d``'s parameters start as ``MLP(...)`` built for that domain
    alone would, domain after domain, so a seed gives the same towers as a list of MLPs.

    Parameters
    ----------
    n_groups : int
        Number of domains.
    d_in : int
        Input width.
    d_hidden : sequence of int
        Width of each hidden block; its length is the depth.
    d_out : int or None
        Width of the head; ``None`` makes the MLPs headless.
    dropout : float
        Dropout rate after each block's activation.

    Attributes
    ----------
    blocks : torch.nn.ModuleList
        The hidden blocks, each with ``linear``, ``norm``, ``activation`` and ``dropout``.
    d_hidden_out : int
        Width of the last hidden block's output.
    head : GroupedLinear or None
        The per-domain linear head.

    See Also
    --------
    MLP : One MLP, for every row.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, GroupedMLP
    >>> towers = GroupedMLP(n_groups=3, d_in=8, d_hidden=[16, 4], d_out=1, dropout=0.0)
    >>> groups = DomainGroups(torch.tensor([0, 0, 2]), n_domains=3)
    >>> towers(torch.randn(3, 8), groups).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        *,
        n_groups: int,
        d_in: int,
        d_hidden: Sequence[int],
        d_out: int | None,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_groups = n_groups
        widths = [d_in, *d_hidden]
        # The layers' own initialisation is drawn and discarded; reset_parameters then
        # draws domain after domain, as a list of MLPs built one by one would.
        with torch.random.fork_rng(devices=[]):
            self.blocks = nn.ModuleList(
                GroupedBlock(n_groups=n_groups, d_in=a, d_out=b, dropout=dropout)
                for a, b in zip(widths, widths[1:])
            )
            self.d_hidden_out = widths[-1]
            self.head = (
                None
                if d_out is None
                else GroupedLinear(n_groups=n_groups, d_in=widths[-1], d_out=d_out)
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every domain's MLP, domain after domain (as a list of MLPs would)."""
        for group in range(self.n_groups):
            self.reset_group(group)

    def reset_group(self, group: int) -> None:
        """Draw domain ``group``'s layers as a fresh :class:`MLP` draws them.

        Parameters
        ----------
        group : int
            The domain (index of the parameter set) to reset.
        """
        for block in self.blocks:
            block = cast(GroupedBlock, block)
            block.linear.reset_group(group)
            block.norm.reset_group(group)
        if self.head is not None:
            self.head.reset_group(group)

    def forward(self, x: torch.Tensor, groups: DomainGroups) -> torch.Tensor:
        """Run each row through its domain's blocks, then its head if there is one.

        Parameters
        ----------
        x : torch.Tensor of shape (n, d_in)
            Rows sorted by domain.
        groups : DomainGroups
            The batch's segments.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_out)``, or ``(n, d_hidden[-1])`` when headless.
        """
        for block in self.blocks:
            x = block(x, groups)
        return x if self.head is None else self.head(x, groups)
