"""MMoE: shared experts mixed by one softmax gate per domain, then one tower per domain."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..grouped import GroupedLinear
from ..mlp import MLP
from .base import AdapterSpec, Backbone, BackboneParam, SortedBatch, make_towers
from .shared_bottom import TOWER_UNITS_SEARCH


def make_experts(
    *, n_experts: int, d_in: int, d_expert: Sequence[int], dropout: float
) -> nn.ModuleList:
    """``n_experts`` headless MLPs ``d_in -> d_expert[-1]``."""
    return nn.ModuleList(
        MLP(d_in=d_in, d_hidden=d_expert, d_out=None, dropout=dropout) for _ in range(n_experts)
    )


def run_experts(experts: nn.ModuleList, h: torch.Tensor) -> torch.Tensor:
    """Every expert on ``h``: ``(n, n_experts, d_expert[-1])``."""
    return torch.stack([expert(h) for expert in experts], dim=1)


def mix_experts(gate_logits: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """Softmax-weighted sum ``(n, d)`` of ``(n, n_experts, d)`` expert outputs.

    Examples
    --------
    >>> mix_experts(torch.zeros(1, 2), torch.tensor([[[0.0, 2.0], [4.0, 2.0]]])).tolist()
    [[2.0, 2.0]]
    """
    return torch.bmm(torch.softmax(gate_logits, dim=-1).unsqueeze(1), experts).squeeze(1)


@fill_doc
class MMoE(Backbone):
    """Multi-gate Mixture-of-Experts (Ma et al., 2018), one gate and tower per domain.

    MMoE [1]_ with domains as tasks: ``n_experts`` expert MLPs over the concatenated
    embeddings ``e`` are shared by all domains and run once on the whole batch; domain
    ``d``'s gate (``softmax(Linear(e))`` over the experts) mixes them for its rows, and its
    tower (an MLP with a one-output head) scores them. With ``n_adapters > 0`` the last
    ``n_adapters`` hidden blocks of every tower are each followed by that domain's adapter
    (HAMUR [2]_).

    Parameters
    ----------
    %(backbone_inputs)s
    n_experts : int, default=4
        Number of shared experts.
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
    sklearn_hamur.modules.PLE : Shared and domain-specific experts, in levels.
    sklearn_hamur.modules.SharedBottom : One shared bottom instead of experts.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="mmoe"``).

    References
    ----------
    .. [1] J. Ma, Z. Zhao, X. Yi, J. Chen, L. Hong and E. H. Chi, "Modeling Task
       Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts",
       Proceedings of the 24th ACM SIGKDD International Conference on Knowledge
       Discovery & Data Mining (KDD 2018).
    %(hamur_reference_2)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, MMoE
    >>> model = MMoE(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...              n_experts=2, d_expert=[8], d_tower=[8], dropout=0.0,
    ...              adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    params = (
        BackboneParam("n_experts", "n_experts", range(2, 9)),
        BackboneParam("expert_units", "d_expert", ("128", "256", "256-128")),
        BackboneParam("tower_units", "d_tower", TOWER_UNITS_SEARCH, adapted=True),
    )

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        n_experts: int = 4,
        d_expert: Sequence[int] = (256,),
        d_tower: Sequence[int] = (128,),
        d_embedding: int = 16,
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
        linear_offset: bool = False,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding, linear_offset)
        if n_experts < 1 or not d_expert:
            raise ValueError(
                f"MMoE needs n_experts >= 1 and at least one expert layer (d_expert), got "
                f"n_experts={n_experts}, d_expert={list(d_expert)}."
            )
        d_in = self.embedding.d_out
        self.experts = make_experts(
            n_experts=n_experts, d_in=d_in, d_expert=d_expert, dropout=dropout
        )
        # NOTE[DIFF]: the paper's gates and towers are per task and every row goes through
        # all of them; here they are per domain, and a row goes through its domain's only.
        self.gates = GroupedLinear(n_groups=n_domains, d_in=d_in, d_out=n_experts)
        self.towers = make_towers(
            d_in=d_expert[-1], d_hidden=d_tower, dropout=dropout, n_domains=n_domains
        )
        self._init_adapters(widths=d_tower, adapters=adapters)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        experts = run_experts(self.experts, batch.e)
        h = mix_experts(self.gates(batch.e, batch.groups), experts)
        return self._towers(self.towers, h, batch)


__all__ = ["MMoE", "make_experts", "mix_experts", "run_experts"]
