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

import warnings
from numbers import Integral

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state, column_or_1d, get_tags, metadata_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._backbone_params import ADAPTED_UNITS, BACKBONE_PARAMS, UNIT_PARAMS
from ._tuning import OptunaPruning, tune
from .metrics import _domain_values

#: Parameters whose values are tuples of widths; a search space gives them as strings.
TUPLE_PARAMS = (*UNIT_PARAMS, "hyper_hidden_units")

#: Backbone-specific distributions added by hamur_search_space (besides the shared ones).
_BACKBONE_SPACES = {
    "dcn": {"n_cross_layers": IntDistribution(1, 4)},
    "dcn_v2": {"n_cross_layers": IntDistribution(1, 4)},
    "shared_bottom": {"bottom_units": CategoricalDistribution(["128", "256", "256-128"])},
    "mmoe": {
        "n_experts": IntDistribution(2, 8),
        "expert_units": CategoricalDistribution(["128", "256", "256-128"]),
    },
    "ple": {
        "n_levels": IntDistribution(1, 3),
        "n_shared_experts": IntDistribution(1, 4),
        "n_specific_experts": IntDistribution(1, 2),
        "expert_units": CategoricalDistribution(["128", "256"]),
    },
    "star": {"auxiliary_units": CategoricalDistribution(["32", "64", "128"])},
}


class DomainStratifiedKFold(BaseCrossValidator):
    """K-fold cross-validation stratified on domain x label.

    Each (domain, label) group of rows is cut into ``n_splits`` nearly equal parts, one
    per test fold, so every fold holds about ``1 / n_splits`` of every domain's
    positives and negatives: a small domain appears, with both classes, in every fold,
    and its per-domain AUC is defined in every fold. Fold sizes differ by at most one
    row overall and within each group.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    domain_col : str, int or None, default="domain"
        Column of ``X`` that holds each row's domain (an integer position when ``X`` is
        an array). ``None`` stratifies on the label alone.
    shuffle : bool, default=False
        Shuffle each group's rows before cutting it into folds. Without shuffling, each
        group's rows go to the folds in their order in ``X``.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling; only with ``shuffle=True``.

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : Stratified on the label alone.
    sklearn_hamur.metrics.make_domain_scorer : Per-domain scores for each fold.

    Notes
    -----
    ``groups`` is ignored. A (domain, label) group with fewer rows than ``n_splits``
    cannot reach every fold: a ``UserWarning`` names such groups.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_hamur.model_selection import DomainStratifiedKFold
    >>> X = pd.DataFrame({"domain": ["big"] * 8 + ["small"] * 4, "x": range(12)})
    >>> y = np.array([0, 1] * 6)
    >>> cv = DomainStratifiedKFold(n_splits=2)
    >>> for train, test in cv.split(X, y):
    ...     print(X["domain"].iloc[test].tolist(), y[test].tolist())
    ['big', 'big', 'big', 'big', 'small', 'small'] [0, 1, 0, 1, 0, 1]
    ['big', 'big', 'big', 'big', 'small', 'small'] [0, 1, 0, 1, 0, 1]
    """

    __metadata_request__split = {"groups": metadata_routing.UNUSED}

    def __init__(self, n_splits=5, *, domain_col="domain", shuffle=False, random_state=None):
        # Splitters check their arguments when built, as scikit-learn's KFold does.
        if not isinstance(n_splits, Integral) or isinstance(n_splits, bool) or n_splits < 2:
            raise ValueError(
                f"DomainStratifiedKFold: n_splits must be an integer of at least 2; got "
                f"{n_splits!r}."
            )
        if not isinstance(shuffle, bool):
            raise TypeError(
                f"DomainStratifiedKFold: shuffle must be True or False; got {shuffle!r}."
            )
        if not shuffle and random_state is not None:
            raise ValueError(
                "DomainStratifiedKFold: setting random_state has no effect since shuffle is "
                "False. Leave random_state=None or set shuffle=True."
            )
        self.n_splits = int(n_splits)
        self.domain_col = domain_col
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X : object, default=None
            Ignored; present for API consistency.
        y : object, default=None
            Ignored; present for API consistency.
        groups : object, default=None
            Ignored; present for API consistency.

        Returns
        -------
        int
            The number of folds.
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate the row positions of the training and test rows of each fold.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Holds the domain column ``domain_col`` (or an array, with ``domain_col`` an
            integer column position).
        y : array-like of shape (n_samples,)
            The labels.
        groups : object, default=None
            Ignored; present for API consistency.

        Returns
        -------
        generator of tuple of ndarray
            One ``(train, test)`` pair of integer row positions per fold, in fold order.
        """
        return self._iter_folds(self._test_folds(X, y))

    def _iter_folds(self, test_folds):
        for fold in range(self.n_splits):
            yield np.flatnonzero(test_folds != fold), np.flatnonzero(test_folds == fold)

    def _test_folds(self, X, y) -> np.ndarray:
        """The test fold of each row."""
        if y is None:
            raise ValueError("DomainStratifiedKFold.split needs y: the labels to stratify on.")
        y = column_or_1d(np.asarray(y))
        domains = _domain_values(X, self.domain_col)
        if len(domains) != len(y):
            raise ValueError(f"X has {len(domains)} rows but y has {len(y)} values.")
        if len(y) < self.n_splits:
            raise ValueError(
                f"DomainStratifiedKFold: cannot have n_splits={self.n_splits} greater than "
                f"the number of rows, {len(y)}."
            )
        domain_codes = np.unique(domains, return_inverse=True)[1].ravel()
        label_values, label_codes = np.unique(y, return_inverse=True)
        strata = domain_codes * len(label_values) + label_codes.ravel()
        self._warn_small_groups(strata, domains, y)
        rng = check_random_state(self.random_state) if self.shuffle else None
        test_folds = np.empty(len(y), dtype=int)
        offset = 0  # folds that got the last group's extra rows come last for the next
        for stratum in np.unique(strata):
            rows = np.flatnonzero(strata == stratum)
            if self.shuffle:
                rows = rng.permutation(rows)
            sizes = np.full(self.n_splits, len(rows) // self.n_splits)
            extra = len(rows) % self.n_splits
            sizes[(offset + np.arange(extra)) % self.n_splits] += 1
            offset = (offset + extra) % self.n_splits
            test_folds[rows] = np.repeat(np.arange(self.n_splits), sizes)
        return test_folds

    def _warn_small_groups(self, strata, domains, y) -> None:
        counts = np.bincount(strata)
        small = [
            (_scalar(domains[first]), _scalar(y[first]), int(counts[s]))
            for s, first in zip(*np.unique(strata, return_index=True))
            if counts[s] < self.n_splits
        ]
        if small:
            listed = ", ".join(f"domain {d!r} label {l!r}: {n} row(s)" for d, l, n in small[:5])
            warnings.warn(
                f"DomainStratifiedKFold: {len(small)} (domain, label) group(s) have fewer rows "
                f"than n_splits={self.n_splits} ({listed}), so some test folds hold none of "
                "their rows; such a domain's AUC is undefined in those folds. Lower n_splits "
                "or merge rare domains.",
                UserWarning,
                stacklevel=3,
            )


def _scalar(value):
    """A Python scalar for messages (``'a'``, not ``np.str_('a')``)."""
    return value.item() if isinstance(value, np.generic) else value


# -- search spaces -----------------------------------------------------------------------


def hamur_search_space(backbone="mlp", *, adapters=True, prefix=""):
    """Default Optuna distributions for tuning :class:`~sklearn_hamur.HAMURClassifier`.

    Every value is a string or a number, so a study that uses them can be stored in a
    journal file or a database. Tuple-valued parameters are strings of ``-``-separated
    widths (``"256-128"`` for ``(256, 128)``); :func:`tune` decodes them, and for
    ``OptunaSearchCV`` wrap the model in :class:`DecodedParamsClassifier`.

    ======================  =========================================================
    parameter               distribution
    ======================  =========================================================
    ``hidden_units``        one of ``"128-64"``, ``"256-128"`` (reference setting),
                            ``"512-256"``, ``"256-128-64"``
    ``lr``                  log-uniform in [1e-4, 1e-2]
    ``weight_decay``        log-uniform in [1e-7, 1e-3]
    ``dropout``             uniform in [0, 0.5]
    ``batch_size``          one of 512, 1024, 2048, 4096
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
        Put before every name, e.g. ``"clf__"`` for the step ``"clf"`` of a Pipeline or
        ``"clf__estimator__"`` for a ``DecodedParamsClassifier`` in that step.

    Returns
    -------
    dict of str to optuna.distributions.BaseDistribution
        Parameter name (with ``prefix``) to its distribution.

    See Also
    --------
    sklearn_hamur.model_selection.tune : Tune an estimator over these distributions.
    sklearn_hamur.model_selection.DecodedParamsClassifier : Decode the string-valued
        widths for ``OptunaSearchCV``.

    Examples
    --------
    >>> from sklearn_hamur.model_selection import hamur_search_space
    >>> space = hamur_search_space()
    >>> sorted(space)  # doctest: +NORMALIZE_WHITESPACE
    ['adapter_rank', 'batch_size', 'd_adapter', 'dropout', 'hidden_units',
     'hyper_hidden_units', 'lr', 'weight_decay']
    >>> space["hidden_units"].choices
    ('128-64', '256-128', '512-256', '256-128-64')
    >>> sorted(hamur_search_space(adapters=False, prefix="clf__"))[:2]
    ['clf__batch_size', 'clf__dropout']
    """
    if backbone not in BACKBONE_PARAMS:
        raise ValueError(
            f"hamur_search_space: backbone must be one of {sorted(BACKBONE_PARAMS)}; "
            f"got {backbone!r}."
        )
    widths = CategoricalDistribution(["128-64", "256-128", "512-256", "256-128-64"])
    space = {
        ADAPTED_UNITS[backbone]: widths
        if ADAPTED_UNITS[backbone] == "hidden_units"
        else CategoricalDistribution(["64", "128", "128-64"]),
        **_BACKBONE_SPACES.get(backbone, {}),
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "weight_decay": FloatDistribution(1e-7, 1e-3, log=True),
        "dropout": FloatDistribution(0.0, 0.5),
        "batch_size": CategoricalDistribution([512, 1024, 2048, 4096]),
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
    parts = value.split("-")
    if not all(part.strip().isdigit() and int(part) > 0 for part in parts):
        raise ValueError(
            f"{name}={value!r} is not a '-'-separated list of positive widths such as "
            "'256-128' (for (256, 128)) or '64' (for (64,))."
        )
    return tuple(int(part) for part in parts)


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


def _estimator_has(attr):
    return lambda self: hasattr(self.estimator, attr)


class DecodedParamsClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a classifier whose tuple parameters were set as strings (``"256-128"``).

    Optuna stores only strings and numbers, so a search over ``hidden_units`` offers
    strings such as ``"256-128"``. Searches that call ``set_params`` themselves
    (optuna-integration's ``OptunaSearchCV``) set those strings on the model; this
    wrapper decodes them (:func:`decode_params`) on a clone of ``estimator`` just
    before fitting it. Search over ``estimator__<name>`` (``hamur_search_space(
    prefix="estimator__")``).

    Parameters
    ----------
    estimator : classifier
        The model (or a Pipeline ending in one), e.g. a
        :class:`~sklearn_hamur.HAMURClassifier`. Its parameters may hold encoded strings.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone, with decoded parameters.
    classes_ : ndarray of shape (n_classes,)
        The labels, ``estimator_.classes_``.

    See Also
    --------
    sklearn_hamur.model_selection.tune : Decodes the suggested values itself; it needs no
        wrapper.
    sklearn_hamur.model_selection.hamur_search_space : String-encoded distributions.

    Examples
    --------
    >>> from sklearn_hamur import HAMURClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.model_selection import DecodedParamsClassifier
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = DecodedParamsClassifier(HAMURClassifier(max_epochs=1, random_state=0))
    >>> clf = clf.set_params(estimator__hidden_units="32-16").fit(X[:2000], y[:2000])
    >>> clf.estimator_.hidden_units
    (32, 16)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        """Decode the estimator's parameters on a clone and fit it.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Training data, passed to ``estimator.fit``.
        y : array-like of shape (n_samples,)
            Labels, passed to ``estimator.fit``.
        **fit_params : dict
            Passed to ``estimator.fit`` (e.g. ``sample_weight``).

        Returns
        -------
        self
            The fitted wrapper.
        """
        params = self.estimator.get_params(deep=True)
        decoded = {
            name: value
            for name, value in decode_params(params).items()
            if value is not params[name]
        }
        self.estimator_ = clone(self.estimator).set_params(**decoded).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def predict(self, X):
        """Predict the class of each row with the fitted clone, ``estimator_``.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Rows to classify.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``estimator_.predict(X)``.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Predict class probabilities with the fitted clone, ``estimator_``.

        Only available when ``estimator`` has ``predict_proba``.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Rows to score.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_proba(X)``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Compute decision scores with the fitted clone, ``estimator_``.

        Only available when ``estimator`` has ``decision_function``.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Rows to score.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``estimator_.decision_function(X)``.
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.classifier_tags = inner.classifier_tags
        return tags


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
