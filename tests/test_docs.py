"""The documentation site builds with ``mkdocs build --strict`` (broken links and references fail),
offline, with the API reference generated from the docstrings, and says what the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


class _Loads(HTMLParser):
    """URLs a page loads by itself (scripts, stylesheets, images, fonts), not links a reader follows."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "link" and attrs.get("rel") in ("stylesheet", "preload", "preconnect") and attrs.get("href"):
            self.loads.append(attrs["href"])


def test_site_builds_strictly_and_loads_nothing_from_the_network(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 12
    for page in pages:
        if page.parent.name == "examples":
            continue
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        remote = [u for u in parser.loads if re.match(r"(https?:)?//", u)]
        assert remote == [], f"{page.relative_to(site)} loads {remote}"


def test_api_reference_comes_from_the_docstrings(site):
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("bayescale.fitting.fit", "ScalingFit", "StackedFit", "ChinchillaFit", "fit_many", "render_report"):
        assert name in api, name
    # a numpydoc parameter description, rendered
    assert "Columns of the scale and the metric" in api


def test_example_report_and_backtest_are_published_with_the_site(site):
    assert (site / "examples" / "olmo_domains_report.html").is_file()
    assert "calibrated" in (site / "backtest" / "index.html").read_text(encoding="utf-8")


def test_getting_started_runs_the_readme_commands_as_written():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    assert first_block in index
    assert "./dev bayescale run models/olmo_domains.toml" in first_block and "./dev pytest" in first_block


def test_every_bundled_dataset_is_cited():
    from bayescale import datasets

    citations = (DOCS / "citations.md").read_text(encoding="utf-8")
    missing = [name for name in datasets.names() if f"`{name}`" not in citations]
    assert missing == [], f"add {missing} to docs/citations.md (see its card: bayescale datasets NAME)"


def test_every_flag_code_is_explained():
    import inspect

    import bayescale.chinchilla
    import bayescale.flags

    source = inspect.getsource(bayescale.flags) + inspect.getsource(bayescale.chinchilla)
    codes = set(re.findall(r'_flag\(\s*"([a-z_]+)"', source))
    assert {"sampler_rhat", "extrapolation", "law_disagreement"} <= codes
    page = (DOCS / "concepts" / "flags.md").read_text(encoding="utf-8")
    assert [c for c in sorted(codes) if f"`{c}`" not in page] == []
