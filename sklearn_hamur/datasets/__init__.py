"""Data sets for multi-domain learning; the Adult census data ships with the package."""

from ._adult import load_adult

__all__ = ["load_adult"]
