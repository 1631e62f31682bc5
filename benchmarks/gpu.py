"""GPU speed of HAMURClassifier and MultiDomainClassifier per precision (one prepared run).

On the reference Ali-CCP architecture (towers (1024, 512, 512, 256, 256, 64, 64), two
adapters, k=65, hyper-network (64,)) and synthetic Ali-CCP-like data (17 id fields,
8 dense fields, 3 domains of 55% / 1% / 44% of the rows), for batch sizes 4096 and
40960 and each ``precision`` ("32", "bf16-mixed", "16-mixed"), prints:

- training samples/s over one epoch (skorch's epoch duration: the full estimator path,
  batches pinned and copied non-blocking, no per-batch synchronisation);
- predict rows/s (``net_.forward`` over pre-encoded rows, batch as above);
- peak GPU memory of the fit;
then trains HAMUR in float32 and in bfloat16 mixed precision on the same rows and checks
that the held-out AUCs differ by at most 0.002.

Usage (finishes in a few minutes on one GPU)::

    python benchmarks/gpu.py --output benchmarks/results/gpu.md
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from _common import print_report
from sklearn.metrics import roc_auc_score

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur._data import MultiDomainDataset

CARDINALITIES = [100_000, 50_000, 10_000, 5_000, 1_000, 500, 200, 100, 50, 20] + [10] * 7
HIDDEN = (1024, 512, 512, 256, 256, 64, 64)
PRECISIONS = ("32", "bf16-mixed", "16-mixed")


def make_data(n_rows: int, seed: int):
    rng = np.random.default_rng(seed)
    ids = {f"c{j}": rng.zipf(1.3, n_rows) % c for j, c in enumerate(CARDINALITIES)}
    dense = {f"D{j}": rng.normal(size=n_rows).astype(np.float32) for j in range(8)}
    domain = rng.choice([1, 2, 3], size=n_rows, p=[0.55, 0.01, 0.44])
    X = pd.DataFrame({**ids, **dense, "301": domain})
    logit = (
        0.6 * np.sin(X["c0"].to_numpy() % 97)
        + 0.4 * (X["c4"].to_numpy() % 3 - 1)
        + X["D0"].to_numpy() * (domain - 2)
        - 1.5
    )
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return X, y


DEVICE = "cuda"


def estimator(cls, batch_size: int, precision: str, max_epochs: int = 1):
    params = dict(
        domain_col="301",
        categorical_cols=[f"c{j}" for j in range(len(CARDINALITIES))],
        hidden_units=HIDDEN,
        batch_size=batch_size,
        max_epochs=max_epochs,
        early_stopping=False,
        precision=precision,
        device=DEVICE,
        random_state=0,
    )
    if cls is HAMURClassifier:
        params.update(n_adapters=2, adapter_rank=65, hyper_hidden_units=(64,))
    return cls(**params)


def measure(cls, X, y, batch_size: int, precision: str) -> dict:
    cuda = DEVICE.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    clf = estimator(cls, batch_size, precision).fit(X, y)
    train = len(X) / clf.history_[-1, "dur"]
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    dataset = MultiDomainDataset(clf.encoder_.transform(X))
    clf.net_.forward(dataset)  # warm-up
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    clf.net_.forward(dataset)
    if cuda:
        torch.cuda.synchronize()
    predict = len(X) / (time.perf_counter() - start)
    return {"train": train, "predict": predict, "peak_gib": peak}


def auc_check(X, y, X_test, y_test) -> list[str]:
    aucs = {}
    for precision in ("32", "bf16-mixed"):
        clf = estimator(HAMURClassifier, 4096, precision, max_epochs=2).fit(X, y)
        aucs[precision] = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    diff = abs(aucs["32"] - aucs["bf16-mixed"])
    verdict = "PASS" if diff <= 0.002 else "FAIL"
    return [
        f"Held-out AUC of HAMUR, 2 epochs, batch 4096: float32 {aucs['32']:.4f}, "
        f"bf16-mixed {aucs['bf16-mixed']:.4f}; difference {diff:.4f} (target <= 0.002): "
        f"{verdict}."
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--output", default=None)
    parser.add_argument("--device", default="cuda", help="'cpu' for a smoke test only")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE.startswith("cuda"):
        assert torch.cuda.is_available(), "benchmarks/gpu.py needs a CUDA device"
    X, y = make_data(args.rows, seed=0)
    X_test, y_test = make_data(200_000, seed=1)
    lines = [
        "# GPU speed per precision (benchmarks/gpu.py)",
        "",
        f"{torch.cuda.get_device_name(0) if DEVICE.startswith('cuda') else DEVICE}, torch "
        f"{torch.__version__}, {args.rows:,} training "
        f"rows, towers {HIDDEN}, HAMUR: 2 adapters, k=65.",
        "",
        "| model | batch | precision | train samples/s | predict rows/s | peak GPU GiB |",
        "|---|---|---|---|---|---|",
    ]
    for cls in (HAMURClassifier, MultiDomainClassifier):
        for batch_size in (4096, 40960):
            for precision in PRECISIONS:
                r = measure(cls, X, y, batch_size, precision)
                lines.append(
                    f"| {cls.__name__} | {batch_size} | {precision} | {r['train']:,.0f} | "
                    f"{r['predict']:,.0f} | {r['peak_gib']:.2f} |"
                )
                print(lines[-1], flush=True)
    lines += ["", *auc_check(X, y, X_test, y_test)]
    print_report("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
