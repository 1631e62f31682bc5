import numpy as np
import pandas as pd
import pytest

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier

from .conftest import FAST, FAST_HAMUR, make_data


@pytest.fixture
def fitted():
    X, y = make_data()
    return HAMURClassifier(**FAST_HAMUR).fit(X, y), X, y


def fit(X, y, **params):
    return HAMURClassifier(**{**FAST_HAMUR, **params}).fit(X, y)


def test_missing_domain_column():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"domain_col='page' is not a column of X"):
        fit(X, y, domain_col="page")


def test_domain_column_with_nan():
    X, y = make_data()
    X.loc[3, "domain"] = None
    with pytest.raises(ValueError, match=r"Domain column 'domain' has 1 missing value"):
        fit(X, y)


def test_fewer_than_two_classes():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"Only binary classification is supported.*1 class"):
        fit(X, np.zeros(len(X)))


def test_more_than_two_classes():
    X, _ = make_data()
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        fit(X, np.arange(len(X)) % 3)


def test_y_length_mismatch():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"X has 600 rows but y has 599 values"):
        fit(X, y[:-1])


def test_nan_in_y():
    X, y = make_data()
    y = y.astype(float)
    y[5] = np.nan
    with pytest.raises(ValueError, match=r"y contains 1 NaN"):
        fit(X, y)


def test_empty_X():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"0 sample\(s\).*X is empty"):
        fit(X.iloc[:0], y[:0])


def test_column_missing_at_predict(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match=r"price"):
        clf.predict_proba(X.drop(columns="price"))


def test_numeric_column_holding_strings():
    X, y = make_data()
    X["price"] = X["price"].astype(object)
    X.loc[7, "price"] = "cheap"
    with pytest.raises(
        ValueError, match=r"Numeric column 'price' holds non-numeric values such as \['cheap'\]"
    ):
        fit(X, y, numeric_cols=["price"])


def test_numeric_column_holding_strings_at_predict(fitted):
    clf, X, _ = fitted
    bad = X.assign(price=X["price"].astype(object))
    bad.loc[2, "price"] = "n/a"
    with pytest.raises(ValueError, match=r"Numeric column 'price'"):
        clf.predict_proba(bad)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values(value, fitted):
    X, y = make_data()
    X.loc[0, "price"] = value
    with pytest.raises(ValueError, match=r"Numeric column 'price' holds infinite values"):
        fit(X, y)
    clf = fitted[0]
    with pytest.raises(ValueError, match=r"'price' holds infinite values"):
        clf.predict_proba(X)


def test_domain_with_single_row():
    X, y = make_data()
    X.loc[0, "domain"] = "lonely"
    with pytest.raises(
        ValueError, match=r"\['lonely'\] of column 'domain' have a single training row"
    ):
        fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"lr": -1},
            r"'lr' parameter of HAMURClassifier must be a float in the range \(0.0, inf\). Got -1",
        ),
        ({"adapter_rank": 0}, r"'adapter_rank' parameter .* range \[1, inf\)"),
        ({"d_adapter": 2.5}, r"'d_adapter' parameter"),
        ({"dropout": 1.0}, r"'dropout' parameter"),
        (
            {"hidden_units": (64, 0)},
            r"'hidden_units' parameter .* non-empty tuple of positive ints",
        ),
        ({"hidden_units": ()}, r"'hidden_units'"),
        ({"n_adapters": 3}, r"'n_adapters' .* at most the number of hidden blocks"),
        ({"handle_unknown_domain": "ignore"}, r"'handle_unknown_domain' parameter"),
        ({"device": "gpu0"}, r"'device' parameter .* Got 'gpu0'"),
        ({"early_stopping": "yes"}, r"'early_stopping' parameter"),
        ({"batch_size": 0}, r"'batch_size' parameter"),
    ],
)
def test_bad_parameters(params, message):
    X, y = make_data()
    with pytest.raises((ValueError, TypeError), match=message):
        fit(X, y, **params)


def test_all_parameter_problems_reported_at_once():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"(?s)'lr'.*'adapter_rank'"):
        fit(X, y, lr=-1, adapter_rank=0)


def test_unknown_column_in_categorical_cols():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"\['nope'\] \(named in categorical_cols\) are missing"):
        MultiDomainClassifier(**FAST, categorical_cols=["nope"]).fit(X, y)


def test_input_frame_is_never_modified(fitted):
    X, y = make_data()
    X.loc[4, "price"] = np.nan
    X.loc[6, "item"] = None
    before = X.copy()
    clf = fit(X, y)
    clf.predict_proba(X)
    pd.testing.assert_frame_equal(X, before)


def test_no_nan_output_with_missing_values(fitted):
    clf, X, _ = fitted
    holes = X.copy()
    holes.loc[::3, "price"] = np.nan
    holes.loc[::2, "item"] = None
    holes["color"] = None
    assert np.isfinite(clf.predict_proba(holes)).all()


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    X, _ = make_data()
    with pytest.raises(NotFittedError):
        HAMURClassifier().predict_proba(X)
