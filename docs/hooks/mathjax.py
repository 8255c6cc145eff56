"""Serve MathJax with the site, so formulas render offline (nothing is fetched when a page is read).

MathJax comes from the ``django-static-mathjax`` package (MathJax 3, its files only; it needs no
Django): its single-file TeX-to-SVG build ``tex-svg.js`` and its licence are added to the site
as ``js/mathjax/``. ``pymdownx.arithmatex`` (generic mode) marks ``$...$`` and ``$$...$$`` in the
pages, ``js/mathjax-config.js`` tells MathJax to typeset only those.
"""

from __future__ import annotations

from pathlib import Path

#: where the site serves MathJax (mkdocs.yml's extra_javascript names this file)
SCRIPT = "js/mathjax/tex-svg.js"


def mathjax_dir() -> Path:
    import mathjax  # the django-static-mathjax package

    return Path(mathjax.__file__).parent / "static" / "mathjax"


def on_files(files, config):
    from mkdocs.structure.files import File

    source = mathjax_dir()
    files.append(File.generated(config, SCRIPT, abs_src_path=str(source / "es5" / "tex-svg.js")))
    files.append(File.generated(config, "js/mathjax/LICENSE", abs_src_path=str(source / "LICENSE")))
    return files
