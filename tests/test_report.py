"""The HTML report: what a person sees in a real (headless Chromium) browser, and that it matches the fit.

The shipped example (docs/examples/olmo_domains_report.html, made by ``bayescale run
models/olmo_domains.toml --report ...``) and a report made here from a small fit through the
CLI are both opened in Chromium driven by Selenium with the Debian chromedriver. A screenshot
of each is kept in ``out/test-artifacts/`` (git-ignored). ``.ci/run`` installs Chromium and sets
``BAYESCALE_REQUIRE_BROWSER=1`` so that, in CI, a missing browser fails instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayescale.cli import main
from bayescale.errors import OutputError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "olmo_domains_report.html"
ARTIFACTS = ROOT / "out" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1600"]


def _browser_or_skip():
    if CHROMIUM and CHROMEDRIVER:
        return
    message = "headless Chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
    if os.environ.get("BAYESCALE_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bayescale-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def look(driver, path: Path, shot: str) -> dict:
    """Open ``path`` and collect what a reader sees; keep a full-page screenshot."""
    from selenium.webdriver.common.by import By

    driver.get_log("browser")  # drop messages from an earlier page
    driver.get(path.resolve().as_uri())
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(int(height), 800), 12000))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / shot))
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt])")
    tables = driver.find_elements(By.CSS_SELECTOR, "table.data")
    return {
        "title": driver.title,
        "h1": driver.find_element(By.TAG_NAME, "h1").text,
        "h2": [h.text for h in driver.find_elements(By.TAG_NAME, "h2")],
        "images": images,
        "tables": len(tables),
        "visible_rows": sum(len([r for r in t.find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()])
                            for t in tables),
        "command": driver.find_element(By.ID, "command").text,
        "console": [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")],
        "text": driver.find_element(By.TAG_NAME, "body").text,
    }


class _Resources(HTMLParser):
    """Every URL the page would load (src, href of link tags) and whether it declares a CSP."""

    def __init__(self):
        super().__init__()
        self.urls, self.csp = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "content-security-policy":
            self.csp = "default-src 'none'" in attrs.get("content", "")
        for name in ("src", "href"):
            if name in attrs and not (tag == "a" and attrs[name].startswith("#")):
                self.urls.append(attrs[name])


def assert_self_contained(html: str) -> None:
    parser = _Resources()
    parser.feed(html)
    assert parser.csp, "the page must forbid network requests with a Content-Security-Policy"
    assert parser.urls, "expected embedded figures"
    assert all(url.startswith("data:image/png;base64,") for url in parser.urls), parser.urls


EXPECTED_SECTIONS = ["Data", "Fitted curves", "Parameters", "Predictions at the targets", "Group offsets and gaps",
                     "Flags", "Sampler diagnostics", "Reproduce"]


def test_shipped_example_report_in_browser(browser):
    assert EXAMPLE.is_file(), "bayescale run models/olmo_domains.toml --report docs/examples/olmo_domains_report.html"
    assert_self_contained(EXAMPLE.read_text(encoding="utf-8"))
    seen = look(browser, EXAMPLE, "example_report.png")
    assert seen["console"] == []
    assert seen["h1"].startswith("Do all communities gain equally from scale?")
    assert seen["h2"] == EXPECTED_SECTIONS
    assert len(seen["images"]) == 1
    complete, width, height, alt = seen["images"][0]
    assert complete and width > 400 and height > 300, seen["images"]
    assert "power law" in alt
    assert seen["tables"] >= 7 and seen["visible_rows"] >= 30
    assert seen["command"].startswith("bayescale run models/olmo_domains.toml")
    assert "--seed 20261125" in seen["command"]
    for domain in ("4chan", "pile", "twitterAEE"):
        assert domain in seen["text"]
    assert "extrapolation" in seen["text"]


# ---------------------------------------------------------------------------- a report made now
@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A two-group power-law study run through ``bayescale run ... --report``."""
    folder = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(7)
    x = np.tile(np.logspace(3, 5, 9), 2)
    group = np.repeat(["small", "large"], 9)
    a = np.where(group == "small", 30.0, 45.0)
    y = (1.5 + a * x ** -0.4) * np.exp(rng.normal(0, 0.01, x.size))
    pd.DataFrame({"tokens": x, "loss": y, "source": group}).to_csv(folder / "runs.csv", index=False)
    (folder / "study.toml").write_text(
        'title = "Two sources <and> a test"\n[data]\npath = "runs.csv"\n'
        '[model]\nlaw = "power"\nx = "tokens"\ny = "loss"\ngroup = "source"\n'
        "[sampling]\ndraws = 150\ntune = 200\nchains = 2\nseed = 3\n"
        "[predict]\nat = [1e6, 1e7]\nprob = 0.8\ndiscrepancy = 0.02\n", encoding="utf-8")
    out = folder / "out" / "study.html"
    code = main(["run", str(folder / "study.toml"), "--quiet", "--plain", "--report", str(out),
                 "--save", str(folder / "out" / "study.nc")])
    assert code == 0
    return out


@pytest.mark.slow
def test_cli_report_matches_fit_and_renders(made, browser):
    html = made.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "Two sources &lt;and&gt; a test" in html  # the title is escaped
    seen = look(browser, made, "cli_report.png")
    assert seen["console"] == []
    assert seen["h1"] == "Two sources <and> a test"
    assert seen["h2"] == EXPECTED_SECTIONS
    assert all(c and w > 400 for c, w, _, _ in seen["images"])
    # the reproduce command names the spec, the report and the seed the fit used
    assert re.fullmatch(r"bayescale run \S+study\.toml --seed 3 --save \S+study\.nc --report \S+study\.html "
                        r"--plain --quiet", seen["command"]), seen["command"]
    # predictions at both targets, for both groups, at the spec's 80% level
    assert "80% posterior predictive interval" in seen["text"]
    assert seen["text"].count("s = 0.02 (the sd of log y grows by s per decade beyond the data)") == 2
    assert seen["text"].count("1e+06") >= 2 and seen["text"].count("1e+07") >= 2
    assert "large - small" in seen["text"] or "small - large" in seen["text"]


@pytest.mark.slow
def test_report_numbers_are_the_fits(made):
    """The parameter table shows the posterior of the fit the CLI made and saved."""
    import bayescale as bs
    from bayescale.reports import render_report

    fit = bs.load(made.parent / "study.nc")
    alpha = fit.summary(prob=0.8).loc["alpha", "mean"]
    assert 0.25 < alpha < 0.55  # simulated with 0.4
    from bayescale.core.console import format_number

    assert f">{format_number(float(alpha))}<" in made.read_text(encoding="utf-8")
    again = render_report(fit, at=[1e6], prob=0.8, title="t", command="bayescale run x")
    assert "Predictions at the targets" in again and "bayescale run x" in again
    assert "Model discrepancy beyond the data: the drift prior (shipped v1" in again  # the default, named


def test_report_path_must_be_html(tmp_path):
    from bayescale.reports import check_report_path

    with pytest.raises(OutputError, match=r"report '.*report\.pdf' must end in \.html"):
        check_report_path(tmp_path / "report.pdf")
    with pytest.raises(OutputError, match="folder .* does not exist"):
        check_report_path(tmp_path / "missing" / "r.html")


def test_bad_report_path_fails_before_sampling(tmp_path, capsys):
    spec = ROOT / "models" / "olmo_domains.toml"
    assert main(["run", str(spec), "--report", str(tmp_path / "r.txt")]) == 2
    assert "must end in .html" in capsys.readouterr().err


def test_reproduce_command_quotes_and_keeps_order():
    import argparse

    from bayescale.reports import reproduce_command

    args = argparse.Namespace(command="run", spec="my spec.toml", draws=10, tune=None, seed=None, plain=True,
                              quiet=False, at=[1e6, 2e6], handler=print)
    assert reproduce_command(args, ["spec"], seed=42) == (
        "bayescale run 'my spec.toml' --draws 10 --seed 42 --plain --at 1e+06 2e+06")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bayescale.errors.SamplingWarning")  # Pareto k with 2 x 150 draws
def test_stacked_fit_report_has_the_comparison_and_weights(made):
    """A stacked fit adds the LOO table and weights; two copies of one fit must share the weight evenly."""
    import bayescale as bs
    from bayescale.reports import render_report
    from bayescale.results.stacked import StackedFit

    fit = bs.load(made.parent / "study.nc")
    html = render_report(StackedFit({"power": fit, "copy": fit}), at=[1e6], prob=0.8)
    headings = re.findall(r"<h2>([^<]*)</h2>", html)
    assert headings == [*EXPECTED_SECTIONS[:4], "Law comparison", *EXPECTED_SECTIONS[4:]]
    assert "Stacking weights: power 0.50, copy 0.50." in html
    assert "<h3>power law</h3>" in html and "<h3>copy law</h3>" in html
    assert ">stacked<" in html  # the by-law prediction table


@pytest.mark.slow
def test_audit_writes_an_html_report_when_asked(tmp_path, browser):
    """``bayescale audit claim.toml --report x.html`` writes the HTML page (Markdown otherwise)."""
    out = tmp_path / "audit.html"
    claim = ROOT / "models" / "audit_chinchilla.toml"
    code = main(["audit", str(claim), "--draws", "60", "--tune", "100", "--chains", "2", "--quiet", "--plain",
                 "--report", str(out)])
    assert code == 0
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    seen = look(browser, out, "audit_report.png")
    assert seen["console"] == []
    assert seen["h2"][:5] == ["Verdicts", "Each claim on the posterior", "Claimed values against the posterior",
                              "Audit flags", "Where 5 more runs would most reduce each interval"]
    assert "Fitted curves" in seen["h2"] and "Reproduce" in seen["h2"]
    # Hoffmann's beta = 0.28 lies far outside the posterior of the 245 runs (Besiroglu et al. 2024)
    assert re.search(r'<tr><td>beta</td>.*?<td><span class="verdict v-no">not supported</span></td>', html)
    assert html.count('<img src="data:image/png;base64,') >= 1 + 10  # fitted curves + a figure per claimed item
    assert seen["command"].startswith("bayescale audit ") and "--seed 20240415" in seen["command"]
