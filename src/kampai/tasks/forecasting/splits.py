"""Forecasting's splits: ``holdout`` (the last ``horizon`` steps of every series) and
``backtest`` (forecasts from many cut-off points), both evaluated by the framework.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, ForecastWindow, SeriesSet, TaskData

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_HORIZON = 24


def _horizon(cfg: dict[str, Any], data: TaskData) -> int:
    shortest = min(len(f) for f in data.X.target.values())
    horizon = cfg.get("horizon")
    if horizon is None:
        horizon = min(DEFAULT_HORIZON, max(1, shortest // 5))
    horizon = int(horizon)
    if not 0 < horizon < shortest:
        raise ConfigError(f"split.horizon={horizon} must be between 1 and the shortest series' length - 1 "
                          f"({shortest - 1}).")
    return horizon


def _need_series(data: TaskData, method: str) -> SeriesSet:
    if not isinstance(data.X, SeriesSet):
        raise ConfigError(f"Split method '{method}' is for the forecasting task.")
    return data.X


def holdout(data: TaskData, cfg: dict[str, Any]) -> list:
    """The last ``horizon`` steps of every series are the test set."""
    series = _need_series(data, "holdout")
    horizon = _horizon(cfg, data)
    ends = {k: len(f) - horizon for k, f in series.target.items()}
    train = series.cut(ends)
    truth = {k: f.iloc[ends[k]:] for k, f in series.target.items()}
    data.window = ForecastWindow("fit", horizon)  # the final refit on all rows forecasts this far too
    window = ForecastWindow("holdout", horizon)
    return [(TaskData(X=train, y=train.long(), info=data.info, window=ForecastWindow("fit", horizon)),
             TaskData(X=train, y=series.long(truth), info=data.info, window=window))]


def backtest(data: TaskData, cfg: dict[str, Any]) -> list:
    """Forecasts of ``horizon`` steps from every ``stride``-th cut-off after ``start``."""
    series = _need_series(data, "backtest")
    horizon = _horizon(cfg, data)
    start = cfg.get("start", 0.7) if cfg.get("start") is not None else 0.7
    ends = {}
    for key, frame in series.target.items():
        if isinstance(start, float) and 0 < start < 1:
            end = int(len(frame) * start)
        elif isinstance(start, int) and not isinstance(start, bool):
            end = start if start > 0 else len(frame) + start
        else:
            import pandas as pd

            end = int(frame.index.searchsorted(pd.Timestamp(str(start))))
        if not 2 <= end <= len(frame) - horizon:
            raise ConfigError(f"split.start={start!r} leaves {end} training steps and {len(frame) - end} "
                              f"test steps in series '{key}' (horizon {horizon}).")
        ends[key] = end
    window = cfg.get("window") or "expanding"
    if window not in ("expanding", "sliding"):
        raise ConfigError(f"split.window={window!r}: use expanding or sliding.")
    train_length = cfg.get("train_length")
    if window == "sliding" and not train_length:
        train_length = min(ends.values())
    stride = int(cfg.get("stride") or 1)
    if stride < 1:
        raise ConfigError("split.stride must be >= 1.")
    data.window = ForecastWindow("fit", horizon)
    train = series.cut(ends)
    if train_length:
        train = replace(train, target={k: f.iloc[-int(train_length):] for k, f in train.target.items()})
    asked = ForecastWindow("backtest", horizon, stride=stride, window=window,
                           train_length=int(train_length) if train_length else None, retrain=cfg.get("retrain"),
                           start={str(k): str(series.target[k].index[e]) for k, e in ends.items()})
    return [(TaskData(X=train, y=train.long(), info=data.info, window=ForecastWindow("fit", horizon)),
             TaskData(X=series, y=_backtest_truth(series, ends, horizon, stride), info=data.info, window=asked))]


def _backtest_truth(series: SeriesSet, ends: dict[Any, int], horizon: int, stride: int) -> pd.DataFrame:
    """The actual values of every backtest forecast, one row per forecast point
    (``series, cutoff, time, target, actual``): overlapping windows repeat a time step, so
    the test side counts (and the run log shows) exactly the points the metrics score."""
    import pandas as pd

    parts = []
    for key, frame in series.target.items():
        for at in range(ends[key], len(frame) - horizon + 1, stride):
            part = series.long({key: frame.iloc[at:at + horizon]})
            part.insert(1, "cutoff", frame.index[at - 1])
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


SPLITS = {
    "holdout": (holdout, "forecasting: the last split.horizon steps of every series"),
    "backtest": (backtest, "forecasting: historical forecasts from split.start every split.stride steps"),
}
