"""What a new scikit-learn user meets in the first hour (issue 15, items 1 to 4).

polars and pyarrow input, the string form of the width tuples (``"512-256"``) that
``hamur_search_space`` gives, the domain-aware scorers behind a renaming
ColumnTransformer, and metadata routing of their sample weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, MultiDomainEncoder

from .conftest import FAST, FAST_HAMUR, make_data

TINY = dict(FAST, max_epochs=1)


# -- 1. polars DataFrames and pyarrow Tables ------------------------------------------


def _with_category(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(color=X["color"].astype("category"))


def test_polars_frame_fits_and_predicts_like_pandas():
    pl = pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    X, y = make_data(300)
    X = _with_category(X)
    X_pl = pl.from_pandas(X)
    clf = MultiDomainClassifier(**TINY).fit(X_pl, pl.Series("y", y))
    # Column names (not 0..p-1) and dtypes (a polars Categorical is categorical) are kept.
    assert list(clf.feature_names_in_) == ["domain", "item", "color", "price"]
    assert clf.encoder_.categorical_cols_ == ["item", "color"]
    assert clf.encoder_.numeric_cols_ == ["price"]
    reference = MultiDomainClassifier(**TINY).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X_pl), reference.predict_proba(X), atol=1e-6)
    # A pandas frame predicts with the polars-fitted model, and the polars input is unchanged.
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(X_pl))
    assert X_pl.columns == ["domain", "item", "color", "price"]


def test_pyarrow_table_fits_predicts_and_encodes():
    pa = pytest.importorskip("pyarrow")
    X, y = make_data(300)
    table = pa.Table.from_pandas(_with_category(X), preserve_index=False)
    assert pa.types.is_dictionary(table.schema.field("color").type)
    clf = HAMURClassifier(**dict(FAST_HAMUR, max_epochs=1)).fit(table, y)
    assert list(clf.feature_names_in_) == ["domain", "item", "color", "price"]
    assert clf.predict_proba(table).shape == (300, 2)
    encoder = MultiDomainEncoder().fit(table)
    assert encoder.numeric_cols_ == ["price"]
    assert list(encoder.domains_) == ["d0", "d1", "d2"]
    np.testing.assert_array_equal(encoder.transform(table)["x_cat"], encoder.transform(X)["x_cat"])


def test_polars_missing_domain_column_names_the_real_columns():
    pl = pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    X, y = make_data(100)
    with pytest.raises(ValueError, match=r"domain_col='site'.*'domain', 'item'"):
        MultiDomainClassifier(domain_col="site", **TINY).fit(pl.from_pandas(X), y)


def test_polars_lazy_frame_is_refused_with_the_fix():
    pl = pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    X, y = make_data(100)
    with pytest.raises(TypeError, match=r"collect\(\)"):
        MultiDomainClassifier(**TINY).fit(pl.from_pandas(X).lazy(), y)


def test_polars_output_of_a_column_transformer_feeds_the_estimator():
    pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    X, y = make_data(300)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["price"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="polars")
    pipe = Pipeline([("pre", pre), ("clf", MultiDomainClassifier(**TINY))]).fit(X, y)
    assert set(pipe[-1].feature_names_in_) == {"domain", "item", "color", "price"}
    assert pipe.predict_proba(X).shape == (300, 2)
