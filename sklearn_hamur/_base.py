"""What HAMURClassifier and MultiDomainClassifier share: data handling and training."""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted
from skorch.history import History

from . import _distributed as distributed
from ._backbone_params import BACKBONE_CONSTRAINTS, UNIT_PARAMS, module_kwargs
from ._callbacks import read_checkpoint, training_state
from ._data import MultiDomainDataset
from ._distributed import plain_module, resolve_device
from ._docstrings import fill_doc
from ._incremental import IncrementalTrainingMixin, check_known_domains
from ._logistic_blend import blend_rows, choose_blend_weight, linear_logits
from ._logistic_offset import fit_logistic_offset
from ._net import MultiDomainNet, fit_threads, isolated_torch_state, make_net
from ._persistence import read_file, restore_estimator, save_estimator
from ._validation import as_frame, as_units, check_binary_target, units_problem
from .encoder import MultiDomainEncoder, frozen_copy
from .modules.backbones import BACKBONES

#: Rows encoded and scored at a time by ``decision_function`` / ``predict_proba``.
PREDICT_CHUNK_ROWS = 262_144

#: Below this many rows, ``early_stopping="auto"`` trains without a validation split.
AUTO_EARLY_STOPPING_MIN_ROWS = 10_000


def stratified_holdout(strata: np.ndarray, fraction: float, rng: np.random.RandomState):
    """Split row indices into (train, valid), taking ``fraction`` of every stratum.

    Each stratum (here: domain x label) gives ``round(fraction * size)`` shuffled rows to
    validation, but always keeps at least one row for training, so a small domain
    appears on both sides whenever it can.
    """
    train, valid = [], []
    for value in np.unique(strata):
        rows = rng.permutation(np.flatnonzero(strata == value))
        n_valid = min(int(round(fraction * len(rows))), len(rows) - 1)
        valid.append(rows[:n_valid])
        train.append(rows[n_valid:])
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(valid))


class BaseMultiDomainClassifier(IncrementalTrainingMixin, ClassifierMixin, BaseEstimator):
    """Shared machinery of the multi-domain classifiers (not for direct use).

    Subclasses list their parameters in ``__init__``; ``_adapters`` says whether the
    module carries HAMUR's adapters.
    """

    #: Whether the module carries HAMUR's adapters (built from the adapter parameters).
    _adapters = False

    _parameter_constraints: dict = {
        # The encoder's parameters are the estimators' too: one source of truth.
        **MultiDomainEncoder._parameter_constraints,
        "encoder": [MultiDomainEncoder, None],
        # A live view: a backbone registered in BACKBONES is accepted.
        "backbone": [StrOptions(BACKBONES.keys())],
        # Declared by the backbone classes (modules/backbones); derived in _backbone_params.
        **BACKBONE_CONSTRAINTS,
        "d_embedding": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "logistic_offset": [Interval(Real, 0, None, closed="neither"), None],
        "logistic_blend": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "early_stopping_metric": [StrOptions({"auc", "auc_mean", "auc_min", "loss"})],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "min_delta": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "precision": [StrOptions({"32", "bf16-mixed", "16-mixed"})],
        "compile": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "warm_start": ["boolean"],
    }

    # -- parameters ---------------------------------------------------------------------

    def _check_params(self) -> None:
        """Check every parameter; raise one ValueError/TypeError listing all problems."""
        params = self.get_params(deep=False)
        problems = []
        for name, constraints in self._parameter_constraints.items():
            try:
                validate_parameter_constraints(
                    {name: constraints}, {name: params[name]}, type(self).__name__
                )
            except InvalidParameterError as exc:
                problems.append(str(exc))
        problems.extend(self._extra_param_problems(params))
        if problems:
            raise InvalidParameterError("\n".join(problems))

    #: Parameters that are tuples of widths, given as tuples or as strings ("256-128").
    _unit_params: tuple[str, ...] = UNIT_PARAMS

    def _extra_param_problems(self, params: dict) -> list[str]:
        owner = type(self).__name__
        problems = [
            problem
            for name in UNIT_PARAMS
            if (problem := units_problem(params[name], name, owner)) is not None
        ]
        problems.extend(self._encoder_param_problems(params))
        device = params["device"]
        if isinstance(device, str) and device != "auto":
            try:
                torch.device(device)
            except RuntimeError:
                problems.append(
                    f"The 'device' parameter of {type(self).__name__} must be 'auto', 'cpu', "
                    f"'cuda' or 'cuda:N'. Got {device!r} instead."
                )
        return problems

    def _encoder_param_problems(self, params: dict) -> list[str]:
        """The given encoder's parameters must be the estimator's same-named ones."""
        encoder = params["encoder"]
        if not isinstance(encoder, MultiDomainEncoder):
            return []
        owner = type(self).__name__
        differ = [
            f"{name}={value!r} (the {owner}'s: {params[name]!r})"
            for name, value in encoder.get_params(deep=False).items()
            if not np.array_equal(
                np.asarray(value, dtype=object), np.asarray(params[name], dtype=object)
            )
        ]
        if not differ:
            return []
        return [
            f"The 'encoder' parameter of {owner} has parameter(s) {', '.join(differ)}; the "
            "encoder's parameters must equal the estimator's same-named ones, which the "
            f"fitted encoder_ and the saved model share. Pass them too: {owner}("
            "encoder=encoder, **encoder.get_params(), ...)."
        ]

    def _resolved_params(self) -> dict:
        """``get_params()`` with the width parameters as tuples: ``"512-256"`` -> (512, 256).

        The parameters keep the form they were given in (a search space stores widths
        as strings); the module is built from the parsed widths. A value that does not
        parse is left as is (``_check_params`` reports it).
        """
        params = self.get_params(deep=False)
        for name in self._unit_params:
            units = as_units(params[name])
            if units is not None:
                params[name] = units
        return params

    def _module_kwargs(self) -> dict:
        """The module's constructor arguments: the data sizes, then the parameters'."""
        return {
            "cardinalities": self.encoder_.cardinalities_,
            "n_numeric": len(self.encoder_.numeric_cols_),
            "n_domains": self.n_domains_,
            **module_kwargs(self._resolved_params(), adapters=self._adapters),
        }

    # -- fitting ------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Fit the model on a DataFrame ``X`` with a domain column and binary labels ``y``.

        The encoder, the module and the optimizer are built anew (unless ``warm_start``),
        sized from the data: vocabulary sizes, numeric columns and domains. With the
        ``encoder`` parameter, that fitted encoder is used as is (a frozen copy becomes
        ``encoder_``) instead of one fitted on ``X``. To train on data larger than
        memory, see :meth:`partial_fit`.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            Features and the domain column ``domain_col``: a pandas or polars DataFrame
            or a pyarrow Table (converted to pandas, column names and dtypes kept).
        y : array-like of shape (n_samples,)
            Binary labels (any two values: 0/1, booleans, strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the training loss.
        X_val : DataFrame of shape (n_val_samples, n_columns), default=None
            An explicit validation set, given with ``y_val``: all of ``X`` is then used
            for training, and ``validation_fraction`` is ignored. Early stopping watches
            it (unless ``early_stopping=False``: it is then scored each epoch, in
            ``history_``, without stopping), and ``logistic_blend`` chooses its weight on
            it.
        y_val : array-like of shape (n_val_samples,), default=None
            Labels of ``X_val``; they must be among those of ``y``.

        Returns
        -------
        self
            The fitted estimator.

        Notes
        -----
        ``fit`` is transactional: on any exception (a NaN loss, a full disk, bad input)
        the estimator is left exactly as it was: unfitted, or still the previous model.
        During training the estimator is already the model being trained, so a callback
        may score with it (``predict_proba`` from the first epoch's end on). A
        ``KeyboardInterrupt`` inside the training loop stops training as skorch does
        (keeping early stopping's best weights), warns, naming the epoch reached, and
        marks that epoch ``"interrupted"`` in ``history_``; the model is usable.
        """
        # Fitting replaces attributes, never mutates the previous ones in place, so a
        # shallow snapshot is enough to roll back.
        previous = dict(vars(self))
        try:
            self._fit(X, y, sample_weight, X_val, y_val)
        except BaseException:
            vars(self).clear()
            vars(self).update(previous)
            raise
        return self

    def _fit(self, X, y, sample_weight, X_val, y_val) -> None:
        """Fit ``self``; ``fit`` rolls the attributes back if this raises."""
        self._check_params()
        resume = self._resume_state()
        X = as_frame(X, reset=True, estimator=self)
        y = check_binary_target(y, len(X), self)
        if sample_weight is not None:
            # Negative weights would make training maximise those rows' loss.
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if self.encoder is not None:  # fitted beforehand (e.g. over chunks): used as is
            self.encoder_ = self._given_encoder()
            check_known_domains(self.encoder_, X)
            encoded = self.encoder_.transform(X)
        else:
            encoder = MultiDomainEncoder(**self._encoder_params())
            encoded = encoder.fit_transform(X)
            self.encoder_ = frozen_copy(encoder)  # without the counts partial_fit keeps
        self.domains_ = self.encoder_.domains_
        self.n_domains_ = len(self.domains_)
        self._check_domain_sizes(encoded["domain"])

        rng = check_random_state(self.random_state)
        torch_seed, shuffle_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=2))
        dataset = MultiDomainDataset(encoded, y_encoded, sample_weight)
        if X_val is not None or y_val is not None:
            valid_dataset, monitor = self._explicit_validation(X_val, y_val)
        else:
            dataset, valid_dataset, monitor = self._holdout(dataset, encoded, y_encoded, rng)
        self._train(dataset, valid_dataset, monitor, resume, torch_seed, shuffle_seed)

    def _encoder_params(self) -> dict:
        """The estimator's parameters that are the encoder's too."""
        names = MultiDomainEncoder._get_param_names()
        return {name: getattr(self, name) for name in names}

    def _holdout(self, dataset, encoded, y_encoded, rng):
        """Split off the early-stopping rows (stratified by domain x label), if any."""
        if not self._use_early_stopping(len(dataset)):
            return dataset, None, None
        strata = encoded["domain"] * 2 + y_encoded
        train_idx, valid_idx = stratified_holdout(strata, self.validation_fraction, rng)
        if len(valid_idx) == 0:
            raise ValueError(
                f"early_stopping needs a validation split, but validation_fraction="
                f"{self.validation_fraction} of {len(dataset)} rows leaves no validation "
                "row. Raise validation_fraction or set early_stopping=False."
            )
        monitor = self._monitor(strata[valid_idx])
        return dataset.subset(train_idx), dataset.subset(valid_idx), monitor

    def _train(self, dataset, valid_dataset, monitor, resume, torch_seed, shuffle_seed) -> None:
        """Build ``net_`` and train it (resuming, and data-parallel under torchrun)."""
        # Under torchrun each process takes its own GPU, before joining the process group.
        device = distributed.process_device(resolve_device(self.device))
        rank, world_size = distributed.world(device)
        # Fitted on all training rows before any sharding: every process finds the same.
        offset = self._fit_offset(dataset) if resume is None else None
        blend = self._fit_blend_regression(dataset, valid_dataset, shuffle_seed)
        if world_size > 1:  # launched by torchrun: this process trains on its shard
            dataset = dataset.subset(distributed.shard(len(dataset), rank, world_size))
        self.net_ = self._build_net(valid_dataset, monitor, device, shuffle_seed)
        # Seed torch for initialisation and dropout without touching the caller's RNG
        # state; fits in other threads wait (see isolated_torch_state). Train on this
        # process's share of the CPUs, so GridSearchCV(n_jobs=2) does not oversubscribe.
        with isolated_torch_state(device, torch_seed), fit_threads():
            self.net_.initialize()
            if offset is not None:
                plain_module(self.net_).linear_offset.set_coefficients(
                    offset[0], intercept=offset[1]
                )
            if resume is not None:
                self._restore_training_state(resume)
            if blend is not None:  # the network trains alone (a resumed one was blended)
                plain_module(self.net_).linear_offset.clear()
            if world_size > 1:
                self.net_.set_params(batch_size=max(1, self.batch_size // world_size))
                self.net_.module_ = distributed.wrap(self.net_.module_, device)
            remaining = self.max_epochs - len(self.net_.history)
            if remaining > 0:
                self.net_.partial_fit(dataset, None, epochs=remaining)
            if world_size > 1:  # predict, save and pickle like a single-process model
                self.net_.module_ = plain_module(self.net_)
        self.logistic_blend_weight_ = self._set_blend(blend, valid_dataset, monitor)
        self.history_ = self.net_.history
        self._warn_if_interrupted()

    def _fit_offset(self, dataset) -> tuple[torch.Tensor, float] | None:
        """The logistic regression behind ``logistic_offset``, fitted on ``dataset``."""
        if self.logistic_offset is None:
            return None
        if not BACKBONES[self.backbone].takes_linear_offset():
            raise ValueError(
                f"logistic_offset={self.logistic_offset!r} needs a backbone whose constructor "
                f"takes linear_offset; backbone={self.backbone!r} does not. Pass it on to "
                "Backbone.__init__, or set logistic_offset=None."
            )
        return self._fit_regression(dataset, self.logistic_offset)

    def _fit_regression(self, dataset, C: float) -> tuple[torch.Tensor, float]:
        """One-hot logistic regression on ``dataset``, in this model's encoding."""
        return fit_logistic_offset(
            dataset, cardinalities=self.encoder_.cardinalities_, n_domains=self.n_domains_, C=C
        )

    def _fit_blend_regression(
        self, dataset, valid_dataset, seed: int
    ) -> tuple[torch.Tensor, float] | None:
        """The logistic regression ``logistic_blend`` blends with, if a blend is made.

        None without ``logistic_blend``, with ``logistic_offset`` (the network already
        holds a regression), without validation rows to choose the weight on, or on a
        backbone that takes no ``linear_offset``. Fitted on at most
        ``BLEND_MAX_ROWS`` training rows (a sample drawn from ``seed``: the same on
        every process of a data-parallel fit).
        """
        if self.logistic_blend is None or self.logistic_offset is not None:
            return None
        if valid_dataset is None or not BACKBONES[self.backbone].takes_linear_offset():
            return None
        rows = blend_rows(len(dataset), seed)
        return self._fit_regression(
            dataset if rows is None else dataset.subset(rows), self.logistic_blend
        )

    def _set_blend(self, blend, valid_dataset, monitor) -> float:
        """Choose the blend weight on the validation rows and set it; the weight."""
        if blend is None:
            return 0.0
        coef, intercept = blend
        sizes = {"cardinalities": self.encoder_.cardinalities_, "n_domains": self.n_domains_}
        network = self.net_.predict_logits(valid_dataset).double().numpy()
        linear = linear_logits(valid_dataset, coef.double().numpy(), intercept, **sizes)
        weight = valid_dataset.X.get("sample_weight")
        w, _, _ = choose_blend_weight(
            valid_dataset.y.numpy().astype(np.int64),
            network,
            linear,
            valid_dataset.X["domain"].numpy(),
            monitor=monitor,
            sample_weight=None if weight is None else weight.numpy(),
        )
        # NOTE[DIFF]: the prediction blends the network with a one-hot logistic regression
        # (``logistic_blend``, on by default); the reference predicts with the network.
        if w > 0.0:
            plain_module(self.net_).linear_offset.set_coefficients(
                coef * w, intercept=intercept * w, network_weight=1.0 - w
            )
        return w

    def _warn_if_interrupted(self) -> None:
        epoch = getattr(self.net_, "interrupted_epoch_", None)
        if epoch is None:
            return
        warnings.warn(
            f"Training was interrupted (KeyboardInterrupt) in epoch {epoch} of "
            f"{self.max_epochs}. The model keeps the weights it had then (early stopping's "
            "best epoch, when early stopping runs) and history_ marks that epoch "
            "'interrupted'. Fit again to train fully (warm_start=True continues).",
            UserWarning,
            stacklevel=4,
        )

    def _resume_state(self) -> dict | None:
        """What ``warm_start`` continues: the checkpoint on disk, else the previous fit."""
        if not self.warm_start:
            return None
        if self.checkpoint_dir is not None:
            state = read_checkpoint(self.checkpoint_dir)
            if state is not None:
                return state
        if hasattr(self, "net_"):
            return training_state(self.net_)
        return None

    def _restore_training_state(self, state: dict) -> None:
        try:
            plain_module(self.net_).load_state_dict(state["module"])
        except RuntimeError as exc:
            raise ValueError(
                "warm_start continues a previous training run, which needs the same columns, "
                "vocabularies, domains and architecture; this fit differs from it. Set "
                f"warm_start=False or clear checkpoint_dir={self.checkpoint_dir!r}."
            ) from exc
        self.net_.optimizer_.load_state_dict(state["optimizer"])
        self.net_.history = History(state["history"])

    def _explicit_validation(self, X_val, y_val) -> tuple[MultiDomainDataset, str]:
        if X_val is None or y_val is None:
            raise ValueError("X_val and y_val must be given together (or neither).")
        X_val = as_frame(X_val, reset=False, estimator=self)
        y_val = np.asarray(y_val.to_numpy() if hasattr(y_val, "to_numpy") else y_val).ravel()
        if len(y_val) != len(X_val):
            raise ValueError(
                f"X_val has {len(X_val)} rows but y_val has {len(y_val)} values; they must "
                "have the same length."
            )
        unknown = ~np.isin(y_val, self.classes_)
        if unknown.any():
            raise ValueError(
                f"y_val holds label(s) {np.unique(y_val[unknown])[:5].tolist()} not in y's "
                f"classes {self.classes_.tolist()}."
            )
        encoded = self.encoder_.transform(X_val)
        labels = np.searchsorted(self.classes_, y_val)
        return MultiDomainDataset(encoded, labels), self._monitor(encoded["domain"] * 2 + labels)

    def _monitor(self, valid_strata: np.ndarray) -> str:
        """History key early stopping watches; the loss when no AUC can be computed."""
        if self.early_stopping_metric == "loss":
            return "valid_loss"
        domain, label = np.divmod(valid_strata, 2)
        if self.early_stopping_metric == "auc":
            defined = len(np.unique(label)) == 2
        else:  # a per-domain aggregate needs one domain with both classes
            defined = any(len(np.unique(label[domain == d])) == 2 for d in np.unique(domain))
        return f"valid_{self.early_stopping_metric}" if defined else "valid_loss"

    def _use_early_stopping(self, n_samples: int) -> bool:
        if self.early_stopping == "auto":
            return n_samples >= AUTO_EARLY_STOPPING_MIN_ROWS
        return bool(self.early_stopping)

    def _check_domain_sizes(self, domain: np.ndarray) -> None:
        counts = np.bincount(domain, minlength=self.n_domains_)
        # A given encoder may know domains that X lacks: their paths stay untrained.
        lowest = 1 if self.encoder is not None else 0
        small = self.domains_[np.flatnonzero((counts >= lowest) & (counts < 2))].tolist()
        if small:
            raise ValueError(
                f"Domain(s) {small[:5]} of column {self.domain_col!r} have a single training "
                "row; each domain needs at least 2 rows to fit its own layers. Merge rare "
                "domains into a larger one or drop them."
            )

    def _build_net(self, valid_dataset, monitor, device, shuffle_seed) -> MultiDomainNet:
        return make_net(
            BACKBONES[self.backbone],
            self._module_kwargs(),
            self.get_params(deep=False),
            valid_dataset=valid_dataset,
            monitor=monitor,
            device=device,
            shuffle_seed=shuffle_seed,
        )

    def __sklearn_clone__(self):
        clone = super().__sklearn_clone__()
        # A fitted encoder is data the clone trains with, not a model to refit: shared as
        # is (scikit-learn's clone would give an unfitted copy). It is never modified.
        if self.encoder is not None:
            clone.encoder = self.encoder
        return clone

    # -- prediction ---------------------------------------------------------------------

    @fill_doc
    def decision_function(self, X):
        """Compute the logit of the positive class (``classes_[1]``) for each row of ``X``.

        Rows are encoded and scored in chunks of a bounded size (and inside a chunk,
        ``batch_size`` rows at a time), so memory stays bounded however long ``X`` is.

        Parameters
        ----------
        %(X_predict)s

        Returns
        -------
        ndarray of shape (n_samples,)
            The logits, float64; positive values favour ``classes_[1]``.
        """
        check_is_fitted(self)
        X = as_frame(X, reset=False, estimator=self)
        if len(X) <= PREDICT_CHUNK_ROWS:
            return self._chunk_logits(X)
        chunks = range(0, len(X), PREDICT_CHUNK_ROWS)
        return np.concatenate(
            [self._chunk_logits(X.iloc[start : start + PREDICT_CHUNK_ROWS]) for start in chunks]
        )

    def _chunk_logits(self, X) -> np.ndarray:
        """The float64 logits of the rows of ``X``, a frame ``as_frame`` has checked."""
        # The encoder checks its own columns; the frame itself was checked just now.
        encoded = self.encoder_._transform_frame(X)
        return self.net_.predict_logits(MultiDomainDataset(encoded)).double().numpy()

    @fill_doc
    def predict_proba(self, X):
        """Predict the probability of each class for each row of ``X``.

        Parameters
        ----------
        %(X_predict)s

        Returns
        -------
        ndarray of shape (n_samples, 2)
            The probabilities, columns in ``classes_`` order; each row sums to 1.
        """
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    @fill_doc
    def predict(self, X):
        """Predict the more likely class of each row of ``X`` (threshold 0.5).

        Parameters
        ----------
        %(X_predict)s

        Returns
        -------
        ndarray of shape (n_samples,)
            Values of ``classes_``.
        """
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(int)]

    # -- persistence --------------------------------------------------------------------

    def save(self, path, *, key=None):
        """Save the fitted estimator to one file, without pickle.

        The module's weights go into a safetensors file whose header holds, as JSON, the
        parameters, the encoder's vocabularies and statistics, ``classes_``, ``domains_``,
        ``history_``, a format version, a SHA-256 checksum of every tensor and one of the
        header, and with ``key`` an HMAC-SHA256 signature. The file is written to a
        temporary name first and then renamed, so it is never left half-written.
        ``callbacks`` and a ``RandomState`` or ``Generator`` ``random_state`` are saved as
        ``None``, and so is ``encoder``: the fitted encoder is saved as ``encoder_``
        (with the parameters it shares with the estimator), so the loaded estimator is
        the one ``encoder=None`` would have given, and :meth:`partial_fit` continues it
        with that ``encoder_``. The optimizer state is not saved: training continued
        after ``load`` starts Adam afresh (``checkpoint_dir`` keeps it). A numpy number
        is saved as the Python number it equals, and an Index or array of column names as
        a list.

        Parameters
        ----------
        path : str or path-like
            Destination file, conventionally ``*.safetensors``.
        key : bytes or str, default=None
            A secret to sign the file with (HMAC-SHA256 over the header and, through their
            checksums, the tensors). ``load(path, key=key)`` then detects any change made
            without the key. The checksums alone detect corruption, not tampering: anyone
            can recompute them.
        """
        check_is_fitted(self)
        save_estimator(self, path, key=key)

    def export(self, path, *, format="onnx"):
        """Export the fitted model for serving without torch: ONNX graph and encoder JSON.

        Writes the folder ``path`` (created if needed) with two files, each written to a
        temporary name and renamed:

        - ``model.onnx``: the module in evaluation mode, with inputs ``x_cat`` (int64,
          ``(n_rows, n_categorical)``), ``x_num`` (float32, ``(n_rows, n_numeric)``)
          and ``domain`` (int64, ``(n_rows,)``), any number of rows, and outputs
          ``logit`` and ``probability`` of ``classes_[1]`` (float32, ``(n_rows,)``).
          Rows of domain -1 (``handle_unknown_domain="average"``) get the mean
          probability over every domain's path, as in :meth:`predict_proba`.
        - ``encoder.json``: how ``encoder_`` encodes a raw row (columns, vocabularies,
          reserved indices, numeric means and scales, domains), ``classes_``, a format
          version and the SHA-256 of ``model.onnx``.

        :func:`sklearn_hamur.serving.load_exported` reads the folder and predicts from
        raw columns with onnxruntime and numpy only. Before writing, the graph is run
        with onnxruntime on probe rows (every domain, unseen and missing categories)
        and compared with the module.

        Parameters
        ----------
        path : str or path-like
            The folder to write ``model.onnx`` and ``encoder.json`` into.
        format : {"onnx"}, default="onnx"
            The export format.

        Returns
        -------
        pathlib.Path
            The folder written.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            When the estimator is not fitted.
        ValueError
            For an unknown ``format`` (the valid ones are listed), or a backbone whose
            forward depends on the data in a way a traced graph cannot hold.
        ImportError
            When onnx or onnxruntime is not installed (``pip install
            'sklearn-hamur[export]'``).

        See Also
        --------
        sklearn_hamur.serving.ExportedModel : Predicts from the exported folder.

        Notes
        -----
        The per-domain layers are computed as every domain's product followed by the
        row's own (:func:`~sklearn_hamur.modules.export_formulation`), so rows need no
        sorting; the graph's probabilities equal :meth:`predict_proba`'s to about 1e-6.
        With ``precision="bf16-mixed"`` or ``"16-mixed"`` the graph still computes in
        float32 (with a warning): :meth:`predict_proba` rounds through autocast.
        """
        from ._export import export_estimator

        return export_estimator(self, path, format=format)

    @classmethod
    def load(cls, path, *, device="auto", key=None):
        """Load an estimator saved with ``save``; never executes code from the file.

        Parameters
        ----------
        path : str or path-like
            The file written by ``save``.
        device : str, default="auto"
            Where to put the model: ``"auto"`` (CUDA when available, so a model trained
            on a GPU loads on a CPU-only machine), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        key : bytes or str, default=None
            The secret the file was saved with: a file without a valid signature (not
            signed, signed with another key, or changed since) then fails. Without a key
            the checksums are checked, which detect corruption but not tampering.

        Returns
        -------
        estimator
            A fitted instance of the class ``load`` is called on.

        Raises
        ------
        ValueError
            For a truncated or corrupted file, a header field that is invalid or does not
            match the tensors (the message names it), a parameter ``fit`` would refuse (the
            same message), another format version, a file saved by another estimator
            class, or with ``key`` a missing or wrong signature.

        Examples
        --------
        >>> import os
        >>> import tempfile
        >>> import numpy as np
        >>> from sklearn_hamur import MultiDomainClassifier
        >>> from sklearn_hamur.datasets import load_adult
        >>> X, y = load_adult(return_X_y=True)
        >>> clf = MultiDomainClassifier(hidden_units=(8,), max_epochs=1, random_state=0)
        >>> clf = clf.fit(X[:1000], y[:1000])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "model.safetensors")
        ...     clf.save(path)
        ...     loaded = MultiDomainClassifier.load(path, device="cpu")
        >>> np.allclose(loaded.predict_proba(X[:5]), clf.predict_proba(X[:5]))
        True
        """
        saved = read_file(path, cls.__name__, key=key)
        estimator, history = restore_estimator(cls, saved, device)
        tensors = saved.tensors
        device = resolve_device(device)
        net = estimator._build_net(None, None, device, 0)
        with isolated_torch_state(device):  # the caller's torch RNG is not advanced
            net.initialize()
        plain_module(net).load_state_dict(tensors, strict=True)
        net.history = History(history)
        estimator.net_, estimator.history_ = net, net.history
        estimator.logistic_blend_weight_ = estimator._saved_blend_weight()
        return estimator

    def _saved_blend_weight(self) -> float:
        """``logistic_blend_weight_`` of a loaded model: held by its linear part."""
        linear = plain_module(self.net_).linear_offset
        if linear is None or self.logistic_offset is not None:
            return 0.0
        return float(np.round(1.0 - float(linear.network_weight), 6))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
