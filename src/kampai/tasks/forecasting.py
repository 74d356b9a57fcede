"""Forecasting: predict the next steps of one or more time series.

Framework-neutral: the task holds series as pandas frames (one per series id, indexed by
time); a framework plugin (Darts) converts them to its own types.

Data contract (``data`` section):

* ``time``: the time column; found on its own when exactly one column holds dates;
* ``target``: one column or a list (several targets = a multivariate series); by default
  every numeric column that has no other role;
* ``series_id``: long format, one series per value of this column;
* ``past_covariates`` / ``future_covariates``: columns known only up to now / also ahead;
* ``freq``: a pandas frequency (``MS``, ``W-SAT``, ``D``); inferred when null;
* ``fill``: what to do with missing steps or values: ``interpolate`` (default), ``ffill``,
  ``zero`` or ``error``; every gap is reported;
* ``season``: the seasonal period MASE's naive forecast uses (inferred from ``freq``).

Splits (``split.method``): ``holdout`` (the last ``horizon`` steps of every series) and
``backtest`` (forecasts from many cut-off points: ``start``, ``stride``, ``window``
expanding|sliding, ``train_length``, ``retrain``), both evaluated by the framework.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from kampai.plugin import (
    SERIES,
    ConfigError,
    DataError,
    ForecastWindow,
    Metric,
    Prediction,
    SeriesSet,
    Task,
    TaskData,
    did_you_mean,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_HORIZON = 24
FILL_POLICIES = ("interpolate", "ffill", "zero", "error")
#: seasonal period per pandas frequency prefix (MASE's seasonal naive forecast)
SEASONS = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5,
           "h": 24, "H": 24, "min": 60, "T": 60, "YS": 1, "YE": 1, "Y": 1, "A": 1, "AS": 1}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _check_columns(frame: pd.DataFrame, names: list[str], role: str) -> None:
    for name in names:
        if name not in frame.columns:
            columns = [str(c) for c in frame.columns]
            raise DataError(f"Column '{name}' ({role}) is not in the data.{did_you_mean(name, columns)} "
                            f"Columns: {', '.join(columns[:30])}.")


def find_time_column(frame: pd.DataFrame, named: str | None) -> str:
    """The named time column, else the one column that holds dates."""
    import pandas as pd

    if named:
        _check_columns(frame, [named], "time")
        return named
    found = [str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if not found:
        for c in frame.columns:
            col = frame[c]
            if col.dtype != object and not pd.api.types.is_string_dtype(col):
                continue
            sample = col.dropna().astype(str).head(50)
            if sample.empty:
                continue
            if _calendar_periods(sample) is not None:
                found.append(str(c))
                continue
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
            if parsed.notna().all():
                found.append(str(c))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError("Forecasting needs a time column, and no column holds dates. Name one with "
                        f"data.time (columns: {', '.join(map(str, frame.columns[:30]))}).")
    raise DataError(f"Several columns hold dates ({', '.join(found)}): name the time column with data.time.")


def _parse_time(frame: pd.DataFrame, column: str) -> pd.Series:
    import pandas as pd

    col = frame[column]
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_integer_dtype(col):
        return col
    periods = _calendar_periods(col.astype(str).where(col.notna()))
    if periods is not None:
        return periods
    try:
        return pd.to_datetime(col, format="mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(f"Time column '{column}' does not parse as dates: {exc}") from None


#: "1981 Q1", "1981-Q1", "Q1 1981" (tsibble's yearquarter) and "2020 W05" (ISO weeks)
_QUARTER = (r"^\s*(?P<year>\d{4})\s*-?\s*Q(?P<n>[1-4])\s*$", r"^\s*Q(?P<n>[1-4])\s*-?\s*(?P<year>\d{4})\s*$")
_WEEK = r"^\s*(?P<year>\d{4})\s*-?\s*W(?P<n>\d{1,2})\s*$"


def _calendar_periods(values: pd.Series) -> pd.Series | None:
    """Quarter or ISO-week labels as the timestamps their periods start at (pandas parses
    neither "1981 Q1" nor "2020 W05"); None when the values are not all such labels."""
    import pandas as pd

    text = values.dropna().astype(str)
    if text.empty:
        return None
    for pattern in _QUARTER:
        parts = text.str.extract(pattern, flags=2)  # re.IGNORECASE
        if parts.notna().all().all():
            periods = pd.PeriodIndex.from_fields(year=parts["year"].astype(int).to_numpy(),
                                                 quarter=parts["n"].astype(int).to_numpy(), freq="Q")
            return pd.Series(periods.to_timestamp(), index=text.index).reindex(values.index)
    parts = text.str.extract(_WEEK, flags=2)
    if parts.notna().all().all():
        labels = parts["year"] + "-W" + parts["n"].str.zfill(2) + "-1"
        return pd.to_datetime(labels, format="%G-W%V-%u").reindex(values.index)
    return None


def infer_freq(index: pd.Index, given: Any = None) -> Any:
    """The series' frequency: ``given``, else pandas' guess on a gap-free stretch."""
    import pandas as pd

    if given:
        if isinstance(index, pd.DatetimeIndex):
            try:
                return pd.tseries.frequencies.to_offset(given).freqstr
            except ValueError as exc:
                raise ConfigError(f"data.freq={given!r} is not a pandas frequency: {exc}") from None
        return int(given)
    if not isinstance(index, pd.DatetimeIndex):  # integer time steps
        steps = pd.Series(index).diff().dropna()
        return int(steps.mode().iloc[0]) if len(steps) else 1
    if len(index) < 3:
        raise DataError("A series needs at least 3 time steps to infer its frequency; set data.freq.")
    guess = _pandas_freq(index)
    if guess:
        return guess
    votes: dict[str, int] = {}
    for start in range(0, max(1, len(index) - 6), max(1, len(index) // 50)):
        f = _pandas_freq(index[start:start + 7]) if len(index[start:start + 7]) >= 3 else None
        if f:
            votes[f] = votes.get(f, 0) + 1
    if not votes:
        raise DataError("Cannot infer the frequency of the time column (irregular steps); set data.freq "
                        "(e.g. D, W-SUN, MS, h).")
    return max(votes, key=votes.get)


def _pandas_freq(index: Any) -> str | None:
    """``pd.infer_freq`` as a string (pandas 3 warns that it will return an offset)."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guess = pd.infer_freq(index)
    return None if guess is None else getattr(guess, "freqstr", guess)


def season_of(freq: Any) -> int:
    import re

    if isinstance(freq, int):
        return 1
    match = re.match(r"^(\d*)([A-Za-z]+)", str(freq))
    if not match:
        return 1
    mult, name = int(match.group(1) or 1), match.group(2)
    season = SEASONS.get(name, SEASONS.get(name.split("-")[0], 1))
    return max(1, season // mult) if season > 1 else 1


class Forecasting(Task):
    """Forecast the next steps of one or more time series."""

    name = "forecasting"
    description = "forecast the next steps of one or more time series"
    needs_target = True
    default_split: ClassVar[dict[str, Any]] = {"method": "holdout", "refit": True}
    default_metrics = ("mase", "mae", "rmse", "smape", "mape", "coverage", "quantile_loss")
    #: config keys this task adds to the ``data`` and ``split`` sections
    data_keys = ("series_id", "past_covariates", "future_covariates", "freq", "fill", "season")
    split_keys = ("horizon", "start", "stride", "window", "train_length", "retrain")
    input_kind = "series"
    #: ``predict`` forecasts ``horizon`` steps ahead (new data optional); forecast.png in
    #: every run; ``runner evaluate`` scores the last horizon steps of new data
    capabilities = frozenset({"ahead", "artifacts", "evaluation_split"})

    # ---------------------------------------------------------------- data contract

    def example(self) -> tuple[Any, dict[str, Any]]:
        from kampai.plugin import read_frame

        return read_frame("statsmodels:co2").tail(96).reset_index(drop=True), {}

    def prepare(self, frame: pd.DataFrame, data_cfg: dict[str, Any], *, training: bool) -> TaskData:
        import pandas as pd

        time_col = find_time_column(frame, data_cfg.get("time"))
        series_id = data_cfg.get("series_id") or data_cfg.get("group")
        past, future = _as_list(data_cfg.get("past_covariates")), _as_list(data_cfg.get("future_covariates"))
        _check_columns(frame, [c for c in [series_id] if c], "series_id")
        _check_columns(frame, past, "past_covariates")
        _check_columns(frame, future, "future_covariates")
        drop = [c for c in _as_list(data_cfg.get("drop")) if c in frame.columns]
        targets = _as_list(data_cfg.get("target"))
        if targets:
            _check_columns(frame, targets, "target")
        else:
            used = {time_col, series_id, *past, *future, *drop}
            targets = [str(c) for c in frame.columns
                       if c not in used and pd.api.types.is_numeric_dtype(frame[c])]
            if not targets:
                raise DataError("No numeric target column found: set data.target.")
        for col in targets + past + future:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                raise DataError(f"Column '{col}' must be numeric for forecasting; it is {frame[col].dtype}.")
        fill = data_cfg.get("fill") or "interpolate"
        if fill not in FILL_POLICIES:
            raise ConfigError(f"data.fill={fill!r} is not a fill policy.{did_you_mean(str(fill), FILL_POLICIES)}"
                              f" Choose one of: {', '.join(FILL_POLICIES)}.")
        frame = frame.assign(**{time_col: _parse_time(frame, time_col)})
        groups = frame.groupby(series_id, sort=True) if series_id else [(targets[0] if len(targets) == 1
                                                                         else "series", frame)]
        sets: dict[str, dict[Any, pd.DataFrame]] = {"target": {}, "past": {}, "future": {}}
        freq, gaps = None, []
        for key, part in groups:
            part = part.sort_values(time_col)
            if part[time_col].duplicated().any():
                dup = part[time_col][part[time_col].duplicated()].iloc[0]
                raise DataError(f"Time column '{time_col}' repeats {dup}"
                                + (f" in series '{key}'" if series_id else "")
                                + ("" if series_id else "; several series need data.series_id") + ".")
            indexed = part.set_index(time_col)
            indexed.index.name = time_col
            freq = freq or infer_freq(indexed.index, data_cfg.get("freq"))
            full = self._regular_index(indexed.index, freq)
            indexed = indexed.reindex(full)
            known = indexed[targets].notna().any(axis=1).to_numpy()
            if not known.any():
                raise DataError(f"Series '{key}' has no target values.")
            # rows after the last target value only carry future covariates (known ahead)
            last = int(known.nonzero()[0][-1]) + 1
            ahead = indexed.iloc[last:]
            indexed = indexed.iloc[:last]
            missing = indexed[targets + past + future].isna().any(axis=1)
            if missing.any():
                first = indexed.index[missing.to_numpy()][0]
                gaps.append((key, int(missing.sum()), first.date() if hasattr(first, "date") and
                             first == first.normalize() else first))
            for role, cols in (("target", targets), ("past", past), ("future", future)):
                if cols:
                    sets[role][key] = indexed[cols].astype(float)
            if future and len(ahead):
                sets["future"][key] = pd.concat([sets["future"][key], ahead[future].astype(float)])
        if gaps:
            self._fill(sets, gaps, fill)
        season = int(data_cfg.get("season") or season_of(freq))
        series = SeriesSet(target=sets["target"], past=sets["past"] or None, future=sets["future"] or None,
                           freq=freq, time=time_col, series_id=series_id, season=season)
        info = {"features": past + future or None, "targets": targets, "freq": str(freq),
                "series": len(series.target), "season": season,
                "gaps": sum(g[1] for g in gaps), "fill": fill, "forecasting": True}
        return TaskData(X=series, y=series.long(), info=info)

    def signature(self, data: TaskData) -> dict[str, Any]:
        """The history a server may take (time column, targets, series id, covariates) and
        the frequency; a request asks for ``horizon`` steps."""
        series = data.X

        def columns(frames: Any) -> list[str]:
            return [str(c) for c in next(iter(frames.values())).columns] if frames else []

        return {"input_kind": self.input_kind, "time": series.time, "targets": series.targets,
                "series_id": series.series_id, "series": [str(k) for k in series.ids][:1000],
                "past_covariates": columns(series.past), "future_covariates": columns(series.future),
                "freq": str(series.freq), "season": series.season}

    @staticmethod
    def _regular_index(index: pd.Index, freq: Any) -> pd.Index:
        import pandas as pd

        if isinstance(index, pd.DatetimeIndex):
            full = pd.date_range(index[0], index[-1], freq=freq, name=index.name)
            off_grid = index.difference(full)
            if len(off_grid):
                raise DataError(f"{len(off_grid)} time stamps are off the '{freq}' grid (first: {off_grid[0]}); "
                                "set data.freq to the data's real frequency.")
            return full
        return pd.RangeIndex(int(index[0]), int(index[-1]) + 1, int(freq), name=index.name)

    @staticmethod
    def _fill(sets: dict[str, dict], gaps: list, policy: str) -> None:
        total = sum(g[1] for g in gaps)
        where = ", ".join(f"{n} in '{k}' (first {t})" for k, n, t in gaps[:3])
        if policy == "error":
            raise DataError(f"The series have {total} missing time steps or values: {where}. Set data.fill "
                            f"to one of {', '.join(p for p in FILL_POLICIES if p != 'error')} to fill them.")
        from kampai.plugin import console

        console().print(f"[yellow]![/yellow] {total} missing time steps/values ({where}) filled by "
                        f"data.fill={policy}")
        for frames in sets.values():
            for key, frame in frames.items():
                if policy == "interpolate":
                    frame = frame.interpolate(limit_direction="both")
                elif policy == "ffill":
                    frame = frame.ffill().bfill()
                else:
                    frame = frame.fillna(0.0)
                frames[key] = frame

    # ---------------------------------------------------------------- predictions
    def format_predictions(self, data: TaskData, prediction: Prediction) -> pd.DataFrame:
        table = prediction.y.copy()
        ahead = data.window is not None and data.window.mode == "ahead"
        if data.y is not None and not ahead and "actual" not in table.columns:
            table = table.merge(data.y, on=_keys(table, data.y), how="left")
            cols = [c for c in table.columns if c != "actual"]
            table = table[[*cols[:cols.index("forecast")], "actual", *cols[cols.index("forecast"):]]]
        series = data.X if isinstance(data.X, SeriesSet) else None
        names = prediction.y.attrs  # set by the framework when it forecast from its own series
        id_col = series.series_id if series is not None else names.get("series_id")
        table = table.rename(columns={SERIES: id_col}) if id_col else table.drop(columns=[SERIES])
        time_name = series.time if series is not None else names.get("time")
        if time_name and time_name not in table.columns:
            table = table.rename(columns={"time": time_name})
        return table.reset_index(drop=True)

    def evaluation_split(self, data: TaskData, split_cfg: dict[str, Any]) -> TaskData:
        """``runner evaluate``: forecast the last ``horizon`` steps of the new data from the
        steps before them (the run's horizon)."""
        return holdout(data, {"horizon": split_cfg.get("horizon")})[0][1]

    def write_artifacts(self, run_dir: Path, data: TaskData, predictions: pd.DataFrame) -> list[Path]:
        """``forecast.png``: history, the test actuals and the forecasts (with intervals)."""
        from kampai.tasks.forecast_plot import plot_forecasts

        return [plot_forecasts(run_dir / "forecast.png", data.X, predictions)]


# ------------------------------------------------------------------------ splits
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


def _keys(*tables: pd.DataFrame) -> list[str]:
    """What a forecast row is matched to its actual on: backtests add the cut-off."""
    keys = [SERIES, "time", "target"]
    return [SERIES, "cutoff", "time", "target"] if all("cutoff" in t.columns for t in tables) else keys


# ------------------------------------------------------------------------ metrics
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
SPLITS = {
    "holdout": (holdout, "forecasting: the last split.horizon steps of every series"),
    "backtest": (backtest, "forecasting: historical forecasts from split.start every split.stride steps"),
}
