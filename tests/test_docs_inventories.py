"""The offline intersphinx inventories the documentation falls back on without internet."""

import sys
from pathlib import Path

import pytest

sphinx_inventory = pytest.importorskip("sphinx.util.inventory", reason="needs the docs extra")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import offline_inventories  # noqa: E402


def _uris(path: Path, base: str) -> dict:
    """``{role: {name: url}}`` of an inventory file, read by Sphinx's own reader."""
    inventory = sphinx_inventory.InventoryFile.loads(path.read_bytes(), uri=base)
    data = getattr(inventory, "data", inventory)
    return {
        role: {name: getattr(item, "uri", None) or item[2] for name, item in items.items()}
        for role, items in data.items()
    }


@pytest.mark.parametrize(
    ("key", "role", "name", "page"),
    [
        (
            "sklearn",
            "py:class",
            "sklearn.pipeline.Pipeline",
            "modules/generated/sklearn.pipeline.Pipeline.html#sklearn.pipeline.Pipeline",
        ),
        (
            "sklearn",
            "py:class",
            "sklearn.model_selection.GridSearchCV",
            "modules/generated/sklearn.model_selection.GridSearchCV.html"
            "#sklearn.model_selection.GridSearchCV",
        ),
        (
            "skorch",
            "py:class",
            "skorch.classifier.NeuralNetBinaryClassifier",
            "classifier.html#skorch.classifier.NeuralNetBinaryClassifier",
        ),
        ("torch", "py:class", "torch.nn.Module", "generated/torch.nn.Module.html#torch.nn.Module"),
        ("torch", "py:class", "torch.Tensor", "tensors.html#torch.Tensor"),
        (
            "optuna",
            "py:class",
            "optuna.study.Study",
            "reference/generated/optuna.study.Study.html#optuna.study.Study",
        ),
        (  # a re-export links to the page of the name the project documents
            "optuna",
            "py:class",
            "optuna.Study",
            "reference/generated/optuna.study.Study.html#optuna.study.Study",
        ),
        # An alias in the same module keeps its own page.
        (
            "numpy",
            "py:function",
            "numpy.absolute",
            "reference/generated/numpy.absolute.html#numpy.absolute",
        ),
        ("python", "py:exception", "ValueError", "library/exceptions.html#ValueError"),
        ("python", "py:data", "None", "library/constants.html#None"),
        ("numpy", "std:term", "array_like", "glossary.html#term-array_like"),
    ],
)
def test_inventory_points_at_the_projects_pages(tmp_path, key, role, name, page):
    path = tmp_path / f"{key}.inv"
    offline_inventories.write_inventory(key, path)
    base = offline_inventories.PROJECTS[key][1]
    entries = _uris(path, base)
    assert name in entries[role], f"{name} missing from the {key} inventory"
    assert entries[role][name] == base + page


def test_mapping_lists_the_remote_inventory_first(tmp_path):
    mapping = offline_inventories.intersphinx_mapping(tmp_path)
    assert {"sklearn", "skorch", "torch", "optuna"} <= set(mapping)
    for url, (remote, local) in mapping.values():
        assert url.startswith("https://") and url.endswith("/")
        assert remote is None  # None: the project's own objects.inv, tried first
        assert Path(local).is_file()
