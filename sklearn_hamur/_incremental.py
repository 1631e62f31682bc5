"""Out-of-core training: ``partial_fit``, one pass over one chunk of rows at a time."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import warnings
import weakref

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight

from ._callbacks import training_state
from ._data import MultiDomainDataset
from ._distributed import (
    StepPlan,
    data_parallel,
    gather_objects,
    launched_world_size,
    plain_module,
    process_device,
    resolve_device,
    world,
)
from ._net import fit_threads, isolated_torch_state
from ._validation import as_frame, labels_1d
from .encoder import frozen_copy, padding_rows


class IncrementalTrainingMixin:
    """``partial_fit`` for the multi-domain classifiers, and the ``encoder`` they train with.

    The host class provides ``_check_params``, ``_build_net``, ``_resume_state`` and
    ``_restore_training_state``.
    """

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one pass over one chunk of rows (out-of-core training).

        scikit-learn's ``partial_fit`` convention (``SGDClassifier``,
        ``MLPClassifier``): each call is one epoch over the chunk, in shuffled batches of
        ``batch_size``, continuing from the weights and the optimizer state (Adam's
        moments and step counts) left by the previous call, by ``fit`` or by ``load``;
        ``max_epochs``, ``early_stopping`` and ``validation_fraction`` are not used, so
        no row is held out. Stream the chunks for as many epochs as wanted and score a
        held-out set yourself between epochs.

        The rows are encoded by a fitted :class:`~sklearn_hamur.MultiDomainEncoder`:
        ``encoder_`` when a previous ``fit``, ``partial_fit`` or ``load`` left one, else
        a frozen copy of the ``encoder`` parameter, typically fitted with
        :meth:`MultiDomainEncoder.partial_fit` over all the chunks first. Its
        vocabularies are final: a category it did not see is unseen (index 1). The
        net, its optimizer and their parameters (``lr``, ``batch_size``, ...) are built
        on the first call and kept; ``warm_start`` is not needed to continue (on the
        first call of an estimator without a model, ``warm_start=True`` resumes from a
        checkpoint in ``checkpoint_dir``; a later ``fit`` starts afresh unless
        ``warm_start``). With ``checkpoint_dir``, each call ends by replacing the
        checkpoint atomically.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            One chunk of training rows with the encoder's columns and the domain column:
            a pandas or polars DataFrame or a pyarrow Table or RecordBatch.
        y : array-like of shape (n_samples,)
            The chunk's labels, all among ``classes`` (a chunk may hold a single class).
        classes : array-like of shape (2,), default=None
            The two labels of the whole stream. Required on the first call (when there
            is no ``classes_`` yet); on later calls, if given, they must equal
            ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the training loss.

        Returns
        -------
        self
            The estimator, trained one more epoch.

        Raises
        ------
        ValueError
            Without an encoder (the message says how to fit one), with an unfitted one,
            for domains or labels it does not know, for ``classes`` missing on the first
            call or changed later, and for a chunk whose columns differ from the first.
            Under torchrun, also when the processes' encoders or classes differ.
        RuntimeError
            Under torchrun, on the other processes when the call failed on one.

        See Also
        --------
        sklearn_hamur.MultiDomainEncoder.partial_fit : Fit the encoder over the chunks.
        sklearn_hamur.MultiDomainEncoder.all_reduce : Merge the encoders under torchrun.

        Notes
        -----
        Like ``fit``, ``partial_fit`` is transactional: on an exception the estimator,
        its weights, optimizer state and history are as they were before the call (a
        checkpoint already written stays on disk). With an integer ``random_state``,
        the same calls on the same chunks give the same model; the first call on a new
        estimator equals ``fit`` with ``max_epochs=1`` and ``early_stopping=False`` on
        the same rows and encoder.

        Under ``torchrun`` it trains data-parallel without any process holding the
        whole data set: each process passes its own chunk (of its own files or row
        groups, :func:`~sklearn_hamur.rank_shard`), which is not sharded again, with
        an encoder merged across the processes
        (:meth:`MultiDomainEncoder.all_reduce`; encoders that differ are an error
        naming it). The module is wrapped in DDP, which starts every call from rank
        0's weights; each step averages the gradients of ``batch_size / world_size``
        rows per process, weighted by rows, and the processes agree on the number of
        steps: one whose chunk gives fewer batches steps with the others on padding
        rows without gradient, so after each call every process holds the same
        weights and optimizer state. It is a collective call: every process must make
        as many calls (:func:`~sklearn_hamur.even_chunks` pads the shorter streams
        with empty chunks, which are accepted under ``torchrun``). Rank 0 alone writes
        the checkpoint; an error on one process is raised on all of them.

        Examples
        --------
        >>> from sklearn_hamur import MultiDomainClassifier, MultiDomainEncoder
        >>> from sklearn_hamur.datasets import load_adult
        >>> X, y = load_adult(return_X_y=True)
        >>> chunks = [(X[i : i + 1000], y[i : i + 1000]) for i in range(0, 3000, 1000)]
        >>> encoder = MultiDomainEncoder()
        >>> for X_chunk, _ in chunks:
        ...     encoder = encoder.partial_fit(X_chunk)
        >>> clf = MultiDomainClassifier(encoder=encoder, hidden_units=(16,), random_state=0)
        >>> for epoch in range(2):
        ...     for X_chunk, y_chunk in chunks:
        ...         clf = clf.partial_fit(X_chunk, y_chunk, classes=[0, 1])
        >>> len(clf.history_)
        6
        >>> clf.predict_proba(X[3000:3002]).shape
        (2, 2)
        """
        previous = dict(vars(self))
        in_place = self._trains_in_place()
        snapshot = net_snapshot(self.net_) if in_place else None
        try:
            self._partial_fit(X, y, classes, sample_weight)
        except BaseException:
            if snapshot is not None:
                restore_net(previous["net_"], snapshot)
            vars(self).clear()
            vars(self).update(previous)
            raise
        return self

    def _partial_fit(self, X, y, classes, sample_weight) -> None:
        """Train one epoch on the chunk; ``partial_fit`` rolls back if this raises."""
        self._check_params()
        if self.logistic_offset is not None:
            raise ValueError(
                f"{type(self).__name__}.partial_fit does not support logistic_offset="
                f"{self.logistic_offset!r}: the logistic regression is fitted on all "
                "training rows at once. Use fit, or set logistic_offset=None."
            )
        if launched_world_size() > 1:
            self._partial_fit_data_parallel(X, y, classes, sample_weight)
        else:
            self._train_one_epoch(self._chunk_dataset(X, y, classes, sample_weight))

    def _chunk_dataset(self, X, y, classes, sample_weight) -> MultiDomainDataset:
        """The chunk checked and encoded; sets ``encoder_``, ``classes_`` and ``domains_``.

        Under torchrun a chunk may be empty (:func:`~sklearn_hamur.even_chunks`): this
        process then steps with the others on padding rows only.
        """
        name = type(self).__name__
        encoder = self._stream_encoder()
        self.classes_ = self._stream_classes(classes)
        if _is_empty(X) and launched_world_size() > 1:
            if y is None or len(y) != 0:
                raise ValueError(f"{name}.partial_fit got an empty X but a y with rows.")
            dataset = MultiDomainDataset(padding_rows(encoder, 0), np.zeros(0))
        else:
            X = as_frame(X, reset=not hasattr(self, "net_"), estimator=self)
            labels = _chunk_labels(y, len(X), self.classes_, name)
            if sample_weight is not None:
                sample_weight = _check_sample_weight(
                    sample_weight, X, dtype=np.float64, ensure_non_negative=True
                )
            check_known_domains(encoder, X)
            dataset = MultiDomainDataset(encoder.transform(X), labels, sample_weight)
        self.encoder_ = encoder
        self.domains_, self.n_domains_ = encoder.domains_, len(encoder.domains_)
        return dataset

    def _partial_fit_data_parallel(self, X, y, classes, sample_weight) -> None:
        """One data-parallel epoch on this process's chunk (not sharded again).

        Every process first checks and encodes its chunk, then all exchange a report
        (rows, encoder fingerprint, classes, or the error met), so that a problem on
        one process stops the call on all of them instead of leaving them waiting.
        """
        in_place = self._trains_in_place()
        device = self.net_.device if in_place else process_device(resolve_device(self.device))
        rank, world_size = world(device)
        failure = None
        try:
            dataset = self._chunk_dataset(X, y, classes, sample_weight)
            report = {
                "rows": len(dataset),
                "encoder": encoder_fingerprint(self.encoder_),
                "classes": self.classes_.tolist(),
            }
        except Exception as exc:  # noqa: BLE001 - reported to every process, then raised
            failure, report = exc, {"problem": f"{type(exc).__name__}: {exc}"}
        reports = gather_objects(report)
        if failure is not None:
            raise failure
        check_reports(reports, type(self).__name__)
        batch_size = max(1, self.batch_size // world_size)  # as fit under torchrun
        plan = StepPlan(rows=tuple(r["rows"] for r in reports), rank=rank, batch_size=batch_size)
        padding = MultiDomainDataset(padding_rows(self.encoder_, 2), np.zeros(2))
        self._train_one_epoch(dataset, device=device, parallel=(plan, padding))

    def _trains_in_place(self) -> bool:
        """Whether ``partial_fit`` continues ``net_`` itself (else it builds a new net).

        A net from ``fit`` with early stopping validates and stops early: its weights
        and optimizer state move to a plain net, and the previous net is left alone.
        """
        return hasattr(self, "net_") and self.net_.train_split is None

    def _train_one_epoch(self, dataset: MultiDomainDataset, device=None, parallel=None) -> None:
        """One epoch on ``dataset``; with ``parallel=(plan, padding)``, data-parallel."""
        rng = check_random_state(self.random_state)
        torch_seed, shuffle_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=2))
        build = not self._trains_in_place()
        if device is None:
            device = resolve_device(self.device) if build else self.net_.device
        # As in fit, initialisation and the first epoch draw from one seeded stream, so a
        # first call equals fit(max_epochs=1); each later epoch gets seeds of its own.
        with isolated_torch_state(device, torch_seed), fit_threads():
            if build:
                self._build_stream_net(device, shuffle_seed)
            if getattr(self, "logistic_blend_weight_", 0.0) > 0.0:
                # A blend chosen by fit belongs to the network it was chosen for: the
                # network trains on alone, and partial_fit has no validation rows to
                # choose a new weight on.
                plain_module(self.net_).linear_offset.clear()
            self.logistic_blend_weight_ = 0.0
            epoch = len(self.net_.history)
            if epoch > 0:
                seeds = np.random.SeedSequence([torch_seed, shuffle_seed, epoch])
                torch_seed, shuffle_seed = (int(s) for s in seeds.generate_state(2))
                torch.manual_seed(torch_seed)  # under isolated_torch_state: given back
            # An iterator argument, read when the epoch's iterator is made (set_params
            # would revalidate and may re-initialise parts of the net).
            self.net_.iterator_train__seed = shuffle_seed
            with (
                contextlib.nullcontext()
                if parallel is None
                else data_parallel(self.net_, *parallel)
            ):
                self.net_.partial_fit(dataset, None, epochs=1)
        self.history_ = self.net_.history
        if self.net_.interrupted_epoch_ is not None:
            warnings.warn(
                f"partial_fit was interrupted (KeyboardInterrupt) during its pass over the "
                f"chunk (epoch {self.net_.interrupted_epoch_} of history_, marked "
                "'interrupted'). The model keeps the weights it had then; call partial_fit "
                "on the chunk again to train on all of it.",
                UserWarning,
                stacklevel=4,  # the caller of partial_fit
            )

    def _build_stream_net(self, device: str, shuffle_seed: int) -> None:
        """A net without validation or early stopping, continuing the previous state."""
        if hasattr(self, "net_"):  # fit's net: its state, copied so that it stays intact
            state = copy.deepcopy(training_state(self.net_))
        else:
            state = self._resume_state()  # a checkpoint, with warm_start
        self.net_ = self._build_net(None, None, device, shuffle_seed)
        self.net_.initialize()
        if state is not None:
            self._restore_training_state(state)

    def _stream_encoder(self):
        """The encoder ``partial_fit`` encodes with: ``encoder_``, else the given one."""
        if hasattr(self, "encoder_"):
            return self.encoder_
        if self.encoder is not None:
            return self._given_encoder()
        name = type(self).__name__
        raise ValueError(
            f"{name}.partial_fit needs a fitted MultiDomainEncoder: the model's embedding "
            "tables are sized from its vocabularies, which must cover the whole data before "
            "training starts. Fit one over all the chunks first and pass it: encoder = "
            "MultiDomainEncoder(categorical_cols=...); call encoder.partial_fit(X_chunk) for "
            f"each chunk; then {name}(encoder=encoder, **encoder.get_params()). (After a "
            "first fit, partial_fit continues with its encoder_.)"
        )

    def _given_encoder(self):
        """A frozen copy of the ``encoder`` parameter, which must be fitted."""
        if not hasattr(self.encoder, "domains_"):
            raise ValueError(
                f"The 'encoder' parameter of {type(self).__name__} is a MultiDomainEncoder "
                "that is not fitted. Fit it first: encoder.partial_fit(X_chunk) for each "
                "chunk of the training data (or encoder.fit(X)), then pass it."
            )
        return frozen_copy(self.encoder)

    def _stream_classes(self, classes) -> np.ndarray:
        """``classes_`` for this call: the given ``classes``, checked against earlier calls."""
        known = getattr(self, "classes_", None)
        name = type(self).__name__
        if classes is None:
            if known is None:
                raise ValueError(
                    f"classes must be passed on the first call to {name}.partial_fit: the "
                    "two labels of the whole stream, e.g. classes=[0, 1] (a chunk may hold "
                    "only one of them)."
                )
            return known
        values = np.asarray(classes.to_numpy() if hasattr(classes, "to_numpy") else classes)
        try:
            unique = np.unique(values.ravel())
        except TypeError:  # labels of several types that cannot be sorted
            unique = values.ravel()
        if values.ndim != 1 or len(unique) != 2 or pd.isna(unique).any():
            raise ValueError(
                f"classes must hold the 2 distinct labels of this binary classifier, e.g. "
                f"classes=[0, 1]; got {values.tolist()!r}."
            )
        if known is not None and not np.array_equal(unique, known):
            raise ValueError(
                f"classes={unique.tolist()} differs from the classes of the previous fit or "
                f"partial_fit ({known.tolist()}); pass the same classes, or none after the "
                "first call."
            )
        return unique


def _is_empty(X) -> bool:
    """Whether ``X`` is a chunk of no rows (a frame or array with a length of 0)."""
    try:
        return X is not None and len(X) == 0
    except TypeError:
        return False


#: Fingerprints of the (frozen, never changed) encoders trained with under torchrun.
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def encoder_fingerprint(encoder) -> dict:
    """What must be equal on every torchrun process: digests of the columns, each
    vocabulary and the domains, and the numeric statistics (compared to rounding)."""
    if encoder not in _FINGERPRINTS:

        def digest(values) -> str:
            joined = "\x1f".join(map(repr, values))
            return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()

        _FINGERPRINTS[encoder] = {
            "columns": digest([encoder.categorical_cols_, encoder.numeric_cols_]),
            "vocabularies": {
                col: digest(vocabulary) for col, vocabulary in encoder.vocabularies_.items()
            },
            "domains": digest(encoder.domains_.tolist()),
            "statistics": np.concatenate([encoder.means_, encoder.scales_]),
        }
    return _FINGERPRINTS[encoder]


def check_reports(reports: list[dict], name: str) -> None:
    """Raise the same error on every process when one failed or their encoders differ."""
    failed = [(rank, r["problem"]) for rank, r in enumerate(reports) if "problem" in r]
    if failed:
        rank, problem = failed[0]
        raise RuntimeError(
            f"{name}.partial_fit failed on torchrun process {rank} ({problem}); every "
            "process stops this call, so that none waits for the others. Fix the chunk of "
            f"process {rank} (its own error message says how)."
        )
    first = reports[0]
    for rank, report in enumerate(reports[1:], start=1):
        part = _encoder_difference(first["encoder"], report["encoder"])
        if part is not None:
            raise ValueError(
                f"The encoders of the torchrun processes differ: process {rank}'s {part} "
                "differs from process 0's, so their models would not match (each process "
                "fitted its encoder on its own chunks only). Merge them before training: on "
                "every process, after its pass of encoder.partial_fit over its own chunks, "
                f"call encoder.all_reduce(), then pass that encoder to {name}(encoder=...)."
            )
        if report["classes"] != first["classes"]:
            raise ValueError(
                f"{name}.partial_fit: the classes differ across torchrun processes "
                f"({first['classes']} on process 0, {report['classes']} on process {rank}); "
                "pass the same classes on every process."
            )


def _encoder_difference(a: dict, b: dict) -> str | None:
    """The part of two encoder fingerprints that differs (None when they match)."""
    if a["columns"] != b["columns"]:
        return "columns"
    for col, vocabulary in a["vocabularies"].items():
        if b["vocabularies"].get(col) != vocabulary:
            return f"vocabulary of column {col!r}"
    if a["domains"] != b["domains"]:
        return "domains"
    if not np.allclose(a["statistics"], b["statistics"], rtol=1e-9, atol=1e-12):
        return "numeric statistics (means and scales)"
    return None


def _chunk_labels(y, n_rows: int, classes: np.ndarray, name: str) -> np.ndarray:
    """The chunk's labels as indices into ``classes`` (0 or 1), checked."""
    if y is None:
        raise ValueError(f"{name}.partial_fit requires y, but the target y is None.")
    y = labels_1d(y, n_rows)
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(
            f"y holds label(s) {pd.unique(y[unknown])[:5].tolist()} not in classes "
            f"{classes.tolist()} (given to the first partial_fit, or learned by fit). Pass "
            "every label of the stream as classes on the first call."
        )
    return np.searchsorted(classes, y)


def check_known_domains(encoder, X: pd.DataFrame) -> None:
    """Raise a ValueError naming the domain values of ``X`` that ``encoder`` did not see.

    A training row trains its own domain's path, so its domain must have one: whatever
    ``handle_unknown_domain`` says, which is about prediction.
    """
    if encoder.domain_col is None or encoder.domain_col not in X.columns:
        return  # no domain column: encoder.transform reports it
    values = pd.unique(X[encoder.domain_col].dropna())
    unknown = pd.Index(encoder.domains_).get_indexer(values) < 0
    if unknown.any():
        raise ValueError(
            f"Column {encoder.domain_col!r} holds domain value(s) "
            f"{pd.Index(values)[unknown][:5].tolist()} that the encoder did not see (known: "
            f"{encoder.domains_.tolist()[:20]}). Each training row trains its domain's own "
            "path, so every domain must be in the encoder: fit the encoder with partial_fit "
            "over every chunk, this one included, before training."
        )


def net_snapshot(net) -> dict:
    """Copies of what one more epoch changes in ``net``: weights, optimizer, history."""
    return {
        "module": {k: v.detach().clone() for k, v in plain_module(net).state_dict().items()},
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "grad_scaler": copy.deepcopy(net.grad_scaler_.state_dict()),
        "history": copy.deepcopy(list(net.history)),
        "attributes": {
            name: getattr(net, name)
            for name in ("iterator_train__seed", "interrupted_epoch_")
            if hasattr(net, name)
        },
    }


def restore_net(net, snapshot: dict) -> None:
    """Put ``net`` back as :func:`net_snapshot` found it, in place (same objects)."""
    plain_module(net).load_state_dict(snapshot["module"])
    net.optimizer_.load_state_dict(snapshot["optimizer"])
    if snapshot["grad_scaler"]:
        net.grad_scaler_.load_state_dict(snapshot["grad_scaler"])
    net.history[:] = snapshot["history"]  # the estimator's history_ is the same list
    for name, value in snapshot["attributes"].items():
        setattr(net, name, value)
