"""Shared-Bottom: one MLP shared by all domains, then one tower per domain."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..._docstrings import fill_doc
from ..mlp import MLP
from .base import AdapterSpec, Backbone, BackboneParam, SortedBatch, make_towers

#: Widths searched for the towers of the backbones with per-domain towers.
TOWER_UNITS_SEARCH = ("64", "128", "128-64")


@fill_doc
class SharedBottom(Backbone):
    """Shared-Bottom multi-domain model (Caruana, 1997; Ruder, 2017) with HAMUR adapters.

    Hard parameter sharing [1]_, [2]_: a bottom MLP over the concatenated embeddings is
    shared by all domains and runs once on the whole batch; domain ``d``'s tower (an MLP
    with a one-output head) runs on its rows only. With ``n_adapters > 0`` the last
    ``n_adapters`` hidden blocks of every tower are each followed by that domain's adapter
    (HAMUR [3]_).

    Parameters
    ----------
    %(backbone_inputs)s
    d_bottom : sequence of int, default=(256,)
        Hidden widths of the shared bottom MLP.
    d_tower : sequence of int, default=(128,)
        Hidden widths of each domain's tower.
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the bottom and the towers.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.MMoE : Experts mixed per domain instead of one bottom.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="shared_bottom"``).

    References
    ----------
    .. [1] R. Caruana, "Multitask Learning", Machine Learning, vol. 28, no. 1,
       pp. 41-75, 1997.
    .. [2] S. Ruder, "An Overview of Multi-Task Learning in Deep Neural Networks",
       2017. https://arxiv.org/abs/1706.05098
    %(hamur_reference_3)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, SharedBottom
    >>> model = SharedBottom(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                      d_bottom=[8], d_tower=[8], dropout=0.0,
    ...                      adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    params = (
        BackboneParam("bottom_units", "d_bottom", ("128", "256", "256-128")),
        BackboneParam("tower_units", "d_tower", TOWER_UNITS_SEARCH, adapted=True),
    )

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        d_bottom: Sequence[int] = (256,),
        d_tower: Sequence[int] = (128,),
        d_embedding: int = 16,
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
        linear_offset: bool = False,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding, linear_offset)
        self.bottom = MLP(d_in=self.embedding.d_out, d_hidden=d_bottom, d_out=None, dropout=dropout)
        # NOTE[DIFF]: multi-task shared-bottom has one tower per task and every row goes
        # through all of them; here the towers are per domain, and a row goes through its
        # domain's only.
        self.towers = make_towers(
            d_in=self.bottom.d_hidden_out, d_hidden=d_tower, dropout=dropout, n_domains=n_domains
        )
        self._init_adapters(widths=d_tower, adapters=adapters)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        return self._towers(self.towers, self.bottom(batch.e), batch)


__all__ = ["TOWER_UNITS_SEARCH", "SharedBottom"]
