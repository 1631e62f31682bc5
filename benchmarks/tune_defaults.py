"""Evidence for the defaults: an Optuna study of HAMURClassifier per data set.

For one data set: the rows of the benchmark's seed-0 split (``run.py``: 80% train, 10%
validation, 10% test, the test rows never used here), a study of ``--trials`` trials of
:func:`sklearn_hamur.model_selection.tune` over
:func:`~sklearn_hamur.model_selection.hamur_search_space` (plus ``n_adapters`` and
``d_embedding``), each trial fitted on the train rows (with the estimator's own
early-stopping hold-out) and scored by test AUC on the benchmark's validation rows;
median pruning on the per-epoch validation AUC. Written:
``benchmarks/results/tuning-<dataset>.{json,md}``: every trial's parameters, value and
state, the best trial, and the estimator defaults' own score on the same split.

Usage (from the repository root)::

    python benchmarks/tune_defaults.py --dataset movielens-100k --trials 40
    python benchmarks/tune_defaults.py --dataset douban --trials 40 --subsample 100000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import run
from _common import cpu_model, pipe_table, timestamp


def study_rows(study) -> list[dict]:
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
        }
        for t in study.trials
    ]


def defaults_score(estimator, X_train, y_train, X_valid, y_valid) -> float:
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score

    model = clone(estimator).fit(X_train, y_train)
    return float(roc_auc_score(y_valid, model.predict_proba(X_valid)[:, 1]))


def _cell(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def report(result: dict) -> str:
    done = [t for t in result["trials"] if t["state"] == "COMPLETE"]
    done.sort(key=lambda t: -t["value"])
    names = sorted({name for t in done for name in t["params"]})
    rows = [
        [str(t["number"]), f"{t['value']:.4f}", *[_cell(t["params"].get(n)) for n in names]]
        for t in done[:10]
    ]
    lines = [
        f"# Tuning: {result['dataset']}",
        "",
        f"{result['note']}. Rows: {result['n_train']:,} train, {result['n_valid']:,} "
        "validation (the benchmark's seed-0 split; test rows unused). "
        f"{result['estimator']}, backbone `{result['backbone']}`; {result['n_trials']} "
        f"trials ({len(done)} complete, the rest pruned), TPE sampler (seed 0), median "
        "pruner on the per-epoch validation AUC; value = AUC on the validation rows.",
        "",
        f"Estimator defaults on the same split: AUC {result['defaults_auc']:.4f}. "
        f"Best trial: {result['best_value']:.4f} with `{json.dumps(result['best_params'])}`.",
        "",
        "## The ten best trials",
        "",
        pipe_table(["trial", "AUC", *names], rows),
        "",
        f"Machine: {result['machine']}; {result['date']}; {result['wall_s'] / 60:.1f} min.",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=run.DATASETS, default="movielens-100k")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--subsample", type=int, default=None)
    parser.add_argument("--backbone", default="shared_mlp")
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=None, help="stop starting trials after this many s"
    )
    parser.add_argument(
        "--storage", default=None, help="Optuna storage URL (a study there is continued)"
    )
    parser.add_argument("--data-dir", type=Path, default=run.DEFAULT_DATA_DIR)
    parser.add_argument("--output-dir", type=Path, default=run.DEFAULT_OUTPUT_DIR)
    args = parser.parse_args(argv)

    import optuna
    import torch
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from sklearn_hamur import HAMURClassifier
    from sklearn_hamur.model_selection import hamur_search_space, tune

    torch.set_num_threads(args.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    X, y, _, note = run.load_dataset(args.dataset, args.data_dir)
    keep = run.subsample_rows(len(X), args.subsample, 0)
    X, y = X.iloc[keep].reset_index(drop=True), np.asarray(y)[keep]
    train, valid, _ = run.split_rows(len(X), (0.8, 0.1, 0.1), 0)
    categorical, numeric = run.column_kinds(X)
    estimator = HAMURClassifier(
        backbone=args.backbone,
        categorical_cols=categorical,
        numeric_cols=numeric,
        max_epochs=args.max_epochs,
        device="cpu",
        random_state=0,
    )
    space = {
        **hamur_search_space(args.backbone),
        "n_adapters": IntDistribution(1, 2),
        "d_embedding": CategoricalDistribution([8, 16, 32]),
    }
    rows = np.concatenate([train, valid])
    fold = [(np.arange(len(train)), np.arange(len(train), len(rows)))]
    X_tv, y_tv = X.iloc[rows].reset_index(drop=True), y[rows]
    _, study = tune(
        estimator,
        X_tv,
        y_tv,
        args.trials,
        param_distributions=space,
        cv=fold,
        scoring="roc_auc",
        refit=False,
        random_state=0,
        timeout=args.timeout,
        storage=args.storage,
        study_name=f"defaults-{args.dataset}" if args.storage else None,
    )
    defaults = defaults_score(estimator, X.iloc[train], y[train], X.iloc[valid], y[valid])
    result = {
        "dataset": args.dataset,
        "note": note,
        "estimator": "HAMURClassifier",
        "backbone": args.backbone,
        "n_trials": len(study.trials),
        "n_train": len(train),
        "n_valid": len(valid),
        "subsample": args.subsample,
        "defaults_auc": defaults,
        "best_value": study.best_value,
        "best_params": study.best_params,
        "trials": study_rows(study),
        "machine": f"{cpu_model()}, {args.threads} thread(s)",
        "date": timestamp(),
        "wall_s": time.perf_counter() - start,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = args.output_dir / f"tuning-{args.dataset}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    text = report(result)
    stem.with_suffix(".md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
