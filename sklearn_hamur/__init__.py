"""sklearn-hamur: HAMUR (Hyper Adapter for Multi-Domain Recommendation) for scikit-learn."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from ._compare import compare, make_baselines, plot_comparison
    from ._distributed import even_chunks, rank_shard
    from .encoder import MultiDomainEncoder
    from .hamur import HAMURClassifier
    from .multi_domain import MultiDomainClassifier

#: Public name -> the module that defines it, imported when the name is first used: so
#: ``import sklearn_hamur.serving`` (numpy and onnxruntime only) imports no torch,
#: skorch or scikit-learn.
_PROVIDERS = {
    "HAMURClassifier": ".hamur",
    "MultiDomainClassifier": ".multi_domain",
    "MultiDomainEncoder": ".encoder",
    "compare": "._compare",
    "make_baselines": "._compare",
    "plot_comparison": "._compare",
    "even_chunks": "._distributed",
    "rank_shard": "._distributed",
}


def __getattr__(name: str):
    if name not in _PROVIDERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PROVIDERS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PROVIDERS})


__all__ = [
    "HAMURClassifier",
    "MultiDomainClassifier",
    "MultiDomainEncoder",
    "__version__",
    "compare",
    "even_chunks",
    "make_baselines",
    "plot_comparison",
    "rank_shard",
]
