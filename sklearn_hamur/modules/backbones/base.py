"""The backbone contract: what every backbone shares and what each one declares.

A backbone is a :class:`Backbone` subclass that builds its own layers and computes the
logits of a batch whose rows are sorted by domain (``_forward_sorted``). The base holds
the shared embedding, HAMUR's adapters (configured by one :class:`AdapterSpec`), the
routing of rows to their domains, unknown-domain averaging and the parameter groups of
the optimizer. Each backbone class declares, in ``params``, which estimator parameters
it takes under which constructor argument, which of them holds the widths the adapters
follow, and how to search each; the estimators' tables, the ``n_adapters`` bound and
the Optuna search space are derived from these declarations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, cast

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

#: Widths searched for the adapted hidden layers of the deep backbones.
HIDDEN_UNITS_SEARCH = ("128-64", "256-128", "512-256", "256-128-64")


@dataclass(frozen=True)
class BackboneParam:
    """One hyper-parameter of a backbone, as the estimators expose it.

    Parameters
    ----------
    name : str
        The estimator parameter (``"hidden_units"``).
    argument : str
        The backbone's constructor argument it is passed as (``"d_hidden"``). An
        argument named ``d_*`` is a tuple of layer widths, any other a count (>= 1).
    search : tuple or range
        What :func:`~sklearn_hamur.model_selection.hamur_search_space` searches: a
        ``range`` of counts, or a tuple of choices (widths written ``"256-128"``).
    adapted : bool, default=False
        Whether the adapters follow the hidden layers of these widths; exactly one
        parameter of a backbone is adapted.

    See Also
    --------
    sklearn_hamur.modules.backbones.Backbone : Declares its parameters in ``params``.
    sklearn_hamur.model_selection.hamur_search_space : Searches each ``search``.

    Examples
    --------
    >>> from sklearn_hamur.modules.backbones import BackboneParam
    >>> param = BackboneParam("tower_units", "d_tower", ("64", "128"), adapted=True)
    >>> param.is_widths
    True
    """

    name: str
    argument: str
    search: tuple | range
    adapted: bool = False

    @property
    def is_widths(self) -> bool:
        """Whether the value is a tuple of layer widths (else a count)."""
        return self.argument.startswith("d_")


@dataclass(frozen=True)
class AdapterSpec:
    """HAMUR's adapter options, passed to a backbone as one value.

    Parameters
    ----------
    n_adapters : int, default=1
        How many of the last hidden layers of the adapted part get an adapter.
    rank : int, default=35
        ``k``, the side of the instance matrix ``S``.
    d_bottleneck : int, default=32
        The adapter's bottleneck width.
    d_hyper_hidden : tuple of int, default=(64,)
        Hidden widths of the hyper-network.
    shared : bool, default=False
        One set of U, V, biases and norm for all domains (the reference implementation)
        instead of one per domain (the paper).
    identity_init : bool, default=True
        Start every adapter as the identity (its domain norm's scale at 0), so the model
        starts as its backbone; ``False`` starts the scale at 1, as the reference does.

    See Also
    --------
    sklearn_hamur.modules.HyperAdapter : The adapter cell.
    sklearn_hamur.modules.HyperNetwork : Writes the instance matrices.

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec
    >>> AdapterSpec(n_adapters=2, rank=3).d_hyper_hidden
    (64,)
    >>> spec = AdapterSpec.from_params({"n_adapters": 1, "adapter_rank": 25, "d_adapter": 16,
    ...                                 "hyper_hidden_units": [128], "share_adapters": False})
    >>> spec.rank, spec.d_bottleneck, spec.d_hyper_hidden, spec.identity_init
    (25, 16, (128,), True)
    """

    n_adapters: int = 1
    rank: int = 35
    d_bottleneck: int = 32
    d_hyper_hidden: tuple[int, ...] = field(default=(64,))
    shared: bool = False
    identity_init: bool = True

    # Estimator parameter -> field: the one place the two vocabularies meet.
    ESTIMATOR_PARAMS: ClassVar[dict[str, str]] = {
        "n_adapters": "n_adapters",
        "adapter_rank": "rank",
        "d_adapter": "d_bottleneck",
        "hyper_hidden_units": "d_hyper_hidden",
        "share_adapters": "shared",
    }

    def __post_init__(self) -> None:
        object.__setattr__(self, "d_hyper_hidden", tuple(self.d_hyper_hidden))
        object.__setattr__(self, "shared", bool(self.shared))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AdapterSpec:
        """The spec from estimator parameters (``adapter_rank``, ``d_adapter``, ...).

        Parameters
        ----------
        params : mapping
            Estimator parameters holding every key of ``ESTIMATOR_PARAMS``.

        Returns
        -------
        AdapterSpec
            The adapter options they describe.
        """
        return cls(**{key: params[name] for name, key in cls.ESTIMATOR_PARAMS.items()})


@dataclass(frozen=True)
class SortedBatch:
    """A batch as a backbone's ``_forward_sorted`` sees it: rows sorted by domain.

    Parameters
    ----------
    x_cat : torch.Tensor of shape (n, n_categorical)
        Category indices, rows sorted by domain.
    x_num : torch.Tensor of shape (n, n_numeric)
        Numeric values, rows sorted by domain.
    original_domain : torch.Tensor of shape (n,)
        Domain indices in the batch's original row order; ``domain`` sorts them on first
        use (only the backbones that embed the domain need them).
    e : torch.Tensor of shape (n, d_embedding * n_categorical + n_numeric)
        The concatenated embeddings and values.
    s : list of torch.Tensor of shape (n, k, k), or None
        The hyper-network's instance matrices, one per adapter (``None`` without
        adapters).
    groups : DomainGroups
        The batch's :class:`~sklearn_hamur.modules.DomainGroups`.

    See Also
    --------
    sklearn_hamur.modules.backbones.Backbone : Builds it for ``_forward_sorted``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups
    >>> from sklearn_hamur.modules.backbones import SortedBatch
    >>> groups = DomainGroups(torch.tensor([0, 0]), n_domains=1)
    >>> batch = SortedBatch(torch.zeros(2, 1), torch.zeros(2, 0), torch.zeros(2), torch.ones(2, 4),
    ...                     None, groups)
    >>> batch.e.shape
    torch.Size([2, 4])
    """

    x_cat: torch.Tensor
    x_num: torch.Tensor
    original_domain: torch.Tensor
    e: torch.Tensor
    s: list[torch.Tensor] | None
    groups: DomainGroups

    @cached_property
    def domain(self) -> torch.Tensor:
        """The domain indices, sorted like the other tensors."""
        return self.groups.sort(self.original_domain)


@fill_doc
class Backbone(nn.Module):
    """Base of the backbones: shared embedding, optional HAMUR adapters, unknown domains.

    The machinery every backbone shares to carry the adapters of HAMUR [1]_. A subclass
    declares ``params``, builds its layers, then calls ``_init_adapters`` last (so that,
    for a given seed, its own parameters start the same with and without adapters), and
    implements ``_forward_sorted``: the logits of a batch whose rows are sorted by
    domain. :meth:`forward` gives each row of ``sklearn_hamur.modules.UNKNOWN_DOMAIN``
    (-1) the logit of the mean probability over every domain's path.

    Adapter ``j`` follows hidden layer ``first_adapted_block + j`` of the part the
    backbone adapts (the deep part, or each domain's tower); the instance matrices come
    from one :class:`~sklearn_hamur.modules.HyperNetwork` run once per batch on the
    embeddings of every row, and every domain's adapter sees only its own rows.

    Parameters
    ----------
    %(backbone_inputs)s
    %(d_embedding_module)s

    See Also
    --------
    sklearn_hamur.modules.make_backbone : Build a backbone by name.
    sklearn_hamur.modules.HyperAdapter : The adapter cell.

    %(hamur_references)s

    Examples
    --------
    Every backbone derives from it, and averages over the domains for a row of an
    unknown domain:

    >>> import torch
    >>> from sklearn_hamur.modules import make_backbone
    >>> from sklearn_hamur.modules.backbones import Backbone
    >>> _ = torch.manual_seed(0)
    >>> model = make_backbone("wide_deep", cardinalities=[10], n_numeric=1, n_domains=2,
    ...                       d_embedding=4, d_hidden=[8], dropout=0.0).eval()
    >>> isinstance(model, Backbone)
    True
    >>> x_cat, x_num = torch.tensor([[3], [3]]), torch.zeros(2, 1)
    >>> both = torch.sigmoid(model(x_cat, x_num, torch.tensor([0, 1])))
    >>> unknown = torch.sigmoid(model(x_cat[:1], x_num[:1], torch.tensor([-1])))
    >>> bool(torch.allclose(unknown, both.mean(), atol=1e-6))
    True
    """

    # The backbone's own hyper-parameters (beyond ``d_embedding``, ``dropout`` and
    # ``adapters``, which every backbone takes).
    params: ClassVar[tuple[BackboneParam, ...]] = ()

    # Substrings of the names of parameters trained without weight decay.
    # NOTE[DIFF]: no weight decay on embeddings, biases and norms (the reference decays
    # every parameter).
    no_weight_decay: ClassVar[tuple[str, ...]] = ("embedding", "bias", "norm")

    def __init__(
        self, cardinalities: Sequence[int], n_numeric: int, n_domains: int, d_embedding: int
    ) -> None:
        # Positional, unlike the backbones' own keyword-only constructors: only they call it.
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.n_numeric = n_numeric
        self.n_domains = n_domains
        self.d_embedding = d_embedding
        self.embedding = FeatureEmbedding(
            cardinalities=cardinalities, d_embedding=d_embedding, n_numeric=n_numeric
        )
        self.share_adapters = False
        self.first_adapted_block = 0
        self.hypernetwork: HyperNetwork | None = None
        self.adapters: nn.ModuleList | None = None

    # -- what a backbone declares ----------------------------------------------------------

    @classmethod
    def adapted_param(cls) -> BackboneParam:
        """The declared parameter whose hidden layers the adapters follow."""
        (param,) = (p for p in cls.params if p.adapted)
        return param

    @classmethod
    def arguments(cls, params: Mapping[str, Any], adapters: AdapterSpec | None) -> dict:
        """Constructor arguments (but the data sizes) from estimator parameters.

        Parameters
        ----------
        params : mapping
            Estimator parameters: ``d_embedding``, ``dropout`` and every ``name`` of
            ``params`` (others are ignored).
        adapters : AdapterSpec or None
            The adapters, or ``None`` for the backbone alone.

        Returns
        -------
        dict
            Keyword arguments of the constructor, ``cardinalities``, ``n_numeric`` and
            ``n_domains`` aside.
        """
        kwargs: dict[str, Any] = {
            "d_embedding": params["d_embedding"],
            "dropout": params["dropout"],
            "adapters": adapters,
        }
        for param in cls.params:
            value = params[param.name]
            kwargs[param.argument] = tuple(value) if param.is_widths else value
        return kwargs

    # -- what the base builds ------------------------------------------------------------

    def _init_adapters(self, *, widths: Sequence[int], adapters: AdapterSpec | None) -> None:
        """Adapters after the last ``adapters.n_adapters`` of the layers of ``widths``."""
        if adapters is None:
            self.first_adapted_block = len(widths)
            return
        if not 0 <= adapters.n_adapters <= len(widths):
            raise ValueError(
                f"n_adapters must be in [0, {len(widths)}] (the number of hidden layers the "
                f"adapters can follow in {type(self).__name__}), got {adapters.n_adapters}."
            )
        self.share_adapters = adapters.shared
        self.first_adapted_block = len(widths) - adapters.n_adapters
        if not adapters.n_adapters:
            return
        self.hypernetwork = HyperNetwork(
            d_in=self.embedding.d_out,
            d_hidden=adapters.d_hyper_hidden,
            rank=adapters.rank,
            n_matrices=adapters.n_adapters,
        )
        # NOTE[DIFF]: one set of U, V, biases and norm per domain, as in the paper; the
        # reference shares one set (shared=True reproduces that).
        n_sets = 1 if adapters.shared else self.n_domains
        self.adapters = nn.ModuleList(
            nn.ModuleList(
                HyperAdapter(
                    d_in=width,
                    d_bottleneck=adapters.d_bottleneck,
                    rank=adapters.rank,
                    identity_init=adapters.identity_init,
                )
                for width in widths[self.first_adapted_block :]
            )
            for _ in range(n_sets)
        )

    def make_parameter_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups: the decayed ones, then the rest without decay.

        A parameter whose name contains one of ``no_weight_decay`` is not decayed.

        Returns
        -------
        list of dict
            ``[{"params": decayed}, {"params": not_decayed, "weight_decay": 0.0}]``.
        """
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for name, parameter in self.named_parameters():
            exempt = any(part in name for part in self.no_weight_decay)
            (no_decay if exempt else decay).append(parameter)
        return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]

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
        # NOTE[DIFF]: the reference runs every domain's tower on the whole batch and picks
        # rows afterwards (cost grows with the number of domains, and the towers' batch
        # norms mix domains); here each domain's layers see only its own rows.
        groups = DomainGroups(domain, n_domains=self.n_domains, counts=domain_counts)
        x_cat, x_num = groups.sort(x_cat), groups.sort(x_num)
        e = self.embedding(x_cat, x_num)
        # The hyper-network runs once on the whole (sorted) batch; its per-row matrices are
        # never split per domain (see apply_adapters).
        s = None if self.hypernetwork is None else self.hypernetwork(e)
        return groups.restore(self._forward_sorted(SortedBatch(x_cat, x_num, domain, e, s, groups)))

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        """The ``(n,)`` logits of a batch sorted by domain, in that sorted order."""
        raise NotImplementedError

    # -- helpers for the subclasses -------------------------------------------------------

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

    def _shared_blocks(self, mlp: MLP, h: torch.Tensor, batch: SortedBatch) -> DomainChunks:
        """A shared MLP's blocks on the whole sorted batch, with per-domain adapters.

        Each block runs once on every row; the adapter after it (if any) runs per domain
        on that domain's rows. Returns the output split per domain.
        """
        s, groups = batch.s, batch.groups
        last = len(mlp.blocks) - 1
        for i, block in enumerate(mlp.blocks):
            h = block(h)
            if s is not None and i >= self.first_adapted_block:
                hs = self._after_block(i, groups.split(h), s, groups)
                if i == last:
                    return hs
                h = groups.concat([x for _, x in hs])  # the next shared block sees every row
        return groups.split(h)

    def _towers(self, towers: nn.ModuleList, hs: DomainChunks, batch: SortedBatch) -> torch.Tensor:
        """Run each domain's MLP tower on its own rows; sorted logits ``(n,)``.

        Layer-major order (block ``i`` of every present domain, then the adapters that
        follow it), so each adapter layer multiplies by ``S`` in one batched call.
        """
        mlps = [cast(MLP, tower) for tower in towers]
        for i in range(len(mlps[0].blocks)):
            hs = [(d, mlps[d].blocks[i](h)) for d, h in hs]
            hs = self._after_block(i, hs, batch.s, batch.groups)
        return self._heads([cast(nn.Linear, mlp.head) for mlp in mlps], hs, batch.groups)

    @staticmethod
    def _heads(
        heads: Sequence[nn.Module] | nn.ModuleList, hs: DomainChunks, groups: DomainGroups
    ) -> torch.Tensor:
        """Domain ``d``'s one-output head on ``d``'s rows; sorted logits ``(n,)``."""
        return groups.concat([heads[d](h).squeeze(-1) for d, h in hs])


class DeepBackbone(Backbone):
    """A backbone whose one hyper-parameter is ``hidden_units``: the widths adapters follow.

    The constructor of the backbones built around one MLP (``"shared_mlp"``, ``"mlp"``,
    ``"wide_deep"``, ``"deepfm"``): the base's embedding, then the subclass's layers
    (``_build``), then the adapters.
    """

    params = (BackboneParam("hidden_units", "d_hidden", HIDDEN_UNITS_SEARCH, adapted=True),)

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        d_hidden: Sequence[int] = (256, 128),
        d_embedding: int = 16,
        dropout: float = 0.2,
        adapters: AdapterSpec | None = None,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding)
        self._build(d_hidden=d_hidden, dropout=dropout)
        self._init_adapters(widths=d_hidden, adapters=adapters)

    def _build(self, *, d_hidden: Sequence[int], dropout: float) -> None:
        """Build the backbone's own layers (the embedding exists; the adapters follow)."""
        raise NotImplementedError


def make_heads(d_in: int, n_domains: int) -> nn.ModuleList:
    """One linear output layer ``d_in -> 1`` per domain."""
    return nn.ModuleList(nn.Linear(d_in, 1) for _ in range(n_domains))


def make_towers(
    *, d_in: int, d_hidden: Sequence[int], dropout: float, n_domains: int
) -> nn.ModuleList:
    """One MLP tower ``d_in -> d_hidden -> 1`` per domain."""
    return nn.ModuleList(
        MLP(d_in=d_in, d_hidden=d_hidden, d_out=1, dropout=dropout) for _ in range(n_domains)
    )


__all__ = [
    "HIDDEN_UNITS_SEARCH",
    "AdapterSpec",
    "Backbone",
    "BackboneParam",
    "DeepBackbone",
    "DomainChunks",
    "SortedBatch",
    "make_heads",
    "make_towers",
]
