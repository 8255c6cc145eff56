r"""Scaling-law functional forms, as pure functions.

Each function takes arrays (NumPy or PyTensor) and returns the law's mean, so the same
code builds the PyMC model and evaluates posterior draws outside it.

Saturating power law
    .. math:: y = E + A \, x^{-\alpha}

    ``E`` is the irreducible floor the metric approaches at infinite scale, ``A`` the
    offset (how far above the floor the curve sits at ``x = 1``) and ``alpha`` the
    exponent: every tenfold increase of ``x`` divides the reducible part ``y - E`` by
    ``10**alpha``.

Smoothly broken power law (Caballero et al. 2022, "BNSL")
    .. math:: y = a + b \, x^{-c_0} \prod_{i=1}^{k} \left(1 + (x / d_i)^{1/f_i}\right)^{-c_i f_i}

    Far below the first break the reducible part ``y - a`` falls with exponent ``c_0``; past
    break ``d_i`` the exponent becomes ``c_0 + ... + c_i``; ``f_i > 0`` sets how sharp the
    bend is (small ``f``: sharp, as a log-x width). bayescale writes the same curve with the
    segment exponents ``alpha_i = c_0 + ... + c_i``, ``u = log(x / x_ref)``, break positions
    ``beta_i = log(d_i / x_ref)`` and the value at ``x_ref`` (``log A``):

    .. math:: \log(y - a) = \log A - \alpha_0 u - \sum_i (\alpha_i - \alpha_{i-1}) f_i
              \left[\operatorname{sp}\!\left(\tfrac{u - \beta_i}{f_i}\right)
              - \operatorname{sp}\!\left(\tfrac{-\beta_i}{f_i}\right)\right],

    with ``sp(z) = log(1 + e^z)``; anchoring at ``u = 0`` decouples ``log A`` from the breaks.

Emergence sigmoid
    .. math:: y = y_0 + (y_1 - y_0)\, \sigma(k (\log x - x_0))
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


# --------------------------------------------------------------------------- broken power law


def smoothly_broken_power_law(x, a, b, c0, c, d, f):
    """Evaluate the BNSL form ``a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)`` with NumPy.

    Parameters
    ----------
    x : array_like
        Scales, positive.
    a, b, c0 : float or array_like
        Floor, offset and first exponent (broadcast against ``x``).
    c, d, f : sequence
        Per break: exponent change, break scale (units of ``x``) and sharpness.
    """
    import numpy as np

    x = np.asarray(x, dtype=float)
    out = b * x ** (-c0)
    for ci, di, fi in zip(c, d, f, strict=True):
        out = out * (1.0 + (x / di) ** (1.0 / fi)) ** (-ci * fi)
    return a + out


def log_broken_reducible(log_x, log_offset, exponents, breaks, sharpness, softplus):
    """``log(y - a)`` of the smoothly broken power law in the anchored form above.

    ``exponents`` is a sequence of ``k + 1`` segment exponents, ``breaks`` and
    ``sharpness`` sequences of ``k`` break positions (log scale, relative to ``x_ref``) and
    widths. ``softplus`` is the backend's ``log(1 + exp(z))`` (``numpy.logaddexp(0, z)`` or
    ``pytensor.tensor.softplus``). Arguments broadcast like arrays.
    """
    out = log_offset - exponents[0] * log_x
    for i in range(len(breaks)):
        change = exponents[i + 1] - exponents[i]
        f, b = sharpness[i], breaks[i]
        out = out - change * f * (softplus((log_x - b) / f) - softplus(-b / f))
    return out


# --------------------------------------------------------------------------- sigmoid emergence
def sigmoid_law(log_x, floor, ceiling, steepness, midpoint, expit):
    r"""Emergence curve ``floor + (ceiling - floor) * expit(k (log x - x0))``.

    ``floor`` is the metric far below the jump (chance accuracy), ``ceiling`` far above it,
    ``steepness`` ``k`` the rate per unit of natural ``log x`` and ``midpoint`` ``x0`` the
    ``log x`` where the metric is halfway. ``expit`` is the backend's logistic function.
    """
    return floor + (ceiling - floor) * expit(steepness * (log_x - midpoint))
