"""Property-based hostile input: a correct prediction or a clear error, nothing else.

Each generated case corrupts a valid multi-domain frame (random dtypes, NaN/None/inf,
empty strings, mixed types, unseen categories and domains, duplicated and reordered
columns, category / string / nullable-integer dtypes, huge and negative ids). The
estimator must either return finite probabilities in [0, 1] or raise a ValueError /
TypeError whose message names a column or parameter; never a torch error, never NaN,
and never a change to the caller's frame.

A category's code depends only on its value: generated mixed int / float / bool / str /
Decimal columns get the code of their documented canonical form, whatever the other
rows; integer ids keep their codes when their dtype changes between fit and predict;
and a row's probability does not depend on the other rows passed with it.
"""

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, MultiDomainEncoder
from sklearn_hamur.encoder import MISSING_INDEX, N_RESERVED, UNKNOWN_INDEX, canonical_category

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


# -- a category's code depends only on its value (issue 14, section 3) -------------------

MIXED_VALUES = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 2.5, np.nan, np.float32(1.0), np.int8(2)]),
    st.booleans(),
    st.sampled_from(["1", "1.0", "2", "a", "True", "", None]),
    st.sampled_from([Decimal("1.0"), Decimal("2.5")]),
)


#: Values pandas' factorization finds equal although their categories differ (or not).
EQUAL_BUT_DISTINCT = st.sampled_from([1, 1.0, True, "1", 0, -0.0, False, 0.0, 2.5, "a", None])


def expected_code(encoder, value):
    """The code the documented canonical form gives ``value``, on its own."""
    category = canonical_category(value)
    if category is None:
        return MISSING_INDEX
    vocabulary = encoder.vocabularies_["c"]
    return (
        int(vocabulary.get_loc(category)) + N_RESERVED if category in vocabulary else UNKNOWN_INDEX
    )


def one_column(values, dtype=object):
    return pd.DataFrame({"domain": "a", "c": pd.Series(values, dtype=dtype)})


@settings(max_examples=150, deadline=None)
@given(
    train=st.lists(MIXED_VALUES, min_size=1, max_size=12),
    batch=st.lists(MIXED_VALUES, min_size=1, max_size=12),
)
def test_mixed_values_get_the_code_of_their_canonical_form(train, batch):
    encoder = MultiDomainEncoder(categorical_cols=["c"]).fit(one_column(train))
    codes = encoder.transform(one_column(batch))["x_cat"][:, 0].tolist()
    assert codes == [expected_code(encoder, v) for v in batch]  # whatever the other rows
    event(f"{len(set(codes))} distinct codes")


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=10),
    predict_dtype=st.sampled_from(["float64", "object", "Int64", "category", "str", "int32"]),
    with_nan=st.booleans(),
)
def test_dtype_changes_between_fit_and_predict_keep_the_codes(ids, predict_dtype, with_nan):
    encoder = MultiDomainEncoder(categorical_cols=["c"]).fit(one_column(ids, "int64"))
    expected = encoder.transform(one_column(ids, "int64"))["x_cat"][:, 0].tolist()
    if predict_dtype == "int32":
        ids = [i % 2**31 for i in ids]
        expected = [expected_code(encoder, i) for i in ids]
    values = pd.Series(ids, dtype="int64")
    if with_nan and predict_dtype in ("float64", "object", "Int64", "category"):
        values = pd.concat([values, pd.Series([None])], ignore_index=True)
        expected = [*expected, MISSING_INDEX]
    if predict_dtype == "float64" and max(map(abs, ids)) >= 2**53:
        return  # not every id is a float64
    converted = values.astype(str) if predict_dtype == "str" else values.astype(predict_dtype)
    codes = encoder.transform(one_column(converted, converted.dtype))["x_cat"][:, 0].tolist()
    assert codes == expected


@pytest.fixture(scope="module")
def fitted_mixed():
    """Fitted with an item column that mixes 1, "1", 1.0, True, 0, 2.5 and strings."""
    cycle = [1, "1", 1.0, True, 0, 2.5, "a", False, -0.0, "item3"]
    items = pd.Series([cycle[i % len(cycle)] for i in range(len(BASE_X))], dtype=object)
    X = BASE_X.assign(item=items)
    return HAMURClassifier(**{**FAST_HAMUR, "handle_unknown_domain": "average"}).fit(X, BASE_Y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=corrupted_frames(allow_structure_changes=False), data=st.data())
def test_a_rows_probability_does_not_depend_on_the_other_rows(fitted_mixed, case, data):
    X, _ = case
    if data.draw(st.booleans()):  # values pandas finds equal, in the mixed-fitted column
        X = X.head(8)
        items = data.draw(st.lists(EQUAL_BUT_DISTINCT, min_size=len(X), max_size=len(X)))
        X = X.assign(item=pd.Series(items, dtype=object))
    try:
        batch = fitted_mixed.predict_proba(X)
    except (ValueError, TypeError):
        event("batch refused")
        return
    for i in range(min(len(X), 8)):
        alone = fitted_mixed.predict_proba(X.iloc[[i]])
        np.testing.assert_allclose(batch[i], alone[0], rtol=0, atol=1e-6)
