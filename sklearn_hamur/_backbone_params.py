"""Which estimator parameters each backbone uses, and under which module argument name.

The estimators hold every backbone's hyper-parameters as flat parameters (visible to
``get_params``, GridSearchCV and Optuna). A parameter that does not apply to the chosen
backbone is ignored, so one parameter grid can span several backbones.
"""

from __future__ import annotations

#: Estimator parameter -> module argument, per backbone (beyond d_embedding and dropout).
BACKBONE_PARAMS: dict[str, dict[str, str]] = {
    "mlp": {"hidden_units": "d_hidden"},
    "wide_deep": {"hidden_units": "d_hidden"},
    "dcn": {"hidden_units": "d_hidden", "n_cross_layers": "n_cross_layers"},
    "dcn_v2": {"hidden_units": "d_hidden", "n_cross_layers": "n_cross_layers"},
    "deepfm": {"hidden_units": "d_hidden"},
    "shared_bottom": {"bottom_units": "d_bottom", "tower_units": "d_tower"},
    "mmoe": {"n_experts": "n_experts", "expert_units": "d_expert", "tower_units": "d_tower"},
    "ple": {
        "n_levels": "n_levels",
        "n_shared_experts": "n_shared_experts",
        "n_specific_experts": "n_specific_experts",
        "expert_units": "d_expert",
        "tower_units": "d_tower",
    },
    "star": {"hidden_units": "d_hidden", "auxiliary_units": "d_auxiliary"},
}

#: The estimator parameter whose blocks the adapters follow, per backbone.
ADAPTED_UNITS = {
    name: "tower_units" if "tower_units" in params else "hidden_units"
    for name, params in BACKBONE_PARAMS.items()
}

#: Parameters that are tuples of layer widths.
UNIT_PARAMS = ("hidden_units", "bottom_units", "tower_units", "expert_units", "auxiliary_units")


def backbone_kwargs(estimator) -> dict:
    """The module keyword arguments for ``estimator.backbone`` from its flat parameters."""
    kwargs = {"d_embedding": estimator.d_embedding, "dropout": estimator.dropout}
    for param, argument in BACKBONE_PARAMS[estimator.backbone].items():
        value = getattr(estimator, param)
        kwargs[argument] = tuple(value) if param in UNIT_PARAMS else value
    return kwargs
