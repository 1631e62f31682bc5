"""Every example in a public docstring runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import sklearn_hamur

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(sklearn_hamur.__path__, prefix="sklearn_hamur.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
