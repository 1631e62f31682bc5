"""The MLP backbone with one tower per domain (HAMUR's "pure backbone")."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..._docstrings import fill_doc
from .base import AdapterSpec, Backbone, BackboneParam, SortedBatch, make_towers

#: Widths searched for the adapted hidden layers of the deep backbones.
HIDDEN_UNITS_SEARCH = ("128-64", "256-128", "512-256", "256-128-64")


@fill_doc
class MultiDomainMLP(Backbone):
    """Shared embeddings, one MLP tower per domain, and optional HAMUR adapter cells.

    Without adapters this is the "pure backbone" of the HAMUR paper [1]_; with
    ``adapters`` the last ``adapters.n_adapters`` hidden blocks of every tower are each
    followed by a :class:`~sklearn_hamur.modules.HyperAdapter` whose instance matrices
    come from one shared :class:`~sklearn_hamur.modules.HyperNetwork`.

    The hyper-network runs once per batch on every row; each tower and its adapters
    run only on the rows of their own domain. A row whose domain index is
    ``sklearn_hamur.modules.UNKNOWN_DOMAIN`` (-1) gets the logit of the mean
    probability over all domain paths.

    Parameters
    ----------
    %(backbone_inputs)s
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of each tower (reference MovieLens: ``[256, 128]``).
    dropout : float, default=0.2
        Dropout rate in the towers.
    %(adapters)s

    See Also
    --------
    sklearn_hamur.MultiDomainClassifier : Trains this module (``backbone="mlp"``).
    sklearn_hamur.HAMURClassifier : Trains it with adapters.
    sklearn_hamur.modules.make_backbone : Build it, or another backbone, by name.

    %(hamur_references)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import MultiDomainMLP
    >>> from sklearn_hamur.modules.backbones import AdapterSpec
    >>> model = MultiDomainMLP(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                        d_hidden=[8, 8], dropout=0.0, adapters=AdapterSpec(rank=3))
    >>> model(torch.tensor([[3], [4]]), torch.zeros(2, 2), torch.tensor([0, 2])).shape
    torch.Size([2])
    """

    params = (BackboneParam("hidden_units", "d_hidden", HIDDEN_UNITS_SEARCH, adapted=True),)

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        d_embedding: int = 16,
        d_hidden: Sequence[int] = (256, 128),
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding)
        self.towers = make_towers(
            d_in=self.embedding.d_out, d_hidden=d_hidden, dropout=dropout, n_domains=n_domains
        )
        self._init_adapters(widths=d_hidden, adapters=adapters)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        return self._towers(self.towers, batch.groups.split(batch.e), batch)


__all__ = ["HIDDEN_UNITS_SEARCH", "MultiDomainMLP"]
