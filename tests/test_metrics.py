"""Per-domain scores and the domain scorers (sklearn_hamur.metrics)."""

import math
import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.metrics import (
    aggregate_domain_scores,
    domain_scorers,
    domain_scores,
    make_domain_scorer,
)
from sklearn_hamur.model_selection import DecodedParamsClassifier, DomainStratifiedKFold

from .conftest import FAST, FAST_HAMUR, make_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def manual_per_domain(y_true, y_score, domains, metric):
    return {d: metric(y_true[domains == d], y_score[domains == d]) for d in np.unique(domains)}


def test_domain_scores_equal_a_manual_per_domain_computation():
    rng = np.random.default_rng(0)
    domains = rng.choice(["a", "b", "c", "d"], size=400)
    y = rng.integers(0, 2, size=400)
    score = y * 0.3 + rng.random(400)
    got = domain_scores(y, score, domains)
    expected = manual_per_domain(y, score, domains, roc_auc_score)
    assert list(got) == ["a", "b", "c", "d"]
    assert got == pytest.approx(expected)
    # Any metric, here the log loss on probabilities, with sample weights passed through.
    weights = rng.random(400)
    proba = 1 / (1 + np.exp(-(score - 0.6) * 3))
    got = domain_scores(y, proba, domains, partial(log_loss, labels=[0, 1]), sample_weight=weights)
    for d in "abcd":
        rows = domains == d
        assert got[d] == pytest.approx(log_loss(y[rows], proba[rows], sample_weight=weights[rows]))


def test_one_class_domain_is_undefined_not_an_error():
    y = np.array([0, 1, 0, 1, 1, 1, 0, 0])
    score = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.6, 0.9, 0.1])
    domains = np.array(["x", "x", "x", "x", "only_pos", "only_pos", "only_neg", "only_neg"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning leaks out
        got = domain_scores(y, score, domains)
    assert got["x"] == 1.0
    assert math.isnan(got["only_pos"]) and math.isnan(got["only_neg"])
    # The log loss is defined on one class when the labels are given: it is computed.
    losses = domain_scores(y, score, domains, partial(log_loss, labels=[0, 1]))
    assert losses["only_pos"] == pytest.approx(log_loss([1, 1], [0.7, 0.6], labels=[0, 1]))


def test_aggregates_leave_out_undefined_domains():
    scores = {"big": 0.9, "small": 0.6, "one_class": math.nan}
    assert aggregate_domain_scores(scores, "mean") == pytest.approx(0.75)
    assert aggregate_domain_scores(scores, "min") == 0.6
    weighted = aggregate_domain_scores(scores, "weighted", weights={"big": 3, "small": 1})
    assert weighted == pytest.approx(0.825)
    with pytest.warns(UndefinedMetricWarning, match="No domain has a defined score"):
        assert math.isnan(aggregate_domain_scores({"a": math.nan}, "min"))


@pytest.fixture(scope="module")
def fitted():
    """A model trained on string labels, and held-out rows."""
    X, y = make_data(n=900, label_values=("no", "yes"))
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clf = MultiDomainClassifier(**FAST).fit(X[:600], y[:600])
    torch.set_num_threads(n_threads)
    return clf, X[600:], y[600:]


def test_scorers_equal_a_manual_per_domain_computation(fitted):
    clf, X, y = fitted
    positive = clf.predict_proba(X)[:, 1]
    y01 = (y == "yes").astype(int)
    domains = X["domain"].to_numpy()
    counts = X["domain"].value_counts()
    aucs = manual_per_domain(y01, positive, domains, roc_auc_score)
    losses = manual_per_domain(y01, positive, domains, partial(log_loss, labels=[0, 1]))
    expected = {
        "roc_auc_mean": np.mean(list(aucs.values())),
        "roc_auc_min": min(aucs.values()),
        "roc_auc_weighted": sum(aucs[d] * counts[d] for d in aucs) / counts.sum(),
        "neg_log_loss_mean": -np.mean(list(losses.values())),
        "neg_log_loss_min": -max(losses.values()),
    }
    scorers = domain_scorers()
    assert set(scorers) == set(expected)
    for name, scorer in scorers.items():
        assert scorer(clf, X, y) == pytest.approx(expected[name]), name
    # The row-weighted per-domain log loss is the overall log loss.
    weighted_loss = make_domain_scorer("log_loss", aggregate="weighted")
    assert weighted_loss(clf, X, y) == pytest.approx(-log_loss(y01, positive))
    # The AUC differs from domain to domain here: min < mean.
    assert expected["roc_auc_min"] < expected["roc_auc_mean"]


def test_scorer_finds_domain_col_through_pipelines_and_wrappers():
    X, y = make_data(n=500)
    X = X.rename(columns={"domain": "page"})
    scaled = ColumnTransformer(
        [("scale", StandardScaler(), ["price"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    model = HAMURClassifier(**{**FAST_HAMUR, "domain_col": "page"})
    pipe = Pipeline([("pre", scaled), ("clf", DecodedParamsClassifier(model))]).fit(X, y)
    scorer = make_domain_scorer("roc_auc", aggregate="min")
    explicit = make_domain_scorer("roc_auc", aggregate="min", domain_col="page")
    positive = pipe.predict_proba(X)[:, 1]
    manual = manual_per_domain(y, positive, X["page"].to_numpy(), roc_auc_score)
    assert scorer(pipe, X, y) == explicit(pipe, X, y) == pytest.approx(min(manual.values()))


def test_scorer_errors_name_the_problem(fitted):
    clf, X, y = fitted
    with pytest.raises(ValueError, match="metric must be one of.*'accuracy'"):
        make_domain_scorer("accuracy")
    with pytest.raises(ValueError, match="aggregate must be one of.*'median'"):
        make_domain_scorer("roc_auc", aggregate="median")
    with pytest.raises(ValueError, match="domain_col='domain' is not a column.*keep that column"):
        make_domain_scorer()(clf, X.drop(columns="domain"), y)
    plain = LogisticRegression().fit(X[["price"]], y)
    with pytest.raises(ValueError, match="Pass domain_col='your_column' to make_domain_scorer"):
        make_domain_scorer()(plain, X[["price"]], y)


def test_scorers_work_in_cross_validate():
    X, y = make_data(n=600, seed=1)
    result = cross_validate(
        MultiDomainClassifier(**FAST), X, y, cv=DomainStratifiedKFold(3), scoring=domain_scorers()
    )
    for name in domain_scorers():
        assert np.isfinite(result[f"test_{name}"]).all()
    assert (result["test_roc_auc_min"] <= result["test_roc_auc_mean"]).all()


def big_and_small_domain_case():
    """Feature "a" ranks the big domain almost perfectly and the small one at random;
    feature "b" is worse on the big domain and good on the small one."""
    rng = np.random.default_rng(0)
    domain = np.array(["big"] * 900 + ["small"] * 100)
    big = domain == "big"
    x1, x2, noise = rng.normal(size=(3, len(domain)))
    y = (np.where(big, x1, x2) + 0.3 * rng.normal(size=len(domain)) > 0).astype(int)
    X = pd.DataFrame({"domain": domain, "a": x1, "b": np.where(big, x1 + noise, x2)})
    return X, y


def test_grid_search_on_worst_domain_auc_picks_the_balanced_candidate():
    X, y = big_and_small_domain_case()

    def on(column):
        return ColumnTransformer([("keep", "passthrough", [column])])

    pipe = Pipeline([("select", on("a")), ("model", LogisticRegression())])
    grid = {"select": [on("a"), on("b")]}
    cv = DomainStratifiedKFold(5, shuffle=True, random_state=0)
    worst = GridSearchCV(
        pipe,
        grid,
        cv=cv,
        scoring=make_domain_scorer("roc_auc", aggregate="min", domain_col="domain"),
    ).fit(X, y)
    overall = GridSearchCV(pipe, grid, cv=cv, scoring="roc_auc").fit(X, y)
    assert overall.best_params_["select"].transformers[0][2] == ["a"]  # great on "big"
    assert worst.best_params_["select"].transformers[0][2] == ["b"]  # balanced
    a_score, b_score = worst.cv_results_["mean_test_score"]
    assert a_score < 0.6 < 0.75 < b_score
    # The multi-metric form, refitting on the worst domain's AUC, makes the same choice.
    multi = GridSearchCV(
        pipe, grid, cv=cv, scoring=domain_scorers(domain_col="domain"), refit="roc_auc_min"
    ).fit(X, y)
    assert multi.best_index_ == 1
    assert multi.cv_results_["mean_test_roc_auc_min"] == pytest.approx([a_score, b_score])
