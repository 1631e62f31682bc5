"""``GridSearchCV(n_jobs=...)`` wall time: do parallel fits oversubscribe the cores?

A grid search of :class:`~sklearn_hamur.MultiDomainClassifier` on a slice of UCI Adult
(the bundled data; 4 learning rates x 2 folds = 8 fits) is timed with

- ``n_jobs=1``: the fits run one after another in this process, on torch's thread count
  (capped at the CPUs the process may use, see ``sklearn_hamur._net.fit_thread_count``);
- ``n_jobs=2``: two joblib (loky) workers; joblib starts them with
  ``OMP_NUM_THREADS = cpu_count() // n_jobs`` and each fit follows it;
- ``n_jobs=2, inner_max_num_threads=<cores>``: the same, but every worker is told to use
  every core (``joblib.parallel_config(inner_max_num_threads=...)``): the
  oversubscription the estimators avoid by default, for comparison.

Every configuration runs in a fresh Python subprocess and searches twice: "cold" includes
starting the workers (importing torch in each), "warm" reuses them (loky keeps its
workers), which is the cost of every later search. The torch thread count of every fit is
read inside the fit (a scorer reports ``torch.get_num_threads()``) and printed.

Usage (from the repository root; ``sklearn_hamur`` must be importable)::

    PYTHONPATH=. python benchmarks/n_jobs.py --quick     # smoke test
    PYTHONPATH=. python benchmarks/n_jobs.py --output benchmarks/results/n-jobs.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from _common import cpu_model, pipe_table, print_report, timestamp

#: (label, n_jobs, inner_max_num_threads) of each configuration; ``None``: joblib's default.
CONFIGS = [
    ("n_jobs=1", 1, None),
    ("n_jobs=2", 2, None),
    ("n_jobs=2, inner_max_num_threads=cores (oversubscribed)", 2, "cores"),
]


def torch_threads(estimator, X, y) -> float:
    """A "scorer" that reports the torch thread count where the fit ran."""
    import torch

    return float(torch.get_num_threads())


def roc_auc(estimator, X, y) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, estimator.predict_proba(X)[:, 1])


def run_config(job: dict) -> dict:
    """Time two grid searches (cold, warm) of one configuration in this process."""
    import joblib
    from sklearn.model_selection import GridSearchCV

    from sklearn_hamur import MultiDomainClassifier
    from sklearn_hamur.datasets import load_adult

    X, y = load_adult(return_X_y=True)
    X, y = X.iloc[: job["rows"]], y[: job["rows"]]
    inner = os.cpu_count() if job["inner"] == "cores" else None
    result = {"label": job["label"], "searches": []}
    with joblib.parallel_config(backend="loky", inner_max_num_threads=inner):
        for _ in range(2):
            search = GridSearchCV(
                MultiDomainClassifier(
                    hidden_units=(64, 32),
                    max_epochs=job["epochs"],
                    batch_size=256,
                    early_stopping=False,
                    random_state=0,
                ),
                {"lr": [1e-3, 3e-3, 1e-2, 3e-2][: job["candidates"]]},
                cv=2,
                n_jobs=job["n_jobs"],
                scoring={"auc": roc_auc, "threads": torch_threads},
                refit=False,
                error_score="raise",
            )
            start = time.perf_counter()
            search.fit(X, y)
            result["searches"].append(
                {
                    "wall_s": time.perf_counter() - start,
                    "fit_s": float(search.cv_results_["mean_fit_time"].sum() * 2),
                    "threads": sorted(set(search.cv_results_["mean_test_threads"].tolist())),
                    "auc": float(search.cv_results_["mean_test_auc"].max()),
                }
            )
    return result


def run_in_subprocess(job: dict) -> dict:
    """Run one configuration in a fresh interpreter, so no worker or thread pool is shared."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(job)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(results: list[dict], args, load_before: tuple, load_after: tuple) -> str:
    import joblib
    import torch

    rows = []
    for r in results:
        cold, warm = r["searches"]
        rows.append(
            [
                r["label"],
                f"{cold['wall_s']:.1f}",
                f"{warm['wall_s']:.1f}",
                f"{warm['fit_s']:.1f}",
                "/".join(str(int(t)) for t in warm["threads"]),
                f"{warm['auc']:.4f}",
            ]
        )
    by_label = {r["label"]: r["searches"] for r in results}
    ratios = [
        f"{by_label['n_jobs=1'][i]['wall_s'] / by_label['n_jobs=2'][i]['wall_s']:.2f}x"
        for i in (0, 1)
    ]
    header = ["configuration", "cold search s", "warm search s", "sum of fit s (warm)"]
    header += ["torch threads in each fit", "best AUC"]
    fits = args.candidates * 2
    return "\n".join(
        [
            "# GridSearchCV(n_jobs=...) on 2 cores (benchmarks/n_jobs.py)",
            "",
            f"MultiDomainClassifier(hidden_units=(64, 32), batch_size=256, {args.epochs} "
            f"epochs), {args.rows} UCI Adult rows, {args.candidates} learning rates x 2 folds "
            f"= {fits} fits; each configuration in a fresh process, searched twice (cold: "
            "with the workers' start-up; warm: workers reused).",
            "",
            pipe_table(header, rows),
            "",
            f"n_jobs=2 against n_jobs=1 (wall time of n_jobs=1 / n_jobs=2; above 1: n_jobs=2 "
            f"is faster): cold {ratios[0]}, warm {ratios[1]}. Every fit reads its own torch "
            "thread count (the column above), so a worker trains on its share of the cores.",
            "",
            f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores "
            f"(joblib.cpu_count() = {joblib.cpu_count()})",
            f"- torch {torch.__version__}, joblib {joblib.__version__}, Python "
            f"{platform.python_version()}; parent's OMP_NUM_THREADS: "
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')}",
            f"- load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}"
            f"; after: {', '.join(f'{v:.2f}' for v in load_after)} (above 0 means other "
            "processes shared the cores: times are then noisy)",
            f"- {timestamp()}",
        ]
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--quick", action="store_true", help="1,000 rows, 1 epoch, 2 candidates")
    parser.add_argument("--output", help="also write the report (markdown) here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_config(json.loads(args.child))))
        return
    if args.quick:
        args.rows, args.epochs, args.candidates = 1000, 1, 2
    load_before = os.getloadavg()
    results = []
    for label, n_jobs, inner in CONFIGS:
        job = {"label": label, "n_jobs": n_jobs, "inner": inner, "rows": args.rows}
        job.update(epochs=args.epochs, candidates=args.candidates)
        results.append(run_in_subprocess(job))
        print(json.dumps(results[-1]), flush=True)
    print_report(report(results, args, load_before, os.getloadavg()), args.output)


if __name__ == "__main__":
    main()
