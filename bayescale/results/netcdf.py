"""Save and load fits as one netCDF file (an ArviZ DataTree), never pickle.

The file holds the usual ArviZ groups (posterior, sample_stats, log_likelihood,
observed_data, constant_data) plus ``input_data`` (the validated rows as given) and,
in the root attributes, the fit configuration as JSON and the package version. Every other
group of ``fit.idata`` travels as it is, e.g. the discrepancy a Chinchilla fit learned
(``chinchilla_discrepancy``, :mod:`bayescale.results.chinchilla_drift`); :mod:`bayescale.results.load`
keeps it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.files import atomic_write

FORMAT = "bayescale-fit/1"


def _frame_to_dataset(frame: pd.DataFrame) -> xr.Dataset:
    # integer row labels travel as the "row" coordinate, so flags name the user's rows after a reload
    labels = frame.index.to_numpy() if pd.api.types.is_integer_dtype(frame.index) else None
    frame = frame.reset_index(drop=True).copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            frame[column] = frame[column].astype(str)
    frame.columns = [str(c) for c in frame.columns]
    ds = xr.Dataset({c: ("row", np.asarray(frame[c].to_numpy())) for c in frame.columns},
                    coords=None if labels is None else {"row": labels})
    ds.attrs["column_order"] = "\x1f".join(frame.columns)
    return ds


def dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    order = ds.attrs.get("column_order", "").split("\x1f")
    return pd.DataFrame({c: ds[c].values for c in order}, index=ds["row"].values if "row" in ds.coords else None)


def save_fit(fit, path) -> None:
    """Write ``fit`` to ``path`` atomically (see module docstring for the layout)."""
    from bayescale import __version__

    tree = fit.idata.copy()
    tree["input_data"] = xr.DataTree(_frame_to_dataset(fit.data.frame))
    tree.attrs = {**tree.attrs, "bayescale_format": FORMAT, "bayescale_version": __version__,
                  "bayescale_config": fit.config.to_json()}
    atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))
