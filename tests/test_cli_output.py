"""What the commands print: tables that fit 100 columns, --format json equal to the Python API's
frames, and a reader that closes the pipe early (``| head -3``) ends no command in a traceback."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_tables import table_widths

from bayescale.cli import main, quiet_broken_pipe
from bayescale.laws.simulate import power_law_data

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--draws", "40", "--tune", "60", "--chains", "1", "--seed", "1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_output")
    power_law_data(offsets=(300.0, 600.0), n=10, groups=["web", "code"], seed=2).to_csv(folder / "runs.csv",
                                                                                          index=False)
    return folder


def argvs(folder: Path) -> dict[str, list[str]]:
    """One small run of every command that prints tables (and datasets)."""
    csv = str(folder / "runs.csv")
    return {
        "datasets": ["datasets", "chinchilla"],
        "fit": ["fit", csv, "--x", "params", "--y", "loss", "--group", "group", "--at", "1e10", "1e11", "--reach",
                "3.5", *TINY, "--quiet", "--save", str(folder / "fit.nc")],
        "predict": ["predict", str(folder / "fit.nc"), "--at", "1e12", "--all-flags"],
        "run": ["run", str(ROOT / "models" / "olmo_domains.toml"), *TINY, "--quiet", "--plot",
                str(folder / "olmo.png")],
        "audit": ["audit", str(ROOT / "models" / "audit_olmo_groups.toml"), *TINY, "--quiet", "--report",
                  str(folder / "audit.md")],
        "fit-many": ["fit-many", csv, "--by", "group", "--x", "params", "--y", "loss", "--at", "1e10", *TINY,
                     "--workers", "1", "--quiet"],
        "backtest": ["backtest", csv, "--x", "params", "--y", "loss", "--group", "group", "--law", "power",
                     "--no-baselines", "--draws", "40", "--tune", "60", "--chains", "1", "--workers", "1", "--quiet"],
        "observational": ["observational", str(ROOT / "models" / "observational.toml"), "--method", "advi",
                          "--quiet"],
    }


#: the commands whose layout is checked on a full run here (the rest: scripts/table_widths.py)
CHECKED = ["fit", "predict", "audit", "fit-many"]


@pytest.mark.slow
@pytest.mark.parametrize("command", CHECKED)
def test_every_table_line_fits_100_columns_with_text_left_aligned_and_whole(command, folder, monkeypatch):
    monkeypatch.chdir(folder)
    code, widest, problems, _ = table_widths.measure(argvs(folder)[command], 100)
    assert code == 0
    assert problems == []
    if command != "predict":  # its first line is the fit's repr, a note
        assert widest <= 100


def test_the_audit_verdicts_lead_with_verdict_and_item(folder, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(argvs(folder)["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[lines.index("Verdicts") + 1]
    assert header.split()[:3] == ["verdict", "item", "claim"]
    assert any(line.startswith("    evidence: ") for line in lines)  # too long for a column at 100


def _json(argv, capsys) -> dict:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _frame(records, like: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(records, columns=like.columns).astype(like.dtypes.to_dict())


def test_fit_and_predict_json_equal_the_python_frames(folder, capsys):
    import bayescale as bs

    doc = _json(argvs(folder)["fit"], capsys)
    fit = bs.load(folder / "fit.nc")
    assert list(doc) == ["summary", "predictions", "reach", "flags"]
    summary = fit.summary(prob=0.9)
    got = pd.DataFrame(doc["summary"]).set_index("parameter").astype(summary.dtypes.to_dict())  # null: NaN
    pd.testing.assert_frame_equal(got, summary, check_names=False)
    pd.testing.assert_frame_equal(pd.DataFrame(doc["predictions"]), fit.predict([1e10, 1e11], prob=0.9))
    flags = fit.flags(at=[1e10, 1e11])
    pd.testing.assert_frame_equal(_frame(doc["flags"], flags), flags)
    doc = _json(argvs(folder)["predict"][:4], capsys)
    pd.testing.assert_frame_equal(pd.DataFrame(doc["predictions"]), fit.predict([1e12], prob=0.9))


def test_audit_json_equals_the_result_frames(folder, capsys, monkeypatch):
    import bayescale.workflows.audit as workflow

    made = []
    original = workflow.audit
    monkeypatch.setattr(workflow, "audit", lambda *a, **k: made.append(original(*a, **k)) or made[-1])
    doc = _json(argvs(folder)["audit"], capsys)
    result = made[0]
    assert list(doc)[:1] == ["verdicts"] and "flags" in doc
    verdicts = result.table().reset_index(drop=True)
    pd.testing.assert_frame_equal(_frame(doc["verdicts"], verdicts), verdicts)
    if len(result.recommendations):
        recs = result.recommendations.reset_index(drop=True)
        pd.testing.assert_frame_equal(_frame(doc["recommendations"], recs), recs)


class Head(io.StringIO):
    """A stdout whose reader goes away after ``lines`` lines, as ``| head -3`` does."""

    def __init__(self, lines: int = 3):
        super().__init__()
        self.lines = lines

    def write(self, text: str) -> int:
        if self.getvalue().count("\n") >= self.lines:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


@pytest.mark.parametrize("command", ["datasets", "fit", "predict", "run", "audit", "fit-many", "backtest",
                                     "observational"])
def test_piped_into_head_every_command_ends_without_a_traceback(command, folder, monkeypatch, capsys):
    if command == "predict" and not (folder / "fit.nc").exists():
        assert main(argvs(folder)["fit"]) == 0
    monkeypatch.chdir(folder)
    head = Head()
    monkeypatch.setattr(sys, "stdout", head)
    assert quiet_broken_pipe(main, argvs(folder)[command]) == 1
    assert head.getvalue().count("\n") >= 3  # then the reader left
    assert "Traceback" not in capsys.readouterr().err


def test_a_real_pipe_closed_before_the_command_writes_ends_quietly_with_exit_1():
    script = shutil.which("bayescale", path=os.path.dirname(sys.executable))
    # `true` leaves without reading: the first write meets a closed pipe (head -3 may leave after the write)
    for reader in ("true", "head -3"):
        done = subprocess.run(f"'{script}' datasets chinchilla | {reader}; exit ${{PIPESTATUS[0]}}", shell=True,
                              executable="bash", capture_output=True, text=True, timeout=120)
        assert done.stderr == "", reader
        assert done.returncode == (1 if reader == "true" else done.returncode) in (0, 1)
