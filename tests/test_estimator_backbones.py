"""Every backbone x {HAMUR, no adapter} through the scikit-learn estimators."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.modules.backbones import BACKBONES

from .conftest import make_data

SMALL = dict(
    hidden_units=(16, 8),
    bottom_units=(16,),
    tower_units=(8,),
    expert_units=(8,),
    n_experts=2,
    auxiliary_units=(4,),
    d_embedding=4,
    max_epochs=3,
    batch_size=128,
    random_state=0,
)
ADAPTER = dict(adapter_rank=3, d_adapter=4, hyper_hidden_units=(8,))


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
@pytest.mark.parametrize("cls", [HAMURClassifier, MultiDomainClassifier])
def test_backbone_fits_predicts_and_round_trips(backbone, cls):
    X, y = make_data()
    params = {**SMALL, "backbone": backbone, **(ADAPTER if cls is HAMURClassifier else {})}
    clf = cls(**params).fit(X, y)
    module = clf.net_.module_
    assert type(module) is BACKBONES[backbone]
    assert (module.hypernetwork is not None) == (cls is HAMURClassifier)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.isfinite(proba).all()
    alone = np.array([clf.predict_proba(X.iloc[[i]])[0] for i in range(0, 60, 7)])
    np.testing.assert_allclose(alone, proba[0:60:7], atol=1e-5)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), proba)
    assert not hasattr(clone(clf), "net_")


def test_hamur_parameters_are_the_backbones_plus_adapters():
    X, y = make_data()
    for backbone in ("dcn", "mmoe", "star"):
        plain = MultiDomainClassifier(**SMALL, backbone=backbone).fit(X, y)
        hamur = HAMURClassifier(**SMALL, **ADAPTER, backbone=backbone).fit(X, y)
        base = dict(plain.net_.module_.named_parameters())
        extra = set(dict(hamur.net_.module_.named_parameters())) - set(base)
        assert set(base) <= set(dict(hamur.net_.module_.named_parameters()))
        assert extra and all(n.startswith(("hypernetwork.", "adapters.")) for n in extra)


def test_unknown_backbone_lists_valid_names():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"(?=.*'dcn')(?=.*'star')'backbone' parameter.*Got 'dnc'"):
        HAMURClassifier(backbone="dnc").fit(X, y)


def test_parameters_of_other_backbones_are_ignored():
    X, y = make_data()
    a = HAMURClassifier(**SMALL, **ADAPTER, backbone="dcn").fit(X, y).predict_proba(X)
    b = (
        HAMURClassifier(
            **{**SMALL, "n_experts": 7, "tower_units": (3, 3)}, **ADAPTER, backbone="dcn"
        )
        .fit(X, y)
        .predict_proba(X)
    )
    np.testing.assert_array_equal(a, b)


def test_n_adapters_checked_against_the_adapted_layers():
    X, y = make_data()
    with pytest.raises(ValueError, match=r"len\(tower_units\)=1 for backbone='mmoe'"):
        HAMURClassifier(**SMALL, **ADAPTER, backbone="mmoe", n_adapters=2).fit(X, y)


def test_grid_search_over_backbones():
    X, y = make_data(n=400)
    search = GridSearchCV(
        HAMURClassifier(**SMALL, **ADAPTER),
        {"backbone": ["mlp", "wide_deep", "dcn", "star"]},
        cv=2,
        scoring="roc_auc",
    ).fit(X, y)
    assert search.best_params_["backbone"] in ("mlp", "wide_deep", "dcn", "star")
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_save_load_with_a_backbone(tmp_path):
    X, y = make_data()
    clf = HAMURClassifier(**SMALL, **ADAPTER, backbone="ple").fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "m.safetensors", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_presorted_gpu_batch_path_for_every_backbone(backbone, monkeypatch):
    """Training batches sorted by domain on the host (the GPU path), run on CPU."""
    import sklearn_hamur._net as net

    monkeypatch.setattr(net, "presort_domains", lambda device: True)
    X, y = make_data()
    clf = HAMURClassifier(**SMALL, **ADAPTER, backbone=backbone).fit(X, y)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert np.isfinite(clf.predict_proba(X)).all()
