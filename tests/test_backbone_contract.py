"""What each backbone declares is what the estimators, the docs and the search space use."""

import dataclasses
import inspect

import pytest

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._docstrings import shared_entry
from sklearn_hamur.model_selection import hamur_search_space
from sklearn_hamur.modules import MLP
from sklearn_hamur.modules.backbones import BACKBONES, AdapterSpec, Backbone, BackboneParam

NAMES = sorted(BACKBONES)


def module_defaults(cls) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize("name", NAMES)
def test_each_backbone_adapts_exactly_one_declared_widths_parameter(name):
    params = BACKBONES[name].params
    assert sum(p.adapted for p in params) == 1
    assert BACKBONES[name].adapted_param().is_widths
    assert len({p.name for p in params}) == len(params)


@pytest.mark.parametrize("estimator", [HAMURClassifier, MultiDomainClassifier])
@pytest.mark.parametrize("name", NAMES)
def test_estimator_defaults_are_the_modules_defaults(estimator, name):
    """The estimators expose every declared parameter, with the module's default."""
    estimator_defaults = estimator().get_params()
    defaults = module_defaults(BACKBONES[name])
    for param in BACKBONES[name].params:
        assert param.name in estimator_defaults, f"{estimator.__name__} lacks {param.name}"
        assert (
            tuple(estimator_defaults[param.name]) == tuple(defaults[param.argument])
            if (param.is_widths)
            else estimator_defaults[param.name] == defaults[param.argument]
        )
    assert estimator_defaults["d_embedding"] == defaults["d_embedding"]
    assert estimator_defaults["dropout"] == defaults["dropout"]


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_parameter_is_documented_and_searched(name):
    space = hamur_search_space(name, adapters=False)
    for param in BACKBONES[name].params:
        assert shared_entry(param.name, "").startswith(f"{param.name} : ")
        assert param.name in space
        assert param.name in HAMURClassifier.__doc__


def test_adapter_spec_reads_the_estimators_adapter_parameters():
    params = HAMURClassifier(adapter_rank=25, d_adapter=16, share_adapters=True).get_params()
    spec = AdapterSpec.from_params(params)
    assert spec == AdapterSpec(n_adapters=1, rank=25, d_bottleneck=16, shared=True)
    # Frozen: one value, shared safely by every module built from it.
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.rank = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", NAMES)
def test_arguments_build_the_module_the_estimator_trains(name):
    from .conftest import make_data

    X, y = make_data(n=200)
    clf = HAMURClassifier(backbone=name, max_epochs=1, hidden_units=(8, 8), tower_units=(8,))
    clf.fit(X, y)
    module = clf.net_.module_
    assert type(module) is BACKBONES[name]
    assert (
        module.first_adapted_block
        == len(clf.get_params()[BACKBONES[name].adapted_param().name]) - 1
    )


class LinearTower(Backbone):
    """A backbone written as docs/user_guide/adding_a_backbone.md says: one file."""

    params = (BackboneParam("hidden_units", "d_hidden", ("8", "16"), adapted=True),)

    def __init__(
        self,
        *,
        cardinalities,
        n_numeric,
        n_domains,
        d_embedding=16,
        d_hidden=(8,),
        dropout=0.2,
        adapters=None,
    ):
        super().__init__(
            cardinalities=cardinalities,
            n_numeric=n_numeric,
            n_domains=n_domains,
            d_embedding=d_embedding,
        )
        self.tower = MLP(d_in=self.embedding.d_out, d_hidden=d_hidden, d_out=1, dropout=dropout)
        self._init_adapters(widths=d_hidden, adapters=adapters)

    def _forward_sorted(self, batch):
        return self.tower.head(self._shared_blocks(self.tower, batch.e, batch)).squeeze(-1)


def test_a_registered_backbone_is_trained_saved_and_searched(monkeypatch, tmp_path):
    from .conftest import make_data

    monkeypatch.setitem(BACKBONES, "linear_tower", LinearTower)
    X, y = make_data(n=300)
    clf = HAMURClassifier(backbone="linear_tower", hidden_units=(8,), max_epochs=2).fit(X, y)
    assert type(clf.net_.module_) is LinearTower
    assert clf.net_.module_.hypernetwork is not None
    clf.save(tmp_path / "m.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "m.safetensors", device="cpu")
    assert (loaded.predict_proba(X) == clf.predict_proba(X)).all()
    assert hamur_search_space("linear_tower")["hidden_units"].choices == ("8", "16")
    with pytest.raises(ValueError, match="'n_adapters' parameter .* at most"):
        HAMURClassifier(backbone="linear_tower", hidden_units=(8,), n_adapters=2).fit(X, y)


@pytest.mark.parametrize("name", NAMES)
def test_hamur_and_its_backbone_train_alike_but_for_the_adapters(name):
    # One random_state: the backbone's weights start equal and its dropout masks are the
    # same, so on the first step (the adapters are the identity) the shared parameters
    # move alike; later steps differ only by what the adapters learned.
    import numpy as np
    import torch

    from .conftest import make_data

    X, y = make_data(n=400)
    params = dict(backbone=name, max_epochs=1, batch_size=400, dropout=0.3, early_stopping=False)
    hamur = HAMURClassifier(**params, random_state=3).fit(X, y)
    backbone = MultiDomainClassifier(**params, random_state=3).fit(X, y)
    adapted = hamur.net_.module_.state_dict()
    for key, value in backbone.net_.module_.state_dict().items():
        torch.testing.assert_close(adapted[key], value, rtol=0, atol=1e-6, msg=key)
    two = {**params, "max_epochs": 2, "random_state": 3}
    hamur, backbone = HAMURClassifier(**two).fit(X, y), MultiDomainClassifier(**two).fit(X, y)
    assert not np.allclose(hamur.predict_proba(X), backbone.predict_proba(X))
