"""Every Python snippet of the user guide and the getting-started page runs.

The snippets of a page run in order in one namespace, as a reader would paste them, in a
temporary working directory (some save models). A block preceded by the MyST comment
``% no-run`` is skipped: it needs what a test cannot have (several machines, a database).
"""

import re
from pathlib import Path

import pytest
import torch

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"(% no-run\n)?```python\n(.*?)```", re.S)
PAGES = sorted(
    page
    for page in [*DOCS.glob("user_guide/*.md"), DOCS / "getting_started.md"]
    if BLOCK.search(page.read_text())
)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_page_snippets_run(page, tmp_path, monkeypatch):
    blocks = [code for skip, code in BLOCK.findall(page.read_text()) if not skip]
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the snippets' models are small; spare a loaded machine
    namespace: dict = {"__name__": "__snippet__"}
    try:
        for index, code in enumerate(blocks):
            exec(compile(code, f"{page.name}, snippet {index + 1}", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
        import matplotlib.pyplot as plt

        plt.close("all")
