"""MkDocs hook: the tutorials in ``notebooks/`` as documentation pages, with their outputs.

The notebooks are stored without outputs. At build time each one is executed (nbclient, the
``python3`` kernel of the interpreter running mkdocs, working directory ``notebooks/``) and
its executed copy is cached in ``build/notebooks/`` under a key made of the notebook's bytes
and the package's files, so a rebuild executes only what changed. The test suite
(``tests/test_notebooks.py``) stores the copies it executes in the same cache, so a build
after ``./dev pytest`` executes nothing. ``BAYESCALE_NOTEBOOK_CACHE`` moves the cache;
``BAYESCALE_DOCS_REUSE=1`` reuses a copy of the same notebook executed by an older state of
the package (quick rebuilds while editing prose; never for a published site).

Every executed notebook becomes ``tutorials/<name>.md``: markdown cells as they are, code in
fenced blocks, printed text in text blocks, tables as their HTML and figures as PNG files
next to the page. Nothing is loaded from the network.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "bayescale"
PAGES = "tutorials"
#: seconds a single cell may run at build time
CELL_TIMEOUT = 600


def cache_dir() -> Path:
    """Where executed copies are kept (``BAYESCALE_NOTEBOOK_CACHE`` or ``build/notebooks``)."""
    return Path(os.environ.get("BAYESCALE_NOTEBOOK_CACHE", ROOT / "build" / "notebooks"))


def package_hash() -> str:
    """Hash of every file of the package: outputs go stale when the code they ran changes."""
    digest = hashlib.sha256()
    for file in sorted(PACKAGE.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(PACKAGE)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def cache_key(path: Path) -> str:
    """``<notebook hash>-<package hash>``: a copy is reused only for the same notebook and code."""
    return f"{hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]}-{package_hash()}"


def cached_path(path: Path, key: str | None = None, cache: Path | None = None) -> Path:
    """File of the executed copy of notebook ``path`` in the cache."""
    path = Path(path)
    return Path(cache or cache_dir()) / f"{path.stem}-{key or cache_key(path)}.ipynb"


def store(book, path: Path, key: str | None = None, cache: Path | None = None) -> Path:
    """Write an executed copy of notebook ``path`` into the cache, replacing older copies of it."""
    import nbformat

    target = cached_path(path, key, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    for old in target.parent.glob(f"{Path(path).stem}-*.ipynb"):
        old.unlink()
    tmp = target.with_suffix(".tmp")
    nbformat.write(book, tmp)
    tmp.replace(target)
    return target


def executed(path: Path, cache: Path | None = None):
    """The executed notebook ``path``: from the cache, or run now (and cached)."""
    import nbformat

    key = cache_key(path)
    hit = cached_path(path, key, cache)
    if not hit.is_file() and os.environ.get("BAYESCALE_DOCS_REUSE") == "1":
        # the same notebook run by an older version of the package: fine while editing prose
        same = sorted(hit.parent.glob(f"{Path(path).stem}-{key.split('-')[0]}-*.ipynb"))
        hit = same[0] if same else hit
    if hit.is_file():
        return nbformat.read(hit, as_version=4)
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"notebook {Path(path).name} failed while building the docs:\n{exc}") from exc
    store(book, path, key, cache)
    return book


def _text_block(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```"


def to_markdown(book, stem: str) -> tuple[str, dict[str, bytes]]:
    """Markdown of an executed notebook and the figures it references (``stem/figure-N.png``)."""
    parts: list[str] = []
    figures: dict[str, bytes] = {}
    for cell in book.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
            continue
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        parts.append(f"```python\n{cell.source.rstrip()}\n```")
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream" and out.get("name") == "stdout":
                parts.append(_text_block(out["text"]))
            elif kind == "error":
                parts.append(_text_block(f"{out['ename']}: {out['evalue']}"))
            elif kind in ("execute_result", "display_data"):
                data = out.get("data", {})
                if "image/png" in data:
                    name = f"figure-{len(figures) + 1}.png"
                    figures[f"{stem}/{name}"] = base64.b64decode(data["image/png"])
                    parts.append(f"![figure {len(figures)} of {stem}]({stem}/{name})")
                elif "text/html" in data:
                    body = "\n".join(line for line in data["text/html"].splitlines() if line.strip())
                    parts.append(f'<div class="nb-output">\n{body}\n</div>')
                elif "text/plain" in data:
                    parts.append(_text_block(data["text/plain"]))
    return "\n\n".join(parts) + "\n", figures


def tutorials() -> list[Path]:
    """The notebooks rendered as pages, in order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def on_files(files, config):
    from mkdocs.structure.files import File

    for path in tutorials():
        text, figures = to_markdown(executed(path), path.stem)
        files.append(File.generated(config, f"{PAGES}/{path.stem}.md", content=text))
        for name, png in figures.items():
            files.append(File.generated(config, f"{PAGES}/{name}", content=png))
    return files


def on_page_markdown(markdown, page, config, files):
    """Say on each tutorial page where its notebook lives and that its outputs come from a real run."""
    name = Path(page.file.src_uri).stem
    if page.file.src_uri == f"{PAGES}/{name}.md" and name in {p.stem for p in tutorials()}:
        note = (f'!!! note "Executed when this site was built"\n    `notebooks/{name}.ipynb`, run from top to '
                "bottom with its small numbers of draws (raise them for real work); run it yourself in Jupyter "
                f"or with `./dev pytest tests/test_notebooks.py -k {name}`.\n\n")
        title, _, rest = markdown.partition("\n")
        return f"{title}\n\n{note}{rest}" if title.startswith("# ") else note + markdown
    return markdown
