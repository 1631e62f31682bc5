"""Wide & Deep: a linear model over the raw features plus a deep MLP, per-domain heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..embedding import FeatureEmbedding
from ..mlp import MLP
from .base import DeepBackbone, SortedBatch, make_heads


class FirstOrder(nn.Module):
    """A linear model without bias: one learned scalar per categorical id, plus numeric values.

    The wide part of Wide & Deep and the first-order term of a factorization machine.
    The bias is left to the model's output heads.

    Parameters
    ----------
    cardinalities : sequence of int
        Vocabulary size of each categorical field.
    n_numeric : int
        Number of numeric fields.

    Shape
    -----
    - ``x_cat``: ``(n, len(cardinalities))`` int64; ``x_num``: ``(n, n_numeric)`` float32
    - Output: ``(n,)``

    Examples
    --------
    >>> wide = FirstOrder(cardinalities=[5, 7], n_numeric=2)
    >>> wide(torch.tensor([[1, 6], [0, 2]]), torch.zeros(2, 2)).shape
    torch.Size([2])
    """

    def __init__(self, *, cardinalities: Sequence[int], n_numeric: int) -> None:
        super().__init__()
        self.embedding = FeatureEmbedding(cardinalities=cardinalities, d_embedding=1, n_numeric=0)
        self.numeric = nn.Linear(n_numeric, 1, bias=False) if n_numeric else None

    def forward(self, x_cat: torch.Tensor, x_num: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x_num.shape[0], dtype=x_num.dtype, device=x_num.device)
        if self.embedding.n_categorical:
            out = out + self.embedding(x_cat, x_num).sum(1)
        if self.numeric is not None:
            out = out + self.numeric(x_num).squeeze(-1)
        return out


@fill_doc
class WideDeep(DeepBackbone):
    """Wide & Deep (Cheng et al., 2016) with per-domain heads and optional HAMUR adapters.

    Wide & Deep [1]_: ``logit = wide(x) + head_d(adapter_d(deep(e)))``: the wide part is a
    linear model over the categorical ids (one learned scalar per id) and the numeric
    values; the deep part is an MLP over the concatenated embeddings ``e``. Both are shared
    by all domains and run once on the whole batch; the output head and (with
    ``n_adapters > 0``) the adapters after the last ``n_adapters`` deep blocks belong to a
    domain and run on its rows only. ``n_adapters=1`` is the paper's placement: on the deep
    part's output, before the final linear layer (HAMUR [2]_).

    Parameters
    ----------
    %(backbone_inputs)s
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of the deep part (reference MovieLens: ``[256, 128]``).
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the deep part (reference: 0.2).
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.DeepFM : A factorization machine in place of the wide part.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="wide_deep"``).

    References
    ----------
    .. [1] H.-T. Cheng et al., "Wide & Deep Learning for Recommender Systems",
       Proceedings of the 1st Workshop on Deep Learning for Recommender Systems
       (DLRS 2016), pp. 7-10. https://arxiv.org/abs/1606.07792
    %(hamur_reference_2)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, WideDeep
    >>> model = WideDeep(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                  d_hidden=[8, 8], dropout=0.0,
    ...                  adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    def _build(self, *, d_hidden: Sequence[int], dropout: float) -> None:
        # NOTE[DIFF]: the wide part sees the raw ids and numeric values only; the paper
        # also feeds it hand-made cross-product transformations.
        self.wide = FirstOrder(cardinalities=self.cardinalities, n_numeric=self.n_numeric)
        self.deep = MLP(d_in=self.embedding.d_out, d_hidden=d_hidden, d_out=None, dropout=dropout)
        # NOTE[DIFF]: one output layer per domain; the paper has one, and the HAMUR
        # reference's Wide & Deep has no domain-specific parameter at all.
        self.heads = make_heads(self.deep.d_hidden_out, self.n_domains)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        h = self._shared_blocks(self.deep, batch.e, batch)
        return self.heads(h, batch.groups).squeeze(-1) + self.wide(batch.x_cat, batch.x_num)


__all__ = ["FirstOrder", "WideDeep"]
