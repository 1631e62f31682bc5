"""The same models in two benchmark runs, paired by seed: what a change of defaults did.

``run.py`` compares models within one run. This compares each model with itself across
two runs of the same data and protocol (same seeds, so the same splits): ``--before``
(e.g. the committed results of the previous defaults) and ``--after``. For each model in
both, the table gives the two mean test AUCs and the paired difference (after minus
before: mean ± std over seeds, seeds where after is better / seeds, two-sided paired
t-test p), and the same for log loss (lower is better)::

    python benchmarks/paired_runs.py --before old/douban.json --after new/douban.json \\
        --title "logistic_blend=1.0 minus the network alone" --output blend-douban.md

The committed ``benchmarks/results/logistic-blend-*.md`` were made this way, from the
results before and after ``logistic_blend`` became the default.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import pipe_table, print_report  # noqa: E402
from run import paired_comparison  # noqa: E402

AFTER = "{} (after)"


def _check_same_protocol(before: dict, after: dict) -> None:
    keys = ("dataset", "split", "subsample", "subsample_seed", "max_epochs", "patience")
    different = [k for k in keys if before["config"].get(k) != after["config"].get(k)]
    if different or before["data"] != after["data"]:
        raise SystemExit(
            f"the two runs differ in their data or protocol ({different or ['data']}): "
            "their seeds would not be the same splits."
        )


def _fmt(stat: dict) -> str:
    if stat["mean"] is None:
        return "n/a"
    spread = "" if stat["std"] is None else f" ± {stat['std']:.4f}"
    p = "" if stat["p_value"] is None else f", p={stat['p_value']:.2g}"
    return f"{stat['mean']:+.4f}{spread} ({stat['wins']}/{stat['n']}{p}) {stat['verdict']}"


def compare_runs(before: dict, after: dict, models: list[str] | None = None) -> list[list[str]]:
    """One table row per model in both runs (or in ``models``)."""
    _check_same_protocol(before, after)
    shared = [m for m in after["config"]["models"] if m in before["config"]["models"]]
    models = shared if models is None else [m for m in models if m in shared]
    n_domains = len(after["data"]["domain_names"])
    rows = []
    for model in models:
        old = {r["seed"]: r for r in before["runs"] if r["model"] == model}
        new = {r["seed"]: r for r in after["runs"] if r["model"] == model}
        seeds = sorted(set(old) & set(new))
        if not seeds:
            continue
        runs = [old[s] for s in seeds] + [{**new[s], "model": AFTER.format(model)} for s in seeds]
        diff = paired_comparison(runs, model, n_domains, base=AFTER.format(model))
        assert diff is not None
        mean = {
            "before": sum(old[s]["auc"] for s in seeds) / len(seeds),
            "after": sum(new[s]["auc"] for s in seeds) / len(seeds),
        }
        weights = [new[s].get("logistic_blend_weight") for s in seeds]
        known = [w for w in weights if w is not None]
        weight = f"{min(known):.2f} to {max(known):.2f}" if known else "n/a"
        rows.append(
            [
                f"`{model}`",
                f"{mean['before']:.4f}",
                f"{mean['after']:.4f}",
                _fmt(diff["auc"]),
                _fmt(diff["logloss"]),
                weight,
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--models", help="comma-separated; default: every model in both")
    parser.add_argument("--title", default="after minus before, paired by seed")
    parser.add_argument("--output", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
    rows = compare_runs(before, after, args.models.split(",") if args.models else None)
    header = [
        "model",
        "before AUC",
        "after AUC",
        "Δ AUC (after − before)",
        "Δ log loss",
        "blend weight (after)",
    ]
    text = (
        f"# {after['dataset']}: {args.title}\n\n"
        f"Test AUC, mean over seeds; differences paired by seed (same splits): mean ± std "
        f"(seeds where after is better / seeds, paired t-test p). Before: "
        f"`{args.before.name}` ({before['machine'].get('date', '?')}); after: "
        f"`{args.after.name}` ({after['machine'].get('date', '?')}).\n\n" + pipe_table(header, rows)
    )
    print_report(text, args.output)
    return text


if __name__ == "__main__":
    main()
