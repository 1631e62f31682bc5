"""What the estimator parameters mean for each backbone, derived from the backbones.

The estimators hold every backbone's hyper-parameters as flat parameters (visible to
``get_params``, GridSearchCV and Optuna). Each backbone class declares the ones it takes
(:attr:`~sklearn_hamur.modules.backbones.Backbone.params`); the tables below (which
parameters are widths, which are counts), the constraints, the ``n_adapters`` bound and
the search space are derived from those declarations. A parameter that does not apply
to the chosen backbone is ignored, so one parameter grid can span several backbones.
"""

from __future__ import annotations

from numbers import Integral

from sklearn.utils._param_validation import Interval

from .modules.backbones import BACKBONES, AdapterSpec

#: Parameters that are tuples of layer widths, in declaration order.
UNIT_PARAMS: tuple[str, ...] = tuple(
    dict.fromkeys(p.name for cls in BACKBONES.values() for p in cls.params if p.is_widths)
)

#: Parameters that are counts (>= 1), in declaration order.
COUNT_PARAMS: tuple[str, ...] = tuple(
    dict.fromkeys(p.name for cls in BACKBONES.values() for p in cls.params if not p.is_widths)
)

#: The scikit-learn constraints of every backbone parameter (widths are checked further
#: by the estimators: a non-empty tuple of positive ints, or its string form "256-128").
BACKBONE_CONSTRAINTS: dict[str, list] = {
    **{name: [list, tuple, str] for name in UNIT_PARAMS},
    **{name: [Interval(Integral, 1, None, closed="left")] for name in COUNT_PARAMS},
}


def module_kwargs(params: dict, *, adapters: bool) -> dict:
    """The module keyword arguments (but the data sizes) from estimator parameters.

    ``params`` are an estimator's ``get_params()``; with ``adapters`` the HAMUR options
    among them become the module's :class:`~sklearn_hamur.modules.backbones.AdapterSpec`.
    """
    spec = AdapterSpec.from_params(params) if adapters else None
    return BACKBONES[params["backbone"]].arguments(params, spec)
