"""Deep & Cross Network (DCN) and DCN-V2: a cross network beside a deep MLP, per-domain heads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..mlp import MLP
from .base import HIDDEN_UNITS_SEARCH, AdapterSpec, Backbone, BackboneParam, SortedBatch, make_heads


class CrossNetwork(nn.Module):
    """DCN's cross layers: ``x_{l+1} = x_0 * (x_l @ w_l) + b_l + x_l``.

    Each layer adds one degree of explicit feature crossing with ``2 d_in`` parameters
    (Wang et al., 2017).

    Parameters
    ----------
    d_in : int
        Width of the input (and output).
    n_layers : int
        Number of cross layers.

    Shape
    -----
    - Input: ``(n, d_in)``
    - Output: ``(n, d_in)``

    Examples
    --------
    >>> CrossNetwork(d_in=6, n_layers=2)(torch.randn(3, 6)).shape
    torch.Size([3, 6])
    """

    def __init__(self, *, d_in: int, n_layers: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_layers, d_in))
        self.bias = nn.Parameter(torch.empty(n_layers, d_in))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As a Linear(d_in, 1) layer would start.
        bound = 1.0 / math.sqrt(max(self.weight.shape[1], 1))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.bias)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for w, b in zip(self.weight, self.bias):
            x = x0 * (x @ w).unsqueeze(-1) + b + x
        return x


class CrossNetworkV2(nn.Module):
    """DCN-V2's full-rank cross layers: ``x_{l+1} = x_0 * (x_l @ W_l.T + b_l) + x_l``.

    Each layer has a full ``d_in x d_in`` matrix (Wang et al., 2021).

    Parameters
    ----------
    d_in : int
        Width of the input (and output).
    n_layers : int
        Number of cross layers.

    Shape
    -----
    - Input: ``(n, d_in)``
    - Output: ``(n, d_in)``

    Examples
    --------
    >>> CrossNetworkV2(d_in=6, n_layers=2)(torch.randn(3, 6)).shape
    torch.Size([3, 6])
    """

    def __init__(self, *, d_in: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(d_in, d_in) for _ in range(n_layers))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


@fill_doc
class DCN(Backbone):
    """Deep & Cross Network (Wang et al., 2017) with per-domain heads and HAMUR adapters.

    DCN [1]_: ``logit = head_d([cross(e), adapter_d(deep(e))])``: a cross network and a deep
    MLP both read the concatenated embeddings ``e``, are shared by all domains and run once
    on the whole batch; their outputs are concatenated and fed to domain ``d``'s linear
    head. With ``n_adapters > 0``, domain ``d``'s adapters follow the last ``n_adapters``
    deep blocks on its rows only; ``n_adapters=1`` is the paper's placement: on the deep
    part's output, then concatenated with the cross network's output (HAMUR [2]_).
    :class:`~sklearn_hamur.modules.DCNV2` swaps in full-rank cross layers.

    Parameters
    ----------
    %(backbone_inputs)s
    n_cross_layers : int, default=2
        Number of cross layers (reference MovieLens: 2, Ali-CCP: 7).
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of the deep part (reference MovieLens: ``[256, 128]``).
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the deep part.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.DCNV2 : Full-rank cross layers.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="dcn"``).

    References
    ----------
    .. [1] R. Wang, B. Fu, G. Fu and M. Wang, "Deep & Cross Network for Ad Click
       Predictions", Proceedings of the ADKDD'17 workshop, 2017.
       https://arxiv.org/abs/1708.05123
    %(hamur_reference_2)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, DCN
    >>> model = DCN(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...             n_cross_layers=2, d_hidden=[8], dropout=0.0, adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    params = (
        BackboneParam("n_cross_layers", "n_cross_layers", range(1, 5)),
        BackboneParam("hidden_units", "d_hidden", HIDDEN_UNITS_SEARCH, adapted=True),
    )

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        n_cross_layers: int = 2,
        d_hidden: Sequence[int] = (256, 128),
        d_embedding: int = 16,
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
        linear_offset: bool = False,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding, linear_offset)
        if n_cross_layers < 0:
            raise ValueError(f"n_cross_layers must be >= 0, got {n_cross_layers}.")
        d_in = self.embedding.d_out
        self.cross = self._make_cross(d_in=d_in, n_layers=n_cross_layers)
        self.deep = MLP(d_in=d_in, d_hidden=d_hidden, d_out=None, dropout=dropout)
        # NOTE[DIFF]: one output layer per domain; the paper has one, and the HAMUR
        # reference's DCN has no domain-specific parameter at all.
        self.heads = make_heads(d_in + self.deep.d_hidden_out, n_domains)
        self._init_adapters(widths=d_hidden, adapters=adapters)

    @staticmethod
    def _make_cross(*, d_in: int, n_layers: int) -> nn.Module:
        return CrossNetwork(d_in=d_in, n_layers=n_layers)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        deep = self._shared_blocks(self.deep, batch.e, batch)
        h = torch.cat([self.cross(batch.e), deep], dim=1)
        return self.heads(h, batch.groups).squeeze(-1)


@fill_doc
class DCNV2(DCN):
    """DCN-V2 (Wang et al., 2021): DCN with full-rank matrix cross layers.

    The parallel structure of the paper [1]_ (cross network beside the deep network, outputs
    concatenated), with ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` cross layers; per-domain
    heads and optional HAMUR [2]_ adapters on the deep part's output, as in
    :class:`~sklearn_hamur.modules.DCN`.

    Parameters
    ----------
    %(backbone_inputs)s
    n_cross_layers : int, default=2
        Number of cross layers.
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of the deep part.
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the deep part.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.DCN : The original, vector cross layers.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="dcn_v2"``).

    References
    ----------
    .. [1] R. Wang, R. Shivanna, D. Cheng, S. Jain, D. Lin, L. Hong and E. Chi,
       "DCN V2: Improved Deep & Cross Network and Practical Lessons for Web-scale
       Learning to Rank Systems", Proceedings of the Web Conference (WWW 2021).
       https://arxiv.org/abs/2008.13535
    %(hamur_reference_2)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, DCNV2
    >>> model = DCNV2(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...               n_cross_layers=2, d_hidden=[8], dropout=0.0,
    ...               adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    # NOTE[DIFF]: the full-rank cross layer only; DCN-V2's low-rank mixture of experts
    # (DCN-Mix) and its stacked structure are not offered.
    @staticmethod
    def _make_cross(*, d_in: int, n_layers: int) -> nn.Module:
        return CrossNetworkV2(d_in=d_in, n_layers=n_layers)


__all__ = ["DCN", "DCNV2", "CrossNetwork", "CrossNetworkV2"]
