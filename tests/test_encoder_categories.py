"""A category's code depends only on its value (issue 14, section 3).

The canonical form (``canonical_category``): a number equal to an integer is that
integer, another float its shortest repr, a boolean "True"/"False", a string itself.
It is applied identically in fit and transform, whatever the dtype of the column and
whatever the other rows of the batch.
"""

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from sklearn_hamur import MultiDomainClassifier, MultiDomainEncoder
from sklearn_hamur.encoder import MISSING_INDEX, N_RESERVED, UNKNOWN_INDEX, canonical_category

from .conftest import FAST, make_data


def encode(enc, values, dtype=object):
    X = pd.DataFrame({"domain": "a", "c": pd.Series(values, dtype=dtype)})
    return enc.transform(X)["x_cat"][:, 0].tolist()


def fitted(values, dtype=object):
    X = pd.DataFrame({"domain": "a", "c": pd.Series(values, dtype=dtype)})
    return MultiDomainEncoder(categorical_cols=["c"]).fit(X)


def test_mixed_object_column_one_category_per_canonical_value():
    enc = fitted([1, "1", 1.0, "a"])
    assert list(enc.vocabularies_["c"]) == ["1", "a"]
    one, a = N_RESERVED, N_RESERVED + 1
    assert encode(enc, [1.0, 1, "1", np.int8(1), Decimal("1.0"), "a"]) == [one] * 5 + [a]
    assert encode(enc, ["1.0"]) == [UNKNOWN_INDEX]  # a string is never re-read as a number


def test_code_does_not_depend_on_the_other_rows():
    enc = fitted([True, 1, 0.0, "x"])
    assert list(enc.vocabularies_["c"]) == ["0", "1", "True", "x"]
    for value in (True, 1, 0.0, -0.0, False, 1.0, "x"):
        alone = encode(enc, [value])
        for others in ([1], [True], [1.0], [0], [False], ["x", 1.0, True]):
            assert encode(enc, [*others, value])[-1] == alone[0], (value, others)
            assert encode(enc, [value, *others])[0] == alone[0], (value, others)


def test_bool_is_not_one():
    enc = fitted([True, False, True])
    assert encode(enc, [1, 0, True]) == [UNKNOWN_INDEX, UNKNOWN_INDEX, N_RESERVED + 1]


def test_int_ids_at_fit_arrive_as_floats_with_a_nan_at_predict():
    enc = fitted([10, 20, 30, 10], dtype="int64")
    as_ints = encode(enc, [10, 20, 30], dtype="int64")
    assert encode(enc, [10.0, 20.0, 30.0, np.nan], dtype="float64") == [*as_ints, MISSING_INDEX]
    assert encode(enc, [10, 20, None], dtype="Int64") == [*as_ints[:2], MISSING_INDEX]
    assert encode(enc, ["10", "20", "30"]) == as_ints
    assert encode(enc, [10, 20, 30], dtype="category") == as_ints
    assert encode(enc, [10.5]) == [UNKNOWN_INDEX]


def test_float_categories_and_negative_zero():
    enc = fitted([0.0, 2.5, 3.0], dtype="float64")
    assert list(enc.vocabularies_["c"]) == ["0", "2.5", "3"]
    assert encode(enc, [-0.0, 0, 3, 2.5], dtype=object) == [
        N_RESERVED,
        N_RESERVED,
        N_RESERVED + 2,
        N_RESERVED + 1,
    ]


def test_datetime_and_decimal_categories():
    enc = fitted([datetime.datetime(2024, 1, 1), Decimal("2.50"), pd.Timestamp("2024-01-02")])
    assert encode(enc, [pd.Timestamp("2024-01-01"), Decimal("2.5"), 2.5]) == [
        N_RESERVED + 1,
        N_RESERVED,
        N_RESERVED,
    ]
    dated = fitted(pd.to_datetime(["2024-01-01", "2024-01-02"]), dtype="datetime64[ns]")
    assert encode(dated, [datetime.datetime(2024, 1, 2)]) == [N_RESERVED + 1]


def test_canonical_category():
    values = [1, 1.0, np.float32(1.0), Decimal("1.00"), "1", True, np.True_, 2.5, float("inf")]
    assert [canonical_category(v) for v in values] == ["1"] * 5 + ["True"] * 2 + ["2.5", "inf"]
    assert canonical_category(2**70) == canonical_category(float(2**70))
    assert canonical_category(None) is None and canonical_category(pd.NaT) is None


@pytest.mark.parametrize("cell", [[1, 2], {"a": 1}, {1, 2}, (1, 2)])
def test_container_cells_are_a_type_error_naming_the_column(cell):
    X = pd.DataFrame({"domain": ["a", "b"], "tags": pd.Series(["x", cell], dtype=object)})
    with pytest.raises(TypeError, match="Categorical column 'tags' holds cells"):
        MultiDomainEncoder(categorical_cols=["tags"]).fit(X)
    enc = MultiDomainEncoder(categorical_cols=["tags"]).fit(X.assign(tags=["x", "y"]))
    with pytest.raises(TypeError, match="Categorical column 'tags' holds cells"):
        enc.transform(X)


def test_multiindex_columns_are_a_type_error():
    X, y = make_data(n=100)
    Xm = X.copy()
    Xm.columns = pd.MultiIndex.from_tuples([(c, "") for c in X.columns])
    with pytest.raises(TypeError, match="MultiIndex columns"):
        MultiDomainEncoder().fit(Xm)
    clf = MultiDomainClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
    with pytest.raises(TypeError, match="MultiIndex columns"):
        clf.predict_proba(Xm)


def test_probability_of_a_row_does_not_depend_on_the_batch():
    # The case: 0.449160 alone, 0.449060 after a 1.0 row.
    X, y = make_data(n=300)
    X = X.assign(item=pd.Series([1, "1", 1.0, "a"] * 75, dtype=object))
    clf = MultiDomainClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
    row = X.iloc[[0]]  # item 1
    alone = clf.predict_proba(row)[0]
    after = pd.concat([X.iloc[[2]], row])  # item 1.0, then 1
    np.testing.assert_allclose(clf.predict_proba(after)[1], alone, rtol=0, atol=1e-7)


def test_input_is_not_modified():
    X = pd.DataFrame({"domain": ["a", "b"], "c": pd.Series([1, "1"], dtype=object)})
    before = X.copy()
    MultiDomainEncoder(categorical_cols=["c"]).fit(X).transform(X)
    pd.testing.assert_frame_equal(X, before)


def test_a_row_alone_is_encoded_as_inside_a_frame_of_many_categories():
    # A few distinct values are looked up one by one (FEW_LABELS), many through one
    # Index: both ways give every dtype's codes, unseen and missing values alike.
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame(
        {
            "domain": rng.choice(["a", "b"], n),
            "i": rng.integers(0, 20, n),
            "f": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 9, n) / 2),
            "b": rng.random(n) < 0.5,
            "o": pd.Series(rng.choice(np.array(["x", None, 1, 1.0, True, 2.5], object), n)),
            "s": pd.Series(rng.choice(["u", "v", None], n), dtype="string"),
            "c": pd.Categorical(rng.choice(["p", "q", "r"], n)),
            "I": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 4, n)), "Int64"),
        }
    )
    X.loc[90:, "i"] = np.arange(100, 130)  # unseen in fit
    enc = MultiDomainEncoder(categorical_cols=list(X.columns[1:])).fit(X.iloc[:60])
    whole = enc.transform(X)["x_cat"]
    assert (whole == UNKNOWN_INDEX).any() and (whole == MISSING_INDEX).any()
    rows = np.vstack([enc.transform(X.iloc[[k]])["x_cat"] for k in range(n)])
    np.testing.assert_array_equal(rows, whole)
