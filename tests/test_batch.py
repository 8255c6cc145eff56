"""fit_many: many curves, per-curve failures, key-derived seeds, executors, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale
from bayescale.errors import BayescaleError, DataError
from bayescale.workflows.batch import BatchResult, curve_id, curve_seed, fit_many

TRUE_ALPHA = {"a": 0.25, "b": 0.35, "c": 0.45}
SMALL = {"draws": 300, "tune": 300, "chains": 2}
TINY = {"draws": 100, "tune": 100, "chains": 2}


def _curves(alphas: dict, seed: int = 0, n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for task, alpha in alphas.items():
        x = np.logspace(6, 10, n)
        y = 0.3 + 40.0 * x**-alpha * np.exp(rng.normal(0, 0.02, n))
        frames.append(pd.DataFrame({"task": task, "params": x, "loss": y}))
    return pd.concat(frames, ignore_index=True)


def _poisoned() -> pd.DataFrame:
    df = _curves(TRUE_ALPHA)
    nan_rows = _curves({"nan_y": 0.3}, seed=1).assign(loss=np.nan)
    single = pd.DataFrame({"task": ["single"], "params": [1e7], "loss": [2.0]})
    return pd.concat([df, nan_rows, single], ignore_index=True)


@pytest.fixture(scope="module")
def batch():
    return fit_many(_poisoned(), by="task", x="params", y="loss", at=[1e11], seed=11, workers=1, progress=False,
                    **SMALL)


def test_poisoned_curves_fail_with_reason_and_the_rest_succeed(batch):
    status = batch.status.set_index("task")
    assert status.loc[["a", "b", "c"], "status"].tolist() == ["ok"] * 3
    assert status.loc["nan_y", "status"] == "failed"
    assert "column 'loss' has missing or infinite values" in status.loc["nan_y", "reason"]
    assert status.loc["single", "status"] == "failed"
    assert "single distinct value" in status.loc["single", "reason"]
    assert sorted(batch.failed["task"]) == ["nan_y", "single"]
    with pytest.raises(DataError, match="curve \\['single'\\] failed: column 'params' has a single distinct"):
        batch.fit("single")


def test_recovers_each_curve_exponent(batch):
    alpha = batch.summary[batch.summary["parameter"] == "alpha"].set_index("task")
    assert list(alpha.index) == ["a", "b", "c"]
    for task, truth in TRUE_ALPHA.items():
        row = alpha.loc[task]
        assert abs(row["mean"] - truth) < 0.05, (task, row["mean"])
        assert row["hdi_lower"] - 0.02 < truth < row["hdi_upper"] + 0.02


def test_tables_have_one_block_per_curve(batch):
    assert list(batch.summary.columns[:2]) == ["task", "parameter"]
    assert len(batch.summary) == 3 * 4
    assert list(batch.predictions["task"]) == ["a", "b", "c"]
    assert (batch.predictions["params"] == 1e11).all()
    assert (batch.predictions["lower"] < batch.predictions["median"]).all()
    assert set(batch.flags["task"]) <= {"a", "b", "c"}
    assert "extrapolation" in set(batch.flags["code"])  # 1e11 is a decade beyond the data


def test_curve_seed_depends_on_run_seed_and_key_only():
    assert curve_seed(11, ["a"]) == curve_seed(11, ["a"])
    assert curve_seed(11, ["a"]) != curve_seed(11, ["b"])
    assert curve_seed(11, ["a"]) != curve_seed(12, ["a"])
    assert curve_id(["a/b c"]).startswith("a_b_c-")


def test_results_do_not_depend_on_which_curves_run_or_their_order(batch):
    df = _curves(TRUE_ALPHA)
    reordered = pd.concat([df[df["task"] == "c"], df[df["task"] == "a"]])  # fewer curves, other order
    sub = fit_many(reordered, by="task", x="params", y="loss", at=[1e11], seed=11, workers=1, progress=False,
                   **SMALL)
    full = batch.summary[batch.summary["task"].isin(["a", "c"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub.summary, full)


@pytest.fixture(scope="module")
def one_at_a_time():
    """Curve b fitted on its own with bayescale.fit (default sampler) and the seed fit_many gives it."""
    df = _curves(TRUE_ALPHA).query("task == 'b'")
    return df, bayescale.fit(df, x="params", y="loss", seed=curve_seed(11, ["b"]), progress=False, cores=1, **SMALL)


def test_pymc_path_equals_bayescale_fit_exactly():
    df = _curves(TRUE_ALPHA).query("task == 'b'")
    single = bayescale.fit(df, x="params", y="loss", seed=curve_seed(11, ["b"]), sampler="pymc", progress=False,
                           cores=1, **TINY)  # equal to the last bit: no need for more draws
    batch = fit_many(df, by="task", x="params", y="loss", seed=11, sampler="pymc", workers=1, progress=False,
                     **TINY)
    mine = batch.summary.drop(columns="task").set_index("parameter").rename_axis(None)
    pd.testing.assert_frame_equal(mine, single.summary())


def test_nutpie_batch_equals_bayescale_fit_exactly(batch, one_at_a_time):
    single = one_at_a_time[1].summary()
    mine = batch.summary[batch.summary["task"] == "b"].drop(columns="task").set_index("parameter")
    pd.testing.assert_frame_equal(mine.rename_axis(None), single)


def test_nutpie_and_pymc_agree_within_mc_error(batch):
    df = _curves(TRUE_ALPHA).query("task == 'b'")
    single = bayescale.fit(df, x="params", y="loss", seed=5, sampler="pymc", progress=False, cores=1,
                           **SMALL).summary()
    mine = batch.summary[batch.summary["task"] == "b"].set_index("parameter")
    for name in ("alpha", "A", "E", "sigma"):
        se = np.hypot(mine.loc[name, "sd"] / np.sqrt(mine.loc[name, "ess_bulk"]),
                      single.loc[name, "sd"] / np.sqrt(single.loc[name, "ess_bulk"]))
        assert abs(mine.loc[name, "mean"] - single.loc[name, "mean"]) < 5 * se, name


def test_save_and_load_round_trip(batch, tmp_path):
    batch.save(tmp_path / "saved")
    loaded = bayescale.load_batch(tmp_path / "saved")
    for name in ("summary", "predictions", "flags", "status"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(batch, name))
    pd.testing.assert_frame_equal(loaded.fit("b").predict([1e11]), batch.fit("b").predict([1e11]))
    assert not list((tmp_path / "saved").rglob("*.pkl"))
    assert (tmp_path / "saved" / "summary.csv").is_file()


def test_bad_arguments_are_refused_before_fitting():
    df = _curves({"a": 0.3})
    with pytest.raises(DataError, match="by column 'model' is not in the data"):
        fit_many(df, by="model", x="params", y="loss")
    with pytest.raises(DataError, match="column 'tokens' is not in the data"):
        fit_many(df, by="task", x="tokens", y="loss")
    with pytest.raises(DataError, match="at must be a non-empty list of finite scales > 0"):
        fit_many(df, by="task", x="params", y="loss", at=[-1])
    with pytest.raises(BayescaleError, match="executor must be one of local, dask"):
        fit_many(df, by="task", x="params", y="loss", executor="slurm")
    with pytest.raises(DataError, match="by column 'task' is missing in rows 3"):
        fit_many(df.assign(task=lambda d: d["task"].where(d.index != 3)), by="task", x="params", y="loss")


_REFERENCE = {}


def _reference(df):
    """Inline run of the multi-process tests' data (computed once)."""
    if "ref" not in _REFERENCE:
        _REFERENCE["ref"] = _fit_reference(df)
    return _REFERENCE["ref"]


def _fit_reference(df):
    return fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=3, sampler="pymc", workers=1,
                    progress=False, **TINY)


@pytest.mark.slow
def test_local_processes_give_the_inline_results():
    df = _curves({**TRUE_ALPHA, "d": 0.3})
    pooled = fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=3, sampler="pymc", workers=2,
                      progress=False, **TINY)
    reference = _reference(df)
    pd.testing.assert_frame_equal(pooled.summary, reference.summary)
    pd.testing.assert_frame_equal(pooled.predictions, reference.predictions)


@pytest.mark.slow
def test_dask_local_cluster_survives_a_killed_worker_with_the_local_results(tmp_path):
    pytest.importorskip("distributed")
    import os
    import signal
    import threading
    import time

    from distributed import Client, LocalCluster

    df = _curves({**TRUE_ALPHA, "d": 0.3})
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    outcome = {}

    def run():
        outcome["result"] = fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=3, sampler="pymc",
                                     executor="dask", scheduler=cluster.scheduler_address, out=tmp_path / "out",
                                     progress=False, **TINY)

    try:
        with Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
            thread = threading.Thread(target=run)
            thread.start()
            deadline = time.monotonic() + 240
            while not list((tmp_path / "out" / "curves").glob("*.json")) and time.monotonic() < deadline:
                time.sleep(0.05)
            killed = len(list((tmp_path / "out" / "curves").glob("*.json"))) < len(TRUE_ALPHA) + 1
            os.kill(pids[0], signal.SIGKILL)  # a lost worker: Dask reschedules its task elsewhere
            thread.join(timeout=300)
    finally:
        cluster.close()
    assert killed, "the batch finished before a worker could be killed"
    on_dask = outcome["result"]
    assert isinstance(on_dask, BatchResult) and (on_dask.status["status"] == "ok").all()
    reference = _reference(df)
    pd.testing.assert_frame_equal(on_dask.summary, reference.summary)
    pd.testing.assert_frame_equal(on_dask.predictions, reference.predictions)
