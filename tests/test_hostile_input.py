"""Property-based hostile input: a correct prediction or a clear error, nothing else.

Each generated case corrupts a valid multi-domain frame (random dtypes, NaN/None/inf,
empty strings, mixed types, unseen categories and domains, duplicated and reordered
columns, category / string / nullable-integer dtypes, huge and negative ids). The
estimator must either return finite probabilities in [0, 1] or raise a ValueError /
TypeError whose message names a column or parameter; never a torch error, never NaN,
and never a change to the caller's frame.
"""

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier

from .conftest import FAST_HAMUR, make_data

BASE_X, BASE_Y = make_data(n=120)
COLUMNS = list(BASE_X.columns)
PARAMETERS = ("domain_col", "categorical_cols", "numeric_cols", "y", "X")
HOSTILE_VALUES = [np.nan, None, np.inf, -np.inf, "", "unseen", 10**18, -(10**18), 1e300, True, 3.5]


@st.composite
def corrupted_frames(draw, allow_structure_changes=True):
    n = draw(st.integers(min_value=1, max_value=40))
    rows = draw(st.lists(st.integers(0, len(BASE_X) - 1), min_size=n, max_size=n))
    X = BASE_X.iloc[rows].reset_index(drop=True).copy()
    y = BASE_Y[rows]
    for col in draw(st.lists(st.sampled_from(COLUMNS), max_size=4, unique=True)):
        X = corrupt_column(draw, X, col)
    if allow_structure_changes:
        change = draw(st.sampled_from(["none", "reorder", "duplicate", "drop", "extra"]))
        if change == "reorder":
            X = X[draw(st.permutations(COLUMNS))]
        elif change == "duplicate":
            X = pd.concat([X, X[[draw(st.sampled_from(COLUMNS))]]], axis=1)
        elif change == "drop":
            X = X.drop(columns=draw(st.sampled_from(COLUMNS)))
        elif change == "extra":
            X = X.assign(surprise=1.0)
    return X, y


def corrupt_column(draw, X, col):
    kind = draw(st.sampled_from(["values", "category", "string", "nullable_int", "object", "ids"]))
    column = X[col]
    if kind == "values":
        mask = draw(st.lists(st.booleans(), min_size=len(X), max_size=len(X)))
        value = draw(st.sampled_from(HOSTILE_VALUES))
        column = column.astype(object)
        column[np.asarray(mask)] = value
    elif kind == "category":
        column = column.astype("category")
    elif kind == "string":
        column = column.astype("string")
    elif kind == "nullable_int":
        values = draw(
            st.lists(
                st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=len(X), max_size=len(X)
            )
        )
        column = pd.array(values, dtype="Int64")
    elif kind == "object":
        column = column.astype(object)
    else:
        column = pd.Series(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=len(X), max_size=len(X)))
        )
    return X.assign(**{col: column}) if isinstance(col, str) else X


def check_outcome(action, X):
    before = X.copy()
    try:
        proba = action()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        named = [
            c for c in [*COLUMNS, "surprise"] if repr(c) in message or f"{c!r}"[1:-1] in message
        ]
        named += [p for p in PARAMETERS if re.search(rf"\b{p}\b", message)]
        assert named, f"error does not name a column or parameter: {message!r}"
        event(f"{type(exc).__name__}: {message[:60]}")
        proba = None
    pd.testing.assert_frame_equal(X, before)  # the caller's frame is never modified
    if proba is not None:
        event("prediction")
        assert proba.shape == (len(X), 2)
        assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()


@pytest.fixture(scope="module")
def fitted():
    return HAMURClassifier(**{**FAST_HAMUR, "handle_unknown_domain": "average"}).fit(BASE_X, BASE_Y)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=corrupted_frames())
def test_predict_on_hostile_frames(fitted, case):
    X, _ = case
    check_outcome(lambda: fitted.predict_proba(X), X)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=corrupted_frames(allow_structure_changes=False))
def test_fit_on_hostile_frames(case):
    X, y = case
    clf = MultiDomainClassifier(hidden_units=(8,), max_epochs=1, batch_size=16, random_state=0)

    def fit_and_predict():
        return clf.fit(X, y).predict_proba(X)

    check_outcome(fit_and_predict, X)
