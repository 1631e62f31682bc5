"""``adapter_training="staged"``: the backbone trains alone first, then the adapters.

What a user relies on: the first stage is exactly the backbone (adapters and
hyper-network skipped); the adapters start when early stopping's patience runs out,
from the backbone's best weights; they are kept only if they improve the validation
score; the history says which epochs trained them; without early stopping training is
joint; a fitted model always predicts with its adapters switched on; a resumed fit
continues in its stage; a bad value is named.
"""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_hamur import HAMURClassifier
from sklearn_hamur._data import MultiDomainDataset
from sklearn_hamur.modules import make_backbone
from sklearn_hamur.modules.backbones import AdapterSpec

from .conftest import make_data
from .test_export import ADAPTER
from .test_export import TINY as EXPORT_TINY
from .test_logistic_blend import _data

TINY = {k: v for k, v in EXPORT_TINY.items() if k not in ("max_epochs", "random_state")}
STAGED = dict(
    TINY, **ADAPTER, adapter_training="staged", logistic_blend=None, patience=2, max_epochs=40
)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models: one torch thread (the conftest fixture), for every test here."""


def _stages(clf) -> list:
    return [record.get("adapters_active") for record in clf.history_]


def test_inactive_adapters_compute_exactly_the_backbone():
    torch.manual_seed(0)
    model = make_backbone(
        "shared_mlp",
        cardinalities=[5, 7],
        n_numeric=2,
        n_domains=3,
        d_embedding=4,
        d_hidden=[8, 8],
        dropout=0.0,
        adapters=AdapterSpec(rank=3, d_bottleneck=4),
    ).eval()
    x_cat = torch.randint(0, 5, (50, 2))
    x_num, domain = torch.randn(50, 2), torch.randint(0, 3, (50,))
    with torch.no_grad():
        for adapter in model.adapters:  # trained-looking adapters: no longer the identity
            adapter.domain_norm.weight.fill_(0.5)
        adapted = model(x_cat, x_num, domain)
        model.adapters_active = False
        backbone = model(x_cat, x_num, domain)
        # The backbone path: the tower's blocks and head, no adapter in between.
        h = torch.cat([model.embedding(x_cat, x_num), model.domain_embedding(domain)], dim=1)
        expected = model.tower(h).squeeze(-1)
    torch.testing.assert_close(backbone, expected)
    assert not torch.allclose(adapted, backbone)


def test_first_stage_trains_the_backbone_then_the_adapters_start():
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(**STAGED, random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    stages = _stages(clf)
    assert stages[0] is False and stages[-1] is True
    switch = stages.index(True)
    assert stages[switch:] == [True] * (len(stages) - switch)  # one switch, never back
    # The first stage ended because patience ran out: its last 2 epochs did not improve.
    scores = [record["valid_auc"] for record in clf.history_[:switch]]
    assert max(scores[-2:]) <= max(scores) + 1e-4
    assert clf.net_.module_.adapters_active  # predictions use the adapters


def test_first_stage_leaves_the_adapters_untouched():
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(**dict(STAGED, max_epochs=2), random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert _stages(clf) == [False, False]  # max_epochs ended training in the first stage
    module = clf.net_.module_
    for adapter in module.adapters:
        assert torch.count_nonzero(adapter.domain_norm.weight) == 0  # still the identity
        assert torch.count_nonzero(adapter.bias_up) == 0
    # Switched on for prediction, an untrained adapter changes nothing.
    logits_on = clf.decision_function(X_val)
    module.adapters_active = False
    np.testing.assert_allclose(clf.decision_function(X_val), logits_on, rtol=0, atol=1e-6)


def test_restored_weights_are_the_best_epoch_of_either_stage():
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(**STAGED, random_state=1).fit(X, y, X_val=X_val, y_val=y_val)
    best = dict(clf.net_.callbacks_)["early_stopping"]
    best_epoch = clf.history_[best.best_epoch_ - 1]
    weights = [a.domain_norm.weight for a in clf.net_.module_.adapters]
    trained = any(torch.count_nonzero(w) for w in weights)
    # Adapters are kept only when an epoch that trained them was the best one.
    assert trained == best_epoch["adapters_active"]
    # The restored model scores as its best epoch did.
    dataset = MultiDomainDataset(clf.encoder_.transform(X_val))
    proba = torch.sigmoid(clf.net_.predict_logits(dataset)).numpy()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y_val, proba) == pytest.approx(best_epoch["valid_auc"], abs=1e-6)


def test_without_early_stopping_training_is_joint():
    X, y, _, _ = _data()
    clf = HAMURClassifier(**dict(STAGED, max_epochs=2), early_stopping=False, random_state=0)
    clf.fit(X, y)
    assert _stages(clf) == [None, None]  # no stages recorded
    weights = [a.domain_norm.weight for a in clf.net_.module_.adapters]
    assert any(torch.count_nonzero(w) for w in weights)  # the adapters trained from epoch 1


def test_a_resumed_fit_continues_in_its_stage():
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(**STAGED, random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    n_epochs = len(clf.history_)
    clf.set_params(warm_start=True, max_epochs=n_epochs + 3)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert _stages(clf)[n_epochs:] == [True] * (len(clf.history_) - n_epochs)


def test_joint_training_records_no_stages():
    X, y, X_val, y_val = _data()
    clf = HAMURClassifier(**dict(STAGED, adapter_training="joint", max_epochs=3), random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert _stages(clf) == [None] * len(clf.history_)


def test_bad_value_is_named():
    X, y = make_data(200)
    with pytest.raises(InvalidParameterError, match="adapter_training"):
        HAMURClassifier(**TINY, adapter_training="frozen").fit(X, y)
