"""The one table layout (bayescale.core.tables) and the machine formats (bayescale.core.formats)."""

from __future__ import annotations

import importlib.util
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.core.console import emit_tables, note, output, print_table, use_color
from bayescale.core.tables import Table, render, screen_width

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("table_widths", ROOT / "scripts" / "table_widths.py")
table_widths = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table_widths)

LONG = "the claimed value lies inside the posterior interval at its level; two decades beyond the data"


def verdicts():
    return pd.DataFrame({"item": ["alpha", "loss at 5.76e23 FLOP"], "claim": ["alpha = 0.34", "loss 1.94"],
                         "evidence": [LONG, "posterior median 1.95"], "verdict": ["supported", "not supported"],
                         "z": [0.31, -4.2]})


def test_text_is_left_aligned_numbers_right_aligned_when_the_table_fits():
    lines = render(Table(verdicts(), "Verdicts"), 200)
    assert lines[0] == "Verdicts"
    header, first, second = lines[1:]
    assert header.split() == ["item", "claim", "evidence", "verdict", "z"]
    assert first.startswith("alpha                 alpha = 0.34  the claimed value")
    assert header.index("verdict") == first.index("supported") == second.index("not supported")  # left
    assert first.endswith(" 0.31") and second.endswith("-4.2") and header.endswith("    z")  # right


def test_a_long_column_wraps_to_the_screen_and_keeps_every_word():
    lines = render(Table(verdicts(), "Verdicts"), 70)
    assert max(map(len, lines)) <= 70
    assert lines[1] == "item              claim         evidence           verdict           z"
    assert lines[2] == "alpha             alpha = 0.34  the claimed value  supported      0.31"
    assert lines[3] == "                                lies inside the"
    assert lines[-2:] == ["loss at 5.76e23   loss 1.94     posterior median   not supported  -4.2",
                          "FLOP                            1.95"]
    assert table_widths.problems(Table(verdicts()), lines, 70) == []


def test_lead_columns_come_first_and_long_prose_moves_under_its_row():
    lines = render(Table(verdicts(), "Verdicts", lead=("verdict", "item"), below=("evidence",)), 60)
    assert lines[1].split() == ["verdict", "item", "claim", "z"]
    assert lines[2] == "supported      alpha                 alpha = 0.34  0.31"
    assert lines[3] == "    evidence: the claimed value lies inside the posterior"
    assert lines[4] == "      interval at its level; two decades beyond the data"
    assert lines[5].startswith("not supported  loss at 5.76e23 FLOP")
    assert max(map(len, lines)) <= 60
    # where everything fits, nothing moves
    assert render(Table(verdicts(), lead=("verdict",), below=("evidence",)), 200)[0].split()[2] == "claim"


def test_a_wide_table_of_numbers_splits_into_blocks_that_repeat_its_first_column():
    frame = pd.DataFrame(np.arange(36.0).reshape(3, 12) * 1001, columns=[f"quantile_{i:02d}" for i in range(12)])
    frame.insert(0, "parameter", ["alpha", "E", "sigma"])
    lines = render(Table(frame, "Posterior"), 80)
    blocks = "\n".join(lines[1:]).split("\n\n")
    assert len(blocks) == 3 and max(map(len, lines)) <= 80
    assert [b.splitlines()[0].split()[0] for b in blocks] == ["parameter"] * 3
    shown = [w for b in blocks for w in b.split() if w.startswith("quantile")]
    assert shown == list(frame.columns[1:])  # every column once, in order
    assert blocks[1].splitlines()[1] == "alpha             5005         6006         7007         8008         9009"


def test_blank_numbers_and_missing_text_print_empty():
    frame = pd.DataFrame({"group": ["a", None], "x": [1e7, math.nan], "n": [3, 4]})
    assert render(Table(frame), 100) == ["group      x  n", "a      1e+07  3", "              4"]


def test_screen_width_is_columns_else_100_off_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "73")
    assert screen_width() == 73
    monkeypatch.delenv("COLUMNS")
    assert screen_width() == 100  # pytest's stdout is not a terminal


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.setattr("sys.stdout", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("BAYESCALE_PLAIN", raising=False)
    assert use_color() and not use_color(plain=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color()


def frames():
    summary = pd.DataFrame({"mean": [0.3, math.nan], "r_hat": [1.0, 1.01]},
                           index=pd.Index(["alpha", "E"], name="parameter"))
    reach = pd.DataFrame({"group": ["pile"], "target": [1.9], "upper": [math.inf], "n": [np.int64(3)]})
    return summary, reach


def test_json_is_one_object_per_table_with_nan_as_null(capsys):
    summary, reach = frames()
    with output("json"):
        print_table(summary, "Posterior summary (90% HDI)", name="summary")
        note("wrote fit x.nc")
        print_table(reach, "Reach", index=False, name="reach")
        assert capsys.readouterr() == ("", "wrote fit x.nc\n")  # tables are written when the command ends
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc == {"summary": [{"parameter": "alpha", "mean": 0.3, "r_hat": 1.0},
                               {"parameter": "E", "mean": None, "r_hat": 1.01}],
                   "reach": [{"group": "pile", "target": 1.9, "upper": "inf", "n": 3}]}
    pd.testing.assert_frame_equal(pd.DataFrame(doc["summary"]).set_index("parameter"), summary)


def test_csv_prints_one_table_plainly_and_several_into_a_folder(tmp_path, capsys):
    summary, reach = frames()
    emit_tables({"reach": reach}, "csv")
    assert capsys.readouterr().out == "group,target,upper,n\npile,1.9,inf,3\n"
    emit_tables({"summary": summary, "reach": reach}, "csv", tmp_path / "tables")
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["reach.csv", "summary.csv"]
    assert (tmp_path / "tables" / "summary.csv").read_text() == "parameter,mean,r_hat\nalpha,0.3,1.0\nE,,1.01\n"
    assert captured.out == "" and captured.err.splitlines() == [f"wrote {tmp_path}/tables/summary.csv",
                                                                f"wrote {tmp_path}/tables/reach.csv"]


def test_markdown_gives_a_heading_and_a_table_per_frame(capsys):
    _, reach = frames()
    emit_tables({"reach": Table(reach, "Reach: step at which the mean curve gets to each target")}, "markdown")
    assert capsys.readouterr().out == ("### Reach: step at which the mean curve gets to each target\n\n"
                                       "| group | target | upper | n |\n|---|---|---|---|\n| pile | 1.9 | inf | 3 |\n")


def test_an_empty_table_says_none(capsys):
    print_table(pd.DataFrame(columns=["severity", "code"]), "Flags", index=False)
    assert capsys.readouterr().out == "\nFlags: none\n"


def test_the_layout_check_catches_right_aligned_text():
    frame = pd.DataFrame({"code": ["a", "b"], "explanation": ["ok", "a much longer message"]})
    right = frame.to_string(index=False).splitlines()  # how tables printed before: text right-aligned
    assert right[1] == "   a                    ok"
    assert table_widths.problems(Table(frame), right, 100) == [f"explanation: text after padding: {right[1]!r}"]
    cut = table_widths.problems(Table(frame), right[:2], 100)
    assert "explanation: 'a much longer message' not shown in full" in cut
    assert table_widths.problems(Table(frame), render(Table(frame), 100), 100) == []


def test_output_needs_a_machine_format(tmp_path, capsys):
    from bayescale.cli import main

    assert main(["fit", "nope.csv", "--x", "a", "--y", "b", "--output", str(tmp_path / "t")]) == 2
    assert capsys.readouterr().err == ("error: --output DIR needs --format csv, json or markdown "
                                       "(one file per table)\n")
