"""PLE: shared and domain-specific experts over progressive extraction layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..routing import DomainGroups
from .base import AdapterSpec, Backbone, BackboneParam, DomainChunks, SortedBatch, make_towers
from .mmoe import make_experts, mix_experts, run_experts
from .shared_bottom import TOWER_UNITS_SEARCH


class ExtractionLayer(nn.Module):
    """One extraction layer of PLE (a Customized Gate Control unit), routed by domain.

    Shared experts run on every row; domain ``d``'s experts and gate run on its rows
    only. The gate of domain ``d`` mixes its own experts and the shared ones. With
    ``shared_gate``, a shared gate also mixes, for each row, the shared experts and the
    experts of the row's own domain into the shared input of the next layer.

    Parameters
    ----------
    d_in : int
        Input width.
    n_domains : int
        Number of domains.
    n_shared_experts : int
        Number of shared experts.
    n_specific_experts : int
        Number of experts per domain.
    d_expert : sequence of int
        Hidden widths of each expert MLP; the last is the width it outputs.
    dropout : float
        Dropout rate in the experts.
    shared_gate : bool
        Whether to compute the shared output (every layer but the last).

    Shape
    -----
    - ``shared``: ``(n, d_in)``, every row in sorted order; ``hs``: per-domain chunks of
      ``(n_d, d_in)``
    - Output: ``(n, d_expert[-1])`` or ``None``, and per-domain chunks of
      ``(n_d, d_expert[-1])``

    Examples
    --------
    >>> from sklearn_hamur.modules import DomainGroups
    >>> layer = ExtractionLayer(d_in=4, n_domains=2, n_shared_experts=1,
    ...                         n_specific_experts=1, d_expert=[3], dropout=0.0,
    ...                         shared_gate=True)
    >>> groups = DomainGroups(torch.tensor([0, 1, 1]), n_domains=2)
    >>> h = torch.randn(3, 4)
    >>> shared, hs = layer(h, groups.split(h), groups)
    >>> shared.shape, [chunk.shape for _, chunk in hs]
    (torch.Size([3, 3]), [torch.Size([1, 3]), torch.Size([2, 3])])
    """

    def __init__(
        self,
        *,
        d_in: int,
        n_domains: int,
        n_shared_experts: int,
        n_specific_experts: int,
        d_expert: Sequence[int],
        dropout: float,
        shared_gate: bool,
    ) -> None:
        super().__init__()
        n_gated = n_specific_experts + n_shared_experts
        self.shared_experts = make_experts(
            n_experts=n_shared_experts, d_in=d_in, d_expert=d_expert, dropout=dropout
        )
        self.specific_experts = nn.ModuleList(
            make_experts(
                n_experts=n_specific_experts, d_in=d_in, d_expert=d_expert, dropout=dropout
            )
            for _ in range(n_domains)
        )
        self.gates = nn.ModuleList(nn.Linear(d_in, n_gated) for _ in range(n_domains))
        # NOTE[DIFF]: the paper's shared gate mixes the shared experts and every task's
        # experts; here a row's domain-specific experts run on that row only, so the
        # shared gate mixes the shared experts and those of the row's own domain.
        self.shared_gate = nn.Linear(d_in, n_gated) if shared_gate else None

    def forward(
        self, shared: torch.Tensor, hs: DomainChunks, groups: DomainGroups
    ) -> tuple[torch.Tensor | None, DomainChunks]:
        shared_out = run_experts(self.shared_experts, shared)
        specific = [
            (d, run_experts(cast(nn.ModuleList, self.specific_experts[d]), h)) for d, h in hs
        ]
        hs_out = [
            (d, mix_experts(self.gates[d](h), torch.cat([x_d, sh_d], dim=1)))
            for (d, h), (_, x_d), (_, sh_d) in zip(hs, specific, groups.split(shared_out))
        ]
        if self.shared_gate is None:
            return None, hs_out
        experts = torch.cat([groups.concat([x_d for _, x_d in specific]), shared_out], dim=1)
        return mix_experts(self.shared_gate(shared), experts), hs_out


@fill_doc
class PLE(Backbone):
    """Progressive Layered Extraction (Tang et al., 2020), routed by domain, with adapters.

    PLE [1]_ with domains as tasks: ``n_levels`` extraction layers, each with
    ``n_shared_experts`` shared experts (run on every row) and ``n_specific_experts``
    experts per domain (run on that domain's rows), mixed by one softmax gate per domain;
    every layer but the last also mixes a shared representation for the next. Domain ``d``'s
    tower (an MLP with a one-output head) scores the last layer's output of its rows. With
    ``n_adapters > 0`` the last ``n_adapters`` hidden blocks of every tower are each
    followed by that domain's adapter (HAMUR [2]_). ``n_levels=1`` is CGC.

    Parameters
    ----------
    %(backbone_inputs)s
    n_levels : int, default=2
        Number of extraction layers.
    n_shared_experts : int, default=2
        Number of shared experts per layer.
    n_specific_experts : int, default=1
        Number of experts per domain and layer.
    d_expert : sequence of int, default=(256,)
        Hidden widths of each expert MLP; the last is the width it outputs.
    d_tower : sequence of int, default=(128,)
        Hidden widths of each domain's tower.
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the experts and the towers.
    %(adapters)s

    See Also
    --------
    sklearn_hamur.modules.MMoE : Shared experts only, one level.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="ple"``).

    References
    ----------
    .. [1] H. Tang, J. Liu, M. Zhao and X. Gong, "Progressive Layered Extraction
       (PLE): A Novel Multi-Task Learning (MTL) Model for Personalized
       Recommendations", Proceedings of the 14th ACM Conference on Recommender Systems
       (RecSys 2020).
    %(hamur_reference_2)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, PLE
    >>> model = PLE(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4, n_levels=2,
    ...             n_shared_experts=1, n_specific_experts=1, d_expert=[8], d_tower=[8],
    ...             dropout=0.0, adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    params = (
        BackboneParam("n_levels", "n_levels", range(1, 4)),
        BackboneParam("n_shared_experts", "n_shared_experts", range(1, 5)),
        BackboneParam("n_specific_experts", "n_specific_experts", range(1, 3)),
        BackboneParam("expert_units", "d_expert", ("128", "256")),
        BackboneParam("tower_units", "d_tower", TOWER_UNITS_SEARCH, adapted=True),
    )

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        n_levels: int = 2,
        n_shared_experts: int = 2,
        n_specific_experts: int = 1,
        d_expert: Sequence[int] = (256,),
        d_tower: Sequence[int] = (128,),
        d_embedding: int = 16,
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding)
        if n_levels < 1 or n_shared_experts < 1 or n_specific_experts < 1 or not d_expert:
            raise ValueError(
                "PLE needs n_levels, n_shared_experts and n_specific_experts >= 1 and at "
                f"least one expert layer (d_expert), got n_levels={n_levels}, "
                f"n_shared_experts={n_shared_experts}, n_specific_experts={n_specific_experts}, "
                f"d_expert={list(d_expert)}."
            )
        # NOTE[DIFF]: the paper's task-specific experts, gates and towers are per domain
        # here, and a row goes through its own domain's only.
        widths = [self.embedding.d_out] + [d_expert[-1]] * (n_levels - 1)
        self.levels = nn.ModuleList(
            ExtractionLayer(
                d_in=width,
                n_domains=n_domains,
                n_shared_experts=n_shared_experts,
                n_specific_experts=n_specific_experts,
                d_expert=d_expert,
                dropout=dropout,
                shared_gate=level < n_levels - 1,
            )
            for level, width in enumerate(widths)
        )
        self.towers = make_towers(
            d_in=d_expert[-1], d_hidden=d_tower, dropout=dropout, n_domains=n_domains
        )
        self._init_adapters(widths=d_tower, adapters=adapters)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        shared, hs = batch.e, batch.groups.split(batch.e)
        for level in self.levels:
            shared, hs = level(shared, hs, batch.groups)
        return self._towers(self.towers, hs, batch)


__all__ = ["PLE", "ExtractionLayer"]
