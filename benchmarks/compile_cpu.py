"""``compile=True`` on CPU against eager training: fit time, prediction time, AUC.

The estimators refuse ``compile=True`` on CPU (a warning, then eager training); this
script lifts the refusal to measure what it would cost. One fit per run, in this
process: ``HAMURClassifier(backbone="mlp")`` with the reference widths (hidden (256, 128),
embeddings 16, dropout 0.2), 2 epochs on 20,000 rows of
``make_multi_domain_classification`` (3 domains), scored on 4,000 more, on one torch
thread. Prints one JSON line: fit and per-epoch seconds, the first and a second
``predict_proba`` of the 4,000 rows, the AUC, and dynamo's graph and graph-break counts.

Usage (from the repository root; run each mode in a fresh process, and give each
compiled run an empty ``TORCHINDUCTOR_CACHE_DIR`` to measure a cold compile)::

    PYTHONPATH=. python benchmarks/compile_cpu.py --mode eager --seed 0
    TORCHINDUCTOR_CACHE_DIR=$(mktemp -d) PYTHONPATH=. python benchmarks/compile_cpu.py \
        --mode compile
    # modes: eager, compile, compile-dynamic (torch.compile(dynamic=True)),
    # compile-eager-rng (inductor's fallback_random: dropout masks from torch's RNG)

Results: ``benchmarks/results/compile-cpu.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time

MODES = ("eager", "compile", "compile-dynamic", "compile-eager-rng")


def run(mode: str, seed: int) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score
    from torch._dynamo.utils import counters

    import sklearn_hamur._net as net
    from sklearn_hamur import HAMURClassifier
    from sklearn_hamur.datasets import make_multi_domain_classification

    torch.set_num_threads(1)
    if mode != "eager":
        net.compile_available = lambda device: True  # lift the CPU refusal
    if mode == "compile-dynamic":
        torch.compile = functools.partial(torch.compile, dynamic=True)
    if mode == "compile-eager-rng":
        torch._inductor.config.fallback_random = True
    X, y = make_multi_domain_classification(n_samples=24_000, n_domains=3, random_state=0)
    clf = HAMURClassifier(
        backbone="mlp",
        hidden_units=(256, 128),
        d_embedding=16,
        dropout=0.2,
        max_epochs=2,
        early_stopping=False,
        device="cpu",
        random_state=seed,
        compile=mode != "eager",
    )
    start = time.perf_counter()
    clf.fit(X[:20_000], y[:20_000])
    fit_s = time.perf_counter() - start
    predict_s = []
    for _ in range(2):
        start = time.perf_counter()
        p = clf.predict_proba(X[20_000:])[:, 1]
        predict_s.append(time.perf_counter() - start)
    return {
        "mode": mode,
        "seed": seed,
        "fit_s": round(fit_s, 1),
        "epoch_s": [round(d, 2) for d in clf.history_[:, "dur"]],
        "first_predict_s": round(predict_s[0], 2),
        "second_predict_s": round(predict_s[1], 3),
        "auc": round(roc_auc_score(y[20_000:], p), 4),
        "graphs": counters["stats"]["unique_graphs"],
        "graph_breaks": sum(counters["graph_break"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=MODES, default="eager")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.mode, args.seed)))


if __name__ == "__main__":
    main()
