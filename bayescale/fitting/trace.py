"""nutpie's raw trace (one Arrow batch of draws and one of statistics per chain) as xarray datasets.

nutpie's own conversion builds an ArviZ DataTree with the warm-up groups and every
statistic through ``arviz.from_dict``: about 0.1 s, most of a repeat fit of a small model.
A fit keeps only the posterior draws and the numeric statistics after tuning, so
:func:`trace_datasets` builds those two datasets directly, with the same values, dtypes,
dims and coordinates as nutpie's conversion (``tests/test_trace.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pyarrow  # nutpie's dependency: its raw trace is Arrow
import xarray as xr

# columns nutpie leaves out of its conversion unless asked to store them (bayescale never asks)
NOT_KEPT = frozenset({
    "chain", "draw", "gradient", "unconstrained_draw", "mass_matrix_inv", "mass_matrix_eigvals",
    "mass_matrix_stds", "transformation_mu", "transformed_position", "transformed_gradient",
    "divergence_start", "divergence_start_gradient", "divergence_end", "divergence_momentum",
})


def _column(batch, name: str, chain: int, n_chains: int, length: int, into: dict, dims: dict) -> None:
    """Copy column ``name`` of one chain's ``batch`` into ``into[name][chain]`` (NaN or 0 past its end).

    Columns of objects (not numbers or booleans) are left out, as a fit does not keep them.
    """
    col = batch.column(name)
    meta = col.field.metadata or {}
    shape = [int(s) for s in meta[b"shape"].decode().split(",")] if meta.get(b"shape") else []
    col = pyarrow.array(col)
    missing = col.is_null()
    if hasattr(col, "flatten"):
        col = col.flatten()
    dtype = np.dtype(col.type.to_pandas_dtype())
    if dtype.kind == "O":
        return
    if name not in dims:
        named = meta[b"dims"].decode().split(",") if meta.get(b"dims") else []
        dims[name] = named or [f"{name}_dim_{i}" for i in range(len(shape))]
    if name not in into:
        fill = np.nan if dtype in (np.float64, np.float32) else 0
        into[name] = np.full([n_chains, length, *shape], fill, dtype=dtype)
    values = col.to_numpy(False)
    n = batch.num_rows
    if missing.sum() == 0:
        into[name][chain, :n] = values.reshape((n, *shape))
    else:
        missing = missing.to_numpy(False)
        if values.shape[0] == n:
            values = values[~missing]
        into[name][chain, :n][~missing] = values.reshape(((~missing).sum(), *shape))


def trace_datasets(
    draw_batches: Sequence, stat_batches: Sequence, coords: Mapping[str, Sequence], unconstrained: Collection[str]
) -> tuple[xr.Dataset, xr.Dataset]:
    """The posterior and the numeric sampler statistics after tuning, as (chain, draw, ...) datasets.

    Parameters
    ----------
    draw_batches, stat_batches : sequence of pyarrow.RecordBatch
        One per chain, from ``nutpie.sample(..., return_raw_trace=True).get_arrow_trace()``.
    coords : mapping
        Coordinates of the model's named dims.
    unconstrained : collection of str
        Names of the draws on the sampler's unconstrained scale (``CompiledModel.reparameterized_names``),
        left out as nutpie leaves them out.
    """
    n_chains = len(draw_batches)
    tuned = [int(stat.column("tuning").to_numpy().sum()) for stat in stat_batches]
    length = max(draw.num_rows - t for draw, t in zip(draw_batches, tuned, strict=True))
    out = []
    for batches, leave_out in ((draw_batches, set(unconstrained)), (stat_batches, NOT_KEPT)):
        data: dict = {}
        dims: dict = {}
        for chain, (batch, t) in enumerate(zip(batches, tuned, strict=True)):
            kept = batch.slice(t, batch.num_rows - t)
            for name in kept.column_names:
                if name not in leave_out:
                    _column(kept, name, chain, n_chains, length, data, dims)
        base = {"chain": np.arange(n_chains), "draw": np.arange(length)}
        used = {d for name in data for d in dims[name]}
        out.append(xr.Dataset(
            {name: (("chain", "draw", *dims[name]), values) for name, values in data.items()},
            coords=base | {d: list(coords[d]) for d in used if coords.get(d) is not None},
        ))
    return out[0], out[1]

