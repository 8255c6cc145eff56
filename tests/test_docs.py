"""The documentation site builds with ``mkdocs build --strict`` (broken links and references fail),
offline, with the API reference generated from the docstrings and the tutorials rendered with
their outputs, and says what the README says.

The build executes the tutorials (``docs/hooks/notebooks.py``); here it reads executed copies
prepared by the fixture instead (the real notebooks with known outputs added), so the suite
executes the notebooks only once, in ``tests/test_notebooks.py``."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report import browser  # noqa: F401  (headless Chromium, as the report tests drive it)

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: a 1x1 PNG, the figure every pre-executed tutorial shows
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
TABLE = '<table border="1" class="dataframe"><tr><th>alpha</th><td>0.3</td></tr></table>'


def _hook():
    spec = importlib.util.spec_from_file_location("notebooks_hook", DOCS / "hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pre_executed(cache: Path) -> None:
    """Executed copies of every tutorial in ``cache``: its real cells, each with a known output."""
    import nbformat

    hook = _hook()
    for path in hook.tutorials():
        book = nbformat.read(path, as_version=4)
        for i, cell in enumerate(c for c in book.cells if c.cell_type == "code"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {i} printed\n"),
                            nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                            nbformat.v4.new_output("execute_result", data={"text/html": TABLE, "text/plain": "table"},
                                                   execution_count=i + 1)]
        hook.store(book, path, cache=cache)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    cache = tmp_path_factory.mktemp("notebooks")
    _pre_executed(cache)
    # REUSE: the copies stay valid even if the package changes while the site builds
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", BAYESCALE_NOTEBOOK_CACHE=str(cache), BAYESCALE_DOCS_REUSE="1")
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
    names = ("bayescale.fitting.dispatch.fit", "ScalingFit", "StackedFit", "ChinchillaFit", "fit_many", "render_report")
    for name in names:
        assert name in api, name
    # a numpydoc parameter description, rendered
    assert "Columns of the scale and the metric" in api


def test_example_report_and_backtest_are_published_with_the_site(site):
    assert (site / "examples" / "olmo_domains_report.html").is_file()
    assert "calibrated" in (site / "backtest" / "index.html").read_text(encoding="utf-8")


def test_each_tutorial_is_a_page_with_its_tables_figures_and_printed_text(site):
    import nbformat

    for path in _hook().tutorials():
        page = site / "tutorials" / path.stem / "index.html"
        text = page.read_text(encoding="utf-8")
        book = nbformat.read(path, as_version=4)
        cells = [c for c in book.cells if c.cell_type == "code"]
        title = book.cells[0].source.splitlines()[0].removeprefix("# ")
        assert title in text, path.name
        assert "Executed when this site was built" in text
        assert text.count('class="dataframe"') == len(cells)
        assert f"cell {len(cells) - 1} printed" in text
        figures = re.findall(r'<img alt="figure \d+ of [^"]+" src="([^"]+)"', text)
        assert len(figures) == len(cells), path.name
        assert all((page.parent / src).resolve().is_file() for src in figures), figures
        assert base64.b64decode(PNG) == (page.parent / figures[0]).read_bytes()
    overview = (site / "tutorials" / "index.html").read_text(encoding="utf-8")
    assert "01_first_fit/" in overview


def test_the_docs_build_executes_a_notebook_once_and_reuses_its_copy(tmp_path, monkeypatch):
    import nbformat

    hook = _hook()
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    path = tmp_path / "99_answer.ipynb"
    nbformat.write(book, path)
    run = hook.executed(path, cache=tmp_path / "cache")
    assert run.cells[0].outputs[0]["text"] == "42\n"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"99_answer-{hook.cache_key(path)}.ipynb"]

    import nbclient

    def refuse(*args, **kwargs):
        raise AssertionError("executed again")

    monkeypatch.setattr(nbclient.NotebookClient, "execute", refuse)
    assert hook.executed(path, cache=tmp_path / "cache").cells[0].outputs[0]["text"] == "42\n"
    text, figures = hook.to_markdown(run, "99_answer")
    assert text == "```python\nprint(6 * 7)\n```\n\n```text\n42\n```\n" and figures == {}
    path.write_text(path.read_text().replace("6 * 7", "6 * 8"))  # a changed notebook is run again
    with pytest.raises(AssertionError, match="executed again"):
        hook.executed(path, cache=tmp_path / "cache")


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

    import bayescale.laws.chinchilla
    import bayescale.results.flags

    source = inspect.getsource(bayescale.results.flags) + inspect.getsource(bayescale.laws.chinchilla)
    codes = set(re.findall(r'_flag\(\s*"([a-z_]+)"', source))
    assert {"sampler_rhat", "extrapolation", "law_disagreement"} <= codes
    page = (DOCS / "concepts" / "flags.md").read_text(encoding="utf-8")
    assert [c for c in sorted(codes) if f"`{c}`" not in page] == []


def test_formulas_render_as_math_offline_in_headless_chromium(site, browser):  # noqa: F811
    """The tutorials with formulas show typeset math (MathJax served with the site), not raw ``$...$``."""
    assert (site / "js" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    for page in ("tutorials/01_first_fit/index.html", "tutorials/04_audit_chinchilla/index.html"):
        browser.get((site / page).resolve().as_uri())
        rendered = browser.execute_script(
            "return MathJax.startup.promise.then(() => document.querySelectorAll('mjx-container svg').length)")
        text = browser.execute_script("return document.querySelector('article').innerText")
        marked = browser.execute_script("return document.querySelectorAll('.arithmatex').length")
        assert marked and rendered >= marked, (page, marked, rendered)
        assert not re.search(r"\$[^$\n]+\$|\\\(|\\\[", text), (page, re.findall(r".{20}\$.{20}", text)[:3])
