"""Model selection for multi-domain models: splitting, search spaces and Optuna tuning.

- :class:`DomainStratifiedKFold`: K folds stratified on domain x label, so a small
  domain, and both of its classes, appear in every fold.
- :func:`hamur_search_space`: default Optuna distributions for HAMUR's hyper-parameters,
  with strings and numbers only, so that studies can be stored; tuple-valued
  parameters (``hidden_units``) are encoded as strings such as ``"256-128"``, which
  :func:`decode_params` (used by :func:`tune`) and :class:`DecodedParamsClassifier`
  (for optuna-integration's ``OptunaSearchCV``) turn back into tuples.
- :func:`tune`: an Optuna study with per-epoch pruning (:class:`OptunaPruning`), on one
  machine or shared by worker processes through a journal file or a database.
"""

from __future__ import annotations

from ._decoded_params import DecodedParamsClassifier
from ._search_space import (
    TUPLE_PARAMS as TUPLE_PARAMS,  # not in __all__; kept importable from here
)
from ._search_space import decode_params, decode_units, encode_units, hamur_search_space
from ._splitting import DomainStratifiedKFold
from ._tuning import OptunaPruning, tune

__all__ = [
    "DecodedParamsClassifier",
    "DomainStratifiedKFold",
    "OptunaPruning",
    "decode_params",
    "decode_units",
    "encode_units",
    "hamur_search_space",
    "tune",
]
