"""Intersphinx inventories for machines without internet access.

Intersphinx links our pages to scikit-learn, skorch, PyTorch, Optuna, pandas, NumPy and
Python by reading each project's ``objects.inv``. Online, Sphinx downloads them. Where the
documentation is built offline (this project's CI machines reach package registries
only), the download fails and, with warnings as errors, so would the build. For that case
this module writes a local inventory per project from the *installed* package: every
public class and function of the listed modules, with the address it has in that
project's documentation (each project's documented URL scheme, below).

``conf.py`` lists the remote inventory first and the local one second, so a machine
online uses the real inventory and this one is only a fallback. The local inventory
names the same pages as the real one for the objects it lists; it does not list
everything (methods, attributes, glossary terms are missing), so a link to those is not
made offline.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import warnings
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

# One entry per intersphinx project: its documentation root, the modules whose public
# names are listed, and how a fully qualified name maps to a page of that site.
Project = tuple[str, str, tuple[str, ...], Callable[[str, str], str]]


def _generated(prefix: str) -> Callable[[str, str], str]:
    """Sites that give every object its own page named after it (autosummary)."""
    return lambda module, name: f"{prefix}{name}.html#{name}"


def _skorch_page(module: str, name: str) -> str:
    # skorch documents each submodule on one page: skorch.callbacks -> callbacks.html.
    page = module.split(".")[1] if "." in module else "net"
    return f"{page}.html#{name}"


def _torch_page(module: str, name: str) -> str:
    special = {
        "torch.Tensor": "tensors.html#torch.Tensor",
        "torch.device": "tensor_attributes.html#torch.device",
        "torch.dtype": "tensor_attributes.html#torch.dtype",
    }
    if name in special:
        return special[name]
    if module == "torch.utils.data":
        return f"data.html#{name}"
    if module == "torch.amp":
        return f"amp.html#{name}"
    if module == "torch.distributed":
        return f"distributed.html#{name}"
    return f"generated/{name}.html#{name}"


def _python_page(module: str, name: str) -> str:
    if module == "builtins":
        short = name.split(".")[-1]
        if isinstance(getattr(builtins, short), type) and issubclass(
            getattr(builtins, short), BaseException
        ):
            return f"library/exceptions.html#{short}"
        if short in {"int", "float", "str", "bytes", "list", "tuple", "dict", "set"}:
            return f"library/stdtypes.html#{short}"
        return f"library/functions.html#{short}"
    return f"library/{module}.html#{name}"


PROJECTS: dict[str, Project] = {
    "sklearn": (
        "sklearn",
        "https://scikit-learn.org/stable/",
        (
            "sklearn",
            "sklearn.base",
            "sklearn.compose",
            "sklearn.ensemble",
            "sklearn.linear_model",
            "sklearn.metrics",
            "sklearn.model_selection",
            "sklearn.pipeline",
            "sklearn.preprocessing",
            "sklearn.utils",
            "sklearn.utils.metadata_routing",
        ),
        _generated("modules/generated/"),
    ),
    "skorch": (
        "skorch",
        "https://skorch.readthedocs.io/en/stable/",
        ("skorch.net", "skorch.classifier", "skorch.callbacks", "skorch.history", "skorch.helper"),
        _skorch_page,
    ),
    "torch": (
        "torch",
        "https://docs.pytorch.org/docs/stable/",
        (
            "torch",
            "torch.nn",
            "torch.nn.parallel",
            "torch.optim",
            "torch.utils.data",
            "torch.amp",
            "torch.cuda",
            "torch.distributed",
        ),
        _torch_page,
    ),
    "optuna": (
        "optuna",
        "https://optuna.readthedocs.io/en/stable/",
        (
            "optuna",
            "optuna.study",
            "optuna.trial",
            "optuna.samplers",
            "optuna.pruners",
            "optuna.storages",
            "optuna.distributions",
        ),
        _generated("reference/generated/"),
    ),
    "optuna_integration": (
        "optuna_integration",
        "https://optuna-integration.readthedocs.io/en/stable/",
        ("optuna_integration",),
        _generated("reference/generated/"),
    ),
    "pandas": (
        "pandas",
        "https://pandas.pydata.org/docs/",
        ("pandas",),
        _generated("reference/api/"),
    ),
    "numpy": (
        "numpy",
        "https://numpy.org/doc/stable/",
        ("numpy", "numpy.random"),
        _generated("reference/generated/"),
    ),
    "matplotlib": (
        "matplotlib",
        "https://matplotlib.org/stable/",
        ("matplotlib.axes", "matplotlib.figure"),
        lambda module, name: f"api/_as_gen/{name}.html#{name}",
    ),
    "python": (
        "builtins",
        "https://docs.python.org/3/",
        ("builtins", "pathlib", "os", "collections.abc", "typing"),
        _python_page,
    ),
}


# Labels and glossary terms that docstrings refer to (numpydoc's default type links,
# scikit-learn's inherited docstrings): (inventory, name, role, page, title).
EXTRA_ENTRIES = [
    ("python", "None", "py:data", "library/constants.html#None", "-"),
    ("python", "True", "py:data", "library/constants.html#True", "-"),
    ("python", "False", "py:data", "library/constants.html#False", "-"),
    ("python", "generator", "std:term", "glossary.html#term-generator", "generator"),
    ("python", "sequence", "std:term", "glossary.html#term-sequence", "sequence"),
    ("python", "iterable", "std:term", "glossary.html#term-iterable", "iterable"),
    ("python", "mapping", "std:term", "glossary.html#term-mapping", "mapping"),
    ("python", "callable", "std:term", "glossary.html#term-callable", "callable"),
    (
        "python",
        "bltin-boolean-values",
        "std:label",
        "library/stdtypes.html#boolean-type-bool",
        "Boolean Values",
    ),
    ("numpy", "array_like", "std:term", "glossary.html#term-array_like", "array_like"),
    ("sklearn", "meta-estimator", "std:term", "glossary.html#term-meta-estimator", "-"),
    ("sklearn", "metadata_routing", "std:label", "metadata_routing.html", "Metadata Routing"),
    ("sklearn", "random_state", "std:term", "glossary.html#term-random_state", "-"),
    ("sklearn", "accuracy_score", "std:label", "modules/model_evaluation.html#accuracy-score", "-"),
    (
        "sklearn",
        "df_output_transform",
        "std:label",
        "auto_examples/miscellaneous/plot_set_output.html",
        "-",
    ),
    (
        "sklearn",
        "sphx_glr_auto_examples_miscellaneous_plot_set_output.py",
        "std:label",
        "auto_examples/miscellaneous/plot_set_output.html",
        "Introducing the set_output API",
    ),
]


def _public_objects(module_name: str) -> Iterable[tuple[str, str, object]]:
    """``(qualified name, role, object)`` of the public classes and functions of a module."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n[0] == "_"]
    for short in sorted(set(names)):
        try:
            obj = getattr(module, short, None)
        except ImportError:  # e.g. scikit-learn's experimental names
            continue
        # Python's own inventory names builtins without a module: int, ValueError.
        qualified = short if module_name == "builtins" else f"{module_name}.{short}"
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            yield qualified, "py:exception", obj
        elif inspect.isclass(obj):
            yield qualified, "py:class", obj
        elif callable(obj):
            yield qualified, "py:function", obj


def write_inventory(key: str, path: Path) -> None:
    """Write an ``objects.inv`` (Sphinx inventory version 2) for one project.

    An object exported by several listed modules (``optuna.Study`` is
    ``optuna.study.Study``) is documented once, under the name in the most specific
    module; every alias links to that page.
    """
    package, _, modules, page = PROJECTS[key]
    version = getattr(importlib.import_module(package), "__version__", "")
    found: list[tuple[str, str, str, object]] = []  # (module, name, role, object)
    for module_name in modules:
        try:
            with warnings.catch_warnings():  # deprecated aliases warn when looked at
                warnings.simplefilter("ignore")
                found += [(module_name, *entry) for entry in _public_objects(module_name)]
        except ImportError:
            continue
    # Where each object is documented: its names in the most specific module listing it.
    depth: dict[int, int] = {}
    for module_name, _, _, obj in found:
        depth[id(obj)] = max(depth.get(id(obj), -1), module_name.count("."))
    homes: dict[int, list[tuple[str, str]]] = {}
    for module_name, name, _, obj in found:
        if module_name.count(".") == depth[id(obj)]:
            homes.setdefault(id(obj), []).append((module_name, name))
    lines = []
    for module_name, name, role, obj in found:
        if module_name.count(".") == depth[id(obj)]:  # documented under this very name
            home_module, home_name = module_name, name
        else:  # a re-export: the documented name with the same last part, if any
            short = name.rsplit(".", 1)[-1]
            candidates = homes[id(obj)]
            home_module, home_name = next(
                (c for c in candidates if c[1].endswith(f".{short}")), candidates[0]
            )
        uri = page(home_module, home_name)
        lines.append(f"{name} {role} 1 {uri} -")
        if role == "py:class":
            base = uri.split("#")[0]
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    lines.append(f"{name}.{attr} py:method 1 {base}#{home_name}.{attr} -")
    for project, name, role, uri, title in EXTRA_ENTRIES:
        if project == key:
            lines.append(f"{name} {role} -1 {uri} {title}")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {key}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "\n".join(sorted(set(lines))) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + zlib.compress(body.encode()))


def intersphinx_mapping(cache_dir: Path) -> dict[str, tuple[str, tuple[str | None, str]]]:
    """The ``intersphinx_mapping`` with a local fallback inventory for each project.

    Local inventories are written once per installed version (the file name carries it).
    """
    mapping = {}
    for key, (package, url, _, _) in PROJECTS.items():
        version = getattr(importlib.import_module(package), "__version__", "unknown")
        path = cache_dir / f"{key}-{version}.inv"
        if not path.exists():
            write_inventory(key, path)
        mapping[key] = (url, (None, str(path)))
    return mapping
