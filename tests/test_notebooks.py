"""The tutorials in notebooks/ run from top to bottom (each has assertions on what it shows).

Executed with nbclient in this interpreter's kernel (``pytest --nbmake notebooks/`` does the
same from the shell). Outputs are kept stripped in git: a committed output would go stale.
Each executed copy goes into the docs build's cache (``build/notebooks``, see
``docs/hooks/notebooks.py``), so ``mkdocs build`` after the suite renders the tutorials
without running them again.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
#: a tutorial must run well within this (seconds), on a CI machine
BUDGET = 240
#: every fit a tutorial shows must have converged (issue 34): the thresholds of the sampler flags
RHAT_LIMIT, ESS_MIN = 1.01, 400
#: tutorials whose fits do not reach those thresholds yet, and why; each is an expected failure
#: (strict: once it converges, remove it here)
_FLOOR = ("the floor E of the power law is weakly identified by these curves: E, A and alpha correlate at "
          "0.94-0.98 along a curved ridge and log E has a long, prior-bounded lower tail, so NUTS gets about "
          "0.1 effective draws per draw; neither target_accept, the mass matrix nor 4000 draws after 2000 "
          "tuning steps reaches r_hat <= 1.01 on every seed: it needs a better-identified parametrisation")
NOT_CONVERGED: dict[str, str] = {
    "01_first_fit.ipynb": _FLOOR,
    "02_subgroups.ipynb": _FLOOR + " (the per-domain floors E[g])",
    "03_breaks_and_emergence.ipynb": _FLOOR + " (the broken law's E and break width)",
}

#: run in the tutorial's kernel after its last cell: the diagnostics of every fit it made, from the
#: fit objects themselves (``diagnostics()``, i.e. rank-normalised split r_hat and bulk ESS of the
#: posterior draws), as one JSON line
COLLECT = """
import json as _json
from bayescale.results.scaling import ScalingFit as _ScalingFit
from bayescale.results.stacked import StackedFit as _StackedFit
from bayescale.workflows.audit.result import AuditResult as _AuditResult
from bayescale.workflows.observational.result import ObservationalFit as _ObservationalFit

_found, _seen = {}, set()
for _name, _value in list(globals().items()):
    if isinstance(_value, _AuditResult):
        _name, _value = f"{_name}.fit", _value.fit
    _parts = [(f"{_name}.fits[{_law!r}]", _f) for _law, _f in _value.fits.items()] \
        if isinstance(_value, _StackedFit) else [(_name, _value)]
    for _label, _f in _parts:
        if id(_f) in _seen or not isinstance(_f, (_ScalingFit, _ObservationalFit)):
            continue
        _seen.add(id(_f))
        _d = _f.diagnostics()
        if "max_rhat" in _d:  # an observational fit: max_rhat, and no numbers unless sampled by NUTS
            _d["max_r_hat"] = _d.pop("max_rhat")
        _found[_label] = {"max_r_hat": _d.get("max_r_hat"), "min_ess_bulk": _d.get("min_ess_bulk")}
print(_json.dumps(_found))
"""


def test_the_five_tutorials_are_there_and_stripped():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05"]
    for name in NAMES:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert code, name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name}: strip outputs"
        source = "".join(c.source for c in code)
        assert "SAMPLING" in book.cells[1].source or "draws=" in source or "sampling" in source, name


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(COLLECT))  # taken out again before the docs see it
    client = nbclient.NotebookClient(book, timeout=BUDGET, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    seconds = time.perf_counter() - start
    collected = book.cells.pop()
    print(f"{name}: {seconds:.1f} s")
    assert seconds < BUDGET
    images = sum("image/png" in o.get("data", {}) for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 1, f"{name} shows no figure"
    spec = importlib.util.spec_from_file_location("notebooks_hook", ROOT / "docs" / "hooks" / "notebooks.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    hook.store(book, NOTEBOOKS / name)

    fits = _diagnostics(collected)
    assert fits, f"{name}: no fit found in the kernel"
    bad = {k: d for k, d in fits.items() if d["max_r_hat"] is None or d["min_ess_bulk"] is None
           or d["max_r_hat"] > RHAT_LIMIT or d["min_ess_bulk"] < ESS_MIN}
    print(f"{name}: " + "; ".join(f"{k} r_hat {d['max_r_hat']} bulk ESS {d['min_ess_bulk']}" for k, d in fits.items()))
    if name in NOT_CONVERGED:
        assert bad, f"{name} converges now: remove it from NOT_CONVERGED"
        pytest.xfail(f"{NOT_CONVERGED[name]} ({bad})")
    assert not bad, f"{name}: fits short of r_hat <= {RHAT_LIMIT} and bulk ESS >= {ESS_MIN}: {bad}"


def _diagnostics(cell) -> dict[str, dict]:
    """The JSON line :data:`COLLECT` printed: label -> max_r_hat, min_ess_bulk."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    return json.loads(text.strip().splitlines()[-1])
