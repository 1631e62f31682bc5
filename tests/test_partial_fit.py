"""Out-of-core training (issue 17): ``partial_fit`` of the encoder and of the classifiers.

The encoder fitted chunk by chunk is the encoder fitted at once; the classifiers train one
epoch per call from a fitted encoder, keep their optimizer state, are seeded, roll back a
failed call, save, load, clone and continue.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, MultiDomainEncoder

from .conftest import make_data

SMALL = dict(hidden_units=(16,), batch_size=256, lr=1e-2, random_state=0)
SMALL_HAMUR = dict(SMALL, adapter_rank=4, d_adapter=4, hyper_hidden_units=(8,))


def chunks_of(X, y=None, size=1000):
    for start in range(0, len(X), size):
        rows = slice(start, start + size)
        yield (X.iloc[rows], None if y is None else y[rows])


def streamed_encoder(X, size=1000, **params):
    encoder = MultiDomainEncoder(**params)
    for X_chunk, _ in chunks_of(X, size=size):
        encoder.partial_fit(X_chunk)
    return encoder


@pytest.fixture(scope="module")
def stream_data():
    X, y = make_data(n=6000, seed=1)
    X_train, y_train, X_test, y_test = X[:4000], y[:4000], X[4000:], y[4000:]
    return X_train, y_train, X_test, y_test, streamed_encoder(X_train)


@pytest.fixture
def stream(stream_data, one_torch_thread):
    """4,000 training rows in chunks of 1,000, a held-out set, and their encoder (which a
    test must not change: the tests share it)."""
    return stream_data


def adam_steps(clf) -> set:
    return {int(s["step"]) for s in clf.net_.optimizer_.state_dict()["state"].values()}


# -- the encoder ------------------------------------------------------------------------


def awkward_frame(n=600, seed=0) -> pd.DataFrame:
    """Every kind of column the encoder canonicalises, with missing values."""
    rng = np.random.default_rng(seed)
    mixed = np.array([1, "1", 1.0, "a", True, None, 2.5, "b"], dtype=object)
    ids = rng.integers(0, 40, n).astype(float)
    ids[rng.random(n) < 0.05] = np.nan  # integer ids that arrive as floats with NaNs
    wide = rng.normal(size=n) * 1e300
    wide[::9] = np.nan
    return pd.DataFrame(
        {
            "domain": rng.choice(["x", "y", "z"], n),
            "user": rng.choice([f"u{i}" for i in range(60)], n),  # rare ones: min_frequency
            "ids": ids,
            "mixed": rng.choice(mixed, n),
            "color": pd.Categorical(rng.choice(["red", "green", None], n)),
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50.0, 3.0, n)),
            "wide": wide,
        }
    )


# One-row chunks make constant columns for a while: the encoder warns, as fit would.
@pytest.mark.filterwarnings("ignore:Numeric column:UserWarning")
@pytest.mark.parametrize("sizes", [[600], [100, 500], [7, 93, 200, 300], [1] * 5 + [595]])
def test_chunked_encoder_equals_the_one_shot_encoder(sizes):
    X = awkward_frame()
    params = dict(categorical_cols=["user", "ids", "mixed", "color"], min_frequency=3)
    one_shot = MultiDomainEncoder(**params).fit(X)
    chunked = MultiDomainEncoder(**params)
    bounds = np.cumsum([0, *sizes])
    for start, stop in zip(bounds, bounds[1:]):
        chunked.partial_fit(X.iloc[start:stop])
    assert chunked.vocabularies_.keys() == one_shot.vocabularies_.keys()
    for col, vocabulary in one_shot.vocabularies_.items():
        assert chunked.vocabularies_[col].equals(vocabulary), col
    assert chunked.cardinalities_ == one_shot.cardinalities_
    np.testing.assert_array_equal(chunked.domains_, one_shot.domains_)
    np.testing.assert_allclose(chunked.means_, one_shot.means_, rtol=1e-12)
    np.testing.assert_allclose(chunked.scales_, one_shot.scales_, rtol=1e-12)
    # Codes agree on the training rows and on new rows with unseen values.
    new = awkward_frame(n=200, seed=5).assign(user=lambda d: d["user"] + "-new")
    for rows in (X, new):
        a, b = chunked.transform(rows), one_shot.transform(rows)
        np.testing.assert_array_equal(a["x_cat"], b["x_cat"])
        np.testing.assert_array_equal(a["domain"], b["domain"])
        np.testing.assert_allclose(a["x_num"], b["x_num"], rtol=1e-6, atol=1e-6)
    assert (chunked.transform(new)["x_cat"][:, 0] == 1).all()  # unseen users


def test_fit_is_one_partial_fit_on_a_fresh_encoder():
    X = awkward_frame()
    fitted = MultiDomainEncoder(min_frequency=2).fit(X)
    streamed = MultiDomainEncoder(min_frequency=2).partial_fit(X)
    np.testing.assert_array_equal(streamed.means_, fitted.means_)  # bit for bit
    np.testing.assert_array_equal(streamed.scales_, fitted.scales_)
    assert streamed.cardinalities_ == fitted.cardinalities_
    # fit forgets what earlier calls learned.
    refitted = MultiDomainEncoder(min_frequency=2).partial_fit(awkward_frame(seed=3)).fit(X)
    np.testing.assert_array_equal(refitted.means_, fitted.means_)
    assert refitted.cardinalities_ == fitted.cardinalities_


def test_min_frequency_counts_every_chunk_and_domains_accumulate():
    first = pd.DataFrame({"domain": ["a", "a"], "item": ["rare", "common"], "n": [1.0, 2.0]})
    second = pd.DataFrame({"domain": ["b", "b"], "item": ["rare", "common"], "n": [3.0, 4.0]})
    encoder = MultiDomainEncoder(min_frequency=2).partial_fit(first)
    assert encoder.vocabularies_["item"].tolist() == [] and encoder.domains_.tolist() == ["a"]
    encoder.partial_fit(second)  # each item is now seen twice
    assert encoder.vocabularies_["item"].tolist() == ["common", "rare"]
    assert encoder.domains_.tolist() == ["a", "b"]
    assert encoder.means_[0] == 2.5 and np.isclose(encoder.scales_[0], np.std([1, 2, 3, 4]))


def test_mixed_type_domains_sort_as_in_one_fit():
    first = pd.DataFrame({"domain": [2, 1, 2], "x": ["a", "b", "c"]})
    second = pd.DataFrame({"domain": ["web", 1, "app"], "x": ["a", "b", "d"]}, dtype=object)
    encoder = MultiDomainEncoder().partial_fit(first).partial_fit(second)
    one_shot = MultiDomainEncoder().fit(pd.concat([first, second], ignore_index=True))
    assert encoder.domains_.tolist() == one_shot.domains_.tolist() == [1, 2, "app", "web"]


def test_a_failed_encoder_chunk_changes_nothing_and_names_the_column():
    X = awkward_frame()
    encoder = MultiDomainEncoder().partial_fit(X[:300])
    before = {name: value for name, value in vars(encoder).items()}
    bad = X[300:].astype({"price": object})
    bad.iloc[3, bad.columns.get_loc("price")] = "n/a"
    with pytest.raises(ValueError, match="Numeric column 'price' holds non-numeric"):
        encoder.partial_fit(bad)
    with pytest.raises(ValueError, match="feature names"):
        encoder.partial_fit(X[300:].drop(columns="wide"))
    assert {name: value for name, value in vars(encoder).items()} == before  # same objects


def test_record_batches_stream_straight_in(stream):
    pa = pytest.importorskip("pyarrow")
    X_train, y_train, X_test, *_ = stream
    batches = pa.Table.from_pandas(X_train, preserve_index=False).to_batches(max_chunksize=1000)
    encoder = MultiDomainEncoder()
    for batch in batches:
        encoder.partial_fit(batch)
    reference = streamed_encoder(X_train)
    assert encoder.cardinalities_ == reference.cardinalities_
    clf = MultiDomainClassifier(encoder=encoder, **SMALL)
    for batch, (_, y_chunk) in zip(batches, chunks_of(X_train, y_train)):
        clf.partial_fit(batch, y_chunk, classes=[0, 1])
    assert len(clf.history_) == 4 and clf.predict_proba(X_test).shape == (2000, 2)


def test_inputs_are_not_modified(stream):
    X_train, y_train, *_, encoder = stream
    X_copy, y_copy = X_train.copy(), y_train.copy()
    MultiDomainEncoder().partial_fit(X_train)
    clf = MultiDomainClassifier(encoder=encoder, **SMALL).partial_fit(X_train, y_train, [0, 1])
    pd.testing.assert_frame_equal(X_train, X_copy)
    np.testing.assert_array_equal(y_train, y_copy)
    assert clf.encoder is encoder and not hasattr(clf.encoder, "net_")


def test_the_classifier_freezes_a_copy_of_the_encoder(stream):
    X_train, y_train, X_test, _, _ = stream
    encoder = streamed_encoder(X_train)
    vocabulary = encoder.vocabularies_["item"]
    clf = MultiDomainClassifier(encoder=encoder, **SMALL).partial_fit(X_train, y_train, [0, 1])
    with pytest.raises(ValueError, match="frozen"):
        clf.encoder_.partial_fit(X_test)
    # The caller's encoder goes on learning; the model's copy keeps its vocabularies.
    encoder.partial_fit(X_test.assign(item="brand-new"))
    assert "brand-new" in encoder.vocabularies_["item"]
    assert clf.encoder_.vocabularies_["item"].equals(vocabulary)
    clf.partial_fit(X_test.assign(item="brand-new"), np.zeros(len(X_test), dtype=int))
    assert (clf.encoder_.transform(X_test.assign(item="brand-new"))["x_cat"][:, 0] == 1).all()


# -- training ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, params", [(MultiDomainClassifier, SMALL), (HAMURClassifier, SMALL_HAMUR)]
)
def test_epochs_of_partial_fit_over_chunks_learn(stream, cls, params):
    X_train, y_train, X_test, y_test, encoder = stream
    clf = cls(encoder=encoder, **params)
    for _ in range(3):
        for X_chunk, y_chunk in chunks_of(X_train, y_train):
            clf.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    assert len(clf.history_) == 12 and "valid_loss" not in clf.history_[-1]
    assert roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]) > 0.75
    assert clf.domains_.tolist() == ["d0", "d1", "d2"] and clf.n_features_in_ == 4


def test_optimizer_state_is_kept_between_calls(stream):
    X_train, y_train, *_, encoder = stream
    clf = MultiDomainClassifier(encoder=encoder, **SMALL)
    clf.partial_fit(X_train[:1000], y_train[:1000], classes=[0, 1])
    optimizer, module = clf.net_.optimizer_, clf.net_.module_
    assert adam_steps(clf) == {4}  # 1,000 rows in batches of 256
    clf.partial_fit(X_train[1000:1500], y_train[1000:1500])
    assert adam_steps(clf) == {6}
    assert clf.net_.optimizer_ is optimizer and clf.net_.module_ is module


def test_random_state_makes_calls_reproducible(stream):
    X_train, y_train, X_test, _, encoder = stream

    def streamed(random_state):
        clf = MultiDomainClassifier(encoder=encoder, **dict(SMALL, random_state=random_state))
        for X_chunk, y_chunk in [*chunks_of(X_train, y_train)] * 2:
            clf.partial_fit(X_chunk, y_chunk, classes=[0, 1])
        return clf.predict_proba(X_test)

    np.testing.assert_array_equal(streamed(0), streamed(0))
    assert not np.array_equal(streamed(0), streamed(1))


def test_a_first_call_equals_fit_for_one_epoch(stream):
    X_train, y_train, X_test, _, encoder = stream
    streamed = MultiDomainClassifier(encoder=encoder, **SMALL).partial_fit(X_train, y_train, [0, 1])
    fitted = MultiDomainClassifier(encoder=encoder, max_epochs=1, early_stopping=False, **SMALL)
    fitted.fit(X_train, y_train)
    np.testing.assert_array_equal(streamed.predict_proba(X_test), fitted.predict_proba(X_test))


def test_classes_are_required_first_and_checked_later(stream):
    X_train, y_train, *_, encoder = stream
    clf = MultiDomainClassifier(encoder=encoder, **SMALL)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X_train[:500], y_train[:500])
    with pytest.raises(ValueError, match=r"2 distinct labels .* got \[0, 1, 2\]"):
        clf.partial_fit(X_train[:500], y_train[:500], classes=[0, 1, 2])
    assert not hasattr(clf, "classes_")
    # A chunk may hold one class; labels are those of classes, in any later chunk.
    ones = np.ones(500, dtype=int)
    clf.partial_fit(X_train[:500], ones, classes=np.array([1, 0]))
    assert clf.classes_.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"classes=\[0, 2\] differs .*\(\[0, 1\]\)"):
        clf.partial_fit(X_train[:500], y_train[:500], classes=[0, 2])
    with pytest.raises(ValueError, match=r"label\(s\) \[7\] not in classes \[0, 1\]"):
        clf.partial_fit(X_train[:500], np.where(ones, 7, 0))
    # After fit, classes_ is known.
    fitted = MultiDomainClassifier(max_epochs=1, **SMALL).fit(X_train, y_train)
    fitted.partial_fit(X_train[:500], y_train[:500])
    assert len(fitted.history_) == 2


def test_without_an_encoder_the_error_says_how_to_get_one(stream):
    X_train, y_train, *_ = stream
    with pytest.raises(ValueError, match=r"encoder.partial_fit\(X_chunk\) for each chunk") as info:
        HAMURClassifier(**SMALL_HAMUR).partial_fit(X_train, y_train, classes=[0, 1])
    assert "HAMURClassifier(encoder=encoder, **encoder.get_params())" in str(info.value)
    with pytest.raises(ValueError, match="'encoder' parameter .* not fitted"):
        HAMURClassifier(encoder=MultiDomainEncoder(), **SMALL_HAMUR).partial_fit(
            X_train, y_train, classes=[0, 1]
        )


def test_encoder_parameters_must_match_the_estimators(stream):
    X_train, y_train, *_ = stream
    encoder = streamed_encoder(X_train, min_frequency=5, categorical_cols=["item", "color"])
    clf = MultiDomainClassifier(encoder=encoder, **SMALL)
    with pytest.raises(InvalidParameterError, match=r"min_frequency=5 \(the .*: 1\)") as info:
        clf.partial_fit(X_train, y_train, classes=[0, 1])
    assert "categorical_cols=['item', 'color']" in str(info.value)
    clf.set_params(**encoder.get_params()).partial_fit(X_train, y_train, classes=[0, 1])
    assert clf.encoder_.min_frequency == 5


@pytest.mark.parametrize("handle_unknown_domain", ["error", "average"])
def test_a_domain_unknown_to_the_encoder_is_an_error_naming_it(stream, handle_unknown_domain):
    X_train, y_train, *_ = stream
    params = dict(handle_unknown_domain=handle_unknown_domain)
    encoder = streamed_encoder(X_train, **params)
    clf = MultiDomainClassifier(encoder=encoder, **params, **SMALL)
    X_new = X_train[:100].assign(domain=["d9"] * 50 + ["d0"] * 50)
    with pytest.raises(ValueError, match=r"Column 'domain' holds domain value\(s\) \['d9'\]"):
        clf.partial_fit(X_new, y_train[:100], classes=[0, 1])


@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
def test_bad_chunks_are_errors_naming_what_is_wrong(stream):
    X_train, y_train, *_, encoder = stream
    clf = MultiDomainClassifier(encoder=encoder, **SMALL).partial_fit(X_train, y_train, [0, 1])
    with pytest.raises(
        ValueError, match="X has 3 features, but MultiDomainClassifier is expecting 4"
    ):
        clf.partial_fit(X_train.drop(columns="price").to_numpy(), y_train)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.partial_fit(X_train.rename(columns={"price": "cost"}), y_train)
    with pytest.raises(ValueError, match="X has 4000 rows but y has 10 values"):
        clf.partial_fit(X_train, y_train[:10])
    with pytest.raises(ValueError, match="sample_weight"):
        clf.partial_fit(X_train, y_train, sample_weight=-np.ones(len(X_train)))
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        clone(clf).set_params(batch_size=0).partial_fit(X_train, y_train, classes=[0, 1])
    assert len(clf.history_) == 1


class FailAtEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("boom")


def test_a_failed_call_leaves_the_model_as_it_was(stream):
    X_train, y_train, X_test, _, encoder = stream
    fail = FailAtEpoch(epoch=2)
    clf = MultiDomainClassifier(encoder=encoder, callbacks=[("fail", fail)], **SMALL)
    clf.partial_fit(X_train[:1000], y_train[:1000], classes=[0, 1])
    proba, history = clf.predict_proba(X_test), [dict(row) for row in clf.history_]
    weights = {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}
    attributes = {name: id(value) for name, value in vars(clf).items()}
    with pytest.raises(RuntimeError, match="boom"):
        clf.partial_fit(X_train[1000:2000], y_train[1000:2000])
    assert {name: id(value) for name, value in vars(clf).items()} == attributes
    assert [dict(row) for row in clf.history_] == history and clf.history_ is clf.net_.history
    for name, value in clf.net_.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name
    assert adam_steps(clf) == {4}
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)
    # Training goes on as if the failed call had not happened.
    fail.epoch = None
    clf.partial_fit(X_train[1000:2000], y_train[1000:2000])
    assert adam_steps(clf) == {8} and len(clf.history_) == 2
    # A failed first call leaves the estimator without a model.
    fresh = MultiDomainClassifier(encoder=encoder, callbacks=[FailAtEpoch(1)], **SMALL)
    with pytest.raises(RuntimeError, match="boom"):
        fresh.partial_fit(X_train, y_train, classes=[0, 1])
    assert not any(name.endswith("_") for name in vars(fresh))


class InterruptInBatch(Callback):
    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(net.history) == 2:
            raise KeyboardInterrupt


def test_an_interrupted_call_warns_and_keeps_a_usable_model(stream):
    X_train, y_train, X_test, _, encoder = stream
    clf = MultiDomainClassifier(encoder=encoder, callbacks=[InterruptInBatch()], **SMALL)
    clf.partial_fit(X_train[:1000], y_train[:1000], classes=[0, 1])
    with pytest.warns(
        UserWarning, match="partial_fit was interrupted .*epoch 2 of history_"
    ) as info:
        clf.partial_fit(X_train[1000:2000], y_train[1000:2000])
    assert info[0].filename == __file__
    assert clf.history_[-1, "interrupted"] and clf.predict_proba(X_test).shape == (2000, 2)


def test_after_fit_with_early_stopping_partial_fit_continues_on_a_plain_net(stream):
    X_train, y_train, *_ = stream
    clf = MultiDomainClassifier(max_epochs=2, early_stopping=True, **SMALL).fit(X_train, y_train)
    fit_net, steps = clf.net_, adam_steps(clf)
    weights = {k: v.clone() for k, v in fit_net.module_.state_dict().items()}
    clf.partial_fit(X_train[:1000], y_train[:1000])  # no validation, no early stopping
    assert clf.net_ is not fit_net and clf.net_.train_split is None
    assert len(clf.history_) == 3 and "valid_loss" not in clf.history_[-1]
    assert adam_steps(clf) == {step + 4 for step in steps}
    # The fit's net is left as it was: its weights and optimizer state were copied.
    assert {int(s["step"]) for s in fit_net.optimizer_.state_dict()["state"].values()} == steps
    for name, value in fit_net.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name


def test_save_load_then_continue(stream, tmp_path):
    X_train, y_train, X_test, _, encoder = stream
    clf = HAMURClassifier(encoder=encoder, **SMALL_HAMUR)
    for X_chunk, y_chunk in chunks_of(X_train, y_train):
        clf.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    clf.save(tmp_path / "model.safetensors")
    loaded = HAMURClassifier.load(tmp_path / "model.safetensors", device="cpu")
    assert loaded.get_params()["encoder"] is None
    np.testing.assert_allclose(loaded.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-6)
    assert len(loaded.history_) == 4
    with pytest.raises(ValueError, match="frozen"):
        loaded.encoder_.partial_fit(X_train)
    proba = loaded.predict_proba(X_test)
    loaded.partial_fit(X_train[:1000], y_train[:1000])  # classes_ and encoder_ came with it
    assert len(loaded.history_) == 5 and not np.allclose(loaded.predict_proba(X_test), proba)


def test_clone_shares_the_fitted_encoder(stream):
    X_train, y_train, *_, encoder = stream
    clf = MultiDomainClassifier(encoder=encoder, **SMALL).partial_fit(X_train, y_train, [0, 1])
    copy = clone(clf)
    assert copy.encoder is encoder and not hasattr(copy, "net_")
    assert copy.get_params()["lr"] == clf.get_params()["lr"]
    copy.partial_fit(X_train, y_train, classes=[0, 1])
    assert copy.encoder_.cardinalities_ == encoder.cardinalities_


def test_checkpoints_are_written_and_a_fresh_estimator_resumes(stream, tmp_path):
    X_train, y_train, X_test, _, encoder = stream
    params = dict(encoder=encoder, checkpoint_dir=tmp_path, **SMALL)
    clf = MultiDomainClassifier(**params)
    for X_chunk, y_chunk in list(chunks_of(X_train, y_train))[:2]:
        clf.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    assert (tmp_path / "checkpoint.pt").is_file() and not list(tmp_path.glob(".*.tmp"))
    resumed = MultiDomainClassifier(warm_start=True, **params)
    resumed.partial_fit(X_train[2000:3000], y_train[2000:3000], classes=[0, 1])
    clf.partial_fit(X_train[2000:3000], y_train[2000:3000])
    assert len(resumed.history_) == 3
    np.testing.assert_array_equal(resumed.predict_proba(X_test), clf.predict_proba(X_test))
