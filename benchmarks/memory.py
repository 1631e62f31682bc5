"""Peak memory of ``HAMURClassifier.fit`` on large synthetic data (issue: large data).

For each size (default 1M and 5M rows) a fresh process builds a frame of 20 integer id
columns (listed in ``categorical_cols``, cardinalities 10 to 100,000), 2 numeric
columns and a domain column (3 domains), then fits ``HAMURClassifier`` for one epoch.
A sampler thread reads the process's resident memory every 20 ms; the report gives the
input frame's size, the resident memory before ``fit`` and the peak growth during
``fit`` (encoded arrays, model, optimizer, autograd buffers, allocator slack).

Usage: ``python benchmarks/memory.py [--rows 1000000 5000000] [--output PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from _common import current_rss, print_report

CARDINALITIES = [10, 50, 100, 1_000, 10_000, 100_000, 20, 200, 2_000, 20_000] * 2


class PeakSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = current_rss()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, current_rss())
            time.sleep(0.02)


def make_frame(n_rows: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns = {
        f"id{j}": rng.integers(0, c, n_rows, dtype=np.int32) for j, c in enumerate(CARDINALITIES)
    }
    columns["x0"] = rng.normal(size=n_rows).astype(np.float32)
    columns["x1"] = rng.normal(size=n_rows).astype(np.float32)
    columns["domain"] = rng.integers(0, 3, n_rows, dtype=np.int8)
    X = pd.DataFrame(columns)
    logit = (X["id0"].to_numpy() % 3 - 1) * 0.8 + X["x0"].to_numpy() * (X["domain"].to_numpy() - 1)
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return X, y


def measure(n_rows: int) -> dict:
    from sklearn_hamur import HAMURClassifier

    X, y = make_frame(n_rows)
    clf = HAMURClassifier(
        categorical_cols=[f"id{j}" for j in range(len(CARDINALITIES))],
        max_epochs=1,
        early_stopping=False,
        random_state=0,
    )
    before = current_rss()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    sampler.running = False
    sampler.join()
    return {
        "rows": n_rows,
        "frame_mib": X.memory_usage(deep=True).sum() / 2**20,
        "rss_before_mib": before / 2**20,
        "peak_growth_mib": (sampler.peak - before) / 2**20,
        "peak_total_mib": sampler.peak / 2**20,
        "fit_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--output", default=None)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(measure(args.worker)))
        return
    results = []
    for n in args.rows:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    lines = [
        "# Peak memory of HAMURClassifier.fit (benchmarks/memory.py)",
        "",
        f"20 integer id columns (categorical), 2 numeric, 3 domains; one epoch; "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores.",
        "",
        "| rows | input frame MiB | RSS before fit MiB | peak growth in fit MiB | peak total MiB "
        "| growth per row (bytes) | fit s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['frame_mib']:,.0f} | {r['rss_before_mib']:,.0f} | "
            f"{r['peak_growth_mib']:,.0f} | {r['peak_total_mib']:,.0f} | "
            f"{r['peak_growth_mib'] * 2**20 / r['rows']:.0f} | {r['fit_seconds']:.0f} |"
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        slope = (b["peak_growth_mib"] - a["peak_growth_mib"]) * 2**20 / (b["rows"] - a["rows"])
        lines += [
            "",
            f"Slope of peak growth: {slope:.0f} bytes per row between the two sizes.",
            f"Growth ratio {b['peak_growth_mib'] / a['peak_growth_mib']:.2f} for "
            f"{b['rows'] / a['rows']:.1f}x the rows (linear: equal ratios); target: under "
            f"3 GiB of peak total at 5M rows: {b['peak_total_mib'] / 1024:.2f} GiB.",
        ]
    print_report("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
