"""DeepFM: a factorization machine and a deep MLP over shared field embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..mlp import MLP
from .base import DeepBackbone, SortedBatch, make_heads
from .wide_deep import FirstOrder


def fm_interaction(fields: torch.Tensor) -> torch.Tensor:
    """Second-order FM term ``sum_{i<j} <v_i, v_j>`` of ``(n, n_fields, d)`` field vectors.

    Computed as ``((sum_i v_i)^2 - sum_i v_i^2) / 2`` summed over the ``d`` components:
    linear in the number of fields.

    Examples
    --------
    >>> fm_interaction(torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])).tolist()
    [11.0]
    """
    return 0.5 * (fields.sum(1).square() - fields.square().sum(1)).sum(1)


@fill_doc
class DeepFM(DeepBackbone):
    """DeepFM (Guo et al., 2017) with per-domain heads and optional HAMUR adapters.

    DeepFM [1]_: ``logit = first_order(x) + fm(v) + head_d(adapter_d(deep(v)))`` where ``v``
    are the field vectors: each categorical field's embedding, and for each numeric field a
    learned vector scaled by its value (a factorization machine's ``V_i x_i``). The FM and
    the deep MLP share these vectors, are shared by all domains and run once on the whole
    batch; domain ``d``'s head and (with ``n_adapters > 0``) its adapters after the last
    ``n_adapters`` deep blocks run on its rows only. The hyper-network reads the
    concatenated embeddings with the raw numeric values, as in every backbone; the adapters
    are those of HAMUR [2]_.

    ``d_embedding`` is also the FM's latent dimension (numeric fields get learned
    vectors of that width).

    Parameters
    ----------
    %(backbone_inputs)s
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of the deep part.
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the deep part.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.WideDeep : A linear wide part instead of the FM.
    sklearn_hamur.modules.MultiDomainMLP : The MLP backbone, one tower per domain.
    sklearn_hamur.HAMURClassifier : Trains a backbone with adapters
        (``backbone="deepfm"``).

    References
    ----------
    .. [1] H. Guo, R. Tang, Y. Ye, Z. Li and X. He, "DeepFM: A Factorization-Machine
       based Neural Network for CTR Prediction", Proceedings of the 26th International
       Joint Conference on Artificial Intelligence (IJCAI 2017).
       https://arxiv.org/abs/1703.04247
    %(hamur_reference_2)s

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import AdapterSpec, DeepFM
    >>> model = DeepFM(cardinalities=[10, 5], n_numeric=2, n_domains=3, d_embedding=4,
    ...                d_hidden=[8], dropout=0.0,
    ...                adapters=AdapterSpec(rank=3))
    >>> model(torch.tensor([[3, 1], [4, 0]]), torch.zeros(2, 2), torch.tensor([0, 2])).shape
    torch.Size([2])
    """

    def _build(self, *, d_hidden: Sequence[int], dropout: float) -> None:
        self.first_order = FirstOrder(cardinalities=self.cardinalities, n_numeric=self.n_numeric)
        self.numeric_embedding = (
            nn.Parameter(torch.empty(self.n_numeric, self.d_embedding)) if self.n_numeric else None
        )
        n_fields = len(self.cardinalities) + self.n_numeric
        self.deep = MLP(
            d_in=n_fields * self.d_embedding, d_hidden=d_hidden, d_out=None, dropout=dropout
        )
        # NOTE[DIFF]: one output layer of the deep part per domain (the paper has one).
        self.heads = make_heads(self.deep.d_hidden_out, self.n_domains)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new vectors of the numeric fields, as small as the categorical embeddings.

        The other layers (embeddings, MLP, heads, adapters) reset themselves.
        """
        if self.numeric_embedding is not None:
            nn.init.normal_(self.numeric_embedding, std=0.01)  # as the categorical ones

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        fields = self._fields(batch.e, batch.x_num)
        h = self._shared_blocks(self.deep, fields.flatten(1), batch)
        logits = self.heads(h, batch.groups).squeeze(-1)
        return logits + self.first_order(batch.x_cat, batch.x_num) + fm_interaction(fields)

    def _fields(self, e: torch.Tensor, x_num: torch.Tensor) -> torch.Tensor:
        """The ``(n, n_fields, d_embedding)`` field vectors: embeddings, then ``V_i x_i``."""
        # FeatureEmbedding lays out the flattened field embeddings first, then the values.
        n_categorical = self.embedding.n_categorical
        parts = [
            e[:, : n_categorical * self.d_embedding].unflatten(1, (n_categorical, self.d_embedding))
        ]
        if self.numeric_embedding is not None:
            parts.append(x_num.unsqueeze(-1) * self.numeric_embedding)
        return torch.cat(parts, dim=1)


__all__ = ["DeepFM", "fm_interaction"]
