"""Record every backbone's outputs with the per-domain module loop (before grouping).

Run once on commit f4ef6ad, the last one whose backbones looped over domains in Python
(one module per domain), to write ``reference.pt``:

    PYTHONPATH=. python tests/data/grouped_reference/make.py

``tests/test_grouped.py`` rebuilds each configuration with the same seed and checks that
the grouped implementation gives the same logits (training and evaluation mode), the
same gradients' effect (logits after three SGD steps) and the same running statistics,
to float tolerance. The initial weights are drawn in the same order, so a seed gives the
same model.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sklearn_hamur.modules import AdapterSpec, make_backbone

N_DOMAINS = 4
CARDINALITIES = [7, 5, 9]
N_NUMERIC = 2
OPTIONS = {
    "shared_mlp": {"d_hidden": (8, 6)},
    "mlp": {"d_hidden": (8, 6)},
    "wide_deep": {"d_hidden": (8, 6)},
    "deepfm": {"d_hidden": (8, 6)},
    "dcn": {"d_hidden": (8, 6), "n_cross_layers": 2},
    "dcn_v2": {"d_hidden": (8, 6), "n_cross_layers": 2},
    "shared_bottom": {"d_bottom": (8,), "d_tower": (6, 5)},
    "mmoe": {"d_expert": (8,), "d_tower": (6, 5), "n_experts": 3},
    "ple": {
        "d_expert": (8,),
        "d_tower": (6, 5),
        "n_levels": 2,
        "n_shared_experts": 2,
        "n_specific_experts": 2,
    },
    "star": {"d_hidden": (8, 6), "d_auxiliary": (4,)},
}
#: Adapter settings recorded: none, one per-domain adapter, two per-domain adapters, shared.
ADAPTERS = {
    "none": None,
    "one": AdapterSpec(n_adapters=1, rank=3, d_bottleneck=4, d_hyper_hidden=(5,)),
    "two": AdapterSpec(n_adapters=2, rank=3, d_bottleneck=4, d_hyper_hidden=(5,)),
    "shared": AdapterSpec(n_adapters=1, rank=3, d_bottleneck=4, d_hyper_hidden=(5,), shared=True),
}


def batch(seed: int, n: int, domains: list[int]) -> tuple[torch.Tensor, ...]:
    """Rows whose domains are ``domains`` repeated to ``n`` (so some domains have 1 or 0 rows)."""
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDINALITIES], 1)
    x_num = torch.randn(n, N_NUMERIC, generator=g)
    domain = torch.tensor(domains * (n // len(domains)) + domains[: n % len(domains)])
    domain = domain[torch.randperm(n, generator=g)]
    y = torch.randint(0, 2, (n,), generator=g).float()
    return x_cat, x_num, domain, y


def build(name: str, adapters: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return make_backbone(
        name,
        cardinalities=CARDINALITIES,
        n_numeric=N_NUMERIC,
        n_domains=N_DOMAINS,
        d_embedding=3,
        dropout=0.0,
        adapters=ADAPTERS[adapters],
        **OPTIONS[name],
    )


def train_batches() -> list[tuple[torch.Tensor, ...]]:
    # Domain 3 has no row and domain 2 one row in the first batch; all four in the others.
    first = batch(1, 21, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1] * 2 + [2])
    return [first, batch(2, 24, [0, 1, 2, 3]), batch(3, 30, [3, 3, 1, 0, 2])]


def eval_batch() -> tuple[torch.Tensor, ...]:
    x_cat, x_num, domain, y = batch(4, 16, [0, 1, 2, 3])
    domain[3] = -1  # an unknown domain: the mean over every domain's path
    return x_cat, x_num, domain, y


def record(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    module.train()
    for i, (x_cat, x_num, domain, y) in enumerate(train_batches()):
        logits = module(x_cat, x_num, domain)
        out[f"train_logits_{i}"] = logits.detach().clone()
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(logits, y).backward()
        optimizer.step()
    module.eval()
    x_cat, x_num, domain, _ = eval_batch()
    with torch.no_grad():
        out["eval_logits"] = module(x_cat, x_num, domain).clone()
    return out


def main() -> None:
    results = {
        f"{name}/{adapters}": record(build(name, adapters))
        for name in OPTIONS
        for adapters in ADAPTERS
    }
    torch.save(results, Path(__file__).with_name("reference.pt"))
    print(f"{len(results)} configurations recorded")


if __name__ == "__main__":
    main()
