"""Sphinx configuration of the sklearn-hamur documentation site.

Build (from the repository root): ``python -m sphinx -b html -W docs docs/_build/html``.
The gallery runs ``examples/`` with ``SKLEARN_HAMUR_EXAMPLES_FAST=1`` in CI (fewer rows
and epochs: same code, smaller numbers); unset it for the published figures.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import sklearn_hamur

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from offline_inventories import intersphinx_mapping as _offline_intersphinx  # noqa: E402

project = "sklearn-hamur"
author = "the sklearn-hamur developers"
copyright = "2026, the sklearn-hamur developers"
release = sklearn_hamur.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax served from the site itself, so formulas render without internet access.
    "sphinx-mathjax-offline",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_ext",
    "_templates",
    "**/README.md",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
    "sg_execution_times.rst",
]
default_role = "literal"
# Keep quotes straight: docstrings show defaults such as default="domain" as code.
smartquotes = False
# Every page is reachable from a toctree; with warnings as errors, a broken toctree or a
# cross-reference that does not resolve (ours, or into another project) fails the build.
nitpicky = True

# -- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = True
# Members inherited from torch.nn.Module and skorch callbacks are theirs to document.
autodoc_default_options = {"members": True, "inherited-members": "Module, Callback"}
autodoc_typehints = "none"  # the numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"  # link only the aliases below and fully qualified names
numpydoc_xref_aliases = {
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "ndarray": "numpy.ndarray",
    "RandomState": "numpy.random.RandomState",
    "Tensor": "torch.Tensor",
    "Module": "torch.nn.Module",
    "History": "skorch.history.History",
    "Study": "optuna.study.Study",
    "Trial": "optuna.trial.Trial",
    "MultiDomainEncoder": "sklearn_hamur.MultiDomainEncoder",
    "MultiDomainClassifier": "sklearn_hamur.MultiDomainClassifier",
    "HAMURClassifier": "sklearn_hamur.HAMURClassifier",
    "DomainGroups": "sklearn_hamur.modules.DomainGroups",
}
# The site is built with warnings as errors, so numpydoc's validation makes a malformed
# public docstring fail the build. The stricter per-object rules (See Also and Examples
# on every public class and function) live in tests/test_docstrings.py.
numpydoc_validation_checks = {"all", "ES01", "SA01", "EX01", "GL08", "RT02", "PR02"}
# Methods inherited from scikit-learn, skorch and torch keep their upstream docstrings.
numpydoc_validation_exclude = {
    r"\.get_params$",
    r"\.set_params$",
    r"\.set_\w+_request$",
    r"\.get_metadata_routing$",
    r"\.set_output$",
    r"\.fit_transform$",
    r"\.get_feature_names_out$",
    r"\.__init__$",
}

# -- intersphinx ---------------------------------------------------------------------------
# Online, each project's objects.inv is downloaded; offline (CI reaches package registries
# only) a local inventory written from the installed packages stands in (see _ext/).
intersphinx_mapping = _offline_intersphinx(DOCS / "_build" / "inventories")
intersphinx_timeout = 5

# -- MyST ----------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- matplotlib plot directive -------------------------------------------------------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 120), ("svg", 120)]

# -- sphinx-gallery ------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Examples that run during the build; distributed_fit.py needs torchrun and is shown
    # without running.
    "filename_pattern": r"/(quickstart|plot_\w+|grid_search|tune_with_optuna|out_of_core)\.py$",
    "ignore_pattern": r"(__init__|/_\w+)\.py$",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_hamur",),
    "reference_url": {"sklearn_hamur": None},
    "backreferences_dir": "generated/backreferences",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_signature": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
}
os.environ.setdefault("MPLBACKEND", "Agg")

# sphinx-gallery re-runs an example only when its source changed; an example last run in
# the other mode (fast or full) must run again, or the site would show the other mode's
# output.
_EXAMPLES_MODE = "fast" if os.environ.get("SKLEARN_HAMUR_EXAMPLES_FAST") == "1" else "full"
_gallery_dir = DOCS / sphinx_gallery_conf["gallery_dirs"]
_mode_stamp = _gallery_dir / ".examples-mode"
if not _mode_stamp.exists() or _mode_stamp.read_text() != _EXAMPLES_MODE:
    for _checksum in _gallery_dir.glob("*.md5"):
        _checksum.unlink()
_gallery_dir.mkdir(exist_ok=True)
_mode_stamp.write_text(_EXAMPLES_MODE)

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-hamur {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_js_files = ["full_size_images.js"]
html_show_sourcelink = False
html_last_updated_fmt = None
