"""Reports of ``run.py``: the results as JSON, a markdown table and a PNG plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

from _common import pipe_table

MODEL_LABELS = {
    "hamur": "HAMURClassifier",
    "mlp": "MultiDomainClassifier (backbone)",
    "shared_mlp": "shared MLP (one tower, domain as a feature)",
    "per_domain": "per-domain MLP (one model per domain)",
    "logreg": "LogisticRegression (one-hot)",
    "hgb": "HistGradientBoosting",
}


def label(model: str) -> str:
    """Display name of a model: ``hamur:dcn`` -> ``HAMURClassifier (dcn)``."""
    if model in MODEL_LABELS:
        return MODEL_LABELS[model]
    family, _, backbone = model.partition(":")
    name = {"hamur": "HAMURClassifier", "mdc": "MultiDomainClassifier"}.get(family, family)
    return f"{name} ({backbone})"


def write_reports(results: dict, output_dir: Path) -> list[Path]:
    """Write ``<dataset>.json``, ``<dataset>.md`` and ``<dataset>.png`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = output_dir / results.get("name", results["dataset"])
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md"), stem.with_suffix(".png")]
    paths[0].write_text(json.dumps(jsonable(results), indent=1) + "\n")
    paths[2] = plot_per_domain_auc(results, paths[2])
    paths[1].write_text(markdown(results, paths[2].name))
    return paths


def jsonable(value):
    """NaN and infinities become null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def fmt(stat: dict | None, digits: int = 4) -> str:
    """``mean ± std`` (or the mean alone for one seed, ``-`` for none)."""
    if not stat or stat.get("mean") is None:
        return "-"
    text = f"{stat['mean']:.{digits}f}"
    return text + (f" ± {stat['std']:.{digits}f}" if stat.get("std") is not None else "")


def main_table(results: dict) -> str:
    names = results["data"]["domain_names"]
    header = ["model", "fit s", "epochs", "AUC", "log loss", *[f"AUC {n}" for n in names]]
    rows = []
    for model, s in results["summary"].items():
        rows.append(
            [
                label(model),
                fmt(s["fit_s"], 1),
                fmt(s["epochs"], 1),
                fmt(s["auc"]),
                fmt(s["logloss"]),
                *[fmt(a) for a in s["auc_per_domain"]],
            ]
        )
    return pipe_table(header, rows)


def logloss_table(results: dict) -> str:
    names = results["data"]["domain_names"]
    header = ["model", "log loss", *[f"log loss {n}" for n in names]]
    rows = [
        [label(m), fmt(s["logloss"]), *[fmt(v) for v in s["logloss_per_domain"]]]
        for m, s in results["summary"].items()
    ]
    return pipe_table(header, rows)


def _difference(c: dict, digits: int, p_digits: int) -> tuple[str, str]:
    """``(mean ± std, p-value part)`` of a paired difference with a mean:
    ``("+0.0012 ± 0.0020", ", p=0.41")``."""
    spread = f" ± {c['std']:.{digits}f}" if c["std"] is not None else ""
    p = ""
    if c["p_value"] is not None:
        p = ", p<0.001" if c["p_value"] < 0.001 else f", p={c['p_value']:.{p_digits}f}"
    return f"{c['mean']:+.{digits}f}{spread}", p


def _diff(c: dict) -> str:
    if c["mean"] is None:
        return "-"
    difference, p = _difference(c, 4, 3)
    return f"{difference} ({c['wins']}/{c['n']} seeds{p}): **{c['verdict']}**"


def comparison_table(results: dict) -> str:
    names = results["data"]["domain_names"]
    header = ["HAMUR minus", "AUC", *[f"AUC {n}" for n in names]]
    rows = [
        [label(other), _diff(c["auc"]), *[_diff(d) for d in c["auc_per_domain"]]]
        for other, c in results["hamur_vs"].items()
        if c is not None
    ]
    return pipe_table(header, rows)


def _paired(c: dict, digits: int = 4) -> str:
    """Short paired difference: ``+0.0012 ± 0.0020 (2/3, p=0.41) tie``."""
    if c["mean"] is None:
        return "-"
    difference, p = _difference(c, digits, 2)
    return f"{difference} ({c['wins']}/{c['n']}{p}) {c['verdict']}"


def backbone_table(results: dict) -> str:
    """One row per backbone run with and without adapters (HAMUR vs MultiDomainClassifier)."""
    summary = results["summary"]
    header = [
        "backbone",
        "HAMUR AUC",
        "no adapter AUC",
        "HAMUR − no adapter AUC",
        "HAMUR log loss",
        "no adapter log loss",
        "HAMUR − no adapter log loss",
        "fit s HAMUR / no adapter",
        "epochs HAMUR / no adapter",
    ]
    rows = []
    for backbone, c in results["adapter_effect"].items():
        h, n = summary[c["hamur"]], summary[c["no_adapter"]]
        rows.append(
            [
                f"`{backbone}`",
                fmt(h["auc"]),
                fmt(n["auc"]),
                _paired(c["auc"]),
                fmt(h["logloss"]),
                fmt(n["logloss"]),
                _paired(c["logloss"]) if "logloss" in c else "-",
                f"{fmt(h['fit_s'], 0)} / {fmt(n['fit_s'], 0)}",
                f"{fmt(h['epochs'], 1)} / {fmt(n['epochs'], 1)}",
            ]
        )
    return pipe_table(header, rows)


def backbone_domain_table(results: dict) -> str:
    """Per-domain AUC difference HAMUR minus no adapter, per backbone."""
    names = results["data"]["domain_names"]
    header = ["backbone", *[f"Δ AUC {n}" for n in names]]
    rows = [
        [f"`{backbone}`", *[_paired(d) for d in c["auc_per_domain"]]]
        for backbone, c in results["adapter_effect"].items()
    ]
    return pipe_table(header, rows)


def backbone_section(results: dict) -> list[str]:
    if not results.get("adapter_effect"):
        return []
    return [
        "## Adapters per backbone: HAMURClassifier vs MultiDomainClassifier",
        "Test AUC and log loss, mean ± std over seeds; the differences are HAMUR minus the "
        "same backbone without adapters, paired by seed: mean ± std of the per-seed "
        "difference (seeds where HAMUR is better / seeds), two-sided paired t-test p-value, "
        "**win** / **loss** where p < 0.05 else **tie** (for log loss lower is better, so a "
        "negative difference is a win). With few seeds a t-test has little power: "
        "differences of a few thousandths are not evidence either way.",
        backbone_table(results),
        "### Per-domain AUC, HAMUR minus no adapter (paired by seed)",
        backbone_domain_table(results),
    ]


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
        f"# Benchmark: {results.get('name', results['dataset'])}",
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
        *backbone_section(results),
        "## Test AUC (mean ± std over seeds)",
        main_table(results),
        "## Test log loss",
        logloss_table(results),
        *(
            [
                "## HAMUR minus each model, paired by seed (AUC)",
                "Mean ± std of the per-seed difference, seeds where HAMUR is higher, "
                "two-sided paired t-test p-value; **win** / **loss** where p < 0.05, else "
                "**tie**.",
                comparison_table(results),
            ]
            if results["hamur_vs"]
            else []
        ),
        f"![per-domain test AUC]({plot_name})",
        *(
            [
                f"Merged from {machine['merged_from']} result files of the same data and "
                "protocol run in parallel (one process per file); the wall time is the "
                "longest file's."
            ]
            if machine.get("merged_from")
            else []
        ),
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} thread(s); "
        f"Python {machine['python']}, torch {machine['torch']}, scikit-learn "
        f"{machine['scikit-learn']}, sklearn-hamur {machine['sklearn-hamur']}; "
        f"{machine['date']}; load average at the end {machine['load_average']}. "
        f"Total wall time {results['wall_s'] / 60:.1f} min.",
    ]
    return "\n\n".join(parts) + "\n"


def _error_bars(stats: list[dict]) -> tuple[list[float], list[float]]:
    """Means (NaN for none) and standard deviations (0 for none) of ``mean_std`` dicts."""
    means = [math.nan if st["mean"] is None else st["mean"] for st in stats]
    stds = [0.0 if st["std"] is None else st["std"] for st in stats]
    return means, stds


def plot_per_domain_auc(results: dict, path: Path) -> Path:
    """Per-domain (and overall) test AUC of every model, error bars = std over seeds.

    When two or more backbones were run with and without adapters, the plot instead shows,
    per backbone, those two models' overall and per-domain test AUC.
    """
    if len(results.get("adapter_effect") or {}) >= 2:
        return plot_backbones(results, path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["overall", *results["data"]["domain_names"]]
    summary = results["summary"]
    width = 0.8 / max(len(summary), 1)
    fig, ax = plt.subplots(figsize=(4.5 + 1.5 * len(names), 4.2))
    for i, (model, s) in enumerate(summary.items()):
        means, stds = _error_bars([s["auc"], *s["auc_per_domain"]])
        x = [j + (i - (len(summary) - 1) / 2) * width for j in range(len(names))]
        ax.errorbar(x, means, yerr=stds, fmt="o", capsize=3, label=label(model))
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


def plot_backbones(results: dict, path: Path) -> Path:
    """Test AUC per backbone with and without adapters: overall and one panel per domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    effect, summary = results["adapter_effect"], results["summary"]
    panels = ["overall", *results["data"]["domain_names"]]
    backbones = list(effect)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1.5, 4.2), sharey=True)
    for p, (ax, panel) in enumerate(zip(axes, panels)):
        for offset, role, marker in ((-0.15, "hamur", "o"), (0.15, "no_adapter", "s")):
            means, stds = _error_bars(
                [
                    summary[effect[b][role]]["auc"]
                    if p == 0
                    else summary[effect[b][role]]["auc_per_domain"][p - 1]
                    for b in backbones
                ]
            )
            name = "HAMURClassifier" if role == "hamur" else "MultiDomainClassifier (no adapter)"
            x = [i + offset for i in range(len(backbones))]
            ax.errorbar(x, means, yerr=stds, fmt=marker, capsize=3, label=name)
        ax.set_xticks(range(len(backbones)), backbones, rotation=60, fontsize=8)
        ax.set_title(panel)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("test AUC (mean ± std over seeds)")
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    n_seeds = results["config"]["seeds"]
    fig.suptitle(f"{results['dataset']}: test AUC per backbone, {n_seeds} seed(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
