"""Saved files: every header field checked, corruption detected, tampering detected with a key.

Each test is a case of issue 14, section 2: a file edited by hand (with or without its
checksums recomputed), crafted parameters and sizes, a concurrent save, values a user can
legitimately pass, interrupted saves and unreadable checkpoints.
"""

import datetime
import hashlib
import json
import threading
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, _persistence, _temporary_files

from .conftest import FAST, make_data

SMALL = dict(FAST, hidden_units=(8,), max_epochs=1)


@pytest.fixture(scope="module")
def model():
    X, y = make_data(n=300)
    return MultiDomainClassifier(**SMALL).fit(X, y), X, y


@pytest.fixture
def saved(model, tmp_path):
    clf, _, _ = model
    path = tmp_path / "m.safetensors"
    clf.save(path)
    return path


def read(path):
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata()), load_file(str(path))


def write(path, metadata, tensors, *, recompute=True):
    """Write a file as a crafter would: by default with every checksum recomputed."""
    if recompute:
        state = json.loads(metadata["state"])
        state["checksums"] = {
            name: _persistence._tensor_checksum(t, 2) for name, t in tensors.items()
        }
        metadata["state"] = json.dumps(state)
        message = json.dumps([metadata.get(k) for k in _persistence.SIGNED_FIELDS]).encode()
        metadata["checksum"] = hashlib.sha256(message).hexdigest()
    save_file(tensors, str(path), metadata=metadata)


def edit_state(path, change, *, recompute=True):
    metadata, tensors = read(path)
    state = json.loads(metadata["state"])
    change(state)
    metadata["state"] = json.dumps(state)
    write(path, metadata, tensors, recompute=recompute)


# -- corruption: the checksum covers the header as well as the tensors ------------------


def test_one_digit_of_a_mean_changed_in_the_header_is_detected(tmp_path, model):
    X, y = make_data(n=300)
    clf = MultiDomainClassifier(**SMALL).fit(X, y)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    metadata, tensors = read(path)
    mean = json.dumps(clf.encoder_.means_[0])
    assert mean in metadata["state"]
    metadata["state"] = metadata["state"].replace(mean, json.dumps(clf.encoder_.means_[0] + 1))
    write(path, metadata, tensors, recompute=False)
    with pytest.raises(ValueError, match="corrupted: its header fails its checksum"):
        MultiDomainClassifier.load(path)


def test_one_vocabulary_letter_changed_is_detected(saved):
    metadata, tensors = read(saved)
    metadata["state"] = metadata["state"].replace('"item1"', '"itemX"', 1)
    write(saved, metadata, tensors, recompute=False)
    with pytest.raises(ValueError, match="header fails its checksum"):
        MultiDomainClassifier.load(saved)


def test_tensor_edited_with_its_own_checksum_recomputed_is_detected(saved):
    metadata, tensors = read(saved)
    state = json.loads(metadata["state"])
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 1.0
    state["checksums"][name] = _persistence._tensor_checksum(tensors[name], 2)
    metadata["state"] = json.dumps(state)
    save_file(tensors, str(saved), metadata=metadata)  # the header checksum is now stale
    with pytest.raises(ValueError, match="header fails its checksum"):
        MultiDomainClassifier.load(saved)


# -- every field checked (a crafter who recomputes all checksums) ------------------------


def test_swapped_classes_are_refused(saved):
    edit_state(saved, lambda s: s["classes_"]["values"].reverse())
    with pytest.raises(ValueError, match="'classes_' are not sorted"):
        MultiDomainClassifier.load(saved)


def test_wrong_shape_tensor_names_the_tensor(saved):
    metadata, tensors = read(saved)
    name = next(n for n in sorted(tensors) if tensors[n].ndim == 2)
    tensors[name] = torch.zeros(tensors[name].shape[0] + 1, tensors[name].shape[1])
    write(saved, metadata, tensors)
    with pytest.raises(ValueError, match=rf"tensor '{name}' has shape \[\d+, \d+\], expected"):
        MultiDomainClassifier.load(saved)


def test_unknown_and_missing_tensor_names_are_named(saved):
    metadata, tensors = read(saved)
    removed = sorted(tensors)[0]
    tensors["surprise.weight"] = tensors.pop(removed)
    write(saved, metadata, tensors)
    with pytest.raises(ValueError) as error:
        MultiDomainClassifier.load(saved)
    assert f"tensor {removed!r} is missing" in str(error.value)
    assert "tensor 'surprise.weight' is not part of the model" in str(error.value)


@pytest.mark.parametrize(
    "param, value", [("backbone", "nope"), ("n_cross_layers", 0), ("lr", -1.0), ("patience", 0)]
)
def test_crafted_parameter_gives_the_error_fit_gives(saved, param, value):
    X, y = make_data(n=50)
    with pytest.raises(InvalidParameterError) as at_fit:
        MultiDomainClassifier(**{**SMALL, param: value}).fit(X, y)
    edit_state(saved, lambda s: s["params"].update({param: value}))
    with pytest.raises(InvalidParameterError) as at_load:
        MultiDomainClassifier.load(saved)
    assert str(at_fit.value) in str(at_load.value)


def test_unknown_parameter_is_named(saved):
    edit_state(saved, lambda s: s["params"].update(nope=1))
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['nope'\]"):
        MultiDomainClassifier.load(saved)


def test_raised_cardinality_is_refused_before_any_allocation(saved):
    def raise_cardinality(state):
        state["encoder"]["cardinalities_"][0] += 30_000_000

    edit_state(saved, raise_cardinality)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="'cardinalities_' .* do not match the vocabularies"):
        MultiDomainClassifier.load(saved)
    assert time.perf_counter() - start < 5


def test_huge_layers_are_refused_by_the_tensor_shapes(saved):
    # Vocabulary and cardinality agree, but the module described has huge layers: the
    # shapes are compared on the meta device, which allocates nothing.
    edit_state(
        saved, lambda s: s["params"].update(hidden_units={"$type": "tuple", "value": [10**9]})
    )
    with pytest.raises(ValueError, match="does not match the model its header describes"):
        MultiDomainClassifier.load(saved)
    edit_state(saved, lambda s: s["params"].update(n_cross_layers=10**9, backbone="dcn"))
    with pytest.raises(ValueError, match=r"\['n_cross_layers'\] ask for more layers"):
        MultiDomainClassifier.load(saved)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("means_", {"dtype": "<f8", "values": [float("nan")]}, "'means_' are not all finite"),
        ("scales_", {"dtype": "<f8", "values": [0.0]}, "'scales_' are not all positive"),
        ("scales_", {"dtype": "<f8", "values": [1.0, 2.0]}, "'scales_' has 2 values"),
        ("domains_", {"dtype": "object", "values": ["d1", "d0", "d2"]}, "not in sorted order"),
        ("vocabularies_", [["b", "a"], ["x"]], "vocabulary of 'item' is not sorted"),
        ("numeric_cols_", ["price", "price"], "'numeric_cols_' repeats a column"),
    ],
)
def test_inconsistent_encoder_fields_are_named(saved, field, value, message):
    edit_state(saved, lambda s: s["encoder"].update({field: value}))
    with pytest.raises(ValueError, match=message):
        MultiDomainClassifier.load(saved)


# -- tamper detection with a key ---------------------------------------------------------


def test_signed_file_loads_with_its_key_and_fails_with_another(model, tmp_path):
    clf, X, _ = model
    path = tmp_path / "m.safetensors"
    clf.save(path, key=b"secret")
    loaded = MultiDomainClassifier.load(path, key=b"secret")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    MultiDomainClassifier.load(path)  # without a key: the checksums only
    with pytest.raises(ValueError, match="fails its signature check"):
        MultiDomainClassifier.load(path, key=b"other")


def test_key_refuses_an_unsigned_file_and_a_recomputed_forgery(model, tmp_path):
    clf, _, _ = model
    path = tmp_path / "m.safetensors"
    clf.save(path)
    with pytest.raises(ValueError, match="is not signed, but a key was given"):
        MultiDomainClassifier.load(path, key="secret")
    clf.save(path, key="secret")
    edit_state(path, lambda s: s["classes_"]["values"].reverse())  # checksums recomputed
    edit_state(path, lambda s: s["classes_"]["values"].reverse())
    with pytest.raises(ValueError, match="fails its signature check"):
        MultiDomainClassifier.load(path, key="secret")


def test_bad_key_type(model, tmp_path):
    with pytest.raises(TypeError, match="key must be a non-empty bytes or str"):
        model[0].save(tmp_path / "m.safetensors", key=123)


# -- one read ------------------------------------------------------------------------------


def test_load_while_another_thread_saves_the_same_path(model, tmp_path):
    clf, X, y = model
    other = MultiDomainClassifier(**{**SMALL, "random_state": 1}).fit(X, y)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    stop = threading.Event()

    def keep_saving():
        while not stop.is_set():
            for model_ in (clf, other):
                model_.save(path)

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        for _ in range(40):
            MultiDomainClassifier.load(path, device="cpu")
    finally:
        stop.set()
        saver.join()


def test_file_is_opened_once(saved, monkeypatch):
    import builtins

    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file) == str(saved):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    MultiDomainClassifier.load(saved)
    assert len(opened) == 1


# -- what a user can legitimately pass saves and loads to an equal estimator -------------


def test_numpy_scalars_and_column_arrays_round_trip(tmp_path):
    X, y = make_data(n=300)
    params = dict(
        SMALL,
        lr=np.float32(0.01),
        random_state=np.int64(3),
        categorical_cols=pd.Index(["item", "color"]),
        numeric_cols=np.array(["price"]),
        batch_size=np.int64(64),
    )
    clf = MultiDomainClassifier(**params).fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    loaded = MultiDomainClassifier.load(tmp_path / "m.safetensors", device="cpu")
    assert loaded.random_state == 3  # was saved as None
    for name, value in params.items():
        got = loaded.get_params()[name]
        assert np.array_equal(np.asarray(got), np.asarray(value)), name
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert list(loaded.encoder_.categorical_cols_) == ["item", "color"]


@pytest.mark.parametrize(
    "values",
    [
        [datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)],
        [datetime.datetime(2024, 1, 1, 12), datetime.datetime(2024, 1, 2)],
        [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-03-01", tz="UTC")],
        [Decimal("1.5"), Decimal("2.25")],
        [True, False],
        [np.int64(1), np.int64(7)],
    ],
)
def test_domain_values_round_trip(values, tmp_path):
    X, y = make_data(n=200, n_domains=2)
    X = X.assign(domain=pd.Series(np.where(X["domain"] == "d0", 0, 1)).map(dict(enumerate(values))))
    clf = MultiDomainClassifier(**SMALL).fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    loaded = MultiDomainClassifier.load(tmp_path / "m.safetensors", device="cpu")
    assert list(loaded.domains_) == list(clf.domains_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_unstorable_domain_values_are_refused_at_fit():
    X, y = make_data(n=100, n_domains=2)
    X = X.assign(domain=np.where(X["domain"] == "d0", 1 + 2j, 3 + 4j))
    with pytest.raises(TypeError, match="Domain column 'domain' holds .* which a saved model"):
        MultiDomainClassifier(**SMALL).fit(X, y)


# -- interrupted saves and unreadable checkpoints ------------------------------------------


def test_interrupted_save_leaves_no_temporary_file(model, tmp_path, monkeypatch):
    clf, _, _ = model

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_persistence.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        clf.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_file_of_a_killed_save_is_removed(model, tmp_path):
    import os

    clf, _, _ = model
    stale = tmp_path / ".m.safetensors.abc123.tmp"
    fresh = tmp_path / ".m.safetensors.def456.tmp"  # perhaps another process saving now
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    old = time.time() - 2 * _temporary_files.STALE_TEMPORARY_SECONDS
    os.utime(stale, (old, old))
    clf.save(tmp_path / "m.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, "m.safetensors"]


def test_checkpoints_leave_no_temporary_file_and_sweep_stale_ones(tmp_path, monkeypatch):
    import os

    from sklearn_hamur import _callbacks

    X, y = make_data(n=100)
    stale = tmp_path / ".checkpoint-abc123.tmp"  # left by a killed fit
    stale.write_bytes(b"partial")
    old = time.time() - 2 * _temporary_files.STALE_TEMPORARY_SECONDS
    os.utime(stale, (old, old))
    MultiDomainClassifier(**SMALL, checkpoint_dir=tmp_path).fit(X, y)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    # An interruption while the checkpoint is written leaves no temporary file.
    monkeypatch.setattr(_callbacks.torch, "save", interrupt)
    MultiDomainClassifier(**SMALL, checkpoint_dir=tmp_path / "b").fit(X, y)
    assert list((tmp_path / "b").iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"garbage that is not a zip", None])
def test_corrupt_or_empty_checkpoint_names_the_file(tmp_path, content):
    X, y = make_data(n=100)
    path = tmp_path / "checkpoint.pt"
    if content is None:
        torch.save({"unrelated": 1}, path)
    else:
        path.write_bytes(content)
    clf = MultiDomainClassifier(**SMALL, checkpoint_dir=tmp_path, warm_start=True)
    with pytest.raises(ValueError, match="checkpoint.pt") as error:
        clf.fit(X, y)
    assert "weights_only" not in str(error.value)


# -- format version 1 --------------------------------------------------------------------


def test_version_1_float_vocabulary_is_upgraded_to_canonical_form():
    upgrade = _persistence.upgrade_vocabulary_v1
    assert upgrade(["1.0", "2.5", "3.0"]) == ["1", "2.5", "3"]
    assert upgrade(["1", "2"]) == ["1", "2"]
    assert upgrade(["1.0", "a"]) == ["1.0", "a"]  # not all numbers: as stored
    assert upgrade(["1", "1.0"]) == ["1", "1.0"]  # would merge two entries: as stored


def test_version_1_file_has_no_signature(tmp_path):
    from pathlib import Path

    path = Path(__file__).parent / "data" / "saved_v1" / "HAMURClassifier-mlp.safetensors"
    with pytest.raises(ValueError, match="by format version 1, which cannot sign"):
        HAMURClassifier.load(path, key="secret")
