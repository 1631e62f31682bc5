import io
import pickle
import re
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier

from .conftest import FAST, FAST_HAMUR, make_data

BOTH = [(HAMURClassifier, FAST_HAMUR), (MultiDomainClassifier, FAST)]


@pytest.mark.parametrize("cls, params", BOTH)
def test_fit_predict_proba_score(cls, params):
    X, y = make_data(n=2000)
    X_test, y_test = make_data(n=500, seed=1)
    clf = cls(**{**params, "max_epochs": 15}).fit(X, y)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (500, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.7  # the label is learnable
    assert 0.6 < clf.score(X_test, y_test) <= 1.0
    assert clf.n_domains_ == 3 and list(clf.domains_) == ["d0", "d1", "d2"]
    assert clf.n_features_in_ == 4 and list(clf.feature_names_in_) == list(X.columns)
    assert clf.encoder_.categorical_cols_ == ["item", "color"]
    assert len(clf.history_) == 15


@pytest.mark.parametrize("labels", [("no", "yes"), (False, True), (3, 7)])
def test_any_two_labels(labels):
    X, y = make_data(label_values=labels)
    clf = HAMURClassifier(**FAST_HAMUR).fit(X, y)
    assert list(clf.classes_) == sorted(labels)
    assert set(clf.predict(X)) <= set(labels)


def test_same_random_state_gives_identical_probabilities():
    X, y = make_data()
    p1 = HAMURClassifier(**FAST_HAMUR).fit(X, y).predict_proba(X)
    p2 = HAMURClassifier(**FAST_HAMUR).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = HAMURClassifier(**{**FAST_HAMUR, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.allclose(p1, p3)


def test_fit_does_not_change_global_torch_rng():
    import torch

    X, y = make_data()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    HAMURClassifier(**FAST_HAMUR).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("cls, params", BOTH)
def test_pickle_round_trip(cls, params):
    X, y = make_data()
    clf = cls(**{**params, "early_stopping": True}).fit(X, y)  # with every callback in place
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_pickle_of_a_gpu_trained_model_predicts_on_a_machine_without_gpu(monkeypatch):
    import torch
    from skorch.exceptions import DeviceWarning

    X, y = make_data()
    clf = HAMURClassifier(**FAST_HAMUR).fit(X, y)
    expected = clf.predict_proba(X)
    # What a fit on a GPU leaves behind: the net and its batch iterators on CUDA.
    net = clf.net_
    net.device = net.iterator_train__device = net.iterator_valid__device = "cuda"
    data = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="requested device \\(cuda\\) is not available"):
        restored = pickle.loads(data)
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_one_row_predict_equals_in_batch_predict():
    X, y = make_data(n=10_000)
    clf = HAMURClassifier(**{**FAST_HAMUR, "batch_size": 10_000, "early_stopping": False}).fit(X, y)
    batch = clf.predict_proba(X)[:, 1]
    alone = np.array([clf.predict_proba(X.iloc[[i]])[0, 1] for i in range(0, 10_000, 500)])
    np.testing.assert_allclose(alone, batch[::500], atol=1e-5, rtol=0)


def test_unseen_categories_and_domains():
    X, y = make_data()
    clf = HAMURClassifier(**FAST_HAMUR).fit(X, y)
    new = X.head(5).assign(item="never-seen", color=None)
    assert np.isfinite(clf.predict_proba(new)).all()
    with pytest.raises(ValueError, match=r"\['d9'\] not seen in fit"):
        clf.predict_proba(X.head(5).assign(domain="d9"))
    clf = HAMURClassifier(**{**FAST_HAMUR, "handle_unknown_domain": "average"}).fit(X, y)
    mixed = pd.concat([X.head(3), X.head(3).assign(domain="d9")])
    proba = clf.predict_proba(mixed)[:, 1]
    per_domain = np.stack(
        [clf.predict_proba(X.head(3).assign(domain=d))[:, 1] for d in clf.domains_]
    )
    np.testing.assert_allclose(proba[3:], per_domain.mean(0), atol=1e-6)
    np.testing.assert_allclose(proba[:3], clf.predict_proba(X.head(3))[:, 1], atol=1e-6)


def test_sample_weight():
    X, y = make_data()
    plain = HAMURClassifier(**FAST_HAMUR).fit(X, y).predict_proba(X)
    ones = HAMURClassifier(**FAST_HAMUR).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    np.testing.assert_allclose(ones, plain, atol=1e-6)
    # Weighting the positives up raises the predicted positive rate.
    weights = np.where(y == 1, 5.0, 1.0)
    heavy = HAMURClassifier(**FAST_HAMUR).fit(X, y, sample_weight=weights).predict_proba(X)
    assert heavy[:, 1].mean() > plain[:, 1].mean()


def test_early_stopping_restores_best_epoch_and_records_auc():
    X, y = make_data(n=3000)
    clf = HAMURClassifier(
        **{
            **FAST_HAMUR,
            "early_stopping": True,
            "max_epochs": 40,
            "patience": 2,
            "lr": 0.05,
            "min_delta": 0.0,
        }
    ).fit(X, y)
    aucs = clf.history_[:, "valid_auc"]
    assert len(aucs) < 40  # stopped early
    best = int(np.argmax(aucs))
    assert len(aucs) - 1 - best == 2  # stopped `patience` epochs after the best one
    # The restored weights are the best epoch's: re-scoring the validation rows gives its AUC.
    valid = clf.net_.train_split.keywords["valid_ds"]
    scores = clf.net_.forward(valid).numpy()
    assert roc_auc_score(valid.y.numpy(), scores) == pytest.approx(aucs[best], abs=1e-6)
    # The split is stratified by domain x label: every stratum is on both sides.
    strata = valid.X["domain"].numpy() * 2 + valid.y.numpy().astype(int)
    assert len(np.unique(strata)) == 6


def test_verbose_prints_epoch_table():
    X, y = make_data()
    out = io.StringIO()
    with redirect_stdout(out):
        MultiDomainClassifier(**{**FAST, "verbose": 1}).fit(X, y)
    assert "train_loss" in out.getvalue() and "epoch" in out.getvalue()


def test_extra_skorch_callbacks_are_used():
    from skorch.callbacks import Callback

    class CountEpochs(Callback):
        def initialize(self):
            self.n = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.n += 1

    counter = CountEpochs()
    X, y = make_data()
    clf = MultiDomainClassifier(**{**FAST, "callbacks": [("count", counter)]}).fit(X, y)
    assert dict(clf.net_.callbacks_)["count"].n == FAST["max_epochs"]


def test_one_row_last_training_batch():
    X, y = make_data(n=129)  # batch_size 128 -> the last training batch has one row
    clf = HAMURClassifier(**{**FAST_HAMUR, "early_stopping": False}).fit(X, y)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()


def test_device_auto_resolves():
    X, y = make_data()
    clf = MultiDomainClassifier(**FAST).fit(X, y)
    import torch

    assert clf.net_.device == ("cuda" if torch.cuda.is_available() else "cpu")


def test_second_fit_forgets_the_first():
    X, y = make_data()
    clf = HAMURClassifier(**FAST_HAMUR).fit(X, y)
    X2 = X.assign(domain=X["domain"].map({"d0": "e0", "d1": "e1", "d2": "e1"}))
    clf.fit(X2, y)
    assert list(clf.domains_) == ["e0", "e1"] and clf.net_.module_.adapters[0].n_groups == 2


@pytest.mark.parametrize("metric", ["auc_min", "auc_mean", "loss"])
def test_early_stopping_metric_per_domain(metric):
    X, y = make_data(n=3000)
    clf = MultiDomainClassifier(
        **{**FAST, "early_stopping": True, "early_stopping_metric": metric, "max_epochs": 4},
        logistic_blend=None,  # the network's own scores are what early stopping saw
    ).fit(X, y)
    per_domain = clf.history_[-1, "valid_auc_per_domain"]
    assert sorted(per_domain) == [0, 1, 2]
    valid = clf.net_.train_split.keywords["valid_ds"]
    # The restored weights are the best epoch's: their per-domain validation AUCs equal
    # what the history recorded for that epoch.
    assert clf.history_[-1, "valid_auc_min"] == pytest.approx(min(per_domain.values()))
    assert clf.history_[-1, "valid_auc_mean"] == pytest.approx(np.mean(list(per_domain.values())))
    scores = clf.net_.forward(valid).numpy()
    domains, labels = valid.X["domain"].numpy(), valid.y.numpy()
    best = clf.history_[:, f"valid_{metric}"]
    best_epoch = int(np.argmin(best) if metric == "loss" else np.argmax(best))
    manual = {d: roc_auc_score(labels[domains == d], scores[domains == d]) for d in range(3)}
    recorded = clf.history_[best_epoch, "valid_auc_per_domain"]
    for d in range(3):
        assert manual[d] == pytest.approx(recorded[d], abs=1e-6)


def test_early_stopping_without_validation_rows_is_a_clear_error():
    X, y = make_data(n=20)
    with pytest.raises(ValueError, match="leaves no validation row"):
        MultiDomainClassifier(**{**FAST, "early_stopping": True, "validation_fraction": 0.01}).fit(
            X, y
        )


def test_prediction_in_chunks_equals_one_pass(monkeypatch):
    import sklearn_hamur._base as base

    X, y = make_data()
    clf = HAMURClassifier(**FAST_HAMUR).fit(X, y)
    whole = clf.predict_proba(X)
    monkeypatch.setattr(base, "PREDICT_CHUNK_ROWS", 7)
    np.testing.assert_allclose(clf.predict_proba(X), whole, atol=1e-6)


def run_in_subprocess(random_state, path):
    import subprocess
    import sys

    code = (
        "import numpy as np, sys\n"
        "from tests.conftest import make_data, FAST_HAMUR\n"
        "from sklearn_hamur import HAMURClassifier\n"
        "X, y = make_data()\n"
        f"params = dict(FAST_HAMUR, random_state={random_state})\n"
        f"np.save({str(path)!r}, HAMURClassifier(**params).fit(X, y).predict_proba(X))\n"
    )
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
    return np.load(path)


def test_determinism_across_processes(tmp_path):
    first = run_in_subprocess(0, tmp_path / "a.npy")
    second = run_in_subprocess(0, tmp_path / "b.npy")
    other = run_in_subprocess(1, tmp_path / "c.npy")
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_explicit_validation_set():
    X, y = make_data(n=2000)
    X_val, y_val = make_data(n=300, seed=5)
    clf = HAMURClassifier(**{**FAST_HAMUR, "early_stopping": True, "max_epochs": 3})
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    valid = clf.net_.train_split.keywords["valid_ds"]
    assert len(valid) == 300  # the given rows, not a split of X
    best = int(np.argmax(clf.history_[:, "valid_auc"]))
    auc = roc_auc_score(y_val, clf.predict_proba(X_val)[:, 1])
    assert auc == pytest.approx(clf.history_[best, "valid_auc"], abs=1e-6)
    with pytest.raises(ValueError, match="must be given together"):
        clf.fit(X, y, X_val=X_val)
    with pytest.raises(ValueError, match=r"y_val holds label\(s\) \[7\]"):
        clf.fit(X, y, X_val=X_val.head(2), y_val=[0, 7])
    # early_stopping=False: the given rows are scored every epoch, and training runs on.
    clf.set_params(early_stopping=False, max_epochs=2).fit(X, y, X_val=X_val, y_val=y_val)
    assert len(clf.history_) == 2
    assert all(np.isfinite(clf.history_[:, "valid_auc"]))


def test_early_stopping_warns_when_it_restores_the_first_epoch():
    # Labels independent of the features: the validation AUC peaks by chance, often at
    # epoch 1, and stays near 0.5. Whatever the seed, fit warns exactly when it restores
    # the first of several epochs or a near-chance AUC, naming the epoch and its scores.
    import warnings

    X, _ = make_data(n=800)
    y = np.random.default_rng(1).integers(0, 2, len(X))
    restored_first = 0
    for seed in range(6):
        clf = MultiDomainClassifier(
            hidden_units=(8,), max_epochs=8, patience=2, early_stopping=True, lr=0.05
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.set_params(random_state=seed).fit(X, y)
        messages = [str(w.message) for w in caught if "Early stopping restored" in str(w.message)]
        stopper = dict(clf.net_.callbacks_)["early_stopping"]
        best = clf.history_[stopper.best_epoch_ - 1]
        first = stopper.best_epoch_ == 1 and len(clf.history_) > 1
        near_chance = abs(best["valid_auc"] - 0.5) < 0.02
        assert bool(messages) == (first or near_chance)
        if first:
            restored_first += 1
            assert re.search(r"first epoch's weights: epoch 1 of \d+ \(valid_auc", messages[0])
    assert restored_first > 0


def test_early_stopping_is_quiet_when_the_model_learns():
    import warnings

    X, y = make_data(n=2000)
    clf = MultiDomainClassifier(hidden_units=(16,), max_epochs=6, early_stopping=True, lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf.set_params(random_state=0).fit(X, y)
    assert clf.history_[-1, "valid_auc"] > 0.6
