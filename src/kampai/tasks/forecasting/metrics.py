"""Forecasting's metrics: forecast rows matched to the actual values (backtests by cut-off
too), point errors (MASE, MAE, RMSE, MAPE, sMAPE) and the quantiles' coverage and pinball loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kampai.plugin import SERIES, DataError, Metric, Prediction, SeriesSet

if TYPE_CHECKING:
    import pandas as pd


def _keys(*tables: pd.DataFrame) -> list[str]:
    """What a forecast row is matched to its actual on: backtests add the cut-off."""
    keys = [SERIES, "time", "target"]
    return [SERIES, "cutoff", "time", "target"] if all("cutoff" in t.columns for t in tables) else keys


def _aligned(y: Any, p: Prediction) -> pd.DataFrame:
    """Forecast rows joined with the actual values (computed once per prediction)."""
    cached = getattr(p, "_aligned", None)
    if cached is not None and cached[0] is y:
        return cached[1]
    keys = _keys(p.y, y)
    table = p.y.merge(y[[*keys, "actual"]], on=keys, how="inner")
    if table.empty:
        raise DataError("No forecast overlaps the actual values: nothing to score.")
    p._aligned = (y, table)  # type: ignore[attr-defined]
    return table


def _errors(y: Any, p: Prediction) -> tuple[Any, Any]:
    table = _aligned(y, p)
    return table["actual"].to_numpy(float), table["forecast"].to_numpy(float)


def _mae(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    a, f = _errors(y, p)
    return float(np.mean(np.abs(a - f)))


def _rmse(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    a, f = _errors(y, p)
    return float(np.sqrt(np.mean((a - f) ** 2)))


def _mape(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    a, f = _errors(y, p)
    ok = a != 0
    return float(np.mean(np.abs((a[ok] - f[ok]) / a[ok])) * 100) if ok.any() else float("nan")


def _smape(y: Any, p: Prediction, X: Any) -> float:
    import numpy as np

    a, f = _errors(y, p)
    denom = np.abs(a) + np.abs(f)
    ok = denom != 0
    return float(np.mean(2 * np.abs(a[ok] - f[ok]) / denom[ok]) * 100) if ok.any() else 0.0


def naive_scales(history: SeriesSet) -> dict[tuple[Any, str], float]:
    """Mean absolute error of the in-sample seasonal naive forecast, per series and target."""
    import numpy as np

    out = {}
    for key, frame in history.target.items():
        m = history.season if len(frame) > history.season else 1
        for col in frame.columns:
            values = frame[col].to_numpy(float)
            out[(key, str(col))] = float(np.mean(np.abs(values[m:] - values[:-m]))) if len(values) > m else np.nan
    return out


def seasonal_naive(history: SeriesSet, truth: pd.DataFrame) -> Prediction:
    """The seasonal naive forecast of every row of ``truth`` (the test side's long table):
    the value one season (``history.season`` steps, or 1 when the history is not longer)
    before the same point of the season, from the history up to the row's cut-off (the end
    of ``history`` for a holdout, the ``cutoff`` column for a backtest).  The forecast MASE
    scales by; its own MASE is the reference a forecaster must beat."""
    import numpy as np

    keys = _keys(truth)
    table = truth[keys].reset_index(drop=True)
    forecast = np.full(len(table), np.nan)
    by_cutoff = "cutoff" in keys
    for (key, target), rows in table.groupby([SERIES, "target"], sort=False).groups.items():
        frame = history.target.get(key)
        if frame is None or str(target) not in map(str, frame.columns):
            continue
        column = next(c for c in frame.columns if str(c) == str(target))
        values = frame[column].to_numpy(float)
        part = table.loc[rows]
        if by_cutoff:
            ends = frame.index.get_indexer(part["cutoff"]) + 1
            steps = frame.index.get_indexer(part["time"]) - ends
        else:
            ends = np.full(len(part), len(values))
            steps = part["time"].rank(method="first").to_numpy(int) - 1
        ok = (ends > 0) & (steps >= 0)
        season = np.where(ends > history.season, history.season, 1)
        at = np.where(ok, ends - season + steps % season, 0)
        forecast[table.index.get_indexer(rows)] = np.where(ok, values[at], np.nan)
    table["forecast"] = forecast
    return Prediction(y=table)


def _mase(y: Any, p: Prediction, X: Any) -> float:
    """MAE over the MAE of a seasonal naive forecast on the training history (< 1: better)."""
    import numpy as np

    history = X if isinstance(X, SeriesSet) else None
    if history is None:
        return float("nan")
    table = _aligned(y, p)
    scales = naive_scales(history)
    scale = np.array([scales.get((s, str(t)), np.nan) for s, t in zip(table[SERIES], table["target"],
                                                                         strict=True)])
    err = np.abs(table["actual"].to_numpy(float) - table["forecast"].to_numpy(float))
    ok = np.isfinite(scale) & (scale > 0)
    return float(np.mean(err[ok] / scale[ok])) if ok.any() else float("nan")


def quantile_columns(table: pd.DataFrame) -> dict[float, str]:
    return {float(c[1:]): c for c in table.columns if c.startswith("q") and c[1:].replace(".", "").isdigit()}


def _coverage(y: Any, p: Prediction, X: Any) -> float:
    """Share of actual values inside the widest predicted interval (lowest..highest quantile)."""
    import numpy as np

    table = _aligned(y, p)
    qs = quantile_columns(table)
    if len(qs) < 2:
        return float("nan")
    lo, hi = table[qs[min(qs)]].to_numpy(float), table[qs[max(qs)]].to_numpy(float)
    a = table["actual"].to_numpy(float)
    return float(np.mean((a >= lo) & (a <= hi)))


def _quantile_loss(y: Any, p: Prediction, X: Any) -> float:
    """Mean pinball loss over the predicted quantiles."""
    import numpy as np

    table = _aligned(y, p)
    a = table["actual"].to_numpy(float)
    losses = []
    for q, col in quantile_columns(table).items():
        diff = a - table[col].to_numpy(float)
        losses.append(np.mean(np.maximum(q * diff, (q - 1) * diff)))
    return float(np.mean(losses)) if losses else float("nan")


TASKS = ("forecasting",)
METRICS = [
    Metric("mase", _mase, TASKS, greater_is_better=False,
           description="MAE / MAE of the seasonal naive forecast on the history (< 1 beats it)"),
    Metric("mae", _mae, TASKS, greater_is_better=False, description="mean absolute error"),
    Metric("rmse", _rmse, TASKS, greater_is_better=False, description="root mean squared error"),
    Metric("mape", _mape, TASKS, greater_is_better=False, description="mean absolute percentage error (%)"),
    Metric("smape", _smape, TASKS, greater_is_better=False, description="symmetric MAPE (%, 0..200)"),
    Metric("coverage", _coverage, TASKS, needs_proba=True,
           description="share of actuals inside the predicted interval (lowest..highest quantile)"),
    Metric("quantile_loss", _quantile_loss, TASKS, greater_is_better=False, needs_proba=True,
           description="mean pinball loss over the predicted quantiles"),
]
