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


# -- 2. widths as strings ("512-256"), the form hamur_search_space gives --------------


def test_string_widths_are_stored_as_given_and_parsed_at_fit():
    X, y = make_data(300)
    params = dict(FAST_HAMUR, max_epochs=1)
    as_strings = dict(params, hidden_units="16-8", hyper_hidden_units="8")
    clf = HAMURClassifier(**as_strings)
    assert clf.get_params()["hidden_units"] == "16-8"  # __init__ only stores
    clf.fit(X, y)
    assert clf.hidden_units == "16-8" and clf.hyper_hidden_units == "8"  # not rewritten
    reference = HAMURClassifier(**params).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X))
    shared = MultiDomainClassifier(**dict(TINY, backbone="shared_bottom", tower_units="8"))
    assert shared.fit(X, y).net_.module_.towers.blocks[0].linear.d_out == 8


@pytest.mark.parametrize(
    "value, expected",
    [
        ("512x", "Got '512x' instead"),
        ("", "Got '' instead"),
        ((0,), r"Got \(0,\) instead"),
        (256, "an instance of 'list', an instance of 'tuple' or an instance of 'str'"),
    ],
)
def test_bad_widths_are_reported_once_with_both_forms(value, expected):
    X, y = make_data(100)
    with pytest.raises(ValueError, match=expected) as info:
        HAMURClassifier(**dict(TINY, hidden_units=value)).fit(X, y)
    message = str(info.value)
    assert message.count("'hidden_units' parameter") == 1, message
    if not isinstance(value, int):
        assert "(256, 128)" in message and "'256-128'" in message


def _optuna_search(estimator, space):
    optuna = pytest.importorskip("optuna")
    optuna_integration = pytest.importorskip("optuna_integration")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    with warnings.catch_warnings():  # optuna-integration's ExperimentalWarning
        warnings.simplefilter("ignore")
        return optuna_integration.OptunaSearchCV(
            estimator, space, cv=2, n_trials=2, random_state=0, error_score="raise"
        )


def test_optuna_search_cv_takes_the_search_space_on_the_estimator_itself():
    from sklearn_hamur.model_selection import hamur_search_space

    X, y = make_data(300)
    search = _optuna_search(HAMURClassifier(**dict(FAST_HAMUR, max_epochs=1)), hamur_search_space())
    search.fit(X, y)
    assert all(trial.state.name == "COMPLETE" for trial in search.trials_)
    assert np.isfinite(search.best_score_)
    best = search.best_estimator_
    assert best.hidden_units == search.best_params_["hidden_units"]
    assert isinstance(best.hidden_units, str)
    widths = tuple(int(w) for w in best.hidden_units.split("-"))
    assert best.net_.module_.tower.blocks[-1].linear.out_features == widths[-1]


def test_optuna_search_cv_over_a_pipeline_with_the_step_prefix():
    from sklearn_hamur.model_selection import hamur_search_space

    X, y = make_data(300)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["price"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    pipe = Pipeline([("pre", pre), ("clf", MultiDomainClassifier(**TINY))])
    search = _optuna_search(pipe, hamur_search_space(adapters=False, prefix="clf__"))
    search.fit(X, y)
    assert np.isfinite(search.best_score_)
    assert isinstance(search.best_estimator_[-1].hidden_units, str)


def test_string_widths_survive_save_and_load(tmp_path):
    X, y = make_data(300)
    clf = HAMURClassifier(**dict(FAST_HAMUR, max_epochs=1, hidden_units="16-8"))
    clf.fit(X, y).save(tmp_path / "model.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "model.safetensors", device="cpu")
    assert loaded.hidden_units == "16-8"
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))


# -- 3. domain scorers behind a renaming ColumnTransformer; metadata routing ----------


def _renaming_pipeline(model):
    """A ColumnTransformer with verbose names: the model sees ``rest__domain``."""
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["price"]),
            ("rest", "passthrough", ["domain", "item", "color"]),
        ]
    ).set_output(transform="pandas")
    return Pipeline([("pre", pre), ("clf", model)])


def test_scorers_find_the_domain_column_a_column_transformer_renamed():
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_validate

    from sklearn_hamur.metrics import domain_scorers, domain_scores, make_domain_scorer

    X, y = make_data(400)
    pipe = _renaming_pipeline(MultiDomainClassifier(**dict(TINY, domain_col="rest__domain")))
    pipe.fit(X, y)
    positive = pipe.predict_proba(X)[:, 1]
    expected = min(domain_scores(y, positive, X["domain"]).values())
    scorer = make_domain_scorer("roc_auc", aggregate="min")
    assert scorer(pipe, X, y) == pytest.approx(expected)
    # The name the model sees, or the raw one, given explicitly, work too.
    for name in ("rest__domain", "domain"):
        assert make_domain_scorer(aggregate="min", domain_col=name)(pipe, X, y) == pytest.approx(
            expected
        )
    result = cross_validate(pipe, X, y, cv=2, scoring=domain_scorers(), error_score="raise")
    assert np.isfinite(result["test_roc_auc_min"]).all()
    assert roc_auc_score(y, positive) > 0.5


def test_scorer_behind_grid_search_and_polars_input():
    pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    import polars as pl
    from sklearn.model_selection import GridSearchCV

    from sklearn_hamur.metrics import make_domain_scorer
    from sklearn_hamur.model_selection import DomainStratifiedKFold

    X, y = make_data(400)
    X_pl = pl.from_pandas(X)
    folds = list(DomainStratifiedKFold(2).split(X_pl, y))
    assert [len(test) for _, test in folds] == [200, 200]
    pipe = _renaming_pipeline(MultiDomainClassifier(**dict(TINY, domain_col="rest__domain")))
    search = GridSearchCV(
        pipe,
        {"clf__lr": [0.01]},
        cv=folds,
        scoring=make_domain_scorer(aggregate="min"),
        error_score="raise",
    ).fit(X, y)
    assert np.isfinite(search.best_score_)
    scorer = make_domain_scorer(aggregate="min")
    assert scorer(search, X_pl, y) == pytest.approx(scorer(search, X, y))


def test_scorer_that_cannot_find_the_domain_says_what_to_pass():
    from sklearn_hamur.metrics import make_domain_scorer

    X, y = make_data(300)
    pipe = _renaming_pipeline(MultiDomainClassifier(**dict(TINY, domain_col="rest__domain")))
    pipe.fit(X, y)
    with pytest.raises(ValueError) as info:
        make_domain_scorer(domain_col="page")(pipe, X, y)
    message = str(info.value)
    assert "domain_col='page'" in message and "the X being scored" in message
    assert "'rest__domain'" in message and "domain_col=" in message


def test_domain_scorer_uses_routed_sample_weight():
    import sklearn
    from sklearn.model_selection import KFold, cross_validate

    from sklearn_hamur.metrics import domain_scorers, make_domain_scorer

    X, y = make_data(400)
    weight = np.random.default_rng(0).uniform(0.1, 5.0, size=len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_domain_scorer("roc_auc", aggregate="weighted").set_score_request(
            sample_weight=True
        )
        model = MultiDomainClassifier(**TINY).set_fit_request(sample_weight=True)
        cv = KFold(2, shuffle=True, random_state=0)
        result = cross_validate(
            model,
            X,
            y,
            cv=cv,
            scoring=scorer,
            params={"sample_weight": weight},
            return_estimator=True,
            return_indices=True,
            error_score="raise",
        )
        for fitted, test, score in zip(
            result["estimator"], result["indices"]["test"], result["test_score"]
        ):
            by_hand = make_domain_scorer("roc_auc", aggregate="weighted")
            weighted = by_hand(fitted, X.iloc[test], y[test], sample_weight=weight[test])
            assert score == pytest.approx(weighted)
            assert score != pytest.approx(by_hand(fitted, X.iloc[test], y[test]))
        # Weights routed to a scorer that did not say whether it takes them: sklearn's error.
        with pytest.raises(Exception, match="sample_weight"):
            cross_validate(
                model,
                X,
                y,
                cv=cv,
                scoring=domain_scorers(),
                params={"sample_weight": weight},
                error_score="raise",
            )
    with pytest.raises(RuntimeError, match="enable_metadata_routing=True"):
        make_domain_scorer().set_score_request(sample_weight=True)


# -- 4. the fit-time error for a renamed domain column ---------------------------------


def test_renamed_domain_column_error_says_what_to_do():
    X, y = make_data(100)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["price"])], remainder="passthrough"
    ).set_output(transform="pandas")
    pipe = Pipeline([("pre", pre), ("clf", MultiDomainClassifier(**TINY))])
    with pytest.raises(ValueError) as info:
        pipe.fit(X, y)
    message = str(info.value)
    assert "'remainder__domain'" in message
    assert "verbose_feature_names_out=False" in message
    assert "domain_col='remainder__domain'" in message
    # Both fixes work.
    pipe.set_params(pre__verbose_feature_names_out=False).fit(X, y)
    pipe.set_params(pre__verbose_feature_names_out=True, clf__domain_col="remainder__domain").fit(
        X, y
    )
