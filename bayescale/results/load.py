"""Loading a fit saved by ``fit.save`` (:mod:`bayescale.results.netcdf`): ``bayescale.load``."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from bayescale.errors import DataError
from bayescale.results.netcdf import FORMAT, dataset_to_frame


def load_fit(path):
    """Load a fit saved with ``fit.save(path)``; predictions are identical to the original."""
    from bayescale.core.config import FitConfig
    from bayescale.data.curves import prepare
    from bayescale.results.scaling import ScalingFit

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no saved fit at {str(path)!r}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            tree = opened.load()
    except Exception as exc:  # h5py/h5netcdf raise OSError, ValueError, KeyError... on damaged files
        reason = " ".join(str(exc).split()) or type(exc).__name__
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":  # every file save_fit writes starts so
                reason = "empty file" if path.stat().st_size == 0 else "it does not start like a netCDF-4/HDF5 file"
        raise DataError(f"saved fit {str(path)!r} is not a readable netCDF file ({reason})") from exc
    found = tree.attrs.get("bayescale_format")
    if found != FORMAT:
        what = "has no bayescale_format attribute" if found is None else f"has format {found!r}, not {FORMAT!r}"
        raise DataError(f"{str(path)!r} is not a fit saved by bayescale: it {what}")
    try:
        config = FitConfig.from_json(tree.attrs["bayescale_config"])
        frame = dataset_to_frame(tree["input_data"].to_dataset())
    except Exception as exc:  # the format attribute is there but the content is not what save_fit writes
        raise DataError(f"saved fit {str(path)!r} is damaged: {type(exc).__name__}: {exc}") from exc
    if config.law == "chinchilla":  # two-input law: its own data preparation and result type
        from bayescale.results.chinchilla import from_saved

        idata = tree.copy()
        del idata["input_data"]
        return from_saved(idata, frame, config)
    data = prepare(frame, x=config.x, y=config.y, group=config.group, law=config.law, noise=config.noise)
    idata = tree.copy()
    del idata["input_data"]
    return ScalingFit(idata, data, config)
