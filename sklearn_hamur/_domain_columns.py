"""Finding each row's domain: the model inside an estimator, its domain column, the values.

Shared by the scorers (:mod:`sklearn_hamur.metrics`), the splitter
(:class:`~sklearn_hamur.model_selection.DomainStratifiedKFold`), tuning and the plots.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ._validation import renamed_hint, to_pandas


def final_estimator(estimator, *, fitted: bool = False):
    """The model inside ``estimator``: the one with a ``domain_col`` parameter.

    Follows the last step of a :class:`~sklearn.pipeline.Pipeline` and the wrapped
    estimator of a meta-estimator (``estimator``; with ``fitted=True``, the fitted
    ``best_estimator_`` or ``estimator_`` where there is one). Returns ``None`` when no
    object on the way has a ``domain_col``.
    """
    for _ in range(20):  # nesting depth; guards against cycles
        if hasattr(estimator, "domain_col"):
            return estimator
        if isinstance(estimator, Pipeline):
            estimator = estimator.steps[-1][1]
        elif fitted and hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        elif fitted and hasattr(estimator, "estimator_"):
            estimator = estimator.estimator_
        elif hasattr(estimator, "estimator"):
            estimator = estimator.estimator
        else:
            return None
    return None


def domain_col_of(estimator):
    """The ``domain_col`` of the model inside ``estimator`` (see ``final_estimator``)."""
    model = final_estimator(estimator)
    if model is None:
        raise ValueError(
            f"Cannot tell which column of X holds the domain: {type(estimator).__name__} "
            "has no 'domain_col' parameter (nor has the last step of a Pipeline or the "
            "'estimator' of a meta-estimator). Pass domain_col='your_column' to "
            "make_domain_scorer (or to the function you called)."
        )
    return model.domain_col


def domain_values(X, domain_col) -> np.ndarray:
    """Each row's domain: column ``domain_col`` of ``X`` (one domain when ``None``)."""
    if domain_col is None:
        return np.zeros(len(X), dtype=int)
    X = to_pandas(X)  # a polars DataFrame or pyarrow Table, by its column names
    if isinstance(X, pd.DataFrame):
        if domain_col not in X.columns:
            raise ValueError(
                f"domain_col={domain_col!r} is not a column of the X being scored; X has "
                f"columns {list(X.columns)[:20]}. The scorer reads the domain from the X "
                "given to the estimator (for a Pipeline, the input of its first step), "
                "under the name of the model's domain_col: keep that column in X, or pass "
                "domain_col= with the name it has in X."
            )
        domains = X[domain_col].to_numpy()
    else:
        array = np.asarray(X)
        if not isinstance(domain_col, Integral) or array.ndim != 2:
            raise ValueError(
                f"X is not a DataFrame, so domain_col must be an integer column position; "
                f"got domain_col={domain_col!r} for X of shape {array.shape}."
            )
        domains = array[:, domain_col]
    if pd.isna(domains).any():
        raise ValueError(
            f"Domain column {domain_col!r} has {int(pd.isna(domains).sum())} missing "
            "value(s); every row needs a domain."
        )
    return domains


def scoring_domains(estimator, X, domain_col) -> np.ndarray:
    """Each row's domain for scoring the fitted ``estimator`` on ``X``.

    The column ``domain_col`` is looked up in ``X``; when ``X`` lacks it, in what each
    Pipeline on the way to the model passes to its last step (``pipe[:-1].transform``;
    a ColumnTransformer may have renamed it, to ``remainder__domain`` say), following
    fitted meta-estimators (``best_estimator_``, ``estimator_``). Raises one ValueError
    that lists where it looked and what to pass otherwise.
    """
    if domain_col is None:
        return np.zeros(len(X), dtype=int)
    looked, current = [], estimator
    for _ in range(20):  # nesting depth; guards against cycles
        frame = to_pandas(X)
        if isinstance(frame, pd.DataFrame) and domain_col in frame.columns:
            return domain_values(frame, domain_col)
        if not isinstance(frame, pd.DataFrame) and isinstance(domain_col, Integral):
            return domain_values(frame, domain_col)
        looked.append(list(frame.columns) if isinstance(frame, pd.DataFrame) else None)
        if isinstance(current, Pipeline):
            if len(current) > 1:
                X = current[:-1].transform(X)
            current = current.steps[-1][1]
        elif hasattr(current, "best_estimator_"):
            current = current.best_estimator_
        elif hasattr(current, "estimator_"):
            current = current.estimator_
        else:
            break
    raise ValueError(_not_found_message(domain_col, looked))


def _not_found_message(domain_col, looked: list) -> str:
    places = [
        ("the X being scored" if i == 0 else "what the steps before the model output")
        + (" (an array: integer positions)" if columns is None else f" (columns {columns[:20]})")
        for i, columns in enumerate(looked)
    ]
    columns = [c for found in looked if found for c in found]
    return (
        f"domain_col={domain_col!r} is not a column of {' nor of '.join(places)}. "
        "The scorer reads each row's domain from the X it is given, or from what a "
        "Pipeline's steps pass to the model, under the model's domain_col: keep that "
        "column in X, or pass make_domain_scorer(..., domain_col=...) with the name it has "
        "in X." + renamed_hint(columns, domain_col)
    )


def python_scalar(value):
    """A Python scalar for dict keys and messages (``'a'``, not ``np.str_('a')``)."""
    return value.item() if isinstance(value, np.generic) else value


def domain_rows(domains: np.ndarray):
    """Yield ``(domain, rows)`` for each distinct domain, in sorted order.

    ``domain`` is a Python scalar (:func:`python_scalar`) and ``rows`` the boolean mask
    of its rows in ``domains``.
    """
    for domain in np.unique(domains):
        yield python_scalar(domain), domains == domain
