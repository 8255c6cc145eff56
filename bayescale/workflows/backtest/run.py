"""The backtest loop: cut every curve, run the tasks inline or in workers, learn the discrepancy, gather."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bayescale.errors import DataError, SpecError
from bayescale.laws import discrepancy as discrepancy_model
from bayescale.workflows.backtest.result import FIT_COLUMNS, SUPPORT_COLUMNS, BacktestResult
from bayescale.workflows.backtest.scores import distance_bin, score_draws
from bayescale.workflows.backtest.splits import MIN_TRAIN, _bool_column, parse_split, train_mask
from bayescale.workflows.backtest.tasks import run_task
from bayescale.workflows.backtest.taskstore import _open_store, _read_task, _task_key, _write_task


class _Progress:
    def __init__(self, total: int, where: str, enabled: bool):
        self.total, self.enabled, self.done = total, enabled, 0
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()
        if enabled:
            print(f"backtest: {total} (curve, cutoff) fits on {where}", file=sys.stderr, flush=True)

    def update(self) -> None:
        self.done += 1
        now = time.monotonic()
        if not self.enabled or not (self.tty or self.done == self.total or now - self.last > 15):
            return
        self.last = now
        width = 30
        bar = "#" * int(width * self.done / self.total)
        line = f"[{bar:<{width}}] {self.done}/{self.total} ({now - self.start:.0f}s)"
        print(f"\r{line}" if self.tty else line, end="\n" if self.done == self.total or not self.tty else "",
              file=sys.stderr, flush=True)


def _curves(df: pd.DataFrame, group) -> list[tuple[str, pd.DataFrame]]:
    if group is None:
        return [("all", df)]
    columns = [group] if isinstance(group, str) else list(group)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"group column(s) {missing} not in the data; columns are {', '.join(map(str, df.columns))}")
    out = []
    for key, frame in df.groupby(columns, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append(("/".join(str(k) for k in key), frame))
    return out


def backtest(
    df: pd.DataFrame,
    *,
    law: str | Sequence[str] = "auto",
    x: str,
    y: str,
    group: str | Sequence[str] | None = None,
    measure: str | None = None,
    split=0.6,
    train_column: str | None = None,
    name: str = "data",
    noise: str | None = None,
    priors: Mapping | None = None,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    target_accept: float = 0.95,
    sampler: str | None = None,
    seed: int = 0,
    baselines: bool = True,
    n_boot: int = 1000,
    discrepancy: bool | str = "prior",
    drift_prior=None,
    inner: float = 0.6,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
    out=None,
    resume: bool = False,
) -> BacktestResult:
    """Fit the small-scale part of each curve and score forecasts of the held-out large-scale part.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy data, one row per observation.
    law : str or list of str
        bayescale law. ``"auto"`` (the default) fits each curve as :func:`bayescale.fit` does with
        ``law="auto"``: the candidate laws stacked by leave-future-out weights, so the forecast
        carries model-form uncertainty (on the shipped data, about 1.3x the time of
        ``"power"``). A single law (``"power"``, ``"broken"``, ``"sigmoid"``) reuses one
        compiled model across curves; a list stacks the laws named.
    x, y : str
        Scale and metric columns (``y > 0``: scored on the log scale).
    measure : {"loss", "error", "accuracy"}, optional
        With ``law="auto"``: what ``y`` measures, as in :func:`bayescale.fit` (default: read from
        each training curve).
    group : str or list of str, optional
        Columns that identify a curve; each curve is fitted on its own.
    split : float, str, mapping or list
        Where to cut each curve (see the module docstring); a list is a rolling origin.
    train_column : str, optional
        Boolean column marking the rows to fit on (same as ``split="column:NAME"``).
    name : str
        Label of this data set in the result (column ``dataset``).
    noise, priors, draws, tune, chains, target_accept, sampler
        Passed to the Bayesian fit (``sampler`` defaults to nutpie, which
        compiles the model once per worker).
    seed : int
        Run seed; each (curve, cutoff) gets a seed derived from it and its key.
    baselines : bool
        Also fit the least-squares baselines on the same splits.
    n_boot : int
        Bootstrap resamples of the ``ls_bootstrap`` baseline.
    discrepancy : {"prior", True, "learn", False}
        ``"prior"`` (the default): also score the forecasts widened beyond the data by the drift
        prior (method ``bayescale+prior``, what :func:`bayescale.fit` does by default; no refits).
        ``True`` or ``"learn"``: besides, update that prior with the data set's own in-sample
        backtests (method ``bayescale+disc``, partially pooled toward the population; one more fit
        per (curve, cutoff)). ``False``: the posterior alone (and the baselines).
    drift_prior : path, DriftPrior or mapping, optional
        The drift prior (default: the shipped one, :mod:`bayescale.laws.drift_prior`), or one per
        data set name (leave-one-data-set-out scoring).
    inner : float
        Fraction of the training log-x range used for the in-sample backtests.
    workers : int, optional
        Processes (default: all cores); ``1`` runs in this process.
    executor, scheduler
        ``"local"`` process pool or ``"dask"`` (see :mod:`bayescale.workflows.executors`).
    progress : bool
        Print a progress bar on stderr.
    out : path, optional
        Folder where each finished (curve, cutoff) is written as soon as it is done (draws in
        ``.npz``, record in ``.json``, both atomically), with a manifest of the data hash, spec,
        seed and version, and a lock against a second writer (:mod:`bayescale.io.store`). The
        result tables are written there at the end.
    resume : bool
        Reuse the finished (curve, cutoff) pairs in ``out`` and fit only the rest; refused when
        ``out`` was written from other data, spec or seed. Tables equal an uninterrupted run's.

    Returns
    -------
    BacktestResult
    """

    if discrepancy not in (False, True, "prior", "learn"):
        raise SpecError(f"discrepancy must be 'prior', 'learn' (or True) or False, got {discrepancy!r}")
    learn = discrepancy in (True, "learn")
    spec = {"law": law, "noise": "lognormal" if noise is None else noise, "priors": priors, "draws": draws,
            "tune": tune, "chains": chains, "target_accept": target_accept,
            "sampler": sampler or "nutpie", "baselines": baselines, "n_boot": n_boot,
            "discrepancy": learn, "inner": inner}
    if not 0 < inner < 1:
        raise SpecError(f"inner must be in (0, 1), got {inner!r}")
    if train_column is not None:
        split = f"column:{train_column}"
    data = {name: {"df": df, "x": x, "y": y, "group": group, "split": split, "measure": measure}}
    return backtest_datasets(data, spec=spec, seed=seed, workers=workers, executor=executor, scheduler=scheduler,
                             progress=progress, out=out, resume=resume,
                             drift_prior=None if discrepancy is False else _prior(drift_prior))


def _prior(drift_prior):
    from bayescale.laws.drift_prior import load_drift_prior

    if isinstance(drift_prior, Mapping):
        return {name: load_drift_prior(p) for name, p in drift_prior.items()}
    return load_drift_prior(drift_prior)


def _tasks(name: str, df, *, x: str, y: str, group, split, spec: Mapping, seed: int, tasks: list, meta: dict,
           failures: list) -> None:
    """Cut every curve of one data set at every cutoff; append the fits to run to ``tasks``."""
    from bayescale.workflows.batch import curve_seed

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    for column in (x, y):
        if column not in df.columns:
            raise DataError(f"column {column!r} is not in the data; columns are {', '.join(map(str, df.columns))}")
    cutoffs = parse_split(split)
    columns = {c.value: _bool_column(df, c.value) for c in cutoffs if c.kind == "column"}
    for curve, frame in _curves(df, group):
        xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
        for cutoff in cutoffs:
            base = {"dataset": name, "curve": curve, "cutoff": cutoff.label}
            col = columns[cutoff.value].loc[frame.index].to_numpy() if cutoff.kind == "column" else None
            if not ok.any():
                why = f"no usable rows (need finite {x!r} > 0 and {y!r})"
                failures.append({**base, "method": "all", "reason": why})
                continue
            mask = train_mask(xs[ok], cutoff, None if col is None else col[ok])
            n_train, n_test = int(mask.sum()), int((~mask).sum())
            distinct = len(np.unique(xs[ok][mask]))
            if distinct < MIN_TRAIN or n_test == 0:
                why = (f"only {n_train} training rows ({distinct} distinct {x!r}; need {MIN_TRAIN})"
                       if n_test else "no held-out rows")
                failures.append({**base, "method": "all", "reason": why})
                continue
            if (ys[ok] <= 0).any():
                bad = frame.index[ok][ys[ok] <= 0][:5].tolist()
                why = f"{y!r} must be > 0 to be scored on the log scale; rows {bad}"
                failures.append({**base, "method": "all", "reason": why})
                continue
            task_id = f"{len(tasks)}"
            meta[task_id] = {**base, "x_test": xs[ok][~mask], "y_test": ys[ok][~mask], "n_train": n_train,
                             "x_train_max": float(xs[ok][mask].max())}
            tasks.append((task_id, {"spec": spec, "seed": curve_seed(seed, [name, curve, cutoff.label]),
                                    "x_train": xs[ok][mask], "y_train": ys[ok][mask], "x_test": xs[ok][~mask]}))


def _prior_of(drift_prior, name: str):
    """The drift prior for data set ``name`` (one for all, or from a mapping), or None."""
    if isinstance(drift_prior, Mapping):
        return drift_prior.get(name)
    return drift_prior


def _law_covariate(law) -> str:
    """The law named as the drift prior's covariate (a stack counts as its simplest law, the power law)."""
    return law if isinstance(law, str) and law != "auto" else "power"


def backtest_datasets(data: Mapping[str, Mapping], *, spec: Mapping | None = None, seed: int = 0,
                      workers: int | None = None, executor: str = "local", scheduler: str | None = None,
                      progress: bool = True, out=None, resume: bool = False, keep_draws: int | None = None,
                      drift_prior=None, **options) -> BacktestResult:
    """Backtest several data sets in one pool of workers (each compiles the model once).

    Parameters
    ----------
    data : mapping
        ``name -> {"df": frame, "x": ..., "y": ..., "group": ..., "split": ..., "measure": ...}``
        (``measure`` optional, as in :func:`backtest`); the name becomes the ``dataset`` column and
        the discrepancy is pooled per data set.
    spec : mapping, optional
        Fit settings as built by :func:`backtest`; otherwise ``options`` (the keyword arguments of
        :func:`backtest`: ``law``, ``draws``, ``discrepancy``, ...) are used with its defaults.
    seed, workers, executor, scheduler, progress, out, resume
        As in :func:`backtest`.
    drift_prior : DriftPrior or mapping, optional
        Drift prior (one for all, or one per data set name): adds method ``bayescale+prior`` (the
        forecast widened by the prior's ``s`` for the data set's metric and law) and, with
        ``discrepancy``, pools the learned ``s`` toward it.
    keep_draws : int, optional
        Keep up to this many predictive draws of every method at every held-out point (evenly
        thinned, float32) in ``result.draws``, keyed by ``(dataset, curve, cutoff)``, for scoring
        the same forecasts again under another discrepancy (:mod:`bayescale.workflows.drift`).
    """
    from bayescale.fitting.stacking import check_measure
    from bayescale.workflows.executors import make_executor

    started = time.perf_counter()
    if spec is None:
        defaults = {"law": "auto", "noise": None, "priors": None, "draws": 500, "tune": 500, "chains": 2,
                    "target_accept": 0.95, "sampler": None, "baselines": True, "n_boot": 1000,
                    "discrepancy": False, "inner": 0.6}
        unknown = set(options) - set(defaults)
        if unknown:
            raise SpecError(f"unknown backtest options {sorted(unknown)}; known: {', '.join(defaults)}")
        spec = {**defaults, **options}
        spec["noise"] = spec["noise"] or "lognormal"
        spec["sampler"] = spec["sampler"] or "nutpie"
    tasks: list = []
    meta: dict = {}
    failures: list = []
    for name, item in data.items():
        measure = check_measure(item.get("measure"), spec["law"])
        _tasks(name, item["df"], x=item["x"], y=item["y"], group=item.get("group"), split=item.get("split", 0.6),
               spec={**spec, "measure": measure} if measure else spec, seed=seed, tasks=tasks, meta=meta,
               failures=failures)

    store = _open_store(out, data, spec, seed, resume) if out is not None else None
    keys = {task_id: _task_key(meta[task_id]) for task_id, _ in tasks}
    # a fit whose files cannot be read back is set aside (quarantine/) and run again
    done = store.read_finished(keys.values(), lambda key: _read_task(store, key)) if store else {}
    results = {t: done[keys[t]] for t, _ in tasks if keys[t] in done}
    task_of = {key: t for t, key in keys.items()}
    set_aside = [{**entry, **{k: meta[task_of[entry["curve_id"]]][k] for k in ("dataset", "curve", "cutoff")}}
                 for entry in (store.set_aside if store else [])]
    todo = [(t, payload) for t, payload in tasks if t not in results]
    try:
        if todo:
            workers = min(int(workers or os.cpu_count() or 1), len(todo))
            pool = make_executor(executor, workers=workers, scheduler=scheduler)
            bar = _Progress(len(todo), pool.describe(), progress)
            try:
                for task_id, result in pool.map_unordered(run_task, todo):
                    results[task_id] = result
                    if store:
                        _write_task(store, keys[task_id], result)
                    bar.update()
            except KeyboardInterrupt:
                from bayescale.workflows.batch import BatchInterrupted

                where = (f"kept {len(results)} of {len(tasks)} (curve, cutoff) fits in {str(store.root)!r}; run the "
                         "same command with --resume (resume=True) to finish") if store else (
                         f"{len(results)} of {len(tasks)} fits are lost; pass out= (--out) to keep them")
                raise BatchInterrupted(f"interrupted: {where}") from None
            finally:
                pool.close()
    finally:
        if store:
            store.close()

    # the discrepancy scale of each data set, pooled over the in-sample backtests of its curves
    disc, support, posteriors = {}, [], {}
    if spec["discrepancy"]:
        for name in data:
            inner = [r["inner"] for t, r in results.items() if r.get("inner") and meta[t]["dataset"] == name]
            row = {"dataset": name, "curves": len(inner), "errors": int(sum(len(r["d"]) for r in inner))}
            if not inner:
                support.append(row)
                continue
            errors = [np.concatenate([r[k] for r in inner]) for k in ("d", "err", "var")]
            prior = _prior_of(drift_prior, name)
            log_prior = None if prior is None else (
                lambda g, p=prior, n=name: p.log_density(g, data[n].get("measure"), _law_covariate(spec["law"])))
            grid, weights = posteriors[name] = discrepancy_model.posterior(*errors, log_prior=log_prior)
            cdf = np.cumsum(weights)
            disc[name] = float(grid @ weights)
            support.append({**row, "s": disc[name], "s_low": float(grid[np.searchsorted(cdf, 0.05)]),
                            "s_high": float(grid[np.searchsorted(cdf, 0.95)]),
                            "s_ml": discrepancy_model.max_likelihood(*errors)})
    frames, fits, kept = [], [], {}
    for task_id in sorted(results, key=int):
        result, m = results[task_id], meta[task_id]
        base = {k: m[k] for k in ("dataset", "curve", "cutoff")}
        fits.append({**base, "n_train": m["n_train"], "n_test": len(m["x_test"]), "status": result.get("status"),
                     "seconds": result.get("seconds"), **(result.get("diagnostics") or {})})
        if result.get("status") != "ok":
            failures.append({**base, "method": "all", "reason": result.get("reason")})
            continue
        for failure in result["failures"]:
            failures.append({**base, **failure})
        distance = np.log10(m["x_test"] / m["x_train_max"])
        all_draws = dict(result["draws"])
        link = discrepancy_model.link_name(data[m["dataset"]].get("measure"))
        prior = _prior_of(drift_prior, m["dataset"])
        if prior is not None and "bayescale" in all_draws:
            rng = np.random.default_rng([seed, int(task_id), 1])
            b = all_draws["bayescale"]
            s_draws = prior.s_draws(data[m["dataset"]].get("measure"), _law_covariate(spec["law"]), b.shape[0], rng)
            all_draws["bayescale+prior"] = discrepancy_model.widen(b, distance, s_draws, rng, link=link)
        if spec["discrepancy"] and "bayescale" in all_draws and m["dataset"] in posteriors:
            rng = np.random.default_rng([seed, int(task_id)])
            b = all_draws["bayescale"]
            grid, weights = posteriors[m["dataset"]]
            s_draws = rng.choice(grid, size=b.shape[0], p=weights)
            all_draws["bayescale+disc"] = discrepancy_model.widen(b, distance, s_draws, rng, link=link)
        elif spec["discrepancy"] and "bayescale" in all_draws:
            failures.append({**base, "method": "bayescale+disc", "reason": "no curve of this data set had enough "
                             f"training rows for an in-sample backtest ({MIN_TRAIN} distinct scales and one more)"})
        if keep_draws:
            kept[(base["dataset"], base["curve"], base["cutoff"])] = {
                "x": m["x_test"], "y": m["y_test"], "distance": distance,
                "draws": {k: np.asarray(v[np.linspace(0, len(v) - 1, min(keep_draws, len(v))).astype(int)],
                                        dtype=np.float32) for k, v in all_draws.items()}}
        for method, d in all_draws.items():
            scores = score_draws(m["y_test"], d)
            frames.append(pd.DataFrame({**base, "method": method, "x": m["x_test"], "y": m["y_test"],
                                        "distance": distance}).join(scores))
    point_columns = ["dataset", "curve", "cutoff", "method", "x", "y", "distance"]
    points = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=point_columns)
    if len(points):
        points["distance_bin"] = distance_bin(points["distance"].to_numpy(dtype=float))
        points = points.sort_values(["dataset", "cutoff", "curve", "method", "x"], kind="stable",
                                    ignore_index=True)
    failures = pd.DataFrame(failures, columns=["dataset", "curve", "cutoff", "method", "reason"])
    fits = pd.DataFrame(fits, columns=FIT_COLUMNS)
    result = BacktestResult(points, failures, disc, time.perf_counter() - started, fits=fits,
                            discrepancy_support=pd.DataFrame(support, columns=SUPPORT_COLUMNS),
                            discrepancy_posteriors=posteriors)
    result.set_aside = set_aside
    result.draws = kept
    if out is not None:
        result.save(out)
    return result
