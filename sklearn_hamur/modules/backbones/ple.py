"""PLE: shared and domain-specific experts over progressive extraction layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..grouped import GroupedLinear
from ..mlp import GroupedMLP
from ..routing import DomainGroups
from .base import AdapterSpec, Backbone, BackboneParam, SortedBatch, make_towers
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
    - ``shared`` and ``h``: ``(n, d_in)``, rows sorted by domain
    - Output: ``(n, d_expert[-1])`` or ``None``, and ``(n, d_expert[-1])``

    Examples
    --------
    >>> from sklearn_hamur.modules import DomainGroups
    >>> layer = ExtractionLayer(d_in=4, n_domains=2, n_shared_experts=1,
    ...                         n_specific_experts=1, d_expert=[3], dropout=0.0,
    ...                         shared_gate=True)
    >>> groups = DomainGroups(torch.tensor([0, 1, 1]), n_domains=2)
    >>> h = torch.randn(3, 4)
    >>> shared, specific = layer(h, h, groups)
    >>> shared.shape, specific.shape
    (torch.Size([3, 3]), torch.Size([3, 3]))
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
        # One grouped MLP per expert slot, each holding that slot's expert of every
        # domain; drawn domain after domain, as one list of experts per domain was.
        with torch.random.fork_rng(devices=[]):
            self.specific_experts = nn.ModuleList(
                GroupedMLP(
                    n_groups=n_domains, d_in=d_in, d_hidden=d_expert, d_out=None, dropout=dropout
                )
                for _ in range(n_specific_experts)
            )
        for group in range(n_domains):
            for expert in self.specific_experts:
                cast(GroupedMLP, expert).reset_group(group)
        self.gates = GroupedLinear(n_groups=n_domains, d_in=d_in, d_out=n_gated)
        # NOTE[DIFF]: the paper's shared gate mixes the shared experts and every task's
        # experts; here a row's domain-specific experts run on that row only, so the
        # shared gate mixes the shared experts and those of the row's own domain.
        self.shared_gate = nn.Linear(d_in, n_gated) if shared_gate else None

    def forward(
        self, shared: torch.Tensor, h: torch.Tensor, groups: DomainGroups
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        shared_out = run_experts(self.shared_experts, shared)
        specific = torch.stack([expert(h, groups) for expert in self.specific_experts], dim=1)
        experts = torch.cat([specific, shared_out], dim=1)
        h_out = mix_experts(self.gates(h, groups), experts)
        if self.shared_gate is None:
            return None, h_out
        return mix_experts(self.shared_gate(shared), experts), h_out


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
    %(linear_offset)s

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
        linear_offset: bool = False,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding, linear_offset)
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
        shared, h = batch.e, batch.e
        for level in self.levels:
            shared, h = level(shared, h, batch.groups)
        return self._towers(self.towers, h, batch)


__all__ = ["PLE", "ExtractionLayer"]
