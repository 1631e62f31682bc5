"""Multi-domain backbones, each usable with or without HAMUR's adapters.

Every backbone is a :class:`torch.nn.Module` with the forward signature of
:class:`~sklearn_hamur.modules.MultiDomainMLP`, ``forward(x_cat, x_num, domain)`` ->
``(n,)`` logits, keyword-only constructors taking ``cardinalities``, ``n_numeric``,
``n_domains``, ``d_embedding``, its own hyper-parameters and the HAMUR options
``n_adapters`` (0: no adapter), ``adapter_rank``, ``d_adapter``, ``d_hyper_hidden`` and
``share_adapters``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..multi_domain_mlp import MultiDomainMLP
from ._adapters import AdaptedBackbone, apply_adapters
from .dcn import DCN, DCNV2
from .deepfm import DeepFM
from .mmoe import MMoE
from .ple import PLE
from .shared_bottom import SharedBottom
from .star import STAR
from .wide_deep import WideDeep

#: Backbone name -> module class.
BACKBONES: dict[str, type[nn.Module]] = {
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


def make_backbone(name: str, **kwargs: Any) -> nn.Module:
    """Build the backbone registered under ``name`` with keyword arguments ``kwargs``.

    Parameters
    ----------
    name : str
        One of the keys of ``BACKBONES``: ``"mlp"``, ``"wide_deep"``, ``"dcn"``,
        ``"dcn_v2"``, ``"deepfm"``, ``"shared_bottom"``, ``"mmoe"``, ``"ple"``,
        ``"star"``.
    **kwargs : dict
        The backbone's constructor arguments.

    Returns
    -------
    torch.nn.Module
        The backbone.

    Raises
    ------
    ValueError
        If ``name`` is not a registered backbone; the message lists the valid names.

    See Also
    --------
    sklearn_hamur.modules.MultiDomainMLP : The ``"mlp"`` backbone.
    sklearn_hamur.MultiDomainClassifier : Picks a backbone with ``backbone=name``.

    Examples
    --------
    >>> from sklearn_hamur.modules import make_backbone
    >>> model = make_backbone("dcn", cardinalities=[10], n_numeric=1, n_domains=2,
    ...                       d_embedding=4, d_hidden=[8], n_adapters=1)
    >>> type(model).__name__
    'DCN'
    >>> make_backbone("dnc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown backbone 'dnc'; expected one of 'mlp', 'wide_deep', 'dcn', ...
    """
    try:
        cls = BACKBONES[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(key) for key in BACKBONES)
        raise ValueError(f"Unknown backbone {name!r}; expected one of {valid}.") from None
    return cls(**kwargs)


__all__ = [
    "BACKBONES",
    "DCN",
    "DCNV2",
    "PLE",
    "STAR",
    "AdaptedBackbone",
    "DeepFM",
    "MMoE",
    "SharedBottom",
    "WideDeep",
    "apply_adapters",
    "make_backbone",
]
