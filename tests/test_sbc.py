"""Simulation-based calibration of the power law, small: ranks uniform, and the test can fail.

The full run (200 data sets per law) is ``benchmarks/sbc.py``; this runs its harness on 40
data sets with short chains. Its negative controls reuse the same fits: truths ranked without
the ``-log y_scale`` shift bayescale's normalisation needs, and posteriors narrowed to half
their spread. Both must be rejected where the correct ranks are not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
N_DATASETS = 40
BINS = 4
FAMILY_LEVEL = 0.01


@pytest.fixture(scope="module")
def sbc():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sbc.py"
    spec = importlib.util.spec_from_file_location("bench_sbc", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ranks(sbc):
    pytest.importorskip("nutpie")
    settings = {"draws": 200, "tune": 300, "chains": 2, "engine": "fit_many", "sampler": "nutpie"}
    return sbc.run("power", N_DATASETS, settings, workers=1, seed=7)


def test_every_simulated_data_set_is_fitted(ranks):
    assert (ranks["status"] == "ok").all(), ranks.loc[ranks["status"] != "ok", "status"].iloc[0]
    assert ranks["dataset"].nunique() == N_DATASETS
    assert set(ranks["parameter"]) == {"alpha", "log_A", "log_E", "sigma"}


def test_ranks_of_the_power_law_parameters_are_uniform(sbc, ranks):
    tests = 2 * ranks["parameter"].nunique()
    for name, g in ranks.groupby("parameter"):
        chi2_p, ks_p = sbc.uniformity(g["rank"].to_numpy(), bins=BINS)
        assert min(chi2_p, ks_p) > FAMILY_LEVEL / tests, (name, chi2_p, ks_p)
    # central 90% intervals: 36 of 40 expected; fewer than 30 is a < 1% binomial tail
    assert (ranks.groupby("parameter")["in90"].sum() >= 30).all()


def test_forgetting_the_normalisation_shift_is_rejected(sbc, ranks):
    for name in ("log_A", "log_E"):
        g = ranks[ranks["parameter"] == name]
        assert not np.array_equal(g["rank"], g["rank_unshifted"])
        chi2_p, _ = sbc.uniformity(g["rank_unshifted"].to_numpy(), bins=BINS)
        assert chi2_p < FAMILY_LEVEL / 4, (name, chi2_p)


def test_an_over_confident_posterior_is_rejected(sbc, ranks):
    g = ranks[ranks["parameter"] == "alpha"]
    chi2_p, _ = sbc.uniformity(g["rank_narrow"].to_numpy(), bins=BINS)
    assert chi2_p < FAMILY_LEVEL / 4, chi2_p
