"""The tutorials in notebooks/ run from top to bottom (each has assertions on what it shows).

Executed with nbclient in this interpreter's kernel (``pytest --nbmake notebooks/`` does the
same from the shell). Outputs are kept stripped in git: a committed output would go stale.
Each executed copy goes into the docs build's cache (``build/notebooks``, see
``docs/hooks/notebooks.py``), so ``mkdocs build`` after the suite renders the tutorials
without running them again.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
#: a tutorial must run well within this (seconds), with its small draws, on a CI machine
BUDGET = 240


def test_the_five_tutorials_are_there_and_stripped():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05"]
    for name in NAMES:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert code, name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name}: strip outputs"
        assert "SAMPLING" in book.cells[1].source or "draws=" in "".join(c.source for c in code), name


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(book, timeout=BUDGET, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s")
    assert seconds < BUDGET
    images = sum("image/png" in o.get("data", {}) for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 1, f"{name} shows no figure"
    spec = importlib.util.spec_from_file_location("notebooks_hook", ROOT / "docs" / "hooks" / "notebooks.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    hook.store(book, NOTEBOOKS / name)
