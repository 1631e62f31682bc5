"""Optuna tuning of the multi-domain estimators, with per-epoch pruning.

Public through :mod:`sklearn_hamur.model_selection`.
"""

from __future__ import annotations

import math
import os
import socket

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import StudyDirection
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from skorch.callbacks import Callback

from ._domain_columns import final_estimator
from ._search_space import decode_params, hamur_search_space
from ._splitting import DomainStratifiedKFold
from .metrics import make_domain_scorer

#: The history key the pruning callback reads for each ``early_stopping_metric``.
MONITORS = {
    "auc": "valid_auc",
    "auc_mean": "valid_auc_mean",
    "auc_min": "valid_auc_min",
    "loss": "valid_loss",
}


class OptunaPruning(Callback):
    """Report a validation score to an Optuna trial each epoch, and prune when told to.

    A skorch callback: after every epoch it reports ``monitor`` to ``trial``, and stops
    the fit with :class:`optuna.TrialPruned` when the trial's pruner says so. Pass it in
    the estimator's ``callbacks``; :func:`~sklearn_hamur.model_selection.tune` does this
    for you.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The running trial.
    monitor : str, default="valid_auc"
        The ``history_`` key to report: ``"valid_auc"``, ``"valid_auc_mean"``,
        ``"valid_auc_min"`` (the worst domain) or ``"valid_loss"``. These exist only
        when the estimator holds out a validation split (``early_stopping=True``).
    lower_is_better : bool or None, default=None
        Whether a lower ``monitor`` is better; ``None`` means: when it ends in
        ``"loss"``. Values are reported in the study's direction (a loss is negated for
        a study that maximizes), so the pruner compares like with like.
    step_offset : int, default=0
        Added to the epoch index (from 0) to make the reported step.
        :func:`~sklearn_hamur.model_selection.tune` gives fold ``i`` the offset
        ``i * max_epochs``, so every fold reports its own steps.

    See Also
    --------
    sklearn_hamur.model_selection.tune : Runs a study with this callback in every fit.

    Notes
    -----
    :func:`sklearn.base.clone` of an estimator that holds this callback gives a new
    callback for the same trial: the trial (a handle on the study's storage) is shared,
    never copied. An epoch whose score is NaN (a validation split with one class) is
    not reported.

    Examples
    --------
    >>> import optuna
    >>> from sklearn_hamur import MultiDomainClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.model_selection import OptunaPruning
    >>> X, y = load_adult(return_X_y=True)
    >>> def objective(trial):
    ...     clf = MultiDomainClassifier(
    ...         lr=trial.suggest_float("lr", 1e-3, 1e-1, log=True),
    ...         hidden_units=(32,), max_epochs=3, early_stopping=True, random_state=0,
    ...         callbacks=[("pruning", OptunaPruning(trial, monitor="valid_auc_min"))],
    ...     )
    ...     return clf.fit(X[:2000], y[:2000]).history_[-1, "valid_auc_min"]
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(
    ...     direction="maximize", sampler=optuna.samplers.TPESampler(seed=0)
    ... )
    >>> study.optimize(objective, n_trials=2)
    >>> sorted(study.trials[0].intermediate_values)
    [0, 1, 2]
    """

    def __init__(self, trial, monitor="valid_auc", *, lower_is_better=None, step_offset=0):
        self.trial = trial
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.step_offset = step_offset

    def __sklearn_clone__(self):
        # The trial is shared by the clone, not deep-copied: it is a handle on the study.
        return type(self)(**self.get_params(deep=False))

    def on_epoch_end(self, net, **kwargs) -> None:
        """Report the epoch's ``monitor`` value to the trial; prune if the pruner says so.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained; its last ``history`` row is reported.
        **kwargs : dict
            Other arguments skorch passes to callbacks; ignored.

        Raises
        ------
        optuna.TrialPruned
            When the trial's pruner decides to stop it.
        ValueError
            If ``monitor`` is not in the history (no validation split).
        """
        row = net.history[-1]
        if self.monitor not in row:
            raise ValueError(
                f"OptunaPruning: monitor={self.monitor!r} is not in the history of epoch "
                f"{row['epoch']} (keys: {sorted(row)}). Validation scores need a validation "
                "split: set early_stopping=True on the estimator, or choose one of "
                f"{sorted(MONITORS.values())}."
            )
        value = row[self.monitor]
        if value is None or not math.isfinite(value):
            return
        lower = (
            self.monitor.endswith("loss")
            if self.lower_is_better is None
            else bool(self.lower_is_better)
        )
        study = getattr(self.trial, "study", None)
        minimize = getattr(study, "direction", StudyDirection.MAXIMIZE) == StudyDirection.MINIMIZE
        reported = float(value) if lower == minimize else -float(value)
        self.trial.report(reported, step=self.step_offset + row["epoch"] - 1)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {row['epoch']} ({self.monitor}={value:.4g})")


def tune(
    estimator,
    X,
    y,
    n_trials,
    *,
    param_distributions=None,
    cv=None,
    scoring=None,
    storage=None,
    study_name=None,
    pruner=None,
    sampler=None,
    monitor=None,
    timeout=None,
    refit=True,
    random_state=None,
):
    """Tune a multi-domain estimator with an Optuna study, pruning trials per epoch.

    Each trial draws parameters from ``param_distributions``, cross-validates a clone
    of ``estimator`` with them, and returns the mean ``scoring`` over the folds
    (maximized). While each fold trains,
    :class:`~sklearn_hamur.model_selection.OptunaPruning` reports the validation score of
    every epoch (from the estimator's own early-stopping split) to the trial, and the
    ``pruner`` stops trials that fall behind.

    Parameters
    ----------
    estimator : HAMURClassifier or MultiDomainClassifier
        The model to tune, alone, as the last step of a Pipeline, or inside a
        :class:`~sklearn_hamur.model_selection.DecodedParamsClassifier`. It is cloned,
        never changed.
    X : pandas.DataFrame
        Features with the domain column.
    y : array-like of shape (n_samples,)
        Binary labels.
    n_trials : int
        Trials that this call runs (per process: each worker sharing a study runs its
        own ``n_trials``; cap the total with ``optuna.study.MaxTrialsCallback`` in a
        study of your own, or give each worker its share).
    param_distributions : dict of str to optuna distribution, default=None
        Parameter name (with the Pipeline prefix, e.g. ``"clf__lr"``) to an Optuna
        distribution. Strings for the tuple-of-widths parameters (``hidden_units``,
        ``hyper_hidden_units`` and the other ``*_units``) are decoded (``"256-128"``
        -> ``(256, 128)``, :func:`~sklearn_hamur.model_selection.decode_params`). ``None`` uses
        :func:`~sklearn_hamur.model_selection.hamur_search_space` (without the adapter
        parameters for a :class:`~sklearn_hamur.MultiDomainClassifier`).
    cv : int, cross-validation splitter or None, default=None
        ``None``: :class:`~sklearn_hamur.model_selection.DomainStratifiedKFold` with 3
        folds on the model's ``domain_col`` (not shuffled, so every worker sees the same
        folds). An int is a number of stratified folds. The folds are drawn once and
        used by every trial.
    scoring : str, callable or None, default=None
        One scorer (greater is better). ``None``: the mean of the per-domain AUCs,
        ``make_domain_scorer("roc_auc", aggregate="mean")``
        (:func:`~sklearn_hamur.metrics.make_domain_scorer`).
    storage : str, optuna.storages.BaseStorage or None, default=None
        Where the study lives: ``None`` in memory; an SQL URL
        (``"sqlite:///tuning.db"``, ``"postgresql://user:pass@host/db"``) or a storage
        object such as ``optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend("tuning.log"))``. Worker processes
        that pass the same storage and ``study_name`` join one study.
    study_name : str or None, default=None
        Name of the study, created if missing and loaded if it exists (give one to
        share a study).
    pruner : optuna.pruners.BasePruner or None, default=None
        ``None``: ``optuna.pruners.MedianPruner()``. ``optuna.pruners.NopPruner()``
        switches pruning off.
    sampler : optuna.samplers.BaseSampler or None, default=None
        ``None``: ``optuna.samplers.TPESampler(seed=random_state)``.
    monitor : str or None, default=None
        The history key reported each epoch (see
        :class:`~sklearn_hamur.model_selection.OptunaPruning`). ``None`` follows the
        model's ``early_stopping_metric``: ``"valid_auc"``, ``"valid_auc_mean"``,
        ``"valid_auc_min"`` or ``"valid_loss"``.
    timeout : float or None, default=None
        Stop starting new trials after this many seconds.
    refit : bool, default=True
        Fit a clone with the best trial's parameters on all of ``X``, ``y``.
    random_state : int or None, default=None
        Seeds the default sampler. Give each worker of a shared study a different
        value (or ``None``): equal seeds make the workers suggest the same parameters.

    Returns
    -------
    best_estimator : estimator or None
        The refitted best model (``None`` when ``refit=False``).
    study : optuna.study.Study
        Every trial of the study (those of other workers too); each records its fold
        scores as user attributes ``split<i>_test_score``, ``mean_test_score`` and
        ``std_test_score``, and the ``worker`` (``host:pid``) that ran it.

    See Also
    --------
    sklearn_hamur.model_selection.hamur_search_space : The default distributions.
    sklearn_hamur.model_selection.OptunaPruning : The callback that reports each epoch.
    sklearn_hamur.metrics.make_domain_scorer : Per-domain scores to optimize.

    Notes
    -----
    Pruning needs a validation score each epoch, so a model with
    ``early_stopping="auto"`` is trained with ``early_stopping=True`` in the trials and
    in the refit. With ``early_stopping=False``, pass
    ``pruner=optuna.pruners.NopPruner()``. Fold ``i`` reports its epochs as steps
    ``i * max_epochs`` onwards, so the pruner compares trials fold by fold and epoch by
    epoch.

    Examples
    --------
    >>> import optuna
    >>> from sklearn_hamur import HAMURClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.model_selection import tune
    >>> X, y = load_adult(return_X_y=True)
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> space = {
    ...     "lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
    ...     "hidden_units": optuna.distributions.CategoricalDistribution(["32", "64-32"]),
    ... }
    >>> clf = HAMURClassifier(max_epochs=2, adapter_rank=8, random_state=0)
    >>> best, study = tune(
    ...     clf, X[:2000], y[:2000], n_trials=2, param_distributions=space, cv=2,
    ...     random_state=0,
    ... )
    >>> len(study.trials), best.hidden_units in [(32,), (64, 32)]
    (2, True)
    """
    model = final_estimator(estimator)
    if model is None or "callbacks" not in model.get_params(deep=False):
        raise TypeError(
            "tune needs an sklearn-hamur estimator (HAMURClassifier or "
            "MultiDomainClassifier), alone or as the last step of a Pipeline; got "
            f"{type(estimator).__name__}. Use optuna-integration's OptunaSearchCV for "
            "other estimators."
        )
    if getattr(model, "warm_start", False):
        raise ValueError(
            "tune trains every trial and fold from scratch, but the estimator has "
            "warm_start=True, which would continue one trial's training in the next. Set "
            "warm_start=False (and leave checkpoint_dir=None) for tuning."
        )
    prefix = _model_prefix(estimator)
    if param_distributions is None:
        adapters = "adapter_rank" in model.get_params(deep=False)
        param_distributions = hamur_search_space(adapters=adapters, prefix=prefix)
    _check_distributions(estimator, param_distributions)
    if isinstance(scoring, dict | list | tuple | set):
        raise ValueError("tune optimizes one score: pass a single scorer as scoring.")
    scorer = (
        make_domain_scorer("roc_auc", aggregate="mean")
        if scoring is None
        else check_scoring(estimator, scoring=scoring)
    )
    if cv is None:
        cv = DomainStratifiedKFold(n_splits=3, domain_col=model.domain_col)
    splits = list(check_cv(cv, y, classifier=True).split(X, y))
    pruner = optuna.pruners.MedianPruner() if pruner is None else pruner
    fixed, pruning = _fixed_params(model, prefix, pruner)
    objective = _Objective(
        estimator=estimator,
        X=X,
        y=y,
        param_distributions=param_distributions,
        splits=splits,
        scorer=scorer,
        fixed=fixed,
        prefix=prefix,
        monitor=(monitor or MONITORS[model.early_stopping_metric]) if pruning else None,
    )
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=random_state) if sampler is None else sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=n_trials, timeout=timeout)
    if not refit:
        return None, study
    completed = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        raise ValueError(
            f"tune: no trial of study {study.study_name!r} completed ({len(study.trials)} "
            "trial(s), all pruned or failed), so there is no best estimator. Run more "
            "trials, use a more lenient pruner, or pass refit=False."
        )
    best_params = {
        name: value
        for name, value in study.best_trial.params.items()
        if name in param_distributions
    }
    return objective.make_estimator(best_params).fit(X, y), study


class _Objective:
    """One trial: cross-validate a clone of the estimator with suggested parameters."""

    def __init__(
        self, *, estimator, X, y, param_distributions, splits, scorer, fixed, prefix, monitor
    ):
        self.estimator = estimator
        self.X, self.y = X, y
        self.param_distributions = param_distributions
        self.splits = splits
        self.scorer = scorer
        self.fixed = fixed
        self.prefix = prefix
        self.monitor = monitor

    def make_estimator(self, params, callback_factory=None):
        """A clone with ``params`` (decoded), the fixed parameters and the callback."""
        estimator = clone(self.estimator).set_params(**decode_params(params), **self.fixed)
        if callback_factory is not None:
            model = final_estimator(estimator)
            callback = callback_factory(model.max_epochs)
            callbacks = [*(model.callbacks or []), ("optuna_pruning", callback)]
            estimator.set_params(**{self.prefix + "callbacks": callbacks})
        return estimator

    def __call__(self, trial) -> float:
        params = {
            name: _suggest(trial, name, distribution)
            for name, distribution in self.param_distributions.items()
        }
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        scores = []
        for fold, (train, test) in enumerate(self.splits):
            factory = None
            if self.monitor is not None:
                factory = lambda max_epochs, fold=fold: OptunaPruning(  # noqa: E731
                    trial, monitor=self.monitor, step_offset=fold * max_epochs
                )
            estimator = self.make_estimator(params, factory)
            estimator.fit(_safe_indexing(self.X, train), _safe_indexing(self.y, train))
            score = float(
                self.scorer(estimator, _safe_indexing(self.X, test), _safe_indexing(self.y, test))
            )
            trial.set_user_attr(f"split{fold}_test_score", score)
            scores.append(score)
        trial.set_user_attr("mean_test_score", float(np.mean(scores)))
        trial.set_user_attr("std_test_score", float(np.std(scores)))
        return float(np.mean(scores))


def _suggest(trial, name: str, distribution: BaseDistribution):
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    raise TypeError(f"tune: unsupported distribution for {name!r}: {distribution!r}.")


def _model_prefix(estimator) -> str:
    """The parameter prefix of the model inside ``estimator`` (``"clf__"`` in a Pipeline)."""
    prefix = ""
    while not hasattr(estimator, "domain_col"):
        if isinstance(estimator, Pipeline):
            name, estimator = estimator.steps[-1]
        else:
            name, estimator = "estimator", estimator.estimator
        prefix += f"{name}__"
    return prefix


def _check_distributions(estimator, param_distributions) -> None:
    valid = estimator.get_params(deep=True)
    problems = []
    for name, distribution in param_distributions.items():
        if name not in valid:
            problems.append(f"{name!r} is not a parameter of {type(estimator).__name__}")
        if not isinstance(distribution, BaseDistribution):
            problems.append(
                f"param_distributions[{name!r}] must be an optuna distribution (e.g. "
                f"optuna.distributions.FloatDistribution); got {distribution!r}"
            )
    if problems:
        raise ValueError(
            "tune: " + "; ".join(problems) + f". Valid names include {sorted(valid)[:12]}; "
            "in a Pipeline, prefix the step name (e.g. 'clf__lr')."
        )


def _fixed_params(model, prefix: str, pruner) -> tuple[dict, bool]:
    """Parameters every trial needs, and whether trials are pruned per epoch."""
    if isinstance(pruner, optuna.pruners.NopPruner) and model.early_stopping is not True:
        return {}, False
    if model.early_stopping == "auto":
        return {prefix + "early_stopping": True}, True
    if model.early_stopping is False:
        raise ValueError(
            "tune prunes trials on per-epoch validation scores, which need a validation "
            "split, but the estimator has early_stopping=False. Set early_stopping=True "
            "(or 'auto'), or pass pruner=optuna.pruners.NopPruner() to tune without pruning."
        )
    return {}, True
