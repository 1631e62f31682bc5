"""Fits train on this process's share of the CPUs, and give torch's thread count back."""

import multiprocessing
import os

import pytest
import torch
from skorch.callbacks import Callback

from sklearn_hamur import MultiDomainClassifier
from sklearn_hamur._net import fit_thread_count

from .conftest import FAST, make_data


class RecordThreads(Callback):
    """Writes torch's thread count during training into the history."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())


@pytest.fixture
def two_torch_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs an affinity mask of at least 2 CPUs to narrow",
)
def test_fit_uses_only_the_cpus_the_process_may_run_on(two_torch_threads):
    # torch's default thread count ignores the affinity mask (taskset, cgroup cpusets):
    # on one allowed CPU, two threads would wait for each other.
    X, y = make_data(n=200)
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})
    try:
        clf = MultiDomainClassifier(**dict(FAST, max_epochs=1), callbacks=[RecordThreads()])
        clf.fit(X, y)
    finally:
        os.sched_setaffinity(0, affinity)
    assert clf.history_[-1]["torch_threads"] == 1
    assert torch.get_num_threads() == 2  # restored after the fit


def test_fit_keeps_a_smaller_thread_count_and_restores_it():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X, y = make_data(n=200)
        clf = MultiDomainClassifier(**dict(FAST, max_epochs=1), callbacks=[RecordThreads()])
        clf.fit(X, y)
        assert clf.history_[-1]["torch_threads"] == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_a_worker_process_follows_joblibs_inner_thread_limit(monkeypatch, two_torch_threads):
    # joblib starts its workers with OMP_NUM_THREADS = inner_max_num_threads (by default
    # cpu_count() // n_jobs); a torch imported or set before that must still follow it.
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    monkeypatch.setattr("sklearn_hamur._net.cpu_count", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert fit_thread_count() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert fit_thread_count() == 2
    monkeypatch.undo()  # in the main process the caller's own setting wins
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr("sklearn_hamur._net.cpu_count", lambda: 2)
    assert fit_thread_count() == 2
