"""GPU checks of the core estimators: run once on a machine with a CUDA device.

Prints (and with --output writes as markdown):
1. ``device="auto"`` picks CUDA; fit time and test AUC on the bundled Adult data;
2. one row alone vs. inside a batch of 4,096 on the GPU (max abs difference);
3. two fits with the same ``random_state`` on the GPU (max abs difference);
4. a pickle round trip of a CUDA-trained model, and ``save`` on CUDA then ``load`` with
   ``device="cpu"`` and ``device="cuda"`` (max abs differences);
5. every backbone with adapters trains on CUDA in each precision (test AUC after 3 epochs);
6. module-level training and prediction throughput of HAMUR and the backbone for
   3, 30 and 100 domains at batch 4096 and 40960 (reference MovieLens architecture),
   with the 30/3 and 100/3 throughput ratios (target >= 0.8).

Usage: ``python benchmarks/gpu_check.py --output benchmarks/results/gpu_check.md``
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time

import numpy as np
import torch
from _common import print_report
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_hamur import HAMURClassifier, MultiDomainClassifier
from sklearn_hamur.datasets import load_adult
from sklearn_hamur.modules import AdapterSpec, MultiDomainMLP

CARDINALITIES = [943 + 3, 1682 + 3, 2 + 3, 21 + 3, 795 + 3, 19 + 3, 72 + 3, 7 + 3]


def estimator_checks(lines: list[str]) -> None:
    X, y = load_adult(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    for cls in (HAMURClassifier, MultiDomainClassifier):
        start = time.perf_counter()
        clf = cls(random_state=0).fit(X_train, y_train)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
        lines.append(
            f"| {cls.__name__} fit on Adult | device={clf.net_.device}, {len(clf.history_)} "
            f"epochs, {seconds:.1f} s, test AUC {auc:.4f} |"
        )
    clf = HAMURClassifier(random_state=0, max_epochs=3).fit(X_train, y_train)
    batch = clf.predict_proba(X_test.iloc[:10_000])[:, 1]
    alone = np.array([clf.predict_proba(X_test.iloc[[i]])[0, 1] for i in range(0, 9000, 300)])
    diff = np.abs(alone - batch[0:9000:300]).max()
    lines.append(f"| one row alone vs. in a batch of 4096 (GPU) | max abs diff {diff:.2e} |")
    again = HAMURClassifier(random_state=0, max_epochs=3).fit(X_train, y_train)
    diff = np.abs(again.predict_proba(X_test)[:, 1] - clf.predict_proba(X_test)[:, 1]).max()
    lines.append(f"| same random_state, two fits on the GPU | max abs diff {diff:.2e} |")
    restored = pickle.loads(pickle.dumps(clf))
    diff = np.abs(restored.predict_proba(X_test) - clf.predict_proba(X_test)).max()
    lines.append(f"| pickle round trip of a CUDA model | max abs diff {diff:.2e} |")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        clf.save(path)
        on_cpu = HAMURClassifier.load(path, device="cpu")
        on_gpu = HAMURClassifier.load(path, device="cuda")
    diff_cpu = np.abs(on_cpu.predict_proba(X_test) - clf.predict_proba(X_test)).max()
    diff_gpu = np.abs(on_gpu.predict_proba(X_test) - clf.predict_proba(X_test)).max()
    lines.append(
        f"| save on CUDA, load with device='cpu' / 'cuda' | {on_cpu.net_.device}: max abs diff "
        f"{diff_cpu:.2e} (CPU vs GPU arithmetic); {on_gpu.net_.device}: {diff_gpu:.2e} |"
    )


def backbone_checks(lines: list[str]) -> None:
    """Every backbone with adapters trains on CUDA in each precision (presorted batches)."""
    from sklearn_hamur.modules.backbones import BACKBONES

    X, y = load_adult(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    for precision in ("32", "bf16-mixed", "16-mixed"):
        results = []
        for backbone in BACKBONES:
            clf = HAMURClassifier(
                backbone=backbone, precision=precision, max_epochs=3, random_state=0
            ).fit(X_train, y_train)
            proba = clf.predict_proba(X_test)[:, 1]
            assert np.isfinite(proba).all(), (backbone, precision)
            results.append(f"{backbone} {roc_auc_score(y_test, proba):.3f}")
        lines.append(
            f"| HAMUR, every backbone, 3 epochs, precision={precision} | AUC: "
            + ", ".join(results)
            + " |"
        )


def throughput(n_domains: int, n_adapters: int, batch_size: int, steps: int = 30):
    torch.manual_seed(0)
    device = torch.device("cuda")
    adapters = AdapterSpec(n_adapters=n_adapters) if n_adapters else None
    model = MultiDomainMLP(
        cardinalities=CARDINALITIES, n_numeric=0, n_domains=n_domains, adapters=adapters
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator(device="cpu").manual_seed(0)
    x_cat = torch.stack([torch.randint(0, c, (batch_size,), generator=g) for c in CARDINALITIES], 1)
    x_num = torch.zeros(batch_size, 0)
    domain = torch.randint(0, n_domains, (batch_size,), generator=g)
    y = torch.randint(0, 2, (batch_size,), generator=g).float()
    x_cat, x_num, domain, y = (t.to(device) for t in (x_cat, x_num, domain, y))
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x_cat, x_num, domain), y).backward()
        optimizer.step()

    model.train()
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    train = steps * batch_size / (time.perf_counter() - start)
    model.eval()
    with torch.inference_mode():
        for _ in range(5):
            model(x_cat, x_num, domain)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            model(x_cat, x_num, domain)
        torch.cuda.synchronize()
    predict = steps * batch_size / (time.perf_counter() - start)
    return train, predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA device"
    lines = [
        f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}",
        "",
        "| check | result |",
        "|---|---|",
    ]
    estimator_checks(lines)
    backbone_checks(lines)
    lines += [
        "",
        "| batch | domains | HAMUR train rows/s | backbone train rows/s | HAMUR/backbone time "
        "| HAMUR predict rows/s | backbone predict rows/s |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for batch_size in (4096, 40960):
        base = None
        for n_domains in (3, 30, 100):
            h_train, h_pred = throughput(n_domains, 1, batch_size)
            b_train, b_pred = throughput(n_domains, 0, batch_size)
            lines.append(
                f"| {batch_size} | {n_domains} | {h_train:,.0f} | {b_train:,.0f} | "
                f"{b_train / h_train:.2f} | {h_pred:,.0f} | {b_pred:,.0f} |"
            )
            print(lines[-1], flush=True)
            base = base or h_train
            if n_domains != 3:
                verdict = "PASS" if h_train / base >= 0.8 else "FAIL"
                ratios.append(
                    f"- batch {batch_size}: HAMUR train rows/s at {n_domains} domains / 3 "
                    f"domains = {h_train / base:.2f} (target >= 0.8): {verdict}"
                )
    lines += ["", *ratios]
    print_report("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
