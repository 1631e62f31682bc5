"""Accuracy benchmark: HAMUR vs. its backbone vs. scikit-learn baselines on multi-domain data.

The HAMUR paper's protocol, repeated over seeds. For each seed ``s``:

1. shuffle the rows with ``numpy.random.RandomState(s)`` and cut them into 80% train,
   10% validation and 10% test (``split`` in the config);
2. fit every model on the train rows; the validation rows choose when to stop:

   * neural models (``hamur``, ``mlp``, ``shared_mlp``, ``per_domain``): the estimator's
     own hold-out is off (``early_stopping=False``); a callback scores the benchmark's
     validation rows after every epoch (``predict_proba``, overall AUC), skorch's
     ``EarlyStopping`` stops after ``patience`` epochs without improvement and restores
     the best epoch's weights;
   * ``hgb``: ``HistGradientBoostingClassifier.fit(X_val=..., y_val=...)``, early
     stopping on validation AUC (``scoring="roc_auc"``);
   * ``logreg``: the inverse regularisation ``C`` is chosen from a grid by validation AUC;

3. score the test rows: AUC and log loss, overall and in each domain.

Reported: mean and standard deviation (``ddof=1``) over seeds, training time, epochs,
and HAMUR's paired difference to each other model with a two-sided paired t-test.

Usage (from the repository root; ``sklearn_hamur`` must be importable)::

    python benchmarks/run.py --dataset movielens-100k --seeds 5
    python benchmarks/run.py --dataset douban --models hamur,mlp --seeds 3 --subsample 100000
    python benchmarks/run.py --dataset movielens-100k --config my_config.json
    python benchmarks/run.py --from-json benchmarks/results/douban.json  # reports only
    python benchmarks/run.py --models hamur:dcn,mdc:dcn --seeds 3 --name ml-dcn

Models ``hamur:<backbone>`` / ``mdc:<backbone>`` are HAMURClassifier /
MultiDomainClassifier with that backbone (``hamur`` and ``mlp`` are the two estimators at
their defaults: the default backbone, ``shared_mlp``, with and without adapters); a
backbone run both ways gets a paired "HAMUR minus no adapter" comparison.

The data folder is ``--data-dir``, else ``$SKLEARN_HAMUR_DATA``, else ``../shared/data``
next to the repository. Results go to ``benchmarks/results/<name>.{json,md,png}``
(``--name``, default the dataset's name).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "benchmarks" / "results"

NEURAL_MODELS = ("hamur", "mlp", "shared_mlp", "per_domain")
MODELS = (*NEURAL_MODELS, "logreg", "hgb")
#: ``<family>:<backbone>`` model names: ``hamur:dcn`` is HAMURClassifier(backbone="dcn"),
#: ``mdc:dcn`` MultiDomainClassifier(backbone="dcn") (no adapters). ``hamur`` and ``mlp``
#: train the estimators' default backbone (unless the config sets another backbone).
#: A family's models share the config section of its plain model (``hamur`` / ``mlp``).
FAMILIES = {"hamur": "hamur", "mdc": "mlp"}
#: Settings of a run; a config file and the command line override them.
DEFAULT_CONFIG = {
    "dataset": "movielens-100k",
    "models": ["hamur", "mlp", "shared_mlp", "per_domain", "logreg", "hgb"],
    "seeds": 5,
    "split": [0.8, 0.1, 0.1],
    "subsample": None,
    "subsample_seed": 0,
    "threads": 1,
    "max_epochs": 50,
    "patience": 5,
    "batch_size": 4096,
    "hamur": {},
    "mlp": {},
    "shared_mlp": {},
    "per_domain": {},
    "logreg": {"C": [0.1, 0.3, 1.0], "max_iter": 1000},
    "hgb": {"learning_rate": 0.1, "max_iter": 1000, "n_iter_no_change": 20},
}
#: Estimator parameters the runner sets itself (a config may not).
RUNNER_PARAMS = {"domain_col", "random_state", "early_stopping", "callbacks", "verbose"}


def backbone_names() -> tuple[str, ...]:
    from sklearn_hamur.modules.backbones import BACKBONES

    return tuple(BACKBONES)


def parse_model(model: str) -> tuple[str, str | None]:
    """``(base model, backbone)`` of a model name: ``"hamur:dcn"`` -> ``("hamur", "dcn")``.

    Plain names give ``(name, None)``. Raises ValueError on an unknown family or backbone.
    """
    if ":" not in model:
        return model, None
    family, backbone = model.split(":", 1)
    if family not in FAMILIES:
        raise ValueError(
            f"unknown model family {family!r} in {model!r}; backbone models are "
            f"{' or '.join(f'{f}:<backbone>' for f in FAMILIES)}."
        )
    valid = backbone_names()
    if backbone not in valid:
        close = get_close_matches(backbone, valid, n=1)
        hint = f" Did you mean {family}:{close[0]}?" if close else ""
        raise ValueError(
            f"unknown backbone {backbone!r} in model {model!r}.{hint} "
            f"Valid backbones: {', '.join(valid)}."
        )
    return FAMILIES[family], backbone


def backbone_of(model: str, config: dict) -> str | None:
    """The backbone a neural model trains (None for models without one)."""
    base, backbone = parse_model(model)
    if base not in ("hamur", "mlp"):
        return None
    if backbone is not None:
        return backbone
    from sklearn_hamur import HAMURClassifier

    # A plain "hamur" / "mlp" trains the config's backbone, else the estimators' default.
    return config.get(base, {}).get("backbone", HAMURClassifier().backbone)


def adapter_pairs(models: list[str], config: dict) -> dict[str, tuple[str, str]]:
    """``{backbone: (HAMUR model, no-adapter model)}`` for backbones run both ways, in the
    order of the backbone registry."""
    with_adapter, without = {}, {}
    for model in models:
        base = parse_model(model)[0]
        if base == "hamur":
            with_adapter.setdefault(backbone_of(model, config), model)
        elif base == "mlp":
            without.setdefault(backbone_of(model, config), model)
    order = {name: i for i, name in enumerate(backbone_names())}
    both = sorted((b for b in with_adapter if b in without), key=lambda b: order.get(b, len(order)))
    return {b: (with_adapter[b], without[b]) for b in both}


# -- data ----------------------------------------------------------------------------------


def load_dataset(name: str, data_dir: Path):
    """``(X, y, domain_names, description)`` of a named data set."""
    from sklearn_hamur import datasets

    if name == "movielens-100k":
        bunch = datasets.load_movielens(data_dir / "movielens-100k", variant="100k")
        note = "MovieLens 100K (GroupLens files), domain = user age group, label = rating > 3"
    elif name == "movielens-1m":
        bunch = datasets.load_movielens(data_dir / "ml-1m", variant="1m")
        note = "MovieLens 1M (GroupLens files), domain = user age group, label = rating > 3"
    elif name == "douban":
        bunch = datasets.load_douban(data_dir / "douban", split="all")
        note = (
            "Douban (Diff-MSR files), domains music / book / movie; every file that exists, "
            f"pooled (missing: {', '.join(bunch.missing_files) or 'none'})"
        )
    elif name == "adult":
        # Shipped with the package; domain = sector of employment.
        X, y = datasets.load_adult(return_X_y=True)
        note = (
            "UCI Adult (shipped with sklearn-hamur), domain = sector of employment, "
            "label = income > 50K"
        )
        names = sorted(X["domain"].unique())
        # The runner scores domains by index 0..D-1, as the other loaders give them.
        X = X.assign(domain=X["domain"].map({name: i for i, name in enumerate(names)}))
        return X, y, [str(d) for d in names], note
    elif name == "synthetic":
        X, y = datasets.make_multi_domain_classification(
            50_000, 3, domain_weights=[0.6, 0.3, 0.1], domain_shift=1.0, random_state=0
        )
        return X, y, ["0", "1", "2"], "make_multi_domain_classification(50_000, 3, ...)"
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}.")
    return bunch.data, bunch.target, [str(d) for d in bunch.domain_names], note


DATASETS = ("movielens-100k", "movielens-1m", "douban", "adult", "synthetic")


def subsample_rows(n_rows: int, size, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random subsample of ``size`` rows (all rows if None)."""
    if size is None or size >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.RandomState(seed).choice(n_rows, size=size, replace=False))


def split_rows(n_rows: int, fractions, seed: int):
    """Random train / validation / test row indices of one seed."""
    order = np.random.RandomState(seed).permutation(n_rows)
    n_train = int(round(fractions[0] * n_rows))
    n_valid = int(round(fractions[1] * n_rows))
    return order[:n_train], order[n_train : n_train + n_valid], order[n_train + n_valid :]


def column_kinds(X: pd.DataFrame):
    """(categorical, numeric) feature columns; ``domain`` is in neither."""
    from sklearn_hamur.encoder import is_categorical_column

    features = [c for c in X.columns if c != "domain"]
    categorical = [c for c in features if is_categorical_column(X[c])]
    return categorical, [c for c in features if c not in categorical]


# -- configuration -------------------------------------------------------------------------


def estimator_param_names(model: str) -> set:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from sklearn_hamur import HAMURClassifier, MultiDomainClassifier

    if model == "logreg":
        return {"C", "max_iter", "tol", "solver", "class_weight"}
    if model == "hgb":
        return set(HistGradientBoostingClassifier().get_params()) - {"random_state", "scoring"}
    estimator = HAMURClassifier() if model == "hamur" else MultiDomainClassifier()
    return set(estimator.get_params()) - RUNNER_PARAMS


def _unknown(keys, allowed, where: str) -> list[str]:
    problems = []
    for key in keys:
        if key not in allowed:
            close = get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"unknown key {key!r} in {where}.{hint} Allowed: {', '.join(sorted(allowed))}."
            )
    return problems


def validate_config(config: dict) -> dict:
    """Check every key and value; raise one ValueError listing all problems."""
    problems = _unknown(config, DEFAULT_CONFIG, "the config")
    backbone_models = [m for m in config.get("models") or [] if isinstance(m, str) and ":" in m]
    for model in backbone_models:
        try:
            base, backbone = parse_model(model)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        preset = (
            config.get(base, {}).get("backbone") if isinstance(config.get(base), dict) else None
        )
        if preset is not None and preset != backbone:
            problems.append(
                f"model {model!r} asks for backbone {backbone!r} but config[{base!r}] sets "
                f"backbone {preset!r}; drop one of them."
            )
    for model in MODELS:
        if model in config:
            if not isinstance(config[model], dict):
                problems.append(f"config[{model!r}] must be a dict of estimator parameters.")
            else:
                problems += _unknown(config[model], estimator_param_names(model), f"{model!r}")
    if config.get("dataset") not in DATASETS:
        problems.append(
            f"dataset must be one of {', '.join(DATASETS)}; got {config.get('dataset')!r}."
        )
    models = config.get("models")
    if not isinstance(models, list) or not models:
        problems.append(f"models must be a non-empty list of {', '.join(MODELS)}; got {models!r}.")
    else:
        problems += _unknown([m for m in models if ":" not in str(m)], MODELS, "models")
        seen: dict = {}
        for model in models:
            try:
                key = (parse_model(model)[0], backbone_of(model, config))
            except (ValueError, AttributeError):
                continue
            if key[1] is not None and key in seen:
                problems.append(f"models {seen[key]!r} and {model!r} are the same model.")
            seen.setdefault(key, model)
    split = config.get("split")
    if not (
        isinstance(split, list | tuple)
        and len(split) == 3
        and all(isinstance(f, int | float) and f > 0 for f in split)
        and math.isclose(sum(split), 1.0)
    ):
        problems.append(f"split must be three positive fractions summing to 1; got {split!r}.")
    for key in ("seeds", "threads", "max_epochs", "patience", "batch_size"):
        value = config.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            problems.append(f"{key} must be an int >= 1; got {value!r}.")
    subsample = config.get("subsample")
    if subsample is not None and not (isinstance(subsample, int) and subsample >= 100):
        problems.append(f"subsample must be null or an int >= 100 (rows); got {subsample!r}.")
    if problems:
        raise ValueError("Invalid benchmark config:\n- " + "\n- ".join(problems))
    return config


def build_config(args: argparse.Namespace) -> dict:
    """Defaults, then the config file, then the command line flags; validated."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    if args.config is not None:
        with open(args.config) as f:
            loaded = json.load(f)
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: the config must be a JSON object.")
        problems = _unknown(loaded, DEFAULT_CONFIG, f"config file {args.config}")
        if problems:
            raise ValueError("Invalid benchmark config:\n- " + "\n- ".join(problems))
        for key, value in loaded.items():
            if isinstance(DEFAULT_CONFIG[key], dict) and isinstance(value, dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
    flags = {
        "dataset": args.dataset,
        "models": args.models.split(",") if args.models else None,
        "seeds": args.seeds,
        "subsample": args.subsample,
        "threads": args.threads,
        "max_epochs": args.max_epochs,
    }
    config.update({key: value for key, value in flags.items() if value is not None})
    return validate_config(config)


# -- metrics -------------------------------------------------------------------------------


def scores(y, proba, domain, n_domains: int) -> dict:
    """Test AUC and log loss, overall and per domain (NaN where a domain has one class)."""
    from sklearn.metrics import log_loss, roc_auc_score

    y, proba = np.asarray(y), np.clip(np.asarray(proba, dtype=float), 1e-7, 1 - 1e-7)
    out = {
        "auc": float(roc_auc_score(y, proba)),
        "logloss": float(log_loss(y, proba, labels=[0, 1])),
        "auc_per_domain": [],
        "logloss_per_domain": [],
    }
    for d in range(n_domains):
        rows = np.asarray(domain) == d
        two_classes = len(np.unique(y[rows])) == 2
        out["auc_per_domain"].append(
            float(roc_auc_score(y[rows], proba[rows])) if two_classes else math.nan
        )
        out["logloss_per_domain"].append(
            float(log_loss(y[rows], proba[rows], labels=[0, 1])) if rows.any() else math.nan
        )
    return out


def summarize(runs: list[dict], models: list[str], n_domains: int) -> dict:
    """Mean and standard deviation (ddof=1) over seeds of every metric, per model."""
    summary = {}
    for model in models:
        rows = [r for r in runs if r["model"] == model]
        if not rows:
            continue
        entry = {}
        for key in ("auc", "logloss", "fit_s", "epochs"):
            entry[key] = mean_std([r[key] for r in rows])
        if all("logistic_blend_weight" in r for r in rows):  # neural runs since the blend
            entry["logistic_blend_weight"] = mean_std([r["logistic_blend_weight"] for r in rows])
        for key in ("auc_per_domain", "logloss_per_domain"):
            entry[key] = [mean_std([r[key][d] for r in rows]) for d in range(n_domains)]
        entry["n_seeds"] = len(rows)
        summary[model] = entry
    return summary


def mean_std(values) -> dict:
    values = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return {"mean": None, "std": None}
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {"mean": float(np.mean(values)), "std": std}


def paired_comparison(runs, other: str, n_domains: int, base: str = "hamur") -> dict | None:
    """``base`` minus ``other``, paired by seed: mean, std, wins, a paired t-test verdict."""
    from scipy import stats

    by_seed = {(r["model"], r["seed"]): r for r in runs}
    seeds = sorted(s for (m, s) in by_seed if m == base)
    seeds = [s for s in seeds if (other, s) in by_seed]
    if not seeds:
        return None

    def compare(get, higher_is_better: bool = True) -> dict:
        sign = 1 if higher_is_better else -1
        diffs = np.array([get(by_seed[(base, s)]) - get(by_seed[(other, s)]) for s in seeds])
        diffs = diffs[~np.isnan(diffs)]
        verdict, p_value = "n/a (one seed)", None
        if len(diffs) > 1:
            std = float(np.std(diffs, ddof=1))
            if std == 0:
                better = sign * diffs[0] > 0
                verdict = "tie" if np.all(diffs == 0) else ("win" if better else "loss")
            else:
                p_value = float(stats.ttest_1samp(diffs, 0.0).pvalue)
                better = sign * diffs.mean() > 0
                verdict = "tie" if p_value >= 0.05 else ("win" if better else "loss")
        return {
            "mean": float(diffs.mean()) if len(diffs) else None,
            "std": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None,
            "wins": int((sign * diffs > 0).sum()),
            "n": int(len(diffs)),
            "p_value": p_value,
            "verdict": verdict,
        }

    return {
        "auc": compare(lambda r: r["auc"]),
        "logloss": compare(lambda r: r.get("logloss", math.nan), higher_is_better=False),
        "auc_per_domain": [
            compare(lambda r, d=d: r["auc_per_domain"][d]) for d in range(n_domains)
        ],
    }


# -- the run -------------------------------------------------------------------------------


def prepare(config: dict, data_dir: Path) -> dict:
    X, y, domain_names, note = load_dataset(config["dataset"], data_dir)
    rows = subsample_rows(len(X), config["subsample"], config["subsample_seed"])
    X = X.iloc[rows].reset_index(drop=True)
    y = pd.Series(np.asarray(y)[rows], name=getattr(y, "name", "label"))
    categorical, numeric = column_kinds(X)
    return {
        "X": X,
        "y": y,
        "domain_names": domain_names,
        "note": note,
        "categorical": categorical,
        "numeric": numeric,
    }


def seed_data(dataset: dict, config: dict, seed: int) -> dict:
    train, valid, test = split_rows(len(dataset["X"]), config["split"], seed)
    X, y = dataset["X"], dataset["y"].to_numpy()
    return {
        "X_train": X.iloc[train].reset_index(drop=True),
        "X_valid": X.iloc[valid].reset_index(drop=True),
        "X_test": X.iloc[test].reset_index(drop=True),
        "y_train": y[train],
        "y_valid": y[valid],
        "y_test": y[test],
        "categorical": dataset["categorical"],
        "numeric": dataset["numeric"],
    }


def run_one(model: str, config: dict, seed: int, data: dict, n_domains: int) -> dict:
    from _models import fit_baseline, fit_neural

    base = parse_model(model)[0]
    if base in NEURAL_MODELS:
        proba, info = fit_neural(model, config, seed, data)
    else:
        proba, info = fit_baseline(model, config, seed, data)
    result = scores(data["y_test"], proba, data["X_test"]["domain"], n_domains)
    return {"model": model, "seed": seed, **info, **result}


class Progress:
    """A tqdm bar over the (seed, model) fits on a terminal, else one printed line per fit."""

    def __init__(self, total: int) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is None or not sys.stderr.isatty():
            self.bar = None
        else:
            self.bar = tqdm(total=total, unit="fit", file=sys.stderr, dynamic_ncols=True)
        self.total, self.done, self.start = total, 0, time.perf_counter()

    def update(self, line: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
            self.bar.update(1)
        else:
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.done * (self.total - self.done)
            print(
                f"[{self.done}/{self.total} fits, {elapsed:.0f} s, about {left:.0f} s left] {line}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_benchmark(config: dict, data_dir: Path, checkpoint: Path | None = None) -> dict:
    """Every (seed, model) fit of ``config``; the results as a JSON-ready dict.

    With ``checkpoint``, the finished fits are rewritten to that JSON file after each one
    (``{"config": ..., "runs": [...]}``), so an interrupted run keeps what it measured.
    """
    import torch
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    dataset = prepare(config, data_dir)
    n_domains = len(dataset["domain_names"])
    runs, models = [], config["models"]
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config["threads"])
    progress = Progress(config["seeds"] * len(models))
    try:
        with threadpool_limits(limits=config["threads"]):
            for seed in range(config["seeds"]):
                data = seed_data(dataset, config, seed)
                for model in models:
                    run = run_one(model, config, seed, data, n_domains)
                    runs.append(run)
                    if checkpoint is not None:
                        from _report import jsonable

                        checkpoint.write_text(
                            json.dumps(jsonable({"config": config, "runs": runs}), indent=1)
                        )
                    progress.update(
                        f"seed {seed} {model:<16} test AUC {run['auc']:.4f} "
                        f"log loss {run['logloss']:.4f} ({run['fit_s']:.0f} s)"
                    )
    finally:
        progress.close()
        torch.set_num_threads(previous_threads)
    X, y = dataset["X"], dataset["y"]
    return {
        "dataset": config["dataset"],
        "description": dataset["note"],
        "config": config,
        "data": {
            "rows": len(X),
            "positive_rate": float(y.mean()),
            "domain_names": dataset["domain_names"],
            "rows_per_domain": np.bincount(X["domain"], minlength=n_domains).tolist(),
            "categorical": dataset["categorical"],
            "numeric": dataset["numeric"],
        },
        "machine": machine_info(config),
        "runs": runs,
        **analysis(runs, models, config, n_domains),
        "wall_s": time.perf_counter() - start,
    }


def analysis(runs, models, config, n_domains: int) -> dict:
    """The ``summary``, ``hamur_vs`` and ``adapter_effect`` entries of the results of
    ``runs``: the statistics over seeds and the paired comparisons."""
    return {
        "summary": summarize(runs, models, n_domains),
        "hamur_vs": {
            other: paired_comparison(runs, other, n_domains) for other in models if other != "hamur"
        }
        if "hamur" in models
        else {},
        "adapter_effect": adapter_effect(runs, models, config, n_domains),
    }


def adapter_effect(runs, models, config, n_domains: int) -> dict:
    """Per backbone run with and without adapters: HAMUR minus no adapter, paired by seed."""
    out = {}
    for backbone, (with_adapter, without) in adapter_pairs(models, config).items():
        comparison = paired_comparison(runs, without, n_domains, base=with_adapter)
        if comparison is not None:
            out[backbone] = {"hamur": with_adapter, "no_adapter": without, **comparison}
    return out


#: Config keys that may differ between result files merged into one report.
MERGEABLE_KEYS = {"models", "hamur", "mlp", "shared_mlp", "per_domain", "logreg", "hgb"}


def merge_results(parts: list[dict]) -> dict:
    """One results dict from runs of different models on the same data and protocol."""
    first = parts[0]
    protocol = {k: v for k, v in first["config"].items() if k not in MERGEABLE_KEYS}
    models: list[str] = []
    runs: list[dict] = []
    for part in parts:
        other = {k: v for k, v in part["config"].items() if k not in MERGEABLE_KEYS}
        if other != protocol or part["data"] != first["data"]:
            raise ValueError("cannot merge results of different data or protocol settings.")
        for model in part["config"]["models"]:
            if model in models:
                raise ValueError(f"model {model!r} is in more than one results file.")
            if part["config"].get(parse_model(model)[0]) != first["config"].get(
                parse_model(model)[0]
            ):
                raise ValueError(f"model {model!r}: its settings differ between the files.")
        models += part["config"]["models"]
        runs += part["runs"]
    order = {m: i for i, m in enumerate(models)}
    runs.sort(key=lambda r: (r["seed"], order[r["model"]]))
    config = {**first["config"], "models": models}
    n_domains = len(first["data"]["domain_names"])
    return {
        **{k: v for k, v in first.items() if k != "name"},
        "config": config,
        "runs": runs,
        **analysis(runs, models, config, n_domains),
        "machine": {**first["machine"], "merged_from": len(parts)},
        "wall_s": max(part["wall_s"] for part in parts),
    }


def machine_info(config: dict) -> dict:
    import sklearn
    import torch
    from _common import cpu_model, timestamp

    import sklearn_hamur

    return {
        "date": timestamp(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": config["threads"],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "sklearn-hamur": sklearn_hamur.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# -- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--dataset", choices=DATASETS, help="data set (default movielens-100k)")
    add(
        "--models",
        help=f"comma-separated, from {','.join(MODELS)}, hamur:<backbone>, mdc:<backbone> "
        "(default: the six plain models)",
    )
    add("--seeds", type=int, help="number of seeds 0..n-1, one split each (default 5)")
    add("--subsample", type=int, help="use a seeded random subsample of this many rows")
    add("--max-epochs", type=int, help="most epochs of the neural models (default 50)")
    add("--threads", type=int, help="torch and OpenMP threads (default 1)")
    add("--config", type=Path, help="JSON file of settings (see DEFAULT_CONFIG)")
    add("--data-dir", type=Path, help="data folder (default $SKLEARN_HAMUR_DATA or ../shared/data)")
    add("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="where results are written")
    add("--name", help="file stem of the results (default: the dataset's name)")
    add(
        "--from-json",
        type=Path,
        nargs="+",
        help="run nothing: rewrite the markdown and plot of results JSON written before; "
        "several files (same data and protocol, e.g. runs of different models in parallel) "
        "are merged into one report",
    )
    return parser.parse_args(argv)


def data_dir_of(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return args.data_dir
    return Path(os.environ.get("SKLEARN_HAMUR_DATA", DEFAULT_DATA_DIR))


def main(argv: list[str] | None = None) -> dict:
    from _report import write_reports

    args = parse_args(argv)
    if args.from_json is not None:
        loaded = [json.loads(path.read_text()) for path in args.from_json]
        try:
            results = loaded[0] if len(loaded) == 1 else merge_results(loaded)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    else:
        try:
            config = build_config(args)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        stem = args.name or config["dataset"]
        args.output_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = args.output_dir / f"{stem}.partial.json"
        results = run_benchmark(config, data_dir_of(args), checkpoint)
        checkpoint.unlink(missing_ok=True)
    if args.name:
        results["name"] = args.name
    paths = write_reports(results, args.output_dir)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
