"""skorch callbacks used by the estimators."""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from skorch.callbacks import Callback, EarlyStopping

from ._distributed import is_main_process, plain_module
from ._temporary_files import remove_stale_temporaries


class ValidationAUC(Callback):
    """Record the validation AUC, overall and per domain, each epoch.

    History keys: ``valid_auc`` (all validation rows), ``valid_auc_per_domain`` (a dict
    from domain index to AUC, for each domain whose validation rows hold both classes),
    ``valid_auc_mean`` (their unweighted mean) and ``valid_auc_min`` (the worst domain).
    The scores come from the forward passes skorch already runs on the validation set,
    so nothing is predicted twice. An AUC is NaN when its rows hold a single class.
    Sample weights, when given, weight the AUC.
    """

    def on_epoch_begin(self, net, **kwargs) -> None:
        self._scores, self._targets, self._weights, self._domains = [], [], [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs) -> None:
        if training:
            return
        Xi, yi = batch
        self._scores.append(y_pred.detach().float().cpu())
        self._targets.append(yi.cpu())
        self._domains.append(Xi["domain"].cpu())
        if "sample_weight" in Xi:
            self._weights.append(Xi["sample_weight"].cpu())

    def on_epoch_end(self, net, **kwargs) -> None:
        if not self._scores:
            return
        y = torch.cat(self._targets).numpy()
        scores = torch.cat(self._scores).numpy()
        domains = torch.cat(self._domains).numpy()
        weights = torch.cat(self._weights).numpy() if self._weights else None
        net.history.record("valid_auc", _auc(y, scores, weights))
        per_domain = domain_aucs(y, scores, domains, weights)
        values = list(per_domain.values())
        net.history.record("valid_auc_per_domain", per_domain)
        net.history.record("valid_auc_mean", float(np.mean(values)) if values else math.nan)
        net.history.record("valid_auc_min", float(np.min(values)) if values else math.nan)


def domain_aucs(
    y: np.ndarray, scores: np.ndarray, domains: np.ndarray, weights: np.ndarray | None = None
) -> dict[int, float]:
    """The (weighted) AUC of each domain whose rows hold both classes, by domain index."""
    per_domain = {}
    for d in np.unique(domains):
        rows = domains == d
        auc = _auc(y[rows], scores[rows], None if weights is None else weights[rows])
        if not math.isnan(auc):
            per_domain[int(d)] = auc
    return per_domain


def _auc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None) -> float:
    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, scores, sample_weight=weights))


#: A restored model whose validation AUC is this close to 0.5 is barely better than a
#: constant: early stopping warns.
NEAR_CHANCE_AUC = 0.02


class RestoringEarlyStopping(EarlyStopping):
    """skorch's early stopping with best-weights restore, a loss tie-break, and a warning.

    An epoch improves when its score beats the best by more than ``min_delta``
    (absolute). When an AUC is watched, an epoch whose AUC is within ``min_delta`` of
    the best AUC so far, and whose validation loss is lower than the best epoch's,
    improves too: AUC noise of a few ten-thousandths does not end training, or pick the
    weights, while the loss still falls. The AUC it is measured against is the highest
    seen, so tie-breaks cannot drift the AUC down step by step.

    It warns (naming the epoch and its validation scores) when the weights it restores
    are those of the first of several epochs, or when their validation AUC is within
    ``NEAR_CHANCE_AUC`` of 0.5: a model barely trained, which a user would otherwise
    get without a word (heavy regularisation can make the validation AUC peak at epoch
    1 while the validation loss still falls). ``warn_first_epoch=False`` keeps only the
    near-chance warning, for a model that does not start untrained (one on a logistic
    regression's offset often peaks after its first epoch).

    ``next_stage``, when given, is called with the net when patience runs out; if it
    returns True (it began a further stage of training) the best weights so far are
    loaded, patience restarts and training goes on, still measured against the best
    score so far, so a stage that never improves on it ends with the earlier stage's
    weights restored.
    """

    def __init__(
        self,
        *,
        min_delta: float = 1e-4,
        loss_monitor: str = "valid_loss",
        warn_first_epoch: bool = True,
        next_stage: Callable[[Any], bool] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(threshold=min_delta, threshold_mode="abs", **kwargs)
        self.min_delta = min_delta
        self.loss_monitor = loss_monitor
        self.warn_first_epoch = warn_first_epoch
        self.next_stage = next_stage

    def on_train_begin(self, net, **kwargs) -> None:
        super().on_train_begin(net, **kwargs)
        self.best_score_ = -math.inf if not self.lower_is_better else math.inf
        self.best_loss_ = math.inf

    def on_epoch_end(self, net, **kwargs) -> None:
        record = net.history[-1]
        score = record[self.monitor]
        loss = record.get(self.loss_monitor, math.nan)
        improved = self._is_score_improved(score) or self._loss_breaks_tie(score, loss)
        if not improved:
            self.misses_ += 1
        else:
            self.misses_ = 0
            better = max if not self.lower_is_better else min
            self.best_score_ = better(self.best_score_, score)
            self.dynamic_threshold_ = self._calc_new_threshold(self.best_score_)
            self.best_loss_ = loss
            self.best_epoch_ = record["epoch"]
            if self.load_best:
                self.best_model_weights_ = deepcopy(net.module_.state_dict())
        if self.misses_ == self.patience and self.next_stage is not None:
            if self.next_stage(net):
                if self.load_best and self.best_epoch_:
                    net.module_.load_state_dict(self.best_model_weights_)
                self.misses_ = 0
                self._sink(
                    f"Patience ran out at epoch {record['epoch']}: continuing from the "
                    f"best epoch ({self.best_epoch_}) with the next training stage.",
                    verbose=net.verbose,
                )
                return
        if self.misses_ == self.patience:
            self._sink(
                f"Stopping since {self.monitor} has not improved in the last "
                f"{self.patience} epochs.",
                verbose=net.verbose,
            )
            raise KeyboardInterrupt

    def _loss_breaks_tie(self, score: float, loss: float) -> bool:
        """An AUC within ``min_delta`` of the best, with a lower validation loss."""
        if self.lower_is_better or not np.isfinite(loss) or not np.isfinite(score):
            return False
        return score >= self.best_score_ - self.min_delta and loss < self.best_loss_

    def on_train_end(self, net, **kwargs) -> None:
        super().on_train_end(net, **kwargs)
        history = net.history
        if not self.load_best or not len(history) or not self.best_epoch_:
            return
        best = history[self.best_epoch_ - 1]
        auc = best.get("valid_auc")
        first = self.warn_first_epoch and self.best_epoch_ == 1 and len(history) > 1
        near_chance = auc is not None and np.isfinite(auc) and abs(auc - 0.5) < NEAR_CHANCE_AUC
        if not (first or near_chance):
            return
        scores = ", ".join(
            f"{key} {best[key]:.4f}"
            for key in ("valid_auc", "valid_loss", "train_loss")
            if isinstance(best.get(key), float)
        )
        why = "the first epoch's" if first else "near-chance"
        warnings.warn(
            f"Early stopping restored {why} weights: epoch {self.best_epoch_} of "
            f"{len(history)} ({scores}). The model may be barely trained. Check the "
            "validation scores in history_, lower the regularisation (weight_decay, "
            "dropout), raise patience, or set early_stopping_metric='loss'.",
            UserWarning,
            stacklevel=2,
        )


class StagedAdapters(Callback):
    """``adapter_training="staged"``: train the backbone alone first, then the adapters.

    At the start of training the module's adapters and hyper-network are switched off
    (the module computes exactly its backbone, as fast), unless the history it resumes
    ended in the second stage. When early stopping's patience runs out in the first
    stage, :meth:`next_stage` switches them on; early stopping then goes on from the
    backbone's best weights and score, so the adapters must improve the validation
    score to be kept. Each epoch records ``adapters_active`` in the history. At the end
    of training the adapters are always switched on: untrained, they are the identity.
    """

    def on_train_begin(self, net, **kwargs) -> None:
        records = [r for r in net.history if "adapters_active" in r]
        plain_module(net).adapters_active = bool(records) and bool(records[-1]["adapters_active"])

    def on_epoch_end(self, net, **kwargs) -> None:
        net.history.record("adapters_active", bool(plain_module(net).adapters_active))

    def next_stage(self, net) -> bool:
        """Switch the adapters on; False when they already are (no further stage)."""
        module = plain_module(net)
        if module.adapters_active:
            return False
        module.adapters_active = True
        return True

    def on_train_end(self, net, **kwargs) -> None:
        plain_module(net).adapters_active = True


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error once the training loss is NaN or infinite."""

    def on_epoch_end(self, net, **kwargs) -> None:
        # None when the epoch had no row of its own (a data-parallel empty chunk).
        loss = net.history[-1].get("train_loss")
        if loss is not None and not math.isfinite(loss):
            epoch = net.history[-1, "epoch"]
            raise FloatingPointError(
                f"The training loss became {loss} in epoch {epoch}. Lower the learning rate "
                f"(lr={net.lr}), check the inputs for extreme values, or use early stopping."
            )


CHECKPOINT_FILE = "checkpoint.pt"


def to_plain(value):
    """History values as plain Python objects: what ``torch.load(weights_only=True)`` reads
    and ``json.dumps`` writes (it turns the int keys of per-domain dicts into strings)."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def training_state(net) -> dict:
    """What a resumed fit needs: weights, optimizer state and the history so far."""
    return {
        "module": {k: v.detach().cpu() for k, v in plain_module(net).state_dict().items()},
        "optimizer": net.optimizer_.state_dict(),
        "history": to_plain(list(net.history)),
    }


def read_checkpoint(dirname) -> dict | None:
    """The checkpoint in ``dirname``, or None when there is none.

    An empty, truncated or foreign file is a ValueError naming it (torch's own message
    is not repeated: it suggests turning the safe loader off, which must never be done
    for a file that cannot be read safely).
    """
    path = Path(dirname) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        # weights_only: tensors and plain containers only, never arbitrary code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, EOFError, RuntimeError, ...
        raise ValueError(
            f"The checkpoint {str(path)!r} is empty, truncated or not a checkpoint written by "
            f"checkpoint_dir ({type(exc).__name__}). Delete it to start afresh, or set "
            "warm_start=False."
        ) from None
    if not (isinstance(state, dict) and {"module", "optimizer", "history"} <= set(state)):
        raise ValueError(
            f"The checkpoint {str(path)!r} is not a checkpoint written by checkpoint_dir (it "
            "lacks the module, optimizer or history). Delete it to start afresh, or set "
            "warm_start=False."
        )
    return state


def check_writable_folder(dirname, parameter: str) -> None:
    """Create ``dirname`` if needed and write (then remove) a file in it; an ``OSError``
    naming the folder and the parameter when that fails."""
    folder = Path(dirname)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-", suffix=".tmp")
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise OSError(
            f"{parameter}={str(folder)!r} is not a writable folder ({exc.strerror or exc}). "
            f"Choose a folder you can write to, or set {parameter}=None."
        ) from exc


class AtomicCheckpoint(Callback):
    """Save the training state to ``dirname/checkpoint.pt`` after every epoch.

    The state goes to a temporary file in the same folder first and is then renamed over
    the previous checkpoint (``os.replace`` is atomic), so a process killed at any moment
    leaves either the previous or the new checkpoint, never a half-written one. A fit
    with ``warm_start=True`` and the same ``checkpoint_dir`` resumes from it.
    """

    def __init__(self, dirname) -> None:
        self.dirname = dirname

    def on_train_begin(self, net, **kwargs) -> None:
        """Fail before the first epoch, not after it, when the folder is not writable."""
        if is_main_process():
            check_writable_folder(self.dirname, "checkpoint_dir")

    def on_epoch_end(self, net, **kwargs) -> None:
        if not is_main_process():  # data-parallel training: rank 0 writes
            return
        folder = Path(self.dirname)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder, ".checkpoint-*.tmp")
        tmp = None
        try:  # created inside the try, so an interruption at any point cleans it up
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".checkpoint-", suffix=".tmp")
            os.close(fd)
            torch.save(training_state(net), tmp)
            os.replace(tmp, folder / CHECKPOINT_FILE)
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
