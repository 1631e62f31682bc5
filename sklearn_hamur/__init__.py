"""sklearn-hamur: HAMUR (Hyper Adapter for Multi-Domain Recommendation) for scikit-learn."""

from ._compare import compare, make_baselines, plot_comparison
from ._version import __version__
from .encoder import MultiDomainEncoder
from .hamur import HAMURClassifier
from .multi_domain import MultiDomainClassifier

__all__ = [
    "HAMURClassifier",
    "MultiDomainClassifier",
    "MultiDomainEncoder",
    "__version__",
    "compare",
    "make_baselines",
    "plot_comparison",
]
