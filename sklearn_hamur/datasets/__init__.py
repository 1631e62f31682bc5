"""Data sets for multi-domain learning.

The UCI Adult census data ships with the package (:func:`load_adult`). MovieLens, Douban
and Ali-CCP are not redistributed: their loaders read the original files from a folder of
yours, and :func:`fetch_movielens` downloads MovieLens from GroupLens into a local cache.
:func:`make_multi_domain_classification` generates synthetic data.
"""

from ._adult import load_adult
from ._aliccp import load_aliccp
from ._douban import load_douban
from ._fetch import fetch_movielens, get_data_home
from ._movielens import load_movielens
from ._synthetic import make_multi_domain_classification

__all__ = [
    "fetch_movielens",
    "get_data_home",
    "load_adult",
    "load_aliccp",
    "load_douban",
    "load_movielens",
    "make_multi_domain_classification",
]
