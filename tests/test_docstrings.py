"""Public docstrings follow numpydoc, and every example in them runs and prints what it shows."""

import doctest
import importlib
import inspect
import pkgutil
import re

import pytest
from numpydoc.validate import validate

import sklearn_hamur

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(sklearn_hamur.__path__, prefix="sklearn_hamur.")
)

#: The modules whose ``__all__`` is the public API (what the API reference documents).
PUBLIC_MODULES = (
    "sklearn_hamur",
    "sklearn_hamur.datasets",
    "sklearn_hamur.metrics",
    "sklearn_hamur.model_selection",
    "sklearn_hamur.plot",
    "sklearn_hamur.serving",
    "sklearn_hamur.modules",
    "sklearn_hamur.modules.backbones",
)

#: numpydoc.validate codes allowed everywhere: the extended summary is optional.
ALLOWED = frozenset({"ES01"})
#: Methods may also go without See Also and Examples (their class has both).
ALLOWED_FOR_METHODS = ALLOWED | {"SA01", "EX01"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testmod(module, optionflags=flags)
    assert result.failed == 0


def _is_own(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "sklearn_hamur" or module.startswith("sklearn_hamur.")


def public_methods(cls) -> list[str]:
    """Public methods of ``cls`` written in this package (in ``cls`` or its own bases).

    Methods inherited from scikit-learn, skorch or torch (``get_params``,
    ``fit_transform``, ``train``...) are documented there and left out, and so are the
    ``set_*_request`` methods that scikit-learn generates on every estimator class.
    """
    names = set()
    for klass in cls.__mro__:
        if not _is_own(klass):
            continue
        for name in vars(klass):
            method = getattr(cls, name, None)
            if (
                not name.startswith("_")
                and inspect.isroutine(method)
                and _is_own(inspect.unwrap(method))
            ):
                names.add(name)
    return sorted(names)


def public_objects() -> list[tuple[str, bool]]:
    """``(dotted name, is_method)`` of every public class, function and method, once each."""
    seen: set[int] = set()
    objects = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or not callable(obj) or id(obj) in seen:
                continue  # __version__, constants, and names already met in another module
            seen.add(id(obj))
            dotted = f"{module_name}.{name}"
            objects.append((dotted, False))
            if inspect.isclass(obj):
                objects.extend((f"{dotted}.{method}", True) for method in public_methods(obj))
    return objects


PUBLIC_OBJECTS = public_objects()


def test_public_objects_are_found():
    names = {name for name, _ in PUBLIC_OBJECTS}
    assert {
        "sklearn_hamur.HAMURClassifier.fit",
        "sklearn_hamur.HAMURClassifier.load",
        "sklearn_hamur.model_selection.DecodedParamsClassifier.predict_proba",
        "sklearn_hamur.modules.DCN.forward",
        "sklearn_hamur.modules.backbones.upgrade_state_dict",
    } <= names
    assert "sklearn_hamur.HAMURClassifier.get_params" not in names  # scikit-learn's
    assert "sklearn_hamur.HAMURClassifier.set_fit_request" not in names  # generated


@pytest.mark.parametrize(
    "name, is_method", PUBLIC_OBJECTS, ids=[name for name, _ in PUBLIC_OBJECTS]
)
def test_numpydoc_validation(name, is_method):
    allowed = ALLOWED_FOR_METHODS if is_method else ALLOWED
    result = validate(name)
    errors = [(code, message) for code, message in result["errors"] if code not in allowed]
    assert not errors, f"{name}:\n" + "\n".join(f"  {code}: {message}" for code, message in errors)
    # Shared entries (sklearn_hamur._docstrings) are all substituted.
    assert not re.search(r"%\(\w+\)s", result["docstring"]), f"{name}: unfilled marker"
