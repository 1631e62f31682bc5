"""One MLP tower shared by all domains, the domain an embedded feature, one head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..mlp import MLP
from .base import DeepBackbone, SortedBatch


@fill_doc
class SharedMLP(DeepBackbone):
    """One MLP shared by all domains, with the domain embedded, and HAMUR's adapters.

    The concatenated embeddings ``e`` and a learned embedding of the row's domain feed one
    MLP tower and one output head, shared by every domain: all rows train all layers, so
    domains that are user groups or pages of one product pool what they have in common.
    With ``adapters`` the last ``adapters.n_adapters`` hidden blocks are each followed by
    the row's domain's :class:`~sklearn_hamur.modules.HyperAdapter` (HAMUR [1]_): the
    domain-specific part is the adapters' U, V, biases and norm, the instance-specific
    part the hyper-network's matrices. The shared tower runs once on the whole batch;
    each domain's adapter runs on its rows only.

    Parameters
    ----------
    %(backbone_inputs)s
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of the shared tower.
    %(d_embedding_module)s
    dropout : float, default=0.2
        Dropout rate in the tower.
    %(adapters)s
    %(linear_offset)s

    See Also
    --------
    sklearn_hamur.modules.MultiDomainMLP : One tower per domain (the paper's backbone).
    sklearn_hamur.HAMURClassifier : Trains it with adapters (``backbone="shared_mlp"``).

    %(hamur_references)s

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, SharedMLP
    >>> model = SharedMLP(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                   d_hidden=[8, 8], dropout=0.0, adapters=AdapterSpec(rank=3))
    %(backbone_example)s
    """

    def _build(self, *, d_hidden: Sequence[int], dropout: float) -> None:
        # NOTE[DIFF]: not one of the paper's backbones. Its MLP backbone has one tower
        # per domain, which lost about 0.01 AUC against one shared tower on data whose
        # domains are user groups (MovieLens age groups), a per-domain head alone 0.008.
        self.domain_embedding = nn.Embedding(self.n_domains, self.d_embedding)
        nn.init.normal_(self.domain_embedding.weight, std=0.01)  # as the feature embeddings
        self.tower = MLP(
            d_in=self.embedding.d_out + self.d_embedding,
            d_hidden=d_hidden,
            d_out=1,
            dropout=dropout,
        )

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        h = torch.cat([batch.e, self.domain_embedding(batch.domain)], dim=1)
        if batch.s is None:  # no adapter: the whole batch through the tower at once
            return self.tower(h).squeeze(-1)
        assert self.tower.head is not None
        return self.tower.head(self._shared_blocks(self.tower, h, batch)).squeeze(-1)


__all__ = ["SharedMLP"]
