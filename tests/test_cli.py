"""The command line: fast help, one-line errors with exit code 2, and a full fit from a CSV."""

import subprocess
import sys
import time

import pytest

from bayescale.cli import main
from bayescale.laws.simulate import power_law_data


def test_help_is_fast_and_does_not_import_pymc():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import sys; from bayescale.cli import build_parser; "
                          "build_parser().format_help(); print('pymc' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert time.perf_counter() - start < 5  # a cold interpreter included; the parser itself is ~0.1 s


def test_every_command_help_prints_its_text_as_written(capsys):
    for command in ("fit", "fit-many", "backtest", "predict", "run", "audit", "observational", "datasets"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert f"usage: bayescale {command}" in text and "%%" not in text, command


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "runs.csv"
    power_law_data(offsets=(300.0, 600.0), n=10, groups=["web", "code"], seed=2).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "nope.csv", "--x", "params", "--y", "loss"], "error: data file 'nope.csv' does not exist"),
        (["fit", "{csv}", "--x", "size", "--y", "loss"], "error: column 'size' is not in the data"),
        (["fit", "{csv}", "--x", "params", "--y", "loss", "--law", "exp"], "error: unknown law 'exp'"),
        (["fit", "{csv}", "--x", "params", "--y", "loss", "--plot", "/nonexistent/dir/f.png"],
         "error: cannot write plot '/nonexistent/dir/f.png': folder '/nonexistent/dir' does not exist"),
        (["run", "missing.toml"], "error: spec file 'missing.toml' does not exist"),
        (["fit", "{csv}", "--x", "params", "--y", "loss", "--discrepancy", "0.1", "--no-discrepancy"],
         "error: --discrepancy and --no-discrepancy contradict each other: give one"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(argv, message, csv, capsys):
    argv = [a.replace("{csv}", str(csv)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message), err
    assert len(err.splitlines()) == 1


def test_malformed_spec_names_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\ndataset = 'olmo_domains'\n[model]\nx = 'step'\ny = 'loss'\nlaw = 'power'\ncolour = 1\n")
    assert main(["run", str(bad)]) == 2
    assert "unknown key(s) model.colour" in capsys.readouterr().err
    bad.write_text("[data\n")
    assert main(["run", str(bad)]) == 2
    assert "malformed TOML" in capsys.readouterr().err
    bad.write_text("[data]\npath = 'x.csv'\ndataset = 'olmo_domains'\n[model]\nx = 'a'\ny = 'b'\n")
    assert main(["run", str(bad)]) == 2
    assert "needs exactly one of 'dataset'" in capsys.readouterr().err
    bad.write_text("[data]\ndataset = 'olmo_domains'\nfilter = { model = 'GPT-9' }\n[model]\nx = 'step'\ny = 'loss'\n")
    assert main(["run", str(bad)]) == 2
    assert "data.filter.model values ['GPT-9'] do not occur in the data" in capsys.readouterr().err
    base = "[data]\ndataset = 'chinchilla'\n[model]\nx = 'tokens'\ny = 'loss'\n"
    bad.write_text(base + "[predict]\ndiscrepancy = -0.1\n")
    assert main(["run", str(bad)]) == 2
    assert "predict.discrepancy must be a number >= 0 (sd of log y per decade" in capsys.readouterr().err
    bad.write_text(base + "[predict]\ndiscrepancy = true\n")
    assert main(["run", str(bad)]) == 2
    assert "or false for the posterior alone (default: the learned drift prior), got True" in capsys.readouterr().err


def test_datasets_command_lists_and_describes(capsys):
    assert main(["datasets"]) == 0
    assert "olmo_domains" in capsys.readouterr().out.split()
    assert main(["datasets", "olmo_domains"]) == 0
    out = capsys.readouterr().out
    assert "Origin: IBM/ColPret" in out and "columns: model, params_label, domain, step, loss" in out
    assert main(["datasets", "nope"]) == 2


@pytest.mark.slow
def test_fit_command_prints_tables_and_writes_outputs(csv, tmp_path, capsys):
    plot, save = tmp_path / "fit.png", tmp_path / "fit.nc"
    code = main(["fit", str(csv), "--x", "params", "--y", "loss", "--group", "group", "--at", "1e10", "1e11",
                 "--draws", "200", "--tune", "300", "--chains", "2", "--seed", "3", "--quiet", "--plain",
                 "--plot", str(plot), "--save", str(save)])
    assert code == 0
    out = capsys.readouterr().out
    for heading in ("Posterior summary (90% HDI)", "Predictions (90% predictive interval)", "Flags"):
        assert heading in out
    assert "extrapolation" in out and "web" in out and "code" in out
    assert plot.stat().st_size > 10_000 and save.stat().st_size > 10_000
    # the saved fit, reported again with a discrepancy: wider intervals beyond the data, named in the heading
    import bayescale as bs
    from bayescale.cli._common import report

    fit = bs.load(save)
    report(fit, at=[1e10, 1e11], plain=True, discrepancy=0.05)
    assert "Predictions (90% predictive interval, discrepancy s = 0.05 per decade beyond the data)" in \
        capsys.readouterr().out
    plain, wide = fit.predict([1e11], "web", discrepancy=False), fit.predict([1e11], "web", discrepancy=0.05)
    assert (wide["upper"] - wide["lower"]).iloc[0] > (plain["upper"] - plain["lower"]).iloc[0]


def test_flag_table_leads_with_warnings_and_summarises_info(capsys):
    import pandas as pd

    from bayescale.cli._common import print_flags
    from bayescale.results.flags import COLUMNS

    rows = [("regime", "info", g, None, "regime: scaling", 1.0) for g in "abc"]
    rows += [("extrapolation", "info", g, x, f"x={x:g} is 0.5 decades outside", 0.5) for g in "abc" for x in (1e6, 1e7)]
    rows += [("sampler_ess", "warning", None, None, "min bulk/tail ESS 258 < 400", 258.0),
             ("narrow_range", "warning", "c", None, "x spans only 0.11 decades", 0.11)]
    flags = pd.DataFrame(rows, columns=COLUMNS)
    print_flags(flags, plain=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Flags: 2 warnings, 9 info, one line per kind (--all-flags lists every row)"
    body = [line.split() for line in lines[2:]]
    assert [b[:2] for b in body] == [["warning", "sampler_ess"], ["warning", "narrow_range"], ["info", "regime"],
                                     ["info", "extrapolation"]]
    assert " ".join(body[2]) == "info regime 3 groups regime: scaling"
    assert " ".join(body[3]) == "info extrapolation 3 groups, 2 targets e.g. a: x=1e+06 is 0.5 decades outside"
    print_flags(flags, plain=True, all_flags=True)  # one row per distinct message, groups merged
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Flags: 2 warnings, 9 info"
    assert len(lines) == 2 + 2 + 1 + 2 and lines[2].split()[0] == "warning" and "a, b, c" in lines[4]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    import bayescale as bs

    path = tmp_path_factory.mktemp("saved") / "fit.nc"
    df = power_law_data(offsets=(300.0, 600.0), n=10, groups=["web", "code"], seed=2)
    bs.fit(df, x="params", y="loss", group="group", draws=30, tune=30, chains=1, cores=1, seed=5,
           progress=False).save(path)
    return path


def test_predict_serves_a_saved_fit_without_refitting(saved, tmp_path, capsys, monkeypatch):
    import bayescale as bs
    import bayescale.fitting.single
    from bayescale.core.console import format_number

    monkeypatch.setattr(bayescale.fitting.single, "run_fit", None)  # any refit would fail
    plot, html = tmp_path / "p.svg", tmp_path / "r.html"
    assert main(["predict", str(saved), "--at", "1e10", "--group", "web", "--prob", "0.8", "--plain",
                 "--plot", str(plot), "--report", str(html)]) == 0
    out = capsys.readouterr().out
    expected = bs.load(saved).predict([1e10], "web", prob=0.8)
    assert "Predictions (80% predictive interval)" in out
    row = next(line for line in out.splitlines() if line.split()[:2] == ["web", "1e+10"])
    assert row.split()[2:5] == [format_number(float(expected[c].iloc[0])) for c in ("median", "lower", "upper")]
    assert plot.read_text().startswith("<?xml") and "bayescale predict" in html.read_text()
    assert main(["predict", str(saved), "--at", "1e10", "--plain", "--all-flags"]) == 0
    assert "--all-flags lists every row" not in capsys.readouterr().out
