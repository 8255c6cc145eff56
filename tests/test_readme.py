"""The README's two commands are what users and CI run: check them and run the main job as written."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block and text.index(block.group(0)) < text.index("\n", text.index("# bayescale") + 1) + 5, \
        "the README must start with its commands"
    return [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]


def test_readme_starts_with_exactly_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.startswith("./dev bayescale run models/")
    assert (ROOT / main_job.split()[-1]).is_file()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines(), f".ci/run must call {tests!r}"


@pytest.mark.slow
def test_main_job_runs_as_written(tmp_path):
    main_job = readme_commands()[0]
    env = {**os.environ, "BAYESCALE_PLAIN": "1"}
    result = subprocess.run(["bash", "-c", main_job], cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for heading in ("Posterior summary", "Predictions (90% predictive interval)", "Flags", "wrote figure"):
        assert heading in result.stdout
    spec_plot = re.search(r"wrote figure (\S+)", result.stdout).group(1)
    assert (ROOT / spec_plot).stat().st_size > 10_000
