"""Bad input through the real command line, in a subprocess: one ``error:`` line naming the culprit.

Every case fails before any sampling, exits with code 2, prints no traceback and leaves no file
behind. All cases run once per module in one fresh interpreter (``DRIVER``): for each, it enters
the case's folder and calls ``bayescale.cli.main`` as ``python -m bayescale.cli`` would, with
the warning filters reset, and catches what the case writes to stdout and stderr; anything else
written to the interpreter's own stderr fails the module. A few cases also run as their own
``python -m bayescale.cli`` process and must give the same result. Each test checks one case.
One small saved fit, made once with tiny draws, serves the ``predict`` cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bayescale.laws.simulate import power_law_data

GOOD = "params,loss,g\n" + "".join(f"{10 ** (6 + i / 3):.6g},{2 + 5 * (10 ** (6 + i / 3)) ** -0.3:.6g},{'ab'[i % 2]}\n"
                                   for i in range(12))


def _with_row(row: int, column: str, value: str) -> str:
    lines = GOOD.splitlines()
    header = lines[0].split(",")
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = value
    lines[row + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


FIT = ["--x", "params", "--y", "loss"]
SPEC = "[data]\npath = 'runs.csv'\n[model]\nx = 'params'\ny = 'loss'\n"

# name: (files to create in a fresh folder, argv, expected parts of the one error line)
CASES = {
    "missing file": ({}, ["fit", "nope.csv", *FIT], ["error: data file 'nope.csv' does not exist"]),
    "empty file": ({"runs.csv": ""}, ["fit", "runs.csv", *FIT], ["error: data file 'runs.csv' is empty"]),
    "header only": ({"runs.csv": "params,loss\n"}, ["fit", "runs.csv", *FIT],
                    ["error: data file 'runs.csv' has a header but no rows"]),
    "binary file": ({"runs.csv": b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 40}, ["fit", "runs.csv", *FIT],
                    ["error: data file 'runs.csv' is not a text CSV file"]),
    "semicolons": ({"runs.csv": GOOD.replace(",", ";")}, ["fit", "runs.csv", *FIT],
                   ["error: data file 'runs.csv' has one column 'params;loss;g': it looks separated by semicolons"]),
    "missing column": ({"runs.csv": GOOD}, ["fit", "runs.csv", "--x", "size", "--y", "loss"],
                       ["error: column 'size' is not in the data; available columns: params, loss, g"]),
    "non-numeric": ({"runs.csv": _with_row(3, "loss", "abc")}, ["fit", "runs.csv", *FIT],
                    ["error: column 'loss' must be numeric; rows 3 hold 'abc'"]),
    "NaN": ({"runs.csv": _with_row(4, "loss", "")}, ["fit", "runs.csv", *FIT],
            ["error: column 'loss' has missing or infinite values in rows 4"]),
    "inf": ({"runs.csv": _with_row(5, "params", "inf")}, ["fit", "runs.csv", *FIT],
            ["error: column 'params' has missing or infinite values in rows 5"]),
    "zero x": ({"runs.csv": _with_row(2, "params", "0")}, ["fit", "runs.csv", *FIT],
               ["error: column 'params' must be > 0 for the power law; rows 2 are <= 0"]),
    "negative y": ({"runs.csv": _with_row(7, "loss", "-1.5")}, ["fit", "runs.csv", *FIT],
                   ["error: column 'loss' must be > 0 under lognormal noise; rows 7 are <= 0"]),
    "one distinct x": ({"runs.csv": "params,loss\n" + "1e6,2.5\n" * 3 + "1e6,2.6\n" * 3}, ["fit", "runs.csv", *FIT],
                       ["error: column 'params' has a single distinct value"]),
    "one-point group": ({"runs.csv": GOOD + "1e9,2.1,lonely\n"}, ["fit", "runs.csv", *FIT, "--group", "g"],
                        ["error: groups 'lonely' in column 'g' have a single point"]),
    "unknown law": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--law", "exp"],
                    ["error: unknown law 'exp'; expected one of: broken, chinchilla, power, sigmoid"]),
    "backtest unknown law": ({"runs.csv": GOOD}, ["backtest", "runs.csv", *FIT, "--law", "exp"],
                             ["error: unknown law 'exp'; expected one of: broken, chinchilla, power, sigmoid"]),
    "fit-many unknown law": ({"runs.csv": GOOD}, ["fit-many", "runs.csv", "--by", "g", *FIT, "--law", "exp"],
                             ["error: unknown law 'exp'; expected one of: broken, chinchilla, power, sigmoid"]),
    "two x columns": ({"runs.csv": GOOD}, ["fit", "runs.csv", "--x", "params", "g", "--y", "loss"],
                      ["error: --x takes one column, or two (params tokens) for the chinchilla law; got params g "
                       "for --law power"]),
    "measure the law cannot fit": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--measure", "accuracy"],
                                   ["error: measure='accuracy' does not fit the power law (the sigmoid's y is an "
                                    "accuracy, the other laws' a loss or error that falls with scale)"]),
    "backtest measure the law cannot fit": ({"runs.csv": GOOD}, ["backtest", "runs.csv", *FIT, "--law", "power",
                                                                 "--measure", "accuracy"],
                                            ["error: measure='accuracy' does not fit the power law (the sigmoid's y "
                                             "is an accuracy, the other laws' a loss or error that falls with "
                                             "scale)"]),
    "at not a number": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--at", "1e10", "ten"],
                        ["error: argument --at: expected a number, got 'ten'"]),
    "at negative": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--at", "-1e10"],
                    ["error: argument --at: expected a finite number > 0, got '-1e10'"]),
    "at infinite": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--at", "inf"],
                    ["error: argument --at: expected a finite number > 0, got 'inf'"]),
    "prob above 1": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--prob", "90"],
                     ["error: argument --prob: expected a probability between 0 and 1, got '90'"]),
    "draws zero": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--draws", "0"],
                   ["error: argument --draws: expected a whole number >= 1, got '0'"]),
    # outputs, all refused before the data is fitted
    "plot in /proc": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--plot", "/proc/fit.png"],
                      ["error: cannot write plot '/proc/fit.png': folder '/proc' does not accept new files"]),
    "plot format": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--plot", "fit.docx"],
                    ["error: cannot write plot 'fit.docx': the name must end in a format matplotlib writes (",
                     ".png", "got '.docx'"]),
    "plot no suffix": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--plot", "figure"],
                       ["error: cannot write plot 'figure': the name must end in a format", "got no suffix"]),
    "plot is a folder": ({"runs.csv": GOOD, "fig.png/keep": ""}, ["fit", "runs.csv", *FIT, "--plot", "fig.png"],
                         ["error: cannot write plot 'fig.png': it is a folder"]),
    "save to missing folder": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--save", "no/such/fit.nc"],
                               ["error: cannot write fit 'no/such/fit.nc': folder 'no/such' does not exist"]),
    "save in /proc": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--save", "/proc/fit.nc"],
                      ["error: cannot write fit '/proc/fit.nc': folder '/proc' does not accept new files"]),
    "save under a file": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--save", "runs.csv/fit.nc"],
                          ["error: cannot write fit 'runs.csv/fit.nc': 'runs.csv' is not a folder"]),
    "report in /proc": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--report", "/proc/r.html"],
                        ["error: cannot write report '/proc/r.html': folder '/proc' does not accept new files"]),
    "report not html": ({"runs.csv": GOOD}, ["fit", "runs.csv", *FIT, "--report", "r.txt"],
                        ["error: report 'r.txt' must end in .html"]),
    "fit-many out in /proc": ({"runs.csv": GOOD}, ["fit-many", "runs.csv", "--by", "g", *FIT, "--out", "/proc/out"],
                              ["error: cannot write output folder '/proc/out': folder '/proc' does not accept"]),
    "fit-many out is a file": ({"runs.csv": GOOD}, ["fit-many", "runs.csv", "--by", "g", *FIT, "--out", "runs.csv"],
                               ["error: cannot write output folder 'runs.csv': it exists and is not a folder"]),
    "backtest out in /proc": ({"runs.csv": GOOD}, ["backtest", "runs.csv", *FIT, "--out", "/proc/bt"],
                              ["error: cannot write output folder '/proc/bt': folder '/proc' does not accept"]),
    "backtest plot format": ({"runs.csv": GOOD}, ["backtest", "runs.csv", *FIT, "--plot-error", "e.xyz"],
                             ["error: cannot write plot 'e.xyz': the name must end in a format"]),
    "backtest table folder": ({"runs.csv": GOOD}, ["backtest", "runs.csv", *FIT, "--table", "none/t.csv"],
                              ["error: cannot write table 'none/t.csv': folder 'none' does not exist"]),
    # specs
    "spec missing": ({}, ["run", "study.toml"], ["error: spec file 'study.toml' does not exist"]),
    "spec malformed": ({"study.toml": "[data\n"}, ["run", "study.toml"], ["error: study.toml: malformed TOML:"]),
    "spec unknown key": ({"study.toml": SPEC + "colour = 1\n", "runs.csv": GOOD}, ["run", "study.toml"],
                         ["error: study.toml: unknown key(s) model.colour"]),
    "spec missing data": ({"study.toml": SPEC}, ["run", "study.toml"],
                          ["error: study.toml: data.path 'runs.csv' not found"]),
    "spec bad data": ({"study.toml": SPEC, "runs.csv": GOOD.replace(",", ";")}, ["run", "study.toml"],
                      ["it looks separated by semicolons"]),
    "spec output in /proc": ({"study.toml": SPEC + "[output]\nplot = '/proc/x/fit.png'\n", "runs.csv": GOOD},
                             ["run", "study.toml"],
                             ["error: cannot write plot '/proc/x/fit.png': folder '/proc' does not accept new files"]),
    "spec output, data missing": ({"study.toml": SPEC + "[output]\nsave = 'out/fit.nc'\n"}, ["run", "study.toml"],
                                  ["data.path 'runs.csv' not found"]),
    "spec negative target": ({"study.toml": SPEC + "[predict]\nat = [1e9, -1]\n", "runs.csv": GOOD},
                             ["run", "study.toml"],
                             ["error: study.toml: predict.at must be a list of finite numbers > 0, "
                              "got [1000000000.0, -1]"]),
    "spec prob": ({"study.toml": SPEC + "[predict]\nprob = 90\n", "runs.csv": GOOD}, ["run", "study.toml"],
                  ["error: study.toml: predict.prob must be a number between 0 and 1, got 90"]),
    "spec unknown group": ({"study.toml": SPEC.replace("y = 'loss'", "y = 'loss'\ngroup = 'g'")
                            + "[predict]\ngroups = ['a', 'web']\n", "runs.csv": GOOD}, ["run", "study.toml"],
                           ["error: study.toml: predict.groups 'web' not in the data's column 'g'"]),
    "spec output not a name": ({"study.toml": SPEC + "[output]\nplot = 5\n", "runs.csv": GOOD}, ["run", "study.toml"],
                               ["error: study.toml: output.plot must be a file name, got 5"]),
    "spec priors not a table": ({"study.toml": SPEC + "priors = 3\n", "runs.csv": GOOD}, ["run", "study.toml"],
                                ["error: study.toml: model.priors must be a table of priors by parameter name"]),
    "claim file": ({"claim.toml": "[data]\ndataset = 'chinchilla'\n[model]\nlaw = 'chinchilla'\n[claim]\n"},
                   ["run", "claim.toml"],
                   ["error: claim.toml is a claim file (it has a [claim] table), not a study spec; "
                    "run 'bayescale audit claim.toml'"]),
    # saved fits
    "predict missing": ({}, ["predict", "fit.nc", "--at", "1e10"], ["error: no saved fit at 'fit.nc'"]),
    "predict truncated": ({"fit.nc": "TRUNCATED"}, ["predict", "fit.nc", "--at", "1e10"],
                          ["error: saved fit 'fit.nc' is not a readable netCDF file (", "truncated file"]),
    "predict csv": ({"fit.nc": GOOD}, ["predict", "fit.nc", "--at", "1e10"],
                    ["error: saved fit 'fit.nc' is not a readable netCDF file (it does not start like a netCDF-4"]),
    "predict empty": ({"fit.nc": ""}, ["predict", "fit.nc", "--at", "1e10"],
                      ["error: saved fit 'fit.nc' is not a readable netCDF file (empty file)"]),
    "predict foreign": ({"fit.nc": "FOREIGN"}, ["predict", "fit.nc", "--at", "1e10"],
                        ["error: 'fit.nc' is not a fit saved by bayescale: it has no bayescale_format attribute"]),
    "predict bad at": ({"fit.nc": "SAVED"}, ["predict", "fit.nc", "--at", "0"],
                       ["error: argument --at: expected a finite number > 0, got '0'"]),
    "predict unknown group": ({"fit.nc": "SAVED"}, ["predict", "fit.nc", "--at", "1e10", "--group", "zzz"],
                              ["error: --group: unknown group(s) 'zzz'; the fit has a, b"]),
    "predict plot in /proc": ({"fit.nc": "SAVED"}, ["predict", "fit.nc", "--plot", "/proc/p.png"],
                              ["error: cannot write plot '/proc/p.png'"]),
    "predict same law twice": ({"fit.nc": "SAVED", "again.nc": "SAVED"}, ["predict", "fit.nc", "again.nc"],
                               ["error: several saved fits are stacked again only when each is of a different"]),
}


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory):
    """A tiny saved fit (the only sampling in this file) and its bytes."""
    import bayescale as bs

    path = tmp_path_factory.mktemp("saved") / "fit.nc"
    df = power_law_data(offsets=(300.0, 600.0), n=8, groups=["a", "b"], seed=4)
    bs.fit(df, x="params", y="loss", group="group", draws=20, tune=20, chains=1, seed=1, progress=False,
           cores=1).save(path)
    return path.read_bytes()


def _contents(value, saved: bytes) -> bytes:
    if value == "SAVED":
        return saved
    if value == "TRUNCATED":
        return saved[: len(saved) // 2]
    if value == "FOREIGN":  # a valid netCDF file that bayescale did not write
        import io

        import xarray as xr

        buffer = io.BytesIO()
        xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(buffer, engine="h5netcdf")
        return buffer.getvalue()
    return value if isinstance(value, bytes) else value.encode()


#: runs every case in one interpreter; prints {folder: {code, stdout, stderr}} as JSON on stdout
DRIVER = r"""
import contextlib, io, json, os, sys, traceback, warnings
from bayescale.cli import main
out, real_stdout = {}, sys.stdout
for folder, argv in json.loads(sys.argv[1]):
    os.chdir(folder)
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's errors
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = 1
    out[folder] = {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
print(json.dumps(out), file=real_stdout)
"""
#: cases also run as a process of their own: the argparse error, a data error, a saved-fit error
OWN_PROCESS = ["at not a number", "missing file", "predict truncated", "spec malformed"]
ENV = {**os.environ, "BAYESCALE_PLAIN": "1"}


def _make_case(name: str, root: Path, saved: bytes) -> Path:
    files, _, _ = CASES[name]
    folder = root / f"case{list(CASES).index(name)}"
    folder.mkdir()
    for rel, value in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_contents(value, saved))
    return folder


def _tree(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def _own_process(folder: Path, argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bayescale.cli", *argv], cwd=folder, capture_output=True,
                         text=True, env=ENV, timeout=120)
    return {"code": out.returncode, "stderr": out.stderr, "stdout": out.stdout}


@pytest.fixture(scope="module")
def run_all(tmp_path_factory, saved_fit):
    """Every case in the driver, and the ``OWN_PROCESS`` ones again each in a process of its own."""
    root = tmp_path_factory.mktemp("cases")
    folders = {name: _make_case(name, root, saved_fit) for name in CASES}
    (root / "alone").mkdir()
    alone = {name: _make_case(name, root / "alone", saved_fit) for name in OWN_PROCESS}
    before = {name: _tree(folder) for name, folder in {**folders, **{f"alone {n}": f for n, f in alone.items()}}
              .items()}
    jobs = [(str(folders[name]), CASES[name][1]) for name in CASES]
    with ThreadPoolExecutor(max_workers=len(alone) + 1) as pool:
        driver = pool.submit(subprocess.run, [sys.executable, "-c", DRIVER, json.dumps(jobs)], capture_output=True,
                             text=True, env=ENV, timeout=300)
        own = {name: pool.submit(_own_process, folder, CASES[name][1]) for name, folder in alone.items()}
        driver, own = driver.result(), {name: f.result() for name, f in own.items()}
    assert driver.returncode == 0, driver.stderr[-3000:]
    by_folder = json.loads(driver.stdout)
    results = {}
    for name, folder in folders.items():
        results[name] = {**by_folder[str(folder)], "new": _tree(folder) - before[name]}
    for name, folder in alone.items():
        own[name]["new"] = _tree(folder) - before[f"alone {name}"]
    return {"results": results, "own": own, "driver_stderr": driver.stderr}


@pytest.fixture(scope="module")
def results(run_all):
    return run_all["results"]


def test_the_driver_writes_nothing_outside_the_cases(run_all):
    assert run_all["driver_stderr"] == ""


@pytest.mark.parametrize("name", OWN_PROCESS)
def test_a_process_of_its_own_gives_the_same_result(run_all, name):
    own, driven = run_all["own"][name], run_all["results"][name]
    assert (own["code"], own["stderr"], own["stdout"], own["new"]) == \
        (driven["code"], driven["stderr"], driven["stdout"], driven["new"])


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line(name, results):
    result, expected = results[name], CASES[name][2]
    err = result["stderr"]
    assert result["code"] == 2, (result["code"], err)
    assert "Traceback" not in err and "Traceback" not in result["stdout"]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), lines[0]
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert not result["new"], f"left behind: {sorted(map(str, result['new']))}"


def test_the_folders_of_spec_outputs_are_not_made_when_the_run_fails(results):
    assert results["spec output, data missing"]["new"] == set()  # no empty out/ folder either


def test_warnings_print_as_one_plain_line(tmp_path, monkeypatch, capsys):
    """Duplicated rows warn as ``warning: ...`` (no source path, no class name) before sampling starts."""
    import bayescale.fitting.single
    from bayescale.cli import main
    from bayescale.errors import DataError

    csv = tmp_path / "runs.csv"
    csv.write_text(GOOD + GOOD.splitlines()[1] + "\n")

    def stop(*args, **kwargs):  # stands in for sampling: the warning came before it
        raise DataError("stopped before sampling")

    monkeypatch.setattr(bayescale.fitting.single, "run_fit", stop)
    assert main(["fit", str(csv), *FIT, "--group", "g"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: rows 0, 12 are duplicated in columns ['params', 'loss', 'g']; they are kept and "
                   "counted as separate observations", "error: stopped before sampling"]
