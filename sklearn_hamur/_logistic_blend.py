"""Blend a trained network's logit with a one-hot logistic regression's, on validation rows."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from ._callbacks import domain_aucs
from ._data import MultiDomainDataset
from ._logistic_offset import one_hot_design

#: The blend weights tried, ``w`` of ``(1 - w) * network + w * regression``: steps of 0.05.
BLEND_WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)
#: Most training rows the blend's regression is fitted on. Its sparse design matrix and
#: lbfgs's work arrays take about 1.1 GB and 6 s per million rows of 20 id fields
#: (measured: 2 million rows, 2.2 GB, 13 s), so larger training sets give it a seeded
#: random sample of this many rows; the weight chosen on the validation rows then
#: reflects the sampled regression's quality.
BLEND_MAX_ROWS = 1_000_000


def blend_rows(n_rows: int, seed: int, max_rows: int | None = None) -> np.ndarray | None:
    """The sorted training rows the regression is fitted on, or None for all of them.

    ``max_rows`` defaults to :data:`BLEND_MAX_ROWS`.
    """
    max_rows = BLEND_MAX_ROWS if max_rows is None else max_rows
    if n_rows <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def linear_logits(
    dataset: MultiDomainDataset, coef, intercept: float, *, cardinalities, n_domains: int
) -> np.ndarray:
    """The logistic regression's logit of every row of ``dataset``, float64."""
    design = one_hot_design(dataset, cardinalities, n_domains)
    return design @ np.asarray(coef, dtype=np.float64) + float(intercept)


def blend_score(
    y: np.ndarray,
    logit: np.ndarray,
    domain: np.ndarray,
    *,
    monitor: str,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The validation score early stopping watches (``monitor``), higher is better.

    ``"valid_auc"`` is the AUC of all rows, ``"valid_auc_mean"`` / ``"valid_auc_min"``
    the mean / worst AUC of the domains whose rows hold both classes, and
    ``"valid_loss"`` the negative log loss.
    """
    if monitor == "valid_loss":
        proba = 1.0 / (1.0 + np.exp(-logit))
        return -float(log_loss(y, proba, sample_weight=sample_weight, labels=[0, 1]))
    if monitor == "valid_auc":
        return float(roc_auc_score(y, logit, sample_weight=sample_weight))
    # The per-domain AUCs early stopping records (ValidationAUC).
    per_domain = list(domain_aucs(y, logit, domain, sample_weight).values())
    if not per_domain:
        return math.nan
    return float(np.mean(per_domain) if monitor == "valid_auc_mean" else np.min(per_domain))


def choose_blend_weight(
    y: np.ndarray,
    network_logit: np.ndarray,
    linear_logit: np.ndarray,
    domain: np.ndarray,
    *,
    monitor: str,
    sample_weight: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """The weight ``w`` of :data:`BLEND_WEIGHTS` whose blend scores best on these rows.

    Returns ``(w, score of the blend, score of the network alone)``. Ties go to the
    smaller weight, so the network alone (``w = 0``) is kept unless the regression
    improves the validation score.
    """
    scores = [
        blend_score(
            y,
            (1.0 - w) * network_logit + w * linear_logit,
            domain,
            monitor=monitor,
            sample_weight=sample_weight,
        )
        for w in BLEND_WEIGHTS
    ]
    if all(math.isnan(s) for s in scores):
        return 0.0, math.nan, math.nan
    best = int(np.nanargmax(scores))
    return float(BLEND_WEIGHTS[best]), float(scores[best]), float(scores[0])
