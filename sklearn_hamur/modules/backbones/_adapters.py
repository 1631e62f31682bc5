"""What every backbone shares: the embedding, HAMUR's adapters and unknown-domain averaging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..adapter import HyperAdapter, apply_adapters
from ..embedding import FeatureEmbedding
from ..hypernetwork import HyperNetwork
from ..mlp import MLP
from ..routing import DomainGroups, average_unknown_domains

#: One tensor per domain present in a batch, in domain order: ``(d, rows_of_d)``.
DomainChunks = list[tuple[int, torch.Tensor]]


class AdaptedBackbone(nn.Module):
    """Base of the backbones: shared embedding, optional HAMUR adapters, unknown domains.

    The machinery every backbone shares to carry the adapters of HAMUR [1]_. A subclass
    builds its layers, then calls ``_init_adapters`` last (so that, for a given seed, its
    own parameters start the same with and without adapters), and implements
    ``_forward_known``, the forward pass for rows of known domains. :meth:`forward` gives
    each row of ``sklearn_hamur.modules.UNKNOWN_DOMAIN`` (-1) the logit of the mean
    probability over every domain's path.

    Adapter ``j`` follows hidden layer ``first_adapted_block + j`` of the part the
    backbone adapts (the deep part, or each domain's tower); the instance matrices come
    from one :class:`~sklearn_hamur.modules.HyperNetwork` run once per batch on the
    embeddings of every row, and every domain's adapter sees only its own rows.

    Parameters
    ----------
    cardinalities : sequence of int
        Vocabulary size of each categorical field.
    n_numeric : int
        Number of numeric fields.
    n_domains : int
        Number of domains.
    d_embedding : int
        Embedding width per categorical field.

    See Also
    --------
    sklearn_hamur.modules.make_backbone : Build a backbone by name.
    sklearn_hamur.modules.HyperAdapter : The adapter cell.

    References
    ----------
    .. [1] X. Li, F. Yan, X. Zhao, Y. Wang, B. Chen, H. Guo and R. Tang, "HAMUR: Hyper
       Adapter for Multi-Domain Recommendation", CIKM 2023.
       https://arxiv.org/abs/2309.06217

    Examples
    --------
    Every backbone derives from it, and averages over the domains for a row of an
    unknown domain:

    >>> import torch
    >>> from sklearn_hamur.modules import make_backbone
    >>> from sklearn_hamur.modules.backbones import AdaptedBackbone
    >>> _ = torch.manual_seed(0)
    >>> model = make_backbone("wide_deep", cardinalities=[10], n_numeric=1, n_domains=2,
    ...                       d_embedding=4, d_hidden=[8], dropout=0.0).eval()
    >>> isinstance(model, AdaptedBackbone)
    True
    >>> x_cat, x_num = torch.tensor([[3], [3]]), torch.zeros(2, 1)
    >>> both = torch.sigmoid(model(x_cat, x_num, torch.tensor([0, 1])))
    >>> unknown = torch.sigmoid(model(x_cat[:1], x_num[:1], torch.tensor([-1])))
    >>> bool(torch.allclose(unknown, both.mean(), atol=1e-6))
    True
    """

    def __init__(
        self, *, cardinalities: Sequence[int], n_numeric: int, n_domains: int, d_embedding: int
    ) -> None:
        super().__init__()
        self.n_domains = n_domains
        self.embedding = FeatureEmbedding(
            cardinalities=cardinalities, d_embedding=d_embedding, n_numeric=n_numeric
        )
        self.share_adapters = False
        self.first_adapted_block = 0
        self.hypernetwork: HyperNetwork | None = None
        self.adapters: nn.ModuleList | None = None

    def _init_adapters(
        self,
        *,
        widths: Sequence[int],
        n_adapters: int,
        adapter_rank: int,
        d_adapter: int,
        d_hyper_hidden: Sequence[int],
        share_adapters: bool,
    ) -> None:
        """Adapters after the last ``n_adapters`` of the hidden layers of widths ``widths``."""
        if not 0 <= n_adapters <= len(widths):
            raise ValueError(
                f"n_adapters must be in [0, {len(widths)}] (the number of hidden layers the "
                f"adapters can follow in {type(self).__name__}), got {n_adapters}."
            )
        self.share_adapters = share_adapters
        self.first_adapted_block = len(widths) - n_adapters
        if not n_adapters:
            return
        self.hypernetwork = HyperNetwork(
            d_in=self.embedding.d_out,
            d_hidden=d_hyper_hidden,
            rank=adapter_rank,
            n_matrices=n_adapters,
        )
        # NOTE[DIFF]: one set of U, V, biases and norm per domain, as in the paper; the
        # reference shares one set (share_adapters=True reproduces that).
        n_sets = 1 if share_adapters else self.n_domains
        self.adapters = nn.ModuleList(
            nn.ModuleList(
                HyperAdapter(d_in=width, d_bottleneck=d_adapter, rank=adapter_rank)
                for width in widths[self.first_adapted_block :]
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
        """Compute the logit of each row with its own domain's layers.

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
        raise NotImplementedError

    # -- helpers for the subclasses -------------------------------------------------------

    def _embed(
        self, x_cat: torch.Tensor, x_num: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Embeddings ``e`` and the instance matrices (``None`` without HAMUR) of a batch.

        The hyper-network runs once on the whole (sorted) batch; its per-row matrices are
        never split per domain (see :func:`apply_adapters`).
        """
        e = self.embedding(x_cat, x_num)
        return e, None if self.hypernetwork is None else self.hypernetwork(e)

    def _after_block(
        self, i: int, hs: DomainChunks, s: list[torch.Tensor] | None, groups: DomainGroups
    ) -> DomainChunks:
        """Each domain's adapter that follows hidden layer ``i``, if there is one."""
        if s is None or i < self.first_adapted_block:
            return hs
        j = i - self.first_adapted_block
        return apply_adapters([self._adapter(d, j) for d, _ in hs], hs, s[j], groups)

    def _adapter(self, d: int, j: int) -> HyperAdapter:
        """Adapter ``j`` of domain ``d`` (the shared set when ``share_adapters``)."""
        assert self.adapters is not None
        adapters = cast(nn.ModuleList, self.adapters[0 if self.share_adapters else d])
        return cast(HyperAdapter, adapters[j])

    def _shared_blocks(
        self, mlp: MLP, h: torch.Tensor, s: list[torch.Tensor] | None, groups: DomainGroups
    ) -> DomainChunks:
        """A shared MLP's blocks on the whole sorted batch, with per-domain adapters.

        Each block runs once on every row; the adapter after it (if any) runs per domain
        on that domain's rows. Returns the output split per domain.
        """
        last = len(mlp.blocks) - 1
        for i, block in enumerate(mlp.blocks):
            h = block(h)
            if s is not None and i >= self.first_adapted_block:
                hs = self._after_block(i, groups.split(h), s, groups)
                if i == last:
                    return hs
                h = groups.concat([x for _, x in hs])  # the next shared block sees every row
        return groups.split(h)

    def _towers(
        self,
        towers: nn.ModuleList,
        hs: DomainChunks,
        s: list[torch.Tensor] | None,
        groups: DomainGroups,
    ) -> torch.Tensor:
        """Run each domain's MLP tower on its own rows; sorted logits ``(n,)``.

        Layer-major order (block ``i`` of every present domain, then the adapters that
        follow it), so each adapter layer multiplies by ``S`` in one batched call.
        """
        mlps = [cast(MLP, tower) for tower in towers]
        for i in range(len(mlps[0].blocks)):
            hs = [(d, mlps[d].blocks[i](h)) for d, h in hs]
            hs = self._after_block(i, hs, s, groups)
        return self._heads([cast(nn.Linear, mlp.head) for mlp in mlps], hs, groups)

    @staticmethod
    def _heads(
        heads: nn.ModuleList | Sequence[nn.Module], hs: DomainChunks, groups: DomainGroups
    ) -> torch.Tensor:
        """Domain ``d``'s one-output head on ``d``'s rows; sorted logits ``(n,)``."""
        return groups.concat([heads[d](h).squeeze(-1) for d, h in hs])


def make_heads(d_in: int, n_domains: int) -> nn.ModuleList:
    """One linear output layer ``d_in -> 1`` per domain."""
    return nn.ModuleList(nn.Linear(d_in, 1) for _ in range(n_domains))
