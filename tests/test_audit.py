"""bayescale audit: verdicts on constructed claims, width check, recommendations, bad claim files, CLI."""

import textwrap

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import SpecError
from bayescale.laws.chinchilla import chinchilla_loss, optimal_allocation
from bayescale.workflows.audit import audit, expected_widths, parse_claim

TRUE = {"E": 1.8, "A": 480.0, "B": 2000.0, "alpha": 0.35, "beta": 0.37}
MODEL = {"law": "chinchilla", "x": ["params", "tokens"], "y": "loss"}


def simulate(n: int = 80, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    params = 10 ** rng.uniform(np.log10(5e7), np.log10(1.6e10), n)
    tokens = params * 10 ** rng.uniform(0, 2.5, n)
    loss = chinchilla_loss(params, tokens, *TRUE.values()) * np.exp(0.01 * rng.standard_normal(n))
    return pd.DataFrame({"params": params, "tokens": tokens, "loss": loss})


@pytest.fixture(scope="module")
def data():
    return simulate()


@pytest.fixture(scope="module")
def fit(data):
    # the default Student-t noise, as the claim files and test_cli_runs_and_writes_markdown use: one compiled model
    # the posterior alone: these tests judge the claim logic on a law that holds (no drift prior)
    return bs.fit(data, law="chinchilla", x=["params", "tokens"], y="loss", seed=11,
                  draws=300, tune=300, chains=2, progress=False, cores=1, discrepancy=False)


def claim(**tables):
    return {"title": "constructed", "model": MODEL, "claim": tables}


@pytest.mark.slow
def test_true_claim_is_supported_and_wrong_exponent_is_not(fit):
    n_star, d_star = optimal_allocation(1e22, TRUE["A"], TRUE["B"], TRUE["alpha"], TRUE["beta"])
    true_loss = chinchilla_loss(1e9, 2e10, *TRUE.values())
    result = audit(claim(
        prob=0.9,
        parameters={"alpha": {"value": 0.35, "interval": [0.32, 0.38]}, "E": 1.8, "beta": 0.6},
        predictions=[{"params": 1e9, "tokens": 2e10, "value": float(true_loss)}],
        optimal=[{"compute": 1e22, "params": float(n_star), "tokens_per_param": float(d_star / n_star)}],
    ), fit=fit)
    verdicts = result.verdicts()
    assert verdicts["alpha"] == "supported"
    assert verdicts["E"] == "supported"
    assert verdicts["loss at N=1e+09, D=2e+10"] == "supported"
    assert verdicts["optimal params at C=1e+22"] == "supported"
    assert verdicts["optimal tokens_per_param at C=1e+22"] == "supported"
    assert verdicts["beta"] == "not supported"
    items = result.items.set_index("item")
    assert items.loc["beta", "tail"] == 0 and items.loc["beta", "z"] > 5
    alpha = fit.parameter_draws()["alpha"]
    assert items.loc["alpha", "p_interval"] == pytest.approx(np.mean((alpha >= 0.32) & (alpha <= 0.38)))
    assert items.loc["alpha", "p_interval"] > 0.5
    assert "interval_too_narrow" not in set(result.flags["code"])


@pytest.mark.slow
def test_interval_ten_times_too_narrow_gets_the_width_flag(fit):
    draws = fit.parameter_draws()["alpha"]
    lo, hi = np.quantile(draws, [0.025, 0.975])
    mid, half = (lo + hi) / 2, (hi - lo) / 20
    result = audit(claim(parameters={"alpha": {"value": mid, "interval": [mid - half, mid + half]}}), fit=fit)
    row = result.items.set_index("item").loc["alpha"]
    assert row["width_ratio"] == pytest.approx(0.1, rel=1e-6)
    assert row["runs_needed"] == pytest.approx(80 * 100, rel=1e-6)
    assert row["verdict"] == "supported"  # the value is fine; the interval is not
    flag = result.flags[result.flags["code"] == "interval_too_narrow"]
    assert list(flag["item"]) == ["alpha"]
    assert "8e+03 runs, not 80" in flag["message"].iloc[0]


@pytest.mark.slow
def test_recommendation_narrows_and_more_runs_narrow_more(fit):
    result = audit(claim(predictions=[{"compute": 1e24, "value": 1.9}], parameters={"beta": 0.37}), fit=fit)
    rec = result.recommendations.set_index("item")
    assert (rec["width_factor"] < 1).all() and (rec["width_after"] < rec["width_now"]).all()
    # per FLOP, the run to buy is far cheaper than the forecast run itself
    assert rec.loc["loss at C=1e+24", "compute"] < 1e24
    assert np.allclose(rec["cost"], rec["runs"] * 6 * rec["params"] * rec["tokens"])
    draws = {"beta": fit.parameter_draws()["beta"]}
    one = expected_widths(fit, draws, result.candidates[["compute", "params", "tokens", "tokens_per_param"]]
                          .drop_duplicates(), 1)
    many = expected_widths(fit, draws, result.candidates[["compute", "params", "tokens", "tokens_per_param"]]
                           .drop_duplicates(), 50)
    # preposterior widths carry Monte Carlo error: compare over the candidates, not each one
    assert many["width_factor"].mean() < one["width_factor"].mean()
    assert many["width_factor"].min() < one["width_factor"].min()
    md = result.to_markdown()
    assert "## Where 5 more runs would most reduce each interval" in md
    assert "supported: tail >= 0.1" in md
    assert "### Every candidate for loss at C=1e+24" in md


def write(tmp_path, body: str, name: str = "claim.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


HEADER = """
    [data]
    path = "runs.csv"
    [model]
    law = "chinchilla"
    x = ["params", "tokens"]
    y = "loss"
"""


@pytest.mark.parametrize(("claim_text", "message"), [
    ("[claim.parameters]\ngamma = 0.3\n",
     r"claim.parameters.gamma: unknown parameter 'gamma'; expected one of E, A, B, alpha, beta, a, b"),
    ("[claim.parameters]\nalpha = { value = 0.3, interval = [0.36, 0.32] }\n",
     r"claim.parameters.alpha.interval: lower 0.36 > upper 0.32"),
    ("[claim]\nprob = 1.5\n[claim.parameters]\nalpha = 0.3\n",
     r"claim.prob: probabilities must be in \(0, 1\), got 1.5"),
    ("[claim.parameters]\nalpha = { value = 0.3, interval = [0.2, 0.4], prob = 0 }\n",
     r"claim.parameters.alpha.prob: probabilities must be in \(0, 1\), got 0"),
    ("[[claim.predictions]]\nparams = -7e10\ntokens = 1e12\nvalue = 2.0\n",
     r"claim.predictions\[0\].params: must be > 0, got -7"),
    ("[[claim.optimal]]\ncompute = 0\nparams = 7e10\n", r"claim.optimal\[0\].compute: must be > 0, got 0"),
    ("[[claim.predictions]]\nparams = 7e10\nvalue = 2.0\n",
     r"claim.predictions\[0\]: give params and tokens, or compute"),
    ("[claim.parameters]\nalpha = 'high'\n", r"claim.parameters.alpha: must be a number, got 'high'"),
    ("[claim]\nsource = 'x'\n", r"claim: claims nothing"),
    ("[claim]\nintervall = 1\n", r"claim: unknown key\(s\) intervall"),
])
def test_bad_claim_files_name_the_field(tmp_path, claim_text, message):
    path = write(tmp_path, HEADER + claim_text)
    with pytest.raises(SpecError, match=message):
        parse_claim(path)


def test_missing_column_and_missing_claim_are_one_line_errors(tmp_path, data, capsys):
    data.to_csv(tmp_path / "runs.csv", index=False)
    path = write(tmp_path, HEADER.replace('y = "loss"', 'y = "val_loss"') + "[claim.parameters]\nalpha = 0.3\n")
    with pytest.raises(SpecError, match=r"model.y: column 'val_loss' is not in the data; columns: params, tokens"):
        audit(path)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "model.y" in err
    path = write(tmp_path, HEADER, "noclaim.toml")
    with pytest.raises(SpecError, match=r"claim: the \[claim\] table is required"):
        parse_claim(path)
    path = write(tmp_path, HEADER.replace('"chinchilla"', '"stacked"') + "[claim]\nprob=0.9\n", "law.toml")
    with pytest.raises(SpecError, match=r"model.law: audit supports one law of power, broken, sigmoid, chinchilla, "
                                        r"got 'stacked'"):
        parse_claim(path)
    path = write(tmp_path, HEADER.replace('"chinchilla"', '"power"') + "[claim]\nprob=0.9\n", "power.toml")
    with pytest.raises(SpecError, match=r"model.x: the column of the scale is required \(one name\)"):
        parse_claim(path)


def test_shipped_example_parses():
    parsed = parse_claim("models/audit_chinchilla.toml")
    names = [item.name for item in parsed.items]
    assert names[:7] == ["E", "A", "B", "alpha", "beta", "a", "b"]
    assert parsed.items[5].interval == (0.454, 0.455) and parsed.items[5].prob == 0.8
    assert "optimal tokens_per_param at C=5.76e+23" in names


@pytest.mark.slow
def test_cli_runs_and_writes_markdown(tmp_path, data, capsys):
    data.to_csv(tmp_path / "runs.csv", index=False)
    path = write(tmp_path, HEADER + """
        [claim]
        prob = 0.9
        [claim.parameters]
        beta = { value = 0.37, interval = [0.369, 0.371] }
        [[claim.predictions]]
        params = 7e10
        tokens = 1.4e12
        value = 1.95
    """)
    report = tmp_path / "out.md"
    code = main(["audit", str(path), "--draws", "150", "--tune", "150", "--chains", "1", "--seed", "2",
                 "--report", str(report), "--plain", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Claims against the posterior" in out and "interval_too_narrow" in out
    text = report.read_text()
    assert text.startswith("# Audit: ") and "| beta |" in text and "## Width check" in text


def test_verdict_thresholds_on_known_draws():
    from bayescale.workflows.audit import ClaimItem, evaluate_item

    draws = np.random.default_rng(0).normal(10.0, 1.0, 20_000)

    def judge(value, interval=None):
        return evaluate_item(draws, ClaimItem("q", "parameter", value, interval, 0.95, "q"), n_obs=100)

    assert judge(10.0)["verdict"] == "supported"
    assert judge(10.0 + 1.5)["verdict"] == "supported"  # tail ~ 0.13
    weak = judge(10.0 - 2.2)  # tail ~ 0.028
    assert weak["verdict"] == "weakly supported" and weak["tail"] == pytest.approx(0.028, abs=0.005)
    far = judge(16.0)
    assert far["verdict"] == "not supported" and far["tail"] == 0 and "tail < 1/20000" in far["notes"][0]
    wide = judge(None, (8.0, 12.0))  # interval only: p_interval ~ 0.95
    assert wide["verdict"] == "supported" and wide["p_interval"] == pytest.approx(0.954, abs=0.01)
    assert wide["width_ratio"] == pytest.approx(4 / (2 * 1.96), rel=0.03)
    assert wide["runs_needed"] == pytest.approx(100 * (2 * 1.96 / 4) ** 2, rel=0.06)
    off = judge(None, (13.0, 14.0))  # interval far in the tail: p_interval ~ 0.0013
    assert off["verdict"] == "not supported"
    outside = judge(10.0, (10.5, 11.0))
    assert "lies outside its own interval" in outside["notes"][0]


@pytest.mark.slow
def test_reach_claims_on_the_compute_optimal_loss(fit):
    from bayescale.results.reach import chinchilla_reach

    budget = float(chinchilla_reach(2.2, *TRUE.values()))  # compute at which the true optimal loss is 2.2
    result = audit(claim(reach=[{"label": "true", "target": 2.2, "by": 10 * budget},
                                {"label": "false", "target": 2.2, "by": budget / 10},
                                {"label": "below the floor", "target": 1.7, "by": 1e30}]), fit=fit)
    assert result.verdicts() == {"true": "supported", "false": "not supported", "below the floor": "not supported"}
    assert result.evidence["below the floor"]["p_never"] > 0.99
    rows = result.items.set_index("item")
    assert rows.loc["true", "posterior_median"] == pytest.approx(budget, rel=0.2)
    assert "true" in set(result.recommendations["item"])  # finite reach draws get the planner
    assert "below the floor" not in set(result.recommendations["item"])
