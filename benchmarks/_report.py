"""Reports of ``run.py``: the results as JSON, a markdown table and a PNG plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

MODEL_LABELS = {
    "hamur": "HAMURClassifier",
    "mlp": "MultiDomainClassifier (backbone)",
    "shared_mlp": "shared MLP (one tower, domain as a feature)",
    "per_domain": "per-domain MLP (one model per domain)",
    "logreg": "LogisticRegression (one-hot)",
    "hgb": "HistGradientBoosting",
}


def write_reports(results: dict, output_dir: Path) -> list[Path]:
    """Write ``<dataset>.json``, ``<dataset>.md`` and ``<dataset>.png`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = output_dir / results["dataset"]
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md"), stem.with_suffix(".png")]
    paths[0].write_text(json.dumps(_jsonable(results), indent=1) + "\n")
    paths[2] = plot_per_domain_auc(results, paths[2])
    paths[1].write_text(markdown(results, paths[2].name))
    return paths


def _jsonable(value):
    """NaN and infinities become null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


def fmt(stat: dict | None, digits: int = 4) -> str:
    """``mean ± std`` (or the mean alone for one seed, ``-`` for none)."""
    if not stat or stat.get("mean") is None:
        return "-"
    text = f"{stat['mean']:.{digits}f}"
    return text + (f" ± {stat['std']:.{digits}f}" if stat.get("std") is not None else "")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main_table(results: dict) -> str:
    names = results["data"]["domain_names"]
    header = ["model", "fit s", "epochs", "AUC", "log loss", *[f"AUC {n}" for n in names]]
    rows = []
    for model, s in results["summary"].items():
        rows.append(
            [
                MODEL_LABELS[model],
                fmt(s["fit_s"], 1),
                fmt(s["epochs"], 1),
                fmt(s["auc"]),
                fmt(s["logloss"]),
                *[fmt(a) for a in s["auc_per_domain"]],
            ]
        )
    return _table(header, rows)


def logloss_table(results: dict) -> str:
    names = results["data"]["domain_names"]
    header = ["model", "log loss", *[f"log loss {n}" for n in names]]
    rows = [
        [MODEL_LABELS[m], fmt(s["logloss"]), *[fmt(v) for v in s["logloss_per_domain"]]]
        for m, s in results["summary"].items()
    ]
    return _table(header, rows)


def _diff(c: dict) -> str:
    if c["mean"] is None:
        return "-"
    spread = f" ± {c['std']:.4f}" if c["std"] is not None else ""
    p = ""
    if c["p_value"] is not None:
        p = ", p<0.001" if c["p_value"] < 0.001 else f", p={c['p_value']:.3f}"
    return f"{c['mean']:+.4f}{spread} ({c['wins']}/{c['n']} seeds{p}): **{c['verdict']}**"


def comparison_table(results: dict) -> str:
    names = results["data"]["domain_names"]
    header = ["HAMUR minus", "AUC", *[f"AUC {n}" for n in names]]
    rows = [
        [MODEL_LABELS[other], _diff(c["auc"]), *[_diff(d) for d in c["auc_per_domain"]]]
        for other, c in results["hamur_vs"].items()
        if c is not None
    ]
    return _table(header, rows)


def markdown(results: dict, plot_name: str) -> str:
    config, data, machine = results["config"], results["data"], results["machine"]
    domains = ", ".join(f"{n} {r:,}" for n, r in zip(data["domain_names"], data["rows_per_domain"]))
    subsample = (
        f"a random subsample drawn with seed {config['subsample_seed']}"
        if config["subsample"]
        else "all rows"
    )
    split = "/".join(f"{100 * f:g}" for f in config["split"])
    parts = [
        f"# Benchmark: {results['dataset']}",
        f"{results['description']}. {data['rows']:,} rows ({subsample}); rows per domain: "
        f"{domains}; positive rate {data['positive_rate']:.3f}. Features: categorical "
        f"{', '.join(data['categorical']) or 'none'}; "
        f"numeric {', '.join(data['numeric']) or 'none'}.",
        f"Protocol: {config['seeds']} seed(s); per seed a random {split} train / validation / "
        "test split of the rows; every model is fitted on the train rows and early-stopped "
        "(or tuned) on the validation rows by AUC; test AUC and log loss, overall and per "
        f"domain. Neural models: at most {config['max_epochs']} epochs, patience "
        f"{config['patience']}, batch {config['batch_size']}, other parameters the "
        "estimators' defaults; model settings "
        + json.dumps({m: config[m] for m in config["models"] if config.get(m)})
        + ". Mean ± standard deviation over seeds (ddof=1). `fit s` is the training time in "
        "seconds (for neural models including the per-epoch validation scoring; for the "
        "per-domain model the sum over domains; for logistic regression the whole C grid), "
        "`epochs` the epochs run (HistGradientBoosting: boosting iterations).",
        "## Test AUC (mean ± std over seeds)",
        main_table(results),
        "## Test log loss",
        logloss_table(results),
        "## HAMUR minus each model, paired by seed (AUC)",
        "Mean ± std of the per-seed difference, seeds where HAMUR is higher, two-sided "
        "paired t-test p-value; **win** / **loss** where p < 0.05, else **tie**.",
        comparison_table(results) if results["hamur_vs"] else "(HAMUR not run.)",
        f"![per-domain test AUC]({plot_name})",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} thread(s); "
        f"Python {machine['python']}, torch {machine['torch']}, scikit-learn "
        f"{machine['scikit-learn']}, sklearn-hamur {machine['sklearn-hamur']}; "
        f"{machine['date']}; load average at the end {machine['load_average']}. "
        f"Total wall time {results['wall_s'] / 60:.1f} min.",
    ]
    return "\n\n".join(parts) + "\n"


def plot_per_domain_auc(results: dict, path: Path) -> Path:
    """Per-domain (and overall) test AUC of every model, error bars = std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["overall", *results["data"]["domain_names"]]
    summary = results["summary"]
    width = 0.8 / max(len(summary), 1)
    fig, ax = plt.subplots(figsize=(4.5 + 1.5 * len(names), 4.2))
    for i, (model, s) in enumerate(summary.items()):
        stats = [s["auc"], *s["auc_per_domain"]]
        means = [math.nan if st["mean"] is None else st["mean"] for st in stats]
        stds = [0.0 if st["std"] is None else st["std"] for st in stats]
        x = [j + (i - (len(summary) - 1) / 2) * width for j in range(len(names))]
        ax.errorbar(x, means, yerr=stds, fmt="o", capsize=3, label=MODEL_LABELS[model])
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("test AUC (mean ± std over seeds)")
    n_seeds = results["config"]["seeds"]
    ax.set_title(f"{results['dataset']}: test AUC per domain, {n_seeds} seed(s)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
