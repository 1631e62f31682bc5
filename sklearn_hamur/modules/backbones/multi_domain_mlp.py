"""The MLP backbone with one tower per domain (HAMUR's "pure backbone")."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..._docstrings import fill_doc
from .base import (
    DeepBackbone,
    SortedBatch,
    make_towers,
)


@fill_doc
class MultiDomainMLP(DeepBackbone):
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
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the towers.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.MultiDomainClassifier : Trains this module (``backbone="mlp"``).
    sklearn_hamur.HAMURClassifier : Trains it with adapters.
    sklearn_hamur.modules.make_backbone : Build it, or another backbone, by name.

    %(hamur_references)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, MultiDomainMLP
    >>> model = MultiDomainMLP(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                        d_hidden=[8, 8], dropout=0.0, adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    def _build(self, *, d_hidden: Sequence[int], dropout: float) -> None:
        self.towers = make_towers(
            d_in=self.embedding.d_out, d_hidden=d_hidden, dropout=dropout, n_domains=self.n_domains
        )

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        return self._towers(self.towers, batch.e, batch)


__all__ = ["MultiDomainMLP"]
