"""Domain-aware scores: per-domain metrics and scorers for model selection.

A multi-domain model is judged per domain: a good overall AUC can hide a small domain
that the model serves badly. :func:`domain_scores` computes any metric per domain;
:func:`make_domain_scorer` and :func:`domain_scorers` give scikit-learn scorers (for
``scoring=`` in :func:`~sklearn.model_selection.cross_validate`,
:class:`~sklearn.model_selection.GridSearchCV` or optuna-integration's
``OptunaSearchCV``) that aggregate the per-domain AUC or log loss over the domains.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn import get_config
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.metadata_routing import MetadataRequest

from ._domain_columns import domain_col_of, domain_rows, scoring_domains

#: Metrics of :func:`make_domain_scorer`, by name.
METRICS = ("roc_auc", "log_loss")
#: How :func:`make_domain_scorer` combines the per-domain scores.
AGGREGATES = ("mean", "min", "weighted")


def domain_scores(y_true, y_score, domains, metric=roc_auc_score, *, sample_weight=None):
    """Compute ``metric`` separately on the rows of each domain.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,)
        Scores, probabilities or predictions, whatever ``metric`` takes second.
    domains : array-like of shape (n_samples,)
        Each row's domain; any number of domains.
    metric : callable, default=roc_auc_score
        ``metric(y_true, y_score)`` (with ``sample_weight=`` when weights are given),
        such as :func:`~sklearn.metrics.roc_auc_score` or
        ``functools.partial(log_loss, labels=[0, 1])``.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights passed on to ``metric``.

    Returns
    -------
    dict
        Domain value to score, in sorted order of the domains. A domain whose rows hold
        a single class, where ``metric`` is undefined (it raises a ``ValueError`` or
        warns ``UndefinedMetricWarning``, as the AUC does), gets NaN instead of an
        error.

    See Also
    --------
    sklearn_hamur.metrics.make_domain_scorer : A scorer that aggregates these scores over
        the domains.
    sklearn_hamur.metrics.aggregate_domain_scores : Combine these scores into one number.

    Examples
    --------
    >>> from sklearn_hamur.metrics import domain_scores
    >>> domain_scores([0, 1, 0, 1, 1], [0.1, 0.8, 0.6, 0.3, 0.9], ["a", "a", "b", "b", "c"])
    {'a': 1.0, 'b': 0.0, 'c': nan}
    """
    y_true = column_or_1d(y_true)
    y_score = column_or_1d(y_score)
    domains = column_or_1d(domains)
    if sample_weight is not None:
        sample_weight = column_or_1d(sample_weight)
    check_consistent_length(y_true, y_score, domains, sample_weight)
    if pd.isna(domains).any():
        raise ValueError(
            f"domains has {int(pd.isna(domains).sum())} missing value(s); every row needs a "
            "domain. Drop those rows or fill them with a domain value."
        )
    scores = {}
    for key, rows in domain_rows(domains):
        weight = None if sample_weight is None else sample_weight[rows]
        scores[key] = score_rows(metric, y_true[rows], y_score[rows], weight)
    return scores


def score_rows(metric, y_true, y_score, sample_weight) -> float:
    """``metric`` on these rows, NaN where it is undefined (an AUC on one class)."""
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    if len(np.unique(y_true)) > 1:
        return float(metric(y_true, y_score, **kwargs))
    # One class: many metrics (the AUC) are undefined here; report that as NaN.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        try:
            return float(metric(y_true, y_score, **kwargs))
        except (ValueError, UndefinedMetricWarning):
            return math.nan


class _DomainScorer:
    """A scikit-learn scorer: per-domain AUC or log loss, aggregated over the domains.

    Takes part in scikit-learn's metadata routing as its own scorers do:
    ``set_score_request(sample_weight=True)`` asks for the routed weights.
    """

    def __init__(self, metric: str, aggregate: str, domain_col):
        self.metric = metric
        self.aggregate = aggregate
        self.domain_col = domain_col
        self._sample_weight_request = None  # requested? None: error if routed, unset

    def __repr__(self) -> str:
        return (
            f"make_domain_scorer({self.metric!r}, aggregate={self.aggregate!r}, "
            f"domain_col={self.domain_col!r})"
        )

    def set_score_request(self, *, sample_weight=None):
        """Request ``sample_weight`` from metadata routing (``sklearn.set_config(
        enable_metadata_routing=True)``), as scikit-learn's scorers do.

        Parameters
        ----------
        sample_weight : bool, None or str, default=None
            ``True``: the scorer takes the routed ``sample_weight``; ``False``: it does
            not; ``None``: routing ``sample_weight`` to it is an error; a str: the weights
            routed under that name.

        Returns
        -------
        self
        """
        if not get_config().get("enable_metadata_routing", False):
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "call sklearn.set_config(enable_metadata_routing=True) first (without "
                "routing, call the scorer with sample_weight= yourself)."
            )
        if not (sample_weight is None or isinstance(sample_weight, bool | str)):
            raise ValueError(
                f"sample_weight must be True, False, None or an alias (str); got {sample_weight!r}."
            )
        self._sample_weight_request = sample_weight
        return self

    def get_metadata_routing(self) -> MetadataRequest:
        """The scorer's metadata request: ``sample_weight`` for ``score``.

        Returns
        -------
        MetadataRequest
        """
        request = MetadataRequest(owner=type(self).__name__)
        request.score.add_request(param="sample_weight", alias=self._sample_weight_request)
        return request

    def __call__(self, estimator, X, y_true, sample_weight=None) -> float:
        domain_col = self.domain_col if self.domain_col is not None else domain_col_of(estimator)
        domains = scoring_domains(estimator, X, domain_col)
        classes = np.asarray(estimator.classes_)
        if len(classes) != 2:
            raise ValueError(
                f"make_domain_scorer({self.metric!r}) scores binary classifiers; the "
                f"estimator has {len(classes)} classes: {classes.tolist()[:5]}."
            )
        positive = estimator.predict_proba(X)[:, 1]
        y_binary = (column_or_1d(np.asarray(y_true)) == classes[1]).astype(int)
        if self.metric == "roc_auc":
            metric, sign = roc_auc_score, 1.0
        else:  # negated, so that greater is better, like scikit-learn's "neg_log_loss"
            metric, sign = log_loss_both_labels, -1.0
        scores = domain_scores(y_binary, positive, domains, metric, sample_weight=sample_weight)
        weights = _domain_weights(domains, scores, sample_weight)
        return sign * aggregate_domain_scores(
            scores, self.aggregate if sign > 0 else _WORST_LOSS.get(self.aggregate), weights
        )


# Scores are negated losses, so the worst domain has the highest loss.
_WORST_LOSS = {"mean": "mean", "min": "max", "weighted": "weighted"}


def log_loss_both_labels(y_true, y_prob, **kwargs) -> float:
    """Log loss with both labels declared, so rows of one class still score."""
    return log_loss(y_true, y_prob, labels=[0, 1], **kwargs)


def _domain_weights(domains, scores: dict, sample_weight) -> dict:
    weights = np.ones(len(domains)) if sample_weight is None else column_or_1d(sample_weight)
    frame = pd.Series(weights).groupby(np.asarray(domains)).sum()
    return {key: float(frame[key]) for key in scores}


def aggregate_domain_scores(scores: dict, aggregate: str = "mean", weights=None) -> float:
    """Combine per-domain scores into one number, leaving out undefined (NaN) domains.

    Parameters
    ----------
    scores : dict
        Domain to score, as returned by :func:`~sklearn_hamur.metrics.domain_scores`.
    aggregate : {"mean", "min", "max", "weighted"}, default="mean"
        The unweighted (macro) mean, the smallest or largest score, or the mean
        weighted by ``weights``.
    weights : dict, default=None
        Domain to weight (e.g. its number of rows); needed for ``"weighted"``.

    Returns
    -------
    float
        The aggregate; NaN, with an ``UndefinedMetricWarning``, when no domain has a
        defined score.

    See Also
    --------
    sklearn_hamur.metrics.domain_scores : The per-domain scores to combine.

    Examples
    --------
    >>> from sklearn_hamur.metrics import aggregate_domain_scores
    >>> scores = {"big": 0.9, "small": 0.6, "one_class": float("nan")}
    >>> aggregate_domain_scores(scores, "min")
    0.6
    >>> aggregate_domain_scores(scores, "weighted", weights={"big": 900, "small": 100})
    0.87
    """
    if aggregate not in ("mean", "min", "max", "weighted"):
        raise ValueError(
            f"aggregate must be 'mean', 'min', 'max' or 'weighted'; got {aggregate!r}."
        )
    defined = {key: value for key, value in scores.items() if not math.isnan(value)}
    if not defined:
        warnings.warn(
            "No domain has a defined score (each holds a single class?); the aggregate is "
            "NaN. Use DomainStratifiedKFold so that every fold holds both classes of every "
            "domain.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return math.nan
    values = np.array(list(defined.values()))
    if aggregate == "mean":
        return float(values.mean())
    if aggregate == "min":
        return float(values.min())
    if aggregate == "max":
        return float(values.max())
    if weights is None:
        raise ValueError("aggregate='weighted' needs weights: a dict from domain to weight.")
    w = np.array([weights[key] for key in defined], dtype=float)
    return float(np.average(values, weights=w))


def make_domain_scorer(metric="roc_auc", *, aggregate="mean", domain_col=None):
    """Make a scorer that computes ``metric`` per domain and aggregates over the domains.

    Use it as ``scoring=`` in :func:`~sklearn.model_selection.cross_validate`,
    :class:`~sklearn.model_selection.GridSearchCV`, optuna-integration's
    ``OptunaSearchCV`` or :func:`~sklearn_hamur.model_selection.tune`. It is called as
    ``scorer(estimator, X, y)`` and scores ``estimator.predict_proba(X)[:, 1]`` (the
    probability of ``estimator.classes_[1]``) on the rows of each domain.

    Parameters
    ----------
    metric : {"roc_auc", "log_loss"}, default="roc_auc"
        The per-domain metric. ``"log_loss"`` is negated (like scikit-learn's
        ``"neg_log_loss"``) so that greater is better; it is defined on a domain with a
        single class too.
    aggregate : {"mean", "min", "weighted"}, default="mean"
        ``"mean"``: the unweighted mean over the domains (macro average, every domain
        counts the same). ``"min"``: the worst domain (for the log loss, the domain with
        the highest loss). ``"weighted"``: the mean weighted by each domain's number of
        rows (by its sum of sample weights when the scorer gets ``sample_weight``);
        for the log loss this equals the overall log loss. Domains whose AUC is
        undefined (one class among their rows) are left out.
    domain_col : str, int or None, default=None
        The column of ``X`` that holds each row's domain. ``None`` reads it from the
        estimator's ``domain_col``: for a :class:`~sklearn.pipeline.Pipeline`, from its
        last step's; for a meta-estimator (``GridSearchCV``, ``DecodedParamsClassifier``),
        from its ``estimator``'s. The scorer looks that name up in the ``X`` it is given,
        which for a Pipeline is the raw input of the first step, so the domain column
        must be in that ``X`` under that name; pass ``domain_col`` when the last step
        sees it under another name (a ``ColumnTransformer`` that renames columns).

    Returns
    -------
    callable
        ``scorer(estimator, X, y, sample_weight=None) -> float``, greater is better.

    See Also
    --------
    sklearn_hamur.metrics.domain_scorers : The usual set of these scorers, for
        multi-metric ``scoring``.
    sklearn_hamur.metrics.domain_scores : The per-domain scores themselves.

    Examples
    --------
    >>> from sklearn.model_selection import cross_validate
    >>> from sklearn_hamur import MultiDomainClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.metrics import make_domain_scorer
    >>> from sklearn_hamur.model_selection import DomainStratifiedKFold
    >>> X, y = load_adult(return_X_y=True)
    >>> worst_domain_auc = make_domain_scorer("roc_auc", aggregate="min")
    >>> worst_domain_auc
    make_domain_scorer('roc_auc', aggregate='min', domain_col=None)
    >>> clf = MultiDomainClassifier(
    ...     hidden_units=(32,), lr=0.01, batch_size=256, max_epochs=5, random_state=0
    ... )
    >>> result = cross_validate(
    ...     clf, X[:3000], y[:3000], cv=DomainStratifiedKFold(3), scoring=worst_domain_auc
    ... )
    >>> bool(0.7 < result["test_score"].min() <= 1.0)
    True
    """
    problems = []
    if metric not in METRICS:
        problems.append(f"metric must be one of {list(METRICS)}; got {metric!r}.")
    if aggregate not in AGGREGATES:
        problems.append(f"aggregate must be one of {list(AGGREGATES)}; got {aggregate!r}.")
    if domain_col is not None and not isinstance(domain_col, str | Integral):
        problems.append(
            f"domain_col must be a column name (str or int) or None; got {domain_col!r}."
        )
    if problems:
        raise ValueError("make_domain_scorer: " + " ".join(problems))
    return _DomainScorer(metric, aggregate, domain_col)


def domain_scorers(domain_col=None) -> dict:
    """Return the usual per-domain scorers, by name, for multi-metric ``scoring=``.

    Parameters
    ----------
    domain_col : str, int or None, default=None
        The column of ``X`` that holds each row's domain; ``None`` reads it from the
        estimator, as in :func:`~sklearn_hamur.metrics.make_domain_scorer`.

    Returns
    -------
    dict
        ``"roc_auc_mean"``, ``"roc_auc_min"`` and ``"roc_auc_weighted"`` (the per-domain
        AUC, macro-averaged, of the worst domain, weighted by rows), and
        ``"neg_log_loss_mean"`` and ``"neg_log_loss_min"`` (the per-domain log loss,
        negated, macro-averaged and of the worst domain). Use one name as ``refit=`` in
        :class:`~sklearn.model_selection.GridSearchCV`.

    See Also
    --------
    sklearn_hamur.metrics.make_domain_scorer : One such scorer, of your choice.

    Examples
    --------
    >>> from sklearn_hamur.metrics import domain_scorers
    >>> sorted(domain_scorers())
    ['neg_log_loss_mean', 'neg_log_loss_min', 'roc_auc_mean', 'roc_auc_min', 'roc_auc_weighted']
    """
    names = {
        "roc_auc_mean": ("roc_auc", "mean"),
        "roc_auc_min": ("roc_auc", "min"),
        "roc_auc_weighted": ("roc_auc", "weighted"),
        "neg_log_loss_mean": ("log_loss", "mean"),
        "neg_log_loss_min": ("log_loss", "min"),
    }
    return {
        name: make_domain_scorer(metric, aggregate=aggregate, domain_col=domain_col)
        for name, (metric, aggregate) in names.items()
    }


__all__ = [
    "aggregate_domain_scores",
    "domain_scorers",
    "domain_scores",
    "make_domain_scorer",
]
