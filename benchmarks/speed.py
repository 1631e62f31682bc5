"""CPU speed of HAMUR, of its backbone, and of the reference implementation's pattern.

Measures, for the reference MovieLens architecture (towers (256, 128), embeddings 16,
adapter rank k=35, bottleneck 32, hyper-network (64,), dropout 0.2, Adam lr 1e-3) on
synthetic MovieLens-like data (8 categorical fields, domains drawn uniformly):

- training samples/s of the torch module alone (forward, ``BCEWithLogits`` loss,
  backward, Adam step) on a fixed set of pre-built batches, after warm-up, median over
  repeats, for

  * ``hamur``: :class:`~sklearn_hamur.modules.MultiDomainMLP` with one adapter
    (what :class:`~sklearn_hamur.HAMURClassifier` trains),
  * ``backbone``: the same without adapters (what
    :class:`~sklearn_hamur.MultiDomainClassifier` trains),
  * ``naive``: ``_naive_reference.NaiveHAMUR``, the reference implementation's pattern
    (every tower and the hyper-network on the whole batch, per-row weights materialised);

- predict rows/s of the module in eval mode under ``torch.inference_mode``;
- peak RSS growth of training (see ``measure_module``);
- the full ``HAMURClassifier.fit`` / ``MultiDomainClassifier.fit`` path (skorch, data
  loading, encoding) on a pandas DataFrame, and ``predict_proba`` on it;
- prediction of a fitted ``HAMURClassifier(backbone="mlp")`` (``measure_predict``): the
  median and p99 latency of one-row ``predict_proba`` calls (a one-row DataFrame each),
  and rows/s of ``predict_proba`` on 100,000 rows, beside the module alone and the
  FLOP-bound ceiling (the module's counted FLOPs per row against a large GEMM's rate
  measured in the same process).

With ``--backbones dcn mmoe ...`` (``all`` for every registered backbone) the module rows
are instead measured per backbone, with (``hamur``: the module HAMURClassifier(backbone=...)
trains, one adapter) and without adapters (``backbone``: MultiDomainClassifier's module),
built from the estimators' default parameters (reference MovieLens widths: embeddings 16,
hidden (256, 128), dropout 0.2, k=35; backbone-specific parameters at their defaults), and
the report gains a per-backbone table. The default, ``--backbones mlp``, is the table above.

Every configuration runs in a fresh Python subprocess, so memory and allocator state do
not leak from one measurement into the next.

Usage (from the repository root; ``sklearn_hamur`` must be importable)::

    PYTHONPATH=. python benchmarks/speed.py --quick          # smoke test, < 1 minute
    PYTHONPATH=. python benchmarks/speed.py --output benchmarks/results/speed.md
    PYTHONPATH=. python benchmarks/speed.py --threads 1 --domains 3 30
    PYTHONPATH=. python benchmarks/speed.py --backbones all --domains 3 --naive-domains \
        --fit-rows 0 --output benchmarks/results/speed-backbones.md
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import cpu_model, current_rss, latencies_ms, pipe_table, timestamp

#: MovieLens-100k-like cardinalities of the 8 categorical fields (no numeric field).
FIELDS = {
    "user_id": 943,
    "item_id": 1682,
    "gender": 2,
    "occupation": 21,
    "zip": 795,
    "genre": 19,
    "year": 72,
    "age_bucket": 7,
}
#: Indices the encoder reserves in each vocabulary (padding, unknown, missing).
N_RESERVED = 3
#: Reference MovieLens architecture (HAMUR paper / reference implementation).
ARCHITECTURE = {
    "d_embedding": 16,
    "d_hidden": (256, 128),
    "dropout": 0.2,
    "adapter_rank": 35,
    "d_adapter": 32,
    "d_hyper_hidden": (64,),
}
LR = 1e-3
MODELS = ("hamur", "backbone", "naive")
MODEL_LABELS = {
    "hamur": "HAMUR (MultiDomainMLP, n_adapters=1)",
    "backbone": "backbone (MultiDomainMLP, n_adapters=0)",
    "naive": "naive reference pattern (NaiveHAMUR)",
    "fit_hamur": 'HAMURClassifier.fit / predict_proba (backbone="mlp", skorch, DataFrame)',
    "fit_backbone": 'MultiDomainClassifier.fit / predict_proba (backbone="mlp", skorch, DataFrame)',
    "predict": 'HAMURClassifier(backbone="mlp").predict_proba',
}
#: Settings a flag left unset takes, for a full run and for ``--quick``.
DEFAULTS = {
    "full": {
        "batch_size": 4096,
        "steps": 20,
        "repeats": 5,
        "warmup": 3,
        "naive_steps": 2,
        "naive_repeats": 2,
        "fit_rows": 200_000,
        "fit_epochs": 2,
        "predict_rows": 100_000,
        "latency_calls": 1_000,
    },
    "quick": {
        "batch_size": 512,
        "steps": 3,
        "repeats": 2,
        "warmup": 1,
        "naive_steps": 1,
        "naive_repeats": 1,
        "fit_rows": 4_000,
        "fit_epochs": 1,
        "predict_rows": 5_000,
        "latency_calls": 100,
    },
}
TARGETS = {
    "naive_speedup": 10.0,
    # Training throughput at 30 and at 100 domains over that at 3 (the module loop).
    "domain_scaling": {30: 0.9, 100: 0.8},
    "backbone_overhead": 1.5,
    # The whole estimator fit's rows/s over the module loop's, at the fit's domain count.
    "fit_over_module": 0.9,
}
#: Prediction targets (issue 16): one-row ``predict_proba`` p99, and rows/s on 100k rows.
PREDICT_TARGETS = {"latency_p99_ms": 2.0, "rows_per_s": 1_000_000}
#: Rows the estimator of the prediction measurement is fitted on (one epoch).
PREDICT_FIT_ROWS = 20_000
RESULT_PREFIX = "SPEED-RESULT "


# -- data ----------------------------------------------------------------------------------


def make_codes(n_rows: int, n_domains: int, rng: np.random.Generator):
    """Category indices of every field (as the encoder would give) and uniform domains."""
    codes = np.column_stack(
        [rng.integers(N_RESERVED, N_RESERVED + c, size=n_rows) for c in FIELDS.values()]
    )
    return codes, rng.integers(0, n_domains, size=n_rows)


def make_labels(codes: np.ndarray, domain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clicks with a user, an item and a domain effect (the values do not affect speed)."""
    user_effect = rng.normal(size=codes[:, 0].max() + 1)
    item_effect = rng.normal(size=codes[:, 1].max() + 1)
    logit = user_effect[codes[:, 0]] + item_effect[codes[:, 1]] + 0.3 * (domain % 3 - 1)
    return (rng.random(len(domain)) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def make_batches(n_batches: int, batch_size: int, n_domains: int, seed: int) -> list:
    """Pre-built ``(x_cat, x_num, domain, y)`` tensors of one batch each."""
    import torch

    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        codes, domain = make_codes(batch_size, n_domains, rng)
        y = make_labels(codes, domain, rng)
        batches.append(
            (
                torch.as_tensor(codes),
                torch.zeros(batch_size, 0),
                torch.as_tensor(domain),
                torch.as_tensor(y, dtype=torch.float32),
            )
        )
    return batches


def make_frame(n_rows: int, n_domains: int, seed: int):
    """A pandas DataFrame with the 8 fields (int ids), a ``domain`` column, and labels."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    codes, domain = make_codes(n_rows, n_domains, rng)
    y = make_labels(codes, domain, rng)
    X = pd.DataFrame(codes - N_RESERVED, columns=list(FIELDS))
    X["domain"] = domain
    return X, y


# -- memory --------------------------------------------------------------------------------


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (``ru_maxrss`` is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSSGrowth:
    """Peak RSS during a ``with`` block minus the RSS just before it.

    ``upper_bound`` is set when the process's earlier peak was not exceeded inside the
    block: the growth is then at most ``value``, not exactly it.
    """

    def __enter__(self) -> PeakRSSGrowth:
        gc.collect()
        self._rss_before, self._peak_before = current_rss(), peak_rss()
        return self

    def __exit__(self, *exc) -> None:
        peak_after = peak_rss()
        self.upper_bound = peak_after <= self._peak_before
        self.value = peak_after - self._rss_before


# -- module measurements -------------------------------------------------------------------


def backbone_module_kwargs(backbone: str, adapters: bool) -> dict:
    """Module arguments of ``backbone`` as the estimators build it at their defaults."""
    from sklearn_hamur import HAMURClassifier
    from sklearn_hamur._backbone_params import module_kwargs

    params = HAMURClassifier(
        backbone=backbone,
        d_embedding=ARCHITECTURE["d_embedding"],
        dropout=ARCHITECTURE["dropout"],
        hidden_units=ARCHITECTURE["d_hidden"],
    ).get_params()
    return module_kwargs(params, adapters=adapters)


def build_module(model: str, n_domains: int, backbone: str | None = None):
    from sklearn_hamur.modules import MultiDomainMLP

    cardinalities = [c + N_RESERVED for c in FIELDS.values()]
    if backbone is not None:
        from sklearn_hamur.modules.backbones import make_backbone

        return make_backbone(
            backbone,
            cardinalities=cardinalities,
            n_numeric=0,
            n_domains=n_domains,
            **backbone_module_kwargs(backbone, adapters=model == "hamur"),
        )
    if model == "naive":
        from _naive_reference import NaiveHAMUR

        return NaiveHAMUR(cardinalities=cardinalities, n_domains=n_domains, **ARCHITECTURE)
    from sklearn_hamur.modules.backbones import AdapterSpec

    adapters = AdapterSpec(
        n_adapters=1,
        rank=ARCHITECTURE["adapter_rank"],
        d_bottleneck=ARCHITECTURE["d_adapter"],
        d_hyper_hidden=ARCHITECTURE["d_hyper_hidden"],
    )
    return MultiDomainMLP(
        cardinalities=cardinalities,
        n_numeric=0,
        n_domains=n_domains,
        d_embedding=ARCHITECTURE["d_embedding"],
        d_hidden=ARCHITECTURE["d_hidden"],
        dropout=ARCHITECTURE["dropout"],
        adapters=adapters if model == "hamur" else None,
    )


def train_steps(module, optimizer, batches: list, n_steps: int) -> None:
    import torch.nn.functional as F

    module.train()
    for i in range(n_steps):
        x_cat, x_num, domain, y = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(module(x_cat, x_num, domain), y)
        loss.backward()
        optimizer.step()


def predict_pass(module, batches: list, n_batches: int) -> None:
    for i in range(n_batches):
        x_cat, x_num, domain, _ = batches[i % len(batches)]
        module(x_cat, x_num, domain)


def timed_rates(fn, n_rows: int, repeats: int) -> list[float]:
    """Rows per second of ``fn()`` (which handles ``n_rows`` rows), once per repeat."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(n_rows / (time.perf_counter() - start))
    return rates


def measure_module(job: dict) -> dict:
    """Train and predict throughput and peak RSS growth of one module configuration.

    Memory: peak RSS during the warm-up training steps minus the RSS just before them,
    with the module, optimizer and batches already built. It includes gradients, Adam's
    state (allocated by the first step), the tensors autograd saves for backward and the
    allocator's temporaries.
    """
    import torch

    torch.manual_seed(job["seed"])
    batches = make_batches(min(job["steps"], 8), job["batch_size"], job["n_domains"], job["seed"])
    module = build_module(job["model"], job["n_domains"], job.get("backbone"))
    from sklearn_hamur._net import adam_supports_fused

    # The same optimizer the estimators use: fused Adam where torch has it.
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=adam_supports_fused())
    n_steps, rows = job["steps"], job["steps"] * job["batch_size"]
    with PeakRSSGrowth() as memory:
        train_steps(module, optimizer, batches, job["warmup"])
    train = timed_rates(
        lambda: train_steps(module, optimizer, batches, n_steps), rows, job["repeats"]
    )
    module.eval()
    with torch.inference_mode():
        predict_pass(module, batches, 1)
        predict = timed_rates(lambda: predict_pass(module, batches, n_steps), rows, job["repeats"])
    return {
        "params": sum(p.numel() for p in module.parameters()),
        "train": train,
        "predict": predict,
        "memory": memory.value,
        "memory_upper_bound": memory.upper_bound,
    }


# -- estimator measurements ----------------------------------------------------------------


def build_estimator(kind: str, job: dict):
    from sklearn_hamur import HAMURClassifier, MultiDomainClassifier

    common = {
        # The module rows' architecture (one tower per domain), so that target (4)
        # compares the same model.
        "backbone": "mlp",
        "domain_col": "domain",
        "categorical_cols": list(FIELDS),
        "hidden_units": ARCHITECTURE["d_hidden"],
        "d_embedding": ARCHITECTURE["d_embedding"],
        "dropout": ARCHITECTURE["dropout"],
        "lr": LR,
        "batch_size": job["batch_size"],
        "max_epochs": job["fit_epochs"],
        "early_stopping": False,
        "device": "cpu",
        "random_state": job["seed"],
    }
    if kind == "fit_backbone":
        return MultiDomainClassifier(**common)
    return HAMURClassifier(
        **common,
        adapter_rank=ARCHITECTURE["adapter_rank"],
        d_adapter=ARCHITECTURE["d_adapter"],
        hyper_hidden_units=ARCHITECTURE["d_hyper_hidden"],
        n_adapters=1,
    )


def measure_estimator(job: dict) -> dict:
    """``fit`` (encoding, skorch, data loading, training) and ``predict_proba`` on a frame."""
    import torch

    # torch's optimizers import torch._dynamo on their first step: several seconds, once
    # per process, whatever trains. The module loop pays it in its warm-up; here it is
    # paid before the timed fit and reported on its own.
    start = time.perf_counter()
    import torch._dynamo  # noqa: F401

    import_s = time.perf_counter() - start
    torch.manual_seed(job["seed"])
    X, y = make_frame(job["fit_rows"], job["n_domains"], job["seed"])
    estimator = build_estimator(job["model"], job)
    with PeakRSSGrowth() as memory:
        start = time.perf_counter()
        estimator.fit(X, y)
        fit_s = time.perf_counter() - start
    epochs_s = float(sum(estimator.history_[:, "dur"]))
    start = time.perf_counter()
    estimator.predict_proba(X)
    predict_s = time.perf_counter() - start
    rows = job["fit_rows"] * job["fit_epochs"]
    return {
        "params": sum(p.numel() for p in estimator.net_.module_.parameters()),
        "train": [rows / fit_s],
        "train_epochs_only": rows / epochs_s,
        "fit_s": fit_s,
        "epochs_s": epochs_s,
        "dynamo_import_s": import_s,
        "predict": [job["fit_rows"] / predict_s],
        "memory": memory.value,
        "memory_upper_bound": memory.upper_bound,
    }


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The best rate of an ``n x n`` float32 matrix product here, in GFLOP/s."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def module_flops_per_row(module, encoded: dict, n_rows: int = 256) -> float:
    """Forward FLOPs per row of ``module`` on encoded rows, counted by FlopCounterMode."""
    import torch

    tensors = {key: torch.as_tensor(value[:n_rows]) for key, value in encoded.items()}
    with flop_counter() as counter, torch.inference_mode():
        module(**tensors)
    return counter.get_total_flops() / len(tensors["domain"])


def measure_predict(job: dict) -> dict:
    """One-row latency and batch throughput of ``predict_proba``, and of the module alone.

    The estimator is the reference architecture with ``backbone="mlp"``, fitted for one
    epoch on ``PREDICT_FIT_ROWS`` rows; it predicts new rows of the same distribution:
    ``latency_calls`` one-row DataFrames (after 20 untimed calls), then all
    ``predict_rows`` rows at once (median of 3). The module rows time
    ``module(**encoded)`` under ``torch.inference_mode`` on the encoded rows, one row at
    a time and in batches of ``batch_size``. Each estimator measurement alternates with
    the module's (call by call, repeat by repeat), so a change of load hits both alike.
    """
    import torch

    torch.manual_seed(job["seed"])
    X, y = make_frame(job["fit_rows"], job["n_domains"], job["seed"])
    estimator = build_estimator("fit_hamur", job).set_params(backbone="mlp").fit(X, y)
    X_new, _ = make_frame(job["predict_rows"], job["n_domains"], job["seed"] + 1)
    rows = [X_new.iloc[[i % len(X_new)]] for i in range(20 + job["latency_calls"])]
    module = estimator.net_.module_.eval()
    encoded = {k: torch.as_tensor(v) for k, v in estimator.encoder_.transform(X_new).items()}
    size = job["batch_size"]
    batches = [{k: v[i : i + size] for k, v in encoded.items()} for i in range(0, len(X_new), size)]
    singles = [{k: v[i : i + 1] for k, v in encoded.items()} for i in range(len(rows))]

    def module_forward(x):
        with torch.inference_mode():
            return module(**x)

    one_row, module_one_row = [], []
    for i, (row, single) in enumerate(zip(rows, singles)):
        estimator_ms = latencies_ms(estimator.predict_proba, [row])
        module_ms = latencies_ms(module_forward, [single])
        if i >= 20:  # the first 20 calls warm up
            one_row += estimator_ms
            module_one_row += module_ms
    estimator.predict_proba(X_new.iloc[:4096])
    batch, module_batch = [], []
    for _ in range(3):
        batch += timed_rates(lambda: estimator.predict_proba(X_new), len(X_new), 1)
        module_batch += timed_rates(lambda: [module_forward(x) for x in batches], len(X_new), 1)
    return {
        "params": sum(p.numel() for p in module.parameters()),
        "latency_ms": one_row,
        "rows_per_s": batch,
        "module_latency_ms": module_one_row,
        "module_rows_per_s": module_batch,
        "flops_per_row": module_flops_per_row(module, encoded),
        "gemm_gflops": gemm_gflops(),
    }


def run_job(job: dict) -> dict:
    """Run one measurement in this process (the worker side)."""
    import torch

    if job["threads"] is not None:
        torch.set_num_threads(job["threads"])
    if job["model"] == "predict":
        result = measure_predict(job)
    elif job["model"].startswith("fit_"):
        result = measure_estimator(job)
    else:
        result = measure_module(job)
    result["threads"] = torch.get_num_threads()
    return result


def run_job_in_subprocess(job: dict) -> dict:
    """Run one measurement in a fresh interpreter; a failure is returned, not raised."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-job", json.dumps(job)]
    completed = subprocess.run(command, capture_output=True, text=True)
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
    return {"error": f"exit code {completed.returncode}: {' | '.join(tail)}"}


# -- the run -------------------------------------------------------------------------------


def make_jobs(args: argparse.Namespace) -> list[dict]:
    base = {
        "batch_size": args.batch_size,
        "warmup": args.warmup,
        "threads": args.threads,
        "seed": args.seed,
    }
    jobs = []
    if backbone_mode(args):
        for n_domains in args.domains:
            for backbone in args.backbones:
                for model in ("hamur", "backbone"):
                    jobs.append(
                        {
                            **base,
                            "model": model,
                            "backbone": backbone,
                            "n_domains": n_domains,
                            "steps": args.steps,
                            "repeats": args.repeats,
                        }
                    )
    for n_domains in args.domains:
        for model in MODELS:
            if model == "naive" and n_domains not in args.naive_domains:
                continue
            if model != "naive" and backbone_mode(args):
                continue  # measured per backbone above
            naive = model == "naive"
            jobs.append(
                {
                    **base,
                    "model": model,
                    "n_domains": n_domains,
                    "steps": args.naive_steps if naive else args.steps,
                    "repeats": args.naive_repeats if naive else args.repeats,
                    "warmup": 1 if naive else args.warmup,
                }
            )
    if args.fit_rows:
        for model in ("fit_hamur", "fit_backbone"):
            jobs.append(
                {
                    **base,
                    "model": model,
                    "n_domains": args.fit_domains,
                    "fit_rows": args.fit_rows,
                    "fit_epochs": args.fit_epochs,
                }
            )
    if args.predict_rows:
        jobs.append(
            {
                **base,
                "model": "predict",
                "n_domains": args.fit_domains,
                "fit_rows": min(PREDICT_FIT_ROWS, args.predict_rows),
                "fit_epochs": 1,
                "predict_rows": args.predict_rows,
                "latency_calls": args.latency_calls,
            }
        )
    return jobs


def run_all(args: argparse.Namespace) -> list[dict]:
    results = []
    for job in make_jobs(args):
        start = time.perf_counter()
        result = run_job_in_subprocess(job)
        took = time.perf_counter() - start
        if "error" in result:
            status = result["error"]
        elif job["model"] == "predict":
            status = f"done, one-row p99 {percentile(result['latency_ms'], 99):.2f} ms"
        else:
            status = f"done, train {fmt_rate(median(result['train']))}/s"
        name = job["model"] + (f":{job['backbone']}" if "backbone" in job else "")
        line = f"  {name:<22} {job['n_domains']:>3} domains: {status} ({took:.0f} s)"
        print(line, file=sys.stderr, flush=True)
        results.append({**job, **result})
    return results


# -- reporting -----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_spread(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    return f"±{50 * (max(values) - min(values)) / median(values):.0f}%"


def fmt_memory(result: dict) -> str:
    mib = result["memory"] / 2**20
    return f"{'<= ' if result['memory_upper_bound'] else ''}{mib:,.0f} MiB"


def table_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        if r["model"] == "predict":
            continue  # in predict_section
        label = f"{MODEL_LABELS[r['model']]}"
        if "backbone" in r:
            label = f"`{r['backbone']}`, " + (
                "HAMUR (1 adapter)" if r["model"] == "hamur" else "no adapter"
            )
        if "error" in r:
            rows.append([label, str(r["n_domains"]), "-", f"FAILED: {r['error']}", "", "", ""])
            continue
        train = fmt_rate(median(r["train"]))
        if "train_epochs_only" in r:
            train += f" ({fmt_rate(r['train_epochs_only'])} in epochs)"
        rows.append(
            [
                label,
                str(r["n_domains"]),
                f"{r['params']:,}",
                train,
                fmt_spread(r["train"]),
                fmt_rate(median(r["predict"])),
                fmt_memory(r),
            ]
        )
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    header = [
        "model",
        "domains",
        "params",
        "train samples/s",
        "train spread",
        "predict rows/s",
        "peak RSS growth (train)",
    ]
    return pipe_table(header, rows)


def backbone_mode(args: argparse.Namespace) -> bool:
    """Whether the module rows are measured per backbone (anything but ``--backbones mlp``)."""
    return list(args.backbones) != ["mlp"]


def backbone_table(results: list[dict], domains: list[int]) -> str:
    """Per backbone and domain count: HAMUR vs no adapter, train and predict throughput."""
    header = [
        "backbone",
        "domains",
        "params HAMUR / no adapter",
        "train samples/s HAMUR",
        "train samples/s no adapter",
        "train time ratio HAMUR / no adapter",
        "predict rows/s HAMUR",
        "predict rows/s no adapter",
        "predict time ratio",
    ]
    found = {(r["backbone"], r["model"], r["n_domains"]): r for r in results if "backbone" in r}
    names = list(dict.fromkeys(r["backbone"] for r in results if "backbone" in r))
    rows = []
    for d in domains:
        for name in names:
            h, n = found.get((name, "hamur", d)), found.get((name, "backbone", d))
            if h is None or n is None or "error" in h or "error" in n:
                error = (h or {}).get("error") or (n or {}).get("error") or "not measured"
                rows.append([f"`{name}`", str(d), f"FAILED: {error}", *[""] * 6])
                continue
            ht, nt = median(h["train"]), median(n["train"])
            hp, np_ = median(h["predict"]), median(n["predict"])
            rows.append(
                [
                    f"`{name}`",
                    str(d),
                    f"{h['params']:,} / {n['params']:,}",
                    fmt_rate(ht),
                    fmt_rate(nt),
                    f"{nt / ht:.2f}",
                    fmt_rate(hp),
                    fmt_rate(np_),
                    f"{np_ / hp:.2f}",
                ]
            )
    return pipe_table(header, rows)


BACKBONE_NOTES = """\
Per-backbone rows: the torch module alone, built with `make_backbone` from the arguments
`HAMURClassifier(backbone=...)` (HAMUR, one adapter: k=35, bottleneck 32, hyper-network
(64,)) and `MultiDomainClassifier(backbone=...)` (no adapter) pass it at their defaults
(embeddings 16, hidden (256, 128) where the backbone has hidden units, dropout 0.2;
backbone-specific parameters such as cross layers, experts, tower and bottom widths at the
estimators' defaults), on the synthetic MovieLens-like batches above. The time ratios are
HAMUR's time per row over the no-adapter module's (1.00 = no overhead)."""


def predict_section(results: list[dict]) -> str | None:
    """The prediction measurement: latencies and rows/s with their targets and bounds."""
    found = [r for r in results if r["model"] == "predict"]
    if not found:
        return None
    r = found[0]
    title = f"## Prediction: {MODEL_LABELS['predict']}, {r['n_domains']} domains"
    if "error" in r:
        return f"{title}\n\nFAILED: {r['error']}"
    p99, target_ms = percentile(r["latency_ms"], 99), PREDICT_TARGETS["latency_p99_ms"]
    rate, target_rate = median(r["rows_per_s"]), PREDICT_TARGETS["rows_per_s"]
    module_rate = median(r["module_rows_per_s"])
    ceiling = r["gemm_gflops"] * 1e9 / r["flops_per_row"]
    rows = [
        [
            f"one-row `predict_proba` latency ({len(r['latency_ms']):,} calls)",
            f"median {median(r['latency_ms']):.2f} ms, p99 {p99:.2f} ms",
            f"p99 <= {target_ms:g} ms: {pass_fail(p99 <= target_ms)}",
        ],
        [
            "the module alone, one row",
            f"median {median(r['module_latency_ms']):.2f} ms, "
            f"p99 {percentile(r['module_latency_ms'], 99):.2f} ms",
            "",
        ],
        [
            f"`predict_proba` on {r['predict_rows']:,} rows (median of 3)",
            f"{fmt_rate(rate)} rows/s",
            f">= {fmt_rate(target_rate)}: {pass_fail(rate >= target_rate)}",
        ],
        [
            f"the module alone, batches of {r['batch_size']:,}",
            f"{fmt_rate(module_rate)} rows/s",
            f">= {fmt_rate(target_rate)}: {pass_fail(module_rate >= target_rate)}",
        ],
        [
            "FLOP-bound ceiling",
            f"{fmt_rate(ceiling)} rows/s",
            f"{r['flops_per_row']:,.0f} FLOPs per row at {r['gemm_gflops']:.0f} GFLOP/s",
        ],
    ]
    share = f"the module runs at {module_rate / ceiling:.0%} of the FLOP ceiling"
    bound = f"compute ({share})" if module_rate >= 0.5 * ceiling else f"overhead ({share})"
    lines = [
        f"Bound: {bound}; `predict_proba` (encoding, checks) takes {module_rate / rate:.2f}x "
        "the module's time per row.",
        "The ceiling is the module's forward matrix-multiply FLOPs per row (counted by "
        "FlopCounterMode on its own inputs) at the best rate of a 2048 x 2048 float32 GEMM "
        "in the same process; the module's GEMMs are smaller and reach less.",
    ]
    if ceiling < target_rate:
        lines.append(
            f"The {fmt_rate(target_rate)} rows/s target is above this machine's ceiling: no "
            "implementation of this architecture reaches it here."
        )
    table = pipe_table(["measure", "measured", "target"], rows)
    return "\n\n".join([title, table, " ".join(lines)])


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def train_rate(results: list[dict], model: str, n_domains: int) -> float | None:
    for r in results:
        if "backbone" in r:
            continue
        if r["model"] == model and r["n_domains"] == n_domains and "error" not in r:
            return median(r["train"])
    return None


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a (not measured)"
    ok = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    return f"{value:.2f} (target {sign} {target:g}): {'PASS' if ok else 'FAIL'}"


def fit_rate(results: list[dict], model: str) -> tuple[float, int] | None:
    """An estimator row's rows/s (over the whole ``fit``) and its domain count."""
    for r in results:
        if r["model"] == model and "error" not in r:
            return median(r["train"]), r["n_domains"]
    return None


def scaling_lines(rate, label: str) -> list[str]:
    """Target (2): training throughput at 30 and 100 domains over that at 3."""
    lines, base = [], rate(3)
    for d, target in TARGETS["domain_scaling"].items():
        value = rate(d) / base if base and rate(d) else None
        lines.append(
            f"(2) {label} training throughput, {d} domains / 3 domains: "
            + verdict(value, target, True)
        )
    return lines


def target_lines(results: list[dict], domains: list[int]) -> list[str]:
    hamur_3, naive_3 = train_rate(results, "hamur", 3), train_rate(results, "naive", 3)
    speedup = hamur_3 / naive_3 if hamur_3 and naive_3 else None
    overheads = {}
    for d in domains:
        hamur, backbone = train_rate(results, "hamur", d), train_rate(results, "backbone", d)
        if hamur and backbone:
            overheads[d] = backbone / hamur
    worst = max(overheads.values()) if overheads else None
    per_domain = ", ".join(f"{d} domains: {v:.2f}" for d, v in overheads.items())
    lines = [
        "(1) HAMUR training throughput / naive, 3 domains: "
        + verdict(speedup, TARGETS["naive_speedup"], True),
        *scaling_lines(lambda d: train_rate(results, "hamur", d), "HAMUR"),
        *scaling_lines(lambda d: train_rate(results, "backbone", d), "backbone"),
        "(3) HAMUR training time per row / backbone's, worst over domain counts: "
        + verdict(worst, TARGETS["backbone_overhead"], False)
        + (f" [{per_domain}]" if per_domain else ""),
    ]
    imports = [r["dynamo_import_s"] for r in results if "dynamo_import_s" in r]
    if imports:
        lines.append(
            f"one-time `import torch._dynamo` of a fresh process (first optimizer step): "
            f"{max(imports):.1f} s, not counted in (4)"
        )
    for fit_model, module_model in (("fit_hamur", "hamur"), ("fit_backbone", "backbone")):
        fit = fit_rate(results, fit_model)
        module = train_rate(results, module_model, fit[1]) if fit else None
        value = fit[0] / module if fit and module else None
        lines.append(
            f"(4) {MODEL_LABELS[fit_model].split('.')[0]}.fit rows/s / module loop's: "
            + verdict(value, TARGETS["fit_over_module"], True)
        )
    return lines


def backbone_scaling_lines(results: list[dict]) -> list[str]:
    """Target (2) per backbone: with and without adapters."""
    lines = []
    for name in dict.fromkeys(r["backbone"] for r in results if "backbone" in r):
        for model, label in (("hamur", "HAMUR"), ("backbone", "no adapter")):

            def rate(d, name=name, model=model):
                for r in results:
                    if (r.get("backbone"), r["model"], r["n_domains"]) == (name, model, d):
                        return None if "error" in r else median(r["train"])
                return None

            lines += scaling_lines(rate, f"`{name}` {label}")
    return lines


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: ``"0.52, 0.61, 0.70"``."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_lines(args: argparse.Namespace, results: list[dict]) -> list[str]:
    import torch

    threads = sorted({r["threads"] for r in results if "threads" in r})
    quick = ["- **--quick smoke test: tiny batches and few steps; not a measurement.**"]
    return (quick if args.quick else []) + [
        f"- date: {timestamp()}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores",
        f"- torch {torch.__version__}, Python {platform.python_version()}, "
        f"threads {threads} ({'--threads ' + str(args.threads) if args.threads else 'default'})",
        f"- load average before the run: {args.load_before}; after: {load_average()}",
        f"- batch size {args.batch_size}; module loop: {args.warmup} warm-up steps, "
        f"median of {args.repeats} repeats of {args.steps} steps (naive: 1 warm-up step, "
        f"{args.naive_repeats} repeats of {args.naive_steps} steps)"
        + (
            f"; estimators: {args.fit_rows:,} rows, {args.fit_domains} domains, "
            f"{args.fit_epochs} epoch(s), one run"
            if args.fit_rows
            else ""
        ),
    ]


NOTES = """\
- train samples/s: module loop (forward, BCEWithLogits loss, backward, Adam step) on
  pre-built batches, median over repeats; "train spread" is half the max-min range
  relative to the median. Estimator rows: rows x epochs / wall time of `fit` (encoder,
  skorch setup, data loading, training); in parentheses the same over the epochs only
  (skorch's history `dur`).
- predict rows/s: module in eval mode under `torch.inference_mode`, same batches;
  estimator rows: `predict_proba` on the whole DataFrame (including encoding).
- peak RSS growth (train): peak resident memory during the warm-up training steps
  (estimators: during `fit`) minus resident memory just before, each configuration in a
  fresh process; includes gradients, Adam state, autograd's saved tensors, allocator
  temporaries (and for estimators the encoded data). "<=" marks an upper bound (the
  process's earlier peak was not exceeded).
- naive: `benchmarks/_naive_reference.py`, the reference implementation's pattern (all
  towers and the hyper-network on the whole batch, per-row weights materialised).
- A process's first optimizer step imports `torch._dynamo` (torch's optimizers do, for
  any model): a one-time cost, paid by the module loop in its warm-up and by the
  estimator rows before the timed `fit` (printed below the targets).
"""


def grouped_mm_flops(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of ``torch._grouped_mm`` (each row of ``a`` by its group's matrix of ``b``)."""
    return 2 * math.prod(out_shape) * a_shape[-1]


def flop_counter():
    """torch's FlopCounterMode, also counting ``_grouped_mm`` (which it does not know)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    grouped_mm = getattr(torch.ops.aten, "_grouped_mm", None)
    custom = {} if grouped_mm is None else {grouped_mm: grouped_mm_flops}
    return FlopCounterMode(display=False, custom_mapping=custom)


def matmul_flops_per_row(model: str, n_domains: int = 3, n_rows: int = 256) -> float:
    """Forward matrix-multiply FLOPs per row, counted by torch's FlopCounterMode."""
    import torch

    torch.manual_seed(0)
    module = build_module(model, n_domains).eval()
    x_cat = torch.stack([torch.randint(0, c, (n_rows,)) for c in FIELDS.values()], 1)
    domain = torch.arange(n_rows) % n_domains
    with flop_counter() as counter, torch.no_grad():
        module(x_cat, torch.zeros(n_rows, 0), domain)
    return counter.get_total_flops() / n_rows


def work_lines() -> list[str]:
    hamur, backbone = matmul_flops_per_row("hamur"), matmul_flops_per_row("backbone")
    return [
        f"Matrix-multiply work per row (forward, counted): HAMUR {hamur:,.0f} FLOPs, backbone "
        f"{backbone:,.0f} FLOPs, ratio {hamur / backbone:.2f}. The hyper-network's output "
        f"layer alone ({ARCHITECTURE['d_hyper_hidden'][-1]} x k^2 = "
        f"{ARCHITECTURE['d_hyper_hidden'][-1] * ARCHITECTURE['adapter_rank'] ** 2:,} "
        "multiply-adds) is larger than the whole backbone tower, so target (3) cannot be met "
        "at k=35 by any implementation of this architecture; the measured ratio is set by it."
    ]


def report(args: argparse.Namespace, results: list[dict], elapsed: float) -> str:
    if backbone_mode(args):
        parts = [
            "# HAMUR speed benchmark per backbone (CPU)",
            "\n".join(machine_lines(args, results)),
            "## HAMUR vs no adapter, per backbone (module training and prediction)",
            backbone_table(results, args.domains),
            BACKBONE_NOTES,
            "Targets:\n\n" + "\n".join(f"- {line}" for line in backbone_scaling_lines(results)),
            "## All measured rows",
            markdown_table(table_rows(results)),
            *filter(None, [predict_section(results)]),
            NOTES + f"\nTotal benchmark wall time: {elapsed:.0f} s.",
        ]
        return "\n\n".join(parts) + "\n"
    parts = [
        "# HAMUR speed benchmark (CPU)",
        "\n".join(machine_lines(args, results)),
        markdown_table(table_rows(results)),
        "Targets:\n\n" + "\n".join(f"- {line}" for line in target_lines(results, args.domains)),
        "\n".join(work_lines()),
        *filter(None, [predict_section(results)]),
        NOTES + f"\nTotal benchmark wall time: {elapsed:.0f} s.",
    ]
    return "\n\n".join(parts) + "\n"


# -- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--domains", type=int, nargs="+", default=[3, 30, 100], help="numbers of domains")
    add("--batch-size", type=int, help="rows per batch (default 4096; --quick: 512)")
    add("--steps", type=int, help="training steps per repeat (default 20)")
    add("--repeats", type=int, help="timed repeats; the median is reported (default 5)")
    add("--warmup", type=int, help="untimed training steps first (default 3)")
    add("--naive-steps", type=int, help="steps per repeat for the naive model (default 2)")
    add("--naive-repeats", type=int, help="repeats for the naive model (default 2)")
    add(
        "--naive-domains",
        type=int,
        nargs="*",
        help="domain counts at which to run the naive model (default: those of --domains "
        "up to 30; at 30 domains it needs several GiB)",
    )
    add("--fit-rows", type=int, help="DataFrame rows for the estimator rows; 0 skips them")
    add("--fit-epochs", type=int, help="epochs of the estimator fits (default 2)")
    add("--fit-domains", type=int, default=3, help="domains of the estimator rows")
    add(
        "--predict-rows",
        type=int,
        help="rows of the predict_proba throughput (default 100,000; 0 skips the "
        "prediction measurement)",
    )
    add("--latency-calls", type=int, help="timed one-row predict_proba calls (default 1000)")
    add("--threads", type=int, help="torch.set_num_threads (default: torch's default)")
    add("--seed", type=int, default=0)
    add(
        "--backbones",
        nargs="+",
        default=["mlp"],
        help="backbones whose modules to measure with and without adapters, or 'all' "
        "(default: mlp, the table of MultiDomainMLP with n_adapters=1 and 0)",
    )
    add("--quick", action="store_true", help="tiny run for a smoke test")
    add("--output", type=Path, help="also write the report as markdown to this path")
    add("--worker-job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in DEFAULTS["quick" if args.quick else "full"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.naive_domains is None:
        args.naive_domains = [d for d in args.domains if d <= 30]
    if not args.worker_job:
        from sklearn_hamur.modules.backbones import BACKBONES

        if args.backbones == ["all"]:
            args.backbones = list(BACKBONES)
        unknown = [b for b in args.backbones if b not in BACKBONES]
        if unknown:
            parser.error(
                f"unknown backbone(s) {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(BACKBONES)} (or 'all')."
            )
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker_job:
        print(RESULT_PREFIX + json.dumps(run_job(json.loads(args.worker_job))), flush=True)
        return
    args.load_before = load_average()
    start = time.perf_counter()
    results = run_all(args)
    text = report(args, results, time.perf_counter() - start)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)


if __name__ == "__main__":
    main()
