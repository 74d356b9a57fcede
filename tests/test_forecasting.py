"""Forecasting with Darts on real series (statsmodels' co2 and nile): the task's data
contract, holdout and backtest, metrics, save/load, ``predict --horizon``, bad input.

Statistical and regression models only here (seconds); torch models are in
test_forecasting_torch.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import invoke

pytest.importorskip("darts")
pytest.importorskip("statsmodels")

from kampai import api, load_run
from kampai.core.errors import ConfigError, DataError, UnknownNameError

FC = {"task": "forecasting", "framework": "darts"}  # tracking is off for tests (conftest)


def shops_frame(n: int = 90, ahead: int = 0) -> pd.DataFrame:
    """Two shops in long format: weekly seasonality, a promo (future covariate) and
    temperature (past covariate); ``ahead`` extra rows carry only the promo."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=n + ahead, freq="D")
    rows = []
    for shop, level in (("north", 20.0), ("south", 35.0)):
        promo = (np.arange(n + ahead) % 10 == 3).astype(float)
        temp = 10 + 5 * np.sin(np.arange(n + ahead) / 9) + rng.normal(0, 0.3, n + ahead)
        sales = level + 4 * np.sin(np.arange(n + ahead) * 2 * np.pi / 7) + 6 * promo + rng.normal(0, 0.5, n + ahead)
        sales[n:] = np.nan
        rows.append(pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "shop": shop, "sales": sales,
                                  "promo": promo, "temp": temp}))
    return pd.concat(rows, ignore_index=True)


def test_co2_holdout_default_model_beats_seasonal_naive_and_reloads(tmp_path: Path) -> None:
    run = api.train(data="statsmodels:co2", verbose=False, **FC)
    assert run.config["model"]["estimator"] == "ExponentialSmoothing"
    assert run.meta["split"] == "holdout"
    assert 0 < run.metrics["mase"] < 1  # beats the seasonal naive forecast
    assert {"mae", "rmse", "mape", "smape"} <= set(run.metrics)
    assert "coverage" not in run.metrics  # point forecasts: no interval metrics
    for name in ("forecast.png", "predictions.csv", "model/model.darts", "model/forecaster.json"):
        assert (run.run_dir / name).exists(), name
    table = pd.read_csv(run.run_dir / "predictions.csv")
    assert list(table.columns[:5]) == ["row", "date", "target", "actual", "forecast"]
    assert len(table) == 24 and table["date"].iloc[-1] == "2001-12-01"
    # the saved model was refit on all rows: it forecasts after the end of the data
    ahead = run.predict(horizon=12)
    assert len(ahead) == 12 and str(ahead["date"].iloc[0].date()) == "2002-01-01"
    reloaded = load_run(run.run_dir).predict(horizon=12)
    np.testing.assert_allclose(reloaded["forecast"], ahead["forecast"])


def test_backtest_expanding_with_retrain_on_nile() -> None:
    run = api.train(data="statsmodels:nile", model="Theta", verbose=False,
                    split={"method": "backtest", "horizon": 5, "stride": 5, "start": 0.7}, **FC)
    table = pd.read_csv(run.run_dir / "predictions.csv")
    assert table["cutoff"].nunique() == 6  # 30 test years / stride 5
    assert len(table) == 30 and table["actual"].notna().all()
    assert np.isfinite(run.metrics["mase"]) and run.metrics["mae"] > 0
    assert run.meta["split"] == "backtest"


def test_backtest_sliding_window_without_retrain() -> None:
    run = api.train(data="statsmodels:co2", model="LinearRegressionModel", verbose=False, params={"lags": 24},
                    split={"method": "backtest", "horizon": 12, "stride": 12, "start": 0.8,
                           "window": "sliding", "retrain": False}, **FC)
    assert run.metrics["mase"] < 1
    assert pd.read_csv(run.run_dir / "predictions.csv")["cutoff"].nunique() == 8


def test_probabilistic_forecasts_give_quantiles_coverage_and_quantile_loss() -> None:
    run = api.train(data="statsmodels:co2", verbose=False, overrides=["model.num_samples=200"], **FC)
    assert 0.5 < run.metrics["coverage"] <= 1
    assert run.metrics["quantile_loss"] > 0
    ahead = run.predict(horizon=6)
    assert {"q0.1", "q0.5", "q0.9"} <= set(ahead.columns)
    assert (ahead["q0.1"] <= ahead["forecast"]).all() and (ahead["forecast"] <= ahead["q0.9"]).all()


def test_long_format_with_covariates_and_newer_data() -> None:
    frame = shops_frame(90, ahead=5)
    history = frame[frame["sales"].notna()]
    run = api.train(data=history, model="LinearRegressionModel", verbose=False,
                    params={"lags": 14, "lags_past_covariates": 7, "lags_future_covariates": [0]},
                    overrides=["data.series_id=shop", "data.target=sales", "data.future_covariates=[promo]",
                               "data.past_covariates=[temp]", "split.horizon=7"], **FC)
    assert run.metrics["mase"] < 1
    predictions = pd.read_csv(run.run_dir / "predictions.csv")
    assert set(predictions["shop"]) == {"north", "south"} and len(predictions) == 14
    # newer data: the history plus 5 rows that only carry the promo (known ahead)
    ahead = run.predict(frame, horizon=5)
    assert len(ahead) == 10 and str(ahead["day"].min().date()) == "2024-03-31"
    assert "actual" not in ahead.columns


def test_gaps_are_reported_and_the_fill_policy_applies(tmp_path: Path) -> None:
    frame = api_frame = shops_frame(60)
    frame = frame[frame["shop"] == "north"].drop(index=[5, 6, 20])  # three missing days
    frame.loc[frame.index[30], "sales"] = np.nan
    with pytest.raises(DataError, match="4 missing time steps or values"):
        api.train(data=frame, verbose=False, overrides=["data.fill=error", "data.target=sales"], **FC)
    run = api.train(data=frame, model="NaiveSeasonal", verbose=False,
                    overrides=["data.fill=ffill", "data.target=sales", "split.horizon=7"], **FC)
    assert run.meta["data"]["rows"] == 60 and run.metrics["mae"] >= 0
    with pytest.raises(ConfigError, match="Did you mean 'interpolate'"):
        api.train(data=api_frame, verbose=False, overrides=["data.fill=interpolat"], **FC)


def test_bad_input_python_errors() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'ExponentialSmoothing'"):
        api.train(data="statsmodels:nile", model="ExponentialSmoothin", verbose=False, **FC)
    with pytest.raises(ConfigError, match="Did you mean 'seasonal_periods'"):
        api.train(data="statsmodels:co2", params={"seasonal_period": 12}, verbose=False, **FC)
    with pytest.raises(ConfigError, match=r"split\.horizn.*Did you mean 'horizon'"):
        api.train(data="statsmodels:nile", split={"horizn": 3}, verbose=False, **FC)
    no_time = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) * 2})
    with pytest.raises(DataError, match="needs a time column"):
        api.train(data=no_time, verbose=False, **FC)
    with pytest.raises(ConfigError, match="local model"):
        api.train(data=shops_frame(40), model="ExponentialSmoothing", verbose=False,
                  overrides=["data.series_id=shop", "data.target=sales"], **FC)


def test_cli_train_predict_horizon_and_bad_input(tmp_path: Path) -> None:
    result = invoke("train", "--task", "forecasting", "--framework", "darts", "--data", "statsmodels:nile",
                    "--json", "split.horizon=10")
    assert result.code == 0, result.stderr
    run_dir = json.loads(result.stdout)["run_dir"]
    out = tmp_path / "ahead.csv"
    result = invoke("predict", run_dir, "--horizon", "24", "-o", str(out))
    assert result.code == 0, result.stderr
    ahead = pd.read_csv(out)
    assert len(ahead) == 24 and ahead["year"].iloc[0] == "1971-01-01"
    # newer data: forecast after its end (a local model is refit on it, same params)
    csv = tmp_path / "nile.csv"
    from kampai.plugins.darts.datasets import BUNDLED

    BUNDLED["nile"][0]().iloc[:80].to_csv(csv, index=False)
    result = invoke("predict", run_dir, "--horizon", "3", "--data", str(csv))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("1951-01-01")
    # evaluate on labelled data: its last 10 years forecast from the years before
    result = invoke("evaluate", run_dir, "--data", str(csv), "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["mae"] > 0
    # bad input exits 2 with one line
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    for args, message in (
        (["--data", str(tmp_path / "bad.csv")], "needs a time column"),
        (["--data", "statsmodels:nile", "--model", "NBEATZ"], "Did you mean 'NBEATS"),
        (["--data", "statsmodels:nile", "model.params.thetaa=2", "--model", "Theta"], "Did you mean 'theta'"),
    ):
        result = invoke("train", "--task", "forecasting", "--framework", "darts", *args)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert message in result.stdout + result.stderr
    result = invoke("predict", run_dir)
    assert result.code == 0  # forecasting: --data is optional
    result = invoke("predict", run_dir, "--horizon", "0")
    assert result.code == 2


def test_horizon_is_refused_for_tabular_tasks(tmp_path: Path) -> None:
    run = api.train(task="classification", data="sklearn:iris", verbose=False)
    from kampai.core.errors import KampaiError

    with pytest.raises(KampaiError, match=r"takes no predict options.*horizon is an option of forecasting"):
        run.predict("sklearn:iris", horizon=3)
    with pytest.raises(DataError, match="No data given"):
        run.predict()


def test_plugin_listing_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys; from kampai.core.cli.inspect_cmds import plugin_report; r = plugin_report(); "
            "assert any(p['name'] == 'darts' and p['status'] == 'ok' for p in r), r; "
            "heavy = [m for m in ('darts', 'torch', 'statsmodels', 'pandas') if m in sys.modules]; "
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    datasets = invoke("datasets", "list", "--json")
    names = {d["name"] for d in json.loads(datasets.stdout)}
    assert {"statsmodels:co2", "statsmodels:sunspots", "statsmodels:nile"} <= names


def test_scaling_pickled_by_a_run_saved_before_the_module_split_still_loads() -> None:
    """A run folder's series.pkl names the Scaling class by its module path: runs saved when it
    lived in darts/framework.py keep loading; new runs record where it lives now."""
    import pickle

    from kampai.plugins.darts.series import Scaling

    assert b"kampai.plugins.darts.series" in pickle.dumps(Scaling({}), protocol=0)
    old = pickle.dumps(Scaling({"target": {"y": (1.0, 2.0)}}), protocol=0).replace(
        b"kampai.plugins.darts.series", b"kampai.plugins.darts.framework")
    assert pickle.loads(old).stats == {"target": {"y": (1.0, 2.0)}}


def test_arima_by_name_and_missing_backends_are_named() -> None:
    run = api.train(data="statsmodels:nile", model="ARIMA", params={"p": 2, "d": 1, "q": 1}, verbose=False,
                    overrides=["split.horizon=10"], **FC)
    assert np.isfinite(run.metrics["mase"])
    from kampai.plugins.darts import models

    for name, backend in (("LightGBM", "lightgbm"), ("AutoARIMA", "statsforecast")):
        try:
            __import__(backend)
        except ImportError:
            with pytest.raises(ConfigError, match=r"needs .* which is not installed"):
                models.resolve(name)
        else:
            assert models.resolve(name).__name__.startswith(name)


def test_co2_experiment_config_resolves() -> None:
    from conftest import ROOT

    result = invoke("config", "show", "-c", str(ROOT / "conf/experiments/co2.yaml"))
    assert result.code == 0, result.stdout + result.stderr
    assert "method: backtest" in result.stdout and "horizon: 24" in result.stdout


# -- issue 11 item 7: Darts rough edges, on real series --------------------------------------


def test_string_enums_and_theta_default_on_sunspots() -> None:
    # old: "unsupported operand type(s) for 'in': 'str' and 'EnumType'"
    run = api.train(data="statsmodels:nile", model="Theta", params={"season_mode": "additive"}, verbose=False, **FC)
    from darts.utils.utils import SeasonalityMode

    assert run.model.model.season_mode is SeasonalityMode.ADDITIVE
    with pytest.raises(ConfigError, match="season_mode='additiv': use one of multiplicative, additive"):
        api.train(data="statsmodels:nile", model="Theta", params={"season_mode": "additiv"}, verbose=False, **FC)
    # sunspots has years with zero activity: Darts' multiplicative default refused them
    run = api.train(data="statsmodels:sunspots", model="Theta", verbose=False, **FC)
    assert np.isfinite(run.metrics["mae"])
    with pytest.raises(DataError, match=r"set model\.params\.season_mode=additive"):
        api.train(data="statsmodels:sunspots", model="Theta", params={"season_mode": "multiplicative"},
                  verbose=False, **FC)


def test_quarter_labels_parse_as_dates() -> None:
    # US macro data 1959 Q1 - 2009 Q3 written as "1959 Q1" (tsibble's yearquarter, fpp3's aus_arrivals)
    from statsmodels.datasets import macrodata

    macro = macrodata.load_pandas().data
    frame = pd.DataFrame({"quarter": [f"{int(y)} Q{int(q)}" for y, q in zip(macro["year"], macro["quarter"],
                                                                           strict=True)],
                          "realgdp": macro["realgdp"]})
    run = api.train(data=frame, model="NaiveSeasonal", verbose=False, split={"horizon": 8}, **FC)
    assert run.meta["data"]["rows"] == len(frame)
    table = pd.read_csv(run.run_dir / "predictions.csv")
    assert table["quarter"].iloc[0] == "2007-10-01" and table["quarter"].iloc[-1] == "2009-07-01"
    info = json.loads((run.run_dir / "signature.json").read_text())
    assert info["freq"].startswith("QS") and info["season"] == 4


def test_backtest_log_counts_the_scored_points_and_arima_warns_in_one_line() -> None:
    # 25 test years, horizon 10 every 10 years: 2 windows = 20 scored points (the old log said 25)
    from kampai.core import console

    console._warned.clear()  # warnings print once per process
    code, _, err = invoke("train", "--task", "forecasting", "--framework", "darts", "--data", "statsmodels:nile",
                          "--model", "ARIMA", "model.params.p=6", "model.params.q=3", "split.method=backtest",
                          "split.horizon=10", "split.stride=10", "split.start=0.75")
    assert code == 0, err
    assert "/ 20 test" in err, err
    run_dir = Path(err.split("→")[-1].strip())
    assert len(pd.read_csv(run_dir / "predictions.csv")) == 20
    # statsmodels' raw warnings (file paths, "mlefit = super().fit(") became one line
    assert "ConvergenceWarning" not in err and "mlemodel.py" not in err and "super().fit(" not in err
    lines = [line for line in err.splitlines() if line.startswith("Warning:")]
    assert len(lines) == 1 and "did not converge" in lines[0], err
