"""Out-of-core data-parallel training: two torchrun processes (gloo, CPU), each reading
only its own Parquet files, with uneven numbers and sizes of chunks."""

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier, MultiDomainEncoder, even_chunks, rank_shard
from sklearn_hamur._distributed import StepPlan

from .conftest import make_data
from .test_distributed import torchrun

#: Rows of each file: process 0 reads files 0, 2 and 4 (8 chunks of at most 600 rows),
#: process 1 files 1 and 3 (3 chunks); only file 3 holds domain "d3".
FILE_ROWS = (1500, 700, 1300, 500, 900)
CHUNK_ROWS = 600
ENCODER = dict(categorical_cols=["item", "color", "user"], numeric_cols=["price"], min_frequency=2)
PARAMS = dict(
    hidden_units=(16, 8),
    adapter_rank=3,
    d_adapter=4,
    hyper_hidden_units=(8,),
    batch_size=256,
    lr=0.01,
    random_state=0,
    device="cpu",
)
EPOCHS = 3

SCRIPT = f"""
import hashlib, json, sys
from pathlib import Path

import pyarrow.parquet as pq
import torch
import torch.distributed as dist

torch.set_num_threads(1)
from sklearn_hamur import HAMURClassifier, MultiDomainEncoder, even_chunks, rank_shard
from sklearn_hamur._distributed import plain_module

out = Path(sys.argv[1])
opened = []  # every Parquet file this process opens, whoever opens it


def audit(event, args):
    if event == "open" and str(args[0]).endswith(".parquet"):
        opened.append(Path(args[0]).name)


sys.addaudithook(audit)
files = rank_shard(sorted((out / "data").glob("*.parquet")))


def chunks(paths):
    for path in paths:
        with open(path, "rb") as f:  # a Python file object: seen by the audit hook
            for batch in pq.ParquetFile(f).iter_batches(batch_size={CHUNK_ROWS}):
                X = batch.to_pandas()
                yield X, X.pop("label").to_numpy()


def digest(clf):
    state = plain_module(clf.net_).state_dict()
    optimizer = clf.net_.optimizer_.state_dict()["state"]
    tensors = [*state.values(), *(t for s in optimizer.values() for t in s.values())]
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in tensors)).hexdigest()


encoder = MultiDomainEncoder(**{ENCODER!r})
for X, _ in chunks(files):
    encoder.partial_fit(X)
# Before the merge, each process's encoder knows its own rows only.
try:
    clf = HAMURClassifier(encoder=encoder, **encoder.get_params(), **{PARAMS!r})
    clf.partial_fit(*next(chunks(files)), classes=[0, 1])
    unmerged = None
except ValueError as exc:
    unmerged = str(exc)
encoder.all_reduce()
clf = HAMURClassifier(
    encoder=encoder, **encoder.get_params(), **{PARAMS!r}, checkpoint_dir=str(out / "ckpt")
)
# A chunk that fails on process 1 stops the call on both; the model stays untrained.
X, y = next(chunks(files))
try:
    clf.partial_fit(X.assign(domain="nowhere") if dist.get_rank() == 1 else X, y, classes=[0, 1])
except (ValueError, RuntimeError) as exc:
    failed = f"{{type(exc).__name__}}: {{exc}}"
assert not hasattr(clf, "net_")
digests, rows = [], 0
for epoch in range({EPOCHS}):
    for X, y in even_chunks(chunks(files)):
        clf.partial_fit(X, y, classes=[0, 1])
        digests.append(digest(clf))
        rows += len(X)
rank = dist.get_rank()
if rank == 0:
    clf.save(out / "model.safetensors")
report = dict(
    opened=sorted(set(opened)),
    unmerged=unmerged,
    failed=failed,
    digests=digests,
    rows=rows,
    epochs=len(clf.history_),
    vocabularies={{c: v.tolist() for c, v in encoder.vocabularies_.items()}},
    means=encoder.means_.tolist(),
    scales=encoder.scales_.tolist(),
    domains=encoder.domains_.tolist(),
)
(out / f"rank{{rank}}.json").write_text(json.dumps(report))
dist.destroy_process_group()
"""


def write_files(folder) -> list:
    folder.mkdir()
    paths = []
    for i, n in enumerate(FILE_ROWS):
        X, y = make_data(n=n, seed=10 + i, n_domains=4 if i == 3 else 3)
        users = np.random.default_rng(i).integers(0, 1500, size=n)
        frame = X.assign(user=[f"u{u}" for u in users], label=y)
        paths.append(folder / f"part-{i}.parquet")
        frame.to_parquet(paths[-1], row_group_size=CHUNK_ROWS)
    return paths


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun on POSIX")
def test_each_process_reads_its_own_files_and_all_end_alike(tmp_path):
    paths = write_files(tmp_path / "data")
    script = tmp_path / "stream.py"
    script.write_text(SCRIPT)
    torchrun(script, str(tmp_path), timeout=120)  # a hang would time out
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    # Each process opened its own files only, and together they read every row.
    assert reports[0]["opened"] == [p.name for p in paths[0::2]]
    assert reports[1]["opened"] == [p.name for p in paths[1::2]]
    assert reports[0]["rows"] + reports[1]["rows"] == EPOCHS * sum(FILE_ROWS)
    # Unmerged encoders are refused on every process, with the fix in the message.
    for report in reports:
        assert "encoder.all_reduce()" in report["unmerged"]

    # A bad chunk on process 1 is its own error there, and named on process 0.
    assert reports[1]["failed"].startswith("ValueError: Column 'domain' holds domain value")
    assert reports[0]["failed"].startswith("RuntimeError: HAMURClassifier.partial_fit failed")
    assert "process 1 (ValueError: Column 'domain'" in reports[0]["failed"]

    # The merged encoders are identical, and equal to one fitted on all the files.
    whole = pd.concat([pd.read_parquet(p) for p in paths]).drop(columns="label")
    single = MultiDomainEncoder(**ENCODER).fit(whole)
    for key in ("vocabularies", "means", "scales", "domains"):
        assert reports[0][key] == reports[1][key], key
    assert reports[0]["vocabularies"] == {c: v.tolist() for c, v in single.vocabularies_.items()}
    assert reports[0]["domains"] == ["d0", "d1", "d2", "d3"]
    np.testing.assert_allclose(reports[0]["means"], single.means_, rtol=1e-12)
    np.testing.assert_allclose(reports[0]["scales"], single.scales_, rtol=1e-12)

    # After every call (8 per epoch: process 1 pads its 3 chunks with empty ones) both
    # processes hold the same weights and optimizer state, bit for bit.
    assert reports[0]["digests"] == reports[1]["digests"]
    assert len(reports[0]["digests"]) == reports[0]["epochs"] == EPOCHS * 8

    # Rank 0 alone wrote the checkpoint and the model, which loads in one process.
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint.pt"]
    loaded = HAMURClassifier.load(tmp_path / "model.safetensors", device="cpu")
    X_test, y_test = make_data(n=2000, seed=99)
    X_test = X_test.assign(user="u1")
    auc = roc_auc_score(y_test, loaded.predict_proba(X_test)[:, 1])
    assert auc > 0.7, auc


def test_a_step_plan_weights_each_process_by_its_rows():
    # 700 and 300 rows in batches of 256: 3 and 2 batches; process 1 pads the third step.
    plan = StepPlan(rows=(700, 300), rank=1, batch_size=256)
    assert plan.n_steps == 3
    assert plan.batch_rows(0).tolist() == [256, 256, 188]
    assert plan.batch_rows(1).tolist() == [256, 44, 0]
    np.testing.assert_allclose(plan.loss_scales(), [1.0, 2 * 44 / 300, 0.0])
    # DDP averages over the 2 processes: the weights sum to 2 in every step.
    both = plan.loss_scales() + StepPlan(rows=(700, 300), rank=0, batch_size=256).loss_scales()
    np.testing.assert_allclose(both, 2.0)


def test_outside_torchrun_the_helpers_change_nothing(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert rank_shard(iter(["a", "b", "c"])) == ["a", "b", "c"]
    chunks = [(np.arange(3), np.arange(3)), (np.arange(1), np.arange(1))]
    assert list(even_chunks(chunks)) == chunks
    encoder = MultiDomainEncoder().fit(make_data()[0])
    vocabularies = dict(encoder.vocabularies_)
    assert encoder.all_reduce() is encoder
    assert all(encoder.vocabularies_[c] is v for c, v in vocabularies.items())


def test_rank_shard_takes_every_world_size_th_item(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "1")
    assert rank_shard(range(8)) == [1, 4, 7]


def test_presorted_batches_count_every_domain_of_the_module():
    # A chunk without the last domains (partial_fit): one count per domain all the same.
    import torch

    from sklearn_hamur._data import BatchIterator, MultiDomainDataset

    dataset = MultiDomainDataset({"domain": np.array([1, 0, 1])}, np.zeros(3))
    iterator = BatchIterator(dataset, batch_size=8, presort_domains=True, n_domains=4)
    ((X, _),) = list(iterator)
    assert X["domain_counts"].tolist() == [1, 2, 0, 0]
    assert torch.equal(X["domain"], torch.tensor([0, 1, 1]))
