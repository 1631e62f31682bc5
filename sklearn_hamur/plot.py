"""Plots of per-domain quality, in the scikit-learn Display style.

- :class:`DomainMetricsDisplay`: ROC curves of every domain (and of all rows) beside a
  bar chart of the per-domain AUCs.
- :class:`TrainingHistoryDisplay`: learning curves from a fitted model's ``history_``:
  training and validation loss, and the validation AUC overall and per domain.

matplotlib is imported only when something is drawn (``pip install
"sklearn-hamur[plot]"``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils import check_consistent_length, column_or_1d

from ._domain_columns import (
    domain_col_of,
    domain_rows,
    domain_values,
    final_estimator,
    python_scalar,
)


def _pyplot(caller: str):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f'{caller} requires matplotlib: pip install matplotlib (or "sklearn-hamur[plot]").'
        ) from exc
    return plt


def _start_plot(display, ax, name, caller: str):
    """The two Axes to draw ``display`` on, and the title prefix (``"name: "`` or ``""``).

    ``ax`` is two Axes, or None for a new figure with two panels; ``name`` overrides
    ``display.estimator_name``.
    """
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    axes = np.ravel(np.asarray(ax, dtype=object))
    if len(axes) != 2:
        raise ValueError(
            f"{caller}: ax must be None or two matplotlib Axes (curves, bars); got "
            f"{len(axes)} object(s)."
        )
    name = display.estimator_name if name is None else name
    left, right = axes
    return left, right, "" if name is None else f"{name}: "


def _end_plot(display, left, right):
    """Record the drawn Axes (``ax_``) and their figure (``figure_``) on ``display``."""
    display.ax_ = np.array([left, right], dtype=object)
    display.figure_ = left.figure
    return display


class DomainMetricsDisplay:
    """Per-domain ROC curves and AUC bars of a binary classifier.

    Build it with :meth:`~sklearn_hamur.plot.DomainMetricsDisplay.from_estimator` or
    :meth:`~sklearn_hamur.plot.DomainMetricsDisplay.from_predictions`, which also draw
    it; :meth:`~sklearn_hamur.plot.DomainMetricsDisplay.plot` draws it again (e.g. on
    other axes).

    Parameters
    ----------
    fpr : dict of domain to ndarray
        Each domain's false positive rates (an empty array where the AUC is undefined).
    tpr : dict of domain to ndarray
        Each domain's true positive rates (an empty array where the AUC is undefined).
    roc_auc : dict of domain to float
        Each domain's AUC; NaN for a domain whose rows hold a single class.
    n_samples : dict of domain to int
        Each domain's number of rows.
    overall_fpr : ndarray
        The false positive rates of the ROC curve of all rows together.
    overall_tpr : ndarray
        The true positive rates of the ROC curve of all rows together.
    overall_auc : float
        The AUC of all rows together.
    estimator_name : str or None, default=None
        Shown in the titles.

    Attributes
    ----------
    ax_ : ndarray of two matplotlib Axes
        The ROC curves and the AUC bars.
    figure_ : matplotlib.figure.Figure
        The figure that holds them.

    See Also
    --------
    sklearn_hamur.metrics.domain_scores : The per-domain numbers without a plot.
    sklearn_hamur.plot.TrainingHistoryDisplay : Learning curves per domain.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_hamur import MultiDomainClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.plot import DomainMetricsDisplay
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = MultiDomainClassifier(hidden_units=(32,), max_epochs=2, random_state=0)
    >>> clf = clf.fit(X[:3000], y[:3000])
    >>> display = DomainMetricsDisplay.from_estimator(clf, X[3000:5000], y[3000:5000])
    >>> sorted(display.roc_auc)
    ['government', 'other', 'private', 'self_employed']
    >>> [ax.get_xlabel() for ax in display.ax_]
    ['False positive rate', 'Domain']
    """

    def __init__(
        self,
        *,
        fpr,
        tpr,
        roc_auc,
        n_samples,
        overall_fpr,
        overall_tpr,
        overall_auc,
        estimator_name=None,
    ):
        self.fpr = fpr
        self.tpr = tpr
        self.roc_auc = roc_auc
        self.n_samples = n_samples
        self.overall_fpr = overall_fpr
        self.overall_tpr = overall_tpr
        self.overall_auc = overall_auc
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, domain_col=None, name=None, ax=None):
        """Score ``estimator.predict_proba(X)`` per domain and draw the display.

        Parameters
        ----------
        estimator : fitted binary classifier
            A multi-domain model, a Pipeline ending in one, or any classifier with
            ``domain_col`` given.
        X : pandas.DataFrame
            Holds the domain column.
        y : array-like of shape (n_samples,)
            True labels.
        domain_col : str, int or None, default=None
            The domain column of ``X``; ``None`` reads the model's ``domain_col``.
        name : str or None, default=None
            Shown in the titles; ``None`` uses the estimator's class name.
        ax : pair of matplotlib Axes or None, default=None
            Where to draw the curves and the bars; ``None`` makes a new figure.

        Returns
        -------
        DomainMetricsDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        domains = domain_values(
            X, domain_col if domain_col is not None else domain_col_of(estimator)
        )
        classes = np.asarray(estimator.classes_)
        y_score = estimator.predict_proba(X)[:, 1]
        return cls.from_predictions(
            y,
            y_score,
            domains,
            pos_label=classes[1],
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
        )

    @classmethod
    def from_predictions(cls, y_true, y_score, domains, *, pos_label=None, name=None, ax=None):
        """Compute per-domain ROC curves from scores and draw the display.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_score : array-like of shape (n_samples,)
            Scores of the positive class.
        domains : array-like of shape (n_samples,)
            Each row's domain.
        pos_label : int, str or None, default=None
            The positive label; ``None`` means 1 (or True).
        name : str or None, default=None
            Shown in the titles.
        ax : pair of matplotlib Axes or None, default=None
            Where to draw; ``None`` makes a new figure.

        Returns
        -------
        DomainMetricsDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        y_true = column_or_1d(np.asarray(y_true))
        y_score = column_or_1d(y_score)
        domains = column_or_1d(np.asarray(domains))
        check_consistent_length(y_true, y_score, domains)
        positive = (y_true == (1 if pos_label is None else pos_label)).astype(int)
        fpr, tpr, roc_auc, n_samples = {}, {}, {}, {}
        for key, rows in domain_rows(domains):
            fpr[key], tpr[key], roc_auc[key] = _roc(positive[rows], y_score[rows])
            n_samples[key] = int(rows.sum())
        overall_fpr, overall_tpr, overall_auc = _roc(positive, y_score)
        display = cls(
            fpr=fpr,
            tpr=tpr,
            roc_auc=roc_auc,
            n_samples=n_samples,
            overall_fpr=overall_fpr,
            overall_tpr=overall_tpr,
            overall_auc=overall_auc,
            estimator_name=name,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None, *, name=None):
        """Draw the ROC curves (left) and the per-domain AUC bars (right).

        Parameters
        ----------
        ax : pair of matplotlib Axes or None, default=None
            ``None`` makes a new figure with two panels.
        name : str or None, default=None
            Shown in the titles; ``None`` uses ``estimator_name``.

        Returns
        -------
        self
            With ``ax_`` (the two Axes) and ``figure_``.
        """
        curves, bars, title = _start_plot(self, ax, name, "DomainMetricsDisplay.plot")
        curves.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
        if len(self.overall_fpr):
            curves.plot(
                self.overall_fpr,
                self.overall_tpr,
                color="black",
                linestyle="--",
                label=f"all rows (AUC {self.overall_auc:.3f}, n={sum(self.n_samples.values())})",
            )
        for domain, auc in self.roc_auc.items():
            if len(self.fpr[domain]):
                curves.plot(
                    self.fpr[domain],
                    self.tpr[domain],
                    label=f"{domain} (AUC {auc:.3f}, n={self.n_samples[domain]})",
                )
        curves.set(
            xlabel="False positive rate",
            ylabel="True positive rate",
            title=f"{title}ROC per domain",
            xlim=(0, 1),
            ylim=(0, 1.01),
        )
        curves.legend(loc="lower right", fontsize="small")

        labels = [str(domain) for domain in self.roc_auc]
        values = np.array(list(self.roc_auc.values()), dtype=float)
        colors = [f"C{i}" for i in range(len(labels))]
        bars.bar(labels, np.nan_to_num(values, nan=0.0), color=colors)
        for i, value in enumerate(values):
            text = "undefined" if math.isnan(value) else f"{value:.3f}"
            bars.annotate(text, (i, 0 if math.isnan(value) else value), ha="center", va="bottom")
        if not math.isnan(self.overall_auc):
            bars.axhline(self.overall_auc, color="black", linestyle="--", label="all rows")
            bars.legend(loc="lower right", fontsize="small")
        # The bars start a little below the lowest defined AUC, so differences show.
        shown = np.append(values, self.overall_auc)
        low = float(np.nanmin(shown)) if not np.isnan(shown).all() else 0.5
        bars.set(
            xlabel="Domain",
            ylabel="ROC AUC",
            title=f"{title}AUC per domain",
            ylim=(max(0.0, low - 0.05), 1.0),
        )
        return _end_plot(self, curves, bars)


def _roc(positive: np.ndarray, score: np.ndarray):
    """ROC curve and AUC; empty curve and NaN where one class is present."""
    if len(np.unique(positive)) < 2:
        return np.array([]), np.array([]), math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, _ = roc_curve(positive, score)
    return fpr, tpr, float(roc_auc_score(positive, score))


def _per_domain_curves(rows: list, domains) -> dict:
    """Domain (name, or index without ``domains``) to its AUC per epoch (NaN: undefined)."""
    indices = sorted({i for row in rows for i in row.get("valid_auc_per_domain", {})})
    curves = {}
    for i in indices:
        key = i
        if domains is not None:
            key = python_scalar(domains[i])
        curves[key] = np.array(
            [row.get("valid_auc_per_domain", {}).get(i, math.nan) for row in rows], dtype=float
        )
    return curves


class TrainingHistoryDisplay:
    """Learning curves of a fitted multi-domain model, from its ``history_``.

    Left: the training loss and, with a validation split, the validation loss per
    epoch. Right: the validation AUC of all validation rows (black), of each domain,
    and their worst (dotted), as recorded by the estimator each epoch (``valid_auc``,
    ``valid_auc_per_domain``, ``valid_auc_min``). Without a validation split
    (``early_stopping=False``) the right panel says so.

    Parameters
    ----------
    epochs : ndarray of int
        The epoch numbers, from 1.
    train_loss : ndarray
        The training loss of each epoch.
    valid_loss : ndarray or None, default=None
        The validation loss of each epoch; ``None`` without a validation split.
    valid_auc : ndarray or None, default=None
        The validation AUC of each epoch; ``None`` without a validation split.
    valid_auc_per_domain : dict of domain to ndarray, or None, default=None
        Each domain's validation AUC per epoch, NaN in epochs where it was undefined.
    estimator_name : str or None, default=None
        Shown in the titles.

    Attributes
    ----------
    ax_ : ndarray of two matplotlib Axes
        The losses and the AUCs.
    figure_ : matplotlib.figure.Figure
        The figure that holds them.

    See Also
    --------
    sklearn_hamur.plot.DomainMetricsDisplay : Per-domain ROC curves on test data.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_hamur import HAMURClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.plot import TrainingHistoryDisplay
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = HAMURClassifier(
    ...     hidden_units=(32,), adapter_rank=8, max_epochs=3, early_stopping=True,
    ...     early_stopping_metric="auc_min", random_state=0,
    ... ).fit(X[:3000], y[:3000])
    >>> display = TrainingHistoryDisplay.from_estimator(clf)
    >>> sorted(display.valid_auc_per_domain)
    ['government', 'other', 'private', 'self_employed']
    >>> display.ax_[1].get_ylabel()
    'Validation ROC AUC'
    """

    def __init__(
        self,
        *,
        epochs,
        train_loss,
        valid_loss=None,
        valid_auc=None,
        valid_auc_per_domain=None,
        estimator_name=None,
    ):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.valid_auc = valid_auc
        self.valid_auc_per_domain = valid_auc_per_domain
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, name=None, ax=None):
        """Read the learning curves of a fitted model and draw them.

        Parameters
        ----------
        estimator : fitted HAMURClassifier or MultiDomainClassifier
            Or a fitted Pipeline, search or
            :class:`~sklearn_hamur.model_selection.DecodedParamsClassifier` holding one.
        name : str or None, default=None
            Shown in the titles; ``None`` uses the model's class name.
        ax : pair of matplotlib Axes or None, default=None
            Where to draw the losses and the AUCs; ``None`` makes a new figure.

        Returns
        -------
        TrainingHistoryDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        model = final_estimator(estimator, fitted=True)
        if model is None or not hasattr(model, "history_"):
            raise ValueError(
                f"TrainingHistoryDisplay.from_estimator needs a fitted sklearn-hamur model "
                f"with a history_; {type(estimator).__name__} has none. Fit it first, or "
                "use from_history."
            )
        return cls.from_history(
            model.history_,
            domains=model.domains_,
            name=type(model).__name__ if name is None else name,
            ax=ax,
        )

    @classmethod
    def from_history(cls, history, *, domains=None, name=None, ax=None):
        """Read learning curves from a skorch ``History`` and draw them.

        Parameters
        ----------
        history : skorch.history.History or list of dict
            One dict per epoch, as in ``estimator.history_``.
        domains : array-like or None, default=None
            Domain names by index (``estimator.domains_``), to label the per-domain
            curves; ``None`` labels them by index.
        name : str or None, default=None
            Shown in the titles.
        ax : pair of matplotlib Axes or None, default=None
            Where to draw; ``None`` makes a new figure.

        Returns
        -------
        TrainingHistoryDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        rows = list(history)
        if not rows:
            raise ValueError("TrainingHistoryDisplay: the history is empty (no epoch).")

        def column(key):
            if not any(key in row for row in rows):
                return None
            return np.array([row.get(key, math.nan) for row in rows], dtype=float)

        per_domain = None
        if any("valid_auc_per_domain" in row for row in rows):
            per_domain = _per_domain_curves(rows, domains)
        display = cls(
            epochs=np.array([row["epoch"] for row in rows]),
            train_loss=column("train_loss"),
            valid_loss=column("valid_loss"),
            valid_auc=column("valid_auc"),
            valid_auc_per_domain=per_domain,
            estimator_name=name,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None, *, name=None):
        """Draw the losses (left) and the validation AUCs (right).

        Parameters
        ----------
        ax : pair of matplotlib Axes or None, default=None
            ``None`` makes a new figure with two panels.
        name : str or None, default=None
            Shown in the titles; ``None`` uses ``estimator_name``.

        Returns
        -------
        self
            With ``ax_`` (the two Axes) and ``figure_``.
        """
        losses, aucs, title = _start_plot(self, ax, name, "TrainingHistoryDisplay.plot")
        if self.train_loss is not None:
            losses.plot(self.epochs, self.train_loss, marker="o", label="training")
        if self.valid_loss is not None:
            losses.plot(self.epochs, self.valid_loss, marker="o", label="validation")
        losses.set(xlabel="Epoch", ylabel="Log loss", title=f"{title}loss")
        losses.legend(fontsize="small")
        aucs.set(xlabel="Epoch", ylabel="Validation ROC AUC", title=f"{title}validation AUC")
        if self.valid_auc is None:
            aucs.text(
                0.5,
                0.5,
                "no validation split\n(fit with early_stopping=True)",
                ha="center",
                va="center",
                transform=aucs.transAxes,
            )
        else:
            aucs.plot(self.epochs, self.valid_auc, color="black", marker="o", label="all rows")
            curves = self.valid_auc_per_domain or {}
            for i, (domain, values) in enumerate(curves.items()):
                aucs.plot(self.epochs, values, color=f"C{i}", label=str(domain))
            if curves:
                with warnings.catch_warnings():  # an epoch without any defined AUC
                    warnings.simplefilter("ignore", RuntimeWarning)
                    worst = np.nanmin(np.vstack(list(curves.values())), axis=0)
                aucs.plot(self.epochs, worst, color="0.4", linestyle=":", label="worst domain")
            aucs.legend(fontsize="small")
        return _end_plot(self, losses, aucs)


__all__ = ["DomainMetricsDisplay", "TrainingHistoryDisplay"]
