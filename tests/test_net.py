"""MultiDomainNet against the skorch it is written for: the copied loop, the optimizer."""

import fnmatch
import hashlib
import inspect
import tomllib
from pathlib import Path

import numpy as np
import pytest
import skorch
import torch
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from skorch import NeuralNet

from sklearn_hamur import HAMURClassifier
from sklearn_hamur._net import SKORCH_VERSIONS, MultiDomainNet
from sklearn_hamur.modules.backbones import BACKBONES, AdapterSpec, make_backbone

from .conftest import FAST_HAMUR, make_data

ROOT = Path(__file__).resolve().parents[1]

#: sha256 of the source of each skorch method MultiDomainNet replaces or relies on, as in
#: skorch 1.0.0 to 1.4.0 (identical in all of them). A new skorch that changes one of them
#: fails here: compare MultiDomainNet's version with the new one, then update the hash.
SKORCH_SOURCES = {
    "run_single_epoch": "f20ccfd4d8a09fc75d128dd9c2ad31af06d56017d464c205bb794b78fbb54563",
    "_step_optimizer": "15f1f5fdab41b5c703c276db9c20ac42ebd7acc0fb1652d26954e9541790c4f0",
    "train_step_single": "14bc3576613f993bc4c9266e7426e610698522ad6b118ffd5356ebc1a78f7afc",
    "get_params_for_optimizer": "1685092e09876546c5d700701a14ccfc9f81d1799587f4119fca62bb69fd0e36",
}


def test_installed_skorch_is_in_the_range_the_net_follows():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in declared if d.startswith("skorch")).removeprefix("skorch")
    spec = spec.split("#")[0].strip()
    assert SpecifierSet(spec) == SpecifierSet(",".join(SKORCH_VERSIONS))
    assert Version(skorch.__version__) in SpecifierSet(spec)


@pytest.mark.parametrize("name", sorted(SKORCH_SOURCES))
def test_skorch_methods_are_those_the_override_copies(name):
    source = inspect.getsource(getattr(NeuralNet, name))
    assert hashlib.sha256(source.encode()).hexdigest() == SKORCH_SOURCES[name], (
        f"skorch {skorch.__version__} changed NeuralNet.{name}; review MultiDomainNet "
        "against it, then update SKORCH_SOURCES."
    )


def test_epoch_loop_records_what_skorchs_own_loop_records(monkeypatch):
    X, y = make_data()
    params = {**FAST_HAMUR, "max_epochs": 2, "batch_size": 64, "random_state": 0}
    ours = HAMURClassifier(**params).fit(X, y).history_
    monkeypatch.setattr(MultiDomainNet, "run_single_epoch", NeuralNet.run_single_epoch)
    theirs = HAMURClassifier(**params).fit(X, y).history_
    for epoch_ours, epoch_theirs in zip(ours, theirs):
        for batch_ours, batch_theirs in zip(epoch_ours["batches"], epoch_theirs["batches"]):
            assert batch_ours.keys() == batch_theirs.keys()
            for key, value in batch_theirs.items():
                assert batch_ours[key] == pytest.approx(value, rel=1e-6), key
        assert epoch_ours["train_loss"] == pytest.approx(epoch_theirs["train_loss"], rel=1e-6)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_parameter_groups_exempt_what_the_name_patterns_did(name):
    """Each module's groups equal skorch's name patterns the estimators used before."""
    torch.manual_seed(0)
    sizes = dict(cardinalities=[5, 4], n_numeric=2, n_domains=3, d_embedding=4)
    own = {
        p.argument: ((8, 8) if p.adapted else (8,)) if p.is_widths else 2
        for p in BACKBONES[name].params
    }
    model = make_backbone(name, **sizes, **own, adapters=AdapterSpec(n_adapters=2))
    patterns = ["*embedding*", "*bias*", "*norm*"] + (["*domain_weight*"] if name == "star" else [])
    expected = {
        n for n, _ in model.named_parameters() if any(fnmatch.fnmatch(n, p) for p in patterns)
    }
    decay, no_decay = model.make_parameter_groups()
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in no_decay["params"]} == expected
    assert no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(names)


def test_optimizer_uses_the_modules_groups_and_the_estimators_decay():
    X, y = make_data()
    clf = HAMURClassifier(**{**FAST_HAMUR, "weight_decay": 1e-3}).fit(X, y)
    groups = clf.net_.optimizer_.param_groups
    assert [g["weight_decay"] for g in groups] == [1e-3, 0.0]
    in_groups = sum(len(g["params"]) for g in groups)
    assert in_groups == len(list(clf.net_.module_.parameters()))
    assert np.isfinite(clf.predict_proba(X)).all()
