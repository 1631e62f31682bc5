"""compare(), make_baselines() and plot_comparison()."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import sklearn_hamur
from sklearn_hamur import MultiDomainClassifier, compare, make_baselines, plot_comparison

from .conftest import FAST, make_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def onehot_logreg():
    return make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=200))


def test_table_has_overall_and_per_domain_scores_and_paired_differences():
    X, y = make_data(n=300)
    models = {"dummy": DummyClassifier(), "logreg": onehot_logreg()}
    X_before = X.copy()
    table, folds = compare(models, X, y, cv=3, reference="dummy", return_folds=True)
    pd.testing.assert_frame_equal(X, X_before)  # the caller's frame is not modified
    assert table.index.names == ["model", "domain"]
    assert table.loc["logreg"].index.tolist() == ["all", "d0", "d1", "d2"]
    assert all(type(d) is str for d in table.index.get_level_values("domain"))
    for column in ("roc_auc_mean", "roc_auc_std", "roc_auc_diff", "roc_auc_diff_std"):
        assert column in table.columns
    assert {"log_loss_mean", "log_loss_diff", "fit_time_mean", "fit_time_std"} <= set(table)
    # The dummy predicts a constant: AUC 0.5 on every fold; the reference's diff is 0.
    assert table.loc[("dummy", "all"), "roc_auc_mean"] == 0.5
    assert (table.loc["dummy", "roc_auc_diff"] == 0).all()
    # The paired difference is the mean over folds of (model - reference) on each fold.
    per_fold = folds.loc["logreg", ("roc_auc", "d1")] - folds.loc["dummy", ("roc_auc", "d1")]
    assert table.loc[("logreg", "d1"), "roc_auc_diff"] == pytest.approx(per_fold.mean())
    assert table.loc[("logreg", "d1"), "roc_auc_diff_std"] == pytest.approx(per_fold.std())
    assert len(folds.loc["logreg"]) == 3 and table.attrs == {"reference": "dummy", "n_folds": 3}
    assert np.isnan(table.loc[("logreg", "d0"), "fit_time_mean"])  # fit time: "all" rows


def test_parallel_fits_give_the_serial_scores():
    X, y = make_data(n=300)
    models = {
        "backbone": MultiDomainClassifier(**dict(FAST, max_epochs=2)),
        "logreg": onehot_logreg(),
    }
    serial = compare(models, X, y, cv=2)
    parallel = compare(models, X, y, cv=2, n_jobs=2)
    scores = [c for c in serial.columns if not c.startswith("fit_time")]
    pd.testing.assert_frame_equal(parallel[scores], serial[scores])
    assert (parallel.xs("all", level="domain")["fit_time_mean"] > 0).all()


def test_the_first_model_is_the_default_reference_and_lists_are_named():
    X, y = make_data(n=200)
    table = compare([DummyClassifier(), DummyClassifier()], X, y, cv=2, scoring="roc_auc")
    assert table.attrs["reference"] == "DummyClassifier"
    assert list(dict.fromkeys(table.index.get_level_values(0))) == [
        "DummyClassifier",
        "DummyClassifier (2)",
    ]
    assert "log_loss_mean" not in table


def test_string_labels_and_the_packages_estimator():
    X, y = make_data(n=300, label_values=("no", "yes"))
    table = compare({"backbone": MultiDomainClassifier(**dict(FAST, max_epochs=1))}, X, y, cv=2)
    assert 0.0 <= table.loc[("backbone", "all"), "roc_auc_mean"] <= 1.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"estimators": {}}, ValueError, "estimators is empty"),
        ({"estimators": "logreg"}, TypeError, "estimators must be a dict"),
        ({"estimators": {"x": object()}}, TypeError, r"\['x'\] have no fit or predict_proba"),
        ({"reference": "nope"}, ValueError, "reference='nope' is not one of"),
        ({"scoring": ["accuracy"]}, ValueError, "scoring must be one or several of"),
        ({"domain_col": "page"}, ValueError, "domain_col='page' is not a column of X"),
        ({"cv": 1}, ValueError, "cv must be at least 2"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    X, y = make_data(n=100)
    args = {"estimators": {"dummy": DummyClassifier()}, **kwargs}
    with pytest.raises(error, match=match):
        compare(args.pop("estimators"), X, y, **args)


def high_cardinality_data(n=1500, seed=0):
    """An id column with 1,095 values (more than HistGradientBoosting's 255 categories)."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 1095, size=n)
    X = pd.DataFrame(
        {
            "domain": rng.choice(["a", "b"], size=n),
            "user": pd.Series([f"u{u}" for u in user]).astype("category"),
            "item": rng.choice(["i1", "i2", None], size=n),
            "flag": rng.random(n) < 0.5,
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )
    X.loc[0, "user"] = "u0"
    y = (rng.random(n) < 1 / (1 + np.exp(-(user % 7 - 3) / 2))).astype(int)
    return X, y


def test_baselines_fit_real_ctr_columns_with_a_high_cardinality_id():
    X, y = high_cardinality_data()
    assert X["user"].nunique() > 255
    baselines = make_baselines(X, random_state=0)
    assert list(baselines) == [
        "LogisticRegression",
        "HistGradientBoosting",
        "MultiDomainClassifier",
    ]
    X_before = X.copy()
    for name in ("LogisticRegression", "HistGradientBoosting"):
        model = baselines[name].fit(X[:1000], y[:1000])
        proba = model.predict_proba(X[1000:])[:, 1]
        assert np.isfinite(proba).all(), name
    pd.testing.assert_frame_equal(X, X_before)
    trees = baselines["HistGradientBoosting"].named_steps["features"]
    assert trees.named_transformers_["target"].feature_names_in_.tolist() == ["user"]
    assert baselines["MultiDomainClassifier"].get_params()["domain_col"] == "domain"


def test_the_hist_gradient_boosting_of_the_issue_fails_where_the_baseline_works():
    # What a user tried first (issue 15, item 6).
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = high_cardinality_data()
    X = X.astype({"domain": "category", "item": "category"})
    with pytest.raises(ValueError, match="cardinality"):
        HistGradientBoostingClassifier(categorical_features="from_dtype").fit(X, y)


def test_make_baselines_checks_its_columns():
    X, _ = make_data(n=50)
    with pytest.raises(ValueError, match=r"categorical_cols lists \['nope'\]"):
        make_baselines(X, categorical_cols=["nope"])
    with pytest.raises(TypeError, match="X must be a DataFrame"):
        make_baselines(np.zeros((3, 2)))
    cat_given = make_baselines(X, categorical_cols=["item"], numeric_cols=["price"])
    columns = cat_given["LogisticRegression"].named_steps["features"].transformers
    assert columns[0][2] == ["item", "domain"] and columns[1][2] == ["price"]


def test_plot_draws_one_bar_group_per_domain():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, y = make_data(n=200)
    table = compare({"dummy": DummyClassifier(), "logreg": onehot_logreg()}, X, y, cv=2)
    ax = plot_comparison(table)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["all", "d0", "d1", "d2"]
    assert len(ax.patches) == 2 * 4
    with pytest.raises(ValueError, match="score="):
        plot_comparison(table, score="accuracy")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_exported():
    assert {"compare", "make_baselines", "plot_comparison"} <= set(sklearn_hamur.__all__)


def test_readme_quickstart_table_is_the_examples_output_with_its_thread_count():
    # The README's table is pasted from examples/quickstart.py: same models, the domain
    # names load_adult gives (self_employed, not self-employed), the thread count stated.
    from pathlib import Path

    from sklearn_hamur.datasets import load_adult

    root = Path(__file__).resolve().parents[1]
    readme = root.joinpath("README.md").read_text()
    section = readme.split("## Quickstart results", 1)[1].split("\n## ", 1)[0]
    assert "1 torch\nthread" in section or "1 torch thread" in section
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[1:]
    domains = sorted(load_adult(return_X_y=True)[0]["domain"].unique())
    assert header == (
        "| model | fit s | AUC | log loss | " + " | ".join(f"AUC {d}" for d in domains) + " |"
    )
    X, _ = make_data(n=50)
    expected = ["HAMURClassifier", *make_baselines(X)]
    assert [row.split("|")[1].strip() for row in rows] == expected
    example = root.joinpath("examples", "quickstart.py").read_text()
    assert "compare(" in example and "make_baselines(" in example
