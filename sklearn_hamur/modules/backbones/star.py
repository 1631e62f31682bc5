"""STAR: star-topology layers, partitioned normalization and an auxiliary network."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..grouped import grouped_linear
from ..norm import GroupedBatchNorm
from ..routing import DomainGroups
from .base import (
    HIDDEN_UNITS_SEARCH,
    AdapterSpec,
    Backbone,
    BackboneParam,
    SortedBatch,
)


class PartitionedNorm(nn.Module):
    """Partitioned normalization: per-domain statistics, shared x domain affine parameters.

    ``(gamma * gamma_d) * (z - mean_d) / sqrt(var_d + eps) + (beta + beta_d)``: the
    statistics are those of domain ``d``'s rows of the batch in training and domain
    ``d``'s running averages in evaluation (STAR, Section 4.2); a one-row training batch
    uses the running averages (see :class:`~sklearn_hamur.modules.BatchNorm`).

    Parameters
    ----------
    d_in : int
        Width of the input.
    n_domains : int
        Number of domains.

    Shape
    -----
    - Input: ``(n, d_in)``, rows sorted by domain, and the batch's ``DomainGroups``
    - Output: ``(n, d_in)``

    Examples
    --------
    >>> from sklearn_hamur.modules import DomainGroups
    >>> norm = PartitionedNorm(d_in=4, n_domains=2)
    >>> norm(torch.randn(3, 4), DomainGroups(torch.tensor([0, 1, 1]), n_domains=2)).shape
    torch.Size([3, 4])
    """

    def __init__(self, *, d_in: int, n_domains: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_in))
        self.bias = nn.Parameter(torch.empty(d_in))
        self.domain_weight = nn.Parameter(torch.empty(n_domains, d_in))
        self.domain_bias = nn.Parameter(torch.empty(n_domains, d_in))
        self.statistics = GroupedBatchNorm(n_groups=n_domains, d=d_in, affine=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for weight in (self.weight, self.domain_weight):
            nn.init.ones_(weight)
        for bias in (self.bias, self.domain_bias):
            nn.init.zeros_(bias)
        self.statistics.reset_parameters()

    def forward(self, z: torch.Tensor, groups: DomainGroups) -> torch.Tensor:
        weight = (self.weight * self.domain_weight).index_select(0, groups.domain)
        bias = (self.bias + self.domain_bias).index_select(0, groups.domain)
        return torch.addcmul(bias, self.statistics(z, groups), weight)


class StarLinear(nn.Module):
    """A star-topology fully connected layer: ``W* = W * W_d``, ``b* = b + b_d``.

    The shared weight ``W`` and domain ``d``'s weight ``W_d`` are multiplied element-wise
    once per call for every domain; no per-row weight is formed.

    Parameters
    ----------
    d_in : int
        Input width.
    d_out : int
        Output width.
    n_domains : int
        Number of domains.

    Shape
    -----
    - Input: ``(n, d_in)``, rows sorted by domain, and the batch's ``DomainGroups``
    - Output: ``(n, d_out)``

    Examples
    --------
    >>> from sklearn_hamur.modules import DomainGroups
    >>> groups = DomainGroups(torch.tensor([0, 0, 1, 1, 1]), n_domains=2)
    >>> StarLinear(d_in=4, d_out=3, n_domains=2)(torch.randn(5, 4), groups).shape
    torch.Size([5, 3])
    """

    def __init__(self, *, d_in: int, d_out: int, n_domains: int) -> None:
        super().__init__()
        self.shared = nn.Linear(d_in, d_out)
        self.domain_weight = nn.Parameter(torch.empty(n_domains, d_out, d_in))
        self.domain_bias = nn.Parameter(torch.empty(n_domains, d_out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The paper does not say how the factors start; domain factors of one and zero
        # make every domain's layer start as the shared one (a standard Linear layer).
        self.shared.reset_parameters()
        nn.init.ones_(self.domain_weight)
        nn.init.zeros_(self.domain_bias)

    def forward(self, h: torch.Tensor, groups: DomainGroups) -> torch.Tensor:
        # Every domain's W * W_d at once: the parameters' size, not the batch's.
        weight = self.shared.weight * self.domain_weight
        return grouped_linear(h, weight, self.shared.bias + self.domain_bias, groups)


def make_auxiliary(*, d_in: int, d_hidden: Sequence[int], dropout: float) -> nn.Sequential:
    """The auxiliary network: ``Linear -> ReLU -> Dropout`` blocks and a one-output head."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    widths = [d_in, *d_hidden]
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers[f"linear{i}"] = nn.Linear(a, b)
        layers[f"activation{i}"] = nn.ReLU()
        layers[f"dropout{i}"] = nn.Dropout(dropout)
    layers["head"] = nn.Linear(widths[-1], 1)
    return nn.Sequential(layers)


@fill_doc
class STAR(Backbone):
    """Star Topology Adaptive Recommender (Sheng et al., 2021) with HAMUR adapters.

    STAR [1]_: the concatenated embeddings ``e`` go through partitioned normalization, then
    star-topology fully connected layers (``ReLU`` hidden layers and a one-output layer,
    each with weights ``W * W_d`` and biases ``b + b_d``), all run per domain on its own
    rows. An auxiliary network (a small MLP over a learned domain embedding and ``e``,
    shared by all domains) adds its output to the logit. With ``n_adapters > 0`` the last
    ``n_adapters`` hidden star layers are each followed by the domain's adapter
    (HAMUR [2]_), before the star output layer.

    ``d_embedding`` is also the width of the domain embedding.

    Parameters
    ----------
    %(backbone_inputs)s
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of the star-topology network.
    d_auxiliary : sequence of int, default=(64,)
        Hidden widths of the auxiliary network.
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the star-topology and auxiliary networks.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.SharedBottom : Shared layers, then per-domain towers.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="star"``).

    References
    ----------
    .. [1] X.-R. Sheng, L. Zhao, G. Zhou, X. Ding, B. Dai, Q. Luo, S. Yang, J. Lv,
       C. Zhang, H. Deng and X. Zhu, "One Model to Serve All: Star Topology Adaptive
       Recommender for Multi-Domain CTR Prediction", Proceedings of the 30th ACM
       International Conference on Information and Knowledge Management (CIKM 2021).
    %(hamur_reference_2)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, STAR
    >>> model = STAR(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...              d_hidden=[8, 8], d_auxiliary=[4], dropout=0.0,
    ...              adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    params = (
        BackboneParam("hidden_units", "d_hidden", HIDDEN_UNITS_SEARCH, adapted=True),
        BackboneParam("auxiliary_units", "d_auxiliary", ("32", "64", "128")),
    )
    # STAR's domain weight factors start at 1: decay would pull them to 0.
    no_weight_decay = (*Backbone.no_weight_decay, "domain_weight")

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        d_hidden: Sequence[int] = (256, 128),
        d_auxiliary: Sequence[int] = (64,),
        d_embedding: int = 16,
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
        linear_offset: bool = False,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding, linear_offset)
        d_in = self.embedding.d_out
        self.partitioned_norm = PartitionedNorm(d_in=d_in, n_domains=n_domains)
        widths = [d_in, *d_hidden]
        self.star_layers = nn.ModuleList(
            StarLinear(d_in=a, d_out=b, n_domains=n_domains) for a, b in zip(widths, widths[1:])
        )
        self.dropout = nn.Dropout(dropout)
        self.star_head = StarLinear(d_in=widths[-1], d_out=1, n_domains=n_domains)
        self.domain_embedding = nn.Embedding(n_domains, d_embedding)
        self.auxiliary = make_auxiliary(
            d_in=d_embedding + d_in, d_hidden=d_auxiliary, dropout=dropout
        )
        nn.init.normal_(self.domain_embedding.weight, std=0.01)  # as the feature embeddings
        self._init_adapters(widths=d_hidden, adapters=adapters)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        e, groups = batch.e, batch.groups
        h = self.partitioned_norm(e, groups)
        for i, layer in enumerate(self.star_layers):
            h = self._after_block(i, self.dropout(torch.relu(layer(h, groups))), batch)
        logits = self.star_head(h, groups).squeeze(-1)
        domain_e = self.domain_embedding(batch.domain)
        auxiliary = self.auxiliary(torch.cat([domain_e, e], dim=1)).squeeze(-1)
        return logits + auxiliary


__all__ = ["STAR", "PartitionedNorm", "StarLinear"]
