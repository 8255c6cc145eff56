"""Save and load fits as one netCDF file (an ArviZ DataTree), never pickle.

The file holds the usual ArviZ groups (posterior, sample_stats, log_likelihood,
observed_data, constant_data) plus ``input_data`` (the validated rows as given) and,
in the root attributes, the fit configuration as JSON and the package version.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.errors import DataError, OutputError

FORMAT = "bayescale-fit/1"


def check_writable(path, what: str = "") -> Path:
    """Refuse early an output path that cannot be written: a missing or read-only folder, a folder.

    The folder is tried with a probe file (removed at once), so special file systems such as
    ``/proc`` and running as root are judged by what the system does, not by permission bits.
    ``what`` names the output in the message (``cannot write plot '/proc/f.png': ...``).
    """
    path = Path(path)
    name = f"{what} {str(path)!r}" if what else repr(str(path))
    folder = path.parent

    def refuse(reason: str):
        raise OutputError(f"cannot write {name}: {reason}")

    if path.is_dir():
        refuse("it is a folder")
    if not folder.is_dir():
        refuse(f"{str(folder)!r} is not a folder" if folder.exists() else f"folder {str(folder)!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        refuse(f"folder {str(folder)!r} does not accept new files ({exc.strerror or exc})")
    os.close(fd)
    os.unlink(probe)
    return path


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``; remove the temp file on failure."""
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def _dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
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


def load_fit(path):
    """Load a fit saved with ``fit.save(path)``; predictions are identical to the original."""
    from bayescale.config import FitConfig
    from bayescale.data import prepare
    from bayescale.result import ScalingFit

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
        frame = _dataset_to_frame(tree["input_data"].to_dataset())
    except Exception as exc:  # the format attribute is there but the content is not what save_fit writes
        raise DataError(f"saved fit {str(path)!r} is damaged: {type(exc).__name__}: {exc}") from exc
    if config.law == "chinchilla":  # two-input law: its own data preparation and result type
        from bayescale.chinchilla import from_saved

        idata = tree.copy()
        del idata["input_data"]
        return from_saved(idata, frame, config)
    data = prepare(frame, x=config.x, y=config.y, group=config.group, law=config.law, noise=config.noise)
    idata = tree.copy()
    del idata["input_data"]
    return ScalingFit(idata, data, config)
