import numpy as np
import pandas as pd
import pytest
import torch


def make_data(n=600, n_domains=3, seed=0, label_values=(0, 1)):
    """A small multi-domain CTR-like frame whose label depends on the domain."""
    rng = np.random.default_rng(seed)
    domain = rng.choice([f"d{i}" for i in range(n_domains)], size=n)
    item = rng.choice([f"item{i}" for i in range(20)], size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    price = rng.normal(size=n)
    d_index = np.array([int(d[1:]) for d in domain])
    item_effect = np.array([hash_effect(i) for i in item])
    logit = 1.5 * price * np.where(d_index % 2 == 0, 1.0, -1.0) + item_effect
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"domain": domain, "item": item, "color": color, "price": price})
    labels = np.asarray(label_values, dtype=object if isinstance(label_values[0], str) else None)
    return X, labels[y]


def hash_effect(item: str) -> float:
    return (int(item[4:]) % 5 - 2) * 0.5


@pytest.fixture
def data():
    return make_data()


FAST = dict(hidden_units=(16, 8), max_epochs=3, batch_size=128, random_state=0)
FAST_HAMUR = dict(FAST, adapter_rank=4, d_adapter=4, hyper_hidden_units=(8,))


@pytest.fixture
def one_torch_thread():
    """Tiny models train faster on one thread, and the test machine is shared."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
