"""Initial points and variable shapes of a model, computed without PyTensor's C virtual machine.

nutpie needs two small programs besides the log density: a seeded function giving each
chain's jittered starting point, and the shapes of the variables it stores. PyMC and nutpie
compile both in PyTensor's ``FAST_COMPILE`` mode, whose virtual machine first loads the C
lazy linker, and with it ``setuptools`` (0.09-0.13 s of a fresh process; a 0.7 s C compile where
the compile cache is empty). Both programs run once per fit and are tiny, so here they run op
by op in Python instead (``FAST_COMPILE``'s own rewrites, its own Python implementations of each
op): the same values, without the C machinery. A structure whose graphs are not on disk yet is
still rewritten by nutpie's own code, which computes the shapes its way.

:func:`initial_point_function` is ``pymc.initial_point.make_initial_point_fn`` and
:func:`variable_shapes` is ``nutpie.compile_pymc._compute_shapes``, each with that one change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


@functools.cache
def _python_mode():  # FAST_COMPILE's rewrites (not compiled.python_mode's), so the values are PyMC's
    from pytensor.compile.mode import FAST_COMPILE, Mode
    from pytensor.link.basic import PerformLinker

    return Mode(PerformLinker(), FAST_COMPILE.provided_optimizer)


def initial_point_function(model: Any, *, jitter: bool = True) -> Callable[[Any], dict]:
    """A function of a seed giving every free variable's (transformed) initial value.

    Parameters
    ----------
    model : pymc.Model
        The model; each free variable starts at its support point.
    jitter : bool
        Add PyMC's uniform(-1, 1) jitter to every free variable, as nutpie does.

    Returns
    -------
    callable
        ``f(seed) -> {value variable name: array}``, as ``make_initial_point_fn`` returns.
    """
    from pymc.initial_point import make_initial_point_expression
    from pymc.pytensorf import compile, find_rng_nodes, replace_rng_nodes, reseed_rngs
    from pymc.util import get_transformed_name

    values = make_initial_point_expression(
        free_rvs=model.free_RVs, rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies=dict(model.rvs_to_initial_values), jitter_rvs=set(model.free_RVs) if jitter else None,
        default_strategy="support_point", return_transformed=True)
    function = compile(inputs=[], outputs=replace_rng_nodes(values), mode=_python_mode())
    names = [var.name if model.rvs_to_transforms[var] is None
             else get_transformed_name(var.name, model.rvs_to_transforms[var]) for var in model.free_RVs]
    rngs = find_rng_nodes(function.maker.fgraph.outputs)

    @functools.wraps(function)
    def seeded(seed, *args, **kwargs):
        reseed_rngs(rngs, seed)
        return dict(zip(names, function(*args, **kwargs), strict=True))

    return seeded


def variable_shapes(model: Any, point: dict) -> dict[str, Any]:
    """The shape (an integer array) of every value variable, free variable and deterministic at ``point``."""
    import pytensor
    from pytensor.tensor import as_tensor

    stored = {var.name: var for var in model.value_vars + model.free_RVs + model.deterministics
              if var not in model.observed_RVs + model.potentials}
    shapes = pytensor.function(
        inputs=[], outputs=[as_tensor(var.shape) for var in stored.values()],
        givens=[(obs, model.rvs_to_values[obs]) for obs in model.observed_RVs]
        + [(stored[name], point[name]) for name in stored if name in point],
        mode=_python_mode(), on_unused_input="ignore")
    return dict(zip(stored, shapes(), strict=True))
