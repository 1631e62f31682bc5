"""Tests for sklearn_hamur.datasets.load_adult, against the bundled file and the shared copy."""

import doctest
import hashlib
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_hamur.datasets import _adult, load_adult

N_ROWS = 48_842
N_POSITIVE = 11_687
NUMERIC = ["age", "educational-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "gender",
    "native-country",
]
# Rows per domain, as written in DESCR; checked against the raw shared file below.
DOMAIN_COUNTS = {
    "workclass": {"private": 33_906, "government": 6_549, "self_employed": 5_557, "other": 2_830},
    "race": {
        "White": 41_762,
        "Black": 4_685,
        "Asian-Pac-Islander": 1_519,
        "Amer-Indian-Eskimo": 470,
        "Other": 406,
    },
    "gender": {"Male": 32_650, "Female": 16_192},
}
WORKCLASS_GROUPS = {
    "Private": "private",
    "Self-emp-not-inc": "self_employed",
    "Self-emp-inc": "self_employed",
    "Federal-gov": "government",
    "Local-gov": "government",
    "State-gov": "government",
    "?": "other",
    "Without-pay": "other",
    "Never-worked": "other",
}

# The shared data folder: $SKLEARN_HAMUR_DATA, else ../shared/data from the repository root.
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKLEARN_HAMUR_DATA", REPO_ROOT.parent / "shared" / "data"))
RAW_FILE = SHARED_DATA / "adult" / "adult.csv.gz"
needs_shared = pytest.mark.skipif(
    not RAW_FILE.is_file(),
    reason=(
        f"shared Adult file not found at {RAW_FILE}; "
        "set SKLEARN_HAMUR_DATA to the folder that holds adult/adult.csv.gz"
    ),
)


@pytest.fixture(scope="module")
def raw_shared():
    """The shared raw file read as plain strings, with no cleaning at all."""
    return pd.read_csv(RAW_FILE, dtype=str, keep_default_na=False)


def test_bunch_shapes_columns_and_dtypes():
    adult = load_adult()
    expected_features = [c for c in NUMERIC + CATEGORICAL if c != "workclass"]
    assert adult.data.shape == (N_ROWS, 13)
    assert adult.frame.shape == (N_ROWS, 14)
    assert adult.feature_names == list(adult.data.columns)
    assert adult.feature_names[-1] == "domain"
    assert sorted(adult.feature_names[:-1]) == sorted(expected_features)
    assert list(adult.frame.columns) == adult.feature_names + ["income_gt_50k"]
    assert "fnlwgt" not in adult.frame.columns and "income" not in adult.frame.columns
    for column in NUMERIC:
        assert adult.data[column].dtype == np.int64, column
    for column in [c for c in CATEGORICAL if c != "workclass"] + ["domain"]:
        assert pd.api.types.is_string_dtype(adult.data[column]), column
    assert list(adult.target_names) == ["<=50K", ">50K"]
    assert "CC BY 4.0" in adult.DESCR and "48,842" in adult.DESCR


def test_target_is_int_and_label_rate_is_11687_of_48842():
    adult = load_adult()
    assert adult.target.name == "income_gt_50k"
    assert adult.target.dtype == np.int64
    assert set(adult.target.unique()) == {0, 1}
    assert int(adult.target.sum()) == N_POSITIVE
    assert adult.target.mean() == pytest.approx(N_POSITIVE / N_ROWS)
    pd.testing.assert_series_equal(adult.frame["income_gt_50k"], adult.target)


@pytest.mark.parametrize("scheme", sorted(DOMAIN_COUNTS))
def test_domain_counts_per_scheme(scheme):
    adult = load_adult(domain=scheme)
    assert adult.domain.name == "domain"
    assert adult.domain.value_counts().to_dict() == DOMAIN_COUNTS[scheme]
    pd.testing.assert_series_equal(adult.data["domain"], adult.domain)
    assert scheme not in adult.data.columns
    assert adult.data.shape == (N_ROWS, 13)


def test_question_marks_become_missing_values():
    data = load_adult(domain="gender").data
    assert not data.isin(["?"]).any().any()
    missing = data.isna().sum()
    assert missing[missing > 0].to_dict() == {
        "workclass": 2_799,
        "occupation": 2_809,
        "native-country": 857,
    }
    # Under the default scheme the missing workclass rows are domain "other".
    assert not load_adult().domain.isna().any()


@needs_shared
@pytest.mark.parametrize("scheme", sorted(DOMAIN_COUNTS))
def test_domain_counts_and_rates_match_raw_shared_file(raw_shared, scheme):
    raw_domain = raw_shared[scheme]
    if scheme == "workclass":
        raw_domain = raw_domain.map(WORKCLASS_GROUPS)
        assert not raw_domain.isna().any(), "a workclass value missing from WORKCLASS_GROUPS"
    raw_positive = (raw_shared["income"] == ">50K").astype(int)

    adult = load_adult(domain=scheme)
    assert adult.domain.value_counts().to_dict() == raw_domain.value_counts().to_dict()
    assert adult.domain.value_counts().to_dict() == DOMAIN_COUNTS[scheme]
    loaded_rates = adult.target.groupby(adult.domain).mean()
    raw_rates = raw_positive.groupby(raw_domain.to_numpy()).mean()
    for name, rate in raw_rates.items():
        assert loaded_rates[name] == pytest.approx(rate), name


@needs_shared
def test_rows_and_values_match_raw_shared_file(raw_shared):
    assert len(raw_shared) == N_ROWS
    assert int((raw_shared["income"] == ">50K").sum()) == N_POSITIVE
    data = load_adult(domain="race").data
    for column in ["age", "hours-per-week", "education", "occupation"]:
        loaded = data[column].astype(object).where(data[column].notna(), "?").astype(str)
        np.testing.assert_array_equal(loaded.to_numpy(), raw_shared[column].to_numpy())
    np.testing.assert_array_equal(load_adult(domain="race").domain, raw_shared["race"])


@needs_shared
def test_bundled_file_is_an_unchanged_copy_of_the_shared_file():
    bundled = resources.files("sklearn_hamur.datasets") / "data" / "adult.csv.gz"
    digest = hashlib.sha256(bundled.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(RAW_FILE.read_bytes()).hexdigest()


def test_return_X_y():
    X, y = load_adult(domain="race", return_X_y=True)
    adult = load_adult(domain="race")
    pd.testing.assert_frame_equal(X, adult.data)
    pd.testing.assert_series_equal(y, adult.target)


def test_as_frame_false_gives_numpy_arrays():
    adult = load_adult(as_frame=False)
    assert isinstance(adult.data, np.ndarray) and adult.data.dtype == object
    assert adult.data.shape == (N_ROWS, 13)
    assert isinstance(adult.target, np.ndarray) and adult.target.dtype == np.int64
    assert int(adult.target.sum()) == N_POSITIVE
    assert isinstance(adult.domain, np.ndarray) and adult.domain.shape == (N_ROWS,)
    assert adult.frame is None
    np.testing.assert_array_equal(adult.data[:, -1], adult.domain)
    occupation = adult.data[:, adult.feature_names.index("occupation")]
    assert pd.isna(occupation).sum() == 2_809

    X, y = load_adult(as_frame=False, return_X_y=True)
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, adult.target)


@pytest.mark.parametrize("bad", ["Workclass", "relationship", "", None, 3])
def test_bad_domain_raises_value_error_naming_the_parameter(bad):
    with pytest.raises(ValueError, match=r"'domain' parameter of load_adult") as info:
        load_adult(domain=bad)
    message = str(info.value)
    assert "'workclass', 'race', 'gender'" in message
    assert repr(bad) in message


def test_bad_domain_error_suggests_close_match():
    with pytest.raises(ValueError, match=r"Did you mean domain='workclass'\?"):
        load_adult(domain="Workclass")


def test_all_bad_parameters_reported_at_once():
    with pytest.raises(ValueError) as info:
        load_adult(domain="age", return_X_y="yes", as_frame=None)
    message = str(info.value)
    for name in ["'domain'", "'return_X_y'", "'as_frame'"]:
        assert name in message


def test_results_are_fresh_each_call():
    first = load_adult()
    first.data.iloc[0, 0] = -1
    first.data["domain"] = "changed"
    first.target[:] = 7
    first.domain.iloc[:] = "changed"
    del first.frame["age"]
    first.feature_names.append("extra")

    second = load_adult()
    assert second.data.iloc[0, 0] != -1
    assert second.domain.value_counts().to_dict() == DOMAIN_COUNTS["workclass"]
    assert second.data["domain"].value_counts().to_dict() == DOMAIN_COUNTS["workclass"]
    assert int(second.target.sum()) == N_POSITIVE
    assert "age" in second.frame.columns
    assert "extra" not in second.feature_names

    array_result = load_adult(as_frame=False)
    array_result.data[:] = None
    assert load_adult(as_frame=False).data[0, 0] is not None


def test_docstring_examples_run():
    results = doctest.testmod(_adult, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted > 0
    assert results.failed == 0
