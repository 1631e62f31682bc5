"""Serving speed of an exported model (onnxruntime) beside ``predict_proba`` (torch).

The reference MovieLens architecture, ``HAMURClassifier(backbone="mlp",
hidden_units=(256, 128), d_embedding=16, adapter_rank=35, d_adapter=32,
hyper_hidden_units=(64,))``, fitted for one epoch on synthetic MovieLens-100k-like rows
(8 categorical id fields, 3 domains; ``speed.make_frame``), exported with
``export(format="onnx")`` and loaded with :func:`sklearn_hamur.serving.load_exported`.
On new rows of the same distribution it times:

- one-row latency (median and p99 over ``--calls`` calls, after 20 untimed ones) of
  ``predict_proba`` on a one-row DataFrame; of the served model on the same one-row
  DataFrame and on a dict of scalars (a request as a serving process gets it); and of
  onnxruntime's ``session.run`` alone on the encoded row;
- batch throughput (rows/s, median of 3) on ``--rows`` rows of the same four paths
  (the encoded arrays for ``session.run``);
- the largest difference between the served probabilities and ``predict_proba``'s.

torch and onnxruntime both get ``--threads`` threads (onnxruntime's intra-op threads).

Usage (from the repository root, with the ``export`` extra installed)::

    PYTHONPATH=. python benchmarks/export.py --output benchmarks/results/export.md
    PYTHONPATH=. python benchmarks/export.py --quick     # smoke test, seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_model, latencies_ms, pipe_table, print_report, timestamp
from speed import ARCHITECTURE, FIELDS, LR, make_frame

DEFAULTS = {
    "full": {"fit_rows": 20_000, "rows": 100_000, "calls": 1_000},
    "quick": {"fit_rows": 2_000, "rows": 5_000, "calls": 50},
}


def rows_per_s(fn, n_rows: int, repeats: int = 3) -> float:
    """Median rows per second of ``fn()``, which handles ``n_rows`` rows."""
    fn()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(n_rows / (time.perf_counter() - start))
    return statistics.median(rates)


def build_estimator(seed: int):
    from sklearn_hamur import HAMURClassifier

    return HAMURClassifier(
        backbone="mlp",
        categorical_cols=list(FIELDS),
        hidden_units=ARCHITECTURE["d_hidden"],
        d_embedding=ARCHITECTURE["d_embedding"],
        dropout=ARCHITECTURE["dropout"],
        adapter_rank=ARCHITECTURE["adapter_rank"],
        d_adapter=ARCHITECTURE["d_adapter"],
        hyper_hidden_units=ARCHITECTURE["d_hyper_hidden"],
        lr=LR,
        batch_size=4096,
        max_epochs=1,
        early_stopping=False,
        device="cpu",
        random_state=seed,
    )


def measure(args) -> dict:
    import onnxruntime
    import torch

    from sklearn_hamur.serving import load_exported

    torch.set_num_threads(args.threads)
    X, y = make_frame(args.fit_rows, 3, args.seed)
    clf = build_estimator(args.seed).fit(X, y)
    X_new, _ = make_frame(args.rows, 3, args.seed + 1)
    frames = [X_new.iloc[[i]] for i in range(args.calls)]
    dicts = [X_new.iloc[i].to_dict() for i in range(args.calls)]
    # torch first, before onnxruntime's threads exist (they spin a while after each run).
    latency = {"predict_proba": latencies_ms(clf.predict_proba, frames, warmup=20)}
    throughput = {"predict_proba": rows_per_s(lambda: clf.predict_proba(X_new), args.rows)}
    expected = clf.predict_proba(X_new)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        clf.export(Path(folder) / "export")
        export_s = time.perf_counter() - start
        served = load_exported(Path(folder) / "export", n_threads=args.threads)
    encoded = served.encode(X_new)
    singles = [{k: v[i : i + 1] for k, v in encoded.items()} for i in range(args.calls)]
    run = served.session.run
    columns = {c: X_new[c].to_numpy() for c in X_new}
    latency["served, DataFrame"] = latencies_ms(served.predict_proba, frames, warmup=20)
    latency["served, dict"] = latencies_ms(served.predict_proba, dicts, warmup=20)
    latency["session.run"] = latencies_ms(lambda x: run(["logit"], x), singles, warmup=20)
    throughput["served, DataFrame"] = rows_per_s(lambda: served.predict_proba(X_new), args.rows)
    throughput["served, dict"] = rows_per_s(lambda: served.predict_proba(columns), args.rows)
    throughput["session.run"] = rows_per_s(lambda: run(["logit"], encoded), args.rows)
    difference = np.abs(served.predict_proba(X_new) - expected).max()
    return {
        "latency": latency,
        "throughput": throughput,
        "difference": float(difference),
        "export_s": export_s,
        "params": sum(p.numel() for p in clf.net_.module_.parameters()),
        "versions": (torch.__version__, onnxruntime.__version__),
    }


LABELS = {
    "predict_proba": "`HAMURClassifier.predict_proba` (torch), DataFrame",
    "served, DataFrame": "`ExportedModel.predict_proba` (onnxruntime), DataFrame",
    "served, dict": "`ExportedModel.predict_proba`, dict of scalars / dict of arrays",
    "session.run": "onnxruntime `session.run` alone, on the encoded arrays",
}


def report(args, result: dict, load_before: tuple, load_after: tuple) -> str:
    rows = []
    for name, label in LABELS.items():
        times = result["latency"][name]
        p99 = float(np.percentile(times, 99))
        rows.append(
            [
                label,
                f"{statistics.median(times):.3f}",
                f"{p99:.3f}",
                f"{result['throughput'][name]:,.0f}",
            ]
        )
    torch_version, ort_version = result["versions"]
    shared = load_before[0] > 0.5 * os.cpu_count()
    lines = [
        "# Serving an exported model: onnxruntime beside predict_proba",
        "",
        f"Command: `PYTHONPATH=. python benchmarks/export.py {' '.join(sys.argv[1:])}`",
        "",
        f'`HAMURClassifier(backbone="mlp", hidden_units=(256, 128), d_embedding=16, '
        f"adapter_rank=35, d_adapter=32, hyper_hidden_units=(64,))`, {result['params']:,} "
        f"parameters, fitted for one epoch on {args.fit_rows:,} synthetic MovieLens-100k-like "
        "rows (8 categorical id fields, 3 domains); exported in "
        f"{result['export_s']:.1f} s. Latency: {args.calls:,} one-row calls after 20 "
        f"untimed ones; throughput: {args.rows:,} new rows, median of 3. "
        f"{args.threads} threads for torch and for onnxruntime (intra-op).",
        "",
        pipe_table(
            ["path", "one row: median ms", "one row: p99 ms", f"{args.rows:,} rows: rows/s"],
            rows,
        ),
        "",
        f"Largest difference between the served probabilities and `predict_proba`'s on the "
        f"{args.rows:,} rows: {result['difference']:.2g}.",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch_version}, onnxruntime {ort_version}; {timestamp()}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
        + (
            " (the machine was shared with other jobs while this ran, so the numbers are "
            "indicative)."
            if shared
            else "."
        ),
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit-rows", type=int)
    parser.add_argument("--rows", type=int, help="rows of the throughput measurement")
    parser.add_argument("--calls", type=int, help="one-row calls of the latency measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    for name, value in DEFAULTS["quick" if args.quick else "full"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    load_before = os.getloadavg()
    result = measure(args)
    print_report(report(args, result, load_before, os.getloadavg()), args.output)


if __name__ == "__main__":
    main()
