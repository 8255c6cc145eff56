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
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

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


def defer_heavy_packages() -> list[str]:
    """Defer the packages of :data:`DEFERRED` in this process; returns the ones deferred."""
    return [name for name, served in DEFERRED.items() if defer(name, served)]
