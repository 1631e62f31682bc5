"""Mixed precision, torch.compile fallback and the GPU-oriented data path (run on CPU)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._data import BatchIterator, MultiDomainDataset
from sklearn_hamur.modules import AdapterSpec, MultiDomainMLP

from .conftest import FAST_HAMUR, make_data


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_trains_and_predicts(precision):
    X, y = make_data(n=2000)
    X_test, y_test = make_data(n=500, seed=1)
    params = {**FAST_HAMUR, "max_epochs": 10}
    full = HAMURClassifier(**params).fit(X, y)
    mixed = HAMURClassifier(**params, precision=precision).fit(X, y)
    if precision == "16-mixed":
        assert mixed.net_.grad_scaler_.is_enabled()
    proba = mixed.predict_proba(X_test)
    assert proba.dtype == np.float64 and np.isfinite(proba).all()
    auc_full = roc_auc_score(y_test, full.predict_proba(X_test)[:, 1])
    auc_mixed = roc_auc_score(y_test, proba[:, 1])
    assert abs(auc_full - auc_mixed) < 0.03


def test_compile_is_refused_on_cpu_with_a_warning():
    X, y = make_data()
    params = {"hidden_units": (8,), "max_epochs": 1, "device": "cpu", "random_state": 0}
    with pytest.warns(UserWarning, match="compile=True ignored: on CPU, compiling costs"):
        clf = MultiDomainClassifier(**params, compile=True).fit(X, y)
    assert clf.net_.compile is False
    eager = MultiDomainClassifier(**params).fit(X, y)  # the same (eager) training
    np.testing.assert_array_equal(clf.predict_proba(X), eager.predict_proba(X))


def test_compile_falls_back_where_dynamo_is_unsupported(monkeypatch):
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    X, y = make_data()
    with pytest.warns(UserWarning, match="compile=True ignored: .*not supported"):
        clf = MultiDomainClassifier(hidden_units=(8,), max_epochs=1, compile=True).fit(X, y)
    assert clf.net_.compile is False


def test_batch_losses_are_recorded_once_per_epoch():
    X, y = make_data()
    clf = MultiDomainClassifier(hidden_units=(8,), max_epochs=2, batch_size=100, random_state=0)
    clf.fit(X, y)
    batches = clf.history_[-1, "batches"]
    losses = [b["train_loss"] for b in batches]
    assert len(losses) == 6 and all(isinstance(v, float) for v in losses)
    sizes = [b["train_batch_size"] for b in batches]
    expected = np.average(losses, weights=sizes)
    assert clf.history_[-1, "train_loss"] == pytest.approx(expected, rel=1e-6)


def test_presorted_training_batches_match_the_unsorted_path():
    torch.manual_seed(0)
    model = MultiDomainMLP(
        cardinalities=[9],
        n_numeric=1,
        n_domains=3,
        d_embedding=4,
        d_hidden=(8,),
        adapters=AdapterSpec(n_adapters=1, rank=2, d_bottleneck=3, d_hyper_hidden=(4,)),
        dropout=0.0,
    ).eval()
    rng = np.random.default_rng(0)
    data = {
        "x_cat": rng.integers(0, 9, (50, 1)).astype(np.int32),
        "x_num": rng.normal(size=(50, 1)).astype(np.float32),
        "domain": rng.integers(0, 3, 50),
    }
    dataset = MultiDomainDataset(data, rng.integers(0, 2, 50))
    sorted_batches = BatchIterator(
        dataset, batch_size=16, shuffle=True, seed=1, presort_domains=True
    )
    plain_batches = BatchIterator(dataset, batch_size=16, shuffle=True, seed=1)
    with torch.no_grad():
        for (Xs, ys), (Xp, yp) in zip(sorted_batches, plain_batches):
            counts = Xs.pop("domain_counts")
            assert torch.all(Xs["domain"][1:] >= Xs["domain"][:-1])  # sorted by domain
            assert counts.tolist() == torch.bincount(Xs["domain"], minlength=3).tolist()
            out_sorted = model(**Xs, domain_counts=counts.tolist())
            out_plain = model(**Xp)
            # Same rows, other order: compare as (label, logit) multisets.
            a = sorted(zip(ys.tolist(), out_sorted.tolist()))
            b = sorted(zip(yp.tolist(), out_plain.tolist()))
            np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-5)


def test_bad_precision_is_a_clear_error():
    X, y = make_data()
    with pytest.raises(ValueError, match="'precision' parameter"):
        MultiDomainClassifier(precision="fp8").fit(X, y)


def test_presorted_training_path_through_the_estimator(monkeypatch):
    """The GPU data path (batches sorted by domain on the host), exercised on CPU."""
    import sklearn_hamur._net as net

    monkeypatch.setattr(net, "presort_domains", lambda device: True)
    X, y = make_data()
    clf = HAMURClassifier(**{**FAST_HAMUR, "early_stopping": True}).fit(X, y)
    batches = clf.history_[-1, "batches"]
    train_rows = sum(b["train_batch_size"] for b in batches if "train_batch_size" in b)
    assert train_rows + len(clf.net_.train_split.keywords["valid_ds"]) == len(X)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert np.isfinite(clf.predict_proba(X)).all()
