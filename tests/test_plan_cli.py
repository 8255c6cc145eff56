"""The planner from the shell: ``bayescale audit claim.toml --plan`` and the plan section of the HTML reports."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from bayescale.cli import main
from bayescale.errors import SpecError
from bayescale.workflows.audit import parse_claim

SAMPLING = ["--draws", "150", "--tune", "200", "--chains", "1", "--seed", "3", "--quiet", "--plain"]
HEAD = """
    [data]
    path = "runs.csv"
    [model]
    law = "power"
    x = "params"
    y = "loss"
"""
CLAIM = HEAD + """
    [claim]
    prob = 0.9
    [claim.parameters]
    alpha = 0.28
    [[claim.reach]]
    target = 1.9
    by = 1e9
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan_cli")
    rng = np.random.default_rng(4)
    x = np.geomspace(1e6, 1e8, 16)
    y = 1.6 + 60 * x**-0.28 * np.exp(0.01 * rng.standard_normal(len(x)))
    pd.DataFrame({"params": x, "loss": y}).to_csv(path / "runs.csv", index=False)
    (path / "claim.toml").write_text(textwrap.dedent(CLAIM))
    return path


def test_plan_without_a_budget_is_one_error_line_before_sampling(folder, capsys):
    claim = folder / "claim.toml"
    assert main(["audit", str(claim), "--plan", *SAMPLING]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {claim}: --plan needs a budget: give --budget B (FLOPs) or budget in the claim's "
                   "[plan] table\n")
    with pytest.raises(SystemExit) as stop:
        main(["audit", str(claim), "--budget", "0", *SAMPLING])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("error: argument --budget: expected a finite number > 0, got '0' "
                                       "(see 'bayescale audit --help')\n")


@pytest.mark.parametrize(("table", "message"), [
    ("[plan]\nbudgett = 1e19\n", "plan: unknown key(s) budgett; expected some of budget, items, max_scale, sims, seed"),
    ("[plan]\nbudget = -1\n", "plan.budget: must be a positive number, got -1"),
    ("[plan]\nbudget = 1e19\nitems = ['beta']\n",
     "plan.items: no claimed item 'beta'; items: alpha, reach 1.9 by 1e+09"),
    ("[plan]\nsims = 2\n", "plan.sims: must be an integer >= 8, got 2"),
])
def test_bad_plan_tables_in_a_claim_name_the_field(folder, table, message):
    path = folder / "bad.toml"
    path.write_text(textwrap.dedent(CLAIM) + table)
    with pytest.raises(SpecError) as err:
        parse_claim(path)
    assert str(err.value) == f"{path}: {message}"


def test_audit_plans_each_item_with_costs_and_reports_its_figure(folder, capsys):
    report = folder / "audit.html"
    code = main(["audit", str(folder / "claim.toml"), "--plan", "--budget", "1e19", "--report", str(report),
                 *SAMPLING])
    out = capsys.readouterr().out
    assert code == 0
    assert "Plan for alpha: 90% interval width now" in out and "cost in FLOPs (6 N D at D = 20 N)" in out
    assert "Plan for reach 1.9 by 1e+09" in out and "batch: " in out
    html = report.read_text()
    assert "Plan the next runs" in html and "expected width against cumulative cost" in html
    assert "Plan for alpha" in html and "Plan for reach 1.9 by 1e+09" in html
    md = folder / "audit.md"
    assert main(["audit", str(folder / "claim.toml"), "--budget", "1e19", "--report", str(md), *SAMPLING]) == 0
    text = md.read_text()
    assert "## Plan for alpha" in text and "cumulative_cost" in text


def test_run_with_a_plan_table_puts_the_plan_in_the_html_report(folder, capsys):
    spec = folder / "spec.toml"
    spec.write_text('title = "plan in a report"\n' + textwrap.dedent(HEAD)
                    + "[plan]\nat = 1e10\nbudget = 1e19\nsims = 32\n")
    report = folder / "run.html"
    assert main(["run", str(spec), "--report", str(report), *SAMPLING]) == 0
    out = capsys.readouterr().out
    assert "Plan for loss at params=1e+10" in out
    html = report.read_text()
    assert "Plan the next runs" in html and "Plan for loss at params=1e+10" in html
    assert "expected width against cumulative cost" in html
