"""``logistic_offset``: a fixed one-hot logistic regression's logit under the network.

What a user relies on: the offset is logistic regression's own logit (scikit-learn's, on
the same encoded rows), it is fixed while the network trains, it survives save/load and
ONNX export, unknown domains average over it like the rest of the model, every backbone
takes it, a bad value or partial_fit gets a clear error, and the default builds no
offset at all.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._data import MultiDomainDataset
from sklearn_hamur._logistic_offset import one_hot_design
from sklearn_hamur.modules import LinearOffset
from sklearn_hamur.modules.backbones import BACKBONES
from sklearn_hamur.serving import load_exported

from .conftest import make_data
from .test_early_stopping import _run
from .test_export import ADAPTER
from .test_export import TINY as EXPORT_TINY

# The export tests' tiny sizes; the tests here set their own epochs where they matter.
TINY = {k: v for k, v in EXPORT_TINY.items() if k != "max_epochs"}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models: one torch thread (the conftest fixture), for every test here."""


def test_linear_offset_is_the_linear_model_of_its_coefficients():
    offset = LinearOffset(cardinalities=[3, 2], n_numeric=2, n_domains=2)
    x_cat, x_num, domain = torch.tensor([[0, 1], [2, 0]]), torch.zeros(2, 2), torch.tensor([1, 0])
    assert torch.equal(offset(x_cat, x_num, domain), torch.zeros(2))  # zero until set
    coef = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, -1.0, 1.0, 2.0, -3.0])
    offset.set_coefficients(coef, intercept=0.25)
    x_num = torch.tensor([[1.0, 1.0], [0.5, 0.0]])
    expected = torch.tensor([0.25 + 1.0 + 0.1 + 0.5 + (2.0 - 3.0), 0.25 - 1.0 + 0.3 + 0.4 + 1.0])
    torch.testing.assert_close(offset(x_cat, x_num, domain), expected)
    assert not list(offset.parameters())  # buffers: the optimizer never sees them
    assert set(offset.state_dict()) == {
        "id_weight",
        "domain_weight",
        "numeric_weight",
        "intercept",
        "network_weight",
    }


def test_linear_offset_rejects_coefficients_of_another_length():
    offset = LinearOffset(cardinalities=[3], n_numeric=1, n_domains=2)
    with pytest.raises(ValueError, match="coef must have 6 entries"):
        offset.set_coefficients(torch.zeros(5), intercept=0.0)


def test_offset_is_scikit_learns_logistic_regression_and_stays_fixed():
    X, y = make_data(600)
    clf = MultiDomainClassifier(**TINY, max_epochs=2, logistic_offset=0.5, early_stopping=False)
    clf.fit(X, y)
    encoded = clf.encoder_.transform(X)
    dataset = MultiDomainDataset(encoded, np.unique(y, return_inverse=True)[1])
    design = one_hot_design(dataset, clf.encoder_.cardinalities_, clf.n_domains_)
    reference = LogisticRegression(C=0.5, max_iter=1000).fit(design, dataset.y.numpy())
    offset = clf.net_.module_.linear_offset
    got = torch.cat([offset.id_weight, offset.domain_weight, offset.numeric_weight]).numpy()
    # Two epochs of training later, the offset is still the logistic regression's.
    np.testing.assert_allclose(got, reference.coef_[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(offset.intercept), reference.intercept_[0], rtol=1e-5)
    logits = offset(*(torch.as_tensor(encoded[k]) for k in ("x_cat", "x_num", "domain")))
    np.testing.assert_allclose(
        logits.numpy(), reference.decision_function(design), rtol=1e-4, atol=1e-4
    )


def test_no_offset_or_blend_builds_no_linear_part_and_the_offset_changes_the_model():
    X, y = make_data(400)
    plain = HAMURClassifier(**TINY, **ADAPTER, max_epochs=1, logistic_blend=None).fit(X, y)
    assert plain.net_.module_.linear_offset is None
    assert not any("linear_offset" in key for key in plain.net_.module_.state_dict())
    with_offset = HAMURClassifier(**TINY, **ADAPTER, max_epochs=1, logistic_offset=1.0).fit(X, y)
    assert not np.allclose(with_offset.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_backbone_takes_the_offset_and_it_survives_save_and_load(backbone, tmp_path):
    X, y = make_data(300)
    clf = HAMURClassifier(
        **TINY, **ADAPTER, backbone=backbone, max_epochs=1, logistic_offset=1.0
    ).fit(X, y)
    assert float(clf.net_.module_.linear_offset.id_weight.abs().sum()) > 0
    path = tmp_path / "model.hamur"
    clf.save(path)
    loaded = HAMURClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_export_and_unknown_domains_include_the_offset(tmp_path):
    X, y = make_data(300)
    clf = HAMURClassifier(
        **TINY, **ADAPTER, max_epochs=1, logistic_offset=1.0, handle_unknown_domain="average"
    ).fit(X, y)
    rows = X[:50].copy()
    rows.loc[rows.index[::3], "domain"] = "never-seen"
    model = load_exported(clf.export(tmp_path / "export"), n_threads=1)
    np.testing.assert_allclose(model.predict_proba(rows), clf.predict_proba(rows), atol=1e-5)
    # An unknown domain's probability is the mean over the domains, offset included.
    row = rows.iloc[[0]]
    per_domain = [clf.predict_proba(row.assign(domain=d))[0, 1] for d in clf.domains_]
    np.testing.assert_allclose(clf.predict_proba(row)[0, 1], np.mean(per_domain), atol=1e-6)


def test_warm_start_keeps_the_offset_of_the_first_fit():
    X, y = make_data(400)
    clf = MultiDomainClassifier(**TINY, max_epochs=1, logistic_offset=1.0, warm_start=True)
    clf.fit(X, y)
    first = clf.net_.module_.linear_offset.id_weight.clone()
    clf.fit(X[:200], y[:200])
    torch.testing.assert_close(clf.net_.module_.linear_offset.id_weight, first)


def test_sample_weight_weighs_the_logistic_regression():
    X, y = make_data(400)
    weight = np.where(np.arange(len(y)) % 2 == 0, 3.0, 0.1)
    kw = dict(TINY, max_epochs=1, logistic_offset=1.0, early_stopping=False)
    a = MultiDomainClassifier(**kw).fit(X, y)
    b = MultiDomainClassifier(**kw).fit(X, y, sample_weight=weight)
    assert not torch.allclose(
        a.net_.module_.linear_offset.id_weight, b.net_.module_.linear_offset.id_weight
    )


@pytest.mark.parametrize("value", [0, -1.0, "yes"])
def test_bad_logistic_offset_is_named(value):
    X, y = make_data(100)
    with pytest.raises(InvalidParameterError, match="logistic_offset"):
        MultiDomainClassifier(**TINY, logistic_offset=value).fit(X, y)


def test_partial_fit_refuses_the_offset_clearly():
    X, y = make_data(200)
    clf = MultiDomainClassifier(**TINY, logistic_offset=1.0)
    with pytest.raises(ValueError, match="partial_fit does not support logistic_offset"):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "net_")


def test_no_first_epoch_warning_on_an_offset():
    # On an offset the model starts at logistic regression, not untrained: restoring its
    # first epoch is no sign of a barely trained model. Near-chance still warns.
    X, y = make_data(600)
    epochs = [(0.80, 0.40), (0.79, 0.41), (0.78, 0.42)]
    plain = MultiDomainClassifier(**TINY, early_stopping=True).fit(X, y)
    with pytest.warns(UserWarning, match="restored the first epoch's weights"):
        _run(dict(plain.net_.callbacks_)["early_stopping"], epochs)
    clf = MultiDomainClassifier(**TINY, early_stopping=True, logistic_offset=1.0).fit(X, y)
    stopper = dict(clf.net_.callbacks_)["early_stopping"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        net = _run(stopper, epochs)
    assert net.module_.weight.item() == 1.0  # the first epoch's weights, restored silently
    with pytest.warns(UserWarning, match="near-chance weights"):
        _run(stopper, [(0.51, 0.69), (0.505, 0.70), (0.50, 0.71)])
