"""Early stopping's rule: ``min_delta``, the validation-loss tie-break, the restored epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skorch.history import History

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._callbacks import RestoringEarlyStopping

from .conftest import make_data


class _Net:
    """What early stopping reads from a net: its history and its module's weights."""

    def __init__(self) -> None:
        self.history = History()
        self.module_ = torch.nn.Linear(1, 1, bias=False)
        self.verbose = 0


def _run(stopper: RestoringEarlyStopping, scores: list[tuple[float, float]]) -> _Net:
    """Feed ``(valid_auc, valid_loss)`` epochs; the weight is set to the epoch number."""
    net = _Net()
    stopper.on_train_begin(net)
    for epoch, (auc, loss) in enumerate(scores, start=1):
        net.history.new_epoch()
        net.history.record("epoch", epoch)
        net.history.record("valid_auc", auc)
        net.history.record("valid_loss", loss)
        with torch.no_grad():
            net.module_.weight.fill_(epoch)
        try:
            stopper.on_epoch_end(net)
        except KeyboardInterrupt:
            break
    stopper.on_train_end(net)
    return net


def _stopper(**kwargs) -> RestoringEarlyStopping:
    return RestoringEarlyStopping(
        monitor="valid_auc", lower_is_better=False, patience=2, load_best=True, **kwargs
    )


def test_an_auc_tie_with_a_lower_loss_counts_as_an_improvement():
    # Epoch 2's AUC is 0.0003 below epoch 1's, its loss lower: with min_delta=1e-3 it is
    # the better epoch, and patience restarts there.
    scores = [(0.800, 0.50), (0.7997, 0.48), (0.790, 0.49), (0.785, 0.49), (0.780, 0.50)]
    stopper = _stopper(min_delta=1e-3)
    net = _run(stopper, scores)
    assert stopper.best_epoch_ == 2
    assert len(net.history) == 4  # stopped 2 epochs after epoch 2
    assert net.module_.weight.item() == 2.0  # epoch 2's weights restored


def test_an_auc_tie_with_a_higher_loss_is_a_miss():
    scores = [(0.800, 0.50), (0.7997, 0.52), (0.7995, 0.53), (0.70, 0.6)]
    stopper = _stopper(min_delta=1e-3)
    with pytest.warns(UserWarning, match="restored the first epoch's weights"):
        net = _run(stopper, scores)
    assert stopper.best_epoch_ == 1
    assert len(net.history) == 3
    assert net.module_.weight.item() == 1.0


def test_improvement_must_exceed_min_delta():
    # +0.0005 is not an improvement with min_delta=1e-3 (and the loss is higher).
    scores = [(0.800, 0.50), (0.8005, 0.51), (0.8008, 0.52), (0.9, 0.4)]
    stopper = _stopper(min_delta=1e-3)
    with pytest.warns(UserWarning, match="restored the first epoch's weights"):
        _run(stopper, scores)
    assert stopper.best_epoch_ == 1
    # With a small min_delta the same epochs improve.
    stopper = _stopper(min_delta=1e-4)
    _run(stopper, scores)
    assert stopper.best_epoch_ == 4


def test_tie_breaks_are_measured_against_the_best_auc_so_they_cannot_drift_down():
    # Each epoch is within min_delta of the previous one, with a lower loss, but epoch 4
    # is 0.0011 below the best AUC (epoch 1): no longer a tie.
    scores = [(0.8000, 0.50), (0.7994, 0.49), (0.7991, 0.48), (0.7989, 0.47), (0.7988, 0.46)]
    stopper = _stopper(min_delta=1e-3)
    net = _run(stopper, scores)
    assert stopper.best_epoch_ == 3
    assert len(net.history) == 5
    assert net.module_.weight.item() == 3.0


def test_min_delta_zero_keeps_the_first_best_auc():
    scores = [(0.80, 0.50), (0.81, 0.48), (0.805, 0.40), (0.79, 0.45), (0.79, 0.45)]
    stopper = _stopper(min_delta=0.0)
    _run(stopper, scores)
    assert stopper.best_epoch_ == 2


def test_loss_monitor_has_no_tie_break():
    stopper = RestoringEarlyStopping(
        monitor="valid_loss", lower_is_better=True, patience=2, load_best=True, min_delta=1e-2
    )
    net = _Net()
    stopper.on_train_begin(net)
    for epoch, loss in enumerate([0.50, 0.495, 0.492, 0.40], start=1):
        net.history.new_epoch()
        net.history.record("epoch", epoch)
        net.history.record("valid_loss", loss)
        try:
            stopper.on_epoch_end(net)
        except KeyboardInterrupt:
            break
    assert stopper.best_epoch_ == 1  # 0.495 and 0.492 do not beat 0.50 by 0.01
    assert len(net.history) == 3


@pytest.mark.parametrize("estimator", [HAMURClassifier, MultiDomainClassifier])
def test_min_delta_reaches_early_stopping_and_is_validated(estimator):
    X, y = make_data(n=600)
    clf = estimator(
        hidden_units=(8,), max_epochs=3, early_stopping=True, min_delta=0.05, random_state=0
    ).fit(X, y)
    stopper = dict(clf.net_.callbacks_)["early_stopping"]
    assert stopper.min_delta == 0.05
    with pytest.raises(ValueError, match="min_delta"):
        estimator(min_delta=-1.0).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()
