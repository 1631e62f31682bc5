"""The skorch net that trains the multi-domain modules, and the recipe it is built with."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import threading
import warnings
from collections.abc import Iterator, Mapping

import torch
from joblib import cpu_count
from skorch import NeuralNetBinaryClassifier
from skorch.callbacks import EpochTimer, PassthroughScoring, PrintLog, ProgressBar
from skorch.dataset import unpack_data
from skorch.helper import predefined_split
from skorch.utils import to_tensor

from ._callbacks import (
    AtomicCheckpoint,
    RestoringEarlyStopping,
    StagedAdapters,
    StopOnNonFiniteLoss,
    ValidationAUC,
)
from ._data import BatchIterator, MultiDomainDataset
from ._distributed import plain_module

#: Autocast dtype of each ``precision`` setting (None: no autocast).
AUTOCAST_DTYPES = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}

#: The skorch releases whose training loop ``MultiDomainNet`` follows (its copies of
#: ``run_single_epoch`` and ``_step_optimizer``); pyproject.toml pins the same range and
#: tests/test_net.py checks skorch's own methods against the ones copied.
SKORCH_VERSIONS = (">=1.0", "<1.5")

#: Held while a fit or a ``load`` uses torch's global RNG and default dtype (see
#: :func:`isolated_torch_state`). Re-entrant, so a callback may fit or load in turn.
TORCH_STATE_LOCK = threading.RLock()


@contextlib.contextmanager
def isolated_torch_state(device: str, seed: int | None = None) -> Iterator[None]:
    """Seed torch's global RNG for one fit (or load), and give it back as it was.

    Initialisation (``nn.Linear.reset_parameters``, ``nn.init``) and dropout draw from
    torch's global RNG, which accepts no per-call generator, so a fit cannot have a
    private one without re-implementing both. Instead the global state is forked
    (``torch.random.fork_rng``: saved, seeded, restored on exit) under a process-wide
    lock: fits in several threads take turns in their torch part, so each one equals
    the serial fit with its ``random_state``, and the caller's RNG state is left as it
    was. Shuffling has its own ``torch.Generator`` (``BatchIterator``). A thread of the
    caller that draws from torch's global RNG while a fit runs shares it with that fit.
    """
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with TORCH_STATE_LOCK, torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


def fit_thread_count() -> int:
    """The number of torch threads a fit uses: this process's share of the CPUs.

    The smallest of

    - ``torch.get_num_threads()``: the caller's ``torch.set_num_threads``, or a
      ``threadpoolctl.threadpool_limits`` around the fit (which sets it too);
    - ``joblib.cpu_count()``: the CPUs this process may run on (its affinity mask and
      cgroup CPU quota, which torch's default ignores);
    - in a worker process, ``OMP_NUM_THREADS``: joblib starts its workers with it set to
      ``inner_max_num_threads``, by default ``cpu_count() // n_jobs``, so the fits of a
      ``GridSearchCV(n_jobs=2)`` on 2 cores train on one thread each. Read at fit time,
      it also holds where torch was imported before the worker's environment was set.
    """
    limits = [torch.get_num_threads(), cpu_count()]
    if multiprocessing.parent_process() is not None:
        value = os.environ.get("OMP_NUM_THREADS", "")
        if value.strip().isdigit() and int(value) > 0:
            limits.append(int(value))
    return max(1, min(limits))


@contextlib.contextmanager
def fit_threads() -> Iterator[int]:
    """Set torch's thread count to :func:`fit_thread_count` for one fit, then restore it.

    The count is process-wide: call it under ``TORCH_STATE_LOCK``, as fits do.
    """
    previous = torch.get_num_threads()
    n_threads = fit_thread_count()
    if n_threads != previous:
        torch.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def continue_on_a_fresh_stream() -> None:
    """Reseed torch's CPU generator from its own state: a deterministic fresh stream.

    Called once a net's module is built. A backbone draws its adapters and hyper-network
    and then puts the generator back as it was (``Backbone._init_adapters``), so HAMUR
    and the same backbone without adapters leave it in one state; continuing on that
    state would reuse the adapters' random numbers for the dropout masks. A hash of the
    state seeds a new stream instead, the same for both models: with one
    ``random_state``, HAMUR and its backbone draw the same dropout masks, and with the
    identity start they train alike but for what the adapters learn. Fits run under a
    forked RNG (:func:`isolated_torch_state`), so the caller's generator is untouched.
    """
    state = torch.random.default_generator.get_state().numpy().tobytes()
    seed = int.from_bytes(hashlib.blake2b(state, digest_size=8).digest(), "little")
    torch.random.default_generator.manual_seed(seed)


@contextlib.contextmanager
def float32_default() -> Iterator[None]:
    """Build modules in float32 whatever ``torch.get_default_dtype()`` is (the inputs
    are float32; a float64 or float16 default would give mismatched weights). The
    default dtype is process-wide: call it under ``TORCH_STATE_LOCK``."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


#: Entries of an input batch that are not the module's inputs (removed by ``infer``).
NON_INPUTS = frozenset({"sample_weight", "domain_counts", "loss_scale"})


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

    def initialize_optimizer(self, triggered_directly=None):
        """The optimizer over the module's own parameter groups (``make_parameter_groups``)."""
        _, kwargs = self.get_params_for_optimizer("optimizer", self.get_all_learnable_params())
        self.optimizer_ = self.optimizer(plain_module(self).make_parameter_groups(), **kwargs)
        return self

    def initialize(self):
        with TORCH_STATE_LOCK, float32_default():
            super().initialize()
            continue_on_a_fresh_stream()
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

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; an interruption (Ctrl-C) is marked ``interrupted`` in the history.

        skorch's ``partial_fit`` catches every ``KeyboardInterrupt`` and ends training
        normally (early stopping restores its best weights). One raised by a callback at
        the end of an epoch is skorch's idiom for "stop here" (early stopping uses it)
        and is not an interruption; any other is: ``interrupted_epoch_`` is then the
        epoch reached (0: before the first), and the estimator warns.
        """
        self.interrupted_epoch_ = None
        self._stop_requested = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            if not self._stop_requested:
                self.interrupted_epoch_ = len(self.history)
                if len(self.history):
                    self.history.record("interrupted", True)
            raise

    def notify(self, method_name, **cb_kwargs):
        try:
            super().notify(method_name, **cb_kwargs)
        except KeyboardInterrupt:
            self._stop_requested = method_name == "on_epoch_end"
            raise

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
        if isinstance(x, Mapping) and not NON_INPUTS.isdisjoint(x):
            x = dict(x)
            x.pop("sample_weight", None)
            x.pop("loss_scale", None)
            counts = x.pop("domain_counts", None)
            if counts is not None:  # a CPU tensor: reading it does not wait for the device
                fit_params = {**fit_params, "domain_counts": counts.tolist()}
        with self._autocast():
            return super().infer(x, **fit_params)

    def predict_logits(self, dataset: MultiDomainDataset) -> torch.Tensor:
        """The module's output for every row of ``dataset``, on the CPU: the estimators' path.

        What skorch's ``forward(dataset, training=False)`` returns, with less work per
        call, which a one-row prediction pays in full: the module is switched to
        evaluation mode only when a part of it is in training mode (skorch switches
        every submodule on every call), and the batches run under
        :func:`torch.inference_mode` instead of ``torch.no_grad``.
        """
        self.check_is_fitted()
        if any(module.training for module in self.module_.modules()):
            self._set_training(False)
        outputs = []
        with torch.inference_mode():
            for X_batch, _ in self.get_iterator(dataset, training=False):
                outputs.append(self.infer(X_batch).cpu())
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        loss = self.criterion_(y_pred.float(), y_true)
        if isinstance(X, Mapping) and "sample_weight" in X:
            loss = loss * to_tensor(X["sample_weight"], device=self.device)
        return loss.mean()

    def train_step_single(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        # Data-parallel partial_fit: this process's share of the step's rows (0: padding
        # rows of a process without rows left, run in evaluation mode, no side effects).
        scale = Xi.get("loss_scale", 1.0) if isinstance(Xi, Mapping) else 1.0
        self._set_training(scale != 0)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        # A no-op scale unless float16.
        self.grad_scaler_.scale(loss if scale == 1.0 else loss * scale).backward()
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
        if training:  # data-parallel partial_fit: the others' steps, unrecorded
            for batch in getattr(iterator, "padding_batches", tuple)():
                step_fn(batch, **fit_params)
        batches = self.history[-1]["batches"][len(self.history[-1]["batches"]) - len(losses) :]
        if losses:
            for entry, value in zip(batches, torch.stack(losses).float().cpu().tolist()):
                entry[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", len(losses))


# -- the recipe ---------------------------------------------------------------------------


def _discard(*args, **kwargs) -> None:
    """A picklable sink that drops early stopping's messages when not verbose."""


def adam_supports_fused() -> bool:
    """Fused Adam (one kernel for all parameters) exists on CPU and CUDA from torch 2.4."""
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 4)


#: Why ``compile=True`` is not applied on CPU (benchmarks/results/compile-cpu.md).
CPU_COMPILE_REASON = (
    "on CPU, compiling costs minutes and gains nothing: the per-domain routing breaks the "
    "graph and changes its shapes from batch to batch, so torch.compile builds a dozen "
    "graphs and recompiles them for new batch shapes and again for prediction (about "
    "2 to 8 minutes for 2 epochs on 20k rows that train in 2 to 5 seconds eagerly), and "
    "the compiled steps are no faster than eager ones"
)


def compile_available(device: str) -> bool:
    """Whether ``torch.compile`` is applied on ``device``; warn and fall back to eager when not."""
    reason = None
    if not hasattr(torch, "compile"):
        reason = "this torch has no torch.compile"
    elif not torch._dynamo.is_dynamo_supported():
        reason = "torch.compile (dynamo) is not supported on this platform"
    elif torch.device(device).type == "cpu":
        reason = CPU_COMPILE_REASON
    if reason:
        warnings.warn(f"compile=True ignored: {reason}; training runs eagerly.", stacklevel=5)
        return False
    return True


def presort_domains(device: str) -> bool:
    """Sort training batches by domain on the host: on a GPU it spares a device sync."""
    return torch.device(device).type == "cuda"


def training_callbacks(params: Mapping, monitor: str | None) -> list:
    """The estimators' callbacks: validation AUC, NaN guard, early stopping, checkpoints."""
    callbacks = [("valid_auc", ValidationAUC()), ("finite_loss", StopOnNonFiniteLoss())]
    # Validation rows with early_stopping=False (given as X_val): scored, not stopped on.
    if monitor is not None and params["early_stopping"] is not False:
        # Staging needs early stopping to end the first stage: without it, joint training.
        staged = StagedAdapters() if params.get("adapter_training") == "staged" else None
        if staged is not None:
            callbacks.append(("staged_adapters", staged))
        stopping = RestoringEarlyStopping(
            monitor=monitor,
            lower_is_better=monitor == "valid_loss",
            patience=params["patience"],
            min_delta=params["min_delta"],
            warn_first_epoch=params.get("logistic_offset") is None,
            next_stage=None if staged is None else staged.next_stage,
            load_best=True,
            sink=print if params["verbose"] else _discard,
        )
        callbacks.append(("early_stopping", stopping))
    if params["checkpoint_dir"] is not None:
        callbacks.append(("checkpoint", AtomicCheckpoint(dirname=params["checkpoint_dir"])))
    if params["verbose"]:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks + list(params["callbacks"] or [])


def make_net(
    module: type[torch.nn.Module],
    module_kwargs: Mapping,
    params: Mapping,
    *,
    valid_dataset: MultiDomainDataset | None,
    monitor: str | None,
    device: str,
    shuffle_seed: int,
) -> MultiDomainNet:
    """The net an estimator with parameters ``params`` trains ``module(**module_kwargs)`` with.

    ``params`` are the estimator's ``get_params()``: learning rate, weight decay, batch
    size, epochs, early stopping, checkpoints, precision, compilation, callbacks and
    verbosity. ``monitor`` is the history key early stopping watches (``None``: no early
    stopping); ``valid_dataset`` the rows it is computed on.
    """
    return MultiDomainNet(
        module,
        **{f"module__{key}": value for key, value in module_kwargs.items()},
        # NOTE[DIFF]: the module returns logits and trains with BCEWithLogitsLoss; the
        # reference outputs probabilities and trains with BCELoss.
        criterion=torch.nn.BCEWithLogitsLoss,
        criterion__reduction="none",
        # The module's make_parameter_groups() exempts embeddings, biases and norms from
        # the decay (MultiDomainNet.initialize_optimizer).
        optimizer=torch.optim.Adam,
        lr=params["lr"],
        optimizer__weight_decay=params["weight_decay"],
        # One fused update instead of a loop over every domain's parameter tensors:
        # at 30 domains the loop alone took 14.5 ms of a training step on 2 CPU cores.
        **({"optimizer__fused": True} if adam_supports_fused() else {}),
        batch_size=params["batch_size"],
        max_epochs=params["max_epochs"],
        train_split=None if valid_dataset is None else predefined_split(valid_dataset),
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_train__seed=shuffle_seed,
        iterator_train__device=device,
        # On a GPU, training batches come sorted by domain with their counts, so the
        # step never waits for the device (on CPU nothing is gained: keep row order).
        iterator_train__presort_domains=presort_domains(device),
        # Every domain's count, also for a chunk (partial_fit) without the last domains.
        iterator_train__n_domains=module_kwargs.get("n_domains"),
        iterator_valid=BatchIterator,
        iterator_valid__device=device,
        precision=params["precision"],
        compile=bool(params["compile"]) and compile_available(device),
        callbacks=training_callbacks(params, monitor),
        device=device,
        verbose=int(params["verbose"]),
    )
