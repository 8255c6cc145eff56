"""Real scaling data bundled with bayescale, each with a card giving origin and citation.

>>> from bayescale import datasets
>>> datasets.names()                     # what is bundled
>>> df = datasets.load("olmo_domains")   # a tidy pandas DataFrame
>>> print(datasets.card("olmo_domains")) # origin, license, citation, columns
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from bayescale.errors import DataError

_PACKAGE = "bayescale.datasets"


def names() -> list[str]:
    """Names of the bundled datasets (one CSV and one Markdown card each)."""
    return sorted(p.name[:-4] for p in resources.files(_PACKAGE).iterdir() if p.name.endswith(".csv"))


def _file(name: str, suffix: str):
    path = resources.files(_PACKAGE) / f"{name}{suffix}"
    if not isinstance(name, str) or not path.is_file():
        raise DataError(f"unknown dataset {name!r}; bundled datasets: {', '.join(names())}")
    return path


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a tidy DataFrame."""
    with _file(name, ".csv").open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)


def card(name: str) -> str:
    """The dataset's card: what it is, where it comes from, license and citation."""
    _file(name, ".csv")
    path = resources.files(_PACKAGE) / f"{name}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else f"{name}: no card"
