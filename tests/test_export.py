"""Export to ONNX and serving with onnxruntime and numpy (sklearn_hamur.serving).

Every backbone, with adapters (HAMURClassifier) and without (MultiDomainClassifier), is
exported and served on 1,000 rows that hold unseen categories, missing values and
domains unseen in training: the served probabilities equal ``predict_proba``'s to 1e-5,
and a row alone equals the row in a batch. The serving module encodes as the training
encoder does, value for value, and a serving process imports neither torch, skorch nor
scikit-learn.
"""

import datetime
import json
import subprocess
import sys
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier, serving
from sklearn_hamur import encoder as training_encoder
from sklearn_hamur.modules.backbones import BACKBONES, SortedBatch
from sklearn_hamur.modules.backbones.base import DeepBackbone, make_heads
from sklearn_hamur.modules.mlp import MLP
from sklearn_hamur.serving import load_exported

from .conftest import make_data

TINY = dict(
    hidden_units=(8,),
    bottom_units=(8,),
    tower_units=(8,),
    expert_units=(8,),
    n_experts=2,
    auxiliary_units=(4,),
    d_embedding=4,
    max_epochs=1,
    batch_size=128,
    random_state=0,
)
ADAPTER = dict(adapter_rank=3, d_adapter=4, hyper_hidden_units=(8,))


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models: one torch thread (the conftest fixture), for every test here."""


def messy_rows(n=1000, seed=1) -> pd.DataFrame:
    """Rows like make_data's, with unseen and missing categories, missing numbers and
    rows of a domain unseen in training."""
    X, _ = make_data(n, seed=seed)
    X = X.copy()
    X.loc[::7, "item"] = "never-seen"
    X.loc[3::11, "item"] = None
    X.loc[::13, "color"] = np.nan
    X.loc[::5, "price"] = np.nan
    X.loc[2::9, "domain"] = "d9"
    return X


def served(clf, tmp_path, **kwargs):
    return load_exported(clf.export(tmp_path / "export"), n_threads=1, **kwargs)


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
@pytest.mark.parametrize("cls", [HAMURClassifier, MultiDomainClassifier])
def test_served_probabilities_equal_predict_proba(backbone, cls, tmp_path):
    X, y = make_data(300)
    adapters = ADAPTER if cls is HAMURClassifier else {}
    params = dict(TINY, backbone=backbone, handle_unknown_domain="average", **adapters)
    clf = cls(**params).fit(X, y)
    model = served(clf, tmp_path)
    rows = messy_rows()
    expected = clf.predict_proba(rows)
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-5)
    # A row alone equals the row in the batch: a known domain, an unseen one, a missing item.
    for i in (0, 2, 3):
        np.testing.assert_allclose(model.predict_proba(rows.iloc[[i]]), proba[[i]], atol=1e-6)
    np.testing.assert_array_equal(model.predict(rows[:50]), clf.predict(rows[:50]))


def test_two_adapters_and_shared_adapters(tmp_path):
    X, y = make_data(300)
    for extra in (dict(n_adapters=2, hidden_units=(8, 8)), dict(share_adapters=True)):
        params = dict(TINY, **ADAPTER, backbone="mlp", handle_unknown_domain="average")
        clf = HAMURClassifier(**{**params, **extra}).fit(X, y)
        model = served(clf, tmp_path / str(len(extra)))
        rows = messy_rows(200)
        np.testing.assert_allclose(model.predict_proba(rows), clf.predict_proba(rows), atol=1e-5)


def test_graph_inputs_outputs_and_encoder_json(tmp_path):
    X, y = make_data(300)
    clf = HAMURClassifier(**TINY, **ADAPTER).fit(X, y)
    folder = clf.export(tmp_path / "export")
    assert sorted(p.name for p in folder.iterdir()) == ["encoder.json", "model.onnx"]
    model = load_exported(folder)
    inputs = {i.name: (i.type, i.shape) for i in model.session.get_inputs()}
    assert inputs == {
        "x_cat": ("tensor(int64)", ["n_rows", 2]),
        "x_num": ("tensor(float)", ["n_rows", 1]),
        "domain": ("tensor(int64)", ["n_rows"]),
    }
    assert [o.name for o in model.session.get_outputs()] == ["logit", "probability"]
    spec = json.loads((folder / "encoder.json").read_text())
    assert spec["format"] == "sklearn-hamur-export" and spec["format_version"] == 1
    assert spec["categorical"]["columns"] == ["item", "color"]
    assert spec["categorical"]["vocabularies"][1] == ["blue", "green", "red"]
    assert spec["domain"] == {
        "column": "domain",
        "values": ["d0", "d1", "d2"],
        "handle_unknown": "error",
        "unknown_index": -1,
    }
    assert spec["numeric"]["means"] == [float(clf.encoder_.means_[0])]
    assert model.classes_ == [0, 1] and model.domains_ == ["d0", "d1", "d2"]
    # The graph's own probability output is the sigmoid of its logit.
    encoded = model.encode(X[:20])
    logit, probability = model.session.run(None, encoded)
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-logit)), atol=1e-6)
    np.testing.assert_allclose(probability, clf.predict_proba(X[:20])[:, 1], atol=1e-5)


def test_unknown_domain_refused_without_average(tmp_path):
    X, y = make_data(300)
    clf = MultiDomainClassifier(**TINY, backbone="star").fit(X, y)
    model = served(clf, tmp_path)
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    with pytest.raises(ValueError, match=r"'domain' holds domain value\(s\) \['d9'\].*'average'"):
        model.predict_proba(X.assign(domain="d9"))


def test_inputs_without_numbers_categories_or_domain_column(tmp_path):
    X, y = make_data(300)
    for i, frame in enumerate([X.drop(columns="price"), X[["domain", "price"]]]):
        clf = MultiDomainClassifier(**TINY).fit(frame, y)
        model = served(clf, tmp_path / str(i))
        assert [i.name for i in model.session.get_inputs()] == ["x_cat", "x_num", "domain"]
        np.testing.assert_allclose(model.predict_proba(frame), clf.predict_proba(frame), atol=1e-5)
    single = X.drop(columns="domain")
    clf = HAMURClassifier(**TINY, **ADAPTER, domain_col=None).fit(single, y)
    model = served(clf, tmp_path / "single")
    np.testing.assert_allclose(model.predict_proba(single), clf.predict_proba(single), atol=1e-5)


def mixed_frame(n=400, seed=0) -> pd.DataFrame:
    """Columns of every kind the encoder reads, values that share and differ in category."""
    rng = np.random.default_rng(seed)
    mixed = np.array([1, "1", 1.0, True, None, 2.5, "a", np.nan, Decimal("2.50"), -0.0], object)
    stamp = pd.Timestamp("2024-01-02 03:04:05")
    return pd.DataFrame(
        {
            "domain": rng.choice([3, 5, 8], size=n),
            "mixed": rng.choice(mixed, size=n),
            "code": rng.integers(0, 6, size=n),
            "flag": rng.random(n) < 0.5,
            "grade": pd.Categorical(rng.choice(["lo", "hi", None], size=n)),
            "ratio": rng.choice([0.5, 1.0, 2.25, np.nan], size=n),
            "when": [stamp + pd.Timedelta(days=int(d)) for d in rng.integers(0, 3, size=n)],
            "amount": rng.choice(np.array([1.5, "2.5", None, " 3e1 ", 7, True], object), size=n),
            "count": rng.integers(0, 1000, size=n),
        }
    )


CATEGORICAL = ["mixed", "code", "flag", "grade", "ratio", "when"]
NUMERIC = ["amount", "count"]


def test_encoding_equals_the_training_encoder(tmp_path):
    X = mixed_frame()
    y = np.arange(len(X)) % 2
    clf = MultiDomainClassifier(
        **TINY, categorical_cols=CATEGORICAL, numeric_cols=NUMERIC, handle_unknown_domain="average"
    ).fit(X[:300], y[:300])
    model = served(clf, tmp_path)
    # Rows of fit and unseen rows: new values, a new domain (-1), missing cells.
    rows = pd.concat([X, mixed_frame(200, seed=1).assign(code=7, domain=4)], ignore_index=True)
    rows.loc[::3, "amount"] = np.nan
    expected = clf.encoder_.transform(rows)
    got = model.encode(rows)
    for name in ("x_cat", "x_num", "domain"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert got["x_num"].dtype == np.float32 and got["x_cat"].dtype == np.int64
    np.testing.assert_allclose(model.predict_proba(rows), clf.predict_proba(rows), atol=1e-5)
    # The same rows as plain Python columns, as one-row dicts, as a list of records.
    columns = {name: rows[name].tolist() for name in rows}
    np.testing.assert_array_equal(model.encode(columns)["x_cat"], expected["x_cat"])
    records = rows.iloc[:30].to_dict("records")
    np.testing.assert_array_equal(model.encode(records)["x_cat"], expected["x_cat"][:30])
    for i in (0, 401):
        alone = model.encode(rows.iloc[i].to_dict())
        np.testing.assert_array_equal(alone["x_cat"], expected["x_cat"][[i]])
        np.testing.assert_array_equal(alone["x_num"], expected["x_num"][[i]])


CATEGORY_VALUES = [
    1,
    -7,
    2**70,
    1.0,
    -0.0,
    2.5,
    float(2**70),
    float("inf"),
    np.float32(0.1),
    np.int8(3),
    np.uint64(2**63),
    True,
    np.bool_(False),
    "x",
    "1.0",
    np.str_("y"),
    b"raw",
    Decimal("1.00"),
    Decimal("2.5"),
    Decimal("NaN"),
    None,
    np.nan,
    pd.NA,
    pd.NaT,
    np.datetime64("NaT"),
    datetime.date(2024, 5, 6),
    datetime.datetime(2024, 5, 6, 7, 8, 9, 10),
    datetime.datetime(2024, 5, 6, 7, 8, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    pd.Timestamp("2024-05-06 07:08:09.000000001"),
    np.datetime64("2024-05-06T07:08"),
    datetime.timedelta(days=1, seconds=5),
    pd.Timedelta(-90, unit="s"),
    np.timedelta64(3, "h"),
]


@pytest.mark.parametrize("value", CATEGORY_VALUES, ids=repr)
def test_canonical_category_equals_the_encoders(value):
    assert serving.canonical_category(value) == training_encoder.canonical_category(value)


CONTAINERS = [[1], (1,), {"a": 1}, {1}, frozenset({1}), np.array([1]), pd.Series([1])]


@pytest.mark.parametrize("value", CONTAINERS, ids=repr)
def test_containers_are_not_categories(value):
    for canonical in (serving.canonical_category, training_encoder.canonical_category):
        with pytest.raises(TypeError, match="is not a category"):
            canonical(value)


SERVE_WITHOUT_TORCH = """
import json, sys
for name in ("pandas", "torch", "skorch", "sklearn", "scipy"):
    sys.modules[name] = None  # any import of them fails
from sklearn_hamur.serving import load_exported
model = load_exported(sys.argv[1], n_threads=1)
columns = json.loads(sys.argv[2])
print(json.dumps(model.predict_proba(columns)[:, 1].tolist()))
heavy = [m for m in sys.modules if m.split(".")[0] in ("torch", "skorch", "sklearn", "scipy")]
assert all(sys.modules[m] is None for m in heavy), heavy
"""


def test_serving_process_needs_neither_torch_nor_sklearn_nor_pandas(tmp_path):
    X, y = make_data(300)
    clf = HAMURClassifier(**TINY, **ADAPTER, handle_unknown_domain="average").fit(X, y)
    folder = clf.export(tmp_path / "export")
    rows = messy_rows(40).astype(object).where(messy_rows(40).notna(), None)
    columns = {name: rows[name].tolist() for name in rows}
    out = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_TORCH, str(folder), json.dumps(columns)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(json.loads(out.stdout), clf.predict_proba(rows)[:, 1], atol=1e-5)


# -- errors ------------------------------------------------------------------------------


def test_unfitted_export_raises_not_fitted(tmp_path):
    for cls in (HAMURClassifier, MultiDomainClassifier):
        with pytest.raises(NotFittedError):
            cls().export(tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    X, y = make_data(300)
    return HAMURClassifier(**TINY, **ADAPTER, handle_unknown_domain="average").fit(X, y), X


def test_unknown_format_lists_the_valid_ones(fitted, tmp_path):
    clf, _ = fitted
    with pytest.raises(ValueError, match=r"Unknown export format 'tflite'; expected one of 'onnx'"):
        clf.export(tmp_path, format="tflite")


def test_missing_onnx_names_the_extra(fitted, tmp_path, monkeypatch):
    clf, _ = fitted
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-hamur\[export\]'"):
        clf.export(tmp_path)


class BatchSizeBranch(DeepBackbone):
    """A backbone whose output depends on the batch size through Python control flow."""

    def _build(self, *, d_hidden, dropout):
        self.tower = MLP(d_in=self.embedding.d_out, d_hidden=d_hidden, d_out=None, dropout=0.0)
        self.heads = make_heads(self.tower.d_hidden_out, self.n_domains)

    def _forward_sorted(self, batch: SortedBatch) -> torch.Tensor:
        logits = self.heads(self.tower(batch.e), batch.groups).squeeze(-1)
        return logits + 1.0 if batch.e.shape[0] > 8 else logits


def test_backbone_with_data_dependent_control_flow_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(BACKBONES, "branchy", BatchSizeBranch)
    X, y = make_data(300)
    clf = MultiDomainClassifier(**TINY, backbone="branchy").fit(X, y)
    with pytest.raises(ValueError, match=r"backbone='branchy' cannot be exported.*control flow"):
        clf.export(tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_mixed_precision_export_warns_and_computes_in_float32(tmp_path):
    X, y = make_data(300)
    clf = MultiDomainClassifier(**TINY, precision="bf16-mixed").fit(X, y)
    with pytest.warns(UserWarning, match=r"precision='bf16-mixed'.*float32.*autocast"):
        folder = clf.export(tmp_path / "export")
    model = load_exported(folder, n_threads=1)
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X), atol=2e-2)


def test_serving_errors_name_the_problem(fitted, tmp_path):
    clf, X = fitted
    folder = clf.export(tmp_path / "export")
    model = load_exported(folder, n_threads=1)
    with pytest.raises(ValueError, match=r"Column\(s\) \['price'\].*missing from X"):
        model.predict_proba(X.drop(columns="price"))
    with pytest.raises(ValueError, match=r"Numeric column 'price' holds non-numeric.*'cheap'"):
        model.predict_proba({"domain": "d0", "item": "item1", "color": "red", "price": "cheap"})
    with pytest.raises(ValueError, match=r"Numeric column 'price' holds infinite"):
        model.predict_proba(X[:3].assign(price=np.inf))
    with pytest.raises(ValueError, match=r"Domain column 'domain' has 1 missing value"):
        model.predict_proba({"domain": None, "item": "item1", "color": "red", "price": 1.0})
    with pytest.raises(ValueError, match=r"different lengths"):
        model.predict_proba({"domain": ["d0"], "item": ["a", "b"], "color": ["r"], "price": [1]})
    with pytest.raises(TypeError, match=r"Categorical column 'item' holds cells"):
        model.predict_proba({"domain": ["d0"], "item": [["a"]], "color": ["r"], "price": [1.0]})
    (folder / "model.onnx").write_bytes((folder / "model.onnx").read_bytes() + b"\0")
    with pytest.raises(ValueError, match=r"SHA-256 differs"):
        load_exported(folder)
    spec = json.loads((folder / "encoder.json").read_text())
    (folder / "encoder.json").write_text(json.dumps({**spec, "format_version": 99}))
    with pytest.raises(ValueError, match=r"export format version 99"):
        load_exported(folder)
    with pytest.raises(FileNotFoundError, match=r"the folder that export wrote"):
        load_exported(tmp_path / "nowhere")


def test_export_is_reproducible_and_leaves_the_estimator_as_it_was(fitted, tmp_path):
    clf, X = fitted
    before, mode = clf.predict_proba(X), clf.net_.module_.training
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation or tracer warning reaches the user
        first = clf.export(tmp_path / "a")
    second = clf.export(tmp_path / "b")
    assert (first / "model.onnx").read_bytes() == (second / "model.onnx").read_bytes()
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.net_.module_.training is mode
