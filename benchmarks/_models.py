"""How ``run.py`` fits each model on one seed's split and predicts its test rows.

Neural models are the package's estimators, early-stopped on the benchmark's own
validation rows through a skorch callback; they also get those rows as ``X_val``
(with ``early_stopping=False``: scored each epoch, not stopped on), on which the
estimator chooses its ``logistic_blend`` weight. The scikit-learn baselines use the validation
rows for early stopping (HistGradientBoosting) or to choose ``C`` (LogisticRegression).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

#: Smallest number of training steps per epoch of a per-domain model (small domains get
#: smaller batches, down to MIN_PER_DOMAIN_BATCH rows).
MIN_STEPS_PER_EPOCH, MIN_PER_DOMAIN_BATCH = 10, 128


def _discard(*args, **kwargs) -> None:
    """Sink for early stopping's messages."""


def make_validation_callbacks(
    holder: dict,
    X_valid,
    y_valid,
    patience: int,
    min_delta: float = 1e-4,
    *,
    staged: bool = False,
) -> list:
    """skorch callbacks: score the benchmark's validation rows each epoch, stop early.

    ``holder["estimator"]`` is the estimator being fitted (set before ``fit``): the
    callback scores through its ``predict_proba``, which works from the first epoch on.
    When the validation rows hold one class only, the log loss is watched instead.
    Stopping is the estimators' own rule (``min_delta``, the loss tie-break), applied
    to these rows' scores. ``staged`` (``adapter_training="staged"``) ends the backbone's
    stage, and starts the adapters', when patience runs out, as the estimators do.
    """
    from sklearn.metrics import log_loss, roc_auc_score
    from skorch.callbacks import Callback

    from sklearn_hamur._callbacks import RestoringEarlyStopping, StagedAdapters

    y_valid = np.asarray(y_valid)
    use_auc = len(np.unique(y_valid)) == 2

    class BenchmarkValidation(Callback):
        def on_epoch_end(self, net, **kwargs) -> None:
            proba = holder["estimator"].predict_proba(X_valid)[:, 1]
            net.history.record("bench_valid_loss", log_loss(y_valid, proba, labels=[0, 1]))
            if use_auc:
                net.history.record("bench_valid_auc", roc_auc_score(y_valid, proba))

    stages = StagedAdapters() if staged else None
    stopper = RestoringEarlyStopping(
        monitor="bench_valid_auc" if use_auc else "bench_valid_loss",
        loss_monitor="bench_valid_loss",
        min_delta=min_delta,
        lower_is_better=not use_auc,
        patience=patience,
        next_stage=None if stages is None else stages.next_stage,
        load_best=True,
        sink=_discard,
    )
    staging = [] if stages is None else [("bench_staged_adapters", stages)]
    return [("bench_valid", BenchmarkValidation()), *staging, ("bench_early_stopping", stopper)]


def neural_estimator(model, config, seed, X_valid, y_valid, categorical, numeric, *, batch=None):
    """The estimator of a neural model, early-stopped on ``X_valid``.

    ``model`` is a plain name or ``<family>:<backbone>`` (``hamur:dcn``, ``mdc:dcn``): the
    family's config section (``hamur`` / ``mlp``) applies, with ``backbone`` set.
    """
    from run import parse_model

    from sklearn_hamur import HAMURClassifier, MultiDomainClassifier

    base, backbone = parse_model(model)
    holder: dict = {}
    params = {
        "max_epochs": config["max_epochs"],
        "batch_size": batch or config["batch_size"],
        "device": "cpu",
        **config[base],
    }
    if backbone is not None:
        params["backbone"] = backbone
    if base == "shared_mlp":
        categorical = [*categorical, "domain"]
    estimator = (HAMURClassifier if base == "hamur" else MultiDomainClassifier)(
        domain_col="domain" if base in ("hamur", "mlp") else None,
        categorical_cols=categorical,
        numeric_cols=numeric,
        early_stopping=False,
        callbacks=make_validation_callbacks(
            holder,
            X_valid,
            y_valid,
            config["patience"],
            params.get("min_delta", 1e-4),
            staged=base == "hamur" and params.get("adapter_training") == "staged",
        ),
        random_state=seed,
        **params,
    )
    holder["estimator"] = estimator
    return estimator


def epochs_of(estimator) -> dict:
    history = estimator.history_
    key = "bench_valid_auc" if "bench_valid_auc" in history[-1] else "bench_valid_loss"
    scores = np.asarray(history[:, key], dtype=float)
    best = int(np.nanargmax(scores) if key.endswith("auc") else np.nanargmin(scores))
    return {"epochs": len(history), "best_epoch": best + 1}


def blend_of(estimator) -> dict:
    """The weight of logistic regression in the model's logit (``logistic_blend``)."""
    return {"logistic_blend_weight": float(getattr(estimator, "logistic_blend_weight_", 0.0))}


def fit_neural(model, config, seed, data):
    """Fit one neural model (or one per domain); test probabilities and fit info."""
    X_tr, X_va, X_te = data["X_train"], data["X_valid"], data["X_test"]
    y_tr, y_va = data["y_train"], data["y_valid"]
    cat, num = data["categorical"], data["numeric"]
    if model != "per_domain":
        estimator = neural_estimator(model, config, seed, X_va, y_va, cat, num)
        start = time.perf_counter()
        # The validation rows also reach the estimator (early_stopping=False: scored,
        # not stopped on), which chooses its logistic_blend weight on them.
        estimator.fit(X_tr, y_tr, X_val=X_va, y_val=y_va)
        fit_s = time.perf_counter() - start
        info = {"fit_s": fit_s, **epochs_of(estimator), **blend_of(estimator)}
        return estimator.predict_proba(X_te)[:, 1], info
    proba, fit_s, epochs = np.full(len(X_te), np.nan), 0.0, []
    for d in np.unique(np.concatenate([X["domain"].to_numpy() for X in (X_tr, X_va, X_te)])):
        tr, va, te = (X["domain"].to_numpy() == d for X in (X_tr, X_va, X_te))
        if tr.sum() < 2 or va.sum() == 0:
            raise ValueError(
                f"per_domain: domain {d} has {tr.sum()} training and {va.sum()} validation "
                "rows; its own model needs at least 2 and 1. Use a larger subsample."
            )
        batch = min(
            config["batch_size"], max(MIN_PER_DOMAIN_BATCH, tr.sum() // MIN_STEPS_PER_EPOCH)
        )
        estimator = neural_estimator(model, config, seed, X_va[va], y_va[va], cat, num, batch=batch)
        start = time.perf_counter()
        estimator.fit(X_tr[tr], y_tr[tr], X_val=X_va[va], y_val=y_va[va])
        fit_s += time.perf_counter() - start
        if te.any():
            proba[te] = estimator.predict_proba(X_te[te])[:, 1]
        epochs.append(epochs_of(estimator)["epochs"])
    return proba, {"fit_s": fit_s, "epochs": int(np.mean(epochs)), "best_epoch": None}


def _baseline_features(data, model, seed):
    """The preprocessing of a scikit-learn baseline (the domain is a categorical feature)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

    cat, num = [*data["categorical"], "domain"], data["numeric"]
    if model == "logreg":
        return ColumnTransformer(
            [
                ("onehot", OneHotEncoder(handle_unknown="ignore"), cat),
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
            ]
        ), None
    # Native categorical support holds at most 255 categories per column; columns with
    # more (user, item and zip ids) are target-encoded with internal cross-fitting.
    low = [c for c in cat if data["X_train"][c].nunique() < 255]
    high = [c for c in cat if c not in low]
    folds = KFold(5, shuffle=True, random_state=seed)
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    transformer = ColumnTransformer(
        [
            ("categorical", ordinal, low),
            ("target", TargetEncoder(target_type="binary", cv=folds), high),
            ("num", "passthrough", num),
        ]
    )
    return transformer, list(range(len(low)))


def _as_model_input(X: pd.DataFrame, categorical) -> pd.DataFrame:
    """Categorical columns as strings (the encoders compare values, not category codes)."""
    return X.astype({c: str for c in [*categorical, "domain"]})


def fit_baseline(model, config, seed, data):
    """Fit ``logreg`` (C chosen on validation) or ``hgb`` (early-stopped on validation)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    cat = data["categorical"]
    X_tr, X_va, X_te = (_as_model_input(data[k], cat) for k in ("X_train", "X_valid", "X_test"))
    y_tr, y_va = data["y_train"], data["y_valid"]
    start = time.perf_counter()
    transformer, categorical_idx = _baseline_features(data, model, seed)
    Z_tr = transformer.fit_transform(X_tr, y_tr)
    Z_va, Z_te = transformer.transform(X_va), transformer.transform(X_te)
    params = dict(config[model])
    if model == "hgb":
        clf = HistGradientBoostingClassifier(
            categorical_features=categorical_idx,
            early_stopping=True,
            scoring="roc_auc",
            random_state=seed,
            **params,
        ).fit(Z_tr, y_tr, X_val=Z_va, y_val=y_va)
        info = {"epochs": int(clf.n_iter_), "best_epoch": None}
    else:
        grid = params.pop("C")
        best = None
        for C in grid if isinstance(grid, list) else [grid]:
            candidate = LogisticRegression(C=C, **params).fit(Z_tr, y_tr)
            score = roc_auc_score(y_va, candidate.predict_proba(Z_va)[:, 1])
            if best is None or score > best[0]:
                best = (score, C, candidate)
        clf = best[2]
        info = {"epochs": None, "best_epoch": None, "C": best[1]}
    fit_s = time.perf_counter() - start
    return clf.predict_proba(Z_te)[:, 1], {"fit_s": fit_s, **info}
