"""Forecasting on data of fresh shapes (issue 24, items 4-7): torch likelihoods and optimizer
settings, the regression models' quantile route, the default model on several series, and the
time split on a long-format table where many rows share each time stamp.

Every series is built here (monthly, several series in long format) or is statsmodels' co2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kampai import api
from kampai.core.contract import TaskData
from kampai.core.errors import ConfigError, DataError
from kampai.core.host import get_host

pytest.importorskip("darts")

FC = {"task": "forecasting", "framework": "darts", "tracking": {"enabled": False}}


def monthly_shops(months: int = 72, shops: int = 3) -> pd.DataFrame:
    """Monthly sales of a few shops in long format: each its own level, trend and yearly
    season (so a forecast that ignores the lags is visibly wrong)."""
    rng = np.random.default_rng(7)
    dates = pd.date_range("2018-01-01", periods=months, freq="MS")
    rows = []
    for i in range(shops):
        t = np.arange(months)
        sales = (50 + 40 * i) + (0.3 + 0.4 * i) * t + (5 + 3 * i) * np.sin(2 * np.pi * t / 12) \
            + rng.normal(0, 1.0, months)
        rows.append(pd.DataFrame({"month": dates.strftime("%Y-%m-%d"), "shop": f"shop{i}", "sales": sales}))
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------ 4. torch likelihoods

TINY = {
    "NBEATS": {"num_stacks": 1, "num_blocks": 1, "num_layers": 1, "layer_widths": 8},
    "NHiTS": {"num_stacks": 1, "num_blocks": 1, "num_layers": 1, "layer_widths": 8},
    "TiDE": {"hidden_size": 8, "decoder_output_dim": 2, "temporal_decoder_hidden": 8},
    "RNN": {"hidden_dim": 4, "model": "GRU", "training_length": 30},
    "DLinear": {},
    "TCN": {"num_filters": 2, "kernel_size": 3},
}


@pytest.mark.parametrize("model", list(TINY))
def test_torch_models_take_likelihood_and_optimizer_kwargs_and_give_a_band(model: str) -> None:
    shop = monthly_shops(60, shops=1).drop(columns="shop")
    params = {**TINY[model], "likelihood": "quantile", "optimizer_kwargs": {"lr": 0.005}}
    run = api.train(data=shop, model=model, params=params, verbose=False,
                    overrides=["data.target=sales", "model.epochs=1", "model.num_samples=50",
                               "split.horizon=6", "device=cpu", "seed=1"], **FC)
    darts_model = run.model.model
    assert type(darts_model.likelihood).__name__ == "QuantileRegression"  # the string became the class
    assert darts_model.pl_module_params["optimizer_kwargs"]["lr"] == 0.005
    ahead = run.predict(horizon=6)
    assert (ahead["q0.1"] <= ahead["q0.5"]).all() and (ahead["q0.5"] <= ahead["q0.9"]).all()
    assert (ahead["q0.9"] - ahead["q0.1"] > 0).all()  # a real band around the median
    assert "coverage" in run.metrics


def test_torch_gaussian_likelihood_and_an_unknown_param_still_refused() -> None:
    shop = monthly_shops(48, shops=1).drop(columns="shop")
    run = api.train(data=shop, model="DLinear", params={"likelihood": "gaussian"}, verbose=False,
                    overrides=["data.target=sales", "model.epochs=1", "split.horizon=6", "device=cpu"], **FC)
    assert type(run.model.model.likelihood).__name__ == "GaussianLikelihood"
    with pytest.raises(ConfigError, match=r"Unknown parameter 'model\.params\.optimiser_kwargs'.*optimizer_kwargs"):
        api.train(data=shop, model="DLinear", params={"optimiser_kwargs": {"lr": 0.1}}, verbose=False,
                  overrides=["data.target=sales", "model.epochs=1", "split.horizon=6"], **FC)


# ------------------------------------------------------------------ 5. regression quantiles

def test_linear_regression_quantile_route_tracks_the_series() -> None:
    point = api.train(data="statsmodels:co2", model="LinearRegressionModel", params={"lags": 24},
                      verbose=False, **FC)
    quantile = api.train(data="statsmodels:co2", model="LinearRegressionModel", verbose=False,
                         params={"lags": 24, "likelihood": "quantile"}, **FC)
    assert point.metrics["mase"] < 1.5
    assert quantile.metrics["mase"] < 1.5 * point.metrics["mase"] + 0.2  # 13.59 before: a constant
    assert quantile.model.model.kwargs["alpha"] == 0.0  # no L1 penalty zeroing the lags


def test_linear_regression_quantile_band_differs_per_series_and_sklearn_params_pass() -> None:
    frame = monthly_shops(72, shops=3)
    run = api.train(data=frame, model="LinearRegressionModel", verbose=False,
                    params={"lags": 12, "likelihood": "quantile", "alpha": 0.0, "solver": "highs"},
                    overrides=["data.series_id=shop", "data.target=sales", "data.time=month",
                               "split.horizon=6"], **FC)
    assert run.metrics["mase"] < 3
    ahead = run.predict(horizon=6)
    medians = ahead.groupby("shop")["q0.5"]
    assert (medians.std() > 0.5).all()  # each series' median moves with its season
    assert medians.mean().nunique() == 3 and medians.mean().is_monotonic_increasing  # each its own level
    assert (ahead["q0.1"] <= ahead["q0.9"]).all()


# ------------------------------------------------------------------ 6. default on several series

def test_the_default_model_works_on_several_series_and_says_which_it_took(capsys) -> None:
    frame = monthly_shops(60, shops=3)
    run = api.train(data=frame, verbose=False,
                    overrides=["data.series_id=shop", "data.target=sales", "split.horizon=6"], **FC)
    assert run.config["model"]["estimator"] == "LinearRegressionModel"
    assert run.meta["estimator"] == "LinearRegressionModel"
    assert run.metrics["mase"] < 2
    assert "LinearRegressionModel, the default for several series" in capsys.readouterr().err
    assert set(run.predict(horizon=3)["shop"]) == {"shop0", "shop1", "shop2"}


# ------------------------------------------------------------------ 7. time split at a time boundary

def long_table(days: int = 20, per_day: tuple[int, ...] = (25, 20, 45, 30)) -> TaskData:
    """A long-format table: many rows (stores) per day, shuffled, the counts varying by day."""
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2024-01-01", periods=days, freq="D")
    counts = [per_day[i % len(per_day)] for i in range(days)]
    frame = pd.DataFrame({"day": np.repeat(stamps, counts)})
    frame["sales"] = rng.normal(size=len(frame))
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    return TaskData(X=frame[["sales"]], y=frame["sales"], order=frame["day"])


@pytest.mark.parametrize("test_size", [0.3, 0.37, 100])
def test_time_split_keeps_each_time_stamp_on_one_side(test_size: float) -> None:
    data = long_table()
    [(train, test)] = get_host().splitters().get("time").fn(data, {"test_size": test_size, "seed": 0})
    assert len(train) + len(test) == len(data)
    assert data.order.iloc[train].max() < data.order.iloc[test].min()  # no shared day
    wanted = round(test_size * len(data)) if isinstance(test_size, float) else test_size
    assert abs(len(test) - wanted) <= 45 // 2 + 1  # the nearest day boundary to the asked size


def test_time_split_on_one_time_stamp_is_a_clear_error() -> None:
    frame = pd.DataFrame({"day": pd.Timestamp("2024-01-01"), "x": range(10)})
    data = TaskData(X=frame[["x"]], y=frame["x"], order=frame["day"])
    with pytest.raises(DataError, match="same time stamp"):
        get_host().splitters().get("time").fn(data, {"test_size": 0.2})
