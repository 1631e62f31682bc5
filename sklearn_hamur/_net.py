"""The skorch net that trains the multi-domain modules."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import torch
from skorch import NeuralNetBinaryClassifier
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._data import MultiDomainDataset

#: Autocast dtype of each ``precision`` setting (None: no autocast).
AUTOCAST_DTYPES = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def plain_module(net) -> torch.nn.Module:
    """The net's module, unwrapped from DDP and ``torch.compile`` (whose keys differ)."""
    module = net.module_
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        module = module.module
    return getattr(module, "_orig_mod", module)


class MultiDomainNet(NeuralNetBinaryClassifier):
    """``NeuralNetBinaryClassifier`` fed with whole batches, weighted, mixed-precision aware.

    - Data: a :class:`MultiDomainDataset` (or a mapping of arrays) iterated by
      :class:`~sklearn_hamur._data.BatchIterator`.
    - Loss: the criterion is built with ``reduction="none"`` and every row's loss is
      multiplied by its sample weight (when given) before averaging.
    - ``sample_weight`` rides in the input mapping and is removed before the module's
      ``forward(**X)``; ``domain_counts`` (rows pre-sorted by domain) is passed on as a
      Python list.
    - ``precision``: "32", "bf16-mixed" or "16-mixed" (autocast; a gradient scaler for
      float16).
    - Batch losses are kept on the device and read once per epoch, so the training
      step never waits for the device.
    """

    def __init__(self, *args, precision="32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    @property
    def _default_callbacks(self):
        # skorch's default also scores validation accuracy with a second pass; the
        # estimators add ValidationAUC, which reuses the validation outputs instead.
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("print_log", PrintLog(keys_ignored=["valid_auc_per_domain"])),
        ]

    def initialize(self):
        super().initialize()
        device_type = torch.device(self.device).type
        self.grad_scaler_ = torch.amp.GradScaler(device_type, enabled=self.precision == "16-mixed")
        return self

    def __setstate__(self, state):
        super().__setstate__(state)
        # Unpickled where there is no GPU, skorch moves a CUDA net to the CPU; the batch
        # iterators must then send their batches to the CPU too.
        for name in ("iterator_train__device", "iterator_valid__device"):
            if name in self.__dict__:
                setattr(self, name, self.device)

    def get_dataset(self, X, y=None):
        if isinstance(X, MultiDomainDataset):
            return X
        return MultiDomainDataset(X, y)

    def _autocast(self):
        dtype = AUTOCAST_DTYPES[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=dtype)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and ("sample_weight" in x or "domain_counts" in x):
            x = dict(x)
            x.pop("sample_weight", None)
            counts = x.pop("domain_counts", None)
            if counts is not None:  # a CPU tensor: reading it does not wait for the device
                fit_params = {**fit_params, "domain_counts": counts.tolist()}
        with self._autocast():
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        loss = self.criterion_(y_pred.float(), y_true)
        if isinstance(X, Mapping) and "sample_weight" in X:
            loss = loss * to_tensor(X["sample_weight"], device=self.device)
        return loss.mean()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        self.grad_scaler_.scale(loss).backward()  # a no-op scale unless float16
        return {"loss": loss, "y_pred": y_pred}

    def _step_optimizer(self, step_fn):
        if not self.grad_scaler_.is_enabled():
            return super()._step_optimizer(step_fn)
        step_fn()  # zero_grad, forward, scaled backward
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop, but the batch losses are read from the device once."""
        if iterator is None:
            return
        losses = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            # Rows of the batch (X also carries the per-domain counts, of another length).
            self.history.record_batch(prefix + "_batch_size", len(batch[0]["domain"]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        batches = self.history[-1]["batches"][len(self.history[-1]["batches"]) - len(losses) :]
        if losses:
            for entry, value in zip(batches, torch.stack(losses).float().cpu().tolist()):
                entry[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", len(losses))
