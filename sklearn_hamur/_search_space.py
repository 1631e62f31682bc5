"""Optuna search spaces, with tuple-valued parameters encoded as strings of widths.

Optuna stores only strings and numbers, so the widths of ``hidden_units`` and the other
tuple parameters are searched as strings such as ``"256-128"``: :func:`encode_units`
writes them, :func:`decode_units` and :func:`decode_params` read them back. Public
through :mod:`sklearn_hamur.model_selection`.
"""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ._backbone_params import UNIT_PARAMS
from ._validation import units_from_string
from .modules.backbones import BACKBONES, backbone_class

#: Parameters whose values are tuples of widths; a search space gives them as strings.
TUPLE_PARAMS = (*UNIT_PARAMS, "hyper_hidden_units")


def backbone_space(backbone: str) -> dict:
    """The distributions of a backbone's declared parameters, the adapted widths first."""
    params = sorted(backbone_class(backbone).params, key=lambda param: not param.adapted)
    return {param.name: _distribution(param.search) for param in params}


def _distribution(search):
    """A ``range`` of counts -> IntDistribution; a tuple of choices -> CategoricalDistribution."""
    if isinstance(search, range):
        return IntDistribution(search.start, search.stop - 1, step=search.step)
    return CategoricalDistribution(list(search))


def hamur_search_space(backbone="mlp", *, adapters=True, prefix=""):
    """Default Optuna distributions for tuning :class:`~sklearn_hamur.HAMURClassifier`.

    Every value is a string, a number or ``None``, so a study that uses them can be stored in a
    journal file or a database. Tuple-valued parameters are strings of ``-``-separated
    widths (``"256-128"`` for ``(256, 128)``), which the estimators take as they are
    (parsed at ``fit``), so the space works with :func:`tune` and with
    optuna-integration's ``OptunaSearchCV`` on the estimator itself.

    ======================  =========================================================
    parameter               distribution
    ======================  =========================================================
    ``hidden_units``        one of ``"128-64"``, ``"256-128"`` (reference setting),
                            ``"512-256"``, ``"256-128-64"``
    ``lr``                  log-uniform in [1e-4, 1e-2]
    ``weight_decay``        log-uniform in [1e-7, 1e-3]
    ``dropout``             uniform in [0, 0.5]
    ``batch_size``          one of 512, 1024, 2048, 4096
    ``logistic_offset``     one of ``None`` (the network alone), 1.0 (a fixed one-hot
                            logistic regression's logit under the network)
    ``adapter_rank``        25 to 65 in steps of 10 (the paper's range; reference 35)
    ``d_adapter``           one of 16, 32 (reference), 64
    ``hyper_hidden_units``  one of ``"32"``, ``"64"`` (reference), ``"128"``, ``"64-64"``
    ======================  =========================================================

    Parameters
    ----------
    backbone : str, default="mlp"
        The backbone (see ``HAMURClassifier(backbone=...)``). Backbones with
        per-domain towers ("shared_bottom", "mmoe", "ple") search ``tower_units`` (one
        of ``"64"``, ``"128"``, ``"128-64"``) instead of ``hidden_units``; "dcn" and
        "dcn_v2" add ``n_cross_layers`` (1 to 4), "shared_bottom" ``bottom_units``,
        "mmoe" ``n_experts`` (2 to 8) and ``expert_units``, "ple" ``n_levels``,
        ``n_shared_experts``, ``n_specific_experts`` and ``expert_units``, "star"
        ``auxiliary_units``. The search space does not set ``backbone`` itself.
    adapters : bool, default=True
        Include the adapter parameters (``adapter_rank``, ``d_adapter``,
        ``hyper_hidden_units``). Set ``False`` for
        :class:`~sklearn_hamur.MultiDomainClassifier`.
    prefix : str, default=""
        Put before every name, e.g. ``"clf__"`` for the step ``"clf"`` of a Pipeline.

    Returns
    -------
    dict of str to optuna.distributions.BaseDistribution
        Parameter name (with ``prefix``) to its distribution.

    See Also
    --------
    sklearn_hamur.model_selection.tune : Tune an estimator over these distributions.
    sklearn_hamur.model_selection.decode_params : Turn the string-valued widths into
        tuples.

    Examples
    --------
    >>> from sklearn_hamur.model_selection import hamur_search_space
    >>> space = hamur_search_space()
    >>> sorted(space)  # doctest: +NORMALIZE_WHITESPACE
    ['adapter_rank', 'batch_size', 'd_adapter', 'dropout', 'hidden_units',
     'hyper_hidden_units', 'logistic_offset', 'lr', 'weight_decay']
    >>> space["hidden_units"].choices
    ('128-64', '256-128', '512-256', '256-128-64')
    >>> sorted(hamur_search_space(adapters=False, prefix="clf__"))[:2]
    ['clf__batch_size', 'clf__dropout']
    """
    if backbone not in BACKBONES:
        raise ValueError(
            f"hamur_search_space: backbone must be one of {sorted(BACKBONES)}; got {backbone!r}."
        )
    space = {
        **backbone_space(backbone),
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "weight_decay": FloatDistribution(1e-7, 1e-3, log=True),
        "dropout": FloatDistribution(0.0, 0.5),
        "batch_size": CategoricalDistribution([512, 1024, 2048, 4096]),
        # The largest single effect measured on the benchmarks, in either direction.
        "logistic_offset": CategoricalDistribution([None, 1.0]),
    }
    if adapters:
        space["adapter_rank"] = IntDistribution(25, 65, step=10)
        space["d_adapter"] = CategoricalDistribution([16, 32, 64])
        space["hyper_hidden_units"] = CategoricalDistribution(["32", "64", "128", "64-64"])
    return {prefix + name: distribution for name, distribution in space.items()}


def encode_units(units) -> str:
    """Encode a tuple of widths as a string: ``(256, 128)`` -> ``"256-128"``.

    Parameters
    ----------
    units : sequence of int
        Layer widths, such as a value of ``hidden_units``.

    Returns
    -------
    str
        The widths joined by ``"-"``.

    See Also
    --------
    sklearn_hamur.model_selection.decode_units : The inverse.

    Examples
    --------
    >>> from sklearn_hamur.model_selection import encode_units
    >>> encode_units((256, 128))
    '256-128'
    """
    return "-".join(str(int(width)) for width in units)


def decode_units(value: str, name: str = "hidden_units") -> tuple:
    """Decode a string of widths: ``"256-128"`` -> ``(256, 128)``.

    Parameters
    ----------
    value : str
        Positive widths separated by ``"-"``.
    name : str, default="hidden_units"
        The parameter the value belongs to, named in the error message.

    Returns
    -------
    tuple of int
        The widths.

    Raises
    ------
    ValueError
        If ``value`` is not a ``"-"``-separated list of positive integers.

    See Also
    --------
    sklearn_hamur.model_selection.encode_units : The inverse.
    sklearn_hamur.model_selection.decode_params : Decode every tuple parameter of a dict.

    Examples
    --------
    >>> from sklearn_hamur.model_selection import decode_units
    >>> decode_units("256-128")
    (256, 128)
    """
    return units_from_string(value, name)


def decode_params(params: dict) -> dict:
    """Turn string-encoded tuple parameters (``"256-128"``) back into tuples.

    A value is decoded when it is a string and its name, after the last ``"__"``, is a
    tuple-of-widths parameter (``hidden_units``, ``bottom_units``, ``tower_units``,
    ``expert_units``, ``auxiliary_units``, ``hyper_hidden_units``); everything else is
    kept as is.

    Parameters
    ----------
    params : dict
        Parameter name to value, e.g. an Optuna trial's ``params``.

    Returns
    -------
    dict
        A new dict, ready for ``estimator.set_params(**decoded)``.

    See Also
    --------
    sklearn_hamur.model_selection.decode_units : Decode one value.

    Examples
    --------
    >>> from sklearn_hamur.model_selection import decode_params
    >>> decode_params({"clf__hidden_units": "256-128", "lr": 0.01})
    {'clf__hidden_units': (256, 128), 'lr': 0.01}
    """
    return {
        name: decode_units(value, name)
        if isinstance(value, str) and name.rsplit("__", 1)[-1] in TUPLE_PARAMS
        else value
        for name, value in params.items()
    }


__all__ = [
    "TUPLE_PARAMS",
    "decode_params",
    "decode_units",
    "encode_units",
    "hamur_search_space",
]
