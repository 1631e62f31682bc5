"""Reliability: a failed fit changes nothing, robust numeric statistics, global torch state.

Issue 14, sections 1 (transactional fit), 4 (numbers and weights) and 5 (threads and
global state).
"""

import errno
import threading
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, MultiDomainEncoder

from .conftest import FAST, FAST_HAMUR, make_data

TINY = dict(FAST, max_epochs=2)


@pytest.fixture
def small():
    return make_data(n=240)


@pytest.fixture
def fitted(small):
    X, y = small
    return MultiDomainClassifier(**TINY).fit(X, y)


def snapshot(clf):
    """What ``fit`` must leave alone when it fails: every attribute, by identity."""
    return {name: id(value) for name, value in vars(clf).items()}


class CountEpochs(Callback):
    def __init__(self):
        self.begun = 0

    def on_epoch_begin(self, net, **kwargs):
        self.begun += 1


class InterruptInEpoch(Callback):
    """Raise ``KeyboardInterrupt`` (a Ctrl-C) in the first batch of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            raise KeyboardInterrupt


# -- 1. a failed fit leaves no half-fitted model behind --------------------------------


def test_failed_refit_keeps_the_previous_model(fitted, small):
    X, y = small
    proba, history = fitted.predict_proba(X), list(fitted.history_)
    fitted.set_params(lr=1e30)
    before = snapshot(fitted)
    with pytest.raises(FloatingPointError, match="training loss"):
        fitted.fit(X, y)
    assert snapshot(fitted) == before
    assert list(fitted.history_) == history
    np.testing.assert_array_equal(fitted.predict_proba(X), proba)


class FailInEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("boom")


def test_failed_warm_start_keeps_the_previous_model(fitted, small):
    X, y = small
    proba, history = fitted.predict_proba(X), list(fitted.history_)
    weights = {k: v.clone() for k, v in fitted.net_.module_.state_dict().items()}
    fitted.set_params(warm_start=True, max_epochs=5, callbacks=[("fail", FailInEpoch(4))])
    before = snapshot(fitted)
    with pytest.raises(RuntimeError, match="boom"):
        fitted.fit(X, y)
    assert snapshot(fitted) == before
    assert list(fitted.history_) == history
    for name, value in fitted.net_.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name
    np.testing.assert_array_equal(fitted.predict_proba(X), proba)


def test_failed_first_fit_leaves_the_estimator_unfitted(small):
    X, y = small
    clf = MultiDomainClassifier(**dict(TINY, lr=1e30))
    before = snapshot(clf)
    with pytest.raises(FloatingPointError):
        clf.fit(X, y)
    assert snapshot(clf) == before
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


class ScoreWithTheEstimator(Callback):
    """Score held-out rows through the estimator itself at each epoch's end."""

    def __init__(self, holder, X):
        self.holder, self.X, self.scores = holder, X, []

    def on_epoch_end(self, net, **kwargs):
        self.scores.append(self.holder["estimator"].predict_proba(self.X)[:, 1])


def test_a_callback_can_score_with_the_estimator_during_fit(small):
    # Custom validation callbacks (the benchmarks' among them) predict through the
    # estimator mid-fit; transactional fit must not hide the model being trained.
    X, y = small
    holder = {}
    scorer = ScoreWithTheEstimator(holder, X.iloc[:20])
    clf = MultiDomainClassifier(**TINY, callbacks=[("score", scorer)])
    holder["estimator"] = clf
    clf.fit(X, y)
    assert len(scorer.scores) == 2
    assert all(np.isfinite(s).all() for s in scorer.scores)


def test_unwritable_checkpoint_dir_fails_before_the_first_epoch(fitted, small, tmp_path):
    X, y = small
    (tmp_path / "a_file").write_text("not a folder")
    folder = tmp_path / "a_file" / "checkpoints"
    count = CountEpochs()
    before, proba = snapshot(fitted), fitted.predict_proba(X)
    fitted.set_params(checkpoint_dir=folder, callbacks=[("count", count)])
    before.update(checkpoint_dir=id(fitted.checkpoint_dir), callbacks=id(fitted.callbacks))
    with pytest.raises(OSError, match=r"checkpoint_dir=.*a_file.*not a writable folder"):
        fitted.fit(X, y)
    assert count.begun == 0
    assert snapshot(fitted) == before
    np.testing.assert_array_equal(fitted.predict_proba(X), proba)


def test_disk_full_during_training_keeps_the_previous_model(fitted, small, tmp_path, monkeypatch):
    X, y = small
    saves = []
    real_save = torch.save

    def save_until_disk_full(obj, f, *args, **kwargs):
        saves.append(f)
        if len(saves) == 2:  # the checkpoint of epoch 2
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_disk_full)
    proba = fitted.predict_proba(X)
    fitted.set_params(checkpoint_dir=tmp_path / "ckpt", max_epochs=3)
    before = snapshot(fitted)
    with pytest.raises(OSError, match="No space left"):
        fitted.fit(X, y)
    assert snapshot(fitted) == before
    np.testing.assert_array_equal(fitted.predict_proba(X), proba)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint.pt"]


@pytest.mark.filterwarnings("ignore:Early stopping restored")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_keyboard_interrupt_warns_and_keeps_a_usable_model(small, early_stopping):
    X, y = small
    clf = MultiDomainClassifier(
        **dict(TINY, max_epochs=5),
        early_stopping=early_stopping,
        callbacks=[("interrupt", InterruptInEpoch(2))],
    )
    with pytest.warns(UserWarning, match=r"interrupted \(KeyboardInterrupt\) in epoch 2 of 5"):
        clf.fit(X, y)
    check_is_fitted(clf)
    assert len(clf.history_) == 2
    assert clf.history_[-1]["interrupted"] is True
    assert "interrupted" not in clf.history_[0]
    assert np.isfinite(clf.predict_proba(X)).all()


def test_uninterrupted_fit_does_not_warn(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf = MultiDomainClassifier(**TINY).fit(X, y)
    assert all("interrupted" not in row for row in clf.history_)


# -- 4. numbers and weights -------------------------------------------------------------


@pytest.mark.parametrize("huge", [1e308, 1e200, -1e250])
def test_constant_huge_column_is_encoded_as_zero_with_a_warning(small, huge):
    X, y = small
    X_huge, X_zero = X.assign(extra=huge), X.assign(extra=0.0)
    with pytest.warns(UserWarning, match=r"\['extra'\] are constant"):
        clf = MultiDomainClassifier(**TINY).fit(X_huge, y)
    with pytest.warns(UserWarning, match="constant"):
        reference = MultiDomainClassifier(**TINY).fit(X_zero, y)
    encoder = clf.encoder_
    column = encoder.numeric_cols_.index("extra")
    assert encoder.means_[column] == huge and encoder.scales_[column] == 1.0
    assert (encoder.transform(X_huge)["x_num"][:, column] == 0).all()
    # The column carries nothing, so it changes nothing: the same model as a zero column.
    np.testing.assert_allclose(clf.predict_proba(X_huge), reference.predict_proba(X_zero))


def test_column_spanning_the_float64_range_is_standardised():
    values = np.tile([1e308, -1e308, 5e307, np.nan], 3)
    X = make_data(n=len(values))[0].assign(wide=values)
    encoder = MultiDomainEncoder(numeric_cols=["wide", "price"]).fit(X)
    assert np.isfinite(encoder.means_).all() and np.isfinite(encoder.scales_).all()
    observed = values[~np.isnan(values)]
    np.testing.assert_allclose(encoder.means_[0], 5e307 / 3)
    np.testing.assert_allclose(encoder.scales_[0], np.std(observed / 1e300) * 1e300)
    encoded = encoder.transform(X)["x_num"][:, 0]
    assert np.isfinite(encoded).all() and np.abs(encoded).max() < 2


def test_ordinary_statistics_are_the_plain_float64_ones():
    rng = np.random.default_rng(0)
    X = make_data(n=300)[0]
    X["price"] = rng.normal(loc=1e6, scale=3.7, size=len(X))
    X.loc[::7, "price"] = np.nan
    X["tiny"] = rng.normal(scale=1e-200, size=len(X))
    encoder = MultiDomainEncoder().fit(X)
    # Bit for bit what the plain float64 formulas give on the same array.
    values = np.ascontiguousarray(X[encoder.numeric_cols_].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(encoder.means_, np.nanmean(values, axis=0))
    assert encoder.scales_[0] == np.nanstd(values, axis=0)[0]
    # The plain variance of 1e-200 values underflows to 0; here it does not.
    assert np.std(X["tiny"].to_numpy()) == 0
    np.testing.assert_allclose(encoder.scales_[1], np.std(X["tiny"] * 1e200) * 1e-200)
    assert 0.5 < np.abs(encoder.transform(X)["x_num"][:, 1]).mean() < 1.5


def test_all_missing_column_warns():
    X = make_data(n=60)[0].assign(empty=np.nan)
    with pytest.warns(UserWarning, match=r"\['empty'\] are constant or entirely missing"):
        encoder = MultiDomainEncoder().fit(X)
    j = encoder.numeric_cols_.index("empty")
    assert encoder.means_[j] == 0.0 and encoder.scales_[j] == 1.0


@pytest.mark.parametrize(
    "cls, params", [(MultiDomainClassifier, TINY), (HAMURClassifier, FAST_HAMUR)]
)
def test_negative_sample_weight_is_rejected(small, cls, params):
    X, y = small
    weights = np.ones(len(X))
    weights[3] = -0.5
    clf = cls(**params)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        clf.fit(X, y, sample_weight=weights)
    assert weights[3] == -0.5 and (np.delete(weights, 3) == 1).all()
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


# -- 5. threads and global state ---------------------------------------------------------


def test_fit_and_load_leave_the_global_torch_rng_alone(small, tmp_path):
    X, y = small
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    clf = MultiDomainClassifier(**dict(TINY, dropout=0.3)).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    clf.save(tmp_path / "model.safetensors")
    MultiDomainClassifier.load(tmp_path / "model.safetensors", device="cpu")
    assert torch.equal(torch.random.get_rng_state(), state)


def test_concurrent_fits_equal_the_serial_fit(small):
    X, y = small
    params = dict(FAST_HAMUR, max_epochs=2, dropout=0.3)
    serial = HAMURClassifier(**params).fit(X, y).predict_proba(X)
    state = torch.random.get_rng_state()
    results, errors = [None] * 3, []

    def fit(i):
        try:
            results[i] = HAMURClassifier(**params).fit(X, y).predict_proba(X)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for proba in results:
        np.testing.assert_array_equal(proba, serial)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.fixture
def default_dtype(request):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(request.param)
    yield request.param
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("default_dtype", [torch.float64, torch.float16], indirect=True)
@pytest.mark.parametrize("backbone", ["shared_mlp", "deepfm", "star"])
def test_modules_are_float32_whatever_the_default_dtype(small, tmp_path, default_dtype, backbone):
    X, y = small
    clf = HAMURClassifier(**dict(FAST_HAMUR, max_epochs=1, backbone=backbone)).fit(X, y)
    assert torch.get_default_dtype() == default_dtype  # restored after fit
    assert {p.dtype for p in clf.net_.module_.parameters()} == {torch.float32}
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    clf.save(tmp_path / "model.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "model.safetensors", device="cpu")
    assert torch.get_default_dtype() == default_dtype
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    torch.set_default_dtype(torch.float32)
    reference = HAMURClassifier(**dict(FAST_HAMUR, max_epochs=1, backbone=backbone)).fit(X, y)
    np.testing.assert_array_equal(reference.predict_proba(X), proba)


def test_early_stopping_is_not_reported_as_an_interruption():
    # skorch's early stopping stops training by raising KeyboardInterrupt at epoch end.
    X, _ = make_data(n=400)
    y = np.random.default_rng(1).integers(0, 2, len(X))  # nothing to learn: it stops
    clf = MultiDomainClassifier(
        **dict(TINY, max_epochs=20, lr=0.05), early_stopping=True, patience=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "restored the first epoch's weights"
        warnings.filterwarnings("error", message="Training was interrupted")
        clf.fit(X, y)
    assert len(clf.history_) < 20
    assert all("interrupted" not in row for row in clf.history_)
