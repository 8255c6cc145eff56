"""bayescale audit on every claim kind: true claims supported and false ones not, on data simulated from
known truths, over repeated simulations; exact one-line errors for bad claims, before any sampling."""

import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import SpecError
from bayescale.workflows.audit import parse_claim

SAMPLING = {"draws": 200, "tune": 300, "chains": 2, "progress": False, "cores": 1}
ALPHA = 0.3
TRUTH = {"a": (2.0, 100.0), "b": (1.7, 140.0)}  # floor E and offset A per group; gap = 0.3 - 40 x^-0.3
X = np.geomspace(1e6, 1e9, 12)
GROUPED = {"law": "power", "x": "x", "y": "y", "group": "g", "floor": "group"}


def truth(group: str, x):
    e, a = TRUTH[group]
    return e + a * np.asarray(x, dtype=float) ** -ALPHA


def simulate_groups(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"g": g, "x": X, "y": truth(g, X) * np.exp(rng.normal(0, 0.01, X.size))})
                      for g in TRUTH], ignore_index=True)


def claim(model, **tables):
    return {"title": "simulated", "model": model, "claim": {"prob": 0.9, **tables}}


REACH_X = (2.5 - 2.0) / 100.0  # group a reaches 2.5 where x^-0.3 = 0.005
REACH_X = REACH_X ** (-1 / ALPHA)
AGGREGATE = 0.5 * truth("a", 1e9) + 0.5 * truth("b", 1e9)
TRUE_CLAIMS = dict(
    parameters={"alpha": ALPHA, "A[b]": 140.0},
    reach=[{"label": "reach", "target": 2.5, "by": 10 * REACH_X, "group": "a"}],
    groups=[{"label": "min_rate", "kind": "min_rate", "rate": 0.35},
            {"label": "gap_shrinks", "kind": "gap_shrinks", "a": "a", "b": "b", "range": [1e6, 5e6]},
            {"label": "never_worse", "kind": "never_worse", "a": "a", "b": "b", "range": [1e6, 5e6]},
            {"label": "equivalent", "kind": "equivalent", "a": "a", "b": "b", "range": [1e6, 5e6], "tolerance": 0.2}],
    population=[{"label": "population", "weights": {"a": 0.5, "b": 0.5}, "at": [1e9], "value": float(AGGREGATE)},
                {"label": "population rate", "weights": {"a": 0.3, "b": 0.7}, "at": [1e8], "rate": 0.35}],
)
FALSE_CLAIMS = dict(
    parameters={"alpha": 0.45, "A[b]": 400.0},
    reach=[{"label": "reach", "target": 2.5, "by": REACH_X / 10, "group": "a"},
           {"label": "reach below the floor", "target": 1.8, "by": 1e12, "group": "a"}],
    groups=[{"label": "min_rate", "kind": "min_rate", "rate": 0.65},
            {"label": "gap_shrinks", "kind": "gap_shrinks", "a": "a", "b": "b", "range": [2e7, 1e9]},
            {"label": "never_worse", "kind": "never_worse", "a": "a", "b": "b", "range": [2e7, 1e9]},
            {"label": "equivalent", "kind": "equivalent", "a": "a", "b": "b", "range": [1e6, 5e6],
             "tolerance": 0.02}],
    population=[{"label": "population", "weights": {"a": 0.5, "b": 0.5}, "at": [1e9], "value": 2.3},
                {"label": "population rate", "weights": {"a": 0.3, "b": 0.7}, "at": [1e8], "rate": 0.65}],
)
REPS = 12


@pytest.fixture(scope="module")
def grouped_audits():
    """Per simulated data set: the audit of the true claims and of the false ones (one fit each)."""
    out = []
    for seed in range(REPS):
        data = simulate_groups(seed)
        fit = bs.fit(data, **GROUPED, seed=seed, discrepancy=False, **SAMPLING)  # the claim logic, no drift prior
        out.append((bs.audit(claim(GROUPED, **TRUE_CLAIMS), fit=fit, data=data),
                    bs.audit(claim(GROUPED, **FALSE_CLAIMS), fit=fit, data=data)))
    return out


def share(results, item, verdict="supported"):
    return float(np.mean([r.verdicts()[item] == verdict for r in results]))


@pytest.mark.slow
@pytest.mark.parametrize("item", ["alpha", "A[b]", "population"])
def test_true_values_are_supported_at_about_the_nominal_rate(grouped_audits, item):
    # a calibrated posterior puts the truth inside its central 90% interval 90% of the time
    assert share([t for t, _ in grouped_audits], item) >= 0.75
    assert share([f for _, f in grouped_audits], item) == 0


@pytest.mark.slow
@pytest.mark.parametrize("item", ["reach", "min_rate", "gap_shrinks", "never_worse", "equivalent", "population rate",
                                  "population rate: every group"])
def test_true_events_are_supported_and_false_ones_not(grouped_audits, item):
    assert share([t for t, _ in grouped_audits], item) >= 0.9
    assert share([f for _, f in grouped_audits], item, "not supported") >= 0.9


@pytest.mark.slow
def test_reach_below_the_floor_is_never_and_population_hides_groups(grouped_audits):
    for true, false in grouped_audits:
        assert false.evidence["reach below the floor"]["p_never"] > 0.9
        assert false.verdicts()["reach below the floor"] == "not supported"
        # the aggregate of two groups matches neither group: the per-group row says so
        assert true.verdicts()["population: every group"] == "not supported"
        row = true.items.set_index("item").loc["population: every group"]
        assert row["evidence"].startswith("worst group 'a':") and "fails for a, b" in row["evidence"]


@pytest.mark.slow
def test_markdown_has_one_row_per_item_with_its_verdict_and_rule(grouped_audits):
    result = grouped_audits[0][1]
    md = result.to_markdown()
    table = md.split("## Verdicts", 1)[1].split("\n\n")[1].splitlines()
    assert table[0] == "| item | claim | evidence | verdict | rule | flags | more_runs |"
    assert len(table) == 2 + len(result.items)
    for row in result.items.itertuples():
        line = next(line for line in table if line.startswith(f"| {row.item} |"))
        assert f"| {row.verdict} |" in line
    assert "P >= 0.9: supported; P <= 0.1: not; between: inconclusive" in md
    assert "## Where 5 more runs would most reduce each interval" in md
    assert set(result.recommendations["item"]) >= {"alpha", "reach", "min_rate"}
    assert (result.recommendations["width_factor"] < 1).all()


# ---------------------------------------------------------------------------- shared slopes, trend
def varying_data(seed: int, exponents) -> pd.DataFrame:
    from bayescale.laws.simulate import power_law_data

    return power_law_data(offsets=(100.0, 140.0), exponents=exponents, floor=1.8, sigma=0.01, n=12,
                          x_range=(1e6, 1e9), groups=["a", "b"], seed=seed, x="x", y="y", group="g")


@pytest.mark.slow
@pytest.mark.parametrize(("exponents", "expected"), [((0.3, 0.3), "supported"), ((0.15, 0.45), "not supported")])
def test_shared_slopes_by_loo(exponents, expected):
    model = {"law": "power", "x": "x", "y": "y", "group": "g"}
    verdicts = []
    for seed in range(4):
        data = varying_data(seed, exponents)
        result = bs.audit(claim(model, groups=[{"label": "shared", "kind": "shared_slopes"}]), data=data,
                          **{k: v for k, v in SAMPLING.items() if k != "cores"}, seed=seed)
        verdicts.append(result.verdicts()["shared"])
    assert verdicts.count(expected) >= 3, verdicts


def trend_data(seed: int, plateau: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e6, 1e9, 15)
    y = truth("a", x)
    if plateau:  # beyond 3e7 the loss stops falling: the trend breaks after the cutoff
        y = np.where(x > 3e7, truth("a", 3e7) * (x / 3e7) ** -0.002, y)
    return pd.DataFrame({"x": x, "y": y * np.exp(rng.normal(0, 0.01, x.size))})


@pytest.mark.slow
@pytest.mark.parametrize(("plateau", "up_to", "expected"), [
    (False, 1e9, "supported"), (True, 1e9, "not supported"), (False, 1e11, "inconclusive")])
def test_trend_refits_below_the_cutoff_and_scores_above(plateau, up_to, expected):
    model = {"law": "power", "x": "x", "y": "y"}
    verdicts = []
    for seed in range(4):
        data = trend_data(seed, plateau)
        result = bs.audit(claim(model, trend=[{"label": "trend", "cutoff": 3e7, "up_to": up_to}]), data=data,
                          **{k: v for k, v in SAMPLING.items() if k != "cores"}, seed=seed)
        verdicts.append(result.verdicts()["trend"])
        evidence = result.evidence["trend"]
        assert evidence["n_train"] == 7 and evidence["n_test"] == 8
        assert evidence["decades_claimed"] == pytest.approx(np.log10(up_to / data["x"].iloc[6]))
    assert verdicts.count(expected) >= 3, verdicts


# ---------------------------------------------------------------------------- emergence
def sigmoid_data(seed: int, per_decade: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e18, 1e26, 20)
    p = 0.02 + 0.9 * expit(per_decade * (np.log10(x) - 22.0))
    return pd.DataFrame({"flops": x, "accuracy": rng.binomial(500, p) / 500, "n_items": 500})


SIGMOID = {"law": "sigmoid", "x": "flops", "y": "accuracy", "trials": "n_items"}


@pytest.mark.slow
def test_emergence_scale_interval_and_abruptness():
    steep, gradual = [], []
    for seed in range(4):
        result = bs.audit(claim(SIGMOID, emergence=[
            {"label": "true", "scale": 1e22, "abrupt": True}, {"label": "false", "scale": 1e23},
            {"label": "true interval", "interval": [3e21, 3e22]}, {"label": "false interval", "interval": [1e23, 1e24]},
        ], reach=[{"label": "half by 1e23", "target": 0.5, "by": 1e23}]), data=sigmoid_data(seed, 6.0),
            **{k: v for k, v in SAMPLING.items() if k != "cores"}, seed=seed)
        steep.append(result.verdicts())
        result = bs.audit(claim(SIGMOID, emergence=[{"label": "gradual", "scale": 1e22, "abrupt": True}]),
                          data=sigmoid_data(seed, 0.6), **{k: v for k, v in SAMPLING.items() if k != "cores"},
                          seed=seed)
        gradual.append(result.verdicts())
    for item, expected in [("true", "supported"), ("true: abrupt", "supported"), ("false", "not supported"),
                           ("true interval", "supported"), ("false interval", "not supported"),
                           ("half by 1e23", "supported")]:
        assert [v[item] for v in steep].count(expected) >= 3, (item, steep)
    assert [v["gradual: abrupt"] for v in gradual].count("not supported") >= 3, gradual


# ---------------------------------------------------------------------------- bad claims
def write(tmp_path, body: str, data: pd.DataFrame | None = None):
    (data if data is not None else simulate_groups(0)).to_csv(tmp_path / "runs.csv", index=False)
    path = tmp_path / "claim.toml"
    path.write_text(textwrap.dedent(body))
    return path


def header(law="power", group=True, extra=""):
    x = "flops" if law == "sigmoid" else "x"
    y = "accuracy" if law == "sigmoid" else "y"
    return (f'[data]\npath = "runs.csv"\n[model]\nlaw = "{law}"\nx = "{x}"\ny = "{y}"\n'
            + ('group = "g"\n' if group else "") + extra)


PARSE_ERRORS = [
    (header("sigmoid", False), "[[claim.reach]]\ntarget = 1.2\nby = 1e23\n",
     r"claim.reach\[0\].target: 1.2 is outside \(0, 1\): the sigmoid's accuracies stay below its ceiling of 1"),
    (header(group=False), "[[claim.groups]]\nkind = 'never_worse'\na = 'a'\nb = 'b'\nrange = [1e6, 1e7]\n",
     r"claim.groups\[0\]: a group claim needs groups; set group = <column> in \[model\]"),
    (header(), "[[claim.emergence]]\nscale = 1e7\n",
     r"claim.emergence\[0\]: emergence claims need law 'sigmoid' \(midpoint\) or 'broken' \(break location\), "
     r"not 'power'"),
    (header(), "[[claim.population]]\nweights = { a = 0.6, b = 0.3 }\nat = [1e9]\nvalue = 2.0\n",
     r"claim.population\[0\].weights: must sum to 1, got 0.9"),
    (header(), "[[claim.reach]]\ntargt = 2.0\nby = 1e9\ngroup = 'a'\n",
     r"claim.reach\[0\]: unknown key\(s\) targt; expected some of by, group, label, prob, target"),
    (header(), "[[claim.reach]]\ntarget = 2.0\nby = 1e9\n",
     r"claim.reach\[0\].group: required in a grouped model \(a group of 'g', or '\(new group\)'\)"),
    (header(), "[claim.parameters]\nbeta = 0.3\n",
     r"claim.parameters.beta: unknown parameter 'beta'; expected one of alpha, A, E, sigma, nu"),
    (header(), "[claim.parameters]\nA = 100\n",
     r"claim.parameters.A: A varies by group \(g\); name one, e.g. 'A\[<group>\]'"),
    (header("broken", False), "[claim.parameters]\nalpha = 0.3\n",
     r"claim.parameters.alpha: the broken law has 2 values of alpha; name one, e.g. 'alpha\[0\]' \(0 to 1\)"),
    (header("sigmoid"), "[[claim.groups]]\nkind = 'shared_slopes'\n",
     r"claim.groups\[0\].kind: shared_slopes compares shared and varying exponents of the power law, not the "
     r"'sigmoid' law"),
    (header(), "[[claim.groups]]\nkind = 'faster'\n",
     r"claim.groups\[0\].kind: must be one of shared_slopes, min_rate, gap_shrinks, never_worse, equivalent"),
    (header(), "[[claim.groups]]\nkind = 'equivalent'\na = 'a'\nb = 'b'\nrange = [1e6, 1e7]\n",
     r"claim.groups\[0\].tolerance: required"),
    (header(group=False), "[[claim.trend]]\ncutoff = 1e8\nup_to = 1e7\n",
     r"claim.trend\[0\].up_to: must be above the cutoff 1e\+08, got 1e\+07"),
    (header(), "[[claim.predictions]]\ncompute = 1e20\nvalue = 2.0\n",
     r"claim.predictions: applies to the chinchilla law \(L\(N, D\)\), not 'power'"),
]


@pytest.mark.parametrize(("head", "body", "message"), PARSE_ERRORS)
def test_bad_claims_are_one_line_errors_naming_item_and_field(tmp_path, head, body, message):
    with pytest.raises(SpecError, match=message):
        parse_claim(write(tmp_path, head + body))


DATA_ERRORS = [
    ("[[claim.groups]]\nkind = 'gap_shrinks'\na = 'a'\nb = 'c'\nrange = [1e6, 1e7]\n",
     r"claim.groups\[0\].b: unknown group 'c' in column 'g'; groups: a, b"),
    ("[[claim.population]]\nweights = { a = 0.5, c = 0.5 }\nat = [1e9]\nrate = 0.1\n",
     r"claim.population\[0\].weights: unknown group 'c' in column 'g'; groups: a, b"),
    ("[claim.parameters]\n'A[c]' = 100\n", r"claim.parameters.A\[c\]: unknown group 'c' in column 'g'"),
    ("[[claim.trend]]\ncutoff = 9.9e8\nup_to = 9.95e8\n",
     r"claim.trend\[0\].up_to: no points between the cutoff 9.9e\+08 and 9.95e\+08 to score"),
    ("[[claim.trend]]\ncutoff = 1.5e6\nup_to = 1e9\n",
     r"claim.trend\[0\].cutoff: leaves 2 points at or below 1.5e\+06; the power law needs at least 4"),
]


@pytest.mark.parametrize(("body", "message"), DATA_ERRORS)
def test_claims_checked_against_the_data_before_sampling(tmp_path, monkeypatch, capsys, body, message):
    import bayescale.workflows.audit.engine as engine

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before the claim was checked")

    monkeypatch.setattr(engine, "_fit", no_sampling)
    path = write(tmp_path, header() + body)
    parse_claim(path)  # the file itself is fine; the data say otherwise
    with pytest.raises(SpecError, match=message):
        bs.audit(path)
    assert main(["audit", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "claim." in err


# ---------------------------------------------------------------------------- the broken law
def broken_data(seed: int) -> pd.DataFrame:
    """Exponent 0.1 below a sharp break at 1e8, 0.5 above it."""
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e6, 1e10, 20)
    y = 1.5 + 50 * x**-0.1 * (1 + (x / 1e8) ** (1 / 0.1)) ** (-0.4 * 0.1)
    return pd.DataFrame({"x": x, "y": y * np.exp(rng.normal(0, 0.01, x.size))})


@pytest.mark.slow
def test_break_location_and_abrupt_bend_on_the_broken_law():
    model = {"law": "broken", "x": "x", "y": "y"}
    verdicts = []
    for seed in range(3):
        result = bs.audit(claim(model, parameters={"break_x[0]": 1e8},
                                emergence=[{"label": "true", "scale": 1e8, "abrupt": True},
                                           {"label": "false", "interval": [1e9, 1e10]}]),
                          data=broken_data(seed), **{k: v for k, v in SAMPLING.items() if k != "cores"}, seed=seed)
        verdicts.append(result.verdicts())
        assert "LOO: abrupt is favoured" in result.items.set_index("item").loc["true: abrupt", "evidence"]
    for item, expected in [("break_x[0]", "supported"), ("true", "supported"), ("true: abrupt", "supported"),
                           ("false", "not supported")]:
        assert [v[item] for v in verdicts].count(expected) >= 2, (item, verdicts)


def test_figures_come_from_the_plotting_hook_per_kind(monkeypatch):
    from bayescale.workflows.audit import AuditResult, figures

    items = pd.DataFrame({"item": ["r", "p"], "kind": ["reach", "parameter"]})
    result = AuditResult(title="t", source="", items=items, flags=pd.DataFrame(), recommendations=pd.DataFrame(),
                         candidates=pd.DataFrame(), n_obs=3, runs=5, law="power", evidence={"r": {"by": 1e9}})
    monkeypatch.setattr(figures, "PLOTS", {})
    assert result.figures() == {}
    monkeypatch.setattr(figures, "PLOTS", {"reach": lambda res, item: ("figure of", item, res.evidence[item]["by"])})
    assert result.figures() == {"r": ("figure of", "r", 1e9)}


def test_claim_targets_are_the_scales_items_name(tmp_path):
    body = ("[[claim.reach]]\ntarget = 2.0\nby = 1e9\ngroup = 'a'\n"
            "[[claim.groups]]\nkind = 'never_worse'\na = 'a'\nb = 'b'\nrange = [1e6, 1e7]\n"
            "[[claim.population]]\nweights = { a = 1.0 }\nat = [3e8]\nrate = 0.1\n")
    assert parse_claim(write(tmp_path, header() + body)).targets() == [1e6, 1e7, 3e8, 1e9]
