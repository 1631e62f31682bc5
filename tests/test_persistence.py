import json
import pickle

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, _persistence

from .conftest import FAST, FAST_HAMUR, make_data


@pytest.fixture(scope="module")
def fitted():
    X, y = make_data(label_values=("no", "yes"))
    clf = HAMURClassifier(**{**FAST_HAMUR, "handle_unknown_domain": "average"}).fit(X, y)
    return clf, X


@pytest.mark.parametrize(
    "cls, params", [(HAMURClassifier, FAST_HAMUR), (MultiDomainClassifier, FAST)]
)
def test_round_trip_is_bit_for_bit(cls, params, tmp_path):
    X, y = make_data()
    clf = cls(**{**params, "early_stopping": True}).fit(X, y)
    path = tmp_path / "model.safetensors"
    clf.save(path)
    loaded = cls.load(path, device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params() == {**clf.get_params(), "device": "cpu"}
    np.testing.assert_array_equal(loaded.domains_, clf.domains_)
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    assert list(loaded.history_) == list(clf.history_)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_string_labels_and_unknown_domain_setting_survive(fitted, tmp_path):
    clf, X = fitted
    clf.save(tmp_path / "m.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "m.safetensors")
    assert list(loaded.classes_) == ["no", "yes"]
    unseen = X.head(4).assign(domain="new")
    np.testing.assert_array_equal(loaded.predict_proba(unseen), clf.predict_proba(unseen))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_loading_never_unpickles(fitted, tmp_path, monkeypatch):
    clf, X = fitted
    clf.save(tmp_path / "m.safetensors")

    def refuse(*args, **kwargs):
        raise AssertionError("load must not unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    HAMURClassifier.load(tmp_path / "m.safetensors").predict_proba(X)


def test_pickle_file_is_rejected(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    path.write_bytes(pickle.dumps(clf))
    with pytest.raises(ValueError, match="not a readable sklearn-hamur model file"):
        HAMURClassifier.load(path)


def test_truncated_file(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    clf.save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        HAMURClassifier.load(path)


def test_tampered_weights(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    clf.save(path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted or was modified: tensor .* fails its checksum"):
        HAMURClassifier.load(path)


def rewrite_metadata(path, *, recompute_checksum=True, **changes):
    """Change header fields as a crafter would: by default recomputing the checksum."""
    import hashlib

    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
    metadata.update(changes)
    if recompute_checksum:
        message = json.dumps([metadata.get(k) for k in _persistence.SIGNED_FIELDS]).encode()
        metadata["checksum"] = hashlib.sha256(message).hexdigest()
    save_file(load_file(str(path)), str(path), metadata=metadata)


def test_wrong_format_version(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    clf.save(path)
    rewrite_metadata(path, format_version="99")
    with pytest.raises(ValueError, match="format version '99'"):
        HAMURClassifier.load(path)


def test_file_of_another_estimator(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    clf.save(path)
    with pytest.raises(ValueError, match="holds a HAMURClassifier, not a MultiDomainClassifier"):
        MultiDomainClassifier.load(path)


def test_foreign_safetensors_file(tmp_path):
    import torch

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="not an sklearn-hamur model file"):
        HAMURClassifier.load(path)


def test_damaged_state_header(fitted, tmp_path):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    clf.save(path)
    rewrite_metadata(path, state="{not json")
    with pytest.raises(ValueError, match="damaged state header"):
        HAMURClassifier.load(path)


def test_failed_save_leaves_previous_file_intact(fitted, tmp_path, monkeypatch):
    clf, _ = fitted
    path = tmp_path / "m.safetensors"
    clf.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_persistence.os, "fsync", broken)  # fails with the temporary written
    with pytest.raises(OSError, match="disk full"):
        clf.save(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_unfitted_save_raises(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HAMURClassifier().save(tmp_path / "m.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved model"):
        HAMURClassifier.load(tmp_path / "absent.safetensors")


def test_state_is_plain_json(fitted, tmp_path):
    from safetensors import safe_open

    clf, _ = fitted
    clf.save(tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        state = json.loads(f.metadata()["state"])
    assert state["estimator"] == "HAMURClassifier"
    assert state["classes_"]["values"] == ["no", "yes"]
