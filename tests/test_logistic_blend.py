"""``logistic_blend``: the trained network's logit blended with logistic regression's.

What a user relies on: the network trains exactly as without the blend; the prediction
is ``(1 - w) * network + w * regression`` with scikit-learn's regression on the
training rows and ``w`` the grid weight that scores best on the validation rows; no
validation rows, ``logistic_offset`` or ``partial_fit`` mean no blend; the blend survives
save/load and export; a bad value is named.
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._data import MultiDomainDataset
from sklearn_hamur._logistic_blend import BLEND_WEIGHTS, choose_blend_weight
from sklearn_hamur._logistic_offset import one_hot_design
from sklearn_hamur.modules import LinearOffset
from sklearn_hamur.serving import load_exported

from .conftest import make_data
from .test_export import ADAPTER
from .test_export import TINY as EXPORT_TINY

TINY = {k: v for k, v in EXPORT_TINY.items() if k != "max_epochs"}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models: one torch thread (the conftest fixture), for every test here."""


def _data():
    """Training rows and separate validation rows (so every X row trains)."""
    X, y = make_data(800)
    X_val, y_val = make_data(400, seed=3)
    return X, y, X_val, y_val


def _network_logits(clf, X) -> np.ndarray:
    """The network's own logits: the blend's linear part cleared, on a copy."""
    import copy

    network = copy.deepcopy(clf)
    network.net_.module_.linear_offset.clear()
    return network.decision_function(X)


def _regression_logits(clf, X_train, y_train, X, C=1.0) -> np.ndarray:
    """scikit-learn's one-hot logistic regression on the encoded training rows."""
    sizes = (clf.encoder_.cardinalities_, clf.n_domains_)
    train = MultiDomainDataset(clf.encoder_.transform(X_train))
    rows = MultiDomainDataset(clf.encoder_.transform(X))
    labels = np.unique(y_train, return_inverse=True)[1]
    model = LogisticRegression(C=C, max_iter=1000).fit(one_hot_design(train, *sizes), labels)
    return model.decision_function(one_hot_design(rows, *sizes))


def test_the_network_trains_exactly_as_without_the_blend():
    X, y, X_val, y_val = _data()
    kw = dict(TINY, **ADAPTER, max_epochs=3)
    alone = HAMURClassifier(**kw, logistic_blend=None).fit(X, y, X_val=X_val, y_val=y_val)
    blended = HAMURClassifier(**kw).fit(X, y, X_val=X_val, y_val=y_val)
    assert alone.net_.module_.linear_offset is None
    assert alone.logistic_blend_weight_ == 0.0
    np.testing.assert_array_equal(_network_logits(blended, X_val), alone.decision_function(X_val))
    np.testing.assert_array_equal(blended.history_[:, "valid_auc"], alone.history_[:, "valid_auc"])


def test_the_prediction_is_the_blend_with_the_weight_best_on_validation():
    X, y, X_val, y_val = _data()
    clf = MultiDomainClassifier(**TINY, max_epochs=2, logistic_blend=0.5)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    network = _network_logits(clf, X_val)
    regression = _regression_logits(clf, X, y, X_val, C=0.5)
    w = clf.logistic_blend_weight_
    assert w in BLEND_WEIGHTS
    np.testing.assert_allclose(
        clf.decision_function(X_val), (1 - w) * network + w * regression, rtol=1e-4, atol=1e-4
    )
    # The weight is the grid's best by validation AUC, ties to the smaller weight ...
    domain = clf.encoder_.transform(X_val)["domain"]
    expected, best, alone = choose_blend_weight(
        (y_val == 1).astype(int), network, regression, domain, monitor="valid_auc"
    )
    assert w == expected
    # ... so the blend scores at least the network alone on those rows.
    assert roc_auc_score(y_val, clf.decision_function(X_val)) >= alone - 1e-9
    assert best >= alone


@pytest.mark.parametrize("metric", ["auc", "loss"])
def test_the_internal_validation_split_chooses_the_weight(metric):
    X, y = make_data(12_000)  # early_stopping="auto" holds out 10% of these rows
    weight = np.where(np.arange(len(y)) % 3 == 0, 2.0, 0.5)  # the split keeps them
    clf = MultiDomainClassifier(**TINY, max_epochs=1, early_stopping_metric=metric)
    clf.fit(X, y, sample_weight=weight)
    valid = clf.net_.train_split.keywords["valid_ds"]
    inputs = [valid.X[k] for k in ("x_cat", "x_num", "domain")]
    w = clf.logistic_blend_weight_
    blended = clf.net_.predict_logits(valid).double().numpy()
    linear = clf.net_.module_.linear_offset
    regression = linear(*inputs).double().numpy()  # w times the regression's logit
    network = (blended - regression) / float(linear.network_weight)
    if w > 0:
        regression = regression / w
    expected, _, _ = choose_blend_weight(
        valid.y.numpy().astype(int),
        network,
        regression,
        inputs[2].numpy(),
        monitor=f"valid_{metric}",
        sample_weight=valid.X["sample_weight"].numpy(),
    )
    assert w == expected
    assert float(linear.network_weight) == pytest.approx(1 - w)


@pytest.mark.parametrize(
    "params",
    [
        {"early_stopping": False},  # no validation rows
        {"early_stopping": "auto"},  # 800 rows: below the auto threshold, none either
        {"logistic_offset": 1.0, "early_stopping": True},  # the regression is inside already
    ],
)
def test_no_blend_without_validation_rows_or_with_an_offset(params):
    X, y = make_data(800)
    clf = MultiDomainClassifier(**TINY, max_epochs=1, **params).fit(X, y)
    assert clf.logistic_blend_weight_ == 0.0
    linear = clf.net_.module_.linear_offset
    assert float(linear.network_weight) == 1.0
    if "logistic_offset" not in params:
        np.testing.assert_array_equal(
            clf.decision_function(X),
            MultiDomainClassifier(**TINY, max_epochs=1, logistic_blend=None, **params)
            .fit(X, y)
            .decision_function(X),
        )


def test_partial_fit_after_a_blended_fit_trains_and_predicts_the_network_alone():
    X, y, X_val, y_val = _data()
    clf = MultiDomainClassifier(**TINY, max_epochs=1)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    if clf.logistic_blend_weight_ == 0.0:  # force a blend, to see it cleared
        coef = torch.ones(clf.net_.module_.linear_offset.n_coefficients)
        clf.net_.module_.linear_offset.set_coefficients(coef, intercept=0.0, network_weight=0.5)
        clf.logistic_blend_weight_ = 0.5
    clf.partial_fit(X, y)
    assert clf.logistic_blend_weight_ == 0.0
    linear = clf.net_.module_.linear_offset
    assert float(linear.network_weight) == 1.0
    assert float(linear.id_weight.abs().sum()) == 0.0


def test_warm_start_trains_the_network_alone_and_chooses_a_new_weight():
    X, y, X_val, y_val = _data()
    clf = MultiDomainClassifier(**TINY, max_epochs=1, warm_start=True)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    linear = clf.net_.module_.linear_offset
    linear.set_coefficients(torch.full((linear.n_coefficients,), 50.0), intercept=0.0)
    clf.fit(X, y, X_val=X_val, y_val=y_val)  # a huge stale blend would wreck training
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert clf.history_[-1, "train_loss"] < 1.0
    assert float(clf.net_.module_.linear_offset.id_weight.abs().max()) < 50.0


def test_the_blend_survives_save_load_and_export(tmp_path):
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(**TINY, **ADAPTER, max_epochs=1)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    linear = clf.net_.module_.linear_offset
    if clf.logistic_blend_weight_ == 0.0:  # make sure a non-trivial blend is saved
        coef = torch.linspace(-1, 1, linear.n_coefficients)
        linear.set_coefficients(coef, intercept=0.1, network_weight=0.6)
    clf.save(tmp_path / "model.hamur")
    loaded = HAMURClassifier.load(tmp_path / "model.hamur")
    np.testing.assert_array_equal(loaded.predict_proba(X_val), clf.predict_proba(X_val))
    assert loaded.logistic_blend_weight_ == clf.logistic_blend_weight_
    model = load_exported(clf.export(tmp_path / "export"), n_threads=1)
    np.testing.assert_allclose(model.predict_proba(X_val), clf.predict_proba(X_val), atol=1e-5)


def test_choose_blend_weight_takes_the_better_model_and_ties_to_the_network():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    domain = rng.integers(0, 2, 2000)
    truth = np.where(y == 1, 1.0, -1.0) + rng.normal(size=2000)
    noise = rng.normal(size=2000)
    for monitor in ("valid_auc", "valid_auc_mean", "valid_auc_min", "valid_loss"):
        assert choose_blend_weight(y, noise, truth, domain, monitor=monitor)[0] > 0.5
        assert choose_blend_weight(y, truth, noise, domain, monitor=monitor)[0] < 0.5
    # Equal logits score equally at every weight: the network alone is kept.
    assert choose_blend_weight(y, truth, truth, domain, monitor="valid_auc")[0] == 0.0


def test_files_without_the_network_weight_load_as_an_offset():
    offset = LinearOffset(cardinalities=[3], n_numeric=0, n_domains=2)
    state = {k: v for k, v in offset.state_dict().items() if k != "network_weight"}
    offset.network_weight.fill_(0.3)
    offset.load_state_dict(state)
    assert float(offset.network_weight) == 1.0


@pytest.mark.parametrize("value", [0, -1.0, "yes"])
def test_bad_logistic_blend_is_named(value):
    X, y = make_data(100)
    with pytest.raises(InvalidParameterError, match="logistic_blend"):
        HAMURClassifier(**TINY, **ADAPTER, logistic_blend=value).fit(X, y)


def test_a_backbone_without_linear_offset_trains_unblended_and_refuses_the_offset(monkeypatch):
    from sklearn_hamur.modules.backbones import BACKBONES

    from .test_backbone_contract import LinearTower

    monkeypatch.setitem(BACKBONES, "linear_tower", LinearTower)
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(backbone="linear_tower", hidden_units=(8,), max_epochs=1)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.net_.module_.linear_offset is None
    assert clf.logistic_blend_weight_ == 0.0
    with pytest.raises(ValueError, match="backbone='linear_tower' does not"):
        clf.set_params(logistic_offset=1.0).fit(X, y)


def test_the_regression_of_a_large_fit_sees_a_seeded_sample_of_a_million_rows(monkeypatch):
    from sklearn_hamur._logistic_blend import BLEND_MAX_ROWS, blend_rows

    assert blend_rows(BLEND_MAX_ROWS, seed=0) is None  # all rows, up to the cap
    rows = blend_rows(3_000_000, seed=7)
    assert len(rows) == BLEND_MAX_ROWS and len(np.unique(rows)) == BLEND_MAX_ROWS
    assert np.all(np.diff(rows) > 0) and rows[-1] < 3_000_000
    np.testing.assert_array_equal(rows, blend_rows(3_000_000, seed=7))  # same on every rank
    # A smaller cap, through a real fit: the regression then sees only the sample.
    X, y, X_val, y_val = _data()
    full = MultiDomainClassifier(**TINY, max_epochs=1).fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.setattr("sklearn_hamur._logistic_blend.BLEND_MAX_ROWS", 100)
    sampled = MultiDomainClassifier(**TINY, max_epochs=1).fit(X, y, X_val=X_val, y_val=y_val)
    assert full.logistic_blend_weight_ > 0 and sampled.logistic_blend_weight_ > 0
    np.testing.assert_array_equal(_network_logits(sampled, X_val), _network_logits(full, X_val))
    assert not np.allclose(sampled.decision_function(X_val), full.decision_function(X_val))
