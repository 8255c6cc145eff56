r"""Fit one model per group of rows (hundreds to thousands of curves) and collect tidy tables.

``fit_many(df, by=["task"], x=..., y=...)`` splits ``df`` into curves by the ``by``
columns, fits each curve exactly as :func:`bayescale.fit` would (same defaults, same
priors, same validation), and returns a :class:`BatchResult`: a summary frame (one row
per curve and parameter), predictions at the targets ``at``, flags and a status per curve
(``ok``, or ``failed`` with the reason). A failed curve never stops the batch.

Seeds. The seed of a curve is derived from the run seed and the curve's key only,

.. math:: s_k = \mathrm{SeedSequence}([s, \mathrm{crc32}(\mathrm{json}(k))]) \bmod 2^{31},

never from the order of execution, so results do not depend on the executor, the number
of workers or the order in which curves finish.

Compiled models are reused. Each curve is sampled exactly as :func:`bayescale.fit` would
sample it; with ``sampler="nutpie"`` (the default) each worker process compiles the law's
model once per structure and every later curve of that structure only swaps its data and
prior parameters in (:mod:`bayescale.fitting.compiled`), so a curve's draws are bitwise the same
whichever worker fits it, and the same as ``bayescale.fit`` with its seed.
``sampler="pymc"`` rebuilds and compiles the model for every curve; it is several times
slower (``benchmarks/bench_batch.py``).

Runs with ``out=`` write each finished curve at once and can be resumed; see
:mod:`bayescale.io.store`.
"""

from __future__ import annotations

from bayescale.workflows.batch.curves import curve_id, curve_seed, fit_curve
from bayescale.workflows.batch.result import BatchResult, load_batch
from bayescale.workflows.batch.run import BatchInterrupted, fit_many

__all__ = ["BatchInterrupted", "BatchResult", "curve_id", "curve_seed", "fit_curve", "fit_many", "load_batch"]
