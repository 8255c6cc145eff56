"""Packages the ``bayescale`` script imports only when it uses what their ``__init__`` adds.

A fit needs ``pymc_extras.prior`` and nutpie, yet importing ``pymc_extras.prior`` first runs
``pymc_extras/__init__`` (pathfinder, marginalisation, statespace), and the module
``nutpie.sample`` imports the ``arviz`` meta-package, which brings in arviz-plots and
matplotlib: together about 0.8 s of a 4 s ``bayescale fit`` process. So the
console script (:func:`defer_heavy_packages`) registers both packages without running their
``__init__``: submodules import as usual, and the first name asked of the package itself runs
the real ``__init__`` then, so nothing behaves differently except when it loads. The two names
nutpie asks of ``arviz`` are served by arviz-base, where ``arviz`` takes them from.

Like :mod:`bayescale.core.heap`, this acts only in bayescale's own processes (the script's, and
the workers of :class:`bayescale.workflows.executors.LocalExecutor`): a library must not change
how a user's session imports.

Two more packages do work at import that such a process never uses, and
:func:`shortcut_imports` skips it once the module is imported, giving the same answers:

- xarray asks, for every array it wraps, whether it is a dask array or collection, and where
  dask is installed (the ``dask`` extra) it imports ``dask.array`` and ``dask.base`` to find out
  (0.6-0.9 s). The shortcut gives dask's own answer without the import: no object is a dask
  array before ``dask.array`` is imported, and an object without ``__dask_graph__`` is no
  collection.
- SciPy parses the docstrings of about 800 functions as ``scipy.stats`` imports, to add a
  note on array API support to each (0.4 s). The shortcut keeps the docstrings as written.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable

DEFERRED: dict[str, dict[str, str]] = {
    "pymc_extras": {},
    "arviz": {"from_dict": "arviz_base", "dict_to_dataset": "arviz_base"},
}


class DeferredPackage(types.ModuleType):
    """A package whose ``__init__`` runs when a name it would define is first asked for."""

    served: dict[str, str] = {}

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self.served:
            return getattr(importlib.import_module(self.served[name]), name)
        self.__class__ = types.ModuleType  # from here on a plain module, also while __init__ runs
        try:
            self.__spec__.loader.exec_module(self)
        except BaseException:
            sys.modules.pop(self.__name__, None)  # as a failed import leaves it
            raise
        return getattr(self, name)


def defer(package: str, served: dict[str, str]) -> bool:
    """Register ``package`` without running its ``__init__``; False if it is imported or missing."""
    if package in sys.modules:
        return False
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = type(f"Deferred_{package}", (DeferredPackage,), {"served": dict(served)})
    sys.modules[package] = module
    return True


class _IsLoadedDaskArray(type):
    def __instancecheck__(cls, obj) -> bool:
        array = sys.modules.get("dask.array")
        return array is not None and isinstance(obj, array.Array)


class LoadedDaskArray(metaclass=_IsLoadedDaskArray):
    """``isinstance(x, LoadedDaskArray)`` is ``isinstance(x, dask.array.Array)``, without importing dask."""


class _AfterImport:
    """Finds module ``name`` as usual, and calls ``then(module)`` once it has run (a finder and loader)."""

    def __init__(self, name: str, then: Callable[[types.ModuleType], None]):
        self.name, self.then, self.loader = name, then, None

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None:
                self.loader, spec.loader = spec.loader, self
                return spec
        return None

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        self.then(module)


def _answer_dask_without_importing_it(pycompat: types.ModuleType) -> None:
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    entry_type = getattr(pycompat, "DuckArrayModule", None)
    if not isinstance(cache, dict) or entry_type is None or "dask" in cache or "dask" in sys.modules:
        return
    from importlib import metadata

    try:
        version = pycompat.Version(metadata.version("dask"))
    except (metadata.PackageNotFoundError, AttributeError):
        return  # without dask, xarray's own check is already cheap
    entry = object.__new__(entry_type)
    entry.module, entry.version, entry.type, entry.available = None, version, (LoadedDaskArray,), True
    cache["dask"] = entry


def _ask_dask_only_about_collections(utils: types.ModuleType) -> None:
    ask_dask = getattr(utils, "is_dask_collection", None)
    if ask_dask is None:
        return

    def is_dask_collection(x: object) -> bool:
        if isinstance(x, type) or not hasattr(x, "__dask_graph__"):  # dask.base.is_dask_collection's first test
            return False
        return ask_dask(x)

    utils.is_dask_collection = is_dask_collection


class _DocAsWritten:
    """Stands in for SciPy's docstring parser where it only appends a note: the docstring as written."""

    def __init__(self, f):
        self.doc = getattr(f, "__doc__", None) or ""

    def __getitem__(self, section: str) -> list:
        return []

    def __str__(self) -> str:
        return "\n" + self.doc  # SciPy drops the first line, the signature a parsed docstring starts with


def _keep_docstrings_as_written(array_api: types.ModuleType) -> None:
    parser, capabilities = getattr(array_api, "FunctionDoc", None), getattr(array_api, "xp_capabilities", None)
    if parser is None or capabilities is None:
        return
    array_api.FunctionDoc = _DocAsWritten

    def probe():
        """Probe."""

    try:
        capabilities(capabilities_table={})(probe)
        assert probe.__doc__ == "Probe."
    except Exception:  # SciPy uses the parser in another way now: leave it as it was
        array_api.FunctionDoc = parser


SHORTCUTS = {
    "xarray.namedarray.utils": _ask_dask_only_about_collections,
    "xarray.namedarray.pycompat": _answer_dask_without_importing_it,
    "scipy._lib._array_api": _keep_docstrings_as_written,
}


def shortcut_imports(names=tuple(SHORTCUTS)) -> list[str]:
    """Apply the shortcuts of these modules (of :data:`SHORTCUTS`) once they import; returns the ones set.

    A module already imported, or already waited for, is left alone.
    """
    waiting = {f.name for f in sys.meta_path if isinstance(f, _AfterImport)}
    todo = [name for name in names if name not in sys.modules and name not in waiting]
    for name in todo:
        sys.meta_path.insert(0, _AfterImport(name, SHORTCUTS[name]))
    return todo


def defer_heavy_packages() -> list[str]:
    """Defer the packages of :data:`DEFERRED` and set the import shortcuts in this process; returns their names."""
    return [name for name, served in DEFERRED.items() if defer(name, served)] + shortcut_imports()
