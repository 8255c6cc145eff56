r"""Least-squares baselines for backtests: what most scaling-law papers do, scored like bayescale.

Saturating power law by least squares
    Fit :math:`y = E + A\,(x / x_{ref})^{-\alpha}` with ``scipy.optimize.least_squares`` on
    log residuals :math:`r_i = \log f(x_i) - \log y_i` (the loss Hoffmann et al. minimise,
    here without the Huber cap), with :math:`0 \le E < \min y`, :math:`0 \le \alpha \le 10`
    and several starting floors. ``x_ref`` is the geometric mean of the fitted ``x``.

Residual bootstrap (predictive)
    With fitted curve :math:`\hat f` and log residuals :math:`r_i`, each of ``B`` resamples
    refits the law to :math:`y^*_i = \hat f(x_i)\, e^{r^*_i}` (residuals drawn with
    replacement) and draws a new observation :math:`f^*(x)\, e^{r^{**}}` at each target, so
    the interval holds both parameter and noise uncertainty: the most generous
    least-squares interval.

Linear fit in log-log space
    :math:`\log y = a + b \log x` by ordinary least squares, with the textbook Student-t
    prediction interval :math:`\hat\mu(x_0) \pm t_{n-2}\, s \sqrt{1 + h_0}`, where
    :math:`h_0` is the leverage of :math:`\log x_0`; its draws are drawn from that t.

Smoothly broken power law by least squares (BNSL, Caballero et al. 2023)
    :math:`y = a + b\,x^{-c_0}\,(1 + (x/d)^{1/f})^{-c_1 f}` with one break, fitted on log
    residuals from a grid of starting points (break position across the observed log range,
    sharpness, exponents and floor; the paper's brute-force grid, coarser) and the best fit
    kept: the strongest point method a practitioner would pick for bending curves. Point only.
    ``bnsl_signed`` adds starting points whose exponent turns negative after the break, so it
    finds U shapes (isoFLOP valleys, repetition, inverse scaling) as the turning law does.

Every baseline returns draws of ``y`` at the targets, shape ``(n_draws, n_targets)``
(the point fit returns one row), so the backtest scores all methods with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayescale.errors import DataError

FLOOR_STARTS = (0.0, 0.5, 0.9)


@dataclass(frozen=True)
class PowerFit:
    """A least-squares saturating power law: ``E + A (x / x_ref)**-alpha``."""

    E: float
    A: float
    alpha: float
    x_ref: float
    rmse_log: float

    def __call__(self, x) -> np.ndarray:
        return self.E + self.A * (np.asarray(x, dtype=float) / self.x_ref) ** (-self.alpha)

    @property
    def A_at_one(self) -> float:
        """``A`` for the law written as ``E + A x**-alpha`` (offset at ``x = 1``)."""
        return self.A * self.x_ref**self.alpha


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError("x and y must be one-dimensional arrays of the same length")
    if len(x) < 3:
        raise DataError(f"least squares needs at least 3 points, got {len(x)}")
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (x <= 0) | (y <= 0)
    if bad.any():
        raise DataError(f"least squares needs finite x > 0 and y > 0; bad rows {np.flatnonzero(bad).tolist()}")
    return x, y


def _solve(u: np.ndarray, log_y: np.ndarray, y_min: float, start: np.ndarray):
    from scipy.optimize import least_squares

    e_max = y_min * (1 - 1e-9)

    def residuals(theta):
        return np.log(theta[0] + np.exp(theta[1] - theta[2] * u)) - log_y

    def jacobian(theta):
        core = np.exp(theta[1] - theta[2] * u)
        f = theta[0] + core
        return np.column_stack([1 / f, core / f, -u * core / f])

    start = np.clip(start, [0.0, -50.0, 0.0], [e_max, 50.0, 10.0])
    return least_squares(residuals, start, jac=jacobian, bounds=([0.0, -50.0, 0.0], [e_max, 50.0, 10.0]),
                         method="trf", x_scale="jac", max_nfev=200)


def fit_power_ls(x, y, *, x_ref: float | None = None, start=None) -> PowerFit:
    """Least-squares fit of ``y = E + A (x/x_ref)**-alpha`` on log residuals.

    Parameters
    ----------
    x, y : array_like
        Scales and metric values (both > 0).
    x_ref : float, optional
        Reference scale (default: geometric mean of ``x``).
    start : sequence of 3 floats, optional
        Starting ``(E, log A, alpha)``; by default several floors are tried and the best kept.

    Returns
    -------
    PowerFit
    """
    x, y = _check_xy(x, y)
    x_ref = float(np.exp(np.mean(np.log(x)))) if x_ref is None else float(x_ref)
    u, log_y = np.log(x / x_ref), np.log(y)
    y_min = float(y.min())
    if start is not None:
        starts = [np.asarray(start, dtype=float)]
    else:
        slope = -np.polyfit(u, log_y, 1)[0] if np.ptp(u) > 0 else 0.5
        starts = []
        for frac in FLOOR_STARTS:
            e = frac * y_min
            slope_r = -np.polyfit(u, np.log(np.maximum(y - e, 1e-12)), 1)[0] if np.ptp(u) > 0 else slope
            log_a = float(np.log(max(np.exp(np.mean(log_y)) - e, 1e-12)))
            starts.append(np.array([e, log_a, float(np.clip(slope_r, 0.01, 5.0))]))
    best = min((_solve(u, log_y, y_min, s) for s in starts), key=lambda r: r.cost)
    E, log_a, alpha = best.x
    return PowerFit(E=float(E), A=float(np.exp(log_a)), alpha=float(alpha), x_ref=x_ref,
                    rmse_log=float(np.sqrt(np.mean(best.fun**2))))


def power_ls_point(x_train, y_train, x_test) -> np.ndarray:
    """Point forecast of the least-squares power law at ``x_test``, shape ``(1, n_test)``."""
    return fit_power_ls(x_train, y_train)(x_test)[None, :]


def power_ls_bootstrap(x_train, y_train, x_test, *, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Residual-bootstrap predictive draws of the least-squares power law, shape ``(n_boot, n_test)``."""
    x, y = _check_xy(x_train, y_train)
    x_test = np.asarray(x_test, dtype=float)
    rng = np.random.default_rng(seed)
    base = fit_power_ls(x, y)
    fitted = base(x)
    resid = np.log(y) - np.log(fitted)
    resid = resid - resid.mean()
    start = np.array([base.E, np.log(base.A), base.alpha])
    out = np.empty((n_boot, len(x_test)))
    u, n = np.log(x / base.x_ref), len(x)
    u_test = np.log(x_test / base.x_ref)
    for b in range(n_boot):
        y_star = fitted * np.exp(resid[rng.integers(0, n, n)])
        sol = _solve(u, np.log(y_star), float(y_star.min()), start)
        E, log_a, alpha = sol.x
        out[b] = (E + np.exp(log_a - alpha * u_test)) * np.exp(resid[rng.integers(0, n, len(x_test))])
    return out


@dataclass(frozen=True)
class LogLinearFit:
    """``log y = intercept + slope * log x`` by ordinary least squares."""

    intercept: float
    slope: float
    s: float
    n: int
    mean_log_x: float
    sxx: float

    def __call__(self, x) -> np.ndarray:
        return np.exp(self.intercept + self.slope * np.log(np.asarray(x, dtype=float)))

    def prediction_sd(self, x) -> np.ndarray:
        lx = np.log(np.asarray(x, dtype=float))
        return self.s * np.sqrt(1 + 1 / self.n + (lx - self.mean_log_x) ** 2 / self.sxx)


def fit_loglinear(x, y) -> LogLinearFit:
    """Ordinary least-squares line through ``(log x, log y)``."""
    x, y = _check_xy(x, y)
    lx, ly = np.log(x), np.log(y)
    sxx = float(np.sum((lx - lx.mean()) ** 2))
    if sxx == 0:
        raise DataError("a log-log line needs at least two distinct x")
    slope = float(np.sum((lx - lx.mean()) * (ly - ly.mean())) / sxx)
    intercept = float(ly.mean() - slope * lx.mean())
    resid = ly - (intercept + slope * lx)
    s = float(np.sqrt(np.sum(resid**2) / (len(x) - 2)))
    return LogLinearFit(intercept, slope, s, len(x), float(lx.mean()), sxx)


def loglinear_draws(x_train, y_train, x_test, *, n_draws: int = 1000, seed: int = 0) -> np.ndarray:
    """Draws from the Student-t prediction interval of the log-log line, shape ``(n_draws, n_test)``."""
    line = fit_loglinear(x_train, y_train)
    rng = np.random.default_rng(seed)
    t = rng.standard_t(line.n - 2, size=(n_draws, len(np.atleast_1d(x_test))))
    return line(x_test) * np.exp(t * line.prediction_sd(x_test))


@dataclass(frozen=True)
class BrokenFit:
    """A least-squares smoothly broken power law (one break): ``a + b x^-c0 (1 + (x/d)^(1/f))^(-c1 f)``."""

    a: float
    b: float
    c0: float
    c1: float
    d: float
    f: float
    rmse_log: float

    def __call__(self, x) -> np.ndarray:
        return np.exp(_bnsl_log(np.log(np.asarray(x, dtype=float)), self.a, np.log(self.b), self.c0, self.c1,
                                np.log(self.d), self.f))


def _bnsl_log(lx, a, log_b, c0, c1, log_d, f):
    """``log`` of the BNSL, with the break term as a softplus (no overflow for sharp breaks)."""
    log_core = log_b - c0 * lx - c1 * f * np.logaddexp(0.0, (lx - log_d) / f)
    return np.logaddexp(np.log(a), log_core) if a > 0 else log_core


BNSL_BREAKS = (0.2, 0.4, 0.6, 0.8)  # starting break positions, fractions of the observed log-x range
BNSL_SHARPNESS = (0.1, 0.5, 1.5)  # starting f, in units of log x
BNSL_EXPONENTS = ((0.05, 0.3), (0.3, 0.3), (0.5, -0.3))  # starting (c0, c1)
BNSL_TURNING = ((0.3, -0.6), (0.5, -1.5))  # starting (c0, c1) that turn up (c0 + c1 < 0): bnsl_signed


def fit_bnsl(x, y, *, signed: bool = False) -> BrokenFit:
    """Least-squares fit of the one-break BNSL on log residuals, best of a grid of starts.

    Parameters are ``theta = (a, log b, c0, c1, log d, log f)`` with ``0 <= a < min y``,
    ``c0`` in ``[-1, 5]``, ``c1`` in ``[-5, 5]`` (a negative ``c1`` flattens the curve), ``log d``
    within the observed log range widened by half its span and ``f`` in ``[0.01, 10]``.
    Starts: :data:`BNSL_BREAKS` x :data:`BNSL_SHARPNESS` x :data:`BNSL_EXPONENTS`
    x floors ``0`` and ``0.5 min y``, with ``log b`` set so the curve starts through the point
    at the smallest ``x``. The bounds let the curve turn up (``c0 + c1 < 0``), but no start does,
    so the fit rarely finds a turn; ``signed=True`` adds the starts :data:`BNSL_TURNING`, which
    do (the turning BNSL of Caballero et al. 2023 for U shapes and isoFLOP valleys), and keeps
    the best of all: ``bnsl_signed`` in backtests.

    Returns
    -------
    BrokenFit
    """
    from scipy.optimize import least_squares

    x, y = _check_xy(x, y)
    if len(x) < 6:
        raise DataError(f"the broken-power-law baseline needs at least 6 points, got {len(x)}")
    lx, log_y = np.log(x), np.log(y)
    lo, hi = float(lx.min()), float(lx.max())
    span = max(hi - lo, 1e-9)
    e_max = float(y.min()) * (1 - 1e-9)

    def residuals(theta):
        a, log_b, c0, c1, log_d, log_f = theta
        return _bnsl_log(lx, a, log_b, c0, c1, log_d, np.exp(log_f)) - log_y

    lower = [0.0, -200.0, -1.0, -5.0, lo - 0.5 * span, np.log(0.01)]
    upper = [e_max, 200.0, 5.0, 5.0, hi + 0.5 * span, np.log(10.0)]
    best = None
    for frac in BNSL_BREAKS:
        for f in BNSL_SHARPNESS:
            for c0, c1 in BNSL_EXPONENTS + (BNSL_TURNING if signed else ()):
                for floor in (0.0, 0.5 * e_max):
                    log_b = float(np.log(max(np.exp(log_y[np.argmin(lx)]) - floor, 1e-12)) + c0 * lo)
                    start = np.clip([floor, log_b, c0, c1, lo + frac * span, np.log(f * span / 4 + 1e-3)],
                                    lower, upper)
                    try:
                        sol = least_squares(residuals, start, bounds=(lower, upper), method="trf", max_nfev=300)
                    except (ValueError, FloatingPointError):
                        continue
                    if np.isfinite(sol.cost) and (best is None or sol.cost < best.cost):
                        best = sol
    if best is None:
        raise DataError("the broken-power-law baseline found no finite least-squares fit")
    a, log_b, c0, c1, log_d, log_f = best.x
    return BrokenFit(a=float(a), b=float(np.exp(log_b)), c0=float(c0), c1=float(c1), d=float(np.exp(log_d)),
                     f=float(np.exp(log_f)), rmse_log=float(np.sqrt(np.mean(best.fun**2))))


def bnsl_point(x_train, y_train, x_test) -> np.ndarray:
    """Point forecast of the least-squares BNSL (:func:`fit_bnsl`) at ``x_test``, shape ``(1, n_test)``."""
    return fit_bnsl(x_train, y_train)(x_test)[None, :]


def bnsl_signed_point(x_train, y_train, x_test) -> np.ndarray:
    """Point forecast of the least-squares BNSL with starts that turn up (``fit_bnsl(signed=True)``), ``(1, n)``."""
    return fit_bnsl(x_train, y_train, signed=True)(x_test)[None, :]
