"""Out-of-core training from Parquet files: peak memory, throughput and AUC (issue 17).

Writes ``--rows`` synthetic rows (default 20,000,000) of 20 integer id columns
(cardinalities 10 to 100,000, listed in ``categorical_cols``), 2 numeric columns, a
domain column (3 domains) and a click label to Parquet files on disk, generated and
written in row groups of 250,000 rows, so the whole data set is never in memory; a
separate test file holds ``--test-rows`` rows. Then, in a fresh process:

- **streaming**: one pass of ``MultiDomainEncoder.partial_fit`` over the record batches
  of the files (``pyarrow.parquet.ParquetFile.iter_batches``, ``--batch-rows`` rows at a
  time), then ``--epochs`` epochs of ``HAMURClassifier.partial_fit`` over the same
  batches, reading and encoding them again each epoch;
- with ``--compare-in-memory``, **in memory**: the same rows read into one DataFrame
  and ``HAMURClassifier.fit`` for as many epochs (``early_stopping=False``), same
  parameters and ``random_state``; skipped when the estimated memory it needs exceeds
  what the machine has available (``--force-in-memory`` runs it anyway).

Each mode reports its peak resident memory (``getrusage(RUSAGE_SELF).ru_maxrss``, and
the peak of ``/proc/self/statm`` sampled every 20 ms), its throughput (rows x epochs /
wall time; streaming: the encoder pass and every epoch, reading Parquet included;
in memory: ``fit``, its encoder included, after the files were read) and the test AUC
(the test file streamed through ``predict_proba``). The issue's targets, at 20M rows on
a 2-core machine: peak memory under 2 GiB, throughput at least 0.8x the in-memory
``fit``'s, test AUC within 0.002 of it.

Usage (from the repository root; ``sklearn_hamur`` must be importable)::

    PYTHONPATH=. python benchmarks/out_of_core.py --rows 100000 --batch-rows 32768 \\
        --threads 1 --compare-in-memory --seed-spread 2 \\
        --output benchmarks/results/out-of-core-small.md
    PYTHONPATH=. python benchmarks/out_of_core.py --compare-in-memory   # 20M rows: hours
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import cpu_model, current_rss, pipe_table, print_report, timestamp

CARDINALITIES = [10, 50, 100, 1_000, 10_000, 100_000, 20, 200, 2_000, 20_000] * 2
ID_COLUMNS = [f"id{j}" for j in range(len(CARDINALITIES))]
NUMERIC_COLUMNS = ["x0", "x1"]
N_DOMAINS = 3
ROW_GROUP = 250_000
#: In-memory ``fit`` needs about this many bytes per row (the frame, its encoding, the
#: dataset's copies; benchmarks/results/memory.md measured ~300 at 5M rows), plus 1 GiB.
IN_MEMORY_BYTES_PER_ROW = 400
#: The model: HAMURClassifier's defaults but for these.
MODEL = dict(max_epochs=1, early_stopping=False, random_state=0)
#: ``--model small``: a narrower HAMUR (same architecture), so that 20M rows take minutes,
#: not hours, on 2 cores; the out-of-core machinery it measures is the same.
SMALL_MODEL = dict(
    hidden_units=(64, 32), d_embedding=8, adapter_rank=8, d_adapter=8, hyper_hidden_units=(16,)
)
TARGETS = {"peak_gib": 2.0, "throughput_ratio": 0.8, "auc_gap": 0.002}


# -- the data -----------------------------------------------------------------------------


def effects(seed: int) -> dict:
    """The click model: an effect per id value, and per domain for two columns."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "id": [rng.normal(0.0, 0.25, size) for size in CARDINALITIES],
        "domain_id": rng.normal(0.0, 0.6, (N_DOMAINS, CARDINALITIES[4])),
        "domain_x": np.array([1.0, -1.0, 0.3]),
    }


def make_rows(n_rows: int, seed: int, model: dict):
    """A pyarrow Table of ``n_rows`` synthetic clicks."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    ids = [rng.integers(0, size, n_rows, dtype=np.int32) for size in CARDINALITIES]
    x = rng.normal(size=(len(NUMERIC_COLUMNS), n_rows)).astype(np.float32)
    domain = rng.choice(N_DOMAINS, size=n_rows, p=[0.5, 0.3, 0.2]).astype(np.int8)
    logit = -1.2 + model["domain_id"][domain, ids[4]] + 0.5 * x[0] * model["domain_x"][domain]
    for table, column in zip(model["id"], ids):
        logit += table[column]
    click = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    columns = {name: column for name, column in zip(ID_COLUMNS, ids)}
    columns.update({name: values for name, values in zip(NUMERIC_COLUMNS, x)})
    columns.update(domain=domain, click=click)
    return pa.table(columns)


def write_file(path: Path, n_rows: int, seed: int, model: dict) -> None:
    """Write ``n_rows`` rows to ``path``, one row group of at most ROW_GROUP rows at a time."""
    import pyarrow.parquet as pq

    writer = None
    for index, start in enumerate(range(0, n_rows, ROW_GROUP)):
        table = make_rows(min(ROW_GROUP, n_rows - start), seed * 100_003 + index, model)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def write_data(folder: Path, args: argparse.Namespace) -> dict:
    """Write the files, or reuse those a run with the same sizes and seed left there."""
    n_files = args.files or max(1, round(args.rows / 1_000_000))
    key = {"rows": args.rows, "test_rows": args.test_rows, "files": n_files, "seed": args.seed}
    manifest = folder / "manifest.json"
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if saved["key"] == key and all(Path(p).is_file() for p in [*saved["train"], saved["test"]]):
            return {**saved, "seconds": 0.0, "reused": True}
    data = _write_files(folder, n_files, args)
    manifest.write_text(json.dumps({**data, "key": key}))
    return data


def _write_files(folder: Path, n_files: int, args: argparse.Namespace) -> dict:
    model = effects(args.seed)
    sizes = [args.rows // n_files + (i < args.rows % n_files) for i in range(n_files)]
    train = [folder / f"train-{i:03d}.parquet" for i in range(n_files)]
    start = time.perf_counter()
    for i, (path, size) in enumerate(zip(train, sizes)):
        write_file(path, size, args.seed + 1 + i, model)
    test = folder / "test.parquet"
    write_file(test, args.test_rows, args.seed + 10_000, model)
    return {
        "train": [str(p) for p in train],
        "test": str(test),
        "bytes": sum(p.stat().st_size for p in train),
        "seconds": time.perf_counter() - start,
    }


# -- measuring ----------------------------------------------------------------------------


class PeakSampler(threading.Thread):
    """The largest resident set size seen, sampled every 20 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = current_rss()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, current_rss())
            time.sleep(0.02)


def batches(paths: list[str], batch_rows: int):
    """``(X, y)`` of every record batch of the files, as pandas."""
    import pyarrow.parquet as pq

    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            X = batch.to_pandas()
            yield X, X.pop("click").to_numpy()


def test_auc(clf, data: dict, batch_rows: int) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    scores, labels = [], []
    for X, y in batches([data["test"]], batch_rows):
        scores.append(clf.predict_proba(X)[:, 1])
        labels.append(y)
    return float(roc_auc_score(np.concatenate(labels), np.concatenate(scores)))


def classifier(**params):
    from sklearn_hamur import HAMURClassifier

    return HAMURClassifier(categorical_cols=ID_COLUMNS, numeric_cols=NUMERIC_COLUMNS, **params)


def peaks(sampler: PeakSampler) -> dict:
    return {
        "peak_sampled_mib": max(sampler.peak, current_rss()) / 2**20,
        "peak_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def stream(data: dict, args: argparse.Namespace, sampler: PeakSampler) -> dict:
    """The streaming mode: an encoder pass, then epochs of partial_fit."""
    from sklearn_hamur import MultiDomainEncoder

    start = time.perf_counter()
    encoder = MultiDomainEncoder(categorical_cols=ID_COLUMNS, numeric_cols=NUMERIC_COLUMNS)
    rows = 0
    for X, _ in batches(data["train"], args.batch_rows):
        encoder.partial_fit(X)
        rows += len(X)
    encoder_seconds = time.perf_counter() - start
    clf = classifier(encoder=encoder, **MODEL)
    for epoch in range(args.epochs):
        for X, y in batches(data["train"], args.batch_rows):
            clf.partial_fit(X, y, classes=[0, 1])
        seconds = time.perf_counter() - start
        print(f"  streaming: epoch {epoch + 1} done at {seconds:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": seconds,
        "encoder_seconds": encoder_seconds,
        "calls": len(clf.history_),
        "auc": test_auc(clf, data, args.batch_rows),
        **peaks(sampler),
    }


def in_memory(data: dict, args: argparse.Namespace, sampler: PeakSampler) -> dict:
    """The in-memory mode: the files read into one DataFrame, then fit."""
    import pyarrow.parquet as pq

    start = time.perf_counter()
    X = pq.read_table(data["train"]).to_pandas()
    y = X.pop("click").to_numpy()
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    clf = classifier(**dict(MODEL, max_epochs=args.epochs)).fit(X, y)
    seconds = time.perf_counter() - start
    result = {
        "rows": len(X),
        "seconds": seconds,
        "read_seconds": read_seconds,
        "auc": test_auc(clf, data, args.batch_rows),
        **peaks(sampler),  # before the fits below, which only measure the AUC
    }
    del clf
    # The same fit with other seeds: how much the AUC moves with random_state alone.
    result["other_aucs"] = [
        test_auc(
            classifier(**dict(MODEL, max_epochs=args.epochs, random_state=seed)).fit(X, y),
            data,
            args.batch_rows,
        )
        for seed in range(1, args.seed_spread + 1)
    ]
    return result


def worker(mode: str, data: dict, args: argparse.Namespace) -> dict:
    """Run one mode in this (fresh) process and measure it."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    import sklearn_hamur  # noqa: F401 - imports are not part of the measured run

    # The first optimizer imports torch._dynamo (seconds): not part of either mode's time.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    sampler = PeakSampler()
    sampler.start()
    result = (stream if mode == "stream" else in_memory)(data, args, sampler)
    sampler.running = False
    sampler.join()
    return {**result, "mode": mode, "threads": torch.get_num_threads()}


def available_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo``, in bytes (None where unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run_mode(mode: str, data: dict, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--worker", mode, "--data", json.dumps(data)]
    command += args.argv
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the report ---------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def shown_argv(argv: list[str]) -> list[str]:
    """The command's arguments, with the text of ``--note`` left out (it heads the report)."""
    shown = list(argv)
    for i, arg in enumerate(shown):
        if arg == "--note" and i + 1 < len(shown):
            shown[i + 1] = "..."
        elif arg.startswith("--note="):
            shown[i] = "--note=..."
    return shown


def report(args: argparse.Namespace, data: dict, results: list[dict], notes: list[str]) -> str:
    rows = []
    for r in results:
        throughput = r["rows"] * args.epochs / r["seconds"]
        extra = (
            f"encoder pass {r['encoder_seconds']:.1f} s, {r['calls']} partial_fit calls"
            if r["mode"] == "stream"
            else f"reading the files first: {r['read_seconds']:.1f} s (not counted)"
        )
        rows.append(
            [
                "streaming (partial_fit)" if r["mode"] == "stream" else "in memory (fit)",
                f"{r['peak_maxrss_mib']:,.0f}",
                f"{r['peak_sampled_mib']:,.0f}",
                f"{r['seconds']:.1f}",
                f"{throughput:,.0f}",
                f"{r['auc']:.4f}",
                extra,
            ]
        )
    header = ["mode", "peak RSS MiB (ru_maxrss)", "peak RSS MiB (sampled)", "wall s"]
    header += ["rows/s (rows x epochs / wall)", "test AUC", "notes"]
    lines = [
        "# Out-of-core training from Parquet files (benchmarks/out_of_core.py)",
        "",
        *notes,
        "",
        f"- command: `python benchmarks/out_of_core.py {shlex.join(shown_argv(args.argv))}`",
        f"- date: {timestamp()}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; load average after the run: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- Python {platform.python_version()}, torch threads {results[0]['threads']}",
        f"- data: {args.rows:,} training rows in {len(data['train'])} Parquet file(s) "
        f"({data['bytes'] / 2**20:,.0f} MiB on disk, "
        + ("reused" if data.get("reused") else f"written in {data['seconds']:.0f} s")
        + "), "
        f"{args.test_rows:,} test rows; 20 integer id columns (cardinalities 10 to 100,000), "
        f"2 numeric, {N_DOMAINS} domains",
        "- model: HAMURClassifier defaults"
        + (f" but {SMALL_MODEL}" if args.model == "small" else "")
        + f", random_state=0; {args.epochs} epoch(s); "
        f"record batches (partial_fit chunks) of {args.batch_rows:,} rows",
        "",
        pipe_table(header, rows),
        "",
        "Targets (issue 17; they apply at 20M rows on a 2-core machine):",
        "",
    ]
    stream_result = next(r for r in results if r["mode"] == "stream")
    peak_gib = max(stream_result["peak_maxrss_mib"], stream_result["peak_sampled_mib"]) / 1024
    lines.append(
        f"- streaming peak memory: {peak_gib:.2f} GiB (target < {TARGETS['peak_gib']} GiB): "
        f"{verdict(peak_gib < TARGETS['peak_gib'])}"
    )
    memory = next((r for r in results if r["mode"] == "memory"), None)
    if memory is not None:
        ratio = memory["seconds"] / stream_result["seconds"]
        gap = stream_result["auc"] - memory["auc"]
        lines += [
            f"- throughput, streaming / in memory: {ratio:.2f} (target >= "
            f"{TARGETS['throughput_ratio']}): {verdict(ratio >= TARGETS['throughput_ratio'])}",
            f"- test AUC, streaming - in memory: {gap:+.4f} (target within "
            f"{TARGETS['auc_gap']}): {verdict(abs(gap) <= TARGETS['auc_gap'])}",
        ]
        if memory["other_aucs"]:
            others = ", ".join(f"{auc:.4f}" for auc in memory["other_aucs"])
            spread = max(abs(auc - memory["auc"]) for auc in memory["other_aucs"])
            lines.append(
                f"- for scale: the in-memory fit with random_state=1..{len(memory['other_aucs'])}"
                f" gives test AUC {others}, up to {spread:.4f} from random_state=0's"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--rows", type=int, default=20_000_000, help="training rows (default 20,000,000)")
    add("--test-rows", type=int, default=None, help="default: min(1,000,000, rows // 10)")
    add("--files", type=int, default=None, help="training files (default: 1 per 1M rows)")
    add("--batch-rows", type=int, default=262_144, help="rows per record batch / chunk")
    add("--epochs", type=int, default=1)
    add("--compare-in-memory", action="store_true", help="also fit in memory on the same rows")
    add("--force-in-memory", action="store_true", help="even when memory looks too small")
    add("--data-dir", default=None, help="where the files go (default: a temporary folder)")
    add("--keep-data", action="store_true", help="keep the files in --data-dir for reuse")
    add("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    add("--seed", type=int, default=0, help="seed of the data")
    add("--seed-spread", type=int, default=0, help="also fit in memory with random_state=1..N")
    add("--note", default=None, help="a line at the top of the report")
    add("--output", default=None, help="also write the report there (markdown)")
    add(
        "--model",
        choices=["default", "small"],
        default="default",
        help="HAMURClassifier's defaults, or a narrower one (SMALL_MODEL) for 20M rows",
    )
    add("--worker", choices=["stream", "memory"], help=argparse.SUPPRESS)
    add("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.model == "small":
        MODEL.update(SMALL_MODEL)
    if args.test_rows is None:
        args.test_rows = max(1, min(1_000_000, args.rows // 10))
    for name in ("rows", "test_rows", "batch_rows", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(args.data), args)))
        return
    folder = Path(args.data_dir or tempfile.mkdtemp(prefix="out-of-core-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print(f"writing {args.rows:,} + {args.test_rows:,} rows to {folder}", file=sys.stderr)
        data = write_data(folder, args)
        results = [run_mode("stream", data, args)]
        print(f"  streaming: {results[-1]}", file=sys.stderr)
        notes = [args.note] if args.note else []
        if args.compare_in_memory:
            needed = args.rows * IN_MEMORY_BYTES_PER_ROW + 2**30
            available = available_bytes()
            if available is not None and needed > available and not args.force_in_memory:
                notes.append(
                    f"In memory skipped: it needs about {needed / 2**30:.1f} GiB, "
                    f"{available / 2**30:.1f} GiB available (--force-in-memory runs it)."
                )
            else:
                results.append(run_mode("memory", data, args))
                print(f"  in memory: {results[-1]}", file=sys.stderr)
                notes.append("Streaming, then in memory, each in a fresh process.")
        print_report(report(args, data, results, notes), args.output)
    finally:
        if args.data_dir is None:  # a temporary folder of our own
            shutil.rmtree(folder, ignore_errors=True)
        elif not args.keep_data:  # only the files this script writes
            for path in [*folder.glob("train-*.parquet"), folder / "test.parquet"]:
                path.unlink(missing_ok=True)
            (folder / "manifest.json").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
