"""Shared-Bottom: one MLP shared by all domains, then one tower per domain."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..mlp import MLP
from ..routing import DomainGroups
from ._adapters import AdaptedBackbone


class SharedBottom(AdaptedBackbone):
    """Shared-Bottom multi-domain model (Caruana, 1997; Ruder, 2017) with HAMUR adapters.

    Hard parameter sharing [1]_, [2]_: a bottom MLP over the concatenated embeddings is
    shared by all domains and runs once on the whole batch; domain ``d``'s tower (an MLP
    with a one-output head) runs on its rows only. With ``n_adapters > 0`` the last
    ``n_adapters`` hidden blocks of every tower are each followed by that domain's adapter
    (HAMUR [3]_).

    Parameters
    ----------
    cardinalities : sequence of int
        Vocabulary size of each categorical field.
    n_numeric : int
        Number of numeric fields.
    n_domains : int
        Number of domains (towers).
    d_embedding : int, default=16
        Embedding width per categorical field.
    d_bottom : sequence of int, default=(256,)
        Hidden widths of the shared bottom MLP.
    d_tower : sequence of int, default=(128,)
        Hidden widths of each domain's tower.
    dropout : float, default=0.2
        Dropout rate in the bottom and the towers.
    n_adapters : int, default=0
        How many of the last tower blocks get an adapter; 0 disables HAMUR.
    adapter_rank : int, default=35
        ``k``, side of the instance matrix.
    d_adapter : int, default=32
        Bottleneck width of the adapter.
    d_hyper_hidden : sequence of int, default=(64,)
        Hidden widths of the hyper-network.
    share_adapters : bool, default=False
        Share U, V, biases and the norm across domains instead of one set per domain.

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
    .. [3] X. Li, F. Yan, X. Zhao, Y. Wang, B. Chen, H. Guo and R. Tang, "HAMUR: Hyper
       Adapter for Multi-Domain Recommendation", CIKM 2023.
       https://arxiv.org/abs/2309.06217

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import SharedBottom
    >>> model = SharedBottom(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                      d_bottom=[8], d_tower=[8], dropout=0.0, n_adapters=1)
    >>> model(torch.tensor([[3], [4]]), torch.zeros(2, 2), torch.tensor([0, 2])).shape
    torch.Size([2])
    """

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        d_embedding: int = 16,
        d_bottom: Sequence[int] = (256,),
        d_tower: Sequence[int] = (128,),
        dropout: float = 0.2,
        n_adapters: int = 0,
        adapter_rank: int = 35,
        d_adapter: int = 32,
        d_hyper_hidden: Sequence[int] = (64,),
        share_adapters: bool = False,
    ) -> None:
        super().__init__(
            cardinalities=cardinalities,
            n_numeric=n_numeric,
            n_domains=n_domains,
            d_embedding=d_embedding,
        )
        self.bottom = MLP(d_in=self.embedding.d_out, d_hidden=d_bottom, d_out=None, dropout=dropout)
        # NOTE[DIFF]: multi-task shared-bottom has one tower per task and every row goes
        # through all of them; here the towers are per domain, and a row goes through its
        # domain's only.
        self.towers = nn.ModuleList(
            MLP(d_in=self.bottom.d_hidden_out, d_hidden=d_tower, d_out=1, dropout=dropout)
            for _ in range(n_domains)
        )
        self._init_adapters(
            widths=d_tower,
            n_adapters=n_adapters,
            adapter_rank=adapter_rank,
            d_adapter=d_adapter,
            d_hyper_hidden=d_hyper_hidden,
            share_adapters=share_adapters,
        )

    def _forward_known(
        self,
        x_cat: torch.Tensor,
        x_num: torch.Tensor,
        domain: torch.Tensor,
        domain_counts: list[int] | None = None,
    ) -> torch.Tensor:
        groups = DomainGroups(domain, n_domains=self.n_domains, counts=domain_counts)
        e, s = self._embed(groups.sort(x_cat), groups.sort(x_num))
        hs = groups.split(self.bottom(e))
        return groups.restore(self._towers(self.towers, hs, s, groups))


__all__ = ["SharedBottom"]
