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

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import torch
from torch import nn

from ..._docstrings import fill_doc
from ..adapter import HyperAdapter
from ..embedding import FeatureEmbedding
from ..grouped import GroupedLinear
from ..hypernetwork import HyperNetwork
from ..mlp import MLP, GroupedMLP
from ..offset import LinearOffset
from ..routing import DomainGroups, average_unknown_domains

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

    @property
    def domain(self) -> torch.Tensor:
        """The domain indices, sorted like the other tensors."""
        return self.groups.domain


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
    %(linear_offset)s

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
        self,
        cardinalities: Sequence[int],
        n_numeric: int,
        n_domains: int,
        d_embedding: int,
        linear_offset: bool = False,
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
        # Built before the backbone's layers, but it holds buffers only: it draws no
        # random number, so a backbone starts the same with and without it.
        self.linear_offset = (
            LinearOffset(cardinalities=cardinalities, n_numeric=n_numeric, n_domains=n_domains)
            if linear_offset
            else None
        )
        self.share_adapters = False
        self.first_adapted_block = 0
        self.hypernetwork: HyperNetwork | None = None
        self.adapters: nn.ModuleList | None = None
        # Host-side switch, not state: with False the adapters and the hyper-network are
        # skipped, and the model computes exactly its backbone (the first stage of
        # ``adapter_training="staged"``). An untrained adapter is the identity, so a
        # module saved either way predicts the same; the estimators always leave it True.
        self.adapters_active = True
        # Files and checkpoints written before the per-domain layers were stacked hold one
        # tensor per domain: they are stacked on load (see upgrade_state_dict).
        self._register_load_state_dict_pre_hook(_upgrade_on_load, with_module=True)

    # -- what a backbone declares ----------------------------------------------------------

    @classmethod
    def adapted_param(cls) -> BackboneParam:
        """The declared parameter whose hidden layers the adapters follow."""
        (param,) = (p for p in cls.params if p.adapted)
        return param

    @classmethod
    def takes_linear_offset(cls) -> bool:
        """Whether the constructor takes ``linear_offset`` (every built-in backbone does).

        A backbone written without it still trains; the estimators then make no
        ``logistic_blend`` and refuse ``logistic_offset``.
        """
        parameters = inspect.signature(cls.__init__).parameters
        return "linear_offset" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        )

    @classmethod
    def arguments(cls, params: Mapping[str, Any], adapters: AdapterSpec | None) -> dict:
        """Constructor arguments (but the data sizes) from estimator parameters.

        Parameters
        ----------
        params : mapping
            Estimator parameters: ``d_embedding``, ``dropout``, ``logistic_offset`` and
            ``logistic_blend`` (if either is given and not ``None``, and the constructor
            takes it: the module carries a :class:`~sklearn_hamur.modules.LinearOffset`)
            and every ``name`` of
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
        wanted = any(params.get(n) is not None for n in ("logistic_offset", "logistic_blend"))
        if wanted and cls.takes_linear_offset():
            kwargs["linear_offset"] = True
        for param in cls.params:
            value = params[param.name]
            kwargs[param.argument] = tuple(value) if param.is_widths else value
        return kwargs

    # -- what the base builds ------------------------------------------------------------

    def _init_adapters(self, *, widths: Sequence[int], adapters: AdapterSpec | None) -> None:
        """Adapters after the last ``adapters.n_adapters`` of the layers of ``widths``."""
        self.first_adapted_block = len(widths)
        if adapters is not None:
            if not 0 <= adapters.n_adapters <= len(widths):
                raise ValueError(
                    f"n_adapters must be in [0, {len(widths)}] (the number of hidden layers "
                    f"the adapters can follow in {type(self).__name__}), got "
                    f"{adapters.n_adapters}."
                )
            self.share_adapters = adapters.shared
            self.first_adapted_block = len(widths) - adapters.n_adapters
            if adapters.n_adapters:
                # NOTE[DIFF]: the adapters and the hyper-network are drawn from the global
                # RNG as before, which is then put back as it was, so what is drawn next
                # is the same with and without adapters (the estimators' nets then move
                # to a fresh stream: _net.continue_on_a_fresh_stream).
                with torch.random.fork_rng(devices=[]):
                    self._draw_adapters(widths=widths, adapters=adapters)

    def _draw_adapters(self, *, widths: Sequence[int], adapters: AdapterSpec) -> None:
        """Build the hyper-network and the adapters, drawing from the global RNG."""
        self.hypernetwork = HyperNetwork(
            d_in=self.embedding.d_out,
            d_hidden=adapters.d_hyper_hidden,
            rank=adapters.rank,
            n_matrices=adapters.n_adapters,
        )
        # NOTE[DIFF]: one set of U, V, biases and norm per domain, as in the paper; the
        # reference shares one set (shared=True reproduces that).
        n_sets = 1 if adapters.shared else self.n_domains
        with torch.random.fork_rng(devices=[]):
            self.adapters = nn.ModuleList(
                HyperAdapter(
                    d_in=width,
                    d_bottleneck=adapters.d_bottleneck,
                    rank=adapters.rank,
                    n_groups=n_sets,
                    identity_init=adapters.identity_init,
                )
                for width in widths[self.first_adapted_block :]
            )
        # Drawn domain after domain, as one list of adapters per domain was, so a seed
        # gives the same model as before the parameters were stacked.
        for group in range(n_sets):
            for adapter in self._adapter_list():
                adapter.reset_group(group)

    def _adapter_list(self) -> list[HyperAdapter]:
        assert self.adapters is not None
        return [cast(HyperAdapter, adapter) for adapter in self.adapters]

    def upgrade_state_dict(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` with one-tensor-per-domain entries stacked into this module's layout.

        Before the per-domain layers were stacked, domain ``d``'s tensors were stored under
        the container's name followed by ``.d`` (``towers.0.blocks.0.linear.weight``); now
        one tensor holds every domain (``towers.blocks.0.linear.weight``, domains first).
        Each tensor of this module missing from ``state`` is built by stacking the old
        per-domain entries when all are present; everything else is left as it is.

        Parameters
        ----------
        state : mapping of str to torch.Tensor
            A state dict, in either layout (not modified).

        Returns
        -------
        dict
            The state dict in this module's layout.
        """
        return upgrade_state_dict(self.state_dict(keep_vars=True), state)

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
        # NOTE[DIFF]: an optional fixed logistic-regression logit, added under the network
        # (``logistic_offset``) or blended with it (``logistic_blend``); the reference has
        # no such term.
        x_raw = (x_cat, x_num, domain)
        x_cat, x_num = groups.sort(x_cat), groups.sort(x_num)
        e = self.embedding(x_cat, x_num)
        # The hyper-network runs once on the whole (sorted) batch; its per-row matrices are
        # never split per domain (see apply_adapters).
        s = None
        if self.hypernetwork is not None and self.adapters_active:
            s = self.hypernetwork(e)
        out = groups.restore(self._forward_sorted(SortedBatch(x_cat, x_num, domain, e, s, groups)))
        return out if self.linear_offset is None else self.linear_offset.combine(out, *x_raw)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        """The ``(n,)`` logits of a batch sorted by domain, in that sorted order."""
        raise NotImplementedError

    # -- helpers for the subclasses -------------------------------------------------------

    def _after_block(self, i: int, h: torch.Tensor, batch: SortedBatch) -> torch.Tensor:
        """Each row's domain's adapter that follows hidden layer ``i``, if there is one."""
        if batch.s is None or i < self.first_adapted_block:
            return h
        j = i - self.first_adapted_block
        return self._adapter_list()[j](h, batch.s[j], batch.groups)

    def _shared_blocks(self, mlp: MLP, h: torch.Tensor, batch: SortedBatch) -> torch.Tensor:
        """A shared MLP's blocks on the whole sorted batch, each followed by its adapter."""
        for i, block in enumerate(mlp.blocks):
            h = self._after_block(i, block(h), batch)
        return h

    def _towers(self, towers: GroupedMLP, h: torch.Tensor, batch: SortedBatch) -> torch.Tensor:
        """Each row through its domain's MLP tower and adapters; sorted logits ``(n,)``."""
        for i, block in enumerate(towers.blocks):
            h = self._after_block(i, block(h, batch.groups), batch)
        assert towers.head is not None
        return towers.head(h, batch.groups).squeeze(-1)


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
        linear_offset: bool = False,
    ) -> None:
        super().__init__(cardinalities, n_numeric, n_domains, d_embedding, linear_offset)
        self._build(d_hidden=d_hidden, dropout=dropout)
        self._init_adapters(widths=d_hidden, adapters=adapters)

    def _build(self, *, d_hidden: Sequence[int], dropout: float) -> None:
        """Build the backbone's own layers (the embedding exists; the adapters follow)."""
        raise NotImplementedError


def make_heads(d_in: int, n_domains: int) -> GroupedLinear:
    """One linear output layer ``d_in -> 1`` per domain."""
    return GroupedLinear(n_groups=n_domains, d_in=d_in, d_out=1)


def make_towers(
    *, d_in: int, d_hidden: Sequence[int], dropout: float, n_domains: int
) -> GroupedMLP:
    """One MLP tower ``d_in -> d_hidden -> 1`` per domain."""
    return GroupedMLP(n_groups=n_domains, d_in=d_in, d_hidden=d_hidden, d_out=1, dropout=dropout)


def upgrade_state_dict(
    expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Stack the per-domain entries of an old-layout ``state`` into the ``expected`` keys.

    For each key of ``expected`` absent from ``state``, the old key is the new one with
    ``.d`` inserted after one of its parts (``towers.blocks.0.linear.weight`` was
    ``towers.d.blocks.0.linear.weight``); the first insertion point for which every
    domain ``d`` of the tensor's first dimension is present, and whose stacked shape
    matches, is used and the old entries are dropped.

    Parameters
    ----------
    expected : mapping of str to torch.Tensor
        The state dict (or its shapes, e.g. on the ``meta`` device) of the module to load.
    state : mapping of str to torch.Tensor
        The state dict to load, in either layout (not modified).

    Returns
    -------
    dict
        ``state`` in the layout of ``expected``.

    See Also
    --------
    sklearn_hamur.modules.backbones.Backbone.upgrade_state_dict : The same for a module.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules.backbones import upgrade_state_dict
    >>> old = {"heads.0.bias": torch.tensor([1.0]), "heads.1.bias": torch.tensor([2.0])}
    >>> upgrade_state_dict({"heads.bias": torch.empty(2, 1)}, old)
    {'heads.bias': tensor([[1.],
            [2.]])}
    """
    upgraded = dict(state)
    for key, tensor in expected.items():
        if key in upgraded or tensor.dim() == 0:
            continue
        parts = key.split(".")
        n_groups = tensor.shape[0]
        for cut in range(1, len(parts)):
            old_keys = [
                ".".join([*parts[:cut], str(group), *parts[cut:]]) for group in range(n_groups)
            ]
            if not all(old in upgraded for old in old_keys):
                continue
            stacked = torch.stack([torch.as_tensor(upgraded[old]) for old in old_keys])
            if tuple(stacked.shape) != tuple(tensor.shape):
                continue
            for old in old_keys:
                del upgraded[old]
            upgraded[key] = stacked
            break
    return upgraded


def _upgrade_on_load(module, state_dict, prefix, *args) -> None:
    """``load_state_dict`` pre-hook: old per-domain entries stacked in place (on torch's copy)."""
    own = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
    upgraded = upgrade_state_dict(module.state_dict(keep_vars=True), own)
    if upgraded.keys() == own.keys():
        return
    for key in own:
        del state_dict[prefix + key]
    for key, value in upgraded.items():
        state_dict[prefix + key] = value


__all__ = [
    "HIDDEN_UNITS_SEARCH",
    "AdapterSpec",
    "Backbone",
    "BackboneParam",
    "DeepBackbone",
    "SortedBatch",
    "make_heads",
    "make_towers",
    "upgrade_state_dict",
]
