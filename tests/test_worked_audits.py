"""The worked audits in ``models/`` run and reach the verdicts their descriptions and the docs state.

Each runs on its bundled real data with the claim file's seed and fewer draws than the file
asks for (``SAMPLING``); the verdicts asserted are the ones measured with the full settings
(``bayescale audit models/audit_X.toml``, see docs/howto/audit.md), and each is far enough
from its threshold to hold at the reduced settings too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = {"draws": 200, "tune": 300, "chains": 2}

EXPECTED = {
    "repetition": {
        "4 epochs ~ new data (within 1%)": "supported",
        "7 epochs ~ new data (within 1%)": "inconclusive",
        "14 epochs ~ new data (within 1%)": "not supported",
        "new data never worse than 14 epochs": "supported",
    },
    "emergence": {
        "50% accuracy by 1e23 FLOPs": "supported",
        "3-digit addition emerges abruptly at 2.3e22 FLOPs": "not supported",
        "3-digit addition emerges abruptly at 2.3e22 FLOPs: abrupt": "not supported",
        "emerges between 1e22 and 1e23 FLOPs": "supported",
    },
    "chinchilla": {
        "E": "not supported", "A": "supported", "B": "not supported", "alpha": "supported", "beta": "not supported",
        "a": "not supported", "b": "not supported", "optimal params at C=5.76e+23": "supported",
        "optimal tokens at C=5.76e+23": "supported", "optimal tokens_per_param at C=5.76e+23": "supported",
    },
    "olmo_groups": {
        "one exponent for every domain": "supported",
        "every domain's reducible loss falls >= 25% per decade at step 556k": "supported",
        "gab-pile gap shrinks over training": "supported",
        "4chan-pile gap shrinks over training": "not supported",
    },
}


@pytest.fixture(scope="module")
def results():
    from bayescale.workflows.audit import audit

    cache = {}

    def run(name):
        if name not in cache:
            cache[name] = audit(ROOT / "models" / f"audit_{name}.toml", **SAMPLING)
        return cache[name]

    return run


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bayescale.errors.DataWarning")  # emergence: models sharing flops and accuracy
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_worked_audit_reaches_the_documented_verdicts(results, name):
    verdicts = results(name).verdicts()
    if name == "chinchilla":  # tail 0.002 with 4 x 1000 draws: at 2 x 200 it may read as weakly supported
        assert verdicts.pop("Chinchilla loss implied by Eq. 10") in ("not supported", "weakly supported")
    assert verdicts == EXPECTED[name]


@pytest.mark.slow
def test_repetition_audit_measures_the_gaps_it_reports(results):
    """The evidence behind the verdicts: the largest relative gap grows with the epochs."""
    items = results("repetition").items.set_index("item")

    def largest_gap(item):
        return float(re.search(r"in the range ([0-9.]+)", items.loc[item, "evidence"]).group(1))

    gaps = [largest_gap(f"{k} epochs ~ new data (within 1%)") for k in (4, 7, 14)]
    assert gaps == sorted(gaps)
    assert gaps[0] < 0.01 < gaps[1] < 0.02 < 0.03 < gaps[2] < 0.06


@pytest.mark.slow
def test_reports_draw_one_figure_per_item_that_has_one(results, tmp_path):
    from bayescale.reports import write_audit_report

    result = results("repetition")
    md = tmp_path / "audit.md"
    result.write(md)
    text = md.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((audit_files/[^)]+\.png)\)", text)
    assert len(links) == len(result.items)  # every group claim has a picture
    assert all((tmp_path / link).stat().st_size > 10_000 for link in links)
    for item, verdict in result.verdicts().items():
        assert f"### {item}: {verdict}" in text

    page = write_audit_report(result, tmp_path / "audit.html").read_text(encoding="utf-8")
    assert page.count('class="verdict v-yes">supported<') >= 2
    assert 'class="verdict v-no">not supported<' in page
    assert 'class="verdict v-open">inconclusive<' in page
    for item in result.items["item"]:
        assert f'alt="{item}: ' in page


@pytest.mark.slow
def test_emergence_figures_skip_the_abrupt_row_and_draw_the_rest(results):
    figures = results("emergence").figures()
    assert set(figures) == {"50% accuracy by 1e23 FLOPs", "3-digit addition emerges abruptly at 2.3e22 FLOPs",
                            "emerges between 1e22 and 1e23 FLOPs"}


@pytest.mark.slow
def test_every_claim_kind_renders_a_figure_and_a_verdict_row(tmp_path):
    """Parameters, reach, population and trend (the kinds the worked audits do not use) on two OLMo domains."""
    from bayescale.reports import write_audit_report
    from bayescale.workflows.audit import audit

    claim = {
        "title": "every kind",
        "data": {"dataset": "olmo_domains", "filter": {"model": "OLMo-7B", "domain": ["pile", "4chan"]}},
        "model": {"law": "power", "x": "step", "y": "loss", "group": "domain", "floor": "group"},
        "claim": {
            "prob": 0.9,
            "parameters": {"alpha": {"value": 0.3, "interval": [0.2, 0.4]}},
            "reach": [{"label": "pile 1.9 by 1e6", "target": 1.9, "by": 1e6, "group": "pile"}],
            "population": [{"label": "mix", "weights": {"pile": 0.5, "4chan": 0.5}, "at": 5e5, "value": 2.0}],
            "trend": [{"label": "holds to 5.5e5", "cutoff": 1.5e5, "up_to": 5.56e5}],
        },
    }
    result = audit(claim, draws=100, tune=200, chains=1, seed=3)
    kinds = dict(zip(result.items["item"], result.items["kind"], strict=True))
    figures = result.figures()
    assert set(figures) == {"alpha", "pile 1.9 by 1e6", "mix", "holds to 5.5e5"}  # not "mix: every group"
    assert set(kinds.values()) == {"parameter", "reach", "population", "trend"}
    titles = {item: fig.axes[0].get_title() for item, fig in figures.items()}
    for item, verdict in result.verdicts().items():
        if item in titles:
            assert titles[item].endswith(f": {verdict}")
    page = write_audit_report(result, tmp_path / "kinds.html").read_text(encoding="utf-8")
    assert page.count('<span class="verdict ') >= len(result.items)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bayescale.errors.DataWarning")
def test_grouped_emergence_figure_draws_the_claimed_group_or_the_population():
    from bayescale import NEW_GROUP
    from bayescale.workflows.audit import audit
    from bayescale.workflows.audit.figures import _emergence_group

    claim = {
        "data": {"dataset": "emergence", "filter": {"task": ["arithmetic_3da", "arithmetic_2dm"]}},
        "model": {"law": "sigmoid", "x": "flops", "y": "accuracy", "trials": "n_items", "group": "task"},
        "claim": {"emergence": [{"label": "3da", "scale": 2.3e22, "group": "arithmetic_3da"},
                                {"label": "both", "interval": [1e22, 1e23]}]},
    }
    result = audit(claim, draws=100, tune=200, chains=1, seed=3)
    assert _emergence_group(result, result.evidence["3da"]["draws"]) == "arithmetic_3da"
    assert _emergence_group(result, result.evidence["both"]["draws"]) == NEW_GROUP
    assert set(result.figures()) == {"3da", "both"}
