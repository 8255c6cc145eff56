"""nutpie's raw trace as datasets (bayescale.fitting.trace): the same as nutpie's own conversion."""

import warnings

import numpy as np
import pytest
import xarray as xr

import bayescale
from bayescale.fitting import compiled
from bayescale.fitting.single import build_model
from bayescale.fitting.trace import trace_datasets
from bayescale.laws.simulate import power_law_data


def _plain(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {}
    for var in ds.variables.values():
        var.attrs = {}
    return ds


@pytest.mark.parametrize("law", ["power", "broken"])
def test_the_datasets_equal_nutpies_conversion_without_unconstrained_draws_or_object_statistics(law):
    import nutpie

    df = power_law_data(offsets=(300.0, 900.0), n=12, seed=3)
    options = {"group": "group"} if law == "power" else {"law": "broken"}
    data = df if law == "power" else df[df["group"] == df["group"].iloc[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bayescale.fit(data, x="params", y="loss", seed=1, draws=30, tune=30, chains=2, progress=False,
                            **options)
    entry = compiled._CACHE[compiled.structure_key(build_model(fit.data, fit.config), fit.config)]
    settings = {"draws": 40, "tune": 40, "chains": 3, "cores": 1, "seed": 9, "progress_bar": False}
    reference = nutpie.sample(entry.compiled, **settings)
    raw = nutpie.sample(entry.compiled, return_raw_trace=True, **settings)
    posterior, stats = trace_datasets(*raw.get_arrow_trace(), entry.template.coords,
                                      entry.compiled.reparameterized_names)

    expected = reference["posterior"].to_dataset()
    expected = expected.assign_coords({d: list(entry.template.coords[d]) for d in expected.dims
                                       if entry.template.coords.get(d) is not None})
    xr.testing.assert_identical(posterior, _plain(expected))
    expected_stats = reference["sample_stats"].to_dataset()
    expected_stats = expected_stats[[n for n, v in expected_stats.data_vars.items() if v.dtype != object]]
    xr.testing.assert_identical(stats, _plain(expected_stats))
    assert not any(name.endswith("__") for name in posterior.data_vars)
    assert posterior.sizes["draw"] == 40 and np.isfinite(stats["step_size"]).all()
