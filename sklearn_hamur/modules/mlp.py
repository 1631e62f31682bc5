"""Multi-layer perceptron built from Linear-BatchNorm-ReLU-Dropout blocks."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .norm import BatchNorm


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
