"""Multi-domain backbones, each usable with or without HAMUR's adapters.

Every backbone is a :class:`Backbone`: a :class:`torch.nn.Module` with
``forward(x_cat, x_num, domain)`` -> ``(n,)`` logits and a keyword-only constructor taking
``cardinalities``, ``n_numeric``, ``n_domains``, ``d_embedding``, its own
hyper-parameters, ``dropout`` and ``adapters`` (an :class:`AdapterSpec`, or ``None`` for
the backbone alone). Each class declares in ``params`` the estimator parameters it takes;
adding a backbone is one new file and one line in ``BACKBONES``.
"""

from __future__ import annotations

from typing import Any

from .base import AdapterSpec, Backbone, BackboneParam, SortedBatch, upgrade_state_dict
from .dcn import DCN, DCNV2
from .deepfm import DeepFM
from .mmoe import MMoE
from .multi_domain_mlp import MultiDomainMLP
from .ple import PLE
from .shared_bottom import SharedBottom
from .shared_mlp import SharedMLP
from .star import STAR
from .wide_deep import WideDeep

#: Backbone name -> module class.
BACKBONES: dict[str, type[Backbone]] = {
    "shared_mlp": SharedMLP,
    "mlp": MultiDomainMLP,
    "wide_deep": WideDeep,
    "dcn": DCN,
    "dcn_v2": DCNV2,
    "deepfm": DeepFM,
    "shared_bottom": SharedBottom,
    "mmoe": MMoE,
    "ple": PLE,
    "star": STAR,
}


def backbone_class(name: str) -> type[Backbone]:
    """The backbone class registered under ``name``.

    Parameters
    ----------
    name : str
        One of the keys of ``BACKBONES``.

    Returns
    -------
    type
        The :class:`Backbone` subclass.

    Raises
    ------
    ValueError
        If ``name`` is not a registered backbone; the message lists the valid names.

    See Also
    --------
    sklearn_hamur.modules.make_backbone : Build the backbone registered under a name.

    Examples
    --------
    >>> from sklearn_hamur.modules.backbones import backbone_class
    >>> backbone_class("dcn").adapted_param().name
    'hidden_units'
    """
    try:
        return BACKBONES[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(key) for key in BACKBONES)
        raise ValueError(f"Unknown backbone {name!r}; expected one of {valid}.") from None


def make_backbone(name: str, **kwargs: Any) -> Backbone:
    """Build the backbone registered under ``name`` with keyword arguments ``kwargs``.

    Parameters
    ----------
    name : str
        One of the keys of ``BACKBONES``: ``"shared_mlp"``, ``"mlp"``, ``"wide_deep"``, ``"dcn"``,
        ``"dcn_v2"``, ``"deepfm"``, ``"shared_bottom"``, ``"mmoe"``, ``"ple"``,
        ``"star"``.
    **kwargs : dict
        The backbone's constructor arguments.

    Returns
    -------
    Backbone
        The backbone.

    Raises
    ------
    ValueError
        As :func:`~sklearn_hamur.modules.backbones.backbone_class`, for a name that is
        not registered.

    See Also
    --------
    sklearn_hamur.modules.SharedMLP : The default backbone, ``"shared_mlp"``.
    sklearn_hamur.MultiDomainClassifier : Picks a backbone with ``backbone=name``.

    Examples
    --------
    >>> from sklearn_hamur.modules import AdapterSpec, make_backbone
    >>> model = make_backbone("dcn", cardinalities=[10], n_numeric=1, n_domains=2,
    ...                       d_embedding=4, d_hidden=[8], adapters=AdapterSpec(rank=3))
    >>> type(model).__name__
    'DCN'
    >>> make_backbone("dnc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown backbone 'dnc'; expected one of 'shared_mlp', 'mlp', 'wide_deep', ...
    """
    return backbone_class(name)(**kwargs)


__all__ = [
    "BACKBONES",
    "DCN",
    "DCNV2",
    "PLE",
    "STAR",
    "AdapterSpec",
    "Backbone",
    "BackboneParam",
    "DeepFM",
    "MMoE",
    "MultiDomainMLP",
    "SharedBottom",
    "SharedMLP",
    "SortedBatch",
    "WideDeep",
    "backbone_class",
    "make_backbone",
    "upgrade_state_dict",
]
