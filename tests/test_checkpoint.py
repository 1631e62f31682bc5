"""Resumable training: a fit killed with SIGKILL resumes from its last checkpoint."""

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._callbacks import CHECKPOINT_FILE

from .conftest import FAST_HAMUR, make_data

ROOT = Path(__file__).resolve().parents[1]

KILLED_RUN = """
import os, signal, sys
from skorch.callbacks import Callback
from tests.conftest import FAST_HAMUR, make_data
from sklearn_hamur import HAMURClassifier

class KillAfterEpoch(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, like a crash

X, y = make_data()
params = dict(FAST_HAMUR, max_epochs=6, checkpoint_dir=sys.argv[1])
HAMURClassifier(**params, callbacks=[("kill", KillAfterEpoch())]).fit(X, y)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_killed_fit_resumes_from_checkpoint(tmp_path):
    folder = tmp_path / "ckpt"
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(folder)], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in folder.iterdir()] == [CHECKPOINT_FILE]  # nothing half-written
    saved = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    assert len(saved["history"]) == 3

    X, y = make_data()
    epochs_run = []
    from skorch.callbacks import Callback

    class Count(Callback):
        def on_epoch_end(self, net, **kwargs):
            epochs_run.append(len(net.history))

    clf = HAMURClassifier(
        **{**FAST_HAMUR, "max_epochs": 6},
        checkpoint_dir=folder,
        warm_start=True,
        callbacks=[("count", Count())],
    ).fit(X, y)
    assert epochs_run == [4, 5, 6]  # only the missing epochs ran
    assert clf.history_[:, "epoch"] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(v) for v in clf.history_[:, "train_loss"])
    assert len(torch.load(folder / CHECKPOINT_FILE, weights_only=True)["history"]) == 6


def test_checkpoint_written_every_epoch_and_warm_start_in_memory(tmp_path):
    X, y = make_data()
    clf = MultiDomainClassifier(
        hidden_units=(8,), max_epochs=2, batch_size=128, random_state=0, checkpoint_dir=tmp_path
    ).fit(X, y)
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert len(state["history"]) == 2
    for name, tensor in clf.net_.module_.state_dict().items():
        torch.testing.assert_close(state["module"][name], tensor)
    # In memory: raising max_epochs and refitting with warm_start continues the run.
    before = clf.predict_proba(X)
    clf.set_params(max_epochs=4, warm_start=True, checkpoint_dir=None).fit(X, y)
    assert clf.history_[:, "epoch"] == [1, 2, 3, 4]
    assert not np.allclose(clf.predict_proba(X), before)


def test_warm_start_with_different_data_is_a_clear_error(tmp_path):
    X, y = make_data()
    MultiDomainClassifier(hidden_units=(8,), max_epochs=1, checkpoint_dir=tmp_path).fit(X, y)
    X2 = X.assign(domain=X["domain"].replace({"d2": "d1"}))
    with pytest.raises(ValueError, match="warm_start continues a previous training run"):
        MultiDomainClassifier(
            hidden_units=(8,), max_epochs=2, checkpoint_dir=tmp_path, warm_start=True
        ).fit(X2, y)


def test_nan_loss_stops_with_a_clear_error():
    X, y = make_data()
    with pytest.raises(
        FloatingPointError, match=r"became nan in epoch \d+\. Lower the learning rate"
    ):
        MultiDomainClassifier(hidden_units=(8,), max_epochs=3, lr=1e30, random_state=0).fit(X, y)
