"""One curve of a batch, fitted in a worker exactly as :func:`bayescale.fit` would, with its own seed."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.config import FitConfig
from bayescale.errors import BayescaleError
from bayescale.io.store import _json_safe

SAMPLERS = ("nutpie", "pymc")


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (keys must survive JSON)."""
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def curve_seed(run_seed: int, key: Sequence[Any]) -> int:
    """Seed of the curve ``key`` in a run seeded ``run_seed`` (independent of execution order)."""
    crc = zlib.crc32(json.dumps([_plain(v) for v in key], default=str).encode())
    return int(np.random.SeedSequence([int(run_seed), crc]).generate_state(1)[0] % (2**31))


def curve_id(key: Sequence[Any]) -> str:
    """File-safe, unique id of a curve: a readable slug of its key plus a hash."""
    text = json.dumps([_plain(v) for v in key], default=str)
    slug = "-".join(str(v) for v in key)
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in slug).strip("._")[:60] or "curve"
    return f"{slug}-{zlib.crc32(text.encode()):08x}"


def _records(frame: pd.DataFrame) -> list[dict]:
    return _json_safe(frame.to_dict(orient="records"))


def fit_curve(task: Mapping[str, Any]) -> dict:
    """Fit one curve; return its record (status, reason, tables) and, if asked, the fit.

    Runs in a worker. Bad data (a :class:`~bayescale.errors.BayescaleError`) and sampler
    errors end as ``status="failed"`` with the reason; they are not raised.
    """
    from bayescale.core.registry import law_spec
    from bayescale.data.curves import prepare
    from bayescale.fitting.single import run_fit
    from bayescale.laws.priors import merge_priors, priors_to_dict

    start = time.perf_counter()
    spec = task["spec"]
    record: dict[str, Any] = {
        "curve_id": task["curve_id"], "key": task["key"], "index": task["index"], "seed": task["seed"],
        "n_points": len(task["frame"]), "status": "failed", "reason": None,
        "summary": [], "predictions": [], "flags": [], "diagnostics": {},
    }
    fit = None
    try:
        config = FitConfig(
            law=spec["law"], x=spec["x"], y=spec["y"], group=spec["group"], noise=spec["noise"],
            slopes=spec["slopes"], floor=spec["floor"], draws=spec["draws"], tune=spec["tune"],
            chains=spec["chains"], seed=task["seed"], sampler=spec["sampler"], target_accept=spec["target_accept"],
        ).validate()
        data = prepare(task["frame"], x=config.x, y=config.y, group=config.group, law=config.law, noise=config.noise)
        config.x_ref, config.y_scale = data.x_ref, data.y_scale
        law = law_spec(config.law)
        config.priors = priors_to_dict(merge_priors(law.function("default_priors")(data, config), spec["priors"]))
        if spec.get("discrepancy", True) is not False:  # forecasts beyond the data use the drift prior
            from bayescale.laws.drift_prior import load_drift_prior

            prior = load_drift_prior(spec.get("drift_prior"))
            config.drift = {"source": prior.source, "prior": prior.data}
        fit = run_fit(data, config, progress=False, cores=1)  # nutpie: compiled once per structure
        summary = fit.summary(prob=spec["prob"])
        stats = fit.idata["sample_stats"]
        diagnostics = {
            "max_r_hat": float(summary["r_hat"].max()),
            "min_ess_bulk": float(summary["ess_bulk"].min()),
            "min_ess_tail": float(summary["ess_tail"].min()),
            "divergences": int(stats["diverging"].values.sum()) if "diverging" in stats else 0,
            "draws": int(config.chains * config.draws),
        }
        fit.diagnostics = lambda: diagnostics  # flags reuse the summary computed above
        at = spec["at"]
        predictions = fit.predict(at, prob=spec["prob"]) if at else pd.DataFrame()
        flags = fit.flags(at=at)
        del fit.diagnostics
        record.update(
            status="ok",
            summary=_records(summary.rename_axis("parameter").reset_index()),
            predictions=_records(predictions),
            flags=_records(flags),
            diagnostics=diagnostics,
        )
    except BayescaleError as exc:
        record["reason"] = str(exc)
        fit = None
    except Exception as exc:  # noqa: BLE001 - one curve's sampler failure must not stop the batch
        record["reason"] = f"{type(exc).__name__}: {exc}"
        fit = None
    record["seconds"] = round(time.perf_counter() - start, 4)
    return {"record": record, "fit": fit if task.get("return_fit") else None}
