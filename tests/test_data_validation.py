"""Every kind of bad input stops before sampling with its own error and message."""

import numpy as np
import pandas as pd
import pytest

from bayescale.data.curves import prepare
from bayescale.errors import DataError, DataWarning, LawError, PriorError
from bayescale.fitting.dispatch import fit
from bayescale.laws.simulate import power_law_data


@pytest.fixture
def df():
    return power_law_data(offsets=(300.0, 500.0), n=8, seed=1)


def test_valid_frame_is_prepared_with_scaling(df):
    data = prepare(df, x="params", y="loss", group="group")
    assert data.groups == ("g0", "g1")
    assert data.n_groups == 2
    assert np.isclose(data.x_ref, np.exp(np.log(df.params).mean()))
    assert np.isclose(data.y_scale, df.loss.median())


def test_missing_column_is_named(df):
    with pytest.raises(DataError, match=r"column 'tokens' is not in the data; available columns: group, params, loss"):
        prepare(df, x="tokens", y="loss")


def test_missing_group_column(df):
    with pytest.raises(DataError, match="group column 'domain' is not in the data"):
        prepare(df, x="params", y="loss", group="domain")


def test_non_numeric_values_name_rows(df):
    df["loss"] = df["loss"].astype(object)
    df.loc[3, "loss"] = "n/a"
    with pytest.raises(DataError, match=r"column 'loss' must be numeric; rows 3 hold 'n/a'"):
        prepare(df, x="params", y="loss")


def test_nan_and_inf_are_not_dropped_silently(df):
    df.loc[[2, 5], "loss"] = [np.nan, np.inf]
    with pytest.raises(DataError, match=r"column 'loss' has missing or infinite values in rows 2, 5"):
        prepare(df, x="params", y="loss")


def test_nonpositive_x_for_power_law(df):
    df.loc[4, "params"] = 0.0
    with pytest.raises(DataError, match=r"column 'params' must be > 0 for the power law; rows 4 are <= 0"):
        prepare(df, x="params", y="loss")


def test_nonpositive_y_under_lognormal_noise(df):
    df.loc[1, "loss"] = -0.5
    with pytest.raises(DataError, match=r"column 'loss' must be > 0 under lognormal noise; rows 1 are <= 0"):
        prepare(df, x="params", y="loss")
    # additive noise accepts it
    prepare(df, x="params", y="loss", noise="normal")


def test_fewer_points_than_parameters():
    small = power_law_data(n=4)
    with pytest.raises(DataError, match=r"4 points are fewer than the 5 needed for the power law"):
        prepare(small, x="params", y="loss")


def test_single_distinct_x():
    same = pd.DataFrame({"params": [1e6] * 6, "loss": np.linspace(3, 2, 6)})
    with pytest.raises(DataError, match=r"column 'params' has a single distinct value"):
        prepare(same, x="params", y="loss")


def test_group_with_one_point(df):
    df.loc[len(df)] = {"group": "lonely", "params": 1e7, "loss": 3.0}
    with pytest.raises(DataError, match=r"groups 'lonely' in column 'group' have a single point"):
        prepare(df, x="params", y="loss", group="group")


def test_group_with_one_distinct_x(df):
    df.loc[len(df)] = {"group": "flat", "params": 1e7, "loss": 3.0}
    df.loc[len(df)] = {"group": "flat", "params": 1e7, "loss": 3.1}
    with pytest.raises(DataError, match=r"group 'flat' in column 'group' has a single distinct 'params' value"):
        prepare(df, x="params", y="loss", group="group")


def test_duplicated_rows_warn_and_are_kept(df):
    doubled = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.warns(DataWarning, match=r"rows 0, 16 are duplicated"):
        data = prepare(doubled, x="params", y="loss", group="group")
    assert len(data.y) == len(doubled)


def test_unknown_law_and_noise(df):
    with pytest.raises(LawError, match=r"unknown law 'powr'; expected one of: .*power"):
        fit(df, law="powr", x="params", y="loss")
    with pytest.raises(LawError, match=r"unknown noise model 'gauss'"):
        fit(df, x="params", y="loss", noise="gauss")
    with pytest.raises(LawError, match=r"slopes must be one of \('shared', 'varying'\)"):
        fit(df, x="params", y="loss", slopes="free")


def test_unknown_prior_name_and_malformed_prior(df):
    with pytest.raises(PriorError, match=r"unknown prior 'beta' for this model; its parameters are: .*alpha"):
        fit(df, x="params", y="loss", priors={"beta": {"dist": "Normal", "mu": 0, "sigma": 1}})
    with pytest.raises(PriorError, match=r"prior 'alpha' must name a distribution with 'dist'"):
        fit(df, x="params", y="loss", priors={"alpha": {"mu": 0.3}})


def test_not_a_dataframe():
    with pytest.raises(DataError, match="data must be a pandas DataFrame, got dict"):
        prepare({"x": [1]}, x="x", y="y")
