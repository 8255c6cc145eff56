r"""Scaling-law functional forms, as pure functions.

Each function takes arrays (NumPy or PyTensor) and returns the law's mean, so the same
code builds the PyMC model and evaluates posterior draws outside it.

Saturating power law
    .. math:: y = E + A \, x^{-\alpha}

    ``E`` is the irreducible floor the metric approaches at infinite scale, ``A`` the
    offset (how far above the floor the curve sits at ``x = 1``) and ``alpha`` the
    exponent: every tenfold increase of ``x`` divides the reducible part ``y - E`` by
    ``10**alpha``.
"""

from __future__ import annotations


def saturating_power_law(x, floor, offset, exponent):
    """Evaluate ``floor + offset * x**(-exponent)``.

    Parameters
    ----------
    x : array_like
        Scale (parameters, tokens, compute, ...), positive.
    floor, offset, exponent : array_like
        ``E``, ``A`` and ``alpha``; broadcast against ``x``.
    """
    return floor + offset * x ** (-exponent)


def log_power_law(log_x, floor, log_offset, exponent, exp):
    """Saturating power law written with ``log A`` and ``log x`` for numerical stability.

    ``exp`` is the exponential of the backend (``numpy.exp`` or ``pytensor.tensor.exp``).
    """
    return floor + exp(log_offset - exponent * log_x)
