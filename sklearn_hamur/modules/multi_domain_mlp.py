"""The MLP backbone with one tower per domain, optionally carrying HAMUR adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from .._docstrings import fill_doc
from .adapter import HyperAdapter, apply_adapters
from .embedding import FeatureEmbedding
from .hypernetwork import HyperNetwork
from .mlp import MLP
from .routing import DomainGroups, average_unknown_domains


class MultiDomainMLP(nn.Module):
    """Shared embeddings, one MLP tower per domain, and optional HAMUR adapter cells.

    With ``n_adapters=0`` this is the "pure backbone" of the HAMUR paper [1]_; with
    ``n_adapters > 0`` the last ``n_adapters`` hidden blocks of every tower are each
    followed by a :class:`~sklearn_hamur.modules.HyperAdapter` whose instance matrices
    come from one shared :class:`~sklearn_hamur.modules.HyperNetwork`.

    The hyper-network runs once per batch on every row; each tower and its adapters
    run only on the rows of their own domain. A row whose domain index is
    ``sklearn_hamur.modules.UNKNOWN_DOMAIN`` (-1) gets the logit of the mean
    probability over all domain paths.

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
    d_hidden : sequence of int, default=(256, 128)
        Hidden widths of each tower (reference MovieLens: ``[256, 128]``).
    dropout : float, default=0.2
        Dropout rate in the towers.
    n_adapters : int, default=0
        How many of the last hidden blocks get an adapter; 0 disables HAMUR.
    adapter_rank : int, default=35
        ``k``, side of the instance matrix.
    d_adapter : int, default=32
        Bottleneck width of the adapter.
    d_hyper_hidden : sequence of int, default=(64,)
        Hidden widths of the hyper-network.
    share_adapters : bool, default=False
        Share U, V, biases and the norm across domains (the reference implementation)
        instead of one set per domain (the paper).

    See Also
    --------
    sklearn_hamur.MultiDomainClassifier : Trains this module (``backbone="mlp"``).
    sklearn_hamur.HAMURClassifier : Trains it with adapters.
    sklearn_hamur.modules.make_backbone : Build it, or another backbone, by name.

    References
    ----------
    .. [1] X. Li, F. Yan, X. Zhao, Y. Wang, B. Chen, H. Guo and R. Tang, "HAMUR: Hyper
       Adapter for Multi-Domain Recommendation", CIKM 2023.
       https://arxiv.org/abs/2309.06217

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import MultiDomainMLP
    >>> model = MultiDomainMLP(cardinalities=[10], n_numeric=2, n_domains=3, d_embedding=4,
    ...                        d_hidden=[8, 8], dropout=0.0, n_adapters=1)
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
        d_hidden: Sequence[int] = (256, 128),
        dropout: float = 0.2,
        n_adapters: int = 0,
        adapter_rank: int = 35,
        d_adapter: int = 32,
        d_hyper_hidden: Sequence[int] = (64,),
        share_adapters: bool = False,
    ) -> None:
        super().__init__()
        if not 0 <= n_adapters <= len(d_hidden):
            raise ValueError(f"n_adapters must be in [0, {len(d_hidden)}], got {n_adapters}.")
        self.n_domains = n_domains
        self.share_adapters = share_adapters
        self.first_adapted_block = len(d_hidden) - n_adapters
        self.embedding = FeatureEmbedding(
            cardinalities=cardinalities, d_embedding=d_embedding, n_numeric=n_numeric
        )
        d_in = self.embedding.d_out
        self.towers = nn.ModuleList(
            MLP(d_in=d_in, d_hidden=d_hidden, d_out=1, dropout=dropout) for _ in range(n_domains)
        )
        self.hypernetwork: HyperNetwork | None = None
        self.adapters: nn.ModuleList | None = None
        if n_adapters:
            self.hypernetwork = HyperNetwork(
                d_in=d_in, d_hidden=d_hyper_hidden, rank=adapter_rank, n_matrices=n_adapters
            )
            # NOTE[DIFF]: one set of U, V, biases and norm per domain, as in the paper;
            # the reference shares one set (share_adapters=True reproduces that).
            n_sets = 1 if share_adapters else n_domains
            self.adapters = nn.ModuleList(
                nn.ModuleList(
                    HyperAdapter(d_in=width, d_bottleneck=d_adapter, rank=adapter_rank)
                    for width in d_hidden[self.first_adapted_block :]
                )
                for _ in range(n_sets)
            )

    @fill_doc
    def forward(
        self,
        x_cat: torch.Tensor,
        x_num: torch.Tensor,
        domain: torch.Tensor,
        domain_counts: list[int] | None = None,
    ) -> torch.Tensor:
        """Compute the logit of each row with its own domain's tower.

        Parameters
        ----------
        %(x_cat)s
        %(x_num)s
        %(domain)s
        %(domain_counts)s

        Returns
        -------
        torch.Tensor of shape (n,)
            The logits, in the order of the input rows.
        """
        if domain_counts is not None:
            return self._forward_known(x_cat, x_num, domain, domain_counts)
        if not torch.all(domain >= 0):  # host sync; only evaluation can see unknown domains
            return average_unknown_domains(
                self._forward_known, x_cat, x_num, domain, n_domains=self.n_domains
            )
        return self._forward_known(x_cat, x_num, domain)

    def _forward_known(
        self,
        x_cat: torch.Tensor,
        x_num: torch.Tensor,
        domain: torch.Tensor,
        domain_counts: list[int] | None = None,
    ) -> torch.Tensor:
        # NOTE[DIFF]: the reference runs every domain's tower on the whole batch and picks
        # rows afterwards (cost grows with the number of domains, and the towers' batch
        # norms mix domains); here each tower sees only its own domain's rows.
        groups = DomainGroups(domain, n_domains=self.n_domains, counts=domain_counts)
        e = self.embedding(groups.sort(x_cat), groups.sort(x_num))
        # The hyper-network runs once on the whole (sorted) batch; its per-row matrices
        # are never split per domain (see _adapt), only sliced per adapter.
        s = None if self.hypernetwork is None else self.hypernetwork(e)
        hs = groups.split(e)
        towers = [cast(MLP, tower) for tower in self.towers]
        # Layer-major order: block i of every present domain, then its adapters.
        for i in range(len(towers[0].blocks)):
            hs = [(d, towers[d].blocks[i](h)) for d, h in hs]
            if s is not None and i >= self.first_adapted_block:
                hs = self._adapt(i - self.first_adapted_block, hs, s, groups)
        heads = [cast(nn.Linear, tower.head) for tower in towers]
        logits = groups.concat([heads[d](h).squeeze(-1) for d, h in hs])
        return groups.restore(logits)

    def _adapt(
        self,
        j: int,
        hs: list[tuple[int, torch.Tensor]],
        s: list[torch.Tensor],
        groups: DomainGroups,
    ) -> list[tuple[int, torch.Tensor]]:
        """Apply adapter ``j`` of each domain, multiplying by S once for the whole batch.

        Only the k-wide projections are joined and split per domain; splitting the
        ``(n, k, k)`` instance matrices instead would copy them again in the backward pass.
        """
        return apply_adapters([self._adapter(d, j) for d, _ in hs], hs, s[j], groups)

    def _adapter(self, d: int, j: int) -> HyperAdapter:
        """Adapter ``j`` of domain ``d`` (the shared set when ``share_adapters``)."""
        assert self.adapters is not None
        adapters = cast(nn.ModuleList, self.adapters[0 if self.share_adapters else d])
        return cast(HyperAdapter, adapters[j])


__all__ = ["MultiDomainMLP"]
