"""skorch callbacks used by the estimators."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from skorch.callbacks import Callback


class ValidationAUC(Callback):
    """Record ``valid_auc`` each epoch from the outputs of the validation pass.

    The scores come from the forward passes skorch already runs on the validation set,
    so nothing is predicted twice. The AUC is NaN when the validation rows hold a
    single class. Sample weights, when given, weight the AUC.
    """

    def on_epoch_begin(self, net, **kwargs) -> None:
        self._scores, self._targets, self._weights = [], [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs) -> None:
        if training:
            return
        Xi, yi = batch
        self._scores.append(y_pred.detach().float().cpu())
        self._targets.append(yi.cpu())
        if "sample_weight" in Xi:
            self._weights.append(Xi["sample_weight"].cpu())

    def on_epoch_end(self, net, **kwargs) -> None:
        if not self._scores:
            return
        y = torch.cat(self._targets).numpy()
        weights = torch.cat(self._weights).numpy() if self._weights else None
        auc = math.nan
        if len(np.unique(y)) == 2:
            auc = roc_auc_score(y, torch.cat(self._scores).numpy(), sample_weight=weights)
        net.history.record("valid_auc", float(auc))


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error once the training loss is NaN or infinite."""

    def on_epoch_end(self, net, **kwargs) -> None:
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            epoch = net.history[-1, "epoch"]
            raise FloatingPointError(
                f"The training loss became {loss} in epoch {epoch}. Lower the learning rate "
                f"(lr={net.lr}), check the inputs for extreme values, or use early stopping."
            )
