"""Compare models in a few lines: cross-validated scores per domain, against a reference.

- :func:`compare`: fit every model on the same folds, score each fold overall and per
  domain (AUC, log loss), time the fits, and give the mean and standard deviation over
  the folds together with the paired difference to a reference model.
- :func:`make_baselines`: ready scikit-learn baselines for CTR data (one-hot logistic
  regression; gradient-boosted trees with ordinal codes, or target encoding for id
  columns with many values) and the package's backbone without adapters.
- :func:`plot_comparison`: the per-domain AUCs of a :func:`compare` table as bars.
"""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import check_cv

from ._domain_columns import domain_values, python_scalar
from ._splitting import DomainStratifiedKFold
from ._validation import to_pandas
from .metrics import domain_scores, log_loss_both_labels, score_rows

__all__ = ["compare", "make_baselines", "plot_comparison"]

#: Scores :func:`compare` computes, by name; higher is better for the AUC only.
SCORES = ("roc_auc", "log_loss")

#: Row label of the scores over all rows, in the ``domain`` level of the table.
ALL = "all"

#: Most categories a column may have to be coded natively by HistGradientBoosting; columns
#: with more (user, item, ad ids) are target-encoded instead.
MAX_NATIVE_CATEGORIES = 254


def _named_estimators(estimators) -> dict:
    """``estimators`` as a dict name -> estimator (a list gets its class names)."""
    if isinstance(estimators, dict):
        named = dict(estimators)
    elif isinstance(estimators, (list, tuple)):
        named = {}
        for item in estimators:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                name, estimator = item
            else:
                name, estimator = type(item).__name__, item
            base, i = name, 2
            while name in named:
                name, i = f"{base} ({i})", i + 1
            named[name] = estimator
    else:
        raise TypeError(
            "estimators must be a dict {name: estimator} or a list of estimators or of "
            f"(name, estimator) pairs; got {type(estimators).__name__}."
        )
    if not named:
        raise ValueError("estimators is empty; pass at least one estimator to compare.")
    lacking = [
        n for n, e in named.items() if not hasattr(e, "fit") or not hasattr(e, "predict_proba")
    ]
    if lacking:
        raise TypeError(
            f"estimators {lacking} have no fit or predict_proba method; compare needs "
            "probabilistic classifiers (or Pipelines ending in one)."
        )
    return named


def _check_scoring(scoring) -> tuple:
    scoring = (scoring,) if isinstance(scoring, str) else tuple(scoring)
    unknown = [s for s in scoring if s not in SCORES]
    if unknown or not scoring:
        raise ValueError(
            f"scoring must be one or several of {list(SCORES)}; got {list(scoring)!r}."
        )
    return scoring


def _fit_and_score(estimator, X, y, train, test, domains, scoring) -> dict:
    """Fit a clone of ``estimator`` on the ``train`` rows; its scores on ``test``, timed."""
    model = clone(estimator)
    start = time.perf_counter()
    model.fit(X.iloc[train], y[train])
    fit_time = time.perf_counter() - start
    test_domains = None if domains is None else domains[test]
    return {
        ("fit_time", ALL): fit_time,
        **_fold_scores(model, X.iloc[test], y[test], test_domains, scoring),
    }


def _fold_scores(estimator, X_test, y_test, domains, scoring) -> dict:
    """``{(score, domain): value}`` of a fitted ``estimator`` on one test fold."""
    positive = estimator.classes_[1]
    proba = estimator.predict_proba(X_test)[:, 1]
    label = (y_test == positive).astype(int)
    metrics = {"roc_auc": roc_auc_score, "log_loss": log_loss_both_labels}
    scores = {}
    for name in scoring:
        # NaN where the metric is undefined (an AUC on one class), as per domain.
        scores[(name, ALL)] = score_rows(metrics[name], label, proba, None)
        if domains is not None:
            for domain, value in domain_scores(label, proba, domains, metrics[name]).items():
                scores[(name, python_scalar(domain))] = value
    return scores


def compare(
    estimators,
    X,
    y,
    *,
    cv=3,
    scoring=SCORES,
    reference=None,
    domain_col="domain",
    return_folds=False,
    n_jobs=None,
):
    """Cross-validate several models on the same folds, overall and per domain.

    Every model is cloned and fitted on the same training folds, and scored on the
    test fold: AUC and log loss on all rows and on each domain's rows, and the fit time.
    Each score is then averaged over the folds, with its standard deviation, and
    compared fold by fold with the same score of the ``reference`` model.

    Parameters
    ----------
    estimators : dict or list
        The models: a dict ``{name: estimator}``, or a list of estimators (named by
        their class) or of ``(name, estimator)`` pairs. Each needs ``fit`` and
        ``predict_proba`` and is cloned, so the ones passed stay unfitted.
    X : DataFrame of shape (n_samples, n_columns)
        The features and the domain column (pandas; a polars DataFrame or pyarrow Table
        is converted to pandas first, and every model gets the pandas frame).
    y : array-like of shape (n_samples,)
        Binary labels; ``estimator.classes_[1]`` of each fitted model is the positive
        class.
    cv : int, cross-validation generator or iterable, default=3
        The folds: a number of :class:`~sklearn_hamur.model_selection.DomainStratifiedKFold`
        folds (shuffled, ``random_state=0``, stratified on domain x label), a splitter
        (``split(X, y)`` is called once, so every model sees the same folds) or an
        iterable of ``(train, test)`` index arrays.
    scoring : str or sequence of str, default=("roc_auc", "log_loss")
        Scores to compute, among ``"roc_auc"`` and ``"log_loss"``.
    reference : str, default=None
        The name of the model the others are compared with; the first one when None.
    domain_col : str or None, default="domain"
        The column of ``X`` holding each row's domain, for the per-domain scores and
        the default folds; None scores all rows only.
    return_folds : bool, default=False
        Also return the score of every model on every fold.
    n_jobs : int, default=None
        Number of fits run in parallel, each (model, fold) pair a job (joblib; ``None``
        is 1 unless in a ``joblib.parallel_config`` context, ``-1`` every core). As in
        ``GridSearchCV``, each worker's torch fits use their share of the cores, not all
        of them. The scores do not depend on it; the fit times do.

    Returns
    -------
    table : pandas.DataFrame
        One row per (``model``, ``domain``) pair: domain ``"all"`` (every row) first,
        then each domain in sorted order. For each score ``s`` in ``scoring``, columns
        ``s_mean`` and ``s_std`` (over the folds) and ``s_diff`` and ``s_diff_std``: the
        mean and standard deviation over the folds of the model's score minus the
        reference's on the same fold (0 for the reference; positive is better for the
        AUC, negative for the log loss). ``fit_time_mean`` and ``fit_time_std`` (seconds)
        are on the ``"all"`` rows. ``table.attrs`` holds ``reference`` and ``n_folds``.
    folds : pandas.DataFrame
        Only with ``return_folds=True``: one row per (``model``, ``fold``), one column
        per (``score``, ``domain``), and ``("fit_time", "all")``.

    See Also
    --------
    make_baselines : Baselines to compare a model with.
    plot_comparison : The per-domain AUCs of the table as bars.
    sklearn_hamur.metrics.domain_scores : A metric on each domain's rows.

    Notes
    -----
    The folds share training rows, so their scores are not independent: the standard
    deviations, and differences of less than about two of them, understate the
    uncertainty (Nadeau and Bengio, 2003). For a claim, repeat over seeds, as
    ``benchmarks/run.py`` does. A domain whose test rows hold one class has no AUC on
    that fold (NaN, left out of the mean).

    References
    ----------
    .. [1] C. Nadeau and Y. Bengio, "Inference for the Generalization Error", Machine
       Learning 52, 239-281, 2003.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_hamur import MultiDomainClassifier, compare, make_baselines
    >>> from sklearn_hamur.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> X, y = X[:2000], y[:2000]
    >>> models = {"backbone": MultiDomainClassifier(hidden_units=(16,), max_epochs=2)}
    >>> models["logreg"] = make_baselines(X)["LogisticRegression"]
    >>> table = compare(models, X, y, cv=2, reference="logreg")
    >>> table.index.names
    FrozenList(['model', 'domain'])
    >>> table.loc[("logreg", "all"), ["roc_auc_mean", "roc_auc_diff"]].round(1).tolist()
    [0.9, 0.0]
    """
    named = _named_estimators(estimators)
    scoring = _check_scoring(scoring)
    if reference is None:
        reference = next(iter(named))
    if reference not in named:
        raise ValueError(f"reference={reference!r} is not one of the models {list(named)}.")
    X = to_pandas(X)
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y).ravel()
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} values; they must match.")
    if domain_col is not None and (not hasattr(X, "columns") or domain_col not in X.columns):
        columns = list(getattr(X, "columns", []))[:20]
        raise ValueError(
            f"domain_col={domain_col!r} is not a column of X (columns: {columns}); pass "
            "the name of the domain column, or domain_col=None to score all rows only."
        )
    domains = None if domain_col is None else domain_values(X, domain_col)
    folds = _folds(cv, X, y, domain_col)
    jobs = [(i, name, train, test) for i, (train, test) in enumerate(folds) for name in named]
    records = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score)(named[name], X, y, train, test, domains, scoring)
        for _, name, train, test in jobs
    )
    index = [(name, i) for i, name, _, _ in jobs]
    per_fold = pd.DataFrame(
        records, index=pd.MultiIndex.from_tuples(index, names=["model", "fold"])
    )
    per_fold.columns = pd.MultiIndex.from_tuples(per_fold.columns, names=["score", "domain"])
    table = _summarize(per_fold, list(named), reference, scoring)
    table.attrs.update(reference=reference, n_folds=len(folds))
    return (table, per_fold) if return_folds else table


def _folds(cv, X, y, domain_col) -> list:
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds; got cv={cv}.")
        if domain_col is not None:
            cv = DomainStratifiedKFold(cv, shuffle=True, random_state=0, domain_col=domain_col)
    folds = list(check_cv(cv, y, classifier=True).split(X, y))
    if not folds:
        raise ValueError("cv gave no (train, test) split.")
    return folds


def _summarize(per_fold: pd.DataFrame, names: list, reference: str, scoring) -> pd.DataFrame:
    """The ``compare`` table from the per-fold scores."""
    keys = [k for k in per_fold.columns if k[0] in scoring]
    domains = [ALL] + sorted({d for _, d in keys if d != ALL}, key=str)
    ref = per_fold.loc[reference]
    rows = []
    for name in names:
        scores = per_fold.loc[name]
        for domain in domains:
            row = {"model": name, "domain": domain}
            for score in scoring:
                if (score, domain) not in scores:
                    continue
                values = scores[(score, domain)].to_numpy(dtype=float)
                diffs = values - ref[(score, domain)].to_numpy(dtype=float)
                row.update(_stats(score, values), **_stats(f"{score}_diff", diffs, "", "_std"))
            if domain == ALL:
                row.update(_stats("fit_time", scores[("fit_time", ALL)].to_numpy(dtype=float)))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "domain"])


def _stats(name: str, values: np.ndarray, mean: str = "_mean", std: str = "_std") -> dict:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {f"{name}{mean}": np.nan, f"{name}{std}": np.nan}
    spread = float(np.std(finite, ddof=1)) if len(finite) > 1 else np.nan
    return {f"{name}{mean}": float(np.mean(finite)), f"{name}{std}": spread}


def plot_comparison(table, *, score="roc_auc", ax=None):
    """Draw a :func:`compare` table as bars: each model's score per domain, with its std.

    Parameters
    ----------
    table : pandas.DataFrame
        The table :func:`compare` returned.
    score : {"roc_auc", "log_loss"}, default="roc_auc"
        The score to draw; it must be in the table.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on (``ax.figure`` is the figure).

    See Also
    --------
    compare : The table drawn here.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_hamur import plot_comparison
    >>> index = pd.MultiIndex.from_tuples(
    ...     [("a", "all"), ("a", "x"), ("b", "all"), ("b", "x")], names=["model", "domain"]
    ... )
    >>> table = pd.DataFrame(
    ...     {"roc_auc_mean": [0.8, 0.7, 0.9, 0.8], "roc_auc_std": [0.01] * 4}, index=index
    ... )
    >>> ax = plot_comparison(table)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['all', 'x']
    """
    column = f"{score}_mean"
    if not isinstance(table, pd.DataFrame) or column not in table.columns:
        raise ValueError(
            f"table must be the DataFrame compare() returned, with a {column!r} column "
            f"(score must be among the scores it computed); got score={score!r}."
        )
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_comparison requires matplotlib: pip install matplotlib "
            '(or "sklearn-hamur[plot]").'
        ) from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    means = table[column].unstack("model")
    stds = table.get(f"{score}_std", pd.Series(np.nan, index=table.index)).unstack("model")
    order = [ALL] + [d for d in means.index if d != ALL]
    means, stds = means.reindex(order), stds.reindex(order)
    models = list(dict.fromkeys(table.index.get_level_values("model")))
    width = 0.8 / len(models)
    positions = np.arange(len(order))
    for i, model in enumerate(models):
        ax.bar(
            positions + (i - (len(models) - 1) / 2) * width,
            means[model].to_numpy(dtype=float),
            width,
            yerr=stds[model].to_numpy(dtype=float),
            label=str(model),
            capsize=2,
        )
    ax.set_xticks(positions, [str(d) for d in order])
    finite = means.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if score == "roc_auc" and len(finite):
        ax.set_ylim(max(0.0, finite.min() - 0.05), min(1.0, finite.max() + 0.02))
    ax.set_ylabel(f"{score} (mean over folds)")
    ax.set_xlabel("domain")
    ax.legend(fontsize="small")
    return ax


class _Cardinality:
    """Picks the columns of ``columns`` with at most (``low=True``) or more than
    ``max_categories`` distinct values in the frame given (a ColumnTransformer selector:
    the choice is made at fit, on the training rows)."""

    def __init__(self, columns, max_categories, low):
        self.columns = list(columns)
        self.max_categories = max_categories
        self.low = low

    def __call__(self, X):
        return [c for c in self.columns if (X[c].nunique() <= self.max_categories) == self.low]


def _categories_as_strings(X, columns):
    """Categorical columns as strings (missing: ``"nan"``), so encoders compare values."""
    return X.astype({c: str for c in columns})


def _as_category(X):
    """Every column as the pandas category dtype (native categorical features)."""
    return X.astype("category")


def make_baselines(
    X, *, domain_col="domain", categorical_cols=None, numeric_cols=None, random_state=0
):
    """Ready scikit-learn baselines for a multi-domain CTR DataFrame ``X``.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_columns)
        The data (or a sample of it), to tell the columns apart: non-numeric columns
        (object, string, category, bool) are categorical, the others numeric, unless
        listed explicitly. Nothing is fitted on it.
    domain_col : str or None, default="domain"
        The domain column; the scikit-learn baselines get it as one more categorical
        feature.
    categorical_cols : list of str, default=None
        Categorical columns (integer ids included); inferred from the dtypes when None.
    numeric_cols : list of str, default=None
        Numeric columns; the other columns when None.
    random_state : int, default=0
        Seed of the models that draw random numbers.

    Returns
    -------
    dict
        Unfitted estimators, by name:

        - ``"LogisticRegression"``: one-hot encoded categories (unseen ones ignored),
          standardized numbers with missing values imputed by the mean, then
          :class:`~sklearn.linear_model.LogisticRegression`;
        - ``"HistGradientBoosting"``: categories with at most 254 values as native
          categorical features (ordinal codes); columns with more, such as user or item
          ids, target-encoded with internal cross-fitting
          (:class:`~sklearn.preprocessing.TargetEncoder`), then
          :class:`~sklearn.ensemble.HistGradientBoostingClassifier`;
        - ``"MultiDomainClassifier"``: the package's backbone without adapters, at its
          defaults (``set_params`` changes them, ``max_epochs`` say).

    See Also
    --------
    compare : Cross-validate these against a model.

    Examples
    --------
    >>> from sklearn_hamur import make_baselines
    >>> from sklearn_hamur.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> baselines = make_baselines(X)
    >>> sorted(baselines)
    ['HistGradientBoosting', 'LogisticRegression', 'MultiDomainClassifier']
    >>> model = baselines["HistGradientBoosting"].fit(X[:2000], y[:2000])
    >>> model.predict_proba(X[:3]).shape
    (3, 2)
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        StandardScaler,
        TargetEncoder,
    )

    from .multi_domain import MultiDomainClassifier

    categorical, numeric = _column_kinds(X, domain_col, categorical_cols, numeric_cols)
    features = categorical if domain_col is None else [*categorical, domain_col]
    strings = FunctionTransformer(_categories_as_strings, kw_args={"columns": features})
    numbers = make_pipeline(SimpleImputer(), StandardScaler())
    logistic = Pipeline(
        [
            ("strings", strings),
            (
                "features",
                ColumnTransformer(
                    [
                        ("onehot", OneHotEncoder(handle_unknown="ignore"), features),
                        ("numeric", numbers, numeric),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    )
    # HistGradientBoosting codes category-dtype columns itself, by value, from the
    # training rows' categories (an unseen one counts as missing).
    native = FunctionTransformer(_as_category, feature_names_out="one-to-one")
    folds = KFold(5, shuffle=True, random_state=random_state)  # TargetEncoder's cross-fitting
    target = TargetEncoder(target_type="binary", cv=folds)
    trees = Pipeline(
        [
            ("strings", clone(strings)),
            (
                "features",
                ColumnTransformer(
                    [
                        ("native", native, _Cardinality(features, MAX_NATIVE_CATEGORIES, True)),
                        ("target", target, _Cardinality(features, MAX_NATIVE_CATEGORIES, False)),
                        ("numeric", "passthrough", numeric),
                    ],
                    verbose_feature_names_out=False,
                ).set_output(transform="pandas"),
            ),
            (
                "model",
                HistGradientBoostingClassifier(
                    categorical_features="from_dtype", random_state=random_state
                ),
            ),
        ]
    )
    backbone = MultiDomainClassifier(
        domain_col=domain_col,
        categorical_cols=categorical_cols,
        numeric_cols=numeric_cols,
        random_state=random_state,
    )
    return {
        "LogisticRegression": logistic,
        "HistGradientBoosting": trees,
        "MultiDomainClassifier": backbone,
    }


def _column_kinds(X, domain_col, categorical_cols, numeric_cols) -> tuple[list, list]:
    X = to_pandas(X)
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"X must be a DataFrame, to tell its columns apart; got {type(X).__name__}."
        )
    columns = [c for c in X.columns if c != domain_col]
    for name, given in (("categorical_cols", categorical_cols), ("numeric_cols", numeric_cols)):
        missing = [c for c in (given or []) if c not in columns]
        if missing:
            raise ValueError(f"{name} lists {missing}, which are not feature columns of X.")
    if categorical_cols is None:
        fixed = set(numeric_cols or [])
        categorical = [
            c
            for c in columns
            if c not in fixed
            and not (pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c]))
        ]
    else:
        categorical = list(categorical_cols)
    numeric = (
        list(numeric_cols)
        if numeric_cols is not None
        else [c for c in columns if c not in categorical]
    )
    return categorical, numeric
