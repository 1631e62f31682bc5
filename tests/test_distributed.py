"""Data-parallel training: two torchrun processes (gloo, CPU) against one process, and
each process's GPU under torchrun (simulated: no GPU is needed)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier
from sklearn_hamur._distributed import process_device, resolve_device

from .conftest import make_data

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(
    hidden_units=(16, 8),
    adapter_rank=3,
    d_adapter=4,
    hyper_hidden_units=(8,),
    dropout=0.0,
    max_epochs=8,
    batch_size=256,
    lr=0.01,
    early_stopping=True,
    random_state=0,
)
SCRIPT = f"""
import sys
import numpy as np
import torch
import torch.distributed as dist
torch.set_num_threads(1)
from tests.conftest import make_data
from sklearn_hamur import HAMURClassifier
X, y = make_data(n=4000)
X_test, _ = make_data(n=1000, seed=7)
clf = HAMURClassifier(**{PARAMS!r}, checkpoint_dir=sys.argv[1] + "/ckpt").fit(X, y)
if dist.get_rank() == 0:
    clf.save(sys.argv[1] + "/model.safetensors")
    np.save(sys.argv[1] + "/proba.npy", clf.predict_proba(X_test))
    np.save(sys.argv[1] + "/epochs.npy", np.array(len(clf.history_)))
dist.destroy_process_group()
"""


def torchrun(script: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """Run ``script`` in two torchrun processes (gloo on the CPU) from the repository root."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            *args,
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=timeout,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun on POSIX")
def test_two_processes_match_one_process_and_the_model_loads_alone(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    torchrun(script, str(tmp_path), timeout=240)
    X, y = make_data(n=4000)
    X_test, y_test = make_data(n=1000, seed=7)
    single = HAMURClassifier(**PARAMS).fit(X, y)
    parallel = np.load(tmp_path / "proba.npy")
    auc_single = roc_auc_score(y_test, single.predict_proba(X_test)[:, 1])
    auc_parallel = roc_auc_score(y_test, parallel[:, 1])
    # Same total batch size; the shards' batch-norm statistics and shuffling differ,
    # so the two runs agree to a tolerance, not bit for bit.
    # Stated tolerance: test AUCs within 0.02 (probabilities are not compared row by row:
    # early stopping may pick different epochs).
    assert auc_single > 0.7 and auc_parallel > 0.7
    assert abs(auc_single - auc_parallel) < 0.02, (auc_single, auc_parallel)
    # The model saved by rank 0 loads in a plain single process and predicts the same.
    loaded = HAMURClassifier.load(tmp_path / "model.safetensors", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(X_test), parallel, atol=1e-6)
    # Only rank 0 wrote the checkpoint folder: one file, nothing half-written.
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint.pt"]


@pytest.fixture
def rank_2_of_a_node_with_4_gpus(monkeypatch):
    """torchrun's environment for local rank 2 with 4 GPUs; records the devices set."""
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("RANK", "6")
    monkeypatch.setenv("LOCAL_RANK", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    devices_set = []
    monkeypatch.setattr(torch.cuda, "set_device", devices_set.append)
    return devices_set


@pytest.mark.parametrize(
    "device, expected", [("auto", "cuda:2"), ("cuda", "cuda:2"), ("cuda:1", "cuda:1")]
)
def test_each_torchrun_process_uses_its_own_gpu(rank_2_of_a_node_with_4_gpus, device, expected):
    assert process_device(resolve_device(device)) == expected
    assert rank_2_of_a_node_with_4_gpus == [expected]


def test_cpu_and_single_process_devices_are_left_alone(rank_2_of_a_node_with_4_gpus, monkeypatch):
    assert process_device("cpu") == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert process_device("cuda") == "cuda"
    assert rank_2_of_a_node_with_4_gpus == []


def test_more_processes_than_gpus_is_a_clear_error(rank_2_of_a_node_with_4_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "4")
    with pytest.raises(ValueError, match="local rank 4, but this process sees 4 GPU"):
        process_device("cuda")


class _ProcessGroupCreated(Exception):
    """Raised by the fake ``init_process_group``: there is no GPU here to go on with."""


def _fit_until_the_process_group(monkeypatch, calls: list, **params) -> None:
    """Fit under the simulated torchrun; record the backend asked for, then stop."""

    def init_process_group(backend, **kwargs):
        calls.append(backend)
        raise _ProcessGroupCreated

    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", init_process_group)
    X, y = make_data()
    with pytest.raises(_ProcessGroupCreated):
        HAMURClassifier(**{**PARAMS, **params}).fit(X, y)


def test_fit_sets_the_gpu_before_creating_the_nccl_process_group(
    rank_2_of_a_node_with_4_gpus, monkeypatch
):
    calls = rank_2_of_a_node_with_4_gpus
    _fit_until_the_process_group(monkeypatch, calls)
    assert calls == ["cuda:2", "nccl"]


def test_cpu_training_on_a_machine_with_gpus_joins_a_gloo_group(
    rank_2_of_a_node_with_4_gpus, monkeypatch
):
    calls = rank_2_of_a_node_with_4_gpus
    _fit_until_the_process_group(monkeypatch, calls, device="cpu")
    assert calls == ["gloo"]  # NCCL cannot reduce CPU tensors
